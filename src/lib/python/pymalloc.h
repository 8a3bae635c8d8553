/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pymalloc.h - CPython's small-object allocator (pymalloc) read from
 * outside, with no symbols: its pools are found by scanning the target's
 * anonymous private mappings at pool alignment and validating each pool
 * header (doc/design/python-heap.md, "Finding the pools"). Reads only,
 * through a memory source, in bounded windows; keeps a census and hands
 * each consistent pool in use to a callback (the object census of
 * pytypes.h uses it). Version-independent: the pool layout is the same
 * on CPython 3.8 to 3.13, and the geometry is detected from the headers.
 */
#ifndef LA_PYMALLOC_H
#define LA_PYMALLOC_H

#include <stdint.h>

#include "proc/procmaps.h"

struct memsrc;
struct maps;
struct mapping;

#define PYMALLOC_POOL_OVERHEAD 48u /* sizeof(struct pool_header), rounded */
#define PYMALLOC_NCLASSES 32u /* block sizes 16, 32, ... 512 */
#define PYMALLOC_ALIGNMENT 16u
#define PYMALLOC_MAX_BLOCKS ((16384u - PYMALLOC_POOL_OVERHEAD) / 16u)
/* The largest arena (3.10+: 1 MiB): a bound on one arena's pools' span. */
#define PYMALLOC_ARENA_MAX (1u << 20)
/* Bytes of target memory read at once by the scan. */
#define PYMALLOC_WINDOW (512u * 1024u)

/* A pool header, as read (struct pool_header, Objects/obmalloc.c). */
struct pool_header_raw {
	uint32_t count; /* ref.count: blocks allocated */
	uint64_t freeblock, nextpool, prevpool;
	uint32_t arenaindex, szidx, nextoffset, maxnextoffset;
};

/* Decode the 48 header bytes at p (little-endian x86-64 layout). */
void pymalloc_header_decode(const unsigned char *p, struct pool_header_raw *h);

/*
 * The header's own checks (no other memory needed), for a pool at addr of
 * pool_size bytes: the size class, maxnextoffset, nextoffset against the
 * block size, count against the blocks carved, freeblock inside the
 * carved part. 0 and *carved set, or -EINVAL.
 */
int pymalloc_header_check(const struct pool_header_raw *h, uint64_t addr,
			  uint32_t pool_size, uint32_t *carved);

/*
 * Walk the free list of a pool whose pool_size bytes are at bytes: every
 * link inside the carved part, on a block boundary, never twice (a cycle),
 * at most carved hops. Sets bit k of freemap (PYMALLOC_MAX_BLOCKS bits)
 * for each free block k and *nfree. 0, or -EINVAL at the first bad link.
 */
int pymalloc_freelist(const unsigned char *bytes, uint64_t addr,
		      const struct pool_header_raw *h, uint32_t carved,
		      uint8_t *freemap, uint32_t *nfree);

/* One consistent pool in use, as the callback sees it. */
struct pymalloc_pool {
	uint64_t addr;
	const unsigned char *bytes; /* the pool's bytes, during the call */
	const uint8_t *freemap; /* bit k set: block k is free */
	uint32_t pool_size, block_size, szidx;
	uint32_t carved, count, arenaindex;
	/*
	 * The scan's window that holds the pool, [win_addr, win_addr +
	 * win_len), every byte read, during the call: what the pool's
	 * blocks point to is often there, and readers may take it from
	 * here instead of the target. win NULL: no such window (only the
	 * pool's bytes are at hand).
	 */
	const unsigned char *win;
	uint64_t win_addr, win_len;
};

/* Called for each consistent pool with blocks in use; != 0 stops. */
typedef int (*pymalloc_pool_fn)(const struct pymalloc_pool *p, void *arg);

struct pymalloc_class {
	uint32_t block_size;
	uint64_t pools; /* pools of this class with blocks in use */
	uint64_t blocks; /* blocks in use */
	uint64_t bytes; /* blocks * block_size */
};

struct pymalloc_census {
	uint32_t pool_size; /* 16384 or 4096; 0 when no pool was found */
	uint64_t arenas; /* distinct arena indexes of the pools */
	uint64_t pools; /* consistent pools: used + full + empty */
	uint64_t pools_used, pools_full, pools_empty;
	uint64_t blocks, bytes; /* in use, over the consistent pools */
	struct pymalloc_class cls[PYMALLOC_NCLASSES];
	/*
	 * Pools whose header passed its own checks but which disagree with
	 * themselves or their neighbours: counted here, never in the
	 * figures above. bad_freelist: a link out of the pool, off a block
	 * boundary or a cycle; bad_count: count != carved - free; bad_links:
	 * a used pool's nextpool/prevpool is not a pool of its class or
	 * usedpools, or does not point back.
	 */
	uint64_t bad_pools, bad_freelist, bad_count, bad_links;
	/* Pools whose arena index spans more than one arena's bytes. */
	uint64_t bad_arenas;
	/* Headers valid but for the other geometry (ignored, flagged). */
	uint64_t other_geometry;
	/* Pools caught being carved (szidx DUMMY_SIZE_IDX). */
	uint64_t carving;
	/* &usedpools[0], implied by the used pools' links to their list
	 * heads: 0 when none did, and how many distinct values were seen */
	uint64_t usedpools;
	uint32_t usedpools_seen;
	uint64_t mappings, bytes_scanned;
	int consistent; /* nothing above was bad, one usedpools at most */
	/* 1: a helper thread read the windows ahead (a CPU was free) */
	int read_ahead;
	/*
	 * Per arena: from its lowest pool to the end of its highest one,
	 * ascending (the pages pymalloc has touched: pools are carved in
	 * order from an arena's start, new_arena() in Objects/obmalloc.c).
	 * Owned by the census: pymalloc_census_release().
	 */
	struct addr_range *spans; /* [lo, hi) */
	uint32_t n_spans;
};

/* Free what a census owns (its spans); the figures stay. */
void pymalloc_census_release(struct pymalloc_census *c);

/*
 * proc/readahead.h's flags for the walks to come (READAHEAD_ALWAYS: read
 * ahead even with no CPU free; tests). Default 0.
 */
void pymalloc_set_readahead_flags(unsigned flags);

/*
 * 1 when pymalloc_walk() scans mapping m: anonymous (unnamed or
 * "[anon:...]"), private and readable.
 */
int pymalloc_scannable(const struct mapping *m);

/*
 * Scan the anonymous, private, readable mappings of maps (not [heap] or
 * [stack]) through mem, fill *out (release it with
 * pymalloc_census_release(), whatever this returns), and call fn (may be NULL) for each
 * consistent pool with blocks in use. Tool memory: a few windows of
 * PYMALLOC_WINDOW bytes (one read page by page, three read ahead by a
 * helper thread when a CPU is free, proc/readahead.h) and one word pair
 * per arena index. Reads the windows through a second source on mem's
 * reader, from the helper thread too: mem's reader must allow reads from
 * two threads at once (memsrc_pid.c and memsrc_buf.c do). Returns 0
 * (also when no pool was found: out->pool_size is then 0), -ESRCH when
 * the process is gone, -ENOMEM, or fn's nonzero value.
 */
int pymalloc_walk(struct memsrc *mem, const struct maps *maps,
		  pymalloc_pool_fn fn, void *arg, struct pymalloc_census *out);

#endif
