/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * glibc_freelists.h - membership of the free lists whose chunks look in use
 * in the heap itself (every tcache, the fastbins) and the tcache structs.
 * The bins need no walk of their own: their chunks are the ones the heap
 * walk finds free, and glibc_heap.c checks their links as it passes.
 * Decides safe-linking (glibc >= 2.32) from the lists themselves when the
 * layout does not know it. Every list walk is bounded and cycle-checked.
 */
#ifndef LA_GLIBC_FREELISTS_H
#define LA_GLIBC_FREELISTS_H

#include <stdint.h>

#include "base/addrset.h"

struct malloc_layout;
struct memsrc;

struct arena_lists {
	uint64_t fast_chunks, fast_bytes; /* fastbins, from the lists */
	int ok; /* every list walked cleanly */
};

struct freelists {
	struct addrset tcache; /* chunk addresses in some tcache */
	struct addrset fast; /* chunk addresses in some fastbin */
	struct addrset tcstruct; /* chunks holding tcache_perthread_structs */
	struct arena_lists *arena;
	unsigned n_arena;
	int consistent;
	char why[160];
};

/*
 * arenas[i] is the target address of arena i and bufs[i] a copy of its
 * malloc_state; tcaches[] the threads' tcache pointers (0 skipped). May
 * set l->safe_linking. Returns 0, or -ENOMEM/-ESRCH; inconsistencies are
 * reported in fl->consistent/why, not as errors.
 */
int freelists_collect(struct malloc_layout *l, struct memsrc *mem,
		      const uint64_t *arenas, unsigned char *const *bufs,
		      const uint64_t *system_mem, unsigned n,
		      const uint64_t *tcaches, unsigned ntc,
		      uint64_t tcache_count, struct freelists *fl);
void freelists_free(struct freelists *fl);

/* tcache bin of a chunk size (malloc.c csize2tidx). */
static inline uint64_t
csize2tidx(uint64_t csize)
{
	return (csize - 17) / 16;
}

#endif
