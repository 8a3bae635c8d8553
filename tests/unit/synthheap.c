/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * synthheap.c - synthetic glibc 2.36 x86_64 heaps for the unit tests (see
 * synthheap.h). Layouts and linking rules follow glibc 2.36's
 * malloc/malloc.c and malloc/arena.c (doc/design/glibc-heap.md); nothing
 * here reads a process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "synthheap.h"

/*
 * Offsets of glibc 2.36 x86_64 (struct malloc_state, malloc_par,
 * heap_info in malloc/malloc.c and malloc/arena.c; `ptype /o` in gdb).
 */
#define MS_HAVE_FASTCHUNKS 0x8u
#define MS_MAX_SYSTEM_MEM 0x890u
#define HI_PAGESIZE 0x20u
#define MP_TRIM_THRESHOLD 0x00u
#define MP_TOP_PAD 0x08u
#define MP_MMAP_THRESHOLD 0x10u
#define MP_ARENA_TEST 0x18u
#define MP_N_MMAPS_MAX 0x40u
#define MP_TCACHE_BINS 0x68u
#define MP_TCACHE_MAX_BYTES 0x70u

static void
die(const char *what, uint64_t addr)
{
	fprintf(stderr, "synthheap: %s at %#llx\n", what,
		(unsigned long long)addr);
	abort();
}

void
synth_layout(struct malloc_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->ms_mutex = 0;
	l->ms_flags = 4;
	l->ms_fastbins = 0x10;
	l->ms_top = 0x60;
	l->ms_bins = 0x70;
	l->ms_next = 0x870;
	l->ms_next_free = 0x878;
	l->ms_attached_threads = 0x880;
	l->ms_system_mem = 0x888;
	l->ms_size = 0x898;
	l->nfastbins = 10;
	l->hi_ar_ptr = 0;
	l->hi_prev = 8;
	l->hi_size = 0x10;
	l->hi_mprotect_size = 0x18;
	l->hi_sizeof = 0x30;
	l->mp_hp_pagesize = 0x30;
	l->mp_n_mmaps = 0x3c;
	l->mp_mmapped_mem = 0x50;
	l->mp_sbrk_base = 0x60;
	l->mp_tcache_count = 0x78;
	l->mp_size = 0x88;
	l->tc_count_size = 2;
	l->tc_entries = 128;
	l->tc_sizeof = 640;
	l->safe_linking = 1;
	l->main_arena_addr = SYNTH_MAIN_ARENA;
	l->mp_addr = SYNTH_MP;
	/*
	 * The walk takes the tcache pointers as arguments; the TLS slot only
	 * has to say "this glibc has a tcache" (TCACHE_TLS_NONE would make
	 * the walk treat mp_.tcache_count as 0).
	 */
	l->tcache_tls = TCACHE_TLS_OFFSET;
	l->tcache_tpoff = -0x48;
	l->source = LA_LAYOUT_DWARF;
	snprintf(l->glibc_version, sizeof(l->glibc_version), "2.36");
}

struct synth_region *
synth_add_region(struct synth *s, uint64_t addr, size_t len)
{
	struct synth_region *r;

	if (s->nr == SYNTH_MAX_REGIONS)
		die("too many regions", addr);
	for (unsigned i = 0; i < s->nr; i++)
		if (addr < s->r[i].addr + s->r[i].len &&
		    s->r[i].addr < addr + len)
			die("overlapping region", addr);
	r = &s->r[s->nr];
	r->buf = calloc(1, len ? len : 1);
	if (!r->buf)
		die("out of memory for a region", addr);
	r->addr = addr;
	r->len = len;
	s->nr++;
	return r;
}

struct synth_region *
synth_region_at(struct synth *s, uint64_t addr)
{
	for (unsigned i = 0; i < s->nr; i++)
		if (addr >= s->r[i].addr && addr - s->r[i].addr < s->r[i].len)
			return &s->r[i];
	return NULL;
}

/* Host address of [addr, addr + len), which must lie in one region. */
static unsigned char *
host(struct synth *s, uint64_t addr, size_t len)
{
	struct synth_region *r = synth_region_at(s, addr);

	if (!r || addr - r->addr + len > r->len)
		die("no region holds", addr);
	return r->buf + (addr - r->addr);
}

void
synth_w64(struct synth *s, uint64_t addr, uint64_t v)
{
	memcpy(host(s, addr, 8), &v, 8);
}

uint64_t
synth_r64(struct synth *s, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, host(s, addr, 8), 8);
	return v;
}

void
synth_w16(struct synth *s, uint64_t addr, uint16_t v)
{
	memcpy(host(s, addr, 2), &v, 2);
}

static uint16_t
r16(struct synth *s, uint64_t addr)
{
	uint16_t v;

	memcpy(&v, host(s, addr, 2), 2);
	return v;
}

static void
w32(struct synth *s, uint64_t addr, uint32_t v)
{
	memcpy(host(s, addr, 4), &v, 4);
}

struct memsrc *
synth_memsrc(const struct synth *s)
{
	struct memsrc *mem;

	if (memsrc_buf_new(&mem))
		die("memsrc_buf_new failed", 0);
	for (unsigned i = 0; i < s->nr; i++)
		if (memsrc_buf_add(mem, s->r[i].addr, s->r[i].buf, s->r[i].len))
			die("memsrc_buf_add failed", s->r[i].addr);
	return mem;
}

uint64_t
synth_bin_at(const struct synth *s, unsigned ai, unsigned bin)
{
	/* malloc.c bin_at(): a fake chunk whose fd/bk overlay bins[2i-2..] */
	return s->a[ai].addr + s->l.ms_bins + (uint64_t)(bin - 1) * 16 - 16;
}

uint64_t
synth_smallbin(uint64_t size)
{
	if (size < MINSIZE || size >= 1024)
		die("not a small-bin size", size);
	return size >> 4;
}

uint64_t
synth_protect(const struct synth *s, uint64_t pos, uint64_t p)
{
	/* malloc.c PROTECT_PTR (glibc >= 2.32) */
	return s->protect ? (pos >> 12) ^ p : p;
}

/* malloc_init_state(): empty bins; non-main arenas are noncontiguous. */
static void
init_arena(struct synth *s, uint64_t a, int is_main)
{
	const struct malloc_layout *l = &s->l;

	for (unsigned i = 1; i < NBINS; i++) {
		uint64_t b = a + l->ms_bins + (uint64_t)(i - 1) * 16 - 16;

		synth_w64(s, b + 16, b);
		synth_w64(s, b + 24, b);
	}
	w32(s, a + l->ms_mutex, 0);
	w32(s, a + l->ms_flags, is_main ? 0 : NONCONTIGUOUS_BIT);
	synth_w64(s, a + l->ms_attached_threads, 1);
}

void
synth_init(struct synth *s, uint64_t heap_len)
{
	const struct malloc_layout *l = &s->l;
	struct synth_arena *m;

	memset(s, 0, sizeof(*s));
	synth_layout(&s->l);
	s->protect = 1;
	synth_add_region(s, SYNTH_MAIN_ARENA, l->ms_size);
	synth_add_region(s, SYNTH_MP, l->mp_size);
	synth_add_region(s, SYNTH_SBRK_BASE, heap_len);

	init_arena(s, SYNTH_MAIN_ARENA, 1);
	synth_w64(s, SYNTH_MAIN_ARENA + l->ms_next, SYNTH_MAIN_ARENA);

	/* malloc.c:1929 mp_ initializer, after ptmalloc_init and one sbrk */
	synth_w64(s, SYNTH_MP + MP_TRIM_THRESHOLD, 0x20000);
	synth_w64(s, SYNTH_MP + MP_TOP_PAD, 0x20000);
	synth_w64(s, SYNTH_MP + MP_MMAP_THRESHOLD, 0x20000);
	synth_w64(s, SYNTH_MP + MP_ARENA_TEST, 8);
	w32(s, SYNTH_MP + MP_N_MMAPS_MAX, 65536);
	synth_w64(s, SYNTH_MP + l->mp_sbrk_base, SYNTH_SBRK_BASE);
	synth_w64(s, SYNTH_MP + MP_TCACHE_BINS, TCACHE_MAX_BINS);
	synth_w64(s, SYNTH_MP + MP_TCACHE_MAX_BYTES, 0x408);
	synth_w64(s, SYNTH_MP + l->mp_tcache_count, 7);

	m = &s->a[0];
	m->addr = SYNTH_MAIN_ARENA;
	m->cursor = SYNTH_SBRK_BASE; /* already 16-aligned: no front pad */
	m->seg_end = SYNTH_SBRK_BASE + heap_len;
	m->system_mem = heap_len;
	s->na = 1;
}

void
synth_free(struct synth *s)
{
	for (unsigned i = 0; i < s->nr; i++)
		free(s->r[i].buf);
	free(s->c);
	memset(s, 0, sizeof(*s));
}

static void
record(struct synth *s, unsigned ai, uint64_t addr, uint64_t size,
       enum chunk_kind kind)
{
	struct synth_arena *a = &s->a[ai];

	if (s->nc == s->cap) {
		unsigned ncap = s->cap ? s->cap * 2 : 64;
		struct synth_chunk *nc = realloc(s->c, ncap * sizeof(*nc));

		if (!nc)
			die("out of memory for the chunk list", addr);
		s->c = nc;
		s->cap = ncap;
	}
	s->c[s->nc++] = (struct synth_chunk){ addr, size, ai, kind };
	a->t.chunks[kind]++;
	a->t.bytes[kind] += size;
}

/*
 * Append a chunk header: PREV_INUSE unless the previous chunk sits in a
 * bin, whose size then goes to prev_size (malloc.c set_foot). Chunks that
 * _int_malloc() handed out of a thread arena carry NON_MAIN_ARENA (tcache
 * and fastbin chunks keep it); bin chunks, top and fenceposts do not.
 */
static uint64_t
put_chunk(struct synth *s, unsigned ai, uint64_t size, enum chunk_kind kind,
	  int handed_out)
{
	struct synth_arena *a = &s->a[ai];
	uint64_t p = a->cursor, hdr = size;

	if (ai >= s->na || size & MALLOC_ALIGN_MASK || p + size > a->seg_end ||
	    p + size < p)
		die("chunk does not fit", p);
	if (a->prev_free)
		synth_w64(s, p, a->prev_free);
	else
		hdr |= PREV_INUSE;
	if (a->heap && handed_out)
		hdr |= NON_MAIN_ARENA;
	synth_w64(s, p + 8, hdr);
	a->prev_free = 0;
	a->cursor = p + size;
	if (kind != CHUNK_TOP)
		record(s, ai, p, size, kind);
	return p;
}

uint64_t
synth_inuse(struct synth *s, unsigned ai, uint64_t size)
{
	uint64_t p = put_chunk(s, ai, size, CHUNK_IN_USE, 1);
	size_t fill = size - 16 < 64 ? (size_t)(size - 16) : 64;

	/* User data that is no pointer the walk could follow. */
	memset(host(s, p + 16, fill), 0x41, fill);
	return p;
}

uint64_t
synth_tcache_struct(struct synth *s, unsigned ai)
{
	uint64_t p = put_chunk(s, ai, SYNTH_TCACHE_CHUNK, CHUNK_META, 1);

	if (s->ntc == SYNTH_MAX_TCACHES)
		die("too many tcaches", p);
	memset(host(s, p + 16, SYNTH_TCACHE_CHUNK - 16), 0,
	       SYNTH_TCACHE_CHUNK - 16);
	s->tcaches[s->ntc++] = p + 16;
	return p + 16;
}

/* malloc.c tcache_put(): e->next = PROTECT_PTR(&e->next, head). */
uint64_t
synth_tcache_put(struct synth *s, unsigned ai, uint64_t tcache, uint64_t size)
{
	uint64_t tidx = (size - 17) / 16;
	uint64_t counts = tcache + tidx * 2;
	uint64_t entries = tcache + s->l.tc_entries + tidx * 8;
	uint64_t p, e;

	if (size < MINSIZE || tidx >= TCACHE_MAX_BINS)
		die("not a tcache size", size);
	p = put_chunk(s, ai, size, CHUNK_TCACHE, 1);
	e = p + 16;
	synth_w64(s, e, synth_protect(s, e, synth_r64(s, entries)));
	synth_w64(s, e + 8, SYNTH_TCACHE_KEY);
	synth_w64(s, entries, e);
	synth_w16(s, counts, (uint16_t)(r16(s, counts) + 1));
	return p;
}

/* malloc.c _int_free() fastbin push: p->fd = PROTECT_PTR(&p->fd, old). */
uint64_t
synth_fast_put(struct synth *s, unsigned ai, uint64_t size)
{
	uint64_t idx = (size >> 4) - 2;
	uint64_t fb = s->a[ai].addr + s->l.ms_fastbins + idx * 8;
	uint64_t p;

	if (size < MINSIZE || idx >= s->l.nfastbins)
		die("not a fastbin size", size);
	p = put_chunk(s, ai, size, CHUNK_FASTBIN, 1);
	synth_w64(s, p + 16, synth_protect(s, p + 16, synth_r64(s, fb)));
	synth_w64(s, fb, p);
	w32(s, s->a[ai].addr + MS_HAVE_FASTCHUNKS, 1);
	return p;
}

/* Insert at the front of a bin, as _int_free() does for unsorted. */
uint64_t
synth_bin_put(struct synth *s, unsigned ai, uint64_t size, unsigned bin)
{
	uint64_t b = synth_bin_at(s, ai, bin), fwd, p;

	if (bin < 1 || bin >= NBINS)
		die("no such bin", bin);
	p = put_chunk(s, ai, size, CHUNK_BIN, 0);
	fwd = synth_r64(s, b + 16);
	synth_w64(s, p + 16, fwd);
	synth_w64(s, p + 24, b);
	synth_w64(s, fwd + 24, p);
	synth_w64(s, b + 16, p);
	s->a[ai].prev_free = size;
	return p;
}

uint64_t
synth_top(struct synth *s, unsigned ai)
{
	struct synth_arena *a = &s->a[ai];
	uint64_t p = put_chunk(s, ai, a->seg_end - a->cursor, CHUNK_TOP, 0);
	uint64_t size = a->seg_end - p;

	a->top = p;
	a->t.chunks[CHUNK_TOP] = 1;
	a->t.bytes[CHUNK_TOP] = size;
	synth_w64(s, a->addr + s->l.ms_top, p);
	synth_w64(s, a->addr + s->l.ms_system_mem, a->system_mem);
	synth_w64(s, a->addr + MS_MAX_SYSTEM_MEM, a->system_mem);
	return p;
}

static void
put_heap_info(struct synth *s, uint64_t h, uint64_t ar_ptr, uint64_t prev,
	      uint64_t len)
{
	const struct malloc_layout *l = &s->l;

	synth_w64(s, h + l->hi_ar_ptr, ar_ptr);
	synth_w64(s, h + l->hi_prev, prev);
	synth_w64(s, h + l->hi_size, len);
	synth_w64(s, h + l->hi_mprotect_size, len);
	synth_w64(s, h + HI_PAGESIZE, 4096);
}

unsigned
synth_thread_arena(struct synth *s, uint64_t heap_addr, uint64_t heap_len)
{
	const struct malloc_layout *l = &s->l;
	struct synth_arena *a;
	uint64_t ar = heap_addr + l->hi_sizeof, first;

	if (s->na == SYNTH_MAX_ARENAS || heap_addr & (HEAP_MAX_DEFAULT - 1))
		die("cannot add a thread arena", heap_addr);
	synth_add_region(s, heap_addr, heap_len);
	put_heap_info(s, heap_addr, ar, 0, heap_len);
	init_arena(s, ar, 0);
	/* arena.c _int_new_arena(): inserted right after main_arena */
	synth_w64(s, ar + l->ms_next,
		  synth_r64(s, SYNTH_MAIN_ARENA + l->ms_next));
	synth_w64(s, SYNTH_MAIN_ARENA + l->ms_next, ar);

	/* The first chunk: chunk2mem 16-aligned after the arena (0x8d0). */
	first = ar + l->ms_size;
	first += (16 - ((first + CHUNK_HDR_SZ) & MALLOC_ALIGN_MASK)) &
		 MALLOC_ALIGN_MASK;
	a = &s->a[s->na];
	memset(a, 0, sizeof(*a));
	a->addr = ar;
	a->heap = heap_addr;
	a->cursor = first;
	a->seg_end = heap_addr + heap_len;
	a->system_mem = heap_len;
	record(s, s->na, heap_addr, first - heap_addr, CHUNK_META);
	return s->na++;
}

void
synth_grow_heap(struct synth *s, unsigned ai, uint64_t heap_addr,
		uint64_t heap_len)
{
	const struct malloc_layout *l = &s->l;
	struct synth_arena *a = &s->a[ai];
	uint64_t rest, fence;

	if (!a->heap || a->seg_end - a->cursor < 2 * CHUNK_HDR_SZ + MINSIZE)
		die("cannot grow this heap", a->cursor);
	/* malloc.c sysmalloc(): the old top minus two fenceposts is freed */
	rest = a->seg_end - 2 * CHUNK_HDR_SZ - a->cursor;
	synth_bin_put(s, ai, rest, SYNTH_UNSORTED);
	fence = put_chunk(s, ai, CHUNK_HDR_SZ, CHUNK_META, 0);
	synth_w64(s, fence + CHUNK_HDR_SZ, CHUNK_HDR_SZ);
	synth_w64(s, fence + CHUNK_HDR_SZ + 8, 0 | PREV_INUSE);
	record(s, ai, fence + CHUNK_HDR_SZ, CHUNK_HDR_SZ, CHUNK_META);

	synth_add_region(s, heap_addr, heap_len);
	put_heap_info(s, heap_addr, a->addr, a->heap, heap_len);
	record(s, ai, heap_addr, l->hi_sizeof, CHUNK_META);
	a->heap = heap_addr;
	a->cursor = heap_addr + l->hi_sizeof;
	a->seg_end = heap_addr + heap_len;
	a->prev_free = 0;
	a->system_mem += heap_len;
}

void
synth_mallinfo(const struct synth *s, struct la_mallinfo *mi)
{
	memset(mi, 0, sizeof(*mi));
	for (unsigned i = 0; i < s->na; i++) {
		const struct synth_arena *a = &s->a[i];

		mi->arena += a->system_mem;
		mi->ordblks += 1 + a->t.chunks[CHUNK_BIN];
		mi->smblks += a->t.chunks[CHUNK_FASTBIN];
		mi->fsmblks += a->t.bytes[CHUNK_FASTBIN];
		mi->fordblks += a->t.bytes[CHUNK_TOP] +
				a->t.bytes[CHUNK_FASTBIN] +
				a->t.bytes[CHUNK_BIN];
	}
	mi->uordblks = mi->arena - mi->fordblks;
	mi->keepcost = s->a[0].t.bytes[CHUNK_TOP];
	/* no mmapped chunks: hblks = hblkhd = 0; usmblks is always 0 */
}
