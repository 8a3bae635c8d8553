/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trend.h - the statistics of the trend verdict (issue 13), pure logic:
 * a series of (time, bytes) samples of one location in, a robust slope
 * with its confidence interval and a test for an increasing trend out.
 * No I/O, no logging, no state; the tracker decides what the figures
 * mean. Method and references: doc/design/tracker.md, "The trend test".
 */
#ifndef LA_TREND_H
#define LA_TREND_H

/*
 * Samples one fit uses at most. Above, the fit runs on TREND_N_MAX
 * samples picked evenly by index, the first and the last always among
 * them (index round(j * (n - 1) / (TREND_N_MAX - 1))): the pairwise
 * slopes then take 1 MiB, and the test only loses power, never gains
 * false alarms. trend.used says how many were used.
 */
#define TREND_N_MAX 512u

/* Up to this many samples, without ties, S's p-value is exact. */
#define TREND_EXACT_MAX 10u

/* Two-sided level of the slope's confidence interval: 95 %. */
#define TREND_CI_Z 1.959963984540054

struct trend {
	unsigned n; /* samples given */
	unsigned used; /* samples used: n, or TREND_N_MAX */
	unsigned n_times; /* distinct times among those used */
	unsigned pairs; /* pairs with distinct times: the slopes */
	/* Theil-Sen: median of the pairwise slopes, y per unit of t */
	double slope;
	double intercept; /* median of y - slope * t */
	/* Sen's 95 % interval, Var(S) times ci_factor */
	double slope_lo, slope_hi;
	/* the same with the i.i.d. Var(S) (var_s) */
	double slope_lo_raw, slope_hi_raw;
	/* Mann-Kendall */
	long long s; /* S: concordant minus discordant pairs */
	double var_s; /* Var(S) under H0, i.i.d., tie-corrected */
	/* lag-1 autocorrelation of the detrended series, bias-corrected,
	 * its 95 % upper bound: the value used (0: none) */
	double ac_r1;
	double ac_factor; /* n / n*, >= 1 */
	double var_s_ac; /* var_s * ac_factor: the default */
	/* the factor of r1's estimate, not its bound: the interval's */
	double ci_factor;
	/*
	 * Z with continuity correction and the one-sided p-value of an
	 * increasing trend, P(S >= s) under H0: z and p with the
	 * autocorrelation factor (the default), z_raw and p_raw without.
	 */
	double z, p;
	double z_raw, p_raw;
	int exact; /* p_raw from S's exact distribution (n <= 10, no ties) */
};

/*
 * trend_fit - fit and test the series (t[i], y[i]), i < n, t in
 * non-decreasing order (samples with equal times are pairs without a
 * slope), all finite, at least two distinct times. 0, -EINVAL for a
 * series that breaks those, -ENOMEM.
 */
int trend_fit(const double *t, const double *y, unsigned n, struct trend *out);

struct trend_plateau {
	int plateau; /* 1: it grew, and has stopped growing */
	unsigned index; /* change point: the last sample of the growth */
	struct trend whole; /* the whole series */
	struct trend growth; /* samples 0 .. index */
	struct trend tail; /* samples index .. n - 1 */
};

/*
 * trend_plateau - whether a series that grew has stopped growing. The
 * change point is the knee of the best "rise, then flat" line (least
 * squares over every candidate knee); it is a plateau when the samples
 * up to the knee rose (growth.p < alpha), the tail from the knee holds
 * at least min_tail samples (at least 4), shows no rise (tail.p >=
 * 0.05), and rises significantly slower than the growth did
 * (tail.slope_hi < growth.slope). The whole series is not the judge of
 * "it grew": a rise-then-flat series is no line, its residuals around
 * one are serially correlated and the correction rightly weakens its p.
 * whole is always filled; index, growth and tail when a knee leaves
 * min_tail samples after it. Errors as trend_fit().
 */
int trend_plateau(const double *t, const double *y, unsigned n,
		  unsigned min_tail, double alpha, struct trend_plateau *out);

/* Differences trend_noise() needs at least, and samples it takes at most. */
#define TREND_NOISE_MIN 4u
#define TREND_NOISE_MAX 64u

/*
 * trend_noise - the noise of a location from its consecutive samples
 * (t[i], y[i]), i < n, times rising: the robust spread of the changes
 * between neighbours once their drift is taken out. A leak drifts by the
 * sample (a step of work between samples: the median change) or by the
 * second (the median rate, y[i+1] - y[i] over t[i+1] - t[i], times each
 * change's gap); each model leaves residuals, and sigma is 1.4826 times
 * the median absolute deviation of the residuals of the model that
 * leaves less (the standard deviation of normal residuals). A steady
 * rise, by the sample or by the second, however irregular the gaps
 * between samples, leaves residuals near 0; a level that wanders leaves
 * its changes. 0 and *sigma set when there are at least TREND_NOISE_MIN
 * changes and at most TREND_NOISE_MAX samples, all finite, times rising;
 * -EINVAL otherwise.
 */
int trend_noise(const double *t, const double *y, unsigned n, double *sigma);

#endif /* LA_TREND_H */
