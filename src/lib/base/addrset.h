/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * addrset.h - a set of target addresses (open addressing, linear probing).
 * Used for the free lists whose chunks look in use in the heap itself
 * (tcache, fastbins) and for the tcache structs. Address 0 is never stored.
 */
#ifndef LA_ADDRSET_H
#define LA_ADDRSET_H

#include <stddef.h>
#include <stdint.h>

struct addrset {
	uint64_t *slot;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

/* Returns 1 if added, 0 if already present, -ENOMEM. */
int addrset_add(struct addrset *set, uint64_t addr);
int addrset_has(const struct addrset *set, uint64_t addr);
void addrset_clear(struct addrset *set);
void addrset_free(struct addrset *set);

#endif
