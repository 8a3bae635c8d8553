/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_callers_chance.c - callers_beyond_chance(), the test that keeps a
 * churning caller out of a leak's callers: a caller's surviving chunks
 * count only when the reuse of freed addresses would give as many by
 * chance with a probability under 1/1000 (exact binomial tail).
 * Hand-made cases first, then simulations with a fixed-seed generator: a
 * pure churner with the control group's reuse rate is blamed in at most
 * a few of ten thousand windows, a leaking caller in nearly all.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "sampling/callers.h"

Test(callers_chance, with_no_reuse_every_survivor_counts)
{
	double own;

	cr_expect_eq(callers_beyond_chance(10, 3, 0.0, &own), 1);
	cr_expect_float_eq(own, 3.0, 1e-9);
	cr_expect_eq(callers_beyond_chance(10, 0, 0.0, &own), 0);
	cr_expect_float_eq(own, 0.0, 1e-9);
}

Test(callers_chance, churn_at_the_reuse_rate_is_chance)
{
	double own;

	/* 16 live at the window's end, 5 back in use, 30 % reuse: 4.8 */
	cr_expect_eq(callers_beyond_chance(16, 5, 0.3, &own), 0);
	cr_expect_float_eq(own, 0.0, 1e-9);
	/* chance gives 11 of 16 or more with p 0.0016, 12 with 0.0003 */
	cr_expect_eq(callers_beyond_chance(16, 9, 0.3, &own), 0);
	cr_expect_eq(callers_beyond_chance(16, 11, 0.3, &own), 0);
	cr_expect_eq(callers_beyond_chance(16, 12, 0.3, &own), 1);
}

Test(callers_chance, a_leak_survives_beyond_chance)
{
	double own;

	cr_expect_eq(callers_beyond_chance(20, 20, 0.3, &own), 1);
	cr_expect_float_eq(own, 20.0, 1e-9); /* (20 - 6) / 0.7, at most s */
	/* 40 of 100 at 10 %: 30 beyond chance, 33.3 of them its own */
	cr_expect_eq(callers_beyond_chance(100, 40, 0.1, &own), 1);
	cr_expect_float_eq(own, 30.0 / 0.9, 1e-9);
}

Test(callers_chance, certain_reuse_leaves_nothing_to_attribute)
{
	double own;

	cr_expect_eq(callers_beyond_chance(10, 10, 1.0, &own), 0);
	cr_expect_float_eq(own, 0.0, 1e-9);
}

/* xorshift64*: the same draws on every run */
static double
uniform(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return (double)((*x * 0x2545f4914f6cdd1dull) >> 11) /
	       9007199254740992.0;
}

/* Windows out of n where a caller with `own` true survivors among a
 * live chunks, the rest back in use with probability p, is blamed. */
static unsigned
blamed(unsigned n, unsigned a, unsigned own, double p, uint64_t seed)
{
	unsigned hits = 0;
	double est;

	for (unsigned w = 0; w < n; w++) {
		unsigned s = own;

		for (unsigned i = own; i < a; i++)
			s += uniform(&seed) < p;
		hits += callers_beyond_chance(a, s, p, &est);
	}
	return hits;
}

Test(callers_chance, a_pure_churner_is_rarely_blamed)
{
	/* a tail under 1/1000: at most 10 expected in 10000 */
	cr_expect_leq(blamed(10000, 16, 0, 0.3, 1), 30);
	cr_expect_leq(blamed(10000, 60, 0, 0.5, 2), 30);
	cr_expect_leq(blamed(10000, 8, 0, 0.1, 3), 30);
}

Test(callers_chance, a_leaking_caller_is_nearly_always_blamed)
{
	cr_expect_geq(blamed(10000, 20, 20, 0.3, 4), 9990);
	/* half of its chunks leak, the rest churn at the same rate */
	cr_expect_geq(blamed(10000, 40, 20, 0.3, 5), 9900);
}
