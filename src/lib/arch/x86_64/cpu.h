/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arch/x86_64/cpu.h - the x86_64 side of arch.h: register accessors and
 * constants. Included through arch/arch.h only.
 */
#ifndef LA_ARCH_X86_64_CPU_H
#define LA_ARCH_X86_64_CPU_H

#include <elf.h>
#include <stdint.h>
#include <sys/user.h>

#define ARCH_NAME "x86_64"

/* ---- what is ported ---- */
#define ARCH_HAS_INJECT 1 /* the injected call (trim) */
#define ARCH_HAS_INT3 1 /* the int3 callers backend */

/* ---- ELF ---- */
#define ARCH_EM EM_X86_64
#define ARCH_R_RELATIVE R_X86_64_RELATIVE
#define ARCH_R_GLOB_DAT R_X86_64_GLOB_DAT
#define ARCH_R_JUMP_SLOT R_X86_64_JUMP_SLOT
/* the GOT slot of an initial-exec TLS variable: &var = tp + slot */
#define ARCH_R_TPOFF R_X86_64_TPOFF64

/* ---- registers ---- */
static inline uint64_t
arch_pc(const struct user_regs_struct *r)
{
	return r->rip;
}

static inline void
arch_set_pc(struct user_regs_struct *r, uint64_t v)
{
	r->rip = v;
}

static inline uint64_t
arch_sp(const struct user_regs_struct *r)
{
	return r->rsp;
}

/* the link register: none, the return address is on the stack */
static inline uint64_t
arch_lr(const struct user_regs_struct *r)
{
	(void)r;
	return 0;
}

/* the return value, after a call */
static inline uint64_t
arch_retval(const struct user_regs_struct *r)
{
	return r->rax;
}

/* the syscall the thread is in, or -1 (not in one, or unknown) */
static inline long long
arch_syscall_nr(const struct user_regs_struct *r)
{
	return (long long)r->orig_rax;
}

/* a syscall's first argument (valid while arch_syscall_nr() >= 0) */
static inline uint64_t
arch_syscall_arg0(const struct user_regs_struct *r)
{
	return r->rdi;
}

/* ---- TLS: variant II, the static TLS blocks end at the thread pointer ---- */
/*
 * The offset from the thread pointer of a static executable's TLS block
 * (PT_TLS memsz, align): x86_64 psABI, TLS variant II.
 */
static inline int64_t
arch_tls_exec_start(uint64_t memsz, uint64_t align)
{
	uint64_t a = align > 1 ? align : 1;

	return -(int64_t)((memsz + a - 1) / a * a);
}

/*
 * The end of a thread's stack block from its thread pointer: struct
 * pthread sits at tp with the static TLS below it, tp a page or two
 * below the block's end (glibc's allocate_stack(), TLS_TCB_AT_TP).
 */
static inline uint64_t
arch_stack_block_end(uint64_t tp, uint64_t page)
{
	return (tp + 2 * page) & ~(page - 1);
}

/* The offsets to search, when only the block's size is known: [-size, 0). */
static inline void
arch_tls_exec_search(uint64_t size, int64_t *lo, int64_t *hi)
{
	*lo = -(int64_t)size;
	*hi = 0;
}

/* libc's initial-exec TLS: one GOT slot per variable (no neighbours) */
#define ARCH_TLS_ANCHOR_SPAN 0u

/* ---- the injected call ---- */
#define ARCH_RED_ZONE 128u /* psABI: below rsp, the callee's to use */
/*
 * The call instruction pushes the return address: the fake one (0) is
 * written at the stack pointer the function starts with.
 */
#define ARCH_CALL_RET_ON_STACK 1

/*
 * The stack pointer the function is entered with, below sp and its red
 * zone and gap: 16-byte aligned after the return address is pushed, as a
 * call instruction leaves it.
 */
static inline uint64_t
arch_call_sp(uint64_t sp, uint64_t gap)
{
	return ((sp - ARCH_RED_ZONE - gap) & ~15ull) - 8;
}

/* r (a copy of the thread's) becomes fn(arg) entered with stack call_sp */
static inline void
arch_call_regs(struct user_regs_struct *r, uint64_t fn, uint64_t call_sp,
	       uint64_t arg)
{
	r->rip = fn;
	r->rsp = call_sp;
	r->rdi = arg;
	r->rax = 0; /* no vector registers used (varargs convention) */
	r->orig_rax = (unsigned long long)-1; /* no syscall restart on resume */
	r->eflags &= ~0x500ull; /* DF clear (psABI), TF clear */
}

/* the function returned to address 0: ret popped the slot at call_sp */
static inline int
arch_call_returned(const struct user_regs_struct *r, uint64_t call_sp)
{
	return r->rip == 0 && r->rsp == call_sp + 8;
}

/*
 * glibc's sa_restorer __restore_rt (sysdeps/unix/sysv/linux/x86_64/
 * libc_sigaction.c): "mov $15 (rt_sigreturn), %rax; syscall".
 */
#define ARCH_RESTORE_RT_CODE                                         \
	{                                                            \
		0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 \
	}

/* ---- breakpoints ---- */
#define ARCH_BRK_INSN 0xccull /* int3 */
#define ARCH_BRK_LEN 1u
/* the pc a breakpoint trap reports, from the breakpoint's address */
#define ARCH_BRK_PC_AFTER 1u

/* ---- DWARF register numbers (psABI §3.6.2, figure 3.36) ---- */
/* a call pushes the return address: a caller's sp is always higher */
#define ARCH_FRAME0_SAME_SP 0
/*
 * 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15,
 * 16 the return address (no register of its own: it holds the pc).
 */
#define ARCH_DW_NREGS 17
#define ARCH_DW_FP 6
#define ARCH_DW_SP 7
#define ARCH_DW_RA 16
/*
 * The frame pointer convention (push %rbp; mov %rsp,%rbp): [fp] is the
 * caller's fp, [fp + 8] the return address, fp + 16 the caller's sp.
 */
#define ARCH_FP_RA_OFF 8u
#define ARCH_FP_CALLER_SP_OFF 16u

/* A return address as the code uses it (no signature to strip here). */
static inline uint64_t
arch_strip_ra(uint64_t ra)
{
	return ra;
}

/* The DWARF registers of frame 0 (all valid) and its pc. */
static inline void
arch_dw_regs(const struct user_regs_struct *u, uint64_t r[ARCH_DW_NREGS],
	     uint64_t *pc)
{
	const unsigned long long v[ARCH_DW_NREGS] = {
		u->rax, u->rdx, u->rcx, u->rbx, u->rsi, u->rdi,
		u->rbp, u->rsp, u->r8,	u->r9,	u->r10, u->r11,
		u->r12, u->r13, u->r14, u->r15, u->rip,
	};

	for (unsigned i = 0; i < ARCH_DW_NREGS; i++)
		r[i] = v[i];
	*pc = u->rip;
}

/*
 * Registers to unwind a sample from (pc, sp, frame pointer, link
 * register: 0 on x86_64, where the return address is on the stack).
 */
static inline void
arch_sample_regs(struct user_regs_struct *r, uint64_t pc, uint64_t sp,
		 uint64_t fp, uint64_t lr)
{
	(void)lr;
	r->rip = pc;
	r->rsp = sp;
	r->rbp = fp;
}

/* ---- perf_event_open's sample registers (<asm/perf_regs.h>) ---- */
#define ARCH_PERF_IP PERF_REG_X86_IP
#define ARCH_PERF_SP PERF_REG_X86_SP
#define ARCH_PERF_FP PERF_REG_X86_BP
#define ARCH_PERF_LR_VALUE(regs) ((void)(regs), 0ull) /* none */
#define ARCH_PERF_ARG0 PERF_REG_X86_DI
#define ARCH_PERF_ARG1 PERF_REG_X86_SI
#define ARCH_PERF_ARG2 PERF_REG_X86_DX
#define ARCH_PERF_RET PERF_REG_X86_AX
#define ARCH_PERF_NREGS PERF_REG_X86_64_MAX
#define ARCH_PERF_MASK                                           \
	((1ull << PERF_REG_X86_AX) | (1ull << PERF_REG_X86_DX) | \
	 (1ull << PERF_REG_X86_SI) | (1ull << PERF_REG_X86_DI) | \
	 (1ull << PERF_REG_X86_BP) | (1ull << PERF_REG_X86_SP) | \
	 (1ull << PERF_REG_X86_IP))
/* a return's sp from its entry's: ret popped the return address */
#define ARCH_RET_SP_DELTA 8u

#endif
