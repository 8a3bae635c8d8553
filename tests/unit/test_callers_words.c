/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_callers_words.c - what the reports say of callers (issue 14 §5):
 * the key of a caller's leak entry tells two unnamed callers apart, by
 * module and link-time offset, and a window that freed nothing says so
 * rather than "0 % ... in use again".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "callers_words.h"

static struct la_frame
frame(const char *module, uint64_t offset, uint64_t pc, const char *fn)
{
	struct la_frame f;

	memset(&f, 0, sizeof(f));
	snprintf(f.module, sizeof(f.module), "%s", module);
	f.module_offset = offset;
	f.pc = pc;
	snprintf(f.function, sizeof(f.function), "%s", fn);
	return f;
}

Test(caller_key, two_unnamed_callers_get_two_keys)
{
	struct la_frame a = frame("/usr/bin/python3.11", 0x5064f4,
				  0x55550000 + 0x5064f4, "");
	struct la_frame b = frame("/usr/bin/python3.11", 0x4a1c20,
				  0x55550000 + 0x4a1c20, "");
	char ka[600], kb[600];

	caller_key(&a, 1, "size:1168", ka, sizeof(ka));
	caller_key(&b, 1, "size:1168", kb, sizeof(kb));
	cr_expect_str_eq(ka, "caller:python3.11+0x5064f4@size:1168");
	cr_expect_str_eq(kb, "caller:python3.11+0x4a1c20@size:1168");
	cr_expect_str_neq(ka, kb);
}

Test(caller_key, the_load_address_does_not_change_it)
{
	/* one call site, two runs: ASLR moves pc, not the offset */
	struct la_frame r1 =
		frame("/usr/lib/x/libfoo.so.1", 0x1234, 0x7f0000001234, "");
	struct la_frame r2 =
		frame("/usr/lib/x/libfoo.so.1", 0x1234, 0x7fab00001234, "");
	char k1[600], k2[600];

	caller_key(&r1, 1, "size:32", k1, sizeof(k1));
	caller_key(&r2, 1, "size:32", k2, sizeof(k2));
	cr_expect_str_eq(k1, k2);
	cr_expect_str_eq(k1, "caller:libfoo.so.1+0x1234@size:32");
}

Test(caller_key, a_named_caller_keeps_its_name)
{
	struct la_frame f =
		frame("/t/callerleak", 0x1300, 0x5600001300, "make_entry");
	char k[600];

	cr_expect_str_eq(caller_key(&f, 1, "size:1168", k, sizeof(k)),
			 "caller:make_entry@size:1168");
}

Test(caller_key, a_nearest_symbol_is_no_name)
{
	/* "near X+0x..." may be another function: the offset keys it */
	struct la_frame f = frame("/usr/bin/python3.11", 0x5064f4, 0x5064f4,
				  "near PyFoo+0x1234");
	char k[600];

	cr_expect_str_eq(caller_key(&f, 1, "size:64", k, sizeof(k)),
			 "caller:python3.11+0x5064f4@size:64");
}

Test(caller_key, no_module_no_frames)
{
	struct la_frame f = frame("", 0, 0x7f1200345678, "");
	char k[600];

	cr_expect_str_eq(caller_key(&f, 1, "size:64", k, sizeof(k)),
			 "caller:0x7f1200345678@size:64");
	cr_expect_str_eq(caller_key(&f, 0, "size:64", k, sizeof(k)),
			 "caller:??@size:64");
}

Test(callers_reuse_text, no_frees_seen)
{
	struct la_callers_info ci;
	char buf[128];

	memset(&ci, 0, sizeof(ci));
	cr_expect_neq(callers_reuse_text(&ci, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "no frees seen in the window");
	cr_expect_null(strstr(buf, "%"));
}

Test(callers_reuse_text, frees_seen)
{
	struct la_callers_info ci;
	char buf[128];

	memset(&ci, 0, sizeof(ci));
	ci.control_chunks = 40;
	ci.control_reused = 0;
	ci.reuse_rate = 0;
	cr_expect_eq(callers_reuse_text(&ci, buf, sizeof(buf)), 0);
	cr_expect_str_eq(
		buf, "0 % of the chunks freed in the window were in use again");
	ci.control_reused = 10;
	ci.reuse_rate = 0.25;
	callers_reuse_text(&ci, buf, sizeof(buf));
	cr_expect_str_eq(
		buf,
		"25 % of the chunks freed in the window were in use again");
}
