/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inject.c - see inject.h. One function call in one thread, with every
 * other thread running meanwhile.
 *
 * While the call runs, every thread stays traced, so this file is the
 * tracer's event loop for that time, drain-first (doc/design/injection.md,
 * "Everyone runs during the call"): every thread is polled (waitpid on its
 * TID, never -1: the caller's own children are not ours to reap), a signal
 * for another thread is re-injected in the same step that read it, a new
 * thread is adopted and let go, a group stop is listened to (PTRACE_LISTEN)
 * so that job control keeps working. The calling thread's return is its
 * SIGSEGV at address 0; any other signal for it is delivered (a handler
 * then runs on top of the call, and returns into it).
 *
 * Why the thread is never abandoned outside a futex wait: the function
 * may hold a lock (malloc_trim holds an arena lock around madvise), and a
 * thread put back without running its unlock leaves that lock held for
 * ever. In a futex wait for a lock it holds nothing.
 */
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "inject: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "ptrace/inject.h"
#include "ptrace/tracee.h"

#define FRAME_GAP 256u /* more room above the fake frame, as gdb leaves */
#define HANDLER_SCAN_MAX (256u << 10)
#define HARD_CAP_FACTOR 10

/* What a thread of the set is doing while it is TRACEE_RUNNING. */
enum run_mode {
	RM_FREE, /* continued, no stop expected */
	RM_PENDING, /* a stop is expected: interrupted, or a new thread */
	RM_LISTEN, /* in a group stop, PTRACE_LISTEN */
};

struct call {
	struct tracee_set *ts;
	unsigned char *mode; /* per index of ts->t, while RUNNING */
	size_t mode_cap;
	const struct inject_call *c;
	struct inject_result *out;
	pid_t tid;
	struct user_regs_struct saved; /* fixed up: what is restored */
	struct arch_fpstate fp; /* FP/SIMD and vector state */
	uint64_t sigmask;
	int have_mask;
	uint64_t slot_addr, slot_saved; /* the fake return address */
	int replaced; /* the thread runs on our registers */
	int restored;
	uint64_t away0, call0;
};

static int
is_job_control_stop(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

int
inject_blocked_in_syscall(const struct user_regs_struct *r)
{
	return arch_blocked_in_syscall(r);
}

void
inject_fixup_restart(struct user_regs_struct *r)
{
	arch_fixup_restart(r);
}

static int
find_index(const struct call *cl, pid_t tid, size_t *idx)
{
	for (size_t i = 0; i < cl->ts->n; i++)
		if (cl->ts->t[i].tid == tid) {
			*idx = i;
			return 1;
		}
	return 0;
}

static struct tracee *
caller(struct call *cl)
{
	size_t i;

	return find_index(cl, cl->tid, &i) ? &cl->ts->t[i] : NULL;
}

/*
 * A new thread (PTRACE_EVENT_CLONE) joins the set with its first stop
 * pending, so that tracee_resume_all() detaches it in its turn.
 */
static int
adopt(struct call *cl, pid_t tid)
{
	struct tracee_set *ts = cl->ts;
	size_t i;

	if (find_index(cl, tid, &i))
		return 0;
	/* the mode array grows first, so a failure leaves the set as it was */
	if (ts->n >= cl->mode_cap) {
		size_t ncap = cl->mode_cap ? cl->mode_cap * 2 : 16;
		unsigned char *nm = realloc(cl->mode, ncap);

		if (!nm)
			return -ENOMEM;
		cl->mode = nm;
		cl->mode_cap = ncap;
	}
	if (tracee_set_add(ts, tid))
		return -ENOMEM;
	cl->mode[ts->n - 1] = RM_PENDING;
	return 0;
}

/* Let thread i go on (with sig), keeping a stop we asked for pending. */
static void
cont(struct call *cl, size_t i, int sig)
{
	struct tracee *t = &cl->ts->t[i];
	int want_stop = t->state == TRACEE_RUNNING && cl->mode[i] == RM_PENDING;

	if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig)) {
		if (errno == ESRCH) { /* killed: its exit comes next */
			t->state = TRACEE_RUNNING;
			cl->mode[i] = RM_FREE;
		}
		return;
	}
	t->state = TRACEE_RUNNING;
	cl->mode[i] = RM_FREE;
	if (want_stop && !ptrace(PTRACE_INTERRUPT, t->tid, 0, 0))
		cl->mode[i] = RM_PENDING;
}

/* Registers, extended state, signal mask: everything a call changes. */
static int
save_thread(struct call *cl)
{
	int err = arch_get_regs(cl->tid, &cl->saved);

	if (err)
		return err;
	err = arch_save_fp(cl->tid, &cl->fp);
	if (err)
		return err;
	/* Linux >= 3.11. The forced SIGSEGV unblocks SIGSEGV: put it back. */
	cl->have_mask = !ptrace(PTRACE_GETSIGMASK, cl->tid,
				(void *)sizeof(cl->sigmask), &cl->sigmask);
	inject_fixup_restart(&cl->saved);
	return 0;
}

/* Put the calling thread back as it was; it must be in a waited stop. */
static int
restore_thread(struct call *cl)
{
	int err = 0, e;

	if (cl->restored || !cl->replaced)
		return 0;
	err = arch_set_regs(cl->tid, &cl->saved);
	e = arch_restore_fp(cl->tid, &cl->fp);
	if (e && !err)
		err = e;
	if (cl->have_mask &&
	    ptrace(PTRACE_SETSIGMASK, cl->tid, (void *)sizeof(cl->sigmask),
		   &cl->sigmask) &&
	    !err)
		err = -errno;
	if (ARCH_CALL_RET_ON_STACK &&
	    ptrace(PTRACE_POKEDATA, cl->tid, (void *)cl->slot_addr,
		   (void *)cl->slot_saved) &&
	    !err)
		err = -errno;
	if (err && err != -ESRCH)
		pr_warn("restoring thread %d failed: %s", (int)cl->tid,
			strerror(-err));
	cl->restored = 1;
	cl->out->away_ns = la_now_ns() - cl->away0;
	return err;
}

/*
 * Is a signal handler running on top of the call? Only when a signal was
 * delivered to the thread meanwhile: then look for a handler's return
 * address between the thread's stack pointer and our fake frame. A stack
 * pointer elsewhere (an alternate signal stack) counts as a handler too.
 */
static int
handler_on_top(const struct call *cl, const struct user_regs_struct *r)
{
	uint64_t buf[512];
	uint64_t at = arch_sp(r);

	if (!cl->out->signals_delivered)
		return 0;
	if (at > cl->slot_addr || cl->slot_addr - at > HANDLER_SCAN_MAX)
		return 1;
	while (at < cl->slot_addr) {
		size_t len = cl->slot_addr - at < sizeof(buf)
				     ? (size_t)(cl->slot_addr - at)
				     : sizeof(buf);
		struct iovec local = {buf, len};
		struct iovec remote = {(void *)(uintptr_t)at, len};

		if (process_vm_readv(cl->ts->pid, &local, 1, &remote, 1, 0) !=
		    (ssize_t)len)
			return 1;
		for (size_t i = 0; i < len / 8; i++)
			for (unsigned k = 0; k < cl->c->n_restorer; k++)
				if (buf[i] == cl->c->restorer_addr[k])
					return 1;
		at += len;
	}
	return 0;
}

enum { GOING_ON, RETURNED, ABANDONED };

/*
 * The calling thread stopped because we interrupted it after the
 * timeout. Abandon the call in a futex wait that may_abort() accepts;
 * else let it go on.
 */
static int
timed_out(struct call *cl, size_t i, uint64_t ran_ns, int *warned)
{
	struct user_regs_struct r;
	const struct inject_call *c = cl->c;
	unsigned long long ms = ran_ns / 1000000u;

	if (arch_get_regs(cl->tid, &r)) {
		/* killed meanwhile (its exit comes next), or a mystery */
		cl->mode[i] = RM_FREE;
		cont(cl, i, 0);
		return GOING_ON;
	}
	if (arch_syscall_nr(&r) == SYS_futex && c->may_abort &&
	    !handler_on_top(cl, &r) && c->may_abort(c->may_abort_arg, &r)) {
		int err = restore_thread(cl);

		cl->ts->t[i].state = TRACEE_STOPPED;
		if (err)
			return err;
		pr_info("thread %d waited for a lock for %llu ms: call abandoned, thread restored",
			(int)cl->tid, ms);
		return ABANDONED;
	}
	if (*warned == 0) {
		if (arch_syscall_nr(&r) >= 0)
			pr_warn("the call in thread %d still runs after %llu ms (in syscall %lld): it may hold a lock, so it is let finish",
				(int)cl->tid, ms, arch_syscall_nr(&r));
		else
			pr_warn("the call in thread %d still runs after %llu ms (at pc %#llx): it may hold a lock, so it is let finish",
				(int)cl->tid, ms,
				(unsigned long long)arch_pc(&r));
		*warned = 1;
		cl->out->overran = 1;
	} else if (*warned == 1 &&
		   ran_ns >= HARD_CAP_FACTOR * 1000000ull * c->timeout_ms) {
		pr_warn("the call in thread %d still runs after %llu ms: abandoning it outside a lock wait would crash the process, so it is still waited for",
			(int)cl->tid, ms);
		*warned = 2;
		cl->out->overran = 2;
	}
	cl->mode[i] = RM_FREE; /* the stop we asked for came: no other */
	cont(cl, i, 0);
	return GOING_ON;
}

/* The calling thread's signal-delivery stop: our return, or a signal. */
static int
caller_signal(struct call *cl, size_t i, int sig)
{
	struct user_regs_struct r;
	siginfo_t si;

	if (sig == SIGSEGV && !arch_get_regs(cl->tid, &r) &&
	    !ptrace(PTRACE_GETSIGINFO, cl->tid, 0, &si) &&
	    arch_call_returned(&r, cl->slot_addr) && si.si_addr == NULL) {
		int err;

		cl->out->call_ns = la_now_ns() - cl->call0;
		cl->out->ret = arch_retval(&r);
		cl->out->returned = 1;
		cl->ts->t[i].state = TRACEE_STOPPED;
		/* detached later with signal 0: the SIGSEGV is suppressed */
		err = restore_thread(cl);
		return err ? err : RETURNED;
	}
	if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE)
		pr_warn("thread %d faulted (signal %d) inside the call: delivering it",
			(int)cl->tid, sig);
	cl->out->signals_delivered++;
	cont(cl, i, sig);
	return GOING_ON;
}

/*
 * Handle one wait status of thread i. Returns GOING_ON, RETURNED,
 * ABANDONED or a negative error.
 */
static int
on_status(struct call *cl, size_t i, int st, uint64_t ran_ns, int *warned)
{
	struct tracee *t = &cl->ts->t[i];
	int is_caller = t->tid == cl->tid;
	int ev = st >> 16, sig;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		t->state = TRACEE_GONE;
		return is_caller ? la_fail(-ESRCH,
					   "process %d exited during the call",
					   (int)cl->ts->pid)
				 : GOING_ON;
	}
	if (!WIFSTOPPED(st))
		return GOING_ON;
	sig = WSTOPSIG(st);
	switch (ev) {
	case 0:
		if (is_caller)
			return caller_signal(cl, i, sig);
		cl->out->signals_forwarded++;
		cont(cl, i, sig); /* re-inject at once: never lost */
		return GOING_ON;
	case PTRACE_EVENT_STOP:
		if (is_job_control_stop(sig)) {
			/* a group stop: keep it, and hear of SIGCONT */
			t->group_stop = 1;
			if (!ptrace(PTRACE_LISTEN, t->tid, 0, 0))
				cl->mode[i] = RM_LISTEN;
			return GOING_ON;
		}
		t->group_stop = 0;
		if (is_caller && cl->mode[i] == RM_PENDING)
			return timed_out(cl, i, ran_ns, warned);
		/* a new thread's first stop, or the end of a group stop */
		cl->mode[i] = RM_FREE;
		cont(cl, i, 0);
		return GOING_ON;
	case PTRACE_EVENT_CLONE: {
		unsigned long msg = 0;

		/*
		 * Out of memory: the new thread stays outside the set, traced
		 * and stopped until this process exits; never return while
		 * the call runs.
		 */
		if (!ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) &&
		    adopt(cl, (pid_t)msg))
			pr_warn("out of memory: new thread %d stays stopped",
				(int)msg);
		cont(cl, i, 0); /* t may have moved: cont() uses the index */
		return GOING_ON;
	}
	case PTRACE_EVENT_EXEC:
		/* every other thread is gone, the caller with them */
		for (size_t k = 0; k < cl->ts->n; k++)
			cl->ts->t[k].state = TRACEE_GONE;
		t->state = TRACEE_STOPPED;
		return la_fail(
			-LA_EEXEC,
			"process %d executed a new program during the call",
			(int)cl->ts->pid);
	default:
		cont(cl, i, 0);
		return GOING_ON;
	}
}

/* Poll every thread until the call returns or is abandoned. */
static int
wait_call(struct call *cl)
{
	uint64_t budget = (uint64_t)cl->c->timeout_ms * 1000000u;
	uint64_t ran = 0, next_check = budget, last = la_now_ns();
	unsigned idle = 0;
	int warned = 0;

	for (;;) {
		int progress = 0, r;
		struct tracee *me;
		size_t ci;

		for (size_t i = 0; i < cl->ts->n; i++) {
			struct tracee *t = &cl->ts->t[i];
			int st;
			pid_t w;

			if (t->state != TRACEE_RUNNING)
				continue;
			w = waitpid(t->tid, &st, WNOHANG | __WALL);
			if (w == 0 || (w < 0 && errno == EINTR))
				continue;
			progress = 1;
			if (w < 0) {
				/* ECHILD: not ours any more, so gone */
				t->state = TRACEE_GONE;
				continue;
			}
			r = on_status(cl, i, st, ran, &warned);
			if (r != GOING_ON)
				return r;
		}
		/* The call's clock stops while job control holds it. */
		if (!find_index(cl, cl->tid, &ci))
			return la_fail(-ESRCH,
				       "process %d exited during the call",
				       (int)cl->ts->pid);
		me = &cl->ts->t[ci];
		if (me->state != TRACEE_RUNNING)
			return la_fail(-ESRCH,
				       "process %d exited during the call",
				       (int)cl->ts->pid);
		if (me->state == TRACEE_RUNNING && cl->mode[ci] != RM_LISTEN)
			ran += la_now_ns() - last;
		last = la_now_ns();
		if (me->state == TRACEE_RUNNING && cl->mode[ci] == RM_FREE &&
		    ran >= next_check) {
			uint64_t step = ran < HARD_CAP_FACTOR * budget
						? budget / 10
						: budget;

			if (!ptrace(PTRACE_INTERRUPT, me->tid, 0, 0))
				cl->mode[ci] = RM_PENDING;
			next_check = ran + (step > 1000000u ? step : 1000000u);
		}
		/*
		 * A call takes from a fraction of a millisecond: yield first,
		 * then sleep in short steps.
		 */
		tracee_backoff(&idle, progress);
	}
}

/*
 * Ask every thread still running for a stop, so that tracee_resume_all()
 * can take it and detach: a thread must be in a ptrace stop to be
 * detached, and a listening one is not.
 */
static void
stop_others(struct call *cl)
{
	for (size_t i = 0; i < cl->ts->n; i++) {
		struct tracee *t = &cl->ts->t[i];

		if (t->state != TRACEE_RUNNING || cl->mode[i] == RM_PENDING)
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) && errno == ESRCH) {
			/* exiting: tracee_resume_all() finds it gone */
			continue;
		}
		cl->mode[i] = RM_PENDING;
	}
}

int
inject_call(struct tracee_set *ts, size_t idx, const struct inject_call *c,
	    struct inject_result *out)
{
	struct call cl;
	struct user_regs_struct r;
	struct tracee *me;
	long word;
	int err;

	memset(out, 0, sizeof(*out));
	memset(&cl, 0, sizeof(cl));
	if (!ARCH_HAS_INJECT)
		return la_fail(-EOPNOTSUPP,
			       ARCH_NOT_PORTED("the injected call (trim)"));
	if (idx >= ts->n || ts->t[idx].state != TRACEE_STOPPED ||
	    ts->t[idx].group_stop || !c->timeout_ms)
		return la_fail(-EINVAL, "no stopped thread to make the call");
	cl.ts = ts;
	cl.c = c;
	cl.out = out;
	cl.tid = ts->t[idx].tid;
	cl.mode_cap = ts->cap > ts->n ? ts->cap : ts->n + 1;
	cl.mode = calloc(cl.mode_cap, 1);
	if (!cl.mode)
		return la_fail(-ENOMEM, "out of memory");
	err = save_thread(&cl);
	if (err)
		goto out;

	/*
	 * The fake frame: below the red zone and a gap, aligned as a call
	 * leaves it (arch_call_sp()); on x86_64 the return address 0 is
	 * pushed there, on aarch64 it goes in x30.
	 */
	cl.slot_addr = arch_call_sp(arch_sp(&cl.saved), FRAME_GAP);
	if (ARCH_CALL_RET_ON_STACK) {
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, cl.tid, (void *)cl.slot_addr, 0);
		if (errno) {
			err = la_fail(-errno,
				      "cannot read the stack of thread %d: %s",
				      (int)cl.tid, strerror(errno));
			goto out;
		}
		cl.slot_saved = (uint64_t)word;
	}
	err = arch_get_regs(cl.tid, &r);
	if (err)
		goto out;
	arch_call_regs(&r, c->fn_addr, cl.slot_addr, c->arg);
	cl.replaced = 1;
	cl.away0 = la_now_ns();
	if (ARCH_CALL_RET_ON_STACK &&
	    ptrace(PTRACE_POKEDATA, cl.tid, (void *)cl.slot_addr, 0))
		err = -errno;
	else
		err = arch_set_regs(cl.tid, &r);
	if (err) {
		err = la_fail(err, "cannot set up the call in thread %d: %s",
			      (int)cl.tid, strerror(-err));
		restore_thread(&cl);
		goto out;
	}

	/* Everyone runs: a lock holder among the others must get on. */
	for (size_t i = 0; i < ts->n; i++) {
		struct tracee *t = &ts->t[i];

		if (t->state != TRACEE_STOPPED || t->group_stop ||
		    t->tid == cl.tid)
			continue;
		cont(&cl, i, 0);
	}
	me = &ts->t[idx];
	cl.call0 = la_now_ns();
	if (ptrace(PTRACE_CONT, cl.tid, 0, 0)) {
		err = la_fail(-errno, "cannot start the call in thread %d: %s",
			      (int)cl.tid, strerror(errno));
		restore_thread(&cl);
		goto out_stop;
	}
	me->state = TRACEE_RUNNING;
	cl.mode[idx] = RM_FREE;

	err = wait_call(&cl);
	if (err == RETURNED)
		err = 0;
	else if (err == ABANDONED)
		err = la_fail(
			-LA_ECALLTIMEOUT,
			"the call in thread %d of process %d waited for a lock for more than %u ms: it was abandoned and the thread restored; try again",
			(int)cl.tid, (int)ts->pid, c->timeout_ms);
	me = caller(&cl);
	if (!cl.restored && me && me->state == TRACEE_STOPPED)
		restore_thread(&cl);
out_stop:
	stop_others(&cl);
out:
	arch_fp_free(&cl.fp);
	free(cl.mode);
	return err;
}
