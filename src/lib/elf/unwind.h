/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unwind.h - a thread's call stack, unwound offline from copies: its
 * registers and the bytes of its stack from the stack pointer upwards,
 * taken while it was stopped; the target runs again meanwhile. Each frame
 * is unwound with the CFI of its module's .eh_frame, else by following the
 * frame pointer (rbp chain). Everything read from the copy is untrusted
 * and bounds-checked; a garbage stack ends the walk, never the tool.
 *
 * Not here: stopping the target (tracee.c), symbols and lines for the
 * addresses found (modules.c).
 */
#ifndef LA_UNWIND_H
#define LA_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

struct memsrc;
struct modules;

enum unwind_how {
	UNWIND_REGS, /* frame 0: the instruction pointer */
	UNWIND_CFI, /* the caller found with the callee's CFI */
	UNWIND_FP, /* ... with the callee's frame pointer */
};

/* Why the walk ended. */
enum unwind_stop {
	UNWIND_STOP_OUTERMOST, /* CFI marks the return address undefined */
	UNWIND_STOP_PC0, /* the return address is 0 */
	UNWIND_STOP_STACK, /* a read fell outside the copy of the stack */
	UNWIND_STOP_LOOP, /* the stack pointer did not grow */
	UNWIND_STOP_MAX, /* max frames found */
	UNWIND_STOP_NO_RULE, /* no CFI and no usable frame pointer */
};

struct unwind_frame {
	/* frame 0: where the thread stopped; above: the return address */
	uint64_t pc;
	uint64_t sp; /* the stack pointer in this frame */
	enum unwind_how how;
};

/* Flags. */
#define UNWIND_NO_CFI 1u /* frame pointers only (for tests and comparison) */

/*
 * Unwind from regs with the copy stack[0, len) of the target's memory at
 * [stack_addr, stack_addr + len) (normally stack_addr = the stack pointer). m may
 * be NULL: frame pointers only. Fills up to max frames; returns how many
 * (0 only when max is 0), and in *stop (may be NULL) why it ended.
 */
unsigned unwind_stack(struct modules *m, const struct user_regs_struct *regs,
		      uint64_t stack_addr, const void *stack, size_t len,
		      unsigned flags, struct unwind_frame *out, unsigned max,
		      enum unwind_stop *stop);

/*
 * Copy up to len bytes of the target's stack at sp into buf, ending early
 * at the first unreadable page (the top of the stack mapping). Returns the
 * number of bytes copied (0 when sp itself is unreadable) or -ESRCH.
 */
long unwind_copy_stack(struct memsrc *mem, uint64_t sp, void *buf, size_t len);

const char *unwind_stop_str(enum unwind_stop stop);

#endif
