/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracker_state.c - the tracker's state file (format in tracker.h):
 * tracker_write() and tracker_read(). Strict on reading: every field is
 * range-checked, keys must match their fields and come in order, and a
 * checksum covers everything before the "end" line, so that a truncated,
 * edited or damaged state is refused (-LA_EBADSTATE, naming the line)
 * rather than giving a wrong verdict. Not responsible for the rule
 * (tracker.c) or for where the file lives (store.c). Why text, why
 * strict: doc/design/tracker.md, "The state file".
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/error.h"
#include "track/tracker.h"
#include "track/tracker_int.h"

/* The longest line written is a streak: about 60 + 16 * 25 characters. */
/* a series line is the longest (series.h), then a streak's */
#define STATE_LINE_MAX \
	(SERIES_LINE_MAX + 16 > 1024 ? SERIES_LINE_MAX + 16 : 1024)
#define STATE_TOKENS_MAX (3 + 3 * SERIES_MAX)

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

/* A location's series, and "trend 1" when its trend leak was reported. */
static void
out_series(struct state_out *o, const struct entry *e)
{
	char buf[SERIES_LINE_MAX];

	if (series_write(e->series, buf, sizeof(buf)) < 0) {
		o->err = -EIO;
		return;
	}
	out_add(o, "%s", buf);
	out_end_line(o);
	if (e->tr.flagged) {
		out_add(o, "trend 1");
		out_end_line(o);
	}
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
		if (e->loc.kind == LA_LOC_PYTHON_TYPE) {
			out_add(&o, "objects %llu %llu",
				(unsigned long long)e->objects,
				(unsigned long long)e->base_objects);
			out_end_line(&o);
		}
		if (e->was.count) {
			out_add(&o, "plateau %u%s", e->flat,
				e->was_trend ? " trend" : "");
			out_end_line(&o);
			out_streak(&o, "was", &e->was);
		}
		if (e->series)
			out_series(&o, e);
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
	int held; /* the line read is not taken yet: next_line() gives it */
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

	if (in->held) {
		in->held = 0;
		return 0;
	}
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
				   (int)STATE_LINE_MAX - 1);
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

/* A python type's "objects OBJECTS BASE" (tracker.h). */
static int
read_objects(struct state_in *in, struct entry *e)
{
	int err = expect(in, "objects", 3);

	if (!err)
		err = get_u64(in, 1, UINT64_MAX, &e->objects);
	if (!err)
		err = get_u64(in, 2, UINT64_MAX, &e->base_objects);
	if (!err && !e->grow.count && e->base_objects)
		err = bad(in, "objects when a streak began, without a streak");
	return err;
}

/*
 * The optional "plateau FLAT" and "was ..." of a leak that stopped
 * (tracker.h); any other line is left for the next reader.
 */
static int
read_plateau(struct state_in *in, struct entry *e)
{
	int err = next_line(in);

	if (err)
		return err;
	if (strcmp(in->tok[0], "plateau")) {
		in->held = 1;
		return 0;
	}
	if (in->ntok != 2 && (in->ntok != 3 || strcmp(in->tok[2], "trend")))
		return bad(in, "%u fields instead of 2, or 3 ending in trend",
			   in->ntok);
	e->was_trend = in->ntok == 3;
	err = get_uint(in, 1, UINT_MAX, &e->flat);
	/* the bytes may have fallen since the leak stopped: no bound */
	if (!err)
		err = read_streak(in, "was", UINT64_MAX, 1, &e->was);
	if (!err && !e->was.count)
		err = bad(in, "a plateau without the leak before it");
	return err;
}

/*
 * The optional "series ..." of a location (series.h: its line, whose
 * fields are single-spaced, as the tokens join back) and "trend 1" after
 * it; any other line is left for the next reader.
 */
static int
read_series(struct state_in *in, struct entry *e)
{
	char text[SERIES_LINE_MAX];
	size_t len = 0;
	int err = next_line(in);

	if (err)
		return err;
	if (strcmp(in->tok[0], "series")) {
		in->held = 1;
		return 0;
	}
	for (unsigned i = 0; i < in->ntok; i++) {
		size_t k = strlen(in->tok[i]);

		if (len + k + 2 > sizeof(text))
			return bad(in, "a series too long");
		if (i)
			text[len++] = ' ';
		memcpy(text + len, in->tok[i], k);
		len += k;
	}
	text[len] = '\0';
	e->series = malloc(sizeof(*e->series));
	if (!e->series)
		return la_fail(-ENOMEM, "out of memory");
	if (series_parse(text, e->series)) {
		free(e->series);
		e->series = NULL;
		return bad(in, "a malformed series");
	}
	err = next_line(in);
	if (err)
		return err;
	if (strcmp(in->tok[0], "trend")) {
		in->held = 1;
		return 0;
	}
	if (in->ntok != 2 || strcmp(in->tok[1], "1"))
		return bad(in, "a trend line other than \"trend 1\"");
	e->tr.flagged = 1;
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
		err = get_uint(in, 2, LA_LOC_PYTHON_TYPE, &kind);
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
	if (kind == LA_LOC_PYTHON_TYPE) {
		if (strncmp(in->tok[1], "python:", 7) ||
		    tracker_python_location(&e->loc, in->tok[1] + 7))
			return bad(in, "%s is not the key of a python type",
				   in->tok[1]);
	} else {
		tracker_location(&e->loc, (enum la_location_kind)kind,
				 (int)is_main, addr, min, max);
	}
	if (e->loc.arena_is_main != (int)is_main || e->loc.arena_addr != addr ||
	    e->loc.chunk_size_min != min || e->loc.chunk_size_max != max)
		return bad(in, "fields that a %s location does not have",
			   e->loc.key);
	if ((e->loc.kind == LA_LOC_OUTSIDE ||
	     e->loc.kind == LA_LOC_PYTHON_TYPE) &&
	    free_bytes)
		return bad(in, "free bytes in %s, which has none", e->loc.key);
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
				  tracker_watches_free(e->loc.kind),
				  &e->retain);
	if (!err && e->grow.count && e->retain.count)
		err = bad(in, "in-use and free bytes cannot both be growing");
	if (!err && e->loc.kind == LA_LOC_PYTHON_TYPE)
		err = read_objects(in, e);
	if (!err)
		err = read_plateau(in, e);
	if (!err)
		err = read_series(in, e);
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
	tracker_findings_compute(t, 0);
	*out = t;
	return 0;
}
