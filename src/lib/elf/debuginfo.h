/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debuginfo.h - the only door to libdwarf. Generic DWARF questions asked of
 * one compilation unit: "what are the members of struct X", "where is
 * variable Y". It knows no malloc names; malloc_layout.c asks the
 * questions. Finding *which* debug file belongs to a binary is
 * debugfile.c's job.
 */
#ifndef LA_DEBUGINFO_H
#define LA_DEBUGINFO_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct debuginfo;

#define DEBUGINFO_MAX_MEMBERS 64

struct di_member {
	char name[40];
	uint64_t offset;
};

struct di_struct {
	uint64_t size;
	unsigned n;
	struct di_member m[DEBUGINFO_MAX_MEMBERS];
};

/*
 * Open path's DWARF. When the file allows it, questions are answered from
 * one compilation unit at a time, read alone (debuginfo.c says how):
 * memory in proportion to that unit, not to the file. Else, and whenever
 * that fails, libdwarf reads the whole file. -LA_ENODEBUGINFO.
 */
int debuginfo_open(const char *path, struct debuginfo **out);
/* The same, reading the whole file from the start (the fallback). */
int debuginfo_open_whole(const char *path, struct debuginfo **out);
/* Whether di still reads one unit at a time. */
int debuginfo_sliced(const struct debuginfo *di);
void debuginfo_close(struct debuginfo *di);

/*
 * Select the compilation unit that contains the link-time address pc (by
 * .debug_aranges, else by each CU's address ranges), or else the first CU
 * whose name ends in cu_suffix. -ENOENT when none matches.
 */
int debuginfo_select_cu(struct debuginfo *di, uint64_t pc,
			const char *cu_suffix);

/* A struct type defined in the selected CU, by tag name. -ENOENT. */
int debuginfo_struct(struct debuginfo *di, const char *name,
		     struct di_struct *out);
/* Offset of a member (-1 when absent). */
int64_t debuginfo_member_offset(const struct di_struct *s, const char *name);

/*
 * A variable defined in the selected CU: its link-time address, or for a
 * thread-local one (*is_tls = 1) its offset in the module's TLS block.
 */
int debuginfo_variable(struct debuginfo *di, const char *name, uint64_t *value,
		       int *is_tls);

/*
 * The source file (as the line table names it, usually an absolute path)
 * and line of the link-time address pc, from .debug_line: the row with the
 * greatest address <= pc whose successor in its sequence lies above pc.
 * The CU comes from .debug_aranges (else, reading the whole file, from
 * each CU's low/high pc). Read one CU at a time, the CU's line program is
 * run by lineprog.c, keeping no rows; the last few CUs' programs are kept
 * (1 MiB at most). Reading the whole file, libdwarf's line tables are
 * kept, copied, for the last few CUs. -ENOENT when no line table covers
 * pc.
 */
int debuginfo_line(struct debuginfo *di, uint64_t pc, char *file, size_t len,
		   unsigned *line);

/*
 * Tests only: answer debuginfo_line() from libdwarf's line tables (as
 * before lineprog.c) even when di reads one CU at a time, to compare.
 */
void debuginfo_lines_libdwarf(struct debuginfo *di);

/*
 * Call frame information from a module's runtime file: its .eh_frame
 * (Debian's separate debug files carry .eh_frame as NOBITS, so CFI never
 * comes from them; doc/design/unwinding.md, "The CFI step"). The FDE of
 * an address is found through .eh_frame_hdr and read with the last few
 * asked for; without that table, every FDE is read at open. Registers are
 * DWARF
 * numbers, the CPU's (arch/CPU/cpu.h: x86_64 0 rax, 1 rdx, 2 rcx, 3 rbx,
 * 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 return address; aarch64
 * 0-30 x0-x30, 31 sp, the return address in x30).
 */
struct debuginfo_cfi;

#define CFI_NREGS ARCH_DW_NREGS

enum cfi_rule_kind {
	CFI_UNDEFINED, /* no value: for the return address, outermost frame */
	CFI_SAME, /* unchanged from the callee */
	CFI_OFFSET, /* saved at CFA + offset */
	CFI_VAL_OFFSET, /* is CFA + offset */
	CFI_REGISTER, /* is register reg (+ offset, for the CFA rule) */
	CFI_EXPRESSION, /* saved at the address expr computes (CFA pushed) */
	CFI_VAL_EXPRESSION, /* is what expr computes (CFA pushed) */
};

struct cfi_rule {
	enum cfi_rule_kind kind;
	unsigned reg;
	int64_t offset;
	/* DWARF expression, owned by the cfi: valid until the next
	 * debuginfo_cfi_row() or debuginfo_cfi_close() */
	const unsigned char *expr;
	size_t expr_len;
};

struct cfi_row {
	/* CFI_REGISTER (reg + offset), or CFI_VAL_EXPRESSION (no CFA push) */
	struct cfi_rule cfa;
	struct cfi_rule reg[CFI_NREGS];
	uint64_t fde_lo, fde_hi; /* link-time range of the FDE */
};

/*
 * Open path's .eh_frame. -LA_ENODEBUGINFO when there is none (or it
 * cannot be parsed), -ENOMEM.
 */
int debuginfo_cfi_open(const char *path, struct debuginfo_cfi **out);
/* The same, reading every FDE at open (the fallback). */
int debuginfo_cfi_open_whole(const char *path, struct debuginfo_cfi **out);
/* Whether cfi reads FDEs as they are asked for. */
int debuginfo_cfi_sliced(const struct debuginfo_cfi *cfi);
void debuginfo_cfi_close(struct debuginfo_cfi *cfi);
/* The rules in effect at link-time address pc. -ENOENT: no FDE holds it. */
int debuginfo_cfi_row(struct debuginfo_cfi *cfi, uint64_t pc,
		      struct cfi_row *out);

#endif
