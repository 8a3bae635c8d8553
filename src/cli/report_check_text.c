/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_check_text.c - monitor, check and simulate for people: the
 * location of a finding in words, which findings are shown (a leak once,
 * at its most specific location), a line per new leak or retention, and
 * the summary with its types, callers and what to do next
 * (report_check.c says what the reports share).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "callers_words.h"
#include "report.h"

/* What to do about a leak that stopped growing. */
static const char plateau_next[] =
	"a cache or pool that filled up, or a warm-up; it does not make the exit status 1; it is a leak again if it grows again";

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
	case LA_LOC_OUTSIDE:
		snprintf(buf, len, "%s",
			 outside_text((enum la_outside_kind)loc->outside_kind));
		break;
	case LA_LOC_PYTHON_TYPE: /* "python:NAME" */
		snprintf(buf, len, "python type %s", python_type_of(loc));
		break;
	}
	return buf;
}

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
	case LA_LOC_HEAP: /* memory outside malloc is not in the heap, nor
			   * are Python objects (mostly pymalloc's) */
		return b->kind != LA_LOC_HEAP && b->kind != LA_LOC_OUTSIDE &&
		       b->kind != LA_LOC_PYTHON_TYPE;
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

/* Is the location a plateau in the tracker now? */
static int
plateau_now(const struct la_tracker *t, const struct la_location *loc)
{
	unsigned n = la_tracker_finding_count(t);
	struct la_finding fd;

	for (unsigned i = 0; i < n; i++)
		if (!la_tracker_finding(t, i, &fd, sizeof(fd)) &&
		    fd.verdict == LA_VERDICT_PLATEAU &&
		    !strcmp(fd.loc.key, loc->key))
			return 1;
	return 0;
}

/*
 * The growth of the whole heap between this run's first and latest exact
 * samples, shown when it is at least --min-size or 1 % (what a rule that
 * watches locations one by one can miss): "the heap grew 14.5 MiB
 * (+6.3 %) in 3 samples; no location crossed the rule".
 */
static void
heap_growth_line(FILE *f, const struct check_doc *d)
{
	uint64_t a = d->heap_first_in_use, b = d->heap_last_in_use;
	double pct = report_heap_growth_pct(d);
	char b1[32];

	if (d->exact_this_run < 2 || b <= a ||
	    (b - a < d->rules->min_size && pct < 1.0))
		return;
	fprintf(f, "  the heap grew %s (%+.1f %%) in %u samples%s\n",
		human_bytes(b - a, b1, sizeof(b1)), pct, d->exact_this_run,
		report_is_leak(d) ? "" : "; no location crossed the rule");
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

const char *
types_line(const struct loc_types *lt, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < lt->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s %.0f %%",
				 i ? ", " : "", lt->t[i].name,
				 type_share(lt, &lt->t[i]));

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
				"unknown", type_share(lt, t));
			continue;
		}
		if (t->source == LA_TYPE_PYTHON) {
			fprintf(f,
				"      %-32s %3.0f %%  ~%s in ~%" PRIu64
				" chunks  (Python objects)\n",
				t->name, type_share(lt, t),
				human_bytes(t->est_bytes, b1, sizeof(b1)),
				t->est_chunks);
			continue;
		}
		fprintf(f,
			"      %-32s %3.0f %%  ~%s in ~%" PRIu64
			" chunks  (%s in %s)\n",
			t->name, type_share(lt, t),
			human_bytes(t->est_bytes, b1, sizeof(b1)),
			t->est_chunks,
			t->source == LA_TYPE_VTABLE ? "C++ vtable"
						    : "named object",
			t->module[0] ? t->module : "?");
	}
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
	char b1[32], fr[600], reuse[96];
	/* no free in the window: the chance is the prior, one half */
	int no_frees = callers_reuse_text(&lc->info, reuse, sizeof(reuse));

	fprintf(f,
		"    callers (sampled with %s: %" PRIu64
		" allocations in %.0f ms, teardown %.0f ms; %s; estimates):\n",
		lc->info.backend, lc->info.allocations,
		(double)lc->info.window_ns / 1e6,
		(double)lc->info.teardown_ns / 1e6, reuse);
	for (unsigned i = 0; i < lc->n; i++) {
		const struct loc_caller *c = &lc->c[i];

		fprintf(f,
			"      #%u  ~%s since the window (%.0f %%): %u of %u sampled chunks still in use (%.1f by chance%s)\n",
			i + 1, human_bytes(c->est_bytes, b1, sizeof(b1)),
			100.0 * c->share, c->class_surviving_chunks,
			c->class_kept_chunks, c->class_chance,
			no_frees ? ", assumed: no frees seen" : "");
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

/*
 * "; 24 new mappings of 512 KiB" for a kind outside malloc, since the
 * first sample of the run; "" when unknown or none. The kernel merges
 * neighbouring mappings with the same flags: a region mapped next to
 * another of its kind grows that one and is no new mapping.
 */
static const char *
new_mappings(const struct la_finding *fd, const struct mem_mark *first,
	     const struct la_snapshot *last, char *buf, size_t len)
{
	struct la_outside now;
	const struct la_outside *then;
	char each[32];
	unsigned d;

	buf[0] = '\0';
	if (fd->loc.kind != LA_LOC_OUTSIDE || !first || !first->have || !last ||
	    fd->loc.outside_kind >= LA_OUTSIDE_KIND_COUNT ||
	    la_snapshot_outside(last,
				(enum la_outside_kind)fd->loc.outside_kind,
				&now, sizeof(now)))
		return buf;
	then = &first->o[fd->loc.outside_kind];
	if (now.mappings <= then->mappings ||
	    now.size_bytes <= then->size_bytes)
		return buf;
	d = now.mappings - then->mappings;
	snprintf(buf, len, "; %u new mapping%s of %s%s", d, d == 1 ? "" : "s",
		 (now.size_bytes - then->size_bytes) % d ? "about " : "",
		 human_bytes((now.size_bytes - then->size_bytes) / d, each,
			     sizeof(each)));
	return buf;
}

/* "+40,000", "-12" */
static const char *
signed_count(int64_t v, char *buf, size_t len)
{
	char b[32];

	snprintf(buf, len, "%c%s", v < 0 ? '-' : '+',
		 human_count(v < 0 ? -(uint64_t)v : (uint64_t)v, b, sizeof(b)));
	return buf;
}

/* The objects a Python type gained per hour over the streak. */
static double
objects_per_hour(const struct la_finding *fd)
{
	int64_t ns = fd->time_unix_ns - fd->base_time_unix_ns;

	return ns > 0 ? (double)fd->growth_objects * 3600e9 / (double)ns : 0;
}

/* The objects a Python type gained per sample over the streak, rounded. */
static int64_t
objects_per_sample(const struct la_finding *fd)
{
	double v = fd->consecutive
			   ? (double)fd->growth_objects / fd->consecutive
			   : 0;

	return (int64_t)(v < 0 ? v - 0.5 : v + 0.5);
}

/*
 * "LEAK chunks of 64 bytes by its trend: 47.3 MiB in use, +12.0 MiB/h
 * (95 % CI 8.9 MiB-15.1 MiB) over 40 samples, p 3e-06"
 */
static void
trend_line(FILE *f, const struct la_finding *fd)
{
	char where[160], now[32], rate[32], lo[32], hi[32];

	location_text(&fd->loc, where, sizeof(where));
	fprintf(f,
		"LEAK %s by its trend: %s in use, +%s/h (95 %% CI %s-%s) over %u samples, p %.1g\n",
		where, human_bytes(fd->in_use_bytes, now, sizeof(now)),
		human_bytes((uint64_t)fd->slope_bytes_per_hour, rate,
			    sizeof(rate)),
		human_bytes(fd->slope_ci_lo > 0 ? (uint64_t)fd->slope_ci_lo : 0,
			    lo, sizeof(lo)),
		human_bytes(fd->slope_ci_hi > 0 ? (uint64_t)fd->slope_ci_hi : 0,
			    hi, sizeof(hi)),
		fd->samples, fd->p_value);
}

/*
 * "LEAK python type dict: +40,000 objects (+1.3 MiB) per sample,
 * +96,000,000 objects/h (9.0 GiB/h); 120,000 objects (11.4 MiB) now,
 * +120,000 in 3 samples": the objects first, which is what Python users
 * count (objgraph, gc.get_objects()).
 */
static void
python_finding_line(FILE *f, const struct la_finding *fd)
{
	char where[160], b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32];

	fprintf(f,
		"%s %s: %s objects (+%s) per sample, %s objects/h (%s/h); %s objects (%s) now, %s in %u samples\n",
		fd->verdict == LA_VERDICT_LEAK ? "LEAK" : "GROWING",
		location_text(&fd->loc, where, sizeof(where)),
		signed_count(objects_per_sample(fd), b1, sizeof(b1)),
		human_bytes(fd->consecutive ? fd->growth_bytes / fd->consecutive
					    : 0,
			    b2, sizeof(b2)),
		signed_count((int64_t)objects_per_hour(fd), b3, sizeof(b3)),
		human_bytes((uint64_t)fd->bytes_per_hour, b4, sizeof(b4)),
		human_count(fd->objects, b5, sizeof(b5)),
		human_bytes(fd->in_use_bytes, b6, sizeof(b6)),
		signed_count(fd->growth_objects, b7, sizeof(b7)),
		fd->consecutive);
}

void
report_finding_line(FILE *f, const struct la_finding *fd, pid_t pid,
		    const struct mem_mark *first,
		    const struct la_snapshot *last)
{
	char where[160], now[32], grew[32], rate[32], maps[96];

	if (fd->verdict == LA_VERDICT_PLATEAU) {
		char after[48];

		if (fd->evidence == LA_EVIDENCE_TREND)
			snprintf(after, sizeof(after), "by its trend");
		else
			snprintf(after, sizeof(after),
				 "after %u growths in a row", fd->consecutive);
		fprintf(f,
			"STOPPED GROWING %s: a leak %s (+%s), flat for %u samples since (warm-up or plateau): %s in use, not a leak now\n",
			location_text(&fd->loc, where, sizeof(where)), after,
			human_bytes(fd->growth_bytes, grew, sizeof(grew)),
			fd->stopped_growing_samples,
			human_bytes(fd->in_use_bytes, now, sizeof(now)));
		return;
	}
	if (fd->verdict == LA_VERDICT_LEAK &&
	    fd->evidence == LA_EVIDENCE_TREND) {
		trend_line(f, fd);
		return;
	}
	if (fd->loc.kind == LA_LOC_PYTHON_TYPE) {
		python_finding_line(f, fd);
		return;
	}
	location_text(&fd->loc, where, sizeof(where));
	human_bytes(fd->growth_bytes, grew, sizeof(grew));
	human_bytes((uint64_t)fd->bytes_per_hour, rate, sizeof(rate));
	if (fd->loc.kind == LA_LOC_OUTSIDE) {
		fprintf(f, "%s %s: +%s in %u samples (%s/h), %s resident%s\n",
			fd->verdict == LA_VERDICT_LEAK ? "LEAK" : "GROWING",
			where, grew, fd->consecutive, rate,
			human_bytes(fd->in_use_bytes, now, sizeof(now)),
			new_mappings(fd, first, last, maps, sizeof(maps)));
		return;
	}
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

/* Does the target of snap run CPython (its heap was walked)? */
static int
python_found(const struct la_snapshot *snap)
{
	struct la_python py;

	la_snapshot_python(snap, &py, sizeof(py));
	return py.found;
}

/*
 * What a leak rests on: its evidence, the trend over its history, and
 * how long the process has at its rate before its memory cgroup's limit
 * or the box's MemAvailable.
 */
static void
evidence_lines(FILE *f, const struct la_finding *fd,
	       const struct la_snapshot *last)
{
	char r[32], lo[32], hi[32], room[32], when[32];
	struct la_headroom h;

	if (fd->samples)
		fprintf(f,
			"    %s over %u samples: %s%s/h (95 %% CI %s to %s), p %.1g\n",
			fd->evidence == LA_EVIDENCE_TREND
				? "evidence: the trend"
				: "evidence: growths in a row; the trend",
			fd->samples, fd->slope_bytes_per_hour < 0 ? "-" : "+",
			human_bytes((uint64_t)fabs(fd->slope_bytes_per_hour), r,
				    sizeof(r)),
			human_bytes(fd->slope_ci_lo > 0
					    ? (uint64_t)fd->slope_ci_lo
					    : 0,
				    lo, sizeof(lo)),
			human_bytes(fd->slope_ci_hi > 0
					    ? (uint64_t)fd->slope_ci_hi
					    : 0,
				    hi, sizeof(hi)),
			fd->p_value);
	if (!last || fd->bytes_per_hour <= 0)
		return;
	la_snapshot_headroom(last, &h, sizeof(h));
	if (h.kind == LA_HEADROOM_UNKNOWN)
		return;
	human_duration((double)h.headroom_bytes / fd->bytes_per_hour * 3600,
		       when, sizeof(when));
	human_bytes(h.headroom_bytes, room, sizeof(room));
	if (h.kind == LA_HEADROOM_CGROUP)
		fprintf(f,
			"    at this rate the process reaches its memory cgroup's limit in %s (%s left)\n",
			when, room);
	else
		fprintf(f,
			"    at this rate the box is out of memory in %s (MemAvailable %s)\n",
			when, room);
}

static void
finding_block(FILE *f, const struct la_finding *fd, pid_t pid,
	      const struct loc_types *lt, const struct loc_callers *lc,
	      const struct check_doc *d)
{
	char where[160], b1[32], b2[32], b3[32], req[96];
	double per_sample = fd->consecutive
				    ? (double)fd->growth_bytes / fd->consecutive
				    : 0;

	location_text(&fd->loc, where, sizeof(where));
	fprintf(f, "  %s\n", where);
	report_sparkline(f, d, &fd->loc, fd->verdict == LA_VERDICT_RETENTION);
	if (fd->verdict == LA_VERDICT_LEAK)
		evidence_lines(f, fd, d ? d->last : NULL);
	if (fd->verdict == LA_VERDICT_LEAK &&
	    fd->evidence == LA_EVIDENCE_TREND) {
		fprintf(f,
			"    %s in use now; no %u growths in a row of %s: a slow leak, seen in the history as a whole\n",
			human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
			d && d->rules ? d->rules->consecutive : 3u,
			"--threshold");
		if (lt)
			types_block(f, lt);
		if (lc && lc->n)
			callers_block(f, lc);
		return;
	}
	if (fd->verdict == LA_VERDICT_PLATEAU &&
	    fd->evidence == LA_EVIDENCE_TREND) {
		fprintf(f,
			"    %s in use now; rose %s over its history, then stopped growing: flat for %u samples since\n",
			human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
			human_bytes(fd->growth_bytes, b2, sizeof(b2)),
			fd->stopped_growing_samples);
		fprintf(f, "    next: %s\n", plateau_next);
		return;
	}
	if (fd->verdict == LA_VERDICT_PLATEAU) {
		fprintf(f,
			"    %s in use now; grew %s in %u samples in a row, then stopped growing: flat for %u samples since\n",
			human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
			human_bytes(fd->growth_bytes, b2, sizeof(b2)),
			fd->consecutive, fd->stopped_growing_samples);
		fprintf(f, "    growth per sample while it grew: ");
		growth_list(f, fd);
		fputc('\n', f);
		fprintf(f, "    next: %s\n", plateau_next);
		return;
	}
	if (fd->loc.kind == LA_LOC_PYTHON_TYPE) {
		char c1[32], c2[32], c3[32], c4[32];

		fprintf(f,
			"    %s objects now, %s in pymalloc blocks and malloc chunks; grew %s objects (+%s) in %u samples in a row (%s objects and +%s per sample; %s objects, %s per hour)\n",
			human_count(fd->objects, c1, sizeof(c1)),
			human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
			signed_count(fd->growth_objects, c2, sizeof(c2)),
			human_bytes(fd->growth_bytes, b2, sizeof(b2)),
			fd->consecutive,
			signed_count(objects_per_sample(fd), c3, sizeof(c3)),
			human_bytes((uint64_t)per_sample, b3, sizeof(b3)),
			signed_count((int64_t)objects_per_hour(fd), c4,
				     sizeof(c4)),
			human_bytes((uint64_t)fd->bytes_per_hour, req,
				    sizeof(req)));
		fprintf(f, "    growth per sample: ");
		growth_list(f, fd);
		fputc('\n', f);
		fprintf(f,
			"    next: Python code keeps %s objects alive (a list, dict or cache that only grows, a module global, a class attribute); inside the process gc.get_referrers(), objgraph.show_backrefs() or tracemalloc tell which; trim cannot return memory that is in use\n",
			python_type_of(&fd->loc));
		return;
	}
	if (fd->loc.kind == LA_LOC_OUTSIDE) {
		fprintf(f,
			"    %s resident now; grew %s in %u samples in a row (%s per sample, %s per hour)%s\n",
			human_bytes(fd->in_use_bytes, b1, sizeof(b1)),
			human_bytes(fd->growth_bytes, b2, sizeof(b2)),
			fd->consecutive,
			human_bytes((uint64_t)per_sample, b3, sizeof(b3)),
			human_bytes((uint64_t)fd->bytes_per_hour, req,
				    sizeof(req)),
			new_mappings(fd, d ? d->first : NULL,
				     d ? d->last : NULL, where, sizeof(where)));
		fprintf(f, "    next: %s\n",
			fd->loc.outside_kind == LA_OUTSIDE_THREAD_STACKS
				? "threads that are never joined or stacks that only deepen (pmap -x shows the mappings)"
			: fd->loc.outside_kind == LA_OUTSIDE_FILE
				? "files mapped and never unmapped, or written through a private mapping (pmap -x shows them)"
			: fd->loc.outside_kind == LA_OUTSIDE_SHARED
				? "shared memory mapped and never unmapped (pmap -x, ipcs -m)"
			: fd->loc.outside_kind == LA_OUTSIDE_PYTHON_ARENAS
				? "these arenas hold Python's objects of 512 bytes or less: the python types that grow say which (`leakattach snapshot` lists them all)"
				: "mmap() calls without munmap(): an arena or pool allocator of the program's own, a JIT; malloc's heap is not where it grows (pmap -x shows the mappings)");
		return;
	}
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
	} else if (d && d->last && python_found(d->last)) {
		fprintf(f,
			"    next: the growth is spread over many sizes; in this Python process the python types that grow say what it is (above, in the table of growth, or `leakattach snapshot`); trim cannot return memory that is in use\n");
	} else {
		fprintf(f,
			"    next: the growth is spread over many sizes; look for data structures that only grow; trim cannot return memory that is in use\n");
	}
}

/*
 * Where the resident memory went since the first sample of this run,
 * when memory outside malloc grew by --min-size or more: the heap's
 * growth is then not the whole story, and the report says so before any
 * finding. "RSS +X in N samples: malloc +A, anonymous +B, ..."
 */
static void
rss_line(FILE *f, const struct check_doc *d)
{
	struct mem_mark now;
	char b1[32], b2[32];

	if (!d->first || !d->first->have || !d->last || d->samples_this_run < 2)
		return;
	mem_mark_set(&now, d->last);
	if (!now.have ||
	    now.m.outside_rss_bytes <
		    d->first->m.outside_rss_bytes + d->rules->min_size)
		return;
	fprintf(f, "  RSS %s in %u samples: malloc %s",
		signed_bytes(now.m.rss_bytes, d->first->m.rss_bytes, b1,
			     sizeof(b1)),
		d->samples_this_run,
		signed_bytes(now.m.malloc_rss_bytes,
			     d->first->m.malloc_rss_bytes, b2, sizeof(b2)));
	for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++) {
		if (!outside_shown((enum la_outside_kind)k, &now.o[k]) ||
		    now.o[k].rss_bytes == d->first->o[k].rss_bytes)
			continue;
		fprintf(f, ", %s %s",
			k == LA_OUTSIDE_ANONYMOUS
				? "anonymous"
				: outside_text((enum la_outside_kind)k),
			signed_bytes(now.o[k].rss_bytes,
				     d->first->o[k].rss_bytes, b1, sizeof(b1)));
	}
	fputc('\n', f);
}

/* "  python now: CPython 3.11.2, pymalloc 10.2 MiB in use in 12 arenas, ..." */
static void
python_now_line(FILE *f, const struct la_snapshot *snap)
{
	struct la_python py;
	char ver[32], b1[32], b2[32], b3[32];

	la_snapshot_python(snap, &py, sizeof(py));
	if (!py.found)
		return;
	fprintf(f, "  python now: CPython %s, pymalloc %s in use in %s arenas",
		python_version_text(&py, ver, sizeof(ver)),
		human_bytes(py.in_use_bytes, b1, sizeof(b1)),
		human_count(py.arenas, b2, sizeof(b2)));
	if (py.types_available)
		fprintf(f, ", %s objects named",
			human_count(py.objects, b3, sizeof(b3)));
	if (!py.consistent)
		fprintf(f, " (approximate: %s)", py.why);
	fputc('\n', f);
}

/* Python types shown in the table of growth. */
#define GROWTH_TABLE_MAX 10

static int
by_growth_objects_desc(const void *a, const void *b)
{
	const struct la_finding *x = a, *y = b;

	if (x->growth_objects != y->growth_objects)
		return x->growth_objects < y->growth_objects ? 1 : -1;
	return strcmp(x->loc.key, y->loc.key);
}

/*
 * The Python types that grew, most new objects first, as objgraph's
 * show_growth() prints them (type, objects now, +growth); the growth is
 * since each type's streak began, which for a type that grew at the
 * latest sample only is since the sample before.
 */
static void
growth_table(FILE *f, const struct la_tracker *t)
{
	unsigned n = la_tracker_finding_count(t), k = 0;
	struct la_finding *v = calloc(n ? n : 1, sizeof(*v));
	char b1[32], b2[32];

	if (!v)
		return;
	for (unsigned i = 0; i < n; i++)
		if (!la_tracker_finding(t, i, &v[k], sizeof(v[k])) &&
		    v[k].loc.kind == LA_LOC_PYTHON_TYPE &&
		    v[k].growth_objects > 0)
			k++;
	if (k) {
		qsort(v, k, sizeof(*v), by_growth_objects_desc);
		fprintf(f,
			"\npython types by growth (objects now, and new ones since each began to grow; as objgraph's show_growth()):\n");
		for (unsigned i = 0; i < k && i < GROWTH_TABLE_MAX; i++)
			fprintf(f, "  %-32s %12s %12s\n",
				python_type_of(&v[i].loc),
				human_count(v[i].objects, b1, sizeof(b1)),
				signed_count(v[i].growth_objects, b2,
					     sizeof(b2)));
		if (k > GROWTH_TABLE_MAX)
			fprintf(f, "  ... and %u more\n", k - GROWTH_TABLE_MAX);
	}
	free(v);
}

/*
 * The findings of one verdict, each shown once (report_finding_shown());
 * the number shown. Leaks of Python types come first: in a Python process
 * they say what grows, where the heap and the arenas only say where it
 * lies.
 */
static unsigned
findings_text(FILE *f, const struct check_doc *d, enum la_verdict verdict)
{
	unsigned n = la_tracker_finding_count(d->tracker);
	unsigned shown = 0, python_leaks = 0, placed = 0;
	struct la_finding fd;
	char where[160], b1[32], c1[32];

	for (unsigned pass = verdict == LA_VERDICT_LEAK ? 0 : 1; pass < 2;
	     pass++) {
		for (unsigned i = 0; i < n; i++) {
			if (la_tracker_finding(d->tracker, i, &fd,
					       sizeof(fd)) ||
			    fd.verdict != verdict ||
			    !report_finding_shown(d->tracker, i))
				continue;
			if (verdict == LA_VERDICT_LEAK &&
			    (fd.loc.kind == LA_LOC_PYTHON_TYPE) != (pass == 0))
				continue;
			if (!shown++)
				fprintf(f, "\n%s\n",
					verdict == LA_VERDICT_LEAK
						? "LEAK: in use and growing in every sample"
					: verdict == LA_VERDICT_RETENTION
						? "RETENTION: free memory glibc keeps, growing"
					: verdict == LA_VERDICT_PLATEAU
						? "STOPPED GROWING after a leak, flat for --consecutive samples or more (warm-up or plateau): not a leak now"
						: "GROWING, not (yet) a leak:");
			if (pass == 0)
				python_leaks++;
			else if (python_leaks && !placed++)
				fprintf(f,
					"  where that memory lies (Python's blocks of 512 bytes or less are in its arenas, larger ones in malloc's heap: some or all of the growth below is that of the python types above):\n");
			if (verdict != LA_VERDICT_GROWING) {
				finding_block(f, &fd, d->pid,
					      report_types_of(d, &fd.loc),
					      report_callers_of(d, &fd.loc), d);
				continue;
			}
			if (shown > 5)
				continue;
			location_text(&fd.loc, where, sizeof(where));
			if (fd.loc.kind == LA_LOC_PYTHON_TYPE)
				fprintf(f,
					"  %s: %s objects, %s, %u growth%s in a row\n",
					where,
					human_count(fd.objects, c1, sizeof(c1)),
					human_bytes(fd.in_use_bytes, b1,
						    sizeof(b1)),
					fd.consecutive,
					fd.consecutive == 1 ? "" : "s");
			else
				fprintf(f,
					"  %s: %s in use, %u growth%s in a row\n",
					where,
					human_bytes(fd.in_use_bytes, b1,
						    sizeof(b1)),
					fd.consecutive,
					fd.consecutive == 1 ? "" : "s");
		}
	}
	return shown;
}

void
report_check_text(FILE *f, const struct check_doc *d)
{
	struct la_tracker_info ti;
	char b1[32], b2[32], b3[32], b4[32], span[32];
	unsigned shown[4] = {0, 0, 0, 0};
	unsigned needed = report_samples_needed(d), exact;
	static const enum la_verdict order[] = {
		LA_VERDICT_LEAK, LA_VERDICT_RETENTION, LA_VERDICT_GROWING,
		LA_VERDICT_PLATEAU};

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
	if (d->last)
		python_now_line(f, d->last);
	rss_line(f, d);
	if (d->trims)
		fprintf(f,
			"  malloc_trim(0) was called %u time%s (--auto-cleanup)\n",
			d->trims, d->trims == 1 ? "" : "s");
	heap_growth_line(f, d);
	for (unsigned v = 0; v < 4; v++)
		shown[v] = findings_text(f, d, order[v]);
	for (unsigned i = 0, past = 0; i < d->n_seen; i++) {
		if (leak_now(d->tracker, &d->seen[i].loc) ||
		    plateau_now(d->tracker, &d->seen[i].loc) ||
		    !seen_shown(d, i))
			continue;
		if (!past++)
			fprintf(f,
				"\nLEAK reported during this run, no longer growing at the last sample:\n");
		finding_block(f, &d->seen[i], d->pid, NULL, NULL, d);
		shown[0]++;
	}
	growth_table(f, d->tracker);
	exact = report_exact_samples(d);
	if (!shown[0] && needed && exact > d->rules->consecutive) {
		/* a streak that waits for its location's noise */
		fprintf(f,
			"\nUndecided: %u location%s grew in %u samples in a row or more, partly by less than %.1f %%, and %s noise is not known yet: the next sample decides%s\n",
			ti.pending, ti.pending == 1 ? "" : "s",
			d->rules->consecutive, d->rules->threshold_pct,
			ti.pending == 1 ? "its" : "their",
			strcmp(d->command, "check")
				? ""
				: " (run check again: it continues this history)");
	} else if (!shown[0] && needed) {
		/* no verdict yet: neither "no leak" nor a leak (EXIT STATUS) */
		fprintf(f,
			"\nUndecided: %u sample%s so far%s; the rule needs %u at least%s\n",
			exact, exact == 1 ? "" : "s",
			exact != ti.samples ? " that are exact" : "",
			d->rules->consecutive + 1,
			strcmp(d->command, "check")
				? ""
				: " (run check again: it continues this history)");
	} else if (!shown[0]) {
		fprintf(f, "\nNo leak: ");
		fprintf(f,
			"no location grew %s %.1f %% in %u samples in a row while holding %s or more%s\n",
			d->rules->noise_k > 0
				? "beyond its noise by more than an average"
				: "by more than",
			d->rules->threshold_pct, d->rules->consecutive,
			human_bytes(d->rules->min_size, b1, sizeof(b1)),
			d->rules->trend_alpha > 0
				? ", and none rose over its history"
				: "");
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
