/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_bad_input.c - every refusal is one clear sentence on stderr and
 * exit status 2 (64 for usage errors), and the target is unharmed after:
 * no such PID, a zombie, leakattach's own PID, a kernel thread, another
 * user's process, a process already traced, a foreign allocator.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target.h"

/* Run leakattach snapshot -p PID; returns its exit status, stderr in r. */
static int
snapshot_of(pid_t pid, struct run_result *r, const char *const env[])
{
	char pidbuf[32];
	const char *argv[] = { leakattach_path(), "snapshot", "-p", pidbuf, NULL };

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	cr_assert_eq(run_capture(argv, env, 60000, r), 0);
	return r->status;
}

/* One sentence: a single line, naming what to look at. */
static void
expect_one_sentence(const struct run_result *r, const char *needle)
{
	const char *nl = strchr(r->err, '\n');

	cr_expect(strstr(r->err, needle), "stderr lacks \"%s\": %s", needle,
		  r->err);
	cr_expect(nl && nl[1] == '\0', "not one line: %s", r->err);
	cr_expect_eq(r->out[0], '\0', "stdout not empty: %s", r->out);
}

Test(bad_input, no_such_pid, .timeout = 30)
{
	struct run_result r;
	pid_t pid = 4194000;

	while (kill(pid, 0) == 0 || errno != ESRCH)
		pid--;
	cr_expect_eq(snapshot_of(pid, &r, NULL), 2);
	expect_one_sentence(&r, "no process with PID");
	run_result_free(&r);
}

Test(bad_input, zombie, .timeout = 30)
{
	struct run_result r;
	char state[64];
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	for (int i = 0; i < 1000; i++) {
		proc_status_field(pid, "State", state, sizeof(state));
		if (state[0] == 'Z')
			break;
		usleep(1000);
	}
	cr_assert_eq(state[0], 'Z');
	cr_expect_eq(snapshot_of(pid, &r, NULL), 2);
	expect_one_sentence(&r, "zombie");
	run_result_free(&r);
	waitpid(pid, NULL, 0);
}

Test(bad_input, own_pid, .timeout = 30)
{
	struct run_result r;
	char cmd[512];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	/* exec keeps the shell's PID: leakattach is asked about itself. */
	snprintf(cmd, sizeof(cmd), "exec '%s' snapshot -p $$", leakattach_path());
	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 2);
	expect_one_sentence(&r, "leakattach itself");
	run_result_free(&r);
}

Test(bad_input, kernel_thread, .timeout = 30)
{
	struct run_result r;
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t kthread = 0;

	/* PF_KTHREAD in field 9 of /proc/PID/stat */
	while (d && !kthread && (e = readdir(d))) {
		char path[300], buf[1024], *p;
		unsigned long flags = 0;
		FILE *f;

		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
		    (flags & 0x00200000))
			kthread = (pid_t)atoi(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	cr_assert(kthread, "no kernel thread visible in /proc");
	cr_expect_eq(snapshot_of(kthread, &r, NULL), 2);
	expect_one_sentence(&r, "kernel thread");
	run_result_free(&r);
}

Test(bad_input, other_users_process, .timeout = 60)
{
	struct target t;
	struct run_result r;
	char cmd[512];
	const char *argv[] = { "/usr/bin/setpriv", "--reuid=65534",
			       "--regid=65534", "--clear-groups",
			       "--inh-caps=-all", "--bounding-set=-all",
			       "/bin/sh", "-c", cmd, NULL };
	const char *targv[] = { "idle", NULL };

	cr_assert_eq(getuid(), 0, "this test runs as root (as CI does)");
	cr_assert_eq(target_start(&t, "heapgen", targv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, (uint64_t[MI_NFIELDS]){ 0 }), 0);
	snprintf(cmd, sizeof(cmd), "exec '%s' snapshot -p %d", leakattach_path(),
		 (int)t.pid);
	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 2, "status %d: %s", r.status, r.err);
	expect_one_sentence(&r, "belongs to user root");
	run_result_free(&r);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(bad_input, already_traced, .timeout = 60)
{
	struct target t;
	struct run_result r;
	const char *targv[] = { "idle", NULL };
	char want[64];
	int st;

	cr_assert_eq(target_start(&t, "heapgen", targv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, (uint64_t[MI_NFIELDS]){ 0 }), 0);
	cr_assert_eq(ptrace(PTRACE_SEIZE, t.pid, 0, 0), 0);
	cr_expect_eq(snapshot_of(t.pid, &r, NULL), 2);
	snprintf(want, sizeof(want), "already traced by process %d",
		 (int)getpid());
	expect_one_sentence(&r, want);
	run_result_free(&r);
	/* Detaching needs a ptrace stop. */
	cr_assert_eq(ptrace(PTRACE_INTERRUPT, t.pid, 0, 0), 0);
	cr_assert_eq(waitpid(t.pid, &st, __WALL), t.pid);
	cr_assert_eq(ptrace(PTRACE_DETACH, t.pid, 0, 0), 0);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(bad_input, foreign_allocator_is_named, .timeout = 60)
{
	struct target t;
	struct run_result r;
	char env0[4096];
	const char *env[] = { env0, NULL };
	const char *lib = getenv("LA_PRELOAD_LIB");

	cr_assert(lib, "LA_PRELOAD_LIB is not set (run through make check)");
	snprintf(env0, sizeof(env0), "LD_PRELOAD=%s", lib);
	cr_assert_eq(target_start(&t, "sleeper", NULL, env), 0);
	cr_assert_eq(target_read_line(&t, 20000), 0);
	cr_assert_str_eq(t.line, "ready");
	cr_expect_eq(snapshot_of(t.pid, &r, NULL), 2);
	expect_one_sentence(&r, "another allocator (libpreload_malloc.so), not glibc's malloc");
	run_result_free(&r);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

static void
expect_usage(const char *const argv[], const char *needle)
{
	struct run_result r;

	cr_assert_eq(run_capture(argv, NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 64, "%s: status %d", argv[1], r.status);
	cr_expect(strstr(r.err, needle), "stderr lacks \"%s\": %s", needle,
		  r.err);
	run_result_free(&r);
}

Test(bad_input, usage_errors_exit_64, .timeout = 30)
{
	expect_usage((const char *[]){ leakattach_path(), NULL }, "no command");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", NULL }, "-p PID");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", "-p", "abc", NULL },
		     "process ID");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", "-p", "1",
				       "--bogus", NULL },
		     "unknown option");
	expect_usage((const char *[]){ leakattach_path(), "frobnicate", NULL },
		     "unknown command");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", "-p", "1", "--top",
				       "-3", NULL },
		     "--top");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", "-p", NULL },
		     "needs an argument");
}

/* LD_PRELOADed allocators from Debian's packages, named in the refusal. */
static void
expect_preload_refused(const char *lib, const char *named)
{
	struct target t;
	struct run_result r;
	char env0[4096];
	const char *env[] = { env0, NULL };

	cr_assert_eq(access(lib, R_OK), 0,
		     "%s is missing: run scripts/install-deps", lib);
	snprintf(env0, sizeof(env0), "LD_PRELOAD=%s", lib);
	cr_assert_eq(target_start(&t, "sleeper", NULL, env), 0);
	cr_assert_eq(target_read_line(&t, 20000), 0);
	cr_assert_str_eq(t.line, "ready");
	cr_expect_eq(snapshot_of(t.pid, &r, NULL), 2);
	expect_one_sentence(&r, named);
	run_result_free(&r);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(bad_input, jemalloc_is_named, .timeout = 60)
{
	expect_preload_refused("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
			       "allocates with jemalloc (libjemalloc.so.2)");
}

Test(bad_input, tcmalloc_is_named, .timeout = 60)
{
	expect_preload_refused(
		"/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
		"allocates with tcmalloc (libtcmalloc_minimal.so.4");
}

Test(bad_input, static_musl_program_is_named, .timeout = 60)
{
	struct target t;
	struct run_result r;

	cr_assert_eq(target_start(&t, "musl-static", NULL, NULL), 0);
	cr_assert_eq(target_read_line(&t, 20000), 0);
	cr_assert_str_eq(t.line, "ready");
	cr_expect_eq(snapshot_of(t.pid, &r, NULL), 2);
	expect_one_sentence(&r, "static program built with musl libc");
	run_result_free(&r);
	{
		char tracer[32];

		cr_expect_eq(proc_status_field(t.pid, "TracerPid", tracer,
					       sizeof(tracer)), 0);
		cr_expect_str_eq(tracer, "0");
	}
	target_stop(&t);
}

/*
 * A process ID, or the name of a running process, given where the
 * command goes is answered with the -p it needs.
 */
Test(bad_input, a_pid_or_a_name_for_a_command_suggests_p, .timeout = 60)
{
	char dir[64], prog[128], want[64], name[16];
	const char *sargv[] = { prog, "60", NULL };
	struct run_result r;
	pid_t pid;
	int code;

	expect_usage((const char *[]){ leakattach_path(), "13537", NULL },
		     "'leakattach -p 13537'");
	expect_usage((const char *[]){ leakattach_path(), "snapshot", "13537", NULL },
		     "'-p 13537'");
	/* a program of a name no other process has: a copy of sleep */
	snprintf(dir, sizeof(dir), "/tmp/la-bad-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(name, sizeof(name), "lasleep%d", (int)(getpid() % 1000000));
	snprintf(prog, sizeof(prog), "%s/%s", dir, name);
	{
		const char *cp[] = { "/bin/cp", "/bin/sleep", prog, NULL };

		cr_assert_eq(run_capture(cp, NULL, 30000, &r), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		run_result_free(&r);
	}
	pid = run_start(sargv, -1);
	cr_assert_gt(pid, 0);
	snprintf(want, sizeof(want), "'leakattach -p %d'", (int)pid);
	expect_usage((const char *[]){ leakattach_path(), name, NULL }, want);
	kill(pid, SIGKILL);
	run_wait(pid, 10000, &code);
	remove(prog);
	rmdir(dir);
	/* a word that names nothing: no suggestion */
	cr_assert_eq(run_capture((const char *[]){ leakattach_path(), name, NULL },
				 NULL, 30000, &r), 0);
	cr_expect_eq(r.status, 64);
	cr_expect(strstr(r.err, "unknown command") && !strstr(r.err, "-p"),
		  "%s", r.err);
	run_result_free(&r);
}

/* check's rules.min_size_bytes with --min-size arg (and more settings). */
static long long
min_size_of(const char *pid, const char *arg, const char *const env[])
{
	const char *argv[] = { leakattach_path(), "check", "-p", pid,
			       "--callers=off", "--json", "--log-dir",
			       "/tmp/la-bad-sizes", arg ? "--min-size" : NULL,
			       arg, NULL };
	struct run_result r;
	const char *k;
	long long v = -1;

	cr_assert_eq(run_capture(argv, env, 60000, &r), 0);
	cr_expect(r.status == 0 || r.status == 3, "%s: %d: %s", arg, r.status,
		  r.err);
	k = strstr(r.out, "\"min_size_bytes\":");
	if (k)
		v = atoll(k + strlen("\"min_size_bytes\":"));
	run_result_free(&r);
	return v;
}

/*
 * Sizes: bytes, or K, M, G, T as powers of 1024 in any case, alone or
 * with B or iB, a decimal point with a unit; everything else is refused
 * with the forms that are accepted, on the command line and in a
 * configuration file.
 */
Test(bad_input, sizes_are_binary_units_and_the_rest_is_refused, .timeout = 120)
{
	static const struct {
		const char *arg;
		long long bytes;
	} good[] = {
		{ "1048576", 1048576 }, { "1M", 1048576 },    { "1m", 1048576 },
		{ "1MB", 1048576 },	{ "1mb", 1048576 },   { "1MiB", 1048576 },
		{ "1mib", 1048576 },	{ "1024K", 1048576 }, { "1024kB", 1048576 },
		{ "0.5M", 524288 },	{ "1.5k", 1536 },     { "512B", 512 },
		{ "2G", 2147483648LL }, { "1T", 1099511627776LL }, { "0", 0 },
	};
	static const char *const bad[] = {
		"1 M", "1 ", " 1M", "-1M", "+1M", "1e3", "0x10", "1X", "1P",
		"1Mi", "1Mib ", "1KK", "1.5", "1.5B", "M", "", "1.2.3K", "inf",
		"1MBB",
	};
	const char *targv[] = { "idle", NULL };
	struct target t;
	char pid[32], conf[64], env0[128];
	const char *env[] = { env0, NULL };
	FILE *f;

	cr_assert_eq(target_start(&t, "heapgen", targv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, (uint64_t[MI_NFIELDS]){ 0 }), 0);
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect_eq(min_size_of(pid, good[i].arg, NULL), good[i].bytes,
			     "--min-size %s", good[i].arg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_usage((const char *[]){ leakattach_path(), "check", "-p",
					       pid, "--min-size", bad[i], NULL },
			     "powers of 1024, in any case, alone or with B or iB");
	/* in a configuration file */
	snprintf(conf, sizeof(conf), "/tmp/la-bad-sizes.conf");
	snprintf(env0, sizeof(env0), "LEAKATTACH_CONFIG=%s", conf);
	f = fopen(conf, "w");
	cr_assert(f);
	fputs("min-size = 2mb\n", f);
	fclose(f);
	cr_expect_eq(min_size_of(pid, NULL, env), 2097152);
	f = fopen(conf, "w");
	cr_assert(f);
	fputs("min-size = 2 MB\n", f);
	fclose(f);
	{
		struct run_result r;

		cr_assert_eq(run_capture((const char *[]){ leakattach_path(),
							   "check", "-p", pid,
							   NULL },
					 env, 30000, &r), 0);
		cr_expect_eq(r.status, 64, "%s", r.err);
		cr_expect(strstr(r.err, ":1: --min-size") &&
			  strstr(r.err, "powers of 1024"), "%s", r.err);
		run_result_free(&r);
	}
	remove(conf);
	{
		const char *rm[] = { "/bin/rm", "-rf", "/tmp/la-bad-sizes", NULL };
		struct run_result r;

		run_capture(rm, NULL, 30000, &r);
		run_result_free(&r);
	}
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}
