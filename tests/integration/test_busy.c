/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_busy.c - snapshots of a target that never stands still (storm: a
 * large heap and threads in a malloc/free/realloc storm) are exact or
 * say they are not: every snapshot that claims to be consistent agrees
 * with itself field by field (the mallinfo sums, the arenas, the chunk
 * totals come from different parts of the walk), most of them are exact,
 * and the target runs on unharmed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leakattach.h>

#include "target.h"

static unsigned long long
progress(struct target *t)
{
	cr_assert_eq(target_send(t, "progress"), 0);
	cr_assert_eq(target_read_line(t, 10000), 0, "%s", t->line);
	cr_assert(!strncmp(t->line, "progress ", 9), "%s", t->line);
	return strtoull(t->line + 9, NULL, 10);
}

static void
expect_self_consistent(const struct la_snapshot *snap)
{
	struct la_mallinfo mi;
	struct la_totals t;
	uint64_t system = 0;

	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	la_snapshot_totals(snap, &t, sizeof(t));
	for (unsigned i = 0; i < la_snapshot_arena_count(snap); i++) {
		struct la_arena_stats a;

		cr_assert_eq(la_snapshot_arena(snap, i, &a, sizeof(a)), 0);
		cr_expect(a.consistent, "arena %u flagged in a consistent snapshot",
			  i);
		system += a.system_mem;
	}
	cr_expect_eq(system, mi.arena);
	cr_expect_eq(mi.uordblks + mi.fordblks, mi.arena);
	cr_expect_eq(mi.hblkhd, t.counts.mmapped_bytes);
	cr_expect_eq(mi.fordblks, t.counts.fastbin_bytes + t.counts.bin_bytes +
					  t.counts.top_bytes);
	cr_expect_eq(mi.fsmblks, t.counts.fastbin_bytes);
	cr_expect_eq(mi.smblks, t.counts.fastbin_chunks);
	cr_expect_eq(mi.uordblks, t.counts.in_use_bytes - t.counts.mmapped_bytes +
					  t.counts.tcache_bytes + t.counts.meta_bytes);
}

Test(busy, storm_snapshots_are_exact_or_flagged, .timeout = 180)
{
	const char *argv[] = { "4", "100", NULL };
	struct target t;
	struct la_session *s;
	unsigned exact = 0, rounds = 0;
	const unsigned n = 15;
	unsigned long long before, after;

	cr_assert_eq(target_start(&t, "storm", argv, NULL), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "ready");
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	for (unsigned i = 0; i < n; i++) {
		struct la_snapshot *snap;
		struct la_snapshot_info info;

		cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
		la_snapshot_info(snap, &info, sizeof(info));
		if (info.consistent) {
			exact++;
			expect_self_consistent(snap);
		} else {
			cr_expect(info.inconsistency[0],
				  "an approximate snapshot must say why");
		}
		rounds += info.settle_rounds;
		la_snapshot_free(snap);
	}
	la_session_close(s);
	cr_log_info("%u of %u snapshots of a malloc storm exact, %u settle rounds",
		    exact, n, rounds);
	/* Measured: 30 of 30 on 2 cores. Resuming all and retrying: 12 of 30. */
	cr_expect_geq(exact * 3, n * 2, "only %u of %u snapshots exact", exact,
		      n);
	/* Under load the storm threads may wait for a CPU: allow 5 s. */
	before = progress(&t);
	after = before;
	for (int i = 0; i < 500 && after == before; i++) {
		usleep(10000);
		after = progress(&t);
	}
	cr_expect_gt(after, before, "the target makes no progress");
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}
