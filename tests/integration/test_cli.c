/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_cli.c - leakattach(1) as users and scripts see it: the JSON
 * document (schema leakattach.snapshot/1, checked by python3's json
 * module) carries glibc's mallinfo2 numbers; the text report; --top;
 * --no-debuginfo; --help and the man page list the same options. A
 * program without CPython has no python section (test_monitor_python.c
 * has the one with).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target.h"

static void
run_tool(struct target *t, const char *extra1, const char *extra2,
	 struct run_result *r)
{
	char pidbuf[32];
	const char *argv[] = { leakattach_path(), "snapshot", "-p", pidbuf, extra1,
			       extra2, NULL };

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)t->pid);
	cr_assert_eq(run_capture(argv, NULL, 60000, r), 0);
	cr_assert_eq(r->status, 0, "status %d: %s", r->status, r->err);
}

/*
 * Validate a JSON document with python3: the schema's required keys, the
 * mallinfo fields against glibc's, and that the size classes add up to
 * the totals.
 */
static void
check_json(const char *doc, const uint64_t mi[MI_NFIELDS], const char *source,
	   int nclasses)
{
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1]))\n"
		"want = dict(zip('arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split(), map(int, sys.argv[2].split())))\n"
		"assert d['schema'] == 'leakattach.snapshot/1', d['schema']\n"
		"for k in ('pid', 'consistent', 'pause_ms', 'layout', 'mallinfo', 'totals', 'arenas', 'size_classes', 'process'):\n"
		"    assert k in d, k\n"
		"assert d['consistent'] is True\n"
		"assert d['layout']['source'] == sys.argv[3], d['layout']\n"
		"assert d['layout']['glibc_version'], d['layout']\n"
		"assert d['mallinfo'] == want, (d['mallinfo'], want)\n"
		"t = d['totals']\n"
		"if int(sys.argv[4]) < 0:\n"
		"    for f in ('in_use_chunks', 'in_use_bytes', 'tcache_bytes', 'bin_bytes', 'fastbin_bytes'):\n"
		"        assert sum(c[f] for c in d['size_classes']) == t[f], f\n"
		"else:\n"
		"    assert len(d['size_classes']) == int(sys.argv[4])\n"
		"for c in d['size_classes']:\n"
		"    for k in ('chunk_size_min', 'chunk_size_max', 'in_use_chunks', 'in_use_bytes', 'free_chunks', 'free_bytes'):\n"
		"        assert k in c, k\n"
		"assert sum(a['system_mem'] for a in d['arenas']) == want['arena']\n"
		"assert d['process']['rss_bytes'] > 0 and d['process']['hwm_bytes'] >= d['process']['rss_bytes']\n"
		"assert 'python' not in d, d['python']\n"
		"assert all(o['kind'] != 'python_arenas' for o in d['memory'].get('outside_malloc', [])), d['memory']\n"
		"h = d['memory']['headroom']\n"
		"total = int(open('/proc/meminfo').read().split('MemTotal:')[1].split()[0]) * 1024\n"
		"assert h['limit'] in ('cgroup', 'MemAvailable'), h\n"
		"assert 0 < h['headroom_bytes'] <= total, (h, total)\n"
		"assert h['limit'] != 'MemAvailable' or h['headroom_bytes'] == h['mem_available_bytes'], h\n"
		"assert h['limit'] != 'cgroup' or h['cgroup_used_bytes'] + h['headroom_bytes'] == h['cgroup_limit_bytes'], h\n";
	char path[64], want[512], n[16];
	const char *argv[] = { "/usr/bin/python3", "-c", script, path, want,
			       source, n, NULL };
	struct run_result r;
	FILE *f;
	int len = 0;

	snprintf(path, sizeof(path), "/tmp/la-json-%d.json", (int)getpid());
	f = fopen(path, "w");
	cr_assert(f);
	fputs(doc, f);
	fclose(f);
	for (int i = 0; i < MI_NFIELDS; i++)
		len += snprintf(want + len, sizeof(want) - (size_t)len, "%llu ",
				(unsigned long long)mi[i]);
	snprintf(n, sizeof(n), "%d", nclasses);
	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 0, "JSON check failed: %s", r.err);
	run_result_free(&r);
	remove(path);
}

Test(cli, json_snapshot_matches_mallinfo2, .timeout = 60)
{
	struct target t;
	struct run_result r;
	uint64_t mi[MI_NFIELDS];
	const char *argv[] = { "threads", NULL };

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, mi), 0);
	run_tool(&t, "--json", NULL, &r);
	check_json(r.out, mi, "dwarf", -1);
	run_result_free(&r);
	run_tool(&t, "--json", "--no-debuginfo", &r);
	check_json(r.out, mi, "signature", -1);
	run_result_free(&r);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(cli, json_top_limits_size_classes, .timeout = 60)
{
	struct target t;
	struct run_result r;
	uint64_t mi[MI_NFIELDS];
	const char *argv[] = { "single", NULL };
	char *a, *b;

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, mi), 0);
	run_tool(&t, "--json", "--top=3", &r);
	check_json(r.out, mi, "dwarf", 3);
	run_result_free(&r);

	/* The text report: totals, arenas, 4 size-class rows, mallinfo. */
	run_tool(&t, "--top", "4", &r);
	cr_expect(strstr(r.out, "in use"), "%s", r.out);
	cr_expect(strstr(r.out, "main "), "%s", r.out);
	/* no CPython in the target: no python section, no Python arenas */
	cr_expect(!strstr(r.out, "python") && !strstr(r.out, "Python"), "%s",
		  r.out);
	a = strstr(r.out, "top size classes");
	b = strstr(r.out, "\nmallinfo2:");
	cr_assert(a && b, "%s", r.out);
	{
		int rows = -2; /* the heading lines */

		for (char *p = a; p < b; p++)
			rows += *p == '\n';
		cr_expect_eq(rows, 4, "%s", r.out);
	}
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "mallinfo2: arena=%llu ordblks=%llu",
			 (unsigned long long)mi[MI_ARENA],
			 (unsigned long long)mi[MI_ORDBLKS]);
		cr_expect(strstr(r.out, want), "%s", r.out);
	}
	run_result_free(&r);
	target_stop(&t);
}

/* Collect "--name" tokens (after turning troff's "\-" into "-"). */
static int
options_in(const char *text, char names[][32], int max)
{
	int n = 0;

	for (const char *p = text; *p && n < max; p++) {
		if (p[0] != '-' || p[1] != '-' || !islower((unsigned char)p[2]) ||
		    (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-')))
			continue;
		int len = 0;
		char name[32];

		while (len < 31 && (islower((unsigned char)p[2 + len]) ||
				    p[2 + len] == '-'))
			name[len] = p[2 + len], len++;
		name[len] = '\0';
		while (len && name[len - 1] == '-')
			name[--len] = '\0';
		int dup = 0;

		for (int i = 0; i < n; i++)
			dup |= !strcmp(names[i], name);
		if (!dup)
			snprintf(names[n++], 32, "%s", name);
	}
	return n;
}

static char *
slurp_man(void)
{
	const char *path = getenv("LA_MANPAGE");
	FILE *f = fopen(path ? path : "doc/leakattach.1", "r");
	char *buf, *o;
	long len;

	cr_assert(f, "cannot open the man page");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	/* "\-" -> "-" */
	o = buf;
	for (char *p = buf; *p; p++) {
		if (p[0] == '\\' && p[1] == '-')
			continue;
		*o++ = *p;
	}
	*o = '\0';
	return buf;
}

Test(cli, help_and_man_page_list_the_same_options, .timeout = 30)
{
	const char *argv[] = { leakattach_path(), "--help", NULL };
	struct run_result r;
	char help[64][32], man[64][32];
	char *text = slurp_man();
	int nh, nm;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_assert_eq(r.status, 0);
	nh = options_in(r.out, help, 64);
	nm = options_in(text, man, 64);
	cr_assert_gt(nh, 5, "too few options in --help");
	for (int i = 0; i < nh; i++) {
		int found = 0;

		for (int j = 0; j < nm; j++)
			found |= !strcmp(help[i], man[j]);
		cr_expect(found, "--%s is in --help but not in the man page",
			  help[i]);
	}
	for (int j = 0; j < nm; j++) {
		int found = 0;

		for (int i = 0; i < nh; i++)
			found |= !strcmp(help[i], man[j]);
		cr_expect(found, "--%s is in the man page but not in --help",
			  man[j]);
	}
	run_result_free(&r);
	free(text);
}

Test(cli, version, .timeout = 30)
{
	const char *argv[] = { leakattach_path(), "--version", NULL };
	struct run_result r;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(!strncmp(r.out, "leakattach ", 11), "%s", r.out);
	run_result_free(&r);
}
