/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * layout_cache.h - remember a layout learned from DWARF, per build-id of
 * the binary that holds malloc, so that later runs need not read libc's
 * debug info again (libdwarf decompresses all of .debug_info: some 15 MiB
 * for Debian's libc, against about 4 MiB for everything else). Addresses
 * are stored relative to the load bias. A cached layout is used only after
 * it has been confirmed against the live process, like a fresh one.
 */
#ifndef LA_LAYOUT_CACHE_H
#define LA_LAYOUT_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct malloc_code;
struct malloc_layout;

/* 0 on a hit; -ENOENT (no or unusable entry) otherwise. */
int layout_cache_load(const char *dir, const unsigned char *id, size_t idlen,
		      uint64_t bias, struct malloc_layout *l,
		      struct malloc_code *mc);
/* Write atomically (temporary file and rename); creates dir (0700). */
int layout_cache_save(const char *dir, const unsigned char *id, size_t idlen,
		      uint64_t bias, const struct malloc_layout *l,
		      const struct malloc_code *mc);

#endif
