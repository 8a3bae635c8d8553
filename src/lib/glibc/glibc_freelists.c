/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * glibc_freelists.c - walk every tcache, fastbin and bin (see the header).
 * Links are untrusted: every pointer is checked for alignment and
 * readability, every chain is bounded and checked for cycles.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "freelists: "
#include "base/log.h"
#include "glibc/glibc_freelists.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"

static void mark(struct freelists *fl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
mark(struct freelists *fl, const char *fmt, ...)
{
	va_list ap;

	if (!fl->consistent)
		return; /* keep the first reason */
	fl->consistent = 0;
	va_start(ap, fmt);
	vsnprintf(fl->why, sizeof(fl->why), fmt, ap);
	va_end(ap);
	pr_debug("%s", fl->why);
}

/* PROTECT_PTR/REVEAL_PTR (malloc.c, glibc >= 2.32): (pos >> 12) ^ ptr. */
static uint64_t
reveal(int safe_linking, uint64_t pos, uint64_t v)
{
	return safe_linking ? (pos >> 12) ^ v : v;
}

static int
chunk_size_at(struct memsrc *mem, uint64_t chunk, uint64_t *csize)
{
	uint64_t v;
	int err = memsrc_u64(mem, chunk + 8, &v);

	if (!err)
		*csize = v & ~(uint64_t)SIZE_BITS;
	return err;
}

/*
 * Would d be a plausible next link of a tcache list (user pointers, bin
 * tidx) or fastbin (chunk pointers, index fidx)? 0 ends a list.
 */
static int
plausible_next(struct memsrc *mem, uint64_t d, int tcache, uint64_t idx)
{
	uint64_t cs;

	if (!d)
		return 1;
	if (d & MALLOC_ALIGN_MASK)
		return 0;
	if (chunk_size_at(mem, tcache ? d - 16 : d, &cs))
		return 0;
	if (cs < MINSIZE)
		return 0;
	return tcache ? csize2tidx(cs) == idx : (cs >> 4) - 2 == idx;
}

struct votes {
	unsigned raw, protected_;
};

static void
vote(struct memsrc *mem, struct votes *v, uint64_t pos, uint64_t stored,
     int tcache, uint64_t idx, uint64_t count)
{
	uint64_t d0 = stored, d1 = (pos >> 12) ^ stored;
	int ok0, ok1;

	if (tcache && count == 1) {
		ok0 = d0 == 0;
		ok1 = d1 == 0;
	} else if (tcache) {
		ok0 = d0 && plausible_next(mem, d0, 1, idx);
		ok1 = d1 && plausible_next(mem, d1, 1, idx);
	} else {
		ok0 = plausible_next(mem, d0, 0, idx);
		ok1 = plausible_next(mem, d1, 0, idx);
	}
	if (ok0 && !ok1)
		v->raw++;
	else if (ok1 && !ok0)
		v->protected_++;
}

static int
version_has_safe_linking(const char *version)
{
	unsigned major, minor;

	if (sscanf(version, "%u.%u", &major, &minor) != 2)
		return 1; /* unknown: assume a current glibc */
	return major > 2 || (major == 2 && minor >= 32);
}

static void
decide_safe_linking(struct malloc_layout *l, struct memsrc *mem,
		    const uint64_t *arenas, unsigned char *const *bufs,
		    unsigned n, const uint64_t *tcaches, unsigned ntc)
{
	struct votes v = {0, 0};
	unsigned char tc[0x290];

	if (l->safe_linking >= 0)
		return;
	for (unsigned t = 0;
	     t < ntc && l->tc_count_size && l->tc_sizeof <= sizeof(tc); t++) {
		if (!tcaches[t] ||
		    memsrc_read_cached(mem, tcaches[t], tc, l->tc_sizeof))
			continue;
		for (unsigned i = 0; i < TCACHE_MAX_BINS; i++) {
			uint64_t cnt = 0, e, stored;

			memcpy(&cnt, tc + i * l->tc_count_size,
			       l->tc_count_size);
			memcpy(&e, tc + l->tc_entries + i * 8, 8);
			if (e && !(e & MALLOC_ALIGN_MASK) &&
			    !memsrc_u64(mem, e, &stored))
				vote(mem, &v, e, stored, 1, i, cnt);
		}
	}
	for (unsigned a = 0; a < n; a++) {
		for (unsigned i = 0; i < l->nfastbins; i++) {
			uint64_t p, stored;

			memcpy(&p, bufs[a] + l->ms_fastbins + i * 8, 8);
			if (p && !(p & MALLOC_ALIGN_MASK) &&
			    !memsrc_u64(mem, p + 16, &stored))
				vote(mem, &v, p + 16, stored, 0, i, 0);
		}
	}
	(void)arenas;
	if (v.raw != v.protected_) {
		l->safe_linking = v.protected_ > v.raw;
		pr_debug("safe-linking %s (votes %u raw, %u protected)",
			 l->safe_linking ? "on" : "off", v.raw, v.protected_);
	}
}

static int
safe_linking_now(const struct malloc_layout *l)
{
	return l->safe_linking >= 0
		       ? l->safe_linking
		       : version_has_safe_linking(l->glibc_version);
}

static int
walk_tcache(const struct malloc_layout *l, struct memsrc *mem, uint64_t tcp,
	    uint64_t tcache_count, struct freelists *fl)
{
	unsigned char tc[0x290];
	int sl = safe_linking_now(l);
	int err;

	if (!l->tc_count_size)
		return 0;
	if (l->tc_sizeof > sizeof(tc)) {
		/* glibc 2.42 grew the tcache (76 bins): not walked yet. */
		mark(fl, "tcache_perthread_struct of %u bytes is not supported",
		     l->tc_sizeof);
		return 0;
	}
	err = memsrc_read_cached(mem, tcp, tc, l->tc_sizeof);
	if (err) {
		mark(fl, "tcache at %#llx unreadable", (unsigned long long)tcp);
		return err == -ESRCH ? err : 0;
	}
	err = addrset_add(&fl->tcstruct, tcp - 16);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < TCACHE_MAX_BINS; i++) {
		uint64_t cnt = 0, e, n = 0;

		memcpy(&cnt, tc + i * l->tc_count_size, l->tc_count_size);
		memcpy(&e, tc + l->tc_entries + i * 8, 8);
		if (cnt > tcache_count)
			mark(fl,
			     "tcache %#llx bin %u: count %llu over the limit",
			     (unsigned long long)tcp, i,
			     (unsigned long long)cnt);
		while (e && n <= cnt) {
			uint64_t cs, stored;
			int r;

			if ((e & MALLOC_ALIGN_MASK) ||
			    chunk_size_at(mem, e - 16, &cs) ||
			    csize2tidx(cs) != i ||
			    memsrc_u64(mem, e, &stored)) {
				mark(fl, "tcache %#llx bin %u: bad entry %#llx",
				     (unsigned long long)tcp, i,
				     (unsigned long long)e);
				break;
			}
			r = addrset_add(&fl->tcache, e - 16);
			if (r < 0)
				return r;
			if (r == 0) {
				mark(fl, "tcache bin %u: %#llx listed twice", i,
				     (unsigned long long)e);
				break;
			}
			n++;
			e = reveal(sl, e, stored);
		}
		if (n != cnt)
			mark(fl,
			     "tcache %#llx bin %u: %llu entries, count %llu",
			     (unsigned long long)tcp, i, (unsigned long long)n,
			     (unsigned long long)cnt);
	}
	return 0;
}

static int
walk_fastbins(const struct malloc_layout *l, struct memsrc *mem,
	      const unsigned char *ms, uint64_t system_mem,
	      struct arena_lists *al, struct freelists *fl)
{
	int sl = safe_linking_now(l);
	uint64_t bound = system_mem / MINSIZE + 1;

	for (unsigned i = 0; i < l->nfastbins; i++) {
		uint64_t p, n = 0;

		memcpy(&p, ms + l->ms_fastbins + i * 8, 8);
		while (p) {
			uint64_t cs, stored;
			int r;

			if ((p & MALLOC_ALIGN_MASK) ||
			    chunk_size_at(mem, p, &cs) || cs < MINSIZE ||
			    (cs >> 4) - 2 != i ||
			    memsrc_u64(mem, p + 16, &stored) || ++n > bound) {
				mark(fl, "fastbin %u: bad chunk %#llx", i,
				     (unsigned long long)p);
				al->ok = 0;
				break;
			}
			r = addrset_add(&fl->fast, p);
			if (r < 0)
				return r;
			if (r == 0) {
				mark(fl, "fastbin %u loops at %#llx", i,
				     (unsigned long long)p);
				al->ok = 0;
				break;
			}
			al->fast_chunks++;
			al->fast_bytes += cs;
			p = reveal(sl, p + 16, stored);
		}
	}
	return 0;
}

int
freelists_collect(struct malloc_layout *l, struct memsrc *mem,
		  const uint64_t *arenas, unsigned char *const *bufs,
		  const uint64_t *system_mem, unsigned n,
		  const uint64_t *tcaches, unsigned ntc, uint64_t tcache_count,
		  struct freelists *fl)
{
	int err;

	fl->consistent = 1;
	fl->why[0] = '\0';
	fl->arena = calloc(n ? n : 1, sizeof(*fl->arena));
	if (!fl->arena)
		return -ENOMEM;
	fl->n_arena = n;
	decide_safe_linking(l, mem, arenas, bufs, n, tcaches, ntc);
	for (unsigned t = 0; t < ntc; t++) {
		if (!tcaches[t] || addrset_has(&fl->tcstruct, tcaches[t] - 16))
			continue;
		err = walk_tcache(l, mem, tcaches[t], tcache_count, fl);
		if (err)
			return err;
	}
	for (unsigned a = 0; a < n; a++) {
		fl->arena[a].ok = 1;
		err = walk_fastbins(l, mem, bufs[a], system_mem[a],
				    &fl->arena[a], fl);
		if (err == -ESRCH || err == -ENOMEM)
			return err;
		if (err) {
			mark(fl, "arena %#llx bins unreadable",
			     (unsigned long long)arenas[a]);
			fl->arena[a].ok = 0;
		}
	}
	return 0;
}

void
freelists_free(struct freelists *fl)
{
	addrset_free(&fl->tcache);
	addrset_free(&fl->fast);
	addrset_free(&fl->tcstruct);
	free(fl->arena);
	memset(fl, 0, sizeof(*fl));
}
