/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * glibc_heap.h - walk every arena, heap, chunk and mmapped chunk of a
 * stopped target and classify each chunk. The result goes to a visitor, one
 * call per chunk, so the caller decides what to keep (snapshot.c keeps
 * histograms, a bounded sample of the chunks of watched locations, and
 * which probed chunk addresses are in use). Knows glibc's heap; does not
 * stop threads and keeps no statistics of its own beyond the per-arena sums
 * needed to check itself.
 */
#ifndef LA_GLIBC_HEAP_H
#define LA_GLIBC_HEAP_H

#include <stdint.h>

#include "proc/procmaps.h"

struct malloc_layout;
struct memsrc;
struct maps;

enum chunk_kind {
	CHUNK_IN_USE, /* handed to the program */
	CHUNK_MMAPPED, /* an mmapped chunk, in use */
	CHUNK_TCACHE, /* free, in some thread's tcache */
	CHUNK_FASTBIN, /* free, in a fastbin */
	CHUNK_BIN, /* free, in a bin (unsorted, small, large) */
	CHUNK_TOP, /* an arena's top chunk */
	CHUNK_META, /* tcache struct, fencepost, heap/arena header */
};

#define ARENA_NONE 0xffffffffu /* arena index of mmapped chunks */

/*
 * Called for each chunk, in address order within a heap. It must not read
 * the walk's memory source: a helper thread may be reading through it
 * (readahead.h).
 */
typedef void (*chunk_visit_fn)(void *arg, unsigned arena, uint64_t addr,
			       uint64_t size, enum chunk_kind kind);

struct arena_walk {
	uint64_t addr;
	int is_main;
	int consistent;
	int lock_held;
	unsigned heaps;
	unsigned threads; /* attached_threads */
	uint64_t system_mem;
	uint64_t top_size;
	int top_seen; /* the walk reached the top chunk */
	/* sums of H(bk, chunk) and H(chunk, fd) over the bins' chunks */
	uint64_t links_bk, links_fd;
	/* what the walk found, for mallinfo and the checks */
	uint64_t bin_chunks, bin_bytes, fast_chunks, fast_bytes;
	uint64_t walked_bytes; /* every chunk + headers */
};

struct heap_walk {
	struct arena_walk *arena;
	unsigned n_arena;
	uint64_t mmapped_chunks, mmapped_bytes; /* found in the maps */
	uint64_t mp_n_mmaps, mp_mmapped_mem; /* what mp_ says */
	uint64_t bytes_read;
	int consistent;
	char why[160];
	/*
	 * malloc's address ranges, [lo, hi), any order: the main arena's
	 * brk heap (sbrk_base to the end of its top chunk), each thread
	 * heap's whole reservation (heap_max: glibc maps it at once and
	 * makes it accessible as it grows, arena.c new_heap()), each
	 * mmapped chunk. What the snapshot's census counts as malloc's.
	 */
	struct addr_range *ranges;
	unsigned n_ranges, cap_ranges;
};

/*
 * Walk the heap of a target whose threads are all stopped. tcaches[] are
 * the threads' tcache pointers (0: none), stacks[] the threads' thread
 * pointers (x86_64's fs_base, aarch64's tpidr_el0: their stack blocks
 * are not scanned for mmapped chunks). Returns 0
 * with out->consistent telling whether every check passed, or -ESRCH /
 * -ENOMEM / -LA_EHEAPCORRUPT when nothing sensible could be read.
 */
int glibc_heap_walk(struct malloc_layout *l, struct memsrc *mem,
		    const struct maps *maps, const uint64_t *tcaches,
		    unsigned ntc, const uint64_t *stacks, unsigned nstacks,
		    chunk_visit_fn visit, void *arg, struct heap_walk *out);
void glibc_heap_walk_free(struct heap_walk *w);

/*
 * For unit tests: the readahead flags of later walks (READAHEAD_ALWAYS:
 * read ahead whether a CPU is free or not). Set before walking.
 */
void glibc_heap_set_readahead_flags(unsigned flags);

#endif
