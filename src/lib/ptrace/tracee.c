/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracee.c - stop-the-world and resume with PTRACE_SEIZE + PTRACE_INTERRUPT.
 *
 * Why SEIZE and not ATTACH: ATTACH sends a real SIGSTOP that job control and
 * the real parent can see; INTERRUPT stops a thread "without any side-effect
 * on signal or job control" (kernel/ptrace.c). Why never PTRACE_O_EXITKILL:
 * if we die, exit_ptrace() would SIGKILL the target. Stops we have waited
 * for are safe if we die: the thread resumes with no signal.
 *
 * This file does not read memory and knows nothing about malloc.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "tracee: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "proc/procinfo.h"
#include "ptrace/tracee.h"

uint64_t
la_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct tracee *
find(struct tracee_set *set, pid_t tid)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->t[i].tid == tid)
			return &set->t[i];
	return NULL;
}

int
tracee_set_add(struct tracee_set *set, pid_t tid)
{
	if (set->n == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 16;
		struct tracee *nt = realloc(set->t, ncap * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		set->t = nt;
		set->cap = ncap;
	}
	memset(&set->t[set->n], 0, sizeof(set->t[0]));
	set->t[set->n].tid = tid;
	set->t[set->n].state = TRACEE_RUNNING;
	set->n++;
	return 0;
}

/* "TracerPid:\t1234" and "State:\tS (sleeping)" of one thread. */
static int
task_status(pid_t pid, pid_t tid, pid_t *tracer, char *state)
{
	char path[96], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*tracer = 0;
	*state = '?';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "TracerPid:", 10))
			*tracer = (pid_t)atoi(line + 10);
		else if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", state);
	}
	fclose(f);
	return 0;
}

/* The thread is gone or exiting (a zombie, or dead). */
static int
thread_exiting(pid_t pid, pid_t tid)
{
	pid_t tracer;
	char state;

	return task_status(pid, tid, &tracer, &state) || state == 'Z' ||
	       state == 'X';
}

/* What one pass over /proc/PID/task found. */
#define PASS_ZOMBIES 8
struct pass {
	int added; /* threads that joined the set */
	unsigned zombies; /* listed, not ours: exiting (State Z or X) */
	pid_t zombie[PASS_ZOMBIES]; /* the first of them */
};

static int
seize(struct tracee_set *set, pid_t tid, struct pass *p)
{
	const long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
	pid_t tracer = 0;
	char state = '?';

	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)opts) == 0)
		return tracee_set_add(set, tid);
	if (errno == ESRCH)
		return 0; /* the thread exited meanwhile */
	if (errno != EPERM)
		return la_fail(-errno, "cannot seize thread %d: %s", (int)tid,
			       strerror(errno));
	if (task_status(set->pid, tid, &tracer, &state))
		return 0; /* gone */
	if (tracer == getpid())
		return tracee_set_add(
			set, tid); /* auto-attached by PTRACE_O_TRACECLONE */
	if (state == 'Z' || state == 'X') {
		/* an exiting thread: all_listed() counts it */
		if (p->zombies < PASS_ZOMBIES)
			p->zombie[p->zombies] = tid;
		p->zombies++;
		return 0;
	}
	if (tracer)
		return la_fail(
			-LA_ETRACED,
			"process %d is already traced by process %d: detach that tracer (a debugger or strace?) first",
			(int)set->pid, (int)tracer);
	return la_fail(-EPERM, "permission denied attaching to process %d",
		       (int)set->pid);
}

/* Seize every thread listed in /proc/PID/task that is not ours yet. */
static int
seize_pass(struct tracee_set *set, struct pass *p)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int err = 0;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)set->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!err && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		size_t before = set->n;

		if (tid <= 0 || find(set, tid))
			continue;
		err = seize(set, tid, p);
		if (set->n > before) {
			p->added++;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) &&
			    errno != ESRCH)
				pr_warn("interrupt %d: %s", (int)tid,
					strerror(errno));
		}
	}
	closedir(d);
	return err;
}

static int
thread_exists(pid_t pid, pid_t tid)
{
	pid_t tracer;
	char state;

	return !task_status(pid, tid, &tracer, &state);
}

/*
 * Did the last pass, which added no thread and came after every thread
 * of ours stopped, list every thread of the process? Not necessarily.
 * proc_task_readdir() ends a getdents(2) early at a thread that exits
 * under it (next_tid() finds it unhashed), and the next call restarts by
 * position (first_tid() walks f_pos threads from the leader): the
 * threads that moved up into the gap are never listed. Threads of ours
 * cannot exit meanwhile (stopped, or zombies we have not reaped), but
 * threads we never seized can, and there are such: a thread seized
 * inside clone() after kernel_clone() found no tracer to report to (it
 * decides once, before copy_process()) has a child that
 * PTRACE_O_TRACECLONE does not reach, which runs, maybe beside others
 * like it. So count: the kernel's thread count ("Threads:", the
 * signal->nr_threads that __exit_signal() lowers when a thread is
 * reaped) must be our stopped threads and the exiting ones the pass saw,
 * those still there afterwards (one reaped since could hide a miss).
 */
static int
all_listed(struct tracee_set *set, const struct pass *p)
{
	unsigned long threads;
	size_t ours = 0;
	char buf[32];

	if (procinfo_status_field(set->pid, 0, "Threads", buf, sizeof(buf)))
		return 1; /* gone: read_regs() finds no thread */
	threads = strtoul(buf, NULL, 10);
	for (size_t i = 0; i < set->n; i++)
		ours += set->t[i].state == TRACEE_STOPPED;
	if (threads != ours + p->zombies || p->zombies > PASS_ZOMBIES) {
		pr_debug(
			"process %d has %lu threads; %zu of them stopped, %u exiting: listing again",
			(int)set->pid, threads, ours, p->zombies);
		return 0;
	}
	for (unsigned i = 0; i < p->zombies; i++)
		if (!thread_exists(set->pid, p->zombie[i]))
			return 0;
	return 1;
}

/*
 * A thread inside vfork() waits killably for its child (kernel
 * wait_for_vfork_done(), shown as kernel_clone in wchan on 6.x): no
 * ptrace stop can reach it, and a seized thread that never stops cannot
 * be detached. Look before seizing anything.
 */
pid_t
tracee_vforking(pid_t pid)
{
	char path[64], wchan[64], state;
	struct dirent *e;
	pid_t found = 0, tracer;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		FILE *f;

		if (tid <= 0 || task_status(pid, tid, &tracer, &state) ||
		    state != 'D')
			continue;
		snprintf(wchan, sizeof(wchan), "/proc/%d/task/%d/wchan",
			 (int)pid, (int)tid);
		f = fopen(wchan, "re");
		if (!f)
			continue;
		if (fgets(wchan, sizeof(wchan), f) &&
		    (!strcmp(wchan, "wait_for_vfork_done") ||
		     !strcmp(wchan, "kernel_clone") ||
		     !strcmp(wchan, "_do_fork")))
			found = tid;
		fclose(f);
	}
	closedir(d);
	return found;
}

static unsigned read_regs(struct tracee_set *set);

/*
 * t reported PTRACE_EVENT_CLONE: an event stop is a stop, so t stays
 * here, and the new thread, auto-attached by PTRACE_O_TRACECLONE, joins
 * the set with its own stop pending. tracee_set_add() may move the array: t must
 * not be used afterwards. Returns -ENOMEM or 0.
 */
static int
adopt_clone(struct tracee_set *set, struct tracee *t)
{
	unsigned long msg = 0;

	t->state = TRACEE_STOPPED;
	if (!ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) &&
	    !find(set, (pid_t)msg))
		return tracee_set_add(set, (pid_t)msg);
	return 0;
}

static int
is_job_control_stop(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

/*
 * Handle one wait status of t. Returns 0, or an error for events that end
 * the snapshot (exec).
 */
static int
handle_status(struct tracee_set *set, struct tracee *t, int st)
{
	int ev = st >> 16, sig;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		t->state = TRACEE_GONE;
		return 0;
	}
	if (!WIFSTOPPED(st))
		return 0;
	sig = WSTOPSIG(st);
	switch (ev) {
	case PTRACE_EVENT_STOP:
		t->state = TRACEE_STOPPED;
		t->group_stop = is_job_control_stop(sig);
		return 0;
	case PTRACE_EVENT_CLONE:
		return adopt_clone(set, t) ? -ENOMEM : 1;
	case PTRACE_EVENT_EXEC:
		t->state = TRACEE_STOPPED;
		return la_fail(
			-LA_EEXEC,
			"process %d executed a new program during the snapshot: try again",
			(int)set->pid);
	case 0:
		/*
		 * A signal-delivery stop: re-inject it at once, so that it is
		 * never lost even if we die, then ask for our stop again.
		 */
		set->signals_forwarded++;
		if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) == 0)
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
		return 0;
	default:
		/* Another event stop (none requested): a stop all the same. */
		t->state = TRACEE_STOPPED;
		return 0;
	}
}

/* Poll every pending thread until all stopped or the deadline passes. */
static int
wait_stops(struct tracee_set *set, uint64_t deadline)
{
	unsigned idle = 0;

	for (;;) {
		int pending = 0, progress = 0;

		for (size_t i = 0; i < set->n; i++) {
			pid_t tid = set->t[i].tid;
			int st, r;
			pid_t w;

			if (set->t[i].state != TRACEE_RUNNING)
				continue;
			w = waitpid(tid, &st, WNOHANG | __WALL);
			if (w == 0) {
				pending++;
				continue;
			}
			if (w < 0) {
				if (errno == EINTR) {
					pending++;
					continue;
				}
				/* ECHILD: not ours any more (it exited) */
				set->t[i].state = TRACEE_GONE;
				continue;
			}
			progress = 1;
			r = handle_status(set, &set->t[i], st);
			if (r < 0)
				return r;
			if (r > 0)
				pending++; /* a new thread was added */
			else if (set->t[i].state == TRACEE_RUNNING)
				pending++;
		}
		if (!pending)
			return 0;
		if (la_now_ns() > deadline) {
			for (size_t i = 0; i < set->n; i++)
				if (set->t[i].state == TRACEE_RUNNING)
					return la_fail(
						-LA_ESTOPTIMEOUT,
						"thread %d of process %d did not stop in time (uninterruptible sleep?): try again",
						(int)set->t[i].tid,
						(int)set->pid);
			return 0;
		}
		/*
		 * An interrupted thread must get a CPU to enter its stop:
		 * yield first (the target's threads may be waiting for this
		 * core), then sleep in short steps.
		 */
		tracee_backoff(&idle, progress);
	}
}

void
tracee_backoff(unsigned *idle, int progress)
{
	if (progress) {
		*idle = 0;
	} else if (++*idle < 64) {
		sched_yield();
	} else {
		struct timespec ts = {0, *idle < 256 ? 20000 : 200000};

		nanosleep(&ts, NULL);
	}
}

static void
detach_all(struct tracee_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct tracee *t = &set->t[i];

		if (t->state == TRACEE_RUNNING) {
			/* A stop is pending: take it, then detach. */
			uint64_t deadline = la_now_ns() + 1000000000ull;
			int st;

			while (la_now_ns() < deadline) {
				pid_t w =
					waitpid(t->tid, &st, WNOHANG | __WALL);

				if (w < 0) {
					t->state = TRACEE_GONE;
					break;
				}
				if (w == 0 &&
				    thread_exiting(set->pid, t->tid)) {
					/*
					 * Killed meanwhile: a group leader is
					 * not reported until its other
					 * threads are, and it has nothing left
					 * to detach.
					 */
					t->state = TRACEE_GONE;
					break;
				}
				if (w == 0) {
					struct timespec ts = {0, 100000};

					nanosleep(&ts, NULL);
					continue;
				}
				if (WIFEXITED(st) || WIFSIGNALED(st)) {
					t->state = TRACEE_GONE;
					break;
				}
				if ((st >> 16) == 0 && WIFSTOPPED(st)) {
					/* detach with the signal: not lost */
					ptrace(PTRACE_DETACH, t->tid, 0,
					       (void *)(long)WSTOPSIG(st));
					t->state = TRACEE_GONE;
					break;
				}
				if ((st >> 16) == PTRACE_EVENT_CLONE) {
					/* waited for and detached in its turn */
					adopt_clone(set, t);
					t = &set->t[i];
					break;
				}
				t->state = TRACEE_STOPPED;
				break;
			}
			if (t->state == TRACEE_RUNNING)
				pr_warn("thread %d never stopped; the kernel detaches it when this process exits",
					(int)t->tid);
		}
		if (t->state == TRACEE_STOPPED) {
			if (ptrace(PTRACE_DETACH, t->tid, 0, 0) &&
			    errno != ESRCH)
				pr_warn("detach %d: %s", (int)t->tid,
					strerror(errno));
			t->state = TRACEE_GONE;
		}
	}
	set->resume_end_ns = la_now_ns();
}

int
tracee_stop_all(pid_t pid, unsigned timeout_ms, struct tracee_set *set)
{
	uint64_t deadline;
	unsigned idle = 0;
	struct pass p;
	int err, alive;

	memset(set, 0, sizeof(*set));
	set->pid = pid;
	if ((alive = tracee_vforking(pid)))
		return la_fail(
			-LA_EVFORK,
			"process %d is inside vfork() (thread %d waits for its child to exec or exit): try again in a moment",
			(int)pid, (int)alive);
	set->stop_begin_ns = la_now_ns();
	deadline = set->stop_begin_ns + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		err = seize_pass(set, &p);
		if (!err)
			err = wait_stops(set, deadline);
		if (err)
			goto fail;
		/* Stable only when a pass after all stops finds no thread, */
		if (p.added)
			continue;
		/* and missed none. */
		if (all_listed(set, &p))
			break;
		if (la_now_ns() > deadline) {
			err = la_fail(
				-LA_ESTOPTIMEOUT,
				"threads of process %d came and went too fast to stop them all in time: try again",
				(int)pid);
			goto fail;
		}
		tracee_backoff(&idle, 0);
	}

	if (!read_regs(set)) {
		err = la_fail(-ESRCH, "process %d exited", (int)pid);
		goto fail;
	}
	set->stopped_ns = la_now_ns();
	return 0;
fail:
	detach_all(set);
	return err;
}

static unsigned
read_regs(struct tracee_set *set)
{
	unsigned alive = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct tracee *t = &set->t[i];

		t->have_regs = 0;
		t->tp = 0;
		if (t->state != TRACEE_STOPPED)
			continue;
		alive++;
		if (arch_get_regs(t->tid, &t->regs) == 0) {
			t->have_regs = 1;
			arch_get_tp(t->tid, &t->regs, &t->tp);
		}
	}
	return alive;
}

int
tracee_run_some(struct tracee_set *set, const unsigned char *run,
		uint64_t slice_ns, unsigned timeout_ms)
{
	size_t n = set->n;
	struct timespec ts = {(time_t)(slice_ns / 1000000000u),
			      (long)(slice_ns % 1000000000u)};
	int err, any = 0;

	for (size_t i = 0; i < n; i++) {
		struct tracee *t = &set->t[i];

		if (!run[i] || t->state != TRACEE_STOPPED || t->group_stop)
			continue;
		if (ptrace(PTRACE_CONT, t->tid, 0, 0)) {
			if (errno == ESRCH)
				t->state = TRACEE_GONE;
			continue;
		}
		t->state = TRACEE_RUNNING;
		any = 1;
	}
	if (!any)
		return 0;
	nanosleep(&ts, NULL);
	for (size_t i = 0; i < n; i++)
		if (set->t[i].state == TRACEE_RUNNING &&
		    ptrace(PTRACE_INTERRUPT, set->t[i].tid, 0, 0) &&
		    errno == ESRCH)
			set->t[i].state = TRACEE_GONE;
	err = wait_stops(set, la_now_ns() + (uint64_t)timeout_ms * 1000000u);
	if (!err && !read_regs(set))
		err = la_fail(-ESRCH, "process %d exited", (int)set->pid);
	if (err)
		detach_all(set);
	return err;
}

int
tracee_resume_all(struct tracee_set *set)
{
	detach_all(set);
	return 0;
}

void
tracee_set_free(struct tracee_set *set)
{
	free(set->t);
	memset(set, 0, sizeof(*set));
}
