/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_lineprog.c - lineprog.c on line-number programs built here byte by
 * byte (DWARF 4 section 6.2, DWARF 5 section 6.2), whose rows are known:
 * the row that holds an address, end_sequence rows, addresses before,
 * between and after the sequences, the last of overlapping rows,
 * DW_LNE_define_file, DWARF 5 tables with strings in .debug_line_str,
 * a 64-bit unit, VLIW op_index, opcodes to skip; then every prefix and
 * many corruptions of each program, in buffers of their exact size (run
 * under ASan by the sanitizer build): an error or the right answer, never
 * a read outside the bytes. test_debuginfo compares lineprog.c with
 * libdwarf on real files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf/lineprog.h"

/* ---- building a unit -------------------------------------------------- */

struct buf {
	unsigned char b[2048];
	size_t n;
};

static void
put(struct buf *b, uint64_t v, unsigned n)
{
	cr_assert_leq(b->n + n, sizeof(b->b));
	for (unsigned i = 0; i < n; i++)
		b->b[b->n++] = (unsigned char)(v >> (8 * i));
}

static void
uleb(struct buf *b, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;

		v >>= 7;
		put(b, c | (v ? 0x80 : 0), 1);
	} while (v);
}

static void
sleb(struct buf *b, int64_t v)
{
	for (;;) {
		unsigned char c = v & 0x7f;

		v >>= 7; /* arithmetic on GCC */
		if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
			put(b, c, 1);
			return;
		}
		put(b, c | 0x80, 1);
	}
}

static void
str(struct buf *b, const char *s)
{
	size_t l = strlen(s) + 1;

	cr_assert_leq(b->n + l, sizeof(b->b));
	memcpy(b->b + b->n, s, l);
	b->n += l;
}

/* opcodes (DWARF 5, 7.22) */
enum {
	COPY = 1,
	ADVANCE_PC,
	ADVANCE_LINE,
	SET_FILE,
	SET_COLUMN,
	NEGATE_STMT,
	SET_BASIC_BLOCK,
	CONST_ADD_PC,
	FIXED_ADVANCE_PC,
	SET_PROLOGUE_END,
	SET_EPILOGUE_BEGIN,
	SET_ISA,
};

#define LINE_BASE (-5)
#define LINE_RANGE 14

static void
ext(struct buf *b, unsigned op, uint64_t len)
{
	put(b, 0, 1);
	uleb(b, len);
	put(b, op, 1);
}

static void
end_sequence(struct buf *b)
{
	ext(b, 1, 1);
}

static void
set_address(struct buf *b, uint64_t a)
{
	ext(b, 2, 9);
	put(b, a, 8);
}

/* a special opcode: address + addr_adv operations, line + line_adv */
static void
special(struct buf *b, unsigned opcode_base, unsigned addr_adv, int line_adv)
{
	unsigned op = (unsigned)(line_adv - LINE_BASE) + LINE_RANGE * addr_adv +
		      opcode_base;

	cr_assert_leq(op, 255);
	put(b, op, 1);
}

struct unit_pos {
	size_t len_at, hlen_at, hdr_start, prog_start;
	int off64;
};

/* unit_length, version, (5: address and segment selector sizes),
 * header_length, and the fixed fields */
static void
begin_unit(struct buf *b, struct unit_pos *p, int off64, unsigned version,
	   unsigned max_ops, unsigned min_inst, unsigned opcode_base,
	   const unsigned char *std_len)
{
	p->off64 = off64;
	if (off64)
		put(b, 0xffffffffu, 4);
	p->len_at = b->n;
	put(b, 0, off64 ? 8 : 4);
	put(b, version, 2);
	if (version >= 5) {
		put(b, 8, 1);
		put(b, 0, 1);
	}
	p->hlen_at = b->n;
	put(b, 0, off64 ? 8 : 4);
	p->hdr_start = b->n;
	put(b, min_inst, 1);
	if (version >= 4)
		put(b, max_ops, 1);
	put(b, 1, 1); /* default_is_stmt */
	put(b, (unsigned char)(signed char)LINE_BASE, 1);
	put(b, LINE_RANGE, 1);
	put(b, opcode_base, 1);
	for (unsigned i = 0; i + 1 < opcode_base; i++)
		put(b, std_len[i], 1);
}

static void
begin_program(struct buf *b, struct unit_pos *p)
{
	uint64_t h = b->n - p->hdr_start;

	p->prog_start = b->n;
	for (unsigned i = 0; i < (p->off64 ? 8u : 4u); i++)
		b->b[p->hlen_at + i] = (unsigned char)(h >> (8 * i));
}

static void
end_unit(struct buf *b, struct unit_pos *p)
{
	uint64_t l = b->n - p->len_at - (p->off64 ? 8 : 4);

	for (unsigned i = 0; i < (p->off64 ? 8u : 4u); i++)
		b->b[p->len_at + i] = (unsigned char)(l >> (8 * i));
}

static const unsigned char std12[12] = {0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1};

/* ---- asking ----------------------------------------------------------- */

struct want {
	uint64_t pc;
	int err;
	const char *file;
	unsigned line;
};

/* lineprog_find() on a copy of exactly len bytes, so ASan sees overreads */
static int
ask(const unsigned char *u, size_t len, const struct lineprog_strs *strs,
    const char *comp_dir, uint64_t pc, char *file, size_t flen,
    unsigned *line)
{
	unsigned char *copy = malloc(len ? len : 1);
	int err;

	cr_assert_not_null(copy);
	memcpy(copy, u, len);
	err = lineprog_find(copy, len, 8, strs, comp_dir, pc, file, flen,
			    line);
	free(copy);
	return err;
}

static void
expect_all(const struct buf *b, const struct lineprog_strs *strs,
	   const char *comp_dir, const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char file[256] = "junk";
		unsigned line = 12345;
		int err = ask(b->b, b->n, strs, comp_dir, w[i].pc, file,
			      sizeof(file), &line);

		cr_expect_eq(err, w[i].err, "pc %#llx: %d, not %d",
			     (unsigned long long)w[i].pc, err, w[i].err);
		if (err || w[i].err)
			continue;
		cr_expect_str_eq(file, w[i].file, "pc %#llx",
				 (unsigned long long)w[i].pc);
		cr_expect_eq(line, w[i].line, "pc %#llx: line %u, not %u",
			     (unsigned long long)w[i].pc, line, w[i].line);
	}
}

/*
 * Every prefix of the unit, with its unit_length as written (longer than
 * the bytes: an error) and made to fit the prefix (the program cut
 * short: an error, or for each pc the full unit's answer or -ENOENT,
 * since the sequences here do not overlap); and each byte set to a few
 * values: anything but a crash or a read outside the bytes.
 */
static void
survive_damage(const struct buf *b, const struct unit_pos *p,
	       const struct lineprog_strs *strs, const struct want *w,
	       size_t n)
{
	static struct buf c;
	const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

	for (size_t len = 0; len < b->n; len++) {
		char file[256];
		unsigned line;

		cr_expect_neq(ask(b->b, len, strs, "/cd", w[0].pc, file,
				  sizeof(file), &line),
			      0, "a prefix of %zu bytes read as whole", len);
		if (len < p->len_at + (p->off64 ? 8 : 4))
			continue;
		c = *b;
		c.n = len;
		end_unit(&c, (struct unit_pos *)p);
		for (size_t i = 0; i < n; i++) {
			int err = ask(c.b, c.n, strs, "/cd", w[i].pc, file,
				      sizeof(file), &line);

			if (err)
				continue;
			cr_expect_eq(w[i].err, 0,
				     "%zu bytes: pc %#llx found, not %d", len,
				     (unsigned long long)w[i].pc, w[i].err);
			if (w[i].err)
				continue;
			cr_expect_str_eq(file, w[i].file,
					 "%zu bytes: pc %#llx", len,
					 (unsigned long long)w[i].pc);
			cr_expect_eq(line, w[i].line, "%zu bytes: pc %#llx",
				     len, (unsigned long long)w[i].pc);
		}
	}
	for (size_t at = 0; at < b->n; at++)
		for (size_t v = 0; v < sizeof(vals); v++) {
			char file[256];
			unsigned line;

			c = *b;
			c.b[at] = vals[v];
			for (size_t i = 0; i < n; i++)
				ask(c.b, c.n, strs, "/cd", w[i].pc, file,
				    sizeof(file), &line);
		}
}

/* ---- DWARF 4 ---------------------------------------------------------- */

/*
 * include_directories {"inc"}; files a.c (dir 0), b.h (dir 1), /abs/c.h;
 * d.c (dir 1) defined by the program. Rows:
 *   sequence 1: 0x1000 a.c:1, 0x1004 a.c:3, 0x100c b.h:13, end 0x1010
 *   sequence 2: 0x2000 c.h:100, 0x2010 c.h:100, 0x2021 d.c:50, end 0x2023
 */
static void
build_v4(struct buf *b, struct unit_pos *p, int off64)
{
	memset(b, 0, sizeof(*b));
	begin_unit(b, p, off64, 4, 1, 1, 13, std12);
	str(b, "inc");
	str(b, "");
	str(b, "a.c");
	uleb(b, 0);
	uleb(b, 0);
	uleb(b, 0);
	str(b, "b.h");
	uleb(b, 1);
	uleb(b, 0);
	uleb(b, 0);
	str(b, "/abs/c.h");
	uleb(b, 0);
	uleb(b, 0);
	uleb(b, 0);
	str(b, "");
	begin_program(b, p);

	set_address(b, 0x1000);
	put(b, SET_COLUMN, 1);
	uleb(b, 7);
	put(b, COPY, 1);
	special(b, 13, 4, 2);
	put(b, SET_FILE, 1);
	uleb(b, 2);
	put(b, ADVANCE_PC, 1);
	uleb(b, 8);
	put(b, ADVANCE_LINE, 1);
	sleb(b, 10);
	put(b, NEGATE_STMT, 1);
	put(b, SET_PROLOGUE_END, 1);
	put(b, COPY, 1);
	put(b, ADVANCE_PC, 1);
	uleb(b, 4);
	end_sequence(b);

	set_address(b, 0x2000);
	put(b, SET_FILE, 1);
	uleb(b, 3);
	put(b, ADVANCE_LINE, 1);
	sleb(b, 99);
	put(b, SET_BASIC_BLOCK, 1);
	put(b, COPY, 1);
	put(b, FIXED_ADVANCE_PC, 1);
	put(b, 0x10, 2);
	ext(b, 4, 2); /* DW_LNE_set_discriminator 3 */
	uleb(b, 3);
	put(b, COPY, 1);
	ext(b, 3, 1 + 4 + 3); /* DW_LNE_define_file d.c, dir 1 */
	str(b, "d.c");
	uleb(b, 1);
	uleb(b, 0);
	uleb(b, 0);
	put(b, SET_FILE, 1);
	uleb(b, 4);
	put(b, CONST_ADD_PC, 1); /* (255 - 13) / 14 = 17 */
	put(b, ADVANCE_LINE, 1);
	sleb(b, -50);
	put(b, SET_ISA, 1);
	uleb(b, 1);
	put(b, SET_EPILOGUE_BEGIN, 1);
	put(b, COPY, 1);
	put(b, ADVANCE_PC, 1);
	uleb(b, 2);
	end_sequence(b);
	end_unit(b, p);
}

static const struct want v4_rows[] = {
	{0xfff, -ENOENT, NULL, 0},
	{0x1000, 0, "/cd/a.c", 1},
	{0x1003, 0, "/cd/a.c", 1},
	{0x1004, 0, "/cd/a.c", 3},
	{0x100b, 0, "/cd/a.c", 3},
	{0x100c, 0, "/cd/inc/b.h", 13},
	{0x100f, 0, "/cd/inc/b.h", 13},
	{0x1010, -ENOENT, NULL, 0}, /* the end row is no answer */
	{0x1fff, -ENOENT, NULL, 0},
	{0x2000, 0, "/abs/c.h", 100},
	{0x200f, 0, "/abs/c.h", 100},
	{0x2010, 0, "/abs/c.h", 100},
	{0x2020, 0, "/abs/c.h", 100},
	{0x2021, 0, "/cd/inc/d.c", 50},
	{0x2022, 0, "/cd/inc/d.c", 50},
	{0x2023, -ENOENT, NULL, 0},
	{UINT64_MAX, -ENOENT, NULL, 0},
};
#define NV4 (sizeof(v4_rows) / sizeof(v4_rows[0]))

Test(lineprog, v4_rows_sequences_and_define_file)
{
	static struct buf b;
	struct unit_pos p;

	build_v4(&b, &p, 0);
	expect_all(&b, NULL, "/cd", v4_rows, NV4);
}

Test(lineprog, v4_names_without_comp_dir)
{
	static struct buf b;
	struct unit_pos p;
	const struct want w[] = {
		{0x1000, 0, "a.c", 1},
		{0x100c, 0, "inc/b.h", 13},
		{0x2000, 0, "/abs/c.h", 100},
	};
	const struct want slash[] = {{0x1000, 0, "/cd/a.c", 1}};

	build_v4(&b, &p, 0);
	expect_all(&b, NULL, NULL, w, sizeof(w) / sizeof(w[0]));
	/* a comp_dir ending in '/' gets no second one */
	expect_all(&b, NULL, "/cd/", slash, 1);
}

Test(lineprog, a_64bit_unit)
{
	static struct buf b;
	struct unit_pos p;

	build_v4(&b, &p, 1);
	cr_assert_eq(b.b[0], 0xff);
	expect_all(&b, NULL, "/cd", v4_rows, NV4);
}

Test(lineprog, the_unit_may_be_followed_by_more_bytes)
{
	static struct buf b;
	struct unit_pos p;

	build_v4(&b, &p, 0);
	/* the next unit's bytes: not read */
	put(&b, 0x12345678, 4);
	put(&b, 0xff, 1);
	expect_all(&b, NULL, "/cd", v4_rows, NV4);
	cr_expect_eq(lineprog_unit_size(b.b, b.n), b.n - 5);
}

Test(lineprog, file_0_and_files_past_the_table_have_no_name)
{
	static struct buf b;
	struct unit_pos p;
	const struct want w[] = {
		{0x10, 0, "", 5},
		{0x20, 0, "", 6},
		{0x30, 0, "/cd/a.c", 7},
	};

	memset(&b, 0, sizeof(b));
	begin_unit(&b, &p, 0, 3, 1, 1, 13, std12);
	str(&b, "");
	str(&b, "a.c");
	uleb(&b, 0);
	uleb(&b, 0);
	uleb(&b, 0);
	str(&b, "");
	begin_program(&b, &p);
	set_address(&b, 0x10);
	put(&b, SET_FILE, 1);
	uleb(&b, 0);
	put(&b, ADVANCE_LINE, 1);
	sleb(&b, 4);
	put(&b, COPY, 1);
	put(&b, SET_FILE, 1);
	uleb(&b, 9);
	special(&b, 13, 0x10, 1);
	put(&b, SET_FILE, 1);
	uleb(&b, 1);
	special(&b, 13, 0x10, 1);
	special(&b, 13, 0x10, 0);
	end_sequence(&b);
	end_unit(&b, &p);
	expect_all(&b, NULL, "/cd", w, sizeof(w) / sizeof(w[0]));
}

Test(lineprog, the_last_row_in_program_order_wins)
{
	static struct buf b;
	struct unit_pos p;
	const struct want w[] = {
		{0x100, 0, "/cd/a.c", 20}, /* both hold it: the second */
		{0x107, 0, "/cd/a.c", 20},
		{0x108, 0, "/cd/a.c", 11}, /* only the first */
	};

	memset(&b, 0, sizeof(b));
	begin_unit(&b, &p, 0, 4, 1, 1, 13, std12);
	str(&b, "");
	str(&b, "a.c");
	uleb(&b, 0);
	uleb(&b, 0);
	uleb(&b, 0);
	str(&b, "");
	begin_program(&b, &p);
	set_address(&b, 0x100);
	put(&b, ADVANCE_LINE, 1);
	sleb(&b, 9);
	put(&b, COPY, 1);
	special(&b, 13, 8, 1);
	put(&b, ADVANCE_PC, 1);
	uleb(&b, 8);
	end_sequence(&b);
	set_address(&b, 0x100);
	put(&b, ADVANCE_LINE, 1);
	sleb(&b, 19);
	put(&b, COPY, 1);
	put(&b, ADVANCE_PC, 1);
	uleb(&b, 8);
	end_sequence(&b);
	end_unit(&b, &p);
	expect_all(&b, NULL, "/cd", w, sizeof(w) / sizeof(w[0]));
}

/*
 * opcode_base 16: opcodes 13-15 are standard ones of a later version,
 * skipped with as many ULEB128 operands as the header says; an unknown
 * extended opcode is skipped by its length.
 */
Test(lineprog, unknown_opcodes_are_skipped)
{
	static struct buf b;
	struct unit_pos p;
	const unsigned char std15[15] = {0, 1, 1, 1, 1, 0, 0, 0,
					 1, 0, 0, 1, 2, 0, 1};
	const struct want w[] = {
		{0x500, 0, "/cd/a.c", 1},
		{0x504, 0, "/cd/a.c", 4},
		{0x508, -ENOENT, NULL, 0},
	};

	memset(&b, 0, sizeof(b));
	begin_unit(&b, &p, 0, 4, 1, 1, 16, std15);
	str(&b, "");
	str(&b, "a.c");
	uleb(&b, 0);
	uleb(&b, 0);
	uleb(&b, 0);
	str(&b, "");
	begin_program(&b, &p);
	set_address(&b, 0x500);
	put(&b, 13, 1);
	uleb(&b, 300); /* two bytes */
	uleb(&b, COPY); /* an operand that looks like an opcode */
	put(&b, 14, 1);
	put(&b, 15, 1);
	uleb(&b, 1);
	ext(&b, 0x80, 4);
	put(&b, COPY, 1);
	put(&b, COPY, 1);
	put(&b, COPY, 1);
	put(&b, COPY, 1); /* the first row */
	special(&b, 16, 4, 3);
	put(&b, ADVANCE_PC, 1);
	uleb(&b, 4);
	end_sequence(&b);
	end_unit(&b, &p);
	expect_all(&b, NULL, "/cd", w, sizeof(w) / sizeof(w[0]));
}

/*
 * VLIW: maximum_operations_per_instruction 3, minimum_instruction_length
 * 8 (DWARF 5, 6.2.5.1): the address moves by whole instructions, the
 * op_index within one.
 */
Test(lineprog, op_index_of_vliw_programs)
{
	static struct buf b;
	struct unit_pos p;
	const struct want w[] = {
		/* op advances 2 (0x100, op 2), 2 (0x108, op 1), 5 (0x118) */
		{0x100, 0, "/cd/a.c", 2},
		{0x107, 0, "/cd/a.c", 2},
		{0x108, 0, "/cd/a.c", 3},
		{0x117, 0, "/cd/a.c", 3},
		{0x118, -ENOENT, NULL, 0},
	};

	memset(&b, 0, sizeof(b));
	begin_unit(&b, &p, 0, 4, 3, 8, 13, std12);
	str(&b, "");
	str(&b, "a.c");
	uleb(&b, 0);
	uleb(&b, 0);
	uleb(&b, 0);
	str(&b, "");
	begin_program(&b, &p);
	set_address(&b, 0x100);
	put(&b, COPY, 1); /* 0x100 op 0, line 1 */
	special(&b, 13, 2, 1); /* 0x100 op 2, line 2 */
	special(&b, 13, 2, 1); /* 0x108 op 1, line 3 */
	put(&b, ADVANCE_PC, 1);
	uleb(&b, 5); /* 1 + 5 = 6 ops: 0x118 op 0 */
	end_sequence(&b);
	end_unit(&b, &p);
	expect_all(&b, NULL, "/cd", w, sizeof(w) / sizeof(w[0]));
}

Test(lineprog, negative_lines_and_bad_headers_are_errors)
{
	static struct buf b;
	struct unit_pos p;
	const struct want w[] = {{0x10, -EINVAL, NULL, 0}};

	memset(&b, 0, sizeof(b));
	begin_unit(&b, &p, 0, 4, 1, 1, 13, std12);
	str(&b, "");
	str(&b, "");
	begin_program(&b, &p);
	set_address(&b, 0x10);
	put(&b, ADVANCE_LINE, 1);
	sleb(&b, -2);
	put(&b, COPY, 1);
	special(&b, 13, 4, 0);
	end_sequence(&b);
	end_unit(&b, &p);
	expect_all(&b, NULL, "/cd", w, 1);
	/* line_range 0 */
	build_v4(&b, &p, 0);
	b.b[p.hdr_start + 4] = 0;
	expect_all(&b, NULL, "/cd", w, 1);
	/* version 6 */
	build_v4(&b, &p, 0);
	b.b[p.len_at + 4] = 6;
	expect_all(&b, NULL, "/cd", w, 1);
}

Test(lineprog, v4_survives_every_prefix_and_corruption, .timeout = 60)
{
	static struct buf b;
	struct unit_pos p;

	build_v4(&b, &p, 0);
	survive_damage(&b, &p, NULL, v4_rows, NV4);
	build_v4(&b, &p, 1);
	survive_damage(&b, &p, NULL, v4_rows, NV4);
}

/* ---- DWARF 5 ---------------------------------------------------------- */

/* .debug_line_str: "/cd" at 0, "sub" at 4, "m.c" at 8 */
static const unsigned char line_str[] = "/cd\0sub\0m.c";
/* .debug_str: "s.h" at 2 */
static const unsigned char dstr[] = "xxs.h";

/*
 * directories (path: DW_FORM_line_strp) "/cd", "sub"; files (path:
 * DW_FORM_line_strp or DW_FORM_strp or DW_FORM_string, directory_index:
 * udata, MD5: data16, and a size in DW_FORM_block to skip):
 *   0 m.c dir 0, 1 m.c dir 0, 2 x.h dir 1, 3 s.h dir 1 (strp: only in
 *   the second build, by with_strp)
 * Rows: 0x4000 m.c:1 (file register 0 at first), 0x4006 x.h:4, end 0x4010
 */
static void
build_v5(struct buf *b, struct unit_pos *p, int with_strp)
{
	memset(b, 0, sizeof(*b));
	begin_unit(b, p, 0, 5, 1, 1, 13, std12);
	put(b, 1, 1); /* directory_entry_format_count */
	uleb(b, 1); /* DW_LNCT_path */
	uleb(b, 0x1f); /* DW_FORM_line_strp */
	uleb(b, 2);
	put(b, 0, 4);
	put(b, 4, 4);
	put(b, 4, 1); /* file_name_entry_format_count */
	uleb(b, 1);
	uleb(b, with_strp ? 0x0e : 0x08); /* strp or string */
	uleb(b, 2); /* DW_LNCT_directory_index */
	uleb(b, 0x0f); /* udata */
	uleb(b, 5); /* DW_LNCT_MD5 */
	uleb(b, 0x1e); /* data16 */
	uleb(b, 4); /* DW_LNCT_size */
	uleb(b, 0x09); /* block */
	uleb(b, with_strp ? 4 : 3);
	for (unsigned i = 0; i < (with_strp ? 4u : 3u); i++) {
		static const char *const names[] = {"m.c", "m.c", "x.h"};

		if (with_strp)
			put(b, i == 3 ? 2 : 0, 4); /* "xxs.h" + 2 is "s.h" */
		else
			str(b, names[i]);
		uleb(b, i >= 2 ? 1 : 0);
		for (unsigned k = 0; k < 16; k++)
			put(b, 0xa0 + k, 1);
		uleb(b, 2);
		put(b, 0xffff, 2);
	}
	begin_program(b, p);
	set_address(b, 0x4000);
	put(b, COPY, 1);
	put(b, SET_FILE, 1);
	uleb(b, with_strp ? 3 : 2);
	special(b, 13, 6, 3);
	put(b, ADVANCE_PC, 1);
	uleb(b, 10);
	end_sequence(b);
	end_unit(b, p);
}

static const struct want v5_rows[] = {
	{0x3fff, -ENOENT, NULL, 0},
	{0x4000, 0, "/cd/m.c", 1},
	{0x4005, 0, "/cd/m.c", 1},
	{0x4006, 0, "/cd/sub/x.h", 4},
	{0x400f, 0, "/cd/sub/x.h", 4},
	{0x4010, -ENOENT, NULL, 0},
};
#define NV5 (sizeof(v5_rows) / sizeof(v5_rows[0]))

Test(lineprog, v5_tables_with_line_strp)
{
	static struct buf b;
	struct unit_pos p;
	const struct lineprog_strs strs = {NULL, 0, line_str,
					   sizeof(line_str)};
	/* DWARF 5's directory 0 is the first entry, not comp_dir; a
	 * relative directory still goes under comp_dir */
	const struct want w[] = {
		{0x4000, 0, "/cd/m.c", 1},
		{0x4006, 0, "/elsewhere/sub/x.h", 4},
	};

	build_v5(&b, &p, 0);
	expect_all(&b, &strs, "/cd", v5_rows, NV5);
	expect_all(&b, &strs, "/elsewhere", w, 2);
}

Test(lineprog, v5_names_in_a_section_not_given_ask_for_it)
{
	static struct buf b;
	struct unit_pos p;
	const struct lineprog_strs only_line = {NULL, 0, line_str,
						sizeof(line_str)};
	const struct lineprog_strs both = {dstr, sizeof(dstr), line_str,
					   sizeof(line_str)};
	const struct want nodata[] = {{0x4000, -ENODATA, NULL, 0}};
	/* with_strp: files 0-2 are .debug_str + 0, "xxs.h" */
	const struct want w[] = {
		{0x4000, 0, "/cd/xxs.h", 1},
		{0x4006, 0, "/cd/sub/s.h", 4},
	};

	build_v5(&b, &p, 0);
	expect_all(&b, NULL, "/cd", nodata, 1);
	build_v5(&b, &p, 1);
	/* the names of files are in .debug_str */
	expect_all(&b, &only_line, "/cd", nodata, 1);
	expect_all(&b, &both, "/cd", w, 2);
}

Test(lineprog, a_string_offset_past_its_section_is_an_error)
{
	static struct buf b;
	struct unit_pos p;
	const struct lineprog_strs strs = {NULL, 0, line_str, 6};
	const struct want w[] = {{0x4000, -EINVAL, NULL, 0}};

	build_v5(&b, &p, 0);
	/* "sub" at 4 does not end within 6 bytes */
	expect_all(&b, &strs, "/cd", w, 1);
}

Test(lineprog, names_are_truncated_to_the_buffer)
{
	static struct buf b;
	struct unit_pos p;
	char file[6];
	unsigned line = 0;

	build_v4(&b, &p, 0);
	cr_expect_eq(ask(b.b, b.n, NULL, "/cd", 0x100c, file, sizeof(file),
			 &line),
		     0);
	cr_expect_str_eq(file, "/cd/i");
	cr_expect_eq(line, 13);
}

Test(lineprog, v5_survives_every_prefix_and_corruption, .timeout = 60)
{
	static struct buf b;
	struct unit_pos p;
	const struct lineprog_strs strs = {dstr, sizeof(dstr), line_str,
					   sizeof(line_str)};

	build_v5(&b, &p, 0);
	survive_damage(&b, &p, &strs, v5_rows, NV5);
}
