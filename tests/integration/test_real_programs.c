/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_real_programs.c - programs nobody here wrote (Debian's python3, perl
 * and sqlite3, unmodified) holding a large data structure, then idle: the
 * snapshot's mallinfo equals, field for field, what glibc's own mallinfo2()
 * returns in the same idle process.
 *
 * The program answers for itself: libmallinfo_probe.so
 * (tests/targets/mallinfo_probe.c), preloaded, writes mallinfo2() to the
 * program's stdout on SIGUSR2, allocating nothing. The test asks it before
 * and after the snapshot: the two answers must agree with each other
 * (attaching, the snapshot and the asking changed nothing mallinfo2() can
 * see; a chunk taken from or given back to a tcache it cannot) and with
 * the snapshot.
 * mallinfo2() takes the arena locks, so the signal is sent only while the
 * program is idle: it has printed "ready" and its one thread is blocked in
 * read(2) (/proc/PID/syscall), and nothing is sent to its stdin until the
 * comparison is over.
 *
 * gdb calling mallinfo2() in the target is a second opinion, never the only
 * one: gdb 13 cannot call any function on CPUs with AMX ("Couldn't write
 * extended state status: Bad address."). Each test first asks gdb to call
 * getpid() in a trivial process (sleeper); only if that works is gdb
 * pointed at the real program and its answer compared too. Otherwise the
 * test logs a warning saying why there was no cross-check, and the probe's
 * answer is asserted all the same: nothing is skipped.
 *
 * Afterwards the program must be unharmed (target_check_unharmed(): each
 * program answers "again" with "alive") and exit with status 0 when told
 * to quit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <leakattach.h>

#include "target.h"

static const char *const mi_names[MI_NFIELDS] = {
	"arena",   "ordblks", "smblks",   "hblks",    "hblkhd",
	"usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
};

/* The built probe, as an absolute path for LD_PRELOAD. */
static void
probe_path(char *out)
{
	char rel[PATH_MAX];

	cr_assert(target_path(".libs/libmallinfo_probe.so", rel, sizeof(rel)));
	cr_assert_not_null(realpath(rel, out), "%s: %s (built by make check)",
			   rel, strerror(errno));
}

/*
 * Wait (up to 10 s) until pid's only thread is blocked in read(2):
 * /proc/PID/syscall then starts with the read syscall's number (and
 * "running" or "-1 ..." otherwise; see proc_pid_syscall() in the kernel's
 * fs/proc/base.c). The programs print "ready" and then allocate a little
 * more on the way to their read, so "ready" alone does not mean idle.
 */
static void
wait_idle_in_read(const struct target *t, const char *prog)
{
	char path[64], want[16], threads[32], buf[256] = "";
	int64_t deadline = now_us() + 10 * 1000000;

	cr_assert_eq(proc_status_field(t->pid, "Threads", threads,
				       sizeof(threads)),
		     0);
	/* One thread: idle is then a property of /proc/PID/syscall alone. */
	cr_assert_str_eq(threads, "1", "%s has %s threads", prog, threads);
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)t->pid);
	snprintf(want, sizeof(want), "%d ", (int)SYS_read);
	while (now_us() < deadline) {
		FILE *f = fopen(path, "re");

		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (!strncmp(buf, want, strlen(want)))
			return;
		sleep_us(1000);
	}
	cr_assert_fail("%s never blocked in read(2); %s: %s", prog, path, buf);
}

/* SIGUSR2: the probe writes mallinfo2() to the program's stdout. */
static void
ask_program(struct target *t, const char *prog, uint64_t out[MI_NFIELDS])
{
	int err;

	cr_assert_eq(kill(t->pid, SIGUSR2), 0, "%s", strerror(errno));
	err = target_wait_mallinfo(t, out);
	cr_assert_eq(err, 0, "%s: no mallinfo2 line from the probe: %s (%s)",
		     prog, strerror(-err), t->line);
}

static void
expect_same(const char *prog, const char *what, const uint64_t a[MI_NFIELDS],
	    const char *awho, const uint64_t b[MI_NFIELDS], const char *bwho)
{
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(a[i], b[i], "%s, %s: %s: %s %llu, %s %llu", prog,
			     what, mi_names[i], awho, (unsigned long long)a[i],
			     bwho, (unsigned long long)b[i]);
}

/* Run gdb on pid with the given -ex command (and debuginfod off). */
static void
run_gdb(pid_t pid, const char *cmd, struct run_result *r, int *err)
{
	char pidbuf[32];
	const char *argv[] = { "gdb", "-nx", "-batch", "-p", pidbuf,
			       "-ex", "set debuginfod enabled off",
			       "-ex", cmd, NULL };

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	*err = run_capture(argv, NULL, 120000, r);
}

/* The last non-empty line of s, into why. */
static void
last_line(const char *s, char *why, size_t len)
{
	const char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > s && start[-1] != '\n')
		start--;
	snprintf(why, len, "%.*s", (int)(end - start), start);
}

/*
 * Can gdb call a function in a process on this machine? Asked of sleeper,
 * a trivial target, so that a gdb that cannot never touches the real
 * program. Returns 1, or 0 with the reason in why.
 */
static int
gdb_can_call_functions(char *why, size_t len)
{
	struct target t;
	struct run_result r = { 0 };
	char want[64];
	int err, ok;

	if (target_start(&t, "sleeper", NULL, NULL) < 0 ||
	    target_read_line(&t, 10000) < 0 || strcmp(t.line, "ready")) {
		target_stop(&t);
		snprintf(why, len, "sleeper did not start");
		return 0;
	}
	run_gdb(t.pid, "print (int)getpid()", &r, &err);
	snprintf(want, sizeof(want), "$1 = %d\n", (int)t.pid);
	ok = !err && r.status == 0 && strstr(r.out, want);
	if (err)
		snprintf(why, len, "cannot run gdb: %s", strerror(-err));
	else if (!ok)
		last_line(*r.err ? r.err : r.out, why, len);
	run_result_free(&r);
	target_stop(&t);
	return ok;
}

/* gdb prints "$1 = {arena = 1, ordblks = 2, ...}". */
static void
gdb_mallinfo2(pid_t pid, uint64_t out[MI_NFIELDS])
{
	struct run_result r;
	char *line;
	int err;

	run_gdb(pid, "print mallinfo2()", &r, &err);
	cr_assert_eq(err, 0, "gdb: %s", strerror(-err));
	cr_assert_eq(r.status, 0, "gdb failed: %s", r.err);
	line = strstr(r.out, "$1 = {");
	cr_assert(line, "no result from gdb: %s %s", r.out, r.err);
	for (int i = 0; i < MI_NFIELDS; i++) {
		char key[32], *p;

		snprintf(key, sizeof(key), "%s = ", mi_names[i]);
		p = strstr(line, key);
		cr_assert(p, "gdb printed no %s: %s", mi_names[i], line);
		out[i] = strtoull(p + strlen(key), NULL, 10);
	}
	run_result_free(&r);
}

static void
compare_with_own_mallinfo2(const char *prog, const char *const argv[])
{
	char probe[PATH_MAX], preload[PATH_MAX + 16], why[512];
	const char *env[] = { preload, "LA_MALLINFO_FD=1", NULL };
	uint64_t before[MI_NFIELDS], got[MI_NFIELDS], after[MI_NFIELDS];
	struct la_snapshot_info info;
	struct la_snapshot *snap;
	struct la_session *s;
	struct la_mallinfo mi;
	struct target t;
	int err;

	probe_path(probe);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", probe);
	cr_assert_eq(target_start(&t, prog, argv, env), 0, "cannot start %s",
		     prog);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s: %s", prog, t.line);
	cr_assert_str_eq(t.line, "ready");

	wait_idle_in_read(&t, prog);
	ask_program(&t, prog, before);

	wait_idle_in_read(&t, prog);
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	la_snapshot_info(snap, &info, sizeof(info));
	cr_expect(info.consistent, "%s: %s", prog, info.inconsistency);
	mallinfo_fields(&mi, got);
	la_snapshot_free(snap);
	la_session_close(s);

	/* Detached: the read(2) the snapshot interrupted goes on. */
	wait_idle_in_read(&t, prog);
	ask_program(&t, prog, after);

	expect_same(prog, "mallinfo2() before and after the snapshot", before,
		    "before", after, "after");
	expect_same(prog, "snapshot against the program's mallinfo2()", got,
		    "leakattach", after, "mallinfo2()");
	cr_expect_gt(after[MI_UORDBLKS], 10u << 20, "%s heap too small: %llu",
		     prog, (unsigned long long)after[MI_UORDBLKS]);

	if (gdb_can_call_functions(why, sizeof(why))) {
		uint64_t viagdb[MI_NFIELDS];

		gdb_mallinfo2(t.pid, viagdb);
		expect_same(prog, "gdb cross-check", viagdb,
			    "gdb's mallinfo2()", after, "the probe's");
		cr_log_info("%s: uordblks %llu; the probe's mallinfo2() and "
			    "gdb's were compared",
			    prog, (unsigned long long)after[MI_UORDBLKS]);
	} else {
		cr_log_warn("%s: no gdb cross-check: gdb cannot call a "
			    "function in a process on this machine (%s); the "
			    "preloaded probe's mallinfo2() was compared",
			    prog, why);
	}

	err = target_check_unharmed(&t, 0, NULL);
	cr_expect_eq(err, 0, "%s harmed: %s", prog, t.line);
	err = target_stop(&t);
	cr_expect_eq(err, 0, "%s exited with status %d", prog, err);
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
		"while True:\n"
		"    l = sys.stdin.readline()\n"
		"    if l in ('', 'quit\\n'): break\n"
		"    if l == 'again\\n':\n"
		"        sys.stdout.write('alive\\n'); sys.stdout.flush()\n",
		NULL
	};

	compare_with_own_mallinfo2("/usr/bin/python3", argv);
}

Test(real_programs, perl_with_a_large_hash, .timeout = 180)
{
	const char *argv[] = {
		"-e",
		"my %h = map { $_ => [$_, 'x' x ($_ % 500)] } 1..100000;"
		"my @big = map { 'y' x 400000 } 1..4;"
		"delete @h{grep { $_ % 3 == 0 } keys %h};"
		"$| = 1; print \"ready\\n\";"
		"while (my $l = <STDIN>) {"
		" last if $l eq \"quit\\n\";"
		" print \"alive\\n\" if $l eq \"again\\n\"; }",
		NULL
	};

	compare_with_own_mallinfo2("/usr/bin/perl", argv);
}

/*
 * An in-memory database: its pages live in sqlite's page cache, which
 * mallocs them one by one. Then sqlite3 reads its further input from sed
 * (".read '|cmd'" in the shell), which turns "again" into a query
 * answering "alive" and ends at "quit": sqlite3 itself answers the
 * liveness check. sed reads the test's pipe, sqlite3 idles in read(2) on
 * sed's output; the probe removed LD_PRELOAD, so sh and sed run without
 * it.
 */
Test(real_programs, sqlite3_with_a_large_table, .timeout = 180)
{
	const char *argv[] = {
		"-batch",
		"-cmd",
		"CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);"
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL"
		" SELECT i + 1 FROM c WHERE i < 200000)"
		" INSERT INTO t SELECT i, printf('%.*c', i % 300, 'x') FROM c;"
		"CREATE INDEX tv ON t(v);"
		"DELETE FROM t WHERE k % 3 = 0;"
		"CREATE TABLE b(x BLOB);"
		"INSERT INTO b VALUES (zeroblob(400000));",
		"-cmd",
		".print ready",
		"-cmd",
		".read '|sed -u -n -e \"/^quit$/Q\" -e \"s/^again$/"
		"SELECT char(97, 108, 105, 118, 101) FROM t WHERE k = 1;/p\"'",
		":memory:",
		NULL
	};

	compare_with_own_mallinfo2("/usr/bin/sqlite3", argv);
}
