/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_series.c - a location's series (src/lib/track/series.c): 10,000
 * hourly samples stay within SERIES_MAX points, keep their first time,
 * their newest SERIES_RAW samples raw and every sample counted; the older
 * points are merged oldest first and evenly; a linear series stays on its
 * line through merging, even with gaps of days; a location that drops to
 * 0 bytes is kept as it is; the line of text reads back exactly, and
 * malformed, truncated or damaged lines are refused, never a crash. The
 * state's size per location is measured and logged (not asserted, but
 * for its bound SERIES_LINE_MAX). Random inputs come from a fixed seed.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/series.h"

#define SEC 1000000000ll
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define MiB (1024ull * 1024)
/* 2026-12-07T00:00:00Z */
#define T0 1796601600000000000ll

/* ---- helpers ---------------------------------------------------------- */

/* splitmix64: a fixed sequence from a fixed seed, the same everywhere */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* in [lo, hi] */
static uint64_t
rnd_in(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + rnd(state) % (hi - lo + 1);
}

static void
add(struct series *s, int64_t t, uint64_t v)
{
	int r = series_add(s, t, v);

	cr_assert_eq(r, 0, "series_add(%" PRId64 ", %" PRIu64 ") = %d", t, v,
		     r);
}

/* samples hourly from T0 around 50 MiB, +-3 % */
static void
hourly(struct series *s, unsigned samples, uint64_t seed)
{
	unsigned i;

	series_init(s);
	for (i = 0; i < samples; i++)
		add(s, T0 + (int64_t)i * HOUR + (int64_t)rnd_in(&seed, 0, SEC),
		    rnd_in(&seed, 50 * MiB * 97 / 100, 50 * MiB * 103 / 100));
}

static int
is_pow2(uint64_t k)
{
	return k && !(k & (k - 1));
}

/*
 * What series_add() promises after any number of samples: at most
 * SERIES_MAX points, times rising, the newest SERIES_RAW raw; the older
 * counts powers of two, never growing from oldest to newest; below the
 * two largest counts (the bulk), at most two points of each count (the
 * tail that carries raw samples up to the bulk, as a binary counter
 * carries its bits).
 */
static void
assert_shape(const struct series *s)
{
	unsigned i, old = s->n > SERIES_RAW ? s->n - SERIES_RAW : 0, same = 0;

	cr_assert_leq(s->n, SERIES_MAX);
	for (i = 1; i < s->n; i++)
		cr_assert_gt(s->p[i].time_unix_ns, s->p[i - 1].time_unix_ns,
			     "point %u", i);
	for (i = old; i < s->n; i++)
		cr_assert_eq(s->p[i].samples, 1, "newest point %u merged", i);
	for (i = 0; i < old; i++) {
		uint64_t k = s->p[i].samples;

		cr_assert(is_pow2(k), "point %u: %" PRIu64, i, k);
		if (i == 0)
			continue;
		cr_assert_leq(k, s->p[i - 1].samples,
			      "point %u: %" PRIu64 " after %" PRIu64, i, k,
			      s->p[i - 1].samples);
		same = k == s->p[i - 1].samples ? same + 1 : 0;
		if (k < s->p[0].samples / 2)
			cr_assert_lt(same, 2, "point %u: a third of %" PRIu64,
				     i, k);
	}
}

static size_t
line_of(const struct series *s, char *buf)
{
	int w = series_write(s, buf, SERIES_LINE_MAX);

	cr_assert_geq(w, 0, "series_write() = %d", w);
	cr_assert_lt((size_t)w, SERIES_LINE_MAX);
	cr_assert_eq(strlen(buf), (size_t)w);
	return (size_t)w;
}

/* ---- adding and merging ----------------------------------------------- */

Test(series, hourly_for_10000_hours_stays_bounded_and_whole)
{
	static struct series s;
	uint64_t seed = 1, sum = 0;
	int64_t times[10000];
	uint64_t bytes[10000];
	unsigned i;

	series_init(&s);
	for (i = 0; i < 10000; i++) {
		times[i] = T0 + (int64_t)i * HOUR +
			   (int64_t)rnd_in(&seed, 0, 30 * SEC);
		bytes[i] = rnd_in(&seed, 0, 64 * MiB);
		add(&s, times[i], bytes[i]);
		assert_shape(&s);
	}
	cr_assert_eq(s.n, SERIES_MAX);
	cr_assert_eq(s.first_unix_ns, times[0], "the first time is kept");
	/* the oldest point's mean time is within its first samples */
	cr_assert_geq(s.p[0].time_unix_ns, times[0]);
	cr_assert_lt(s.p[0].time_unix_ns, times[s.p[0].samples - 1] + 1);
	for (i = 0; i < SERIES_RAW; i++) {
		const struct series_point *p =
			&s.p[SERIES_MAX - SERIES_RAW + i];

		cr_assert_eq(p->time_unix_ns, times[10000 - SERIES_RAW + i]);
		cr_assert_eq(p->bytes, bytes[10000 - SERIES_RAW + i]);
		cr_assert_eq(p->samples, 1);
	}
	for (i = 0; i < s.n; i++)
		sum += s.p[i].samples;
	cr_assert_eq(sum, 10000, "merged counts sum to %" PRIu64, sum);
	cr_assert_eq(series_samples(&s), 10000);
}

/*
 * Each point's mean is the mean of exactly the samples it stands for:
 * replay the samples in the points' order and compare, within a unit of
 * rounding per merge level.
 */
Test(series, a_point_is_the_mean_of_its_own_samples)
{
	static struct series s;
	static int64_t times[3000];
	static uint64_t bytes[3000];
	uint64_t seed = 2, from = 0;
	unsigned i, j;

	series_init(&s);
	for (i = 0; i < 3000; i++) {
		times[i] = T0 + (int64_t)i * 5 * SEC +
			   (int64_t)rnd_in(&seed, 0, 4 * SEC);
		bytes[i] = rnd_in(&seed, 0, 1ull << 40);
		add(&s, times[i], bytes[i]);
	}
	for (i = 0; i < s.n; i++) {
		const struct series_point *p = &s.p[i];
		long double mt = 0, mv = 0, levels = log2((double)p->samples);

		for (j = 0; j < p->samples; j++) {
			mt += (long double)(times[from + j] - T0);
			mv += (long double)bytes[from + j];
		}
		mt /= p->samples;
		mv /= p->samples;
		cr_assert_leq(fabsl((long double)(p->time_unix_ns - T0) - mt),
			      0.5 * levels + 0.5, "point %u time", i);
		cr_assert_leq(fabsl((long double)p->bytes - mv),
			      0.5 * levels + 0.5, "point %u bytes", i);
		from += p->samples;
	}
	cr_assert_eq(from, 3000);
}

/*
 * A series read from a file may hold counts series_add() never makes (no
 * equal pair among the older points): the pair of the smallest sum is
 * merged, oldest first, into the means weighted by the counts.
 */
Test(series, unequal_counts_merge_into_weighted_means)
{
	static struct series s, r;
	static char buf[SERIES_LINE_MAX];
	unsigned i;

	series_init(&s);
	s.n = SERIES_MAX;
	s.first_unix_ns = T0;
	for (i = 0; i < SERIES_MAX; i++) {
		int raw = i >= SERIES_MAX - SERIES_RAW;

		/* counts 3, 4, 5, ... 50: no two equal, 3 + 4 the least */
		s.p[i].samples = raw ? 1 : 3 + i;
		s.p[i].time_unix_ns = T0 + 1000 * (int64_t)i;
		s.p[i].bytes = 1000 * (uint64_t)i;
	}
	s.p[0].time_unix_ns = T0 + 100;
	s.p[0].bytes = 700;
	line_of(&s, buf);
	cr_assert_eq(series_parse(buf, &r), 0, "%s", buf);
	add(&r, T0 + 1000 * SERIES_MAX, 5);
	cr_assert_eq(r.n, SERIES_MAX);
	cr_assert_eq(series_samples(&r), series_samples(&s) + 1);
	cr_assert_eq(r.p[0].samples, 7);
	/* (100 * 3 + 1000 * 4) / 7 = 614.29; (700 * 3 + 1000 * 4) / 7 = 871.43 */
	cr_assert_eq(r.p[0].time_unix_ns, T0 + 614);
	cr_assert_eq(r.p[0].bytes, 871);
	for (i = 1; i < SERIES_MAX - 1; i++)
		cr_assert_eq(memcmp(&r.p[i], &s.p[i + 1], sizeof(r.p[i])), 0,
			     "point %u", i);
	cr_assert_eq(r.p[SERIES_MAX - 1].bytes, 5);
}

/*
 * A leak of 10 MiB an hour sampled at uneven times (gaps from a second to
 * three days): every point, merged or not, lies on the line within
 * rounding, so the trend test sees the same slope as on raw samples.
 */
Test(series, a_linear_series_stays_on_its_line)
{
	static struct series s;
	const double slope = 10.0 * MiB / (double)HOUR; /* bytes per ns */
	const double base = 100.0 * MiB;
	uint64_t seed = 3;
	int64_t t = T0;
	unsigned i;

	series_init(&s);
	for (i = 0; i < 5000; i++) {
		add(&s, t, (uint64_t)llround(base + slope * (double)(t - T0)));
		t += (int64_t)(rnd(&seed) % 8 == 0
				       ? rnd_in(&seed, SEC, 3 * DAY)
				       : rnd_in(&seed, HOUR / 2, 2 * HOUR));
	}
	cr_assert_eq(s.n, SERIES_MAX);
	for (i = 0; i < s.n; i++) {
		double levels = log2((double)s.p[i].samples);
		double on_line =
			base + slope * (double)(s.p[i].time_unix_ns - T0);
		/* a sample's rounding, then half a unit of time and of
		 * bytes per merge level */
		double tol = 0.5 + 0.5 * levels * (1 + slope);

		cr_assert_leq(fabs((double)s.p[i].bytes - on_line), tol,
			      "point %u (%" PRIu64 " samples): %" PRIu64
			      " bytes, the line %.1f",
			      i, s.p[i].samples, s.p[i].bytes, on_line);
	}
}

Test(series, a_location_gone_and_gaps_of_days_are_kept_as_they_are)
{
	struct series s;
	const int64_t t[] = {T0,	   T0 + HOUR,	     T0 + 2 * HOUR,
			     T0 + 5 * DAY, T0 + 5 * DAY + 1, T0 + 40 * DAY};
	const uint64_t v[] = {8 * MiB, 9 * MiB, 0, 0, 12 * MiB, 0};
	unsigned i;

	series_init(&s);
	for (i = 0; i < 6; i++)
		add(&s, t[i], v[i]);
	cr_assert_eq(s.n, 6, "nothing interpolated");
	for (i = 0; i < 6; i++) {
		cr_assert_eq(s.p[i].time_unix_ns, t[i]);
		cr_assert_eq(s.p[i].bytes, v[i]);
		cr_assert_eq(s.p[i].samples, 1);
	}
}

Test(series, a_time_not_after_the_last_is_refused_and_changes_nothing)
{
	struct series s, before;

	series_init(&s);
	add(&s, T0, 1);
	add(&s, T0 + SEC, 2);
	before = s;
	cr_assert_eq(series_add(&s, T0 + SEC, 3), -EINVAL);
	cr_assert_eq(series_add(&s, T0, 3), -EINVAL);
	cr_assert_eq(series_add(&s, INT64_MIN, 3), -EINVAL);
	cr_assert_eq(memcmp(&s, &before, sizeof(s)), 0);
	add(&s, T0 + SEC + 1, 3);
	cr_assert_eq(s.n, 3);
}

Test(series, extreme_times_and_bytes_merge_without_overflow)
{
	static struct series s;
	unsigned i;

	series_init(&s);
	for (i = 0; i < 1000; i++)
		add(&s,
		    i == 0     ? INT64_MIN
		    : i == 999 ? INT64_MAX
			       : (int64_t)((uint64_t)INT64_MIN +
					   i * (UINT64_MAX / 1000)),
		    i % 2 ? UINT64_MAX : 0);
	assert_shape(&s);
	cr_assert_eq(series_samples(&s), 1000);
	cr_assert_eq(s.first_unix_ns, INT64_MIN);
	cr_assert_eq(s.p[s.n - 1].time_unix_ns, INT64_MAX);
	for (i = 0; i < s.n; i++) /* 0 and max in pairs: half max */
		if (s.p[i].samples > 1)
			cr_assert_eq(s.p[i].bytes, UINT64_MAX / 2 + 1,
				     "point %u", i);
}

/*
 * The figures of series.h and doc/design/tracker.md, "The series each
 * location keeps": after S samples the first time is kept and no point
 * stands for more than S/16 of them (true up to 8 million samples).
 */
static void
coverage(unsigned samples)
{
	static struct series s;
	unsigned i, bulk = 0;

	series_init(&s);
	for (i = 0; i < samples; i++)
		add(&s, T0 + (int64_t)i * SEC, i);
	assert_shape(&s);
	cr_assert_eq(s.first_unix_ns, T0);
	cr_assert_eq(series_samples(&s), samples);
	cr_assert_leq(s.p[0].samples * 16, samples,
		      "%u samples: the oldest point has %" PRIu64, samples,
		      s.p[0].samples);
	for (i = 0; i < s.n; i++)
		bulk += s.p[i].samples * 2 >= s.p[0].samples;
	cr_log_info("coverage: %u samples in %u points, the oldest of %" PRIu64
		    " samples, %u points of it or half of it",
		    samples, s.n, s.p[0].samples, bulk);
}

Test(series, coverage_as_documented)
{
	coverage(168); /* a week, hourly */
	coverage(720); /* 30 days, hourly */
	coverage(10000);
	coverage(86400); /* a day, every second */
	coverage(7 * 86400); /* a week, every second */
}

Test(series, points_as_doubles_from_the_first_sample)
{
	static struct series s;
	double t[SERIES_MAX], y[SERIES_MAX];
	unsigned i, n;

	hourly(&s, 500, 4);
	n = series_points(&s, t, y, SERIES_MAX);
	cr_assert_eq(n, s.n);
	for (i = 0; i < n; i++) {
		cr_assert_float_eq(
			t[i],
			(double)(s.p[i].time_unix_ns - s.first_unix_ns) / 1e9,
			1e-6);
		cr_assert_eq(y[i], (double)s.p[i].bytes);
		if (i)
			cr_assert_gt(t[i], t[i - 1]);
	}
	/* fewer room: the newest */
	n = series_points(&s, t, y, 10);
	cr_assert_eq(n, 10);
	cr_assert_eq(y[9], (double)s.p[s.n - 1].bytes);
	cr_assert_eq(y[0], (double)s.p[s.n - 10].bytes);
	series_init(&s);
	cr_assert_eq(series_points(&s, t, y, SERIES_MAX), 0);
}

/*
 * The raw tail is the newest samples as they came, oldest first: all of
 * them while the series is short, the SERIES_RAW newest once it merges.
 */
Test(series, raw_tail_is_the_newest_samples_as_they_came)
{
	static struct series s;
	double t[SERIES_MAX], y[SERIES_MAX];
	unsigned i, n;

	series_init(&s);
	cr_assert_eq(series_raw_tail(&s, t, y, SERIES_MAX), 0);
	for (i = 0; i < 5; i++)
		add(&s, T0 + (int64_t)i * HOUR, 1000 + i);
	n = series_raw_tail(&s, t, y, SERIES_MAX);
	cr_assert_eq(n, 5);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(y[i], 1000.0 + i);
		cr_assert_float_eq(t[i], 3600.0 * i, 1e-6);
	}
	for (i = 5; i < 500; i++)
		add(&s, T0 + (int64_t)i * HOUR, 1000 + i);
	n = series_raw_tail(&s, t, y, SERIES_MAX);
	cr_assert_eq(n, SERIES_RAW);
	for (i = 0; i < n; i++) {
		cr_assert_eq(y[i], 1000.0 + 500 - SERIES_RAW + i, "point %u",
			     i);
		cr_assert_float_eq(t[i], 3600.0 * (500 - SERIES_RAW + i), 1e-3);
	}
	/* less room: the newest */
	n = series_raw_tail(&s, t, y, 3);
	cr_assert_eq(n, 3);
	cr_assert_eq(y[0], 1497.0);
	cr_assert_eq(y[2], 1499.0);
}

/* ---- the line ------------------------------------------------------------ */

Test(series, the_line_as_documented)
{
	struct series s;
	char buf[SERIES_LINE_MAX];

	series_init(&s);
	line_of(&s, buf);
	cr_assert_str_eq(buf, "series 0");
	add(&s, -5, 7);
	add(&s, 10, 0);
	line_of(&s, buf);
	cr_assert_str_eq(buf, "series 2 -5 1 0 7 1 15 0");
}

Test(series, random_series_read_back_exactly)
{
	static struct series s, r;
	static char buf[SERIES_LINE_MAX], again[SERIES_LINE_MAX];
	uint64_t seed = 5;
	unsigned round;

	for (round = 0; round < 300; round++) {
		unsigned n = (unsigned)rnd_in(&seed, 0, 700), i;
		int64_t t = (int64_t)rnd(&seed) / 2;
		size_t w;

		series_init(&s);
		for (i = 0; i < n; i++) {
			uint64_t v = rnd(&seed) % 4 == 0 ? 0 : rnd(&seed);
			uint64_t gap = rnd(&seed) % 3 == 0
					       ? rnd_in(&seed, 1, 10)
					       : rnd_in(&seed, 1, 100 * DAY);

			if (rnd(&seed) % 2)
				v >>= rnd_in(&seed, 0, 63);
			if (t > INT64_MAX - (int64_t)gap)
				break;
			add(&s, t, v);
			t += (int64_t)gap;
		}
		w = line_of(&s, buf);
		memset(&r, 0xa5, sizeof(r));
		cr_assert_eq(series_parse(buf, &r), 0, "%s", buf);
		cr_assert_eq(r.n, s.n);
		cr_assert_eq(r.first_unix_ns, s.n ? s.first_unix_ns : 0);
		cr_assert_eq(memcmp(r.p, s.p, s.n * sizeof(s.p[0])), 0,
			     "round %u", round);
		cr_assert_eq(series_write(&r, again, sizeof(again)), (int)w);
		cr_assert_str_eq(again, buf);
		/* exactly enough room, and one byte less */
		cr_assert_eq(series_write(&s, again, w + 1), (int)w);
		cr_assert_eq(series_write(&s, again, w), -ENOSPC);
	}
}

Test(series, the_longest_line_fits_its_bound)
{
	static struct series s, r;
	static char buf[SERIES_LINE_MAX];
	unsigned i;
	size_t w;

	/*
	 * The longest a valid series can be: the first time INT64_MIN, the
	 * counts and deltas as large as their sums allow, bytes all
	 * UINT64_MAX.
	 */
	series_init(&s);
	s.n = SERIES_MAX;
	s.first_unix_ns = INT64_MIN;
	for (i = 0; i < SERIES_MAX; i++) {
		int raw = i >= SERIES_MAX - SERIES_RAW;

		s.p[i].samples = raw ? 1 : (UINT64_MAX - 64) / 48;
		s.p[i].time_unix_ns = (int64_t)((uint64_t)INT64_MIN + 1 +
						i * (UINT64_MAX / 64));
		s.p[i].bytes = UINT64_MAX;
	}
	w = line_of(&s, buf);
	cr_log_info("the longest line found: %zu bytes, bound %zu", w,
		    (size_t)SERIES_LINE_MAX - 1);
	cr_assert_eq(series_parse(buf, &r), 0);
	cr_assert_eq(r.n, s.n);
	cr_assert_eq(r.first_unix_ns, s.first_unix_ns);
	cr_assert_eq(memcmp(r.p, s.p, sizeof(s.p)), 0);
}

/* A series the parser must take: the control for the refusals below. */
#define GOOD "series 2 5 1 0 7 1 3 0"

Test(series, malformed_lines_are_refused)
{
	static const char *const bad[] = {
		"",
		"series",
		"series ",
		"Series 0",
		"series 0 ",
		"series 00",
		"series -0",
		"series +0",
		"series 1",
		"series 1 5",
		"series 1 5 1",
		"series 1 5 1 0",
		"series 1 5 1 0 ",
		"series 1 5 1 0 7 ",
		"series 1 5 1 0 7\n",
		"series 1 5 1 0 7 1",
		"series  1 5 1 0 7",
		"series 1  5 1 0 7",
		"series\t1 5 1 0 7",
		"series 1 5 1 0 07",
		"series 1 05 1 0 7",
		"series 1 -0 1 0 7",
		"series 1 +5 1 0 7",
		"series 1 5 +1 0 7",
		"series 1 5 1 0 -7",
		"series 1 5 1 0 7x",
		"series 1 5 1 0 0x7",
		"series 1 5 1 1 7", /* a raw first point after the first time */
		"series 1 5 0 0 7", /* a count of 0 */
		"series 1 5 2 1 7", /* merged in a series not full */
		"series 2 5 1 0 7 1 0 8", /* times not rising */
		"series 2 5 1 0 7 1 -1 8",
		"series 3 5 1 0 7 1 3 0", /* fewer points than said */
		"series 1 5 1 0 18446744073709551616", /* bytes overflow */
		"series 1 5 18446744073709551616 0 7",
		"series 1 9223372036854775808 1 0 7", /* time overflow */
		"series 1 -9223372036854775809 1 0 7",
		"series 2 9223372036854775807 1 0 7 1 1 7",
		"series 2 -9223372036854775807 1 0 7 1 18446744073709551615 7",
		"series 65 5 1 0 7",
		"series 4294967297 5 1 0 7",
	};
	struct series s, before;
	unsigned i;

	series_init(&s);
	cr_assert_eq(series_parse(GOOD, &s), 0);
	cr_assert_eq(series_parse("series 0", &s), 0);
	cr_assert_eq(series_parse("series 2 -9223372036854775808 1 0 7 1 "
				  "18446744073709551615 7",
				  &s),
		     0, "the whole range of times");
	cr_assert_eq(series_parse(GOOD, &s), 0);
	before = s;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(series_parse(bad[i], &s), -EINVAL, "\"%s\"",
			     bad[i]);
		cr_assert_eq(memcmp(&s, &before, sizeof(s)), 0, "\"%s\"",
			     bad[i]);
	}
}

/* A full series, made valid, with one thing wrong. */
Test(series, full_series_with_merged_points_out_of_place_are_refused)
{
	static struct series s, r;
	static char buf[SERIES_LINE_MAX];

	hourly(&s, 200, 6);
	line_of(&s, buf);
	cr_assert_eq(series_parse(buf, &r), 0);

	r = s; /* the newest raw points merged */
	r.p[SERIES_MAX - SERIES_RAW].samples = 2;
	cr_assert_eq(series_write(&r, buf, sizeof(buf)), -EINVAL);
	r = s; /* counts that overflow their sum */
	r.p[0].samples = UINT64_MAX - 10;
	r.p[1].samples = 100;
	cr_assert_eq(series_write(&r, buf, sizeof(buf)), -EINVAL);
	r = s; /* a merged first point before the first time */
	r.p[0].time_unix_ns = r.first_unix_ns - 1;
	cr_assert_eq(series_write(&r, buf, sizeof(buf)), -EINVAL);
	r = s; /* a merged first point at the first time is fine */
	r.p[0].time_unix_ns = r.first_unix_ns;
	cr_assert_geq(series_write(&r, buf, sizeof(buf)), 0);
	/* the same by text: make the newest point's count 2 */
	line_of(&s, buf);
	{
		char *last = strrchr(buf, ' '), *d, *k;

		*last = '\0';
		d = strrchr(buf, ' ');
		*d = '\0';
		k = strrchr(buf, ' ');
		*last = ' ';
		*d = ' ';
		cr_assert_eq(k[1], '1');
		k[1] = '2';
		cr_assert_eq(series_parse(buf, &r), -EINVAL, "%s", k);
		k[1] = '1';
		cr_assert_eq(series_parse(buf, &r), 0);
	}
}

/*
 * Every truncation and every changed byte of real lines: refused, or a
 * valid series that writes back to exactly that line (so the parser read
 * what was there, nothing else); never a crash (this also runs in the
 * sanitizer build).
 */
static void
damage(const char *line, uint64_t *seed, unsigned *refused, unsigned *valid)
{
	static char buf[SERIES_LINE_MAX], again[SERIES_LINE_MAX];
	static struct series r;
	size_t len = strlen(line), i;
	unsigned j;

	for (i = 0; i <= len; i++) {
		char *cut = strndup(line, i); /* its own allocation: ASan
						 sees a read past it */
		int ret;

		cr_assert_not_null(cut);
		ret = series_parse(cut, &r);
		if (ret == 0) {
			cr_assert_eq(series_write(&r, again, sizeof(again)),
				     (int)i, "\"%s\"", cut);
			cr_assert_str_eq(again, cut);
			(*valid)++;
		} else {
			cr_assert_eq(ret, -EINVAL);
			(*refused)++;
		}
		free(cut);
	}
	cr_assert_lt(len, sizeof(buf));
	for (i = 0; i < len; i++) {
		for (j = 0; j < 4; j++) {
			static const char pick[] = "0123456789 -+x\n";
			int ret;

			memcpy(buf, line, len + 1);
			buf[i] = j < 2 ? pick[rnd(seed) % (sizeof(pick) - 1)]
				       : (char)(rnd(seed) % 255 + 1);
			ret = series_parse(buf, &r);
			if (ret == 0) {
				cr_assert_geq(
					series_write(&r, again, sizeof(again)),
					0);
				cr_assert_str_eq(again, buf);
				(*valid)++;
			} else {
				cr_assert_eq(ret, -EINVAL);
				(*refused)++;
			}
		}
	}
}

Test(series, truncated_or_damaged_lines_never_crash)
{
	static struct series s;
	static char line[SERIES_LINE_MAX];
	uint64_t seed = 7;
	unsigned refused = 0, valid = 0;

	hourly(&s, 10, 8);
	line_of(&s, line);
	damage(line, &seed, &refused, &valid);
	hourly(&s, 1000, 9);
	line_of(&s, line);
	damage(line, &seed, &refused, &valid);
	cr_log_info("damaged lines: %u refused, %u valid", refused, valid);
	cr_assert_gt(refused, 0);
	cr_assert_gt(valid, 0);
}

/* ---- the state's size ---------------------------------------------------- */

static size_t
size_after(unsigned samples, int64_t every, uint64_t seed)
{
	static struct series s;
	static char buf[SERIES_LINE_MAX];
	unsigned i;

	series_init(&s);
	for (i = 0; i < samples; i++)
		add(&s,
		    T0 + (int64_t)i * every +
			    (int64_t)rnd_in(&seed, 0, (uint64_t)every / 100),
		    rnd_in(&seed, 50 * MiB * 97 / 100, 50 * MiB * 103 / 100));
	return line_of(&s, buf) + 1; /* its "\n" */
}

Test(series, state_size)
{
	const struct {
		const char *what;
		unsigned samples;
		int64_t every;
	} c[] = {
		{"a week hourly", 168, HOUR},
		{"30 days hourly", 720, HOUR},
		{"10,000 hours", 10000, HOUR},
		{"a day every second", 86400, SEC},
		{"a week every 5 s", 7 * 86400 / 5, 5 * SEC},
	};
	unsigned i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t b = size_after(c[i].samples, c[i].every, 10 + i);

		cr_log_info("state size: %s (a class of 50 MiB +-3 %%): %zu "
			    "bytes a location, %.2f MiB for 2000",
			    c[i].what, b, 2000.0 * (double)b / MiB);
		cr_assert_leq(b, SERIES_LINE_MAX);
	}
	cr_log_info("in memory: %zu bytes a location", sizeof(struct series));
}
