/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* addrset.c - see addrset.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/addrset.h"

static size_t
hash(uint64_t addr, size_t cap)
{
	/* Chunk addresses are 16-aligned: mix the high bits down. */
	addr ^= addr >> 29;
	addr *= 0xbf58476d1ce4e5b9ULL;
	addr ^= addr >> 32;
	return (size_t)addr & (cap - 1);
}

static int
grow(struct addrset *set)
{
	size_t ncap = set->cap ? set->cap * 2 : 256;
	uint64_t *nslot = calloc(ncap, sizeof(*nslot));

	if (!nslot)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++) {
		uint64_t a = set->slot[i];
		size_t j;

		if (!a)
			continue;
		for (j = hash(a, ncap); nslot[j]; j = (j + 1) & (ncap - 1))
			;
		nslot[j] = a;
	}
	free(set->slot);
	set->slot = nslot;
	set->cap = ncap;
	return 0;
}

int
addrset_add(struct addrset *set, uint64_t addr)
{
	size_t i;

	if (!addr)
		return 0;
	if ((set->len + 1) * 2 > set->cap) {
		int err = grow(set);

		if (err)
			return err;
	}
	for (i = hash(addr, set->cap); set->slot[i];
	     i = (i + 1) & (set->cap - 1))
		if (set->slot[i] == addr)
			return 0;
	set->slot[i] = addr;
	set->len++;
	return 1;
}

int
addrset_has(const struct addrset *set, uint64_t addr)
{
	if (!set->cap || !addr)
		return 0;
	for (size_t i = hash(addr, set->cap); set->slot[i];
	     i = (i + 1) & (set->cap - 1))
		if (set->slot[i] == addr)
			return 1;
	return 0;
}

void
addrset_clear(struct addrset *set)
{
	if (set->cap)
		memset(set->slot, 0, set->cap * sizeof(*set->slot));
	set->len = 0;
}

void
addrset_free(struct addrset *set)
{
	free(set->slot);
	memset(set, 0, sizeof(*set));
}
