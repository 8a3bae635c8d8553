/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * alloc_fns.h - where the allocation functions of window.h are in a
 * process: their entry addresses in the glibc it maps, their offsets in
 * that file (what a uprobe is set on), and which are aliases of another.
 * One resolver for both backends (uprobe.c, int3.c).
 */
#ifndef LA_ALLOC_FNS_H
#define LA_ALLOC_FNS_H

#include <stdint.h>
#include <sys/types.h>

#include "sampling/window.h"

struct maps;
struct mapping;
struct memsrc;

struct alloc_fns {
	/* The entry address in the target; 0: not asked, absent, an alias */
	uint64_t addr[ALLOC_NFNS];
	uint64_t offset[ALLOC_NFNS]; /* of addr in glibc's file */
	/*
	 * The function whose entry this one is, its calls reported as that
	 * one's: aligned_alloc is memalign in glibc < 2.38; else itself.
	 */
	enum alloc_fn alias[ALLOC_NFNS];
	/* The executable mapping of glibc's file that holds them, in maps */
	const struct mapping *lib;
	char glibc[512]; /* glibc's path, as mapped in the target */
};

/*
 * alloc_fns_find - the functions of mask (1u << ALLOC_*) in the glibc
 * that pid maps (maps and mem are the process's; out->lib points into
 * maps). A symbol outside an executable mapping of glibc's file is left
 * out (with a warning). Fails with -LA_ENOTGLIBC when no allocation
 * function of mask (free aside) is found, or as allocator_find_glibc().
 */
int alloc_fns_find(pid_t pid, const struct maps *maps, struct memsrc *mem,
		   unsigned mask, struct alloc_fns *out);

#endif
