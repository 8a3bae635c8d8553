/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * history.h - read a process's history back from the log folder
 * (LOGDIR/targets/PID-START/history.jsonl, and history.jsonl.1 before it)
 * for the pictures: the HTML report (report_html.c), `leakattach report`
 * (cmd_report.c) and the sparklines of the text reports.
 */
#ifndef LA_CLI_HISTORY_H
#define LA_CLI_HISTORY_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Locations followed (each line carries 16 at most; they change). */
#define HIST_SERIES_MAX 48

enum hist_state {
	HS_ABSENT, /* not in that sample's line */
	HS_NONE, /* a top size class, no finding */
	HS_GROWING,
	HS_LEAK,
	HS_RETENTION,
	HS_PLATEAU,
};

/* One location over the samples (values NAN where absent). */
struct hist_series {
	char key[96];
	char kind[24];
	char label[192];
	double *in_use, *free_b;
	unsigned char *state; /* enum hist_state per sample */
	enum hist_state last_state; /* at the latest sample */
	int ever_leak;
	/* from the latest line that holds the location */
	unsigned consecutive;
	int64_t since_ms; /* the streak's start; 0: none */
	char evidence[16];
	double slope_per_hour; /* NAN: none */
};

struct hist {
	char dir[1024]; /* the target's folder */
	pid_t pid;
	unsigned long long start; /* the process's start time */
	char comm[64];
	unsigned n; /* samples */
	int64_t *t_ms;
	double *in_use, *free_b, *system, *rss, *pause_ms;
	unsigned char *consistent;
	unsigned leaks_last; /* "leaks" of the latest line */
	unsigned bad_lines; /* lines that could not be read */
	unsigned nser;
	struct hist_series ser[HIST_SERIES_MAX];
};

/*
 * Load the history of one target folder into h. Returns 0, or -errno
 * (-ENOENT: no history; -ENOMEM).
 */
int hist_load(const char *dir, struct hist *h);
void hist_free(struct hist *h);
/* The series of key in h, or NULL. */
const struct hist_series *hist_find(const struct hist *h, const char *key);
/*
 * The target folders of the log folder: of process pid (every start
 * time), or of all when pid <= 0; sorted, newest start last. *out is
 * malloc'ed, each entry too (hist_dirs_free()). Returns the count, or
 * -errno.
 */
int hist_dirs(const char *log_dir, pid_t pid, char ***out);
void hist_dirs_free(char **dirs, int n);
/*
 * The latest report (leakattach.check/1) of the target folder dir in
 * LOGDIR/reports, read whole into a malloc'ed string; NULL when none.
 */
char *hist_latest_report(const char *log_dir, const char *dir);

/* Whether the locale's character set is UTF-8 (main() sets LC_CTYPE). */
int hist_utf8(void);
/* "LEAK", "RETENTION", "GROWING", "STOPPED GROWING"; "" for no finding */
const char *hist_state_title(enum hist_state s);
/*
 * A one-line sparkline of v[0..n) (NAN skipped) in at most width
 * characters, each the mean of its share of the samples (all of them,
 * oldest first): block elements on UTF-8, "_.-'^" otherwise, lowest to
 * highest between the series' minimum and maximum. Returns buf.
 */
const char *sparkline(const double *v, unsigned n, unsigned width, int utf8,
		      char *buf, size_t len);
struct check_doc;
struct la_location;
/*
 * The text reports: one line "    history: ▁▂▄▆█ 1.0 MiB -> 5.0 MiB in
 * 6 samples" for location loc of d's process, from its history.jsonl
 * (free bytes for retention); nothing when the history lacks it.
 */
void report_sparkline(FILE *f, const struct check_doc *d,
		      const struct la_location *loc, int retention);

#endif
