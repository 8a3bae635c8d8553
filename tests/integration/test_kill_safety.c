/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kill_safety.c - whatever happens to leakattach, the target goes on.
 *
 *  - killed_mid_snapshot: `leakattach snapshot --json` on a busy target
 *    (storm: a 200 MiB heap, four threads in a malloc/free/realloc storm)
 *    is killed with SIGKILL, SIGINT or SIGTERM after a random delay spread
 *    over a whole snapshot (0 to 1.2 times a measured run, measured again
 *    every 12 trials), 108 times. After each kill the target must be
 *    alive, traced by nobody, in no stop, and making progress.
 *  - signals sent to the target while snapshots (looping in a thread)
 *    stop it are all delivered: 50 SIGUSR1 one at a time (each must be
 *    handled before the next is sent: standard signals coalesce), half of
 *    them the moment the target is seen in a tracing stop; and 50 SIGRTMIN
 *    (they queue) in bursts of five, each burst inside one stop.
 *  - target_dies_mid_snapshot: the target is SIGKILLed at a random moment
 *    of a snapshot, 30 times (half of the time reaped at once, otherwise
 *    left a zombie): leakattach ends within 5 s with status 0, or 2 and
 *    one line on stderr; it never hangs or crashes.
 *
 * The counts are printed with cr_log_info. The random delays come from a
 * seed printed at the start of each test; LA_SEED=N repeats a run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target.h"

static uint64_t rng_state;

static uint64_t
seed_rng(void)
{
	const char *env = getenv("LA_SEED");
	uint64_t seed;

	if (env && *env)
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32);
	rng_state = seed ? seed : 1;
	return seed;
}

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A number in [0, n]. */
static int64_t
rng_upto(int64_t n)
{
	return n <= 0 ? 0 : (int64_t)((rng_next() >> 11) % (uint64_t)(n + 1));
}

/*
 * Start `leakattach snapshot -p TARGET --json` with stdout on /dev/null
 * and stderr on errfd (-1: /dev/null). It dies with the calling thread.
 * Returns its pid, or -errno.
 */
static pid_t
spawn_snapshot(pid_t target, int errfd)
{
	char pidbuf[32];
	const char *argv[] = {leakattach_path(), "snapshot", "-p", pidbuf,
			      "--json", NULL};

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
	return run_start(argv, errfd);
}

static void
kill_and_reap(pid_t pid)
{
	int code;

	kill(pid, SIGKILL);
	run_wait(pid, 60000, &code);
}

/* One full snapshot; returns its wall time in microseconds. */
static int64_t
timed_snapshot(pid_t target)
{
	int64_t t0 = now_us();
	pid_t pid = spawn_snapshot(target, -1);
	int code = -1;

	cr_assert_gt(pid, 0, "starting leakattach: %s", strerror(-pid));
	cr_assert_eq(run_wait(pid, 60000, &code), 0, "snapshot hangs");
	cr_assert_eq(code, 0, "snapshot of %d: status %d", (int)target, code);
	return now_us() - t0;
}

/* The mean of n snapshots, in microseconds. */
static int64_t
snapshot_duration(pid_t target, int n)
{
	int64_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += timed_snapshot(target);
	return sum / n;
}

/*
 * Empty a memfd for the next child's stderr. The offset must go back to
 * 0 too: the child's fd 2 shares it.
 */
static int
reset_memfd(int fd)
{
	if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

/* stderr of a finished child, read back from a memfd. */
static void
read_memfd(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* ---- the storm target ------------------------------------------------ */

static void
start_storm(struct target *t, const char *threads, const char *heap_mb)
{
	const char *argv[] = {threads, heap_mb, NULL};

	cr_assert_eq(target_start(t, "storm", argv, NULL), 0,
		     "cannot start storm");
	cr_assert_eq(target_read_line(t, 60000), 0, "storm: %s", t->line);
	cr_assert_str_eq(t->line, "ready");
}

/* Send cmd and parse the "cmd N" answer, skipping other lines. */
static int
ask_number(struct target *t, const char *cmd, unsigned long long *v,
	   int timeout_ms)
{
	size_t n = strlen(cmd);
	int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
	int err = target_send(t, cmd);

	if (err)
		return err;
	for (;;) {
		int64_t left = (deadline - now_us()) / 1000;

		err = target_read_line(t, left > 0 ? (int)left : 0);
		if (err)
			return err;
		if (!strncmp(t->line, cmd, n) && t->line[n] == ' ') {
			*v = strtoull(t->line + n + 1, NULL, 10);
			return 0;
		}
	}
}

/* The State letter of the target's main thread ('?' if unknown). */
static char
main_state(pid_t pid)
{
	char state[64];

	if (proc_status_field(pid, "State", state, sizeof(state)))
		return '?';
	return state[0];
}

/*
 * The storm target is alive, traced by nobody, in no stop in any thread
 * (polled for up to a second: a thread let go from a stop needs a moment
 * to run), and its progress counter moves (polled for up to 3 s: on a
 * loaded machine the storm threads may wait a while for a CPU). Returns
 * 0, -ESRCH when it has died, or another negative value; the reason is in
 * t->line. *settle_us: how long the threads took to leave their stops
 * (0: they had left already); *progress_us: how long the counter took to
 * move.
 */
static int
storm_unharmed_timed(struct target *t, int64_t *settle_us, int64_t *progress_us)
{
	int64_t start = now_us(), deadline = start + 1000000, last;
	unsigned long long a, b = 0;
	int err;

	for (;;) {
		last = now_us();
		err = target_check_unharmed(t, 0, NULL);
		if ((err != -EBUSY && err != -EINVAL) || now_us() >= deadline)
			break;
		sleep_us(2000);
	}
	/* Up to the last check, which includes a question to the target. */
	*settle_us = last - start;
	*progress_us = 0;
	if (err)
		return err;
	err = ask_number(t, "progress", &a, 5000);
	start = now_us();
	deadline = start + 3000000;
	while (!err) {
		sleep_us(5000);
		err = ask_number(t, "progress", &b, 5000);
		if (err || b > a || now_us() >= deadline)
			break;
	}
	*progress_us = now_us() - start;
	if (err) {
		snprintf(t->line, sizeof(t->line),
			 "no answer to \"progress\": %s", strerror(-err));
		return err;
	}
	if (b <= a) {
		snprintf(t->line, sizeof(t->line),
			 "no progress in 3 s: %llu, then %llu", a, b);
		return -EAGAIN;
	}
	return 0;
}

static int
storm_unharmed(struct target *t, int64_t *settle_us)
{
	int64_t progress_us;

	return storm_unharmed_timed(t, settle_us, &progress_us);
}

/* ---- 1. leakattach killed at a random moment ------------------------- */

#define KILL_TRIALS 108 /* 36 per signal */

Test(kill_safety, killed_mid_snapshot, .timeout = 300)
{
	static const int sigs[] = {SIGKILL, SIGINT, SIGTERM};
	struct target t;
	uint64_t seed = seed_rng();
	int64_t dur, dur_min, dur_max, max_settle = 0, max_progress = 0;
	int64_t max_exit_us[3] = {0};
	unsigned deaths = 0, harmed = 0, hangs = 0, during_stop = 0;
	unsigned killed[3] = {0}, finished[3] = {0}, other[3] = {0};
	int i;

	start_storm(&t, "4", "200");
	dur = snapshot_duration(t.pid, 3);
	cr_log_info("killed_mid_snapshot: seed %llu, a snapshot takes %lld ms",
		    (unsigned long long)seed, (long long)(dur / 1000));

	dur_min = dur_max = dur;
	for (i = 0; i < KILL_TRIALS; i++) {
		int k = i % 3, sig = sigs[k], code = -1, err;
		int64_t delay, settle, progress, t0;
		pid_t pid;

		/* The machine's load changes: follow it. */
		if (i % 12 == 11) {
			dur = (dur + timed_snapshot(t.pid)) / 2;
			if (dur < dur_min)
				dur_min = dur;
			if (dur > dur_max)
				dur_max = dur;
		}
		delay = rng_upto(dur * 12 / 10);
		pid = spawn_snapshot(t.pid, -1);
		cr_assert_gt(pid, 0, "starting leakattach: %s", strerror(-pid));
		sleep_us(delay);
		if (main_state(t.pid) == 't')
			during_stop++;
		kill(pid, sig);
		t0 = now_us();
		if (run_wait(pid, 30000, &code)) {
			hangs++;
			cr_log_error("trial %d (%s after %lld us): leakattach "
				     "still runs 30 s later",
				     i, strsignal(sig), (long long)delay);
			kill_and_reap(pid);
		}
		if (now_us() - t0 > max_exit_us[k])
			max_exit_us[k] = now_us() - t0;
		if (code == 128 + sig)
			killed[k]++;
		else if (code == 0)
			finished[k]++;
		else
			other[k]++;

		err = storm_unharmed_timed(&t, &settle, &progress);
		if (settle > max_settle)
			max_settle = settle;
		if (progress > max_progress)
			max_progress = progress;
		if (!err)
			continue;

		if (err == -ESRCH) {
			int st = 0;

			deaths++;
			waitpid(t.pid, &st, WNOHANG);
			cr_log_error(
				"trial %d (%s after %lld us, leakattach "
				"status %d): the target died, status %d: %s",
				i, strsignal(sig), (long long)delay, code,
				status_code(st), t.line);
		} else {
			harmed++;
			cr_log_error("trial %d (%s after %lld us, leakattach "
				     "status %d): the target is harmed: %s",
				     i, strsignal(sig), (long long)delay, code,
				     t.line);
		}
		/* Go on with a fresh target. */
		kill(t.pid, SIGKILL);
		target_stop(&t);
		start_storm(&t, "4", "200");
	}

	cr_log_info("killed_mid_snapshot: %d trials (snapshot duration "
		    "%lld to %lld ms), %u with the target in a "
		    "tracing stop at the kill; deaths %u, harmed %u, hangs %u; "
		    "longest settle %lld ms, longest wait for progress %lld ms",
		    KILL_TRIALS, (long long)(dur_min / 1000),
		    (long long)(dur_max / 1000), during_stop, deaths, harmed,
		    hangs, (long long)(max_settle / 1000),
		    (long long)(max_progress / 1000));
	for (i = 0; i < 3; i++)
		cr_log_info("  %s: killed %u, finished first %u, other "
			    "status %u; slowest exit after the signal %lld ms",
			    strsignal(sigs[i]), killed[i], finished[i],
			    other[i], (long long)(max_exit_us[i] / 1000));
	cr_expect_eq(deaths, 0, "%u target deaths in %d trials", deaths,
		     KILL_TRIALS);
	cr_expect_eq(harmed, 0, "%u harmed targets in %d trials", harmed,
		     KILL_TRIALS);
	cr_expect_eq(hangs, 0, "leakattach hung %u times", hangs);
	cr_expect_gt(during_stop, 0,
		     "no kill landed while the target was stopped: the "
		     "trials test nothing");
	for (i = 0; i < 3; i++)
		cr_expect_eq(other[i], 0,
			     "leakattach ended %u times with a status that is "
			     "neither success nor death by %s",
			     other[i], strsignal(sigs[i]));
	cr_expect_eq(target_stop(&t), 0);
}

/* ---- 2. signals sent during the stop are delivered ------------------- */

/* Snapshots in a loop, in a thread of their own. No asserts here. */
struct snap_loop {
	pthread_t thread;
	pid_t target;
	int stop; /* atomic */
	unsigned runs, failures;
	int last_bad_status;
	char last_err[512];
};

static void *
snap_loop_main(void *arg)
{
	struct snap_loop *l = arg;
	int errfd = memfd_create("la-stderr", MFD_CLOEXEC);

	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		pid_t pid = spawn_snapshot(l->target, errfd);
		int code = -1;

		if (pid < 0) {
			l->failures++;
			l->last_bad_status = pid;
			sleep_us(10000);
			continue;
		}
		if (run_wait(pid, 60000, &code)) {
			kill_and_reap(pid);
			code = -1;
		}
		l->runs++;
		if (code != 0) {
			l->failures++;
			l->last_bad_status = code;
			read_memfd(errfd, l->last_err, sizeof(l->last_err));
		}
		if (reset_memfd(errfd))
			break;
	}
	close(errfd);
	return NULL;
}

static void
snap_loop_start(struct snap_loop *l, pid_t target)
{
	memset(l, 0, sizeof(*l));
	l->target = target;
	cr_assert_eq(pthread_create(&l->thread, NULL, snap_loop_main, l), 0);
}

static void
snap_loop_stop(struct snap_loop *l)
{
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
	pthread_join(l->thread, NULL);
}

/*
 * Wait up to timeout_ms until the target's main thread is in a tracing
 * stop (one of the looping snapshots has stopped it). Returns 1 if so.
 */
static int
wait_for_stop(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;

	while (now_us() < deadline) {
		if (main_state(pid) == 't')
			return 1;
		sleep_us(500);
	}
	return 0;
}

#define NSIGNALS 50

/*
 * SIGUSR1, one at a time: each must be handled before the next is sent,
 * since a standard signal sent while another is pending is merged with
 * it, and a lost one would go unnoticed. Every other signal is sent the
 * moment a snapshot has stopped the target, the others at a random
 * moment of the snapshot loop.
 */
Test(kill_safety, sigusr1_during_stop_delivered, .timeout = 180)
{
	struct target t;
	struct snap_loop loop;
	unsigned long long count = 0;
	unsigned sent = 0, lost = 0, during_stop = 0;
	int64_t settle, slowest = 0;
	uint64_t seed = seed_rng();

	start_storm(&t, "2", "64");
	snap_loop_start(&loop, t.pid);
	for (int i = 0; i < NSIGNALS; i++) {
		int64_t t0, deadline;
		int in_stop;

		if (i % 2 == 0)
			wait_for_stop(t.pid, 10000);
		else
			sleep_us(rng_upto(100000));
		in_stop = main_state(t.pid) == 't';
		cr_assert_eq(kill(t.pid, SIGUSR1), 0);
		sent++;
		during_stop += in_stop;
		t0 = now_us();
		deadline = t0 + 5000000;
		for (;;) {
			cr_assert_eq(ask_number(&t, "signals", &count, 10000),
				     0, "no answer to \"signals\": %s", t.line);
			if (count >= sent - lost || now_us() > deadline)
				break;
			sleep_us(500);
		}
		if (now_us() - t0 > slowest)
			slowest = now_us() - t0;
		if (count < sent - lost) {
			cr_log_error("SIGUSR1 number %u (sent while the target "
				     "was %s) was lost",
				     sent, in_stop ? "stopped" : "running");
			lost = sent - (unsigned)count;
		}
	}
	snap_loop_stop(&loop);

	cr_assert_eq(ask_number(&t, "signals", &count, 10000), 0, "%s", t.line);
	cr_log_info("sigusr1_during_stop_delivered: seed %llu; %u SIGUSR1 "
		    "sent, %u of them while the target was in a tracing stop, "
		    "%llu handled; %u snapshots ran (%u failed); slowest "
		    "delivery %lld ms",
		    (unsigned long long)seed, sent, during_stop, count,
		    loop.runs, loop.failures, (long long)(slowest / 1000));
	cr_expect_eq(count, NSIGNALS, "%llu of %d SIGUSR1 handled", count,
		     NSIGNALS);
	cr_expect_eq(lost, 0, "%u SIGUSR1 lost", lost);
	cr_expect_geq(during_stop, NSIGNALS / 4,
		      "only %u signals were sent during a stop", during_stop);
	cr_expect_eq(loop.failures, 0,
		     "%u snapshots failed, the last with "
		     "status %d: %s",
		     loop.failures, loop.last_bad_status, loop.last_err);
	cr_expect_eq(storm_unharmed(&t, &settle), 0, "%s", t.line);
	cr_expect_eq(target_stop(&t), 0);
}

/*
 * SIGRTMIN queues: bursts of five sent the moment a snapshot has stopped
 * the target, ten times; every one must be handled, none merged or lost.
 */
#define BURST 5

Test(kill_safety, rt_signal_burst_during_stops_delivered, .timeout = 180)
{
	struct target t;
	struct snap_loop loop;
	unsigned long long count = 0;
	unsigned during_stop = 0;
	int64_t settle, deadline;

	start_storm(&t, "2", "64");
	snap_loop_start(&loop, t.pid);
	for (int i = 0; i < NSIGNALS / BURST; i++) {
		wait_for_stop(t.pid, 10000);
		for (int j = 0; j < BURST; j++) {
			during_stop += main_state(t.pid) == 't';
			cr_assert_eq(kill(t.pid, SIGRTMIN), 0);
		}
		/* The next burst goes to the next stop. */
		while (main_state(t.pid) == 't')
			sleep_us(500);
	}
	snap_loop_stop(&loop);

	deadline = now_us() + 10000000;
	do {
		cr_assert_eq(ask_number(&t, "rtsignals", &count, 10000), 0,
			     "%s", t.line);
		if (count >= NSIGNALS)
			break;
		sleep_us(10000);
	} while (now_us() < deadline);
	sleep_us(50000);
	cr_assert_eq(ask_number(&t, "rtsignals", &count, 10000), 0, "%s",
		     t.line);
	cr_log_info("rt_signal_burst_during_stops_delivered: %d SIGRTMIN "
		    "sent in bursts of %d, %u of them while the target was "
		    "in a tracing stop, %llu handled; %u snapshots ran (%u "
		    "failed)",
		    NSIGNALS, BURST, during_stop, count, loop.runs,
		    loop.failures);
	cr_expect_eq(count, NSIGNALS, "%llu of %d SIGRTMIN handled", count,
		     NSIGNALS);
	cr_expect_geq(during_stop, NSIGNALS / 2,
		      "only %u signals were sent during a stop", during_stop);
	cr_expect_eq(loop.failures, 0,
		     "%u snapshots failed, the last with "
		     "status %d: %s",
		     loop.failures, loop.last_bad_status, loop.last_err);
	cr_expect_eq(storm_unharmed(&t, &settle), 0, "%s", t.line);
	cr_expect_eq(target_stop(&t), 0);
}

/* msg without its numbers (PIDs, addresses), to tell kinds apart. */
static void
message_kind(const char *msg, char *out, size_t len)
{
	size_t o = 0;

	while (*msg && *msg != '\n' && o + 2 < len) {
		if (msg[0] == '0' && msg[1] == 'x') {
			msg += 2;
			while (strchr("0123456789abcdefABCDEF", *msg) && *msg)
				msg++;
			out[o++] = 'X';
		} else if (*msg >= '0' && *msg <= '9') {
			while (*msg >= '0' && *msg <= '9')
				msg++;
			out[o++] = 'N';
		} else {
			out[o++] = *msg++;
		}
	}
	out[o] = '\0';
}

/* ---- 3. the target dies during the snapshot -------------------------- */

#define EXIT_TRIALS 30

Test(kill_safety, target_dies_mid_snapshot, .timeout = 240)
{
	uint64_t seed = seed_rng();
	int64_t dur = 0, slowest = 0;
	unsigned ok0 = 0, ok2 = 0, hangs = 0, crashes = 0, bad_status = 0;
	unsigned bad_stderr = 0, noisy0 = 0, during_stop = 0;
	char seen[8][256] = {""};
	unsigned nseen = 0;
	int errfd = memfd_create("la-stderr", MFD_CLOEXEC);

	cr_assert_geq(errfd, 0);
	for (int i = 0; i < EXIT_TRIALS; i++) {
		struct target t;
		char err[4096];
		int code = -1, la_done = 0, t_done, reap_early = i % 2;
		int64_t delay, t0, deadline;
		pid_t pid;

		start_storm(&t, "2", "24");
		if (i == 0) {
			dur = snapshot_duration(t.pid, 2);
			cr_log_info("target_dies_mid_snapshot: seed %llu, a "
				    "snapshot takes %lld ms",
				    (unsigned long long)seed,
				    (long long)(dur / 1000));
		}
		delay = rng_upto(dur * 12 / 10);
		cr_assert_eq(reset_memfd(errfd), 0);
		pid = spawn_snapshot(t.pid, errfd);
		cr_assert_gt(pid, 0, "starting leakattach: %s", strerror(-pid));
		sleep_us(delay);
		if (main_state(t.pid) == 't')
			during_stop++;
		kill(t.pid, SIGKILL);
		/*
		 * Half the time the dead target is reaped at once (its PID
		 * disappears); otherwise it stays a zombie until leakattach
		 * is done.
		 */
		t_done = !reap_early;
		t0 = now_us();
		deadline = t0 + 5000000;
		while ((!la_done || !t_done) && now_us() < deadline) {
			int st;

			if (!la_done && waitpid(pid, &st, WNOHANG) == pid) {
				la_done = 1;
				code = status_code(st);
				if (now_us() - t0 > slowest)
					slowest = now_us() - t0;
			}
			if (!t_done && waitpid(t.pid, &st, WNOHANG) == t.pid)
				t_done = 1;
			sleep_us(1000);
		}
		read_memfd(errfd, err, sizeof(err));
		if (!la_done) {
			hangs++;
			cr_log_error(
				"trial %d (target killed after %lld us): "
				"leakattach still runs 5 s later; stderr: %s",
				i, (long long)delay, err);
			kill_and_reap(pid);
		} else if (code == 0) {
			ok0++;
			if (err[0])
				noisy0++;
		} else if (code == 2) {
			const char *nl = strchr(err, '\n');

			ok2++;
			if (!nl || nl[1] || strncmp(err, "leakattach: ", 12)) {
				bad_stderr++;
				cr_log_error("trial %d (target killed after "
					     "%lld us): status 2 but stderr is "
					     "not one line: %s",
					     i, (long long)delay, err);
			} else {
				char kind[256];
				int dup = 0;

				message_kind(err, kind, sizeof(kind));
				for (unsigned j = 0; j < nseen; j++)
					dup |= !strcmp(seen[j], kind);
				if (!dup && nseen < 8)
					memcpy(seen[nseen++], kind,
					       sizeof(kind));
			}
		} else if (code > 128) {
			crashes++;
			cr_log_error("trial %d (target killed after %lld us): "
				     "leakattach died by signal %d; stderr: %s",
				     i, (long long)delay, code - 128, err);
		} else {
			bad_status++;
			cr_log_error("trial %d (target killed after %lld us): "
				     "leakattach exited %d; stderr: %s",
				     i, (long long)delay, code, err);
		}
		target_stop(&t); /* reaps it if still needed */
	}
	close(errfd);

	cr_log_info("target_dies_mid_snapshot: %d trials, %u with the target "
		    "in a tracing stop at the kill: exit 0 %u times (%u with "
		    "stderr output), exit 2 %u times; hangs %u, crashes %u, "
		    "other status %u, bad stderr %u; slowest exit after the "
		    "kill %lld ms",
		    EXIT_TRIALS, during_stop, ok0, noisy0, ok2, hangs, crashes,
		    bad_status, bad_stderr, (long long)(slowest / 1000));
	for (unsigned j = 0; j < nseen; j++)
		cr_log_info("  seen (N: a number, X: an address): %s", seen[j]);
	cr_expect_eq(hangs, 0, "leakattach hung %u times", hangs);
	cr_expect_eq(crashes, 0, "leakattach crashed %u times", crashes);
	cr_expect_eq(bad_status, 0, "%u exits neither 0 nor 2", bad_status);
	cr_expect_eq(bad_stderr, 0, "%u exits 2 without one line on stderr",
		     bad_stderr);
}
