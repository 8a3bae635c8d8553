/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debuginfo.c - DWARF through libdwarf 20210528 (Debian 12). Every libdwarf
 * call of the project is in this file: the library's API changed in its
 * 0.x releases, and libdw exports clashing dwarf_* names, so one small
 * wrapper keeps both problems in one place.
 *
 * Debug files are opened by path with no true_path buffer, so libdwarf
 * does not wander off to other files on its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#define LOG_PREFIX "dwarf: "
#include "debuginfo.h"
#include "error.h"
#include "log.h"

/* One CU's line table, flattened once so that lookups are a scan. */
struct line_row {
	uint64_t addr;
	uint32_t line;
	uint32_t end_seq;
};

struct line_table {
	int used;
	Dwarf_Off cu_off;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	struct line_row *rows;
	size_t n;
};

/* CU ranges from the CU DIEs, when .debug_aranges does not help. */
struct cu_range {
	uint64_t lo, hi;
	Dwarf_Off off;
};

#define LINE_TABLES 8

struct debuginfo {
	Dwarf_Debug dbg;
	Dwarf_Die cu;
	/* debuginfo_line(): 0 not read yet, 1 usable, -1 absent */
	int ar_state, cur_state;
	Dwarf_Arange *ar;
	Dwarf_Signed nar;
	struct cu_range *cur;
	size_t ncur;
	struct line_table lt[LINE_TABLES];
	unsigned lt_next;
};

int
debuginfo_open(const char *path, struct debuginfo **out)
{
	struct debuginfo *di = calloc(1, sizeof(*di));
	Dwarf_Error err = NULL;
	int res;

	if (!di)
		return -ENOMEM;
	res = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY,
			      NULL, NULL, &di->dbg, NULL, 0, NULL, &err);
	if (res != DW_DLV_OK) {
		pr_debug("%s: %s", path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "no DWARF");
		free(di);
		return -LA_ENODEBUGINFO;
	}
	*out = di;
	return 0;
}

static void
line_table_free(struct line_table *t)
{
	if (t->ctx)
		dwarf_srclines_dealloc_b(t->ctx);
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

void
debuginfo_close(struct debuginfo *di)
{
	if (!di)
		return;
	for (unsigned i = 0; i < LINE_TABLES; i++)
		line_table_free(&di->lt[i]);
	free(di->cur);
	if (di->dbg)
		dwarf_finish(di->dbg, NULL);
	free(di);
}

static int
die_name_is(Dwarf_Die die, const char *name)
{
	char *n = NULL;

	return dwarf_diename(die, &n, NULL) == DW_DLV_OK && !strcmp(n, name);
}

static int
die_name_ends(Dwarf_Die die, const char *suffix)
{
	char *n = NULL;
	size_t ln, ls = strlen(suffix);

	if (dwarf_diename(die, &n, NULL) != DW_DLV_OK)
		return 0;
	ln = strlen(n);
	return ln >= ls && !strcmp(n + ln - ls, suffix);
}

static int
select_by_aranges(struct debuginfo *di, uint64_t pc)
{
	Dwarf_Arange *ar = NULL, one;
	Dwarf_Signed count = 0;
	Dwarf_Off off;
	Dwarf_Die die;

	if (dwarf_get_aranges(di->dbg, &ar, &count, NULL) != DW_DLV_OK)
		return -ENOENT;
	if (dwarf_get_arange(ar, (Dwarf_Unsigned)count, pc, &one, NULL) !=
		    DW_DLV_OK ||
	    dwarf_get_cu_die_offset(one, &off, NULL) != DW_DLV_OK ||
	    dwarf_offdie_b(di->dbg, off, 1, &die, NULL) != DW_DLV_OK)
		return -ENOENT;
	di->cu = die;
	return 0;
}

static int
cu_covers(Dwarf_Die cu, uint64_t pc)
{
	Dwarf_Addr lo, hi;
	Dwarf_Half form;
	enum Dwarf_Form_Class cls;

	if (dwarf_lowpc(cu, &lo, NULL) != DW_DLV_OK ||
	    dwarf_highpc_b(cu, &hi, &form, &cls, NULL) != DW_DLV_OK)
		return 0;
	if (cls == DW_FORM_CLASS_CONSTANT)
		hi += lo;
	return pc >= lo && pc < hi;
}

int
debuginfo_select_cu(struct debuginfo *di, uint64_t pc, const char *cu_suffix)
{
	Dwarf_Unsigned next = 0;
	Dwarf_Half cu_type;
	Dwarf_Die by_name = NULL;

	if (pc && !select_by_aranges(di, pc))
		return 0;
	/* Walk every CU header once; libdwarf needs it for the DIEs anyway. */
	for (unsigned guard = 0; guard < 1000000; guard++) {
		Dwarf_Die cu = NULL;
		int res = dwarf_next_cu_header_d(di->dbg, 1, NULL, NULL, NULL,
						 NULL, NULL, NULL, NULL, NULL,
						 &next, &cu_type, NULL);

		if (res != DW_DLV_OK)
			break;
		if (dwarf_siblingof_b(di->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (pc && cu_covers(cu, pc)) {
			di->cu = cu;
			return 0;
		}
		if (!by_name && cu_suffix && die_name_ends(cu, cu_suffix))
			by_name = cu;
	}
	if (!by_name)
		return -ENOENT;
	di->cu = by_name;
	return 0;
}

/* Call fn on each top-level DIE of the selected CU with tag; stop on != 0. */
static int
foreach_child(struct debuginfo *di, Dwarf_Half tag,
	      int (*fn)(struct debuginfo *di, Dwarf_Die die, void *arg),
	      void *arg)
{
	Dwarf_Die die = NULL;

	if (!di->cu || dwarf_child(di->cu, &die, NULL) != DW_DLV_OK)
		return 0;
	for (unsigned guard = 0; guard < 10000000; guard++) {
		Dwarf_Die sib = NULL;
		Dwarf_Half t;
		int ret;

		if (dwarf_tag(die, &t, NULL) == DW_DLV_OK && t == tag) {
			ret = fn(di, die, arg);
			if (ret)
				return ret;
		}
		if (dwarf_siblingof_b(di->dbg, die, 1, &sib, NULL) != DW_DLV_OK)
			break;
		die = sib;
	}
	return 0;
}

static int
attr_udata(Dwarf_Die die, Dwarf_Half attr, uint64_t *out)
{
	Dwarf_Attribute a;
	Dwarf_Unsigned v;

	if (dwarf_attr(die, attr, &a, NULL) != DW_DLV_OK ||
	    dwarf_formudata(a, &v, NULL) != DW_DLV_OK)
		return -ENOENT;
	*out = v;
	return 0;
}

struct struct_query {
	const char *name;
	struct di_struct *out;
};

static int
struct_cb(struct debuginfo *di, Dwarf_Die die, void *arg)
{
	struct struct_query *q = arg;
	Dwarf_Die m = NULL;
	uint64_t size;

	(void)di;
	if (!die_name_is(die, q->name) ||
	    attr_udata(die, DW_AT_byte_size, &size))
		return 0; /* another struct, or only a declaration */
	memset(q->out, 0, sizeof(*q->out));
	q->out->size = size;
	if (dwarf_child(die, &m, NULL) != DW_DLV_OK)
		return 1;
	for (unsigned guard = 0; guard < 4096; guard++) {
		Dwarf_Die sib = NULL;
		Dwarf_Half t;
		char *n = NULL;
		uint64_t off;

		if (dwarf_tag(m, &t, NULL) == DW_DLV_OK && t == DW_TAG_member &&
		    dwarf_diename(m, &n, NULL) == DW_DLV_OK &&
		    !attr_udata(m, DW_AT_data_member_location, &off) &&
		    q->out->n < DEBUGINFO_MAX_MEMBERS) {
			struct di_member *dm = &q->out->m[q->out->n++];

			snprintf(dm->name, sizeof(dm->name), "%s", n);
			dm->offset = off;
		}
		if (dwarf_siblingof_b(di->dbg, m, 1, &sib, NULL) != DW_DLV_OK)
			break;
		m = sib;
	}
	return 1;
}

int
debuginfo_struct(struct debuginfo *di, const char *name, struct di_struct *out)
{
	struct struct_query q = {name, out};

	return foreach_child(di, DW_TAG_structure_type, struct_cb, &q) == 1
		       ? 0
		       : -ENOENT;
}

int64_t
debuginfo_member_offset(const struct di_struct *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].name, name))
			return (int64_t)s->m[i].offset;
	return -1;
}

struct var_query {
	const char *name;
	uint64_t value;
	int is_tls;
};

/*
 * DW_AT_location of a static variable: DW_OP_addr A, or for __thread
 * variables DW_OP_const*u OFF; DW_OP_form_tls_address (DWARF 5) or
 * DW_OP_GNU_push_tls_address (GCC with -gdwarf-4).
 */
static int
var_cb(struct debuginfo *di, Dwarf_Die die, void *arg)
{
	struct var_query *q = arg;
	Dwarf_Attribute a;
	Dwarf_Loc_Head_c head = NULL;
	Dwarf_Unsigned count = 0, nops = 0, expr_off, desc_off;
	Dwarf_Small lle, source;
	Dwarf_Addr lo, hi;
	Dwarf_Locdesc_c desc;
	int found = 0;

	(void)di;
	if (!die_name_is(die, q->name) ||
	    dwarf_attr(die, DW_AT_location, &a, NULL) != DW_DLV_OK)
		return 0;
	if (dwarf_get_loclist_c(a, &head, &count, NULL) != DW_DLV_OK)
		return 0;
	if (count >= 1 &&
	    dwarf_get_locdesc_entry_c(head, 0, &lle, &lo, &hi, &nops, &desc,
				      &source, &expr_off, &desc_off,
				      NULL) == DW_DLV_OK) {
		Dwarf_Small op0 = 0, op1 = 0;
		Dwarf_Unsigned v0 = 0, v1, v2, br;

		if (nops >= 1)
			dwarf_get_location_op_value_c(desc, 0, &op0, &v0, &v1,
						      &v2, &br, NULL);
		if (nops >= 2)
			dwarf_get_location_op_value_c(desc, 1, &op1, &v1, &v1,
						      &v2, &br, NULL);
		if (nops == 1 && op0 == DW_OP_addr) {
			q->value = v0;
			q->is_tls = 0;
			found = 1;
		} else if (nops == 2 &&
			   (op1 == DW_OP_form_tls_address ||
			    op1 == DW_OP_GNU_push_tls_address) &&
			   (op0 == DW_OP_const8u || op0 == DW_OP_const4u ||
			    op0 == DW_OP_constu || op0 == DW_OP_const1u ||
			    op0 == DW_OP_const2u)) {
			q->value = v0;
			q->is_tls = 1;
			found = 1;
		}
	}
	dwarf_loc_head_c_dealloc(head);
	return found;
}

int
debuginfo_variable(struct debuginfo *di, const char *name, uint64_t *value,
		   int *is_tls)
{
	struct var_query q = {name, 0, 0};

	if (foreach_child(di, DW_TAG_variable, var_cb, &q) != 1)
		return -ENOENT;
	*value = q.value;
	*is_tls = q.is_tls;
	return 0;
}

/* ---- line tables ------------------------------------------------------ */

/*
 * The CU DIE offset of every CU with a low/high pc, walking the CU headers
 * once to the end (libdwarf's CU iterator is state in the Dwarf_Debug; a
 * walk left half-way would make the next one start in the middle).
 */
static void
read_cu_ranges(struct debuginfo *di)
{
	size_t cap = 0;

	di->cur_state = -1;
	for (unsigned guard = 0; guard < 1000000; guard++) {
		Dwarf_Unsigned next = 0;
		Dwarf_Half cu_type;
		Dwarf_Die cu = NULL;
		Dwarf_Addr lo, hi;
		Dwarf_Half form;
		enum Dwarf_Form_Class cls;
		Dwarf_Off off;

		if (dwarf_next_cu_header_d(di->dbg, 1, NULL, NULL, NULL, NULL,
					   NULL, NULL, NULL, NULL, &next,
					   &cu_type, NULL) != DW_DLV_OK)
			break;
		if (dwarf_siblingof_b(di->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (dwarf_lowpc(cu, &lo, NULL) != DW_DLV_OK ||
		    dwarf_highpc_b(cu, &hi, &form, &cls, NULL) != DW_DLV_OK ||
		    dwarf_dieoffset(cu, &off, NULL) != DW_DLV_OK) {
			dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
			continue;
		}
		dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		if (hi <= lo)
			continue;
		if (di->ncur == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct cu_range *v =
				realloc(di->cur, ncap * sizeof(*v));

			if (!v)
				break;
			di->cur = v;
			cap = ncap;
		}
		di->cur[di->ncur++] = (struct cu_range){lo, hi, off};
		di->cur_state = 1;
	}
}

/* The offset of the CU DIE whose code holds pc. */
static int
cu_of_pc(struct debuginfo *di, uint64_t pc, Dwarf_Off *off)
{
	Dwarf_Arange one;

	if (!di->ar_state)
		di->ar_state = dwarf_get_aranges(di->dbg, &di->ar, &di->nar,
						 NULL) == DW_DLV_OK &&
					       di->nar > 0
				       ? 1
				       : -1;
	if (di->ar_state > 0 &&
	    dwarf_get_arange(di->ar, (Dwarf_Unsigned)di->nar, pc, &one, NULL) ==
		    DW_DLV_OK &&
	    dwarf_get_cu_die_offset(one, off, NULL) == DW_DLV_OK)
		return 0;
	if (!di->cur_state)
		read_cu_ranges(di);
	for (size_t i = 0; i < di->ncur; i++)
		if (pc >= di->cur[i].lo && pc < di->cur[i].hi) {
			*off = di->cur[i].off;
			return 0;
		}
	return -ENOENT;
}

static int
line_table_load(struct debuginfo *di, Dwarf_Off cu_off, struct line_table *t)
{
	Dwarf_Die cu = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Signed n = 0;
	int res;

	t->used = 1;
	t->cu_off = cu_off;
	if (dwarf_offdie_b(di->dbg, cu_off, 1, &cu, NULL) != DW_DLV_OK)
		return -ENOENT;
	res = dwarf_srclines_b(cu, &version, &count, &t->ctx, NULL);
	dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
	if (res != DW_DLV_OK) {
		t->ctx = NULL;
		return -ENOENT;
	}
	if (dwarf_srclines_from_linecontext(t->ctx, &t->lines, &n, NULL) !=
		    DW_DLV_OK ||
	    n <= 0)
		return -ENOENT;
	t->rows = calloc((size_t)n, sizeof(*t->rows));
	if (!t->rows)
		return -ENOMEM;
	for (Dwarf_Signed i = 0; i < n; i++) {
		Dwarf_Addr a = 0;
		Dwarf_Unsigned ln = 0;
		Dwarf_Bool end = 1;

		dwarf_lineaddr(t->lines[i], &a, NULL);
		dwarf_lineno(t->lines[i], &ln, NULL);
		dwarf_lineendsequence(t->lines[i], &end, NULL);
		t->rows[i].addr = a;
		t->rows[i].line = ln > UINT32_MAX ? UINT32_MAX : (uint32_t)ln;
		t->rows[i].end_seq = !!end;
	}
	t->n = (size_t)n;
	return 0;
}

int
debuginfo_line(struct debuginfo *di, uint64_t pc, char *file, size_t len,
	       unsigned *line)
{
	struct line_table *t = NULL;
	Dwarf_Off off;
	size_t best = SIZE_MAX;
	char *src = NULL;
	int err;

	err = cu_of_pc(di, pc, &off);
	if (err)
		return err;
	for (unsigned i = 0; i < LINE_TABLES; i++)
		if (di->lt[i].used && di->lt[i].cu_off == off)
			t = &di->lt[i];
	if (!t) {
		/* Round robin: stacks revisit the same few CUs. */
		t = &di->lt[di->lt_next++ % LINE_TABLES];
		line_table_free(t);
		err = line_table_load(di, off, t);
		if (err)
			return err;
	}
	/* Within a sequence addresses only grow; the end row closes it. */
	for (size_t i = 0; i + 1 < t->n; i++)
		if (!t->rows[i].end_seq && t->rows[i].addr <= pc &&
		    pc < t->rows[i + 1].addr)
			best = i;
	if (best == SIZE_MAX)
		return -ENOENT;
	if (dwarf_linesrc(t->lines[best], &src, NULL) != DW_DLV_OK)
		src = NULL;
	snprintf(file, len, "%s", src ? src : "");
	if (src)
		dwarf_dealloc(di->dbg, src, DW_DLA_STRING);
	*line = t->rows[best].line;
	return 0;
}

/* ---- call frame information ------------------------------------------- */

struct debuginfo_cfi {
	Dwarf_Debug dbg;
	Dwarf_Cie *cies;
	Dwarf_Signed ncies;
	Dwarf_Fde *fdes;
	Dwarf_Signed nfdes;
};

int
debuginfo_cfi_open(const char *path, struct debuginfo_cfi **out)
{
	struct debuginfo_cfi *c = calloc(1, sizeof(*c));
	Dwarf_Error err = NULL;
	int res;

	if (!c)
		return -ENOMEM;
	/* No true_path buffer: the runtime file itself, never its debug file. */
	res = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY,
			      NULL, NULL, &c->dbg, NULL, 0, NULL, &err);
	if (res != DW_DLV_OK) {
		pr_debug("%s: %s", path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "no CFI");
		free(c);
		return -LA_ENODEBUGINFO;
	}
	err = NULL;
	res = dwarf_get_fde_list_eh(c->dbg, &c->cies, &c->ncies, &c->fdes,
				    &c->nfdes, &err);
	if (res != DW_DLV_OK || c->nfdes <= 0) {
		pr_debug("%s: no .eh_frame: %s", path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "empty");
		c->fdes = NULL;
		debuginfo_cfi_close(c);
		return -LA_ENODEBUGINFO;
	}
	*out = c;
	return 0;
}

void
debuginfo_cfi_close(struct debuginfo_cfi *c)
{
	if (!c)
		return;
	if (c->fdes)
		dwarf_fde_cie_list_dealloc(c->dbg, c->cies, c->ncies, c->fdes,
					   c->nfdes);
	dwarf_finish(c->dbg, NULL);
	free(c);
}

/* One libdwarf rule in our terms (libdwarf.h, Dwarf_Regtable_Entry3_s). */
static void
convert_rule(const Dwarf_Regtable_Entry3 *e, struct cfi_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (e->dw_regnum == DW_FRAME_UNDEFINED_VAL &&
	    e->dw_value_type == DW_EXPR_OFFSET) {
		r->kind = CFI_UNDEFINED;
		return;
	}
	if (e->dw_regnum == DW_FRAME_SAME_VAL &&
	    e->dw_value_type == DW_EXPR_OFFSET) {
		r->kind = CFI_SAME;
		return;
	}
	r->reg = e->dw_regnum;
	r->offset = (int64_t)e->dw_offset_or_block_len; /* signed, really */
	switch (e->dw_value_type) {
	case DW_EXPR_OFFSET:
		r->kind = e->dw_offset_relevant ? CFI_OFFSET : CFI_REGISTER;
		if (r->kind == CFI_REGISTER)
			r->offset = 0;
		break;
	case DW_EXPR_VAL_OFFSET:
		r->kind = CFI_VAL_OFFSET;
		break;
	case DW_EXPR_EXPRESSION:
	case DW_EXPR_VAL_EXPRESSION:
		r->kind = e->dw_value_type == DW_EXPR_EXPRESSION
				  ? CFI_EXPRESSION
				  : CFI_VAL_EXPRESSION;
		r->expr = e->dw_block_ptr;
		r->expr_len = (size_t)e->dw_offset_or_block_len;
		r->offset = 0;
		if (!r->expr)
			r->kind = CFI_UNDEFINED;
		break;
	default:
		r->kind = CFI_UNDEFINED;
	}
}

int
debuginfo_cfi_row(struct debuginfo_cfi *c, uint64_t pc, struct cfi_row *out)
{
	Dwarf_Regtable_Entry3 rules[32];
	Dwarf_Regtable3 tab = {.rt3_reg_table_size = 32, .rt3_rules = rules};
	Dwarf_Fde fde = NULL;
	Dwarf_Addr lo = 0, hi = 0, row_pc = 0;
	const Dwarf_Regtable_Entry3 *cfa;

	if (dwarf_get_fde_at_pc(c->fdes, pc, &fde, &lo, &hi, NULL) != DW_DLV_OK)
		return -ENOENT;
	memset(rules, 0, sizeof(rules));
	if (dwarf_get_fde_info_for_all_regs3(fde, pc, &tab, &row_pc, NULL) !=
	    DW_DLV_OK)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->fde_lo = lo;
	out->fde_hi = hi;
	cfa = &tab.rt3_cfa_rule;
	if (cfa->dw_value_type == DW_EXPR_OFFSET) {
		/* DW_CFA_def_cfa: register + offset */
		out->cfa.kind = CFI_REGISTER;
		out->cfa.reg = cfa->dw_regnum;
		out->cfa.offset = cfa->dw_offset_relevant
					  ? (int64_t)cfa->dw_offset_or_block_len
					  : 0;
	} else if ((cfa->dw_value_type == DW_EXPR_EXPRESSION ||
		    cfa->dw_value_type == DW_EXPR_VAL_EXPRESSION) &&
		   cfa->dw_block_ptr) {
		/* DW_CFA_def_cfa_expression (the .plt): its value is the CFA */
		out->cfa.kind = CFI_VAL_EXPRESSION;
		out->cfa.expr = cfa->dw_block_ptr;
		out->cfa.expr_len = (size_t)cfa->dw_offset_or_block_len;
	} else {
		return -ENOENT;
	}
	for (unsigned i = 0; i < CFI_NREGS; i++)
		convert_rule(&rules[i], &out->reg[i]);
	return 0;
}
