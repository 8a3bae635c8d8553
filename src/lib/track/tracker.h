/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracker.h - the leak rule over a series of samples, without a process.
 * A sample is a flat list of locations with their in-use and free bytes;
 * la_tracker_add() makes one from a snapshot, tests make them by hand.
 * Also the state file format that store.c keeps between invocations
 * (tracker_state.c reads and writes it). The tracker does not know where
 * samples or state files come from.
 */
#ifndef LA_TRACKER_H
#define LA_TRACKER_H

#include <stdint.h>
#include <stdio.h>

#include "leakattach.h"

/*
 * Locations one tracker follows at most; beyond, new ones are ignored
 * (logged once). A snapshot yields about 1 + A + 281 * (A + 1) for A
 * arenas, usually far fewer: only size classes that hold chunks.
 */
#define TRACKER_MAX_LOCATIONS 65536u

/* One location's bytes in one sample. */
struct tracker_point {
	struct la_location loc; /* key filled, see tracker_location() */
	uint64_t in_use, free;
	uint64_t objects; /* LA_LOC_PYTHON_TYPE: its live objects */
	/*
	 * New to the tracker, it is where this location starts from, not a
	 * growth from 0: a kind of memory outside malloc first measured in
	 * a history older than the census.
	 */
	int baseline;
};

struct tracker_sample {
	int64_t time_unix_ns;
	int consistent; /* 0: approximate, counted but not evidence */
	const struct tracker_point *points; /* any order; keys unique */
	unsigned n_points;
};

/*
 * Fill *loc and its key. arena_is_main/arena_addr are used by the ARENA
 * kinds only, chunk_size_min/max by the SIZE_CLASS kinds only; the fields
 * a kind does not use are set to 0.
 */
void tracker_location(struct la_location *loc, enum la_location_kind kind,
		      int arena_is_main, uint64_t arena_addr,
		      uint64_t chunk_size_min, uint64_t chunk_size_max);

/*
 * The location of the Python type named name: key "python:NAME", cut to
 * fit, with every byte that is not a visible ASCII character made '?' (a
 * key is one word of the state file). -EINVAL for an empty name.
 */
int tracker_python_location(struct la_location *loc, const char *name);

/*
 * Apply the rule to the next sample. Points with an unterminated key, and
 * repeated keys after the first, are ignored. Returns 0 or -ENOMEM (the
 * tracker is then unchanged).
 */
int tracker_add_sample(struct la_tracker *t, const struct tracker_sample *s);

/*
 * The state file, version 1: text, one record per line, fields separated
 * by one space, every line ending in "\n".
 *
 *   leakattach-state 1
 *   samples S approximate A last_approximate L
 *   time FIRST LAST LAST_EXACT              (Unix ns, signed)
 *   locations N                             (N <= TRACKER_MAX_LOCATIONS)
 *   then N times, keys in strcmp order, each key once:
 *   loc KEY KIND MAIN ADDR MIN MAX IN_USE FREE
 *   grow C BASE BASE_TIME FLAGGED N P1 ... PN
 *   retain C BASE BASE_TIME FLAGGED N P1 ... PN
 *   [objects OBJECTS BASE]                  (python types only)
 *   [plateau FLAT [trend]]                  (optional, see below)
 *   [was C BASE BASE_TIME FLAGGED N P1 ... PN]
 *   [series N FIRST K1 D1 V1 ... KN DN VN]  (optional, series.h)
 *   [trend 1]                               (after a series, optional)
 *   end CHECKSUM
 *
 * KIND is the enum la_location_kind value, ADDR hexadecimal with "0x",
 * KEY must equal the key those fields make. For LA_LOC_OUTSIDE (KIND 4,
 * added in 0.2.0 within version 1: an older reader refuses such a file
 * as damaged, and the store sets it aside) ADDR is the enum
 * la_outside_kind and FREE is 0. For LA_LOC_PYTHON_TYPE (KIND 5, added
 * the same way) MAIN ADDR MIN MAX FREE are 0, KEY names the type, and a
 * line "objects OBJECTS BASE" follows "retain": its live objects, and
 * those when the grow streak began (0 without a streak). "grow" is the streak of
 * in-use growth, "retain" the streak of free growth: C comparisons in a
 * row, BASE bytes at BASE_TIME when it began, FLAGGED whether its verdict
 * was already reported, then the last N = min(C, LA_GROWTH_MAX) growth
 * percentages (%.17g, so they read back exactly). CHECKSUM is FNV-1a 64
 * of every byte before the "end" line, 16 hex digits: "end" tells a
 * truncated file, the checksum an edited or damaged one.
 *
 * "plateau FLAT" and the "was" streak after it (added in 0.4.0 within
 * version 1, written only for a location whose leak stopped growing, so
 * that other files stay readable by older readers, which refuse these
 * as damaged): "was" is the leak's grow streak as it stopped (FLAGGED:
 * its plateau was reported), FLAT the exact comparisons without growth
 * since. "trend" after FLAT (added with the trend verdict): that leak
 * was one by its trend, and "was" is its whole rise as one growth (C 1,
 * from the series' first point to where it stopped). Files without them
 * load as before: no leak stopped.
 *
 * "series ..." (added with the trend verdict, within version 1, the same
 * way): the location's history for the trend test, in series.h's
 * grammar, written for a location that reached half of --min-size;
 * "trend 1" after it when its leak was reported (by either rule), so that
 * the next run does not report it as new. Files without them load as
 * before: the trend starts from the next sample.
 */
#define TRACKER_STATE_MAGIC "leakattach-state"
#define TRACKER_STATE_VERSION 1

/* Returns 0, or -EIO when f reports an error. */
int tracker_write(const struct la_tracker *t, FILE *f);
/*
 * Read a state written by tracker_write(), to apply rules (NULL:
 * defaults) from now on. Malformed, truncated or inconsistent input:
 * -LA_EBADSTATE, with la_errmsg() saying what and on which line. Also
 * -EIO, -ENOMEM, -EINVAL (bad rules).
 */
int tracker_read(FILE *f, const struct la_rules *rules,
		 struct la_tracker **out);

#endif
