/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_monitor_rss.c - figure 6: leakattach's own VmRSS and VmHWM over a long
 * `monitor --interval 0.1` of bench/bigheap: the peak, and whether it grows.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

/* ---- 6. the monitor's own memory ---------------------------------------- */

/* A number from the monitor's JSON report (DIR/monitor.json); -1: none. */
static double
monitor_json_num(const char *key)
{
	char path[PATH_MAX + 16], buf[4096];
	double v = -1;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/monitor.json", mon_dir);
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (json_num(buf, key, &v))
		v = -1;
	return v;
}

/* A "Vm...:" line of /proc/PID/status, in KiB; -1 when gone. */
static double
proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	double v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl)) {
			v = strtod(line + kl, NULL);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

#define MAX_READINGS 4096

/* Least-squares slope of y over x. */
static double
slope(const double *x, const double *y, unsigned n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, d;

	for (unsigned i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	d = n * sxx - sx * sx;
	return n > 1 && d != 0 ? (n * sxy - sx * sy) / d : 0;
}

void
bench_monitor_rss(const struct opts *o)
{
	static double at[MAX_READINGS], rss[MAX_READINGS], hwm[MAX_READINGS],
		first[MAX_READINGS], last[MAX_READINGS];
	static struct history h;
	char mib[32], chunks[32], b1[128], series[512] = "";
	const char *argv[] = {"bigheap",  "--mib", mib,
			      "--chunks", chunks,  NULL};
	unsigned n = 0, nfirst = 0, nlast = 0, before, from;
	double t0 = now_s(), start, peak = 0, warm_kib, stopped = 0;
	struct rusage ru;
	struct target t;
	pid_t child;

	snprintf(mib, sizeof(mib), "%llu", o->rss_mib);
	snprintf(chunks, sizeof(chunks), "%llu", o->rss_mib * 5000);
	printf("6. monitor-rss: leakattach's own memory over a %.0f s `monitor --interval %g` of\n"
	       "   bench/bigheap (%llu MiB in about %s chunks, idle): the tool's VmRSS and VmHWM\n"
	       "   (/proc/PID/status) every second, after a first run that fills the log folder's\n"
	       "   layout cache\n",
	       o->rss_seconds, o->rss_interval, o->rss_mib, chunks);
	fflush(stdout);
	target_start(&t, o, argv, 600);
	printf("   heap built: %.1f MiB in %llu chunks in %.1f s (bench/bigheap, PID %d)\n",
	       (double)ready_field(&t, "bytes=") / 1048576,
	       ready_field(&t, "chunks="), now_s() - t0, (int)t.pid);
	fflush(stdout);
	mon_dir_make();
	/* One sample: the layout from the debug information, cached. */
	monitor_reap(monitor_start(o, t.pid, 1, 0.5, NULL), &ru);
	warm_kib = (double)ru.ru_maxrss;
	history_read(t.pid, UINT_MAX, &h);
	before = h.lines;

	start = now_s();
	child = monitor_start(o, t.pid, o->rss_interval, o->rss_seconds, NULL);
	for (unsigned k = 1; n < MAX_READINGS; k++) {
		double v, w;

		sleep_until(start + k);
		v = proc_status_kib(child, "VmRSS:");
		w = proc_status_kib(child, "VmHWM:");
		if (v < 0 || w < 0)
			break; /* it has ended: a zombie has no memory */
		at[n] = now_s() - start;
		rss[n] = v;
		hwm[n] = w;
		n++;
	}
	monitor_reap(child, &ru);
	history_read(t.pid, before, &h);
	target_stop(&t);

	for (unsigned i = 0; i < n; i++) {
		if (hwm[i] > peak)
			peak = hwm[i];
		if (at[i] <= 10.5)
			first[nfirst++] = rss[i];
		if (at[i] >= at[n - 1] - 9.5)
			last[nlast++] = rss[i];
		if (i % 10 == 9 && strlen(series) < sizeof(series) - 16)
			snprintf(series + strlen(series),
				 sizeof(series) - strlen(series), " %.2f",
				 rss[i] / 1024);
	}
	if ((double)ru.ru_maxrss > peak)
		peak = (double)ru.ru_maxrss;
	for (unsigned i = 0; i < h.n; i++)
		stopped += h.pause[i] / 1e3;
	for (from = 0; from < n && at[from] < 10; from++)
		;

	/* the run lasts --duration: its last sample is at rss_seconds */
	printf("   %-27s peak %.1f MiB (ru_maxrss), 1 sample; budget <= 8 MiB: %s\n"
	       "   %-27s (the layout from debug information, once per libc build)\n",
	       "first run, empty folder", warm_kib / 1024,
	       verdict(warm_kib / 1024 <= 8), "");
	printf("   %-27s %u in %.0f s (%.1f per s; the report says %.0f), %u approximate\n",
	       "samples", h.lines - before, o->rss_seconds,
	       (h.lines - before) / o->rss_seconds,
	       monitor_json_num("samples_this_run"), h.approx);
	printf("   %-27s %s ms; the target stood still %.0f %% of the time\n",
	       "pause per sample", spread(b1, sizeof(b1), 1, h.pause, h.n),
	       100 * stopped / o->rss_seconds);
	printf("   %-27s %.1f s (%.0f %% of one core), %.1f ms per sample\n",
	       "tool CPU", ru_cpu_s(&ru), 100 * ru_cpu_s(&ru) / o->rss_seconds,
	       h.lines > before ? 1e3 * ru_cpu_s(&ru) / (h.lines - before) : 0);
	printf("   %-27s%s\n", "VmRSS every 10 s, MiB", series);
	printf("   %-27s %.2f MiB (VmHWM %.2f, ru_maxrss %.2f)   budget <= 8 MiB: %s\n",
	       "PEAK RSS", peak / 1024, n ? hwm[n - 1] / 1024 : 0,
	       (double)ru.ru_maxrss / 1024, verdict(peak / 1024 <= 8));
	printf("   %-27s VmRSS median %.2f MiB in the first 10 s, %.2f MiB in the last 10 s (%+.0f KiB);\n"
	       "   %-27s slope %+.1f KiB/min after the first 10 s (least squares, %u readings)\n",
	       "growth", median(first, nfirst) / 1024,
	       median(last, nlast) / 1024,
	       median(last, nlast) - median(first, nfirst), "",
	       n > from ? 60 * slope(at + from, rss + from, n - from) : 0,
	       n - from);
	mon_dir_remove();
	printf("   this figure took %.0f s\n\n", now_s() - t0);
	fflush(stdout);
}
