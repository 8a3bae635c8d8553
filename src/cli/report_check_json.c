/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_check_json.c - monitor, check and simulate for machines: the
 * leakattach.check/1 document (doc/leakattach.1 documents it field by
 * field; fields are only ever added within a version) and the line of
 * history.jsonl kept per sample (report_check.c says what the reports
 * share).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callers_words.h"
#include "json.h"
#include "report.h"

static const char *const verdict_names[] = {
	[LA_VERDICT_GROWING] = "growing",
	[LA_VERDICT_LEAK] = "leak",
	[LA_VERDICT_RETENTION] = "retention",
	[LA_VERDICT_PLATEAU] = "plateau",
};

static const char *const source_names[] = {
	[LA_TYPE_UNKNOWN] = "unknown",
	[LA_TYPE_VTABLE] = "vtable",
	[LA_TYPE_OBJECT] = "object",
	[LA_TYPE_PYTHON] = "python",
};

/* The fields a type has wherever it appears. */
static void
type_fields(struct json *j, const struct la_type_count *t)
{
	json_string(j, "type", t->name);
	json_string(j, "source", source_names[t->source]);
	json_string(j, "module", t->module);
	json_u64(j, "sampled_chunks", t->chunks);
	json_u64(j, "sampled_bytes", t->bytes);
	json_u64(j, "estimated_chunks", t->est_chunks);
	json_u64(j, "estimated_bytes", t->est_bytes);
}

/* A watched location's named types (the unknown ones are not a type). */
static void
types_json(struct json *j, const struct loc_types *lt)
{
	json_u64(j, "types_sampled_chunks", lt->sampled);
	json_array(j, "types");
	for (unsigned i = 0; i < lt->n; i++) {
		if (lt->t[i].source == LA_TYPE_UNKNOWN)
			continue;
		json_object(j, NULL);
		json_string(j, "kind", "type");
		type_fields(j, &lt->t[i]);
		json_end_object(j);
	}
	json_end_array(j);
}

/*
 * A named type that makes up at least this share of a leaking location's
 * sampled chunks gets a leak entry of its own (at most TYPE_ENTRIES per
 * location): what a user looks for first. A smaller share is more likely
 * a type that merely lives in the same size class.
 */
#define TYPE_SHARE_MIN 25.0
#define TYPE_ENTRIES 3

/* The streak of a finding: its growths, their count, when it began. */
static void
streak_json(struct json *j, const struct la_finding *fd)
{
	json_array(j, "growth_percent");
	for (unsigned k = 0; k < fd->n_growth; k++)
		json_double(j, NULL, fd->growth_percent[k]);
	json_end_array(j);
	json_u64(j, "consecutive", fd->consecutive);
	json_i64(j, "since_unix_ms", fd->base_time_unix_ns / 1000000);
	json_i64(j, "time_unix_ms", fd->time_unix_ns / 1000000);
}

/*
 * What a type or caller entry takes from the finding it lies within:
 * part of its growth (estimated), in_use its estimated bytes in use.
 */
static void
estimated_json(struct json *j, const struct la_finding *fd, double part,
	       uint64_t in_use)
{
	json_string(j, "within", fd->loc.key);
	json_bool(j, "estimated", 1);
	json_string(j, "verdict", verdict_names[fd->verdict]);
	json_bool(j, "new", fd->is_new);
	json_u64(j, "in_use_bytes", in_use);
	json_u64(j, "growth_bytes", (uint64_t)(part * fd->growth_bytes));
	json_double(j, "growth_bytes_per_hour", part * fd->bytes_per_hour);
	streak_json(j, fd);
}
static void
type_entry_json(struct json *j, const struct la_finding *fd,
		const struct loc_types *lt, const struct la_type_count *t)
{
	/* the location's growth, in proportion to the type's bytes */
	double part =
		lt->sampled_bytes ? (double)t->bytes / lt->sampled_bytes : 0;
	char key[512];

	snprintf(key, sizeof(key), "type:%s@%s", t->name, fd->loc.key);
	json_object(j, NULL);
	json_string(j, "kind", "type");
	json_string(j, "location", key);
	type_fields(j, t);
	estimated_json(j, fd, part, t->est_bytes);
	json_end_object(j);
}

static void
type_entries_json(struct json *j, const struct la_finding *fd,
		  const struct loc_types *lt)
{
	unsigned n = 0;

	for (unsigned i = 0; lt && i < lt->n && n < TYPE_ENTRIES; i++) {
		if (lt->t[i].source == LA_TYPE_UNKNOWN ||
		    type_share(lt, &lt->t[i]) < TYPE_SHARE_MIN)
			continue;
		type_entry_json(j, fd, lt, &lt->t[i]);
		n++;
	}
}

static void
stack_json(struct json *j, const struct la_caller *c)
{
	json_array(j, "stack");
	for (unsigned k = 0; k < c->n_frames; k++) {
		const struct la_frame *fr = &c->frames[k];

		json_object(j, NULL);
		json_string(j, "function", fr->function);
		json_string(j, "file", fr->file);
		json_u64(j, "line", fr->line);
		json_string(j, "module", fr->module);
		json_u64(j, "module_offset", fr->module_offset);
		json_end_object(j);
	}
	json_end_array(j);
}

/* The fields a caller has wherever it appears. */
static void
caller_fields(struct json *j, const struct loc_caller *c)
{
	json_string(j, "kind", "caller");
	stack_json(j, &c->c);
	json_u64(j, "sampled_allocations", c->c.sampled_allocations);
	json_u64(j, "sampled_bytes", c->c.sampled_bytes);
	json_u64(j, "kept_chunks", c->class_kept_chunks);
	json_u64(j, "surviving_chunks", c->class_surviving_chunks);
	json_u64(j, "surviving_bytes", c->class_surviving_bytes);
	json_double(j, "chance_chunks", c->class_chance);
	json_u64(j, "attributed_bytes", c->class_attributed_bytes);
	json_double(j, "share", c->share);
	json_u64(j, "estimated_bytes", c->est_bytes);
}

static void
callers_json(struct json *j, const struct loc_callers *lc)
{
	json_array(j, "callers");
	for (unsigned i = 0; i < lc->n; i++) {
		json_object(j, NULL);
		caller_fields(j, &lc->c[i]);
		json_end_object(j);
	}
	json_end_array(j);
	/* the control group: null, not 0, when the window freed nothing */
	json_u64(j, "callers_freed_chunks", lc->info.control_chunks);
	json_double(j, "callers_reuse_rate",
		    lc->info.control_chunks ? lc->info.reuse_rate : NAN);
}

/* A caller with at least this share gets a leak entry of its own. */
#define CALLER_SHARE_MIN 0.25

static void
caller_entries_json(struct json *j, const struct la_finding *fd,
		    const struct loc_callers *lc)
{
	char key[600];

	for (unsigned i = 0; lc && i < lc->n; i++) {
		const struct loc_caller *c = &lc->c[i];

		if (c->share < CALLER_SHARE_MIN)
			continue;
		caller_key(c->c.frames, c->c.n_frames, fd->loc.key, key,
			   sizeof(key));
		json_object(j, NULL);
		caller_fields(j, c);
		json_string(j, "location", key);
		estimated_json(j, fd, c->share,
			       (uint64_t)(c->share * fd->in_use_bytes));
		json_end_object(j);
	}
}

/*
 * What a verdict rests on: the evidence of a leak, the trend over the
 * location's history when it has one, and how long the process has at
 * that rate before its memory cgroup's limit or the box's MemAvailable.
 */
static void
evidence_json(struct json *j, const struct la_finding *fd,
	      const struct la_snapshot *last)
{
	struct la_headroom h;

	/* a plateau's: the evidence of the leak it was */
	if (fd->verdict == LA_VERDICT_LEAK || fd->verdict == LA_VERDICT_PLATEAU)
		json_string(j, "evidence",
			    fd->evidence == LA_EVIDENCE_TREND ? "trend"
							      : "consecutive");
	if (fd->samples) {
		json_double(j, "slope_bytes_per_hour",
			    fd->slope_bytes_per_hour);
		json_array(j, "slope_ci");
		json_double(j, NULL, fd->slope_ci_lo);
		json_double(j, NULL, fd->slope_ci_hi);
		json_end_array(j);
		json_double_g(j, "p_value", fd->p_value);
		json_u64(j, "samples", fd->samples);
	}
	if (fd->verdict != LA_VERDICT_LEAK || !last || fd->bytes_per_hour <= 0)
		return;
	la_snapshot_headroom(last, &h, sizeof(h));
	if (h.kind == LA_HEADROOM_UNKNOWN)
		return;
	json_double(j, "time_to_limit_s",
		    (double)h.headroom_bytes / fd->bytes_per_hour * 3600.0);
	json_string(j, "limit",
		    h.kind == LA_HEADROOM_CGROUP ? "cgroup" : "MemAvailable");
}

static void
finding_json(struct json *j, const struct la_finding *fd,
	     const struct loc_types *lt, const struct loc_callers *lc,
	     const struct la_snapshot *last)
{
	char arena[32];

	json_object(j, NULL);
	json_string(j, "kind", location_kind_name(fd->loc.kind));
	if (fd->loc.kind == LA_LOC_OUTSIDE) {
		const char *name = la_outside_kind_name(
			(enum la_outside_kind)fd->loc.outside_kind);
		struct la_outside o;

		/* the kind's name, as in the snapshot's outside_malloc */
		json_string(j, "location", name ? name : "?");
		if (last && name &&
		    !la_snapshot_outside(
			    last, (enum la_outside_kind)fd->loc.outside_kind,
			    &o, sizeof(o))) {
			json_u64(j, "size_bytes", o.size_bytes);
			json_u64(j, "mappings", o.mappings);
		}
	} else if (fd->loc.kind == LA_LOC_PYTHON_TYPE) {
		/* the type's name, as in the snapshot's python.types */
		json_string(j, "location", python_type_of(&fd->loc));
		json_u64(j, "objects", fd->objects);
		json_i64(j, "growth_objects", fd->growth_objects);
	} else {
		json_string(j, "location", fd->loc.key);
	}
	if (fd->loc.kind == LA_LOC_ARENA ||
	    fd->loc.kind == LA_LOC_ARENA_SIZE_CLASS) {
		if (fd->loc.arena_is_main)
			snprintf(arena, sizeof(arena), "main");
		else
			snprintf(arena, sizeof(arena), "%#" PRIx64,
				 fd->loc.arena_addr);
		json_string(j, "arena", arena);
	}
	if (fd->loc.kind == LA_LOC_SIZE_CLASS ||
	    fd->loc.kind == LA_LOC_ARENA_SIZE_CLASS) {
		json_u64(j, "chunk_size_min", fd->loc.chunk_size_min);
		json_u64(j, "chunk_size_max", fd->loc.chunk_size_max);
	}
	json_string(j, "verdict", verdict_names[fd->verdict]);
	json_bool(j, "new", fd->is_new);
	json_u64(j, "in_use_bytes", fd->in_use_bytes);
	json_u64(j, "free_bytes", fd->free_bytes);
	json_u64(j, "base_bytes", fd->base_bytes);
	json_u64(j, "growth_bytes", fd->growth_bytes);
	json_double(j, "growth_bytes_per_hour", fd->bytes_per_hour);
	evidence_json(j, fd, last);
	streak_json(j, fd);
	if (fd->stopped_growing_samples)
		json_u64(j, "stopped_growing_samples",
			 fd->stopped_growing_samples);
	if (lt)
		types_json(j, lt);
	if (lc && lc->n)
		callers_json(j, lc);
	json_end_object(j);
}

static void
totals_json(struct json *j, const struct la_snapshot *snap)
{
	struct la_totals t;
	struct la_snapshot_info si;
	struct la_mallinfo mi;

	la_snapshot_totals(snap, &t, sizeof(t));
	la_snapshot_info(snap, &si, sizeof(si));
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	json_object(j, "totals");
	json_u64(j, "in_use_bytes", t.counts.in_use_bytes);
	json_u64(j, "in_use_chunks", t.counts.in_use_chunks);
	json_u64(j, "free_bytes", t.free_bytes);
	json_u64(j, "mmapped_bytes", t.counts.mmapped_bytes);
	json_u64(j, "system_bytes", t.system_bytes);
	json_u64(j, "arenas", t.arenas);
	json_u64(j, "threads", t.threads);
	json_u64(j, "rss_bytes", si.rss_bytes);
	json_u64(j, "hwm_bytes", si.hwm_bytes);
	json_bool(j, "consistent", si.consistent);
	if (!si.consistent)
		json_string(j, "inconsistency", si.inconsistency);
	json_double(j, "pause_ms", (double)si.pause_ns / 1e6);
	json_i64(j, "time_unix_ms", si.time_unix_ns / 1000000);
	json_object(j, "mallinfo");
	json_u64(j, "arena", mi.arena);
	json_u64(j, "ordblks", mi.ordblks);
	json_u64(j, "smblks", mi.smblks);
	json_u64(j, "hblks", mi.hblks);
	json_u64(j, "hblkhd", mi.hblkhd);
	json_u64(j, "usmblks", mi.usmblks);
	json_u64(j, "fsmblks", mi.fsmblks);
	json_u64(j, "uordblks", mi.uordblks);
	json_u64(j, "fordblks", mi.fordblks);
	json_u64(j, "keepcost", mi.keepcost);
	json_end_object(j);
	json_end_object(j);
}

void
report_check_json(FILE *f, const struct check_doc *d)
{
	struct la_tracker_info ti;
	struct la_finding fd;
	struct json j;
	unsigned n = la_tracker_finding_count(d->tracker);
	static const struct {
		const char *key;
		enum la_verdict v;
	} lists[] = {{"leaks", LA_VERDICT_LEAK},
		     {"retention", LA_VERDICT_RETENTION},
		     {"growing", LA_VERDICT_GROWING},
		     {"plateau", LA_VERDICT_PLATEAU}};
	unsigned needed = report_samples_needed(d);

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	json_begin(&j, f);
	json_object(&j, NULL);
	json_string(&j, "schema", "leakattach.check/1");
	json_string(&j, "command", d->command);
	json_u64(&j, "pid", (uint64_t)d->pid);
	json_string(&j, "comm", d->comm);
	/*
	 * as the exit status: a leak now, or one reported in this run that
	 * has not become a plateau since; undecided while the rule has too
	 * few exact samples to say "no leak"
	 */
	json_string(&j, "verdict",
		    report_is_leak(d) ? "leak"
		    : needed	      ? "undecided"
				      : "no_leak");
	json_u64(&j, "samples_needed", needed);
	json_u64(&j, "samples", ti.samples);
	json_u64(&j, "locations", ti.locations);
	json_u64(&j, "samples_this_run", d->samples_this_run);
	json_u64(&j, "approximate_samples", ti.approximate);
	json_bool(&j, "last_sample_consistent", !ti.last_approximate);
	json_i64(&j, "first_sample_unix_ms", ti.first_time_unix_ns / 1000000);
	json_i64(&j, "last_sample_unix_ms", ti.last_time_unix_ns / 1000000);
	json_object(&j, "rules");
	json_string(&j, "rule", rule_name(d->rules));
	json_double(&j, "threshold_percent", d->rules->threshold_pct);
	json_u64(&j, "consecutive", d->rules->consecutive);
	json_u64(&j, "min_size_bytes", d->rules->min_size);
	json_double(&j, "noise_factor", d->rules->noise_k);
	json_double_g(&j, "trend_alpha", d->rules->trend_alpha);
	json_end_object(&j);
	if (d->exact_this_run >= 2) {
		json_object(&j, "heap_growth");
		json_i64(&j, "bytes",
			 (int64_t)(d->heap_last_in_use - d->heap_first_in_use));
		json_double(&j, "percent", report_heap_growth_pct(d));
		json_u64(&j, "samples", d->exact_this_run);
		json_end_object(&j);
	}
	for (unsigned l = 0; l < 4; l++) {
		json_array(&j, lists[l].key);
		for (unsigned i = 0; i < n; i++)
			if (!la_tracker_finding(d->tracker, i, &fd,
						sizeof(fd)) &&
			    fd.verdict == lists[l].v)
				finding_json(
					&j, &fd, report_types_of(d, &fd.loc),
					report_callers_of(d, &fd.loc), d->last);
		/*
		 * then the main types and callers of each leak, as leaks of
		 * their own
		 */
		for (unsigned i = 0; lists[l].v == LA_VERDICT_LEAK && i < n;
		     i++)
			if (!la_tracker_finding(d->tracker, i, &fd,
						sizeof(fd)) &&
			    fd.verdict == LA_VERDICT_LEAK) {
				type_entries_json(&j, &fd,
						  report_types_of(d, &fd.loc));
				caller_entries_json(
					&j, &fd, report_callers_of(d, &fd.loc));
			}
		json_end_array(&j);
	}
	json_array(&j, "leaks_this_run");
	for (unsigned i = 0; i < d->n_seen; i++)
		finding_json(&j, &d->seen[i], NULL, NULL, d->last);
	json_end_array(&j);
	if (d->last) {
		totals_json(&j, d->last);
		/* the census of the latest sample, as in a snapshot */
		report_memory_json(&j, d->last);
		report_python_json(&j, d->last);
	}
	json_u64(&j, "trims", d->trims);
	if (d->callers_run &&
	    (d->callers_run->windows || d->callers_run->skipped ||
	     d->callers_run->error[0])) {
		json_object(&j, "callers_sampling");
		json_string(&j, "backend", d->callers_run->backend);
		json_u64(&j, "windows", d->callers_run->windows);
		json_u64(&j, "allocations", d->callers_run->allocations);
		json_u64(&j, "lost", d->callers_run->lost);
		json_double(&j, "window_ms", d->callers_run->window_ms);
		json_double(&j, "teardown_ms", d->callers_run->teardown_ms);
		json_double(&j, "release_ms", d->callers_run->release_ms);
		json_u64(&j, "windows_skipped", d->callers_run->skipped);
		if (d->callers_run->error[0])
			json_string(&j, "error", d->callers_run->error);
		json_end_object(&j);
	}
	if (d->log_dir)
		json_string(&j, "log_dir", d->log_dir);
	if (d->state_dir)
		json_string(&j, "state_dir", d->state_dir);
	json_end_object(&j);
	json_finish(&j);
}

/*
 * The census in a history line, compactly: the resident bytes in all, in
 * malloc, and of each kind outside malloc that is measured (as in the
 * snapshot's outside_malloc). Nothing when smaps could not be read, so
 * that no 0 passes for a measurement; lines of older versions have none
 * either, and readers take its absence as "not known".
 */
static void
history_memory(struct json *j, const struct la_snapshot *snap)
{
	struct la_memory m;
	struct la_outside o;

	la_snapshot_memory(snap, &m, sizeof(m));
	if (!m.measured)
		return;
	json_object(j, "memory");
	json_u64(j, "rss_bytes", m.rss_bytes);
	json_u64(j, "malloc_rss_bytes", m.malloc_rss_bytes);
	json_object(j, "outside");
	for (unsigned k = 0; outside_next(snap, &k, &o); k++) {
		json_u64(j, la_outside_kind_name((enum la_outside_kind)k),
			 o.rss_bytes);
	}
	json_end_object(j);
	json_end_object(j);
}

/*
 * The Python heap in a history line, when the sample found a CPython:
 * pymalloc's bytes in use and the objects named (when they were).
 */
static void
history_python(struct json *j, const struct la_snapshot *snap)
{
	struct la_python py;

	la_snapshot_python(snap, &py, sizeof(py));
	if (!py.found)
		return;
	json_object(j, "python");
	json_u64(j, "in_use_bytes", py.in_use_bytes);
	if (py.types_available)
		json_u64(j, "objects", py.objects);
	json_bool(j, "consistent", py.consistent);
	json_end_object(j);
}

/*
 * The locations of a history line: the findings (shown ones: a leak at
 * its most specific location), leaks first, then the size classes with
 * the most bytes in use, HISTORY_LOCATIONS at most, so that a chart (the
 * HTML report, the sparklines) can follow each over time.
 */
#define HISTORY_LOCATIONS 16
#define HISTORY_TOP_CLASSES 4

static const char *const state_names[] = {
	[LA_VERDICT_GROWING] = "growing",
	[LA_VERDICT_LEAK] = "leak",
	[LA_VERDICT_RETENTION] = "retention",
	[LA_VERDICT_PLATEAU] = "plateau",
};

static void
history_location(struct json *j, const struct la_location *loc,
		 const char *state, uint64_t in_use, uint64_t free_b,
		 const struct la_finding *fd)
{
	char label[160];

	json_object(j, NULL);
	json_string(j, "key", loc->key);
	json_string(j, "kind", location_kind_name(loc->kind));
	json_string(j, "label", location_text(loc, label, sizeof(label)));
	json_string(j, "state", state);
	json_u64(j, "in_use_bytes", in_use);
	json_u64(j, "free_bytes", free_b);
	if (fd) {
		json_u64(j, "consecutive", fd->consecutive);
		json_i64(j, "since_unix_ms", fd->base_time_unix_ns / 1000000);
		if (fd->verdict == LA_VERDICT_LEAK)
			json_string(j, "evidence",
				    fd->evidence == LA_EVIDENCE_TREND
					    ? "trend"
					    : "consecutive");
		if (fd->samples)
			json_double(j, "slope_bytes_per_hour",
				    fd->slope_bytes_per_hour);
	}
	json_end_object(j);
}

static int
by_in_use_desc(const void *a, const void *b)
{
	const struct la_size_class *x = a, *y = b;

	return x->counts.in_use_bytes < y->counts.in_use_bytes	 ? 1
	       : x->counts.in_use_bytes > y->counts.in_use_bytes ? -1
								 : 0;
}

static void
history_locations(struct json *j, const struct check_doc *d)
{
	static const enum la_verdict order[] = {
		LA_VERDICT_LEAK, LA_VERDICT_RETENTION, LA_VERDICT_GROWING,
		LA_VERDICT_PLATEAU};
	unsigned n = la_tracker_finding_count(d->tracker), shown = 0;
	unsigned nc = la_snapshot_size_class_count(d->last);
	char keys[HISTORY_LOCATIONS][80];
	struct la_size_class *sc;
	struct la_finding fd;

	json_array(j, "locations");
	for (unsigned v = 0; v < 4; v++)
		for (unsigned i = 0; i < n && shown < HISTORY_LOCATIONS; i++) {
			if (la_tracker_finding(d->tracker, i, &fd,
					       sizeof(fd)) ||
			    fd.verdict != order[v] ||
			    !report_finding_shown(d->tracker, i))
				continue;
			history_location(j, &fd.loc, state_names[fd.verdict],
					 fd.in_use_bytes, fd.free_bytes, &fd);
			snprintf(keys[shown++], sizeof(keys[0]), "%s",
				 fd.loc.key);
		}
	sc = nc ? calloc(nc, sizeof(*sc)) : NULL;
	for (unsigned i = 0; sc && i < nc; i++)
		la_snapshot_size_class(d->last, i, &sc[i], sizeof(sc[i]));
	if (sc)
		qsort(sc, nc, sizeof(*sc), by_in_use_desc);
	for (unsigned i = 0, top = 0;
	     sc && i < nc && top < HISTORY_TOP_CLASSES &&
	     shown < HISTORY_LOCATIONS;
	     i++) {
		struct la_location loc = {.kind = LA_LOC_SIZE_CLASS};
		const struct la_counts *c = &sc[i].counts;
		unsigned k;

		if (!c->in_use_bytes)
			break;
		top++;
		loc.chunk_size_min = sc[i].chunk_size_min;
		loc.chunk_size_max = sc[i].chunk_size_max;
		snprintf(loc.key, sizeof(loc.key), "size:%" PRIu64 "-%" PRIu64,
			 loc.chunk_size_min, loc.chunk_size_max);
		for (k = 0; k < shown && strcmp(keys[k], loc.key); k++)
			;
		if (k < shown)
			continue;
		history_location(j, &loc, "none", c->in_use_bytes,
				 c->tcache_bytes + c->fastbin_bytes +
					 c->bin_bytes,
				 NULL);
		snprintf(keys[shown++], sizeof(keys[0]), "%s", loc.key);
	}
	free(sc);
	json_end_array(j);
}

void
report_history_line(FILE *f, const struct check_doc *d)
{
	struct la_tracker_info ti;
	struct la_snapshot_info si;
	struct la_totals t;
	struct json j;

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	la_snapshot_info(d->last, &si, sizeof(si));
	la_snapshot_totals(d->last, &t, sizeof(t));
	json_begin(&j, f);
	json_object(&j, NULL);
	json_i64(&j, "time_unix_ms", si.time_unix_ns / 1000000);
	json_string(&j, "command", d->command);
	json_u64(&j, "sample", ti.samples);
	json_bool(&j, "consistent", si.consistent);
	if (!si.consistent)
		json_string(&j, "inconsistency", si.inconsistency);
	json_u64(&j, "in_use_bytes", t.counts.in_use_bytes);
	json_u64(&j, "free_bytes", t.free_bytes);
	json_u64(&j, "system_bytes", t.system_bytes);
	json_u64(&j, "mmapped_bytes", t.counts.mmapped_bytes);
	json_u64(&j, "rss_bytes", si.rss_bytes);
	json_u64(&j, "arenas", t.arenas);
	json_u64(&j, "threads", t.threads);
	json_double(&j, "pause_ms", (double)si.pause_ns / 1e6);
	json_u64(&j, "leaks", ti.leaks);
	json_u64(&j, "retention", ti.retention);
	json_u64(&j, "growing", ti.growing);
	if (d->comm && d->comm[0])
		json_string(&j, "comm", d->comm);
	history_locations(&j, d);
	history_memory(&j, d->last);
	history_python(&j, d->last);
	json_end_object(&j);
	/* no json_finish(): the store ends the line */
	fflush(f);
}
