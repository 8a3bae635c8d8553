/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers_chance.c - could chance alone explain a caller's survivors
 * (see callers.h)? Pure arithmetic, for callers.c and the unit tests;
 * the design is doc/design/callers.md.
 */
#include "sampling/callers.h"

/*
 * Could chance alone make s of a survivors, when a freed address is back
 * in use by the check with probability p? The number back in use by
 * chance is binomial(a, p): its tail P(X >= s) is summed exactly (a is
 * at most LA_CALLERS_PER_STACK), as the normal approximation is too
 * generous for a few chunks at a small p. Below ALPHA, the survivors
 * are the caller's own; *own estimates how many, the false ones taken
 * out of the rest: (s - p a) / (1 - p).
 */
#define ALPHA 1e-3

static double
binomial_tail(unsigned a, unsigned s, double p)
{
	double pmf = 1.0, below = 0;

	if (s == 0)
		return 1.0;
	if (p <= 0)
		return 0;
	if (p >= 1.0 || s > a)
		return s > a ? 0 : 1.0;
	for (unsigned i = 0; i < a; i++)
		pmf *= 1.0 - p; /* P(X = 0) */
	for (unsigned k = 0; k < s; k++) {
		below += pmf;
		pmf *= (double)(a - k) / (k + 1) * p / (1.0 - p);
	}
	return below >= 1.0 ? 0 : 1.0 - below;
}

int
callers_beyond_chance(unsigned a, unsigned s, double p, double *own)
{
	double excess = (double)s - p * a, t;

	*own = 0;
	if (!s || s > a || excess < 1.0 || p >= 1.0)
		return 0;
	if (binomial_tail(a, s, p) >= ALPHA)
		return 0;
	t = excess / (1.0 - p);
	*own = t > s ? s : t;
	return 1;
}
