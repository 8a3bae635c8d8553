/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_abi.c - the public structs that may grow (base/abi.h): options
 * from an older caller keep the library's defaults for what they lack,
 * options from a newer caller are taken when their unknown fields are
 * zero and refused (-EINVAL, a sentence) when one is set, never dropped;
 * an sz too small to be a struct is refused; output structs receive
 * what both sides know, and a newer caller's extra fields are zeroed;
 * a list gives item i and nothing past its end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/abi.h"
#include "leakattach.h"

/*
 * The same options struct as three versions of leakattach.h know it; each
 * adds its fields past the older sizeof, never into its tail padding
 * (which an older caller copies in, as part of its sz).
 */
struct opts_v1 {
	size_t sz;
	uint64_t a;
};
struct opts_v2 {
	size_t sz;
	uint64_t a;
	unsigned b;
	uint64_t c;
};
struct opts_v3 {
	size_t sz;
	uint64_t a;
	unsigned b;
	uint64_t c;
	uint64_t d;
};

static const struct opts_v2 defaults = {.sz = 0, .a = 1, .b = 2, .c = 3};

/* Field by field: a struct copy need not copy the padding. */
static void
expect_defaults(const struct opts_v2 *o)
{
	cr_expect_eq(o->sz, defaults.sz);
	cr_expect_eq(o->a, defaults.a);
	cr_expect_eq(o->b, defaults.b);
	cr_expect_eq(o->c, defaults.c);
}

Test(abi, takes_no_options_as_the_defaults)
{
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, NULL, opts_v2), 0);
	expect_defaults(&o);
}

Test(abi, keeps_defaults_for_what_an_older_caller_lacks)
{
	struct opts_v1 old = {.sz = sizeof(old), .a = 7};
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, &old, opts_v2), 0);
	cr_expect_eq(o.a, 7);
	cr_expect_eq(o.b, 2);
	cr_expect_eq(o.c, 3);
	cr_expect_eq(o.sz, sizeof(o));
}

Test(abi, takes_every_field_of_the_same_version)
{
	struct opts_v2 in = {.sz = sizeof(in), .a = 7, .b = 8, .c = 9};
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, &in, opts_v2), 0);
	cr_expect_eq(o.sz, sizeof(o));
	cr_expect_eq(o.a, 7);
	cr_expect_eq(o.b, 8);
	cr_expect_eq(o.c, 9);
}

Test(abi, takes_a_newer_caller_whose_new_fields_are_zero)
{
	struct opts_v3 in = {.sz = sizeof(in), .a = 7, .b = 8, .c = 9};
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, &in, opts_v2), 0);
	cr_expect_eq(o.a, 7);
	cr_expect_eq(o.b, 8);
	cr_expect_eq(o.c, 9);
	cr_expect_eq(o.sz, sizeof(o));
}

Test(abi, refuses_a_newer_field_it_does_not_know)
{
	struct opts_v3 in = {.sz = sizeof(in), .a = 7, .d = 1ull << 60};
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, &in, opts_v2), -EINVAL);
	cr_expect_not_null(strstr(la_errmsg(), "struct opts_v2"), "%s",
			   la_errmsg());
	cr_expect_not_null(strstr(la_errmsg(), "does not know"), "%s",
			   la_errmsg());
	/* nothing half-taken */
	expect_defaults(&o);
}

Test(abi, refuses_an_sz_that_was_never_set)
{
	struct opts_v2 in = {.a = 7};
	struct opts_v2 o = defaults;

	cr_assert_eq(OPTS_TAKE(&o, &in, opts_v2), -EINVAL);
	cr_expect_not_null(strstr(la_errmsg(), "sizeof(struct opts_v2)"),
			   "%s", la_errmsg());
	expect_defaults(&o);
}

Test(abi, gives_an_older_caller_what_it_has_room_for)
{
	struct opts_v2 ours = {.sz = sizeof(ours), .a = 7, .b = 8, .c = 9};
	struct {
		struct opts_v1 out;
		unsigned char guard[32];
	} old;

	memset(&old, 0xa5, sizeof(old));
	out_give(&old.out, sizeof(old.out), &ours, sizeof(ours));
	cr_expect_eq(old.out.a, 7);
	for (size_t i = 0; i < sizeof(old.guard); i++)
		cr_assert_eq(old.guard[i], 0xa5, "byte %zu past the struct", i);
}

Test(abi, zeroes_what_a_newer_caller_has_and_it_does_not_fill)
{
	struct opts_v2 ours = {.sz = sizeof(ours), .a = 7, .b = 8, .c = 9};
	struct opts_v3 out;

	memset(&out, 0xa5, sizeof(out));
	out_give(&out, sizeof(out), &ours, sizeof(ours));
	cr_expect_eq(out.a, 7);
	cr_expect_eq(out.b, 8);
	cr_expect_eq(out.c, 9);
	cr_expect_eq(out.d, 0);
}

Test(abi, gives_list_items_and_nothing_past_the_end)
{
	const struct opts_v2 items[3] = {{.a = 10}, {.a = 11}, {.a = 12}};
	struct opts_v2 out = {.a = 99};

	cr_assert_eq(list_give(items, 3, sizeof(items[0]), 2, &out,
			       sizeof(out)),
		     0);
	cr_expect_eq(out.a, 12);
	out.a = 99;
	cr_expect_eq(list_give(items, 3, sizeof(items[0]), 3, &out,
			       sizeof(out)),
		     -ENOENT);
	cr_expect_eq(out.a, 99, "nothing written past the end");
}
