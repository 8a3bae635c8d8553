/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_heapwalk.c - libFuzzer harness for the heap walk (glibc_heap_walk +
 * snapshot_finish) over corrupt glibc 2.36 heaps served by the
 * buffer-backed memory source. See tests/fuzz/README.md.
 *
 * Structure-aware: a valid base heap is built with tests/unit/synthheap
 * (main arena, optionally thread arenas of one or two heaps, tcaches,
 * fastbins, small/large/unsorted bins, mmapped chunks), then the input
 * corrupts it. Input format (every field optional: a short input reads
 * zeros):
 *
 *   byte 0   mode: (mode & 0xc0) == 0xc0 is raw mode, else structured
 *   byte 1   base variant (VAR_* bits)
 *   byte 2   layout switches (safe_linking, tc_count_size, version, ...)
 *   byte 3   nfastbins ((b & 0x7f) % 11); bit 7: repair. After the
 *            corruptions a first walk (not checked) says what each arena's
 *            chunks add up to, system_mem and mp_'s mmap counters are set
 *            to that, and the second walk is checked: corruptions that
 *            add up are what a walk can wrongly call consistent.
 *
 * structured: then operations until the input ends, each an opcode byte
 *   (kind = op % NOPS, target = op / NOPS) and its operands; targets are
 *   the arena structs, mp_, each heap buffer, the tcache structs and the
 *   mmapped region (struct target). Besides words, pointers, sizes,
 *   counts, truncations and bit flips at offsets of a target, some
 *   operations know the base's chunks: edit the size of chunk n (0, 16,
 *   +-k*16, a flag, another chunk's size), write the distance between two
 *   points (chunk addresses, region starts and ends: a system_mem that
 *   adds up), or a point as a pointer. See apply_op().
 * raw, mode & 1 == 0: bytes 4-5 give main_arena.top = sbrk_base + 16 * n,
 *   the rest of the input IS the main heap buffer (system_mem = its length).
 * raw, mode & 1 == 1: the rest of the input IS the first heap of thread
 *   arena 1 (heap_info, malloc_state, chunks; the arena list of the base
 *   points into it).
 *
 * Every region is handed to the memory source as an exact-size heap copy,
 * so that any read past a (truncated) region is an ASan error. Then:
 *   - no crash, no sanitizer report, no leak, no hang (-timeout);
 *   - an error is -LA_EHEAPCORRUPT (or -ENOMEM); an inconsistent walk
 *     says why;
 *   - a walk reported consistent satisfies the snapshot's invariants
 *     (check_consistent()); a violated one prints "INVARIANT <name>" and
 *     aborts, which libFuzzer records as a crash.
 *
 * Environment: LA_FUZZ_VERBOSE=1 prints the base, every write (as
 * synth_w64()-style lines for a unit test) and the walk's result;
 * LA_FUZZ_IGNORE=name,name skips invariants already reported.
 *
 * Built with -DFUZZ_MKSEEDS instead of -fsanitize=fuzzer, main() writes
 * the seed corpus to the directory given as argv[1].
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glibc/glibc_heap.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "snapshot.h"
#include "synthheap.h"

/* ----- the base heaps ---------------------------------------------------- */

#define MAIN_HEAP_LEN 0x2000u
#define THREAD_HEAP_LEN 0x1800u
#define THREAD_HEAP2 (SYNTH_THREAD_HEAP + HEAP_MAX_DEFAULT)
#define THREAD_HEAP2_LEN 0x1000u
#define OTHER_HEAP (SYNTH_THREAD_HEAP - 4ull * HEAP_MAX_DEFAULT)
#define OTHER_HEAP_LEN 0x1000u
#define MMAP_BASE 0x7ffff7a00000ull
#define MMAP_LEN 0x5000u

enum {
	VAR_MAIN_FULL = 1 << 0,	   /* every kind of free chunk in main */
	VAR_THREAD = 1 << 1,	   /* thread arena 1 */
	VAR_GROWN = 1 << 2,	   /* ... with a second heap */
	VAR_OTHER = 1 << 3,	   /* thread arena 2, nearly empty */
	VAR_MMAP = 1 << 4,	   /* two mmapped chunks and their mapping */
	VAR_RAW_LINKS = 1 << 5,	   /* builder without safe-linking */
	VAR_FULL_TCACHE = 1 << 6,  /* a tcache bin at the limit (7) */
	VAR_TCACHE_EXTRA = 1 << 7, /* thread 1's tcache passed twice */
};

enum {
	T_MAIN_ARENA,
	T_MP,
	T_MAIN_HEAP,
	T_MAIN_TCACHE,
	T_THREAD_HEAP,
	T_THREAD_ARENA,
	T_THREAD_HEAP2,
	T_THREAD_TCACHE,
	T_OTHER_HEAP,
	T_MMAP,
	NTARGETS
};

static const char *const target_name[NTARGETS] = {
	"main_arena", "mp_",	      "main heap",     "main tcache",
	"thread heap", "thread arena", "thread heap 2", "thread tcache",
	"other heap",  "mmap region",
};

struct target {
	uint64_t base, len; /* len 0: absent in this variant */
};

struct base {
	struct synth s;
	struct target t[NTARGETS];
	unsigned variant;
	uint64_t tcaches[SYNTH_MAX_TCACHES + 4];
	unsigned ntc;
	uint64_t stacks[4];
	unsigned nstacks;
	size_t orig_len[SYNTH_MAX_REGIONS];
	/* chunks of the base (tops last), and points: chunks, region ends */
	uint64_t chunk[128], pts[160];
	unsigned nchunk, npts;
};

static void
w32(struct synth *s, uint64_t addr, uint32_t v)
{
	struct synth_region *r = synth_region_at(s, addr);

	memcpy(r->buf + (addr - r->addr), &v, 4);
}

static void
build_base(struct base *b, unsigned variant)
{
	struct synth *s = &b->s;
	uint64_t tc;

	memset(b, 0, sizeof(*b));
	b->variant = variant;
	synth_init(s, MAIN_HEAP_LEN);
	if (variant & VAR_RAW_LINKS)
		s->protect = 0;
	b->t[T_MAIN_ARENA] = (struct target){SYNTH_MAIN_ARENA, s->l.ms_size};
	b->t[T_MP] = (struct target){SYNTH_MP, s->l.mp_size};
	b->t[T_MAIN_HEAP] = (struct target){SYNTH_SBRK_BASE, MAIN_HEAP_LEN};

	tc = synth_tcache_struct(s, 0);
	b->t[T_MAIN_TCACHE] = (struct target){tc, s->l.tc_sizeof};
	synth_inuse(s, 0, 0x30);
	if (variant & VAR_MAIN_FULL) {
		synth_tcache_put(s, 0, tc, 0x20);
		synth_tcache_put(s, 0, tc, 0x20);
		synth_inuse(s, 0, 0x40);
		synth_tcache_put(s, 0, tc, 0x90);
		synth_fast_put(s, 0, 0x20);
		synth_fast_put(s, 0, 0x20);
		synth_fast_put(s, 0, 0x50);
		synth_inuse(s, 0, 0x100);
		synth_bin_put(s, 0, 0x110, (unsigned)synth_smallbin(0x110));
		synth_inuse(s, 0, 0x20);
		synth_bin_put(s, 0, 0x500, SYNTH_UNSORTED);
		synth_inuse(s, 0, 0x30);
		synth_bin_put(s, 0, 0x110, (unsigned)synth_smallbin(0x110));
		synth_inuse(s, 0, 0x420);
		/* malloc.c largebin_index_64(0x600) = 48 + (0x600 >> 6) */
		synth_bin_put(s, 0, 0x600, 48 + (0x600 >> 6));
		synth_inuse(s, 0, 0x30);
	}
	if (variant & VAR_FULL_TCACHE) {
		for (int i = 0; i < 7; i++)
			synth_tcache_put(s, 0, tc, 0x40);
		synth_inuse(s, 0, 0x20);
	}
	synth_top(s, 0);

	if (variant & (VAR_THREAD | VAR_GROWN)) {
		unsigned ta = synth_thread_arena(s, SYNTH_THREAD_HEAP,
						 THREAD_HEAP_LEN);
		uint64_t ttc = synth_tcache_struct(s, ta);

		b->t[T_THREAD_HEAP] =
			(struct target){SYNTH_THREAD_HEAP, THREAD_HEAP_LEN};
		b->t[T_THREAD_ARENA] =
			(struct target){s->a[ta].addr, s->l.ms_size};
		b->t[T_THREAD_TCACHE] = (struct target){ttc, s->l.tc_sizeof};
		synth_inuse(s, ta, 0x50);
		synth_tcache_put(s, ta, ttc, 0x30);
		synth_inuse(s, ta, 0x80);
		synth_fast_put(s, ta, 0x40);
		synth_inuse(s, ta, 0x30);
		synth_bin_put(s, ta, 0x200, (unsigned)synth_smallbin(0x200));
		synth_inuse(s, ta, 0x60);
		if (variant & VAR_GROWN) {
			synth_grow_heap(s, ta, THREAD_HEAP2, THREAD_HEAP2_LEN);
			b->t[T_THREAD_HEAP2] =
				(struct target){THREAD_HEAP2, THREAD_HEAP2_LEN};
			synth_inuse(s, ta, 0x200);
			synth_fast_put(s, ta, 0x30);
			synth_inuse(s, ta, 0x40);
			synth_tcache_put(s, ta, ttc, 0x20);
		}
		synth_top(s, ta);
		if (variant & VAR_TCACHE_EXTRA)
			b->tcaches[b->ntc++] = ttc;
	}
	if (variant & VAR_OTHER) {
		unsigned oa = synth_thread_arena(s, OTHER_HEAP, OTHER_HEAP_LEN);

		b->t[T_OTHER_HEAP] = (struct target){OTHER_HEAP, OTHER_HEAP_LEN};
		synth_tcache_struct(s, oa);
		synth_inuse(s, oa, 0x40);
		synth_top(s, oa);
	}
	if (variant & VAR_MMAP) {
		synth_add_region(s, MMAP_BASE, MMAP_LEN);
		b->t[T_MMAP] = (struct target){MMAP_BASE, MMAP_LEN};
		/* malloc.c sysmalloc_mmap(): prev_size 0, size | IS_MMAPPED */
		synth_w64(s, MMAP_BASE + 8, 0x2000 | IS_MMAPPED);
		synth_w64(s, MMAP_BASE + 0x2000 + 8, 0x3000 | IS_MMAPPED);
		w32(s, SYNTH_MP + s->l.mp_n_mmaps, 2);
		synth_w64(s, SYNTH_MP + s->l.mp_mmapped_mem, MMAP_LEN);
	}
	for (unsigned i = 0; i < s->ntc; i++)
		b->tcaches[b->ntc++] = s->tcaches[i];
	for (unsigned i = 0; i < s->nr; i++)
		b->orig_len[i] = s->r[i].len;
	for (unsigned i = 0; i < s->nc && b->nchunk < 120; i++)
		b->chunk[b->nchunk++] = s->c[i].addr;
	for (unsigned i = 0; i < s->na; i++)
		if (s->a[i].top)
			b->chunk[b->nchunk++] = s->a[i].top;
	for (unsigned i = 0; i < b->nchunk; i++)
		b->pts[b->npts++] = b->chunk[i];
	for (unsigned i = 0; i < NTARGETS; i++)
		if (b->t[i].len) {
			b->pts[b->npts++] = b->t[i].base;
			b->pts[b->npts++] = b->t[i].base + b->t[i].len;
		}
}

/* ----- reading the input ------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t
get(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		if (!in->n)
			break;
		v |= (uint64_t)*in->p << (8 * i);
		in->p++;
		in->n--;
	}
	return v;
}

static int verbose;
static char ignore[256];

static void
vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
vlog(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ----- the corruptions --------------------------------------------------- */

/* Host bytes of [addr, addr + n) if one region's full buffer holds them. */
static unsigned char *
hostp(struct base *b, uint64_t addr, size_t n)
{
	for (unsigned i = 0; i < b->s.nr; i++) {
		struct synth_region *r = &b->s.r[i];

		if (addr >= r->addr && addr - r->addr < b->orig_len[i] &&
		    b->orig_len[i] - (addr - r->addr) >= n)
			return r->buf + (addr - r->addr);
	}
	return NULL;
}

static void
put(struct base *b, uint64_t addr, uint64_t v, unsigned n, const char *why)
{
	unsigned char *h = hostp(b, addr, n);

	if (!h)
		return;
	memcpy(h, &v, n);
	vlog("\tsynth_w%u(&s, %#llxull, %#llxull); /* %s */\n", 8 * n,
	     (unsigned long long)addr, (unsigned long long)v, why);
}

static uint64_t
getv(struct base *b, uint64_t addr)
{
	unsigned char *h = hostp(b, addr, 8);
	uint64_t v = 0;

	if (h)
		memcpy(&v, h, 8);
	return v;
}

/* A present target, chosen by sel. */
static const struct target *
pick(const struct base *b, unsigned sel, unsigned *idx)
{
	unsigned present[NTARGETS], n = 0;

	for (unsigned i = 0; i < NTARGETS; i++)
		if (b->t[i].len)
			present[n++] = i;
	*idx = present[sel % n];
	return &b->t[*idx];
}

/* An address inside target t at off: 16-aligned unless bit 15 is set. */
static uint64_t
point(const struct target *t, uint64_t off)
{
	uint64_t o = (off & 0x7fff) % t->len;

	return t->base + ((off & 0x8000) ? o : (o & ~15ull));
}

enum {
	OP_W64,	    /* off16 val64: a raw word */
	OP_PTR,	    /* off16 sel8 off16: a pointer into a target */
	OP_PROT,    /* off16 sel8 off16: the same, safe-linked at its slot */
	OP_SIZE,    /* off16 v16: a chunk size ((v >> 3) << 4 | v & 7) */
	OP_W16,	    /* off16 v16: a tcache count, a mutex, flags */
	OP_TRUNC,   /* len16: truncate the target's region to len16 * 4 */
	OP_ADD,	    /* off16 d16: add a signed delta to a word */
	OP_COPY,    /* off16 sel8 off16: copy a word from another target */
	OP_EXTRA,   /* off16 what8: pass another tcache or thread pointer */
	OP_FLIP,    /* off16 bit8: flip one bit of a word */
	OP_CHUNK,   /* off16 what8: edit the size of base chunk off16 */
	OP_DIFF,    /* off16 a8 b8: the distance between two points */
	OP_POINT,   /* off16 sel8 how8: a chunk or region address */
	NOPS
};

static void
apply_op(struct base *b, struct in *in)
{
	unsigned op = (unsigned)get(in, 1), ti, t2i;
	const struct target *t = pick(b, op / NOPS, &ti), *t2;
	uint64_t off = get(in, 2), a = t->base + ((off % t->len) & ~7ull);
	uint64_t v, sel, off2;
	char why[64];

	snprintf(why, sizeof(why), "%s + %#llx", target_name[ti],
		 (unsigned long long)(a - t->base));
	switch (op % NOPS) {
	case OP_W64:
		put(b, a, get(in, 8), 8, why);
		break;
	case OP_PTR:
	case OP_PROT:
	case OP_COPY:
		sel = get(in, 1);
		off2 = get(in, 2);
		t2 = pick(b, (unsigned)sel, &t2i);
		if (op % NOPS == OP_COPY) {
			v = getv(b, t2->base + ((off2 % t2->len) & ~7ull));
		} else {
			v = point(t2, off2);
			if (op % NOPS == OP_PROT)
				v ^= a >> 12;
		}
		put(b, a, v, 8, why);
		break;
	case OP_SIZE:
		v = get(in, 2);
		put(b, a + 8 * (v >> 15), ((v & 0x7ff8) << 1) | (v & 7), 8,
		    why);
		break;
	case OP_W16:
		put(b, t->base + ((off % t->len) & ~1ull), get(in, 2), 2, why);
		break;
	case OP_TRUNC:
		for (unsigned i = 0; i < b->s.nr; i++) {
			struct synth_region *r = &b->s.r[i];

			if (t->base >= r->addr &&
			    t->base - r->addr < b->orig_len[i]) {
				r->len = (size_t)((off * 4) % (b->orig_len[i] + 1));
				vlog("\tsynth_region_at(&s, %#llxull)->len = %#zx;\n",
				     (unsigned long long)r->addr, r->len);
			}
		}
		break;
	case OP_ADD:
		v = getv(b, a) + (uint64_t)(int64_t)(int16_t)get(in, 2);
		put(b, a, v, 8, why);
		break;
	case OP_EXTRA:
		sel = get(in, 1);
		v = point(t, off);
		if ((sel & 1) && b->ntc < sizeof(b->tcaches) / 8) {
			b->tcaches[b->ntc++] = v;
			vlog("\t/* extra tcache pointer %#llx */\n",
			     (unsigned long long)v);
		} else if (!(sel & 1) && b->nstacks < 4) {
			b->stacks[b->nstacks++] = v;
			vlog("\t/* thread pointer %#llx */\n",
			     (unsigned long long)v);
		}
		break;
	case OP_FLIP:
		v = getv(b, a) ^ (1ull << (get(in, 1) & 63));
		put(b, a, v, 8, why);
		break;
	case OP_CHUNK: {
		/* the target only picked the opcode; off16 picks the chunk */
		uint64_t p = b->chunk[off % b->nchunk], old = getv(b, p + 8);
		unsigned what = (unsigned)get(in, 1);
		int64_t d = (int8_t)what >> 3;

		snprintf(why, sizeof(why), "chunk %#llx: %u",
			 (unsigned long long)p, what & 7);
		switch (what & 7) {
		case 0: v = old & SIZE_BITS; break;
		case 1: v = CHUNK_HDR_SZ | (old & SIZE_BITS); break;
		case 2: v = old + (uint64_t)(d * 16); break;
		case 3: v = old ^ PREV_INUSE; break;
		case 4: v = old ^ IS_MMAPPED; break;
		case 5: v = old ^ NON_MAIN_ARENA; break;
		case 6:
			v = (getv(b, b->chunk[(what >> 3) % b->nchunk] + 8) &
			     ~(uint64_t)SIZE_BITS) | (old & SIZE_BITS);
			break;
		default: /* cut its list (fd = 0), or link it to itself */
			if (what & 8) {
				put(b, p + 16, p, 8, why);
				put(b, p + 24, p, 8, why);
			} else {
				put(b, p + 16, 0, 8, why);
			}
			return;
		}
		put(b, p + 8, v, 8, why);
		break;
	}
	case OP_DIFF:
		sel = get(in, 1);
		v = b->pts[sel % b->npts] - b->pts[get(in, 1) % b->npts];
		put(b, a, v, 8, why);
		break;
	case OP_POINT:
		sel = get(in, 1);
		off2 = get(in, 1); /* how */
		v = b->pts[sel % b->npts] + (off2 & 1 ? 16 : 0) +
		    (off2 & 4 ? 8 : 0);
		if (off2 & 2)
			v ^= a >> 12;
		put(b, a, v, 8, why);
		break;
	}
}

/* Replace the buffer of the region at addr with n input bytes. */
static void
raw_region(struct base *b, uint64_t addr, const uint8_t *p, size_t n)
{
	for (unsigned i = 0; i < b->s.nr; i++) {
		struct synth_region *r = &b->s.r[i];

		if (r->addr != addr)
			continue;
		free(r->buf);
		r->buf = malloc(n ? n : 1);
		if (!r->buf)
			abort();
		memcpy(r->buf, p, n);
		r->len = n;
		b->orig_len[i] = n;
	}
}

/* ----- what the walk must satisfy ---------------------------------------- */

struct visit {
	uint64_t addr, size;
	unsigned arena;
	enum chunk_kind kind;
};

struct ctx {
	struct la_snapshot *snap;
	uint64_t sbrk_base, heap_max; /* as the walk will see them */
	struct visit *v;
	size_t n, cap;
	int overflow;
};

static void
visit_fn(void *arg, unsigned arena, uint64_t addr, uint64_t size,
	 enum chunk_kind kind)
{
	struct ctx *c = arg;

	snapshot_visit(c->snap, arena, addr, size, kind);
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct visit *nv;

		if (ncap > (1u << 22)) {
			c->overflow = 1;
			return;
		}
		nv = realloc(c->v, ncap * sizeof(*nv));
		if (!nv)
			abort();
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = (struct visit){addr, size, arena, kind};
}

static int failed;

static void
check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;
	char pat[64];

	if (ok)
		return;
	snprintf(pat, sizeof(pat), ",%s,", name);
	if (strstr(ignore, pat))
		return;
	fprintf(stderr, "INVARIANT %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = 1;
}

/* [addr, addr + len) readable through the regions as handed over. */
static int
readable(const struct base *b, uint64_t addr, uint64_t len)
{
	while (len) {
		unsigned i;

		for (i = 0; i < b->s.nr; i++) {
			const struct synth_region *r = &b->s.r[i];

			if (addr >= r->addr && addr - r->addr < r->len)
				break;
		}
		if (i == b->s.nr)
			return 0;
		{
			const struct synth_region *r = &b->s.r[i];
			uint64_t n = r->len - (addr - r->addr);

			if (n >= len)
				return 1;
			addr += n;
			len -= n;
		}
	}
	return 1;
}

/* A word the walk could read (regions at their handed-over length). */
static int
rd64(const struct base *b, uint64_t addr, uint64_t *v)
{
	unsigned char *out = (unsigned char *)v;

	for (unsigned k = 0; k < 8; k++, addr++) {
		unsigned i;

		for (i = 0; i < b->s.nr; i++) {
			const struct synth_region *r = &b->s.r[i];

			if (addr >= r->addr && addr - r->addr < r->len) {
				out[k] = r->buf[addr - r->addr];
				break;
			}
		}
		if (i == b->s.nr)
			return -1;
	}
	return 0;
}

/*
 * What malloc.c int_mallinfo() counts for the bins of the arena at a: it
 * follows bk from each bin header back to it (bins 1..127). Returns -1
 * when a list does not come back within limit steps or leaves readable
 * memory: glibc itself would loop or fault there.
 */
static int
int_mallinfo_bins(const struct base *b, uint64_t a, int unused,
		  uint64_t limit, uint64_t *n, uint64_t *bytes)
{
	const struct malloc_layout *l = &b->s.l;

	*n = *bytes = 0;
	for (unsigned i = 1; i < NBINS; i++) {
		uint64_t bin = a + l->ms_bins + (uint64_t)(i - 1) * 16 - 16;
		uint64_t p, fd, sz, steps = 0;

		if (rd64(b, bin + 24, &p) || rd64(b, bin + 16, &fd))
			return -1;
		/* main_arena before ptmalloc_init(): static zeros */
		if (unused && !p && !fd)
			continue;
		while (p != bin) {
			if (++steps > limit || rd64(b, p + 8, &sz) ||
			    rd64(b, p + 24, &p))
				return -1;
			++*n;
			*bytes += sz & ~(uint64_t)SIZE_BITS;
		}
	}
	return 0;
}

static int
by_addr(const void *x, const void *y)
{
	const struct visit *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

#define U(x) ((unsigned long long)(x))

static void
check_consistent(const struct base *b, const struct heap_walk *w,
		 const struct la_snapshot *snap, struct ctx *c)
{
	const struct la_mallinfo *mi = &snap->mi;
	const struct la_counts *tc = &snap->totals.counts;
	uint64_t sys = 0, walked = 0, bins = 0, binb = 0, fast = 0, fastb = 0;
	uint64_t kinds = 0, mm_n = 0, mm_b = 0;

	check(w->why[0] == '\0', "why", "consistent, but why = \"%s\"",
	      w->why);
	check(snap->n_arenas == w->n_arena, "n_arenas", "%u arenas, walk %u",
	      snap->n_arenas, w->n_arena);
	for (unsigned i = 0; i < w->n_arena; i++) {
		const struct arena_walk *aw = &w->arena[i];
		const struct la_arena_stats *as = &snap->arenas[i];
		uint64_t sum = 0, tops = 0, topb = 0, meta = 0, nb = 0, nf = 0;
		uint64_t bb = 0, fb = 0;

		for (size_t k = 0; k < c->n; k++) {
			const struct visit *v = &c->v[k];

			if (v->arena != i)
				continue;
			sum += v->size;
			tops += v->kind == CHUNK_TOP;
			topb += v->kind == CHUNK_TOP ? v->size : 0;
			meta += v->kind == CHUNK_META ? v->size : 0;
			nb += v->kind == CHUNK_BIN;
			bb += v->kind == CHUNK_BIN ? v->size : 0;
			nf += v->kind == CHUNK_FASTBIN;
			fb += v->kind == CHUNK_FASTBIN ? v->size : 0;
		}
		check(aw->consistent, "arena_consistent",
		      "arena %u (%#llx) inconsistent in a consistent walk", i,
		      U(aw->addr));
		/* split by cause: an arena taken for unused, or a heap walked */
		check(aw->walked_bytes == aw->system_mem,
		      aw->heaps ? "walked_eq_system_mem" : "unwalked_system_mem",
		      "arena %u (%#llx, %u heaps): walked %llu bytes, system_mem %llu",
		      i, U(aw->addr), aw->heaps, U(aw->walked_bytes),
		      U(aw->system_mem));
		check(sum == aw->walked_bytes, "visits_eq_walked",
		      "arena %u: visits add up to %llu, walked_bytes %llu", i,
		      U(sum), U(aw->walked_bytes));
		check(!aw->heaps || (tops == 1 && topb == aw->top_size),
		      "one_top", "arena %u (%#llx, %u heaps): %llu top chunks "
		      "of %llu bytes, top_size %llu", i, U(aw->addr), aw->heaps,
		      U(tops), U(topb), U(aw->top_size));
		check(aw->heaps || !sum, "no_heap_no_chunks",
		      "arena %u: no heap but %llu bytes of chunks", i, U(sum));
		check(nb == aw->bin_chunks && bb == aw->bin_bytes, "bin_sums",
		      "arena %u: %llu bin chunks (%llu bytes) visited, walk says %llu (%llu)",
		      i, U(nb), U(bb), U(aw->bin_chunks), U(aw->bin_bytes));
		check(nf == aw->fast_chunks && fb == aw->fast_bytes, "fast_sums",
		      "arena %u: %llu fastbin chunks (%llu bytes) visited, walk says %llu (%llu)",
		      i, U(nf), U(fb), U(aw->fast_chunks), U(aw->fast_bytes));
		check(as->counts.meta_bytes == meta, "arena_meta",
		      "arena %u: meta_bytes %llu, visited %llu", i,
		      U(as->counts.meta_bytes), U(meta));
		check(as->counts.top_bytes == topb, "arena_top",
		      "arena %u: top_bytes %llu, visited %llu", i,
		      U(as->counts.top_bytes), U(topb));
		check(as->system_mem == aw->system_mem && as->consistent,
		      "arena_stats", "arena %u stats differ from the walk", i);
		/* mallinfo2 counts the bins by their lists, not the heap */
		{
			uint64_t ln, lb;
			int ok = int_mallinfo_bins(b, aw->addr, !aw->heaps,
						   nb + 1, &ln, &lb);

			check(ok == 0 && ln == aw->bin_chunks &&
				      lb == aw->bin_bytes,
			      aw->heaps ? "mallinfo_bins" : "unused_arena_bins",
			      "arena %u (%#llx, %u heaps): %llu bin chunks (%llu bytes) "
			      "in the heap, int_mallinfo() would count %s%llu (%llu bytes)",
			      i, U(aw->addr), aw->heaps, U(aw->bin_chunks),
			      U(aw->bin_bytes), ok ? "no end, at least " : "",
			      U(ln), U(lb));
		}
		sys += aw->system_mem;
		walked += aw->walked_bytes;
		bins += aw->bin_chunks;
		binb += aw->bin_bytes;
		fast += aw->fast_chunks;
		fastb += aw->fast_bytes;
	}
	for (size_t k = 0; k < c->n; k++) {
		const struct visit *v = &c->v[k];

		check(v->arena == ARENA_NONE ? v->kind == CHUNK_MMAPPED
					     : v->arena < w->n_arena &&
						       v->kind != CHUNK_MMAPPED,
		      "visit_arena", "chunk %#llx: arena %u, kind %d",
		      U(v->addr), v->arena, (int)v->kind);
		check(v->size > 0 && v->addr + v->size > v->addr, "visit_size",
		      "chunk %#llx: size %#llx", U(v->addr), U(v->size));
		/* the walk reads ahead by windows of 1 MiB: smaller heaps */
		check(v->size > (1u << 20) || readable(b, v->addr, v->size),
		      "visit_readable",
		      "chunk %#llx (%#llx bytes, kind %d, arena %u) is not in readable memory",
		      U(v->addr), U(v->size), (int)v->kind, v->arena);
		/*
		 * glibc's metadata chunks: a heap's header (heap_info and
		 * the arena) or the main heap's alignment pad, a tcache
		 * struct, a fencepost. An old heap ends with the 0x10 and
		 * the 0x0 fencepost, 16 bytes each (malloc.c sysmalloc).
		 */
		if (v->kind == CHUNK_META) {
			int tcs = 0;

			for (unsigned t = 0; t < b->ntc; t++)
				tcs |= b->tcaches[t] && v->addr + 16 == b->tcaches[t];
			check(v->size == CHUNK_HDR_SZ || tcs ||
				      v->addr == c->sbrk_base ||
				      !(v->addr & (c->heap_max - 1)),
			      "meta_shape",
			      "metadata chunk %#llx of %#llx bytes (arena %u) is no heap header, tcache struct or fencepost",
			      U(v->addr), U(v->size), v->arena);
		}
		if (v->kind == CHUNK_MMAPPED) {
			mm_n++;
			mm_b += v->size;
		}
	}
	check(mm_n == w->mmapped_chunks && mm_b == w->mmapped_bytes,
	      "mmapped_sums", "%llu mmapped chunks visited, walk says %llu",
	      U(mm_n), U(w->mmapped_chunks));
	check(w->mmapped_chunks == w->mp_n_mmaps &&
		      w->mmapped_bytes == w->mp_mmapped_mem,
	      "mmapped_eq_mp", "mmapped %llu/%llu, mp_ %llu/%llu",
	      U(w->mmapped_chunks), U(w->mmapped_bytes), U(w->mp_n_mmaps),
	      U(w->mp_mmapped_mem));

	/* mallinfo2 */
	check(mi->uordblks + mi->fordblks == mi->arena &&
		      mi->fordblks <= mi->arena,
	      "mallinfo_arena", "uordblks %llu + fordblks %llu != arena %llu",
	      U(mi->uordblks), U(mi->fordblks), U(mi->arena));
	check(mi->arena == sys, "mallinfo_sysmem", "arena %llu, system_mem %llu",
	      U(mi->arena), U(sys));
	check(mi->ordblks == w->n_arena + bins, "mallinfo_ordblks",
	      "ordblks %llu, %u arenas + %llu bin chunks", U(mi->ordblks),
	      w->n_arena, U(bins));
	check(mi->smblks == fast && mi->fsmblks == fastb, "mallinfo_fast",
	      "smblks %llu fsmblks %llu, fastbins %llu %llu", U(mi->smblks),
	      U(mi->fsmblks), U(fast), U(fastb));
	check(mi->hblks == w->mmapped_chunks && mi->hblkhd == w->mmapped_bytes,
	      "mallinfo_mmap", "hblks %llu hblkhd %llu", U(mi->hblks),
	      U(mi->hblkhd));
	check(mi->keepcost == (w->n_arena ? w->arena[0].top_size : 0),
	      "mallinfo_keepcost", "keepcost %llu", U(mi->keepcost));
	check(mi->usmblks == 0, "mallinfo_usmblks", "usmblks %llu",
	      U(mi->usmblks));

	/* totals */
	kinds = tc->in_use_bytes + tc->tcache_bytes + tc->fastbin_bytes +
		tc->bin_bytes + tc->top_bytes + tc->meta_bytes;
	check(kinds == walked + w->mmapped_bytes, "totals_bytes",
	      "kinds add up to %llu, walked %llu + mmapped %llu", U(kinds),
	      U(walked), U(w->mmapped_bytes));
	check(tc->bin_chunks == bins && tc->bin_bytes == binb &&
		      tc->fastbin_chunks == fast && tc->fastbin_bytes == fastb,
	      "totals_free", "totals: bins %llu/%llu fast %llu/%llu",
	      U(tc->bin_chunks), U(tc->bin_bytes), U(tc->fastbin_chunks),
	      U(tc->fastbin_bytes));
	check(tc->mmapped_chunks == w->mmapped_chunks, "totals_mmapped",
	      "totals: %llu mmapped chunks", U(tc->mmapped_chunks));
	check(snap->totals.free_bytes <= snap->totals.system_bytes,
	      "totals_free_le_system", "free %llu > system %llu",
	      U(snap->totals.free_bytes), U(snap->totals.system_bytes));

	/* chunks never overlap */
	if (!c->overflow && c->n > 1) {
		qsort(c->v, c->n, sizeof(*c->v), by_addr);
		for (size_t k = 1; k < c->n; k++) {
			const struct visit *p = &c->v[k - 1], *q = &c->v[k];

			check(p->addr + p->size <= q->addr, "no_overlap",
			      "chunk %#llx (%#llx bytes, kind %d, arena %u) overlaps chunk %#llx (kind %d, arena %u)",
			      U(p->addr), U(p->size), (int)p->kind, p->arena,
			      U(q->addr), (int)q->kind, q->arena);
		}
	}
}

/* ----- one run ----------------------------------------------------------- */

static void
set_layout(struct malloc_layout *l, unsigned sw, unsigned nfast)
{
	static const int sl[4] = {1, 0, -1, 1};
	static const unsigned tcs[4] = {2, 1, 0, 2};
	static const char *const ver[4] = {"2.36", "2.31", "unknown", "2.36"};

	l->safe_linking = sl[sw & 3];
	l->tc_count_size = tcs[(sw >> 2) & 3];
	snprintf(l->glibc_version, sizeof(l->glibc_version), "%s",
		 ver[(sw >> 4) & 3]);
	if (sw & 0x40)
		l->mp_hp_pagesize = -1;
	if (sw & 0x80)
		l->tcache_tls = TCACHE_TLS_NONE;
	l->nfastbins = nfast % 11;
}

/*
 * Walk the regions as they are now, through exact-size copies (reading
 * past a region is an ASan error). With keep, hand the walk back (it is
 * not checked); else check it and abort on a failed invariant.
 */
static int
walk_once(struct base *b, const struct maps *maps, struct heap_walk *keep,
	  int final)
{
	struct malloc_layout l = b->s.l; /* the walk may settle safe_linking */
	unsigned char *copy[SYNTH_MAX_REGIONS] = {0};
	struct memsrc *mem;
	struct heap_walk out;
	struct ctx c = {0};
	int err;

	if (memsrc_buf_new(&mem))
		abort();
	for (unsigned i = 0; i < b->s.nr; i++) {
		struct synth_region *r = &b->s.r[i];

		copy[i] = malloc(r->len ? r->len : 1);
		if (!copy[i])
			abort();
		memcpy(copy[i], r->buf, r->len);
		if (memsrc_buf_add(mem, r->addr, copy[i], r->len))
			abort();
	}
	c.snap = snapshot_new();
	if (!c.snap)
		abort();
	c.sbrk_base = getv(b, SYNTH_MP + l.mp_sbrk_base);
	c.heap_max = malloc_layout_heap_max(&l, mem);
	memset(&out, 0, sizeof(out));
	err = glibc_heap_walk(&l, mem, maps, b->tcaches, b->ntc, b->stacks,
			      b->nstacks, visit_fn, &c, &out);
	vlog("/* walk: err %d, consistent %d, why \"%s\", %zu chunks */\n",
	     err, out.consistent, out.why, c.n);
	failed = 0;
	if (err) {
		check(err == -LA_EHEAPCORRUPT || err == -ENOMEM, "error_code",
		      "walk returned %d", err);
	} else {
		int ferr = snapshot_finish(c.snap, &out);

		check(ferr == 0, "finish", "snapshot_finish returned %d", ferr);
		if (!out.consistent)
			check(out.why[0] != '\0', "why",
			      "inconsistent walk without a reason");
		else if (!ferr && final)
			check_consistent(b, &out, c.snap, &c);
	}
	if (failed) {
		fprintf(stderr, "walk: err %d, consistent %d, why \"%s\"; "
				"rerun with LA_FUZZ_VERBOSE=1 for the input\n",
			err, out.consistent, out.why);
		abort();
	}

	la_snapshot_free(c.snap);
	free(c.v);
	if (keep)
		*keep = out;
	else
		glibc_heap_walk_free(&out);
	memsrc_close(mem);
	for (unsigned i = 0; i < b->s.nr; i++)
		free(copy[i]);
	return err;
}

static void
run(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	unsigned mode = (unsigned)get(&in, 1);
	unsigned variant = (unsigned)get(&in, 1);
	unsigned sw = (unsigned)get(&in, 1);
	unsigned nfast = (unsigned)get(&in, 1);
	struct base *b = calloc(1, sizeof(*b));
	struct mapping mv[2];
	struct maps maps = {mv, 0};

	if (!b)
		abort();
	if ((mode & 0xc0) == 0xc0 && (mode & 1))
		variant |= VAR_THREAD;
	if (size == 0)
		variant = VAR_MAIN_FULL | VAR_THREAD | VAR_OTHER | VAR_MMAP;
	build_base(b, variant);
	nfast = size < 4 ? 10 : nfast;
	set_layout(&b->s.l, sw, nfast & 0x7f);
	vlog("/* mode %#x variant %#x safe_linking %d tc_count_size %u "
	     "glibc %s hp_pagesize %d tcache_tls %d nfastbins %u%s */\n",
	     mode, variant, b->s.l.safe_linking, b->s.l.tc_count_size,
	     b->s.l.glibc_version, b->s.l.mp_hp_pagesize,
	     (int)b->s.l.tcache_tls, b->s.l.nfastbins,
	     nfast & 0x80 ? ", repair" : "");

	if ((mode & 0xc0) == 0xc0 && !(mode & 1)) {
		uint64_t top = SYNTH_SBRK_BASE + 16 * get(&in, 2);

		raw_region(b, SYNTH_SBRK_BASE, in.p, in.n);
		put(b, SYNTH_MAIN_ARENA + b->s.l.ms_top, top, 8, "raw top");
		put(b, SYNTH_MAIN_ARENA + b->s.l.ms_system_mem, in.n, 8,
		    "raw system_mem");
		vlog("/* main heap: %zu raw bytes */\n", in.n);
	} else if ((mode & 0xc0) == 0xc0) {
		raw_region(b, SYNTH_THREAD_HEAP, in.p, in.n);
		vlog("/* thread heap: %zu raw bytes */\n", in.n);
	} else {
		while (in.n)
			apply_op(b, &in);
	}

	if (b->t[T_MMAP].len) {
		static char anon[1]; /* "": an anonymous mapping */
		struct synth_region *r = synth_region_at(&b->s, MMAP_BASE);
		uint64_t len = r ? r->len & ~(uint64_t)(MEMSRC_PAGE - 1) : 0;

		/* a guard page below, as under a thread stack */
		mv[0] = (struct mapping){.start = MMAP_BASE - MEMSRC_PAGE,
					 .end = MMAP_BASE, .path = anon};
		mv[1] = (struct mapping){.start = MMAP_BASE,
					 .end = MMAP_BASE + len,
					 .prot = MAP_R | MAP_W, .path = anon};
		maps.len = len ? 2 : 1;
	}

	if (nfast & 0x80) {
		/* repair: a first walk says what system_mem would add up to */
		struct heap_walk w;

		if (walk_once(b, &maps, &w, 0) == 0) {
			for (unsigned i = 0; i < w.n_arena; i++)
				if (w.arena[i].walked_bytes !=
				    w.arena[i].system_mem)
					put(b,
					    w.arena[i].addr +
						    b->s.l.ms_system_mem,
					    w.arena[i].walked_bytes, 8,
					    "repair: system_mem");
			if (w.mmapped_chunks != w.mp_n_mmaps)
				put(b, SYNTH_MP + b->s.l.mp_n_mmaps,
				    w.mmapped_chunks, 4, "repair: n_mmaps");
			if (w.mmapped_bytes != w.mp_mmapped_mem)
				put(b, SYNTH_MP + b->s.l.mp_mmapped_mem,
				    w.mmapped_bytes, 8, "repair: mmapped_mem");
		}
		glibc_heap_walk_free(&w);
	}
	walk_once(b, &maps, NULL, 1);
	synth_free(&b->s);
	free(b);
}

static void
init_env(void)
{
	const char *v = getenv("LA_FUZZ_VERBOSE"), *ig = getenv("LA_FUZZ_IGNORE");

	verbose = v && *v && *v != '0';
	if (ig)
		snprintf(ignore, sizeof(ignore), ",%s,", ig);
}

#ifndef FUZZ_MKSEEDS

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	init_env();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size);
	return 0;
}

#else /* FUZZ_MKSEEDS: write the seed corpus */

static void
save(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
	run(p, n); /* every seed must pass */
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		unsigned char v[32];
		size_t n;
	} seeds[] = {
		/* structured, no operation: each base as it is */
		{"base-main", {0, VAR_MAIN_FULL, 0, 10}, 4},
		{"base-threaded",
		 {0, VAR_MAIN_FULL | VAR_THREAD | VAR_OTHER, 0, 10},
		 4},
		{"base-grown", {0, VAR_THREAD | VAR_GROWN | VAR_MMAP, 0, 10}, 4},
		{"base-full-tcache",
		 {0, VAR_FULL_TCACHE | VAR_TCACHE_EXTRA | VAR_THREAD, 0, 10},
		 4},
		{"base-raw-links-2.31",
		 {0, VAR_MAIN_FULL | VAR_THREAD | VAR_RAW_LINKS, 0x12, 10},
		 4},
		{"base-detect-linking",
		 {0, VAR_MAIN_FULL | VAR_GROWN, 0x02, 10},
		 4},
		/* a few operations */
		{"op-trunc-main-heap",
		 {0, VAR_MAIN_FULL, 0, 10, OP_TRUNC + NOPS * T_MAIN_HEAP, 0x00,
		  0x06},
		 7},
		{"op-ptr-fastbin",
		 {0, VAR_MAIN_FULL, 0, 10, OP_PROT + NOPS * T_MAIN_ARENA, 0x10,
		  0x00, T_MAIN_HEAP, 0x40, 0x03},
		 10},
		{"op-size-thread",
		 {0, VAR_THREAD | VAR_GROWN, 0, 10,
		  OP_SIZE + NOPS * T_THREAD_HEAP, 0x10, 0x09, 0x29, 0x00},
		 9},
		{"op-count-tcache",
		 {0, VAR_MAIN_FULL, 0, 10, OP_W16 + NOPS * T_MAIN_TCACHE, 0x00,
		  0x00, 0x05, 0x00},
		 9},
		/* repair: the base as it is, and a chunk 16 bytes bigger */
		{"repair-base-threaded",
		 {0, VAR_MAIN_FULL | VAR_THREAD | VAR_GROWN | VAR_MMAP, 0, 0x8a},
		 4},
		{"repair-chunk-bigger",
		 {0, VAR_THREAD | VAR_OTHER, 0, 0x8a, OP_CHUNK, 0x04, 0x00,
		  0x0a},
		 8},
		/* chunk 3 one granule bigger, system_mem = top - heap */
		{"op-chunk-diff",
		 {0, VAR_MAIN_FULL | VAR_GROWN, 0, 10, OP_CHUNK, 0x03, 0x00,
		  0x0a, OP_DIFF, 0x88, 0x08, 0x07, 0x00},
		 13},
		/* main top pointed at the second chunk */
		{"op-point-top",
		 {0, VAR_OTHER, 0, 10, OP_POINT + NOPS * T_MAIN_ARENA, 0x60,
		  0x00, 0x01, 0x00},
		 9},
	};
	struct base b;
	unsigned char *buf;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	init_env();
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		save(argv[1], seeds[i].name, seeds[i].v, seeds[i].n);

	/* raw main heap: the full base's own heap, top where it was */
	build_base(&b, VAR_MAIN_FULL);
	n = 6 + MAIN_HEAP_LEN;
	buf = calloc(1, n);
	buf[0] = 0xc0;
	buf[1] = VAR_MAIN_FULL;
	buf[3] = 10;
	buf[4] = (unsigned char)((b.s.a[0].top - SYNTH_SBRK_BASE) / 16);
	buf[5] = (unsigned char)((b.s.a[0].top - SYNTH_SBRK_BASE) / 16 >> 8);
	memcpy(buf + 6, synth_region_at(&b.s, SYNTH_SBRK_BASE)->buf,
	       MAIN_HEAP_LEN);
	save(argv[1], "raw-main-heap", buf, n);
	free(buf);
	synth_free(&b.s);

	/* raw thread heap: heap_info, malloc_state, chunks */
	build_base(&b, VAR_THREAD);
	n = 4 + THREAD_HEAP_LEN;
	buf = calloc(1, n);
	buf[0] = 0xc1;
	buf[1] = VAR_THREAD;
	buf[3] = 10;
	memcpy(buf + 4, synth_region_at(&b.s, SYNTH_THREAD_HEAP)->buf,
	       THREAD_HEAP_LEN);
	save(argv[1], "raw-thread-heap", buf, n);
	free(buf);
	synth_free(&b.s);
	return 0;
}

#endif
