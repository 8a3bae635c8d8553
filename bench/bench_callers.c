/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_callers.c - figure 7: the cost of one --callers sampling window per
 * backend, counted over whole `leakattach monitor` runs of bench/churn.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- 7. callers: the cost of one sampling window ------------------------ */

/*
 * The backends of --callers (issue 5 item 3). select: the arguments that
 * make `leakattach monitor` open a window after every sample with that
 * backend; NULL while the tool offers no way to choose it. help_word: how
 * to tell from `leakattach --help` that the backend was built in.
 */
static const struct cbackend {
	const char *name; /* as in the JSON's callers_sampling.backend */
	const char *select[3]; /* the monitor's arguments */
	const char *help_word;
} cbackends[] = {
	/*
	 * int3 first: a process that kernel uprobes have probed refuses
	 * int3 windows for the rest of its life (see int3.c, resolve()),
	 * and the backends share one target.
	 */
	{"int3", {"--callers=always", "--callers-backend=int3", NULL}, "int3"},
	{"uprobe",
	 {"--callers=always", "--callers-backend=uprobe", NULL},
	 "uprobe"},
};

static void
callers_json_read(struct callers_json *cj)
{
	char path[PATH_MAX + 16], *js;

	snprintf(path, sizeof(path), "%s/monitor.json", mon_dir);
	js = file_read_all(path);
	if (callers_json_parse(js, cj))
		die("`leakattach monitor --json` printed no samples_this_run: %.300s",
		    js);
	free(js);
}

/* One run of the figure: alone, or under a monitor with `args`. */
struct callers_run_result {
	struct win w;
	double ops; /* the target's operations over the run */
	double tool_cpu_s;
	struct callers_json cj;
};

/*
 * The target's counters around a whole `leakattach monitor --interval I
 * --duration D ARGS`, from before its start to after its exit: the tool's
 * start, every sample and every window with its setup and teardown are
 * inside. With args NULL: the target alone for as long.
 */
static struct callers_run_result
callers_run(const struct opts *o, struct target *t, double interval,
	    double duration, const char *const *args)
{
	struct callers_run_result cr;
	struct win_mark m;
	struct rusage ru;
	pid_t child;

	memset(&cr, 0, sizeof(cr));
	win_begin(t, &m);
	if (!args) {
		sleep_until(now_s() + duration);
	} else {
		child = monitor_start(o, t->pid, interval, duration, args);
		monitor_reap(child, &ru);
		cr.tool_cpu_s = ru_cpu_s(&ru);
		callers_json_read(&cr.cj);
	}
	cr.w = win_end(t, &m, cr.tool_cpu_s);
	cr.ops = cr.w.rate * cr.w.secs;
	return cr;
}

/* Does `leakattach --help` mention the word? */
static int
tool_help_has(const struct opts *o, const char *word)
{
	char cmd[PATH_MAX + 64], line[512];
	int found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", o->tool);
	f = popen(cmd, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, word))
			found = 1;
	if (f)
		pclose(f);
	return found;
}

void
bench_callers(const struct opts *o)
{
	enum { ALONE, OFF, ON, NMODES };
	static const char *const off_args[] = {"--callers=off", NULL};
	static const char *const mode_name[NMODES] = {
		"alone (baseline)", "monitor --callers=off",
		"monitor --callers=always"};
	const double interval = 1, duration = o->window;
	char nthreads[16], mib[32], b1[128], b2[128], b3[128];
	const char *argv[] = {"churn", "--threads", nthreads,
			      "--mib", mib,	    NULL};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double t0 = now_s();
	struct target t;

	snprintf(nthreads, sizeof(nthreads), "%u", o->storm_threads);
	snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
	printf("7. callers: one sampling window on the allocation functions (--callers), per\n"
	       "   backend; bench/churn, %u threads over a %llu MiB heap; %u rounds, each %.0f s\n"
	       "   alone, under `leakattach monitor --interval %.0f --duration %.0f --callers=off` and\n"
	       "   with a window after every sample (--callers=always), order rotated per round;\n"
	       "   the target's ops counted from before the monitor's start to after its exit.\n"
	       "   Ops lost per window = (alone rate x run - ops) of the --callers=always run,\n"
	       "   less its samples x the median loss per sample of the --callers=off runs,\n"
	       "   over its windows (each run against its own round's alone rate)\n",
	       o->storm_threads, o->churn_mib, o->rounds, duration, interval,
	       duration);
	fflush(stdout);
	target_start(&t, o, argv, 120);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	/* the first sample of a log folder reads the debug information */
	monitor_reap(monitor_start(o, t.pid, 1, 0.5, NULL), NULL);
	for (unsigned b = 0; b < sizeof(cbackends) / sizeof(cbackends[0]);
	     b++) {
		const struct cbackend *be = &cbackends[b];
		double rate[NMODES][MAX_ROUNDS], secs[NMODES][MAX_ROUNDS];
		double samples[NMODES][MAX_ROUNDS], tcpu[NMODES][MAX_ROUNDS];
		double oc[NMODES][MAX_ROUNDS];
		double lost_ops[MAX_ROUNDS], lost_ms[MAX_ROUNDS],
			samp_ms[MAX_ROUNDS], win_ms[MAX_ROUNDS],
			tear_ms[MAX_ROUNDS], nwin[MAX_ROUNDS],
			allocs[MAX_ROUNDS], rlost[MAX_ROUNDS], wcpu[MAX_ROUNDS],
			total_pct[MAX_ROUNDS], win_pct[MAX_ROUNDS],
			tc[NMODES][MAX_ROUNDS];
		/* per round: the alone rate, the always run's unexplained loss */
		double r_alone[MAX_ROUNDS], r_loss[MAX_ROUNDS];
		double samp_med;
		unsigned n = 0;
		char backend_seen[32] = "";

		if (!be->select[0]) {
			printf("   %s: not measured: %s\n", be->name,
			       tool_help_has(o, be->help_word)
				       ? "`leakattach --help` mentions it, but this benchmark does not know\n"
					 "     how to select it yet (fill its slot in cbackends[], bench/bench_callers.c)"
				       : "backend not built (`leakattach --help` offers --callers no way\n"
					 "     to select it)");
			continue;
		}
		for (unsigned r = 0; r < o->rounds; r++) {
			struct callers_run_result cr[NMODES];
			double per_sample, loss;

			for (unsigned k = 0; k < NMODES; k++) {
				unsigned p = (k + r) % NMODES;

				cr[p] = callers_run(o, &t, interval, duration,
						    p == ALONE ? NULL
						    : p == OFF ? off_args
							       : be->select);
				rate[p][n] = cr[p].w.rate / 1e6;
				secs[p][n] = cr[p].w.secs;
				samples[p][n] = cr[p].cj.samples;
				tcpu[p][n] = cr[p].tool_cpu_s;
				oc[p][n] = cr[p].w.other_cores;
				tc[p][n] = cr[p].w.target_cores;
			}
			if (cr[ON].cj.error[0]) {
				printf("   %s: not measured: %s\n", be->name,
				       cr[ON].cj.error);
				break;
			}
			if (!cr[ON].cj.windows || !cr[OFF].cj.samples) {
				printf("   %s: round %u: no window was opened (%.0f samples); round left out\n",
				       be->name, r + 1, cr[ON].cj.samples);
				continue;
			}
			snprintf(backend_seen, sizeof(backend_seen), "%s",
				 cr[ON].cj.backend);
			/*
			 * In ops, at the alone rate of the same round. The
			 * loss per sample of one 10 s run is noisy (a few
			 * samples against the target's own spread): the
			 * always runs subtract the median over the rounds,
			 * below.
			 */
			per_sample = (cr[ALONE].w.rate * cr[OFF].w.secs -
				      cr[OFF].ops) /
				     cr[OFF].cj.samples;
			loss = cr[ALONE].w.rate * cr[ON].w.secs - cr[ON].ops;
			r_alone[n] = cr[ALONE].w.rate;
			r_loss[n] = loss;
			nwin[n] = cr[ON].cj.windows;
			/* as milliseconds of the target's whole work */
			samp_ms[n] = per_sample / cr[ALONE].w.rate * 1e3;
			win_ms[n] = cr[ON].cj.window_ms / nwin[n];
			tear_ms[n] = cr[ON].cj.teardown_ms / nwin[n];
			allocs[n] = cr[ON].cj.allocations / nwin[n];
			rlost[n] = cr[ON].cj.lost / nwin[n];
			wcpu[n] = (cr[ON].tool_cpu_s -
				   cr[ON].cj.samples * cr[OFF].tool_cpu_s /
					   cr[OFF].cj.samples) /
				  nwin[n] * 1e3;
			if (o->verbose)
				fprintf(stderr,
					"  %s round %u: %.3f / %.3f / %.3f M ops/s; %.0f / %.0f samples, %.0f windows; always lost %.0f ms in all, %.1f ms per sample (off)\n",
					be->name, r + 1, rate[ALONE][n],
					rate[OFF][n], rate[ON][n],
					samples[OFF][n], samples[ON][n],
					nwin[n], loss / r_alone[n] * 1e3,
					samp_ms[n]);
			n++;
		}
		if (!n)
			continue;
		samp_med = median(samp_ms, n);
		for (unsigned i = 0; i < n; i++) {
			double loss = r_loss[i] - samples[ON][i] * samp_med /
							  1e3 * r_alone[i];

			lost_ops[i] = loss / nwin[i] / 1e6;
			lost_ms[i] = loss / nwin[i] / r_alone[i] * 1e3;
			win_pct[i] = lost_ms[i] / 60e3 * 100;
			total_pct[i] = (lost_ms[i] + samp_med) / 60e3 * 100;
		}
		printf("   --- backend %s%s%s%s ---\n", be->name,
		       strcmp(backend_seen, be->name) ? " (the JSON says \""
						      : "",
		       strcmp(backend_seen, be->name) ? backend_seen : "",
		       strcmp(backend_seen, be->name) ? "\")" : "");
		printf("   %-26s %-27s %-7s %-8s %-11s %s\n", "",
		       "target M ops/s", "run s", "samples", "tool CPU s",
		       "cores: target/others");
		for (unsigned p = 0; p < NMODES; p++)
			printf("   %-26s %-27s %-7.1f %-8.0f %-11.2f %.2f / %.2f\n",
			       mode_name[p],
			       spread(b1, sizeof(b1), 2, rate[p], n),
			       median(secs[p], n), median(samples[p], n),
			       median(tcpu[p], n), median(tc[p], n),
			       median(oc[p], n));
		printf("   windows per run %s; per window (medians, min .. max):\n",
		       spread(b1, sizeof(b1), 0, nwin, n));
		printf("     window (probes enabled) %s ms, teardown (closing the events)\n"
		       "     %s ms (the tool's own clocks)\n",
		       spread(b1, sizeof(b1), 1, win_ms, n),
		       spread(b2, sizeof(b2), 0, tear_ms, n));
		printf("     allocations recorded %s, lost (rings full) %s\n",
		       spread(b1, sizeof(b1), 0, allocs, n),
		       spread(b2, sizeof(b2), 0, rlost, n));
		printf("     tool CPU %s ms (beyond the samples'; %ld cores)\n",
		       spread(b1, sizeof(b1), 0, wcpu, n), cores);
		printf("     the target's ops lost %s M\n"
		       "       = %s ms of its work at the alone rate (setup + window + teardown)\n",
		       spread(b1, sizeof(b1), 2, lost_ops, n),
		       spread(b2, sizeof(b2), 0, lost_ms, n));
		printf("     for comparison, one sample (--callers=off) costs it %s ms\n"
		       "       (the median is what the always runs' samples are charged)\n",
		       spread(b3, sizeof(b3), 0, samp_ms, n));
		{
			double lo, hi;

			min_max(rate[ALONE], n, &lo, &hi);
			printf("   --interval 60 with a window after every sample (--callers=always, the worst\n"
			       "     case; auto opens one only after a sample where something grew):\n"
			       "     the window %s %%, with its sample %s %%;\n"
			       "     budget <= 0.5 %% (window and sample): %s; the \"alone\" runs spread over %.0f %%\n"
			       "     of their median\n",
			       spread(b1, sizeof(b1), 3, win_pct, n),
			       spread(b2, sizeof(b2), 3, total_pct, n),
			       verdict(median(total_pct, n) <= 0.5),
			       100 * (hi - lo) / median(rate[ALONE], n));
		}
	}
	target_stop(&t);
	mon_dir_remove();
	printf("   this figure took %.0f s\n\n", now_s() - t0);
	fflush(stdout);
}
