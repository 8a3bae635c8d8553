/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procmaps.h - the target's mappings, parsed from /proc/PID/maps text.
 * The parser takes a FILE * so that unit tests need no process.
 */
#ifndef LA_PROCMAPS_H
#define LA_PROCMAPS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum { MAP_R = 1, MAP_W = 2, MAP_X = 4, MAP_SHARED_ = 8 };

struct mapping {
	uint64_t start, end; /* [start, end) */
	uint64_t offset; /* file offset */
	uint64_t inode;
	unsigned prot; /* MAP_R | MAP_W | MAP_X | MAP_SHARED_ */
	unsigned dev_major, dev_minor;
	char *path; /* "" for anonymous mappings */
	int deleted; /* the file was deleted (" (deleted)" stripped) */
};

struct maps {
	struct mapping *v;
	size_t len;
};

int procmaps_parse(FILE *f, struct maps *out);
/*
 * One line of maps text (also the header of each mapping in smaps) into
 * *m, its path strdup'ed. -EINVAL, -ENOMEM.
 */
int procmaps_parse_line(const char *line, struct mapping *m);
int procmaps_read(pid_t pid, struct maps *out);
void procmaps_free(struct maps *maps);
/* The mapping containing addr, or NULL. */
const struct mapping *procmaps_find(const struct maps *maps, uint64_t addr);
/* Anonymous memory: no file, "[heap]" or an "[anon:...]" name. */
int mapping_is_anon(const struct mapping *m);
/* Basename of the mapping's file ("" when anonymous). */
const char *mapping_basename(const struct mapping *m);

struct addr_range {
	uint64_t lo, hi; /* [lo, hi) */
};

/*
 * Copies of r[0..n) (any order, may overlap) rounded out to pages, sorted
 * and merged, into a new array (*out, free it) of *merged ranges. 0 or
 * -ENOMEM.
 */
int addr_ranges_merge(const struct addr_range *r, unsigned n,
		      struct addr_range **out, unsigned *merged);

/*
 * A copy of in, in address order, with the ranges r[0..n) (any order,
 * rounded out to pages) cut out of its anonymous mappings
 * (mapping_is_anon()); with anon_only the other mappings are left out.
 * The copies share in's paths: free only out->v, before in. 0 or -ENOMEM.
 */
int procmaps_cut(const struct maps *in, const struct addr_range *r, unsigned n,
		 int anon_only, struct maps *out);

#endif
