/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot.h - the walk's result as plain data: counts by size class
 * (overall and per arena), per-arena totals, mallinfo2's ten fields, and
 * what it cost. Fed chunk by chunk through snapshot_visit(); knows
 * nothing about how the chunks were found.
 */
#ifndef LA_SNAPSHOT_H
#define LA_SNAPSHOT_H

#include <stdint.h>

#include "glibc/glibc_heap.h"
#include "leakattach.h"
#include "python_heap.h"

/* Exact chunk sizes up to 1 KiB (classes 0..64), then 4 per power of two. */
#define SIZE_CLASSES (65u + 4u * 54u)

struct heap_walk;

/*
 * A watched location: a reservoir sample (Vitter's algorithm R) of its
 * in-use chunks, addresses and sizes, and how many it was drawn from.
 */
struct snap_watch {
	struct la_location loc;
	uint64_t population;
	uint64_t *addrs; /* sample_max; sorted by snapshot_finish() */
	uint64_t *sizes; /* the chunk size of each address */
	unsigned n;
};

struct la_snapshot {
	struct la_snapshot_info info;
	struct la_layout_info layout;
	struct la_mallinfo mi;
	struct la_totals totals;
	struct la_arena_stats *arenas;
	unsigned n_arenas;
	struct la_counts classes[SIZE_CLASSES];
	struct la_counts (*arena_classes)[SIZE_CLASSES];
	unsigned n_arena_classes;
	int oom; /* a per-arena table could not be allocated */
	struct snap_watch *watch;
	unsigned n_watch, sample_max;
	uint64_t rng; /* the reservoir's xorshift state */
	/*
	 * Probed chunk addresses, sorted and unique, and the size of the
	 * in-use chunk found at each (0: none), for la_snapshot_probe().
	 */
	uint64_t *probe_addrs;
	uint64_t *probe_sizes;
	unsigned n_probes;
	/* During the walk: the arenas found so far, for arena addresses. */
	const struct heap_walk *walk;
	/*
	 * The threads' stack pointers at the stop (the last attempt's),
	 * for the census of memory.c; then the census itself.
	 */
	uint64_t *stack_ptrs;
	unsigned n_stack_ptrs;
	struct la_memory memory;
	struct la_outside outside[LA_OUTSIDE_KIND_COUNT];
	struct la_headroom headroom; /* read with the census */
	/* the Python heap, when the target runs CPython (python_heap.h) */
	struct snap_python py;
};

unsigned size_class_index(uint64_t chunk_size);
void size_class_bounds(unsigned idx, uint64_t *min, uint64_t *max);

struct la_snapshot *snapshot_new(void);
/*
 * Watch locations (copied) with a sample of up to sample_max chunks each.
 * -ENOMEM.
 */
int snapshot_watch(struct la_snapshot *snap, const struct la_location *loc,
		   unsigned n, unsigned sample_max);
/* Probe the n chunk addresses (copied, sorted, deduplicated). -ENOMEM. */
int snapshot_probe(struct la_snapshot *snap, const uint64_t *addrs, unsigned n);
/* Reset the counts for another attempt. */
void snapshot_reset(struct la_snapshot *snap);
/*
 * A chunk_visit_fn; arg is the snapshot. With watched arena locations,
 * snap->walk must point at the heap_walk being filled.
 */
void snapshot_visit(void *arg, unsigned arena, uint64_t addr, uint64_t size,
		    enum chunk_kind kind);
/* Derive arenas, totals and mallinfo from the walk. */
int snapshot_finish(struct la_snapshot *snap, const struct heap_walk *w);

#endif
