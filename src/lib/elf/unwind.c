/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unwind.c - offline stack unwinding from a copy of the registers and the
 * stack (see unwind.h). The CFI step (doc/design/unwinding.md, "The CFI
 * step"; DWARF 5 section 6.4) matched gdb through libc, the executable and
 * clone3/_start: look up the FDE at the link-time pc (pc - 1 above frame 0:
 * a return address points after the call, which may be the last instruction
 * of a function), compute the CFA, then every register's rule. The DWARF
 * expressions of CFI (the .plt's CFA, signal frames) are evaluated here,
 * over the copy.
 *
 * Not here: libdwarf (debuginfo.c, through modules_cfi_row()), symbols.
 */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"
#include "elf/debuginfo.h"
#include "elf/modules.h"
#include "elf/unwind.h"
#include "proc/memsrc.h"

/*
 * The CPU's DWARF register numbers (arch/CPU/cpu.h): the frame pointer
 * (rbp, x29), the stack pointer (rsp, sp) and the return address column
 * (x86_64's 16, aarch64's x30).
 */
#define R_FP ARCH_DW_FP
#define R_SP ARCH_DW_SP
#define R_RA ARCH_DW_RA
#define ALL_VALID (CFI_NREGS >= 32 ? 0xffffffffu : (1u << (CFI_NREGS & 31)) - 1)

struct regs {
	uint64_t r[CFI_NREGS];
	uint32_t valid; /* bit i: r[i] is known */
	/*
	 * The frame's pc: frame 0's own, above it the return address
	 * column's value (on x86_64 the same as r[R_RA]; on aarch64 x30
	 * is a register of its own at frame 0).
	 */
	uint64_t pc;
};

struct stack {
	uint64_t addr;
	const unsigned char *buf;
	size_t len;
};

/* 8 (or n <= 8) bytes of the copy at addr; -EFAULT outside it. */
static int
stack_read(const struct stack *st, uint64_t addr, unsigned n, uint64_t *out)
{
	uint64_t off = addr - st->addr, v = 0;

	if (addr < st->addr || n > 8 || off > st->len || st->len - off < n)
		return -EFAULT;
	memcpy(&v, st->buf + off, n); /* little-endian host, like the target */
	*out = v;
	return 0;
}

static void
regs_from_user(const struct user_regs_struct *u, struct regs *r)
{
	arch_dw_regs(u, r->r, &r->pc);
	r->valid = ALL_VALID;
}

static int
reg_get(const struct regs *r, unsigned reg, uint64_t *out)
{
	if (reg >= CFI_NREGS || !(r->valid & (1u << reg)))
		return -ENOENT;
	*out = r->r[reg];
	return 0;
}

/* ---- DWARF expressions (DWARF 5 §2.5), the subset CFI uses ---------------- */

enum {
	OP_addr = 0x03,
	OP_deref = 0x06,
	OP_const1u = 0x08,
	OP_const1s = 0x09,
	OP_const2u = 0x0a,
	OP_const2s = 0x0b,
	OP_const4u = 0x0c,
	OP_const4s = 0x0d,
	OP_const8u = 0x0e,
	OP_const8s = 0x0f,
	OP_constu = 0x10,
	OP_consts = 0x11,
	OP_dup = 0x12,
	OP_drop = 0x13,
	OP_over = 0x14,
	OP_pick = 0x15,
	OP_swap = 0x16,
	OP_rot = 0x17,
	OP_abs = 0x19,
	OP_and = 0x1a,
	OP_div = 0x1b,
	OP_minus = 0x1c,
	OP_mod = 0x1d,
	OP_mul = 0x1e,
	OP_neg = 0x1f,
	OP_not = 0x20,
	OP_or = 0x21,
	OP_plus = 0x22,
	OP_plus_uconst = 0x23,
	OP_shl = 0x24,
	OP_shr = 0x25,
	OP_shra = 0x26,
	OP_xor = 0x27,
	OP_bra = 0x28,
	OP_eq = 0x29,
	OP_ge = 0x2a,
	OP_gt = 0x2b,
	OP_le = 0x2c,
	OP_lt = 0x2d,
	OP_ne = 0x2e,
	OP_skip = 0x2f,
	OP_lit0 = 0x30,
	OP_lit31 = 0x4f,
	OP_breg0 = 0x70,
	OP_breg31 = 0x8f,
	OP_bregx = 0x92,
	OP_deref_size = 0x94,
	OP_nop = 0x96,
};

#define EXPR_STACK 32
#define EXPR_MAX_STEPS 1024 /* bra/skip can loop: bound the work */

struct cursor {
	const unsigned char *p, *end;
};

static int
get_u(struct cursor *c, unsigned n, uint64_t *out)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n)
		return -EINVAL;
	memcpy(&v, c->p, n);
	c->p += n;
	*out = v;
	return 0;
}

static int
get_uleb(struct cursor *c, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; c->p < c->end && shift < 64; shift += 7) {
		unsigned char b = *c->p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static int
get_sleb(struct cursor *c, int64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b = 0x80;

	while (c->p < c->end && shift < 64 && (b & 0x80)) {
		b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	if (b & 0x80)
		return -EINVAL;
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	*out = (int64_t)v;
	return 0;
}

static uint64_t
sext(uint64_t v, unsigned bytes)
{
	unsigned shift = 64 - 8 * bytes;

	return (uint64_t)((int64_t)(v << shift) >> shift);
}

static int
binary_op(unsigned char op, uint64_t a, uint64_t b, uint64_t *out)
{
	/* a is the second entry, b the top: "a op b" */
	switch (op) {
	case OP_and:
		*out = a & b;
		return 0;
	case OP_div:
		if (!b || ((int64_t)a == INT64_MIN && (int64_t)b == -1))
			return -EINVAL;
		*out = (uint64_t)((int64_t)a / (int64_t)b);
		return 0;
	case OP_minus:
		*out = a - b;
		return 0;
	case OP_mod:
		if (!b)
			return -EINVAL;
		*out = a % b;
		return 0;
	case OP_mul:
		*out = a * b;
		return 0;
	case OP_or:
		*out = a | b;
		return 0;
	case OP_plus:
		*out = a + b;
		return 0;
	case OP_shl:
		*out = b >= 64 ? 0 : a << b;
		return 0;
	case OP_shr:
		*out = b >= 64 ? 0 : a >> b;
		return 0;
	case OP_shra:
		*out = (uint64_t)((int64_t)a >> (b >= 64 ? 63 : b));
		return 0;
	case OP_xor:
		*out = a ^ b;
		return 0;
	case OP_eq:
		*out = a == b;
		return 0;
	case OP_ge:
		*out = (int64_t)a >= (int64_t)b;
		return 0;
	case OP_gt:
		*out = (int64_t)a > (int64_t)b;
		return 0;
	case OP_le:
		*out = (int64_t)a <= (int64_t)b;
		return 0;
	case OP_lt:
		*out = (int64_t)a < (int64_t)b;
		return 0;
	case OP_ne:
		*out = a != b;
		return 0;
	}
	return -EINVAL;
}

/*
 * Evaluate expr with push (the CFA for register rules) on the stack when
 * has_push. Memory comes from the stack copy only. -EINVAL on anything
 * malformed or unsupported, -EFAULT for a read outside the copy, -ENOENT
 * for an unknown register.
 */
static int
eval_expr(const unsigned char *expr, size_t len, const struct regs *r,
	  const struct stack *st, int has_push, uint64_t push, uint64_t *out)
{
	uint64_t s[EXPR_STACK];
	unsigned sp = 0;
	struct cursor c = {expr, expr + len};
	int err;

	if (!expr)
		return -EINVAL;
	if (has_push)
		s[sp++] = push;
	for (unsigned steps = 0; c.p < c.end; steps++) {
		unsigned char op = *c.p++;
		uint64_t u, v;
		int64_t sv;

		if (steps >= EXPR_MAX_STEPS || sp >= EXPR_STACK)
			return -EINVAL;
		if (op >= OP_lit0 && op <= OP_lit31) {
			s[sp++] = op - OP_lit0;
			continue;
		}
		if (op >= OP_breg0 && op <= OP_breg31) {
			if (get_sleb(&c, &sv))
				return -EINVAL;
			err = reg_get(r, op - OP_breg0, &u);
			if (err)
				return err;
			s[sp++] = u + (uint64_t)sv;
			continue;
		}
		switch (op) {
		case OP_addr:
		case OP_const8u:
		case OP_const8s:
			if (get_u(&c, 8, &u))
				return -EINVAL;
			s[sp++] = u;
			break;
		case OP_const1u:
		case OP_const2u:
		case OP_const4u:
			if (get_u(&c,
				  op == OP_const1u   ? 1
				  : op == OP_const2u ? 2
						     : 4,
				  &u))
				return -EINVAL;
			s[sp++] = u;
			break;
		case OP_const1s:
		case OP_const2s:
		case OP_const4s: {
			unsigned n = op == OP_const1s	? 1
				     : op == OP_const2s ? 2
							: 4;

			if (get_u(&c, n, &u))
				return -EINVAL;
			s[sp++] = sext(u, n);
			break;
		}
		case OP_constu:
			if (get_uleb(&c, &u))
				return -EINVAL;
			s[sp++] = u;
			break;
		case OP_consts:
			if (get_sleb(&c, &sv))
				return -EINVAL;
			s[sp++] = (uint64_t)sv;
			break;
		case OP_bregx:
			if (get_uleb(&c, &u) || get_sleb(&c, &sv))
				return -EINVAL;
			err = reg_get(
				r, u > CFI_NREGS ? CFI_NREGS : (unsigned)u, &v);
			if (err)
				return err;
			s[sp++] = v + (uint64_t)sv;
			break;
		case OP_dup:
			if (sp < 1)
				return -EINVAL;
			s[sp] = s[sp - 1];
			sp++;
			break;
		case OP_drop:
			if (sp < 1)
				return -EINVAL;
			sp--;
			break;
		case OP_over:
			if (sp < 2)
				return -EINVAL;
			s[sp] = s[sp - 2];
			sp++;
			break;
		case OP_pick:
			if (get_u(&c, 1, &u) || u >= sp)
				return -EINVAL;
			s[sp] = s[sp - 1 - u];
			sp++;
			break;
		case OP_swap:
			if (sp < 2)
				return -EINVAL;
			u = s[sp - 1];
			s[sp - 1] = s[sp - 2];
			s[sp - 2] = u;
			break;
		case OP_rot:
			if (sp < 3)
				return -EINVAL;
			u = s[sp - 1];
			s[sp - 1] = s[sp - 2];
			s[sp - 2] = s[sp - 3];
			s[sp - 3] = u;
			break;
		case OP_deref:
		case OP_deref_size:
			u = 8;
			if (op == OP_deref_size &&
			    (get_u(&c, 1, &u) || !u || u > 8))
				return -EINVAL;
			if (sp < 1)
				return -EINVAL;
			err = stack_read(st, s[sp - 1], (unsigned)u, &v);
			if (err)
				return err;
			s[sp - 1] = v;
			break;
		case OP_abs:
			if (sp < 1)
				return -EINVAL;
			if ((int64_t)s[sp - 1] < 0)
				s[sp - 1] = -s[sp - 1];
			break;
		case OP_neg:
			if (sp < 1)
				return -EINVAL;
			s[sp - 1] = -s[sp - 1];
			break;
		case OP_not:
			if (sp < 1)
				return -EINVAL;
			s[sp - 1] = ~s[sp - 1];
			break;
		case OP_plus_uconst:
			if (sp < 1 || get_uleb(&c, &u))
				return -EINVAL;
			s[sp - 1] += u;
			break;
		case OP_skip:
		case OP_bra:
			if (get_u(&c, 2, &u))
				return -EINVAL;
			sv = (int16_t)u;
			if (op == OP_bra) {
				if (sp < 1)
					return -EINVAL;
				if (!s[--sp])
					break;
			}
			if (sv < expr - c.p || sv > c.end - c.p)
				return -EINVAL;
			c.p += sv;
			break;
		case OP_nop:
			break;
		default:
			if (sp < 2 || binary_op(op, s[sp - 2], s[sp - 1], &u))
				return -EINVAL;
			s[sp - 2] = u;
			sp--;
		}
	}
	if (sp < 1)
		return -EINVAL;
	*out = s[sp - 1];
	return 0;
}

/* ---- one step -------------------------------------------------------------- */

/*
 * The caller's registers from the callee's (cur) with the CFI row: 0,
 * -EFAULT when the return address lies outside the copy, -ENOENT when a
 * needed register is unknown, 1 when the return address is undefined (the
 * outermost frame).
 */
static int
step_cfi(const struct cfi_row *row, const struct regs *cur,
	 const struct stack *st, struct regs *next)
{
	uint64_t cfa, v;
	int err;

	if (row->cfa.kind == CFI_REGISTER) {
		err = reg_get(cur, row->cfa.reg, &cfa);
		if (err)
			return err;
		cfa += (uint64_t)row->cfa.offset;
	} else {
		err = eval_expr(row->cfa.expr, row->cfa.expr_len, cur, st, 0, 0,
				&cfa);
		if (err)
			return err;
	}
	next->valid = 0;
	for (unsigned i = 0; i < CFI_NREGS; i++) {
		const struct cfi_rule *rule = &row->reg[i];

		err = 0;
		switch (rule->kind) {
		case CFI_UNDEFINED:
			err = -ENOENT;
			break;
		case CFI_SAME:
			err = reg_get(cur, i, &v);
			break;
		case CFI_OFFSET:
			err = stack_read(st, cfa + (uint64_t)rule->offset, 8,
					 &v);
			break;
		case CFI_VAL_OFFSET:
			v = cfa + (uint64_t)rule->offset;
			break;
		case CFI_REGISTER:
			err = reg_get(cur, rule->reg, &v);
			break;
		case CFI_EXPRESSION:
			err = eval_expr(rule->expr, rule->expr_len, cur, st, 1,
					cfa, &v);
			if (!err)
				err = stack_read(st, v, 8, &v);
			break;
		case CFI_VAL_EXPRESSION:
			err = eval_expr(rule->expr, rule->expr_len, cur, st, 1,
					cfa, &v);
			break;
		}
		if (i == R_RA && rule->kind == CFI_UNDEFINED)
			return 1;
		if (i == R_RA && err)
			return err == -EFAULT ? -EFAULT : -ENOENT;
		if (!err) {
			next->r[i] = v;
			next->valid |= 1u << i;
		}
	}
	/*
	 * The CFA is the stack pointer before the call (psABI); only signal
	 * frames give the stack pointer a rule of its own.
	 */
	if (row->reg[R_SP].kind == CFI_SAME ||
	    row->reg[R_SP].kind == CFI_UNDEFINED) {
		next->r[R_SP] = cfa;
		next->valid |= 1u << R_SP;
	}
	/* valid: checked in the loop above; PAC-signed on aarch64 */
	next->pc = arch_strip_ra(next->r[R_RA]);
	return 0;
}

/*
 * The frame pointer convention (arch/CPU/cpu.h): x86_64's push %rbp; mov
 * %rsp,%rbp, aarch64's frame record. So [fp] is the caller's fp, [fp +
 * ARCH_FP_RA_OFF] the return address, fp + ARCH_FP_CALLER_SP_OFF the
 * caller's sp (x86_64) or its lowest bound (aarch64). Other registers are
 * unknown in the caller.
 */
static int
step_fp(const struct regs *cur, const struct stack *st, struct regs *next)
{
	uint64_t fp, sp, ra, up;

	if (reg_get(cur, R_FP, &fp) || reg_get(cur, R_SP, &sp))
		return -ENOENT;
	/* A frame pointer below the stack pointer is no frame of ours. */
	if (fp < sp || (fp & 7) || fp > UINT64_MAX - 16)
		return -ENOENT;
	if (stack_read(st, fp, 8, &up) ||
	    stack_read(st, fp + ARCH_FP_RA_OFF, 8, &ra))
		return -EFAULT;
	next->valid = (1u << R_FP) | (1u << R_SP) | (1u << R_RA);
	next->r[R_FP] = up;
	next->r[R_SP] = fp + ARCH_FP_CALLER_SP_OFF;
	next->r[R_RA] = ra;
	next->pc = arch_strip_ra(ra);
	return 0;
}

unsigned
unwind_stack(struct modules *m, const struct user_regs_struct *uregs,
	     uint64_t stack_addr, const void *stack, size_t len, unsigned flags,
	     struct unwind_frame *out, unsigned max, enum unwind_stop *stop)
{
	struct stack st = {stack_addr, stack, stack ? len : 0};
	struct regs cur, next;
	enum unwind_stop why = UNWIND_STOP_MAX;
	enum unwind_how how = UNWIND_REGS;
	unsigned n = 0;

	regs_from_user(uregs, &cur);
	/* At most max frames, each with a strictly higher sp: bounded. */
	while (n < max) {
		uint64_t pc = cur.pc, lookup;
		const struct module *mod = NULL;
		struct cfi_row row;
		int err = -ENOENT;

		if (!pc) {
			why = UNWIND_STOP_PC0;
			break;
		}
		out[n].pc = pc;
		out[n].sp = cur.r[R_SP];
		out[n].how = how;
		n++;
		if (n == max)
			break;
		/* Above frame 0, pc - 1 is inside the call instruction. */
		lookup = n == 1 ? pc : pc - 1;
		if (m && !(flags & UNWIND_NO_CFI))
			mod = modules_find(m, lookup);
		if (mod && !modules_cfi_row(m, mod, lookup, &row)) {
			err = step_cfi(&row, &cur, &st, &next);
			how = UNWIND_CFI;
			if (err == 1) {
				why = UNWIND_STOP_OUTERMOST;
				break;
			}
		}
		if (err) {
			/* No FDE, or its rules need what we lost: try fp. */
			err = step_fp(&cur, &st, &next);
			how = UNWIND_FP;
		}
		if (err) {
			why = err == -EFAULT ? UNWIND_STOP_STACK
					     : UNWIND_STOP_NO_RULE;
			break;
		}
		if (!(next.valid & (1u << R_SP)) ||
		    !(next.valid & (1u << R_RA))) {
			why = UNWIND_STOP_NO_RULE;
			break;
		}
		/*
		 * The stack grows down: callers have higher stack pointers;
		 * the same one only above frame 0 caught before its
		 * prologue, where nothing was pushed (aarch64: the return
		 * address is in x30; ARCH_FRAME0_SAME_SP). Bounded still.
		 */
		if (next.r[R_SP] < cur.r[R_SP] ||
		    (next.r[R_SP] == cur.r[R_SP] &&
		     !(ARCH_FRAME0_SAME_SP && n == 1))) {
			why = UNWIND_STOP_LOOP;
			break;
		}
		cur = next;
	}
	if (stop)
		*stop = why;
	return n;
}

long
unwind_copy_stack(struct memsrc *mem, uint64_t sp, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t got = 0;

	/* Each read ends at an unreadable page at the latest: bounded. */
	while (got < len) {
		ssize_t n =
			mem->ops->read(mem->priv, sp + got, p + got, len - got);

		if (n == -ESRCH)
			return -ESRCH;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

const char *
unwind_stop_str(enum unwind_stop stop)
{
	switch (stop) {
	case UNWIND_STOP_OUTERMOST:
		return "outermost frame";
	case UNWIND_STOP_PC0:
		return "return address 0";
	case UNWIND_STOP_STACK:
		return "outside the stack copy";
	case UNWIND_STOP_LOOP:
		return "stack pointer did not grow";
	case UNWIND_STOP_MAX:
		return "frame limit";
	case UNWIND_STOP_NO_RULE:
		return "no CFI and no frame pointer";
	}
	return "?";
}
