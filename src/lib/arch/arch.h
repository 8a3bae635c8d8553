/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arch.h - what differs between the CPUs leakattach runs on (x86_64,
 * aarch64), behind one small interface, the way CRIU's compel keeps
 * arch/x86/ beside its generic injection code. The generic code keeps
 * using struct user_regs_struct (<sys/user.h> has one on both CPUs: the
 * layout of PTRACE_GETREGSET NT_PRSTATUS) but never names a register:
 * it asks the inline accessors of arch/CPU/cpu.h and the functions below
 * (arch/CPU/regs.c). Nothing else in src/lib tests __x86_64__ or
 * __aarch64__.
 *
 * What is here: reading and writing a stopped thread's registers, its
 * thread pointer and TLS variant, the FP/SIMD state an injected call must
 * preserve, the injected call's registers and its return, the syscall a
 * thread was stopped in, the breakpoint instruction, the DWARF register
 * numbers for unwinding, the perf sample registers, the ELF machine and
 * relocation types, the page size. What is not ported to a CPU is a
 * constant ARCH_HAS_... = 0, and the feature then refuses with one
 * sentence (ARCH_NOT_PORTED).
 *
 * Room: arch comes right after base (HACKING.md, "A map of src/lib"). Of
 * these functions, only arch_set_regs() and arch_restore_fp() write into
 * the target, and only ptrace/inject.c and sampling/int3_tracer.c may
 * call them (make lint, scripts/lint-walls).
 */
#ifndef LA_ARCH_H
#define LA_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#if defined(__x86_64__)
#include "arch/x86_64/cpu.h"
#elif defined(__aarch64__)
#include "arch/aarch64/cpu.h"
#else
#error "leakattach supports x86_64 and aarch64 only (configure.ac)"
#endif

/* The sentence of a feature not ported to this CPU (la_fail() format). */
#define ARCH_NOT_PORTED(feature) feature " is not ported to " ARCH_NAME " yet"

/*
 * The general registers of a stopped thread (x86_64: PTRACE_GETREGS;
 * aarch64: PTRACE_GETREGSET NT_PRSTATUS, the whole set or an error).
 * 0 or -errno.
 */
int arch_get_regs(pid_t tid, struct user_regs_struct *r);
/* Write them back: only ptrace/inject.c and sampling/int3_tracer.c. */
int arch_set_regs(pid_t tid, const struct user_regs_struct *r);
/*
 * The thread pointer (x86_64: fs_base, in r; aarch64: tpidr_el0 from
 * NT_ARM_TLS). 0 or -errno, *tp = 0 then.
 */
int arch_get_tp(pid_t tid, const struct user_regs_struct *r, uint64_t *tp);

/*
 * The FP/SIMD and vector state that a call may change (x86_64: the XSAVE
 * area, else the FXSAVE one; aarch64: NT_PRFPREG, and the SVE state
 * where the CPU has it). arch_save_fp() allocates buf; arch_fp_free()
 * frees it (accepts a zeroed struct).
 */
struct arch_fpstate {
	unsigned char *buf;
	size_t len;
	int kind; /* the regset (NT_...), 0: nothing saved */
	unsigned char *sve;
	size_t sve_len;
};
int arch_save_fp(pid_t tid, struct arch_fpstate *fp);
int arch_restore_fp(pid_t tid, const struct arch_fpstate *fp);
void arch_fp_free(struct arch_fpstate *fp);

/*
 * A thread stopped with registers r: 1 when it was blocked in a syscall
 * that restoring r restarts (-ERESTARTSYS, -ERESTARTNOINTR,
 * -ERESTARTNOHAND), 2 for -ERESTART_RESTARTBLOCK, else 0; and the fix-up
 * that makes restoring r restart it (see inject.h).
 */
int arch_blocked_in_syscall(const struct user_regs_struct *r);
void arch_fixup_restart(struct user_regs_struct *r);

/*
 * The size of a page. One kernel runs the tool and the target, so this
 * is the target's too (/proc/PID/auxv's AT_PAGESZ holds the same value);
 * 4 KiB on x86_64, 4, 16 or 64 KiB on aarch64. Never 0.
 */
uint64_t arch_page_size(void);

/* Round v up to a multiple of a (a power of 2, or 0: v). */
static inline uint64_t
arch_roundup(uint64_t v, uint64_t a)
{
	return a > 1 ? (v + a - 1) & ~(a - 1) : v;
}

#endif
