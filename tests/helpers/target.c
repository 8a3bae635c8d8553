/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target.c - start and drive test target processes and run commands with
 * captured output, for the Criterion tests. See target.h.
 *
 * Children are started with fork and exec; an exec failure travels back to
 * the parent through a close-on-exec pipe, so callers get -ENOENT instead
 * of a child that exits 127. Every descriptor this file opens is
 * close-on-exec, so one target never holds another one's pipes open.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <leakattach.h>

#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHILD_EXEC_FAILED 127

/* ---- small utilities ------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none), at least 0. */
static int time_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Move a close-on-exec descriptor above the standard ones. */
static int fd_above_std(int fd)
{
	int nfd;

	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return nfd < 0 ? -errno : nfd;
}

/* A close-on-exec pipe whose two ends are both above fd 2. */
static int make_pipe(int p[2])
{
	int i, err;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		int fd = fd_above_std(p[i]);

		if (fd < 0) {
			err = fd;
			if (i == 0)
				close(p[1]);
			else
				close(p[0]);
			p[0] = p[1] = -1;
			return err;
		}
		p[i] = fd;
	}
	return 0;
}

int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -EINVAL;
}

/*
 * Reap pid, waiting until deadline (-1: forever), looking every step_ms.
 * Ptrace stops (when the caller happens to be the tracer) are skipped.
 * Returns the status code, -ETIMEDOUT or -errno.
 */
static int reap_every(pid_t pid, int64_t deadline, int step_ms)
{
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, deadline < 0 ? 0 : WNOHANG);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == pid && (WIFEXITED(st) || WIFSIGNALED(st)))
			return status_code(st);
		if (r == 0) {
			int left = time_left(deadline);

			if (left == 0)
				return -ETIMEDOUT;
			sleep_ms(left < step_ms ? left : step_ms);
		}
	}
}

static int reap(pid_t pid, int64_t deadline)
{
	return reap_every(pid, deadline, 10);
}

/* SIGKILL pid and reap it, however long that takes. */
static int kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	return reap(pid, -1);
}

/*
 * environ minus the variables named in extra, plus extra. An entry of
 * extra without '=' only removes its variable. The strings are shared.
 */
static char **make_env(const char *const extra[])
{
	size_t n = 0, m = 0, k = 0, i, j;
	char **env;

	while (environ && environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++) {
		int replaced = 0;

		for (j = 0; j < m && !replaced; j++) {
			size_t klen = strcspn(extra[j], "=");

			replaced = !strncmp(environ[i], extra[j], klen) &&
				   environ[i][klen] == '=';
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		if (strchr(extra[j], '='))
			env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

/* The child's side of spawn(): never returns. */
static void __attribute__((noreturn)) child_exec(pid_t parent, int errfd,
						 const char *path,
						 char *const argv[],
						 char *const envp[],
						 const int fds[3], int search)
{
	sigset_t none;
	int err, i;

	/* Die with the thread that started us. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(CHILD_EXEC_FAILED);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * The default actions, as from a shell: a test runner started in
	 * the background ignores SIGINT, and a program a test interrupts
	 * must not inherit that.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0 && dup2(fds[i], i) < 0)
			break;
	}
	if (i == 3) {
		if (search)
			execvpe(path, argv, envp);
		else
			execve(path, argv, envp);
	}
	err = errno;
	while (write(errfd, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(CHILD_EXEC_FAILED);
}

/*
 * fork and exec. fds[0..2] become the child's stdin, stdout and stderr
 * (-1: inherited); they must be above fd 2. With search, a path without a
 * slash is looked up in PATH. Returns the pid or -errno.
 */
static pid_t spawn(const char *path, char *const argv[], char *const envp[],
		   const int fds[3], int search)
{
	pid_t parent = getpid(), pid;
	int errp[2], err;
	ssize_t n;

	err = make_pipe(errp);
	if (err < 0)
		return err;

	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (pid == 0)
		child_exec(parent, errp[1], path, argv, envp, fds, search);

	close(errp[1]);
	do
		n = read(errp[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(errp[0]);
	if (n == (ssize_t)sizeof(err)) {
		reap(pid, -1);
		return -(err ? err : ENOEXEC);
	}
	return pid;
}

/* ---- targets --------------------------------------------------------- */

const char *target_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("LA_TARGETS_DIR");
	int n;

	if (!dir || !*dir)
		dir = "tests/targets";
	if (name[0] == '/') /* a program nobody here wrote */
		n = snprintf(buf, len, "%s", name);
	else
		n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len)
		return NULL;
	return buf;
}

int target_start(struct target *t, const char *name, const char *const argv[],
		 const char *const env[])
{
	char path[4096];
	char **args = NULL, **envp = NULL;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	int fds[3], err;
	size_t n = 0, i;
	pid_t pid;

	memset(t, 0, sizeof(*t));
	t->to_fd = t->from_fd = -1;

	if (!target_path(name, path, sizeof(path)))
		return -ENAMETOOLONG;
	while (argv && argv[n])
		n++;
	args = calloc(n + 2, sizeof(*args));
	envp = make_env(env);
	if (!args || !envp) {
		err = -ENOMEM;
		goto out;
	}
	args[0] = (char *)name;
	for (i = 0; i < n; i++)
		args[i + 1] = (char *)argv[i];

	err = make_pipe(to);
	if (err < 0)
		goto out;
	err = make_pipe(from);
	if (err < 0)
		goto out;

	fds[0] = to[0];
	fds[1] = from[1];
	fds[2] = -1;
	pid = spawn(path, args, envp, fds, 0);
	if (pid < 0) {
		err = pid;
		goto out;
	}
	t->pid = pid;
	t->to_fd = to[1];
	t->from_fd = from[0];
	to[1] = from[0] = -1;
	err = 0;
out:
	close_fd(&to[0]);
	close_fd(&to[1]);
	close_fd(&from[0]);
	close_fd(&from[1]);
	free(args);
	free(envp);
	return err;
}

/* Move the first len bytes of rbuf into line, dropping skip more. */
static void take_line(struct target *t, size_t len, size_t skip)
{
	size_t copy = len < sizeof(t->line) - 1 ? len : sizeof(t->line) - 1;

	memcpy(t->line, t->rbuf, copy);
	t->line[copy] = '\0';
	if (copy > 0 && t->line[copy - 1] == '\r')
		t->line[copy - 1] = '\0';
	memmove(t->rbuf, t->rbuf + len + skip, t->rlen - len - skip);
	t->rlen -= len + skip;
}

int target_read_line(struct target *t, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(t->rbuf, '\n', t->rlen);
		struct pollfd pfd;
		ssize_t n;
		int r;

		if (nl) {
			take_line(t, (size_t)(nl - t->rbuf), 1);
			return 0;
		}
		if (t->rlen == sizeof(t->rbuf)) {
			/* No newline in a full buffer: hand it out as is. */
			take_line(t, t->rlen, 0);
			return 0;
		}
		if (t->from_fd < 0)
			return -EPIPE;

		pfd.fd = t->from_fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, time_left(deadline));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;

		n = read(t->from_fd, t->rbuf + t->rlen,
			 sizeof(t->rbuf) - t->rlen);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (t->rlen == 0)
				return -EPIPE;
			take_line(t, t->rlen, 0); /* last line, no newline */
			return 0;
		}
		t->rlen += (size_t)n;
	}
}

/* write() that reports EPIPE instead of raising SIGPIPE. */
static int write_nosigpipe(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	int was_pending, err = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}

	if (err == -EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int target_send(struct target *t, const char *cmd)
{
	size_t len = strlen(cmd);
	char *buf;
	int err;

	if (t->to_fd < 0)
		return -EPIPE;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, cmd, len);
	buf[len] = '\n';
	err = write_nosigpipe(t->to_fd, buf, len + 1);
	free(buf);
	return err;
}

static const char *const mallinfo_names[MI_NFIELDS] = {
	"arena",   "ordblks", "smblks",   "hblks",    "hblkhd",
	"usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
};

int target_parse_mallinfo(const char *line, uint64_t out[10])
{
	static const char prefix[] = "mallinfo2";
	uint64_t v[MI_NFIELDS];
	const char *p = line;
	int i;

	if (!line || strncmp(p, prefix, sizeof(prefix) - 1))
		return -EINVAL;
	p += sizeof(prefix) - 1;
	for (i = 0; i < MI_NFIELDS; i++) {
		size_t nlen = strlen(mallinfo_names[i]);
		unsigned long long x;
		char *end;

		if (*p != ' ')
			return -EINVAL;
		while (*p == ' ')
			p++;
		if (strncmp(p, mallinfo_names[i], nlen) || p[nlen] != '=')
			return -EINVAL;
		p += nlen + 1;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		x = strtoull(p, &end, 10);
		if (errno)
			return -EINVAL;
		v[i] = x;
		p = end;
	}
	while (*p == ' ' || *p == '\r' || *p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	memcpy(out, v, sizeof(v));
	return 0;
}

static int is_mallinfo_line(const char *line)
{
	return !strncmp(line, "mallinfo2 ", 10);
}

int target_wait_mallinfo(struct target *t, uint64_t out[10])
{
	int64_t deadline = now_ms() + 20000;

	for (;;) {
		int err = target_read_line(t, time_left(deadline));

		if (err < 0)
			return err;
		if (is_mallinfo_line(t->line))
			return target_parse_mallinfo(t->line, out);
	}
}

/* proc_status_field() on a status file given by its path. */
static int status_file_field(const char *path, const char *field, char *buf,
			     size_t len)
{
	char data[16384];
	size_t flen = strlen(field), got = 0;
	char *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	for (;;) {
		ssize_t n = read(fd, data + got, sizeof(data) - 1 - got);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			return err == ENOENT ? -ESRCH : -err;
		}
		if (n == 0 || got + (size_t)n == sizeof(data) - 1) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';

	for (p = data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t vlen;
		char *val;

		if (strncmp(p, field, flen) || p[flen] != ':')
			continue;
		val = p + flen + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		vlen = strcspn(val, "\n");
		if (len == 0)
			return -ENAMETOOLONG;
		if (vlen >= len) {
			memcpy(buf, val, len - 1);
			buf[len - 1] = '\0';
			return -ENAMETOOLONG;
		}
		memcpy(buf, val, vlen);
		buf[vlen] = '\0';
		return 0;
	}
	return -ENOENT;
}

int proc_status_field(pid_t pid, const char *field, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return status_file_field(path, field, buf, len);
}

/* How long a thread may take to re-enter its job control stop. */
#define SETTLE_MS 5000

/*
 * Check one thread; fills t->line and returns < 0 when it is harmed,
 * -EINPROGRESS when it should be stopped and is R (runnable).
 */
static int check_task(struct target *t, pid_t tid, int expect_stopped)
{
	char path[96], state[64], tracer[32];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)t->pid,
		 (int)tid);
	err = status_file_field(path, "State", state, sizeof(state));
	if (!err)
		err = status_file_field(path, "TracerPid", tracer,
					sizeof(tracer));
	if (err == -ESRCH)
		return 0; /* the thread has just exited */
	if (err < 0) {
		snprintf(t->line, sizeof(t->line), "cannot read %s: %s", path,
			 strerror(-err));
		return err;
	}
	if (strcmp(tracer, "0")) {
		snprintf(t->line, sizeof(t->line),
			 "thread %d of %d is still traced by %s (State: %s)",
			 (int)tid, (int)t->pid, tracer, state);
		return -EBUSY;
	}
	if (state[0] == 't') {
		snprintf(t->line, sizeof(t->line),
			 "thread %d of %d is in a tracing stop (State: %s)",
			 (int)tid, (int)t->pid, state);
		return -EBUSY;
	}
	if (!expect_stopped && state[0] == 'T') {
		snprintf(t->line, sizeof(t->line),
			 "thread %d of %d is stopped (State: %s)", (int)tid,
			 (int)t->pid, state);
		return -EINVAL;
	}
	if (expect_stopped && state[0] == 'R') {
		/* On its way back into the stop: see target_check_unharmed() */
		snprintf(t->line, sizeof(t->line),
			 "thread %d of %d should be stopped (State: %s, for "
			 "more than %d ms)",
			 (int)tid, (int)t->pid, state, SETTLE_MS);
		return -EINPROGRESS;
	}
	if (expect_stopped && state[0] != 'T') {
		snprintf(t->line, sizeof(t->line),
			 "thread %d of %d should be stopped (State: %s)",
			 (int)tid, (int)t->pid, state);
		return -EINVAL;
	}
	return 0;
}

/* Check every thread of t; the first harm found wins. */
static int check_tasks(struct target *t, int expect_stopped)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	dir = opendir(path);
	if (!dir) {
		err = -errno;
		snprintf(t->line, sizeof(t->line), "cannot list %s: %s", path,
			 strerror(-err));
		return err;
	}
	while (!err && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		err = check_task(t, (pid_t)atoi(de->d_name), expect_stopped);
	}
	closedir(dir);
	return err;
}

int target_check_unharmed(struct target *t, int expect_stopped,
			  uint64_t out[10])
{
	char state[64];
	int64_t deadline;
	int err;

	if (t->pid <= 0) {
		snprintf(t->line, sizeof(t->line), "the target is not running");
		return -ECHILD;
	}
	err = proc_status_field(t->pid, "State", state, sizeof(state));
	if (err < 0) {
		snprintf(t->line, sizeof(t->line), "target %d is gone: %s",
			 (int)t->pid, strerror(-err));
		return err;
	}
	if (state[0] == 'Z' || state[0] == 'X') {
		snprintf(t->line, sizeof(t->line),
			 "target %d has exited (State: %s)", (int)t->pid,
			 state);
		return -ESRCH;
	}

	/*
	 * A thread detached from a group stop is woken to enter it again
	 * (kernel __ptrace_unlink() sets JOBCTL_STOP_PENDING and calls
	 * ptrace_signal_wake_up(); do_signal_stop() puts it back in
	 * TASK_STOPPED): it is R until it gets a CPU, which a loaded
	 * machine may take a while to give. It runs no user code meanwhile.
	 * Wait for that, and only that; any other state fails at once.
	 */
	deadline = now_ms() + SETTLE_MS;
	while ((err = check_tasks(t, expect_stopped)) == -EINPROGRESS &&
	       now_ms() < deadline)
		sleep_us(1000);
	if (err == -EINPROGRESS)
		err = -EINVAL;
	if (err < 0 || expect_stopped)
		return err;

	err = target_send(t, "again");
	if (err < 0) {
		snprintf(t->line, sizeof(t->line),
			 "cannot send \"again\" to %d: %s", (int)t->pid,
			 strerror(-err));
		return err;
	}
	deadline = now_ms() + 5000;
	for (;;) {
		uint64_t tmp[MI_NFIELDS];

		err = target_read_line(t, time_left(deadline));
		if (err < 0) {
			snprintf(t->line, sizeof(t->line),
				 "no answer to \"again\" from %d: %s",
				 (int)t->pid, strerror(-err));
			return err;
		}
		if (is_mallinfo_line(t->line)) {
			err = target_parse_mallinfo(t->line, out ? out : tmp);
			if (err < 0) {
				char bad[sizeof(t->line)];

				memcpy(bad, t->line, sizeof(bad));
				snprintf(t->line, sizeof(t->line),
					 "bad mallinfo2 line: %.900s", bad);
			}
			return err;
		}
		if (!strcmp(t->line, "alive")) {
			if (!out)
				return 0;
			snprintf(t->line, sizeof(t->line),
				 "target %d answered \"alive\", "
				 "not a mallinfo2 line",
				 (int)t->pid);
			return -EINVAL;
		}
	}
}

int target_stop(struct target *t)
{
	int code;

	if (t->pid <= 0)
		return -ECHILD;
	if (t->to_fd >= 0) {
		target_send(t, "quit");
		close_fd(&t->to_fd);
	}
	/* A stopped target must run to see quit and end of file. */
	kill(t->pid, SIGCONT);
	code = reap(t->pid, now_ms() + 5000);
	if (code == -ETIMEDOUT)
		code = kill_and_reap(t->pid);
	t->pid = 0;
	close_fd(&t->from_fd);
	t->rlen = 0;
	return code;
}

/* ---- run_capture ----------------------------------------------------- */

struct growbuf {
	char *p;
	size_t len, cap;
};

/* Read what is available from fd into b. 0: more, 1: end of file. */
static int drain(int fd, struct growbuf *b)
{
	ssize_t n;

	if (b->cap - b->len < 65536 + 1) {
		size_t cap = b->cap ? b->cap * 2 : 65536 * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	n = read(fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	b->len += (size_t)n;
	return 0;
}

static char *finish(struct growbuf *b)
{
	if (!b->p) {
		b->p = malloc(1);
		if (!b->p)
			return NULL;
	}
	b->p[b->len] = '\0';
	return b->p;
}

int run_capture(const char *const argv[], const char *const env[],
		int timeout_ms, struct run_result *r)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
	struct growbuf bufs[2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, nul = -1;
	int fds[3], err, code, i;
	char **envp;
	pid_t pid;

	r->status = -1;
	r->out = r->err = NULL;
	if (!argv || !argv[0])
		return -EINVAL;
	envp = make_env(env);
	if (!envp)
		return -ENOMEM;

	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0) {
		err = -errno;
		goto out;
	}
	nul = fd_above_std(nul);
	if (nul < 0) {
		err = nul;
		goto out;
	}
	err = make_pipe(outp);
	if (err < 0)
		goto out;
	err = make_pipe(errp);
	if (err < 0)
		goto out;

	fds[0] = nul;
	fds[1] = outp[1];
	fds[2] = errp[1];
	pid = spawn(argv[0], (char *const *)argv, envp, fds, 1);
	if (pid < 0) {
		err = pid;
		goto out;
	}
	close_fd(&nul);
	close_fd(&outp[1]);
	close_fd(&errp[1]);

	err = 0;
	while (!err && (outp[0] >= 0 || errp[0] >= 0)) {
		struct pollfd pfd[2] = { { outp[0], POLLIN, 0 },
					 { errp[0], POLLIN, 0 } };
		int n = poll(pfd, 2, time_left(deadline));

		if (n < 0) {
			if (errno != EINTR)
				err = -errno;
			continue;
		}
		if (n == 0) {
			err = -ETIMEDOUT;
			break;
		}
		for (i = 0; i < 2 && !err; i++) {
			int *fd = i == 0 ? &outp[0] : &errp[0];
			int d;

			if (*fd < 0 || !pfd[i].revents)
				continue;
			d = drain(*fd, &bufs[i]);
			if (d < 0)
				err = d;
			else if (d == 1)
				close_fd(fd);
		}
	}

	if (!err) {
		code = reap(pid, deadline);
		if (code == -ETIMEDOUT) {
			err = -ETIMEDOUT;
			code = kill_and_reap(pid);
		}
	} else {
		code = kill_and_reap(pid);
	}
	r->status = code;
out:
	close_fd(&nul);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	free(envp);
	r->out = finish(&bufs[0]);
	r->err = finish(&bufs[1]);
	if (!err && (!r->out || !r->err))
		err = -ENOMEM;
	return err;
}

pid_t run_start(const char *const argv[], int errfd)
{
	int fds[3], nul;
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return -errno;
	nul = fd_above_std(nul);
	if (nul < 0)
		return nul;
	fds[0] = fds[1] = nul;
	fds[2] = errfd > STDERR_FILENO ? errfd : nul;
	pid = spawn(argv[0], (char *const *)argv, environ, fds, 1);
	close(nul);
	return pid;
}

int run_wait(pid_t pid, int timeout_ms, int *code)
{
	int c = reap_every(pid, now_ms() + timeout_ms, 1);

	if (c < 0)
		return c;
	*code = c;
	return 0;
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

const char *
leakattach_path(void)
{
	const char *p = getenv("LEAKATTACH");

	return p && *p ? p : "./leakattach";
}

void
mallinfo_fields(const struct la_mallinfo *mi, uint64_t out[MI_NFIELDS])
{
	out[MI_ARENA] = mi->arena;
	out[MI_ORDBLKS] = mi->ordblks;
	out[MI_SMBLKS] = mi->smblks;
	out[MI_HBLKS] = mi->hblks;
	out[MI_HBLKHD] = mi->hblkhd;
	out[MI_USMBLKS] = mi->usmblks;
	out[MI_FSMBLKS] = mi->fsmblks;
	out[MI_UORDBLKS] = mi->uordblks;
	out[MI_FORDBLKS] = mi->fordblks;
	out[MI_KEEPCOST] = mi->keepcost;
}

int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sleep_us(int64_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
			      .tv_nsec = (long)(us % 1000000) * 1000};

	while (us > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
