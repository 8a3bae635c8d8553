/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pytypes.h - the CPython objects of a process by type, read from outside
 * with no symbols (doc/design/python-heap.md, "Objects and their types"):
 * for each block in use (a pymalloc block, through pymalloc_walk(), or a
 * malloc chunk, through pytypes_chunk()), the object header at the offset
 * the version and the type's flags give, accepted only when its type
 * pointer leads to a type object whose type is PyType_Type (found as the
 * fixed point type(type) is type) or a metaclass of it. Reads only, through
 * a memory source; a type's name is its tp_name.
 */
#ifndef LA_PYTYPES_H
#define LA_PYTYPES_H

#include <stdint.h>

#include "python/pymalloc.h"

struct memsrc;
struct maps;

/* Which words precede an object (Include/internal/pycore_object.h). */
enum pytypes_rules {
	PYTYPES_RULES_NONE, /* unknown version: no types */
	PYTYPES_RULES_38, /* 3.8-3.10: the GC header (16) if HAVE_GC */
	PYTYPES_RULES_311, /* 3.11: + 16 if MANAGED_DICT */
	PYTYPES_RULES_312, /* 3.12, 3.13: + 16 if MANAGED_DICT|WEAKREF */
};

/* The rules of CPython major.minor (PYTYPES_RULES_NONE if unknown). */
enum pytypes_rules pytypes_rules_for(unsigned major, unsigned minor);

#define PYTYPE_NAME_MAX 96

enum pytypes_where { PYTYPES_IN_PYMALLOC, PYTYPES_IN_MALLOC };

struct pytype_count {
	uint64_t type; /* the type object's address: the key */
	char name[PYTYPE_NAME_MAX]; /* tp_name, cut to fit */
	uint64_t objects, bytes; /* live: refcount > 0 */
	uint64_t pymalloc_objects, malloc_objects;
	/* blocks holding this type with refcount 0: interpreter free lists
	 * and stale headers, never counted as objects */
	uint64_t freelisted;
};

struct pytypes_totals {
	/* 0: the version is unknown, every block is unknown (the pool
	 * census, which needs no version, stands) */
	int available;
	uint64_t type_type; /* PyType_Type's address, 0 when not found */
	uint64_t type_type_others; /* other fixed points seen (refused) */
	uint64_t objects, object_bytes;
	uint64_t freelisted;
	uint64_t unknown_blocks, unknown_bytes; /* no object header found */
};

struct pytypes;

/*
 * A census over mem, whose process has the mappings maps (kept by the
 * caller for the census's life) and runs CPython with rules.
 */
int pytypes_new(struct memsrc *mem, const struct maps *maps,
		enum pytypes_rules rules, struct pytypes **out);
void pytypes_free(struct pytypes *pt);

/*
 * One block in use of size bytes at addr, whose first min(size, 48) bytes
 * are at head. Returns the index of its type (pytypes_get()), -1 when it
 * holds no live object (unknown or free-listed), or -ENOMEM.
 */
int pytypes_block(struct pytypes *pt, uint64_t addr, const unsigned char *head,
		  uint64_t size, enum pytypes_where where);

/* A pymalloc_walk() callback: pytypes_block() on each block in use. */
int pytypes_pool(const struct pymalloc_pool *p, void *arg);

/*
 * A malloc chunk in use (its user address and usable size): larger
 * objects (> 512 bytes) live there. Reads its first bytes through the
 * memory source. Returns as pytypes_block(), or -EFAULT/-ESRCH.
 */
int pytypes_chunk(struct pytypes *pt, uint64_t user, uint64_t usable);

size_t pytypes_count(const struct pytypes *pt);
const struct pytype_count *pytypes_get(const struct pytypes *pt, size_t i);
/* The type named name (the first of that name), or NULL. */
const struct pytype_count *pytypes_find(const struct pytypes *pt,
					const char *name);
void pytypes_totals(const struct pytypes *pt, struct pytypes_totals *out);

#endif
