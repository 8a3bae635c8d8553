/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracker.c - the leak rule (leakattach(1) "LEAK RULE") over a series of
 * samples: per location, count the consecutive growths of its in-use
 * bytes between exact samples, and of its free bytes while the in-use
 * bytes stay flat; from those, decide leak, retention or growing. Also
 * la_tracker_add() (a snapshot made into a sample) and the public
 * accessors. Not responsible for taking snapshots, for the state file
 * (tracker_state.c), for where the state is kept (store.c) or for
 * presenting findings (the CLI). The rule: doc/design/tracker.md.
 *
 * Decisions the rule leaves open, made here:
 *  - A location absent from an exact sample has 0 bytes in it. One that
 *    appears grew from 0; as a relative growth is meaningless there, its
 *    growth percentage is recorded as 100.
 *  - Only the heap and arenas are judged for retention: the free bytes of
 *    one size class come and go with every malloc and free. Memory
 *    outside malloc (LA_LOC_OUTSIDE) has no free side at all.
 *  - The growth rule compares integers where it can: a rise of d bytes
 *    over p counts when d > p * threshold / 100, and (the noise test,
 *    la_rules.noise_k) d > noise_k * sigma, sigma the robust spread of
 *    the changes between the location's latest samples, this one
 *    included, less their drift (trend_noise() over the raw tail of its
 *    series). A location without a series, or with fewer than 5 samples
 *    in it, has no known noise, and its rises count as they did without
 *    the test.
 *  - A leak whose in-use bytes then stay flat (no growth above the
 *    threshold) for `consecutive` comparisons is a plateau: the rule's
 *    own count, so that a warm-up is withdrawn as fast as it was
 *    accused. Any growth restarts that count. Retention at such a
 *    location is reported as retention, and keeps the count
 *    (stopped_growing_samples) so that callers still see the plateau.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "tracker: "
#include "base/abi.h"
#include "base/error.h"
#include "base/log.h"
#include "snapshot.h"
#include "track/series.h"
#include "track/tracker.h"
#include "track/tracker_int.h"
#include "track/trend.h"

void
la_rules_init(struct la_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->sz = sizeof(*r);
	r->threshold_pct = 2.0;
	r->consecutive = 3;
	r->min_size = 1024 * 1024;
	r->trend_alpha = 1e-4;
	r->noise_k = 3.0;
}

/* Defaults for whatever an older caller's smaller struct lacks. */
static int
rules_take(const struct la_rules *in, struct la_rules *r)
{
	int err;

	la_rules_init(r);
	err = OPTS_TAKE(r, in, la_rules);
	if (err)
		return err;
	if (!isfinite(r->threshold_pct) || r->threshold_pct < 0)
		return la_fail(
			-EINVAL,
			"the growth threshold must be 0 percent or more");
	if (r->consecutive < 1)
		return la_fail(
			-EINVAL,
			"a leak needs at least 1 growth: the consecutive count must be 1 or more");
	if (!isfinite(r->trend_alpha) || r->trend_alpha < 0 ||
	    r->trend_alpha >= 0.5)
		return la_fail(
			-EINVAL,
			"the trend's false-alarm probability must be from 0 (off) to below 0.5");
	if (!isfinite(r->noise_k) || r->noise_k < 0 || r->noise_k > 100)
		return la_fail(
			-EINVAL,
			"the noise test's factor must be from 0 (off) to 100");
	return 0;
}

int
tracker_new(const struct la_rules *rules, struct la_tracker **out)
{
	struct la_tracker *t;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return la_fail(-ENOMEM, "out of memory");
	err = rules_take(rules, &t->rules);
	if (err) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

int
la_tracker_new(const struct la_rules *rules, struct la_tracker **out)
{
	la_error_clear();
	return tracker_new(rules, out);
}

void
la_tracker_free(struct la_tracker *t)
{
	if (!t)
		return;
	for (unsigned i = 0; t->e && i < t->n; i++)
		free(t->e[i].series);
	free(t->e);
	free(t->f);
	free(t);
}

static void
arena_key(char *buf, size_t len, int is_main, uint64_t addr)
{
	if (is_main)
		snprintf(buf, len, "arena:main");
	else
		snprintf(buf, len, "arena:0x%llx", (unsigned long long)addr);
}

void
tracker_location(struct la_location *loc, enum la_location_kind kind,
		 int arena_is_main, uint64_t arena_addr,
		 uint64_t chunk_size_min, uint64_t chunk_size_max)
{
	char arena[40];

	memset(loc, 0, sizeof(*loc));
	loc->kind = kind;
	if (kind == LA_LOC_OUTSIDE) {
		const char *name = la_outside_kind_name((enum la_outside_kind)(
			arena_addr < LA_OUTSIDE_KIND_COUNT
				? arena_addr
				: LA_OUTSIDE_KIND_COUNT));

		loc->outside_kind = arena_addr;
		snprintf(loc->key, sizeof(loc->key), "outside:%s",
			 name ? name : "?");
		return;
	}
	if (kind == LA_LOC_ARENA || kind == LA_LOC_ARENA_SIZE_CLASS) {
		loc->arena_is_main = !!arena_is_main;
		loc->arena_addr = arena_addr;
	}
	if (kind == LA_LOC_SIZE_CLASS || kind == LA_LOC_ARENA_SIZE_CLASS) {
		loc->chunk_size_min = chunk_size_min;
		loc->chunk_size_max = chunk_size_max;
	}
	arena_key(arena, sizeof(arena), loc->arena_is_main, loc->arena_addr);
	/* The longest key, two 20-digit sizes and an address, fits in 80. */
	switch (kind) {
	case LA_LOC_HEAP:
		snprintf(loc->key, sizeof(loc->key), "heap");
		break;
	case LA_LOC_ARENA:
		snprintf(loc->key, sizeof(loc->key), "%s", arena);
		break;
	case LA_LOC_SIZE_CLASS:
		snprintf(loc->key, sizeof(loc->key), "size:%llu-%llu",
			 (unsigned long long)chunk_size_min,
			 (unsigned long long)chunk_size_max);
		break;
	case LA_LOC_ARENA_SIZE_CLASS:
		snprintf(loc->key, sizeof(loc->key), "size:%llu-%llu@%s",
			 (unsigned long long)chunk_size_min,
			 (unsigned long long)chunk_size_max, arena);
		break;
	case LA_LOC_OUTSIDE: /* above */
	case LA_LOC_PYTHON_TYPE: /* tracker_python_location() */
		break;
	}
}

int
tracker_python_location(struct la_location *loc, const char *name)
{
	size_t n;

	if (!name[0])
		return -EINVAL;
	memset(loc, 0, sizeof(*loc));
	loc->kind = LA_LOC_PYTHON_TYPE;
	snprintf(loc->key, sizeof(loc->key), "python:%s", name);
	for (n = 7; loc->key[n]; n++)
		if ((unsigned char)loc->key[n] <= ' ' ||
		    (unsigned char)loc->key[n] >= 0x7f)
			loc->key[n] = '?';
	return 0;
}

int
tracker_watches_free(enum la_location_kind kind)
{
	return kind == LA_LOC_HEAP || kind == LA_LOC_ARENA;
}

/* More than threshold percent above prev; anything above 0 grew. */
static int
grew(uint64_t prev, uint64_t now, double threshold_pct)
{
	if (now <= prev)
		return 0;
	return (double)(now - prev) > (double)prev * threshold_pct / 100.0;
}

static void
streak_grow(struct streak *s, uint64_t prev, uint64_t now, int64_t prev_time)
{
	double pct = prev ? (double)(now - prev) / (double)prev * 100.0
			  : 100.0; /* from nothing: see the file comment */

	if (!s->count) {
		s->base = prev;
		s->base_time = prev_time;
		s->n = 0;
	}
	if (s->count < UINT_MAX)
		s->count++;
	if (s->n == LA_GROWTH_MAX) {
		memmove(s->pct, s->pct + 1,
			(LA_GROWTH_MAX - 1) * sizeof(*s->pct));
		s->n--;
	}
	s->pct[s->n++] = pct;
}

static void
streak_reset(struct streak *s)
{
	memset(s, 0, sizeof(*s));
}

/*
 * The noise of a location (trend_noise()) over the raw tail of its
 * series, and with add, the sample (time, bytes) after it. 0 and *sigma,
 * or -EINVAL while it is not known.
 */
static int
entry_noise(const struct entry *e, int add, int64_t time, uint64_t bytes,
	    double *sigma)
{
	double ts[SERIES_RAW + 1], y[SERIES_RAW + 1];
	unsigned n;

	if (!e->series)
		return -EINVAL;
	n = series_raw_tail(e->series, ts, y, SERIES_RAW);
	if (add) {
		/* the difference of two int64_t fits in uint64_t */
		ts[n] = (double)((uint64_t)time -
				 (uint64_t)e->series->first_unix_ns) /
			1e9;
		y[n++] = (double)bytes;
	}
	return trend_noise(ts, y, n, sigma);
}

/*
 * Whether a rise of the in-use bytes to in_use is within the location's
 * noise (la_rules.noise_k): its latest samples with this one, from the
 * raw tail of its series. Unknown noise (no series, too few samples)
 * hides nothing.
 */
static int
within_noise(const struct la_tracker *t, const struct entry *e, uint64_t in_use)
{
	double sigma;

	if (t->rules.noise_k <= 0 || !e->series || in_use <= e->in_use ||
	    entry_noise(e, 1, t->adding_time, in_use, &sigma))
		return 0;
	return (double)(in_use - e->in_use) <= t->rules.noise_k * sigma;
}

/* One comparison with the previous exact sample. */
static void
entry_update(struct la_tracker *t, struct entry *e, uint64_t in_use,
	     uint64_t free_bytes, uint64_t objects)
{
	double th = t->rules.threshold_pct;
	/*
	 * With the noise test a rise of half the threshold continues a
	 * streak, whose average then decides (streak_leak()). The noise
	 * judges whether a streak becomes a leak, not whether a leak
	 * reported goes on: its rises continue it (a list's array that
	 * grows by reallocation rises every sample by very unequal steps,
	 * whose spread is no noise).
	 */
	int noisy = !e->grow.flagged && within_noise(t, e, in_use);
	int in_use_grew = !noisy && grew(e->in_use, in_use,
					 t->rules.noise_k > 0 ? th / 2 : th);

	if (in_use_grew && !e->grow.count)
		e->base_objects = e->objects;
	if (in_use_grew) {
		streak_grow(&e->grow, e->in_use, in_use, t->last_exact_time);
		e->flat = 0;
		e->was.flagged = 0; /* a plateau again would be news */
	} else {
		/* a leak that stops: keep its streak, count the flat ones */
		if (e->grow.flagged) {
			e->was = e->grow;
			e->was.flagged = 0;
			e->was_trend = 0;
			e->flat = 0;
		}
		if (e->was.count && e->flat < UINT_MAX)
			e->flat++;
		streak_reset(&e->grow);
	}
	if (!e->grow.count)
		e->base_objects = 0;
	e->objects = objects;
	if (!in_use_grew && tracker_watches_free(e->loc.kind) &&
	    grew(e->free, free_bytes, th))
		streak_grow(&e->retain, e->free, free_bytes,
			    t->last_exact_time);
	else
		streak_reset(&e->retain);
	e->in_use = in_use;
	e->free = free_bytes;
}

/*
 * Nothing to remember: dropping it changes no verdict (a location that
 * holds nothing loses its series too: one that comes back starts anew).
 */
static int
entry_idle(const struct entry *e)
{
	return !e->in_use && !e->free && !e->grow.count && !e->retain.count &&
	       !e->was.count;
}

static void
finding_fill(const struct la_tracker *t, const struct entry *e,
	     enum la_verdict v, const struct streak *s, uint64_t watched,
	     struct la_finding *f)
{
	int64_t dt;

	memset(f, 0, sizeof(*f));
	f->loc = e->loc;
	f->verdict = v;
	f->consecutive = s->count;
	f->in_use_bytes = e->in_use;
	f->free_bytes = e->free;
	f->base_bytes = s->base;
	f->growth_bytes = watched > s->base ? watched - s->base : 0;
	f->base_time_unix_ns = s->base_time;
	f->time_unix_ns = t->last_exact_time;
	dt = f->time_unix_ns - f->base_time_unix_ns;
	f->bytes_per_hour =
		dt > 0 ? (double)f->growth_bytes / (double)dt * 3600e9 : 0;
	f->n_growth = s->n;
	memcpy(f->growth_percent, s->pct, s->n * sizeof(*s->pct));
	if (e->loc.kind == LA_LOC_PYTHON_TYPE) {
		f->objects = e->objects;
		f->growth_objects =
			s == &e->grow && s->count
				? (int64_t)e->objects - (int64_t)e->base_objects
				: 0;
	}
}

static uint64_t
watched_bytes(const struct la_finding *f)
{
	return f->verdict == LA_VERDICT_RETENTION ? f->free_bytes
						  : f->in_use_bytes;
}

static int
verdict_rank(enum la_verdict v)
{
	switch (v) {
	case LA_VERDICT_LEAK:
		return 0;
	case LA_VERDICT_RETENTION:
		return 1;
	case LA_VERDICT_GROWING:
		return 2;
	case LA_VERDICT_PLATEAU:
		break;
	}
	return 3;
}

/* Leaks, retention, growing, plateaus; by bytes, largest first; then by key. */
static int
finding_cmp(const void *pa, const void *pb)
{
	const struct la_finding *a = pa, *b = pb;
	int ra = verdict_rank(a->verdict), rb = verdict_rank(b->verdict);
	uint64_t wa = watched_bytes(a), wb = watched_bytes(b);

	if (ra != rb)
		return ra - rb;
	if (wa != wb)
		return wa > wb ? -1 : 1;
	return strcmp(a->loc.key, b->loc.key);
}

/*
 * Whether the location's bytes in use stand above the highest it held
 * before its streak began (its series' points up to the streak's base)
 * by more than noise_k times its noise, sigma: one that only came back
 * to a level it held before (a sawtooth, a cache filled again) has not
 * leaked. Without points before the streak: it does.
 */
static int
above_peak(const struct la_rules *r, const struct entry *e, double sigma)
{
	double peak = -1;

	for (unsigned i = 0; i < e->series->n; i++)
		if (e->series->p[i].time_unix_ns <= e->grow.base_time &&
		    (double)e->series->p[i].bytes > peak)
			peak = (double)e->series->p[i].bytes;
	return peak < 0 || (double)e->in_use > peak + r->noise_k * sigma;
}

/*
 * Whether the growths in a row make a leak: 1 a leak, 0 none, -1 one but
 * for the location's noise, not known yet (la_tracker_info.pending).
 *
 * Without the noise test, --consecutive growths at --min-size. With it,
 * the streak must also be fast enough: each of its rises above the
 * threshold (the fixed rule's leak), or, once the location's noise is
 * known, more than the threshold of its base a comparison on average
 * (in_use - base > base * threshold * count): a steady leak adds the
 * same bytes every sample, so its growth relative to the previous sample
 * shrinks as it grows (+2.11 %, +2.07 %, +1.98 % in the field) while its
 * growth relative to the streak's base does not. Rises below the
 * threshold are only evidence where the noise is known: with 3 samples
 * or fewer, three chance rises of a noisy location look alike. Once
 * reported, a leak stays one while its streak lasts. And it must stand
 * above its earlier peak (above_peak()) where the noise is known.
 */
static int
streak_leak(const struct la_rules *r, const struct entry *e)
{
	const struct streak *s = &e->grow;
	unsigned above = 0;
	double sigma;
	int known;

	if (s->count < r->consecutive || e->in_use < r->min_size)
		return 0;
	if (r->noise_k <= 0 || !e->series)
		return 1;
	known = !entry_noise(e, 0, 0, 0, &sigma);
	if (known && !above_peak(r, e, sigma))
		return 0;
	if (s->flagged)
		return 1;
	for (unsigned i = 0; i < s->n; i++)
		above += s->pct[i] > r->threshold_pct;
	if (s->count == s->n && above == s->n)
		return 1;
	if (!known)
		return -1;
	return (double)(e->in_use - s->base) >
	       (double)s->base * r->threshold_pct / 100.0 * s->count;
}

/*
 * The verdict the rules give entry e, whose growths in a row are
 * streak_leak(), or -1 when it is no finding.
 */
static int
entry_verdict(const struct la_rules *r, const struct entry *e, int by_rule)
{
	if (by_rule > 0)
		return LA_VERDICT_LEAK;
	if (e->tr.leak)
		return LA_VERDICT_LEAK;
	if (tracker_watches_free(e->loc.kind) &&
	    e->retain.count >= r->consecutive && e->free >= r->min_size)
		return LA_VERDICT_RETENTION;
	if (e->was.count && e->flat >= r->consecutive && !e->grow.count)
		return LA_VERDICT_PLATEAU;
	/* a suspect below --min-size is never reported either */
	if (e->grow.count && e->in_use >= r->min_size)
		return LA_VERDICT_GROWING;
	return -1;
}

/*
 * The p-value under which a leak by the trend, once reported, stays one
 * (a new one needs trend_alpha shared among the locations): the report
 * does not flicker on a p near that level, and the leak ends when the
 * rise is gone or a plateau (trend_plateau()) shows it stopped.
 */
#define TREND_KEEP_P 0.01

/* Points a series needs before its trend is judged. */
#define TREND_MIN_POINTS 8u

/* The series' points, and the trend over them, into e->tr. */
static void
entry_trend(struct entry *e, double *tsec, double *y)
{
	unsigned n = series_points(e->series, tsec, y, SERIES_MAX);
	struct trend tr;

	if (n < TREND_MIN_POINTS || trend_fit(tsec, y, n, &tr))
		return;
	e->tr.n = n;
	e->tr.slope_h = tr.slope * 3600.0;
	e->tr.lo_h = tr.slope_lo * 3600.0;
	e->tr.hi_h = tr.slope_hi * 3600.0;
	e->tr.p = tr.p;
	e->tr.span_h = (tsec[n - 1] - tsec[0]) / 3600.0;
}

/*
 * A leak by its trend that was reported and has stopped growing: kept as
 * the rule's leaks are once flat (entry.was, PLATEAU), its rise as one
 * growth from the series' first point to the knee, flat since the knee.
 */
static void
plateau_of_trend(struct entry *e, const struct trend_plateau *pl,
		 const double *y, unsigned n)
{
	double base = y[0], top = y[pl->index];

	memset(&e->was, 0, sizeof(e->was));
	e->was.count = 1;
	e->was.base = base > 0 ? (uint64_t)base : 0;
	e->was.base_time = e->series->first_unix_ns;
	e->was.n = 1;
	e->was.pct[0] = base > 0 && top > base ? (top - base) / base * 100 : 0;
	e->was_trend = 1;
	e->flat = n - 1 - pl->index;
}

/*
 * The trend of every location with a series, and which are leaks by it:
 * a rise at a false-alarm probability of trend_alpha shared among the
 * locations tested (Bonferroni), at least --min-size in use and grown
 * over the history, and no plateau (trend_plateau(): a warm-up that
 * stopped). Keeps e->tr.flagged.
 */
static void
trend_update(struct la_tracker *t)
{
	double tsec[SERIES_MAX], y[SERIES_MAX], alpha;
	unsigned tested = 0;

	for (unsigned i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		int flagged = e->tr.flagged;

		memset(&e->tr, 0, sizeof(e->tr));
		e->tr.flagged = flagged;
		if (e->series && t->rules.trend_alpha > 0) {
			entry_trend(e, tsec, y);
			tested += e->tr.n > 0;
		}
	}
	if (!tested)
		return;
	alpha = t->rules.trend_alpha / tested;
	for (unsigned i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		struct trend_plateau pl;
		unsigned n;

		/* a reported leak stays one while it still rises at
		 * TREND_KEEP_P (no flicker on a p near alpha), or until
		 * it has stopped */
		double level = e->tr.flagged ? TREND_KEEP_P : alpha;
		int leak = e->tr.n && e->tr.p < level && e->tr.slope_h > 0 &&
			   e->in_use >= t->rules.min_size &&
			   e->tr.slope_h * e->tr.span_h >=
				   (double)t->rules.min_size;
		int stopped = e->tr.n && e->tr.flagged && !e->grow.count;

		if (!leak && !stopped)
			continue;
		/* the points again, for the few that may be leaks */
		n = series_points(e->series, tsec, y, SERIES_MAX);
		if (!trend_plateau(tsec, y, n, t->rules.consecutive + 1, alpha,
				   &pl) &&
		    pl.plateau) {
			e->tr.plateau = 1;
			if (stopped)
				plateau_of_trend(e, &pl, y, n);
			continue;
		}
		e->tr.leak = leak;
	}
}

/* A LEAK by the trend: its history, not a streak. */
static void
trend_finding(const struct la_tracker *t, const struct entry *e,
	      struct la_finding *f)
{
	double grown = e->tr.slope_h * e->tr.span_h;

	finding_fill(t, e, LA_VERDICT_LEAK, &e->grow, e->in_use, f);
	f->evidence = LA_EVIDENCE_TREND;
	f->base_time_unix_ns = e->series->first_unix_ns;
	f->growth_bytes = grown > 0 ? (uint64_t)grown : 0;
	f->base_bytes =
		e->in_use > f->growth_bytes ? e->in_use - f->growth_bytes : 0;
	f->bytes_per_hour = e->tr.slope_h;
}

/* What the trend says of any finding whose location has one. */
static void
trend_fields(const struct entry *e, struct la_finding *f)
{
	if (!e->tr.n)
		return;
	f->slope_bytes_per_hour = e->tr.slope_h;
	f->slope_ci_lo = e->tr.lo_h;
	f->slope_ci_hi = e->tr.hi_h;
	f->p_value = e->tr.p;
	f->samples = e->tr.n;
}

/*
 * The findings from the entries, into t->f (room for every finding).
 * fresh: after an exact sample, so that a verdict reached now is new (and
 * remembered as reported); otherwise (after loading a state) nothing is
 * new and nothing is remembered.
 */
void
tracker_findings_compute(struct la_tracker *t, int fresh)
{
	trend_update(t);
	t->nf = 0;
	t->pending = 0;
	memset(t->by_verdict, 0, sizeof(t->by_verdict));
	for (unsigned i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		struct la_finding *f = &t->f[t->nf];
		int rule = streak_leak(&t->rules, e);
		int v = entry_verdict(&t->rules, e, rule);
		int by_rule = rule > 0;

		if (v == LA_VERDICT_LEAK && by_rule) {
			finding_fill(t, e, LA_VERDICT_LEAK, &e->grow, e->in_use,
				     f);
			f->evidence = LA_EVIDENCE_CONSECUTIVE;
			f->is_new = fresh && !e->grow.flagged && !e->tr.flagged;
		} else if (v == LA_VERDICT_LEAK) {
			trend_finding(t, e, f);
			f->is_new = fresh && !e->tr.flagged && !e->grow.flagged;
		} else if (v == LA_VERDICT_RETENTION) {
			finding_fill(t, e, LA_VERDICT_RETENTION, &e->retain,
				     e->free, f);
			f->is_new = fresh && !e->retain.flagged;
		} else if (v == LA_VERDICT_GROWING) {
			finding_fill(t, e, LA_VERDICT_GROWING, &e->grow,
				     e->in_use, f);
			t->pending += rule < 0;
		} else if (v == LA_VERDICT_PLATEAU) {
			/* the leak's streak: its history stays in the report */
			finding_fill(t, e, LA_VERDICT_PLATEAU, &e->was,
				     e->in_use, f);
			f->growth_bytes = e->was.base < e->in_use
						  ? e->in_use - e->was.base
						  : 0;
			/* its growth is over: no rate to extrapolate */
			f->bytes_per_hour = 0;
			f->evidence = e->was_trend ? LA_EVIDENCE_TREND
						   : LA_EVIDENCE_CONSECUTIVE;
			f->is_new = fresh && !e->was.flagged;
		}
		if (v == LA_VERDICT_PLATEAU ||
		    (v == LA_VERDICT_RETENTION && e->was.count))
			f->stopped_growing_samples = e->flat;
		if (v >= 0)
			trend_fields(e, f);
		if (fresh) {
			/* a leak reported once is not new by the other rule */
			e->tr.flagged = v == LA_VERDICT_LEAK;
			e->grow.flagged = v == LA_VERDICT_LEAK && by_rule;
			e->retain.flagged = v == LA_VERDICT_RETENTION;
			if (v == LA_VERDICT_PLATEAU)
				e->was.flagged = 1;
		}
		if (v >= 0) {
			t->by_verdict[f->verdict]++;
			t->nf++;
		}
	}
	if (t->nf > 1)
		qsort(t->f, t->nf, sizeof(*t->f), finding_cmp);
}

static int
point_cmp(const void *pa, const void *pb)
{
	const struct tracker_point *const *a = pa, *const *b = pb;

	return strcmp((*a)->loc.key, (*b)->loc.key);
}

/*
 * One step of merging t's entries (sorted, keys unique) with p (sorted,
 * keys maybe repeated: a repeat is passed over): -1 when entry i comes
 * first, 0 when it and point *j have one key, 1 when point *j comes
 * first, 2 when both are done.
 */
static int
merge_step(const struct la_tracker *t, const struct tracker_point **p,
	   unsigned np, unsigned i, unsigned *j)
{
	unsigned k = *j;
	int c;

	while (k > 0 && k < np && !strcmp(p[k]->loc.key, p[k - 1]->loc.key))
		k++;
	*j = k;
	if (i >= t->n)
		return k >= np ? 2 : 1;
	if (k >= np)
		return -1;
	c = strcmp(t->e[i].loc.key, p[k]->loc.key);
	return c < 0 ? -1 : c > 0;
}

/* The distinct keys of t's entries and of p. */
static size_t
union_count(const struct la_tracker *t, const struct tracker_point **p,
	    unsigned np)
{
	size_t n = 0;
	unsigned i = 0, j = 0;
	int c;

	while ((c = merge_step(t, p, np, i, &j)) != 2) {
		i += c <= 0;
		j += c >= 0;
		n++;
	}
	return n;
}

static void
count_sample(struct la_tracker *t, const struct tracker_sample *s)
{
	if (!t->samples)
		t->first_time = s->time_unix_ns;
	if (t->samples < UINT_MAX)
		t->samples++;
	t->last_time = s->time_unix_ns;
}

/*
 * After an exact sample: each location's series gets its bytes, and a
 * location gets a series once it holds half of --min-size (a slow leak's
 * growth over its history is --min-size at least). A series that cannot
 * be allocated is not kept: that location is judged by the fixed rule.
 */
static void
series_update(struct la_tracker *t, int64_t time)
{
	uint64_t floor = t->rules.min_size / 2;

	for (unsigned i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];

		if (!e->series &&
		    (t->rules.trend_alpha > 0 || t->rules.noise_k > 0) &&
		    e->in_use && e->in_use >= floor) {
			e->series = malloc(sizeof(*e->series));
			if (!e->series)
				continue;
			series_init(e->series);
		}
		if (e->series)
			series_add(e->series, time, e->in_use);
	}
}

int
tracker_add_sample(struct la_tracker *t, const struct tracker_sample *s)
{
	const struct tracker_point **p;
	struct entry *ne;
	struct la_finding *nf;
	struct series **gone;
	unsigned np = 0, n = 0, i = 0, j = 0, room, skipped = 0, nfc = 0;
	unsigned ngone = 0;
	/* The first exact sample has nothing to be compared with. */
	int compare = t->samples > t->approximate, c;

	if (!s->consistent) {
		/* Evidence from the last exact sample stands, reported. */
		count_sample(t, s);
		if (t->approximate < UINT_MAX)
			t->approximate++;
		t->last_approximate = 1;
		for (unsigned k = 0; k < t->nf; k++)
			t->f[k].is_new = 0;
		return 0;
	}
	/* the time of the sample being added (within_noise()) */
	t->adding_time = s->time_unix_ns;
	/*
	 * The tracker changes only once everything is allocated: on failure
	 * it is as it was. The new entries and findings are allocated to
	 * size, not for the old and the new locations summed (over 1 MiB of
	 * tables for the 2000 locations of a busy 9-arena heap).
	 */
	p = malloc(((size_t)s->n_points + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (unsigned k = 0; k < s->n_points; k++)
		if (memchr(s->points[k].loc.key, '\0',
			   sizeof(s->points[k].loc.key)))
			p[np++] = &s->points[k];
	qsort(p, np, sizeof(*p), point_cmp);
	ne = malloc((union_count(t, p, np) + 1) * sizeof(*ne));
	if (!ne) {
		free(p);
		return -ENOMEM;
	}

	/* the series of locations dropped, freed once nothing can fail */
	gone = malloc((t->n + 1) * sizeof(*gone));
	if (!gone) {
		free(p);
		free(ne);
		return -ENOMEM;
	}
	room = t->n < TRACKER_MAX_LOCATIONS ? TRACKER_MAX_LOCATIONS - t->n : 0;
	while ((c = merge_step(t, p, np, i, &j)) != 2) {
		struct entry e;

		if (c < 0) {
			/* Gone from this sample: it holds nothing now. */
			e = t->e[i++];
			entry_update(t, &e, 0, 0, 0);
		} else if (c == 0) {
			e = t->e[i++];
			entry_update(t, &e, p[j]->in_use, p[j]->free,
				     p[j]->objects);
			j++;
		} else {
			memset(&e, 0, sizeof(e));
			e.loc = p[j]->loc;
			if (compare && !p[j]->baseline) {
				entry_update(t, &e, p[j]->in_use, p[j]->free,
					     p[j]->objects);
			} else {
				e.in_use = p[j]->in_use;
				e.free = p[j]->free;
				e.objects = p[j]->objects;
			}
			j++;
			if (!entry_idle(&e) && !room) {
				skipped++;
				continue;
			}
			if (!entry_idle(&e))
				room--;
		}
		if (!entry_idle(&e))
			ne[n++] = e;
		else if (e.series)
			gone[ngone++] = e.series;
	}
	/* a location with a series may become a leak by its trend */
	for (unsigned k = 0; k < n; k++)
		nfc += entry_verdict(&t->rules, &ne[k],
				     streak_leak(&t->rules, &ne[k])) >= 0 ||
		       ne[k].series || ne[k].in_use >= t->rules.min_size / 2;
	nf = malloc((nfc ? nfc : 1) * sizeof(*nf));
	if (!nf) {
		free(p);
		free(ne);
		free(gone);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < ngone; k++)
		free(gone[k]);
	free(gone);
	if (skipped && !t->full_logged) {
		pr_warn("more than %u places in the heap to follow: %u new ones ignored",
			TRACKER_MAX_LOCATIONS, skipped);
		t->full_logged = 1;
	}
	free(p);
	free(t->e);
	free(t->f);
	t->e = ne;
	t->n = n;
	t->f = nf;
	count_sample(t, s);
	t->last_exact_time = s->time_unix_ns;
	t->last_approximate = 0;
	series_update(t, s->time_unix_ns);
	tracker_findings_compute(t, 1);
	return 0;
}

static int
class_empty(const struct la_counts *c)
{
	return !c->in_use_bytes && !c->tcache_bytes && !c->fastbin_bytes &&
	       !c->bin_bytes;
}

static void
class_point(struct tracker_point *pt, enum la_location_kind kind,
	    const struct la_arena_stats *a, unsigned idx,
	    const struct la_counts *c)
{
	uint64_t min, max;

	size_class_bounds(idx, &min, &max);
	tracker_location(&pt->loc, kind, a ? a->is_main : 0, a ? a->addr : 0,
			 min, max);
	pt->in_use = c->in_use_bytes;
	/* Top chunks belong to no size class (snapshot_visit()). */
	pt->free = c->tcache_bytes + c->fastbin_bytes + c->bin_bytes;
}

/* The in-use bytes of key at the latest exact sample (0: not followed). */
static uint64_t
entry_in_use(const struct la_tracker *t, const char *key)
{
	unsigned lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(t->e[mid].loc.key, key);

		if (!c)
			return t->e[mid].in_use;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * The kinds of memory outside malloc, as locations. A snapshot that could
 * not read smaps repeats the bytes of the latest sample: unknown is not
 * 0, and a flat sample ends a streak rather than making a false one. The
 * first census of a history (a state kept before there was one, or
 * after samples that could not read smaps) is a baseline: memory that
 * was there all along did not grow from nothing.
 */
static unsigned
outside_points(const struct la_tracker *t, const struct la_snapshot *snap,
	       struct tracker_point *pts)
{
	unsigned n = 0;
	int seen = 0;

	/* any process has files mapped: none followed, none measured yet */
	for (unsigned i = 0; i < t->n && !seen; i++)
		seen = t->e[i].loc.kind == LA_LOC_OUTSIDE;
	for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++) {
		struct tracker_point *pt = &pts[n++];

		tracker_location(&pt->loc, LA_LOC_OUTSIDE, 0, k, 0, 0);
		pt->in_use = snap->memory.measured
				     ? snap->outside[k].rss_bytes
				     : entry_in_use(t, pt->loc.key);
		pt->free = 0;
		pt->baseline = !seen;
	}
	return n;
}

/*
 * The Python types, by name (python_heap.c merged the types of one
 * name). A census whose pools disagreed gives no points: its types are
 * left as they were at the last agreeing one, not dropped to 0.
 */
static unsigned
python_points(const struct la_tracker *t, const struct la_snapshot *snap,
	      struct tracker_point *pts)
{
	unsigned n = 0;

	for (unsigned i = 0; snap->py.info.consistent && i < snap->py.n_types;
	     i++) {
		const struct la_python_type *ty = &snap->py.types[i];
		struct tracker_point *pt = &pts[n];

		if (tracker_python_location(&pt->loc, ty->name))
			continue;
		pt->in_use = ty->bytes;
		pt->objects = ty->objects;
		n++;
	}
	if (!snap->py.info.consistent)
		for (unsigned i = 0; i < t->n; i++)
			if (t->e[i].loc.kind == LA_LOC_PYTHON_TYPE) {
				struct tracker_point *pt = &pts[n++];

				pt->loc = t->e[i].loc;
				pt->in_use = t->e[i].in_use;
				pt->objects = t->e[i].objects;
			}
	return n;
}

int
la_tracker_add(struct la_tracker *t, const struct la_snapshot *snap)
{
	struct tracker_sample s = {
		.time_unix_ns = snap->info.time_unix_ns,
		.consistent = snap->info.consistent,
	};
	struct tracker_point *pts = NULL;
	unsigned n_arena_tables, n = 0;
	size_t max = 1 + snap->n_arenas + LA_OUTSIDE_KIND_COUNT +
		     snap->py.n_types + t->n;
	int err;

	la_error_clear();
	n_arena_tables = snap->n_arenas < snap->n_arena_classes
				 ? snap->n_arenas
				 : snap->n_arena_classes;
	if (s.consistent) {
		for (unsigned c = 0; c < SIZE_CLASSES; c++)
			max += !class_empty(&snap->classes[c]);
		for (unsigned a = 0; a < n_arena_tables; a++)
			for (unsigned c = 0; c < SIZE_CLASSES; c++)
				max += !class_empty(&snap->arena_classes[a][c]);
		pts = calloc(max, sizeof(*pts));
		if (!pts)
			return la_fail(-ENOMEM, "out of memory");

		tracker_location(&pts[n].loc, LA_LOC_HEAP, 0, 0, 0, 0);
		pts[n].in_use = snap->totals.counts.in_use_bytes;
		pts[n++].free = snap->totals.free_bytes;
		for (unsigned a = 0; a < snap->n_arenas; a++) {
			const struct la_arena_stats *as = &snap->arenas[a];
			const struct la_counts *c = &as->counts;

			tracker_location(&pts[n].loc, LA_LOC_ARENA, as->is_main,
					 as->addr, 0, 0);
			pts[n].in_use = c->in_use_bytes;
			pts[n++].free = c->tcache_bytes + c->fastbin_bytes +
					c->bin_bytes + c->top_bytes;
		}
		for (unsigned c = 0; c < SIZE_CLASSES; c++)
			if (!class_empty(&snap->classes[c]))
				class_point(&pts[n++], LA_LOC_SIZE_CLASS, NULL,
					    c, &snap->classes[c]);
		for (unsigned a = 0; a < n_arena_tables; a++)
			for (unsigned c = 0; c < SIZE_CLASSES; c++)
				if (!class_empty(&snap->arena_classes[a][c]))
					class_point(&pts[n++],
						    LA_LOC_ARENA_SIZE_CLASS,
						    &snap->arenas[a], c,
						    &snap->arena_classes[a][c]);
		n += outside_points(t, snap, &pts[n]);
		if (snap->py.info.found)
			n += python_points(t, snap, &pts[n]);
	}
	s.points = pts;
	s.n_points = n;
	err = tracker_add_sample(t, &s);
	free(pts);
	if (err)
		return la_fail(err, "out of memory");
	return 0;
}

void
la_tracker_info(const struct la_tracker *t, struct la_tracker_info *out,
		size_t out_sz)
{
	struct la_tracker_info i = {
		.samples = t->samples,
		.approximate = t->approximate,
		.last_approximate = t->last_approximate,
		.first_time_unix_ns = t->first_time,
		.last_time_unix_ns = t->last_time,
		.leaks = t->by_verdict[LA_VERDICT_LEAK],
		.retention = t->by_verdict[LA_VERDICT_RETENTION],
		.growing = t->by_verdict[LA_VERDICT_GROWING],
		.locations = t->n,
		.plateau = t->by_verdict[LA_VERDICT_PLATEAU],
		.pending = t->pending,
	};

	out_give(out, out_sz, &i, sizeof(i));
}

unsigned
la_tracker_finding_count(const struct la_tracker *t)
{
	return t->nf;
}

int
la_tracker_finding(const struct la_tracker *t, unsigned i,
		   struct la_finding *out, size_t out_sz)
{
	return list_give(t->f, t->nf, sizeof(*t->f), i, out, out_sz);
}
