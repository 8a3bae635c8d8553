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

struct debuginfo {
	Dwarf_Debug dbg;
	Dwarf_Die cu;
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

void
debuginfo_close(struct debuginfo *di)
{
	if (!di)
		return;
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
