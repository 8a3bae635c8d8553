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
#define OBJ_MAX_HEADER 48u /* bytes of a block a header test reads */

struct ptype {
	struct pytype_count c;
	uint64_t flags, basicsize;
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
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
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
	hput(pt->hkey, pt->hval, pt->hcap, ty->c.type, (uint32_t)pt->n);
	return (long)pt->n++;
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
 * The index of type object t, or -1 when t is not one: readable, ready,
 * sane sizes, a printable name, and a type whose own type is PyType_Type
 * or a metaclass of it (depth hops at most).
 */
static long
type_index(struct pytypes *pt, uint64_t t, int depth)
{
	unsigned char b[TP_READ];
	struct ptype ty;
	uint64_t meta;
	long i;

	if (!t || t % 8)
		return -1;
	i = lookup(pt, t);
	if (i >= 0)
		return i;
	if (pt->neg[hash64(t) % NEG_SLOTS] == t || depth > META_DEPTH)
		return -1;
	if (!readable(pt, t) || memsrc_read_cached(pt->mem, t, b, sizeof(b)))
		goto refuse;
	memset(&ty, 0, sizeof(ty));
	ty.c.type = t;
	ty.flags = rd64(b + TP_FLAGS);
	ty.basicsize = rd64(b + TP_BASICSIZE);
	meta = rd64(b + TP_OB_TYPE);
	if (!(ty.flags & TPF_READY) || ty.basicsize < 16 ||
	    ty.basicsize > (1u << 20) || rd64(b + TP_ITEMSIZE) > (1u << 20))
		goto refuse;
	if (read_name(pt, rd64(b + TP_NAME), ty.c.name, sizeof(ty.c.name)))
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

		if (m == -ENOMEM)
			return m;
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

int
pytypes_block(struct pytypes *pt, uint64_t addr, const unsigned char *head,
	      uint64_t size, enum pytypes_where where)
{
	uint64_t last = pt->rules >= PYTYPES_RULES_311 ? 32 : 16;

	(void)addr;
	if (pt->rules == PYTYPES_RULES_NONE)
		goto unknown;
	for (uint64_t o = 0; o <= last && o + 16 <= size; o += 16) {
		uint64_t rc = rd64(head + o);
		long i = type_index(pt, rd64(head + o + 8), 0);
		struct ptype *ty;

		if (i == -ENOMEM)
			return -ENOMEM;
		if (i < 0)
			continue;
		ty = &pt->v[i];
		if (presize(pt, ty->flags) != o || o + ty->basicsize > size)
			continue;
		if (!rc) {
			ty->c.freelisted++;
			pt->t.freelisted++;
			return -1;
		}
		if (!plausible_refcnt(pt, rc))
			continue;
		ty->c.objects++;
		ty->c.bytes += size;
		if (where == PYTYPES_IN_MALLOC)
			ty->c.malloc_objects++;
		else
			ty->c.pymalloc_objects++;
		pt->t.objects++;
		pt->t.object_bytes += size;
		return (int)i;
	}
unknown:
	pt->t.unknown_blocks++;
	pt->t.unknown_bytes += size;
	return -1;
}

int
pytypes_pool(const struct pymalloc_pool *p, void *arg)
{
	struct pytypes *pt = arg;

	for (uint32_t k = 0; k < p->carved; k++) {
		uint64_t off =
			PYMALLOC_POOL_OVERHEAD + (uint64_t)k * p->block_size;

		if (p->freemap[k / 8] & (1u << (k % 8)))
			continue;
		if (pytypes_block(pt, p->addr + off, p->bytes + off,
				  p->block_size,
				  PYTYPES_IN_PYMALLOC) == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
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
