/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * series.h - the bytes one location held over its whole history, in a
 * bounded number of points, for the trend test (issue 13, "History that
 * lasts"). Pure logic: no I/O, no allocation, no clock. It does not know
 * what a location is, nor the state file around its line, nor the test
 * that reads it; the design is doc/design/tracker.md, "The series each
 * location keeps".
 *
 * A point stands for one or more consecutive raw samples: their mean
 * time, the mean of their bytes, and how many they are. The newest
 * SERIES_RAW points are always raw (one sample each). When the series is
 * full, adding a sample first merges one pair among the older points: the
 * OLDEST adjacent pair of equal counts, of the smallest such count. The
 * counts are then powers of two that never grow from the oldest point to
 * the newest: a bulk of the two coarsest, then a short tail of smaller
 * ones down to the raw points. No sample is ever dropped: the series
 * covers from its first sample to its last, however long.
 *
 * Coverage (always 64 points once 64 samples were added; the oldest
 * point stands for):
 *   1 sample an hour:   a week (168):     4 samples (4 h)
 *                       30 days (720):    16 (16 h)
 *                       10,000 (14 months): 256 (10.7 days)
 *   1 sample a second:  a day (86,400):   4,096 (68 min)
 *                       a week (604,800): 32,768 (9.1 h)
 * No point stands for more than 1/16 of the samples up to 8 million.
 *
 * For the trend test: a merged point is (mean time, mean bytes) of its
 * samples, so a linear series stays on its line after merging (within
 * rounding, half a unit per merge level), even with gaps. Its noise
 * shrinks with its count; Theil-Sen over the points is unweighted and
 * robust to that. Mann-Kendall's n is the number of points, never the
 * samples.
 */
#ifndef LA_SERIES_H
#define LA_SERIES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Points kept at most, and how many of the newest stay raw. A full series
 * writes about 1.7 KB of state (26 bytes a point; measured by
 * tests/unit/test_series.c, "state_size").
 */
#define SERIES_MAX 64u
#define SERIES_RAW 16u

/*
 * The longest line series_write() makes, its NUL included (4,063):
 * "series 64", the first time (20 characters with its sign) and
 * SERIES_MAX points of three numbers of at most 20 digits, each after one
 * space. In memory a struct series is 1,552 bytes.
 */
#define SERIES_LINE_MAX \
	(sizeof("series 64 -9223372036854775808") + SERIES_MAX * 63)

struct series_point {
	int64_t time_unix_ns; /* mean time of its samples, rounded */
	uint64_t bytes; /* mean of their bytes, rounded to nearest */
	uint64_t samples; /* raw samples it stands for, >= 1 */
};

struct series {
	int64_t first_unix_ns; /* the first sample's time (n > 0) */
	unsigned n; /* points in p[], oldest first */
	struct series_point p[SERIES_MAX];
};

/* An empty series. */
void series_init(struct series *s);

/*
 * Append the sample (t, bytes): a location absent from a sample has 0
 * bytes, and is added as such. Times must rise strictly: -EINVAL for a
 * time at or before the last one (the series is then unchanged);
 * -EOVERFLOW once 2^64 - 1 samples are counted. Times far apart (a gap
 * of days) are kept as they are: nothing is interpolated.
 */
int series_add(struct series *s, int64_t t, uint64_t bytes);

/* The raw samples the series stands for: the sum of the points' counts. */
uint64_t series_samples(const struct series *s);

/*
 * One line, without "\n", NUL-terminated, in buf of len bytes
 * (SERIES_LINE_MAX is always enough):
 *
 *   series N FIRST K1 D1 V1 ... KN DN VN        ("series 0" when empty)
 *
 * FIRST is the first sample's time (Unix ns, signed); Ki the samples of
 * point i, Vi its bytes; D1 the time of point 1 minus FIRST (0 when K1 is
 * 1), Di for i > 1 the time of point i minus that of point i - 1 (> 0).
 * Numbers in decimal without leading zeros, one space between fields.
 * Returns the length written (without the NUL), -ENOSPC when len is too
 * small, -EINVAL for a series series_parse() would refuse.
 */
int series_write(const struct series *s, char *buf, size_t len);

/*
 * Read a line made by series_write() (without its "\n") into *s. Strict:
 * a field missing, extra, malformed or out of range, N above SERIES_MAX,
 * a count of 0, times not rising, counts whose sum overflows, a merged
 * point among the newest SERIES_RAW or in a series not full, or anything
 * after the last field: -EINVAL, and *s is unchanged.
 */
int series_parse(const char *text, struct series *s);

/*
 * The points in time order, as doubles for the trend test: t_sec[i] in
 * seconds since the series' first sample, y[i] in bytes. At most max
 * points, the newest when there are more. Returns how many were written.
 */
unsigned series_points(const struct series *s, double *t_sec, double *y,
		       unsigned max);

/*
 * The newest points that stand for one sample each (the raw tail:
 * consecutive samples, at most SERIES_RAW), oldest first, as
 * series_points() gives them: t_sec since the first sample, y bytes; at
 * most max, the newest. Returns how many were written. The noise test of
 * the growth rule reads them (trend_noise()).
 */
unsigned series_raw_tail(const struct series *s, double *t_sec, double *y,
			 unsigned max);

#endif
