/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * abi.c - copying the public API's growable structs in and out (abi.h).
 * The rule is libbpf's OPTS_VALID (libbpf_validate_opts() in
 * tools/lib/bpf/libbpf_internal.h): a newer caller's unknown fields must
 * be zero, so that a program never believes an option took effect when
 * the library it runs with is too old to know it.
 */
#include <errno.h>
#include <string.h>

#include "base/abi.h"
#include "base/error.h"

int
opts_take(void *ours, size_t ours_sz, const void *theirs, const char *type)
{
	const unsigned char *p = theirs;
	size_t sz;

	if (!theirs)
		return 0;
	memcpy(&sz, theirs, sizeof(sz));
	if (sz < sizeof(sz))
		return la_fail(
			-EINVAL,
			"struct %s has sz %zu: set it to sizeof(struct %s) (LA_OPTS() does)",
			type, sz, type);
	for (size_t i = ours_sz; i < sz; i++)
		if (p[i])
			return la_fail(
				-EINVAL,
				"struct %s of %zu bytes sets a field at byte %zu that this libleakattach (%zu bytes) does not know: the program was built against a newer leakattach.h; leave that field zero or use a newer libleakattach",
				type, sz, i, ours_sz);
	memcpy(ours, theirs, sz < ours_sz ? sz : ours_sz);
	memcpy(ours, &ours_sz, sizeof(ours_sz));
	return 0;
}

void
out_give(void *out, size_t out_sz, const void *ours, size_t ours_sz)
{
	size_t n = out_sz < ours_sz ? out_sz : ours_sz;

	memcpy(out, ours, n);
	if (out_sz > n)
		memset((char *)out + n, 0, out_sz - n);
}

int
list_give(const void *items, unsigned n, size_t item_sz, unsigned i, void *out,
	  size_t out_sz)
{
	if (i >= n)
		return -ENOENT;
	out_give(out, out_sz, (const char *)items + (size_t)i * item_sz,
		 item_sz);
	return 0;
}
