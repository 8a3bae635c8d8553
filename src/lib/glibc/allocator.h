/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * allocator.h - find the ELF file that holds the target's malloc and make
 * sure it is glibc's: libc.so.6 for dynamic programs, the executable for
 * static ones. Refuses, naming what it found, when malloc is bound to
 * another allocator (jemalloc, tcmalloc, an LD_PRELOAD library) or the
 * process has no glibc (musl, Go). Does not read malloc's state.
 */
#ifndef LA_ALLOCATOR_H
#define LA_ALLOCATOR_H

#include <stdint.h>
#include <sys/types.h>

struct elffile;
struct maps;
struct memsrc;

struct glibc_loc {
	struct elffile *elf; /* owned */
	char path[512]; /* as mapped in the target */
	uint64_t bias; /* load bias */
	int static_binary;
};

int allocator_find_glibc(pid_t pid, const struct maps *maps, struct memsrc *mem,
			 struct glibc_loc *out);
void glibc_loc_free(struct glibc_loc *loc);

/*
 * For a static executable without glibc's malloc: "musl libc", "Go" or
 * "Rust" when the file says so (symbols, sections, strings), else NULL.
 */
const char *allocator_static_kind(const struct elffile *ef);

struct mapping;

#endif
