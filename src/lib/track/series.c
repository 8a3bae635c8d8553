/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * series.c - a location's bytes over its whole history in at most
 * SERIES_MAX points (series.h): adding, merging the oldest points, and
 * the one line of text that keeps it. Why merging this way, and what a
 * merged point means for the trend test: doc/design/tracker.md, "The
 * series each location keeps". It knows nothing of locations, files or
 * statistics.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "track/series.h"

void
series_init(struct series *s)
{
	memset(s, 0, sizeof(*s));
}

uint64_t
series_samples(const struct series *s)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < s->n && i < SERIES_MAX; i++)
		sum += s->p[i].samples;
	return sum;
}

/*
 * Merge p[i + 1] into p[i]. The mean time is p[i]'s plus the weighted
 * share of the distance to p[i + 1]'s, so that it stays between the
 * two (and so within the merged samples' times, which keeps the points'
 * times strictly rising); both means are rounded to nearest, half up.
 * The products fit in 128 bits: counts sum to less than 2^64
 * (series_add() and series_parse() see to it).
 */
static void
merge(struct series *s, unsigned i)
{
	struct series_point *a = &s->p[i], *b = &s->p[i + 1];
	uint64_t k = a->samples + b->samples;
	uint64_t dt = (uint64_t)b->time_unix_ns - (uint64_t)a->time_unix_ns;
	unsigned __int128 num;

	num = (unsigned __int128)dt * b->samples + k / 2;
	a->time_unix_ns =
		(int64_t)((uint64_t)a->time_unix_ns + (uint64_t)(num / k));
	num = (unsigned __int128)a->bytes * a->samples +
	      (unsigned __int128)b->bytes * b->samples + k / 2;
	a->bytes = (uint64_t)(num / k);
	a->samples = k;
	memmove(b, b + 1, (s->n - i - 2) * sizeof(*b));
	s->n--;
}

/*
 * The pair to merge among the older points p[0 .. SERIES_MAX - SERIES_RAW):
 * the oldest adjacent pair of equal counts, of the smallest such count.
 * series_add() only makes counts that are powers of two, non-increasing
 * from the oldest, so such a pair exists until 2^48 samples; a series
 * read from a file may hold other counts, and then the oldest pair of
 * the smallest sum is merged.
 */
static unsigned
pick_pair(const struct series *s)
{
	unsigned end = SERIES_MAX - SERIES_RAW, i, best = end;
	uint64_t best_k = UINT64_MAX, best_sum = UINT64_MAX;

	for (i = 0; i + 1 < end; i++)
		if (s->p[i].samples == s->p[i + 1].samples &&
		    s->p[i].samples < best_k) {
			best_k = s->p[i].samples;
			best = i;
		}
	if (best < end)
		return best;
	for (i = 0; i + 1 < end; i++)
		if (s->p[i].samples + s->p[i + 1].samples < best_sum) {
			best_sum = s->p[i].samples + s->p[i + 1].samples;
			best = i;
		}
	return best;
}

int
series_add(struct series *s, int64_t t, uint64_t bytes)
{
	if (s->n > 0 && t <= s->p[s->n - 1].time_unix_ns)
		return -EINVAL;
	if (series_samples(s) == UINT64_MAX)
		return -EOVERFLOW;
	if (s->n == 0)
		s->first_unix_ns = t;
	if (s->n == SERIES_MAX)
		merge(s, pick_pair(s));
	s->p[s->n].time_unix_ns = t;
	s->p[s->n].bytes = bytes;
	s->p[s->n].samples = 1;
	s->n++;
	return 0;
}

/*
 * What series_parse() accepts, checked on the struct: also what
 * series_write() refuses to write. Returns 0 or -EINVAL.
 */
static int
check(const struct series *s)
{
	uint64_t sum = 0;
	unsigned i;

	if (s->n > SERIES_MAX)
		return -EINVAL;
	for (i = 0; i < s->n; i++) {
		const struct series_point *p = &s->p[i];

		if (p->samples == 0 || sum > UINT64_MAX - p->samples)
			return -EINVAL;
		sum += p->samples;
		/* merged points only in a full series, never the newest */
		if (p->samples > 1 &&
		    (s->n < SERIES_MAX || i >= SERIES_MAX - SERIES_RAW))
			return -EINVAL;
		if (i == 0 ? p->time_unix_ns < s->first_unix_ns ||
				     (p->samples == 1 &&
				      p->time_unix_ns != s->first_unix_ns)
			   : p->time_unix_ns <= s->p[i - 1].time_unix_ns)
			return -EINVAL;
	}
	return 0;
}

int
series_write(const struct series *s, char *buf, size_t len)
{
	size_t off;
	unsigned i;
	int w;

	if (check(s))
		return -EINVAL;
	w = snprintf(buf, len, "series %u", s->n);
	if (w < 0)
		return -EINVAL;
	off = (size_t)w;
	if (s->n > 0) {
		w = snprintf(off < len ? buf + off : NULL,
			     off < len ? len - off : 0, " %" PRId64,
			     s->first_unix_ns);
		off += (size_t)w;
	}
	for (i = 0; i < s->n; i++) {
		int64_t prev = i ? s->p[i - 1].time_unix_ns : s->first_unix_ns;
		uint64_t d = (uint64_t)s->p[i].time_unix_ns - (uint64_t)prev;

		w = snprintf(off < len ? buf + off : NULL,
			     off < len ? len - off : 0,
			     " %" PRIu64 " %" PRIu64 " %" PRIu64,
			     s->p[i].samples, d, s->p[i].bytes);
		off += (size_t)w;
	}
	if (off >= len)
		return -ENOSPC;
	return (int)off;
}

/*
 * Decimal digits without a leading zero (but "0"), no sign, up to
 * UINT64_MAX. Advances *pp past them.
 */
static int
digits(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* One field: a space, then digits(). */
static int
field_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;

	if (*p++ != ' ' || digits(&p, out))
		return -EINVAL;
	*pp = p;
	return 0;
}

/* A space, an optional '-', digits() within int64_t; "-0" is refused. */
static int
field_i64(const char **pp, int64_t *out)
{
	const char *p = *pp;
	int neg;
	uint64_t v;

	if (*p++ != ' ')
		return -EINVAL;
	neg = *p == '-';
	p += neg;
	if (digits(&p, &v))
		return -EINVAL;
	if (neg) {
		if (v == 0 || v > (uint64_t)INT64_MAX + 1)
			return -EINVAL;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -EINVAL;
		*out = (int64_t)v;
	}
	*pp = p;
	return 0;
}

/*
 * A line of series_write(), e.g. (three raw points, an hour apart):
 *   series 3 1765148400000000000 1 0 52428800 1 3600000000000 52953088 1 3600000000000 53477376
 * Each time is checked to stay within int64_t as the deltas add up;
 * the rest (counts, order, where merged points may be) by check().
 */
int
series_parse(const char *text, struct series *s)
{
	static const char head[] = "series";
	struct series tmp;
	const char *p = text;
	uint64_t n, k, d, v;
	unsigned i;

	if (strncmp(p, head, sizeof(head) - 1))
		return -EINVAL;
	p += sizeof(head) - 1;
	if (field_u64(&p, &n) || n > SERIES_MAX)
		return -EINVAL;
	series_init(&tmp);
	tmp.n = (unsigned)n;
	if (n > 0 && field_i64(&p, &tmp.first_unix_ns))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int64_t prev =
			i ? tmp.p[i - 1].time_unix_ns : tmp.first_unix_ns;

		if (field_u64(&p, &k) || field_u64(&p, &d) || field_u64(&p, &v))
			return -EINVAL;
		/* prev + d must not pass INT64_MAX: the room is exact mod 2^64 */
		if (d > (uint64_t)INT64_MAX - (uint64_t)prev)
			return -EINVAL;
		tmp.p[i].time_unix_ns = (int64_t)((uint64_t)prev + d);
		tmp.p[i].samples = k;
		tmp.p[i].bytes = v;
	}
	if (*p != '\0' || check(&tmp))
		return -EINVAL;
	*s = tmp;
	return 0;
}

unsigned
series_points(const struct series *s, double *t_sec, double *y, unsigned max)
{
	unsigned n = s->n < max ? s->n : max, from = s->n - n, i;

	for (i = 0; i < n; i++) {
		const struct series_point *p = &s->p[from + i];

		/* the difference of two int64_t fits in uint64_t */
		t_sec[i] = (double)((uint64_t)p->time_unix_ns -
				    (uint64_t)s->first_unix_ns) /
			   1e9;
		y[i] = (double)p->bytes;
	}
	return n;
}

unsigned
series_raw_tail(const struct series *s, double *t_sec, double *y, unsigned max)
{
	unsigned n = 0;

	if (max > SERIES_RAW)
		max = SERIES_RAW;
	while (n < s->n && n < max && s->p[s->n - 1 - n].samples == 1)
		n++;
	/* the newest n points, as series_points() makes them */
	return series_points(s, t_sec, y, n);
}
