/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * checksum.h - FNV-1a (64 bit), the checksum of the files leakattach
 * keeps (the state file, the layout cache, a kept sampling window): a
 * damaged file must not pass for a good one. Not cryptographic.
 */
#ifndef LA_CHECKSUM_H
#define LA_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define FNV_INIT 0xcbf29ce484222325ull

static inline uint64_t
fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#endif
