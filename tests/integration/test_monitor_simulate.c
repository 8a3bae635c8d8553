/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_simulate.c - leakattach simulate: the planted leak is found,
 * --count 0 finds nothing, --cleanup shows the memory come back.
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_monitor.h"

/* ---- simulate ---------------------------------------------------------------- */

/* The chunk glibc mmaps for malloc(1 MiB): 1 MiB + 16, + 8, to pages. */
#define MIB_CHUNK "1052672"

Test(simulate, finds_the_planted_leak, .timeout = 60)
{
	struct run_result r;
	struct ctx c;

	ctx_open(&c, "la-monitor");
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "5",
			    "--interval", "0.2", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect_doc(
		r.out,
		"assert d['command'] == 'simulate', d['command']\n"
		"l = where(d['leaks'], 'size_class', None, int(a[0]))\n"
		"assert len(l) == 1, d['leaks']\n"
		"assert l[0]['in_use_bytes'] >= 5 * int(a[0]), l\n"
		"assert near(l[0]['growth_bytes'] / l[0]['consecutive'], int(a[0]), 0.05), l\n"
		"assert d['totals']['mmapped_bytes'] >= 5 * int(a[0]), d['totals']\n",
		MIB_CHUNK, NULL);
	run_result_free(&r);
	ctx_close(&c);
}

Test(simulate, count_zero_finds_nothing, .timeout = 60)
{
	struct run_result r;
	struct ctx c;

	ctx_open(&c, "la-monitor");
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "0",
			    "--interval", "0.2", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect_doc(r.out, "assert d['leaks'] == [] and d['samples'] == 4, d\n",
		  NULL);
	run_result_free(&r);
	ctx_close(&c);
}

/* "12.3 MiB" -> bytes */
static double
parse_human(const char *s)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
	char unit[8];
	double v, m = 1;

	cr_assert_eq(sscanf(s, "%lf %7[A-Za-z]", &v, unit), 2, "%s", s);
	for (int i = 0; i < 4; i++, m *= 1024)
		if (!strcmp(unit, units[i]))
			return v * m;
	cr_assert_fail("unit in %s", s);
	return 0;
}

Test(simulate, cleanup_shows_the_memory_come_back, .timeout = 60)
{
	struct run_result r;
	struct ctx c;
	const char *p, *arrow;

	ctx_open(&c, "la-monitor");
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "4",
			    "--interval", "0.2", "--cleanup", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	p = strstr(r.out, "cleanup: the child freed its blocks: in use ");
	cr_assert(p, "%s", r.out);
	p = strstr(p, "in use ") + 7;
	arrow = strstr(p, " -> ");
	cr_assert(arrow, "%s", r.out);
	cr_expect_geq(parse_human(p), 4.0 * 1024 * 1024, "%s", r.out);
	cr_expect_lt(parse_human(arrow + 4), 1.0 * 1024 * 1024, "%s", r.out);
	/* the blocks were touched and mmapped: RSS falls with them */
	p = strstr(arrow, "RSS ");
	cr_assert(p, "%s", r.out);
	arrow = strstr(p, " -> ");
	cr_assert(arrow, "%s", r.out);
	cr_expect_lt(parse_human(arrow + 4) + 3.0 * 1024 * 1024,
		     parse_human(p + 4), "%s", r.out);
	cr_expect(strstr(r.out, "simulate: found the planted leak"), "%s",
		  r.out);
	run_result_free(&r);
	ctx_close(&c);
}
