/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * glibc_heap.c - the heap walk (see glibc_heap.h).
 *
 * A chunk is free exactly when it is a top chunk, when the next chunk's
 * PREV_INUSE bit is clear (it sits in a bin), or when it is listed in a
 * tcache or a fastbin (those keep the bit set). The walk reads each heap
 * in large windows and classifies a chunk when it reaches the next header.
 * Every size read from the target is checked against the segment end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "heap: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "glibc/glibc_freelists.h"
#include "glibc/glibc_heap.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "proc/readahead.h"

#define WINDOW (1u << 20) /* bytes read per process_vm_readv */
#define MAX_ARENAS 4096u
#define MAX_HEAPS_PER_ARENA 65536u

static unsigned readahead_flags; /* glibc_heap_set_readahead_flags() */

void
glibc_heap_set_readahead_flags(unsigned flags)
{
	readahead_flags = flags;
}

/*
 * The chunks that look in use but are not (tcache and fastbin entries) and
 * the tcache structs, sorted by address: the walk visits a segment in
 * address order, so one cursor answers "is this chunk listed?" in O(1)
 * instead of a hash lookup per chunk.
 */
enum { LISTED_TCACHE = 1, LISTED_FAST = 2, LISTED_TCSTRUCT = 4 };

struct listed {
	uint64_t addr;
	unsigned tags;
};

struct walker {
	struct malloc_layout *l;
	struct memsrc *mem;
	struct freelists fl;
	chunk_visit_fn visit;
	void *arg;
	struct heap_walk *out;
	struct readahead *ra; /* owns mem while walk_segment() runs */
	uint64_t heap_max;
	uint64_t tcache_found, fast_found;
	struct listed *listed;
	size_t n_listed, cursor;
	/* every segment walked, [lo, hi): they must not overlap */
	struct segment {
		uint64_t lo, hi;
		/* a thread heap: [lo, lo + heap_max) is skipped by the mmap scan */
		int thread_heap;
	} * segs;
	size_t n_segs, cap_segs;
};

static void mark(struct heap_walk *w, struct arena_walk *aw, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

static void
mark(struct heap_walk *w, struct arena_walk *aw, const char *fmt, ...)
{
	va_list ap;

	if (aw)
		aw->consistent = 0;
	if (!w->consistent)
		return;
	w->consistent = 0;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	pr_debug("%s", w->why);
}

/* chunk2mem(p) must be 16-aligned: the first chunk of a region. */
static uint64_t
align_chunk(uint64_t p)
{
	return p + ((16 - ((p + CHUNK_HDR_SZ) & MALLOC_ALIGN_MASK)) &
		    MALLOC_ALIGN_MASK);
}

static void
emit(struct walker *W, unsigned ai, uint64_t addr, uint64_t size,
     enum chunk_kind kind)
{
	if (ai != ARENA_NONE)
		W->out->arena[ai].walked_bytes += size;
	W->visit(W->arg, ai, addr, size, kind);
}

/*
 * Bin links, checked without following them (a walk of the bins costs one
 * random read per chunk: 6 times the whole heap's copy on a fragmented
 * 1 GiB heap). In a doubly linked list every link p->bk == q has its twin
 * q->fd == p, so over the free chunks and the bin headers the multiset of
 * pairs (p->bk, p) equals that of (q, q->fd): sum a hash of each. Any
 * half-done link or unlink, any chunk listed but not free or free but not
 * listed, breaks the equality.
 */
static uint64_t
link_hash(uint64_t from, uint64_t to)
{
	uint64_t x = from * 0x9e3779b97f4a7c15ull ^ to;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 32);
}

/* Classify chunk p once the next header told whether p is in use. */
static void
classify(struct walker *W, unsigned ai, uint64_t p, uint64_t cs, int inuse,
	 uint64_t fd, uint64_t bk)
{
	struct arena_walk *aw = &W->out->arena[ai];
	unsigned tags = 0;
	int in_tc, in_fast;
	enum chunk_kind kind;

	while (W->cursor < W->n_listed && W->listed[W->cursor].addr < p)
		W->cursor++;
	if (W->cursor < W->n_listed && W->listed[W->cursor].addr == p)
		tags = W->listed[W->cursor].tags;
	in_tc = tags & LISTED_TCACHE;
	in_fast = tags & LISTED_FAST;

	if (!inuse) {
		if (in_tc || in_fast)
			mark(W->out, aw,
			     "chunk %#llx is free but listed in a %s",
			     (unsigned long long)p,
			     in_tc ? "tcache" : "fastbin");
		kind = CHUNK_BIN;
		aw->bin_chunks++;
		aw->bin_bytes += cs;
		aw->links_bk += link_hash(bk, p);
		aw->links_fd += link_hash(p, fd);
	} else if (in_tc) {
		kind = CHUNK_TCACHE;
		W->tcache_found++;
	} else if (in_fast) {
		kind = CHUNK_FASTBIN;
		W->fast_found++;
		aw->fast_chunks++;
		aw->fast_bytes += cs;
	} else if (tags & LISTED_TCSTRUCT) {
		kind = CHUNK_META;
	} else {
		kind = CHUNK_IN_USE;
	}
	emit(W, ai, p, cs, kind);
}

/*
 * Walk [start, end): chunks until the arena's top, an end-of-heap
 * fencepost (size 0), or end. 16-byte chunks are fenceposts.
 */
static int
walk_chunks(struct walker *W, unsigned ai, uint64_t start, uint64_t end,
	    uint64_t top)
{
	struct arena_walk *aw = &W->out->arena[ai];
	uint64_t p = start, prev = 0, prev_size = 0, prev_fd = 0, prev_bk = 0;
	uint64_t guard = (end - start) / CHUNK_HDR_SZ + 1;
	size_t lo = 0, hi = W->n_listed;

	while (lo < hi) { /* the first listed chunk at or after start */
		size_t mid = lo + (hi - lo) / 2;

		if (W->listed[mid].addr < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	W->cursor = lo;

	while (p < end && guard--) {
		int err = 0;
		size_t want = end - p >= 32 ? 32 : 16; /* with fd and bk */
		const unsigned char *h = readahead_get(W->ra, p, want, &err);
		uint64_t sz, cs, fd = 0, bk = 0;

		if (!h) {
			if (err == -ESRCH)
				return err;
			mark(W->out, aw, "chunk header at %#llx unreadable",
			     (unsigned long long)p);
			return 0;
		}
		memcpy(&sz, h + 8, 8);
		if (want == 32) {
			memcpy(&fd, h + 16, 8);
			memcpy(&bk, h + 24, 8);
		}
		cs = sz & ~(uint64_t)SIZE_BITS;
		if (prev) {
			classify(W, ai, prev, prev_size, (int)(sz & PREV_INUSE),
				 prev_fd, prev_bk);
			prev = 0;
		}
		if (p == top) {
			aw->top_size = cs;
			aw->top_seen = 1;
			if (cs < MINSIZE)
				mark(W->out, aw,
				     "top chunk %#llx of size %#llx",
				     (unsigned long long)p,
				     (unsigned long long)cs);
			emit(W, ai, p, cs, CHUNK_TOP);
			if (cs > end - p || p + cs != end)
				mark(W->out, aw,
				     "top chunk %#llx does not end its heap",
				     (unsigned long long)p);
			return 0;
		}
		if (cs == 0 && !(top >= start && top < end) &&
		    end - p >= CHUNK_HDR_SZ && end - p < 2 * CHUNK_HDR_SZ) {
			/* the last fencepost of an old heap (malloc.c sysmalloc) */
			emit(W, ai, p, end - p, CHUNK_META);
			return 0;
		}
		if (cs == CHUNK_HDR_SZ) { /* fencepost */
			emit(W, ai, p, cs, CHUNK_META);
			p += cs;
			continue;
		}
		if (cs < MINSIZE || (cs & MALLOC_ALIGN_MASK) || cs > end - p ||
		    (sz & IS_MMAPPED)) {
			mark(W->out, aw, "corrupt chunk at %#llx (size %#llx)",
			     (unsigned long long)p, (unsigned long long)sz);
			return 0;
		}
		prev = p;
		prev_size = cs;
		prev_fd = fd;
		prev_bk = bk;
		p += cs;
	}
	if (prev) {
		classify(W, ai, prev, prev_size, 1, prev_fd, prev_bk);
		mark(W->out, aw,
		     "heap segment %#llx ends without a top or fencepost",
		     (unsigned long long)start);
	}
	return 0;
}

/*
 * The segment is read in windows, the next one while this one is parsed
 * (readahead.c). A walk that reaches top reads no further than its header
 * (with fd and bk), so nothing past it is read ahead: the rest of a thread
 * heap is top, up to 64 MiB. The visitor reads no target memory
 * (chunk_visit_fn), so the read-ahead may own the memory source until the
 * segment is done.
 */
static int
walk_segment(struct walker *W, unsigned ai, uint64_t start, uint64_t end,
	     uint64_t top)
{
	uint64_t ahead_hi = end;
	int err;

	if (top >= start && top < end && end - top > 32)
		ahead_hi = top + 32;
	readahead_begin(W->ra, end, ahead_hi);
	err = walk_chunks(W, ai, start, end, top);
	readahead_end(W->ra);
	return err;
}

/*
 * Note a segment before walking it. Returns 1 (and marks the walk) when it
 * overlaps one already walked: two arenas claiming the same memory, from a
 * corrupt heap_info or sbrk_base. It is then not walked, so no chunk is
 * ever visited twice.
 */
static int
remember_segment(struct walker *W, struct arena_walk *aw, uint64_t lo,
		 uint64_t hi, int thread_heap)
{
	int overlap = 0;

	for (size_t i = 0; i < W->n_segs && !overlap; i++)
		if (lo < W->segs[i].hi && W->segs[i].lo < hi) {
			mark(W->out, aw,
			     "heap segments %#llx and %#llx overlap",
			     (unsigned long long)W->segs[i].lo,
			     (unsigned long long)lo);
			overlap = 1;
		}
	/* Kept even then: the mmap scan must still skip a thread heap. */
	if (W->n_segs == W->cap_segs) {
		size_t ncap = W->cap_segs ? W->cap_segs * 2 : 64;
		struct segment *ns = realloc(W->segs, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		W->segs = ns;
		W->cap_segs = ncap;
	}
	W->segs[W->n_segs++] = (struct segment){lo, hi, thread_heap};
	return overlap;
}

static int
walk_main_arena(struct walker *W, unsigned ai, const unsigned char *ms,
		uint64_t sbrk_base)
{
	struct malloc_layout *l = W->l;
	struct arena_walk *aw = &W->out->arena[ai];
	uint64_t top, topsz, first, end;
	uint32_t flags;
	int err;

	memcpy(&top, ms + l->ms_top, 8);
	memcpy(&flags, ms + l->ms_flags, 4);
	/* top == initial_top (bin_at(1)) or never set: malloc unused yet. */
	if (!top || !sbrk_base || top == aw->addr + l->ms_bins - 16)
		return 0;
	if (memsrc_u64(W->mem, top + 8, &topsz)) {
		mark(W->out, aw,
		     "the main arena's top chunk %#llx is unreadable",
		     (unsigned long long)top);
		return 0;
	}
	topsz &= ~(uint64_t)SIZE_BITS;
	if (flags & NONCONTIGUOUS_BIT)
		mark(W->out, aw,
		     "the main arena is not contiguous (foreign sbrk or mmap fallback): not walked exactly");
	first = align_chunk(sbrk_base);
	end = top + topsz;
	if (end < first || end - sbrk_base > aw->system_mem + (1ull << 20)) {
		mark(W->out, aw, "main arena top %#llx outside its heap",
		     (unsigned long long)top);
		return 0;
	}
	aw->heaps = 1;
	err = remember_segment(W, aw, sbrk_base, end, 0);
	if (err)
		return err < 0 ? err : 0;
	if (first > sbrk_base)
		emit(W, ai, sbrk_base, first - sbrk_base, CHUNK_META);
	return walk_segment(W, ai, first, end, top);
}

static int
walk_thread_arena(struct walker *W, unsigned ai, const unsigned char *ms)
{
	struct malloc_layout *l = W->l;
	struct arena_walk *aw = &W->out->arena[ai];
	uint64_t top, h;
	int err;

	memcpy(&top, ms + l->ms_top, 8);
	h = top & ~(W->heap_max - 1);
	/* A chain that loops comes back to a heap already remembered. */
	for (unsigned n = 0; h && n < MAX_HEAPS_PER_ARENA; n++) {
		unsigned char hi[64];
		uint64_t ar_ptr, prev, size, start, end;
		int first_heap;

		if (l->hi_sizeof > sizeof(hi) ||
		    memsrc_read_cached(W->mem, h, hi, l->hi_sizeof)) {
			mark(W->out, aw, "heap header %#llx unreadable",
			     (unsigned long long)h);
			return 0;
		}
		memcpy(&ar_ptr, hi + l->hi_ar_ptr, 8);
		memcpy(&prev, hi + l->hi_prev, 8);
		memcpy(&size, hi + l->hi_size, 8);
		if (ar_ptr != aw->addr || size > W->heap_max ||
		    size < l->hi_sizeof) {
			mark(W->out, aw,
			     "heap %#llx does not belong to arena %#llx",
			     (unsigned long long)h,
			     (unsigned long long)aw->addr);
			return 0;
		}
		end = h + size;
		err = remember_segment(W, aw, h, end, 1);
		if (err)
			return err < 0 ? err : 0;
		first_heap = aw->addr == h + l->hi_sizeof;
		start = align_chunk(first_heap ? aw->addr + l->ms_size
					       : h + l->hi_sizeof);
		if (start >= end) {
			mark(W->out, aw,
			     "heap %#llx is smaller than its headers",
			     (unsigned long long)h);
			return 0;
		}
		emit(W, ai, h, start - h, CHUNK_META);
		aw->heaps++;
		err = walk_segment(W, ai, start, end, top);
		if (err)
			return err;
		if (first_heap != !prev)
			mark(W->out, aw, "heap chain of arena %#llx is broken",
			     (unsigned long long)aw->addr);
		if (first_heap)
			break;
		h = prev;
	}
	return 0;
}

/*
 * A thread's stack block, guard page below, struct pthread (and the static
 * TLS) at the top around the thread pointer tp (x86_64: the TLS below
 * it; aarch64: above it): [m->start, arch_stack_block_end()). Mappings
 * above it may have been merged into the same VMA by the kernel, so only
 * this range is skipped.
 */
static uint64_t
stack_block_end(const struct maps *maps, size_t i, const uint64_t *tps,
		unsigned ntps)
{
	const struct mapping *m = &maps->v[i];
	const uint64_t page = arch_page_size();

	if (i == 0 || maps->v[i - 1].end != m->start || maps->v[i - 1].prot)
		return m->start; /* no guard page: not a thread stack */

	for (unsigned t = 0; t < ntps; t++)
		if (tps[t] >= m->start && tps[t] < m->end)
			return arch_stack_block_end(tps[t], page);
	return m->start;
}

static int
add_range(struct heap_walk *w, uint64_t lo, uint64_t hi)
{
	if (w->n_ranges == w->cap_ranges) {
		unsigned ncap = w->cap_ranges ? w->cap_ranges * 2 : 16;
		struct addr_range *nr = realloc(w->ranges, ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		w->ranges = nr;
		w->cap_ranges = ncap;
	}
	w->ranges[w->n_ranges++] = (struct addr_range){lo, hi};
	return 0;
}

static int
in_thread_heap(const struct walker *W, uint64_t p)
{
	for (size_t i = 0; i < W->n_segs; i++)
		if (W->segs[i].thread_heap && p >= W->segs[i].lo &&
		    p < W->segs[i].lo + W->heap_max)
			return 1;
	return 0;
}

/*
 * glibc keeps no list of mmapped chunks: find them in anonymous rw
 * mappings, one page at a time. An LP64 mmapped chunk starts its mapping
 * with prev_size 0 and size = length | IS_MMAPPED (malloc.c sysmalloc_mmap);
 * a memaligned one keeps that outer header too (malloc.c _int_memalign).
 */
/*
 * The headers of up to SCAN_BATCH pages of m from *p on, in one gather
 * (one system call for them all, where a read each made a Python
 * process's gigabyte of arenas 256 K calls), then the chunks they start;
 * *p moves past what was looked at. 0, -ESRCH or -ENOMEM.
 */
#define SCAN_BATCH 512u

static int
scan_pages(struct walker *W, const struct mapping *m, uint64_t *p)
{
	uint64_t addr[SCAN_BATCH], hdr[SCAN_BATCH][2];
	unsigned char ok[SCAN_BATCH], used[SCAN_BATCH];
	uint64_t next = *p, a = *p, skip = 0;
	unsigned n = 0, pages = 0;
	int err;

	while (pages < SCAN_BATCH &&
	       a + pages * MEMSRC_PAGE + CHUNK_HDR_SZ <= m->end)
		pages++;
	/* a page never touched holds no header: not read, not faulted in */
	memsrc_pages_used(W->mem, a, pages, used);
	for (unsigned k = 0; k < pages; k++)
		if (used[k])
			addr[n++] = a + k * MEMSRC_PAGE;
	next = a + pages * MEMSRC_PAGE;
	err = memsrc_gather(W->mem, addr, n, sizeof(hdr[0]), hdr, ok);
	if (err)
		return err;
	for (unsigned k = 0; k < n; k++) {
		uint64_t cs = hdr[k][1] & ~(uint64_t)SIZE_BITS;

		if (addr[k] < skip) /* inside a chunk found in this batch */
			continue;
		if (!ok[k] || hdr[k][0] != 0 ||
		    (hdr[k][1] & SIZE_BITS) != IS_MMAPPED || !cs ||
		    (cs & (MEMSRC_PAGE - 1)) || cs > m->end - addr[k])
			continue;
		emit(W, ARENA_NONE, addr[k], cs, CHUNK_MMAPPED);
		if (add_range(W->out, addr[k], addr[k] + cs))
			return -ENOMEM;
		W->out->mmapped_chunks++;
		W->out->mmapped_bytes += cs;
		skip = addr[k] + cs;
		if (skip > next)
			next = skip;
	}
	*p = next;
	return 0;
}

static int
scan_mmapped(struct walker *W, const struct maps *maps, const uint64_t *tps,
	     unsigned ntps)
{
	for (size_t i = 0; i < maps->len; i++) {
		const struct mapping *m = &maps->v[i];
		uint64_t p;

		if ((m->prot & (MAP_R | MAP_W)) != (MAP_R | MAP_W) ||
		    (m->prot & MAP_SHARED_) || !mapping_is_anon(m) ||
		    !strcmp(m->path, "[heap]") || in_thread_heap(W, m->start))
			continue;
		p = stack_block_end(maps, i, tps, ntps);
		while (p + CHUNK_HDR_SZ <= m->end) {
			int err = scan_pages(W, m, &p);

			if (err)
				return err;
		}
	}
	return 0;
}

static int
read_arenas(struct walker *W, unsigned char ***bufs_out, uint64_t **addrs_out,
	    uint64_t **sysmem_out)
{
	struct malloc_layout *l = W->l;
	struct heap_walk *out = W->out;
	unsigned char **bufs = NULL;
	uint64_t *addrs = NULL, *sysmem = NULL, a = l->main_arena_addr;
	unsigned n = 0, cap = 0;

	do {
		unsigned char *buf;
		uint64_t next;

		if (n == MAX_ARENAS) {
			mark(out, NULL, "more than %u arenas", MAX_ARENAS);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			void *nb = realloc(bufs, cap * sizeof(*bufs));
			void *na = realloc(addrs, cap * sizeof(*addrs));
			void *ns = realloc(sysmem, cap * sizeof(*sysmem));
			void *nw =
				realloc(out->arena, cap * sizeof(*out->arena));

			if (nb)
				bufs = nb;
			if (na)
				addrs = na;
			if (ns)
				sysmem = ns;
			if (nw)
				out->arena = nw;
			if (!nb || !na || !ns || !nw)
				goto nomem;
		}
		buf = malloc(l->ms_size);
		if (!buf)
			goto nomem;
		if (memsrc_read(W->mem, a, buf, l->ms_size)) {
			free(buf);
			if (n == 0) {
				*bufs_out = bufs;
				*addrs_out = addrs;
				*sysmem_out = sysmem;
				return la_fail(
					-LA_EHEAPCORRUPT,
					"main_arena at %#llx cannot be read",
					(unsigned long long)a);
			}
			mark(out, NULL, "arena %#llx unreadable",
			     (unsigned long long)a);
			break;
		}
		bufs[n] = buf;
		addrs[n] = a;
		memset(&out->arena[n], 0, sizeof(out->arena[n]));
		out->arena[n].addr = a;
		out->arena[n].is_main = n == 0;
		out->arena[n].consistent = 1;
		memcpy(&sysmem[n], buf + l->ms_system_mem, 8);
		out->arena[n].system_mem = sysmem[n];
		{
			uint64_t threads;
			uint32_t mutex;

			memcpy(&threads, buf + l->ms_attached_threads, 8);
			memcpy(&mutex, buf + l->ms_mutex, 4);
			out->arena[n].threads = (unsigned)threads;
			out->arena[n].lock_held = mutex != 0;
		}
		memcpy(&next, buf + l->ms_next, 8);
		n++;
		out->n_arena = n;
		if (!next && n == 1) {
			uint64_t top;

			memcpy(&top, buf + l->ms_top, 8);
			if (top)
				mark(out, NULL,
				     "main_arena has a top but no arena list");
			break; /* malloc never initialised */
		}
		if (!next || (next & 7)) {
			mark(out, NULL, "arena list broken after %#llx",
			     (unsigned long long)a);
			break;
		}
		for (unsigned i = 1; i < n; i++)
			if (addrs[i] == next) {
				mark(out, NULL,
				     "the arena list loops at %#llx without returning to main_arena",
				     (unsigned long long)next);
				goto done;
			}
		a = next;
	} while (a != l->main_arena_addr);
done:
	*bufs_out = bufs;
	*addrs_out = addrs;
	*sysmem_out = sysmem;
	return 0;
nomem:
	*bufs_out = bufs;
	*addrs_out = addrs;
	*sysmem_out = sysmem;
	return -ENOMEM;
}

static int
by_addr(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int
build_listed(struct walker *W)
{
	const struct addrset *sets[] = {&W->fl.tcache, &W->fl.fast,
					&W->fl.tcstruct};
	const unsigned tag[] = {LISTED_TCACHE, LISTED_FAST, LISTED_TCSTRUCT};
	size_t n = 0, total = 0;

	for (unsigned k = 0; k < 3; k++)
		total += sets[k]->len;
	W->listed = malloc((total ? total : 1) * sizeof(*W->listed));
	if (!W->listed)
		return -ENOMEM;
	for (unsigned k = 0; k < 3; k++)
		for (size_t i = 0; i < sets[k]->cap; i++)
			if (sets[k]->slot[i])
				W->listed[n++] = (struct listed){
					sets[k]->slot[i], tag[k]};
	qsort(W->listed, n, sizeof(*W->listed), by_addr);
	/* A chunk in two lists (a corrupt heap) keeps both tags. */
	W->n_listed = 0;
	for (size_t i = 0; i < n; i++) {
		if (W->n_listed &&
		    W->listed[W->n_listed - 1].addr == W->listed[i].addr)
			W->listed[W->n_listed - 1].tags |= W->listed[i].tags;
		else
			W->listed[W->n_listed++] = W->listed[i];
	}
	return 0;
}

/*
 * Follow the bins from their headers, like int_mallinfo(), and compare
 * with the free chunks the walk found. One random read per chunk, so only
 * when the bins are small enough to be cheap (a few milliseconds); the
 * link sums cover the rest, except a cycle of free chunks that no bin
 * reaches, which only corruption makes. The walk of a bin stops as soon
 * as it holds more chunks than the heap has free ones.
 */
#define BIN_WALK_BASE 4096u
#define BIN_WALK_PER (256u << 10) /* one more chunk per 256 KiB of arena */

static void
follow_bins(struct walker *W, struct arena_walk *aw)
{
	const struct malloc_layout *l = W->l;
	uint64_t n = 0, bytes = 0;

	if (aw->bin_chunks > BIN_WALK_BASE + aw->system_mem / BIN_WALK_PER)
		return;
	for (unsigned i = 1; i < NBINS; i++) {
		uint64_t b =
			aw->addr + l->ms_bins + (uint64_t)(i - 1) * 16 - 16;
		uint64_t p, prev = b;

		if (memsrc_u64(W->mem, b + 24, &p))
			return;
		while (p != b) {
			uint64_t sz, fd, here = p;

			if (++n > aw->bin_chunks || !p ||
			    (p & MALLOC_ALIGN_MASK) ||
			    memsrc_u64(W->mem, p + 8, &sz) ||
			    memsrc_u64(W->mem, p + 16, &fd) ||
			    memsrc_u64(W->mem, p + 24, &p) || fd != prev) {
				mark(W->out, aw,
				     "arena %#llx: bin %u does not hold the free chunks the heap has",
				     (unsigned long long)aw->addr, i);
				return;
			}
			bytes += sz & ~(uint64_t)SIZE_BITS;
			prev = here;
		}
	}
	if (n != aw->bin_chunks || bytes != aw->bin_bytes)
		mark(W->out, aw,
		     "arena %#llx: the bins hold %llu chunks, the heap has %llu free",
		     (unsigned long long)aw->addr, (unsigned long long)n,
		     (unsigned long long)aw->bin_chunks);
}

static void
check_arena(struct walker *W, unsigned ai, const unsigned char *ms)
{
	struct arena_walk *aw = &W->out->arena[ai];
	const struct arena_lists *al = &W->fl.arena[ai];
	uint64_t links_bk = aw->links_bk, links_fd = aw->links_fd;

	/* The bin headers: bin_at(a, i) overlays bins[2i-2] (fd) and bk. */
	for (unsigned i = 1; i < NBINS; i++) {
		uint64_t b =
			aw->addr + W->l->ms_bins + (uint64_t)(i - 1) * 16 - 16;
		uint64_t fd, bk;

		memcpy(&fd, ms + W->l->ms_bins + (i - 1) * 16, 8);
		memcpy(&bk, ms + W->l->ms_bins + (i - 1) * 16 + 8, 8);
		/*
		 * Without a heap every bin is empty: static zeros before
		 * ptmalloc_init(), pointing at itself after.
		 */
		if (!aw->heaps &&
		    !((fd == 0 && bk == 0) || (fd == b && bk == b)))
			mark(W->out, aw,
			     "arena %#llx has no heap but bin %u is not empty",
			     (unsigned long long)aw->addr, i);
		links_bk += link_hash(bk, b);
		links_fd += link_hash(b, fd);
	}

	if (aw->lock_held)
		mark(W->out, aw,
		     "arena %#llx was locked (a thread inside malloc)",
		     (unsigned long long)aw->addr);
	if (!aw->heaps && aw->system_mem)
		mark(W->out, aw, "arena %#llx has %llu bytes but no heap",
		     (unsigned long long)aw->addr,
		     (unsigned long long)aw->system_mem);
	if (aw->heaps && !aw->top_seen)
		mark(W->out, aw, "arena %#llx: the walk never reached top",
		     (unsigned long long)aw->addr);
	if (aw->heaps && aw->walked_bytes != aw->system_mem)
		mark(W->out, aw,
		     "arena %#llx: chunks add up to %llu bytes, system_mem is %llu",
		     (unsigned long long)aw->addr,
		     (unsigned long long)aw->walked_bytes,
		     (unsigned long long)aw->system_mem);
	if (aw->heaps && links_bk != links_fd)
		mark(W->out, aw,
		     "arena %#llx: the bins' links disagree with the %llu free chunks",
		     (unsigned long long)aw->addr,
		     (unsigned long long)aw->bin_chunks);
	if (aw->heaps && aw->consistent)
		follow_bins(W, aw);
	if (!aw->heaps && al->fast_chunks)
		mark(W->out, aw, "arena %#llx has no heap but fastbin chunks",
		     (unsigned long long)aw->addr);
	if (!al->ok)
		mark(W->out, aw, "arena %#llx: a fastbin is broken",
		     (unsigned long long)aw->addr);
	if (al->fast_chunks != aw->fast_chunks)
		mark(W->out, aw,
		     "arena %#llx: fastbins list %llu chunks, the heap has %llu",
		     (unsigned long long)aw->addr,
		     (unsigned long long)al->fast_chunks,
		     (unsigned long long)aw->fast_chunks);
}

int
glibc_heap_walk(struct malloc_layout *l, struct memsrc *mem,
		const struct maps *maps, const uint64_t *tcaches, unsigned ntc,
		const uint64_t *stacks, unsigned nstacks, chunk_visit_fn visit,
		void *arg, struct heap_walk *out)
{
	struct walker W = {
		.l = l, .mem = mem, .visit = visit, .arg = arg, .out = out};
	unsigned char **bufs = NULL;
	uint64_t *addrs = NULL, *sysmem = NULL, sbrk_base = 0, tcache_count = 0;
	uint64_t before = mem->bytes_read;
	uint32_t n_mmaps = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->consistent = 1;
	err = readahead_new(mem, WINDOW, readahead_flags, &W.ra);
	if (err)
		return err;
	W.heap_max = malloc_layout_heap_max(l, mem);
	if (memsrc_u64(mem, l->mp_addr + l->mp_sbrk_base, &sbrk_base) ||
	    memsrc_read_cached(mem, l->mp_addr + l->mp_n_mmaps, &n_mmaps, 4) ||
	    memsrc_u64(mem, l->mp_addr + l->mp_mmapped_mem,
		       &out->mp_mmapped_mem)) {
		err = la_fail(-LA_EHEAPCORRUPT, "glibc's mp_ cannot be read");
		goto done;
	}
	if (l->tcache_tls != TCACHE_TLS_NONE)
		memsrc_u64(mem, l->mp_addr + l->mp_tcache_count, &tcache_count);
	out->mp_n_mmaps = n_mmaps;
	err = read_arenas(&W, &bufs, &addrs, &sysmem);
	if (err)
		goto done;
	err = freelists_collect(l, mem, addrs, bufs, sysmem, out->n_arena,
				tcaches, ntc, tcache_count, &W.fl);
	if (err)
		goto done;
	if (!W.fl.consistent)
		mark(out, NULL, "%s", W.fl.why);
	err = build_listed(&W);
	if (err)
		goto done;
	for (unsigned i = 0; i < out->n_arena; i++) {
		err = i == 0 ? walk_main_arena(&W, i, bufs[i], sbrk_base)
			     : walk_thread_arena(&W, i, bufs[i]);
		if (err)
			goto done;
		check_arena(&W, i, bufs[i]);
	}
	if (W.tcache_found != W.fl.tcache.len)
		mark(out, NULL,
		     "%zu tcache entries listed, %llu found in the heap",
		     W.fl.tcache.len, (unsigned long long)W.tcache_found);
	if (W.fast_found != W.fl.fast.len)
		mark(out, NULL,
		     "%zu fastbin entries listed, %llu found in the heap",
		     W.fl.fast.len, (unsigned long long)W.fast_found);
	for (size_t i = 0; i < W.n_segs && !err; i++)
		err = add_range(out, W.segs[i].lo,
				W.segs[i].thread_heap
					? W.segs[i].lo + W.heap_max
					: W.segs[i].hi);
	if (!err)
		err = scan_mmapped(&W, maps, stacks, nstacks);
	if (err)
		goto done;
	if (out->mmapped_chunks != out->mp_n_mmaps ||
	    out->mmapped_bytes != out->mp_mmapped_mem)
		mark(out, NULL,
		     "mmapped chunks: %llu (%llu bytes) in the maps, mp_ counts %llu (%llu bytes)",
		     (unsigned long long)out->mmapped_chunks,
		     (unsigned long long)out->mmapped_bytes,
		     (unsigned long long)out->mp_n_mmaps,
		     (unsigned long long)out->mp_mmapped_mem);
done:
	readahead_free(W.ra); /* joins its thread: mem is ours alone again */
	out->bytes_read = mem->bytes_read - before;
	for (unsigned i = 0; bufs && i < out->n_arena; i++)
		free(bufs[i]);
	free(bufs);
	free(addrs);
	free(sysmem);
	free(W.segs);
	free(W.listed);
	freelists_free(&W.fl);
	return err;
}

void
glibc_heap_walk_free(struct heap_walk *w)
{
	free(w->arena);
	free(w->ranges);
	memset(w, 0, sizeof(*w));
}
