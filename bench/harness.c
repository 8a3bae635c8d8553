/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.c - what the figures of the benchmark share (see harness.h, and
 * bench.c for what each figure measures): statistics, the bench targets,
 * leakattach run as a child, the target's throughput counters, the
 * monitor's log folder and history, the callers part of the tool's JSON.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- small helpers ------------------------------------------------------ */

void
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

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
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

double
median(const double *v, unsigned n)
{
	static double s[MAX_MODEL];

	if (!n || n > MAX_MODEL)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

void
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
const char *
spread(char *buf, size_t len, int prec, const double *v, unsigned n)
{
	double lo, hi;

	min_max(v, n, &lo, &hi);
	snprintf(buf, len, "%.*f  (%.*f .. %.*f)", prec, median(v, n), prec, lo,
		 prec, hi);
	return buf;
}

const char *
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
void
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
void
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
int targets_setsid;

/* One line from the target, without its newline; -1 on EOF or timeout. */
int
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

void
target_start(struct target *t, const struct opts *o, const char *const argv[],
	     double timeout_s)
{
	int in[2], out[2];
	char path[PATH_MAX + 64];

	memset(t, 0, sizeof(*t));
	/* a program of ours is in o->dir; an absolute path is the system's */
	if (argv[0][0] == '/')
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
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
void
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

unsigned long long
ready_field(const struct target *t, const char *key)
{
	const char *p = strstr(t->ready, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* ---- running leakattach ------------------------------------------------- */

int
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
void
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
void
tool_snapshot(const struct opts *o, pid_t pid, const char *extra, struct run *r)
{
	tool_run(o, pid, extra, NULL, NULL, r);
}

/* ---- the machine -------------------------------------------------------- */

void
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

/* ---- the target's throughput (bench/storm, bench/churn) ----------------- */

void
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
double
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
double
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

void
win_begin(struct target *t, struct win_mark *m)
{
	storm_count(t, &m->ops, &m->ns);
	m->busy = machine_busy_s();
	m->tcpu = process_cpu_s(t->pid);
}

/* The window since m; tool_s: CPU the tool took meanwhile, not "others". */
struct win
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

/* ---- leakattach monitor (figures 5, 6 and 7; 8 uses its folder) -------- */

/*
 * `leakattach monitor` is one long-running process: it keeps a session and
 * the leak tracker between samples, and writes every sample to its log
 * folder. The figures give it a temporary log folder (removed at exit)
 * and LEAKATTACH_CONFIG= (empty) so that no configuration file is read.
 */
char mon_dir[PATH_MAX]; /* the temporary log folder, if any */

void
mon_dir_remove(void)
{
	tmpdir_remove(mon_dir);
}

void
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
pid_t
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
void
monitor_reap(pid_t child, struct rusage *ru)
{
	int st;

	while (wait4(child, &st, 0, ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	/* 0 no leak, 1 leak, 3 undecided (too few samples): all verdicts */
	if (!WIFEXITED(st) || (WEXITSTATUS(st) > 1 && WEXITSTATUS(st) != 3))
		die("`leakattach monitor` failed (status %#x); see its message above",
		    st);
}

double
ru_cpu_s(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/*
 * Count the lines of the target's history; with h->pause wanted, keep the
 * pause of lines from..end. A sample line, from the tool (abridged):
 *   {"time_unix_ms":...,"command":"monitor","sample":2,"consistent":true,
 *    ...,"pause_ms":36.060,"leaks":0,"retention":0,"growing":173}
 */
void
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

/* ---- the callers part of the tool's JSON -------------------------------- */

char *
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
int
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
