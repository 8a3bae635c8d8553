/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_simulate.c - `leakattach simulate`: the self-test and the demo.
 * Starts leakattach-leaker, which leaks --count blocks of --size MiB, one
 * per --interval, and monitors it with the same sampler as monitor. The
 * samples fall half-way between two leaks, so scheduling jitter never
 * puts two leaks, or none, between two samples. With --cleanup the child
 * frees its blocks at the end and one more sample shows the memory come
 * back. Exit 1 when the planted leak was found, 0 when nothing was
 * planted and nothing found: anything else is a failure of leakattach.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "report.h"

struct child {
	pid_t pid;
	int to, from;
	char buf[256];
	size_t len;
};

/*
 * The leaker lives next to leakattach in a build tree (libtool keeps the
 * real binary in .libs/, hence the parent folder too), else where make
 * install put it; $LEAKATTACH_LEAKER overrides both.
 */
static int
find_leaker(char *buf, size_t len)
{
	const char *env = getenv("LEAKATTACH_LEAKER");
	char self[1024], *dir;
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return access(buf, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(buf, len, "%s/leakattach-leaker", dir);
		if (!access(buf, X_OK))
			return 0;
		snprintf(buf, len, "%s/../leakattach-leaker", dir);
		if (!access(buf, X_OK))
			return 0;
	}
	snprintf(buf, len, "%s/leakattach-leaker", PKGLIBEXECDIR);
	return access(buf, X_OK);
}

static int
child_start(struct child *c, const char *path, unsigned long long size,
	    unsigned count, double interval)
{
	char a1[32], a2[32], a3[32];
	int in[2], out[2];

	snprintf(a1, sizeof(a1), "%llu", size);
	snprintf(a2, sizeof(a2), "%u", count);
	snprintf(a3, sizeof(a3), "%.6f", interval);
	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	c->pid = fork();
	if (c->pid < 0) {
		int e = -errno;

		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return e;
	}
	if (c->pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execl(path, "leakattach-leaker", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = in[1];
	c->from = out[0];
	c->len = 0;
	return 0;
}

/*
 * Read lines from the child until one equals want, or the deadline, or
 * a termination signal (sm NULL: before the sampler takes them over). Returns 0, 1 (signal), -ETIMEDOUT or -EPIPE.
 */
static int
child_expect(struct sampler *sm, struct child *c, const char *want,
	     double deadline)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;
		int w;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);
			int match =
				l == strlen(want) && !memcmp(c->buf, want, l);

			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			if (match)
				return 0;
			continue;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0; /* a line too long: not ours */
		if (sm) {
			w = sampler_wait(sm, deadline, c->from);
		} else { /* before the sampler exists */
			struct pollfd p = {.fd = c->from, .events = POLLIN};
			double left = deadline - mono_now();

			w = left > 0 && poll(&p, 1, (int)(left * 1000) + 1) > 0
				    ? 2
				    : 0;
		}
		if (w == 0)
			return -ETIMEDOUT;
		if (w == 1)
			return 1;
		n = read(c->from, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -EPIPE;
		c->len += (size_t)n;
	}
}

static void
child_send(struct child *c, const char *cmd)
{
	if (c->to >= 0 && write(c->to, cmd, strlen(cmd)) < 0) {
		/* gone: child_stop() reaps it */
	}
}

static void
child_stop(struct child *c)
{
	double until = mono_now() + 5;

	if (c->pid <= 0)
		return;
	child_send(c, "quit\n");
	if (c->to >= 0)
		close(c->to);
	if (c->from >= 0)
		close(c->from);
	c->to = c->from = -1;
	while (mono_now() < until) {
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return;
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

int
cmd_simulate(const struct options *o)
{
	double interval = o->interval_s > 0 ? o->interval_s : 2;
	unsigned long long size =
		(unsigned long long)(o->sim_size_mb * 1024 * 1024 + 0.5);
	unsigned count = o->sim_count;
	unsigned samples =
		(count > o->rules.consecutive ? count : o->rules.consecutive) +
		1;
	struct child c = {.to = -1, .from = -1};
	struct sampler *sm = NULL;
	char path[1200], b1[32], b2[32], b3[32], b4[32];
	double t0;
	int rc, err = 0, found;

	cli_log_setup(o->verbose);
	if (find_leaker(path, sizeof(path))) {
		fprintf(stderr,
			"leakattach: cannot find leakattach-leaker (looked next to leakattach and in %s): reinstall leakattach, or set LEAKATTACH_LEAKER\n",
			PKGLIBEXECDIR);
		return EXIT_ERROR;
	}
	err = child_start(&c, path, size, count, interval);
	if (err) {
		fprintf(stderr, "leakattach: cannot start %s: %s\n", path,
			strerror(-err));
		return EXIT_ERROR;
	}
	/* libc is mapped, and the session can find it, once it is ready */
	err = child_expect(NULL, &c, "ready", mono_now() + 10);
	/* its schedule starts now, however long the session takes to open */
	t0 = mono_now();
	if (err) {
		fprintf(stderr,
			"leakattach: the simulated program (%s) did not start\n",
			path);
		rc = EXIT_ERROR;
		goto out;
	}
	rc = sampler_open(o, "simulate", c.pid, &sm);
	if (rc)
		goto out;
	if (!o->json) {
		printf("simulate: child process %d leaks %u block%s of %s, one every %s; a sample every %s, half-way between leaks\n",
		       (int)c.pid, count, count == 1 ? "" : "s",
		       human_bytes(size, b1, sizeof(b1)),
		       human_duration(interval, b2, sizeof(b2)),
		       human_duration(interval, b3, sizeof(b3)));
		fflush(stdout);
	}
	for (unsigned k = 0; k < samples; k++) {
		double at = t0 + ((double)k + 0.5) * interval;
		char want[32];

		if (sampler_wait(sm, at, -1)) {
			rc = EXIT_ERROR;
			goto out;
		}
		/* the k-th block must be there: never judge a late child */
		if (k >= 1 && k <= count) {
			snprintf(want, sizeof(want), "leaked %u", k);
			err = child_expect(sm, &c, want,
					   at + 10 * interval + 5);
			if (err) {
				if (err < 0)
					fprintf(stderr,
						"leakattach: the simulated program stopped leaking before block %u\n",
						k);
				rc = EXIT_ERROR;
				goto out;
			}
		}
		if (sampler_sample(sm)) {
			rc = EXIT_ERROR;
			goto out;
		}
	}
	if (o->sim_cleanup) {
		uint64_t before = sampler_in_use(sm), rss = sampler_rss(sm);

		child_send(&c, "free\n");
		err = child_expect(sm, &c, "freed", mono_now() + 30);
		if (err || sampler_sample(sm)) {
			rc = EXIT_ERROR;
			goto out;
		}
		if (!o->json)
			printf("cleanup: the child freed its blocks: in use %s -> %s, RSS %s -> %s\n",
			       human_bytes(before, b1, sizeof(b1)),
			       human_bytes(sampler_in_use(sm), b2, sizeof(b2)),
			       human_bytes(rss, b3, sizeof(b3)),
			       human_bytes(sampler_rss(sm), b4, sizeof(b4)));
	}
	child_stop(&c);
	rc = sampler_finish(sm);
	found = sampler_found_leak(sm);
	if (!o->json && (rc == EXIT_LEAK || rc == EXIT_NO_LEAK)) {
		if (count && found)
			printf("\nsimulate: found the planted leak (%u x %s)\n",
			       count, human_bytes(size, b1, sizeof(b1)));
		else if (count)
			printf("\nsimulate: FAILED: the planted leak (%u x %s) was not found%s\n",
			       count, human_bytes(size, b1, sizeof(b1)),
			       count < o->rules.consecutive
				       ? " (fewer blocks than --consecutive growths)"
				       : "");
		else
			printf("\nsimulate: nothing was planted, and %s\n",
			       found ? "yet a leak was reported: FAILED"
				     : "nothing was found");
	}
out:
	child_stop(&c);
	sampler_close(sm);
	return rc;
}
