/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_glibc_heap.c - the heap walk (glibc_heap_walk) and the snapshot's
 * mallinfo on synthetic glibc 2.36 heaps read through the buffer-backed
 * memory source: exact classification of every chunk (in use, tcache,
 * fastbin, bin, top, metadata) in the main arena and in thread arenas of
 * one or several heaps, the per-arena sums, mallinfo2 as int_mallinfo()
 * computes it, safe-linking detection, and corrupt or hostile heaps, each
 * of which must end (no crash, no hang) with an error code or an
 * inconsistent walk that says why. No process and no mmapped chunks.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "glibc/glibc_heap.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "proc/readahead.h"
#include "snapshot.h"
#include "synthheap.h"

#define NKINDS (CHUNK_META + 1)
#define MAX_SEEN 1024u

struct seen {
	uint64_t addr, size;
	unsigned arena;
	enum chunk_kind kind;
};

/* A chunk_visit_fn that counts by kind and keeps the first chunks. */
struct counter {
	uint64_t n[NKINDS], bytes[NKINDS];
	uint64_t visits;
	struct seen v[MAX_SEEN];
	unsigned nv;
	struct la_snapshot *snap; /* also fed, when set */
};

static void
count_chunk(void *arg, unsigned arena, uint64_t addr, uint64_t size,
	    enum chunk_kind kind)
{
	struct counter *c = arg;

	c->visits++;
	if ((unsigned)kind < NKINDS) {
		c->n[kind]++;
		c->bytes[kind] += size;
	}
	if (c->nv < MAX_SEEN)
		c->v[c->nv++] = (struct seen){ addr, size, arena, kind };
	if (c->snap)
		snapshot_visit(c->snap, arena, addr, size, kind);
}

/* Walk the synthetic heap through a fresh memory source, no mappings. */
static int
walk(struct synth *s, struct counter *c, struct heap_walk *out)
{
	struct maps maps = { NULL, 0 };
	struct memsrc *mem = synth_memsrc(s);
	int err;

	memset(out, 0, sizeof(*out));
	err = glibc_heap_walk(&s->l, mem, &maps, s->tcaches, s->ntc, NULL, 0,
			      count_chunk, c, out);
	memsrc_close(mem);
	return err;
}

static const struct seen *
find_seen(const struct counter *c, uint64_t addr)
{
	for (unsigned i = 0; i < c->nv; i++)
		if (c->v[i].addr == addr)
			return &c->v[i];
	return NULL;
}

static void
assert_kind(const struct counter *c, uint64_t addr, uint64_t size,
	    enum chunk_kind kind)
{
	const struct seen *v = find_seen(c, addr);

	cr_assert_not_null(v, "chunk %#llx was not visited",
			   (unsigned long long)addr);
	cr_assert_eq(v->size, size, "chunk %#llx: size %#llx, want %#llx",
		     (unsigned long long)addr, (unsigned long long)v->size,
		     (unsigned long long)size);
	cr_assert_eq(v->kind, kind, "chunk %#llx: kind %d, want %d",
		     (unsigned long long)addr, (int)v->kind, (int)kind);
}

/*
 * The walk saw exactly the chunks the builder laid out, each once, with
 * its size, kind and arena, plus one top per arena.
 */
static void
assert_walk_matches(const struct synth *s, const struct counter *c)
{
	uint64_t tops = 0;

	cr_assert_lt(c->visits, (uint64_t)MAX_SEEN, "too many visits");
	for (unsigned i = 0; i < s->nc; i++) {
		const struct synth_chunk *k = &s->c[i];
		const struct seen *v = find_seen(c, k->addr);

		cr_assert_not_null(v, "chunk %#llx (kind %d) was not visited",
				   (unsigned long long)k->addr, (int)k->kind);
		cr_assert_eq(v->size, k->size,
			     "chunk %#llx: size %#llx, want %#llx",
			     (unsigned long long)k->addr,
			     (unsigned long long)v->size,
			     (unsigned long long)k->size);
		cr_assert_eq(v->kind, k->kind, "chunk %#llx: kind %d, want %d",
			     (unsigned long long)k->addr, (int)v->kind,
			     (int)k->kind);
		cr_assert_eq(v->arena, k->arena,
			     "chunk %#llx: arena %u, want %u",
			     (unsigned long long)k->addr, v->arena, k->arena);
	}
	for (unsigned i = 0; i < s->na; i++) {
		const struct seen *v = find_seen(c, s->a[i].top);

		cr_assert_not_null(v, "top of arena %u was not visited", i);
		cr_assert_eq(v->kind, CHUNK_TOP);
		cr_assert_eq(v->size, s->a[i].t.bytes[CHUNK_TOP]);
		tops++;
	}
	cr_assert_eq(c->visits, s->nc + tops, "%llu visits, want %llu",
		     (unsigned long long)c->visits,
		     (unsigned long long)(s->nc + tops));
}

/* Per-arena sums of the walk against what the builder laid out. */
static void
assert_arena_sums(const struct synth *s, const struct heap_walk *out)
{
	cr_assert_eq(out->n_arena, s->na);
	for (unsigned i = 0; i < s->na; i++) {
		const struct arena_walk *aw = &out->arena[i];
		const struct synth_arena *a = &s->a[i];

		cr_assert_eq(aw->addr, a->addr, "arena %u address", i);
		cr_assert_eq(aw->is_main, i == 0);
		cr_assert_eq(aw->consistent, 1, "arena %u inconsistent", i);
		cr_assert_eq(aw->system_mem, a->system_mem);
		cr_assert_eq(aw->walked_bytes, a->system_mem,
			     "arena %u: walked %llu bytes, system_mem %llu", i,
			     (unsigned long long)aw->walked_bytes,
			     (unsigned long long)a->system_mem);
		cr_assert_eq(aw->top_size, a->t.bytes[CHUNK_TOP]);
		cr_assert_eq(aw->bin_chunks, a->t.chunks[CHUNK_BIN]);
		cr_assert_eq(aw->bin_bytes, a->t.bytes[CHUNK_BIN]);
		cr_assert_eq(aw->fast_chunks, a->t.chunks[CHUNK_FASTBIN]);
		cr_assert_eq(aw->fast_bytes, a->t.bytes[CHUNK_FASTBIN]);
		cr_assert_eq(aw->threads, 1);
		cr_assert_eq(aw->lock_held, 0);
	}
}

/* Every field of two mallinfos, by name. */
static void
assert_mallinfo_eq(const struct la_mallinfo *got,
		   const struct la_mallinfo *want)
{
#define FIELD(f)                                                             \
	cr_assert_eq(got->f, want->f, #f ": %llu, want %llu",               \
		     (unsigned long long)got->f, (unsigned long long)want->f)
	FIELD(arena);
	FIELD(ordblks);
	FIELD(smblks);
	FIELD(hblks);
	FIELD(hblkhd);
	FIELD(usmblks);
	FIELD(fsmblks);
	FIELD(uordblks);
	FIELD(fordblks);
	FIELD(keepcost);
#undef FIELD
}

/* A corrupt or hostile heap: an error code, or inconsistent and why. */
static void
assert_rejected(int err, const struct heap_walk *out)
{
	if (err < 0) {
		cr_log_info("refused: %d", err);
		return;
	}
	cr_assert_eq(err, 0);
	cr_assert_eq(out->consistent, 0,
		     "a corrupt heap was reported consistent");
	cr_assert_neq(out->why[0], '\0', "inconsistent but no reason given");
	cr_log_info("inconsistent: %s", out->why);
}

/*
 * The main heap most tests start from (glibc 2.36, safe-linking): the
 * tcache struct first, then in-use chunks between free ones of every
 * kind, and top.
 */
struct std_heap {
	uint64_t tc;		      /* the tcache struct (user address) */
	uint64_t used[6];	      /* 0x30 0x40 0x100 0x20 0x30 0x420 */
	uint64_t t20a, t20b, t90;     /* tcache: bin 0 (2 entries), bin 7 */
	uint64_t f20a, f20b, f50;     /* fastbin 0 (2 entries), fastbin 3 */
	uint64_t small1, small2, uns; /* small bin 17 (2), unsorted (1) */
	uint64_t top;
};

#define STD_INUSE_BYTES 1504u /* 0x30+0x40+0x100+0x20+0x30+0x420 */
#define STD_TCACHE_BYTES 208u /* 0x20+0x20+0x90 */
#define STD_FAST_BYTES 144u   /* 0x20+0x20+0x50 */
#define STD_BIN_BYTES 1824u   /* 0x110+0x500+0x110 */
#define STD_TOP_BYTES (SYNTH_HEAP_LEN - 0x10f0u)

/* protect: safe-linked fastbin and tcache lists (glibc >= 2.32) */
static void
build_std_links(struct synth *s, struct std_heap *h, int protect)
{
	synth_init(s, SYNTH_HEAP_LEN);
	s->protect = protect;
	h->tc = synth_tcache_struct(s, 0);
	h->used[0] = synth_inuse(s, 0, 0x30);
	h->t20a = synth_tcache_put(s, 0, h->tc, 0x20);
	h->t20b = synth_tcache_put(s, 0, h->tc, 0x20);
	h->used[1] = synth_inuse(s, 0, 0x40);
	h->t90 = synth_tcache_put(s, 0, h->tc, 0x90);
	h->f20a = synth_fast_put(s, 0, 0x20);
	h->f20b = synth_fast_put(s, 0, 0x20);
	h->f50 = synth_fast_put(s, 0, 0x50);
	h->used[2] = synth_inuse(s, 0, 0x100);
	h->small1 = synth_bin_put(s, 0, 0x110, (unsigned)synth_smallbin(0x110));
	h->used[3] = synth_inuse(s, 0, 0x20);
	h->uns = synth_bin_put(s, 0, 0x500, SYNTH_UNSORTED);
	h->used[4] = synth_inuse(s, 0, 0x30);
	h->small2 = synth_bin_put(s, 0, 0x110, (unsigned)synth_smallbin(0x110));
	h->used[5] = synth_inuse(s, 0, 0x420);
	h->top = synth_top(s, 0);
}

static void
build_std(struct synth *s, struct std_heap *h)
{
	build_std_links(s, h, 1);
}

/* Main arena with little in it, and a thread arena with every kind. */
struct thread_heap {
	uint64_t tc, ttc;	   /* main's and the thread's tcache structs */
	unsigned ta;		   /* the thread arena's index */
	uint64_t used[4], tcache, fast, bin, top;
};

static void
build_threaded(struct synth *s, struct thread_heap *h)
{
	synth_init(s, SYNTH_HEAP_LEN);
	h->tc = synth_tcache_struct(s, 0);
	synth_inuse(s, 0, 0x30);
	synth_top(s, 0);

	h->ta = synth_thread_arena(s, SYNTH_THREAD_HEAP, SYNTH_HEAP_LEN);
	h->ttc = synth_tcache_struct(s, h->ta);
	h->used[0] = synth_inuse(s, h->ta, 0x50);
	h->tcache = synth_tcache_put(s, h->ta, h->ttc, 0x30);
	h->used[1] = synth_inuse(s, h->ta, 0x80);
	h->fast = synth_fast_put(s, h->ta, 0x40);
	h->used[2] = synth_inuse(s, h->ta, 0x30);
	h->bin = synth_bin_put(s, h->ta, 0x200,
			       (unsigned)synth_smallbin(0x200));
	h->used[3] = synth_inuse(s, h->ta, 0x60);
	h->top = synth_top(s, h->ta);
}

/* ----- well-formed heaps ------------------------------------------------ */

Test(glibc_heap, classifies_every_chunk_of_the_main_heap, .timeout = 10)
{
	struct synth s;
	struct std_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	int err;

	build_std(&s, &h);
	err = walk(&s, &c, &out);
	cr_assert_eq(err, 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.why[0], '\0');

	cr_assert_eq(c.n[CHUNK_IN_USE], 6);
	cr_assert_eq(c.bytes[CHUNK_IN_USE], STD_INUSE_BYTES);
	cr_assert_eq(c.n[CHUNK_TCACHE], 3);
	cr_assert_eq(c.bytes[CHUNK_TCACHE], STD_TCACHE_BYTES);
	cr_assert_eq(c.n[CHUNK_FASTBIN], 3);
	cr_assert_eq(c.bytes[CHUNK_FASTBIN], STD_FAST_BYTES);
	cr_assert_eq(c.n[CHUNK_BIN], 3);
	cr_assert_eq(c.bytes[CHUNK_BIN], STD_BIN_BYTES);
	cr_assert_eq(c.n[CHUNK_TOP], 1);
	cr_assert_eq(c.bytes[CHUNK_TOP], STD_TOP_BYTES);
	cr_assert_eq(c.n[CHUNK_META], 1);
	cr_assert_eq(c.bytes[CHUNK_META], SYNTH_TCACHE_CHUNK);
	cr_assert_eq(c.n[CHUNK_MMAPPED], 0);

	assert_kind(&c, h.tc - 16, SYNTH_TCACHE_CHUNK, CHUNK_META);
	assert_kind(&c, h.t20a, 0x20, CHUNK_TCACHE);
	assert_kind(&c, h.t20b, 0x20, CHUNK_TCACHE);
	assert_kind(&c, h.t90, 0x90, CHUNK_TCACHE);
	assert_kind(&c, h.f20a, 0x20, CHUNK_FASTBIN);
	assert_kind(&c, h.f20b, 0x20, CHUNK_FASTBIN);
	assert_kind(&c, h.f50, 0x50, CHUNK_FASTBIN);
	assert_kind(&c, h.small1, 0x110, CHUNK_BIN);
	assert_kind(&c, h.small2, 0x110, CHUNK_BIN);
	assert_kind(&c, h.uns, 0x500, CHUNK_BIN);
	assert_kind(&c, h.used[5], 0x420, CHUNK_IN_USE);
	assert_kind(&c, h.top, STD_TOP_BYTES, CHUNK_TOP);
	assert_walk_matches(&s, &c);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, sums_bins_and_fastbins_per_arena, .timeout = 10)
{
	struct synth s;
	struct std_heap h;
	struct counter c = { 0 };
	struct heap_walk out;

	build_std(&s, &h);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.n_arena, 1);
	cr_assert_eq(out.arena[0].heaps, 1);
	cr_assert_eq(out.arena[0].bin_chunks, 3);
	cr_assert_eq(out.arena[0].bin_bytes, STD_BIN_BYTES);
	cr_assert_eq(out.arena[0].fast_chunks, 3);
	cr_assert_eq(out.arena[0].fast_bytes, STD_FAST_BYTES);
	cr_assert_eq(out.arena[0].top_size, STD_TOP_BYTES);
	cr_assert_eq(out.arena[0].system_mem, SYNTH_HEAP_LEN);
	cr_assert_eq(out.arena[0].walked_bytes, SYNTH_HEAP_LEN);
	assert_arena_sums(&s, &out);
	cr_assert_eq(out.mmapped_chunks, 0);
	cr_assert_eq(out.mp_n_mmaps, 0);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, snapshot_mallinfo_equals_int_mallinfo, .timeout = 10)
{
	struct synth s;
	struct std_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	struct la_mallinfo want, oracle;

	build_std(&s, &h);
	c.snap = snapshot_new();
	cr_assert_not_null(c.snap);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(snapshot_finish(c.snap, &out), 0);

	/* int_mallinfo() for this heap, by hand (glibc malloc/malloc.c) */
	memset(&want, 0, sizeof(want));
	want.arena = SYNTH_HEAP_LEN;			 /* system_mem */
	want.ordblks = 1 + 3;				 /* top + bins */
	want.smblks = 3;
	want.fsmblks = STD_FAST_BYTES;
	want.fordblks = STD_TOP_BYTES + STD_FAST_BYTES + STD_BIN_BYTES;
	want.uordblks = SYNTH_HEAP_LEN - want.fordblks; /* tcache is "used" */
	want.keepcost = STD_TOP_BYTES;
	cr_assert_eq(want.uordblks, STD_INUSE_BYTES + STD_TCACHE_BYTES +
					    SYNTH_TCACHE_CHUNK);
	assert_mallinfo_eq(&c.snap->mi, &want);
	synth_mallinfo(&s, &oracle);
	assert_mallinfo_eq(&oracle, &want);

	cr_assert_eq(c.snap->totals.counts.in_use_chunks, 6);
	cr_assert_eq(c.snap->totals.counts.tcache_bytes, STD_TCACHE_BYTES);
	cr_assert_eq(c.snap->totals.counts.meta_bytes, SYNTH_TCACHE_CHUNK);
	cr_assert_eq(c.snap->totals.free_bytes,
		     STD_TCACHE_BYTES + STD_FAST_BYTES + STD_BIN_BYTES +
			     STD_TOP_BYTES);
	cr_assert_eq(c.snap->n_arenas, 1);
	cr_assert_eq(c.snap->arenas[0].counts.bin_chunks, 3);
	cr_assert_eq(c.snap->arenas[0].counts.fastbin_bytes, STD_FAST_BYTES);
	cr_assert_eq(c.snap->arenas[0].counts.meta_bytes, SYNTH_TCACHE_CHUNK);
	la_snapshot_free(c.snap);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, walks_a_thread_arena, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	const struct arena_walk *aw;

	build_threaded(&s, &h);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.n_arena, 2);
	aw = &out.arena[1];
	cr_assert_eq(aw->addr, SYNTH_THREAD_HEAP + 0x30);
	cr_assert_eq(aw->is_main, 0);
	cr_assert_eq(aw->heaps, 1);
	cr_assert_eq(aw->system_mem, SYNTH_HEAP_LEN);
	cr_assert_eq(aw->bin_chunks, 1);
	cr_assert_eq(aw->bin_bytes, 0x200);
	cr_assert_eq(aw->fast_chunks, 1);
	cr_assert_eq(aw->fast_bytes, 0x40);

	/* heap_info + malloc_state + alignment: 0x8d0 bytes of metadata */
	assert_kind(&c, SYNTH_THREAD_HEAP, 0x8d0, CHUNK_META);
	cr_assert_eq(h.ttc - 16, SYNTH_THREAD_HEAP + 0x8d0);
	assert_kind(&c, h.ttc - 16, SYNTH_TCACHE_CHUNK, CHUNK_META);
	assert_kind(&c, h.tcache, 0x30, CHUNK_TCACHE);
	assert_kind(&c, h.fast, 0x40, CHUNK_FASTBIN);
	assert_kind(&c, h.bin, 0x200, CHUNK_BIN);
	assert_kind(&c, h.used[3], 0x60, CHUNK_IN_USE);
	cr_assert_eq(find_seen(&c, h.used[3])->arena, 1);
	assert_kind(&c, h.top, SYNTH_THREAD_HEAP + SYNTH_HEAP_LEN - h.top,
		    CHUNK_TOP);
	assert_walk_matches(&s, &c);
	assert_arena_sums(&s, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, thread_arena_mallinfo_equals_int_mallinfo, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	struct la_mallinfo want;

	build_threaded(&s, &h);
	c.snap = snapshot_new();
	cr_assert_not_null(c.snap);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(snapshot_finish(c.snap, &out), 0);
	synth_mallinfo(&s, &want);
	/* two tops, one bin chunk; keepcost is main's top only */
	cr_assert_eq(want.arena, 2 * SYNTH_HEAP_LEN);
	cr_assert_eq(want.ordblks, 3);
	cr_assert_eq(want.smblks, 1);
	cr_assert_eq(want.fsmblks, 0x40);
	cr_assert_eq(want.keepcost, SYNTH_HEAP_LEN - 0x290 - 0x30);
	assert_mallinfo_eq(&c.snap->mi, &want);
	cr_assert_eq(c.snap->n_arenas, 2);
	cr_assert_eq(c.snap->arenas[1].counts.meta_bytes,
		     0x8d0 + SYNTH_TCACHE_CHUNK);
	la_snapshot_free(c.snap);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, walks_every_heap_of_a_thread_arena, .timeout = 10)
{
	const uint64_t h2 = SYNTH_THREAD_HEAP + HEAP_MAX_DEFAULT;
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	struct la_mallinfo want;
	unsigned ta;
	uint64_t ttc;

	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	synth_top(&s, 0);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x4000);
	ttc = synth_tcache_struct(&s, ta);
	synth_inuse(&s, ta, 0x400);
	synth_tcache_put(&s, ta, ttc, 0x100);
	synth_inuse(&s, ta, 0x1000);
	synth_grow_heap(&s, ta, h2, 0x3000);
	synth_inuse(&s, ta, 0x200);
	synth_fast_put(&s, ta, 0x30);
	synth_inuse(&s, ta, 0x40);
	synth_top(&s, ta);

	c.snap = snapshot_new();
	cr_assert_not_null(c.snap);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.arena[1].heaps, 2);
	cr_assert_eq(out.arena[1].system_mem, 0x4000 + 0x3000);
	/* both fenceposts of the old heap, and the new heap's header */
	assert_kind(&c, SYNTH_THREAD_HEAP + 0x4000 - 32, 16, CHUNK_META);
	assert_kind(&c, SYNTH_THREAD_HEAP + 0x4000 - 16, 16, CHUNK_META);
	assert_kind(&c, h2, 0x30, CHUNK_META);
	assert_walk_matches(&s, &c);
	assert_arena_sums(&s, &out);
	cr_assert_eq(snapshot_finish(c.snap, &out), 0);
	synth_mallinfo(&s, &want);
	assert_mallinfo_eq(&c.snap->mi, &want);
	la_snapshot_free(c.snap);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Heaps of many read windows (1 MiB each): the next window is read by a
 * helper thread while the walk parses one (readahead.c), chunks larger
 * than a window jump over windows read ahead, a thread heap's top stops
 * the read-ahead. The walk must see what the builder laid out, exactly as
 * on the small heaps above, and must have used the helper.
 */
struct threads_seen {
	struct counter c;
	unsigned base, most; /* threads before the walk, most during it */
};

static unsigned
count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
count_chunk_and_threads(void *arg, unsigned arena, uint64_t addr,
			uint64_t size, enum chunk_kind kind)
{
	struct threads_seen *t = arg;

	count_chunk(&t->c, arena, addr, size, kind);
	if (t->c.visits % 32 == 0) {
		unsigned n = count_threads();

		if (n > t->most)
			t->most = n;
	}
}

Test(glibc_heap, walks_heaps_of_many_windows_like_small_ones, .timeout = 20)
{
	const uint64_t h2 = SYNTH_THREAD_HEAP + HEAP_MAX_DEFAULT;
	struct threads_seen t = { 0 };
	struct maps maps = { NULL, 0 };
	struct heap_walk out;
	struct la_mallinfo want;
	struct memsrc *mem;
	struct synth s;
	unsigned ta;
	uint64_t ttc;

	/* whatever the load on the machine that runs the test */
	glibc_heap_set_readahead_flags(READAHEAD_ALWAYS);
	synth_init(&s, 6u << 20);
	synth_tcache_struct(&s, 0);
	for (unsigned i = 0; i < 600; i++) {
		uint64_t size = 0x20 + 0x10 * ((i * 37) % 190);

		if (i == 200)
			synth_inuse(&s, 0, 0x180000); /* 1.5 MiB */
		else if (i == 400)
			synth_inuse(&s, 0, 0x240000); /* 2.25 MiB */
		else if (i % 50 == 25)
			synth_fast_put(&s, 0, 0x30);
		else if (i % 10 == 5 && size <= 0x3f0)
			synth_bin_put(&s, 0, size,
				      (unsigned)synth_smallbin(size));
		else
			synth_inuse(&s, 0, size);
	}
	synth_top(&s, 0);
	/* two heaps: the first left with 1.4 MiB in the unsorted bin */
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 3u << 20);
	ttc = synth_tcache_struct(&s, ta);
	for (unsigned i = 0; i < 250; i++) {
		if (i == 100)
			synth_inuse(&s, ta, 0x140000); /* 1.25 MiB */
		else if (i == 120)
			synth_tcache_put(&s, ta, ttc, 0x100);
		else
			synth_inuse(&s, ta, 0x20 + 0x10 * ((i * 53) % 150));
	}
	synth_grow_heap(&s, ta, h2, 2u << 20);
	for (unsigned i = 0; i < 60; i++)
		synth_inuse(&s, ta, 0x20 + 0x10 * ((i * 29) % 100));
	synth_top(&s, ta); /* nearly 2 MiB of top: not read ahead */

	t.c.snap = snapshot_new();
	cr_assert_not_null(t.c.snap);
	mem = synth_memsrc(&s);
	t.base = t.most = count_threads();
	memset(&out, 0, sizeof(out));
	cr_assert_eq(glibc_heap_walk(&s.l, mem, &maps, s.tcaches, s.ntc, NULL,
				     0, count_chunk_and_threads, &t, &out),
		     0);
	cr_assert_eq(t.most, t.base + 1,
		     "%u threads during the walk, %u before: no helper",
		     t.most, t.base);
	cr_assert_eq(count_threads(), t.base, "the helper outlived the walk");
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.arena[1].heaps, 2);
	assert_walk_matches(&s, &t.c);
	assert_arena_sums(&s, &out);
	cr_log_info("%llu bytes read", (unsigned long long)out.bytes_read);
	cr_assert_eq(snapshot_finish(t.c.snap, &out), 0);
	synth_mallinfo(&s, &want);
	assert_mallinfo_eq(&t.c.snap->mi, &want);
	la_snapshot_free(t.c.snap);
	glibc_heap_walk_free(&out);
	memsrc_close(mem);
	synth_free(&s);
}

/* ----- safe-linking decided from the lists ------------------------------- */

static void
check_safe_linking_decided(int protect, const char *version, int want)
{
	struct synth s;
	struct std_heap h;
	struct counter c = { 0 };
	struct heap_walk out;

	build_std_links(&s, &h, protect);
	s.l.safe_linking = -1;
	snprintf(s.l.glibc_version, sizeof(s.l.glibc_version), "%s", version);

	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(s.l.safe_linking, want, "safe_linking %d, want %d",
		     s.l.safe_linking, want);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(c.n[CHUNK_TCACHE], 3);
	cr_assert_eq(c.n[CHUNK_FASTBIN], 3);
	cr_assert_eq(c.n[CHUNK_BIN], 3);
	cr_assert_eq(c.n[CHUNK_IN_USE], 6);
	assert_kind(&c, h.t20b, 0x20, CHUNK_TCACHE);
	assert_kind(&c, h.f20a, 0x20, CHUNK_FASTBIN);
	assert_walk_matches(&s, &c);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, detects_safe_linking_from_protected_lists, .timeout = 10)
{
	check_safe_linking_decided(1, "2.36", 1);
}

Test(glibc_heap, protected_lists_win_over_an_old_version, .timeout = 10)
{
	check_safe_linking_decided(1, "2.31", 1);
}

Test(glibc_heap, detects_raw_links_of_glibc_2_31, .timeout = 10)
{
	check_safe_linking_decided(0, "2.31", 0);
}

Test(glibc_heap, raw_lists_win_over_a_new_version, .timeout = 10)
{
	check_safe_linking_decided(0, "2.36", 0);
}

/* ----- corrupt and hostile heaps ----------------------------------------- */

/* Build the standard heap, let the test break it, walk, expect a refusal. */
#define HOSTILE_BEGIN()                                                      \
	struct synth s;                                                      \
	struct std_heap h;                                                   \
	struct counter c = { 0 };                                            \
	struct heap_walk out;                                                \
	build_std(&s, &h)

#define HOSTILE_END()                                                        \
	do {                                                                 \
		int err_ = walk(&s, &c, &out);                               \
		assert_rejected(err_, &out);                                 \
		glibc_heap_walk_free(&out);                                  \
		synth_free(&s);                                              \
	} while (0)

Test(glibc_heap, rejects_heap_buffer_truncated_before_top, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* the segment [sbrk_base, top end) runs past the readable bytes */
	synth_region_at(&s, SYNTH_SBRK_BASE)->len = h.used[3] - SYNTH_SBRK_BASE;
	HOSTILE_END();
}

Test(glibc_heap, rejects_heap_buffer_truncated_inside_top, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_region_at(&s, SYNTH_SBRK_BASE)->len = h.top + 0x100 -
						      SYNTH_SBRK_BASE;
	HOSTILE_END();
}

Test(glibc_heap, rejects_truncated_heap_of_used_chunks, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t last;
	int err;

	/* a program that never freed: no list would notice missing chunks */
	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	synth_inuse(&s, 0, 0x30);
	synth_inuse(&s, 0, 0x100);
	last = synth_inuse(&s, 0, 0x40);
	synth_top(&s, 0);
	synth_region_at(&s, SYNTH_SBRK_BASE)->len = last - SYNTH_SBRK_BASE;
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_truncated_thread_heap, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	int err;

	build_threaded(&s, &h);
	synth_region_at(&s, SYNTH_THREAD_HEAP)->len = h.used[2] -
						       SYNTH_THREAD_HEAP;
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_chunk_running_past_segment_end, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, h.used[2] + 8, (SYNTH_HEAP_LEN * 4) | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_huge_chunk_size, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* end - p must not wrap: p + size overflows 64 bits */
	synth_w64(&s, h.used[2] + 8, 0xfffffffffffffff0ull | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_size_not_multiple_of_16, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, h.used[1] + 8, 0x48 | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_size_of_8, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, h.used[1] + 8, 0x8 | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_mmapped_bit_inside_the_heap, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, h.used[1] + 8, 0x40 | IS_MMAPPED | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_zero_size_chunk_before_main_top, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t mid;
	int err;

	/*
	 * Size 0 ends an old heap of a thread arena (its last fencepost);
	 * the main heap has none, and no heap ends before its arena's top.
	 */
	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	synth_inuse(&s, 0, 0x30);
	mid = synth_inuse(&s, 0, 0x100);
	synth_inuse(&s, 0, 0x40);
	synth_top(&s, 0);
	synth_w64(&s, mid + 8, 0 | PREV_INUSE); /* a fencepost header */
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_fastbin_loop, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* fastbinsY[0] = f20b -> f20a -> f20b -> ... */
	synth_w64(&s, h.f20a + 16, synth_protect(&s, h.f20a + 16, h.f20b));
	HOSTILE_END();
	cr_assert_leq(c.n[CHUNK_FASTBIN], 3, "a loop counted chunks twice");
}

Test(glibc_heap, rejects_small_bin_loop_missing_the_head, .timeout = 10)
{
	uint64_t b;

	HOSTILE_BEGIN();
	/* bin 17: head -> small1 <-> small2, never back to the head */
	b = synth_bin_at(&s, 0, 17);
	synth_w64(&s, b + 24, h.small1);
	synth_w64(&s, h.small1 + 24, h.small2);
	synth_w64(&s, h.small2 + 24, h.small1);
	HOSTILE_END();
}

Test(glibc_heap, rejects_small_bin_self_loop, .timeout = 10)
{
	uint64_t b;

	HOSTILE_BEGIN();
	b = synth_bin_at(&s, 0, 17);
	synth_w64(&s, b + 24, h.small1);
	synth_w64(&s, h.small1 + 24, h.small1);
	HOSTILE_END();
}

Test(glibc_heap, rejects_tcache_chain_longer_than_count, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* bin 0 holds two entries; say one */
	synth_w16(&s, h.tc + 0 * 2, 1);
	HOSTILE_END();
}

Test(glibc_heap, rejects_tcache_chain_loop, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* entries[0] = t20b -> t20a -> t20b -> ..., count 7 (the limit) */
	synth_w64(&s, h.t20a + 16,
		  synth_protect(&s, h.t20a + 16, h.t20b + 16));
	synth_w16(&s, h.tc + 0 * 2, 7);
	HOSTILE_END();
}

Test(glibc_heap, rejects_tcache_count_over_mp_limit, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t tc;
	int err;

	/* eight real entries in one bin, mp_.tcache_count = 7 */
	synth_init(&s, SYNTH_HEAP_LEN);
	tc = synth_tcache_struct(&s, 0);
	for (int i = 0; i < 8; i++)
		synth_tcache_put(&s, 0, tc, 0x40);
	synth_inuse(&s, 0, 0x30);
	synth_top(&s, 0);
	cr_assert_eq(synth_r64(&s, SYNTH_MP + s.l.mp_tcache_count), 7);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_bin_entry_in_unreadable_memory, .timeout = 10)
{
	uint64_t b;

	HOSTILE_BEGIN();
	b = synth_bin_at(&s, 0, SYNTH_UNSORTED);
	synth_w64(&s, b + 16, 0x10000);
	synth_w64(&s, b + 24, 0x10000);
	HOSTILE_END();
}

Test(glibc_heap, rejects_fastbin_entry_in_unreadable_memory, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_fastbins + 3 * 8,
		  0xdead0000ull);
	HOSTILE_END();
}

Test(glibc_heap, rejects_tcache_entry_in_unreadable_memory, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, h.tc + s.l.tc_entries + 7 * 8, 0xdead0010ull);
	HOSTILE_END();
}

Test(glibc_heap, rejects_misaligned_arena_next, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, 0x4141414141414141ull);
	HOSTILE_END();
}

Test(glibc_heap, rejects_arena_next_to_unreadable_memory, .timeout = 10)
{
	HOSTILE_BEGIN();
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, 0xdeadbeef000ull);
	HOSTILE_END();
}

Test(glibc_heap, rejects_arena_next_to_user_data, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* readable, but an in-use chunk's bytes, not a malloc_state */
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, h.used[5] + 16);
	HOSTILE_END();
}

/* n empty arenas at base, stride apart, linked first to last. */
static unsigned char *
empty_arenas(struct synth *s, uint64_t base, uint64_t stride, unsigned n)
{
	const struct malloc_layout *l = &s->l;
	unsigned char *buf = synth_add_region(s, base, stride * n)->buf;

	for (unsigned k = 0; k < n; k++) {
		unsigned char *a = buf + (size_t)k * stride;
		uint64_t addr = base + k * stride, next = addr + stride;
		uint64_t one = 1;

		for (unsigned i = 1; i < NBINS; i++) {
			uint64_t b = addr + l->ms_bins + (i - 1) * 16 - 16;

			memcpy(a + l->ms_bins + (i - 1) * 16, &b, 8);
			memcpy(a + l->ms_bins + (i - 1) * 16 + 8, &b, 8);
		}
		memcpy(a + l->ms_next, &next, 8);
		memcpy(a + l->ms_attached_threads, &one, 8);
	}
	return buf;
}

Test(glibc_heap, bounds_a_ring_of_5000_arenas, .timeout = 10)
{
	const uint64_t base = 0x7ff000000000ull, stride = 0x8a0;
	const unsigned n = 5000;
	unsigned char *buf;
	uint64_t main_addr = SYNTH_MAIN_ARENA;

	HOSTILE_BEGIN();
	buf = empty_arenas(&s, base, stride, n);
	/* main -> 5000 distinct arenas -> main */
	memcpy(buf + (size_t)(n - 1) * stride + s.l.ms_next, &main_addr, 8);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, base);
	HOSTILE_END();
	cr_assert_lt(c.visits, 1000);
}

Test(glibc_heap, bounds_arena_cycle_not_through_main, .timeout = 10)
{
	const uint64_t base = 0x7ff000000000ull, stride = 0x8a0;
	unsigned char *buf;
	uint64_t first = base;

	HOSTILE_BEGIN();
	/* main -> A -> B -> A -> ... */
	buf = empty_arenas(&s, base, stride, 2);
	memcpy(buf + stride + s.l.ms_next, &first, 8);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, base);
	HOSTILE_END();
}

/* Every chunk the builder laid out, and each top, visited at most once. */
static void
assert_each_chunk_once(const struct synth *s, const struct counter *c)
{
	cr_assert_leq(c->visits, (uint64_t)s->nc + s->na,
		      "%llu visits for %u chunks and %u tops: a heap was walked more than once",
		      (unsigned long long)c->visits, s->nc, s->na);
}

Test(glibc_heap, walks_each_arena_of_a_cycle_once, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t ar;
	int err;

	/*
	 * The thread arena's next points to itself: a cycle not through
	 * main_arena. Walking its heap again on every lap until the arena
	 * limit costs 4095 times the heap (256 GiB for a full 64 MiB heap)
	 * and reports each chunk thousands of times.
	 */
	build_threaded(&s, &h);
	ar = s.a[h.ta].addr;
	synth_w64(&s, ar + s.l.ms_next, ar);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	assert_each_chunk_once(&s, &c);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, bounds_heap_chain_that_loops, .timeout = 10)
{
	const uint64_t h2 = SYNTH_THREAD_HEAP + HEAP_MAX_DEFAULT;
	const uint64_t h3 = SYNTH_THREAD_HEAP + 2 * HEAP_MAX_DEFAULT;
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	unsigned ta;
	int err;

	/*
	 * Three heaps of one arena; the middle one's prev points to the
	 * newest: h3 -> h2 -> h3 -> ..., never reaching the first heap.
	 * Real older heaps are 64 MiB each, so every extra lap is costly.
	 */
	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	synth_top(&s, 0);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x4000);
	synth_inuse(&s, ta, 0x100);
	synth_grow_heap(&s, ta, h2, 0x4000);
	synth_inuse(&s, ta, 0x200);
	synth_inuse(&s, ta, 0x300);
	synth_grow_heap(&s, ta, h3, 0x4000);
	synth_inuse(&s, ta, 0x100);
	synth_top(&s, ta);
	synth_w64(&s, h2 + s.l.hi_prev, h3);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	assert_each_chunk_once(&s, &c);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_main_top_short_of_the_heap_end, .timeout = 10)
{
	HOSTILE_BEGIN();
	/* top + its size ends 4 KiB before sbrk_base + system_mem */
	synth_w64(&s, h.top + 8, (STD_TOP_BYTES - 0x1000) | PREV_INUSE);
	HOSTILE_END();
}

Test(glibc_heap, rejects_thread_top_short_of_the_heap_end, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t size;
	int err;

	build_threaded(&s, &h);
	size = SYNTH_THREAD_HEAP + SYNTH_HEAP_LEN - h.top;
	synth_w64(&s, h.top + 8, (size - 0x1000) | PREV_INUSE);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, rejects_thread_top_past_the_heap_end, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t size;
	int err;

	build_threaded(&s, &h);
	size = SYNTH_THREAD_HEAP + SYNTH_HEAP_LEN - h.top;
	synth_w64(&s, h.top + 8, (size + 0x1000) | PREV_INUSE);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, fails_cleanly_when_main_arena_is_unreadable, .timeout = 10)
{
	HOSTILE_BEGIN();
	s.l.main_arena_addr = 0x1000;
	{
		int err = walk(&s, &c, &out);

		cr_assert_lt(err, 0, "walk of an unreadable main_arena: %d",
			     err);
	}
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, fails_cleanly_when_mp_is_unreadable, .timeout = 10)
{
	HOSTILE_BEGIN();
	s.l.mp_addr = 0x1000;
	{
		int err = walk(&s, &c, &out);

		cr_assert_lt(err, 0, "walk of an unreadable mp_: %d", err);
	}
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

Test(glibc_heap, refuses_tcache_struct_larger_than_it_reads, .timeout = 10)
{
	HOSTILE_BEGIN();
	/*
	 * A DWARF layout of glibc 2.42 (76 bins): entries at 152, 760 bytes,
	 * more than the 2.30-2.41 struct (640). Safe-linking left to the
	 * lists, as malloc_layout_from_dwarf() does. The walk must not read
	 * past its own buffers, and must not count tcache chunks as in use
	 * without saying so.
	 */
	s.l.tc_entries = 152;
	s.l.tc_sizeof = 760;
	s.l.safe_linking = -1;
	{
		int err = walk(&s, &c, &out);

		if (err == 0 && out.consistent)
			cr_assert_eq(c.n[CHUNK_TCACHE], 3,
				     "tcache chunks silently counted in use");
		else
			assert_rejected(err, &out);
	}
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/* ----- found by the fuzzer (tests/fuzz/fuzz_heapwalk.c) ------------------ */
/*
 * Each test is one finding of `make fuzz`, shrunk to the writes it needs.
 * They fail until glibc_heap.c is fixed: every heap below is one glibc
 * cannot produce, yet the walk called it consistent.
 */

/* A main heap in use: tcache struct, one chunk, top; system_mem set. */
static void
build_small_main(struct synth *s)
{
	synth_init(s, SYNTH_HEAP_LEN);
	synth_tcache_struct(s, 0);
	synth_inuse(s, 0, 0x30);
	synth_top(s, 0);
}

/*
 * Invariant unwalked_system_mem. walk_main_arena() takes main_arena for
 * unused when its top is 0 or initial_top, or mp_.sbrk_base is 0, without
 * looking at system_mem: 0 bytes walked of the 0x21000 mallinfo counts as
 * in use. glibc sets top, sbrk_base and system_mem together in sysmalloc().
 */
Test(glibc_heap, fuzz_rejects_main_arena_unused_but_with_system_mem,
     .timeout = 10)
{
	for (int which = 0; which < 3; which++) {
		struct synth s;
		struct counter c = { 0 };
		struct heap_walk out;
		int err;

		build_small_main(&s);
		if (which == 0)
			synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_top, 0);
		else if (which == 1) /* initial_top: bin_at(av, 1) */
			synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_top,
				  synth_bin_at(&s, 0, 1));
		else
			synth_w64(&s, SYNTH_MP + s.l.mp_sbrk_base, 0);
		err = walk(&s, &c, &out);
		cr_log_info("case %d", which);
		assert_rejected(err, &out);
		glibc_heap_walk_free(&out);
		synth_free(&s);
	}
}

/*
 * Invariant unwalked_system_mem, in a thread arena: top == 0 makes
 * walk_thread_arena() walk no heap at all (h = 0), and check_arena() only
 * compares walked bytes with system_mem when a heap was walked.
 */
Test(glibc_heap, fuzz_rejects_thread_arena_without_top, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	unsigned ta;
	int err;

	build_small_main(&s);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x1000);
	synth_tcache_struct(&s, ta);
	synth_inuse(&s, ta, 0x40);
	synth_top(&s, ta);
	synth_w64(&s, s.a[ta].addr + s.l.ms_top, 0);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariant one_top. heap_info.size (0x100) smaller than heap_info plus
 * malloc_state (0x8d0): walk_thread_arena() emits the 0x8d0 header, which
 * runs past the heap's end, then walk_segment() gets start > end and walks
 * nothing, without a word. With system_mem = 0x8d0 the walk is consistent
 * with no top chunk and no chunk at all.
 */
Test(glibc_heap, fuzz_rejects_thread_heap_smaller_than_its_header,
     .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	unsigned ta;
	int err;

	build_small_main(&s);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x1000);
	synth_tcache_struct(&s, ta);
	synth_inuse(&s, ta, 0x40);
	synth_top(&s, ta);
	synth_w64(&s, SYNTH_THREAD_HEAP + s.l.hi_size, 0x100);
	synth_w64(&s, s.a[ta].addr + s.l.ms_system_mem, 0x8d0);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	if (err == 0 && out.consistent)
		cr_assert_eq(c.n[CHUNK_TOP], out.n_arena,
			     "consistent without a top chunk");
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariants one_top and meta_shape, main arena. A top chunk of size 0
 * makes the segment end at top (end = top + 0), so top is not in
 * [start, end) and walk_segment() takes a zero-size header before it for
 * the last fencepost of an old heap: the 0x30 chunk in use is reported as
 * metadata, no top chunk at all, and with system_mem = top - sbrk_base
 * every check passes.
 */
Test(glibc_heap, fuzz_rejects_main_top_of_size_zero, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t used, top;
	int err;

	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	used = synth_inuse(&s, 0, 0x30);
	top = synth_top(&s, 0);
	synth_w64(&s, used + 8, 0 | PREV_INUSE);
	synth_w64(&s, top + 8, 0 | PREV_INUSE);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_system_mem,
		  top - SYNTH_SBRK_BASE);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariant meta_shape, thread arena. In a heap that is not the newest,
 * walk_segment() takes any zero-size header for the heap's last fencepost
 * and reports everything from it to the heap's end as one metadata chunk,
 * so walked bytes still equal system_mem. glibc writes size 0 only in the
 * last 16 bytes of an old heap (sysmalloc: the 0x10 then the 0x0
 * fencepost). Here an in-use chunk's size is 0: it, the old top's
 * remainder (taken out of the unsorted bin) and the 0x10 fencepost become
 * 0x3630 bytes of "metadata" in a consistent walk.
 */
Test(glibc_heap, fuzz_rejects_zero_size_chunk_inside_an_old_heap,
     .timeout = 10)
{
	const uint64_t h2 = SYNTH_THREAD_HEAP + HEAP_MAX_DEFAULT;
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	unsigned ta;
	uint64_t used, b;
	int err;

	build_small_main(&s);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x4000);
	synth_inuse(&s, ta, 0x100);
	used = synth_inuse(&s, ta, 0x200);
	synth_grow_heap(&s, ta, h2, 0x3000);
	synth_inuse(&s, ta, 0x100);
	synth_top(&s, ta);
	synth_w64(&s, used + 8, 0 | PREV_INUSE);
	b = synth_bin_at(&s, ta, SYNTH_UNSORTED);
	synth_w64(&s, b + 16, b);
	synth_w64(&s, b + 24, b);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	if (err == 0) {
		const struct seen *v = find_seen(&c, used);

		cr_assert(!v || v->kind != CHUNK_META || v->size == 16,
			  "chunk %#llx reported as %#llx bytes of metadata",
			  (unsigned long long)used,
			  v ? (unsigned long long)v->size : 0ull);
	}
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariant no_overlap. mp_.sbrk_base and main_arena.top moved into a
 * thread arena's heap, system_mem to match: walk_main_arena() walks the
 * thread heap's chunks as the main heap's, walk_thread_arena() walks them
 * again, and nothing compares the main heap's range with the thread heaps
 * (W->heaps): every chunk there is counted in two arenas, consistently.
 */
Test(glibc_heap, fuzz_rejects_main_heap_inside_a_thread_heap, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	unsigned ta;
	uint64_t first;
	int err;

	build_small_main(&s);
	ta = synth_thread_arena(&s, SYNTH_THREAD_HEAP, 0x1000);
	first = synth_tcache_struct(&s, ta) - 16;
	synth_inuse(&s, ta, 0x40);
	synth_top(&s, ta);
	synth_w64(&s, SYNTH_MP + s.l.mp_sbrk_base, first);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_top, s.a[ta].top);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_system_mem,
		  SYNTH_THREAD_HEAP + 0x1000 - first);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	if (err == 0)
		for (unsigned i = 0; i < c.nv; i++)
			for (unsigned j = i + 1; j < c.nv; j++)
				cr_assert_neq(c.v[i].addr, c.v[j].addr,
					      "chunk %#llx walked twice",
					      (unsigned long long)c.v[i].addr);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariant mallinfo_bins (fuzzer, against ed10f6e). The bins are checked
 * by summing link_hash(p->bk, p) and link_hash(p, p->fd) over the free
 * chunks and the bin headers (glibc_heap.c check_arena()): a closed cycle
 * of free chunks that no bin header reaches adds the same to both sums.
 * Here an in-use chunk is made free (the next header's PREV_INUSE clear,
 * prev_size set) and linked to itself, fd = bk = itself: the walk counts
 * it as a bin chunk and calls the heap consistent, while int_mallinfo(),
 * which follows the bins from their headers, never sees it (ordblks and
 * fordblks off by one chunk). A 2-cycle A <-> B is the same.
 */
Test(glibc_heap, fuzz_rejects_free_chunk_in_no_bin, .timeout = 10)
{
	struct synth s;
	struct thread_heap h;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t p;
	int err;

	build_threaded(&s, &h);
	p = h.used[1]; /* 0x80 bytes, followed by h.fast */
	synth_w64(&s, h.fast, 0x80);
	synth_w64(&s, h.fast + 8,
		  synth_r64(&s, h.fast + 8) & ~(uint64_t)PREV_INUSE);
	synth_w64(&s, p + 16, p);
	synth_w64(&s, p + 24, p);
	err = walk(&s, &c, &out);
	/* An approximate snapshot promises no count: rejected is enough. */
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Invariant mallinfo_bins (fuzzer, against d94fa35), an arena without a
 * heap. check_arena() compares the bins with the heap only when a heap
 * was walked (the link sums and follow_bins() both test aw->heaps), so
 * main_arena with top 0 and system_mem 0 is consistent whatever its bins
 * hold. Here the unsorted bin holds a 0x30 chunk: int_mallinfo() would
 * count it (ordblks 2, fordblks 0x30), the snapshot says 1 and 0. Before
 * ptmalloc_init() the bins are static zeros, and they alone may pass.
 */
Test(glibc_heap, fuzz_rejects_unused_arena_with_a_bin_in_use, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	uint64_t b, p;
	int err;

	synth_init(&s, SYNTH_HEAP_LEN);
	synth_tcache_struct(&s, 0);
	p = synth_inuse(&s, 0, 0x30);
	synth_top(&s, 0);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_top, 0);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_system_mem, 0);
	b = synth_bin_at(&s, 0, SYNTH_UNSORTED);
	synth_w64(&s, b + 16, p);
	synth_w64(&s, b + 24, p);
	synth_w64(&s, p + 16, b);
	synth_w64(&s, p + 24, b);
	err = walk(&s, &c, &out);
	assert_rejected(err, &out);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/* The other side: main_arena as the static initializer leaves it. */
Test(glibc_heap, accepts_main_arena_before_malloc_init, .timeout = 10)
{
	struct synth s;
	struct counter c = { 0 };
	struct heap_walk out;
	struct synth_region *r;

	synth_init(&s, SYNTH_HEAP_LEN);
	/* main_arena = { .mutex, .next = &main_arena, .attached_threads = 1 } */
	r = synth_region_at(&s, SYNTH_MAIN_ARENA);
	memset(r->buf, 0, r->len);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_next, SYNTH_MAIN_ARENA);
	synth_w64(&s, SYNTH_MAIN_ARENA + s.l.ms_attached_threads, 1);
	synth_w64(&s, SYNTH_MP + s.l.mp_sbrk_base, 0);
	cr_assert_eq(walk(&s, &c, &out), 0);
	cr_assert_eq(out.consistent, 1, "inconsistent: %s", out.why);
	cr_assert_eq(out.n_arena, 1);
	cr_assert_eq(c.visits, 0);
	glibc_heap_walk_free(&out);
	synth_free(&s);
}

/*
 * Bin headers linked to each other (bins 30 <-> 31, fd and bk both ways)
 * add the same to both link sums; int_mallinfo() would count each header
 * as a chunk. Caught by follow_bins() (d94fa35) on heaps this small; a
 * guard for the link sums alone.
 */
Test(glibc_heap, fuzz_rejects_bin_headers_linked_to_each_other,
     .timeout = 10)
{
	uint64_t a, b;

	HOSTILE_BEGIN();
	a = synth_bin_at(&s, 0, 30);
	b = synth_bin_at(&s, 0, 31);
	synth_w64(&s, a + 16, b);
	synth_w64(&s, a + 24, b);
	synth_w64(&s, b + 16, a);
	synth_w64(&s, b + 24, a);
	HOSTILE_END();
}
