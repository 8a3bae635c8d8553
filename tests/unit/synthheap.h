/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * synthheap.h - build synthetic glibc 2.36 x86_64 malloc heaps in host
 * buffers, placed at chosen fake target addresses, for the unit tests of
 * the heap walk (doc/design/glibc-heap.md). A builder lays out
 * main_arena, mp_, the main heap (sbrk_base) and optionally thread arenas
 * in 64 MiB-aligned heaps; chunks are appended one after the other, free
 * ones linked into tcache, fastbin or bin lists the way glibc links them
 * (safe-linking included). It also keeps what glibc itself would count,
 * so tests can compare the walk with the truth.
 *
 * Not a malloc: no coalescing, no splitting, no checks beyond aborting when
 * a chunk would not fit. Tests that want a corrupt heap build a good one
 * and then overwrite words with synth_w64().
 */
#ifndef LA_TESTS_SYNTHHEAP_H
#define LA_TESTS_SYNTHHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "glibc/glibc_heap.h"
#include "glibc/malloc_layout.h"
#include "leakattach.h"

struct memsrc;

/* Fake target addresses, shaped like a real x86_64 process. */
#define SYNTH_MAIN_ARENA 0x7ffff7f99c60ull /* libc .data */
#define SYNTH_MP 0x7ffff7f9b280ull	   /* libc .data, its own page */
#define SYNTH_SBRK_BASE 0x555555559000ull  /* [heap] */
#define SYNTH_THREAD_HEAP 0x7fffe8000000ull /* 64 MiB-aligned, 3 below libc */
#define SYNTH_HEAP_LEN 0x21000ull	   /* glibc's first sbrk */
#define SYNTH_TCACHE_KEY 0x2e0c7f3a9b51d684ull /* 2.34+: tcache_key */

#define SYNTH_TCACHE_CHUNK 0x290u /* tcache_perthread_struct, uint16 counts */
#define SYNTH_UNSORTED 1u	  /* bin_at(a, 1) */

#define SYNTH_MAX_REGIONS 16u
#define SYNTH_MAX_ARENAS 4u
#define SYNTH_MAX_TCACHES 8u

struct synth_region {
	uint64_t addr;
	unsigned char *buf;
	size_t len; /* shorten it to truncate what the walk can read */
};

/* One chunk as glibc sees it (what the walk should report). */
struct synth_chunk {
	uint64_t addr, size;
	unsigned arena;
	enum chunk_kind kind;
};

/* Per arena, what int_mallinfo() and the walk would count. */
struct synth_tally {
	uint64_t chunks[CHUNK_META + 1], bytes[CHUNK_META + 1];
};

struct synth_arena {
	uint64_t addr;		   /* target address of its malloc_state */
	uint64_t heap;		   /* current heap_info (0: main arena) */
	uint64_t seg_end;	   /* end of the current heap */
	uint64_t cursor;	   /* where the next chunk goes */
	uint64_t prev_free;	   /* size of the previous chunk if in a bin */
	uint64_t system_mem;
	uint64_t top;
	struct synth_tally t;
};

struct synth {
	struct malloc_layout l;
	int protect; /* safe-link the fastbin and tcache lists (2.32+) */
	struct synth_region r[SYNTH_MAX_REGIONS];
	unsigned nr;
	struct synth_arena a[SYNTH_MAX_ARENAS];
	unsigned na;
	struct synth_chunk *c; /* every chunk laid out, in order */
	unsigned nc, cap;
	/* the tcache structs laid out (user addresses), for the walk */
	uint64_t tcaches[SYNTH_MAX_TCACHES];
	unsigned ntc;
};

/* The 2.36 x86_64 offsets, main_arena/mp_ at SYNTH_MAIN_ARENA/SYNTH_MP. */
void synth_layout(struct malloc_layout *l);

/*
 * main_arena (empty bins, next == itself), mp_ (2.36 defaults) and an
 * empty main heap of heap_len bytes at SYNTH_SBRK_BASE. Arena 0 is main.
 * Safe-linking on.
 */
void synth_init(struct synth *s, uint64_t heap_len);
void synth_free(struct synth *s);

/* A zeroed buffer at a fake target address (not overlapping another). */
struct synth_region *synth_add_region(struct synth *s, uint64_t addr,
				      size_t len);
struct synth_region *synth_region_at(struct synth *s, uint64_t addr);
void synth_w64(struct synth *s, uint64_t addr, uint64_t v);
uint64_t synth_r64(struct synth *s, uint64_t addr);
void synth_w16(struct synth *s, uint64_t addr, uint16_t v);

/* A fresh memory source over every region (its current length). */
struct memsrc *synth_memsrc(const struct synth *s);

/*
 * A thread arena: heap_info at heap_addr (64 MiB-aligned), the arena right
 * after it, chunks from the first 16-aligned chunk on, linked into the
 * ring right after main_arena like arena.c _int_new_arena(). Returns its
 * index.
 */
unsigned synth_thread_arena(struct synth *s, uint64_t heap_addr,
			    uint64_t heap_len);
/*
 * Give thread arena ai another heap, like sysmalloc() when a heap is full:
 * what is left of the current one (at least MINSIZE before the fenceposts)
 * goes to the unsorted bin, then the 0x10 and 0x0 fenceposts.
 */
void synth_grow_heap(struct synth *s, unsigned ai, uint64_t heap_addr,
		     uint64_t heap_len);

uint64_t synth_bin_at(const struct synth *s, unsigned ai, unsigned bin);
uint64_t synth_smallbin(uint64_t size); /* smallbin_index(size) */
uint64_t synth_protect(const struct synth *s, uint64_t pos, uint64_t p);

/* Append a chunk of size bytes to arena ai; each returns its address. */
uint64_t synth_inuse(struct synth *s, unsigned ai, uint64_t size);
/* A tcache_perthread_struct chunk; returns the struct (user) address. */
uint64_t synth_tcache_struct(struct synth *s, unsigned ai);
uint64_t synth_tcache_put(struct synth *s, unsigned ai, uint64_t tcache,
			  uint64_t size);
uint64_t synth_fast_put(struct synth *s, unsigned ai, uint64_t size);
uint64_t synth_bin_put(struct synth *s, unsigned ai, uint64_t size,
		       unsigned bin);
/* The top chunk: the rest of the current heap. Sets top and system_mem. */
uint64_t synth_top(struct synth *s, unsigned ai);

/* mallinfo2() as glibc's int_mallinfo() would compute it for this heap. */
void synth_mallinfo(const struct synth *s, struct la_mallinfo *mi);

#endif
