/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report.h - write a snapshot for people (text) or machines (JSON). */
#ifndef LA_CLI_REPORT_H
#define LA_CLI_REPORT_H

#include <stdio.h>
#include <sys/types.h>

#include <leakattach.h>

void report_text_snapshot(FILE *f, const struct la_snapshot *snap,
			  const char *comm, unsigned top);
struct json;
/* The "memory" object of the snapshot and check documents (report_json.c). */
void report_memory_json(struct json *j, const struct la_snapshot *snap);
void report_json_snapshot(FILE *f, const struct la_snapshot *snap,
			  unsigned top);
/*
 * The size classes to show: all, smallest first (top 0), or the top N by
 * bytes in use. *out is malloc'ed; free it.
 */
unsigned report_classes(const struct la_snapshot *snap, unsigned top,
			struct la_size_class **out);
/*
 * Memory outside malloc: whether kind k is shown (python_arenas only
 * once something measures it), and its name for people ("anonymous
 * memory outside malloc").
 */
int outside_shown(enum la_outside_kind k, const struct la_outside *o);
/*
 * The next kind from *k on that snap measured and that is shown, into *k
 * and *o: 1; 0 past the last. for (k = 0; outside_next(snap, &k, &o); k++)
 */
int outside_next(const struct la_snapshot *snap, unsigned *k,
		 struct la_outside *o);
const char *outside_text(enum la_outside_kind k);
/*
 * The Python heap (la_snapshot_python()): "3.11.2" from PY_VERSION_HEX
 * ("3.13.0rc1" for a pre-release), "3.11" when only major and minor are
 * known.
 */
const char *python_version_text(const struct la_python *py, char *buf,
				size_t len);
/* The snapshot's "python" object, when snap found a CPython (report_json.c). */
void report_python_json(struct json *j, const struct la_snapshot *snap);
/*
 * The type name of a LA_LOC_PYTHON_TYPE location: its key without
 * "python:" (JSON "location", and the text's "python type NAME").
 */
const char *python_type_of(const struct la_location *loc);
/*
 * The census of a sample, kept to compare a later one with (the first
 * sample of a run: where RSS went since).
 */
struct mem_mark {
	int have; /* a sample was kept, and its smaps read */
	struct la_memory m;
	struct la_outside o[LA_OUTSIDE_KIND_COUNT];
};
void mem_mark_set(struct mem_mark *mk, const struct la_snapshot *snap);
/*
 * The --rule the rules are (JSON rules.rule): "trend" (with the trend
 * verdict), "noise" (growths in a row beyond the noise), "fixed".
 */
const char *rule_name(const struct la_rules *r);
/*
 * The kind of a location as JSON, the metrics and the history name it:
 * "heap", "arena", "size_class", "arena_size_class", "outside_malloc",
 * "python_type"; "unknown" for a kind this build does not know.
 */
const char *location_kind_name(enum la_location_kind k);
/* "12.3 MiB" */
const char *human_bytes(uint64_t v, char *buf, size_t len);
/* "+1.5 MiB", "-4.0 KiB": now less then, signed */
const char *signed_bytes(uint64_t now, uint64_t then, char *buf, size_t len);
/* "40,000": a count for people, digits in groups of three */
const char *human_count(uint64_t v, char *buf, size_t len);
/* "2h05m", "45s", "1.5s" */
const char *human_duration(double seconds, char *buf, size_t len);

/*
 * The types named in a watched location at the latest sample (from
 * la_types_of()): the top ones, the unknown entry last when there is one.
 */
#define LOC_TYPES_MAX 8
struct loc_types {
	struct la_location loc;
	unsigned sampled; /* chunks in the sample */
	uint64_t sampled_bytes; /* their chunk sizes */
	uint64_t population; /* in-use chunks of the location */
	unsigned n;
	struct la_type_count t[LOC_TYPES_MAX];
};

/* The types of location loc in d, or NULL when it was not watched. */
struct check_doc;
const struct loc_types *report_types_of(const struct check_doc *d,
					const struct la_location *loc);
/* The share of lt's sampled chunks that are of type t, in percent. */
double type_share(const struct loc_types *lt, const struct la_type_count *t);
/*
 * The types of lt in one line for people, such as "Widget 91 %,
 * &widget_ops 4 %, unknown 5 %"; "" when nothing was sampled.
 */
const char *types_line(const struct loc_types *lt, char *buf, size_t len);

/*
 * The callers of a growing size class, from the latest sampling window
 * whose chunks a later sample checked: the top ones by attributed bytes
 * in the class (surviving sampled bytes beyond chance), and the
 * location's growth since the window shared out in that proportion
 * (estimates). A caller whose survivors chance explains is not one.
 */
#define LOC_CALLERS_MAX 3
struct loc_caller {
	struct la_caller c;
	unsigned class_kept_chunks; /* in the location's size class */
	unsigned class_surviving_chunks;
	uint64_t class_surviving_bytes;
	double class_chance; /* survivors chance alone would give */
	uint64_t class_attributed_bytes;
	double share; /* of all attributed sampled bytes in the class, 0-1 */
	uint64_t est_bytes; /* share of the growth since the window */
};

struct loc_callers {
	struct la_location loc;
	struct la_callers_info info; /* the window they come from */
	uint64_t growth_since_window;
	unsigned n;
	struct loc_caller c[LOC_CALLERS_MAX];
};

/* Sampling windows of this run, for "callers_sampling". */
struct callers_run {
	int enabled; /* --callers is not off */
	char backend[16]; /* of the latest window: "uprobe", "int3" */
	unsigned windows;
	uint64_t allocations, lost;
	/* summed over the windows */
	double window_ms, teardown_ms, release_ms;
	/* windows not opened: the last one took longer than the time left */
	unsigned skipped;
	double last_s; /* the last window's time, all of it, in seconds */
	char error[300]; /* why windows were not opened; "" */
};

/* report_check*.c: what monitor, check and simulate report. */
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
	/* the locations watched in the latest sample, and their types */
	const struct loc_types *types;
	unsigned n_types;
	/* the callers of growing size classes, and the windows of the run */
	const struct loc_callers *callers;
	unsigned n_callers;
	const struct callers_run *callers_run; /* NULL: not sampling */
	/* the census of this run's first sample (have 0: none) */
	const struct mem_mark *first;
	/*
	 * The exact samples of this run, and the heap's in-use bytes at the
	 * first and the latest of them (the growth the report shows even
	 * when no rule fired).
	 */
	unsigned exact_this_run;
	uint64_t heap_first_in_use, heap_last_in_use;
};

/* The callers of location loc in d, or NULL. */
const struct loc_callers *report_callers_of(const struct check_doc *d,
					    const struct la_location *loc);
/* "make_entry (callerleak.c:103)" or "f (libfoo.so+0x1234)" */
const char *frame_text(const struct la_frame *fr, char *buf, size_t len);

/* "size class 1168-1184 B in the main arena" */
const char *location_text(const struct la_location *loc, char *buf, size_t len);
/*
 * Whether the text report shows finding i: a leak is shown once, at its
 * most specific location (a size class in an arena rather than the same
 * size class overall, the arena or the whole heap).
 */
int report_finding_shown(const struct la_tracker *t, unsigned i);
/*
 * One line for a new leak or retention, as monitor prints them; first
 * and last (may be NULL) give a leak outside malloc its new mappings.
 */
void report_finding_line(FILE *f, const struct la_finding *fd, pid_t pid,
			 const struct mem_mark *first,
			 const struct la_snapshot *last);
/* The heap's growth between this run's first and latest exact sample, %. */
double report_heap_growth_pct(const struct check_doc *d);
/* Exact samples in d's history (approximate ones are no evidence). */
unsigned report_exact_samples(const struct check_doc *d);
/*
 * Whether d's verdict is a leak: one now, or one reported during this
 * run that has not since become a plateau (as the exit status).
 */
int report_is_leak(const struct check_doc *d);
/*
 * How many more exact samples the rule needs before "no leak" can be
 * said (consecutive + 1 in all); 0 when a verdict is reached (and for
 * simulate, which judges itself). Otherwise the verdict is "undecided".
 */
unsigned report_samples_needed(const struct check_doc *d);
/* The summary for people at the end of monitor, check and simulate. */
void report_check_text(FILE *f, const struct check_doc *d);
/* One JSON object, schema leakattach.check/1 (leakattach(1)). */
void report_check_json(FILE *f, const struct check_doc *d);
/* One line of history.jsonl for the latest sample (no newline). */
void report_history_line(FILE *f, const struct check_doc *d);

#endif
