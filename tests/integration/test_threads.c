/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_threads.c - stop-the-world on targets whose threads never keep
 * still, through the internal tracee API (linked like the unit tests) and
 * through the public one:
 *
 *  - stop_resume_churn: tracee_stop_all()/tracee_resume_all() on
 *    threadchurn (spawner threads that create and end threads without
 *    pause; every thread increments one shared counter), 50 rounds. While
 *    stopped, the counter read twice 20 ms apart with process_vm_readv()
 *    must not move: every thread is stopped, none missed, including the
 *    ones created during the stop; every thread in /proc is in a tracing
 *    stop, traced by us. After the resume the counter moves again and no
 *    thread is traced or stopped.
 *  - snapshots_of_churn: la_snapshot_take() on threadchurn, repeatedly:
 *    it succeeds and reports a consistent heap; the target is unharmed.
 *  - vfork: a process whose main thread waits inside vfork() cannot be
 *    stopped. `leakattach snapshot` must say so (exit 2, one line naming
 *    vfork) within 10 s and leave the process untraced; the library must
 *    not leave it traced either, nor stopped once the vfork ends.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <leakattach.h>

#include "ptrace/tracee.h"
#include "target.h"


/* Start threadchurn; returns the counter's address in it. */
static uint64_t
start_churn(struct target *t)
{
	static const char prefix[] = "ready counter_addr=";
	unsigned long long addr;

	cr_assert_eq(target_start(t, "threadchurn", NULL, NULL), 0,
		     "cannot start threadchurn");
	cr_assert_eq(target_read_line(t, 20000), 0, "threadchurn: %s", t->line);
	cr_assert_eq(strncmp(t->line, prefix, sizeof(prefix) - 1), 0,
		     "unexpected first line: %s", t->line);
	addr = strtoull(t->line + sizeof(prefix) - 1, NULL, 16);
	cr_assert_neq(addr, 0, "bad counter address: %s", t->line);
	return addr;
}

static unsigned long
read_counter(pid_t pid, uint64_t addr)
{
	unsigned long v = 0;
	struct iovec local = {&v, sizeof(v)};
	struct iovec remote = {(void *)(uintptr_t)addr, sizeof(v)};
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	cr_assert_eq(n, (ssize_t)sizeof(v), "process_vm_readv: %s",
		     strerror(errno));
	return v;
}

/* Threads of pid in /proc, and how many are traced by us in state t. */
static void
count_tasks(pid_t pid, unsigned *total, unsigned *stopped_by_us, char *bad,
	    size_t badlen)
{
	char path[64], field[64];
	DIR *d;
	struct dirent *e;
	pid_t me = getpid();

	*total = *stopped_by_us = 0;
	bad[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	cr_assert(d, "cannot list %s", path);
	while ((e = readdir(d))) {
		char state[64];
		int tid = atoi(e->d_name);

		if (tid <= 0)
			continue;
		/* /proc/TID/status is the thread's own. */
		if (proc_status_field(tid, "State", state, sizeof(state)) ||
		    proc_status_field(tid, "TracerPid", field, sizeof(field)))
			continue; /* gone meanwhile */
		if (state[0] == 'Z' || state[0] == 'X')
			continue; /* exiting; runs no code */
		(*total)++;
		if (state[0] == 't' && atoi(field) == (int)me)
			(*stopped_by_us)++;
		else if (!bad[0])
			snprintf(bad, badlen,
				 "thread %d: State %s, TracerPid %s", tid,
				 state, field);
	}
	closedir(d);
}

/*
 * Poll for up to a second until every thread is untraced and in no stop
 * (target_check_unharmed() without the question to the target).
 */
static int
wait_untraced(struct target *t)
{
	int64_t deadline = now_us() + 1000000;
	int err;

	for (;;) {
		err = target_check_unharmed(t, 0, NULL);
		if ((err != -EBUSY && err != -EINVAL) || now_us() >= deadline)
			return err;
		sleep_us(2000);
	}
}

/* The counter moves within two seconds. */
static int
counter_moves(pid_t pid, uint64_t addr)
{
	unsigned long a = read_counter(pid, addr);
	int64_t deadline = now_us() + 2000000;

	while (now_us() < deadline) {
		sleep_us(1000);
		if (read_counter(pid, addr) != a)
			return 1;
	}
	return 0;
}

#define ROUNDS 50

Test(threads, stop_resume_churn, .timeout = 120)
{
	struct target t;
	uint64_t addr = start_churn(&t);
	unsigned moved = 0, missed = 0, stuck = 0, traced_after = 0;
	unsigned max_threads = 0, sum_threads = 0;
	uint64_t max_stop_ns = 0, sum_stop_ns = 0;
	char bad[256];

	/* Let the churn get going. */
	sleep_us(100000);
	for (int r = 0; r < ROUNDS; r++) {
		struct tracee_set set;
		char nthreads[32];
		unsigned long a, b;
		unsigned total, ours, nstopped = 0;
		int err;

		err = tracee_stop_all(t.pid, 2000, &set);
		cr_assert_eq(err, 0, "round %d: tracee_stop_all: %s (%s)", r,
			     la_strerror(err), la_errmsg());
		a = read_counter(t.pid, addr);
		sleep_us(20000);
		b = read_counter(t.pid, addr);
		if (proc_status_field(t.pid, "Threads", nthreads,
				      sizeof(nthreads)))
			snprintf(nthreads, sizeof(nthreads), "?");
		count_tasks(t.pid, &total, &ours, bad, sizeof(bad));
		for (size_t i = 0; i < set.n; i++)
			nstopped += set.t[i].state == TRACEE_STOPPED;
		tracee_resume_all(&set);

		if (a != b) {
			moved++;
			cr_log_error("round %d: the counter moved by %lu while "
				     "every thread was supposedly stopped (%u "
				     "in the set stopped, %s in the process)",
				     r, b - a, nstopped, nthreads);
		}
		if (ours != total) {
			missed++;
			cr_log_error("round %d: %u of %u threads not in a "
				     "tracing stop of ours (%u in the set "
				     "stopped); %s",
				     r, total - ours, total, nstopped, bad);
		}
		if (set.stopped_ns - set.stop_begin_ns > max_stop_ns)
			max_stop_ns = set.stopped_ns - set.stop_begin_ns;
		sum_stop_ns += set.stopped_ns - set.stop_begin_ns;
		if (nstopped > max_threads)
			max_threads = nstopped;
		sum_threads += nstopped;
		tracee_set_free(&set);

		if (!counter_moves(t.pid, addr)) {
			stuck++;
			cr_log_error("round %d: the counter does not move "
				     "after the resume",
				     r);
		}
		if (wait_untraced(&t)) {
			traced_after++;
			cr_log_error("round %d: after the resume: %s", r,
				     t.line);
		}
		sleep_us(rand() % 10000);
	}
	cr_log_info("stop_resume_churn: %d rounds, %u threads stopped on "
		    "average (at most %u), stop latency %.2f ms on average, "
		    "%.2f ms at worst",
		    ROUNDS, sum_threads / ROUNDS, max_threads,
		    sum_stop_ns / ROUNDS / 1e6, max_stop_ns / 1e6);
	cr_expect_eq(moved, 0, "the counter moved during %u stops", moved);
	cr_expect_eq(missed, 0, "%u stops left threads running", missed);
	cr_expect_eq(stuck, 0, "%u resumes did not resume", stuck);
	cr_expect_eq(traced_after, 0,
		     "%u resumes left threads traced or "
		     "stopped",
		     traced_after);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	cr_expect_eq(target_stop(&t), 0);
}

#define SNAPSHOTS 20

Test(threads, snapshots_of_churn, .timeout = 120)
{
	struct target t;
	uint64_t addr = start_churn(&t);
	struct la_session *s;
	unsigned inconsistent = 0, max_attempts = 0, max_threads = 0;
	int err;

	sleep_us(100000);
	err = la_session_open(t.pid, NULL, &s);
	cr_assert_eq(err, 0, "open: %s", la_errmsg());
	for (int i = 0; i < SNAPSHOTS; i++) {
		struct la_snapshot *snap;
		struct la_snapshot_info info;
		struct la_totals tot;

		err = la_snapshot_take(s, &snap);
		cr_assert_eq(err, 0, "snapshot %d: %s", i, la_errmsg());
		la_snapshot_info(snap, &info, sizeof(info));
		la_snapshot_totals(snap, &tot, sizeof(tot));
		if (!info.consistent) {
			inconsistent++;
			cr_log_error("snapshot %d: inconsistent after %u "
				     "attempts: %s",
				     i, info.attempts, info.inconsistency);
		}
		if (info.attempts > max_attempts)
			max_attempts = info.attempts;
		if (tot.threads > max_threads)
			max_threads = tot.threads;
		la_snapshot_free(snap);
		cr_assert_eq(wait_untraced(&t), 0, "after snapshot %d: %s", i,
			     t.line);
		cr_assert(counter_moves(t.pid, addr),
			  "after snapshot %d the counter does not move", i);
	}
	la_session_close(s);
	cr_log_info("snapshots_of_churn: %d snapshots, %u inconsistent, up "
		    "to %u attempts, up to %u threads",
		    SNAPSHOTS, inconsistent, max_attempts, max_threads);
	cr_expect_eq(inconsistent, 0, "%u of %d snapshots inconsistent",
		     inconsistent, SNAPSHOTS);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	cr_expect_eq(target_stop(&t), 0);
}

/* ---- a main thread inside vfork() ------------------------------------ */

/* Start vforker and wait until its child blocks, the parent in vfork. */
static void
start_vforker(struct target *t)
{
	char state[64] = "";

	cr_assert_eq(target_start(t, "vforker", NULL, NULL), 0,
		     "cannot start vforker");
	cr_assert_eq(target_read_line(t, 20000), 0, "vforker: %s", t->line);
	cr_assert_str_eq(t->line, "ready");
	cr_assert_eq(target_read_line(t, 20000), 0, "vforker: %s", t->line);
	cr_assert_str_eq(t->line, "child");
	/* The parent sleeps in the kernel's vfork wait (killable: "D"). */
	for (int i = 0; i < 2000; i++) {
		proc_status_field(t->pid, "State", state, sizeof(state));
		if (state[0] == 'D')
			break;
		sleep_us(1000);
	}
	cr_assert_eq(state[0], 'D', "the vfork parent is in State %s", state);
}

/* The parent is traced by nobody and in no tracing or job-control stop. */
static void
expect_vfork_parent_untraced(struct target *t, const char *when)
{
	char state[64] = "", tracer[32] = "";
	int64_t deadline = now_us() + 1000000;

	do {
		proc_status_field(t->pid, "State", state, sizeof(state));
		proc_status_field(t->pid, "TracerPid", tracer, sizeof(tracer));
		if (!strcmp(tracer, "0") && state[0] != 't' && state[0] != 'T')
			break;
		sleep_us(5000);
	} while (now_us() < deadline);
	cr_expect_str_eq(tracer, "0", "%s: the vfork parent is traced by %s",
			 when, tracer);
	cr_expect(state[0] != 't' && state[0] != 'T',
		  "%s: the vfork parent is in State %s", when, state);
}

/*
 * End the vfork: the child reads a newline and exits, the parent says
 * "vfork done".
 */
static void
release_vfork(struct target *t)
{
	char state[64] = "", tracer[32] = "";
	int err;

	cr_assert_eq(target_send(t, ""), 0);
	err = target_read_line(t, 3000);
	if (err) {
		proc_status_field(t->pid, "State", state, sizeof(state));
		proc_status_field(t->pid, "TracerPid", tracer, sizeof(tracer));
	}
	cr_assert_eq(err, 0,
		     "the vfork parent does not run after the vfork ended "
		     "(%s): State %s, TracerPid %s",
		     strerror(-err), state, tracer);
	cr_assert_str_eq(t->line, "vfork done");
}

Test(threads, vfork_parent_cli, .timeout = 60)
{
	struct target t;
	struct run_result r;
	char pidbuf[32];
	const char *argv[] = {leakattach_path(), "snapshot", "-p", pidbuf,
			      NULL};
	int64_t t0;
	const char *nl;
	int err;

	start_vforker(&t);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)t.pid);
	t0 = now_us();
	err = run_capture(argv, NULL, 10000, &r);
	cr_log_info("vfork_parent_cli: status %d after %lld ms; stderr: %s",
		    r.status, (long long)((now_us() - t0) / 1000), r.err);
	cr_expect_eq(err, 0, "leakattach did not end within 10 s: %s",
		     strerror(-err));
	cr_expect_eq(r.status, 2, "status %d: %s", r.status, r.err);
	nl = strchr(r.err, '\n');
	cr_expect(nl && nl[1] == '\0', "not one line on stderr: %s", r.err);
	cr_expect(strstr(r.err, "vfork"), "stderr does not name vfork: %s",
		  r.err);
	run_result_free(&r);

	expect_vfork_parent_untraced(&t, "after leakattach");
	release_vfork(&t);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	cr_expect_eq(target_stop(&t), 0);
}

Test(threads, vfork_parent_library, .timeout = 60)
{
	struct target t;
	struct la_session_opts opts =
		LA_OPTS(la_session_opts, .stop_timeout_ms = 500);
	struct la_session *s;
	struct la_snapshot *snap = NULL;
	int64_t t0;
	int err;

	start_vforker(&t);
	err = la_session_open(t.pid, &opts, &s);
	cr_assert_eq(err, 0, "open: %s", la_errmsg());
	t0 = now_us();
	err = la_snapshot_take(s, &snap);
	cr_log_info("vfork_parent_library: la_snapshot_take returned %d (%s) "
		    "after %lld ms: %s",
		    err, la_strerror(err), (long long)((now_us() - t0) / 1000),
		    la_errmsg());
	cr_expect_neq(err, 0, "a snapshot of a process inside vfork()");
	la_snapshot_free(snap);

	/* This process lives on, as a library user's would. */
	expect_vfork_parent_untraced(&t, "after la_snapshot_take");
	release_vfork(&t);
	expect_vfork_parent_untraced(&t, "after the vfork ended");
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	la_session_close(s);
	cr_expect_eq(target_stop(&t), 0);
}
