/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracker_int.h - what the rule (tracker.c) and the state file
 * (tracker_state.c) share: the tracker's insides. Nothing else includes
 * this; everyone else goes through tracker.h and leakattach.h.
 */
#ifndef LA_TRACKER_INT_H
#define LA_TRACKER_INT_H

#include <stdint.h>

#include "leakattach.h"
#include "track/series.h"

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
	/* LA_LOC_PYTHON_TYPE: live objects now, and when grow began */
	uint64_t objects, base_objects;
	/*
	 * The latest leak's streak once it stopped growing (count 0: none;
	 * flagged: its plateau was reported), and the exact comparisons
	 * without growth since (reset by a growth).
	 */
	struct streak was;
	unsigned flat;
	/* that leak was one by its trend: was is its whole rise, one
	 * "growth" from its first point to the knee (trend_plateau()) */
	int was_trend;
	/*
	 * Its history for the trend verdict (series.h), kept once its bytes
	 * in use reached half of --min-size (a slow leak's total growth is
	 * at least --min-size): NULL before. Owned by the entry.
	 */
	struct series *series;
	/* The trend over it (trend_update()), and whether it is a leak by
	 * it, and that leak was reported (kept in the state file) */
	struct entry_trend {
		unsigned n; /* points fitted; 0: too few */
		double slope_h, lo_h, hi_h, p; /* bytes an hour */
		double span_h; /* from the first point to the last */
		int leak, flagged, plateau;
	} tr;
};

struct la_tracker {
	struct la_rules rules;
	unsigned samples, approximate;
	int last_approximate;
	int64_t first_time, last_time, last_exact_time;
	int64_t adding_time; /* of the exact sample tracker_add_sample() adds */
	struct entry *e; /* sorted by key (strcmp), keys unique */
	unsigned n;
	struct la_finding *f; /* room for n */
	unsigned nf;
	unsigned by_verdict[4];
	unsigned pending; /* la_tracker_info.pending */
	int full_logged;
};

/* A tracker with rules (NULL: defaults); la_fail() on error. */
int tracker_new(const struct la_rules *rules, struct la_tracker **out);

/* Whether free bytes of this kind of location are judged (retention). */
int tracker_watches_free(enum la_location_kind kind);

/*
 * The findings from the entries, into t->f (room for every finding).
 * fresh: after an exact sample, so that a verdict reached now is new (and
 * remembered as reported); otherwise (after loading a state) nothing is
 * new and nothing is remembered.
 */
void tracker_findings_compute(struct la_tracker *t, int fresh);

#endif
