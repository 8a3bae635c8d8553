/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_real_programs.c - programs nobody here wrote (Debian's python3 and
 * perl) holding a large data structure, then idle: the snapshot's mallinfo
 * equals what mallinfo2() returns when gdb calls it in the same idle
 * process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakattach.h>

#include "target.h"

/* gdb prints "$1 = {arena = 1, ordblks = 2, ...}". */
static void
gdb_mallinfo2(pid_t pid, uint64_t out[MI_NFIELDS])
{
	static const char *const names[MI_NFIELDS] = {
		"arena", "ordblks", "smblks", "hblks", "hblkhd",
		"usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
	};
	char pidbuf[32];
	const char *argv[] = { "/usr/bin/gdb", "-nx", "-batch", "-p", pidbuf,
			       "-ex", "set debuginfod enabled off",
			       "-ex", "print mallinfo2()", NULL };
	struct run_result r;
	char *line;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	cr_assert_eq(run_capture(argv, NULL, 120000, &r), 0);
	cr_assert_eq(r.status, 0, "gdb failed: %s", r.err);
	line = strstr(r.out, "$1 = {");
	cr_assert(line, "no result from gdb: %s %s", r.out, r.err);
	for (int i = 0; i < MI_NFIELDS; i++) {
		char key[32], *p;

		snprintf(key, sizeof(key), "%s = ", names[i]);
		p = strstr(line, key);
		cr_assert(p, "gdb printed no %s: %s", names[i], line);
		out[i] = strtoull(p + strlen(key), NULL, 10);
	}
	run_result_free(&r);
}

static void
compare_with_gdb(const char *prog, const char *const argv[])
{
	struct target t;
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	struct la_snapshot_info info;
	uint64_t got[MI_NFIELDS], want[MI_NFIELDS];

	cr_assert_eq(target_start(&t, prog, argv, NULL), 0, "cannot start %s",
		     prog);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s: %s", prog, t.line);
	cr_assert_str_eq(t.line, "ready");
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi);
	la_snapshot_info(snap, &info);
	cr_expect(info.consistent, "%s", info.inconsistency);
	mallinfo_fields(&mi, got);
	la_snapshot_free(snap);
	la_session_close(s);

	gdb_mallinfo2(t.pid, want);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(got[i], want[i],
			     "%s field %d: leakattach %llu, mallinfo2() %llu",
			     prog, i, (unsigned long long)got[i],
			     (unsigned long long)want[i]);
	cr_expect_gt(want[MI_UORDBLKS], 10u << 20, "%s heap too small", prog);
	{
		char tracer[32];

		cr_expect_eq(proc_status_field(t.pid, "TracerPid", tracer,
					       sizeof(tracer)), 0);
		cr_expect_str_eq(tracer, "0");
	}
	target_stop(&t);
}

Test(real_programs, python3_with_a_large_dict, .timeout = 180)
{
	/* Idle in sys.stdin.readline(): nothing allocates meanwhile. */
	const char *argv[] = {
		"-c",
		"import sys\n"
		"d = {i: str(i) * 20 for i in range(200000)}\n"
		"blobs = [bytearray(700 + i % 3000) for i in range(20000)]\n"
		"big = [bytes(300000) for i in range(5)]\n"
		"del blobs[::3]\n"
		"sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
		"sys.stdin.readline()\n",
		NULL
	};

	compare_with_gdb("/usr/bin/python3", argv);
}

Test(real_programs, perl_with_a_large_hash, .timeout = 180)
{
	const char *argv[] = {
		"-e",
		"my %h = map { $_ => [$_, 'x' x ($_ % 500)] } 1..100000;"
		"my @big = map { 'y' x 400000 } 1..4;"
		"delete @h{grep { $_ % 3 == 0 } keys %h};"
		"$| = 1; print \"ready\\n\"; my $l = <STDIN>;",
		NULL
	};

	compare_with_gdb("/usr/bin/perl", argv);
}
