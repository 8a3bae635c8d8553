/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lineprog.h - the file and line of an address, from one unit of
 * .debug_line (a DWARF 2-5 line-number program), decoded as it is read:
 * no rows are kept. Pure byte decoding; debuginfo.c finds the bytes.
 */
#ifndef LA_LINEPROG_H
#define LA_LINEPROG_H

#include <stddef.h>
#include <stdint.h>

/*
 * The string sections that a DWARF 5 header's names may point into
 * (DW_FORM_strp: .debug_str, DW_FORM_line_strp: .debug_line_str), whole.
 * Either may be NULL: a name in it then makes lineprog_find() return
 * -ENODATA, so that the caller can load the section and ask again.
 */
struct lineprog_strs {
	const unsigned char *str;
	size_t str_len;
	const unsigned char *line_str;
	size_t line_str_len;
};

/*
 * Run the line-number program of the unit at unit (len bytes available
 * from its unit_length on; the unit may be shorter) once, and give the
 * file and line of the row that holds pc: among rows that are not an
 * end_sequence and whose next row's address is above pc, the last one in
 * program order whose address is <= pc. addr_size is the CU's address
 * size (DWARF 5 headers carry their own); comp_dir the CU's
 * DW_AT_comp_dir (may be NULL). file is named as libdwarf 20210528 names
 * it (see lineprog.c), truncated to flen.
 * 0; -ENOENT: no row holds pc; -EINVAL: the unit is malformed; -ENODATA:
 * the row's file name is in a string section strs does not give.
 */
int lineprog_find(const unsigned char *unit, size_t len, unsigned addr_size,
		  const struct lineprog_strs *strs, const char *comp_dir,
		  uint64_t pc, char *file, size_t flen, unsigned *line);

/* The unit's total size (its unit_length and the length field), or 0. */
size_t lineprog_unit_size(const unsigned char *unit, size_t len);

#endif
