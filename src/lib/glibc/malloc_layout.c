/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * malloc_layout.c - fill struct malloc_layout from DWARF or from the
 * static initial values of main_arena and mp_ (see malloc_layout.h).
 * Offsets in comments are x86_64; sources are glibc's malloc.c/arena.c.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "layout: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/debuginfo.h"
#include "elf/elfsyms.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "ptrace/tracee.h"

void
malloc_layout_version(struct elffile *ef, char *buf, size_t len)
{
	/* "GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36." */
	char banner[128];
	unsigned major, minor;

	if (!elffile_find_string(ef, "release version ", banner,
				 sizeof(banner)) &&
	    sscanf(banner, "release version %u.%u", &major, &minor) == 2) {
		snprintf(buf, len, "%u.%u", major, minor);
		return;
	}
	snprintf(buf, len, "unknown");
}

/* Round up to the alignment, as the static TLS layout does. */
static uint64_t
roundup_u64(uint64_t v, uint64_t align)
{
	return align ? (v + align - 1) / align * align : v;
}

struct tpoff_query {
	int64_t addend;
	uint64_t found;
	uint64_t cand[32];
	int64_t cand_addend[32];
	unsigned n;
};

/*
 * R_X86_64_TPOFF64 (R_AARCH64_TLS_TPREL64) slots with no symbol: libc's
 * initial-exec TLS; the slot holds &var - tp on both (ARCH_R_TPOFF).
 */
static int
tpoff_cb(const struct elf_reloc *r, void *arg)
{
	struct tpoff_query *q = arg;

	if (r->type != ARCH_R_TPOFF || r->sym)
		return 0;
	if (q->n < 32) {
		q->cand_addend[q->n] = r->addend;
		q->cand[q->n++] = r->offset;
	}
	if (r->addend == q->addend) {
		q->found = r->offset;
		return 1;
	}
	return 0;
}

static void
setup_tcache_tls(const struct layout_ctx *ctx, struct malloc_layout *l,
		 int have_off, uint64_t tls_off)
{
	struct tpoff_query q = {.addend = have_off ? (int64_t)tls_off : -1};
	uint64_t memsz, align;

	if (ctx->static_binary) {
		if (elffile_tls(ctx->elf, &memsz, &align))
			return;
		/*
		 * x86_64, TLS variant II: the block ends at the thread
		 * pointer; aarch64, variant I: it starts after the TCB.
		 */
		l->tls_block_size = roundup_u64(memsz, align);
		if (have_off) {
			l->tcache_tls = TCACHE_TLS_OFFSET;
			l->tcache_tpoff = arch_tls_exec_start(memsz, align) +
					  (int64_t)tls_off;
		}
		return;
	}
	elffile_foreach_reloc(ctx->elf, tpoff_cb, &q);
	if (q.found) {
		l->tcache_tls = TCACHE_TLS_GOT;
		l->tcache_got_addr = ctx->bias + q.found;
		return;
	}
	if (have_off && q.n) {
		/*
		 * No slot of tcache's own: aarch64's GCC reaches a module's
		 * static TLS variables from one slot and an offset (section
		 * anchors: Debian 12's libc loads tcache from thread_arena's
		 * slot + 8). Every slot holds its variable's offset in the
		 * same block plus the block's tpoff, so any slot will do:
		 * tpoff = the slot's value + (tls_off - its addend).
		 */
		l->tcache_tls = TCACHE_TLS_GOT;
		l->tcache_got_addr = ctx->bias + q.cand[0];
		l->tcache_tpoff = (int64_t)tls_off - q.cand_addend[0];
		return;
	}
	for (unsigned i = 0; i < q.n; i++)
		l->tls_got_cand[i] = ctx->bias + q.cand[i];
	l->n_tls_got_cand = q.n;
}

struct tls_sym_query {
	uint64_t value;
	int found;
};

static int
tcache_sym_cb(const struct elf_sym *s, void *arg)
{
	struct tls_sym_query *q = arg;

	if (s->type != STT_TLS || strcmp(s->name, "tcache"))
		return 0;
	q->value = s->value;
	q->found = 1;
	return 1;
}

/*
 * tcache's offset in libc's TLS block from the symbol table, when its
 * DWARF has no location: Debian 12's arm64 libc6-dbg describes the
 * variable without DW_AT_location (reached through a section anchor),
 * while its .symtab has the STT_TLS symbol (value 0x50).
 */
static int
tcache_tls_from_symtab(const struct layout_ctx *ctx, uint64_t *off)
{
	const struct elffile *ef = ctx->debug_elf ? ctx->debug_elf : ctx->elf;
	struct tls_sym_query q = {0, 0};

	elffile_foreach_symbol(ef, 0, tcache_sym_cb, &q);
	if (q.found)
		*off = q.value;
	return q.found;
}

static int
member(const struct di_struct *s, const char *name, uint32_t *out)
{
	int64_t off = debuginfo_member_offset(s, name);

	if (off < 0)
		return -1;
	*out = (uint32_t)off;
	return 0;
}

/*
 * The layout from the DWARF of malloc.c's CU in di: -LA_ENODEBUGINFO when
 * a type, variable or member is missing, -LA_ELAYOUT when implausible.
 */
static int
layout_from_debuginfo(const struct layout_ctx *ctx, struct debuginfo *di,
		      const char *path, uint64_t pc, struct malloc_layout *out)
{
	struct di_struct ms, mp, hi, tc;
	struct malloc_layout l;
	uint64_t arena, mpv, tls_off = 0;
	int is_tls, have_tls = 0;
	int64_t hp;
	uint32_t top;

	if (debuginfo_select_cu(di, pc, "/malloc.c") ||
	    debuginfo_struct(di, "malloc_state", &ms) ||
	    debuginfo_struct(di, "malloc_par", &mp) ||
	    debuginfo_struct(di, "_heap_info", &hi) ||
	    debuginfo_variable(di, "main_arena", &arena, &is_tls) || is_tls ||
	    debuginfo_variable(di, "mp_", &mpv, &is_tls) || is_tls) {
		pr_debug("%s: malloc's types or variables not found", path);
		return -LA_ENODEBUGINFO;
	}
	memset(&l, 0, sizeof(l));
	if (member(&ms, "mutex", &l.ms_mutex) ||
	    member(&ms, "flags", &l.ms_flags) ||
	    member(&ms, "fastbinsY", &l.ms_fastbins) ||
	    member(&ms, "top", &l.ms_top) || member(&ms, "bins", &l.ms_bins) ||
	    member(&ms, "next", &l.ms_next) ||
	    member(&ms, "next_free", &l.ms_next_free) ||
	    member(&ms, "attached_threads", &l.ms_attached_threads) ||
	    member(&ms, "system_mem", &l.ms_system_mem) ||
	    member(&hi, "ar_ptr", &l.hi_ar_ptr) ||
	    member(&hi, "prev", &l.hi_prev) ||
	    member(&hi, "size", &l.hi_size) ||
	    member(&hi, "mprotect_size", &l.hi_mprotect_size) ||
	    member(&mp, "n_mmaps", &l.mp_n_mmaps) ||
	    member(&mp, "mmapped_mem", &l.mp_mmapped_mem) ||
	    member(&mp, "sbrk_base", &l.mp_sbrk_base)) {
		pr_debug("%s: a malloc struct member is missing", path);
		return -LA_ENODEBUGINFO;
	}
	top = l.ms_top;
	l.nfastbins = (top - l.ms_fastbins) / 8;
	l.ms_size = (uint32_t)ms.size;
	l.hi_sizeof = (uint32_t)hi.size;
	l.mp_size = (uint32_t)mp.size;
	hp = debuginfo_member_offset(&mp, "hp_pagesize");
	l.mp_hp_pagesize = (int32_t)hp;
	if (member(&mp, "tcache_count", &l.mp_tcache_count) ||
	    debuginfo_struct(di, "tcache_perthread_struct", &tc) ||
	    member(&tc, "entries", &l.tc_entries)) {
		l.tcache_tls = TCACHE_TLS_NONE; /* built without tcache */
	} else {
		l.tc_count_size = l.tc_entries / TCACHE_MAX_BINS;
		l.tc_sizeof = (uint32_t)tc.size;
		have_tls =
			!debuginfo_variable(di, "tcache", &tls_off, &is_tls) &&
			is_tls;
		if (!have_tls)
			have_tls = tcache_tls_from_symtab(ctx, &tls_off);
		setup_tcache_tls(ctx, &l, have_tls, tls_off);
	}
	if (l.nfastbins == 0 || l.nfastbins > 16 || l.ms_size < l.ms_next) {
		pr_warn("%s: implausible malloc_state layout", path);
		return -LA_ELAYOUT;
	}
	l.safe_linking = -1;
	l.main_arena_addr = ctx->bias + arena;
	l.mp_addr = ctx->bias + mpv;
	l.source = LA_LAYOUT_DWARF;
	l.static_binary = ctx->static_binary;
	l.bias = ctx->bias;
	malloc_layout_version(ctx->elf, l.glibc_version,
			      sizeof(l.glibc_version));
	*out = l;
	return 0;
}

int
malloc_layout_from_dwarf(const struct layout_ctx *ctx,
			 struct malloc_layout *out)
{
	const char *path;
	struct debuginfo *di = NULL;
	const struct elffile *dbgelf = ctx->debug_elf;
	uint64_t pc = 0;
	int err = -LA_ENODEBUGINFO;

	if (!ctx->use_dwarf)
		return -LA_ENODEBUGINFO;
	if (!dbgelf) {
		uint64_t a, s;
		const void *d;

		/* A binary built with -g carries its own DWARF. */
		if (elffile_section(ctx->elf, ".debug_info", &a, &s, &d))
			return -LA_ENODEBUGINFO;
		dbgelf = ctx->elf;
	}
	path = elffile_path(dbgelf);
	if (elffile_symbol(dbgelf, "__libc_malloc", &pc, NULL))
		elffile_symbol(dbgelf, "malloc", &pc, NULL);
	if (debuginfo_open(path, &di))
		return -LA_ENODEBUGINFO;
	err = layout_from_debuginfo(ctx, di, path, pc, out);
	if (err && debuginfo_sliced(di)) {
		/* Read alone, malloc.c's CU did not do: ask the whole file. */
		pr_debug("%s: trying all of its DWARF", path);
		debuginfo_close(di);
		di = NULL;
		if (debuginfo_open_whole(path, &di))
			return err;
		err = layout_from_debuginfo(ctx, di, path, pc, out);
	}
	if (err == -LA_ELAYOUT)
		err = -LA_ENODEBUGINFO; /* as before: the signatures may do */
	if (!err)
		pr_debug("from DWARF in %s%s: main_arena %#llx mp_ %#llx", path,
			 debuginfo_sliced(di) ? " (one CU)" : "",
			 (unsigned long long)out->main_arena_addr,
			 (unsigned long long)out->mp_addr);
	debuginfo_close(di);
	return err;
}

/*
 * main_arena's initializer (malloc.c): { .mutex = 0, .next = &main_arena,
 * .attached_threads = 1 }, everything else 0. glibc 2.27+ (and the 2.26
 * release branch) has have_fastchunks, which moves every later field by 8.
 */
struct ms_sig {
	uint32_t fastbins, top, bins, next, next_free, attached, system_mem,
		size;
};

static const struct ms_sig ms_sigs[] = {
	{0x10, 0x60, 0x70, 0x870, 0x878, 0x880, 0x888, 0x898}, /* 2.27+ */
	{0x08, 0x58, 0x68, 0x868, 0x870, 0x878, 0x880, 0x890}, /* 2.26 */
};

struct rel_query {
	uint64_t offset;
	int64_t addend;
	int found;
};

static int
relative_cb(const struct elf_reloc *r, void *arg)
{
	struct rel_query *q = arg;

	if (r->type == ARCH_R_RELATIVE && r->offset == q->offset &&
	    r->addend == q->addend) {
		q->found = 1;
		return 1;
	}
	return 0;
}

static int
all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static int
find_main_arena(const struct layout_ctx *ctx, uint64_t daddr,
		const unsigned char *d, uint64_t dsize,
		const struct ms_sig **sig_out, uint64_t *addr_out)
{
	for (size_t s = 0; s < sizeof(ms_sigs) / sizeof(ms_sigs[0]); s++) {
		const struct ms_sig *sig = &ms_sigs[s];

		for (uint64_t x = 0; x + sig->size <= dsize; x += 8) {
			const unsigned char *p = d + x;
			uint64_t next, attached, vaddr = daddr + x;

			memcpy(&attached, p + sig->attached, 8);
			if (attached != 1)
				continue;
			memcpy(&next, p + sig->next, 8);
			if (next != vaddr && next != 0)
				continue;
			if (!all_zero(p, sig->next) ||
			    !all_zero(p + sig->next + 8,
				      sig->attached - sig->next - 8) ||
			    !all_zero(p + sig->attached + 8,
				      sig->size - sig->attached - 8))
				continue;
			if (next == 0) {
				/* RELA: the pointer lives in a relocation. */
				struct rel_query q = {vaddr + sig->next,
						      (int64_t)vaddr, 0};

				elffile_foreach_reloc(ctx->elf, relative_cb,
						      &q);
				if (!q.found)
					continue;
			}
			*sig_out = sig;
			*addr_out = vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * mp_'s initializer (malloc.c): trim_threshold, top_pad, mmap_threshold =
 * 128 KiB, arena_test = 8, n_mmaps_max = 65536, tcache_bins = 64,
 * tcache_max_bytes = 1032, tcache_count = 7. glibc 2.35 added thp_pagesize,
 * hp_pagesize and hp_flags after arena_max.
 */
static const uint64_t mp_sig_235[17] = {
	0x20000, 0x20000, 0x20000, 8, 0,  0,	 0, 0, 65536,
	0,	 0,	  0,	   0, 64, 0x408, 7, 0,
};
static const uint64_t mp_sig_226[14] = {
	0x20000, 0x20000, 0x20000, 8, 0, 65536ull << 32, 0, 0, 0,
	0,	 64,	  0x408,   7, 0,
};

static int
find_words(const unsigned char *d, uint64_t dsize, const uint64_t *words,
	   size_t n, uint64_t *off)
{
	for (uint64_t x = 0; x + n * 8 <= dsize; x += 8)
		if (!memcmp(d + x, words, n * 8)) {
			*off = x;
			return 0;
		}
	return -ENOENT;
}

int
malloc_layout_from_signature(const struct layout_ctx *ctx,
			     struct malloc_layout *out)
{
	uint64_t daddr, dsize, arena, mpoff;
	const void *data;
	const struct ms_sig *sig;
	struct malloc_layout l;

	if (elffile_section(ctx->elf, ".data", &daddr, &dsize, &data) || !data)
		return la_fail(-LA_ELAYOUT, "%s has no .data section",
			       ctx->elf_path);
	if (find_main_arena(ctx, daddr, data, dsize, &sig, &arena))
		return la_fail(
			-LA_ELAYOUT,
			"glibc's main_arena was not found in %s: an unsupported glibc build?",
			ctx->elf_path);
	memset(&l, 0, sizeof(l));
	l.ms_mutex = 0;
	l.ms_flags = 4;
	l.ms_fastbins = sig->fastbins;
	l.ms_top = sig->top;
	l.ms_bins = sig->bins;
	l.ms_next = sig->next;
	l.ms_next_free = sig->next_free;
	l.ms_attached_threads = sig->attached;
	l.ms_system_mem = sig->system_mem;
	l.ms_size = sig->size;
	l.nfastbins = (sig->top - sig->fastbins) / 8;
	l.hi_ar_ptr = 0;
	l.hi_prev = 8;
	l.hi_size = 0x10;
	l.hi_mprotect_size = 0x18;
	if (!find_words(data, dsize, mp_sig_235, 17, &mpoff)) {
		/* 2.35+: heap_info gained pagesize and padding (48 bytes). */
		l.mp_hp_pagesize = 0x30;
		l.mp_n_mmaps = 0x3c;
		l.mp_mmapped_mem = 0x50;
		l.mp_sbrk_base = 0x60;
		l.mp_tcache_count = 0x78;
		l.mp_size = 0x88;
		l.hi_sizeof = 0x30;
		l.tc_count_size = 2;
	} else if (!find_words(data, dsize, mp_sig_226, 14, &mpoff)) {
		l.mp_hp_pagesize = -1;
		l.mp_n_mmaps = 0x28;
		l.mp_mmapped_mem = 0x38;
		l.mp_sbrk_base = 0x48;
		l.mp_tcache_count = 0x60;
		l.mp_size = 0x70;
		l.hi_sizeof = 0x20;
		l.tc_count_size =
			0; /* char or uint16_t: see the tcache chunk */
	} else {
		return la_fail(
			-LA_ELAYOUT,
			"glibc's mp_ was not found in %s: an unsupported glibc build?",
			ctx->elf_path);
	}
	if (l.tc_count_size) {
		l.tc_entries = l.tc_count_size * TCACHE_MAX_BINS;
		l.tc_sizeof = l.tc_entries + 8 * TCACHE_MAX_BINS;
	}
	setup_tcache_tls(ctx, &l, 0, 0);
	l.safe_linking = -1;
	l.main_arena_addr = ctx->bias + arena;
	l.mp_addr = ctx->bias + daddr + mpoff;
	l.source = LA_LAYOUT_SIGNATURE;
	l.static_binary = ctx->static_binary;
	l.bias = ctx->bias;
	malloc_layout_version(ctx->elf, l.glibc_version,
			      sizeof(l.glibc_version));
	*out = l;
	pr_debug("from signatures: main_arena %#llx mp_ %#llx",
		 (unsigned long long)l.main_arena_addr,
		 (unsigned long long)l.mp_addr);
	return 0;
}

uint64_t
malloc_layout_heap_max(const struct malloc_layout *l, struct memsrc *mem)
{
	uint64_t hp = 0;

	/* arena.c heap_max_size() (2.35-2.41): 4 * mp_.hp_pagesize. */
	if (l->mp_hp_pagesize >= 0 &&
	    !memsrc_u64(mem, l->mp_addr + (uint64_t)l->mp_hp_pagesize, &hp) &&
	    hp && hp <= (1ull << 40) && !(hp & (hp - 1)))
		return 4 * hp;
	return HEAP_MAX_DEFAULT;
}

int
malloc_layout_confirm(struct malloc_layout *l, struct memsrc *mem)
{
	uint64_t heap_max = malloc_layout_heap_max(l, mem);
	uint64_t a = l->main_arena_addr, top;
	unsigned hops;
	int mism_20 = 0, mism_30 = 0, others = 0;

	if (memsrc_u64(mem, a + l->ms_top, &top))
		return la_fail(-LA_ELAYOUT,
			       "main_arena at %#llx cannot be read",
			       (unsigned long long)a);
	for (hops = 0; hops < 1024; hops++) {
		uint64_t next;

		if (memsrc_u64(mem, a + l->ms_next, &next))
			return la_fail(-LA_ELAYOUT,
				       "the arena list cannot be read at %#llx",
				       (unsigned long long)a);
		if (next == l->main_arena_addr ||
		    (next == 0 && hops == 0 && !top))
			break;
		if (!next || (next & 7))
			return la_fail(-LA_ELAYOUT,
				       "the arena list is broken at %#llx",
				       (unsigned long long)a);
		/* A thread arena starts right after its first heap_info. */
		others++;
		mism_20 += (next & (heap_max - 1)) != 0x20;
		mism_30 += (next & (heap_max - 1)) != 0x30;
		a = next;
	}
	if (hops == 1024)
		return la_fail(-LA_ELAYOUT, "the arena list does not close");
	if (others) {
		if (l->source == LA_LAYOUT_SIGNATURE && !mism_30)
			l->hi_sizeof = 0x30;
		else if (l->source == LA_LAYOUT_SIGNATURE && !mism_20)
			l->hi_sizeof = 0x20;
		if ((l->hi_sizeof == 0x30 && mism_30) ||
		    (l->hi_sizeof == 0x20 && mism_20))
			return la_fail(
				-LA_ELAYOUT,
				"thread arenas are not where heap headers end: unsupported layout");
	}
	return 0;
}

/*
 * Is v a tcache_perthread_struct? Its chunk is 0x250 (char counts) or 0x290
 * (uint16_t counts, glibc >= 2.30 and backports), possibly up to 0x10 more
 * when it took an exhausted remainder; every count is <= tcache_count and
 * zero exactly when its list is empty; entries are 16-aligned.
 */
static int
tcache_valid(struct malloc_layout *l, struct memsrc *mem, uint64_t v,
	     uint64_t tcache_count, uint32_t *count_size)
{
	unsigned char buf[0x290];
	uint64_t size, csize;
	uint32_t cs, entries;

	if (!v || (v & MALLOC_ALIGN_MASK) || memsrc_u64(mem, v - 8, &size))
		return 0;
	if (size & IS_MMAPPED)
		return 0;
	csize = size & ~(uint64_t)SIZE_BITS;
	if (csize >= 0x290 && csize < 0x290 + 0x20)
		cs = 2;
	else if (csize >= 0x250 && csize < 0x250 + 0x20)
		cs = 1;
	else
		return 0;
	if (l->tc_count_size && cs != l->tc_count_size)
		return 0;
	entries = cs * TCACHE_MAX_BINS;
	if (memsrc_read_cached(mem, v, buf, entries + 8 * TCACHE_MAX_BINS))
		return 0;
	for (unsigned i = 0; i < TCACHE_MAX_BINS; i++) {
		uint64_t cnt = 0, e;

		memcpy(&cnt, buf + i * cs, cs);
		memcpy(&e, buf + entries + i * 8, 8);
		if (cnt > tcache_count || (!cnt) != (!e) ||
		    (e & MALLOC_ALIGN_MASK))
			return 0;
	}
	*count_size = cs;
	return 1;
}

static void
adopt_count_size(struct malloc_layout *l, uint32_t cs)
{
	if (l->tc_count_size)
		return;
	l->tc_count_size = cs;
	l->tc_entries = cs * TCACHE_MAX_BINS;
	l->tc_sizeof = l->tc_entries + 8 * TCACHE_MAX_BINS;
}

/*
 * Score a candidate tpoff over all threads: +1 for each valid tcache,
 * disqualified (-1) by any non-zero value that is not one.
 */
static int
score_tpoff(struct malloc_layout *l, struct memsrc *mem,
	    const struct tracee_set *threads, int64_t tpoff,
	    uint64_t tcache_count, uint32_t *cs)
{
	int score = 0;

	for (size_t i = 0; i < threads->n; i++) {
		const struct tracee *t = &threads->t[i];
		uint64_t v;

		if (!t->have_regs || !t->tp)
			continue;
		if (memsrc_u64(mem, t->tp + (uint64_t)tpoff, &v))
			return -1;
		if (!v)
			continue;
		if (!tcache_valid(l, mem, v, tcache_count, cs))
			return -1;
		score++;
	}
	return score;
}

int
malloc_layout_find_tcache(struct malloc_layout *l, struct memsrc *mem,
			  const struct tracee_set *threads)
{
	uint64_t tcache_count = 0, got;
	int best = 0;
	int64_t best_tpoff = 0;
	uint32_t cs = 0, best_cs = 0;

	if (l->tcache_tls == TCACHE_TLS_NONE)
		return 0;
	if (memsrc_u64(mem, l->mp_addr + l->mp_tcache_count, &tcache_count))
		return -LA_ELAYOUT;
	if (l->tcache_tls == TCACHE_TLS_GOT) {
		if (memsrc_u64(mem, l->tcache_got_addr, &got))
			return -LA_ELAYOUT;
		/* the slot's value, plus its distance to tcache (0 on x86_64) */
		l->tcache_tpoff += (int64_t)got;
		l->tcache_tls = TCACHE_TLS_OFFSET;
	}
	if (l->tcache_tls == TCACHE_TLS_OFFSET) {
		/* Learn the count width from any thread's tcache. */
		if (!l->tc_count_size &&
		    score_tpoff(l, mem, threads, l->tcache_tpoff, tcache_count,
				&cs) > 0)
			adopt_count_size(l, cs);
		return 0;
	}
	/*
	 * Without symbols: try every candidate, keep the best; and, where
	 * a slot may serve its neighbours too (ARCH_TLS_ANCHOR_SPAN, see
	 * setup_tcache_tls()), the words around it.
	 */
	for (unsigned i = 0; i < l->n_tls_got_cand; i++) {
		if (memsrc_u64(mem, l->tls_got_cand[i], &got))
			continue;
		for (int64_t d = -(int64_t)ARCH_TLS_ANCHOR_SPAN;
		     d <= (int64_t)ARCH_TLS_ANCHOR_SPAN; d += 8) {
			int64_t off = (int64_t)got + d;
			int s = score_tpoff(l, mem, threads, off, tcache_count,
					    &cs);

			if (s > best) {
				best = s;
				best_tpoff = off;
				best_cs = cs;
			}
		}
	}
	if (!best && l->tls_block_size && l->tls_block_size < (1u << 20)) {
		/* Static executable: search its TLS block. */
		int64_t lo, hi;

		arch_tls_exec_search(l->tls_block_size, &lo, &hi);
		for (int64_t off = lo; off < hi; off += 8) {
			int s = score_tpoff(l, mem, threads, off, tcache_count,
					    &cs);

			if (s > best) {
				best = s;
				best_tpoff = off;
				best_cs = cs;
			}
		}
	}
	if (best > 0) {
		l->tcache_tls = TCACHE_TLS_OFFSET;
		l->tcache_tpoff = best_tpoff;
		adopt_count_size(l, best_cs);
		pr_debug("tcache at tp%+lld", (long long)best_tpoff);
	}
	return 0;
}

int
malloc_layout_thread_tcache(const struct malloc_layout *l, struct memsrc *mem,
			    uint64_t tp, uint64_t *tcache)
{
	*tcache = 0;
	if (l->tcache_tls != TCACHE_TLS_OFFSET || !tp)
		return 0;
	return memsrc_u64(mem, tp + (uint64_t)l->tcache_tpoff, tcache);
}
