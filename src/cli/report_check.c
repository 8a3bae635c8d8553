/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_check.c - what monitor, check and simulate tell people and
 * machines: a line per new leak or retention, the summary with what to do
 * next, the leakattach.check/1 JSON document (doc/leakattach.1 documents
 * it field by field; fields are only ever added within a version) and the
 * history line kept per sample. The verdicts themselves come from the
 * library's tracker, the types of a leak from la_types_of(), its callers
 * from la_callers_check() as the sampler shared the growth out; nothing
 * here decides anything, except which named types and callers get an
 * entry of their own.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report.h"

static const char *
arena_text(const struct la_location *loc, char *buf, size_t len)
{
	if (loc->arena_is_main)
		snprintf(buf, len, "the main arena");
	else
		snprintf(buf, len, "arena %#" PRIx64, loc->arena_addr);
	return buf;
}

const char *
location_text(const struct la_location *loc, char *buf, size_t len)
{
	char arena[64];

	switch (loc->kind) {
	case LA_LOC_HEAP:
		snprintf(buf, len, "the whole heap");
		break;
	case LA_LOC_ARENA:
		snprintf(buf, len, "%s", arena_text(loc, arena, sizeof(arena)));
		break;
	case LA_LOC_SIZE_CLASS:
		snprintf(buf, len, "chunks of %" PRIu64 "-%" PRIu64 " bytes",
			 loc->chunk_size_min, loc->chunk_size_max);
		break;
	case LA_LOC_ARENA_SIZE_CLASS:
		snprintf(buf, len,
			 "chunks of %" PRIu64 "-%" PRIu64 " bytes in %s",
			 loc->chunk_size_min, loc->chunk_size_max,
			 arena_text(loc, arena, sizeof(arena)));
		break;
	}
	return buf;
}

static const char *const kind_names[] = {
	[LA_LOC_HEAP] = "heap",
	[LA_LOC_ARENA] = "arena",
	[LA_LOC_SIZE_CLASS] = "size_class",
	[LA_LOC_ARENA_SIZE_CLASS] = "arena_size_class",
};

static const char *const verdict_names[] = {
	[LA_VERDICT_GROWING] = "growing",
	[LA_VERDICT_LEAK] = "leak",
	[LA_VERDICT_RETENTION] = "retention",
};

static int
same_arena(const struct la_location *a, const struct la_location *b)
{
	return a->arena_is_main == b->arena_is_main &&
	       (a->arena_is_main || a->arena_addr == b->arena_addr);
}

/* Does location b lie inside location a (and is more specific)? */
static int
covers(const struct la_location *a, const struct la_location *b)
{
	switch (a->kind) {
	case LA_LOC_HEAP:
		return b->kind != LA_LOC_HEAP;
	case LA_LOC_ARENA:
		return b->kind == LA_LOC_ARENA_SIZE_CLASS && same_arena(a, b);
	case LA_LOC_SIZE_CLASS:
		return b->kind == LA_LOC_ARENA_SIZE_CLASS &&
		       a->chunk_size_min == b->chunk_size_min &&
		       a->chunk_size_max == b->chunk_size_max;
	default:
		return 0;
	}
}

int
report_finding_shown(const struct la_tracker *t, unsigned i)
{
	struct la_finding a, b;
	unsigned n = la_tracker_finding_count(t);

	if (la_tracker_finding(t, i, &a, sizeof(a)))
		return 0;
	for (unsigned j = 0; j < n; j++) {
		if (j == i || la_tracker_finding(t, j, &b, sizeof(b)))
			continue;
		if (b.verdict == a.verdict && covers(&a.loc, &b.loc))
			return 0;
	}
	return 1;
}

/* The same for the leaks seen during a run. */
static int
seen_shown(const struct check_doc *d, unsigned i)
{
	for (unsigned j = 0; j < d->n_seen; j++)
		if (j != i && covers(&d->seen[i].loc, &d->seen[j].loc))
			return 0;
	return 1;
}

/* Is the location a leak in the tracker now? */
static int
leak_now(const struct la_tracker *t, const struct la_location *loc)
{
	unsigned n = la_tracker_finding_count(t);
	struct la_finding fd;

	for (unsigned i = 0; i < n; i++)
		if (!la_tracker_finding(t, i, &fd, sizeof(fd)) &&
		    fd.verdict == LA_VERDICT_LEAK &&
		    !strcmp(fd.loc.key, loc->key))
			return 1;
	return 0;
}

/*
 * What a program asked malloc for, given the chunk sizes: a chunk holds
 * the request plus an 8-byte size field, rounded up to 16 bytes, at least
 * 32 (glibc x86_64); mmapped chunks are rounded to pages.
 */
static void
request_range(const struct la_location *loc, char *buf, size_t len)
{
	uint64_t lo = loc->chunk_size_min, hi = loc->chunk_size_max;

	if (hi <= 1024)
		snprintf(buf, len,
			 "malloc() requests of %" PRIu64 "-%" PRIu64 " bytes",
			 lo > 32 ? lo - 23 : 0, hi - 8);
	else
		snprintf(buf, len,
			 "malloc() requests of about %" PRIu64 "-%" PRIu64
			 " bytes",
			 lo > 4096 ? lo - 4096 : lo - 23, hi - 8);
}

const struct loc_types *
report_types_of(const struct check_doc *d, const struct la_location *loc)
{
	for (unsigned i = 0; i < d->n_types; i++)
		if (!strcmp(d->types[i].loc.key, loc->key))
			return &d->types[i];
	return NULL;
}

static double
share(const struct loc_types *lt, const struct la_type_count *t)
{
	return lt->sampled ? 100.0 * t->chunks / lt->sampled : 0;
}

const char *
types_line(const struct loc_types *lt, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < lt->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s %.0f %%",
				 i ? ", " : "", lt->t[i].name,
				 share(lt, &lt->t[i]));

		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

static unsigned
named_types(const struct loc_types *lt)
{
	unsigned n = 0;

	for (unsigned i = 0; i < lt->n; i++)
		n += lt->t[i].source != LA_TYPE_UNKNOWN;
	return n;
}

/* The types block of a leak in the text report. */
static void
types_block(FILE *f, const struct loc_types *lt)
{
	char b1[32];

	if (!lt->sampled)
		return;
	if (!named_types(lt)) {
		fprintf(f,
			"    types: no type recognised in %u sampled chunks (plain data: the first word is not a pointer to a vtable or a named object)\n",
			lt->sampled);
		return;
	}
	fprintf(f,
		"    types, estimated from a sample of %u of its %" PRIu64
		" chunks in use (first words read after the snapshot):\n",
		lt->sampled, lt->population);
	for (unsigned i = 0; i < lt->n; i++) {
		const struct la_type_count *t = &lt->t[i];

		if (t->source == LA_TYPE_UNKNOWN) {
			fprintf(f,
				"      %-32s %3.0f %%  (plain data or not named)\n",
				"unknown", share(lt, t));
			continue;
		}
		fprintf(f,
			"      %-32s %3.0f %%  ~%s in ~%" PRIu64
			" chunks  (%s in %s)\n",
			t->name, share(lt, t),
			human_bytes(t->est_bytes, b1, sizeof(b1)),
			t->est_chunks,
			t->source == LA_TYPE_VTABLE ? "C++ vtable"
						    : "named object",
			t->module[0] ? t->module : "?");
	}
}

const struct loc_callers *
report_callers_of(const struct check_doc *d, const struct la_location *loc)
{
	for (unsigned i = 0; i < d->n_callers; i++)
		if (!strcmp(d->callers[i].loc.key, loc->key))
			return &d->callers[i];
	return NULL;
}

static const char *
base_name(const char *path)
{
	const char *p = strrchr(path, '/');

	return p ? p + 1 : path;
}

const char *
frame_text(const struct la_frame *fr, char *buf, size_t len)
{
	const char *fn = fr->function[0] ? fr->function : "??";

	if (fr->file[0])
		snprintf(buf, len, "%s (%s:%u)", fn, base_name(fr->file),
			 fr->line);
	else if (fr->module[0])
		snprintf(buf, len, "%s (%s+%#" PRIx64 ")", fn,
			 base_name(fr->module), fr->module_offset);
	else
		snprintf(buf, len, "%s (%#" PRIx64 ")", fn, fr->pc);
	return buf;
}

/* Frames shown per caller in the text report. */
#define TEXT_FRAMES 6

/* The callers block of a growing size class in the text report. */
static void
callers_block(FILE *f, const struct loc_callers *lc)
{
	char b1[32], fr[600];

	fprintf(f,
		"    callers (sampled with %s: %" PRIu64
		" allocations in %.0f ms, teardown %.0f ms; %.0f %% of the chunks freed in the window were in use again; estimates):\n",
		lc->info.backend, lc->info.allocations,
		(double)lc->info.window_ns / 1e6,
		(double)lc->info.teardown_ns / 1e6,
		100.0 * lc->info.reuse_rate);
	for (unsigned i = 0; i < lc->n; i++) {
		const struct loc_caller *c = &lc->c[i];

		fprintf(f,
			"      #%u  ~%s since the window (%.0f %%): %u of %u sampled chunks still in use (%.1f by chance)\n",
			i + 1, human_bytes(c->est_bytes, b1, sizeof(b1)),
			100.0 * c->share, c->class_surviving_chunks,
			c->class_kept_chunks, c->class_chance);
		for (unsigned k = 0; k < c->c.n_frames && k < TEXT_FRAMES; k++)
			fprintf(f, "          %s\n",
				frame_text(&c->c.frames[k], fr, sizeof(fr)));
		if (c->c.n_frames > TEXT_FRAMES)
			fprintf(f, "          ... %u more\n",
				c->c.n_frames - TEXT_FRAMES);
	}
}

static void
growth_list(FILE *f, const struct la_finding *fd)
{
	for (unsigned k = 0; k < fd->n_growth; k++)
		fprintf(f, "%s+%.1f %%", k ? ", " : "", fd->growth_percent[k]);
}

void
report_finding_line(FILE *f, const struct la_finding *fd, pid_t pid)
{
	char where[160], now[32], grew[32], rate[32];

	location_text(&fd->loc, where, sizeof(where));
	human_bytes(fd->growth_bytes, grew, sizeof(grew));
	human_bytes((uint64_t)fd->bytes_per_hour, rate, sizeof(rate));
	if (fd->verdict == LA_VERDICT_RETENTION) {
		fprintf(f,
			"RETENTION %s: %s free (+%s in %u samples, %s/h) while the bytes in use stayed flat; `leakattach trim -p %d` can return it\n",
			where, human_bytes(fd->free_bytes, now, sizeof(now)),
			grew, fd->consecutive, rate, (int)pid);
		return;
	}
	fprintf(f, "%s %s: %s in use, +%s in %u samples (%s/h): ",
		fd->verdict == LA_VERDICT_LEAK ? "LEAK" : "GROWING", where,
		human_bytes(fd->in_use_bytes, now, sizeof(now)), grew,
		fd->consecutive, rate);
	growth_list(f, fd);
	fputc('\n', f);
}

static void
finding_block(FILE *f, const struct la_finding *fd, pid_t pid,
	      const struct loc_types *lt, const struct loc_callers *lc)
{
	char where[160], b1[32], b2[32], b3[32], req[96];
	double per_sample = fd->consecutive
				    ? (double)fd->growth_bytes / fd->consecutive
				    : 0;

	location_text(&fd->loc, where, sizeof(where));
	fprintf(f, "  %s\n", where);
	if (fd->verdict == LA_VERDICT_RETENTION) {
		fprintf(f,
			"    %s free now; free bytes grew %s in %u samples in a row (%s per hour) while the bytes in use did not\n",
			human_bytes(fd->free_bytes, b1, sizeof(b1)),
			human_bytes(fd->growth_bytes, b2, sizeof(b2)),
			fd->consecutive,
			human_bytes((uint64_t)fd->bytes_per_hour, b3,
				    sizeof(b3)));
		fprintf(f,
			"    next: this is memory glibc keeps, not a leak; `leakattach trim -p %d` (or monitor --auto-cleanup) gives it back to the system\n",
			(int)pid);
		return;
	}
	fprintf(f,
		"    %s in use now; grew %s in %u samples in a row (%s per sample, %s per hour)\n",
		human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
		human_bytes(fd->growth_bytes, b2, sizeof(b2)), fd->consecutive,
		human_bytes((uint64_t)per_sample, b3, sizeof(b3)),
		human_bytes((uint64_t)fd->bytes_per_hour, req, sizeof(req)));
	fprintf(f, "    growth per sample: ");
	growth_list(f, fd);
	fputc('\n', f);
	if (lt)
		types_block(f, lt);
	if (lc && lc->n)
		callers_block(f, lc);
	if (fd->loc.kind == LA_LOC_SIZE_CLASS ||
	    fd->loc.kind == LA_LOC_ARENA_SIZE_CLASS) {
		request_range(&fd->loc, req, sizeof(req));
		fprintf(f,
			"    next: look for %s that are never freed%s; trim cannot return memory that is in use\n",
			req,
			fd->loc.kind == LA_LOC_ARENA_SIZE_CLASS &&
					!fd->loc.arena_is_main
				? ", made by a thread that uses this arena"
				: "");
	} else {
		fprintf(f,
			"    next: the growth is spread over many sizes; look for data structures that only grow; trim cannot return memory that is in use\n");
	}
}

void
report_check_text(FILE *f, const struct check_doc *d)
{
	struct la_tracker_info ti;
	struct la_finding fd;
	unsigned n = la_tracker_finding_count(d->tracker);
	char b1[32], b2[32], b3[32], b4[32], span[32];
	unsigned shown[3] = {0, 0, 0};
	static const enum la_verdict order[] = {
		LA_VERDICT_LEAK, LA_VERDICT_RETENTION, LA_VERDICT_GROWING};

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	human_duration((double)(ti.last_time_unix_ns - ti.first_time_unix_ns) /
			       1e9,
		       span, sizeof(span));
	fprintf(f, "leakattach %s: process %d (%s): %u sample%s over %s",
		d->command, (int)d->pid, d->comm, ti.samples,
		ti.samples == 1 ? "" : "s", span);
	if (ti.samples != d->samples_this_run)
		fprintf(f, " (%u in this run, the others from earlier runs)",
			d->samples_this_run);
	fputc('\n', f);
	if (ti.approximate)
		fprintf(f,
			"  %u sample%s approximate (the heap was busy): not used as evidence\n",
			ti.approximate,
			ti.approximate == 1 ? " was" : "s were");
	if (d->last) {
		struct la_totals t;
		struct la_snapshot_info si;

		la_snapshot_totals(d->last, &t, sizeof(t));
		la_snapshot_info(d->last, &si, sizeof(si));
		fprintf(f,
			"  heap now: %s in use, %s free, %s held from the system; RSS %s\n",
			human_bytes(t.counts.in_use_bytes, b1, sizeof(b1)),
			human_bytes(t.free_bytes, b2, sizeof(b2)),
			human_bytes(t.system_bytes, b3, sizeof(b3)),
			human_bytes(si.rss_bytes, b4, sizeof(b4)));
	}
	if (d->trims)
		fprintf(f,
			"  malloc_trim(0) was called %u time%s (--auto-cleanup)\n",
			d->trims, d->trims == 1 ? "" : "s");
	for (unsigned v = 0; v < 3; v++) {
		for (unsigned i = 0; i < n; i++) {
			if (la_tracker_finding(d->tracker, i, &fd,
					       sizeof(fd)) ||
			    fd.verdict != order[v] ||
			    !report_finding_shown(d->tracker, i))
				continue;
			if (!shown[v]++)
				fprintf(f, "\n%s\n",
					order[v] == LA_VERDICT_LEAK
						? "LEAK: in use and growing in every sample"
					: order[v] == LA_VERDICT_RETENTION
						? "RETENTION: free memory glibc keeps, growing"
						: "GROWING, not (yet) a leak:");
			if (order[v] == LA_VERDICT_GROWING) {
				char where[160];

				if (shown[v] > 5)
					continue;
				fprintf(f,
					"  %s: %s in use, %u growth%s in a row\n",
					location_text(&fd.loc, where,
						      sizeof(where)),
					human_bytes(fd.in_use_bytes, b1,
						    sizeof(b1)),
					fd.consecutive,
					fd.consecutive == 1 ? "" : "s");
				continue;
			}
			finding_block(f, &fd, d->pid,
				      report_types_of(d, &fd.loc),
				      report_callers_of(d, &fd.loc));
		}
	}
	for (unsigned i = 0, past = 0; i < d->n_seen; i++) {
		if (leak_now(d->tracker, &d->seen[i].loc) || !seen_shown(d, i))
			continue;
		if (!past++)
			fprintf(f,
				"\nLEAK reported during this run, no longer growing at the last sample:\n");
		finding_block(f, &d->seen[i], d->pid, NULL, NULL);
		shown[0]++;
	}
	if (!shown[0]) {
		fprintf(f, "\nNo leak: ");
		if (ti.samples <= d->rules->consecutive)
			fprintf(f,
				"%u sample%s so far; a leak needs %u growths in a row, so %u samples at least%s\n",
				ti.samples, ti.samples == 1 ? "" : "s",
				d->rules->consecutive,
				d->rules->consecutive + 1,
				strcmp(d->command, "check")
					? ""
					: " (run check again: it continues this history)");
		else
			fprintf(f,
				"no location grew by more than %.1f %% in %u samples in a row while holding %s or more\n",
				d->rules->threshold_pct, d->rules->consecutive,
				human_bytes(d->rules->min_size, b1,
					    sizeof(b1)));
	}
	if (d->callers_run && d->callers_run->error[0])
		fprintf(f, "\ncallers: not sampled: %s\n",
			d->callers_run->error);
	else if (d->callers_run && d->callers_run->windows) {
		char ours[64] = "";

		/* the probes kept across windows are released at the end */
		if (d->callers_run->release_ms >= 0.5)
			snprintf(ours, sizeof(ours), " (then %.0f ms of ours)",
				 d->callers_run->release_ms);
		fprintf(f,
			"\ncallers: %u sampling window%s with %s, %" PRIu64
			" allocations recorded (%" PRIu64
			" lost), %.0f ms sampling, %.0f ms removing the probes from the target%s\n",
			d->callers_run->windows,
			d->callers_run->windows == 1 ? "" : "s",
			!strcmp(d->callers_run->backend, "int3")
				? "int3 breakpoints"
				: "uprobes",
			d->callers_run->allocations, d->callers_run->lost,
			d->callers_run->window_ms, d->callers_run->teardown_ms,
			ours);
	}
	if (d->callers_run && d->callers_run->skipped)
		fprintf(f,
			"callers: %u window%s skipped: not enough time before the next sample (a longer --interval makes room)\n",
			d->callers_run->skipped,
			d->callers_run->skipped == 1 ? "" : "s");
	if (d->state_dir)
		fprintf(f, "\nHistory and reports: %s\n", d->log_dir);
}

static const char *const source_names[] = {
	[LA_TYPE_UNKNOWN] = "unknown",
	[LA_TYPE_VTABLE] = "vtable",
	[LA_TYPE_OBJECT] = "object",
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
		    share(lt, &lt->t[i]) < TYPE_SHARE_MIN)
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
		snprintf(key, sizeof(key), "caller:%s@%s",
			 c->c.n_frames && c->c.frames[0].function[0]
				 ? c->c.frames[0].function
				 : "??",
			 fd->loc.key);
		json_object(j, NULL);
		caller_fields(j, c);
		json_string(j, "location", key);
		estimated_json(j, fd, c->share,
			       (uint64_t)(c->share * fd->in_use_bytes));
		json_end_object(j);
	}
}

static void
finding_json(struct json *j, const struct la_finding *fd,
	     const struct loc_types *lt, const struct loc_callers *lc)
{
	char arena[32];

	json_object(j, NULL);
	json_string(j, "kind", kind_names[fd->loc.kind]);
	json_string(j, "location", fd->loc.key);
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
	streak_json(j, fd);
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
		     {"growing", LA_VERDICT_GROWING}};

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	json_begin(&j, f);
	json_object(&j, NULL);
	json_string(&j, "schema", "leakattach.check/1");
	json_string(&j, "command", d->command);
	json_u64(&j, "pid", (uint64_t)d->pid);
	json_string(&j, "comm", d->comm);
	/* as the exit status: a leak now, or one reported in this run */
	json_string(&j, "verdict", ti.leaks || d->n_seen ? "leak" : "no_leak");
	json_u64(&j, "samples", ti.samples);
	json_u64(&j, "samples_this_run", d->samples_this_run);
	json_u64(&j, "approximate_samples", ti.approximate);
	json_bool(&j, "last_sample_consistent", !ti.last_approximate);
	json_i64(&j, "first_sample_unix_ms", ti.first_time_unix_ns / 1000000);
	json_i64(&j, "last_sample_unix_ms", ti.last_time_unix_ns / 1000000);
	json_object(&j, "rules");
	json_double(&j, "threshold_percent", d->rules->threshold_pct);
	json_u64(&j, "consecutive", d->rules->consecutive);
	json_u64(&j, "min_size_bytes", d->rules->min_size);
	json_end_object(&j);
	for (unsigned l = 0; l < 3; l++) {
		json_array(&j, lists[l].key);
		for (unsigned i = 0; i < n; i++)
			if (!la_tracker_finding(d->tracker, i, &fd,
						sizeof(fd)) &&
			    fd.verdict == lists[l].v)
				finding_json(&j, &fd,
					     report_types_of(d, &fd.loc),
					     report_callers_of(d, &fd.loc));
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
		finding_json(&j, &d->seen[i], NULL, NULL);
	json_end_array(&j);
	if (d->last)
		totals_json(&j, d->last);
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
	json_end_object(&j);
	/* no json_finish(): the store ends the line */
	fflush(f);
}
