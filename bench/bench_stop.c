/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_stop.c - figure 3: stop latency, first PTRACE_INTERRUPT to every
 * thread stopped, for 4 and 100 threads, idle and spinning (bench/threads).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

/* ---- 3. stop latency ---------------------------------------------------- */

void
bench_stop(const struct opts *o)
{
	/*
	 * With 100 spinning threads on a few cores the tool itself gets
	 * little CPU (about cores / 101 of it), so one run takes seconds:
	 * that case runs at most 3 times, without a warm-up.
	 */
	static const struct {
		const char *n, *mode;
		unsigned max_runs;
	} cfg[] = {{"4", "idle", MAX_RUNS},
		   {"4", "spin", MAX_RUNS},
		   {"100", "idle", MAX_RUNS},
		   {"100", "spin", 3}};

	printf("3. stop latency: first PTRACE_INTERRUPT -> every thread stopped (bench/threads;\n"
	       "   idle: threads blocked in a futex; spin: threads always runnable, no malloc)\n");
	printf("   %-12s %-6s %-5s %-30s %-30s\n", "threads", "mode", "runs",
	       "stop_ms", "pause_ms");
	for (unsigned c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		const char *argv[] = {"threads", cfg[c].n, cfg[c].mode, NULL};
		unsigned runs =
			o->runs < cfg[c].max_runs ? o->runs : cfg[c].max_runs;
		double stop[MAX_RUNS], pause[MAX_RUNS];
		char b1[128], b2[128], label[32];
		struct target t;
		struct run r;

		target_start(&t, o, argv, 60);
		if (runs == o->runs)
			tool_snapshot(o, t.pid, NULL, &r); /* warm-up */
		for (unsigned i = 0; i < runs; i++) {
			tool_snapshot(o, t.pid, NULL, &r);
			stop[i] = r.stop_ms;
			pause[i] = r.pause_ms;
		}
		target_stop(&t);
		snprintf(label, sizeof(label), "%s + main", cfg[c].n);
		printf("   %-12s %-6s %-5u %-30s %-30s", label, cfg[c].mode,
		       runs, spread(b1, sizeof(b1), 3, stop, runs),
		       spread(b2, sizeof(b2), 3, pause, runs));
		if (atoi(cfg[c].n) <= 8)
			printf(" budget <= 2 ms: %s",
			       verdict(median(stop, runs) <= 2));
		printf("\n");
		fflush(stdout);
	}
	printf("\n");
}
