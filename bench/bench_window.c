/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_window.c - figure 8: the cost of one callers window to the target,
 * measured around a single `leakattach check` per backend, thread count and
 * tracefs state (a mount namespace of the tool's own).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ---- 8. window: one callers window, measured locally in time ------------ */

/*
 * The callers figure above counts the target's work over whole 10 s
 * monitor runs, whose own spread (17-25 %) is far above what one window
 * may cost (issue 10: <= 50 ms of the target's work, 0.5 % of 10 s). This
 * one measures around a single `leakattach check` only: the target's rate
 * over WIN_RATE_S just before the tool starts and just after the span, and
 * its operations from the tool's start to WIN_SETTLE_S after its exit, or
 * later while its rate is not back (a teardown that outlives the tool).
 */
#define WIN_MIB "16" /* a small heap: the target starts at once */
#define WIN_RATE_S 0.5 /* the rate just before and just after */
#define WIN_SETTLE_S 0.3 /* the span ends no earlier after the exit */
#define WIN_STEP_S 0.25 /* then in steps, until a step's rate is back */
#define WIN_TOLERANCE 0.05 /* "back": within 5 % of the rate before */
#define WIN_LIMIT_S 10.0 /* at most this long after the exit */
#define WIN_BUDGET_MS 50.0

/*
 * The tool runs in a mount namespace of its own (`unshare -m --propagation
 * private`), so that tracefs can be taken away or put there without
 * touching the machine's mounts. The script prepares it, checks it in
 * /proc/self/mountinfo (fields: ID PARENT DEV ROOT MOUNTPOINT ... - TYPE)
 * and execs the tool; 97 and 98 say it could not.
 */
enum { WNS_UNMOUNTED, WNS_MOUNTED, WNS_N };

static const struct wns {
	const char *name;
	const char *script;
} wns[WNS_N] = {
	{"tracefs unmounted",
	 "umount -R -l /sys/kernel/debug /sys/kernel/tracing 2>/dev/null; "
	 "if grep -qE ' - (tracefs|debugfs) ' /proc/self/mountinfo; then "
	 "echo 'a tracefs or debugfs is still mounted in the namespace' >&2; "
	 "exit 97; fi; exec \"$@\""},
	{"tracefs mounted",
	 "t=/sys/kernel/tracing; "
	 "m() { grep -qE \"^([^ ]+ ){4}$t .* - tracefs \" /proc/self/mountinfo; }; "
	 "m || mount -t tracefs nodev $t 2>/dev/null; "
	 "m || { echo \"cannot mount tracefs on $t in the namespace\" >&2; "
	 "exit 98; }; exec \"$@\""},
};

/*
 * The target's counters at one moment: its operations and their time
 * (from the target), and from /proc/PID/task/TID/schedstat the time its
 * worker threads (not the main one, which only answers us) ran on a CPU
 * and waited for one; the rest of their time they were blocked: stopped
 * by ptrace, at a breakpoint, or asleep on a lock of the kernel. The
 * kernel adds a wait for a CPU to run_delay only when it ends
 * (sched_info_arrive()), so a thread waiting at a mark counts as blocked
 * until then: with more runnable threads than cores, the blocked time of
 * a span is off by up to one such wait at each end (under heavy load,
 * hundreds of ms), in either direction.
 */
struct wmark {
	double ops, ns; /* from the target: its ops, CLOCK_MONOTONIC ns */
	double run, wait, wall; /* seconds, summed over the workers; now_s() */
	unsigned threads;
};

static void
wmark_take(struct target *t, struct wmark *m)
{
	char path[320], line[128];
	struct dirent *de;
	DIR *d;

	storm_count(t, &m->ops, &m->ns);
	m->run = m->wait = 0;
	m->threads = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		unsigned long long run, wait;
		FILE *f;

		if (de->d_name[0] == '.' || atoi(de->d_name) == (int)t->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)t->pid, de->d_name);
		f = fopen(path, "re");
		if (f && fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu %llu", &run, &wait) == 2) {
			m->run += (double)run / 1e9;
			m->wait += (double)wait / 1e9;
			m->threads++;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	m->wall = now_s();
}

/* Between two marks: ops/s, ops per CPU second, the blocked fraction. */
struct wspan {
	double ops, secs, rate, per_cpu, blocked;
};

static struct wspan
wspan_of(const struct wmark *a, const struct wmark *b)
{
	struct wspan s;
	unsigned n = b->threads ? b->threads : 1;
	double run = b->run - a->run;

	s.ops = b->ops - a->ops;
	s.secs = (b->ns - a->ns) / 1e9;
	s.rate = s.secs > 0 ? s.ops / s.secs : 0;
	s.per_cpu = run > 0 ? s.ops / run : 0;
	/*
	 * A thread's time neither on a CPU nor waiting for one, averaged;
	 * not clamped at 0, so that its noise averages out (see wmark).
	 */
	s.blocked = (n * (b->wall - a->wall) - run - (b->wait - a->wait)) / n /
		    (b->wall - a->wall);
	return s;
}

/* One trial: a `leakattach check`, or its sample alone. */
struct wtrial {
	double loss_ms; /* the target's work lost over the span, in ms */
	double cpu_loss_ms; /* the same from its CPU time: slowed + stalled */
	double stall_ms; /* its threads blocked beyond their usual */
	double tolerance_pct; /* "back": ops per CPU s within this */
	double before, after; /* its ops/s just before and just after */
	double before_cpu; /* its ops per CPU second just before */
	double span_s; /* the tool's start to the end of the span */
	double past_s; /* the end of the span past exit + WIN_SETTLE_S */
	double wall_s, cpu_ms; /* the tool's (and its namespace's shell) */
	double drift_pct; /* |after - before| / their mean */
	double others; /* cores the rest of the machine used over the span */
	double pause_ms; /* the sample's, from the JSON */
	struct callers_json cj;
	char error[256]; /* not empty: not measured, and why */
};

/* The first line of a file, or what is given. */
static void
first_line(const char *path, char *out, size_t size, const char *otherwise)
{
	char *s = file_read_all(path);

	s[strcspn(s, "\n")] = '\0';
	snprintf(out, size, "%s", *s ? s : otherwise);
	free(s);
}

/*
 * Run argv with stdout and stderr in files (NULL: /dev/null), without a
 * configuration file, SIGTERMed if we die, in a session of its own (see
 * targets_setsid); its status and rusage.
 */
static int
window_run(const char *const *argv, const char *out, const char *err,
	   struct rusage *ru)
{
	pid_t child;
	int st;

	fflush(NULL);
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		int fo = open(out ? out : "/dev/null",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int fe = open(err ? err : "/dev/null",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(127);
		setsid();
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		setenv("LEAKATTACH_CONFIG", "", 1);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	while (wait4(child, &st, 0, ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	return st;
}

/* argv for `unshare ... sh -c SCRIPT sh CMD...`, CMD NULL-terminated. */
static void
window_ns_argv(const char **argv, int ns, const char *const *cmd)
{
	unsigned n = 0;

	argv[n++] = "unshare";
	argv[n++] = "-m";
	argv[n++] = "--propagation";
	argv[n++] = "private";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = wns[ns].script;
	argv[n++] = "sh";
	while (*cmd)
		argv[n++] = *cmd++;
	argv[n] = NULL;
}

/* Can the namespace be made here? 0, or -1 with the reason. */
static int
window_ns_probe(int ns, char *why, size_t size)
{
	static const char *const cmd[] = {"true", NULL};
	const char *argv[16];
	char err[PATH_MAX + 16];
	struct rusage ru;
	int st;

	snprintf(err, sizeof(err), "%s/ns.err", mon_dir);
	window_ns_argv(argv, ns, cmd);
	st = window_run(argv, NULL, err, &ru);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	first_line(err, why, size, "unshare -m failed");
	return -1;
}

static double
rel_diff(double a, double b)
{
	return a + b > 0 ? 2 * (a > b ? a - b : b - a) / (a + b) : 0;
}

/*
 * The target's rate over WIN_RATE_S, in halves: measured before a trial,
 * or the one after the trial before (the span ends once the target is
 * back: what follows is as good a baseline).
 */
struct wquiet {
	struct wmark m[3];
	int valid;
	/* how much the halves differed, in every window so far */
	double noise[2 * MAX_ROUNDS * 3 + 2], noise_blocked[2 * MAX_ROUNDS * 3 + 2];
	unsigned n_noise;
};

/*
 * Run the tool (argv) with the target's counters around it: the loss
 * figures of w, its status; q: the window before, then the one after.
 */
static int
window_measure(struct target *t, const char *const *argv, const char *out,
	       const char *err, struct wtrial *w, struct wquiet *q)
{
	struct wmark m1, mp, mc, ma;
	struct wspan before, after, span, h1, h2;
	double t0, t_exit, busy0, base, tol, tol_blocked;
	struct rusage ru;
	int st;

	if (!q->valid) {
		wmark_take(t, &q->m[0]);
		sleep_until(now_s() + WIN_RATE_S / 2);
		wmark_take(t, &q->m[1]);
		sleep_until(now_s() + WIN_RATE_S / 2);
		wmark_take(t, &q->m[2]);
	}
	m1 = q->m[2];
	before = wspan_of(&q->m[0], &m1);
	h1 = wspan_of(&q->m[0], &q->m[1]);
	h2 = wspan_of(&q->m[1], &m1);
	busy0 = machine_busy_s();
	t0 = now_s();
	st = window_run(argv, out, err, &ru);
	t_exit = now_s();
	w->wall_s = t_exit - t0;
	w->cpu_ms = ru_cpu_s(&ru) * 1e3;

	/*
	 * The end of the span: WIN_SETTLE_S after the exit, or the end of
	 * the first later step of WIN_STEP_S in which the target is back:
	 * its ops per CPU second within the tolerance of those before, and
	 * not blocked more than then, so that probes or a stall that outlive
	 * the tool are counted. Per CPU second, and not per second: other
	 * processes take the target's CPU as they please, and a rate that
	 * waits for them to stop ends the span at random. The tolerance is
	 * WIN_TOLERANCE, or where the machine is noisier than that twice the
	 * median difference between the two halves of the windows before
	 * and after the trials so far on this target (a loaded machine moves
	 * the rate per CPU second by 10-20 % from one quarter second to the
	 * next: other threads on the same core and caches), at most 50 %: a
	 * target still probed runs several times slower, and a stopped one
	 * not at all.
	 */
	if (q->n_noise < sizeof(q->noise) / sizeof(q->noise[0])) {
		q->noise[q->n_noise] = rel_diff(h1.per_cpu, h2.per_cpu);
		q->noise_blocked[q->n_noise] =
			h1.blocked > h2.blocked ? h1.blocked - h2.blocked
						: h2.blocked - h1.blocked;
		q->n_noise++;
	}
	tol = 2 * median(q->noise, q->n_noise);
	tol = tol < WIN_TOLERANCE ? WIN_TOLERANCE : tol > 0.5 ? 0.5 : tol;
	tol_blocked = 2 * median(q->noise_blocked, q->n_noise);
	if (tol_blocked < WIN_TOLERANCE)
		tol_blocked = WIN_TOLERANCE;
	w->tolerance_pct = 100 * tol;
	sleep_until(t_exit + 0.05);
	wmark_take(t, &mp);
	sleep_until(t_exit + WIN_SETTLE_S);
	wmark_take(t, &mc);
	for (;;) {
		struct wspan step = wspan_of(&mp, &mc);

		if ((step.per_cpu >= (1 - tol) * before.per_cpu &&
		     step.blocked <= before.blocked + tol_blocked) ||
		    now_s() - t_exit >= WIN_LIMIT_S)
			break;
		mp = mc;
		sleep_until(now_s() + WIN_STEP_S);
		wmark_take(t, &mc);
	}
	w->past_s = mc.wall - t_exit - WIN_SETTLE_S;
	if (w->past_s < 0.01)
		w->past_s = 0;
	span = wspan_of(&m1, &mc);
	w->span_s = span.secs;
	w->others = (machine_busy_s() - busy0 - ru_cpu_s(&ru) -
		     (mc.run - m1.run)) /
		    span.secs;
	if (w->others < 0)
		w->others = 0;
	/* the window after, in halves: the window before of the next trial */
	q->m[0] = mc;
	sleep_until(now_s() + WIN_RATE_S / 2);
	wmark_take(t, &q->m[1]);
	sleep_until(now_s() + WIN_RATE_S / 2);
	wmark_take(t, &ma);
	q->m[2] = ma;
	q->valid = 1;
	after = wspan_of(&mc, &ma);
	w->before = before.rate;
	w->before_cpu = before.per_cpu;
	w->after = after.rate;
	w->drift_pct = 100 * rel_diff(before.rate, after.rate);

	/* The work lost, at the target's rate in ops per second. */
	base = (before.rate + after.rate) / 2;
	w->loss_ms = (base * span.secs - span.ops) / base * 1e3;
	/*
	 * Less disturbed by other load: the time the target's threads were
	 * blocked beyond their usual (stopped by ptrace, or asleep in the
	 * kernel), and the ops missing at its rate per CPU second over the
	 * CPU time it got (a target slowed by probes), at its rate.
	 */
	w->stall_ms = (span.blocked - (before.blocked + after.blocked) / 2) *
		      span.secs * 1e3;
	w->cpu_loss_ms =
		((before.per_cpu + after.per_cpu) / 2 * (mc.run - m1.run) -
		 span.ops) /
			base * 1e3 +
		w->stall_ms;
	return st;
}

/*
 * One trial on target t: in namespace ns, `leakattach check -p PID
 * --log-dir DIR --json --callers=always --callers-backend=BACKEND`, or
 * with backend NULL --callers=off (the sample alone); quiet NULL: the
 * tool alone, not measured. The checks share the target's log folder, as
 * checks run one after the other do: a window trial's sample also checks
 * the window that the one before left (--callers=off loads none).
 */
static void
window_trial(const struct opts *o, struct target *t, int ns,
	     const char *backend, struct wquiet *quiet, struct wtrial *w)
{
	char pidstr[24], logdir[PATH_MAX + 16], out[PATH_MAX + 16],
		err[PATH_MAX + 16], be[64];
	const char *cmd[MAX_ARGS + 16], *argv[MAX_ARGS + 32];
	struct rusage ru;
	unsigned n = 0;
	char *js;
	int st;

	memset(w, 0, sizeof(*w));
	snprintf(pidstr, sizeof(pidstr), "%d", (int)t->pid);
	snprintf(logdir, sizeof(logdir), "%s/log", mon_dir);
	snprintf(out, sizeof(out), "%s/check.json", mon_dir);
	snprintf(err, sizeof(err), "%s/check.err", mon_dir);

	cmd[n++] = o->tool;
	cmd[n++] = "check";
	cmd[n++] = "-p";
	cmd[n++] = pidstr;
	cmd[n++] = "--log-dir";
	cmd[n++] = logdir;
	cmd[n++] = "--json";
	for (unsigned i = 0; i < o->n_tool_args; i++)
		cmd[n++] = o->tool_args[i];
	/* last, so that they win over --tool-arg */
	if (backend) {
		snprintf(be, sizeof(be), "--callers-backend=%s", backend);
		cmd[n++] = "--callers=always";
		cmd[n++] = be;
	} else {
		cmd[n++] = "--callers=off";
	}
	cmd[n] = NULL;
	window_ns_argv(argv, ns, cmd);

	if (quiet) {
		st = window_measure(t, argv, out, err, w, quiet);
	} else {
		st = window_run(argv, out, err, &ru);
	}

	js = file_read_all(out);
	/* 0 no leak, 1 leak, 3 undecided (too few samples): all verdicts */
	if (!WIFEXITED(st) ||
	    (WEXITSTATUS(st) > 1 && WEXITSTATUS(st) != 3)) {
		char why[200];

		first_line(err, why, sizeof(why), "no message");
		snprintf(w->error, sizeof(w->error), "status %#x: %s", st, why);
	} else if (callers_json_parse(js, &w->cj)) {
		snprintf(w->error, sizeof(w->error), "no JSON: %.200s", js);
	} else if (backend && w->cj.error[0]) {
		snprintf(w->error, sizeof(w->error), "%s", w->cj.error);
	} else if (backend && !w->cj.windows) {
		snprintf(w->error, sizeof(w->error), "no window was opened");
	}
	json_num(js, "pause_ms", &w->pause_ms);
	free(js);
	if (o->verbose && quiet)
		fprintf(stderr,
			"  %s, %s: lost %.1f ms (per CPU %.1f, stalled %.1f) over %.2f s (%.2f past exit + %.1f s, tolerance %.0f %%), %.3f / %.3f M ops/s, tool %.2f s / %.0f ms CPU, window %.1f ms, teardown %.1f ms%s%s\n",
			backend ? backend : "off", wns[ns].name, w->loss_ms,
			w->cpu_loss_ms, w->stall_ms, w->span_s, w->past_s, WIN_SETTLE_S, w->tolerance_pct, w->before / 1e6,
			w->after / 1e6, w->wall_s, w->cpu_ms, w->cj.window_ms,
			w->cj.teardown_ms, w->error[0] ? "; " : "", w->error);
}

/* The field of each trial, for median() and spread(). */
#define WFIELD(dst, trials, n, field)                \
	do {                                         \
		for (unsigned i_ = 0; i_ < (n); i_++) \
			(dst)[i_] = (trials)[i_].field; \
	} while (0)

static double
loadavg1(void)
{
	double v = -1;
	FILE *f = fopen("/proc/loadavg", "re");

	if (f && fscanf(f, "%lf", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

/* Does the process have a [uprobes] mapping (kernel uprobes hit it)? */
static int
has_uprobes_page(pid_t pid)
{
	char path[64], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[uprobes]"))
			found = 1;
	if (f)
		fclose(f);
	return found;
}

enum { M_OFF, M_UNMOUNTED, M_MOUNTED, M_N };

/* The results of one target: a backend and a thread count. */
struct wtarget {
	struct wtrial tr[M_N][MAX_ROUNDS];
	unsigned n[M_N];
	char why[M_N][256]; /* why a kind stopped being measured */
	/* per window trial: its loss less the median of the sample alone's */
	double cost[M_N][MAX_ROUNDS], cpu_cost[M_N][MAX_ROUNDS],
		stall_cost[M_N][MAX_ROUNDS];
};

static void
window_report(const struct wtarget *x, const int *ns_ok,
	      char ns_why[][256])
{
	static double v[M_N * MAX_ROUNDS], w2[M_N * MAX_ROUNDS],
		w3[M_N * MAX_ROUNDS], w4[M_N * MAX_ROUNDS];
	static const char *const label[M_N] = {
		"sample alone (off)", "window, tracefs unmounted",
		"window, tracefs mounted"};
	char b1[128], b2[128], b3[128];
	unsigned na = 0;

	printf("   %-26s %-19s %-19s %-19s %-18s %s\n", "", "lost ms at ops/s",
	       "per CPU s", "of which stalled", "span s", "tool s / CPU ms");
	for (unsigned md = 0; md < M_N; md++) {
		const struct wtrial *t = x->tr[md];
		unsigned k = x->n[md];

		if (!k) {
			printf("   %-26s not measured: %s\n", label[md],
			       md && !ns_ok[md - 1] ? ns_why[md - 1]
						    : x->why[md]);
			continue;
		}
		WFIELD(v, t, k, loss_ms);
		WFIELD(w2, t, k, cpu_loss_ms);
		WFIELD(w3, t, k, stall_ms);
		printf("   %-26s %-19s %-19s %-19s", label[md],
		       spread(b1, sizeof(b1), 0, v, k),
		       spread(b2, sizeof(b2), 0, w2, k),
		       spread(b3, sizeof(b3), 0, w3, k));
		WFIELD(v, t, k, span_s);
		printf(" %-18s", spread(b1, sizeof(b1), 2, v, k));
		WFIELD(v, t, k, wall_s);
		WFIELD(w2, t, k, cpu_ms);
		printf(" %.2f / %.0f\n", median(v, k), median(w2, k));
		if (x->why[md][0])
			printf("   %-26s (then a trial failed: %s)\n", "",
			       x->why[md]);
	}
	for (unsigned md = M_UNMOUNTED; md < M_N && x->n[M_OFF]; md++) {
		const struct wtrial *t = x->tr[md];
		unsigned k = x->n[md];

		if (!k)
			continue;
		printf("   %s: WINDOW COST %s ms; budget <= %.0f ms: %s\n",
		       label[md] + 8, spread(b1, sizeof(b1), 0, x->cost[md], k),
		       WIN_BUDGET_MS,
		       verdict(median(x->cost[md], k) <= WIN_BUDGET_MS));
		printf("     per CPU s %s ms: %s; of which stalled %s ms\n",
		       spread(b1, sizeof(b1), 0, x->cpu_cost[md], k),
		       verdict(median(x->cpu_cost[md], k) <= WIN_BUDGET_MS),
		       spread(b2, sizeof(b2), 0, x->stall_cost[md], k));
		WFIELD(v, t, k, past_s);
		WFIELD(w2, t, k, tolerance_pct);
		printf("     span past exit + %.1f s: %s s (\"back\" within %s %%)\n",
		       WIN_SETTLE_S, spread(b1, sizeof(b1), 2, v, k),
		       spread(b2, sizeof(b2), 0, w2, k));
		WFIELD(v, t, k, cj.window_ms);
		WFIELD(w2, t, k, cj.teardown_ms);
		printf("     JSON, backend \"%s\": window_ms %s, teardown_ms %s,\n",
		       t[k - 1].cj.backend, spread(b1, sizeof(b1), 1, v, k),
		       spread(b2, sizeof(b2), 1, w2, k));
		WFIELD(v, t, k, cj.release_ms);
		WFIELD(w2, t, k, cj.allocations);
		WFIELD(w3, t, k, cj.lost);
		printf("     release_ms %s, allocations %s, lost %s\n",
		       spread(b1, sizeof(b1), 0, v, k),
		       spread(b2, sizeof(b2), 0, w2, k),
		       spread(b3, sizeof(b3), 0, w3, k));
	}
	if (x->n[M_OFF]) {
		WFIELD(v, x->tr[M_OFF], x->n[M_OFF], pause_ms);
		printf("   the sample's pause %s ms (--callers=off)\n",
		       spread(b1, sizeof(b1), 0, v, x->n[M_OFF]));
	}
	/* every trial of the target: its rate, the noise, the other load */
	for (unsigned md = 0; md < M_N; md++)
		for (unsigned i = 0; i < x->n[md]; i++) {
			v[na] = x->tr[md][i].before / 1e6;
			w2[na] = x->tr[md][i].drift_pct;
			w3[na] = x->tr[md][i].others;
			w4[na] = x->tr[md][i].before_cpu > 0
					 ? x->tr[md][i].before /
						   x->tr[md][i].before_cpu
					 : 0;
			na++;
		}
	if (na) {
		printf("   target %s M ops/s; its rates before and after differ by\n"
		       "     %s %% (noise); others used %s cores\n",
		       spread(b1, sizeof(b1), 2, v, na),
		       spread(b2, sizeof(b2), 0, w2, na),
		       spread(b3, sizeof(b3), 2, w3, na));
		/*
		 * A CPU ms the target loses (to probes, to the tool) is
		 * 1 / cores ms of its work: on a busy machine, more.
		 */
		printf("   the target got %s cores (its ops/s over its ops per CPU s)\n",
		       spread(b1, sizeof(b1), 2, w4, na));
	}
}

void
bench_window(const struct opts *o)
{
	static const char *const threads[] = {"1", "8"};
	/* int3 first: no window of ours has used uprobes yet */
	static const char *const backends[] = {"int3", "uprobe"};
	static struct wtarget res[2][2]; /* [backend][threads] */
	char ns_why[WNS_N][256], b1[128], b2[128];
	int ns_ok[WNS_N], any_ns = -1;
	double t0 = now_s(), load0 = loadavg1();

	memset(res, 0, sizeof(res));
	printf("8. window: the cost of one --callers window to the target, measured around a\n"
	       "   single `leakattach check -p PID --callers=always --callers-backend=B --json`\n"
	       "   (one sample, then one window) against `--callers=off` (the sample alone),\n"
	       "   interleaved, %u of each, on bench/churn --mib %s with 1 and 8 threads, a\n"
	       "   fresh target per backend and thread count. Target and tool run in sessions\n"
	       "   of their own (autogroup scheduling), the tool in a mount namespace of its\n"
	       "   own (unshare -m) with tracefs unmounted (where it can, leakattach then\n"
	       "   mounts a private one) or mounted. The span: from the tool's\n"
	       "   start to %.1f s after its exit, or on in %.2f s steps until the target is\n"
	       "   back (its ops per CPU second within %.0f %% of before, or within the noise\n"
	       "   of the windows so far; at most %.0f s). Lost = (rate x span - ops) / rate, in\n"
	       "   ms of the target's work, the rate the mean of %.1f s just before and %.1f s\n"
	       "   just after. Per CPU s: the ops missing at its ops per CPU second, plus the\n"
	       "   time its threads were stalled (neither running nor waiting for a CPU):\n"
	       "   less disturbed by other load, blind to the CPU the tool takes from it.\n"
	       "   Cost of a window = its loss - the median loss of the sample alone\n",
	       o->win_rounds, WIN_MIB, WIN_SETTLE_S, WIN_STEP_S,
	       100 * WIN_TOLERANCE, WIN_LIMIT_S, WIN_RATE_S, WIN_RATE_S);
	fflush(stdout);
	mon_dir_make();
	for (int ns = 0; ns < WNS_N; ns++) {
		ns_ok[ns] = !window_ns_probe(ns, ns_why[ns], sizeof(ns_why[ns]));
		if (ns_ok[ns] && any_ns < 0)
			any_ns = ns;
		if (!ns_ok[ns])
			printf("   %s: not measured: %s\n", wns[ns].name,
			       ns_why[ns]);
	}
	if (any_ns < 0) {
		printf("   nothing measured: no mount namespace could be made here\n\n");
		mon_dir_remove();
		return;
	}

	for (unsigned bi = 0; bi < 2; bi++)
		for (unsigned ti = 0; ti < 2; ti++) {
			const char *argv[] = {"churn", "--threads",
					      threads[ti], "--mib",
					      WIN_MIB, NULL};
			struct wtarget *x = &res[bi][ti];
			double off_med, off_cpu_med, off_stall_med;
			double t1 = now_s();
			static double v[MAX_ROUNDS];
			struct wquiet q = {.valid = 0};
			struct wtrial warm;
			struct target t;

			/* A fresh target: uprobes leave int3 refused. */
			targets_setsid = 1;
			target_start(&t, o, argv, 60);
			targets_setsid = 0;
			printf("   --- %s, %s thread%s: bench/churn PID %d, %llu chunks%s; loadavg %.2f\n",
			       backends[bi], threads[ti], ti ? "s" : "",
			       (int)t.pid, ready_field(&t, "chunks="),
			       has_uprobes_page(t.pid)
				       ? ", ALREADY PROBED by someone's uprobes"
				       : "",
			       loadavg1());
			fflush(stdout);
			/* untimed: the folder's layout, the first attach */
			window_trial(o, &t, any_ns, NULL, NULL, &warm);
			if (warm.error[0])
				die("`leakattach check -p %d --callers=off` failed: %s",
				    (int)t.pid, warm.error);
			for (unsigned r = 0; r < o->win_rounds; r++)
				for (unsigned k = 0; k < M_N; k++) {
					unsigned md = (k + r) % M_N;
					int ns = md == M_OFF ? (int)(r % 2)
					       : md == M_UNMOUNTED
						       ? WNS_UNMOUNTED
						       : WNS_MOUNTED;
					struct wtrial *w = &x->tr[md][x->n[md]];

					if (md == M_OFF && !ns_ok[ns])
						ns = any_ns;
					if (!ns_ok[ns] || x->why[md][0])
						continue;
					window_trial(o, &t, ns,
						     md == M_OFF ? NULL
								 : backends[bi],
						     &q, w);
					if (w->error[0])
						memcpy(x->why[md], w->error,
						       sizeof(x->why[md]));
					else
						x->n[md]++;
				}
			target_stop(&t);
			if (x->n[M_OFF]) {
				WFIELD(v, x->tr[M_OFF], x->n[M_OFF], loss_ms);
				off_med = median(v, x->n[M_OFF]);
				WFIELD(v, x->tr[M_OFF], x->n[M_OFF],
				       cpu_loss_ms);
				off_cpu_med = median(v, x->n[M_OFF]);
				WFIELD(v, x->tr[M_OFF], x->n[M_OFF], stall_ms);
				off_stall_med = median(v, x->n[M_OFF]);
				for (unsigned md = M_UNMOUNTED; md < M_N; md++)
					for (unsigned i = 0; i < x->n[md]; i++) {
						x->cost[md][i] =
							x->tr[md][i].loss_ms -
							off_med;
						x->cpu_cost[md][i] =
							x->tr[md][i]
								.cpu_loss_ms -
							off_cpu_med;
						x->stall_cost[md][i] =
							x->tr[md][i].stall_ms -
							off_stall_med;
					}
			}
			window_report(x, ns_ok, ns_why);
			printf("   this target took %.0f s\n", now_s() - t1);
			fflush(stdout);
		}

	printf("   summary: the cost of one window in ms of the target's work (median, min .. max),\n"
	       "   budget <= %.0f ms in every configuration\n",
	       WIN_BUDGET_MS);
	printf("   %-7s %-7s %-17s %-29s %-29s %s\n", "backend", "threads",
	       "namespace", "at ops/s", "per CPU s", "stalled");
	for (unsigned bi = 0; bi < 2; bi++)
		for (unsigned ti = 0; ti < 2; ti++)
			for (unsigned ns = 0; ns < WNS_N; ns++) {
				const struct wtarget *x = &res[bi][ti];
				unsigned md = ns + 1, k = x->n[md];
				char c1[160], c2[160];

				printf("   %-7s %-7s %-17s ", backends[bi],
				       threads[ti], wns[ns].name);
				if (!ns_ok[ns] || !k || !x->n[M_OFF]) {
					printf("not measured: %s\n",
					       !ns_ok[ns] ? ns_why[ns]
					       : !k	  ? x->why[md]
							  : x->why[M_OFF]);
					continue;
				}
				snprintf(c1, sizeof(c1), "%s %s",
					 spread(b1, sizeof(b1), 0, x->cost[md],
						k),
					 verdict(median(x->cost[md], k) <=
						 WIN_BUDGET_MS));
				snprintf(c2, sizeof(c2), "%s %s",
					 spread(b2, sizeof(b2), 0,
						x->cpu_cost[md], k),
					 verdict(median(x->cpu_cost[md], k) <=
						 WIN_BUDGET_MS));
				printf("%-29s %-29s %s\n", c1, c2,
				       spread(b1, sizeof(b1), 0,
					      x->stall_cost[md], k));
			}
	mon_dir_remove();
	printf("   loadavg %.2f at the start, %.2f at the end; this figure took %.0f s\n\n",
	       load0, loadavg1(), now_s() - t0);
	fflush(stdout);
}
