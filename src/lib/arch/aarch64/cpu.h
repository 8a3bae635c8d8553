/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arch/aarch64/cpu.h - the aarch64 side of arch.h: register accessors and
 * constants. Included through arch/arch.h only.
 *
 * struct user_regs_struct (glibc's <sys/user.h>) is the NT_PRSTATUS
 * regset, struct user_pt_regs in the kernel: regs[31] (x0-x30), sp, pc,
 * pstate; 272 bytes. AAPCS64: x0-x7 arguments, x0 the result, x8 the
 * syscall number (svc #0), x29 the frame pointer, x30 the link register
 * (the return address at a function's entry), no red zone.
 */
#ifndef LA_ARCH_AARCH64_CPU_H
#define LA_ARCH_AARCH64_CPU_H

#include <elf.h>
#include <stdint.h>
#include <sys/user.h>

#define ARCH_NAME "aarch64"

/* ---- what is ported ---- */
/*
 * The injected call: its registers, FP/SIMD state and return are written
 * (arch_call_regs() and regs.c) but not run in a guest yet, and a thread
 * blocked in a syscall cannot be told from its registers alone (the
 * kernel has already rewound pc and x0 at the stop, see regs.c): trim
 * refuses until both are done and tested.
 */
#define ARCH_HAS_INJECT 0
/* The BRK backend (int3_tracer.c's aarch64 twin) is not written. */
#define ARCH_HAS_INT3 0

/* ---- ELF (ELF for the Arm 64-bit Architecture, "Relocation") ---- */
#define ARCH_EM EM_AARCH64
#define ARCH_R_RELATIVE 1027 /* R_AARCH64_RELATIVE */
#define ARCH_R_GLOB_DAT 1025 /* R_AARCH64_GLOB_DAT */
#define ARCH_R_JUMP_SLOT 1026 /* R_AARCH64_JUMP_SLOT */
/* R_AARCH64_TLS_TPREL64: the GOT slot holds &var - tp, as on x86_64 */
#define ARCH_R_TPOFF 1030

/* ---- registers ---- */
static inline uint64_t
arch_pc(const struct user_regs_struct *r)
{
	return r->pc;
}

static inline void
arch_set_pc(struct user_regs_struct *r, uint64_t v)
{
	r->pc = v;
}

static inline uint64_t
arch_sp(const struct user_regs_struct *r)
{
	return r->sp;
}

/*
 * The link register x30: a leaf function called by malloc (a syscall
 * wrapper, say) keeps its return address into malloc there only.
 */
static inline uint64_t
arch_lr(const struct user_regs_struct *r)
{
	return r->regs[30];
}

static inline uint64_t
arch_retval(const struct user_regs_struct *r)
{
	return r->regs[0];
}

/*
 * The syscall the thread is in: not in NT_PRSTATUS on aarch64 (x8 keeps
 * the number of the last one; the kernel's syscallno is NT_ARM_SYSTEM_CALL
 * and NO_SYSCALL by the time of a signal stop). -1: unknown.
 */
static inline long long
arch_syscall_nr(const struct user_regs_struct *r)
{
	(void)r;
	return -1;
}

static inline uint64_t
arch_syscall_arg0(const struct user_regs_struct *r)
{
	return r->regs[0];
}

/* ---- TLS: variant I, a 16-byte TCB at the thread pointer, then the blocks ---- */
/*
 * The offset from the thread pointer of a static executable's TLS block
 * (PT_TLS memsz, align): the TCB's 16 bytes rounded up to the block's
 * alignment (glibc's _dl_determine_tlsoffset() with TLS_DTV_AT_TP,
 * TLS_TCB_SIZE 16 in sysdeps/aarch64/nptl/tls.h; ld's local-exec
 * offsets use the same).
 */
static inline int64_t
arch_tls_exec_start(uint64_t memsz, uint64_t align)
{
	uint64_t a = align > 16 ? align : 16;

	(void)memsz;
	return (int64_t)a;
}

/*
 * The end of a thread's stack block from its thread pointer: struct
 * pthread lies below tp, the static TLS above it up to the block's end
 * (glibc's allocate_stack(), TLS_DTV_AT_TP), about 2 KiB with glibc's
 * surplus: the end is the first page boundary above tp while the static
 * TLS fits in a page. Measured in the guest: tp + 2 pages (x86_64's
 * rule) reaches into the mapping above and hid the header of an
 * mmapped chunk placed there.
 */
static inline uint64_t
arch_stack_block_end(uint64_t tp, uint64_t page)
{
	return (tp + page) & ~(page - 1);
}

/*
 * The offsets to search, when only the block's size is known: from the
 * TCB's end, with room for an alignment of up to 64 bytes.
 */
static inline void
arch_tls_exec_search(uint64_t size, int64_t *lo, int64_t *hi)
{
	*lo = 16;
	*hi = 64 + (int64_t)size;
}

/*
 * libc's initial-exec TLS: GCC's section anchors let one GOT slot serve
 * the variables near it (Debian 12's libc loads tcache from
 * thread_arena's slot + 8): without symbols, the words this far around
 * each slot's value are tried too.
 */
#define ARCH_TLS_ANCHOR_SPAN 0x100u

/* ---- the injected call ---- */
#define ARCH_RED_ZONE 0u /* AAPCS64 on Linux: none */
/* the return address is in x30: nothing is written on the stack */
#define ARCH_CALL_RET_ON_STACK 0

/* sp at the call: 16-byte aligned (AAPCS64), below the gap */
static inline uint64_t
arch_call_sp(uint64_t sp, uint64_t gap)
{
	return (sp - ARCH_RED_ZONE - gap) & ~15ull;
}

/* x0 = arg, x30 = 0 (the fake return address), pc = fn, sp = call_sp */
static inline void
arch_call_regs(struct user_regs_struct *r, uint64_t fn, uint64_t call_sp,
	       uint64_t arg)
{
	r->pc = fn;
	r->sp = call_sp;
	r->regs[0] = arg;
	r->regs[30] = 0;
	/* PSTATE: SS (single step, bit 21) and BTYPE (bits 11:10) clear */
	r->pstate &= ~((1ull << 21) | (3ull << 10));
}

/* ret jumped to x30 = 0; the callee restored sp */
static inline int
arch_call_returned(const struct user_regs_struct *r, uint64_t call_sp)
{
	return r->pc == 0 && r->sp == call_sp;
}

/*
 * glibc's sa_restorer __restore_rt (sysdeps/unix/sysv/linux/aarch64/
 * sigaction.c): "mov x8, #139 (rt_sigreturn); svc #0", little-endian.
 */
#define ARCH_RESTORE_RT_CODE                                   \
	{                                                      \
		0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4 \
	}

/* ---- breakpoints ---- */
#define ARCH_BRK_INSN 0xd4200000ull /* BRK #0, little-endian word */
#define ARCH_BRK_LEN 4u
/* a BRK trap reports pc = the BRK itself */
#define ARCH_BRK_PC_AFTER 0u

/* ---- DWARF register numbers (DWARF for the Arm 64-bit Architecture) ---- */
/*
 * bl pushes nothing: at a function's entry (a uprobe's frame 0) the
 * caller's sp is the callee's. Measured in the guest: without this the
 * unwinder stopped at frame 0 (a "loop") and callers had empty stacks.
 */
#define ARCH_FRAME0_SAME_SP 1
/*
 * 0-30 x0-x30, 31 sp; the return address column is x30 (GCC's
 * DWARF_FRAME_RETURN_COLUMN), which is also a real register: frame 0's
 * pc is kept apart from it (unwind.c).
 */
#define ARCH_DW_NREGS 32
#define ARCH_DW_FP 29
#define ARCH_DW_SP 31
#define ARCH_DW_RA 30
/*
 * The frame record (AAPCS64 §6.2.3, "The Frame Pointer"): [x29] is the
 * caller's x29, [x29 + 8] the return address (x30). The caller's sp is
 * not in the record: x29 + 16 is its lowest bound (the record lies at the
 * bottom of the caller-visible frame when built with
 * -fno-omit-frame-pointer, which is what the fallback assumes).
 */
#define ARCH_FP_RA_OFF 8u
#define ARCH_FP_CALLER_SP_OFF 16u

/*
 * A return address without its pointer-authentication signature (PAC,
 * ARMv8.3: paciasp signs x30 before it is saved; the signature sits in
 * the bits above the virtual address, 48-54 with 48-bit addresses, the
 * mask NT_ARM_PAC_MASK reports, and bit 55 and the top byte are TBI's).
 * Linux gives user space addresses below 2^48 unless a program asks
 * mmap for more (52-bit VA), so clearing bits 48-63 strips any
 * signature; a return address above 2^48 would be cut, to be revisited
 * with the mask when a 52-bit user space shows up.
 */
static inline uint64_t
arch_strip_ra(uint64_t ra)
{
	return ra & ((1ull << 48) - 1);
}

static inline void
arch_dw_regs(const struct user_regs_struct *u, uint64_t r[ARCH_DW_NREGS],
	     uint64_t *pc)
{
	for (unsigned i = 0; i < 31; i++)
		r[i] = u->regs[i];
	r[31] = u->sp;
	*pc = u->pc;
}

static inline void
arch_sample_regs(struct user_regs_struct *r, uint64_t pc, uint64_t sp,
		 uint64_t fp, uint64_t lr)
{
	r->pc = pc;
	r->sp = sp;
	r->regs[29] = fp;
	r->regs[30] = lr;
}

/* ---- perf_event_open's sample registers (<asm/perf_regs.h>) ---- */
#define ARCH_PERF_IP PERF_REG_ARM64_PC
#define ARCH_PERF_SP PERF_REG_ARM64_SP
#define ARCH_PERF_FP PERF_REG_ARM64_X29
#define ARCH_PERF_LR_VALUE(regs) ((regs)[PERF_REG_ARM64_LR])
#define ARCH_PERF_ARG0 PERF_REG_ARM64_X0
#define ARCH_PERF_ARG1 PERF_REG_ARM64_X1
#define ARCH_PERF_ARG2 PERF_REG_ARM64_X2
#define ARCH_PERF_RET PERF_REG_ARM64_X0
#define ARCH_PERF_NREGS PERF_REG_ARM64_MAX
#define ARCH_PERF_MASK                                                \
	((1ull << PERF_REG_ARM64_X0) | (1ull << PERF_REG_ARM64_X1) |  \
	 (1ull << PERF_REG_ARM64_X2) | (1ull << PERF_REG_ARM64_X29) | \
	 (1ull << PERF_REG_ARM64_LR) | (1ull << PERF_REG_ARM64_SP) |  \
	 (1ull << PERF_REG_ARM64_PC))
/* ret leaves sp as the entry found it */
#define ARCH_RET_SP_DELTA 0u

#endif
