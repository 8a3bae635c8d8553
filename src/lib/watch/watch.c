/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c - a program that watches itself (la_watch_*, leakattach.h;
 * doc/design/watch.md). A process cannot ptrace itself, and a tracer in
 * the program's own memory would stop with it, so the program forks a
 * watcher that executes `leakattach monitor -p PROGRAM --watch-fd 3`:
 * the samples, the rule and everything written to the log folder are the
 * tool's own. Descriptor 3 is one end of a socket pair: a byte from here
 * asks for a verdict now; the tool writes a line after every sample
 * (src/cli/watch_fd.c gives the format). The watcher's stderr is a pipe
 * kept here for la_errmsg(); its stdin and stdout are /dev/null.
 *
 * Before it executes the tool, the child asks for SIGKILL when its parent
 * thread dies (PR_SET_PDEATHSIG), then waits for a byte that the parent
 * sends once it has declared the child its ptracer (PR_SET_PTRACER), and
 * checks that its parent is still the program (a parent that died before
 * the death signal was asked for would send nothing: end of file). Only
 * async-signal-safe calls run between fork() and execv(): the program may
 * have threads.
 *
 * One reader thread reads both descriptors. It keeps the latest report,
 * wakes la_watch_check(), and calls the program's callback for each new
 * leak, outside the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/abi.h"
#include "base/error.h"

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

/* Findings per report, as the tool writes them (watch_fd.c). */
#define FINDINGS_MAX 32
/* How long la_watch_start() waits for the first sample, and a check. */
#define FIRST_SAMPLE_MS 120000
#define CHECK_MS 120000
/* The watcher's last message kept for la_errmsg(). */
#define ERR_MAX 512

struct la_watch_report {
	struct la_watch_report_info info;
	unsigned long req; /* requests the watcher had read (watch_fd.c) */
	struct la_watch_finding f[FINDINGS_MAX];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running; /* between start and stop */
	pid_t watcher;
	int fd; /* the socket: requests out, lines in */
	int errfd; /* the watcher's stderr */
	pthread_t reader;
	unsigned long sent; /* requests written */
	struct la_watch_report latest;
	int have_latest;
	int ended; /* the watcher's channel reached its end */
	char err[ERR_MAX]; /* its last message */
	la_watch_fn fn;
	void *user;
} W = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.fd = -1,
	.errfd = -1,
};

/* Parse one line of watch_fd.c; 0 or -EPROTO. */
static int
parse_line(char *line, struct la_watch_report *r)
{
	char verdict[16];
	unsigned long long in_use;
	long long t;
	unsigned n;
	int used = 0;
	char *p;

	memset(r, 0, sizeof(*r));
	if (sscanf(line, "sample %lu %u %15s %llu %lld %u%n", &r->req,
		   &r->info.samples, verdict, &in_use, &t, &n, &used) != 6)
		return -EPROTO;
	if (!strcmp(verdict, "leak"))
		r->info.verdict = LA_WATCH_LEAK;
	else if (!strcmp(verdict, "undecided"))
		r->info.verdict = LA_WATCH_UNDECIDED;
	else
		r->info.verdict = LA_WATCH_NO_LEAK;
	r->info.heap_in_use_bytes = in_use;
	r->info.time_unix_ns = t;
	p = line + used;
	for (unsigned i = 0; i < n && i < FINDINGS_MAX && *p == '\t'; i++) {
		struct la_watch_finding *f = &r->f[r->info.findings];
		int kind, state, is_new, k = 0;
		unsigned long long u, g;
		double bph;
		char *end;

		p++;
		if (sscanf(p, "%d:%d:%d:%llu:%llu:%lf:%n", &kind, &state,
			   &is_new, &u, &g, &bph, &k) != 6 ||
		    !k)
			return -EPROTO;
		f->kind = (enum la_location_kind)kind;
		f->state = (enum la_verdict)state;
		f->is_new = is_new;
		f->in_use_bytes = u;
		f->growth_bytes = g;
		f->bytes_per_hour = bph;
		p += k;
		end = strchr(p, '\t');
		if (!end)
			end = p + strlen(p);
		snprintf(f->location, sizeof(f->location), "%.*s",
			 (int)(end - p), p);
		p = end;
		r->info.findings++;
	}
	return 0;
}

/* Keep the last line of the watcher's stderr; 0 at its end. */
static int
read_err(char *buf, size_t *len)
{
	char chunk[256];
	ssize_t n = read(W.errfd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return 0;
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n') {
			if (*len) {
				pthread_mutex_lock(&W.mu);
				snprintf(W.err, sizeof(W.err), "%.*s",
					 (int)*len, buf);
				pthread_mutex_unlock(&W.mu);
			}
			*len = 0;
		} else if (*len + 1 < ERR_MAX) {
			buf[(*len)++] = chunk[i];
		}
	}
	return 1;
}

/* A line: the latest report, the waiters woken, the callback called. */
static void
take_line(char *line)
{
	static struct la_watch_report r;
	la_watch_fn fn;
	unsigned before;

	if (parse_line(line, &r))
		return;
	r.info.watcher = W.watcher;
	pthread_mutex_lock(&W.mu);
	before = W.have_latest ? W.latest.info.samples : 0;
	W.latest = r;
	W.have_latest = 1;
	fn = W.fn;
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
	/* a request answered by the latest sample repeats its line */
	if (!fn || r.info.samples == before)
		return;
	for (unsigned i = 0; i < r.info.findings; i++)
		if (r.f[i].is_new && r.f[i].state == LA_VERDICT_LEAK)
			fn(&r, &r.f[i], W.user);
}

/* Wait for the watcher; ECHILD when the program's handler reaped it. */
static void
reap(pid_t pid)
{
	pid_t r;

	do
		r = waitpid(pid, NULL, 0);
	while (r < 0 && errno == EINTR);
}

static void *
reader(void *arg)
{
	/* lines are bounded by FINDINGS_MAX findings of about 140 bytes */
	static char line[FINDINGS_MAX * 160 + 256];
	static char errbuf[ERR_MAX];
	size_t len = 0, elen = 0;
	int err_open = 1;

	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{W.fd, POLLIN, 0}, {W.errfd, POLLIN, 0}};
		ssize_t n;
		int r;

		r = poll(p, err_open ? 2 : 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (err_open && p[1].revents)
			err_open = read_err(errbuf, &elen);
		if (!p[0].revents)
			continue;
		n = read(W.fd, line + len, sizeof(line) - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		for (;;) {
			char *nl = memchr(line, '\n', len);
			size_t used;

			if (!nl) {
				if (len == sizeof(line) - 1)
					len = 0; /* no such line: dropped */
				break;
			}
			*nl = '\0';
			take_line(line);
			used = (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len - used);
			len -= used;
		}
	}
	/* the watcher's last words come after its channel's end */
	while (err_open) {
		struct pollfd p = {W.errfd, POLLIN, 0};

		if (poll(&p, 1, 2000) <= 0)
			break;
		err_open = read_err(errbuf, &elen);
	}
	/* its end: reaped here, so no zombie waits for la_watch_stop() */
	reap(W.watcher);
	pthread_mutex_lock(&W.mu);
	if (elen)
		snprintf(W.err, sizeof(W.err), "%.*s", (int)elen, errbuf);
	W.watcher = 0;
	W.ended = 1;
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* The argument list, built before fork(): the child may not allocate. */
struct args {
	char *v[24];
	char num[6][48];
};

static void
build_args(const struct la_watch_opts *o, const char *path, pid_t self,
	   struct args *a)
{
	int i = 0;

	a->v[i++] = (char *)path;
	a->v[i++] = (char *)"monitor";
	snprintf(a->num[0], sizeof(a->num[0]), "%d", (int)self);
	a->v[i++] = (char *)"-p";
	a->v[i++] = a->num[0];
	a->v[i++] = (char *)"--watch-fd";
	a->v[i++] = (char *)"3";
	/* its stdout is /dev/null: no line per sample to write there */
	a->v[i++] = (char *)"--quiet";
	if (o->interval_s > 0) {
		snprintf(a->num[1], sizeof(a->num[1]), "%.6f", o->interval_s);
		a->v[i++] = (char *)"--interval";
		a->v[i++] = a->num[1];
	}
	if (o->threshold_pct > 0) {
		snprintf(a->num[2], sizeof(a->num[2]), "%.6g",
			 o->threshold_pct);
		a->v[i++] = (char *)"--threshold";
		a->v[i++] = a->num[2];
	}
	if (o->consecutive) {
		snprintf(a->num[3], sizeof(a->num[3]), "%u", o->consecutive);
		a->v[i++] = (char *)"--consecutive";
		a->v[i++] = a->num[3];
	}
	if (o->min_size) {
		snprintf(a->num[4], sizeof(a->num[4]), "%llu",
			 (unsigned long long)o->min_size);
		a->v[i++] = (char *)"--min-size";
		a->v[i++] = a->num[4];
	}
	if (o->log_dir) {
		a->v[i++] = (char *)"--log-dir";
		a->v[i++] = (char *)o->log_dir;
	}
	if (o->metrics_file) {
		a->v[i++] = (char *)"--metrics";
		a->v[i++] = (char *)o->metrics_file;
	}
	a->v[i] = NULL;
}

/* A message of the child's own, before the tool runs (no stdio). */
static void
child_say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		return;
}

/* In the child: async-signal-safe calls only, then the tool. */
static void __attribute__((noreturn))
child(int sock, int errw, pid_t parent, const struct args *a)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;
	char go;

	/*
	 * SIGKILL: the one signal a program's SIG_IGN (inherited across
	 * execv()) cannot keep out; a watcher killed mid-sample leaves the
	 * program running (doc/design/stopping.md).
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	dup2(errw, 2);
	if (sock == 3)
		fcntl(3, F_SETFD, 0);
	else
		dup2(sock, 3);
	syscall(SYS_close_range, 4u, ~0u, 0u);
	/* the program's signal mask is not the tool's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (read(3, &go, 1) != 1 || getppid() != parent)
		_exit(0);
	execv(a->v[0], a->v);
	child_say("leakattach: la_watch_start: cannot execute ");
	child_say(a->v[0]);
	child_say("\n");
	_exit(127);
}

static void
reset_state(void)
{
	if (W.fd >= 0)
		close(W.fd);
	if (W.errfd >= 0)
		close(W.errfd);
	W.fd = W.errfd = -1;
	W.watcher = 0;
	W.running = 0;
	W.have_latest = 0;
	W.ended = 0;
	W.sent = 0;
	W.err[0] = '\0';
	W.fn = NULL;
	W.user = NULL;
}

/*
 * End the watch: the end of file ends the watcher's run after its
 * current sample (sig 0), or sig ends it at once; the reader reaps it.
 */
static void
finish(int sig)
{
	pthread_mutex_lock(&W.mu);
	if (sig && W.watcher > 0)
		kill(W.watcher, sig);
	pthread_mutex_unlock(&W.mu);
	shutdown(W.fd, SHUT_RDWR);
	pthread_join(W.reader, NULL);
	prctl(PR_SET_PTRACER, 0, 0, 0, 0);
	pthread_mutex_lock(&W.mu);
	reset_state();
	pthread_mutex_unlock(&W.mu);
}

/* The deadline ms from now, for pthread_cond_timedwait(). */
static struct timespec
deadline(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Why the watcher ended, for la_errmsg(); W.mu held. */
static int
ended_error(void)
{
	return la_fail(-EPIPE, "the leakattach watcher ended%s%s",
		       W.err[0] ? ": " : "", W.err);
}

/*
 * fork() by the program: the child has no watch (its copies of the
 * descriptors closed, so that the program's death still ends the
 * watcher's socket), and W.mu is not held across the fork.
 */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&W.mu);
}

static void
fork_parent(void)
{
	pthread_mutex_unlock(&W.mu);
}

static void
fork_child(void)
{
	if (W.running) {
		reset_state();
		memset(&W.reader, 0, sizeof(W.reader));
	}
	pthread_mutex_unlock(&W.mu);
}

static void
register_fork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int
la_watch_start(const struct la_watch_opts *opts)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	struct la_watch_opts o = {0};
	const char *path;
	struct args a;
	pid_t self = getpid(), pid;
	int sv[2], ep[2], err;
	struct timespec until;

	la_error_clear();
	err = OPTS_TAKE(&o, opts, la_watch_opts);
	if (err)
		return err;
	if (o.interval_s < 0 || o.threshold_pct < 0)
		return la_fail(
			-EINVAL,
			"la_watch_opts: interval_s and threshold_pct must not be negative");
	path = o.leakattach_path;
	if (!path || !*path)
		path = secure_getenv("LEAKATTACH");
	if (!path || !*path)
		path = LA_BINDIR "/leakattach";
	pthread_once(&once, register_fork);
	pthread_mutex_lock(&W.mu);
	if (W.running) {
		pthread_mutex_unlock(&W.mu);
		return la_fail(-EALREADY, "a watch is already running");
	}
	reset_state();
	W.running = 1;
	W.fn = o.on_finding;
	W.user = o.user;
	pthread_mutex_unlock(&W.mu);
	build_args(&o, path, self, &a);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = la_fail(-errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(ep, O_CLOEXEC)) {
		err = la_fail(-errno, "pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err = la_fail(-errno, "cannot fork the watcher: %s",
			      strerror(errno));
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		goto fail;
	}
	if (pid == 0)
		child(sv[1], ep[1], self, &a);
	close(sv[1]);
	close(ep[1]);
	W.fd = sv[0];
	W.errfd = ep[0];
	W.watcher = pid;
	/*
	 * Yama's ptrace_scope 1 lets a process trace only its descendants
	 * and the processes that declared it: the watcher is our child. No
	 * Yama (EINVAL): any process of ours may trace us already.
	 */
	if (prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0) &&
	    errno != EINVAL) {
		err = la_fail(-errno, "prctl(PR_SET_PTRACER): %s",
			      strerror(errno));
		goto fail_child;
	}
	if (send(W.fd, "g", 1, MSG_NOSIGNAL) != 1) {
		err = la_fail(-EPIPE, "the watcher did not start");
		goto fail_child;
	}
	err = pthread_create(&W.reader, NULL, reader, NULL);
	if (err) {
		err = la_fail(-err, "cannot start the reader thread: %s",
			      strerror(err));
		goto fail_child;
	}
	/* the first sample: a refusal (ptrace, options) is an error now */
	until = deadline(FIRST_SAMPLE_MS);
	pthread_mutex_lock(&W.mu);
	err = 0;
	while (!W.have_latest && !W.ended && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&W.cv, &W.mu, &until);
	if (W.have_latest) {
		pthread_mutex_unlock(&W.mu);
		return 0;
	}
	err = W.ended ? la_fail(-EPERM,
				"the leakattach watcher (%s) failed%s%s", path,
				W.err[0] ? ": " : "", W.err)
		      : la_fail(-ETIMEDOUT,
				"the leakattach watcher took no sample in %u s",
				FIRST_SAMPLE_MS / 1000);
	pthread_mutex_unlock(&W.mu);
	/* a watcher that took no sample in time is stuck: SIGKILL is safe */
	finish(SIGKILL);
	return err;

fail_child:
	/* before the go byte or its reader: it has not run leakattach */
	kill(pid, SIGKILL);
	reap(pid);
	prctl(PR_SET_PTRACER, 0, 0, 0, 0);
fail:
	pthread_mutex_lock(&W.mu);
	reset_state();
	pthread_mutex_unlock(&W.mu);
	return err;
}

int
la_watch_check(struct la_watch_report **out)
{
	struct timespec until = deadline(CHECK_MS);
	struct la_watch_report *r;
	unsigned long mine;
	int err = 0;

	la_error_clear();
	*out = NULL;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_lock(&W.mu);
	if (!W.running) {
		pthread_mutex_unlock(&W.mu);
		free(r);
		return la_fail(-ESRCH, "no watch is running (la_watch_start)");
	}
	if (pthread_equal(pthread_self(), W.reader)) {
		pthread_mutex_unlock(&W.mu);
		free(r);
		return la_fail(
			-EDEADLK,
			"la_watch_check() cannot be called from the callback");
	}
	if (W.ended) {
		err = ended_error();
		pthread_mutex_unlock(&W.mu);
		free(r);
		return err;
	}
	mine = ++W.sent;
	if (send(W.fd, "c", 1, MSG_NOSIGNAL) != 1) {
		/* the reader sees the end too */
		while (!W.ended)
			pthread_cond_wait(&W.cv, &W.mu);
	}
	while (!W.ended && W.latest.req < mine && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&W.cv, &W.mu, &until);
	if (W.latest.req >= mine) {
		*r = W.latest;
		pthread_mutex_unlock(&W.mu);
		*out = r;
		return 0;
	}
	err = W.ended ? ended_error()
		      : la_fail(-ETIMEDOUT,
				"the leakattach watcher did not answer in %u s",
				CHECK_MS / 1000);
	pthread_mutex_unlock(&W.mu);
	free(r);
	return err;
}

void
la_watch_report_info(const struct la_watch_report *r,
		     struct la_watch_report_info *out, size_t out_sz)
{
	out_give(out, out_sz, &r->info, sizeof(r->info));
}

unsigned
la_watch_finding_count(const struct la_watch_report *r)
{
	return r->info.findings;
}

int
la_watch_finding(const struct la_watch_report *r, unsigned i,
		 struct la_watch_finding *out, size_t out_sz)
{
	return list_give(r->f, r->info.findings, sizeof(r->f[0]), i, out,
			 out_sz);
}

void
la_watch_report_free(struct la_watch_report *r)
{
	free(r);
}

void
la_watch_stop(void)
{
	pthread_mutex_lock(&W.mu);
	if (!W.running || pthread_equal(pthread_self(), W.reader)) {
		pthread_mutex_unlock(&W.mu);
		return;
	}
	pthread_mutex_unlock(&W.mu);
	finish(0);
}
