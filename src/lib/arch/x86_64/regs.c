/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arch/x86_64/regs.c - the x86_64 side of arch.h: a stopped thread's
 * registers, thread pointer and extended state, the syscall it was
 * stopped in, the page size. Moved here unchanged from ptrace/tracee.c
 * and ptrace/inject.c.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/arch.h"
#include "base/error.h"

/* include/linux/errno.h: never seen by user space, seen by tracers */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#define XSTATE_BUF (32u << 10) /* > any XSAVE area (AMX: about 11 KiB) */

int
arch_get_regs(pid_t tid, struct user_regs_struct *r)
{
	return ptrace(PTRACE_GETREGS, tid, 0, r) ? -errno : 0;
}

int
arch_set_regs(pid_t tid, const struct user_regs_struct *r)
{
	return ptrace(PTRACE_SETREGS, tid, 0, r) ? -errno : 0;
}

int
arch_get_tp(pid_t tid, const struct user_regs_struct *r, uint64_t *tp)
{
	(void)tid;
	*tp = r->fs_base;
	return 0;
}

int
arch_save_fp(pid_t tid, struct arch_fpstate *fp)
{
	struct iovec iov;

	memset(fp, 0, sizeof(*fp));
	fp->buf = malloc(XSTATE_BUF);
	if (!fp->buf)
		return -ENOMEM;
	iov.iov_base = fp->buf;
	iov.iov_len = XSTATE_BUF;
	if (!ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) &&
	    iov.iov_len < XSTATE_BUF) {
		fp->kind = NT_X86_XSTATE;
		fp->len = iov.iov_len;
		return 0;
	}
	/* no XSAVE: the legacy FXSAVE area (x87 and SSE) */
	iov.iov_base = fp->buf;
	iov.iov_len = sizeof(struct user_fpregs_struct);
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRFPREG, &iov))
		return la_fail(
			-errno,
			"cannot read the floating-point registers of thread %d: %s",
			(int)tid, strerror(errno));
	fp->kind = NT_PRFPREG;
	fp->len = iov.iov_len;
	return 0;
}

int
arch_restore_fp(pid_t tid, const struct arch_fpstate *fp)
{
	struct iovec iov = {fp->buf, fp->len};

	if (fp->kind &&
	    ptrace(PTRACE_SETREGSET, tid, (void *)(long)fp->kind, &iov))
		return -errno;
	return 0;
}

void
arch_fp_free(struct arch_fpstate *fp)
{
	free(fp->buf);
	free(fp->sve);
	memset(fp, 0, sizeof(*fp));
}

int
arch_blocked_in_syscall(const struct user_regs_struct *r)
{
	if ((long long)r->orig_rax < 0)
		return 0;
	switch ((long long)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		return 1;
	case -ERESTART_RESTARTBLOCK:
		return 2;
	default:
		return 0;
	}
}

void
arch_fixup_restart(struct user_regs_struct *r)
{
	switch (arch_blocked_in_syscall(r)) {
	case 1:
		r->rax = r->orig_rax;
		r->rip -= 2; /* back on the 2-byte syscall instruction */
		break;
	case 2:
		r->rax = SYS_restart_syscall;
		r->rip -= 2;
		break;
	default:
		break;
	}
	r->orig_rax = (unsigned long long)-1;
}

uint64_t
arch_page_size(void)
{
	unsigned long v = getauxval(AT_PAGESZ);

	return v ? (uint64_t)v : 4096u; /* x86_64 has no other size */
}
