/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_monitor.c - figure 5: bench/churn's ops/s alone and under
 * `leakattach monitor --interval 1` and `--interval 10`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ---- 5. leakattach monitor --------------------------------------------- */

struct mon_win {
	struct win w;
	unsigned samples; /* taken inside the window */
	double tool_s; /* the tool's CPU time inside the window */
	double lead_s; /* start of the tool to its first sample written */
};

/*
 * One window of o->window seconds: alone (every 0), or under a monitor
 * started before it. A monitor samples at once and then every I s; the
 * window starts I/2 after the first sample is written and the monitor's
 * --duration is I/2 + window, so the window holds window/I samples, but
 * neither the tool's start nor its first sample (which reads the debug
 * information when the log folder has no layout yet).
 */
static struct mon_win
monitor_window(const struct opts *o, struct target *t, double every,
	       struct history *h)
{
	struct mon_win mw = {0};
	struct win_mark m;
	struct rusage ru;
	double t0, cpu0 = 0;
	unsigned before = 0;
	pid_t child = 0;
	int st;

	if (every > 0) {
		history_read(t->pid, UINT_MAX, h);
		before = h->lines;
		t0 = now_s();
		child = monitor_start(o, t->pid, every, every / 2 + o->window,
				      NULL);
		for (;;) {
			history_read(t->pid, UINT_MAX, h);
			if (h->lines > before)
				break;
			if (waitpid(child, &st, WNOHANG) == child)
				die("`leakattach monitor -p %d` ended before its first sample (status %#x)",
				    (int)t->pid, st);
			if (now_s() - t0 > 60)
				die("`leakattach monitor -p %d` took no sample in 60 s",
				    (int)t->pid);
			usleep(5000); /* polling a file the tool appends to */
		}
		mw.lead_s = now_s() - t0;
		sleep_until(now_s() + every / 2);
		before = h->lines;
		cpu0 = process_cpu_s(child);
	}
	win_begin(t, &m);
	sleep_until(now_s() + o->window);
	mw.w = win_end(t, &m, 0);
	if (every > 0) {
		/* the monitor ended after its last sample, before now */
		history_read(t->pid, before, h);
		mw.samples = h->lines - before;
		monitor_reap(child, &ru);
		mw.tool_s = ru_cpu_s(&ru) - cpu0;
		mw.w.other_cores -= mw.tool_s / mw.w.secs;
		if (mw.w.other_cores < 0)
			mw.w.other_cores = 0;
	}
	return mw;
}

void
bench_monitor(const struct opts *o)
{
	static const double every[3] = {0, 1, 10};
	static struct history h;
	static double pause[MAX_MODEL], cpu[2 * MAX_ROUNDS];
	double rate[3][MAX_ROUNDS], slow[3][MAX_ROUNDS], tc[3][MAX_ROUNDS],
		oc[3][MAX_ROUNDS], pc[3][MAX_ROUNDS], pslow[3][MAX_ROUNDS],
		nsamp[3][MAX_ROUNDS], lead[3][MAX_ROUNDS];
	char nthreads[16], mib[32], b1[128], b2[128];
	const char *argv[] = {"churn", "--threads", nthreads,
			      "--mib", mib,	    NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned npause = 0, ncpu = 0, approx = 0;
	double t0 = now_s();
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
	printf("5. monitor: bench/churn, %u threads doing malloc/free (bench/storm's mix) over a\n"
	       "   %llu MiB heap; %u rounds, each a %.0f s window alone, under `leakattach monitor\n"
	       "   --interval 1` and under `--interval 10` (order rotated per round); a monitored\n"
	       "   window starts I/2 after the monitor's first sample, so it holds %.0f / I samples\n"
	       "   and not the tool's start; slowdown against the round's own \"alone\" window\n",
	       o->storm_threads, o->churn_mib, o->rounds, o->window, o->window);
	fflush(stdout);
	target_start(&t, o, argv, 120);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (bench/churn --mib %llu, PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, o->churn_mib,
	       (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	sleep_until(now_s() + 1); /* the hot blocks reach their steady mix */
	for (unsigned r = 0; r < o->rounds; r++) {
		for (unsigned k = 0; k < 3; k++) {
			unsigned p = (k + r) % 3;
			struct mon_win mw = monitor_window(o, &t, every[p], &h);

			rate[p][r] = mw.w.rate / 1e6;
			pc[p][r] = mw.w.per_cpu / 1e6;
			tc[p][r] = mw.w.target_cores;
			oc[p][r] = mw.w.other_cores;
			nsamp[p][r] = mw.samples;
			lead[p][r] = mw.lead_s;
			if (!p)
				continue;
			approx += h.approx;
			for (unsigned i = 0; i < h.n && npause < MAX_MODEL; i++)
				pause[npause++] = h.pause[i];
			if (mw.samples)
				cpu[ncpu++] = mw.tool_s * 1e3 / mw.samples;
		}
		for (unsigned p = 0; p < 3; p++) {
			slow[p][r] = 100 * (1 - rate[p][r] / rate[0][r]);
			pslow[p][r] = 100 * (1 - pc[p][r] / pc[0][r]);
		}
		if (o->verbose)
			fprintf(stderr,
				"  round %u: %.3f, %.3f, %.3f M ops/s; other load %.2f, %.2f, %.2f cores; %.0f, %.0f samples\n",
				r + 1, rate[0][r], rate[1][r], rate[2][r],
				oc[0][r], oc[1][r], oc[2][r], nsamp[1][r],
				nsamp[2][r]);
	}
	target_stop(&t);
	mon_dir_remove();
	printf("   %-21s %-27s %-24s %-25s %-20s %s\n", "", "target M ops/s",
	       "slowdown %", "M ops per target CPU s", "slowdown %",
	       "cores: target/others");
	for (unsigned p = 0; p < 3; p++) {
		char label[64], b3[128], b4[128];

		if (p == 0)
			snprintf(label, sizeof(label), "alone (baseline)");
		else
			snprintf(label, sizeof(label),
				 "monitor --interval %.0f", every[p]);
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
		double lo, hi, plo, phi;

		printf("   %-21s %.3f %% from --interval 1 (%.2f / 60), %.3f %% from --interval 10 (%.2f / 6)\n",
		       "--interval 60, extrap.", s1 / 60, s1, s10 / 6, s10);
		min_max(rate[0], o->rounds, &lo, &hi);
		min_max(pc[0], o->rounds, &plo, &phi);
		printf("   %-21s budget <= 0.5 %% at --interval 60: %s, but the \"alone\" windows alone\n"
		       "   %-21s spread over %.0f %% of their median (%.0f %% per CPU s): smaller differences are noise\n",
		       "", verdict(s1 / 60 <= 0.5), "",
		       100 * (hi - lo) / median(rate[0], o->rounds),
		       100 * (phi - plo) / median(pc[0], o->rounds));
	}
	for (unsigned p = 1; p < 3; p++)
		printf("   --interval %-2.0f samples per window %s, first sample %s s after the start\n",
		       every[p], spread(b1, sizeof(b1), 0, nsamp[p], o->rounds),
		       spread(b2, sizeof(b2), 2, lead[p], o->rounds));
	if (npause && ncpu) {
		/*
		 * As for the snapshots: the target stands still for the pause
		 * of each sample, and the tool's CPU time (snapshot, tracker,
		 * history and state files) is taken from its share of the
		 * cores.
		 */
		double cost =
			median(pause, npause) +
			median(cpu, ncpu) / (double)(cores > 0 ? cores : 1);

		printf("   samples in the windows: %u, pause %s ms, %u approximate;\n"
		       "     tool CPU per sample %s ms (per window)\n",
		       npause, spread(b1, sizeof(b1), 1, pause, npause), approx,
		       spread(b2, sizeof(b2), 1, cpu, ncpu));
		printf("   model (not disturbed by other load): stopped %.1f ms + tool CPU %.1f ms / %ld cores\n"
		       "     = %.1f ms per sample: %.2f %% at 1 s, %.3f %% at 10 s, %.4f %% at 60 s;\n"
		       "     budget <= 0.5 %% at --interval 60: %s\n",
		       median(pause, npause), median(cpu, ncpu), cores, cost,
		       cost / 10, cost / 100, cost / 600,
		       verdict(cost / 600 <= 0.5));
	}
	printf("   this figure took %.0f s (windows of %.0f s; heap build, and I/2 s + the tool's start\n"
	       "   before each monitored window)\n\n",
	       now_s() - t0, o->window);
	fflush(stdout);
}
