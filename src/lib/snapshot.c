/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot.c - build a snapshot from visited chunks, and the public
 * accessors. mallinfo2's fields follow malloc.c int_mallinfo() and
 * __libc_mallinfo2() (doc/design/glibc-heap.md, "mallinfo2 as the
 * oracle"):
 *   arena    = sum of system_mem        ordblks = bin chunks + one top per arena
 *   smblks   = fastbin chunks           fsmblks = fastbin bytes
 *   hblks    = mmapped chunks           hblkhd  = their mapping lengths
 *   fordblks = top + fastbin + bin bytes (tcache counts as in use)
 *   uordblks = arena - fordblks         keepcost = main arena's top size
 * Watched locations keep a bounded, uniform sample of their in-use chunks
 * (reservoir sampling); what the chunks hold is types.c's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/abi.h"
#include "snapshot.h"

unsigned
size_class_index(uint64_t cs)
{
	unsigned p;

	if (cs <= 1024)
		return (unsigned)(cs / 16);
	p = 63u - (unsigned)__builtin_clzll(cs);
	return 65u + (p - 10u) * 4u + (unsigned)((cs - (1ull << p)) >> (p - 2));
}

void
size_class_bounds(unsigned idx, uint64_t *min, uint64_t *max)
{
	unsigned p, q;

	if (idx <= 64) {
		*min = *max = (uint64_t)idx * 16;
		return;
	}
	p = 10 + (idx - 65) / 4;
	q = (idx - 65) % 4;
	*min = (1ull << p) + ((uint64_t)q << (p - 2));
	*max = *min + (1ull << (p - 2)) - 16;
	if (idx == 65)
		*min += 16; /* 1024 itself is an exact class */
}

struct la_snapshot *
snapshot_new(void)
{
	return calloc(1, sizeof(struct la_snapshot));
}

/* The seed of every walk: the same heap gives the same sample. */
#define SAMPLE_SEED 0x9e3779b97f4a7c15ull

int
snapshot_watch(struct la_snapshot *snap, const struct la_location *loc,
	       unsigned n, unsigned sample_max)
{
	snap->watch = calloc(n ? n : 1, sizeof(*snap->watch));
	if (!snap->watch)
		return -ENOMEM;
	snap->n_watch = n;
	snap->sample_max = sample_max;
	for (unsigned i = 0; i < n; i++) {
		struct snap_watch *w = &snap->watch[i];

		w->loc = loc[i];
		w->addrs = calloc(sample_max, sizeof(*w->addrs));
		w->sizes = calloc(sample_max, sizeof(*w->sizes));
		if (!w->addrs || !w->sizes)
			return -ENOMEM;
	}
	snap->rng = SAMPLE_SEED;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int
snapshot_probe(struct la_snapshot *snap, const uint64_t *addrs, unsigned n)
{
	unsigned k = 0;

	snap->probe_addrs = malloc((n ? n : 1) * sizeof(uint64_t));
	snap->probe_sizes = calloc(n ? n : 1, sizeof(uint64_t));
	if (!snap->probe_addrs || !snap->probe_sizes)
		return -ENOMEM;
	memcpy(snap->probe_addrs, addrs, n * sizeof(uint64_t));
	qsort(snap->probe_addrs, n, sizeof(uint64_t), cmp_u64);
	for (unsigned i = 0; i < n; i++)
		if (!k || snap->probe_addrs[i] != snap->probe_addrs[k - 1])
			snap->probe_addrs[k++] = snap->probe_addrs[i];
	snap->n_probes = k;
	return 0;
}

/* The index of addr among the probes, or -1. */
static long
probe_index(const struct la_snapshot *snap, uint64_t addr)
{
	unsigned lo = 0, hi = snap->n_probes;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (snap->probe_addrs[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < snap->n_probes && snap->probe_addrs[lo] == addr ? (long)lo
								    : -1;
}

void
snapshot_reset(struct la_snapshot *snap)
{
	if (snap->probe_sizes)
		memset(snap->probe_sizes, 0,
		       snap->n_probes * sizeof(*snap->probe_sizes));
	for (unsigned i = 0; i < snap->n_watch; i++) {
		snap->watch[i].population = 0;
		snap->watch[i].n = 0;
	}
	snap->rng = SAMPLE_SEED;
	memset(snap->classes, 0, sizeof(snap->classes));
	if (snap->arena_classes)
		memset(snap->arena_classes, 0,
		       snap->n_arena_classes * sizeof(*snap->arena_classes));
	free(snap->arenas);
	snap->arenas = NULL;
	snap->n_arenas = 0;
	memset(&snap->totals, 0, sizeof(snap->totals));
	memset(&snap->mi, 0, sizeof(snap->mi));
	snap->oom = 0;
	python_heap_reset(&snap->py);
}

static void
count(struct la_counts *c, uint64_t size, enum chunk_kind kind)
{
	switch (kind) {
	case CHUNK_MMAPPED:
		c->mmapped_chunks++;
		c->mmapped_bytes += size;
		__attribute__((fallthrough));
	case CHUNK_IN_USE:
		c->in_use_chunks++;
		c->in_use_bytes += size;
		break;
	case CHUNK_TCACHE:
		c->tcache_chunks++;
		c->tcache_bytes += size;
		break;
	case CHUNK_FASTBIN:
		c->fastbin_chunks++;
		c->fastbin_bytes += size;
		break;
	case CHUNK_BIN:
		c->bin_chunks++;
		c->bin_bytes += size;
		break;
	case CHUNK_TOP:
		c->top_bytes += size;
		break;
	case CHUNK_META:
		c->meta_chunks++;
		c->meta_bytes += size;
		break;
	}
}

static struct la_counts *
arena_class(struct la_snapshot *snap, unsigned arena, unsigned idx)
{
	if (arena >= snap->n_arena_classes) {
		/*
		 * One arena at a time (29 KiB each; the walk meets them in
		 * order): rounding up kept room for 7 arenas that never came.
		 * Above the mmap threshold, realloc() is an mremap().
		 */
		unsigned n = arena + 1;
		void *nc = realloc(snap->arena_classes,
				   n * sizeof(*snap->arena_classes));

		if (!nc) {
			snap->oom = 1;
			return NULL;
		}
		snap->arena_classes = nc;
		memset(&snap->arena_classes[snap->n_arena_classes], 0,
		       (n - snap->n_arena_classes) *
			       sizeof(*snap->arena_classes));
		snap->n_arena_classes = n;
	}
	return &snap->arena_classes[arena][idx];
}

/* xorshift64*: cheap, and good enough to draw a sample */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Does in-use chunk (arena index ai, size) lie in location loc? */
static int
watched(const struct la_snapshot *snap, const struct la_location *loc,
	unsigned ai, uint64_t size)
{
	const struct arena_walk *aw;

	if (loc->kind == LA_LOC_OUTSIDE) /* no chunks: nothing to sample */
		return 0;
	if ((loc->kind == LA_LOC_SIZE_CLASS ||
	     loc->kind == LA_LOC_ARENA_SIZE_CLASS) &&
	    (size < loc->chunk_size_min || size > loc->chunk_size_max))
		return 0;
	if (loc->kind == LA_LOC_HEAP || loc->kind == LA_LOC_SIZE_CLASS)
		return 1;
	/* the arena kinds: mmapped chunks belong to no arena */
	if (ai == ARENA_NONE || !snap->walk || ai >= snap->walk->n_arena)
		return 0;
	aw = &snap->walk->arena[ai];
	return loc->arena_is_main ? aw->is_main
				  : !aw->is_main && aw->addr == loc->arena_addr;
}

/*
 * Algorithm R (Vitter 1985): the k-th chunk seen replaces a random slot
 * with probability sample_max / k, so every chunk ends up in the sample
 * with the same probability, in one pass and bounded memory.
 */
static void
sample(struct la_snapshot *snap, unsigned ai, uint64_t addr, uint64_t size)
{
	for (unsigned i = 0; i < snap->n_watch; i++) {
		struct snap_watch *w = &snap->watch[i];
		uint64_t j;

		if (!watched(snap, &w->loc, ai, size))
			continue;
		w->population++;
		if (w->n < snap->sample_max) {
			j = w->n++;
		} else {
			j = rng_next(&snap->rng) % w->population;
			if (j >= snap->sample_max)
				continue;
		}
		w->addrs[j] = addr;
		w->sizes[j] = size;
	}
}

void
snapshot_visit(void *arg, unsigned arena, uint64_t addr, uint64_t size,
	       enum chunk_kind kind)
{
	struct la_snapshot *snap = arg;
	unsigned idx;
	struct la_counts *ac;

	count(&snap->totals.counts, size, kind);
	/* Top chunks and metadata are not allocations: no size class. */
	if (kind == CHUNK_TOP || kind == CHUNK_META)
		return;
	if (snap->n_watch && (kind == CHUNK_IN_USE || kind == CHUNK_MMAPPED))
		sample(snap, arena, addr, size);
	if (snap->py.pt && (kind == CHUNK_IN_USE || kind == CHUNK_MMAPPED))
		python_heap_chunk(&snap->py, addr, size);
	if (snap->n_probes && (kind == CHUNK_IN_USE || kind == CHUNK_MMAPPED)) {
		long j = probe_index(snap, addr);

		if (j >= 0)
			snap->probe_sizes[j] = size;
	}
	idx = size_class_index(size);
	if (idx >= SIZE_CLASSES)
		idx = SIZE_CLASSES - 1;
	count(&snap->classes[idx], size, kind);
	if (arena != ARENA_NONE && (ac = arena_class(snap, arena, idx)))
		count(ac, size, kind);
}

struct chunk_ref {
	uint64_t addr, size;
};

static int
by_addr(const void *a, const void *b)
{
	const struct chunk_ref *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Sort a sample by address, its sizes along. */
static int
sort_sample(struct snap_watch *w)
{
	struct chunk_ref *r;

	if (w->n < 2)
		return 0;
	r = malloc(w->n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < w->n; i++)
		r[i] = (struct chunk_ref){w->addrs[i], w->sizes[i]};
	qsort(r, w->n, sizeof(*r), by_addr);
	for (unsigned i = 0; i < w->n; i++) {
		w->addrs[i] = r[i].addr;
		w->sizes[i] = r[i].size;
	}
	free(r);
	return 0;
}

int
snapshot_finish(struct la_snapshot *snap, const struct heap_walk *w)
{
	struct la_mallinfo *mi = &snap->mi;
	struct la_counts *tc = &snap->totals.counts;

	snap->walk = NULL;
	for (unsigned i = 0; i < snap->n_watch; i++)
		if (sort_sample(&snap->watch[i]))
			return -ENOMEM;

	snap->arenas =
		calloc(w->n_arena ? w->n_arena : 1, sizeof(*snap->arenas));
	if (!snap->arenas || snap->oom)
		return -ENOMEM;
	snap->n_arenas = w->n_arena;
	for (unsigned i = 0; i < w->n_arena; i++) {
		const struct arena_walk *aw = &w->arena[i];
		struct la_arena_stats *as = &snap->arenas[i];

		as->addr = aw->addr;
		as->is_main = aw->is_main;
		as->consistent = aw->consistent;
		as->heaps = aw->heaps;
		as->threads = aw->threads;
		as->system_mem = aw->system_mem;
		if (i < snap->n_arena_classes)
			for (unsigned c = 0; c < SIZE_CLASSES; c++) {
				const struct la_counts *k =
					&snap->arena_classes[i][c];

				as->counts.in_use_chunks += k->in_use_chunks;
				as->counts.in_use_bytes += k->in_use_bytes;
				as->counts.tcache_chunks += k->tcache_chunks;
				as->counts.tcache_bytes += k->tcache_bytes;
				as->counts.fastbin_chunks += k->fastbin_chunks;
				as->counts.fastbin_bytes += k->fastbin_bytes;
				as->counts.bin_chunks += k->bin_chunks;
				as->counts.bin_bytes += k->bin_bytes;
			}
		as->counts.top_bytes = aw->top_size;
		as->counts.meta_bytes =
			aw->walked_bytes - aw->top_size -
			as->counts.in_use_bytes - as->counts.tcache_bytes -
			as->counts.fastbin_bytes - as->counts.bin_bytes;

		mi->arena += aw->system_mem;
		mi->ordblks += 1 + aw->bin_chunks;
		mi->smblks += aw->fast_chunks;
		mi->fsmblks += aw->fast_bytes;
		mi->fordblks += aw->top_size + aw->fast_bytes + aw->bin_bytes;
		if (aw->is_main)
			mi->keepcost = aw->top_size;
		snap->totals.heaps += aw->heaps;
	}
	mi->hblks = w->mmapped_chunks;
	mi->hblkhd = w->mmapped_bytes;
	mi->usmblks = 0;
	mi->uordblks = mi->arena - mi->fordblks;
	snap->totals.arenas = w->n_arena;
	snap->totals.free_bytes = tc->tcache_bytes + tc->fastbin_bytes +
				  tc->bin_bytes + tc->top_bytes;
	snap->totals.system_bytes = mi->arena + mi->hblkhd;
	return 0;
}

/* Public accessors. */

void
la_snapshot_free(struct la_snapshot *snap)
{
	if (!snap)
		return;
	for (unsigned i = 0; snap->watch && i < snap->n_watch; i++) {
		free(snap->watch[i].addrs);
		free(snap->watch[i].sizes);
	}
	free(snap->watch);
	free(snap->probe_addrs);
	free(snap->probe_sizes);
	free(snap->arenas);
	free(snap->arena_classes);
	free(snap->stack_ptrs);
	python_heap_reset(&snap->py);
	free(snap);
}

void
la_snapshot_mallinfo(const struct la_snapshot *snap, struct la_mallinfo *out,
		     size_t out_sz)
{
	out_give(out, out_sz, &snap->mi, sizeof(snap->mi));
}

void
la_snapshot_totals(const struct la_snapshot *snap, struct la_totals *out,
		   size_t out_sz)
{
	out_give(out, out_sz, &snap->totals, sizeof(snap->totals));
}

void
la_snapshot_info(const struct la_snapshot *snap, struct la_snapshot_info *out,
		 size_t out_sz)
{
	out_give(out, out_sz, &snap->info, sizeof(snap->info));
}

void
la_snapshot_layout(const struct la_snapshot *snap, struct la_layout_info *out,
		   size_t out_sz)
{
	out_give(out, out_sz, &snap->layout, sizeof(snap->layout));
}

void
la_snapshot_memory(const struct la_snapshot *snap, struct la_memory *out,
		   size_t out_sz)
{
	out_give(out, out_sz, &snap->memory, sizeof(snap->memory));
}

void
la_snapshot_headroom(const struct la_snapshot *snap, struct la_headroom *out,
		     size_t out_sz)
{
	out_give(out, out_sz, &snap->headroom, sizeof(snap->headroom));
}

int
la_snapshot_outside(const struct la_snapshot *snap, enum la_outside_kind kind,
		    struct la_outside *out, size_t out_sz)
{
	static const struct la_outside none;

	if ((unsigned)kind >= LA_OUTSIDE_KIND_COUNT)
		return -ENOENT;
	if (!snap->memory.measured) {
		out_give(out, out_sz, &none, sizeof(none));
		return -ENODATA;
	}
	out_give(out, out_sz, &snap->outside[kind], sizeof(snap->outside[0]));
	return 0;
}

unsigned
la_snapshot_arena_count(const struct la_snapshot *snap)
{
	return snap->n_arenas;
}

int
la_snapshot_arena(const struct la_snapshot *snap, unsigned i,
		  struct la_arena_stats *out, size_t out_sz)
{
	return list_give(snap->arenas, snap->n_arenas, sizeof(*snap->arenas), i,
			 out, out_sz);
}

static int
nonempty(const struct la_counts *c)
{
	return c->in_use_chunks || c->tcache_chunks || c->fastbin_chunks ||
	       c->bin_chunks;
}

/* The i-th non-empty class of table t, or -ENOENT. */
static int
nth_class(const struct la_counts *t, unsigned i, struct la_size_class *out,
	  size_t out_sz)
{
	struct la_size_class sc;

	for (unsigned c = 0; c < SIZE_CLASSES; c++) {
		if (!nonempty(&t[c]))
			continue;
		if (i-- == 0) {
			size_class_bounds(c, &sc.chunk_size_min,
					  &sc.chunk_size_max);
			sc.counts = t[c];
			out_give(out, out_sz, &sc, sizeof(sc));
			return 0;
		}
	}
	return -ENOENT;
}

static unsigned
count_classes(const struct la_counts *t)
{
	unsigned n = 0;

	for (unsigned c = 0; c < SIZE_CLASSES; c++)
		n += nonempty(&t[c]);
	return n;
}

unsigned
la_snapshot_size_class_count(const struct la_snapshot *snap)
{
	return count_classes(snap->classes);
}

int
la_snapshot_size_class(const struct la_snapshot *snap, unsigned i,
		       struct la_size_class *out, size_t out_sz)
{
	return nth_class(snap->classes, i, out, out_sz);
}

unsigned
la_snapshot_arena_size_class_count(const struct la_snapshot *snap,
				   unsigned arena)
{
	if (arena >= snap->n_arenas || arena >= snap->n_arena_classes)
		return 0;
	return count_classes(snap->arena_classes[arena]);
}

int
la_snapshot_arena_size_class(const struct la_snapshot *snap, unsigned arena,
			     unsigned i, struct la_size_class *out,
			     size_t out_sz)
{
	if (arena >= snap->n_arenas || arena >= snap->n_arena_classes)
		return -ENOENT;
	return nth_class(snap->arena_classes[arena], i, out, out_sz);
}

/* In-use bytes of the classes of table t within [min, max]. */
static uint64_t
classes_in_use(const struct la_counts *t, uint64_t min, uint64_t max)
{
	uint64_t sum = 0, lo, hi;

	for (unsigned c = 0; c < SIZE_CLASSES; c++) {
		size_class_bounds(c, &lo, &hi);
		if (lo >= min && hi <= max)
			sum += t[c].in_use_bytes;
	}
	return sum;
}

uint64_t
la_snapshot_in_use(const struct la_snapshot *snap,
		   const struct la_location *loc)
{
	uint64_t sum = 0;

	if (loc->kind == LA_LOC_HEAP)
		return snap->totals.counts.in_use_bytes;
	if (loc->kind == LA_LOC_OUTSIDE)
		return loc->outside_kind < LA_OUTSIDE_KIND_COUNT
			       ? snap->outside[loc->outside_kind].rss_bytes
			       : 0;
	if (loc->kind == LA_LOC_SIZE_CLASS)
		return classes_in_use(snap->classes, loc->chunk_size_min,
				      loc->chunk_size_max);
	for (unsigned a = 0; a < snap->n_arenas; a++) {
		const struct la_arena_stats *as = &snap->arenas[a];

		if (as->is_main != loc->arena_is_main ||
		    (!as->is_main && as->addr != loc->arena_addr))
			continue;
		if (loc->kind == LA_LOC_ARENA)
			sum += as->counts.in_use_bytes;
		else if (a < snap->n_arena_classes)
			sum += classes_in_use(snap->arena_classes[a],
					      loc->chunk_size_min,
					      loc->chunk_size_max);
	}
	return sum;
}

unsigned
la_snapshot_watch_count(const struct la_snapshot *snap)
{
	return snap->n_watch;
}

int
la_snapshot_sampled(const struct la_snapshot *snap, unsigned watch_index,
		    const uint64_t **chunk_addrs, unsigned *n,
		    uint64_t *population)
{
	const struct snap_watch *w;

	if (watch_index >= snap->n_watch)
		return -ENOENT;
	w = &snap->watch[watch_index];
	if (chunk_addrs)
		*chunk_addrs = w->addrs;
	if (n)
		*n = w->n;
	if (population)
		*population = w->population;
	return 0;
}

int
la_snapshot_probe(const struct la_snapshot *snap, uint64_t chunk_addr,
		  uint64_t *chunk_size)
{
	long j = probe_index(snap, chunk_addr);

	if (j < 0)
		return -ENOENT;
	if (chunk_size)
		*chunk_size = snap->probe_sizes[j];
	return snap->probe_sizes[j] != 0;
}
