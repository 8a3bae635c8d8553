/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracker.c - the leak rule (leakattach(1) "LEAK RULE") over a series of
 * samples: per location, count the consecutive growths of its in-use
 * bytes between exact samples, and of its free bytes while the in-use
 * bytes stay flat; from those, decide leak, retention or growing. Also
 * la_tracker_add() (a snapshot made into a sample) and the state file
 * format of tracker.h. Not responsible for taking snapshots, for where the
 * state is kept (store.c) or for presenting findings (the CLI).
 *
 * Decisions the rule leaves open, made here:
 *  - A location absent from an exact sample has 0 bytes in it. One that
 *    appears grew from 0; as a relative growth is meaningless there, its
 *    growth percentage is recorded as 100.
 *  - Only the heap and arenas are judged for retention: the free bytes of
 *    one size class come and go with every malloc and free.
 *  - The growth rule compares integers where it can: a rise of d bytes
 *    over p counts when d > p * threshold / 100.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "tracker: "
#include "base/abi.h"
#include "base/checksum.h"
#include "base/error.h"
#include "base/log.h"
#include "snapshot.h"
#include "track/tracker.h"

/* One streak: consecutive growths of the watched bytes. */
struct streak {
	unsigned count;
	uint64_t base; /* the bytes before the first growth */
	int64_t base_time; /* of the sample they were seen in */
	int flagged; /* the verdict was reached (and reported as new) */
	unsigned n; /* min(count, LA_GROWTH_MAX) */
	double pct[LA_GROWTH_MAX]; /* oldest first */
};

struct entry {
	struct la_location loc;
	uint64_t in_use, free; /* at the latest exact sample */
	struct streak grow; /* of in-use bytes */
	struct streak retain; /* of free bytes while in-use bytes are flat */
};

struct la_tracker {
	struct la_rules rules;
	unsigned samples, approximate;
	int last_approximate;
	int64_t first_time, last_time, last_exact_time;
	struct entry *e; /* sorted by key (strcmp), keys unique */
	unsigned n;
	struct la_finding *f; /* room for n */
	unsigned nf;
	unsigned by_verdict[3];
	int full_logged;
};

void
la_rules_init(struct la_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->sz = sizeof(*r);
	r->threshold_pct = 2.0;
	r->consecutive = 3;
	r->min_size = 1024 * 1024;
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
	return 0;
}

static int
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
	}
}

static int
watches_free(enum la_location_kind kind)
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

/* One comparison with the previous exact sample. */
static void
entry_update(struct la_tracker *t, struct entry *e, uint64_t in_use,
	     uint64_t free_bytes)
{
	double th = t->rules.threshold_pct;
	int in_use_grew = grew(e->in_use, in_use, th);

	if (in_use_grew)
		streak_grow(&e->grow, e->in_use, in_use, t->last_exact_time);
	else
		streak_reset(&e->grow);
	if (!in_use_grew && watches_free(e->loc.kind) &&
	    grew(e->free, free_bytes, th))
		streak_grow(&e->retain, e->free, free_bytes,
			    t->last_exact_time);
	else
		streak_reset(&e->retain);
	e->in_use = in_use;
	e->free = free_bytes;
}

/* Nothing to remember: dropping it changes no verdict. */
static int
entry_idle(const struct entry *e)
{
	return !e->in_use && !e->free && !e->grow.count && !e->retain.count;
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
		break;
	}
	return 2;
}

/* Leaks, retention, growing; by bytes, largest first; then by key. */
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

/* The verdict the rules give entry e, or -1 when it is no finding. */
static int
entry_verdict(const struct la_rules *r, const struct entry *e)
{
	if (e->grow.count >= r->consecutive && e->in_use >= r->min_size)
		return LA_VERDICT_LEAK;
	if (watches_free(e->loc.kind) && e->retain.count >= r->consecutive &&
	    e->free >= r->min_size)
		return LA_VERDICT_RETENTION;
	/* a suspect below --min-size is never reported either */
	if (e->grow.count && e->in_use >= r->min_size)
		return LA_VERDICT_GROWING;
	return -1;
}

/*
 * The findings from the entries, into t->f (room for every finding).
 * fresh: after an exact sample, so that a verdict reached now is new (and
 * remembered as reported); otherwise (after loading a state) nothing is
 * new and nothing is remembered.
 */
static void
findings_compute(struct la_tracker *t, int fresh)
{
	t->nf = 0;
	memset(t->by_verdict, 0, sizeof(t->by_verdict));
	for (unsigned i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		struct la_finding *f = &t->f[t->nf];
		int v = entry_verdict(&t->rules, e);

		if (v == LA_VERDICT_LEAK) {
			finding_fill(t, e, LA_VERDICT_LEAK, &e->grow, e->in_use,
				     f);
			f->is_new = fresh && !e->grow.flagged;
		} else if (v == LA_VERDICT_RETENTION) {
			finding_fill(t, e, LA_VERDICT_RETENTION, &e->retain,
				     e->free, f);
			f->is_new = fresh && !e->retain.flagged;
		} else if (v == LA_VERDICT_GROWING) {
			finding_fill(t, e, LA_VERDICT_GROWING, &e->grow,
				     e->in_use, f);
		}
		if (fresh) {
			e->grow.flagged = v == LA_VERDICT_LEAK;
			e->retain.flagged = v == LA_VERDICT_RETENTION;
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

int
tracker_add_sample(struct la_tracker *t, const struct tracker_sample *s)
{
	const struct tracker_point **p;
	struct entry *ne;
	struct la_finding *nf;
	unsigned np = 0, n = 0, i = 0, j = 0, room, skipped = 0, nfc = 0;
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

	room = t->n < TRACKER_MAX_LOCATIONS ? TRACKER_MAX_LOCATIONS - t->n : 0;
	while ((c = merge_step(t, p, np, i, &j)) != 2) {
		struct entry e;

		if (c < 0) {
			/* Gone from this sample: it holds nothing now. */
			e = t->e[i++];
			entry_update(t, &e, 0, 0);
		} else if (c == 0) {
			e = t->e[i++];
			entry_update(t, &e, p[j]->in_use, p[j]->free);
			j++;
		} else {
			memset(&e, 0, sizeof(e));
			e.loc = p[j]->loc;
			if (compare) {
				entry_update(t, &e, p[j]->in_use, p[j]->free);
			} else {
				e.in_use = p[j]->in_use;
				e.free = p[j]->free;
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
	}
	for (unsigned k = 0; k < n; k++)
		nfc += entry_verdict(&t->rules, &ne[k]) >= 0;
	nf = malloc((nfc ? nfc : 1) * sizeof(*nf));
	if (!nf) {
		free(p);
		free(ne);
		return -ENOMEM;
	}
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
	findings_compute(t, 1);
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

int
la_tracker_add(struct la_tracker *t, const struct la_snapshot *snap)
{
	struct tracker_sample s = {
		.time_unix_ns = snap->info.time_unix_ns,
		.consistent = snap->info.consistent,
	};
	struct tracker_point *pts = NULL;
	unsigned n_arena_tables, n = 0;
	size_t max = 1 + snap->n_arenas;
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

/* ---- The state file (format in tracker.h) ------------------------------ */

/* The longest line written is a streak: about 60 + 16 * 25 characters. */
#define STATE_LINE_MAX 1024
#define STATE_TOKENS_MAX (6 + LA_GROWTH_MAX)

/* FNV-1a (checksum.h): a damaged state must not pass. */

struct state_out {
	FILE *f;
	uint64_t sum;
	char line[STATE_LINE_MAX];
	size_t len;
	int err;
};

static void __attribute__((format(printf, 2, 3)))
out_add(struct state_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->line + o->len, sizeof(o->line) - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(o->line) - o->len)
		o->err = -EOVERFLOW; /* cannot happen: lines are bounded */
	else
		o->len += (size_t)n;
}

static void
out_end_line(struct state_out *o)
{
	out_add(o, "\n");
	if (!o->err) {
		o->sum = fnv1a(o->sum, o->line, o->len);
		if (fputs(o->line, o->f) == EOF)
			o->err = -EIO;
	}
	o->len = 0;
}

static void
out_streak(struct state_out *o, const char *word, const struct streak *s)
{
	out_add(o, "%s %u %llu %lld %d %u", word, s->count,
		(unsigned long long)s->base, (long long)s->base_time,
		s->flagged, s->n);
	for (unsigned i = 0; i < s->n; i++)
		out_add(o, " %.17g", s->pct[i]);
	out_end_line(o);
}

int
tracker_write(const struct la_tracker *t, FILE *f)
{
	struct state_out o = {.f = f, .sum = FNV_INIT};

	out_add(&o, "%s %d", TRACKER_STATE_MAGIC, TRACKER_STATE_VERSION);
	out_end_line(&o);
	out_add(&o, "samples %u approximate %u last_approximate %d", t->samples,
		t->approximate, t->last_approximate);
	out_end_line(&o);
	out_add(&o, "time %lld %lld %lld", (long long)t->first_time,
		(long long)t->last_time, (long long)t->last_exact_time);
	out_end_line(&o);
	out_add(&o, "locations %u", t->n);
	out_end_line(&o);
	for (unsigned i = 0; i < t->n && !o.err; i++) {
		const struct entry *e = &t->e[i];

		out_add(&o, "loc %s %d %d 0x%llx %llu %llu %llu %llu",
			e->loc.key, (int)e->loc.kind, e->loc.arena_is_main,
			(unsigned long long)e->loc.arena_addr,
			(unsigned long long)e->loc.chunk_size_min,
			(unsigned long long)e->loc.chunk_size_max,
			(unsigned long long)e->in_use,
			(unsigned long long)e->free);
		out_end_line(&o);
		out_streak(&o, "grow", &e->grow);
		out_streak(&o, "retain", &e->retain);
	}
	if (!o.err) {
		out_add(&o, "end %016llx", (unsigned long long)o.sum);
		out_end_line(&o);
	}
	if (!o.err && ferror(f))
		o.err = -EIO;
	return o.err == -EOVERFLOW ? -EIO : o.err;
}

struct state_in {
	FILE *f;
	unsigned lineno;
	uint64_t sum, sum_before; /* of every byte read; before this line */
	char line[STATE_LINE_MAX];
	char *tok[STATE_TOKENS_MAX];
	unsigned ntok;
};

static int __attribute__((format(printf, 2, 3)))
bad(const struct state_in *in, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (in->lineno)
		return la_fail(-LA_EBADSTATE, "line %u: %s", in->lineno, why);
	return la_fail(-LA_EBADSTATE, "%s", why);
}

/* Read one line ending in "\n" and split it at single spaces. */
static int
next_line(struct state_in *in)
{
	size_t len = 0;
	char *p;
	int c;

	in->lineno++;
	for (;;) {
		c = getc(in->f);
		if (c == EOF) {
			if (ferror(in->f))
				return la_fail(-EIO,
					       "the state file cannot be read");
			return len ? bad(in, "cut short")
				   : bad(in,
					 "the file ends before its end line");
		}
		if (c == '\n')
			break;
		if (c == '\0')
			return bad(in, "a NUL byte");
		if (len + 1 >= sizeof(in->line))
			return bad(in, "longer than %d characters",
				   STATE_LINE_MAX - 1);
		in->line[len++] = (char)c;
	}
	in->line[len] = '\0';
	in->sum_before = in->sum;
	in->sum = fnv1a(fnv1a(in->sum, in->line, len), "\n", 1);

	in->ntok = 0;
	p = in->line;
	for (;;) {
		char *sp = strchr(p, ' ');

		if (in->ntok == STATE_TOKENS_MAX)
			return bad(in, "too many fields");
		if (sp == p || !*p)
			return bad(in, "an empty field");
		in->tok[in->ntok++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return 0;
}

static int
expect(struct state_in *in, const char *word, unsigned ntok)
{
	int err = next_line(in);

	if (err)
		return err;
	if (strcmp(in->tok[0], word))
		return bad(in, "\"%s\" where \"%s\" belongs", in->tok[0], word);
	if (ntok && in->ntok != ntok)
		return bad(in, "%u fields instead of %u", in->ntok, ntok);
	return 0;
}

static int
expect_word(struct state_in *in, unsigned i, const char *word)
{
	if (strcmp(in->tok[i], word))
		return bad(in, "\"%s\" where \"%s\" belongs", in->tok[i], word);
	return 0;
}

/* Decimal digits only: no sign, no spaces, no empty string. */
static int
get_u64(struct state_in *in, unsigned i, uint64_t max, uint64_t *out)
{
	const char *s = in->tok[i];
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return bad(in, "\"%s\" is not a number", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return bad(in, "\"%s\" is not a number", s);
	if (v > max)
		return bad(in, "%s is out of range", s);
	*out = v;
	return 0;
}

static int
get_uint(struct state_in *in, unsigned i, unsigned max, unsigned *out)
{
	uint64_t v;
	int err = get_u64(in, i, max, &v);

	if (!err)
		*out = (unsigned)v;
	return err;
}

static int
get_hex(struct state_in *in, unsigned i, uint64_t *out)
{
	const char *s = in->tok[i];
	unsigned long long v;
	char *end;

	/* Lower-case digits after "0x", as written; strtoull takes more. */
	if (strncmp(s, "0x", 2) || !s[2] ||
	    strspn(s + 2, "0123456789abcdef") != strlen(s + 2))
		return bad(in, "\"%s\" is not a hexadecimal number", s);
	errno = 0;
	v = strtoull(s + 2, &end, 16);
	if (*end || errno)
		return bad(in, "\"%s\" is not a hexadecimal number", s);
	*out = v;
	return 0;
}

static int
get_i64(struct state_in *in, unsigned i, int64_t *out)
{
	const char *s = in->tok[i];
	const char *d = *s == '-' ? s + 1 : s;
	long long v;
	char *end;

	if (*d < '0' || *d > '9')
		return bad(in, "\"%s\" is not a number", s);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno)
		return bad(in, "\"%s\" is not a number", s);
	*out = v;
	return 0;
}

static int
get_pct(struct state_in *in, unsigned i, double *out)
{
	const char *s = in->tok[i];
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return bad(in, "\"%s\" is not a percentage", s);
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v) || v < 0)
		return bad(in, "\"%s\" is not a percentage", s);
	*out = v;
	return 0;
}

/* "grow C BASE BASE_TIME FLAGGED N P1 ... PN" */
static int
read_streak(struct state_in *in, const char *word, uint64_t bytes, int may_have,
	    struct streak *s)
{
	uint64_t base = 0;
	unsigned flagged = 0;
	int err;

	memset(s, 0, sizeof(*s));
	err = expect(in, word, 0);
	if (!err && in->ntok < 6)
		err = bad(in, "%u fields, at least 6 belong", in->ntok);
	if (!err)
		err = get_uint(in, 1, UINT_MAX, &s->count);
	if (!err)
		err = get_u64(in, 2, UINT64_MAX, &base);
	if (!err)
		err = get_i64(in, 3, &s->base_time);
	if (!err)
		err = get_uint(in, 4, 1, &flagged);
	if (!err)
		err = get_uint(in, 5, LA_GROWTH_MAX, &s->n);
	if (err)
		return err;
	s->base = base;
	s->flagged = (int)flagged;
	if (s->n != (s->count < LA_GROWTH_MAX ? s->count : LA_GROWTH_MAX))
		return bad(in, "%u growths kept of a streak of %u", s->n,
			   s->count);
	if (in->ntok != 6 + s->n)
		return bad(in, "%u fields instead of %u", in->ntok, 6 + s->n);
	for (unsigned i = 0; i < s->n; i++) {
		err = get_pct(in, 6 + i, &s->pct[i]);
		if (err)
			return err;
	}
	if (!s->count && (s->base || s->base_time || s->flagged))
		return bad(in, "an empty streak with a beginning");
	/* Each growth is a strict rise, so the streak began below now. */
	if (s->count && s->base >= bytes)
		return bad(in,
			   "a streak that began above the bytes it reached");
	if (s->count && !may_have)
		return bad(in, "a size class cannot have a retention streak");
	return 0;
}

/*
 * "loc KEY KIND MAIN ADDR MIN MAX IN_USE FREE" and its two streaks; prev
 * is the location before it, which must have a smaller key.
 */
static int
read_entry(struct state_in *in, const struct entry *prev, struct entry *e)
{
	uint64_t addr = 0, min = 0, max = 0, in_use = 0, free_bytes = 0;
	unsigned kind = 0, is_main = 0;
	int err;

	memset(e, 0, sizeof(*e));
	err = expect(in, "loc", 9);
	if (!err)
		err = get_uint(in, 2, LA_LOC_ARENA_SIZE_CLASS, &kind);
	if (!err)
		err = get_uint(in, 3, 1, &is_main);
	if (!err)
		err = get_hex(in, 4, &addr);
	if (!err)
		err = get_u64(in, 5, UINT64_MAX, &min);
	if (!err)
		err = get_u64(in, 6, UINT64_MAX, &max);
	if (!err)
		err = get_u64(in, 7, UINT64_MAX, &in_use);
	if (!err)
		err = get_u64(in, 8, UINT64_MAX, &free_bytes);
	if (err)
		return err;
	tracker_location(&e->loc, (enum la_location_kind)kind, (int)is_main,
			 addr, min, max);
	if (e->loc.arena_is_main != (int)is_main || e->loc.arena_addr != addr ||
	    e->loc.chunk_size_min != min || e->loc.chunk_size_max != max)
		return bad(in, "fields that a %s location does not have",
			   e->loc.key);
	if (min > max)
		return bad(in, "a size class from %llu down to %llu",
			   (unsigned long long)min, (unsigned long long)max);
	if (strcmp(e->loc.key, in->tok[1]))
		return bad(in, "key %s for location %s", in->tok[1],
			   e->loc.key);
	if (prev && strcmp(prev->loc.key, e->loc.key) >= 0)
		return bad(in, "location %s out of order or repeated",
			   e->loc.key);
	e->in_use = in_use;
	e->free = free_bytes;
	err = read_streak(in, "grow", e->in_use, 1, &e->grow);
	if (!err)
		err = read_streak(in, "retain", e->free,
				  watches_free(e->loc.kind), &e->retain);
	if (!err && e->grow.count && e->retain.count)
		err = bad(in, "in-use and free bytes cannot both be growing");
	return err;
}

static int
read_header(struct state_in *in, struct la_tracker *t, unsigned *n)
{
	unsigned version = 0, last_approximate = 0;
	int err;

	err = next_line(in);
	if (err)
		return err;
	if (in->ntok != 2 || strcmp(in->tok[0], TRACKER_STATE_MAGIC))
		return bad(in, "not a leakattach state file");
	err = get_uint(in, 1, UINT_MAX, &version);
	if (err)
		return err;
	if (version != TRACKER_STATE_VERSION)
		return bad(in, "version %u, this leakattach reads version %d",
			   version, TRACKER_STATE_VERSION);

	err = expect(in, "samples", 6);
	if (!err)
		err = get_uint(in, 1, UINT_MAX, &t->samples);
	if (!err)
		err = expect_word(in, 2, "approximate");
	if (!err)
		err = get_uint(in, 3, t->samples, &t->approximate);
	if (!err)
		err = expect_word(in, 4, "last_approximate");
	if (!err)
		err = get_uint(in, 5, 1, &last_approximate);
	if (err)
		return err;
	t->last_approximate = (int)last_approximate;
	if (t->last_approximate && !t->approximate)
		return bad(in, "the last sample is approximate, yet none is");

	err = expect(in, "time", 4);
	if (!err)
		err = get_i64(in, 1, &t->first_time);
	if (!err)
		err = get_i64(in, 2, &t->last_time);
	if (!err)
		err = get_i64(in, 3, &t->last_exact_time);
	if (err)
		return err;

	err = expect(in, "locations", 2);
	if (!err)
		err = get_uint(in, 1, TRACKER_MAX_LOCATIONS, n);
	if (err)
		return err;
	if (t->samples == t->approximate && (*n || t->last_exact_time))
		return bad(in, "locations without an exact sample");
	return 0;
}

static int
read_state(struct state_in *in, struct la_tracker *t)
{
	unsigned n = 0, cap = 0;
	uint64_t sum;
	int err;

	err = read_header(in, t, &n);
	if (err)
		return err;
	for (unsigned i = 0; i < n; i++) {
		if (t->n == cap) {
			/* Grow as lines arrive: a cut file costs no more. */
			unsigned ncap = cap ? 2 * cap : 64;
			void *ne, *nf;

			if (ncap > n)
				ncap = n;
			ne = realloc(t->e, ncap * sizeof(*t->e));
			if (ne)
				t->e = ne;
			nf = realloc(t->f, ncap * sizeof(*t->f));
			if (nf)
				t->f = nf;
			if (!ne || !nf)
				return la_fail(-ENOMEM, "out of memory");
			cap = ncap;
		}
		err = read_entry(in, t->n ? &t->e[t->n - 1] : NULL,
				 &t->e[t->n]);
		if (err)
			return err;
		t->n++;
	}
	err = expect(in, "end", 2);
	if (err)
		return err;
	sum = in->sum_before;
	if (strlen(in->tok[1]) != 16)
		return bad(in, "\"%s\" is not a checksum", in->tok[1]);
	{
		char want[17];

		snprintf(want, sizeof(want), "%016llx",
			 (unsigned long long)sum);
		if (strcmp(want, in->tok[1]))
			return bad(in, "checksum %s, the content sums to %s",
				   in->tok[1], want);
	}
	if (getc(in->f) != EOF)
		return bad(in, "more after the end line");
	if (ferror(in->f))
		return la_fail(-EIO, "the state file cannot be read");
	return 0;
}

int
tracker_read(FILE *f, const struct la_rules *rules, struct la_tracker **out)
{
	struct state_in in = {.f = f, .sum = FNV_INIT};
	struct la_tracker *t;
	int err;

	*out = NULL;
	err = tracker_new(rules, &t);
	if (err)
		return err;
	err = read_state(&in, t);
	if (err) {
		la_tracker_free(t);
		return err;
	}
	findings_compute(t, 0);
	*out = t;
	return 0;
}
