/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * malloc_code.h - where malloc's code lives in the target, so that a
 * thread stopped inside it (and so maybe half-way through a heap update)
 * can be recognised. From the symbol table: every function of malloc.c
 * when .symtab is there (the debug file's, or an unstripped static
 * executable's), else the exported malloc family of .dynsym, whose
 * bodies hold the lock-free tcache paths. Knows nothing of threads.
 */
#ifndef LA_MALLOC_CODE_H
#define LA_MALLOC_CODE_H

#include <stdint.h>

struct elffile;

#define MALLOC_CODE_MAX 96

struct malloc_code {
	uint64_t lo[MALLOC_CODE_MAX], hi[MALLOC_CODE_MAX]; /* [lo, hi) */
	unsigned n;
	int from_symtab; /* every function of malloc.c, not only exports */
};

/* Collect the ranges of ef (and of its debug file dbg, may be NULL). */
void malloc_code_collect(const struct elffile *ef, const struct elffile *dbg,
			 uint64_t bias, struct malloc_code *out);
int malloc_code_contains(const struct malloc_code *mc, uint64_t pc);

#endif
