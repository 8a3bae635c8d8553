/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_jsonread.c - the JSON reader of the CLI (src/cli/jsonread.c):
 * what the writer (src/cli/json.c) writes reads back the same (strings
 * with every control character, quotes, backslashes and UTF-8; numbers;
 * nesting); \u escapes and surrogate pairs decode to UTF-8; malformed
 * text, truncated at any byte, and nesting past JV_DEPTH_MAX are refused,
 * never a crash; a history line as report_history_line() writes it
 * gives its locations.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/json.h"
#include "../../src/cli/jsonread.h"

static struct jv *
parse(const char *s)
{
	return jv_parse(s, strlen(s));
}

Test(jsonread, what_the_writer_writes_reads_back)
{
	char weird[64], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;
	struct jv *v;
	const struct jv *a;

	for (int c = 1; c < 32; c++)
		weird[c - 1] = (char)c;
	strcpy(weird + 31, "\"\\/<&>\xc3\xa9\xe2\x96\x81");
	cr_assert(f);
	json_begin(&j, f);
	json_object(&j, NULL);
	json_string(&j, "s", weird);
	json_u64(&j, "big", 18446744073709551615ull);
	json_i64(&j, "neg", -1796696100330ll);
	json_double(&j, "d", 12.5);
	json_double(&j, "nan", NAN);
	json_bool(&j, "t", 1);
	json_bool(&j, "f", 0);
	json_array(&j, "a");
	for (int i = 0; i < 3; i++) {
		json_object(&j, NULL);
		json_u64(&j, "i", (uint64_t)i);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_array(&j, "empty");
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
	cr_assert_eq(fclose(f), 0);
	v = jv_parse(buf, len);
	cr_assert(v, "%s", buf);
	cr_expect_str_eq(jv_get_str(v, "s", ""), weird);
	cr_expect_eq(jv_get_num(v, "big", 0), 18446744073709551615.0);
	cr_expect_eq(jv_get_num(v, "neg", 0), -1796696100330.0);
	cr_expect_eq(jv_get_num(v, "d", 0), 12.5);
	cr_expect_eq(jv_get(v, "nan")->type, JV_NULL);
	cr_expect(isnan(jv_get_num(v, "nan", NAN)));
	cr_expect_eq(jv_get_num(v, "t", -1), 1);
	cr_expect_eq(jv_get_num(v, "f", -1), 0);
	a = jv_get(v, "a");
	cr_assert(a && a->type == JV_ARRAY && a->n == 3);
	cr_expect_eq(jv_get_num(jv_at(a, 2), "i", -1), 2);
	cr_expect_null(jv_at(a, 3));
	cr_expect_eq(jv_get(v, "empty")->n, 0);
	cr_expect_null(jv_get(v, "missing"));
	cr_expect_null(jv_get(a, "i"), "an array has no members");
	cr_expect_str_eq(jv_get_str(v, "d", "def"), "def");
	jv_free(v);
	free(buf);
}

Test(jsonread, escapes_decode_to_utf8)
{
	struct jv *v = parse(
		"[\"\\u00e9\\u2581\\ud83d\\ude00\\n\\t\\\"\", \"a\\u0041\"]");

	cr_assert(v);
	cr_expect_str_eq(jv_str(jv_at(v, 0), ""),
			 "\xc3\xa9\xe2\x96\x81\xf0\x9f\x98\x80\n\t\"");
	cr_expect_str_eq(jv_str(jv_at(v, 1), ""), "aA");
	jv_free(v);
}

Test(jsonread, malformed_text_is_refused)
{
	static const char *const bad[] = {
		"",	     "{",	    "}",
		"[1,]",	     "[,1]",	    "{\"a\"}",
		"{\"a\":}",  "{a:1}",	    "[01]",
		"[1.]",	     "[.5]",	    "[1e]",
		"[-]",	     "\"abc",	    "\"\\x\"",
		"\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"",
		"[tru]",     "nul",	    "[1] 2",
		"\"a\tb\"",  "{\"a\":1,}",  "[\"\\ud800\\u0041\"]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jv *v = parse(bad[i]);

		cr_expect_null(v, "accepted: %s", bad[i]);
		jv_free(v);
	}
}

Test(jsonread, every_truncation_is_refused)
{
	const char *line =
		"{\"time_unix_ms\":1796696100330,\"locations\":[{\"key\":\"size:1040-1264@arena:main\",\"state\":\"leak\",\"in_use_bytes\":35040000,\"slope_bytes_per_hour\":-1.5e3}],\"s\":\"\\u00e9\"}";
	size_t n = strlen(line);
	struct jv *v;

	for (size_t k = 0; k < n; k++) {
		v = jv_parse(line, k);
		cr_expect_null(v, "accepted %zu bytes", k);
		jv_free(v);
	}
	v = jv_parse(line, n);
	cr_assert(v);
	cr_expect_str_eq(
		jv_get_str(jv_at(jv_get(v, "locations"), 0), "state", ""),
		"leak");
	cr_expect_eq(jv_get_num(jv_at(jv_get(v, "locations"), 0),
				"slope_bytes_per_hour", 0),
		     -1500);
	jv_free(v);
}

Test(jsonread, nesting_is_bounded)
{
	char deep[2 * (JV_DEPTH_MAX + 2) + 1];
	struct jv *v;

	for (int d = JV_DEPTH_MAX; d <= JV_DEPTH_MAX + 1; d++) {
		memset(deep, '[', (size_t)d + 1);
		memset(deep + d + 1, ']', (size_t)d + 1);
		deep[2 * d + 2] = '\0';
		v = parse(deep);
		if (d == JV_DEPTH_MAX)
			cr_expect(v, "depth %d refused", d);
		else
			cr_expect_null(v, "depth %d accepted", d);
		jv_free(v);
	}
}
