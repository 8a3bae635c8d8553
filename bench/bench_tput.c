/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_tput.c - figure 4: an allocation-heavy target's ops/s (bench/storm)
 * alone and with a snapshot every 1 s and every 10 s, and a model of the
 * cost that other load does not disturb.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- 4. throughput of an allocation-heavy target ------------------------ */

struct snapstats {
	double pause[MAX_MODEL], cpu[MAX_MODEL], stopped[MAX_MODEL],
		settle[MAX_MODEL];
	unsigned n, approx, attempts;
};

/* One window: the target's ops/s, with a snapshot every `every` s (0: none). */
static struct win
window(const struct opts *o, struct target *t, double every,
       struct snapstats *ss)
{
	struct win_mark m;
	double start, tool_s = 0;

	win_begin(t, &m);
	start = now_s();
	if (every > 0)
		for (double at = every / 2; at < o->window; at += every) {
			struct run r;

			sleep_until(start + at);
			tool_snapshot(o, t->pid, NULL, &r);
			tool_s += r.cpu_ms / 1e3;
			if (ss->n < MAX_MODEL) {
				ss->pause[ss->n] = r.pause_ms;
				ss->cpu[ss->n] = r.cpu_ms;
				ss->settle[ss->n] = r.settle_rounds;
				/* each stop pauses it about as long */
				ss->stopped[ss->n] = r.pause_ms * r.attempts;
				ss->n++;
			}
			ss->approx += !r.consistent;
			ss->attempts += r.attempts;
		}
	sleep_until(start + o->window);
	return win_end(t, &m, tool_s);
}

void
bench_tput(const struct opts *o)
{
	static struct snapstats ss[3];
	static const double every[3] = {0, 1, 10};
	double rate[3][MAX_ROUNDS], slow[3][MAX_ROUNDS], tc[3][MAX_ROUNDS],
		oc[3][MAX_ROUNDS], pc[3][MAX_ROUNDS], pslow[3][MAX_ROUNDS];
	char nthreads[16], b1[128], b2[128];
	const char *argv[] = {"storm", nthreads, NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	printf("4. throughput: bench/storm, %u threads doing malloc/free of mixed small sizes;\n"
	       "   %u rounds, each a %.0f s window alone, with a snapshot every 1 s and every 10 s\n"
	       "   (order rotated per round); slowdown against the round's own \"alone\" window\n",
	       o->storm_threads, o->rounds, o->window);
	fflush(stdout);
	target_start(&t, o, argv, 30);
	sleep_until(now_s() + 2); /* let its heap reach its steady size */
	for (unsigned r = 0; r < o->rounds; r++) {
		for (unsigned k = 0; k < 3; k++) {
			unsigned p = (k + r) % 3;
			struct win w = window(o, &t, every[p], &ss[p]);

			rate[p][r] = w.rate / 1e6;
			pc[p][r] = w.per_cpu / 1e6;
			tc[p][r] = w.target_cores;
			oc[p][r] = w.other_cores;
		}
		for (unsigned p = 0; p < 3; p++) {
			slow[p][r] = 100 * (1 - rate[p][r] / rate[0][r]);
			pslow[p][r] = 100 * (1 - pc[p][r] / pc[0][r]);
		}
		if (o->verbose)
			fprintf(stderr,
				"  round %u: %.3f, %.3f, %.3f M ops/s; other load %.2f, %.2f, %.2f cores\n",
				r + 1, rate[0][r], rate[1][r], rate[2][r],
				oc[0][r], oc[1][r], oc[2][r]);
	}
	target_stop(&t);
	/*
	 * Other processes take CPU from the target unevenly, window by
	 * window; the target's ops per CPU second it got is immune to that
	 * (but also blind to the time it stood still and to the CPU the tool
	 * took from it: see the model below).
	 */
	printf("   %-21s %-27s %-24s %-25s %-20s %s\n", "", "target M ops/s",
	       "slowdown %", "M ops per target CPU s", "slowdown %",
	       "cores: target/others");
	for (unsigned p = 0; p < 3; p++) {
		char label[64], b3[128], b4[128];

		if (p == 0)
			snprintf(label, sizeof(label), "alone (baseline)");
		else
			snprintf(label, sizeof(label), "snapshot every %.0f s",
				 every[p]);
		printf("   %-21s %-27s %-24s %-25s %-20s %.2f / %.2f\n", label,
		       spread(b1, sizeof(b1), 2, rate[p], o->rounds),
		       p ? spread(b2, sizeof(b2), 1, slow[p], o->rounds) : "",
		       spread(b3, sizeof(b3), 2, pc[p], o->rounds),
		       p ? spread(b4, sizeof(b4), 1, pslow[p], o->rounds) : "",
		       median(tc[p], o->rounds), median(oc[p], o->rounds));
	}
	{
		double s1 = median(slow[1], o->rounds);
		double s10 = median(slow[2], o->rounds);

		printf("   %-21s %.3f %% from every 1 s (%.2f / 60), %.3f %% from every 10 s (%.2f / 6)\n",
		       "every 60 s, extrap.", s1 / 60, s1, s10 / 6, s10);
		double lo, hi, plo, phi;

		min_max(rate[0], o->rounds, &lo, &hi);
		min_max(pc[0], o->rounds, &plo, &phi);
		printf("   %-21s budget <= 0.5 %%: %s, but the \"alone\" windows alone spread over\n"
		       "   %-21s %.0f %% of their median (%.0f %% per CPU s): smaller differences are noise\n",
		       "", verdict(s1 / 60 <= 0.5), "",
		       100 * (hi - lo) / median(rate[0], o->rounds),
		       100 * (phi - plo) / median(pc[0], o->rounds));
	}
	for (unsigned p = 1; p < 3; p++)
		if (ss[p].n)
			printf("   snapshots every %2.0f s: %u, pause %s ms, tool CPU %s ms each,\n"
			       "     %u approximate, %u stops, settle rounds %.0f (median)\n",
			       every[p], ss[p].n,
			       spread(b1, sizeof(b1), 1, ss[p].pause, ss[p].n),
			       spread(b2, sizeof(b2), 0, ss[p].cpu, ss[p].n),
			       ss[p].approx, ss[p].attempts,
			       median(ss[p].settle, ss[p].n));
	{
		/*
		 * A cross-check of the noisy ops/s figures: per snapshot the
		 * target stands still for about pause x stops, and the tool's
		 * CPU time is taken from the target's share of the cores.
		 */
		static double stopped[2 * MAX_MODEL], cpu[2 * MAX_MODEL];
		unsigned n = ss[1].n + ss[2].n;
		double cost;

		memcpy(stopped, ss[1].stopped, ss[1].n * sizeof(double));
		memcpy(stopped + ss[1].n, ss[2].stopped,
		       ss[2].n * sizeof(double));
		memcpy(cpu, ss[1].cpu, ss[1].n * sizeof(double));
		memcpy(cpu + ss[1].n, ss[2].cpu, ss[2].n * sizeof(double));
		if (n && n <= MAX_MODEL) {
			cost = median(stopped, n) +
			       median(cpu, n) / (double)(cores > 0 ? cores : 1);
			printf("   model (not disturbed by other load): stopped %.1f ms (pause x stops) + tool CPU\n"
			       "     %.0f ms / %ld cores = %.1f ms per snapshot: %.2f %% at 1 s, %.3f %% at 10 s,\n"
			       "     %.4f %% at 60 s; budget <= 0.5 %%: %s\n",
			       median(stopped, n), median(cpu, n), cores, cost,
			       cost / 10, cost / 100, cost / 600,
			       verdict(cost / 600 <= 0.5));
		}
	}
	printf("\n");
	fflush(stdout);
}
