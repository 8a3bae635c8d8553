/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lineprog.c - the line-number program of one .debug_line unit (DWARF 5
 * section 6.2; DWARF 4 section 6.2 for versions 2-4), run once per
 * question keeping no rows: the memory is a few registers, whatever the
 * size of the unit. libdwarf builds every row of a unit as an object
 * (about 330 bytes a row at its peak), 7 MB for a CU of 21 000 rows,
 * which broke the tool's memory budget (issue 10 section 3).
 *
 * The header's directory and file tables are walked once to check them
 * and again to find the one entry an answer names; nothing is copied.
 * Every read is bounded by the unit: a malformed unit gives -EINVAL.
 *
 * Answers must be libdwarf's (20210528, Debian 12), which debuginfo.c
 * used before, so that reports do not change:
 *  - the row: the last row in program order, not an end_sequence, whose
 *    address is <= pc and whose next row's address is > pc;
 *  - the file register starts at 1, and at 0 in a DWARF 5 unit
 *    (libdwarf: set_line_table_regs_default_values());
 *  - the name (libdwarf's create_fullest_file_path()): a file name that is
 *    a full path as it is; else, the directory (DWARF 5: entry dir of the
 *    directory table; 2-4: entry dir - 1 of include_directories, none for
 *    0), then the directory and the name joined when the directory is a
 *    full path; else the CU's comp_dir, the directory and the name joined;
 *    joining puts exactly one '/' between two parts (libdwarf: pathjoinl())
 *  - file 0 in a 2-4 unit, a file or directory number past its table:
 *    no name (""), the line still given;
 *  - DW_LNE_define_file adds to the file table, also for rows before it
 *    (libdwarf names files after running the whole program);
 *  - a negative line number is an error, as in libdwarf.
 * One difference: libdwarf 20210528 marks a row made by a special opcode
 * after DW_LNS_set_epilogue_begin as an end of sequence (it copies the
 * epilogue flag into both); here such a row is a row. GCC never emits
 * DW_LNS_set_epilogue_begin.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elf/lineprog.h"

/* DWARF 5, 7.22: line number opcodes, content types; 7.5.6: forms. */
enum {
	LNS_copy = 1,
	LNS_advance_pc,
	LNS_advance_line,
	LNS_set_file,
	LNS_set_column,
	LNS_negate_stmt,
	LNS_set_basic_block,
	LNS_const_add_pc,
	LNS_fixed_advance_pc,
	LNS_set_prologue_end,
	LNS_set_epilogue_begin,
	LNS_set_isa,
};

enum {
	LNE_end_sequence = 1,
	LNE_set_address,
	LNE_define_file,
	LNE_set_discriminator,
};

enum {
	LNCT_path = 1,
	LNCT_directory_index,
};

enum {
	FORM_block2 = 0x03,
	FORM_block4 = 0x04,
	FORM_data2 = 0x05,
	FORM_data4 = 0x06,
	FORM_data8 = 0x07,
	FORM_string = 0x08,
	FORM_block = 0x09,
	FORM_block1 = 0x0a,
	FORM_data1 = 0x0b,
	FORM_flag = 0x0c,
	FORM_sdata = 0x0d,
	FORM_strp = 0x0e,
	FORM_udata = 0x0f,
	FORM_sec_offset = 0x17,
	FORM_strx = 0x1a,
	FORM_strp_sup = 0x1d,
	FORM_data16 = 0x1e,
	FORM_line_strp = 0x1f,
	FORM_strx1 = 0x25,
	FORM_strx2 = 0x26,
	FORM_strx3 = 0x27,
	FORM_strx4 = 0x28,
};

/* A cursor over [p, end); a short read sets bad and reads zeros. */
struct rd {
	const unsigned char *p, *end;
	int bad;
};

/* n <= 8 little-endian bytes (x86_64; the image's files are ELFDATA2LSB) */
static uint64_t
rd_u(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static void
rd_skip(struct rd *r, uint64_t n)
{
	if (r->bad || (uint64_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return;
	}
	r->p += n;
}

/* LEB128 (DWARF 5, 7.6); more than 10 bytes is malformed. */
static uint64_t
rd_leb(struct rd *r, int is_signed)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (unsigned i = 0; i < 10; i++) {
		unsigned char b;

		if (r->bad || r->p >= r->end)
			break;
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (is_signed && shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return v;
		}
	}
	r->bad = 1;
	r->p = r->end;
	return 0;
}

/* A NUL-terminated string in the unit. */
static const char *
rd_str(struct rd *r)
{
	const unsigned char *nul;

	if (r->bad || r->p >= r->end)
		goto bad;
	nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
	if (!nul)
		goto bad;
	{
		const char *s = (const char *)r->p;

		r->p = nul + 1;
		return s;
	}
bad:
	r->bad = 1;
	r->p = r->end;
	return NULL;
}

/* A string at off in a string section, if it ends in it. */
static const char *
sec_str(const unsigned char *sec, size_t len, uint64_t off)
{
	if (!sec || off >= len || !memchr(sec + off, '\0', len - off))
		return NULL;
	return (const char *)sec + off;
}

struct hdr {
	unsigned version, offsz, addr_size;
	unsigned min_inst, max_ops, line_range, opcode_base;
	int line_base;
	int default_is_stmt;
	const unsigned char *std_len; /* opcode_base - 1 of them */
	/* the tables: 2-4, include_directories then file_names; 5, the
	 * formats and the entries */
	const unsigned char *dirs, *files;
	const unsigned char *dir_fmt, *file_fmt;
	unsigned n_dir_fmt, n_file_fmt;
	uint64_t ndirs, nfiles;
	const unsigned char *prog, *end; /* the program */
	const struct lineprog_strs *strs;
};

/*
 * A value of form in a DWARF 5 entry: the string of a string form (NULL
 * with *missing set when its section is not given), or the number of a
 * constant form; the others skipped. Forms of no size cannot be there
 * (each entry must take bytes, which bounds the tables' walks).
 */
static int
read_form(struct rd *r, const struct hdr *h, uint64_t form, const char **s,
	  int *missing, uint64_t *num)
{
	const struct lineprog_strs *st = h->strs;
	uint64_t off;

	*s = NULL;
	*num = 0;
	switch (form) {
	case FORM_string:
		*s = rd_str(r);
		break;
	case FORM_strp:
	case FORM_line_strp:
		off = rd_u(r, h->offsz);
		if (r->bad)
			break;
		if (form == FORM_strp ? !st || !st->str
				      : !st || !st->line_str) {
			*missing = 1;
			break;
		}
		*s = form == FORM_strp
			     ? sec_str(st->str, st->str_len, off)
			     : sec_str(st->line_str, st->line_str_len, off);
		if (!*s)
			return -EINVAL;
		break;
	case FORM_sec_offset:
	case FORM_strp_sup:
		rd_u(r, h->offsz);
		break;
	case FORM_udata:
	case FORM_strx:
		*num = rd_leb(r, 0);
		break;
	case FORM_sdata:
		*num = rd_leb(r, 1);
		break;
	case FORM_data1:
	case FORM_flag:
	case FORM_strx1:
		*num = rd_u(r, 1);
		break;
	case FORM_data2:
	case FORM_strx2:
		*num = rd_u(r, 2);
		break;
	case FORM_strx3:
		*num = rd_u(r, 3);
		break;
	case FORM_data4:
	case FORM_strx4:
		*num = rd_u(r, 4);
		break;
	case FORM_data8:
		*num = rd_u(r, 8);
		break;
	case FORM_data16:
		rd_skip(r, 16);
		break;
	case FORM_block:
		rd_skip(r, rd_leb(r, 0));
		break;
	case FORM_block1:
		rd_skip(r, rd_u(r, 1));
		break;
	case FORM_block2:
		rd_skip(r, rd_u(r, 2));
		break;
	case FORM_block4:
		rd_skip(r, rd_u(r, 4));
		break;
	default:
		return -EINVAL;
	}
	return r->bad ? -EINVAL : 0;
}

/*
 * One DWARF 5 directory or file entry at r: its path and directory index
 * (what libdwarf reads of it). A path in a form that is no string, or in
 * a section not given, is NULL (*missing set for the latter).
 */
static int
read_entry(struct rd *r, const struct hdr *h, const unsigned char *fmt,
	   unsigned nfmt, const char **path, uint64_t *dir, int *missing)
{
	struct rd f = {fmt, h->end, 0};

	*path = NULL;
	*dir = 0;
	for (unsigned i = 0; i < nfmt; i++) {
		uint64_t type = rd_leb(&f, 0), form = rd_leb(&f, 0), num;
		const char *s;
		int miss = 0, err;

		if (f.bad)
			return -EINVAL;
		err = read_form(r, h, form, &s, &miss, &num);
		if (err)
			return err;
		if (type == LNCT_path) {
			*path = s;
			*missing |= miss;
		} else if (type == LNCT_directory_index) {
			*dir = num;
		}
	}
	return 0;
}

/* The formats of a DWARF 5 table at r: count, then pairs of ULEB128. */
static int
read_formats(struct rd *r, const unsigned char **fmt, unsigned *n)
{
	*n = (unsigned)rd_u(r, 1);
	*fmt = r->p;
	for (unsigned i = 0; i < *n; i++) {
		uint64_t type = rd_leb(r, 0), form = rd_leb(r, 0);

		(void)type;
		/* no entry may take no bytes (see read_form()) */
		if (form != FORM_string && form != FORM_strp &&
		    form != FORM_line_strp && form != FORM_sec_offset &&
		    form != FORM_strp_sup && form != FORM_udata &&
		    form != FORM_strx && form != FORM_sdata &&
		    form != FORM_data1 && form != FORM_flag &&
		    form != FORM_strx1 && form != FORM_data2 &&
		    form != FORM_strx2 && form != FORM_strx3 &&
		    form != FORM_data4 && form != FORM_strx4 &&
		    form != FORM_data8 && form != FORM_data16 &&
		    form != FORM_block && form != FORM_block1 &&
		    form != FORM_block2 && form != FORM_block4)
			return -EINVAL;
	}
	return r->bad ? -EINVAL : 0;
}

/* Walk count entries of a DWARF 5 table to check them; r after them. */
static int
walk_entries(struct rd *r, const struct hdr *h, const unsigned char *fmt,
	     unsigned nfmt, uint64_t count)
{
	if (count && !nfmt)
		return -EINVAL;
	for (uint64_t i = 0; i < count; i++) {
		const char *path;
		uint64_t dir;
		int missing = 0, err;

		err = read_entry(r, h, fmt, nfmt, &path, &dir, &missing);
		if (err)
			return err;
	}
	return 0;
}

size_t
lineprog_unit_size(const unsigned char *unit, size_t len)
{
	struct rd r = {unit, unit + len, 0};
	uint64_t l = rd_u(&r, 4);
	unsigned hl = 4;

	if (l == 0xffffffffu) {
		l = rd_u(&r, 8);
		hl = 12;
	} else if (l >= 0xfffffff0u) {
		return 0;
	}
	if (r.bad || l > len - hl)
		return 0;
	return (size_t)(l + hl);
}

static int
read_header(const unsigned char *unit, size_t len, unsigned addr_size,
	    const struct lineprog_strs *strs, struct hdr *h)
{
	size_t total = lineprog_unit_size(unit, len);
	struct rd r;
	const unsigned char *hdr_end;
	uint64_t hlen;
	int err;

	memset(h, 0, sizeof(*h));
	h->strs = strs;
	if (!total)
		return -EINVAL;
	h->offsz = unit[0] == 0xff && unit[1] == 0xff && unit[2] == 0xff &&
				   unit[3] == 0xff
			   ? 8
			   : 4;
	r = (struct rd){unit + (h->offsz == 8 ? 12 : 4), unit + total, 0};
	h->end = unit + total;
	h->version = (unsigned)rd_u(&r, 2);
	if (h->version < 2 || h->version > 5)
		return -EINVAL;
	h->addr_size = addr_size;
	if (h->version >= 5) {
		h->addr_size = (unsigned)rd_u(&r, 1);
		rd_u(&r, 1); /* segment_selector_size */
	}
	if (h->addr_size < 1 || h->addr_size > 8)
		return -EINVAL;
	hlen = rd_u(&r, h->offsz);
	if (r.bad || hlen > (uint64_t)(r.end - r.p))
		return -EINVAL;
	hdr_end = r.p + hlen;
	h->min_inst = (unsigned)rd_u(&r, 1);
	h->max_ops = h->version >= 4 ? (unsigned)rd_u(&r, 1) : 1;
	if (!h->max_ops)
		h->max_ops = 1;
	h->default_is_stmt = !!rd_u(&r, 1);
	h->line_base = (signed char)rd_u(&r, 1);
	h->line_range = (unsigned)rd_u(&r, 1);
	h->opcode_base = (unsigned)rd_u(&r, 1);
	if (r.bad || !h->line_range || !h->opcode_base)
		return -EINVAL;
	h->std_len = r.p;
	rd_skip(&r, h->opcode_base - 1);
	if (h->version < 5) {
		/* DWARF 4, 6.2.4 items 11 and 12: strings to an empty one;
		 * file entries: name, then ULEB128 dir, time, size */
		h->dirs = r.p;
		while (!r.bad) {
			const char *d = rd_str(&r);

			if (!d || !*d)
				break;
			h->ndirs++;
		}
		h->files = r.p;
		while (!r.bad) {
			const char *f = rd_str(&r);

			if (!f || !*f)
				break;
			rd_leb(&r, 0);
			rd_leb(&r, 0);
			rd_leb(&r, 0);
			h->nfiles++;
		}
		if (r.bad)
			return -EINVAL;
	} else {
		err = read_formats(&r, &h->dir_fmt, &h->n_dir_fmt);
		if (!err) {
			h->ndirs = rd_leb(&r, 0);
			h->dirs = r.p;
			err = r.bad ? -EINVAL
				    : walk_entries(&r, h, h->dir_fmt,
						   h->n_dir_fmt, h->ndirs);
		}
		if (!err)
			err = read_formats(&r, &h->file_fmt, &h->n_file_fmt);
		if (!err) {
			h->nfiles = rd_leb(&r, 0);
			h->files = r.p;
			err = r.bad ? -EINVAL
				    : walk_entries(&r, h, h->file_fmt,
						   h->n_file_fmt, h->nfiles);
		}
		if (err)
			return err;
	}
	/*
	 * The program starts at header_length; libdwarf starts it where
	 * the tables end when they end before (a compiler once wrote a
	 * header_length 12 too big), and so does this.
	 */
	if (r.p > hdr_end)
		return -EINVAL;
	h->prog = r.p;
	return 0;
}

/* The state machine's registers (DWARF 5, 6.2.2) that answers need. */
struct regs {
	uint64_t addr;
	unsigned op_index;
	uint64_t file;
	int64_t line;
};

static void
regs_reset(const struct hdr *h, struct regs *s)
{
	s->addr = 0;
	s->op_index = 0;
	s->file = h->version >= 5 ? 0 : 1;
	s->line = 1;
}

/* line + d, wrapping rather than overflowing (a corrupt unit's lines) */
static int64_t
line_add(int64_t line, int64_t d)
{
	return (int64_t)((uint64_t)line + (uint64_t)d);
}

/* DWARF 5, 6.2.5.1: advancing by operation_advance. */
static void
advance(const struct hdr *h, struct regs *s, uint64_t adv)
{
	if (h->max_ops == 1) {
		s->addr += h->min_inst * adv;
	} else {
		uint64_t ops = s->op_index + adv;

		s->addr += h->min_inst * (ops / h->max_ops);
		s->op_index = (unsigned)(ops % h->max_ops);
	}
}

struct search {
	uint64_t pc;
	/* the previous row, when it is no end of sequence */
	int have_prev;
	uint64_t prev_addr, prev_file;
	int64_t prev_line;
	/* the answer so far */
	int found;
	uint64_t file;
	int64_t line;
	/* define_file: how many so far, and the one wanted (see name_of) */
	uint64_t ndefined, want_defined;
	const unsigned char *defined; /* its operands */
};

static void
row(struct search *q, const struct regs *s, int end_seq)
{
	if (q->have_prev && q->prev_addr <= q->pc && q->pc < s->addr) {
		q->found = 1;
		q->file = q->prev_file;
		q->line = q->prev_line;
	}
	q->have_prev = !end_seq;
	q->prev_addr = s->addr;
	q->prev_file = s->file;
	q->prev_line = s->line;
}

/* Run the program; q collects the answer. */
static int
run(const struct hdr *h, struct search *q)
{
	struct rd r = {h->prog, h->end, 0};
	struct regs s;

	regs_reset(h, &s);
	while (r.p < r.end) {
		unsigned op = *r.p++;

		if (op >= h->opcode_base) {
			/* special opcode, DWARF 5, 6.2.5.1 */
			unsigned adj = op - h->opcode_base;

			advance(h, &s, adj / h->line_range);
			s.line = line_add(s.line,
					  h->line_base +
						  (int)(adj % h->line_range));
			if (s.line < 0)
				return -EINVAL;
			row(q, &s, 0);
			continue;
		}
		switch (op) {
		case 0: {
			/* extended: ULEB128 length, opcode, operands */
			uint64_t elen = rd_leb(&r, 0);
			const unsigned char *start = r.p;
			unsigned eop;

			if (r.bad || !elen || elen > (uint64_t)(r.end - r.p))
				return -EINVAL;
			eop = (unsigned)rd_u(&r, 1);
			switch (eop) {
			case LNE_end_sequence:
				row(q, &s, 1);
				regs_reset(h, &s);
				break;
			case LNE_set_address:
				if (elen - 1 < h->addr_size)
					return -EINVAL;
				s.addr = rd_u(&r, h->addr_size);
				s.op_index = 0;
				break;
			case LNE_define_file:
				if (q->ndefined++ == q->want_defined)
					q->defined = r.p;
				break;
			case LNE_set_discriminator:
			default:
				break;
			}
			/* the length says where the next opcode is */
			r.p = start;
			rd_skip(&r, elen);
			break;
		}
		case LNS_copy:
			row(q, &s, 0);
			break;
		case LNS_advance_pc:
			advance(h, &s, rd_leb(&r, 0));
			break;
		case LNS_advance_line:
			s.line = line_add(s.line, (int64_t)rd_leb(&r, 1));
			if (s.line < 0)
				return -EINVAL;
			break;
		case LNS_set_file:
			s.file = rd_leb(&r, 0);
			break;
		case LNS_const_add_pc:
			advance(h, &s, (255 - h->opcode_base) / h->line_range);
			break;
		case LNS_fixed_advance_pc:
			s.addr += rd_u(&r, 2);
			s.op_index = 0;
			break;
		case LNS_set_column:
		case LNS_set_isa:
			rd_leb(&r, 0);
			break;
		case LNS_negate_stmt:
		case LNS_set_basic_block:
		case LNS_set_prologue_end:
		case LNS_set_epilogue_begin:
			break;
		default:
			/* a standard opcode of a later version: skip its
			 * ULEB128 operands, as many as the header says */
			for (unsigned i = 0; i < h->std_len[op - 1]; i++)
				rd_leb(&r, 0);
			break;
		}
		if (r.bad)
			return -EINVAL;
	}
	return 0;
}

/* A path as libdwarf sees a full one (file_name_is_full_path()). */
static int
full_path(const char *s)
{
	return s[0] == '/' || (((s[0] >= 'A' && s[0] <= 'Z') ||
				(s[0] >= 'a' && s[0] <= 'z')) &&
			       s[1] == ':');
}

/* A string built into a caller's buffer, truncated; len is the whole. */
struct sbuf {
	char *buf;
	size_t cap, len;
	char last;
};

static void
sb_add(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (b->len + 1 < b->cap)
			b->buf[b->len] = *s;
		b->len++;
		b->last = *s;
	}
	if (b->cap)
		b->buf[b->len < b->cap ? b->len : b->cap - 1] = '\0';
}

/* As libdwarf joins paths (pathjoinl()): one / between the two. */
static void
sb_join(struct sbuf *b, const char *s)
{
	if (!b->len) {
		sb_add(b, s);
	} else if (b->last != '/') {
		if (*s != '/')
			sb_add(b, "/");
		sb_add(b, s);
	} else {
		sb_add(b, *s == '/' ? s + 1 : s);
	}
}

/* The n-th (0-based) entry of a table, 2-4 or 5. */
static int
table_entry(const struct hdr *h, int files, uint64_t n, const char **path,
	    uint64_t *dir, int *missing)
{
	struct rd r = {files ? h->files : h->dirs, h->end, 0};

	*path = NULL;
	*dir = 0;
	if (h->version >= 5) {
		const unsigned char *fmt = files ? h->file_fmt : h->dir_fmt;
		unsigned nfmt = files ? h->n_file_fmt : h->n_dir_fmt;
		int err = 0;

		for (uint64_t i = 0; i <= n && !err; i++)
			err = read_entry(&r, h, fmt, nfmt, path, dir, missing);
		return err;
	}
	for (uint64_t i = 0; i <= n; i++) {
		*path = rd_str(&r);
		if (files) {
			*dir = rd_leb(&r, 0);
			rd_leb(&r, 0);
			rd_leb(&r, 0);
		}
	}
	return r.bad ? -EINVAL : 0;
}

/* The name of file number fileno, as libdwarf's linesrc gives it. */
static int
name_of(const struct hdr *h, uint64_t fileno, const char *comp_dir,
	struct sbuf *b)
{
	const char *name = NULL, *dname = NULL;
	uint64_t k, dir = 0;
	int missing = 0, err;

	if (h->version < 5 && !fileno)
		return 0;
	k = h->version < 5 ? fileno - 1 : fileno;
	if (k < h->nfiles) {
		err = table_entry(h, 1, k, &name, &dir, &missing);
		if (err)
			return err;
	} else {
		struct search again = {.pc = 0, .want_defined = k - h->nfiles};
		struct rd r;

		/* a DW_LNE_define_file's entry: run again to find it */
		err = run(h, &again);
		if (err)
			return err;
		if (!again.defined)
			return 0;
		r = (struct rd){again.defined, h->end, 0};
		name = rd_str(&r);
		dir = rd_leb(&r, 0);
		if (r.bad)
			return -EINVAL;
	}
	if (missing)
		return -ENODATA;
	if (!name)
		return 0;
	if (full_path(name)) {
		sb_join(b, name);
		return 0;
	}
	if (dir > h->ndirs || (h->version >= 5 && dir == h->ndirs))
		return 0;
	if (h->version >= 5 || dir > 0) {
		uint64_t d;

		err = table_entry(h, 0, h->version >= 5 ? dir : dir - 1, &dname,
				  &d, &missing);
		if (err)
			return err;
		if (missing)
			return -ENODATA;
	}
	if (dname && *dname && full_path(dname)) {
		sb_join(b, dname);
	} else {
		if (comp_dir && *comp_dir)
			sb_join(b, comp_dir);
		if (dname && *dname)
			sb_join(b, dname);
	}
	sb_join(b, name);
	return 0;
}

int
lineprog_find(const unsigned char *unit, size_t len, unsigned addr_size,
	      const struct lineprog_strs *strs, const char *comp_dir,
	      uint64_t pc, char *file, size_t flen, unsigned *line)
{
	struct hdr h;
	struct search q = {.pc = pc, .want_defined = UINT64_MAX};
	struct sbuf b = {file, flen, 0, '\0'};
	int err;

	if (flen)
		file[0] = '\0';
	err = read_header(unit, len, addr_size, strs, &h);
	if (!err)
		err = run(&h, &q);
	if (err)
		return err;
	if (!q.found)
		return -ENOENT;
	err = name_of(&h, q.file, comp_dir, &b);
	if (err) {
		if (flen)
			file[0] = '\0';
		return err;
	}
	*line = q.line > UINT32_MAX ? UINT32_MAX : (unsigned)q.line;
	return 0;
}
