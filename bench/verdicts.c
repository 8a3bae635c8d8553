/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verdicts.c - make bench-verdicts: the leak rule's verdicts on simulated
 * heaps of known truth (issue 13). Each scenario is a heap of L size
 * classes sampled S times, whose in-use bytes move by about 3 % a sample
 * (a churning heap), with or without one class that leaks at a known
 * rate, or that grows in a way that is no leak (a sawtooth, a warm-up
 * that plateaus); each runs with several seeds. The series go through
 * the tracker itself (tracker_add_sample(), the code every leakattach
 * command uses), so what is counted is what a user would be told:
 *   detected      seeds where the leaking class became a LEAK
 *   delay         samples until then (median over the seeds that found it)
 *   accused       new LEAK verdicts on a class that does not leak (their
 *                 count, and per location-sample): false alarms
 *   standing      LEAK verdicts on such a class at the last sample,
 *                 summed over the seeds: those that decide the exit
 *                 status (a warm-up accused while it grew is withdrawn
 *                 as a plateau once flat; a sawtooth, when it drops)
 *   us/add        the tracker's time per sample of 40 locations (mean,
 *                 this machine, all of the run: rule, noise test, trend)
 * Nothing is asserted: the table is the figure (doc/design/tracker.md).
 * Deterministic: the same seeds give the same table.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "track/tracker.h"

#define MIB (1024.0 * 1024.0)

/* splitmix64: a seedable generator the table can be reproduced from */
static uint64_t
next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
uniform(uint64_t *s)
{
	return (double)(next_u64(s) >> 11) / 9007199254740992.0;
}

/* A standard normal deviate (Box-Muller). */
static double
normal(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

enum shape {
	SHAPE_STEADY, /* no class leaks */
	SHAPE_LEAK, /* class 0 grows by rate % of its level a sample */
	SHAPE_SAWTOOTH, /* class 0 grows 5 % a sample for 10, then drops */
	SHAPE_WARMUP, /* class 0 grows 10 % a sample for 8, then holds */
};

struct scenario {
	const char *name;
	enum shape shape;
	double rate_pct; /* SHAPE_LEAK */
	double phi; /* the noise's memory: 0 i.i.d., 0.7 a random walk */
};

struct rule {
	const char *name;
	double threshold_pct;
	unsigned consecutive;
	uint64_t min_size;
	double trend_alpha; /* 0: no trend verdict */
	double noise_k; /* 0: no noise test */
};

struct result {
	unsigned seeds, detected;
	unsigned delays[64];
	uint64_t false_alarms, location_samples;
	unsigned standing;
	double add_ns; /* in tracker_add_sample(), summed */
	uint64_t adds;
};

#define CLASSES 40
#define SAMPLES 300
#define SEEDS 10
#define NOISE_PCT 3.0

/* The in-use bytes of every class, sample by sample. */
struct heap_sim {
	double mean[CLASSES], dev[CLASSES];
};

static void
sim_init(struct heap_sim *h, uint64_t *rng)
{
	for (unsigned c = 0; c < CLASSES; c++) {
		/* log-uniform from 256 KiB to 64 MiB */
		h->mean[c] = 256.0 * 1024 * pow(256.0, uniform(rng));
		h->dev[c] = 0;
	}
}

/* Class c at sample i: its mean, the noise, and the scenario's shape. */
static double
sim_value(struct heap_sim *h, const struct scenario *sc, unsigned c,
	  unsigned i, uint64_t *rng)
{
	/* AR(1) with a stationary spread of NOISE_PCT % of the level */
	double sd = NOISE_PCT / 100.0 * sqrt(1.0 - sc->phi * sc->phi);
	double level = h->mean[c];

	h->dev[c] = sc->phi * h->dev[c] + sd * normal(rng);
	if (c == 0) {
		switch (sc->shape) {
		case SHAPE_LEAK:
			level *= 1.0 + sc->rate_pct / 100.0 * i;
			break;
		case SHAPE_SAWTOOTH:
			level *= 1.0 + 0.05 * (i % 10);
			break;
		case SHAPE_WARMUP:
			level *= 1.0 + 0.10 * (i < 8 ? i : 8);
			break;
		case SHAPE_STEADY:
			break;
		}
	}
	return level * (1.0 + h->dev[c]);
}

static void
key_of(unsigned c, char *buf, size_t len)
{
	snprintf(buf, len, "size:%u-%u", 1024 + 16 * c, 1024 + 16 * c);
}

static void
run_one(const struct scenario *sc, const struct rule *ru, uint64_t seed,
	struct result *r)
{
	struct la_rules rules = {.sz = sizeof(rules),
				 .threshold_pct = ru->threshold_pct,
				 .consecutive = ru->consecutive,
				 .min_size = ru->min_size,
				 .trend_alpha = ru->trend_alpha,
				 .noise_k = ru->noise_k};
	struct tracker_point pts[CLASSES];
	struct la_tracker *t;
	struct heap_sim h;
	struct timespec t0, t1;
	uint64_t rng = seed;
	int found = 0;

	if (la_tracker_new(&rules, &t)) {
		fprintf(stderr, "la_tracker_new failed\n");
		exit(2);
	}
	sim_init(&h, &rng);
	for (unsigned i = 0; i < SAMPLES; i++) {
		struct tracker_sample s = {
			.time_unix_ns = (int64_t)i * 60 * 1000000000ll,
			.consistent = 1,
			.points = pts,
			.n_points = CLASSES,
		};

		memset(pts, 0, sizeof(pts));
		for (unsigned c = 0; c < CLASSES; c++) {
			double v = sim_value(&h, sc, c, i, &rng);

			tracker_location(&pts[c].loc, LA_LOC_SIZE_CLASS, 0, 0,
					 1024 + 16 * c, 1024 + 16 * c);
			pts[c].in_use = v > 0 ? (uint64_t)v : 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (tracker_add_sample(t, &s)) {
			fprintf(stderr, "tracker_add_sample failed\n");
			exit(2);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		r->add_ns += (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			     (double)(t1.tv_nsec - t0.tv_nsec);
		r->adds++;
		r->location_samples +=
			sc->shape == SHAPE_STEADY ? CLASSES : CLASSES - 1;
		for (unsigned k = 0; k < la_tracker_finding_count(t); k++) {
			struct la_finding f;
			char key0[80];

			if (la_tracker_finding(t, k, &f, sizeof(f)) ||
			    f.verdict != LA_VERDICT_LEAK || !f.is_new)
				continue;
			key_of(0, key0, sizeof(key0));
			if (sc->shape != SHAPE_STEADY &&
			    !strcmp(f.loc.key, key0)) {
				if (sc->shape == SHAPE_LEAK && !found) {
					found = 1;
					r->delays[r->detected++] = i;
				} else if (sc->shape != SHAPE_LEAK) {
					r->false_alarms++;
				}
			} else {
				r->false_alarms++;
			}
		}
	}
	for (unsigned k = 0; k < la_tracker_finding_count(t); k++) {
		struct la_finding f;
		char key0[80];

		key_of(0, key0, sizeof(key0));
		if (!la_tracker_finding(t, k, &f, sizeof(f)) &&
		    f.verdict == LA_VERDICT_LEAK &&
		    (sc->shape != SHAPE_LEAK || strcmp(f.loc.key, key0)))
			r->standing++;
	}
	r->seeds++;
	la_tracker_free(t);
}

static int
cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

static void
print_row(const struct scenario *sc, const struct rule *ru,
	  const struct result *r)
{
	char detected[32] = "-", delay[32] = "-";

	if (sc->shape == SHAPE_LEAK) {
		unsigned d[64];

		snprintf(detected, sizeof(detected), "%u/%u", r->detected,
			 r->seeds);
		memcpy(d, r->delays, r->detected * sizeof(d[0]));
		qsort(d, r->detected, sizeof(d[0]), cmp_unsigned);
		if (r->detected)
			snprintf(delay, sizeof(delay), "%u", d[r->detected / 2]);
	}
	printf("  %-30s %-12s %9s %6s %8" PRIu64 " %12.2e %9u %7.0f\n", sc->name,
	       ru->name, detected, delay, r->false_alarms,
	       r->location_samples ? (double)r->false_alarms /
					     (double)r->location_samples
				   : 0.0,
	       r->standing, r->adds ? r->add_ns / (double)r->adds / 1e3 : 0);
}

int
main(void)
{
	static const struct scenario scenarios[] = {
		{"steady, i.i.d. noise", SHAPE_STEADY, 0, 0.0},
		{"steady, random walk (AR 0.7)", SHAPE_STEADY, 0, 0.7},
		{"slow leak 0.1 %/sample", SHAPE_LEAK, 0.1, 0.7},
		{"slow leak 0.3 %/sample", SHAPE_LEAK, 0.3, 0.7},
		{"slow leak 1 %/sample", SHAPE_LEAK, 1.0, 0.7},
		{"leak 5 %/sample", SHAPE_LEAK, 5.0, 0.7},
		{"sawtooth (5 %/sample, 10)", SHAPE_SAWTOOTH, 0, 0.7},
		{"warm-up then plateau", SHAPE_WARMUP, 0, 0.7},
	};
	static const struct rule rules[] = {
		{"fixed, 1M", 2.0, 3, 1u << 20, 0, 0},
		{"fixed, 256K", 2.0, 3, 256u << 10, 0, 0},
		{"noise, 1M", 2.0, 3, 1u << 20, 0, 3.0},
		{"noise, 256K", 2.0, 3, 256u << 10, 0, 3.0},
		{"trend, 1M", 2.0, 3, 1u << 20, 1e-4, 3.0},
		{"trend, 256K", 2.0, 3, 256u << 10, 1e-4, 3.0},
	};

	printf("leak verdicts on simulated heaps: %u classes (256 KiB to 64 MiB), "
	       "%u samples, %u seeds, noise %.0f %% a sample\n",
	       CLASSES, SAMPLES, SEEDS, NOISE_PCT);
	printf("  %-30s %-12s %9s %6s %8s %12s %9s %7s\n", "scenario", "rule",
	       "detected", "delay", "accused", "accused/loc-s", "standing",
	       "us/add");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
			struct result r;

			memset(&r, 0, sizeof(r));
			for (unsigned s = 0; s < SEEDS; s++)
				run_one(&scenarios[i], &rules[k],
					0x1234567ull * (s + 1), &r);
			print_row(&scenarios[i], &rules[k], &r);
		}
	return 0;
}
