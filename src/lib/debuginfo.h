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

#include <stdint.h>

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

int debuginfo_open(const char *path, struct debuginfo **out);
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

#endif
