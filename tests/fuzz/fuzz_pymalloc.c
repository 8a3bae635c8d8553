/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_pymalloc.c - libFuzzer harness for the pymalloc census
 * (pymalloc_walk()) and the type census (pytypes_pool(), pytypes_chunk())
 * over fake process memory served by the buffer-backed memory source. See
 * tests/fuzz/README.md, "fuzz_pymalloc".
 *
 * The input is a list of records, read until it ends (a short record
 * reads zeros):
 *
 *   mapping  kind (bit 7 clear): bits 0-3 the protection (MAP_R, MAP_W,
 *            MAP_X, MAP_SHARED_), bits 4-5 the name: 0 anonymous, 1
 *            "[anon:fuzz]", 2 "[heap]", 3 "/usr/bin/python3.11";
 *            start page (5 bytes: start = page * 4096), pages (2 bytes, 0
 *            is 1, at most MAX_MAP_PAGES), readable (4 bytes: how many of
 *            its bytes the memory source has, at most its length). Its
 *            bytes are zero until a patch writes them. A mapping that
 *            overlaps an earlier one, or past MAX_TOTAL bytes, is dropped.
 *   patch    kind (bit 7 set), address (8 bytes), length (2 bytes), then
 *            that many bytes: written at the address into the mapping
 *            that holds it, cut at its readable end.
 *
 * Each mapping's readable bytes go to the memory source as an exact-size
 * heap copy, so that a read past them is an ASan error. Then one
 * pymalloc_walk() feeds every pool in use to four type censuses, one per
 * rules value (pytypes_new()), and pytypes_chunk() runs on the chunks of
 * each "[heap]" mapping (glibc's layout: size word at +8, user memory at
 * +16), on a chunk across each mapping's readable end, and on unmapped
 * memory (a size word that is no chunk size moves on by 16 bytes). What must hold is in check_pool() and check_walk(): no crash,
 * no sanitizer report, no leak, no hang, and the figures agree with the
 * memory as the harness itself reads it. A violated invariant prints
 * "INVARIANT <name>: ..." and aborts.
 *
 * Environment: LA_FUZZ_VERBOSE=1 prints the mappings, every pool and the
 * census; LA_FUZZ_IGNORE=name,name skips invariants already reported.
 *
 * Built with -DFUZZ_MKSEEDS instead of -fsanitize=fuzzer, main() writes
 * the synthetic seeds (syn-*, the heaps tests/unit/test_pymalloc.c builds)
 * to the directory given as argv[1]; built with -DFUZZ_REPLAY, main() runs
 * every file named on its command line once (make check).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "python/pymalloc.h"
#include "python/pytypes.h"

#define MAX_MAPS 32
#define MAX_MAP_PAGES 512u /* 2 MiB: adjacent arenas merge */
#define MAX_TOTAL (2u << 20)
#define MAX_POOLS (MAX_TOTAL / 4096u)
#define MAX_CHUNKS 4096u /* chunk calls per "[heap]" mapping */
#define NRULES 4
#define U(x) ((unsigned long long)(x))

static char name_anon[] = "", name_anon_named[] = "[anon:fuzz]",
	    name_heap[] = "[heap]", name_exe[] = "/usr/bin/python3.11";
static char *const names[4] = {name_anon, name_anon_named, name_heap, name_exe};

static int verbose, failed;
static char ignore[512];

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

static void
check(int ok, const char *name, const char *fmt, ...)
{
	char key[80];
	va_list ap;

	if (ok)
		return;
	snprintf(key, sizeof(key), ",%s,", name);
	if (strstr(ignore, key))
		return;
	fprintf(stderr, "INVARIANT %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = 1;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t
get(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		if (in->n) {
			v |= (uint64_t)*in->p << (8 * i);
			in->p++;
			in->n--;
		}
	}
	return v;
}

static uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

struct region {
	struct mapping m;
	unsigned char *buf; /* readable bytes, exactly */
	size_t readable;
};

struct world {
	struct region r[MAX_MAPS];
	unsigned nr;
	uint64_t total;
	struct mapping mv[MAX_MAPS];
	struct maps maps;
	struct memsrc *mem;
	struct pytypes *pt[NRULES];
	/* what the pool callback saw */
	uint64_t pool_addr[MAX_POOLS];
	unsigned npools;
	uint64_t cb_blocks;
};

static const struct region *
region_of(const struct world *w, uint64_t addr)
{
	for (unsigned i = 0; i < w->nr; i++)
		if (addr >= w->r[i].m.start && addr < w->r[i].m.end)
			return &w->r[i];
	return NULL;
}

/* [addr, addr + len) is readable, over one mapping or adjacent ones. */
static int
readable_range(const struct world *w, uint64_t addr, uint64_t len)
{
	while (len) {
		const struct region *r = region_of(w, addr);
		uint64_t n;

		if (!r || addr >= r->m.start + r->readable)
			return 0;
		n = r->m.start + r->readable - addr;
		if (n >= len)
			return 1;
		addr += n;
		len -= n;
	}
	return 1;
}

/* The bytes [addr, addr + len) as the harness has them, or NULL. */
static const unsigned char *
bytes_at(const struct world *w, uint64_t addr, uint64_t len)
{
	const struct region *r = region_of(w, addr);

	if (!r || addr + len < addr || addr + len > r->m.start + r->readable)
		return NULL;
	return r->buf + (addr - r->m.start);
}

static void
add_mapping(struct world *w, struct in *in)
{
	unsigned kind = (unsigned)get(in, 1);
	uint64_t start = get(in, 5) * MEMSRC_PAGE;
	uint64_t pages = get(in, 2), readable = get(in, 4), len;
	struct region *r;

	if (!pages)
		pages = 1;
	if (pages > MAX_MAP_PAGES)
		pages = MAX_MAP_PAGES;
	len = pages * MEMSRC_PAGE;
	if (readable > len)
		readable = len;
	if (!(kind & MAP_R))
		readable = 0; /* /proc/PID/mem cannot read it either */
	if (w->nr == MAX_MAPS || w->total + len > MAX_TOTAL ||
	    start + len < start || start + len > (1ull << 47))
		return;
	for (unsigned i = 0; i < w->nr; i++)
		if (start < w->r[i].m.end && w->r[i].m.start < start + len)
			return;
	r = &w->r[w->nr++];
	w->total += len;
	r->m = (struct mapping){.start = start,
				.end = start + len,
				.prot = kind & 15,
				.path = names[(kind >> 4) & 3]};
	r->readable = (size_t)readable;
	r->buf = calloc(1, r->readable ? r->readable : 1);
	if (!r->buf)
		abort();
	vlog("/* mapping %#llx-%#llx prot %u \"%s\", %#llx readable */\n",
	     U(start), U(start + len), r->m.prot, r->m.path, U(readable));
}

static void
patch(struct world *w, struct in *in)
{
	uint64_t addr = get(in, 8), len = get(in, 2);
	const struct region *r;
	uint64_t n;

	if (len > in->n)
		len = in->n;
	r = region_of(w, addr);
	n = len;
	if (r) {
		uint64_t room = r->m.start + r->readable > addr
					? r->m.start + r->readable - addr
					: 0;

		if (n > room)
			n = room;
		memcpy(r->buf + (addr - r->m.start), in->p, (size_t)n);
	}
	vlog("/* patch %#llx: %llu bytes, %llu written */\n", U(addr), U(len),
	     U(r ? n : 0));
	in->p += len;
	in->n -= (size_t)len;
}

static int
by_start(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int
scannable(const struct mapping *m)
{
	/* what pymalloc.c scans: anonymous or "[anon:", private, readable */
	return (m->prot & MAP_R) && !(m->prot & MAP_SHARED_) &&
	       (!m->path[0] || !strncmp(m->path, "[anon:", 6));
}

/* ----- invariants -------------------------------------------------------- */

static int
bit(const uint8_t *map, uint32_t k)
{
	return (map[k / 8] >> (k % 8)) & 1;
}

/* Every pool the walk hands out, against the harness's own reading. */
static void
check_pool(struct world *w, const struct pymalloc_pool *p)
{
	const unsigned char *mine = bytes_at(w, p->addr, p->pool_size);
	const struct region *r = region_of(w, p->addr);
	uint32_t bs = p->block_size, nfree = 0, hops = 0;
	uint8_t seen[(PYMALLOC_MAX_BLOCKS + 7) / 8];
	uint64_t f;

	vlog("/* pool %#llx: size %u class %u carved %u count %u arena %u */\n",
	     U(p->addr), p->pool_size, p->szidx, p->carved, p->count,
	     p->arenaindex);
	check(p->pool_size == 4096 || p->pool_size == 16384, "pool_size",
	      "pool %#llx of %u bytes", U(p->addr), p->pool_size);
	check(p->pool_size && p->addr % p->pool_size == 0, "pool_aligned",
	      "pool %#llx", U(p->addr));
	check(p->szidx < PYMALLOC_NCLASSES && bs == 16 * (p->szidx + 1),
	      "pool_class", "class %u, block size %u", p->szidx, bs);
	check(p->carved >= 2 && p->count >= 1 && p->count <= p->carved &&
		      (uint64_t)p->carved * bs + PYMALLOC_POOL_OVERHEAD <=
			      p->pool_size,
	      "pool_carved", "pool %#llx: carved %u count %u block %u",
	      U(p->addr), p->carved, p->count, bs);
	check(r && scannable(&r->m), "pool_in_scanned_mapping",
	      "pool %#llx is in no anonymous private readable mapping",
	      U(p->addr));
	check(mine != NULL, "pool_readable",
	      "pool %#llx (%u bytes) is not wholly readable", U(p->addr),
	      p->pool_size);
	if (failed || !mine)
		return;
	/* the bytes handed out are the pool's, not a stale window */
	check(!memcmp(mine, p->bytes, p->pool_size), "pool_bytes",
	      "the callback's bytes of pool %#llx are not its memory",
	      U(p->addr));
	check(rd32(mine) == p->count && rd32(mine + 32) == p->arenaindex &&
		      rd32(mine + 36) == p->szidx &&
		      rd32(mine + 40) ==
			      PYMALLOC_POOL_OVERHEAD + p->carved * bs &&
		      rd32(mine + 44) + bs == p->pool_size,
	      "pool_header", "pool %#llx: header fields disagree", U(p->addr));
	/* the free list, walked here on the harness's bytes */
	memset(seen, 0, sizeof(seen));
	for (f = rd64(mine + 8); f && !failed; f = rd64(mine + (f - p->addr))) {
		uint64_t off = f - p->addr;
		uint32_t k;

		check(f > p->addr &&
			      off < PYMALLOC_POOL_OVERHEAD +
					      (uint64_t)p->carved * bs &&
			      off >= PYMALLOC_POOL_OVERHEAD &&
			      (off - PYMALLOC_POOL_OVERHEAD) % bs == 0 &&
			      hops++ < p->carved,
		      "freelist_link", "pool %#llx: link %#llx", U(p->addr),
		      U(f));
		if (failed)
			break;
		k = (uint32_t)((off - PYMALLOC_POOL_OVERHEAD) / bs);
		check(!bit(seen, k), "freelist_cycle",
		      "pool %#llx: block %u twice", U(p->addr), k);
		seen[k / 8] |= (uint8_t)(1u << (k % 8));
		nfree++;
	}
	for (uint32_t k = 0; k < PYMALLOC_MAX_BLOCKS && !failed; k++)
		check(bit(seen, k) == (k < p->carved && bit(p->freemap, k)),
		      "freemap", "pool %#llx: block %u free here %d, map %d",
		      U(p->addr), k, bit(seen, k), bit(p->freemap, k));
	check(p->count + nfree == p->carved, "pool_count",
	      "pool %#llx: count %u + free %u != carved %u", U(p->addr),
	      p->count, nfree, p->carved);
	for (unsigned i = 0; i < w->npools; i++)
		check(w->pool_addr[i] != p->addr, "pool_once",
		      "pool %#llx handed out twice", U(p->addr));
	if (w->npools < MAX_POOLS)
		w->pool_addr[w->npools++] = p->addr;
	w->cb_blocks += p->count;
}

static int
pool_fn(const struct pymalloc_pool *p, void *arg)
{
	struct world *w = arg;

	check_pool(w, p);
	for (int i = 0; i < NRULES; i++) {
		int err = pytypes_pool(p, w->pt[i]);

		check(err == 0, "pytypes_pool", "rules %d: %d", i, err);
	}
	if (failed) {
		fprintf(stderr, "rerun with LA_FUZZ_VERBOSE=1 for the input\n");
		abort();
	}
	return 0;
}

/* A type census's figures add up and name readable types. */
static void
check_types(struct world *w, int rules, uint64_t blocks)
{
	struct pytypes *pt = w->pt[rules];
	struct pytypes_totals t;
	uint64_t objs = 0, bytes = 0, fl = 0;
	size_t n = pytypes_count(pt);

	pytypes_totals(pt, &t);
	check(t.objects + t.freelisted + t.unknown_blocks == blocks,
	      "types_cover_blocks",
	      "rules %d: %llu objects + %llu free-listed + %llu unknown != %llu blocks",
	      rules, U(t.objects), U(t.freelisted), U(t.unknown_blocks),
	      U(blocks));
	check(t.available == (rules != PYTYPES_RULES_NONE), "types_available",
	      "rules %d: available %d", rules, t.available);
	if (rules == PYTYPES_RULES_NONE)
		check(n == 0 && t.objects == 0 && t.freelisted == 0,
		      "types_none", "no rules, %zu types", n);
	check(!n || t.type_type, "types_type_type",
	      "rules %d: %zu types and no PyType_Type", rules, n);
	for (size_t i = 0; i < n; i++) {
		const struct pytype_count *c = pytypes_get(pt, i);
		size_t len = strnlen(c->name, PYTYPE_NAME_MAX);

		objs += c->objects;
		bytes += c->bytes;
		fl += c->freelisted;
		check(len > 0 && len < PYTYPE_NAME_MAX, "type_name",
		      "rules %d: type %#llx: name of %zu bytes", rules,
		      U(c->type), len);
		for (size_t k = 0; k < len; k++)
			check((unsigned char)c->name[k] >= 0x20 &&
				      c->name[k] != 0x7f,
			      "type_name_printable", "type %#llx", U(c->type));
		check(readable_range(w, c->type, 176), "type_readable",
		      "type %#llx is not readable memory", U(c->type));
		check(c->pymalloc_objects + c->malloc_objects == c->objects,
		      "type_where", "type %#llx: %llu + %llu != %llu",
		      U(c->type), U(c->pymalloc_objects), U(c->malloc_objects),
		      U(c->objects));
		check(pytypes_find(pt, c->name) != NULL, "type_find",
		      "type \"%s\" not found by name", c->name);
	}
	check(objs == t.objects && bytes == t.object_bytes &&
		      fl == t.freelisted,
	      "types_sum",
	      "rules %d: types sum to %llu/%llu/%llu, totals %llu/%llu/%llu",
	      rules, U(objs), U(bytes), U(fl), U(t.objects), U(t.object_bytes),
	      U(t.freelisted));
}

static void
check_walk(struct world *w, const struct pymalloc_census *c)
{
	uint64_t blocks = 0, bytes = 0, pools = 0, scanned = 0, nmaps = 0;

	for (unsigned i = 0; i < w->nr; i++)
		if (scannable(&w->r[i].m)) {
			nmaps++;
			scanned += w->r[i].m.end - w->r[i].m.start;
		}
	for (unsigned i = 0; i < PYMALLOC_NCLASSES; i++) {
		const struct pymalloc_class *k = &c->cls[i];

		check(k->block_size == 16 * (i + 1) &&
			      k->bytes == k->blocks * k->block_size,
		      "class_bytes", "class %u: %llu blocks, %llu bytes", i,
		      U(k->blocks), U(k->bytes));
		check(k->blocks >= k->pools, "class_pools",
		      "class %u: %llu pools, %llu blocks", i, U(k->pools),
		      U(k->blocks));
		blocks += k->blocks;
		bytes += k->bytes;
		pools += k->pools;
	}
	check(blocks == c->blocks && bytes == c->bytes, "census_sum",
	      "classes %llu/%llu, census %llu/%llu", U(blocks), U(bytes),
	      U(c->blocks), U(c->bytes));
	check(c->pools == c->pools_used + c->pools_full + c->pools_empty,
	      "census_pools", "%llu != %llu + %llu + %llu", U(c->pools),
	      U(c->pools_used), U(c->pools_full), U(c->pools_empty));
	check(pools == c->pools_used + c->pools_full && pools == w->npools,
	      "census_pools_in_use",
	      "classes %llu, used+full %llu, callback %u", U(pools),
	      U(c->pools_used + c->pools_full), w->npools);
	check(w->cb_blocks == c->blocks, "census_callback_blocks",
	      "callback %llu, census %llu", U(w->cb_blocks), U(c->blocks));
	check(c->pool_size == 0 || c->pool_size == 4096 ||
		      c->pool_size == 16384,
	      "census_pool_size", "%u", c->pool_size);
	/* bad pools may come before the geometry is settled */
	check(c->pool_size || (!c->pools && !c->carving), "census_no_geometry",
	      "no pool size, %llu pools", U(c->pools));
	check(c->arenas <= c->pools, "census_arenas", "%llu arenas, %llu pools",
	      U(c->arenas), U(c->pools));
	check(c->bad_pools == c->bad_freelist + c->bad_count + c->bad_links,
	      "census_bad", "%llu != %llu + %llu + %llu", U(c->bad_pools),
	      U(c->bad_freelist), U(c->bad_count), U(c->bad_links));
	check(!c->consistent ||
		      (!c->bad_pools && !c->bad_arenas && !c->carving &&
		       !c->other_geometry && c->usedpools_seen <= 1),
	      "census_consistent", "consistent with bad pools");
	check(c->usedpools_seen || !c->usedpools, "census_usedpools",
	      "usedpools %#llx, seen 0", U(c->usedpools));
	check(c->mappings == nmaps && c->bytes_scanned == scanned,
	      "census_scanned", "%llu mappings %llu bytes, expected %llu %llu",
	      U(c->mappings), U(c->bytes_scanned), U(nmaps), U(scanned));
	check(c->n_spans == c->arenas, "spans_arenas", "%u spans, %llu arenas",
	      c->n_spans, U(c->arenas));
	for (uint32_t i = 0; i < c->n_spans; i++) {
		const struct addr_range *a = &c->spans[i];

		check(a->lo < a->hi && a->lo % c->pool_size == 0 &&
			      (a->hi - a->lo) % c->pool_size == 0 &&
			      (!i || c->spans[i - 1].lo <= a->lo),
		      "spans", "span %u: %#llx-%#llx", i, U(a->lo), U(a->hi));
		check(c->bad_arenas || a->hi - a->lo <= PYMALLOC_ARENA_MAX,
		      "spans_arena_max", "span %#llx-%#llx, no bad arena",
		      U(a->lo), U(a->hi));
	}
	for (int i = 0; i < NRULES; i++)
		check_types(w, i, c->blocks);
}

/* pytypes_chunk() on one chunk: the result is one of those allowed. */
static int
chunk(struct world *w, uint64_t user, uint64_t usable)
{
	int counted = 0;

	for (int i = 0; i < NRULES; i++) {
		int r = pytypes_chunk(w->pt[i], user, usable);

		check(r == -1 || r == -EFAULT ||
			      (r >= 0 && (size_t)r < pytypes_count(w->pt[i])),
		      "chunk_result", "rules %d: chunk %#llx: %d", i, U(user),
		      r);
		if (r >= 0)
			check(pytypes_get(w->pt[i], (size_t)r)->malloc_objects,
			      "chunk_counted", "chunk %#llx", U(user));
		/* the first 8 bytes decide -EFAULT, the same for every rules */
		if (i == 0)
			counted = r != -EFAULT;
		else
			check(counted == (r != -EFAULT), "chunk_efault",
			      "chunk %#llx: rules %d says %d", U(user), i, r);
	}
	return counted;
}

static uint64_t
chunks(struct world *w)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < w->nr; i++) {
		const struct region *r = &w->r[i];
		uint64_t off = 0;

		/* a chunk across the readable end, one at the mapping's end */
		if (r->readable >= 16)
			n += chunk(w, r->m.start + r->readable - 16, 4096);
		n += chunk(w, r->m.end - 8, 64);
		if (r->m.path != name_heap)
			continue;
		for (unsigned k = 0; k < MAX_CHUNKS && off + 16 <= r->readable;
		     k++) {
			uint64_t size = rd64(r->buf + off + 8) & ~7ull;

			if (size < 32 || size % 16 ||
			    size > r->readable - off) {
				off += 16; /* not a chunk: on to the next granule */
				continue;
			}
			n += chunk(w, r->m.start + off + 16, size - 8);
			off += size;
		}
	}
	/* nothing mapped at 0x10 */
	n += chunk(w, 0x10, 64);
	return n;
}

/* ----- one run ----------------------------------------------------------- */

static void
run(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct world *w = calloc(1, sizeof(*w));
	struct pymalloc_census c;
	uint64_t extra;
	int err;

	if (!w)
		abort();
	while (in.n) {
		if (*in.p & 0x80) {
			get(&in, 1);
			patch(w, &in);
		} else {
			add_mapping(w, &in);
		}
	}
	for (unsigned i = 0; i < w->nr; i++)
		w->mv[i] = w->r[i].m;
	qsort(w->mv, w->nr, sizeof(w->mv[0]), by_start);
	w->maps = (struct maps){w->mv, w->nr};
	if (memsrc_buf_new(&w->mem))
		abort();
	for (unsigned i = 0; i < w->nr; i++)
		if (w->r[i].readable &&
		    memsrc_buf_add(w->mem, w->r[i].m.start, w->r[i].buf,
				   w->r[i].readable))
			abort();
	for (int i = 0; i < NRULES; i++)
		if (pytypes_new(w->mem, &w->maps, (enum pytypes_rules)i,
				&w->pt[i]))
			abort();

	failed = 0;
	err = pymalloc_walk(w->mem, &w->maps, pool_fn, w, &c);
	vlog("/* walk %d: pool size %u, %llu pools (%llu used %llu full %llu empty), %llu arenas, %llu blocks, %llu bytes; bad %llu (freelist %llu count %llu links %llu) arenas %llu, other %llu, carving %llu, usedpools %#llx (%u), consistent %d */\n",
	     err, c.pool_size, U(c.pools), U(c.pools_used), U(c.pools_full),
	     U(c.pools_empty), U(c.arenas), U(c.blocks), U(c.bytes),
	     U(c.bad_pools), U(c.bad_freelist), U(c.bad_count), U(c.bad_links),
	     U(c.bad_arenas), U(c.other_geometry), U(c.carving), U(c.usedpools),
	     c.usedpools_seen, c.consistent);
	check(err == 0, "walk_error", "pymalloc_walk returned %d", err);
	if (!err)
		check_walk(w, &c);
	extra = chunks(w);
	for (int i = 0; i < NRULES && !err; i++)
		check_types(w, i, c.blocks + extra);
	if (verbose)
		for (int i = 0; i < NRULES; i++)
			for (size_t k = 0; k < pytypes_count(w->pt[i]); k++) {
				const struct pytype_count *t =
					pytypes_get(w->pt[i], k);

				vlog("/* rules %d: type %#llx \"%s\": %llu objects, %llu bytes, %llu free-listed */\n",
				     i, U(t->type), t->name, U(t->objects),
				     U(t->bytes), U(t->freelisted));
			}
	if (failed) {
		fprintf(stderr, "rerun with LA_FUZZ_VERBOSE=1 for the input\n");
		abort();
	}
	pymalloc_census_release(&c);
	for (int i = 0; i < NRULES; i++)
		pytypes_free(w->pt[i]);
	memsrc_close(w->mem);
	for (unsigned i = 0; i < w->nr; i++)
		free(w->r[i].buf);
	free(w);
}

static void
init_env(void)
{
	const char *v = getenv("LA_FUZZ_VERBOSE"),
		   *ig = getenv("LA_FUZZ_IGNORE");

	verbose = v && *v && *v != '0';
	if (ig)
		snprintf(ignore, sizeof(ignore), ",%s,", ig);
}

#if !defined(FUZZ_MKSEEDS) && !defined(FUZZ_REPLAY)

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

#elif defined(FUZZ_REPLAY) /* make check: every seed once */

int
main(int argc, char **argv)
{
	init_env();
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		long n;

		if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET)) {
			perror(argv[i]);
			return 1;
		}
		buf = malloc(n ? (size_t)n : 1);
		if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
			perror(argv[i]);
			return 1;
		}
		fclose(f);
		run(buf, (size_t)n);
		free(buf);
	}
	printf("fuzz_pymalloc: %d inputs replayed\n", argc - 1);
	return 0;
}

#else /* FUZZ_MKSEEDS: write the synthetic seeds */

/* The heap of tests/unit/test_pymalloc.c, as records. */
#define ARENA0 0x7f1200000000ull
#define USEDPOOLS 0x959d20ull
#define DATA0 (USEDPOOLS - 0x1000)
#define DATA_LEN 0x4000u
#define DATA_MAP 0x958000ull /* the page-aligned mapping around DATA0 */
#define DATA_MAP_LEN 0x5000u
#define L 16384u
#define TYPE_TYPE (DATA0 + 0x100)
#define META (DATA0 + 0x300)
#define FLOAT_T (DATA0 + 0x500)
#define CLASS_T (DATA0 + 0x700)
#define NAMES (USEDPOOLS + 0x1000)
/* more type objects, for many_types() */
#define TYPES0 0x960000ull
#define TYPES_LEN 0x8000u
#define NTYPES 80

struct seed {
	unsigned char *p;
	size_t n, cap;
	/* the memory the records describe, to build pools in */
	unsigned char arena[72 * L], data[DATA_LEN], types[TYPES_LEN];
	uint64_t arena_len;
	int has_types;
};

static void
emit(struct seed *s, uint64_t v, unsigned bytes)
{
	if (s->n + bytes > s->cap) {
		s->cap = 2 * (s->n + bytes) + 4096;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			abort();
	}
	for (unsigned i = 0; i < bytes; i++)
		s->p[s->n++] = (unsigned char)(v >> (8 * i));
}

static void
emit_mapping(struct seed *s, unsigned kind, uint64_t start, uint64_t len,
	     uint64_t readable)
{
	emit(s, kind, 1);
	emit(s, start / MEMSRC_PAGE, 5);
	emit(s, len / MEMSRC_PAGE, 2);
	emit(s, readable, 4);
}

/* Patches for the nonzero stretches of buf (gaps of 16 zeros split). */
static void
emit_bytes(struct seed *s, uint64_t addr, const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t j, zeros = 0;

		while (i < len && !buf[i])
			i++;
		if (i == len)
			break;
		for (j = i; j < len && j - i < 0xffff && zeros < 16; j++)
			zeros = buf[j] ? 0 : zeros + 1;
		j -= zeros;
		emit(s, 0x80, 1);
		emit(s, addr + i, 8);
		emit(s, j - i, 2);
		for (size_t k = i; k < j; k++)
			emit(s, buf[k], 1);
		i = j;
	}
}

static unsigned char *
at(struct seed *s, uint64_t a)
{
	if (a >= DATA0 && a < DATA0 + DATA_LEN)
		return s->data + (a - DATA0);
	if (a >= ARENA0 && a < ARENA0 + sizeof(s->arena))
		return s->arena + (a - ARENA0);
	if (a >= TYPES0 && a < TYPES0 + TYPES_LEN) {
		s->has_types = 1;
		return s->types + (a - TYPES0);
	}
	abort();
}

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

static void
seed_init(struct seed *s, uint64_t arena_len)
{
	memset(s, 0, sizeof(*s));
	s->arena_len = arena_len;
	for (uint64_t i = 0; i < PYMALLOC_NCLASSES; i++) {
		uint64_t head = USEDPOOLS + 16 * i - 16;

		w64(at(s, head + 16), head);
		w64(at(s, head + 24), head);
	}
}

/* As pool() of test_pymalloc.c. */
static void
pool(struct seed *s, uint64_t addr, uint32_t ps, uint32_t szidx,
     uint32_t carved, const uint32_t *fr, uint32_t nfree, uint32_t ai)
{
	unsigned char *p = at(s, addr);
	uint32_t bs = 16 * (szidx + 1);
	uint64_t prev = 0;

	w32(p + 0, carved - nfree);
	w32(p + 4, 0xdeadbeef);
	w32(p + 32, ai);
	w32(p + 36, szidx);
	w32(p + 40, 48 + carved * bs);
	w32(p + 44, ps - bs);
	for (uint32_t i = nfree; i-- > 0;) {
		uint64_t b = addr + 48 + (uint64_t)fr[i] * bs;

		w64(at(s, b), prev);
		prev = b;
	}
	w64(p + 8, prev);
	w64(p + 16, 0x4141414141414140ull);
	w64(p + 24, 0x4242424242424240ull);
	for (uint32_t k = 0; k < carved; k++) {
		int is_free = 0;

		for (uint32_t i = 0; i < nfree; i++)
			is_free |= fr[i] == k;
		if (!is_free)
			w64(at(s, addr + 48 + (uint64_t)k * bs), 0x1111);
	}
}

static void
link_used(struct seed *s, uint32_t szidx, const uint64_t *pools, size_t n)
{
	uint64_t head = USEDPOOLS + 16 * (uint64_t)szidx - 16;

	for (size_t i = 0; i < n; i++) {
		w64(at(s, pools[i]) + 16, i + 1 < n ? pools[i + 1] : head);
		w64(at(s, pools[i]) + 24, i ? pools[i - 1] : head);
	}
	w64(at(s, head + 16), pools[0]);
	w64(at(s, head + 24), pools[n - 1]);
}

static uint32_t
numblocks(uint32_t ps, uint32_t szidx)
{
	return (ps - 48) / (16 * (szidx + 1));
}

static void
five_pools(struct seed *s)
{
	static const uint32_t f0[] = {3, 7}, f2[] = {4, 0, 2, 1, 3}, f3[] = {1},
			      f4[] = {0, 2};
	uint64_t p0 = ARENA0, p1 = ARENA0 + L, p2 = ARENA0 + 2 * L,
		 p3 = ARENA0 + 5 * L, p4 = ARENA0 + 40 * L;

	pool(s, p0, L, 0, 10, f0, 2, 0);
	link_used(s, 0, &p0, 1);
	pool(s, p1, L, 3, numblocks(L, 3), NULL, 0, 0);
	pool(s, p2, L, 3, 5, f2, 5, 0);
	pool(s, p3, L, 31, 6, f3, 1, 0);
	pool(s, p4, L, 31, 3, f4, 2, 1);
	link_used(s, 31, (const uint64_t[]){p3, p4}, 2);
}

static void
type_at(struct seed *s, uint64_t t, uint64_t meta, const char *name,
	uint64_t np, uint64_t basic, uint64_t flags)
{
	unsigned char *p = at(s, t);

	w64(p + 0, 1);
	w64(p + 8, meta);
	w64(p + 24, np);
	w64(p + 32, basic);
	w64(p + 40, 0);
	w64(p + 168, flags);
	for (size_t i = 0; i <= strlen(name); i++)
		*at(s, np + i) = (unsigned char)name[i];
}

static void
type_object(struct seed *s, uint64_t t, uint64_t meta, const char *name,
	    uint64_t basic, uint64_t flags, unsigned slot)
{
	type_at(s, t, meta, name, NAMES + 32 * slot, basic, flags);
}

/*
 * More types than the census's first tables hold (64 types, 128 hash
 * slots), a name longer than PYTYPE_NAME_MAX across a page boundary, a
 * second "type" that is its own type (refused), and a metaclass chain
 * longer than the census follows.
 */
static void
many_types(struct seed *s)
{
	const uint64_t ready = 1ull << 12, gc = 1ull << 14, sub = 1ull << 31;
	const uint32_t n = NTYPES + 3;
	uint64_t fp = ARENA0 + 2 * L, t2 = TYPES0 + 0x6000,
		 names = TYPES0 + 0x3800;
	uint64_t meta[6];

	type_object(s, TYPE_TYPE, TYPE_TYPE, "type", 880, ready | gc | sub, 0);
	for (unsigned i = 0; i < NTYPES; i++) {
		char name[160];
		uint64_t np = names + 16 * i;

		if (i == 7) {
			/* 120 characters, from 24 bytes before a page boundary */
			memset(name, 'N', 120);
			name[120] = '\0';
			np = TYPES0 + 0x5000 - 24;
		} else {
			snprintf(name, sizeof(name), "T%u", i);
		}
		type_at(s, TYPES0 + 176 * i, TYPE_TYPE, name, np, 16, ready);
	}
	/* a second fixed point named "type" */
	type_at(s, t2, t2, "type", names + 16 * NTYPES, 880, ready | gc | sub);
	/* metaclasses m5 -> m4 -> ... -> m0 -> type: too deep from m5 */
	for (int i = 0; i < 6; i++) {
		meta[i] = t2 + 0x200 + 176 * (uint64_t)i;
		type_at(s, meta[i], i ? meta[i - 1] : TYPE_TYPE, "M",
			names + 16 * (NTYPES + 1), 880, ready | gc | sub);
	}
	type_at(s, t2 + 0x200 + 176 * 6, meta[5], "Deep",
		names + 16 * (NTYPES + 2), 16, ready);
	/* one object of each, in class 1 (32-byte blocks) */
	pool(s, fp, L, 1, n + 1, (const uint32_t[]){n}, 1, 0);
	link_used(s, 1, &fp, 1);
	for (uint32_t k = 0; k < n; k++) {
		uint64_t t = k < NTYPES	       ? TYPES0 + 176 * k
			     : k == NTYPES     ? t2
			     : k == NTYPES + 1 ? meta[5]
					       : t2 + 0x200 + 176 * 6;

		w64(at(s, fp + 48 + 32 * k), 1);
		w64(at(s, fp + 48 + 32 * k + 8), t);
	}
}

/* The types and objects of names_objects_by_their_type. */
static void
typed_pools(struct seed *s)
{
	static const uint32_t none[] = {0};
	const uint64_t ready = 1ull << 12, gc = 1ull << 14, dict = 1ull << 4,
		       sub = 1ull << 31;
	uint64_t fp = ARENA0 + 3 * L, cp = ARENA0 + 4 * L;

	type_object(s, TYPE_TYPE, TYPE_TYPE, "type", 880, ready | gc | sub, 0);
	type_object(s, META, TYPE_TYPE, "Meta", 904, ready | gc | sub, 1);
	type_object(s, FLOAT_T, TYPE_TYPE, "float", 24, ready, 2);
	type_object(s, CLASS_T, META, "Plain", 24, ready | gc | dict, 3);
	pool(s, fp, L, 1, 5, (const uint32_t[]){4}, 1, 0);
	link_used(s, 1, &fp, 1);
	w64(at(s, fp + 48), 3);
	w64(at(s, fp + 48 + 8), FLOAT_T);
	w64(at(s, fp + 80), 1);
	w64(at(s, fp + 80 + 8), FLOAT_T);
	w64(at(s, fp + 112), 0);
	w64(at(s, fp + 112 + 8), FLOAT_T);
	w64(at(s, fp + 144), FLOAT_T);
	w64(at(s, fp + 144 + 8), FLOAT_T);
	pool(s, cp, L, 3, 3, none, 1, 0);
	link_used(s, 3, &cp, 1);
	for (int i = 1; i < 3; i++) {
		w64(at(s, cp + 48 + 64 * i + 32), 2);
		w64(at(s, cp + 48 + 64 * i + 40), CLASS_T);
	}
}

static void
save(const char *dir, const char *name, struct seed *s, uint64_t readable)
{
	char path[4096];
	FILE *f;

	/* the executable's data (usedpools, types, names), then the arena */
	emit_mapping(s, MAP_R | MAP_W | 0x30, DATA_MAP, DATA_MAP_LEN,
		     DATA_MAP_LEN);
	emit_mapping(s, MAP_R | MAP_W, ARENA0, s->arena_len, readable);
	if (s->has_types)
		emit_mapping(s, MAP_R | MAP_W | 0x30, TYPES0, TYPES_LEN,
			     TYPES_LEN);
	emit_bytes(s, DATA0, s->data, DATA_LEN);
	emit_bytes(s, ARENA0, s->arena, (size_t)s->arena_len);
	if (s->has_types)
		emit_bytes(s, TYPES0, s->types, TYPES_LEN);
	snprintf(path, sizeof(path), "%s/syn-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->p, 1, s->n, f) != s->n || fclose(f)) {
		perror(path);
		exit(1);
	}
	run(s->p, s->n); /* every seed must pass */
	free(s->p);
	s->p = NULL;
}

int
main(int argc, char **argv)
{
	static struct seed s;
	static const struct {
		const char *name;
		unsigned off;
		uint32_t v;
	} damage[] = {
		{"damaged-szidx", 36, 32},
		{"damaged-maxnextoffset", 44, L - 64 + 16},
		{"damaged-nextoffset", 40, 48 + 5 * 64 + 8},
		{"damaged-count", 0, 6},
		{"damaged-arenaindex", 32, 1u << 24},
		{"damaged-freeblock", 8, 0x1234},
	};
	static const uint32_t f1[] = {1}, fc[] = {0, 1, 2};
	uint64_t p;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	init_env();

	seed_init(&s, 41 * L);
	five_pools(&s);
	save(argv[1], "five-pools", &s, 41 * L);

	seed_init(&s, 41 * L);
	five_pools(&s);
	save(argv[1], "five-pools-cut", &s, 5 * L + 4096);

	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		seed_init(&s, 41 * L);
		five_pools(&s);
		w32(at(&s, ARENA0 + 2 * L) + damage[i].off, damage[i].v);
		save(argv[1], damage[i].name, &s, 41 * L);
	}

	/* pools that disagree: count, free link, list neighbour */
	seed_init(&s, 41 * L);
	five_pools(&s);
	w32(at(&s, ARENA0), 7);
	save(argv[1], "bad-count", &s, 41 * L);
	seed_init(&s, 41 * L);
	five_pools(&s);
	w64(at(&s, ARENA0 + 48 + 3 * 16), ARENA0 + L + 48);
	save(argv[1], "bad-freelist", &s, 41 * L);
	seed_init(&s, 41 * L);
	five_pools(&s);
	w64(at(&s, ARENA0 + 40 * L) + 24, ARENA0 + 6 * L);
	save(argv[1], "bad-links", &s, 41 * L);
	seed_init(&s, 41 * L);
	five_pools(&s);
	w64(at(&s, ARENA0) + 16, USEDPOOLS + 0x800 - 16);
	w64(at(&s, USEDPOOLS + 0x800 + 8), ARENA0);
	save(argv[1], "two-usedpools", &s, 41 * L);

	/* a free-list cycle */
	seed_init(&s, 16 * L);
	p = ARENA0 + 8 * L;
	pool(&s, p, L, 1, 6, fc, 3, 0);
	link_used(&s, 1, &p, 1);
	w64(at(&s, p + 48 + 2 * 32), p + 48 + 32);
	save(argv[1], "cycle", &s, 16 * L);

	/* 4 KiB pools, then one of 16 KiB (the other geometry) */
	seed_init(&s, 16 * L);
	p = ARENA0 + 4096;
	pool(&s, p, 4096, 2, 4, f1, 1, 7);
	link_used(&s, 2, &p, 1);
	pool(&s, ARENA0 + 3 * 4096, 4096, 31, numblocks(4096, 31), NULL, 0, 7);
	pool(&s, ARENA0 + 8 * L, L, 31, numblocks(L, 31), NULL, 0, 7);
	save(argv[1], "small-pools", &s, 16 * L);

	/* objects by type */
	seed_init(&s, 8 * L);
	typed_pools(&s);
	save(argv[1], "types", &s, 8 * L);
	seed_init(&s, 4 * L);
	many_types(&s);
	save(argv[1], "many-types", &s, 4 * L);

	/* a pool being carved (DUMMY_SIZE_IDX) after the others */
	seed_init(&s, 41 * L);
	five_pools(&s);
	w32(at(&s, ARENA0 + 7 * L) + 32, 0);
	w32(at(&s, ARENA0 + 7 * L) + 36, 0xffff);
	save(argv[1], "carving", &s, 41 * L);

	/* arena 0's pools over more than 1 MiB */
	seed_init(&s, 65 * L);
	five_pools(&s);
	pool(&s, ARENA0 + 64 * L, L, 2, numblocks(L, 2), NULL, 0, 0);
	save(argv[1], "arena-span", &s, 65 * L);
	return 0;
}

#endif
