/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pyversion.h - which CPython a process runs, from its files alone: the
 * interpreter is the mapped executable or libpython whose name is
 * python3.N or libpython3.N; its exported Py_Version (3.11+) gives the
 * exact PY_VERSION_HEX, else the name gives 3.N
 * (doc/design/python-heap.md, "The version"). The version picks the rules
 * of the object header (pytypes.h); the pool census needs none.
 */
#ifndef LA_PYVERSION_H
#define LA_PYVERSION_H

#include <stdint.h>
#include <sys/types.h>

struct maps;

enum pyversion_source {
	PYVERSION_NONE, /* not found: no python3.N mapped */
	PYVERSION_FILE_NAME, /* 3.N from the file's name */
	PYVERSION_SYMBOL, /* Py_Version's value, read from the file */
};

struct pyversion {
	unsigned major, minor;
	uint32_t hex; /* PY_VERSION_HEX, 0 when only the name gave 3.N */
	enum pyversion_source source;
	char path[256]; /* the file, as the maps name it */
};

/*
 * "python3.11", "libpython3.11.so.1.0" (a basename): 0 and 3, 11, or
 * -ENOENT.
 */
int pyversion_from_name(const char *base, unsigned *major, unsigned *minor);

/*
 * The interpreter of process pid among maps. 0 and *out filled, or
 * -ENOENT (no CPython found: out->source is PYVERSION_NONE).
 */
int pyversion_detect(pid_t pid, const struct maps *maps, struct pyversion *out);

#endif
