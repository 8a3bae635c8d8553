/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smaps.h - the target's mappings with what each holds in memory, parsed
 * from /proc/PID/smaps text (the kernel's show_smap(), fs/proc/task_mmu.c),
 * and the pages present in a range, from /proc/PID/pagemap. The parser
 * takes a FILE * so that unit tests need no process. Knows the format,
 * nothing of what the mappings are used for (memory.c classifies them).
 */
#ifndef LA_SMAPS_H
#define LA_SMAPS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct smaps_entry {
	uint64_t start, end; /* [start, end) */
	unsigned prot; /* MAP_R | MAP_W | MAP_X | MAP_SHARED_ (procmaps.h) */
	uint64_t inode;
	/* the fields of the same names, in bytes (the kernel prints kB) */
	uint64_t size, rss, shared_clean, shared_dirty, anonymous;
	char *path; /* "" for anonymous mappings */
};

struct smaps {
	struct smaps_entry *v;
	size_t len;
};

/*
 * Parse smaps text. A mapping without an Rss line, a header the maps
 * parser refuses, or a number that does not parse: -EINVAL, nothing left
 * allocated. -ENOMEM.
 */
int smaps_parse(FILE *f, struct smaps *out);
/* /proc/PID/smaps: as smaps_parse(), -ESRCH when the process is gone. */
int smaps_read(pid_t pid, struct smaps *out);
void smaps_free(struct smaps *sm);

/*
 * The bytes of [lo, hi) (page-aligned) whose page is present in memory:
 * bit 63 of each /proc/PID/pagemap entry (the kernel's
 * Documentation/admin-guide/mm/pagemap.rst), what smaps counts as Rss
 * of those pages. 0 or -errno.
 */
int smaps_present_bytes(pid_t pid, uint64_t lo, uint64_t hi, uint64_t *bytes);

#endif
