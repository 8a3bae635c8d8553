/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pymalloc.c - find and count CPython's pymalloc pools with no symbols
 * (see pymalloc.h and doc/design/python-heap.md, "Finding the pools").
 *
 * The layout and the invariants are those of struct pool_header and of
 * pymalloc_alloc(), pymalloc_pool_extend() and pymalloc_free() in
 * CPython's Objects/obmalloc.c (3.8 to 3.11) and
 * Include/internal/pycore_obmalloc.h (3.12, 3.13): identical on all of
 * them for x86-64. A pool is POOL_SIZE-aligned, whatever its arena's
 * alignment (new_arena() drops the unaligned head), so a scan at pool
 * alignment of every anonymous mapping sees every pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "proc/readahead.h"
#include "python/pyle.h"
#include "python/pymalloc.h"

#define DUMMY_SIZE_IDX 0xffffu /* a pool being carved (Objects/obmalloc.c) */
#define GEOM_SMALL 4096u /* 3.8, 3.9, and 3.10+ without the radix tree */
#define GEOM_LARGE 16384u /* 3.10+ with the radix tree (the default) */
/* Arena indexes are small (maxarenas doubles from 16); a bound for the
 * table, above which a header is not believed. */
#define ARENA_INDEX_MAX (1u << 20)

void
pymalloc_header_decode(const unsigned char *p, struct pool_header_raw *h)
{
	/* the upper half of the ref slot is padding (union with a pointer) */
	h->count = pyle_u32(p + 0);
	h->freeblock = pyle_u64(p + 8);
	h->nextpool = pyle_u64(p + 16);
	h->prevpool = pyle_u64(p + 24);
	h->arenaindex = pyle_u32(p + 32);
	h->szidx = pyle_u32(p + 36);
	h->nextoffset = pyle_u32(p + 40);
	h->maxnextoffset = pyle_u32(p + 44);
}

int
pymalloc_header_check(const struct pool_header_raw *h, uint64_t addr,
		      uint32_t pool_size, uint32_t *carved)
{
	uint32_t bs, n, max;

	if (h->szidx >= PYMALLOC_NCLASSES || h->arenaindex >= ARENA_INDEX_MAX)
		return -EINVAL;
	if (pool_size != GEOM_SMALL && pool_size != GEOM_LARGE)
		return -EINVAL;
	if (addr % pool_size)
		return -EINVAL;
	bs = PYMALLOC_ALIGNMENT * (h->szidx + 1);
	/* init_pool(): maxnextoffset = POOL_SIZE - size */
	if (h->maxnextoffset + bs != pool_size)
		return -EINVAL;
	/*
	 * init_pool() carves two blocks at once (the one returned and the
	 * one freeblock points at); pymalloc_pool_extend() one at a time up
	 * to past maxnextoffset.
	 */
	if (h->nextoffset < PYMALLOC_POOL_OVERHEAD + 2 * bs ||
	    h->nextoffset > pool_size ||
	    (h->nextoffset - PYMALLOC_POOL_OVERHEAD) % bs)
		return -EINVAL;
	n = (h->nextoffset - PYMALLOC_POOL_OVERHEAD) / bs;
	max = (pool_size - PYMALLOC_POOL_OVERHEAD) / bs; /* NUMBLOCKS */
	if (n > max || h->count > n)
		return -EINVAL;
	if (h->freeblock) {
		uint64_t off = h->freeblock - addr;

		if (h->freeblock < addr + PYMALLOC_POOL_OVERHEAD ||
		    off >= h->nextoffset || (off - PYMALLOC_POOL_OVERHEAD) % bs)
			return -EINVAL;
	} else if (h->count != n || n != max) {
		/* no free block: full, every block carved and in use */
		return -EINVAL;
	}
	*carved = n;
	return 0;
}

int
pymalloc_freelist(const unsigned char *bytes, uint64_t addr,
		  const struct pool_header_raw *h, uint32_t carved,
		  uint8_t *freemap, uint32_t *nfree)
{
	uint32_t bs = PYMALLOC_ALIGNMENT * (h->szidx + 1), n = 0;
	uint64_t p = h->freeblock;

	memset(freemap, 0, (PYMALLOC_MAX_BLOCKS + 7) / 8);
	while (p) {
		uint64_t off = p - addr;
		uint32_t k;

		if (p < addr + PYMALLOC_POOL_OVERHEAD || off >= h->nextoffset ||
		    (off - PYMALLOC_POOL_OVERHEAD) % bs || n >= carved)
			return -EINVAL;
		k = (uint32_t)((off - PYMALLOC_POOL_OVERHEAD) / bs);
		if (freemap[k / 8] & (1u << (k % 8)))
			return -EINVAL; /* a cycle */
		freemap[k / 8] |= (uint8_t)(1u << (k % 8));
		n++;
		/* a free block's first word links the next (Objects/obmalloc.c) */
		p = pyle_u64(bytes + off);
	}
	*nfree = n;
	return 0;
}

/*
 * The pools seen of one arena index: a table keyed by the index, sized
 * by the arenas seen (an index is anything below ARENA_INDEX_MAX, and one
 * stray header must not make the walk allocate for all of them).
 */
struct arena_span {
	uint64_t lo, hi; /* lowest and highest pool address; lo 0: none */
	uint32_t ai;
};

struct walk {
	struct memsrc *mem;
	/*
	 * The windows are read ahead (proc/readahead.h) through ra_src, a
	 * second source on mem's reader: the read-ahead owns its source
	 * while it scans, and the pools' checks and the callback read
	 * scattered words through mem meanwhile. Both readers only call
	 * process_vm_readv() or pread(), which any thread may do at once.
	 */
	struct memsrc ra_src;
	/*
	 * The windows read here when not read ahead: both are sparse
	 * sources (memsrc_sparse()), so that a page the interpreter never
	 * touched is read as the zeros it holds, not faulted in.
	 */
	struct memsrc scan_src;
	struct readahead *ra;
	unsigned char *buf; /* a window read page by page */
	pymalloc_pool_fn fn;
	void *arg;
	struct pymalloc_census *out;
	struct arena_span *arena; /* open addressing, n_arena slots */
	uint32_t n_arena, used_arena;
	uint64_t seen_u[4];
	int stop;
	/* the window being scanned, when every page of it was read */
	const unsigned char *win;
	uint64_t win_lo, win_hi;
};

static struct arena_span *
arena_slot(struct arena_span *t, uint32_t n, uint32_t ai)
{
	uint32_t i = (ai * 2654435761u) & (n - 1);

	while (t[i].lo && t[i].ai != ai)
		i = (i + 1) & (n - 1);
	return &t[i];
}

static int
note_arena(struct walk *w, uint32_t ai, uint64_t addr)
{
	struct arena_span *a;

	if (2 * (w->used_arena + 1) > w->n_arena) {
		uint32_t n = w->n_arena ? 2 * w->n_arena : 64;
		struct arena_span *t = calloc(n, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (uint32_t i = 0; i < w->n_arena; i++)
			if (w->arena[i].lo)
				*arena_slot(t, n, w->arena[i].ai) = w->arena[i];
		free(w->arena);
		w->arena = t;
		w->n_arena = n;
	}
	a = arena_slot(w->arena, w->n_arena, ai);
	if (!a->lo) {
		a->ai = ai;
		w->used_arena++;
	}
	if (!a->lo || addr < a->lo)
		a->lo = addr;
	if (addr > a->hi)
		a->hi = addr;
	return 0;
}

static void
note_usedpools(struct walk *w, uint64_t u)
{
	struct pymalloc_census *c = w->out;

	for (uint32_t i = 0; i < c->usedpools_seen && i < 4; i++)
		if (w->seen_u[i] == u)
			return;
	if (c->usedpools_seen < 4)
		w->seen_u[c->usedpools_seen] = u;
	c->usedpools_seen++;
	if (c->usedpools_seen == 1)
		c->usedpools = u;
}

/*
 * A used pool is in the doubly-linked list of its class: each link is a
 * pool of the same class pointing back, or the list head, a fake header
 * whose nextpool/prevpool are usedpools[2i], usedpools[2i+1] (the PTA()
 * macro of Objects/obmalloc.c: &usedpools[2i] - 2 words). The head gives
 * &usedpools[0]; every pool must imply the same one.
 */
static int
link_ok(struct walk *w, uint64_t pool, const struct pool_header_raw *h,
	uint64_t link, int is_next)
{
	uint32_t ps = w->out->pool_size;
	unsigned char b[PYMALLOC_POOL_OVERHEAD];
	uint64_t back;

	if (!link || link % 8)
		return 0;
	if (link % ps == 0) {
		struct pool_header_raw o;

		if (memsrc_read_cached(w->mem, link, b, sizeof(b)))
			return 0;
		pymalloc_header_decode(b, &o);
		back = is_next ? o.prevpool : o.nextpool;
		if (o.szidx == h->szidx && back == pool)
			return 1;
		/*
		 * Or a head that happens to be pool-aligned: 3.10.13's
		 * usedpools put class 27's at a 16 KiB boundary (measured).
		 */
	}
	/* the head: its nextpool (+16) or prevpool (+24) points back */
	if (memsrc_u64(w->mem, link + (is_next ? 24 : 16), &back) ||
	    back != pool)
		return 0;
	note_usedpools(w, link + 16 - 16 * (uint64_t)h->szidx);
	return 1;
}

/* One candidate header at addr, its pool's bytes at bytes (or NULL). */
static int
one_pool(struct walk *w, uint64_t addr, const unsigned char *bytes,
	 uint64_t avail)
{
	struct pymalloc_census *c = w->out;
	struct pool_header_raw h;
	uint8_t freemap[(PYMALLOC_MAX_BLOCKS + 7) / 8];
	uint32_t ps, carved, nfree;
	struct pymalloc_class *cl;

	pymalloc_header_decode(bytes, &h);
	/*
	 * allocate_from_new_pool() marks a pool taken from fresh arena
	 * memory before init_pool sets its other fields: those are still 0
	 */
	if (h.szidx == DUMMY_SIZE_IDX && c->pool_size &&
	    addr % c->pool_size == 0 && h.count <= 1 &&
	    h.arenaindex < ARENA_INDEX_MAX && !h.freeblock && !h.nextoffset &&
	    !h.maxnextoffset) {
		c->carving++;
		return 0;
	}
	if (h.szidx >= PYMALLOC_NCLASSES)
		return 0;
	ps = h.maxnextoffset + PYMALLOC_ALIGNMENT * (h.szidx + 1);
	if (avail < ps || pymalloc_header_check(&h, addr, ps, &carved))
		return 0;
	if (c->pool_size && ps != c->pool_size) {
		c->other_geometry++;
		return 0;
	}
	if (pymalloc_freelist(bytes, addr, &h, carved, freemap, &nfree)) {
		c->bad_pools++;
		c->bad_freelist++;
		return 0;
	}
	/* count == carved - free in every state (alloc and free keep it) */
	if (h.count != carved - nfree) {
		c->bad_pools++;
		c->bad_count++;
		return 0;
	}
	/* The first wholly consistent pool settles the geometry. */
	if (!c->pool_size)
		c->pool_size = ps;
	if (h.count && h.freeblock &&
	    (!link_ok(w, addr, &h, h.nextpool, 1) ||
	     !link_ok(w, addr, &h, h.prevpool, 0))) {
		c->bad_pools++;
		c->bad_links++;
		return 0;
	}
	if (note_arena(w, h.arenaindex, addr))
		return -ENOMEM;
	c->pools++;
	if (!h.count) {
		c->pools_empty++;
		return 0;
	}
	if (h.freeblock)
		c->pools_used++;
	else
		c->pools_full++;
	cl = &c->cls[h.szidx];
	cl->pools++;
	cl->blocks += h.count;
	cl->bytes += (uint64_t)h.count * cl->block_size;
	c->blocks += h.count;
	c->bytes += (uint64_t)h.count * cl->block_size;
	if (w->fn) {
		struct pymalloc_pool p = {
			.addr = addr,
			.bytes = bytes,
			.freemap = freemap,
			.pool_size = ps,
			.block_size = cl->block_size,
			.szidx = h.szidx,
			.carved = carved,
			.count = h.count,
			.arenaindex = h.arenaindex,
			.win = w->win,
			.win_addr = w->win_lo,
			.win_len = w->win_hi - w->win_lo,
		};
		int r = w->fn(&p, w->arg);

		if (r)
			return r;
	}
	return 0;
}

/*
 * Pools of [lo, hi) whose bytes are at buf; ok[k]: page k was read (ok
 * NULL: every page was).
 */
static int
scan_window(struct walk *w, uint64_t lo, uint64_t hi, const unsigned char *buf,
	    const uint8_t *ok)
{
	uint64_t a;

	for (a = lo; a + PYMALLOC_POOL_OVERHEAD <= hi;) {
		uint32_t step =
			w->out->pool_size ? w->out->pool_size : GEOM_SMALL;
		uint64_t avail = 0, p;
		int r;

		if (a % step) {
			a += step - a % step;
			continue;
		}
		/* the readable bytes from a on, up to the window's end */
		for (p = a; p < hi && avail < GEOM_LARGE &&
			    (!ok || ok[(p - lo) / MEMSRC_PAGE]);
		     p += MEMSRC_PAGE)
			avail += MEMSRC_PAGE;
		if (avail > hi - a)
			avail = hi - a;
		if (avail >= PYMALLOC_POOL_OVERHEAD) {
			r = one_pool(w, a, buf + (a - lo), avail);
			if (r)
				return r;
		}
		a += step;
	}
	return 0;
}

static unsigned readahead_flags; /* pymalloc_set_readahead_flags() */

void
pymalloc_set_readahead_flags(unsigned flags)
{
	readahead_flags = flags;
}

/* The read-ahead's reads: mem's own (see struct walk). */

int
pymalloc_scannable(const struct mapping *m)
{
	if (!(m->prot & MAP_R) || (m->prot & MAP_SHARED_))
		return 0;
	/*
	 * Arenas are anonymous private mmaps (_PyObject_ArenaMmap()); none
	 * is named. glibc's [heap] and the stacks hold no arena unless an
	 * embedder replaced the arena allocator.
	 */
	return m->path[0] == '\0' || !strncmp(m->path, "[anon:", 6);
}

/* Scan [a, hi), whose bytes are at buf (ok as for scan_window()). */
static int
scan_bytes(struct walk *w, uint64_t a, uint64_t hi, const unsigned char *buf,
	   const uint8_t *ok)
{
	int r;

	w->out->bytes_scanned += hi - a;
	/* the callback may look around the pool only where all was read */
	w->win = ok ? NULL : buf;
	w->win_lo = a;
	w->win_hi = hi;
	r = scan_window(w, a, hi, buf, ok);
	w->win = NULL;
	return r;
}

/* Read [a, hi) through mem into w->buf, page by page if need be; scan. */
static int
read_and_scan(struct walk *w, uint64_t a, uint64_t hi)
{
	uint8_t ok[PYMALLOC_WINDOW / MEMSRC_PAGE];
	int err = memsrc_read(&w->scan_src, a, w->buf, hi - a);

	if (err == -ESRCH)
		return err;
	if (!err)
		return scan_bytes(w, a, hi, w->buf, NULL);
	/* some page is unreadable: each page alone */
	for (uint64_t p = a; p < hi; p += MEMSRC_PAGE) {
		err = memsrc_read(&w->scan_src, p, w->buf + (p - a),
				  MEMSRC_PAGE);
		if (err == -ESRCH)
			return err;
		ok[(p - a) / MEMSRC_PAGE] = !err;
	}
	return scan_bytes(w, a, hi, w->buf, ok);
}

/*
 * A mapping, in windows of PYMALLOC_WINDOW on the GEOM_LARGE grid, so
 * that no pool straddles two: the head below the first GEOM_LARGE
 * boundary (room for 4 KiB pools only) read alone, then the windows read
 * ahead, each the next one's neighbour (the read-ahead's windows are one
 * of ours and READAHEAD_OVERLAP bytes more, so that each holds one of
 * ours whole). A window that cannot be read whole is read again page by
 * page, its readable pages scanned.
 */
static int
scan_mapping(struct walk *w, const struct mapping *m)
{
	uint64_t a = m->start, grid;
	int r = 0;

	grid = (m->start + GEOM_LARGE - 1) & ~(uint64_t)(GEOM_LARGE - 1);
	if (grid > m->end)
		grid = m->end;
	if (a < grid) {
		r = read_and_scan(w, a, grid);
		if (r)
			return r;
		a = grid;
	}
	if (a >= m->end)
		return 0;
	readahead_begin(w->ra, m->end, m->end);
	while (a < m->end && !r) {
		uint64_t hi = m->end - a < PYMALLOC_WINDOW
				      ? m->end
				      : a + PYMALLOC_WINDOW;
		int err = 0;
		const unsigned char *p = readahead_get(w->ra, a, hi - a, &err);

		if (p)
			r = scan_bytes(w, a, hi, p, NULL);
		else if (err == -ESRCH)
			r = err;
		else
			r = read_and_scan(w, a, hi);
		a = hi;
	}
	readahead_end(w->ra);
	return r;
}

static int
by_span(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The arenas' spans, compacted and sorted, into the census. */
static int
keep_spans(const struct walk *w, struct pymalloc_census *out)
{
	uint32_t n = 0;

	out->spans =
		malloc((out->arenas ? out->arenas : 1) * sizeof(*out->spans));
	if (!out->spans)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->n_arena; i++)
		if (w->arena[i].lo)
			out->spans[n++] = (struct addr_range){
				w->arena[i].lo,
				w->arena[i].hi + out->pool_size};
	qsort(out->spans, n, sizeof(*out->spans), by_span);
	out->n_spans = n;
	return 0;
}

void
pymalloc_census_release(struct pymalloc_census *c)
{
	free(c->spans);
	c->spans = NULL;
	c->n_spans = 0;
}

int
pymalloc_walk(struct memsrc *mem, const struct maps *maps, pymalloc_pool_fn fn,
	      void *arg, struct pymalloc_census *out)
{
	struct walk w = {
		.mem = mem,
		.fn = fn,
		.arg = arg,
		.out = out,
	};
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < PYMALLOC_NCLASSES; i++)
		out->cls[i].block_size = PYMALLOC_ALIGNMENT * (i + 1);
	memsrc_sparse(&w.ra_src, mem);
	memsrc_sparse(&w.scan_src, mem);
	w.buf = malloc(PYMALLOC_WINDOW);
	if (!w.buf)
		return -ENOMEM;
	r = readahead_new(&w.ra_src, PYMALLOC_WINDOW + READAHEAD_OVERLAP,
			  readahead_flags, &w.ra);
	if (r) {
		free(w.buf);
		return r;
	}
	for (size_t i = 0; i < maps->len && !r; i++) {
		const struct mapping *m = &maps->v[i];

		if (!pymalloc_scannable(m) || m->start % MEMSRC_PAGE ||
		    m->end % MEMSRC_PAGE)
			continue;
		out->mappings++;
		r = scan_mapping(&w, m);
	}
	out->read_ahead = readahead_threaded(w.ra);
	readahead_free(w.ra); /* joins its thread: ra_src is idle */
	mem->bytes_read += w.ra_src.bytes_read + w.scan_src.bytes_read;
	for (uint32_t i = 0; i < w.n_arena; i++) {
		const struct arena_span *a = &w.arena[i];

		if (!a->lo)
			continue;
		out->arenas++;
		if (a->hi - a->lo + out->pool_size > PYMALLOC_ARENA_MAX)
			out->bad_arenas++;
	}
	if (!r)
		r = keep_spans(&w, out);
	/*
	 * A process has one geometry: a header valid only under the other
	 * says the one settled on may be wrong (settled by a copy of a
	 * pool?), or a second allocator state unlike the first.
	 */
	out->consistent = !out->bad_pools && !out->bad_arenas &&
			  !out->carving && out->usedpools_seen <= 1 &&
			  !out->other_geometry;
	free(w.arena);
	free(w.buf);
	return r;
}
