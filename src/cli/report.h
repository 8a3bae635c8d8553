/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report.h - write a snapshot for people (text) or machines (JSON). */
#ifndef LA_CLI_REPORT_H
#define LA_CLI_REPORT_H

#include <stdio.h>

#include <leakattach.h>

void report_text_snapshot(FILE *f, const struct la_snapshot *snap,
			  const char *comm, unsigned top);
void report_json_snapshot(FILE *f, const struct la_snapshot *snap,
			  unsigned top);
/*
 * The size classes to show: all, smallest first (top 0), or the top N by
 * bytes in use. *out is malloc'ed; free it.
 */
unsigned report_classes(const struct la_snapshot *snap, unsigned top,
			struct la_size_class **out);
/* "12.3 MiB" */
const char *human_bytes(uint64_t v, char *buf, size_t len);

#endif
