/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memory.h - the census of a snapshot's whole process: every mapping's
 * resident bytes (smaps) split between malloc and the kinds outside it
 * (enum la_outside_kind). The split is pure logic over the smaps text,
 * malloc's address ranges and the threads' stack pointers, so that unit
 * tests need no process; memory_measure() feeds it from a live target.
 */
#ifndef LA_MEMORY_H
#define LA_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

#include "leakattach.h"
#include "proc/procmaps.h"

struct smaps;
struct heap_walk;
struct la_snapshot;

/*
 * The bytes present in [lo, hi) (page-aligned), for a mapping only partly
 * malloc's: smaps_present_bytes() on a live target. 0 or -errno.
 */
typedef int (*mem_present_fn)(void *arg, uint64_t lo, uint64_t hi,
			      uint64_t *bytes);

/* The address ranges of the process's allocators. */
struct mem_owners {
	const struct addr_range *malloc; /* glibc's heaps and mmapped chunks */
	unsigned n_malloc;
	const struct addr_range *python; /* pymalloc's arenas (python_arenas) */
	unsigned n_python;
};

/*
 * Split sm's Rss: own's ranges (any order, may overlap; rounded out to
 * pages here; malloc's and Python's never overlap), sps (the threads'
 * stack pointers). Fills m (measured, rss_bytes, malloc_rss_bytes,
 * outside_rss_bytes, mappings) and out[] (one per kind); the parts add up
 * to m->rss_bytes. present may be NULL (a mapping partly an allocator's
 * is then split in proportion to the bytes mapped). Returns 0 or -ENOMEM.
 */
int memory_classify(const struct smaps *sm, const struct mem_owners *own,
		    const uint64_t *sps, unsigned n_sps, mem_present_fn present,
		    void *arg, struct la_memory *m,
		    struct la_outside out[LA_OUTSIDE_KIND_COUNT]);

/*
 * Read /proc/PID/smaps of the running target now and fill snap's census
 * from it, with w's ranges and snap's stack pointers. Never fails: a
 * census that could not be made says so (measured 0, why).
 */
void memory_measure(pid_t pid, struct la_snapshot *snap,
		    const struct heap_walk *w);

#endif
