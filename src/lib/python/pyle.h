/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pyle.h - the little-endian words of the target's memory, read from bytes
 * already in the tool's memory (a window, a pool, a header), for the
 * Python heap readers (pymalloc.c, pytypes.c). x86-64 only, like the
 * layouts they read: the host's order is the target's.
 */
#ifndef LA_PYLE_H
#define LA_PYLE_H

#include <stdint.h>
#include <string.h>

static inline uint32_t
pyle_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v)); /* unaligned-safe; one load once compiled */
	return v;
}

static inline uint64_t
pyle_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif
