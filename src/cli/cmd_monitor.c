/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_monitor.c - `leakattach monitor` and `leakattach check`: the
 * cadence of their samples (the sampler, sampler.c, takes each one), and
 * check's `-- COMMAND`, a program it starts and samples as its child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "report.h"

/*
 * When the sample after one due at due, begun at began and whose snapshot
 * was taken at taken (sampler_taken_at(): after a wait for the target's
 * lock, the walk) is due. Samples keep to a grid of the interval. One that
 * began late by half an interval or more (a window or the machine held us
 * up) starts the grid anew, so that the next is an interval after it.
 * Whatever the grid says, two snapshots are never less than half an
 * interval apart: a comparison a few ms apart cannot show growth and
 * breaks a streak (seen: 4 ms, after a slow sample and its callers
 * window). A sample slower than the interval is followed once it is due
 * (at once, when that is past), never by a catch-up burst.
 */
static double
next_due(double due, double began, double taken, double interval)
{
	double now = mono_now();

	if (began - due >= interval / 2)
		due = began;
	due += interval;
	if (due < taken + interval / 2)
		due = taken + interval;
	return due < now ? now : due;
}

static int
monitor(const struct options *o)
{
	double interval = o->interval_s > 0 ? o->interval_s : 60;
	struct sampler *sm;
	double start, next;
	char until[64], b[32];
	int rc, err = 0;

	rc = sampler_open(o, "monitor", o->pid, &sm);
	if (rc)
		return rc;
	if (o->duration_s > 0)
		snprintf(until, sizeof(until), " for %s",
			 human_duration(o->duration_s, b, sizeof(b)));
	else
		snprintf(until, sizeof(until), " until Ctrl-C");
	sampler_header(sm, interval, until);
	start = next = mono_now();
	for (;;) {
		double began = mono_now();

		err = sampler_sample(sm);
		if (err)
			break;
		next = next_due(next, began, sampler_taken_at(sm), interval);
		if (o->duration_s > 0 && next > start + o->duration_s + 1e-3)
			break;
		/* not after the last sample: nothing would check it */
		sampler_window(sm, next);
		rc = sampler_wait(sm, next, o->watch_fd);
		/*
		 * --watch-fd: the program asks for a verdict now, or is gone
		 * (end of file). A sample less than half an interval after
		 * the last could show no growth and break a streak: the last
		 * one answers then.
		 */
		while (rc == 2) {
			if (!watch_fd_read(o->watch_fd)) {
				rc = 1;
				break;
			}
			if (mono_now() >= sampler_taken_at(sm) + interval / 2)
				break;
			sampler_watch_line(sm);
			rc = sampler_wait(sm, next, o->watch_fd);
		}
		if (rc == 1)
			break;
	}
	rc = sampler_finish(sm);
	sampler_close(sm);
	/* a leak seen before an error is still the news */
	return err && rc != EXIT_LEAK ? EXIT_ERROR : rc;
}

/* check -- COMMAND: start it as our child (so ptrace_scope 1 allows us). */
static int
start_command(char **argv, pid_t *out)
{
	int fds[2];
	pid_t pid;
	int e = 0;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		e = errno;
		if (write(fds[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	/* the exec succeeded when the close-on-exec pipe reads empty */
	if (read(fds[0], &e, sizeof(e)) == sizeof(e)) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
		return -e;
	}
	close(fds[0]);
	*out = pid;
	return 0;
}

/* End the command we started: SIGTERM, 5 s of grace, then SIGKILL. */
static void
stop_command(pid_t pid)
{
	double until = mono_now() + 5;

	if (waitpid(pid, NULL, WNOHANG) == pid)
		return;
	kill(pid, SIGTERM);
	while (mono_now() < until) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
command_exited(pid_t pid, unsigned taken, char *const *argv)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr,
			"leakattach: %s exited with status %d after %u sample%s: check needs it to run for --repeat samples --interval apart\n",
			argv[0], WEXITSTATUS(status), taken,
			taken == 1 ? "" : "s");
	else
		fprintf(stderr,
			"leakattach: %s was killed by signal %d after %u sample%s\n",
			argv[0], WTERMSIG(status), taken,
			taken == 1 ? "" : "s");
	return 1;
}

static int
check(const struct options *o)
{
	double interval = o->interval_s > 0 ? o->interval_s : 5;
	unsigned repeat = o->repeat ? o->repeat
			  : o->argv ? o->rules.consecutive + 1
				    : 1;
	struct sampler *sm = NULL;
	pid_t child = 0, pid = o->pid;
	double next;
	int rc, err = 0, stopped = 0;

	if (o->argv) {
		err = start_command(o->argv, &child);
		if (err) {
			fprintf(stderr, "leakattach: cannot run %s: %s\n",
				o->argv[0], strerror(-err));
			return EXIT_ERROR;
		}
		pid = child;
	}
	rc = sampler_open(o, "check", pid, &sm);
	if (rc) {
		if (child)
			stop_command(child);
		return rc;
	}
	next = mono_now();
	/* a program just started is still growing: first sample later */
	if (child)
		next += interval;
	for (unsigned i = 0; i < repeat; i++) {
		double began;

		if (i || child) {
			if (sampler_wait(sm, next, -1)) {
				stopped = 1;
				break;
			}
		}
		began = mono_now();
		if (child && command_exited(child, sm ? i : 0, o->argv)) {
			child = 0;
			err = 1;
			break;
		}
		err = sampler_sample(sm);
		if (err)
			break;
		/*
		 * A window after the last sample too, unless the program is
		 * ours and stops now: the next check of the process checks it.
		 */
		next = next_due(next, began, sampler_taken_at(sm), interval);
		if (i + 1 < repeat)
			sampler_window(sm, next);
		else if (!child)
			sampler_window(sm, 0);
		if (i + 1 == repeat && !child)
			sampler_keep_window(sm);
	}
	if (child)
		stop_command(child);
	rc = sampler_finish(sm);
	sampler_close(sm);
	if (rc == EXIT_LEAK)
		return rc;
	return err || stopped ? EXIT_ERROR : rc;
}

int
cmd_monitor(const struct options *o)
{
	cli_log_setup(o->verbose);
	return o->cmd == CMD_CHECK ? check(o) : monitor(o);
}
