/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * abi.h - structs that cross the public API and may grow (leakattach.h,
 * "Conventions"). An options struct comes in with its size in its first
 * member, sz; an output struct goes out through a pointer and the size
 * the caller was built with. Either side may be the older one: what one
 * side lacks the other treats as zero, and a newer caller's fields that
 * this library does not know are refused when set, never dropped. So a
 * field is added to a public struct past its last sizeof (never into its
 * tail padding, which an older caller sends as part of its sz), and a
 * new option's zero means what the older library did.
 */
#ifndef LA_ABI_H
#define LA_ABI_H

#include <stddef.h>

/*
 * opts_take - copy the caller's options *theirs (NULL: none, *ours left
 * as it is) over *ours, ours_sz bytes whose first member is the size_t
 * sz, and set ours' sz to ours_sz. Bytes of a larger struct beyond
 * ours_sz must be zero: fields of a newer leakattach.h that this library
 * would ignore. Returns 0, or -EINVAL with la_errmsg() naming struct
 * `type` when its sz is too small to hold itself or a field this
 * library does not know is set.
 */
int opts_take(void *ours, size_t ours_sz, const void *theirs, const char *type);

/* OPTS_TAKE(&o, opts, la_session_opts): opts_take() with sz first. */
#define OPTS_TAKE(ours, theirs, name)                                          \
	({                                                                     \
		_Static_assert(offsetof(struct name, sz) == 0 &&               \
				       sizeof(*(ours)) == sizeof(struct name), \
			       "struct " #name " begins with its sz");         \
		opts_take((ours), sizeof(struct name), (theirs), #name);       \
	})

/*
 * out_give - hand *ours (ours_sz bytes) to a caller's output struct of
 * out_sz bytes: the common prefix is copied, a newer caller's larger
 * struct is zeroed past ours_sz (fields this library does not fill), an
 * older caller's smaller one receives what it has room for.
 */
void out_give(void *out, size_t out_sz, const void *ours, size_t ours_sz);

/*
 * list_give - out_give() of item i of the n items of item_sz bytes at
 * items: the _get(i) accessors of the public lists. -ENOENT past the end.
 */
int list_give(const void *items, unsigned n, size_t item_sz, unsigned i,
	      void *out, size_t out_sz);

#endif
