/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_pymalloc.c - the pool census (src/lib/python/pymalloc.c) and the
 * object census (src/lib/python/pytypes.c) on synthetic CPython heaps in
 * host buffers, read through the buffer-backed memory source: pools laid
 * out as pymalloc lays them out (doc/design/python-heap.md, "Pools and
 * arenas") are counted exactly; a header damaged in any one field is no
 * pool; a pool that disagrees with itself (its count, its free list, its
 * list neighbours) is counted as bad and flags the walk; a free list with
 * a cycle ends. The expected figures are those the test built.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "proc/readahead.h"
#include "python/pymalloc.h"
#include "python/pytypes.h"
#include "python/pyversion.h"

#define ARENA0 0x7f1200000000ull /* 16 KiB-aligned anonymous mapping */
#define ARENA_LEN (2u << 20)
#define USEDPOOLS 0x959d20ull /* &usedpools[0], in the executable's .data */
#define DATA_LEN 0x4000u
#define L 16384u

static char exe_path[] = "/usr/bin/python3.11", anon_path[] = "";

struct heap {
	unsigned char *arena, *data;
	struct mapping m[2];
	struct maps maps;
	struct memsrc *mem;
	struct addr_range span[4]; /* the last walk's first spans */
	uint32_t n_spans;
};

static void
w32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
w64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static unsigned char *
at(struct heap *h, uint64_t addr)
{
	if (addr >= USEDPOOLS - 0x1000 && addr < USEDPOOLS - 0x1000 + DATA_LEN)
		return h->data + (addr - (USEDPOOLS - 0x1000));
	cr_assert(addr >= ARENA0 && addr < ARENA0 + ARENA_LEN);
	return h->arena + (addr - ARENA0);
}

static void
heap_init(struct heap *h)
{
	memset(h, 0, sizeof(*h));
	h->arena = calloc(1, ARENA_LEN);
	h->data = calloc(1, DATA_LEN);
	cr_assert(h->arena && h->data);
	/* every list head empty: both words point at the head itself */
	for (uint64_t i = 0; i < PYMALLOC_NCLASSES; i++) {
		uint64_t head = USEDPOOLS + 16 * i - 16;

		w64(at(h, head + 16), head);
		w64(at(h, head + 24), head);
	}
	h->m[0] = (struct mapping){.start = USEDPOOLS - 0x1000,
				   .end = USEDPOOLS - 0x1000 + DATA_LEN,
				   .prot = MAP_R | MAP_W,
				   .path = exe_path};
	h->m[1] = (struct mapping){.start = ARENA0,
				   .end = ARENA0 + ARENA_LEN,
				   .prot = MAP_R | MAP_W,
				   .path = anon_path};
	h->maps.v = h->m;
	h->maps.len = 2;
	cr_assert_eq(memsrc_buf_new(&h->mem), 0);
	cr_assert_eq(memsrc_buf_add(h->mem, h->m[0].start, h->data, DATA_LEN),
		     0);
}

/* Add the arena (len bytes of it readable) and walk. */
static void
heap_walk(struct heap *h, size_t len, pymalloc_pool_fn fn, void *arg,
	  struct pymalloc_census *c)
{
	cr_assert_eq(memsrc_buf_add(h->mem, ARENA0, h->arena, len), 0);
	cr_assert_eq(pymalloc_walk(h->mem, &h->maps, fn, arg, c), 0);
	h->n_spans = c->n_spans;
	memcpy(h->span, c->spans,
	       (c->n_spans < 4 ? c->n_spans : 4) * sizeof(*c->spans));
	pymalloc_census_release(c);
}

static void
heap_free(struct heap *h)
{
	memsrc_close(h->mem);
	free(h->arena);
	free(h->data);
}

/*
 * A pool of class szidx at addr (pool size ps), carved blocks carved,
 * the free blocks free[0..nfree) linked in that order, count carved -
 * nfree, links to itself (an empty list of one is fixed by link()).
 */
static void
pool(struct heap *h, uint64_t addr, uint32_t ps, uint32_t szidx,
     uint32_t carved, const uint32_t *free, uint32_t nfree, uint32_t ai)
{
	unsigned char *p = at(h, addr);
	uint32_t bs = 16 * (szidx + 1);
	uint64_t prev = 0;

	w32(p + 0, carved - nfree);
	w32(p + 4, 0xdeadbeef); /* the padding is anything */
	w32(p + 32, ai);
	w32(p + 36, szidx);
	w32(p + 40, 48 + carved * bs);
	w32(p + 44, ps - bs);
	/* link from the last: b0 -> b1 -> ... -> NULL */
	for (uint32_t i = nfree; i-- > 0;) {
		uint64_t b = addr + 48 + (uint64_t)free[i] * bs;

		w64(at(h, b), prev);
		prev = b;
	}
	w64(p + 8, prev);
	/* stale links, as a full or empty pool has */
	w64(p + 16, 0x4141414141414140ull);
	w64(p + 24, 0x4242424242424240ull);
	/* the blocks in use hold something */
	for (uint32_t k = 0; k < carved; k++) {
		int is_free = 0;

		for (uint32_t i = 0; i < nfree; i++)
			is_free |= free[i] == k;
		if (!is_free)
			w64(at(h, addr + 48 + (uint64_t)k * bs), 0x1111);
	}
}

/* The used pools pools[0..n) of class szidx, linked in that order. */
static void
link_used(struct heap *h, uint32_t szidx, const uint64_t *pools, size_t n)
{
	uint64_t head = USEDPOOLS + 16 * (uint64_t)szidx - 16;

	for (size_t i = 0; i < n; i++) {
		w64(at(h, pools[i]) + 16, i + 1 < n ? pools[i + 1] : head);
		w64(at(h, pools[i]) + 24, i ? pools[i - 1] : head);
	}
	w64(at(h, head + 16), pools[0]);
	w64(at(h, head + 24), pools[n - 1]);
}

static uint32_t
numblocks(uint32_t ps, uint32_t szidx)
{
	return (ps - 48) / (16 * (szidx + 1));
}

struct seen {
	unsigned pools;
	uint64_t blocks, free_bits;
};

static int
count_pool(const struct pymalloc_pool *p, void *arg)
{
	struct seen *s = arg;
	uint32_t in_use = 0;

	s->pools++;
	for (uint32_t k = 0; k < p->carved; k++) {
		if (p->freemap[k / 8] & (1u << (k % 8)))
			s->free_bits++;
		else
			in_use++;
	}
	cr_expect_eq(in_use, p->count, "pool %#llx: freemap against count",
		     (unsigned long long)p->addr);
	s->blocks += in_use;
	return 0;
}

/* Five pools in two arenas: used, full, empty, and a list of two. */
static void
five_pools(struct heap *h)
{
	static const uint32_t f0[] = {3, 7}, f2[] = {4, 0, 2, 1, 3}, f3[] = {1},
			      f4[] = {0, 2};
	uint64_t p0 = ARENA0, p1 = ARENA0 + L, p2 = ARENA0 + 2 * L,
		 p3 = ARENA0 + 5 * L, p4 = ARENA0 + 40 * L;

	pool(h, p0, L, 0, 10, f0, 2, 0);
	link_used(h, 0, &p0, 1);
	pool(h, p1, L, 3, numblocks(L, 3), NULL, 0, 0);
	pool(h, p2, L, 3, 5, f2, 5, 0);
	pool(h, p3, L, 31, 6, f3, 1, 0);
	pool(h, p4, L, 31, 3, f4, 2, 1);
	link_used(h, 31, (const uint64_t[]){p3, p4}, 2);
}

Test(pymalloc, counts_valid_pools_exactly)
{
	struct pymalloc_census c;
	struct seen s = {0};
	struct heap h;

	heap_init(&h);
	five_pools(&h);
	heap_walk(&h, ARENA_LEN, count_pool, &s, &c);

	cr_expect(c.consistent);
	cr_expect_eq(c.pool_size, L);
	cr_expect_eq(c.pools, 5);
	cr_expect_eq(c.pools_used, 3);
	cr_expect_eq(c.pools_full, 1);
	cr_expect_eq(c.pools_empty, 1);
	cr_expect_eq(c.arenas, 2);
	cr_expect_eq(c.cls[0].blocks, 8);
	cr_expect_eq(c.cls[0].pools, 1);
	cr_expect_eq(c.cls[3].blocks, numblocks(L, 3));
	cr_expect_eq(c.cls[3].pools, 1, "the empty pool has no block in use");
	cr_expect_eq(c.cls[31].blocks, 5 + 1);
	cr_expect_eq(c.cls[31].bytes, 6 * 512);
	cr_expect_eq(c.blocks, 8 + numblocks(L, 3) + 6);
	cr_expect_eq(c.bytes, 8 * 16 + numblocks(L, 3) * 64 + 6 * 512);
	cr_expect_eq(c.bad_pools, 0);
	cr_expect_eq(c.usedpools, USEDPOOLS);
	cr_expect_eq(c.usedpools_seen, 1);
	cr_expect_eq(s.pools, 4, "the callback sees the pools in use");
	cr_expect_eq(s.blocks, c.blocks);
	cr_expect_eq(s.free_bits, 2 + 0 + 1 + 2);
	/* each arena from its first pool to the end of its last */
	cr_assert_eq(h.n_spans, 2);
	cr_expect_eq(h.span[0].lo, ARENA0);
	cr_expect_eq(h.span[0].hi, ARENA0 + 6 * L);
	cr_expect_eq(h.span[1].lo, ARENA0 + 40 * L);
	cr_expect_eq(h.span[1].hi, ARENA0 + 41 * L);
	heap_free(&h);
}

/*
 * A list head at a pool boundary is still a head: 3.10.13's usedpools
 * put class 27's head at a 16 KiB boundary (measured), which a test of
 * alignment alone took for a pool that does not point back.
 */
Test(pymalloc, knows_a_list_head_at_a_pool_boundary)
{
	static const uint32_t f[] = {2};
	const uint64_t head = 0x95c000, u = head + 16 - 16 * 27;
	struct pymalloc_census c;
	struct heap h;
	uint64_t p = ARENA0 + 9 * L;

	cr_assert_eq(head % L, 0);
	heap_init(&h);
	pool(&h, p, L, 27, 4, f, 1, 0);
	w64(at(&h, p) + 16, head);
	w64(at(&h, p) + 24, head);
	w64(at(&h, head + 16), p);
	w64(at(&h, head + 24), p);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_links, 0);
	cr_expect(c.consistent);
	cr_expect_eq(c.cls[27].blocks, 3);
	cr_expect_eq(c.usedpools, u);
	heap_free(&h);
}

Test(pymalloc, detects_small_pools)
{
	static const uint32_t f[] = {1};
	struct pymalloc_census c;
	struct heap h;
	uint64_t p = ARENA0 + 4096; /* 4 KiB-aligned, not 16 KiB */

	heap_init(&h);
	pool(&h, p, 4096, 2, 4, f, 1, 7);
	link_used(&h, 2, &p, 1);
	pool(&h, ARENA0 + 3 * 4096, 4096, 31, numblocks(4096, 31), NULL, 0, 7);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect(c.consistent);
	cr_expect_eq(c.pool_size, 4096);
	cr_expect_eq(c.pools, 2);
	cr_expect_eq(c.cls[2].blocks, 3);
	cr_expect_eq(c.cls[31].blocks, 7);
	cr_expect_eq(c.other_geometry, 0);
	heap_free(&h);

	/* a 16 KiB pool after them is ignored, and flags the walk */
	heap_init(&h);
	pool(&h, p, 4096, 2, 4, f, 1, 7);
	link_used(&h, 2, &p, 1);
	pool(&h, ARENA0 + 8 * L, L, 31, numblocks(L, 31), NULL, 0, 7);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.pool_size, 4096);
	cr_expect_eq(c.pools, 1);
	cr_expect_eq(c.other_geometry, 1);
	cr_expect_not(c.consistent);
	heap_free(&h);
}

/* One field of one header broken: that pool is no pool, the rest count. */
static void
damaged(unsigned off, uint32_t value, const char *what)
{
	struct pymalloc_census c;
	struct heap h;

	heap_init(&h);
	five_pools(&h);
	w32(at(&h, ARENA0 + 2 * L) + off, value); /* the empty class-3 pool */
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.pools, 4, "%s: %llu pools", what,
		     (unsigned long long)c.pools);
	cr_expect_eq(c.pools_empty, 0, "%s", what);
	cr_expect_eq(c.cls[0].blocks, 8, "%s", what);
	heap_free(&h);
}

Test(pymalloc, rejects_damaged_headers)
{
	damaged(36, 32, "szidx out of range");
	damaged(36, 4, "szidx of another block size");
	damaged(44, L - 64 + 16, "maxnextoffset");
	damaged(40, 48 + 5 * 64 + 8, "nextoffset off a block boundary");
	damaged(40, 48 + 64, "nextoffset below two blocks");
	damaged(40, L + 64, "nextoffset past the pool");
	damaged(0, 6, "count above carved");
	damaged(32, 1u << 24, "arena index");
	/* freeblock out of the pool and off a block boundary */
	damaged(8, 0x1234, "freeblock low word");
}

Test(pymalloc, flags_pools_that_disagree)
{
	struct pymalloc_census c;
	struct heap h;

	/* count one less than carved - free */
	heap_init(&h);
	five_pools(&h);
	w32(at(&h, ARENA0) + 0, 7);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_count, 1);
	cr_expect_eq(c.bad_pools, 1);
	cr_expect_not(c.consistent);
	cr_expect_eq(c.cls[0].blocks, 0, "a bad pool is never counted");
	cr_expect_eq(c.pools, 4);
	heap_free(&h);

	/* a free link out of the pool */
	heap_init(&h);
	five_pools(&h);
	w64(at(&h, ARENA0 + 48 + 3 * 16), ARENA0 + L + 48);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_freelist, 1);
	cr_expect_not(c.consistent);
	heap_free(&h);

	/* a list neighbour that does not point back */
	heap_init(&h);
	five_pools(&h);
	w64(at(&h, ARENA0 + 40 * L) + 24, ARENA0 + 6 * L);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_links, 2, "both ends of the broken link");
	cr_expect_eq(c.cls[31].blocks, 0);
	cr_expect_not(c.consistent);
	heap_free(&h);

	/* the same class linked to a second usedpools */
	heap_init(&h);
	five_pools(&h);
	w64(at(&h, ARENA0) + 16, USEDPOOLS + 0x800 - 16);
	w64(at(&h, USEDPOOLS + 0x800 + 8), ARENA0);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_pools, 0);
	cr_expect_eq(c.usedpools_seen, 2);
	cr_expect_not(c.consistent);
	heap_free(&h);

	/* one arena index over more than an arena's bytes */
	heap_init(&h);
	five_pools(&h);
	pool(&h, ARENA0 + 64 * L, L, 2, numblocks(L, 2), NULL, 0, 0);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_arenas, 1);
	cr_expect_not(c.consistent);
	heap_free(&h);
	heap_init(&h);
	five_pools(&h);
	pool(&h, ARENA0 + 63 * L, L, 2, numblocks(L, 2), NULL, 0, 0);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_arenas, 0, "64 pools from the first: one arena");
	cr_expect(c.consistent);
	heap_free(&h);
}

Test(pymalloc, bounds_free_list_cycles)
{
	static const uint32_t f[] = {0, 1, 2};
	struct pymalloc_census c;
	struct heap h;
	uint64_t p = ARENA0 + 8 * L;

	heap_init(&h);
	pool(&h, p, L, 1, 6, f, 3, 0);
	link_used(&h, 1, &p, 1);
	/* block 2 links back to block 1: a cycle */
	w64(at(&h, p + 48 + 2 * 32), p + 48 + 32);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_freelist, 1);
	cr_expect_eq(c.pools, 0);
	heap_free(&h);

	/* a block linking itself */
	heap_init(&h);
	pool(&h, p, L, 1, 6, f, 3, 0);
	link_used(&h, 1, &p, 1);
	w64(at(&h, p + 48), p + 48);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.bad_freelist, 1);
	heap_free(&h);
}

Test(pymalloc, skips_what_cannot_be_read)
{
	struct pymalloc_census c;
	struct heap h;

	heap_init(&h);
	five_pools(&h);
	/* the buffer ends inside pool p3: p3 and p4 cannot be read */
	heap_walk(&h, 5 * L + 4096, NULL, NULL, &c);
	cr_expect_eq(c.pools, 3);
	cr_expect_eq(c.cls[31].blocks, 0);
	cr_expect_eq(c.cls[0].blocks, 8);
	heap_free(&h);
}

/*
 * The windows read ahead by a helper thread give the census of a plain
 * read, also when a window cannot be read whole (the buffer ends inside
 * pool p3: read again page by page).
 */
Test(pymalloc, reads_ahead_to_the_same_census)
{
	static const size_t lens[] = {ARENA_LEN, 5 * L + 4096};

	for (unsigned i = 0; i < 2; i++) {
		struct pymalloc_census plain, ahead;
		struct seen s0 = {0}, s1 = {0};
		struct heap h;

		heap_init(&h);
		five_pools(&h);
		pymalloc_set_readahead_flags(0);
		heap_walk(&h, lens[i], count_pool, &s0, &plain);
		heap_free(&h);

		heap_init(&h);
		five_pools(&h);
		pymalloc_set_readahead_flags(READAHEAD_ALWAYS);
		heap_walk(&h, lens[i], count_pool, &s1, &ahead);
		pymalloc_set_readahead_flags(0);
		heap_free(&h);

		/* (a first window that fails is read by the walk, no helper) */
		cr_expect(i || ahead.read_ahead, "a helper read the windows");
		cr_expect_eq(ahead.pools, plain.pools);
		cr_expect_eq(ahead.blocks, plain.blocks);
		cr_expect_eq(ahead.bytes, plain.bytes);
		cr_expect_eq(ahead.arenas, plain.arenas);
		cr_expect_eq(ahead.bytes_scanned, plain.bytes_scanned);
		cr_expect_eq(ahead.consistent, plain.consistent);
		cr_expect_eq(s1.pools, s0.pools);
		cr_expect_eq(s1.blocks, s0.blocks);
		for (unsigned k = 0; k < PYMALLOC_NCLASSES; k++)
			cr_expect_eq(ahead.cls[k].blocks, plain.cls[k].blocks,
				     "class %u", k);
	}
	cr_expect_eq(lens[0] / PYMALLOC_WINDOW, 4, "more than one window");
}

/* ---- types ------------------------------------------------------------- */

#define TYPE_TYPE (USEDPOOLS - 0x1000 + 0x100)
#define META (USEDPOOLS - 0x1000 + 0x300)
#define FLOAT_T (USEDPOOLS - 0x1000 + 0x500)
#define CLASS_T (USEDPOOLS - 0x1000 + 0x700)
#define NAMES (USEDPOOLS + 0x1000)

static void
type_object(struct heap *h, uint64_t t, uint64_t meta, const char *name,
	    uint64_t basic, uint64_t flags, unsigned name_slot)
{
	unsigned char *p = at(h, t);
	uint64_t np = NAMES + 32 * name_slot;

	w64(p + 0, 1);
	w64(p + 8, meta);
	w64(p + 24, np);
	w64(p + 32, basic);
	w64(p + 40, 0);
	w64(p + 168, flags);
	strcpy((char *)at(h, np), name);
}

Test(pytypes, names_objects_by_their_type)
{
	static const uint32_t none[] = {0};
	const uint64_t ready = 1ull << 12, gc = 1ull << 14, dict = 1ull << 4,
		       sub = 1ull << 31;
	const struct pytype_count *k;
	struct pymalloc_census c;
	struct pytypes_totals t;
	struct pytypes *pt;
	struct heap h;
	uint64_t fp = ARENA0 + 3 * L, cp = ARENA0 + 4 * L;

	heap_init(&h);
	type_object(&h, TYPE_TYPE, TYPE_TYPE, "type", 880, ready | gc | sub, 0);
	type_object(&h, META, TYPE_TYPE, "Meta", 904, ready | gc | sub, 1);
	type_object(&h, FLOAT_T, TYPE_TYPE, "float", 24, ready, 2);
	/* a class of a metaclass: GC and a managed dict, 3.11: at +32 */
	type_object(&h, CLASS_T, META, "Plain", 24, ready | gc | dict, 3);
	/* 4 floats (class 1, 32 bytes): live, live, free-listed, array */
	pool(&h, fp, L, 1, 5, (const uint32_t[]){4}, 1, 0);
	link_used(&h, 1, &fp, 1);
	w64(at(&h, fp + 48), 3);
	w64(at(&h, fp + 48 + 8), FLOAT_T);
	w64(at(&h, fp + 80), 1);
	w64(at(&h, fp + 80 + 8), FLOAT_T);
	w64(at(&h, fp + 112), 0);
	w64(at(&h, fp + 112 + 8), FLOAT_T);
	/* an item array [&PyFloat_Type, &PyFloat_Type]: a pointer, no count */
	w64(at(&h, fp + 144), FLOAT_T);
	w64(at(&h, fp + 144 + 8), FLOAT_T);
	/* 2 instances of Plain (class 3, 64 bytes) at block + 32 */
	pool(&h, cp, L, 3, 3, none, 1, 0);
	link_used(&h, 3, &cp, 1);
	for (int i = 1; i < 3; i++) {
		w64(at(&h, cp + 48 + 64 * i + 32), 2);
		w64(at(&h, cp + 48 + 64 * i + 40), CLASS_T);
	}

	cr_assert_eq(memsrc_buf_add(h.mem, ARENA0, h.arena, ARENA_LEN), 0);
	cr_assert_eq(pytypes_new(h.mem, &h.maps, PYTYPES_RULES_311, &pt), 0);
	cr_assert_eq(pymalloc_walk(h.mem, &h.maps, pytypes_pool, pt, &c), 0);
	pymalloc_census_release(&c);
	pytypes_totals(pt, &t);
	cr_expect(t.available);
	cr_expect_eq(t.type_type, TYPE_TYPE);
	k = pytypes_find(pt, "float");
	cr_assert(k);
	cr_expect_eq(k->objects, 2);
	cr_expect_eq(k->bytes, 64);
	cr_expect_eq(k->freelisted, 1);
	k = pytypes_find(pt, "Plain");
	cr_assert(k);
	cr_expect_eq(k->objects, 2);
	cr_expect_eq(t.unknown_blocks, 1, "the item array");
	cr_expect_eq(t.objects + t.freelisted + t.unknown_blocks, c.blocks);
	pytypes_free(pt);

	/* 3.8 rules: Plain would be at +16; with the object at +32 none is */
	cr_assert_eq(pytypes_new(h.mem, &h.maps, PYTYPES_RULES_38, &pt), 0);
	cr_assert_eq(pymalloc_walk(h.mem, &h.maps, pytypes_pool, pt, &c), 0);
	pymalloc_census_release(&c);
	k = pytypes_find(pt, "Plain");
	cr_expect(!k || k->objects == 0);
	pytypes_free(pt);

	/* no version, no types: every block unknown, the census the same */
	cr_assert_eq(pytypes_new(h.mem, &h.maps, PYTYPES_RULES_NONE, &pt), 0);
	cr_assert_eq(pymalloc_walk(h.mem, &h.maps, pytypes_pool, pt, &c), 0);
	pymalloc_census_release(&c);
	pytypes_totals(pt, &t);
	cr_expect_not(t.available);
	cr_expect_eq(t.objects, 0);
	cr_expect_eq(t.unknown_blocks, c.blocks);
	cr_expect_eq(c.blocks, 6);
	pytypes_free(pt);

	/* a type whose metatype is not a type: refused */
	w64(at(&h, META + 168), ready | gc);
	memsrc_invalidate(h.mem); /* the "target" ran */
	cr_assert_eq(pytypes_new(h.mem, &h.maps, PYTYPES_RULES_311, &pt), 0);
	cr_assert_eq(pymalloc_walk(h.mem, &h.maps, pytypes_pool, pt, &c), 0);
	pymalloc_census_release(&c);
	k = pytypes_find(pt, "Plain");
	cr_expect(!k || k->objects == 0);
	pytypes_free(pt);
	heap_free(&h);
}

/*
 * A type object in anonymous memory (a class in a thread arena's heap
 * next to pymalloc's arenas) is read from the walk's window when the
 * window holds it and from the memory source when not: the same objects
 * either way. Beside them, a block whose first words are a GC header
 * linking a neighbour that looks like a ready type (flags, sizes) but is
 * none: no object.
 */
Test(pytypes, reads_types_in_the_window_as_from_the_target)
{
	const uint64_t ready = 1ull << 12, gc = 1ull << 14;
	/* in the pool's window (the first 512 KiB) and past it */
	const uint64_t where[] = {ARENA0 + 20 * L + 256, ARENA0 + 40 * L + 256};
	const uint64_t cp = ARENA0 + 21 * L, fake = ARENA0 + 22 * L + 512;

	for (unsigned i = 0; i < 2; i++) {
		const uint64_t t = where[i], name = t + 1024;
		const struct pytype_count *k;
		struct pymalloc_census c;
		struct pytypes_totals tt;
		struct pytypes *pt;
		struct heap h;

		cr_assert_eq((t - ARENA0) / PYMALLOC_WINDOW, i);
		heap_init(&h);
		type_object(&h, TYPE_TYPE, TYPE_TYPE, "type", 880,
			    ready | gc | (1ull << 31), 0);
		w64(at(&h, t + 8), TYPE_TYPE);
		w64(at(&h, t + 24), name);
		w64(at(&h, t + 32), 32);
		w64(at(&h, t + 168), ready | gc);
		strcpy((char *)at(&h, name), "Local");
		/* a neighbour that passes the first tests of a type only */
		w64(at(&h, fake + 32), 24);
		w64(at(&h, fake + 168), ready);
		w64(at(&h, fake + 24), 0x10); /* no name */
		/* class 3 (64 bytes): 2 objects of Local at +16, then a
		 * block whose GC link leads to the fake, nothing at +16 */
		pool(&h, cp, L, 3, 4, (const uint32_t[]){3}, 1, 0);
		link_used(&h, 3, &cp, 1);
		for (int b = 0; b < 2; b++) {
			w64(at(&h, cp + 48 + 64 * b + 8), fake);
			w64(at(&h, cp + 48 + 64 * b + 16), 1);
			w64(at(&h, cp + 48 + 64 * b + 24), t);
		}
		w64(at(&h, cp + 48 + 128 + 8), fake);
		w64(at(&h, cp + 48 + 128 + 16), 1);

		cr_assert_eq(memsrc_buf_add(h.mem, ARENA0, h.arena, ARENA_LEN),
			     0);
		cr_assert_eq(
			pytypes_new(h.mem, &h.maps, PYTYPES_RULES_311, &pt), 0);
		cr_assert_eq(
			pymalloc_walk(h.mem, &h.maps, pytypes_pool, pt, &c), 0);
		pymalloc_census_release(&c);
		pytypes_totals(pt, &tt);
		k = pytypes_find(pt, "Local");
		cr_assert(k, "the type at %#llx", (unsigned long long)t);
		cr_expect_eq(k->objects, 2);
		cr_expect_eq(k->bytes, 128);
		cr_expect_eq(tt.objects, 2);
		cr_expect_eq(tt.unknown_blocks, 1,
			     "the block linking the fake");
		cr_expect_eq(c.blocks, 3);
		pytypes_free(pt);
		heap_free(&h);
	}
}

Test(pyversion, knows_the_interpreter_by_its_file_name)
{
	unsigned ma = 0, mi = 0;

	cr_expect_eq(pyversion_from_name("python3.11", &ma, &mi), 0);
	cr_expect(ma == 3 && mi == 11);
	cr_expect_eq(pyversion_from_name("libpython3.9.so.1.0", &ma, &mi), 0);
	cr_expect(ma == 3 && mi == 9);
	cr_expect_eq(pyversion_from_name("python3.13d", &ma, &mi), 0);
	cr_expect_eq(mi, 13);
	cr_expect_neq(pyversion_from_name("python3", &ma, &mi), 0);
	cr_expect_neq(pyversion_from_name("python2.7", &ma, &mi), 0);
	cr_expect_neq(pyversion_from_name("python3.11-config", &ma, &mi), 0);
	cr_expect_neq(pyversion_from_name("_ssl.cpython-311.so", &ma, &mi), 0);
	cr_expect_eq(pytypes_rules_for(3, 10), PYTYPES_RULES_38);
	cr_expect_eq(pytypes_rules_for(3, 11), PYTYPES_RULES_311);
	cr_expect_eq(pytypes_rules_for(3, 13), PYTYPES_RULES_312);
	cr_expect_eq(pytypes_rules_for(3, 14), PYTYPES_RULES_NONE);
}

/*
 * A type met first at the end of a chain of metaclasses too long to
 * follow is not refused for good: met again directly it is a type. A
 * class object whose metaclass is M0 counts the same whichever block is
 * met first, its own or that of an instance of Deep (Deep -> M3 -> M2 ->
 * M1 -> M0 -> type, one hop more than the walk follows from Deep).
 */
#define DEEP_BASE 0x958000ull

static void
deep_type(unsigned char *data, uint64_t t, uint64_t meta, const char *name,
	  uint64_t name_at)
{
	w64(data + (t - DEEP_BASE), 1);
	w64(data + (t + 8 - DEEP_BASE), meta);
	w64(data + (t + 24 - DEEP_BASE), name_at);
	w64(data + (t + 32 - DEEP_BASE), 880);
	w64(data + (t + 168 - DEEP_BASE),
	    (1ull << 12) | (1ull << 14) | (1ull << 31));
	strcpy((char *)data + (name_at - DEEP_BASE), name);
}

static uint64_t
deep_chain_count(int deep_first)
{
	static char exe[] = "/usr/bin/python3.11";
	static unsigned char data[0x4000];
	struct mapping m = {.start = DEEP_BASE,
			    .end = DEEP_BASE + sizeof(data),
			    .prot = MAP_R | MAP_W,
			    .path = exe};
	struct maps maps = {&m, 1};
	uint64_t type = DEEP_BASE + 0x100, meta[4], deep = DEEP_BASE + 0x1000;
	unsigned char obj_meta[48] = {0}, obj_deep[48] = {0};
	const struct pytype_count *k;
	struct memsrc *mem;
	struct pytypes *pt;
	uint64_t n;

	memset(data, 0, sizeof(data));
	deep_type(data, type, type, "type", DEEP_BASE + 0x3000);
	for (int i = 0; i < 4; i++) {
		meta[i] = DEEP_BASE + 0x400 + 0x100 * (uint64_t)i;
		deep_type(data, meta[i], i ? meta[i - 1] : type, "Meta",
			  DEEP_BASE + 0x3010);
	}
	deep_type(data, deep, meta[3], "Deep", DEEP_BASE + 0x3020);
	/* after a 16-byte GC header: refcount 1, then the type */
	w64(obj_meta + 16, 1);
	w64(obj_meta + 24, meta[0]);
	w64(obj_deep + 16, 1);
	w64(obj_deep + 24, deep);
	cr_assert_eq(memsrc_buf_new(&mem), 0);
	cr_assert_eq(memsrc_buf_add(mem, DEEP_BASE, data, sizeof(data)), 0);
	cr_assert_eq(pytypes_new(mem, &maps, PYTYPES_RULES_38, &pt), 0);
	if (deep_first)
		pytypes_block(pt, 0x7f0000000000ull, obj_deep, 1000,
			      PYTYPES_IN_MALLOC);
	pytypes_block(pt, 0x7f0000001000ull, obj_meta, 1000,
		      PYTYPES_IN_MALLOC);
	if (!deep_first)
		pytypes_block(pt, 0x7f0000000000ull, obj_deep, 1000,
			      PYTYPES_IN_MALLOC);
	k = pytypes_find(pt, "Meta");
	n = k ? k->objects : 0;
	pytypes_free(pt);
	memsrc_close(mem);
	return n;
}

Test(pytypes, names_do_not_depend_on_the_order_blocks_are_met)
{
	cr_expect_eq(deep_chain_count(0), 1);
	cr_expect_eq(deep_chain_count(1), 1,
		     "M0 refused for good after Deep's chain was too long");
}

/*
 * A pool caught being carved (allocate_from_new_pool(): szidx
 * DUMMY_SIZE_IDX, count 1, its other fields still the zeros of fresh
 * arena memory) makes the census flagged; a page that only shares that
 * szidx, with a free list or offsets set, is no such pool.
 */
Test(pymalloc, knows_a_pool_being_carved_from_its_zeros)
{
	struct pymalloc_census c;
	struct heap h;
	uint64_t p = ARENA0 + 9 * L;
	unsigned char *b;

	heap_init(&h);
	five_pools(&h);
	b = at(&h, p);
	w32(b + 0, 1);
	w32(b + 32, 0);
	w32(b + 36, 0xffff);
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.carving, 1);
	cr_expect_not(c.consistent);

	w32(b + 40, 0x1234); /* nextoffset: init_pool() ran, or noise */
	heap_walk(&h, ARENA_LEN, NULL, NULL, &c);
	cr_expect_eq(c.carving, 0);
	cr_expect(c.consistent);
	heap_free(&h);
}
