/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pytypes.c - objects per type in a CPython heap (see pytypes.h).
 *
 * Facts used, all x86-64, the same on CPython 3.8 to 3.13
 * (doc/design/python-heap.md, "Objects and their types"):
 *  - an object starts with ob_refcnt (8 bytes) and ob_type (Include/object.h);
 *  - a GC object is preceded by its 16-byte PyGC_Head, and from 3.11 some
 *    objects by two more words (_PyType_PreHeaderSize() in
 *    Include/internal/pycore_object.h): the object is at block + 0, 16 or 32,
 *    and the type says which;
 *  - a type object has ob_type at 8, tp_name at 24, tp_basicsize at 32,
 *    tp_itemsize at 40 and tp_flags at 168 (Include/cpython/object.h);
 *  - PyType_Type is the one type that is its own type.
 * A candidate header is believed only when all of these agree, its
 * refcount is not 0 (a free-listed or stale block) and does not look like
 * a pointer (a buffer of pointers whose second word is a type).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "python/pyle.h"
#include "python/pytypes.h"

/* tp_flags bits (Include/object.h) */
#define TPF_MANAGED_WEAKREF (1ull << 3) /* 3.12+ */
#define TPF_MANAGED_DICT (1ull << 4) /* 3.11+ */
#define TPF_READY (1ull << 12)
#define TPF_HAVE_GC (1ull << 14)
#define TPF_TYPE_SUBCLASS (1ull << 31)

/* PyTypeObject offsets (Include/cpython/object.h) */
#define TP_OB_TYPE 8
#define TP_NAME 24
#define TP_BASICSIZE 32
#define TP_ITEMSIZE 40
#define TP_FLAGS 168
#define TP_READ 176

#define META_DEPTH 4 /* metaclass hops to PyType_Type */
#define NEG_SLOTS 8192u /* direct-mapped cache of refused type pointers */
#define FRONT_SLOTS 64u /* direct-mapped cache of accepted ones */
#define OBJ_MAX_HEADER 48u /* bytes of a block a header test reads */

struct ptype {
	struct pytype_count c;
	uint64_t flags, basicsize;
	uint64_t pre; /* presize(): where its objects start in a block */
};

struct pytypes {
	struct memsrc *mem;
	const struct maps *maps;
	enum pytypes_rules rules;
	struct ptype *v;
	size_t n, cap;
	uint64_t *hkey; /* open addressing: type address -> index + 1 */
	uint32_t *hval;
	size_t hcap;
	uint64_t neg[NEG_SLOTS];
	/*
	 * In front of the table: the last type seen per slot. An object's
	 * type is one of a few dozen, so nearly every block is answered
	 * here, by one compare (t 1, never a type's address: empty).
	 */
	struct {
		uint64_t t;
		long i;
	} front[FRONT_SLOTS];
	/*
	 * During pytypes_pool(): the walk's window around the pool, every
	 * byte read. Type pointers that lead into it (a GC header's links,
	 * read as a header at the wrong offset, point at the neighbours)
	 * are checked there, with no read of the target.
	 */
	const unsigned char *win;
	uint64_t win_lo, win_hi;
	struct pytypes_totals t;
};

enum pytypes_rules
pytypes_rules_for(unsigned major, unsigned minor)
{
	if (major != 3 || minor < 8 || minor > 13)
		return PYTYPES_RULES_NONE;
	if (minor <= 10)
		return PYTYPES_RULES_38;
	if (minor == 11)
		return PYTYPES_RULES_311;
	return PYTYPES_RULES_312;
}

static uint64_t
hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int
pytypes_new(struct memsrc *mem, const struct maps *maps,
	    enum pytypes_rules rules, struct pytypes **out)
{
	struct pytypes *pt = calloc(1, sizeof(*pt));

	if (!pt)
		return -ENOMEM;
	pt->mem = mem;
	pt->maps = maps;
	pt->rules = rules;
	/* never a type pointer (those are 8-aligned): every slot misses */
	for (unsigned i = 0; i < FRONT_SLOTS; i++)
		pt->front[i].t = 1;
	*out = pt;
	return 0;
}

void
pytypes_free(struct pytypes *pt)
{
	if (!pt)
		return;
	free(pt->v);
	free(pt->hkey);
	free(pt->hval);
	free(pt);
}

static unsigned
front_slot(uint64_t t)
{
	/* types lie 400 to 900 bytes apart: a multiplicative hash of t / 8 */
	return (unsigned)(((t >> 3) * 0x9e3779b97f4a7c15ull) >> 58);
}

static long
lookup(const struct pytypes *pt, uint64_t t)
{
	if (!pt->hcap)
		return -1;
	for (size_t i = hash64(t) & (pt->hcap - 1);;
	     i = (i + 1) & (pt->hcap - 1)) {
		if (!pt->hkey[i])
			return -1;
		if (pt->hkey[i] == t)
			return (long)pt->hval[i];
	}
}

static void
hput(uint64_t *keys, uint32_t *vals, size_t cap, uint64_t k, uint32_t v)
{
	size_t i = hash64(k) & (cap - 1);

	while (keys[i])
		i = (i + 1) & (cap - 1);
	keys[i] = k;
	vals[i] = v;
}

static uint64_t
presize(const struct pytypes *pt, uint64_t flags)
{
	uint64_t n = flags & TPF_HAVE_GC ? 16 : 0;

	if (pt->rules == PYTYPES_RULES_311 && (flags & TPF_MANAGED_DICT))
		n += 16;
	if (pt->rules == PYTYPES_RULES_312 &&
	    (flags & (TPF_MANAGED_DICT | TPF_MANAGED_WEAKREF)))
		n += 16;
	return n;
}

static long
add_type(struct pytypes *pt, const struct ptype *ty)
{
	if (pt->n == pt->cap) {
		size_t cap = pt->cap ? 2 * pt->cap : 64;
		struct ptype *v = realloc(pt->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pt->v = v;
		pt->cap = cap;
	}
	if (2 * (pt->n + 1) > pt->hcap) {
		size_t cap = pt->hcap ? 2 * pt->hcap : 128;
		uint64_t *k = calloc(cap, sizeof(*k));
		uint32_t *val = calloc(cap, sizeof(*val));

		if (!k || !val) {
			free(k);
			free(val);
			return -ENOMEM;
		}
		for (size_t i = 0; i < pt->hcap; i++)
			if (pt->hkey[i])
				hput(k, val, cap, pt->hkey[i], pt->hval[i]);
		free(pt->hkey);
		free(pt->hval);
		pt->hkey = k;
		pt->hval = val;
		pt->hcap = cap;
	}
	pt->v[pt->n] = *ty;
	pt->v[pt->n].pre = presize(pt, ty->flags);
	hput(pt->hkey, pt->hval, pt->hcap, ty->c.type, (uint32_t)pt->n);
	return (long)pt->n++;
}

/* The window holds [addr, addr + n). */
static int
in_win(const struct pytypes *pt, uint64_t addr, uint64_t n)
{
	return pt->win && addr >= pt->win_lo && addr <= pt->win_hi &&
	       n <= pt->win_hi - addr;
}

static int
readable(const struct pytypes *pt, uint64_t addr)
{
	const struct mapping *m = procmaps_find(pt->maps, addr);

	return m && (m->prot & MAP_R);
}

/* A NUL-terminated printable string of at most len - 1 bytes at addr. */
static int
read_name(struct pytypes *pt, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	if (in_win(pt, addr, len)) {
		/* the same test on the bytes at hand */
		const unsigned char *p = pt->win + (addr - pt->win_lo);

		for (size_t i = 0; i < len; i++) {
			if (!p[i]) {
				if (!i)
					return -EINVAL;
				memcpy(buf, p, i + 1);
				return 0;
			}
			if (p[i] < 0x20 || p[i] == 0x7f)
				return -EINVAL;
		}
		memcpy(buf, p, len - 1);
		buf[len - 1] = '\0';
		return 0;
	}
	if (!readable(pt, addr))
		return -EFAULT;
	while (got < len) {
		uint64_t a = addr + got;
		size_t n = MEMSRC_PAGE - (size_t)(a % MEMSRC_PAGE);

		if (n > len - got)
			n = len - got;
		if (memsrc_read_cached(pt->mem, a, buf + got, n))
			return -EFAULT;
		for (size_t i = got; i < got + n; i++) {
			unsigned char ch = (unsigned char)buf[i];

			if (!ch)
				return i ? 0 : -EINVAL;
			if (ch < 0x20 || ch == 0x7f)
				return -EINVAL;
		}
		got += n;
	}
	/* too long for us: keep the start, still a name */
	buf[len - 1] = '\0';
	return 0;
}

/*
 * The first tests of a type object, on its bytes: ready, sane sizes.
 * They refuse nearly every pointer that is no type (see type_of()).
 */
static inline int
type_head_ok(const unsigned char *b)
{
	uint64_t basicsize = pyle_u64(b + TP_BASICSIZE);

	return (pyle_u64(b + TP_FLAGS) & TPF_READY) && basicsize >= 16 &&
	       basicsize <= (1u << 20) &&
	       pyle_u64(b + TP_ITEMSIZE) <= (1u << 20);
}

/* A chain of metaclasses longer than META_DEPTH from where it was met. */
#define TYPE_TOO_DEEP (-2l)

/*
 * The index of type object t, or -1 when t is not one: readable, ready,
 * sane sizes, a printable name, and a type whose own type is PyType_Type
 * or a metaclass of it (depth hops at most: else TYPE_TOO_DEEP, which is
 * not remembered as a refusal, so the answer for t does not depend on
 * which block met it first).
 */
static __attribute__((noinline)) long
type_index(struct pytypes *pt, uint64_t t, int depth)
{
	unsigned char buf[TP_READ];
	const unsigned char *b;
	struct ptype ty;
	uint64_t meta;
	long i;

	if (!t || t % 8)
		return -1;
	i = lookup(pt, t);
	if (i >= 0) {
		pt->front[front_slot(t)].t = t;
		pt->front[front_slot(t)].i = i;
		return i;
	}
	b = in_win(pt, t, TP_READ) ? pt->win + (t - pt->win_lo) : NULL;
	if (b && !type_head_ok(b))
		return -1;
	if (pt->neg[hash64(t) % NEG_SLOTS] == t)
		return -1;
	/* too deep from here, not refused: met nearer, it may be a type */
	if (depth > META_DEPTH)
		return TYPE_TOO_DEEP;
	if (!b) {
		if (!readable(pt, t) ||
		    memsrc_read_cached(pt->mem, t, buf, sizeof(buf)))
			goto refuse;
		b = buf;
	}
	memset(&ty, 0, sizeof(ty));
	ty.c.type = t;
	ty.flags = pyle_u64(b + TP_FLAGS);
	ty.basicsize = pyle_u64(b + TP_BASICSIZE);
	meta = pyle_u64(b + TP_OB_TYPE);
	if (!type_head_ok(b))
		goto refuse;
	if (read_name(pt, pyle_u64(b + TP_NAME), ty.c.name, sizeof(ty.c.name)))
		goto refuse;
	if (meta == t) {
		/* type(type) is type: PyType_Type, and only one of it */
		if (!(ty.flags & TPF_TYPE_SUBCLASS) ||
		    strcmp(ty.c.name, "type"))
			goto refuse;
		if (pt->t.type_type && pt->t.type_type != t) {
			pt->t.type_type_others++;
			goto refuse;
		}
		pt->t.type_type = t;
	} else {
		long m = type_index(pt, meta, depth + 1);

		if (m == -ENOMEM || m == TYPE_TOO_DEEP)
			return m; /* nothing cached on the way back either */
		if (m < 0)
			goto refuse;
		/* the metatype is type or a subclass of it */
		if (!(pt->v[m].flags & TPF_TYPE_SUBCLASS))
			goto refuse;
	}
	return add_type(pt, &ty);
refuse:
	pt->neg[hash64(t) % NEG_SLOTS] = t;
	return -1;
}

/* A refcount, not a pointer that happens to sit where one would be. */
static int
plausible_refcnt(const struct pytypes *pt, uint64_t rc)
{
	/* 3.12+: Py_INCREF touches the low half only (immortal 0xFFFFFFFF) */
	if (pt->rules == PYTYPES_RULES_312 && rc >> 32)
		return 0;
	if (rc >> 40)
		return 0;
	/*
	 * In a non-PIE interpreter a static type's address (0x9584a0) is a
	 * believable count: an array of such pointers reads as objects.
	 */
	if (rc % 8 == 0 && procmaps_find(pt->maps, rc))
		return 0;
	return 1;
}

/*
 * type_index() at depth 0, answered inline when the front cache holds t:
 * the path of nearly every object.
 */
static inline long
type_of(struct pytypes *pt, uint64_t t)
{
	unsigned s;

	if (!t || t % 8)
		return -1;
	/*
	 * At a wrong offset the "type" is mostly a GC link to a neighbour
	 * in the same window, each seen once: refused here on its bytes,
	 * with no call, no table and no cache. The same tests as
	 * type_index()'s, the same verdict: a type in the table passed them
	 * on these very bytes.
	 */
	if (in_win(pt, t, TP_READ) && !type_head_ok(pt->win + (t - pt->win_lo)))
		return -1;
	s = front_slot(t);
	if (pt->front[s].t == t)
		return pt->front[s].i;
	return type_index(pt, t, 0);
}

enum { BLOCK_OBJECT, BLOCK_FREELISTED, BLOCK_UNKNOWN };

/*
 * What a block of size bytes, whose first bytes are at head, holds: a
 * live object of type *i, a free-listed one of type *i, or nothing known
 * (or -ENOMEM). The first offset that passes every test wins.
 */
static inline __attribute__((always_inline)) int
classify(struct pytypes *pt, const unsigned char *head, uint64_t size, long *i)
{
	uint64_t last = pt->rules >= PYTYPES_RULES_311 ? 32 : 16;

	if (pt->rules == PYTYPES_RULES_NONE)
		return BLOCK_UNKNOWN;
	for (uint64_t o = 0; o <= last && o + 16 <= size; o += 16) {
		long k = type_of(pt, pyle_u64(head + o + 8));
		const struct ptype *ty;
		uint64_t rc;

		if (k < 0) {
			if (k == -ENOMEM)
				return -ENOMEM;
			continue;
		}
		ty = &pt->v[k];
		if (ty->pre != o || o + ty->basicsize > size)
			continue;
		rc = pyle_u64(head + o);
		*i = k;
		if (!rc)
			return BLOCK_FREELISTED;
		if (plausible_refcnt(pt, rc))
			return BLOCK_OBJECT;
	}
	return BLOCK_UNKNOWN;
}

/* n live objects of type i in blocks (or chunks) of size bytes each */
static void
count_objects(struct pytypes *pt, long i, uint64_t n, uint64_t size,
	      enum pytypes_where where)
{
	struct ptype *ty = &pt->v[i];

	ty->c.objects += n;
	ty->c.bytes += n * size;
	if (where == PYTYPES_IN_MALLOC)
		ty->c.malloc_objects += n;
	else
		ty->c.pymalloc_objects += n;
	pt->t.objects += n;
	pt->t.object_bytes += n * size;
}

int
pytypes_block(struct pytypes *pt, uint64_t addr, const unsigned char *head,
	      uint64_t size, enum pytypes_where where)
{
	long i = -1;
	int kind = classify(pt, head, size, &i);

	(void)addr;
	switch (kind) {
	case BLOCK_OBJECT:
		count_objects(pt, i, 1, size, where);
		return (int)i;
	case BLOCK_FREELISTED:
		pt->v[i].c.freelisted++;
		pt->t.freelisted++;
		return -1;
	case BLOCK_UNKNOWN:
		pt->t.unknown_blocks++;
		pt->t.unknown_bytes += size;
		return -1;
	default:
		return kind; /* -ENOMEM */
	}
}

/*
 * The blocks in use of one pool. Neighbouring blocks mostly hold objects
 * of one type: they are counted in runs, added to the type once a run
 * ends, rather than block by block.
 */
int
pytypes_pool(const struct pymalloc_pool *p, void *arg)
{
	struct pytypes *pt = arg;
	const unsigned char *head = p->bytes + PYMALLOC_POOL_OVERHEAD;
	uint64_t size = p->block_size, run_n = 0, unknown = 0;
	long run = -1;
	int r = 0;

	if (p->win) {
		pt->win = p->win;
		pt->win_lo = p->win_addr;
		pt->win_hi = p->win_addr + p->win_len;
	}
	for (uint32_t k = 0; k < p->carved; k++, head += size) {
		long i = -1;
		int kind;

		if (p->freemap[k / 8] & (1u << (k % 8)))
			continue;
		kind = classify(pt, head, size, &i);
		if (kind == BLOCK_OBJECT) {
			if (i != run) {
				if (run_n)
					count_objects(pt, run, run_n, size,
						      PYTYPES_IN_PYMALLOC);
				run = i;
				run_n = 0;
			}
			run_n++;
		} else if (kind == BLOCK_FREELISTED) {
			pt->v[i].c.freelisted++;
			pt->t.freelisted++;
		} else if (kind == BLOCK_UNKNOWN) {
			unknown++;
		} else {
			r = kind; /* -ENOMEM */
			break;
		}
	}
	if (run_n)
		count_objects(pt, run, run_n, size, PYTYPES_IN_PYMALLOC);
	pt->t.unknown_blocks += unknown;
	pt->t.unknown_bytes += unknown * size;
	pt->win = NULL; /* gone after the call */
	return r;
}

int
pytypes_chunk(struct pytypes *pt, uint64_t user, uint64_t usable)
{
	unsigned char head[OBJ_MAX_HEADER];
	size_t n = usable < sizeof(head) ? (size_t)usable : sizeof(head);
	int err;

	memset(head, 0, sizeof(head));
	err = memsrc_read_cached(pt->mem, user, head, n);
	if (err)
		return err;
	return pytypes_block(pt, user, head, usable, PYTYPES_IN_MALLOC);
}

size_t
pytypes_count(const struct pytypes *pt)
{
	return pt->n;
}

const struct pytype_count *
pytypes_get(const struct pytypes *pt, size_t i)
{
	return i < pt->n ? &pt->v[i].c : NULL;
}

const struct pytype_count *
pytypes_find(const struct pytypes *pt, const char *name)
{
	for (size_t i = 0; i < pt->n; i++)
		if (!strcmp(pt->v[i].c.name, name))
			return &pt->v[i].c;
	return NULL;
}

void
pytypes_totals(const struct pytypes *pt, struct pytypes_totals *out)
{
	*out = pt->t;
	out->available = pt->rules != PYTYPES_RULES_NONE;
}
