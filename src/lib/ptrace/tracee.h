/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracee.h - stop every thread of a target and let it go again.
 *
 * "tracee" is one thread (TID), "target" the process (PID), as in strace.
 * tracee_stop_all() seizes and interrupts every thread until the thread
 * list is stable; tracee_resume_all() detaches every one of them. Nothing
 * is held between the two calls but the ptrace stops themselves: if the
 * caller dies, the kernel detaches and the target simply continues.
 */
#ifndef LA_TRACEE_H
#define LA_TRACEE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

enum tracee_state {
	TRACEE_RUNNING, /* seized, a stop is pending */
	TRACEE_STOPPED, /* in a ptrace stop we have waited for */
	TRACEE_GONE, /* exited */
};

struct tracee {
	pid_t tid;
	enum tracee_state state;
	int group_stop; /* job control had it stopped: keep it so */
	int have_regs;
	struct user_regs_struct regs; /* arch/arch.h reads them */
	uint64_t tp; /* the thread pointer (x86_64 fs_base), 0: unknown */
};

struct tracee_set {
	pid_t pid;
	struct tracee *t;
	size_t n, cap;
	uint64_t stop_begin_ns; /* first PTRACE_INTERRUPT */
	uint64_t stopped_ns; /* every thread stopped */
	uint64_t resume_end_ns; /* last PTRACE_DETACH */
	unsigned signals_forwarded;
};

/*
 * Stop every thread. On failure nothing stays attached (all stopped
 * threads are detached again) and la_errmsg() says why: -ESRCH (gone),
 * -EPERM, -LA_ETRACED, -LA_ESTOPTIMEOUT, -LA_EEXEC.
 */
int tracee_stop_all(pid_t pid, unsigned timeout_ms, struct tracee_set *set);
/*
 * With every thread stopped: let the threads whose run[i] is set go on for
 * slice_ns, then stop them again; the others stay stopped. A thread that
 * job control stopped never runs. Registers are read again. Errors as for
 * tracee_stop_all(), after which nothing stays attached.
 */
int tracee_run_some(struct tracee_set *set, const unsigned char *run,
		    uint64_t slice_ns, unsigned timeout_ms);
/* Detach every thread; a thread that job control had stopped stays so. */
int tracee_resume_all(struct tracee_set *set);
void tracee_set_free(struct tracee_set *set);
/*
 * Append thread tid (seized, its stop pending: TRACEE_RUNNING) to the
 * set; may move set->t. Returns 0 or -ENOMEM.
 */
int tracee_set_add(struct tracee_set *set, pid_t tid);

/*
 * A thread of pid inside vfork(), waiting for its child (which runs in
 * pid's memory) to exec or exit, or 0: such a thread cannot be stopped.
 */
pid_t tracee_vforking(pid_t pid);

uint64_t la_now_ns(void);
/*
 * In a loop polling for stops: after progress start again; else yield the
 * CPU (the target's threads may be waiting for this core), and after 64
 * rounds without progress sleep in short steps (20 us, then 200 us).
 */
void tracee_backoff(unsigned *idle, int progress);

#endif
