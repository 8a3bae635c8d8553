/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report.h - write a snapshot for people (text) or machines (JSON). */
#ifndef LA_CLI_REPORT_H
#define LA_CLI_REPORT_H

#include <stdio.h>
#include <sys/types.h>

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
/* "2h05m", "45s", "1.5s" */
const char *human_duration(double seconds, char *buf, size_t len);

/* report_check.c: what monitor, check and simulate report. */
struct check_doc {
	const char *command; /* "monitor", "check", "simulate" */
	pid_t pid;
	const char *comm;
	const struct la_rules *rules;
	const struct la_tracker *tracker;
	const struct la_snapshot *last; /* latest sample, or NULL */
	unsigned samples_this_run;
	unsigned trims; /* malloc_trim calls made by --auto-cleanup */
	/* every leak reported during this run, as last seen */
	const struct la_finding *seen;
	unsigned n_seen;
	const char *log_dir; /* NULL: none */
	const char *state_dir; /* NULL: none */
};

/* "size class 1168-1184 B in the main arena" */
const char *location_text(const struct la_location *loc, char *buf, size_t len);
/*
 * Whether the text report shows finding i: a leak is shown once, at its
 * most specific location (a size class in an arena rather than the same
 * size class overall, the arena or the whole heap).
 */
int report_finding_shown(const struct la_tracker *t, unsigned i);
/* One line for a new leak or retention, as monitor prints them. */
void report_finding_line(FILE *f, const struct la_finding *fd, pid_t pid);
/* The summary for people at the end of monitor, check and simulate. */
void report_check_text(FILE *f, const struct check_doc *d);
/* One JSON object, schema leakattach.check/1 (leakattach(1)). */
void report_check_json(FILE *f, const struct check_doc *d);
/* One line of history.jsonl for the latest sample (no newline). */
void report_history_line(FILE *f, const struct check_doc *d);

#endif
