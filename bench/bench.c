/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.c - the benchmark of DESIGN.md §3 (`make bench`).
 *
 * Speed and memory are measured here, never asserted: the machines are
 * shared and noisy, so every figure is the MEDIAN of several runs (with
 * min .. max beside it) and is printed next to a baseline measured in the
 * same run, on the same target. Budgets are printed beside the figures
 * with "met" or "NOT met"; the exit status says only whether the benchmark
 * could run (0) or not (2).
 *
 *   pause   the pause of `leakattach snapshot -p PID --json` against a bare
 *           process_vm_readv of the same heap mappings in 1 MiB pieces
 *           (the target's [heap] and its thread heaps), interleaved run by
 *           run, on four shapes of heap: bench/bigheap's 1 GiB in about
 *           5 M chunks, packed (every chunk in use) and fragmented (1 chunk
 *           in 16 free, in the bins), the fragmented one again built by 8
 *           threads in arenas of their own (multi-arena: 9 arenas, 25
 *           heaps), and a busy one (bench/churn: 4 threads doing
 *           malloc/free over 100 MiB). Then leakattach's peak RSS
 *           (ru_maxrss from wait4) on those heaps and on a tiny one
 *           (bench/threads 1 idle). Each for a first run and for later
 *           runs, and the RSS with --no-debuginfo too. A first run gets a
 *           fresh, empty log folder (LEAKATTACH_LOG_DIR, removed after), so
 *           the layout comes from the libc's debug info, as on the first
 *           run for a libc; it is counted as such when the JSON's layout
 *           source is "dwarf" and the folder then holds the layout, which
 *           the tool keeps only when DWARF gave it; `leakattach -vv` names
 *           the debug file. Later runs share one log folder, its layout
 *           cache filled by a warm-up run. About 45 s.
 *   stop    stop latency (stop_ms) for 4 and 100 threads, idle (blocked in
 *           a futex) and spinning (always runnable) (bench/threads).
 *   tput    an allocation-heavy target (bench/storm: 4 threads doing
 *           malloc/free of mixed small sizes, counting operations): its
 *           ops/s alone, with a snapshot every 1 s and every 10 s, in
 *           rounds that interleave the three; the slowdown per round
 *           against the "alone" window of the same round, extrapolated to
 *           one snapshot per 60 s. Other processes take CPU from the target
 *           unevenly, so each window also reports the cores the target and
 *           everyone else used (/proc), the target's ops per CPU second,
 *           and a model that other load does not disturb: time stopped
 *           plus the tool's CPU time over the cores, per interval.
 *   monitor the same measure under `leakattach monitor --interval 1` and
 *           `--interval 10` (one long-running tool, its leak tracker and
 *           its log folder included), on bench/churn: storm's mix over a
 *           100 MiB heap. Rounds interleave alone / 1 s / 10 s; each
 *           monitored window begins I/2 after the monitor's first sample,
 *           so it holds window / I samples and not the tool's start.
 *           Extrapolated to --interval 60 as above.
 *   monitor-rss  leakattach's own VmRSS and VmHWM (/proc/PID/status, read
 *           every second) over a 60 s `monitor --interval 0.1` of a
 *           128 MiB bench/bigheap: the peak, and whether it grows (the
 *           first against the last 10 s, and a least-squares slope).
 *   callers the cost of one --callers sampling window (issue 5), per
 *           backend: bench/churn as for monitor, in rounds that interleave
 *           the target alone, `monitor --interval 1 --duration W
 *           --callers=off` and the same with --callers=always (a window
 *           after every sample) and --callers-backend; the target's ops are counted around the
 *           whole monitor run, so a window's setup and teardown (closing
 *           the perf uprobe events, about 80 ms each on Linux 6.18,
 *           serialised) are in. Windows, window_ms and teardown_ms come
 *           from the JSON's callers_sampling. Per window: the ops lost
 *           beyond the samples' own loss, extrapolated to --interval 60
 *           with a window after every sample. Each backend is selected
 *           with --callers-backend (uprobe, int3).
 *   window  the same cost measured locally in time (issue 10: a window
 *           costs the target <= 50 ms of its work, in every configuration),
 *           where the callers figure's 10 s runs are too noisy for it:
 *           around one `leakattach check -p PID --callers=always
 *           --callers-backend=B --json` (one sample, then one window)
 *           against `--callers=off`, interleaved, 7 of each, on
 *           bench/churn --mib 16 with 1 and 8 threads, a fresh target per
 *           backend and thread count (a process that uprobes probed
 *           refuses int3). The tool runs under `unshare -m` with tracefs
 *           unmounted or mounted in its namespace. The target's work lost
 *           from the tool's start to 0.3 s after its exit (longer while its
 *           rate is not back: a teardown that outlives the tool), at the
 *           mean of its rates over 0.5 s just before and just after; a
 *           window's cost is the loss with it less the median loss of the
 *           sample alone. Beside it, less disturbed by other load: the ops
 *           missing at its ops per CPU second, plus the time its threads
 *           were stalled (/proc/PID/task/TID/schedstat).
 *
 * The pause and monitor figures give the tool temporary log folders
 * (removed at exit) and LEAKATTACH_CONFIG= (empty), so that no
 * configuration is read and no state left on the machine counts; the
 * monitor figures count samples in the folder's history.jsonl. (The stop
 * and throughput figures use the tool's default log folder.)
 *
 * Every snapshot runs the real tool as a child, so its cost includes the
 * start of the process and the layout lookup (debug info on a first run,
 * the layout cache after), as a cron job calling `leakattach snapshot`
 * would pay it.
 *
 * Targets are started with a pipe on stdin and stdout, print one readiness
 * line, die with us (PR_SET_PDEATHSIG) and end when their stdin closes.
 * Children are waited for by PID only.
 *
 * For ru_maxrss to be the tool's own, run the real binary, not libtool's
 * wrapper script (a shell whose RSS would count too): `make bench` runs
 * this program under `libtool --mode=execute`, which does that.
 *
 * To profile the tool: `bench --hold --free-every 16` builds the heap and
 * waits with its PID printed; `--wrap 'perf stat -d'` runs each snapshot
 * under a command; `--only pause` repeats the pause and RSS part alone
 * (and `--only monitor`, `--only monitor-rss` the monitor figures,
 * `--only callers` the sampling windows, `--only window` one window).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 101
#define MAX_ROUNDS 51
#define MAX_ARGS 32
#define MAX_SHAPES 8
#define MAX_MODEL 8192 /* snapshots kept for the throughput model */
#define HEAP_MAX_SIZE (64ull << 20) /* glibc's thread heaps are aligned so */
#define PIECE (1u << 20) /* what leakattach reads per call too */

enum {
	ONLY_PAUSE = 1,
	ONLY_STOP = 2,
	ONLY_TPUT = 4,
	ONLY_MONITOR = 8,
	ONLY_MONITOR_RSS = 16,
	ONLY_CALLERS = 32,
	ONLY_WINDOW = 64,
};

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
	double rss_seconds, rss_interval;
	unsigned only;
	int hold;
	int verbose;
	char *tool_args[MAX_ARGS]; /* after snapshot -p PID --json */
	unsigned n_tool_args;
	char *wrap[MAX_ARGS]; /* a command put in front of the tool */
	unsigned n_wrap;
};

/* ---- small helpers ------------------------------------------------------ */

static void
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *v, unsigned n)
{
	static double s[MAX_MODEL];

	if (!n || n > MAX_MODEL)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void
min_max(const double *v, unsigned n, double *lo, double *hi)
{
	*lo = *hi = n ? v[0] : 0;
	for (unsigned i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

/* "median  (min .. max)" of n values, with prec decimals. */
static const char *
spread(char *buf, size_t len, int prec, const double *v, unsigned n)
{
	double lo, hi;

	min_max(v, n, &lo, &hi);
	snprintf(buf, len, "%.*f  (%.*f .. %.*f)", prec, median(v, n), prec, lo,
		 prec, hi);
	return buf;
}

static const char *
verdict(int met)
{
	return met ? "met" : "NOT met";
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A temporary folder of ours, $TMPDIR/leakattach-bench-XXXXXX, into dir. */
static void
tmpdir_make(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/leakattach-bench-XXXXXX",
		 tmp && *tmp == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		int e = errno;

		dir[0] = '\0';
		die("mkdtemp: %s", strerror(e));
	}
}

/* Remove it with all it holds (nothing when dir is ""). */
static void
tmpdir_remove(char *dir)
{
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

/* ---- targets ------------------------------------------------------------ */

/*
 * Start targets in a session of their own (setsid): with autogroup
 * scheduling (CONFIG_SCHED_AUTOGROUP, on in most distributions) each
 * session gets an equal share of the CPUs, and a target in our session
 * would pay for every tool we start beside it, as a service does not pay
 * for a command run from a shell or cron.
 */
static int targets_setsid;

struct target {
	pid_t pid;
	int in_fd, out_fd;
	char buf[512];
	size_t len;
	char ready[256];
};

/* One line from the target, without its newline; -1 on EOF or timeout. */
static int
target_line(struct target *t, char *line, size_t size, double timeout_s)
{
	double deadline = now_s() + timeout_s;

	for (;;) {
		char *nl = memchr(t->buf, '\n', t->len);
		struct pollfd pfd = {t->out_fd, POLLIN, 0};
		double left;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - t->buf);

			snprintf(line, size, "%.*s", (int)l, t->buf);
			t->len -= l + 1;
			memmove(t->buf, nl + 1, t->len);
			return 0;
		}
		if (t->len == sizeof(t->buf))
			t->len = 0; /* an overlong line: drop it */
		left = deadline - now_s();
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!pfd.revents)
			continue;
		n = read(t->out_fd, t->buf + t->len, sizeof(t->buf) - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		t->len += (size_t)n;
	}
}

static void
target_start(struct target *t, const struct opts *o, const char *const argv[],
	     double timeout_s)
{
	int in[2], out[2];
	char path[PATH_MAX + 64];

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/%s", o->dir, argv[0]);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	t->pid = fork();
	if (t->pid < 0)
		die("fork: %s", strerror(errno));
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (targets_setsid)
			setsid();
		execv(path, (char *const *)argv);
		fprintf(stderr, "bench: cannot run %s: %s\n", path,
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in_fd = in[1];
	t->out_fd = out[0];
	if (target_line(t, t->ready, sizeof(t->ready), timeout_s) ||
	    strncmp(t->ready, "ready", 5))
		die("%s did not get ready (build the bench targets: make bench)",
		    path);
}

/* Close its stdin (it exits), wait for it by PID; SIGKILL if it hangs. */
static void
target_stop(struct target *t)
{
	double deadline = now_s() + 10;
	int st;

	if (t->pid <= 0)
		return;
	close(t->in_fd);
	close(t->out_fd);
	while (waitpid(t->pid, &st, WNOHANG) == 0) {
		if (now_s() > deadline) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			break;
		}
		usleep(1000); /* bounded wait for an exit, not a handshake */
	}
	t->pid = 0;
}

static unsigned long long
ready_field(const struct target *t, const char *key)
{
	const char *p = strstr(t->ready, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* ---- running leakattach ------------------------------------------------- */

struct run {
	double pause_ms, stop_ms, walk_ms, wall_ms, cpu_ms;
	double bytes_read, maxrss_kib;
	unsigned attempts, settle_rounds, arenas;
	int consistent;
	int dwarf; /* the JSON's layout.source is "dwarf" */
};

static int
json_num(const char *js, const char *key, double *out)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(js, pat);
	if (!p)
		return -1;
	*out = strtod(p + strlen(pat), NULL);
	return 0;
}

/*
 * `[WRAP...] leakattach snapshot -p PID --json [ARGS...] [EXTRA]`: parse its JSON,
 * its rusage from wait4. Dies when the tool fails: a benchmark of a
 * failing tool means nothing. With log_dir, the tool gets it as
 * LEAKATTACH_LOG_DIR (its layout cache is log_dir/layouts) and
 * LEAKATTACH_CONFIG= (no configuration file read); without, the tool's
 * default folder. With err_path, its stderr goes there.
 */
static void
tool_run(const struct opts *o, pid_t pid, const char *extra,
	 const char *log_dir, const char *err_path, struct run *r)
{
	const char *argv[2 * MAX_ARGS + 8];
	char pidstr[24], *js = NULL;
	const char *lay, *src;
	size_t len = 0, cap = 0;
	unsigned n = 0;
	struct rusage ru;
	int out[2], st;
	double t0, v;
	pid_t child;

	for (unsigned i = 0; i < o->n_wrap; i++)
		argv[n++] = o->wrap[i];
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	argv[n++] = o->tool;
	argv[n++] = "snapshot";
	argv[n++] = "-p";
	argv[n++] = pidstr;
	argv[n++] = "--json";
	for (unsigned i = 0; i < o->n_tool_args; i++)
		argv[n++] = o->tool_args[i];
	if (extra)
		argv[n++] = extra;
	argv[n] = NULL;

	if (pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	t0 = now_s();
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		dup2(out[1], 1);
		if (err_path) {
			int fd = open(err_path,
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				      0600);

			if (fd < 0 || dup2(fd, 2) < 0)
				_exit(127);
		}
		if (log_dir) {
			setenv("LEAKATTACH_LOG_DIR", log_dir, 1);
			setenv("LEAKATTACH_CONFIG", "", 1);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "bench: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		ssize_t k;

		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			js = realloc(js, cap);
			if (!js)
				die("out of memory");
		}
		k = read(out[0], js + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(out[0]);
	js[len] = '\0';
	while (wait4(child, &st, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	memset(r, 0, sizeof(*r));
	r->wall_ms = (now_s() - t0) * 1e3;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    json_num(js, "pause_ms", &r->pause_ms) ||
	    json_num(js, "stop_ms", &r->stop_ms) ||
	    json_num(js, "walk_ms", &r->walk_ms) ||
	    json_num(js, "bytes_read", &r->bytes_read))
		die("`%s snapshot -p %d --json` failed (status %#x): %.300s",
		    o->tool, (int)pid, st, js);
	if (!json_num(js, "attempts", &v))
		r->attempts = (unsigned)v;
	if (!json_num(js, "settle_rounds", &v)) /* newer tools only */
		r->settle_rounds = (unsigned)v;
	if (!json_num(js, "arenas", &v))
		r->arenas = (unsigned)v;
	lay = strstr(js, "\"layout\":{");
	src = lay ? strstr(lay, "\"source\":") : NULL;
	r->dwarf = src && !strncmp(src, "\"source\":\"dwarf\"", 16);
	r->consistent =
		strstr(js, "\"consistent\":true") != NULL &&
		strstr(js, "\"consistent\":true") < strstr(js, "\"layout\"");
	r->maxrss_kib = (double)ru.ru_maxrss;
	r->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	if (o->verbose)
		fprintf(stderr,
			"  snapshot: pause %.3f ms, stop %.3f ms, walk %.3f ms, read %.1f MiB, %u attempt(s)%s, maxrss %.0f KiB, cpu %.1f ms, wall %.1f ms\n",
			r->pause_ms, r->stop_ms, r->walk_ms,
			r->bytes_read / 1048576, r->attempts,
			r->consistent ? "" : " (approximate)", r->maxrss_kib,
			r->cpu_ms, r->wall_ms);
	free(js);
}

/* The same in the tool's default log folder, as a user would run it. */
static void
tool_snapshot(const struct opts *o, pid_t pid, const char *extra, struct run *r)
{
	tool_run(o, pid, extra, NULL, NULL, r);
}

/* ---- the machine -------------------------------------------------------- */

static void
print_machine(const struct opts *o)
{
	char line[512], cpu[256] = "unknown", mem[64] = "?", load[64] = "?";
	struct utsname u;
	FILE *f;

	f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(cpu, sizeof(cpu), "%s", c + 2);
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long kib;

		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			snprintf(mem, sizeof(mem), "%.1f GiB",
				 (double)kib / 1048576);
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/loadavg", "re");
	if (f && fgets(load, sizeof(load), f))
		load[strcspn(load, "\n")] = '\0';
	if (f)
		fclose(f);
	uname(&u);
	printf("leakattach benchmark: medians of %u runs (min .. max after each median)\n",
	       o->runs);
	printf("  %-10s %s\n", "cpu", cpu);
	printf("  %-10s %ld online\n", "cores", sysconf(_SC_NPROCESSORS_ONLN));
	printf("  %-10s %s\n", "memory", mem);
	printf("  %-10s %s %s %s\n", "kernel", u.sysname, u.release, u.machine);
	printf("  %-10s %s\n", "glibc", gnu_get_libc_version());
	printf("  %-10s %s\n", "loadavg", load);
	printf("  %-10s %s", "tool", o->tool);
	for (unsigned i = 0; i < o->n_tool_args; i++)
		printf(" %s", o->tool_args[i]);
	printf("\n\n");
}

/* ---- 1. pause and peak RSS ---------------------------------------------- */

struct range {
	uint64_t start, end;
};

/*
 * The heap mappings: [heap] (the main arena) and the read-write anonymous
 * mappings that start on a HEAP_MAX_SIZE boundary (thread heaps).
 */
static unsigned
heap_ranges(pid_t pid, struct range *r, unsigned max)
{
	char path[64], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, off, inode;
		char perms[8], dev[16], name[256] = "";

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %255s", &s, &e,
			   perms, &off, dev, &inode, name) < 6)
			continue;
		if (!strcmp(name, "[heap]") ||
		    (!name[0] && !inode && !strncmp(perms, "rw", 2) &&
		     !(s & (HEAP_MAX_SIZE - 1))))
			r[n++] = (struct range){s, e};
	}
	fclose(f);
	return n;
}

/* The baseline: process_vm_readv of every range, 1 MiB per call. */
static double
read_ranges_ms(pid_t pid, const struct range *r, unsigned n, void *buf,
	       uint64_t *bytes)
{
	double t0 = now_s();

	*bytes = 0;
	for (unsigned i = 0; i < n; i++)
		for (uint64_t a = r[i].start; a < r[i].end;) {
			size_t want =
				r[i].end - a < PIECE ? r[i].end - a : PIECE;
			struct iovec l = {buf, want};
			struct iovec rem = {(void *)(uintptr_t)a, want};
			ssize_t got = process_vm_readv(pid, &l, 1, &rem, 1, 0);

			/*
			 * EFAULT: a busy target's mapping shrank since its
			 * maps were read (malloc.c heap_trim, systrim).
			 */
			if (got < 0 && errno == EFAULT)
				break;
			if (got <= 0)
				die("process_vm_readv(%d, %#llx): %s", (int)pid,
				    (unsigned long long)a, strerror(errno));
			a += (uint64_t)got;
			*bytes += (uint64_t)got;
		}
	return (now_s() - t0) * 1e3;
}

static int
has_tool_arg(const struct opts *o, const char *arg)
{
	for (unsigned i = 0; i < o->n_tool_args; i++)
		if (!strcmp(o->tool_args[i], arg))
			return 1;
	return 0;
}

static void
hold(const struct opts *o, struct target *t)
{
	char buf[64];

	printf("holding the target: PID %d. Profile the tool by hand, e.g.\n"
	       "  perf record -e cpu-clock --call-graph dwarf -o perf.data -- %s snapshot -p %d --json >/dev/null\n"
	       "  strace -c %s snapshot -p %d --json >/dev/null\n"
	       "then press Enter (or end stdin) to end it.\n",
	       (int)t->pid, o->tool, (int)t->pid, o->tool, (int)t->pid);
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) && buf[0] != '\n')
		;
}

/*
 * The shapes of heap measured: bench/bigheap packed and fragmented
 * (--free-every), the last of those spread over thread arenas (--arenas),
 * a busy heap (bench/churn, its threads doing malloc/free all the time)
 * and, for the tool's memory alone, a tiny one (bench/threads 1 idle).
 */
enum { RUN_FIRST, RUN_LATER, RUN_NODEBUG, RUN_KINDS };

static const char *const run_label[RUN_KINDS] = {
	"first run (empty log folder: layout from debug info)",
	"later runs (layout cached)",
	"--no-debuginfo (layout from signatures)",
};

struct heap_result {
	unsigned long long
		every; /* bigheap: every K-th chunk freed (0: none) */
	unsigned threads; /* bigheap: builder threads (0: the main arena) */
	int busy; /* bench/churn */
	int tiny; /* bench/threads 1 idle: the tool's memory only */
	unsigned long long chunks, bytes, freed;
	double heap_mib;
	unsigned nranges, arenas, approx, attempts;
	unsigned not_dwarf; /* first runs whose layout was not from DWARF */
	unsigned not_kept; /* first runs that kept no layout in their folder */
	double base[MAX_RUNS], stop[MAX_RUNS], walk[MAX_RUNS],
		readmib[MAX_RUNS];
	/* [RUN_FIRST] and [RUN_LATER] */
	double pause[2][MAX_RUNS], ratio[2][MAX_RUNS], cpu[2][MAX_RUNS],
		wall[2][MAX_RUNS];
	double rss[RUN_KINDS][MAX_RUNS];
};

#define MAX_RANGES 256

/*
 * The log folders of the pause figures, so that no state of the machine
 * counts: one for the later runs (its layout cache filled by a warm-up
 * run), a fresh, empty one per first run.
 */
static char later_dir[PATH_MAX], first_dir[PATH_MAX];

static void
pause_dirs_remove(void)
{
	tmpdir_remove(first_dir);
	tmpdir_remove(later_dir);
}

/*
 * Does DIR/layouts hold a layout? The tool keeps one there only when it
 * learned it from DWARF (session.c: layout_cache_save after
 * malloc_layout_from_dwarf), so on a first run this says the debug info
 * was read, not merely found.
 */
static int
layout_kept(const char *dir)
{
	char path[PATH_MAX + 16];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/layouts", dir);
	d = opendir(path);
	while (d && !found && (e = readdir(d)))
		found = !strncmp(e->d_name, "layout-", 7);
	if (d)
		closedir(d);
	return found;
}

/*
 * A first run: a fresh, empty log folder, so the layout comes from the
 * libc's debug info (libdwarf) as on the first run for a libc; the folder
 * is removed after.
 */
static void
first_run(const struct opts *o, pid_t pid, struct heap_result *h, struct run *r)
{
	tmpdir_make(first_dir, sizeof(first_dir));
	tool_run(o, pid, NULL, first_dir, NULL, r);
	h->not_dwarf += !r->dwarf;
	h->not_kept += !layout_kept(first_dir);
	tmpdir_remove(first_dir);
}

/* The rest of the first line of PATH holding NEEDLE, into out; -1: none. */
static int
log_find(const char *path, const char *needle, char *out, size_t size)
{
	char line[2048];
	int found = -1;
	FILE *f = fopen(path, "re");

	while (f && found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p) {
			p += strlen(needle);
			p[strcspn(p, "\n")] = '\0';
			snprintf(out, size, "%s", p);
			found = 0;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * Where the layout comes from on a first and on a later run, in the
 * tool's own words (-vv: "layout: from DWARF in FILE (...)", "layout
 * cache: using FILE"; session.c, layout_cache.c), so that the figures
 * below say what they measured.
 */
static void
layout_probe(const struct opts *o, pid_t pid, char *first, char *later,
	     size_t size)
{
	char err[PATH_MAX + 16], buf[PATH_MAX + 64], *p;
	struct run r;

	tmpdir_make(first_dir, sizeof(first_dir));
	snprintf(err, sizeof(err), "%s/stderr", first_dir);
	tool_run(o, pid, "-vv", first_dir, err, &r);
	if (!log_find(err, "layout: from DWARF in ", buf, sizeof(buf))) {
		p = strstr(buf, ": main_arena");
		if (p)
			*p = '\0';
		/* the target's root as the tool sees it: /proc/PID/root */
		p = buf;
		if (!strncmp(p, "/proc/", 6) && strstr(p, "/root/"))
			p = strstr(p, "/root/") + 5;
		snprintf(first, size, "from debug info: DWARF in %s", p);
	} else if (r.dwarf && layout_kept(first_dir)) {
		snprintf(
			first, size,
			"from debug info (leakattach -vv did not say which file)");
	} else {
		snprintf(
			first, size,
			"NOT from debug info (install the libc's debug package, e.g. libc6-dbg): the figures below are not those of a first run with debug info");
	}
	tool_run(o, pid, "-vv", first_dir, err, &r);
	if (!log_find(err, "layout cache: using ", buf, sizeof(buf))) {
		p = strrchr(buf, '/');
		snprintf(later, size, "from the layout cache (layouts/%s)",
			 p ? p + 1 : buf);
	} else {
		snprintf(
			later, size,
			"NOT from the layout cache (leakattach -vv did not say it used one)");
	}
	tmpdir_remove(first_dir);
}

static const char *
shape_label(const struct opts *o, const struct heap_result *h, char *buf,
	    size_t size)
{
	char freed[64];

	if (h->every)
		snprintf(freed, sizeof(freed), "1 in %llu chunks free",
			 h->every);
	else
		snprintf(freed, sizeof(freed), "every chunk in use");
	if (h->tiny)
		snprintf(buf, size,
			 "tiny: 1 idle thread (bench/threads 1 idle)");
	else if (h->busy)
		snprintf(
			buf, size,
			"busy: %.0f MiB, %u threads doing malloc/free (bench/churn), %u arenas",
			(double)o->churn_mib, o->storm_threads, h->arenas);
	else if (h->threads)
		snprintf(buf, size,
			 "multi-arena: %.0f MiB, %u threads, %u arenas, %s",
			 (double)h->bytes / 1048576, h->threads, h->arenas,
			 freed);
	else
		snprintf(buf, size, "%s: %.0f MiB, %s",
			 h->every ? "fragmented" : "packed",
			 (double)h->bytes / 1048576, freed);
	return buf;
}

static void
measure_heap(const struct opts *o, struct heap_result *h, int nodebug_col)
{
	char mib[32], chunks[32], every[32], threads[16], cmd[256] = "";
	const char *argv[12];
	static struct range ranges[MAX_RANGES];
	unsigned na = 0;
	struct target t;
	struct run r;
	uint64_t bytes;
	double t0;
	void *rbuf;

	if (h->busy) {
		snprintf(threads, sizeof(threads), "%u", o->storm_threads);
		snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
		argv[na++] = "churn";
		argv[na++] = "--threads";
		argv[na++] = threads;
		argv[na++] = "--mib";
		argv[na++] = mib;
	} else {
		snprintf(mib, sizeof(mib), "%llu", o->mib);
		snprintf(chunks, sizeof(chunks), "%llu", o->chunks);
		snprintf(every, sizeof(every), "%llu", h->every);
		snprintf(threads, sizeof(threads), "%u", h->threads);
		argv[na++] = "bigheap";
		argv[na++] = "--mib";
		argv[na++] = mib;
		argv[na++] = "--chunks";
		argv[na++] = chunks;
		argv[na++] = "--free-every";
		argv[na++] = every;
		if (h->threads) {
			argv[na++] = "--threads";
			argv[na++] = threads;
		}
	}
	argv[na] = NULL;
	for (unsigned i = 0; i < na; i++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s",
			 i ? " " : "bench/", argv[i]);
	t0 = now_s();
	target_start(&t, o, argv, 600);
	h->chunks = ready_field(&t, "chunks=");
	h->bytes = ready_field(&t, "bytes=");
	h->freed = ready_field(&t, "freed=");
	printf("   heap built: %.1f MiB in %llu chunks, %llu of them free, in %.1f s (%s, PID %d)\n",
	       (double)h->bytes / 1048576, h->chunks, h->freed, now_s() - t0,
	       cmd, (int)t.pid);
	fflush(stdout);
	h->nranges = heap_ranges(t.pid, ranges, MAX_RANGES);
	for (unsigned i = 0; i < h->nranges; i++)
		h->heap_mib +=
			(double)(ranges[i].end - ranges[i].start) / 1048576;
	if (o->hold) {
		hold(o, &t);
		target_stop(&t);
		return;
	}
	rbuf = malloc(PIECE);
	if (!rbuf)
		die("out of memory");
	/*
	 * A warm-up of each, not counted: page tables, caches, debug files;
	 * it fills the later runs' layout cache too.
	 */
	read_ranges_ms(t.pid, ranges, h->nranges, rbuf, &bytes);
	tool_run(o, t.pid, NULL, later_dir, NULL, &r);
	for (unsigned i = 0; i < o->runs; i++) {
		struct run rf, rl;

		/* a busy heap's mappings change: read them each time */
		if (h->busy)
			h->nranges = heap_ranges(t.pid, ranges, MAX_RANGES);
		/* alternate the order: neither kind of run always goes first */
		if (i % 2)
			tool_run(o, t.pid, NULL, later_dir, NULL, &rl);
		else
			first_run(o, t.pid, h, &rf);
		h->base[i] =
			read_ranges_ms(t.pid, ranges, h->nranges, rbuf, &bytes);
		if (i % 2)
			first_run(o, t.pid, h, &rf);
		else
			tool_run(o, t.pid, NULL, later_dir, NULL, &rl);
		h->pause[RUN_LATER][i] = rl.pause_ms;
		h->pause[RUN_FIRST][i] = rf.pause_ms;
		h->ratio[RUN_LATER][i] = rl.pause_ms / h->base[i];
		h->ratio[RUN_FIRST][i] = rf.pause_ms / h->base[i];
		h->cpu[RUN_LATER][i] = rl.cpu_ms;
		h->cpu[RUN_FIRST][i] = rf.cpu_ms;
		h->wall[RUN_LATER][i] = rl.wall_ms;
		h->wall[RUN_FIRST][i] = rf.wall_ms;
		h->rss[RUN_LATER][i] = rl.maxrss_kib / 1024;
		h->rss[RUN_FIRST][i] = rf.maxrss_kib / 1024;
		h->stop[i] = rl.stop_ms;
		h->walk[i] = rl.walk_ms;
		h->readmib[i] = rl.bytes_read / 1048576;
		h->arenas = rl.arenas;
		h->approx += !rl.consistent + !rf.consistent;
		h->attempts += rl.attempts + rf.attempts;
		if (o->verbose)
			fprintf(stderr,
				"  run %u: read %.2f ms, pause %.2f ms (first run %.2f ms), ratio %.2f\n",
				i + 1, h->base[i], rl.pause_ms, rf.pause_ms,
				h->ratio[RUN_LATER][i]);
	}
	free(rbuf);
	for (unsigned i = 0; nodebug_col && i < o->runs; i++) {
		tool_run(o, t.pid, "--no-debuginfo", later_dir, NULL, &r);
		h->rss[RUN_NODEBUG][i] = r.maxrss_kib / 1024;
	}
	target_stop(&t);
}

static void
print_heap(const struct opts *o, const struct heap_result *h)
{
	char buf[128], what[160];
	static const char *const kind[2] = {"first run", "later runs"};

	printf("   -- %s\n", shape_label(o, h, what, sizeof(what)));
	printf("   %-38s %s ms   (%.1f MiB in %u mapping(s), 1 MiB per call)\n",
	       "baseline: process_vm_readv of the heap",
	       spread(buf, sizeof(buf), 1, h->base, o->runs), h->heap_mib,
	       h->nranges);
	for (int k = RUN_LATER; k >= RUN_FIRST; k--) {
		char label[64];

		snprintf(label, sizeof(label), "leakattach pause, %s", kind[k]);
		printf("   %-38s %s ms\n", label,
		       spread(buf, sizeof(buf), 1, h->pause[k], o->runs));
		if (k == RUN_LATER) {
			printf("   %-38s %s ms\n", "  of which stop",
			       spread(buf, sizeof(buf), 2, h->stop, o->runs));
			printf("   %-38s %s ms\n", "  of which read + walk",
			       spread(buf, sizeof(buf), 1, h->walk, o->runs));
			printf("   %-38s %s MiB\n", "  target memory read",
			       spread(buf, sizeof(buf), 1, h->readmib,
				      o->runs));
		}
		printf("   %-38s %s ms\n", "  tool CPU per run (user+sys)",
		       spread(buf, sizeof(buf), 0, h->cpu[k], o->runs));
		printf("   %-38s %s ms\n", "  tool wall time per run",
		       spread(buf, sizeof(buf), 0, h->wall[k], o->runs));
	}
	printf("   %-38s %u of %u, %u stop(s) in all\n",
	       "approximate snapshots (both kinds)", h->approx, 2 * o->runs,
	       h->attempts);
	for (int k = RUN_LATER; k >= RUN_FIRST; k--) {
		char label[64];

		snprintf(label, sizeof(label), "RATIO pause / read, %s",
			 kind[k]);
		printf("   %-38s %s      budget <= 1.3: %s\n", label,
		       spread(buf, sizeof(buf), 2, h->ratio[k], o->runs),
		       verdict(median(h->ratio[k], o->runs) <= 1.3));
	}
}

static void
print_rss(const struct opts *o, const struct heap_result *h, int nodebug_col)
{
	char buf[128], what[160];

	printf("   -- %s\n", shape_label(o, h, what, sizeof(what)));
	for (int k = 0; k < RUN_KINDS; k++) {
		if (k == RUN_NODEBUG && !nodebug_col)
			continue;
		printf("   %-52s %-20s budget <= 8 MiB: %s\n", run_label[k],
		       spread(buf, sizeof(buf), 1, h->rss[k], o->runs),
		       verdict(median(h->rss[k], o->runs) <= 8));
	}
	if (h->not_dwarf || h->not_kept)
		printf("   !! %u of %u first runs did NOT take the layout from debug info (%u kept none)\n",
		       h->not_dwarf, o->runs, h->not_kept);
}

static void
bench_pause(const struct opts *o)
{
	static struct heap_result heaps[MAX_SHAPES + 3];
	const char *tiny_argv[] = {"threads", "1", "idle", NULL};
	int nodebug_col = !has_tool_arg(o, "--no-debuginfo");
	char first_how[PATH_MAX + 128], later_how[PATH_MAX + 128], what[160];
	double t0 = now_s(), worst_rss = 0, worst_ratio[2] = {0, 0};
	unsigned n = 0, worst_rss_at = 0, worst_ratio_at[2] = {0, 0};
	unsigned not_dwarf = 0;
	struct heap_result *tiny;
	struct target t;
	struct run r;

	for (unsigned s = 0; s < o->n_shapes; s++)
		heaps[n++] = (struct heap_result){.every = o->free_every[s]};
	if (o->arenas)
		heaps[n++] = (struct heap_result){
			.every = o->free_every[o->n_shapes - 1],
			.threads = o->arenas};
	heaps[n++] = (struct heap_result){.busy = 1};
	tmpdir_make(later_dir, sizeof(later_dir));

	printf("1. pause per snapshot against a bare process_vm_readv of the same heap mappings\n"
	       "   (same target, runs interleaved) on bench/bigheap, %llu MiB in about %llu\n"
	       "   chunks (--free-every%s), and on a busy bench/churn.\n"
	       "   First run: a fresh, empty log folder each (layout from debug info); later\n"
	       "   runs: one folder (layout cached)\n",
	       o->mib, o->chunks, o->arenas ? ", then in thread arenas" : "");
	fflush(stdout);
	for (unsigned s = 0; s < n; s++) {
		measure_heap(o, &heaps[s], nodebug_col);
		if (o->hold) {
			pause_dirs_remove();
			return;
		}
		print_heap(o, &heaps[s]);
		for (int k = RUN_FIRST; k <= RUN_LATER; k++)
			if (median(heaps[s].ratio[k], o->runs) >
			    worst_ratio[k]) {
				worst_ratio[k] =
					median(heaps[s].ratio[k], o->runs);
				worst_ratio_at[k] = s;
			}
		fflush(stdout);
	}
	for (int k = RUN_LATER; k >= RUN_FIRST; k--)
		printf("   %-38s %.2f (%s)   budget <= 1.3: %s\n",
		       k == RUN_LATER ? "WORST RATIO, later runs"
				      : "WORST RATIO, first run",
		       worst_ratio[k],
		       shape_label(o, &heaps[worst_ratio_at[k]], what,
				   sizeof(what)),
		       verdict(worst_ratio[k] <= 1.3));

	/* The same tool on a tiny heap: its memory without a big walk. */
	tiny = &heaps[n++];
	*tiny = (struct heap_result){.tiny = 1};
	target_start(&t, o, tiny_argv, 30);
	layout_probe(o, t.pid, first_how, later_how, sizeof(first_how));
	tool_run(o, t.pid, NULL, later_dir, NULL, &r); /* warm-up */
	for (unsigned i = 0; i < o->runs; i++) {
		first_run(o, t.pid, tiny, &r);
		tiny->rss[RUN_FIRST][i] = r.maxrss_kib / 1024;
		tool_run(o, t.pid, NULL, later_dir, NULL, &r);
		tiny->rss[RUN_LATER][i] = r.maxrss_kib / 1024;
		if (nodebug_col) {
			tool_run(o, t.pid, "--no-debuginfo", later_dir, NULL,
				 &r);
			tiny->rss[RUN_NODEBUG][i] = r.maxrss_kib / 1024;
		}
	}
	target_stop(&t);

	printf("2. leakattach peak RSS in MiB (ru_maxrss from wait4), budget <= 8 MiB\n"
	       "   first run: a fresh, empty log folder (LEAKATTACH_LOG_DIR, removed after), as\n"
	       "   on the first run for a libc; the layout, as `leakattach -vv` tells it:\n"
	       "     %s\n"
	       "   later runs: one log folder, its layout cache filled by a warm-up run:\n"
	       "     %s\n",
	       first_how, later_how);
	if (o->n_tool_args)
		printf("   (tool arguments as configured above)\n");
	for (unsigned s = 0; s < n; s++) {
		double m = median(heaps[s].rss[RUN_FIRST], o->runs);

		print_rss(o, &heaps[s], nodebug_col);
		not_dwarf += heaps[s].not_dwarf + heaps[s].not_kept;
		if (m > worst_rss) {
			worst_rss = m;
			worst_rss_at = s;
		}
	}
	/* a budget for the first run with debug info needs such runs */
	printf("   %-52s %.1f MiB (%s)   budget <= 8 MiB: %s\n",
	       "WORST first run (layout from debug info)", worst_rss,
	       shape_label(o, &heaps[worst_rss_at], what, sizeof(what)),
	       not_dwarf ? "NOT measured (debug info not read, see !! above)"
			 : verdict(worst_rss <= 8));
	pause_dirs_remove();
	printf("   (pause and RSS took %.0f s)\n\n", now_s() - t0);
	fflush(stdout);
}

/* ---- 3. stop latency ---------------------------------------------------- */

static void
bench_stop(const struct opts *o)
{
	/*
	 * With 100 spinning threads on a few cores the tool itself gets
	 * little CPU (about cores / 101 of it), so one run takes seconds:
	 * that case runs at most 3 times, without a warm-up.
	 */
	static const struct {
		const char *n, *mode;
		unsigned max_runs;
	} cfg[] = {{"4", "idle", MAX_RUNS},
		   {"4", "spin", MAX_RUNS},
		   {"100", "idle", MAX_RUNS},
		   {"100", "spin", 3}};

	printf("3. stop latency: first PTRACE_INTERRUPT -> every thread stopped (bench/threads;\n"
	       "   idle: threads blocked in a futex; spin: threads always runnable, no malloc)\n");
	printf("   %-12s %-6s %-5s %-30s %-30s\n", "threads", "mode", "runs",
	       "stop_ms", "pause_ms");
	for (unsigned c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		const char *argv[] = {"threads", cfg[c].n, cfg[c].mode, NULL};
		unsigned runs =
			o->runs < cfg[c].max_runs ? o->runs : cfg[c].max_runs;
		double stop[MAX_RUNS], pause[MAX_RUNS];
		char b1[128], b2[128], label[32];
		struct target t;
		struct run r;

		target_start(&t, o, argv, 60);
		if (runs == o->runs)
			tool_snapshot(o, t.pid, NULL, &r); /* warm-up */
		for (unsigned i = 0; i < runs; i++) {
			tool_snapshot(o, t.pid, NULL, &r);
			stop[i] = r.stop_ms;
			pause[i] = r.pause_ms;
		}
		target_stop(&t);
		snprintf(label, sizeof(label), "%s + main", cfg[c].n);
		printf("   %-12s %-6s %-5u %-30s %-30s", label, cfg[c].mode,
		       runs, spread(b1, sizeof(b1), 3, stop, runs),
		       spread(b2, sizeof(b2), 3, pause, runs));
		if (atoi(cfg[c].n) <= 8)
			printf(" budget <= 2 ms: %s",
			       verdict(median(stop, runs) <= 2));
		printf("\n");
		fflush(stdout);
	}
	printf("\n");
}

/* ---- 4. throughput of an allocation-heavy target ------------------------ */

static void
storm_count(struct target *t, double *ops, double *ns)
{
	char line[128];
	unsigned long long a, b;

	if (write(t->in_fd, "count\n", 6) != 6 ||
	    target_line(t, line, sizeof(line), 10) ||
	    sscanf(line, "count %llu %llu", &a, &b) != 2)
		die("the storm target did not answer");
	*ops = (double)a;
	*ns = (double)b;
}

/* Busy CPU time of the whole machine, in seconds (/proc/stat). */
static double
machine_busy_s(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "re");
	double busy;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	fclose(f);
	/* user nice system [idle iowait] irq softirq steal */
	busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
	return busy / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of a process, all its threads, in seconds (/proc/PID/stat). */
static double
process_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct snapstats {
	double pause[MAX_MODEL], cpu[MAX_MODEL], stopped[MAX_MODEL],
		settle[MAX_MODEL];
	unsigned n, approx, attempts;
};

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

static void
win_begin(struct target *t, struct win_mark *m)
{
	storm_count(t, &m->ops, &m->ns);
	m->busy = machine_busy_s();
	m->tcpu = process_cpu_s(t->pid);
}

/* The window since m; tool_s: CPU the tool took meanwhile, not "others". */
static struct win
win_end(struct target *t, const struct win_mark *m, double tool_s)
{
	double ops, ns, secs;
	struct win w;

	storm_count(t, &ops, &ns);
	secs = (ns - m->ns) / 1e9;
	w.secs = secs;
	w.rate = (ops - m->ops) / secs;
	w.target_cores = (process_cpu_s(t->pid) - m->tcpu) / secs;
	w.per_cpu = w.target_cores > 0 ? w.rate / w.target_cores : 0;
	w.other_cores =
		(machine_busy_s() - m->busy - tool_s) / secs - w.target_cores;
	if (w.other_cores < 0)
		w.other_cores = 0;
	return w;
}

/* One window: the target's ops/s, with a snapshot every `every` s (0: none). */
static struct win
window(const struct opts *o, struct target *t, double every,
       struct snapstats *ss)
{
	struct win_mark m;
	double start, tool_s = 0;

	win_begin(t, &m);
	start = now_s();
	if (every > 0)
		for (double at = every / 2; at < o->window; at += every) {
			struct run r;

			sleep_until(start + at);
			tool_snapshot(o, t->pid, NULL, &r);
			tool_s += r.cpu_ms / 1e3;
			if (ss->n < MAX_MODEL) {
				ss->pause[ss->n] = r.pause_ms;
				ss->cpu[ss->n] = r.cpu_ms;
				ss->settle[ss->n] = r.settle_rounds;
				/* each stop pauses it about as long */
				ss->stopped[ss->n] = r.pause_ms * r.attempts;
				ss->n++;
			}
			ss->approx += !r.consistent;
			ss->attempts += r.attempts;
		}
	sleep_until(start + o->window);
	return win_end(t, &m, tool_s);
}

static void
bench_tput(const struct opts *o)
{
	static struct snapstats ss[3];
	static const double every[3] = {0, 1, 10};
	double rate[3][MAX_ROUNDS], slow[3][MAX_ROUNDS], tc[3][MAX_ROUNDS],
		oc[3][MAX_ROUNDS], pc[3][MAX_ROUNDS], pslow[3][MAX_ROUNDS];
	char nthreads[16], b1[128], b2[128];
	const char *argv[] = {"storm", nthreads, NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	printf("4. throughput: bench/storm, %u threads doing malloc/free of mixed small sizes;\n"
	       "   %u rounds, each a %.0f s window alone, with a snapshot every 1 s and every 10 s\n"
	       "   (order rotated per round); slowdown against the round's own \"alone\" window\n",
	       o->storm_threads, o->rounds, o->window);
	fflush(stdout);
	target_start(&t, o, argv, 30);
	sleep_until(now_s() + 2); /* let its heap reach its steady size */
	for (unsigned r = 0; r < o->rounds; r++) {
		for (unsigned k = 0; k < 3; k++) {
			unsigned p = (k + r) % 3;
			struct win w = window(o, &t, every[p], &ss[p]);

			rate[p][r] = w.rate / 1e6;
			pc[p][r] = w.per_cpu / 1e6;
			tc[p][r] = w.target_cores;
			oc[p][r] = w.other_cores;
		}
		for (unsigned p = 0; p < 3; p++) {
			slow[p][r] = 100 * (1 - rate[p][r] / rate[0][r]);
			pslow[p][r] = 100 * (1 - pc[p][r] / pc[0][r]);
		}
		if (o->verbose)
			fprintf(stderr,
				"  round %u: %.3f, %.3f, %.3f M ops/s; other load %.2f, %.2f, %.2f cores\n",
				r + 1, rate[0][r], rate[1][r], rate[2][r],
				oc[0][r], oc[1][r], oc[2][r]);
	}
	target_stop(&t);
	/*
	 * Other processes take CPU from the target unevenly, window by
	 * window; the target's ops per CPU second it got is immune to that
	 * (but also blind to the time it stood still and to the CPU the tool
	 * took from it: see the model below).
	 */
	printf("   %-21s %-27s %-24s %-25s %-20s %s\n", "", "target M ops/s",
	       "slowdown %", "M ops per target CPU s", "slowdown %",
	       "cores: target/others");
	for (unsigned p = 0; p < 3; p++) {
		char label[64], b3[128], b4[128];

		if (p == 0)
			snprintf(label, sizeof(label), "alone (baseline)");
		else
			snprintf(label, sizeof(label), "snapshot every %.0f s",
				 every[p]);
		printf("   %-21s %-27s %-24s %-25s %-20s %.2f / %.2f\n", label,
		       spread(b1, sizeof(b1), 2, rate[p], o->rounds),
		       p ? spread(b2, sizeof(b2), 1, slow[p], o->rounds) : "",
		       spread(b3, sizeof(b3), 2, pc[p], o->rounds),
		       p ? spread(b4, sizeof(b4), 1, pslow[p], o->rounds) : "",
		       median(tc[p], o->rounds), median(oc[p], o->rounds));
	}
	{
		double s1 = median(slow[1], o->rounds);
		double s10 = median(slow[2], o->rounds);

		printf("   %-21s %.3f %% from every 1 s (%.2f / 60), %.3f %% from every 10 s (%.2f / 6)\n",
		       "every 60 s, extrap.", s1 / 60, s1, s10 / 6, s10);
		double lo, hi, plo, phi;

		min_max(rate[0], o->rounds, &lo, &hi);
		min_max(pc[0], o->rounds, &plo, &phi);
		printf("   %-21s budget <= 0.5 %%: %s, but the \"alone\" windows alone spread over\n"
		       "   %-21s %.0f %% of their median (%.0f %% per CPU s): smaller differences are noise\n",
		       "", verdict(s1 / 60 <= 0.5), "",
		       100 * (hi - lo) / median(rate[0], o->rounds),
		       100 * (phi - plo) / median(pc[0], o->rounds));
	}
	for (unsigned p = 1; p < 3; p++)
		if (ss[p].n)
			printf("   snapshots every %2.0f s: %u, pause %s ms, tool CPU %s ms each,\n"
			       "     %u approximate, %u stops, settle rounds %.0f (median)\n",
			       every[p], ss[p].n,
			       spread(b1, sizeof(b1), 1, ss[p].pause, ss[p].n),
			       spread(b2, sizeof(b2), 0, ss[p].cpu, ss[p].n),
			       ss[p].approx, ss[p].attempts,
			       median(ss[p].settle, ss[p].n));
	{
		/*
		 * A cross-check of the noisy ops/s figures: per snapshot the
		 * target stands still for about pause x stops, and the tool's
		 * CPU time is taken from the target's share of the cores.
		 */
		static double stopped[2 * MAX_MODEL], cpu[2 * MAX_MODEL];
		unsigned n = ss[1].n + ss[2].n;
		double cost;

		memcpy(stopped, ss[1].stopped, ss[1].n * sizeof(double));
		memcpy(stopped + ss[1].n, ss[2].stopped,
		       ss[2].n * sizeof(double));
		memcpy(cpu, ss[1].cpu, ss[1].n * sizeof(double));
		memcpy(cpu + ss[1].n, ss[2].cpu, ss[2].n * sizeof(double));
		if (n && n <= MAX_MODEL) {
			cost = median(stopped, n) +
			       median(cpu, n) / (double)(cores > 0 ? cores : 1);
			printf("   model (not disturbed by other load): stopped %.1f ms (pause x stops) + tool CPU\n"
			       "     %.0f ms / %ld cores = %.1f ms per snapshot: %.2f %% at 1 s, %.3f %% at 10 s,\n"
			       "     %.4f %% at 60 s; budget <= 0.5 %%: %s\n",
			       median(stopped, n), median(cpu, n), cores, cost,
			       cost / 10, cost / 100, cost / 600,
			       verdict(cost / 600 <= 0.5));
		}
	}
	printf("\n");
	fflush(stdout);
}

/* ---- 5. and 6. leakattach monitor --------------------------------------- */

/*
 * `leakattach monitor` is one long-running process: it keeps a session and
 * the leak tracker between samples, and writes every sample to its log
 * folder. Both figures give it a temporary log folder (removed at exit)
 * and LEAKATTACH_CONFIG= (empty) so that no configuration file is read.
 */
static char mon_dir[PATH_MAX]; /* the temporary log folder, if any */

static void
mon_dir_remove(void)
{
	tmpdir_remove(mon_dir);
}

static void
mon_dir_make(void)
{
	tmpdir_make(mon_dir, sizeof(mon_dir));
}

/*
 * Start `leakattach monitor -p PID --interval I --duration D --log-dir
 * DIR --json [ARGS...] --callers=off [EXTRA...]` (extra NULL-terminated, or
 * NULL), its stdout in DIR/monitor.json. It gets SIGTERM if we die (it
 * then ends after the current sample and detaches).
 */
static pid_t
monitor_start(const struct opts *o, pid_t pid, double interval, double duration,
	      const char *const *extra)
{
	char pidstr[24], ivl[32], dur[32], out[PATH_MAX + 16];
	const char *argv[MAX_ARGS + 16];
	unsigned n = 0;
	pid_t child;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	snprintf(ivl, sizeof(ivl), "%g", interval);
	snprintf(dur, sizeof(dur), "%.3f", duration);
	snprintf(out, sizeof(out), "%s/monitor.json", mon_dir);
	argv[n++] = o->tool;
	argv[n++] = "monitor";
	argv[n++] = "-p";
	argv[n++] = pidstr;
	argv[n++] = "--interval";
	argv[n++] = ivl;
	argv[n++] = "--duration";
	argv[n++] = dur;
	argv[n++] = "--log-dir";
	argv[n++] = mon_dir;
	argv[n++] = "--json";
	for (unsigned i = 0; i < o->n_tool_args; i++)
		argv[n++] = o->tool_args[i];
	/*
	 * The monitor figures measure sampling alone; the callers figure
	 * passes its own --callers, which comes later and wins.
	 */
	argv[n++] = "--callers=off";
	for (unsigned i = 0; extra && extra[i] && i < 4; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	fflush(NULL);
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		setenv("LEAKATTACH_CONFIG", "", 1);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "bench: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	return child;
}

/* Wait for the monitor; dies unless it ended well (0: no leak, 1: leak). */
static void
monitor_reap(pid_t child, struct rusage *ru)
{
	int st;

	while (wait4(child, &st, 0, ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) > 1)
		die("`leakattach monitor` failed (status %#x); see its message above",
		    st);
}

static double
ru_cpu_s(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* What the history of the target holds (DIR/targets/PID-START/history.jsonl). */
struct history {
	unsigned lines; /* samples written, complete lines */
	unsigned approx; /* "consistent":false among the lines read */
	unsigned n; /* pause_ms of the lines from `from` on */
	double pause[MAX_MODEL];
};

/*
 * Count the lines of the target's history; with h->pause wanted, keep the
 * pause of lines from..end. A sample line, from the tool (abridged):
 *   {"time_unix_ms":...,"command":"monitor","sample":2,"consistent":true,
 *    ...,"pause_ms":36.060,"leaks":0,"retention":0,"growing":173}
 */
static void
history_read(pid_t pid, unsigned from, struct history *h)
{
	char path[2 * PATH_MAX], prefix[32], *line = NULL;
	struct dirent *de;
	size_t cap = 0;
	ssize_t len;
	FILE *f = NULL;
	DIR *d;

	h->lines = h->approx = h->n = 0;
	snprintf(path, sizeof(path), "%s/targets", mon_dir);
	snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof(path),
				 "%s/targets/%s/history.jsonl", mon_dir,
				 de->d_name);
			f = fopen(path, "re");
			break;
		}
	if (d)
		closedir(d);
	while (f && (len = getline(&line, &cap, f)) > 0) {
		double v;

		if (line[len - 1] != '\n')
			break; /* being written */
		if (h->lines++ < from)
			continue;
		h->approx += strstr(line, "\"consistent\":false") != NULL;
		if (h->n < MAX_MODEL && !json_num(line, "pause_ms", &v))
			h->pause[h->n++] = v;
	}
	free(line);
	if (f)
		fclose(f);
}

/* A number from the monitor's JSON report (DIR/monitor.json); -1: none. */
static double
monitor_json_num(const char *key)
{
	char path[PATH_MAX + 16], buf[4096];
	double v = -1;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/monitor.json", mon_dir);
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (json_num(buf, key, &v))
		v = -1;
	return v;
}

/* A "Vm...:" line of /proc/PID/status, in KiB; -1 when gone. */
static double
proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	double v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl)) {
			v = strtod(line + kl, NULL);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

struct mon_win {
	struct win w;
	unsigned samples; /* taken inside the window */
	double tool_s; /* the tool's CPU time inside the window */
	double lead_s; /* start of the tool to its first sample written */
};

/*
 * One window of o->window seconds: alone (every 0), or under a monitor
 * started before it. A monitor samples at once and then every I s; the
 * window starts I/2 after the first sample is written and the monitor's
 * --duration is I/2 + window, so the window holds window/I samples, but
 * neither the tool's start nor its first sample (which reads the debug
 * information when the log folder has no layout yet).
 */
static struct mon_win
monitor_window(const struct opts *o, struct target *t, double every,
	       struct history *h)
{
	struct mon_win mw = {0};
	struct win_mark m;
	struct rusage ru;
	double t0, cpu0 = 0;
	unsigned before = 0;
	pid_t child = 0;
	int st;

	if (every > 0) {
		history_read(t->pid, UINT_MAX, h);
		before = h->lines;
		t0 = now_s();
		child = monitor_start(o, t->pid, every, every / 2 + o->window,
				      NULL);
		for (;;) {
			history_read(t->pid, UINT_MAX, h);
			if (h->lines > before)
				break;
			if (waitpid(child, &st, WNOHANG) == child)
				die("`leakattach monitor -p %d` ended before its first sample (status %#x)",
				    (int)t->pid, st);
			if (now_s() - t0 > 60)
				die("`leakattach monitor -p %d` took no sample in 60 s",
				    (int)t->pid);
			usleep(5000); /* polling a file the tool appends to */
		}
		mw.lead_s = now_s() - t0;
		sleep_until(now_s() + every / 2);
		before = h->lines;
		cpu0 = process_cpu_s(child);
	}
	win_begin(t, &m);
	sleep_until(now_s() + o->window);
	mw.w = win_end(t, &m, 0);
	if (every > 0) {
		/* the monitor ended after its last sample, before now */
		history_read(t->pid, before, h);
		mw.samples = h->lines - before;
		monitor_reap(child, &ru);
		mw.tool_s = ru_cpu_s(&ru) - cpu0;
		mw.w.other_cores -= mw.tool_s / mw.w.secs;
		if (mw.w.other_cores < 0)
			mw.w.other_cores = 0;
	}
	return mw;
}

static void
bench_monitor(const struct opts *o)
{
	static const double every[3] = {0, 1, 10};
	static struct history h;
	static double pause[MAX_MODEL], cpu[2 * MAX_ROUNDS];
	double rate[3][MAX_ROUNDS], slow[3][MAX_ROUNDS], tc[3][MAX_ROUNDS],
		oc[3][MAX_ROUNDS], pc[3][MAX_ROUNDS], pslow[3][MAX_ROUNDS],
		nsamp[3][MAX_ROUNDS], lead[3][MAX_ROUNDS];
	char nthreads[16], mib[32], b1[128], b2[128];
	const char *argv[] = {"churn", "--threads", nthreads,
			      "--mib", mib,	    NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned npause = 0, ncpu = 0, approx = 0;
	double t0 = now_s();
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
	printf("5. monitor: bench/churn, %u threads doing malloc/free (bench/storm's mix) over a\n"
	       "   %llu MiB heap; %u rounds, each a %.0f s window alone, under `leakattach monitor\n"
	       "   --interval 1` and under `--interval 10` (order rotated per round); a monitored\n"
	       "   window starts I/2 after the monitor's first sample, so it holds %.0f / I samples\n"
	       "   and not the tool's start; slowdown against the round's own \"alone\" window\n",
	       o->storm_threads, o->churn_mib, o->rounds, o->window, o->window);
	fflush(stdout);
	target_start(&t, o, argv, 120);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (bench/churn --mib %llu, PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, o->churn_mib,
	       (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	sleep_until(now_s() + 1); /* the hot blocks reach their steady mix */
	for (unsigned r = 0; r < o->rounds; r++) {
		for (unsigned k = 0; k < 3; k++) {
			unsigned p = (k + r) % 3;
			struct mon_win mw = monitor_window(o, &t, every[p], &h);

			rate[p][r] = mw.w.rate / 1e6;
			pc[p][r] = mw.w.per_cpu / 1e6;
			tc[p][r] = mw.w.target_cores;
			oc[p][r] = mw.w.other_cores;
			nsamp[p][r] = mw.samples;
			lead[p][r] = mw.lead_s;
			if (!p)
				continue;
			approx += h.approx;
			for (unsigned i = 0; i < h.n && npause < MAX_MODEL; i++)
				pause[npause++] = h.pause[i];
			if (mw.samples)
				cpu[ncpu++] = mw.tool_s * 1e3 / mw.samples;
		}
		for (unsigned p = 0; p < 3; p++) {
			slow[p][r] = 100 * (1 - rate[p][r] / rate[0][r]);
			pslow[p][r] = 100 * (1 - pc[p][r] / pc[0][r]);
		}
		if (o->verbose)
			fprintf(stderr,
				"  round %u: %.3f, %.3f, %.3f M ops/s; other load %.2f, %.2f, %.2f cores; %.0f, %.0f samples\n",
				r + 1, rate[0][r], rate[1][r], rate[2][r],
				oc[0][r], oc[1][r], oc[2][r], nsamp[1][r],
				nsamp[2][r]);
	}
	target_stop(&t);
	mon_dir_remove();
	printf("   %-21s %-27s %-24s %-25s %-20s %s\n", "", "target M ops/s",
	       "slowdown %", "M ops per target CPU s", "slowdown %",
	       "cores: target/others");
	for (unsigned p = 0; p < 3; p++) {
		char label[64], b3[128], b4[128];

		if (p == 0)
			snprintf(label, sizeof(label), "alone (baseline)");
		else
			snprintf(label, sizeof(label),
				 "monitor --interval %.0f", every[p]);
		printf("   %-21s %-27s %-24s %-25s %-20s %.2f / %.2f\n", label,
		       spread(b1, sizeof(b1), 2, rate[p], o->rounds),
		       p ? spread(b2, sizeof(b2), 1, slow[p], o->rounds) : "",
		       spread(b3, sizeof(b3), 2, pc[p], o->rounds),
		       p ? spread(b4, sizeof(b4), 1, pslow[p], o->rounds) : "",
		       median(tc[p], o->rounds), median(oc[p], o->rounds));
	}
	{
		double s1 = median(slow[1], o->rounds);
		double s10 = median(slow[2], o->rounds);
		double lo, hi, plo, phi;

		printf("   %-21s %.3f %% from --interval 1 (%.2f / 60), %.3f %% from --interval 10 (%.2f / 6)\n",
		       "--interval 60, extrap.", s1 / 60, s1, s10 / 6, s10);
		min_max(rate[0], o->rounds, &lo, &hi);
		min_max(pc[0], o->rounds, &plo, &phi);
		printf("   %-21s budget <= 0.5 %% at --interval 60: %s, but the \"alone\" windows alone\n"
		       "   %-21s spread over %.0f %% of their median (%.0f %% per CPU s): smaller differences are noise\n",
		       "", verdict(s1 / 60 <= 0.5), "",
		       100 * (hi - lo) / median(rate[0], o->rounds),
		       100 * (phi - plo) / median(pc[0], o->rounds));
	}
	for (unsigned p = 1; p < 3; p++)
		printf("   --interval %-2.0f samples per window %s, first sample %s s after the start\n",
		       every[p], spread(b1, sizeof(b1), 0, nsamp[p], o->rounds),
		       spread(b2, sizeof(b2), 2, lead[p], o->rounds));
	if (npause && ncpu) {
		/*
		 * As for the snapshots: the target stands still for the pause
		 * of each sample, and the tool's CPU time (snapshot, tracker,
		 * history and state files) is taken from its share of the
		 * cores.
		 */
		double cost =
			median(pause, npause) +
			median(cpu, ncpu) / (double)(cores > 0 ? cores : 1);

		printf("   samples in the windows: %u, pause %s ms, %u approximate;\n"
		       "     tool CPU per sample %s ms (per window)\n",
		       npause, spread(b1, sizeof(b1), 1, pause, npause), approx,
		       spread(b2, sizeof(b2), 1, cpu, ncpu));
		printf("   model (not disturbed by other load): stopped %.1f ms + tool CPU %.1f ms / %ld cores\n"
		       "     = %.1f ms per sample: %.2f %% at 1 s, %.3f %% at 10 s, %.4f %% at 60 s;\n"
		       "     budget <= 0.5 %% at --interval 60: %s\n",
		       median(pause, npause), median(cpu, ncpu), cores, cost,
		       cost / 10, cost / 100, cost / 600,
		       verdict(cost / 600 <= 0.5));
	}
	printf("   this figure took %.0f s (windows of %.0f s; heap build, and I/2 s + the tool's start\n"
	       "   before each monitored window)\n\n",
	       now_s() - t0, o->window);
	fflush(stdout);
}

#define MAX_READINGS 4096

/* Least-squares slope of y over x. */
static double
slope(const double *x, const double *y, unsigned n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, d;

	for (unsigned i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	d = n * sxx - sx * sx;
	return n > 1 && d != 0 ? (n * sxy - sx * sy) / d : 0;
}

static void
bench_monitor_rss(const struct opts *o)
{
	static double at[MAX_READINGS], rss[MAX_READINGS], hwm[MAX_READINGS],
		first[MAX_READINGS], last[MAX_READINGS];
	static struct history h;
	char mib[32], chunks[32], b1[128], series[512] = "";
	const char *argv[] = {"bigheap",  "--mib", mib,
			      "--chunks", chunks,  NULL};
	unsigned n = 0, nfirst = 0, nlast = 0, before, from;
	double t0 = now_s(), start, peak = 0, warm_kib, stopped = 0;
	struct rusage ru;
	struct target t;
	pid_t child;

	snprintf(mib, sizeof(mib), "%llu", o->rss_mib);
	snprintf(chunks, sizeof(chunks), "%llu", o->rss_mib * 5000);
	printf("6. monitor-rss: leakattach's own memory over a %.0f s `monitor --interval %g` of\n"
	       "   bench/bigheap (%llu MiB in about %s chunks, idle): the tool's VmRSS and VmHWM\n"
	       "   (/proc/PID/status) every second, after a first run that fills the log folder's\n"
	       "   layout cache\n",
	       o->rss_seconds, o->rss_interval, o->rss_mib, chunks);
	fflush(stdout);
	target_start(&t, o, argv, 600);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (bench/bigheap, PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	/* One sample: the layout from the debug information, cached. */
	monitor_reap(monitor_start(o, t.pid, 1, 0.5, NULL), &ru);
	warm_kib = (double)ru.ru_maxrss;
	history_read(t.pid, UINT_MAX, &h);
	before = h.lines;

	start = now_s();
	child = monitor_start(o, t.pid, o->rss_interval, o->rss_seconds, NULL);
	for (unsigned k = 1; n < MAX_READINGS; k++) {
		double v, w;

		sleep_until(start + k);
		v = proc_status_kib(child, "VmRSS:");
		w = proc_status_kib(child, "VmHWM:");
		if (v < 0 || w < 0)
			break; /* it has ended: a zombie has no memory */
		at[n] = now_s() - start;
		rss[n] = v;
		hwm[n] = w;
		n++;
	}
	monitor_reap(child, &ru);
	history_read(t.pid, before, &h);
	target_stop(&t);

	for (unsigned i = 0; i < n; i++) {
		if (hwm[i] > peak)
			peak = hwm[i];
		if (at[i] <= 10.5)
			first[nfirst++] = rss[i];
		if (at[i] >= at[n - 1] - 9.5)
			last[nlast++] = rss[i];
		if (i % 10 == 9 && strlen(series) < sizeof(series) - 16)
			snprintf(series + strlen(series),
				 sizeof(series) - strlen(series), " %.2f",
				 rss[i] / 1024);
	}
	if ((double)ru.ru_maxrss > peak)
		peak = (double)ru.ru_maxrss;
	for (unsigned i = 0; i < h.n; i++)
		stopped += h.pause[i] / 1e3;
	for (from = 0; from < n && at[from] < 10; from++)
		;

	/* the run lasts --duration: its last sample is at rss_seconds */
	printf("   %-27s peak %.1f MiB (ru_maxrss), 1 sample; budget <= 8 MiB: %s\n"
	       "   %-27s (the layout from debug information, once per libc build)\n",
	       "first run, empty folder", warm_kib / 1024,
	       verdict(warm_kib / 1024 <= 8), "");
	printf("   %-27s %u in %.0f s (%.1f per s; the report says %.0f), %u approximate\n",
	       "samples", h.lines - before, o->rss_seconds,
	       (h.lines - before) / o->rss_seconds,
	       monitor_json_num("samples_this_run"), h.approx);
	printf("   %-27s %s ms; the target stood still %.0f %% of the time\n",
	       "pause per sample", spread(b1, sizeof(b1), 1, h.pause, h.n),
	       100 * stopped / o->rss_seconds);
	printf("   %-27s %.1f s (%.0f %% of one core), %.1f ms per sample\n",
	       "tool CPU", ru_cpu_s(&ru), 100 * ru_cpu_s(&ru) / o->rss_seconds,
	       h.lines > before ? 1e3 * ru_cpu_s(&ru) / (h.lines - before) : 0);
	printf("   %-27s%s\n", "VmRSS every 10 s, MiB", series);
	printf("   %-27s %.2f MiB (VmHWM %.2f, ru_maxrss %.2f)   budget <= 8 MiB: %s\n",
	       "PEAK RSS", peak / 1024, n ? hwm[n - 1] / 1024 : 0,
	       (double)ru.ru_maxrss / 1024, verdict(peak / 1024 <= 8));
	printf("   %-27s VmRSS median %.2f MiB in the first 10 s, %.2f MiB in the last 10 s (%+.0f KiB);\n"
	       "   %-27s slope %+.1f KiB/min after the first 10 s (least squares, %u readings)\n",
	       "growth", median(first, nfirst) / 1024,
	       median(last, nlast) / 1024,
	       median(last, nlast) - median(first, nfirst), "",
	       n > from ? 60 * slope(at + from, rss + from, n - from) : 0,
	       n - from);
	mon_dir_remove();
	printf("   this figure took %.0f s\n\n", now_s() - t0);
	fflush(stdout);
}

/* ---- 7. callers: the cost of one sampling window ------------------------ */

/*
 * The backends of --callers (issue 5 item 3). select: the arguments that
 * make `leakattach monitor` open a window after every sample with that
 * backend; NULL while the tool offers no way to choose it. help_word: how
 * to tell from `leakattach --help` that the backend was built in.
 */
static const struct cbackend {
	const char *name; /* as in the JSON's callers_sampling.backend */
	const char *select[3]; /* the monitor's arguments */
	const char *help_word;
} cbackends[] = {
	/*
	 * int3 first: a process that kernel uprobes have probed refuses
	 * int3 windows for the rest of its life (see int3.c, resolve()),
	 * and the backends share one target.
	 */
	{"int3", {"--callers=always", "--callers-backend=int3", NULL}, "int3"},
	{"uprobe",
	 {"--callers=always", "--callers-backend=uprobe", NULL},
	 "uprobe"},
};

/* What one monitor run's JSON (DIR/monitor.json) says about its windows. */
struct callers_json {
	double samples; /* samples_this_run */
	double windows, allocations, lost, window_ms, teardown_ms, release_ms;
	char backend[32];
	char error[256];
};

static char *
file_read_all(const char *path)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "re");
	size_t k;

	if (!buf)
		die("out of memory");
	while (f && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += k;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
	}
	if (f)
		fclose(f);
	buf[len] = '\0';
	return buf;
}

/* A JSON string value "key":"..." after p, without unescaping. */
static void
json_str(const char *p, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *q, *e;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	q = p ? strstr(p, pat) : NULL;
	if (!q)
		return;
	q += strlen(pat);
	for (e = q; *e && *e != '"'; e++)
		if (*e == '\\' && e[1])
			e++;
	snprintf(out, size, "%.*s", (int)(e - q), q);
}

/* The callers part of a monitor's or a check's JSON; -1: not its JSON. */
static int
callers_json_parse(const char *js, struct callers_json *cj)
{
	const char *cs;

	memset(cj, 0, sizeof(*cj));
	if (json_num(js, "samples_this_run", &cj->samples))
		return -1;
	cs = strstr(js, "\"callers_sampling\":");
	if (cs) {
		json_num(cs, "windows", &cj->windows);
		json_num(cs, "allocations", &cj->allocations);
		json_num(cs, "lost", &cj->lost);
		json_num(cs, "window_ms", &cj->window_ms);
		json_num(cs, "teardown_ms", &cj->teardown_ms);
		json_num(cs, "release_ms", &cj->release_ms); /* newer tools */
		json_str(cs, "backend", cj->backend, sizeof(cj->backend));
		json_str(cs, "error", cj->error, sizeof(cj->error));
	}
	return 0;
}

static void
callers_json_read(struct callers_json *cj)
{
	char path[PATH_MAX + 16], *js;

	snprintf(path, sizeof(path), "%s/monitor.json", mon_dir);
	js = file_read_all(path);
	if (callers_json_parse(js, cj))
		die("`leakattach monitor --json` printed no samples_this_run: %.300s",
		    js);
	free(js);
}

/* One run of the figure: alone, or under a monitor with `args`. */
struct callers_run_result {
	struct win w;
	double ops; /* the target's operations over the run */
	double tool_cpu_s;
	struct callers_json cj;
};

/*
 * The target's counters around a whole `leakattach monitor --interval I
 * --duration D ARGS`, from before its start to after its exit: the tool's
 * start, every sample and every window with its setup and teardown are
 * inside. With args NULL: the target alone for as long.
 */
static struct callers_run_result
callers_run(const struct opts *o, struct target *t, double interval,
	    double duration, const char *const *args)
{
	struct callers_run_result cr;
	struct win_mark m;
	struct rusage ru;
	pid_t child;

	memset(&cr, 0, sizeof(cr));
	win_begin(t, &m);
	if (!args) {
		sleep_until(now_s() + duration);
	} else {
		child = monitor_start(o, t->pid, interval, duration, args);
		monitor_reap(child, &ru);
		cr.tool_cpu_s = ru_cpu_s(&ru);
		callers_json_read(&cr.cj);
	}
	cr.w = win_end(t, &m, cr.tool_cpu_s);
	cr.ops = cr.w.rate * cr.w.secs;
	return cr;
}

/* Does `leakattach --help` mention the word? */
static int
tool_help_has(const struct opts *o, const char *word)
{
	char cmd[PATH_MAX + 64], line[512];
	int found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", o->tool);
	f = popen(cmd, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, word))
			found = 1;
	if (f)
		pclose(f);
	return found;
}

static void
bench_callers(const struct opts *o)
{
	enum { ALONE, OFF, ON, NMODES };
	static const char *const off_args[] = {"--callers=off", NULL};
	static const char *const mode_name[NMODES] = {
		"alone (baseline)", "monitor --callers=off",
		"monitor --callers=always"};
	const double interval = 1, duration = o->window;
	char nthreads[16], mib[32], b1[128], b2[128], b3[128];
	const char *argv[] = {"churn", "--threads", nthreads,
			      "--mib", mib,	    NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double t0 = now_s();
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
	printf("7. callers: one sampling window on the allocation functions (--callers), per\n"
	       "   backend; bench/churn, %u threads over a %llu MiB heap; %u rounds, each %.0f s\n"
	       "   alone, under `leakattach monitor --interval %.0f --duration %.0f --callers=off` and\n"
	       "   with a window after every sample (--callers=always), order rotated per round;\n"
	       "   the target's ops counted from before the monitor's start to after its exit.\n"
	       "   Ops lost per window = (alone rate x run - ops) of the --callers=always run,\n"
	       "   less its samples x the median loss per sample of the --callers=off runs,\n"
	       "   over its windows (each run against its own round's alone rate)\n",
	       o->storm_threads, o->churn_mib, o->rounds, duration, interval,
	       duration);
	fflush(stdout);
	target_start(&t, o, argv, 120);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	/* the first sample of a log folder reads the debug information */
	monitor_reap(monitor_start(o, t.pid, 1, 0.5, NULL), NULL);
	for (unsigned b = 0; b < sizeof(cbackends) / sizeof(cbackends[0]);
	     b++) {
		const struct cbackend *be = &cbackends[b];
		double rate[NMODES][MAX_ROUNDS], secs[NMODES][MAX_ROUNDS];
		double samples[NMODES][MAX_ROUNDS], tcpu[NMODES][MAX_ROUNDS];
		double oc[NMODES][MAX_ROUNDS];
		double lost_ops[MAX_ROUNDS], lost_ms[MAX_ROUNDS],
			samp_ms[MAX_ROUNDS], win_ms[MAX_ROUNDS],
			tear_ms[MAX_ROUNDS], nwin[MAX_ROUNDS],
			allocs[MAX_ROUNDS], rlost[MAX_ROUNDS], wcpu[MAX_ROUNDS],
			total_pct[MAX_ROUNDS], win_pct[MAX_ROUNDS],
			tc[NMODES][MAX_ROUNDS];
		/* per round: the alone rate, the always run's unexplained loss */
		double r_alone[MAX_ROUNDS], r_loss[MAX_ROUNDS];
		double samp_med;
		unsigned n = 0;
		char backend_seen[32] = "";

		if (!be->select[0]) {
			printf("   %s: not measured: %s\n", be->name,
			       tool_help_has(o, be->help_word)
				       ? "`leakattach --help` mentions it, but this benchmark does not know\n"
					 "     how to select it yet (fill its slot in cbackends[], bench/bench.c)"
				       : "backend not built (`leakattach --help` offers --callers no way\n"
					 "     to select it)");
			continue;
		}
		for (unsigned r = 0; r < o->rounds; r++) {
			struct callers_run_result cr[NMODES];
			double per_sample, loss;

			for (unsigned k = 0; k < NMODES; k++) {
				unsigned p = (k + r) % NMODES;

				cr[p] = callers_run(o, &t, interval, duration,
						    p == ALONE ? NULL
						    : p == OFF ? off_args
							       : be->select);
				rate[p][n] = cr[p].w.rate / 1e6;
				secs[p][n] = cr[p].w.secs;
				samples[p][n] = cr[p].cj.samples;
				tcpu[p][n] = cr[p].tool_cpu_s;
				oc[p][n] = cr[p].w.other_cores;
				tc[p][n] = cr[p].w.target_cores;
			}
			if (cr[ON].cj.error[0]) {
				printf("   %s: not measured: %s\n", be->name,
				       cr[ON].cj.error);
				break;
			}
			if (!cr[ON].cj.windows || !cr[OFF].cj.samples) {
				printf("   %s: round %u: no window was opened (%.0f samples); round left out\n",
				       be->name, r + 1, cr[ON].cj.samples);
				continue;
			}
			snprintf(backend_seen, sizeof(backend_seen), "%s",
				 cr[ON].cj.backend);
			/*
			 * In ops, at the alone rate of the same round. The
			 * loss per sample of one 10 s run is noisy (a few
			 * samples against the target's own spread): the
			 * always runs subtract the median over the rounds,
			 * below.
			 */
			per_sample = (cr[ALONE].w.rate * cr[OFF].w.secs -
				      cr[OFF].ops) /
				     cr[OFF].cj.samples;
			loss = cr[ALONE].w.rate * cr[ON].w.secs - cr[ON].ops;
			r_alone[n] = cr[ALONE].w.rate;
			r_loss[n] = loss;
			nwin[n] = cr[ON].cj.windows;
			/* as milliseconds of the target's whole work */
			samp_ms[n] = per_sample / cr[ALONE].w.rate * 1e3;
			win_ms[n] = cr[ON].cj.window_ms / nwin[n];
			tear_ms[n] = cr[ON].cj.teardown_ms / nwin[n];
			allocs[n] = cr[ON].cj.allocations / nwin[n];
			rlost[n] = cr[ON].cj.lost / nwin[n];
			wcpu[n] = (cr[ON].tool_cpu_s -
				   cr[ON].cj.samples * cr[OFF].tool_cpu_s /
					   cr[OFF].cj.samples) /
				  nwin[n] * 1e3;
			if (o->verbose)
				fprintf(stderr,
					"  %s round %u: %.3f / %.3f / %.3f M ops/s; %.0f / %.0f samples, %.0f windows; always lost %.0f ms in all, %.1f ms per sample (off)\n",
					be->name, r + 1, rate[ALONE][n],
					rate[OFF][n], rate[ON][n],
					samples[OFF][n], samples[ON][n],
					nwin[n], loss / r_alone[n] * 1e3,
					samp_ms[n]);
			n++;
		}
		if (!n)
			continue;
		samp_med = median(samp_ms, n);
		for (unsigned i = 0; i < n; i++) {
			double loss = r_loss[i] - samples[ON][i] * samp_med /
							  1e3 * r_alone[i];

			lost_ops[i] = loss / nwin[i] / 1e6;
			lost_ms[i] = loss / nwin[i] / r_alone[i] * 1e3;
			win_pct[i] = lost_ms[i] / 60e3 * 100;
			total_pct[i] = (lost_ms[i] + samp_med) / 60e3 * 100;
		}
		printf("   --- backend %s%s%s%s ---\n", be->name,
		       strcmp(backend_seen, be->name) ? " (the JSON says \""
						      : "",
		       strcmp(backend_seen, be->name) ? backend_seen : "",
		       strcmp(backend_seen, be->name) ? "\")" : "");
		printf("   %-26s %-27s %-7s %-8s %-11s %s\n", "",
		       "target M ops/s", "run s", "samples", "tool CPU s",
		       "cores: target/others");
		for (unsigned p = 0; p < NMODES; p++)
			printf("   %-26s %-27s %-7.1f %-8.0f %-11.2f %.2f / %.2f\n",
			       mode_name[p],
			       spread(b1, sizeof(b1), 2, rate[p], n),
			       median(secs[p], n), median(samples[p], n),
			       median(tcpu[p], n), median(tc[p], n),
			       median(oc[p], n));
		printf("   windows per run %s; per window (medians, min .. max):\n",
		       spread(b1, sizeof(b1), 0, nwin, n));
		printf("     window (probes enabled) %s ms, teardown (closing the events)\n"
		       "     %s ms (the tool's own clocks)\n",
		       spread(b1, sizeof(b1), 1, win_ms, n),
		       spread(b2, sizeof(b2), 0, tear_ms, n));
		printf("     allocations recorded %s, lost (rings full) %s\n",
		       spread(b1, sizeof(b1), 0, allocs, n),
		       spread(b2, sizeof(b2), 0, rlost, n));
		printf("     tool CPU %s ms (beyond the samples'; %ld cores)\n",
		       spread(b1, sizeof(b1), 0, wcpu, n), cores);
		printf("     the target's ops lost %s M\n"
		       "       = %s ms of its work at the alone rate (setup + window + teardown)\n",
		       spread(b1, sizeof(b1), 2, lost_ops, n),
		       spread(b2, sizeof(b2), 0, lost_ms, n));
		printf("     for comparison, one sample (--callers=off) costs it %s ms\n"
		       "       (the median is what the always runs' samples are charged)\n",
		       spread(b3, sizeof(b3), 0, samp_ms, n));
		{
			double lo, hi;

			min_max(rate[ALONE], n, &lo, &hi);
			printf("   --interval 60 with a window after every sample (--callers=always, the worst\n"
			       "     case; auto opens one only after a sample where something grew):\n"
			       "     the window %s %%, with its sample %s %%;\n"
			       "     budget <= 0.5 %% (window and sample): %s; the \"alone\" runs spread over %.0f %%\n"
			       "     of their median\n",
			       spread(b1, sizeof(b1), 3, win_pct, n),
			       spread(b2, sizeof(b2), 3, total_pct, n),
			       verdict(median(total_pct, n) <= 0.5),
			       100 * (hi - lo) / median(rate[ALONE], n));
		}
	}
	target_stop(&t);
	mon_dir_remove();
	printf("   this figure took %.0f s\n\n", now_s() - t0);
	fflush(stdout);
}

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
	if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) {
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

static void
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

/* ---- main --------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fputs("usage: bench [--only pause,stop,tput,monitor,monitor-rss,callers,window]\n"
	      "             [--runs N] [--rounds N] [--window S] [--leakattach PATH]\n"
	      "             [--targets DIR] [--mib M] [--chunks N] [--free-every K,...]\n"
	      "             [--arenas T] [--storm-threads N]\n"
	      "             [--churn-mib M] [--rss-mib M] [--rss-seconds S]\n"
	      "             [--rss-interval S] [--tool-arg ARG]... [--wrap 'CMD ARGS']\n"
	      "             [--hold] [-v]\n"
	      "  --only LIST       parts to run (default all): pause (pause and peak RSS;\n"
	      "                    also called rss), stop (stop latency), tput (throughput\n"
	      "                    with snapshots), monitor (throughput under `leakattach\n"
	      "                    monitor`, about 3 minutes), monitor-rss (the monitor's\n"
	      "                    own RSS over a long run, about 70 s), callers (the\n"
	      "                    cost of one --callers sampling window per backend,\n"
	      "                    its setup and teardown included, about 3 minutes),\n"
	      "                    window (the same, around one `leakattach check` per\n"
	      "                    backend, thread count and tracefs state; needs\n"
	      "                    root for unshare -m; about 3 minutes)\n"
	      "  --runs N          runs per figure (default 5)\n"
	      "  --rounds N        throughput rounds, tput, monitor, callers (default 5);\n"
	      "                    window: trials of each kind (default 7)\n"
	      "  --window S        seconds per throughput window (default 10; at least 10,\n"
	      "                    so that the every-10-s window holds a snapshot); callers:\n"
	      "                    the monitor's --duration\n"
	      "  --leakattach PATH the tool (default ./leakattach)\n"
	      "  --targets DIR     where bigheap, threads, storm and churn are (default:\n"
	      "                    beside bench)\n"
	      "  --mib M, --chunks N  the big heap (default 1024 MiB in about 5000000\n"
	      "                    chunks)\n"
	      "  --free-every K,.. heap shapes to measure: every K-th chunk freed, 0 for\n"
	      "                    none (default 0,16)\n"
	      "  --arenas T        pause: the last of those shapes again, built by T\n"
	      "                    threads in arenas of their own (default 8; 0: not)\n"
	      "  --storm-threads N threads of storm and churn (default 4)\n"
	      "  --churn-mib M     pause (the busy heap), monitor, callers: churn's heap\n"
	      "                    (default 100 MiB)\n"
	      "  --rss-mib M       monitor-rss: bigheap's heap (default 128 MiB)\n"
	      "  --rss-seconds S   monitor-rss: the monitor's --duration (default 60)\n"
	      "  --rss-interval S  monitor-rss: the monitor's --interval (default 0.1)\n"
	      "  --tool-arg ARG    one more argument for leakattach (e.g. --no-debuginfo)\n"
	      "  --wrap 'CMD'      run the tool under CMD (e.g. 'perf stat -d'); ru_maxrss\n"
	      "                    is then CMD's\n"
	      "  --hold            build the (first) big heap, print its PID and wait for\n"
	      "                    Enter, to profile by hand: bench --hold --free-every 16\n"
	      "  -v                every snapshot and run on stderr\n",
	      f);
}

static unsigned
parse_only(const char *s)
{
	unsigned m = 0;
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "pause") || !strcmp(tok, "rss"))
			m |= ONLY_PAUSE;
		else if (!strcmp(tok, "stop"))
			m |= ONLY_STOP;
		else if (!strcmp(tok, "tput") || !strcmp(tok, "throughput"))
			m |= ONLY_TPUT;
		else if (!strcmp(tok, "monitor"))
			m |= ONLY_MONITOR;
		else if (!strcmp(tok, "monitor-rss"))
			m |= ONLY_MONITOR_RSS;
		else if (!strcmp(tok, "callers"))
			m |= ONLY_CALLERS;
		else if (!strcmp(tok, "window"))
			m |= ONLY_WINDOW;
		else {
			usage(stderr);
			exit(64);
		}
	}
	return m;
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.tool = "./leakattach",
		.runs = 5,
		.rounds = 5,
		.win_rounds = 7,
		.window = 10,
		.mib = 1024,
		.chunks = 5000000,
		.free_every = {0, 16},
		.n_shapes = 2,
		.arenas = 8,
		.storm_threads = 4,
		.churn_mib = 100,
		.rss_mib = 128,
		.rss_seconds = 60,
		.rss_interval = 0.1,
		.only = ONLY_PAUSE | ONLY_STOP | ONLY_TPUT | ONLY_MONITOR |
			ONLY_MONITOR_RSS | ONLY_CALLERS | ONLY_WINDOW,
	};
	const char *slash;
	double t0 = now_s();

	slash = strrchr(argv[0], '/');
	if (slash)
		snprintf(o.dir, sizeof(o.dir), "%.*s", (int)(slash - argv[0]),
			 argv[0]);
	else
		snprintf(o.dir, sizeof(o.dir), "bench");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define TAKES_VALUE                    \
	do {                           \
		if (!v) {              \
			usage(stderr); \
			return 64;     \
		}                      \
		i++;                   \
	} while (0)
		if (!strcmp(a, "--only")) {
			TAKES_VALUE;
			o.only = parse_only(v);
		} else if (!strcmp(a, "--runs")) {
			TAKES_VALUE;
			o.runs = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--rounds")) {
			TAKES_VALUE;
			o.rounds = (unsigned)strtoul(v, NULL, 10);
			o.win_rounds = o.rounds;
		} else if (!strcmp(a, "--window")) {
			TAKES_VALUE;
			o.window = strtod(v, NULL);
		} else if (!strcmp(a, "--leakattach")) {
			TAKES_VALUE;
			o.tool = v;
		} else if (!strcmp(a, "--targets")) {
			TAKES_VALUE;
			snprintf(o.dir, sizeof(o.dir), "%s", v);
		} else if (!strcmp(a, "--mib")) {
			TAKES_VALUE;
			o.mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--chunks")) {
			TAKES_VALUE;
			o.chunks = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--free-every")) {
			char *end;

			TAKES_VALUE;
			o.n_shapes = 0;
			for (const char *q = v; *q && o.n_shapes < MAX_SHAPES;
			     q = *end ? end + 1 : end) {
				o.free_every[o.n_shapes++] =
					strtoull(q, &end, 0);
				if (end == q)
					break;
			}
		} else if (!strcmp(a, "--arenas")) {
			TAKES_VALUE;
			o.arenas = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--storm-threads")) {
			TAKES_VALUE;
			o.storm_threads = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--churn-mib")) {
			TAKES_VALUE;
			o.churn_mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--rss-mib")) {
			TAKES_VALUE;
			o.rss_mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--rss-seconds")) {
			TAKES_VALUE;
			o.rss_seconds = strtod(v, NULL);
		} else if (!strcmp(a, "--rss-interval")) {
			TAKES_VALUE;
			o.rss_interval = strtod(v, NULL);
		} else if (!strcmp(a, "--tool-arg")) {
			TAKES_VALUE;
			if (o.n_tool_args < MAX_ARGS)
				o.tool_args[o.n_tool_args++] = argv[i];
		} else if (!strcmp(a, "--wrap")) {
			char *s, *tok, *save;

			TAKES_VALUE;
			s = strdup(v);
			for (tok = strtok_r(s, " ", &save);
			     tok && o.n_wrap < MAX_ARGS;
			     tok = strtok_r(NULL, " ", &save))
				o.wrap[o.n_wrap++] = tok;
		} else if (!strcmp(a, "--hold")) {
			o.hold = 1;
			o.only = ONLY_PAUSE;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o.verbose = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 64;
		}
#undef TAKES_VALUE
	}
	if (!o.runs || o.runs > MAX_RUNS || !o.rounds || !o.n_shapes ||
	    o.arenas > 64 || /* bench/bigheap's MAX_THREADS */
	    !o.win_rounds || o.win_rounds > MAX_ROUNDS ||
	    o.rounds > MAX_ROUNDS || o.window < 10 || !o.storm_threads ||
	    !o.churn_mib || !o.rss_mib || o.rss_seconds < 20 ||
	    o.rss_seconds > 3600 || o.rss_interval < 0.001) {
		usage(stderr);
		return 64;
	}
	if (access(o.tool, X_OK))
		die("%s: %s (build it first, or pass --leakattach PATH)",
		    o.tool, strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	atexit(mon_dir_remove);
	atexit(pause_dirs_remove);
	print_machine(&o);
	if (o.only & ONLY_PAUSE)
		bench_pause(&o);
	if (o.only & ONLY_STOP)
		bench_stop(&o);
	if (o.only & ONLY_TPUT)
		bench_tput(&o);
	if (o.only & ONLY_MONITOR)
		bench_monitor(&o);
	if (o.only & ONLY_MONITOR_RSS)
		bench_monitor_rss(&o);
	if (o.only & ONLY_CALLERS)
		bench_callers(&o);
	if (o.only & ONLY_WINDOW)
		bench_window(&o);
	printf("benchmark took %.0f s\n", now_s() - t0);
	return 0;
}
