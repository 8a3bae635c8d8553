/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arch/aarch64/regs.c - the aarch64 side of arch.h: a stopped thread's
 * registers (PTRACE_GETREGSET: arm64 has no PTRACE_GETREGS), thread
 * pointer (NT_ARM_TLS), FP/SIMD and SVE state, the page size.
 *
 * Facts used (arch/arm64/kernel/ptrace.c and signal.c, Linux 6.1):
 *  - NT_PRSTATUS is struct user_pt_regs, 272 bytes; NT_ARM_TLS starts with
 *    tpidr_el0 (with SME it is followed by tpidr2_el0: read 16 bytes,
 *    accept 8); NT_PRFPREG is struct user_fpsimd_struct, 528 bytes;
 *    NT_ARM_SVE starts with struct user_sve_header (size, max_size, vl,
 *    max_vl, flags, reserved), its size field the whole regset's.
 *  - Syscall restart happens before the stop: do_signal() sets x0 back to
 *    orig_x0 and pc back on the svc for -ERESTART* and forgets the syscall
 *    (syscallno = NO_SYSCALL) before get_signal() stops the thread. So the
 *    registers a tracer reads already restart the syscall when restored,
 *    and nothing in them says the thread was in one:
 *    arch_blocked_in_syscall() answers 0 and arch_fixup_restart() has
 *    nothing to do. To check in the guest before trim is enabled (see
 *    cpu.h, ARCH_HAS_INJECT); -ERESTART_RESTARTBLOCK restarts the original
 *    syscall with its original arguments after an injected call.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/arch.h"
#include "base/error.h"

#ifndef NT_ARM_TLS
#define NT_ARM_TLS 0x401
#endif
#ifndef NT_ARM_SVE
#define NT_ARM_SVE 0x405
#endif

#define SVE_HEADER 16u
#define SVE_MAX (1u << 20) /* > any SVE regset (VL 2048 bits: about 9 KiB) */
#define SVE_PT_REGS_SVE 1u /* flags: the Z registers are live */

int
arch_get_regs(pid_t tid, struct user_regs_struct *r)
{
	struct iovec iov = {r, sizeof(*r)};

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov))
		return -errno;
	return iov.iov_len == sizeof(*r) ? 0 : -EIO;
}

int
arch_set_regs(pid_t tid, const struct user_regs_struct *r)
{
	struct iovec iov = {(void *)r, sizeof(*r)};

	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) ? -errno
									: 0;
}

int
arch_get_tp(pid_t tid, const struct user_regs_struct *r, uint64_t *tp)
{
	uint64_t v[2] = {0, 0};
	struct iovec iov = {v, sizeof(v)};

	(void)r;
	*tp = 0;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_TLS, &iov))
		return -errno;
	if (iov.iov_len < sizeof(v[0]))
		return -EIO;
	*tp = v[0];
	return 0;
}

int
arch_save_fp(pid_t tid, struct arch_fpstate *fp)
{
	struct iovec iov;
	uint32_t hdr[4];
	uint16_t flags;

	memset(fp, 0, sizeof(*fp));
	fp->buf = malloc(sizeof(struct user_fpsimd_struct));
	if (!fp->buf)
		return -ENOMEM;
	iov.iov_base = fp->buf;
	iov.iov_len = sizeof(struct user_fpsimd_struct);
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRFPREG, &iov))
		return la_fail(
			-errno,
			"cannot read the floating-point registers of thread %d: %s",
			(int)tid, strerror(errno));
	fp->kind = NT_PRFPREG;
	fp->len = iov.iov_len;

	/* SVE: the Z registers' upper bits, when they are live */
	iov.iov_base = hdr;
	iov.iov_len = sizeof(hdr);
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_SVE, &iov) ||
	    iov.iov_len < SVE_HEADER)
		return 0; /* no SVE on this CPU or kernel */
	memcpy(&flags, (unsigned char *)hdr + 12, sizeof(flags));
	if (!(flags & SVE_PT_REGS_SVE))
		return 0; /* FPSIMD view: NT_PRFPREG holds it all */
	if (hdr[0] < SVE_HEADER || hdr[0] > SVE_MAX)
		return la_fail(
			-EIO, "the SVE state of thread %d has an odd size (%u)",
			(int)tid, hdr[0]);
	fp->sve = malloc(hdr[0]);
	if (!fp->sve)
		return -ENOMEM;
	iov.iov_base = fp->sve;
	iov.iov_len = hdr[0];
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_SVE, &iov))
		return la_fail(-errno,
			       "cannot read the SVE registers of thread %d: %s",
			       (int)tid, strerror(errno));
	fp->sve_len = iov.iov_len;
	return 0;
}

int
arch_restore_fp(pid_t tid, const struct arch_fpstate *fp)
{
	struct iovec iov = {fp->buf, fp->len};
	int err = 0;

	if (fp->kind &&
	    ptrace(PTRACE_SETREGSET, tid, (void *)(long)fp->kind, &iov))
		err = -errno;
	/* after NT_PRFPREG, which would leave the Z registers' tops zeroed */
	iov.iov_base = fp->sve;
	iov.iov_len = fp->sve_len;
	if (fp->sve &&
	    ptrace(PTRACE_SETREGSET, tid, (void *)NT_ARM_SVE, &iov) && !err)
		err = -errno;
	return err;
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
	(void)r;
	return 0; /* not visible at a stop on arm64: see the top of the file */
}

void
arch_fixup_restart(struct user_regs_struct *r)
{
	(void)r; /* the kernel did it before the stop */
}

uint64_t
arch_page_size(void)
{
	unsigned long v = getauxval(AT_PAGESZ);
	long s;

	if (v)
		return (uint64_t)v;
	s = sysconf(_SC_PAGESIZE);
	return s > 0 ? (uint64_t)s : 4096u;
}
