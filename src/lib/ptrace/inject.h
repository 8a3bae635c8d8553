/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inject.h - make one stopped thread of the target call a function of its
 * own, then put the thread back exactly as it was. What differs by CPU
 * (registers, FP/SIMD state, where the return address goes) is in
 * arch/arch.h; not ported to aarch64 yet (-EOPNOTSUPP, ARCH_HAS_INJECT).
 *
 * The recipe (doc/design/injection.md, "The call, step by step"; gdb's
 * dummy frame in gdb/infcall.c does the same): save the general
 * registers, the extended state (x87/SSE/AVX) and the signal mask; apply
 * the syscall-restart fix-up to the saved copy, so that a thread caught
 * blocked in a syscall re-executes it; push a return address of 0 below
 * the red zone; run the function while every other thread runs too; the
 * return is a SIGSEGV at address 0, which is caught, read and suppressed;
 * then restore everything. This file knows nothing about malloc: which
 * thread calls, what it calls, and when a call that hangs may be abandoned
 * are the caller's decisions.
 *
 * If this process dies while the call runs, the thread returns to address
 * 0 with nobody to catch it and the target dies: callers run this from a
 * process that cannot be interrupted (leakattach(1) forks a guard).
 */
#ifndef LA_INJECT_H
#define LA_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

struct tracee_set;

struct inject_call {
	uint64_t fn_addr; /* the function, in the target */
	uint64_t arg; /* its first argument (rdi, x0) */
	/*
	 * After this long the thread is interrupted and looked at; it is
	 * abandoned only in a futex wait that may_abort() accepts, else it
	 * is let run on (with a warning past 10 times this).
	 */
	unsigned timeout_ms;
	/*
	 * The thread sits in futex(2) with registers r: may the call be
	 * abandoned here, i.e. does it hold nothing (NULL: never)?
	 */
	int (*may_abort)(void *arg, const struct user_regs_struct *r);
	void *may_abort_arg;
	/*
	 * Signal-handler return addresses (libc's __restore_rt): when a
	 * signal was delivered to the thread during the call, a handler may
	 * run on top of it, and then the call is never abandoned.
	 */
	const uint64_t *restorer_addr;
	unsigned n_restorer;
};

struct inject_result {
	uint64_t ret; /* rax (x0) at the return */
	int returned; /* the function returned (0: abandoned, or error) */
	uint64_t call_ns; /* resumed into the function -> its return seen */
	uint64_t away_ns; /* registers replaced -> restored */
	unsigned signals_forwarded; /* to the other threads, meanwhile */
	unsigned signals_delivered; /* to the calling thread, meanwhile */
	/*
	 * The timeout passed while the call ran outside a lock wait, so it
	 * was let finish: 1, with a warning; 2, with a second one past
	 * HARD_CAP_FACTOR times the timeout. 0 otherwise.
	 */
	unsigned overran;
};

/*
 * Call c->fn_addr in thread ts->t[idx]. Every thread of ts must be in a
 * ptrace stop we waited for (tracee_stop_all()); the calling thread must
 * not be in a group stop. Returns 0 when the function returned
 * (out->ret), -LA_ECALLTIMEOUT when it was abandoned in a lock wait, or
 * -ESRCH, -LA_EEXEC, -ENOMEM... In every case the calling thread has been
 * restored (unless it is gone) and every thread of ts, new ones included,
 * is stopped or has a stop pending: the caller then calls
 * tracee_resume_all(). out is filled as far as the call got.
 */
int inject_call(struct tracee_set *ts, size_t idx, const struct inject_call *c,
		struct inject_result *out);

/*
 * x86_64 (arch_fixup_restart(); aarch64's kernel has done it before the
 * stop, see arch/aarch64/regs.c). The syscall-restart fix-up (CRIU's get_task_regs() in
 * compel/arch/x86/src/lib/infect.c; the kernel restarts only on a signal
 * return, arch_do_signal_or_restart()): a thread stopped inside an
 * interrupted syscall (orig_rax >= 0, rax -ERESTART*) gets rip back on its
 * syscall instruction and rax = the syscall number (restart_syscall for
 * -ERESTART_RESTARTBLOCK), so that restoring these registers re-executes
 * it; orig_rax becomes -1 so that the kernel does not restart anything on
 * its own.
 */
void inject_fixup_restart(struct user_regs_struct *r);

/*
 * 1 when the registers are those of a thread blocked in a syscall that
 * the fix-up will restart, 2 when it is an -ERESTART_RESTARTBLOCK one
 * (restart_syscall, which trusts the kernel's per-thread restart block),
 * else 0.
 */
int inject_blocked_in_syscall(const struct user_regs_struct *r);

#endif
