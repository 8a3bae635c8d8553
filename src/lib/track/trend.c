/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trend.c - the statistics of the trend verdict: Theil-Sen slope with
 * Sen's rank-based confidence interval, the Mann-Kendall test for an
 * increasing trend with tie correction and a correction of Var(S) for
 * serial correlation, the plateau test (a series that grew and has
 * stopped), and the noise of a location's samples (the robust spread of
 * their changes less their drift: the growth rule's noise test). Pure
 * logic: no I/O, no logging. Not responsible for what a verdict is (the
 * tracker) or for which samples a location keeps.
 * Method and references: doc/design/tracker.md, "The trend test".
 *
 * Decisions made here:
 *  - Pairs of samples with equal times have no slope and count 0 in S;
 *    Var(S) then uses Kendall's formula for ties in both rankings
 *    (Kendall 1975, eq. 4.4), which is the usual tie-corrected Var(S)
 *    when times are distinct.
 *  - Serial correlation: the effective-sample-size correction of Yue &
 *    Wang (2004), Var*(S) = Var(S) * (1 + 2 sum_{k=1}^{n-1} (1 - k/n)
 *    r_k), with r_k = r1^k (an AR(1) model of the noise) and r1 the
 *    lag-1 autocorrelation of the series detrended by its Theil-Sen
 *    slope, bias-corrected as r1' = (n r1 + 1) / (n - 4) (E r1 is about
 *    rho - (1 + 4 rho) / n for an AR(1), Kendall 1954), then raised to
 *    its one-sided 95 % upper bound and capped at 0.95. The point
 *    estimate left an AR(1) (phi 0.7, 60 samples) accused at p < 1e-4
 *    seven times as often as 1e-4; the bound costs about 10 % more
 *    samples to find a leak in i.i.d. noise. Only a positive value is
 *    applied: negative correlation would shrink Var(S), and a false
 *    alarm costs more than a late detection. The slope's interval is an
 *    estimate, not an accusation: it takes the factor of r1' itself
 *    (ci_factor), which covers the slope 95 % of the time where the
 *    bound's factor covered it 98.5 % (test_trend.c).
 *  - Up to TREND_EXACT_MAX samples without ties, p_raw is exact: S = N -
 *    2 I where I is the number of inversions of a random permutation,
 *    whose distribution (Mahonian numbers) a small recurrence gives. The
 *    corrected p is then max(p_raw, the normal p with Var*(S)).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "track/trend.h"

/* z of the one-sided 95 % upper bound of the lag-1 autocorrelation */
#define TREND_AC_UPPER_Z 1.6448536269514722

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
sgn(double v)
{
	return (v > 0) - (v < 0);
}

/* The sorted array's value at 1-based rank r, interpolated. */
static double
at_rank(const double *sorted, unsigned m, double r)
{
	double lo, frac;
	unsigned i;

	if (r <= 1)
		return sorted[0];
	if (r >= m)
		return sorted[m - 1];
	lo = floor(r);
	frac = r - lo;
	i = (unsigned)lo - 1;
	return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

static double
median_sorted(const double *sorted, unsigned m)
{
	return at_rank(sorted, m, (m + 1) / 2.0);
}

/*
 * Tie sums of one ranking: over groups of u equal values, sum u(u-1)
 * (2u+5), u(u-1)(u-2) and u(u-1). tmp: n doubles. Returns the groups.
 */
struct ties {
	double a, b, c;
	unsigned groups;
};

static void
tie_sums(const double *v, unsigned n, double *tmp, struct ties *ts)
{
	unsigned i, j;

	memcpy(tmp, v, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	memset(ts, 0, sizeof(*ts));
	for (i = 0; i < n; i = j) {
		double u;

		for (j = i + 1; j < n && tmp[j] == tmp[i]; j++)
			;
		u = j - i;
		ts->groups++;
		ts->a += u * (u - 1) * (2 * u + 5);
		ts->b += u * (u - 1) * (u - 2);
		ts->c += u * (u - 1);
	}
}

/* P(S >= s) for n <= TREND_EXACT_MAX samples without ties. */
static double
exact_p(unsigned n, long long s)
{
	/* inversions of a permutation of n: at most 45 for n = 10 */
	double cnt[64] = {1}, next[64], total = 1;
	long long pairs = (long long)n * (n - 1) / 2, imax;
	unsigned m, k, j;
	double acc = 0;

	for (m = 2; m <= n; m++) {
		unsigned top = m * (m - 1) / 2;

		for (k = 0; k <= top; k++) {
			next[k] = 0;
			for (j = 0; j < m && j <= k; j++)
				next[k] += cnt[k - j];
		}
		memcpy(cnt, next, (top + 1) * sizeof(*cnt));
		total *= m;
	}
	/* S = pairs - 2 I >= s  <=>  I <= (pairs - s) / 2 */
	if (s > pairs)
		return 0;
	imax = (pairs - s) / 2;
	for (k = 0; k <= (unsigned)imax; k++)
		acc += cnt[k];
	return acc / total;
}

static double
upper_tail(double z)
{
	return 0.5 * erfc(z / M_SQRT2);
}

static double
mk_z(long long s, double var)
{
	if (var <= 0 || s == 0)
		return 0;
	return (s > 0 ? s - 1 : s + 1) / sqrt(var);
}

/*
 * Yue & Wang's factor n/n* from the detrended series' lag-1
 * autocorrelation; r1 out: the bias-corrected value used (0: none).
 */
static double
factor_of(double r1, unsigned n)
{
	double f = 1, rk = 1;
	unsigned k;

	if (!(r1 > 0))
		return 1;
	if (r1 > 0.95)
		r1 = 0.95;
	for (k = 1; k < n; k++) {
		rk *= r1;
		if (rk < 1e-12)
			break;
		f += 2 * (1 - (double)k / n) * rk;
	}
	return f;
}

static double
ac_factor(const double *e, unsigned n, double *r1_out, double *ci_factor)
{
	double mean = 0, num = 0, den = 0, r1;
	unsigned i;

	*r1_out = 0;
	*ci_factor = 1;
	if (n < 6)
		return 1;
	for (i = 0; i < n; i++)
		mean += e[i];
	mean /= n;
	for (i = 0; i < n; i++)
		den += (e[i] - mean) * (e[i] - mean);
	if (!(den > 0))
		return 1;
	for (i = 0; i + 1 < n; i++)
		num += (e[i] - mean) * (e[i + 1] - mean);
	r1 = (n * (num / den) + 1) / (n - 4);
	*ci_factor = factor_of(r1, n);
	/*
	 * Its one-sided 95 % upper bound, Var(r1) ~ (1 - rho^2) / n
	 * (Bartlett 1946): the false alarms at small p come from the
	 * series whose rho was underestimated; measured in test_trend.c.
	 */
	r1 += TREND_AC_UPPER_Z *
	      sqrt((1 - (r1 > 0 && r1 < 1 ? r1 * r1 : 0)) / n);
	if (!(r1 > 0))
		return 1;
	*r1_out = r1 > 0.95 ? 0.95 : r1;
	return factor_of(r1, n);
}

/* The fit on m samples already picked; work: m(m-1)/2 + 2m doubles. */
static void
fit_picked(const double *t, const double *y, unsigned m, double *work,
	   struct trend *out)
{
	double *slopes = work, *tmp, *res;
	double nn = m, c;
	struct ties tt, ty;
	unsigned i, j, np = 0;
	long long s = 0;

	for (i = 0; i < m; i++)
		for (j = i + 1; j < m; j++) {
			int st = sgn(t[j] - t[i]);

			if (!st)
				continue;
			slopes[np++] = (y[j] - y[i]) / (t[j] - t[i]);
			s += st * sgn(y[j] - y[i]);
		}
	tmp = slopes + np;
	res = tmp + m;
	qsort(slopes, np, sizeof(*slopes), cmp_double);
	out->pairs = np;
	out->slope = median_sorted(slopes, np);
	for (i = 0; i < m; i++)
		res[i] = y[i] - out->slope * t[i];
	memcpy(tmp, res, m * sizeof(*tmp));
	qsort(tmp, m, sizeof(*tmp), cmp_double);
	out->intercept = median_sorted(tmp, m);

	tie_sums(t, m, tmp, &tt);
	tie_sums(y, m, tmp, &ty);
	out->n_times = tt.groups;
	out->s = s;
	out->var_s = (nn * (nn - 1) * (2 * nn + 5) - tt.a - ty.a) / 18;
	if (m > 2)
		out->var_s += tt.b * ty.b / (9 * nn * (nn - 1) * (nn - 2));
	out->var_s += tt.c * ty.c / (2 * nn * (nn - 1));

	/* residuals in time order: the noise around the trend */
	out->ac_factor = ac_factor(res, m, &out->ac_r1, &out->ci_factor);
	out->var_s_ac = out->var_s * out->ac_factor;

	out->z_raw = mk_z(s, out->var_s);
	out->exact = m <= TREND_EXACT_MAX && tt.groups == m && ty.groups == m;
	out->p_raw = out->exact ? exact_p(m, s) : upper_tail(out->z_raw);
	out->z = mk_z(s, out->var_s_ac);
	out->p = out->p_raw;
	if (out->ac_factor > 1 && upper_tail(out->z) > out->p)
		out->p = upper_tail(out->z);

	/*
	 * Sen (1968): with C = z * sqrt(Var(S)), the bounds are the
	 * (N - C)/2-th and the ((N + C)/2 + 1)-th of the N ordered slopes.
	 */
	c = TREND_CI_Z * sqrt(out->var_s);
	out->slope_lo_raw = at_rank(slopes, np, (np - c) / 2);
	out->slope_hi_raw = at_rank(slopes, np, (np + c) / 2 + 1);
	c = TREND_CI_Z * sqrt(out->var_s * out->ci_factor);
	out->slope_lo = at_rank(slopes, np, (np - c) / 2);
	out->slope_hi = at_rank(slopes, np, (np + c) / 2 + 1);
}

static int
check_series(const double *t, const double *y, unsigned n)
{
	unsigned i, distinct = 1;

	if (!t || !y || n < 2)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!isfinite(t[i]) || !isfinite(y[i]))
			return -EINVAL;
		if (i && t[i] < t[i - 1])
			return -EINVAL;
		if (i && t[i] > t[i - 1])
			distinct++;
	}
	return distinct < 2 ? -EINVAL : 0;
}

int
trend_fit(const double *t, const double *y, unsigned n, struct trend *out)
{
	unsigned m = n > TREND_N_MAX ? TREND_N_MAX : n, j;
	double *work, *pt = NULL, *py = NULL;
	size_t words;
	int err;

	if (!out)
		return -EINVAL;
	err = check_series(t, y, n);
	if (err)
		return err;
	words = (size_t)m * (m - 1) / 2 + 2 * (size_t)m;
	if (m < n)
		words += 2 * (size_t)m;
	work = malloc(words * sizeof(*work));
	if (!work)
		return -ENOMEM;
	if (m < n) {
		pt = work + words - 2 * (size_t)m;
		py = pt + m;
		for (j = 0; j < m; j++) {
			size_t i =
				((size_t)j * (n - 1) + (m - 1) / 2) / (m - 1);

			pt[j] = t[i];
			py[j] = y[i];
		}
		/* evenly picked: two distinct times survive unless n was all
		 * ties but its ends, and those are always picked */
		t = pt;
		y = py;
	}
	memset(out, 0, sizeof(*out));
	out->n = n;
	out->used = m;
	fit_picked(t, y, m, work, out);
	free(work);
	return 0;
}

/*
 * The knee of the best continuous "rise, then flat" line: for each c,
 * least squares of y = a + b * min(t, t[c]); the c of least residual sum
 * of squares with b > 0 (ties: the earliest). 0 when none rises.
 */
static unsigned
knee(const double *t, const double *y, unsigned n)
{
	double best = INFINITY;
	unsigned c, i, at = 0;

	for (c = 1; c < n; c++) {
		double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0, sse;

		for (i = 0; i < n; i++) {
			mx += fmin(t[i], t[c]);
			my += y[i];
		}
		mx /= n;
		my /= n;
		for (i = 0; i < n; i++) {
			double dx = fmin(t[i], t[c]) - mx, dy = y[i] - my;

			sxx += dx * dx;
			sxy += dx * dy;
			syy += dy * dy;
		}
		if (!(sxx > 0) || !(sxy > 0))
			continue;
		sse = syy - sxy * sxy / sxx;
		if (sse < best) {
			best = sse;
			at = c;
		}
	}
	return at;
}

int
trend_plateau(const double *t, const double *y, unsigned n, unsigned min_tail,
	      double alpha, struct trend_plateau *out)
{
	unsigned c;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err = trend_fit(t, y, n, &out->whole);
	if (err)
		return err;
	if (min_tail < 4)
		min_tail = 4;
	c = knee(t, y, n);
	out->index = c;
	if (c == 0 || n - c < min_tail || t[c] == t[0] || t[c] == t[n - 1])
		return 0;
	err = trend_fit(t, y, c + 1, &out->growth);
	if (!err)
		err = trend_fit(t + c, y + c, n - c, &out->tail);
	if (err)
		return err == -EINVAL ? 0 : err;
	out->plateau = out->growth.p < alpha && out->tail.p >= 0.05 &&
		       out->tail.slope_hi < out->growth.slope;
	return 0;
}

/*
 * The median absolute deviation of the m residuals d[i] - drift[i]
 * from their median; tmp: m doubles.
 */
static double
residual_mad(const double *d, const double *drift, unsigned m, double *tmp)
{
	double mid;
	unsigned i;

	for (i = 0; i < m; i++)
		tmp[i] = d[i] - drift[i];
	qsort(tmp, m, sizeof(*tmp), cmp_double);
	mid = median_sorted(tmp, m);
	for (i = 0; i < m; i++)
		tmp[i] = fabs(d[i] - drift[i] - mid);
	qsort(tmp, m, sizeof(*tmp), cmp_double);
	return median_sorted(tmp, m);
}

int
trend_noise(const double *t, const double *y, unsigned n, double *sigma)
{
	double d[TREND_NOISE_MAX], by_sample[TREND_NOISE_MAX],
		by_time[TREND_NOISE_MAX], tmp[TREND_NOISE_MAX], step, rate;
	unsigned m = n ? n - 1 : 0, i;

	if (n > TREND_NOISE_MAX || m < TREND_NOISE_MIN)
		return -EINVAL;
	for (i = 0; i < m; i++) {
		if (!isfinite(y[i]) || !isfinite(y[i + 1]) || !isfinite(t[i]) ||
		    !isfinite(t[i + 1]) || !(t[i + 1] > t[i]))
			return -EINVAL;
		d[i] = y[i + 1] - y[i];
		tmp[i] = d[i] / (t[i + 1] - t[i]);
	}
	/* the drift per second: the median rate times each gap */
	qsort(tmp, m, sizeof(*tmp), cmp_double);
	rate = median_sorted(tmp, m);
	/* the drift per sample: the median change */
	memcpy(tmp, d, m * sizeof(*d));
	qsort(tmp, m, sizeof(*tmp), cmp_double);
	step = median_sorted(tmp, m);
	for (i = 0; i < m; i++) {
		by_sample[i] = step;
		by_time[i] = rate * (t[i + 1] - t[i]);
	}
	*sigma = 1.4826 * fmin(residual_mad(d, by_sample, m, tmp),
			       residual_mad(d, by_time, m, tmp));
	return 0;
}
