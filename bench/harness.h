/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.h - what the figures of bench/bench share (harness.c): the
 * options, the statistics that print a figure (median, "median (min ..
 * max)", met / NOT met), the bench targets (started with a pipe on stdin
 * and stdout, one readiness line, waited for by PID), leakattach run as a
 * child (a snapshot and its JSON, a monitor in a temporary log folder and
 * its history), and the target's throughput counters around a window.
 *
 * One file per figure (bench_pause.c, bench_stop.c, bench_tput.c,
 * bench_monitor.c, bench_monitor_rss.c, bench_callers.c, bench_window.c,
 * bench_python.c)
 * defines its bench_NAME(); bench.c parses the options and runs them in
 * that order.
 */
#ifndef LA_BENCH_HARNESS_H
#define LA_BENCH_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#define MAX_RUNS 101
#define MAX_ROUNDS 51
#define MAX_ARGS 32
#define MAX_SHAPES 8
#define MAX_MODEL 8192 /* snapshots kept for the throughput model */

struct opts {
	const char *tool; /* leakattach */
	char dir[PATH_MAX]; /* where bigheap, threads, storm are */
	unsigned runs; /* per figure */
	unsigned rounds; /* throughput rounds */
	unsigned win_rounds; /* window: trials of each kind */
	double window; /* seconds per throughput window */
	unsigned long long mib, chunks;
	unsigned long long free_every[MAX_SHAPES]; /* heap shapes measured */
	unsigned n_shapes;
	unsigned arenas; /* threads of the multi-arena shape (0: none) */
	unsigned storm_threads;
	unsigned long long churn_mib; /* the heap of the monitor figure */
	unsigned long long rss_mib; /* the heap of the monitor-rss figure */
	unsigned long long py_mib; /* the python figure's pymalloc heap */
	double rss_seconds, rss_interval;
	unsigned only;
	int hold;
	int verbose;
	char *tool_args[MAX_ARGS]; /* after snapshot -p PID --json */
	unsigned n_tool_args;
	char *wrap[MAX_ARGS]; /* a command put in front of the tool */
	unsigned n_wrap;
};

/* The figures, in the order bench.c runs them. */
void bench_pause(const struct opts *o); /* 1. pause and 2. peak RSS */
void bench_stop(const struct opts *o); /* 3. stop latency */
void bench_tput(const struct opts *o); /* 4. throughput under snapshots */
void bench_monitor(const struct opts *o); /* 5. under leakattach monitor */
void bench_monitor_rss(const struct opts *o); /* 6. the monitor's memory */
void bench_callers(const struct opts *o); /* 7. callers windows */
void bench_window(const struct opts *o); /* 8. one window, locally */
void bench_python(const struct opts *o); /* 9. the Python lens */
/* bench --python-child MODE PID: one walk in a fresh process */
int bench_python_child(int argc, char **argv);
/* The pause figures' temporary log folders (atexit). */
void pause_dirs_remove(void);

/* ---- small helpers ------------------------------------------------------ */

/* Print "bench: ..." on stderr and exit 2: the benchmark cannot run. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double now_s(void); /* CLOCK_MONOTONIC, seconds */
void sleep_until(double t); /* until now_s() is t */
double median(const double *v, unsigned n);
void min_max(const double *v, unsigned n, double *lo, double *hi);
const char *spread(char *buf, size_t len, int prec, const double *v,
		   unsigned n);
const char *verdict(int met);
void tmpdir_make(char *dir, size_t size);
void tmpdir_remove(char *dir);

/* ---- targets ------------------------------------------------------------ */

/* Start targets in a session of their own (harness.c says why). */
extern int targets_setsid;

struct target {
	pid_t pid;
	int in_fd, out_fd;
	char buf[512];
	size_t len;
	char ready[256];
};

int target_line(struct target *t, char *line, size_t size, double timeout_s);
void target_start(struct target *t, const struct opts *o,
		  const char *const argv[], double timeout_s);
void target_stop(struct target *t);
unsigned long long ready_field(const struct target *t, const char *key);

/* ---- running leakattach ------------------------------------------------- */

struct run {
	double pause_ms, stop_ms, walk_ms, wall_ms, cpu_ms;
	double bytes_read, maxrss_kib;
	unsigned attempts, settle_rounds, arenas;
	int consistent;
	int dwarf; /* the JSON's layout.source is "dwarf" */
};

int json_num(const char *js, const char *key, double *out);
void tool_run(const struct opts *o, pid_t pid, const char *extra,
	      const char *log_dir, const char *err_path, struct run *r);
void tool_snapshot(const struct opts *o, pid_t pid, const char *extra,
		   struct run *r);
void print_machine(const struct opts *o);
char *file_read_all(const char *path);

/* ---- the target's throughput (bench/storm, bench/churn) ----------------- */

void storm_count(struct target *t, double *ops, double *ns);
double machine_busy_s(void);
double process_cpu_s(pid_t pid);

struct win {
	double rate; /* target ops/s */
	double per_cpu; /* target ops per CPU second it got */
	double target_cores; /* CPU the target got */
	double other_cores; /* CPU the rest of the machine used */
	double secs; /* the window's length */
};

/* The counters at the start of a window. */
struct win_mark {
	double ops, ns, busy, tcpu;
};

void win_begin(struct target *t, struct win_mark *m);
struct win win_end(struct target *t, const struct win_mark *m, double tool_s);

/* ---- leakattach monitor ------------------------------------------------- */

extern char mon_dir[PATH_MAX]; /* the temporary log folder, if any */
void mon_dir_make(void);
void mon_dir_remove(void);
pid_t monitor_start(const struct opts *o, pid_t pid, double interval,
		    double duration, const char *const *extra);
void monitor_reap(pid_t child, struct rusage *ru);
double ru_cpu_s(const struct rusage *ru);

/* What the history of the target holds (DIR/targets/PID-START/history.jsonl). */
struct history {
	unsigned lines; /* samples written, complete lines */
	unsigned approx; /* "consistent":false among the lines read */
	unsigned n; /* pause_ms of the lines from `from` on */
	double pause[MAX_MODEL];
};

void history_read(pid_t pid, unsigned from, struct history *h);

/* What one monitor run's JSON (DIR/monitor.json) says about its windows. */
struct callers_json {
	double samples; /* samples_this_run */
	double windows, allocations, lost, window_ms, teardown_ms, release_ms;
	char backend[32];
	char error[256];
};

int callers_json_parse(const char *js, struct callers_json *cj);

#endif /* LA_BENCH_HARNESS_H */
