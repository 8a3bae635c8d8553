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
