/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.c - the benchmark (`make bench`): the figures behind the budgets of
 * README.md's Performance section. This file holds the options and runs
 * the figures; what they share (statistics, targets, running leakattach)
 * is harness.c, and each figure has a file of its own: bench_pause.c (1
 * and 2), bench_stop.c, bench_tput.c, bench_monitor.c,
 * bench_monitor_rss.c, bench_callers.c, bench_window.c, bench_python.c.
 *
 * Speed and memory are measured here, never asserted: the machines are
 * shared and noisy, so every figure is the MEDIAN of several runs (with
 * min .. max beside it) and is printed next to a baseline measured in the
 * same run, on the same target. Budgets are printed beside the figures
 * with "met" or "NOT met"; the exit status says only whether the benchmark
 * could run (0) or not (2).
 *
 *   pause   the pause of `leakattach snapshot -p PID --json` against a bare
 *           process_vm_readv of the same heap mappings in 1 MiB pieces
 *           (the target's [heap] and its thread heaps), interleaved run by
 *           run, on four shapes of heap: bench/bigheap's 1 GiB in about
 *           5 M chunks, packed (every chunk in use) and fragmented (1 chunk
 *           in 16 free, in the bins), the fragmented one again built by 8
 *           threads in arenas of their own (multi-arena: 9 arenas, 25
 *           heaps), and a busy one (bench/churn: 4 threads doing
 *           malloc/free over 100 MiB). Then leakattach's peak RSS
 *           (ru_maxrss from wait4) on those heaps and on a tiny one
 *           (bench/threads 1 idle). Each for a first run and for later
 *           runs, and the RSS with --no-debuginfo too. A first run gets a
 *           fresh, empty log folder (LEAKATTACH_LOG_DIR, removed after), so
 *           the layout comes from the libc's debug info, as on the first
 *           run for a libc; it is counted as such when the JSON's layout
 *           source is "dwarf" and the folder then holds the layout, which
 *           the tool keeps only when DWARF gave it; `leakattach -vv` names
 *           the debug file. Later runs share one log folder, its layout
 *           cache filled by a warm-up run. About 45 s.
 *   stop    stop latency (stop_ms) for 4 and 100 threads, idle (blocked in
 *           a futex) and spinning (always runnable) (bench/threads).
 *   tput    an allocation-heavy target (bench/storm: 4 threads doing
 *           malloc/free of mixed small sizes, counting operations): its
 *           ops/s alone, with a snapshot every 1 s and every 10 s, in
 *           rounds that interleave the three; the slowdown per round
 *           against the "alone" window of the same round, extrapolated to
 *           one snapshot per 60 s. Other processes take CPU from the target
 *           unevenly, so each window also reports the cores the target and
 *           everyone else used (/proc), the target's ops per CPU second,
 *           and a model that other load does not disturb: time stopped
 *           plus the tool's CPU time over the cores, per interval.
 *   monitor the same measure under `leakattach monitor --interval 1` and
 *           `--interval 10` (one long-running tool, its leak tracker and
 *           its log folder included), on bench/churn: storm's mix over a
 *           100 MiB heap. Rounds interleave alone / 1 s / 10 s; each
 *           monitored window begins I/2 after the monitor's first sample,
 *           so it holds window / I samples and not the tool's start.
 *           Extrapolated to --interval 60 as above.
 *   monitor-rss  leakattach's own VmRSS and VmHWM (/proc/PID/status, read
 *           every second) over a 60 s `monitor --interval 0.1` of a
 *           128 MiB bench/bigheap: the peak, and whether it grows (the
 *           first against the last 10 s, and a least-squares slope).
 *   callers the cost of one --callers sampling window (issue 5), per
 *           backend: bench/churn as for monitor, in rounds that interleave
 *           the target alone, `monitor --interval 1 --duration W
 *           --callers=off` and the same with --callers=always (a window
 *           after every sample) and --callers-backend; the target's ops are counted around the
 *           whole monitor run, so a window's setup and teardown (closing
 *           the perf uprobe events, about 80 ms each on Linux 6.18,
 *           serialised) are in. Windows, window_ms and teardown_ms come
 *           from the JSON's callers_sampling. Per window: the ops lost
 *           beyond the samples' own loss, extrapolated to --interval 60
 *           with a window after every sample. Each backend is selected
 *           with --callers-backend (uprobe, int3).
 *   window  the same cost measured locally in time (issue 10: a window
 *           costs the target <= 50 ms of its work, in every configuration),
 *           where the callers figure's 10 s runs are too noisy for it:
 *           around one `leakattach check -p PID --callers=always
 *           --callers-backend=B --json` (one sample, then one window)
 *           against `--callers=off`, interleaved, 7 of each, on
 *           bench/churn --mib 16 with 1 and 8 threads, a fresh target per
 *           backend and thread count (a process that uprobes probed
 *           refuses int3). The tool runs under `unshare -m` with tracefs
 *           unmounted or mounted in its namespace. The target's work lost
 *           from the tool's start to 0.3 s after its exit (longer while its
 *           rate is not back: a teardown that outlives the tool), at the
 *           mean of its rates over 0.5 s just before and just after; a
 *           window's cost is the loss with it less the median loss of the
 *           sample alone. Beside it, less disturbed by other load: the ops
 *           missing at its ops per CPU second, plus the time its threads
 *           were stalled (/proc/PID/task/TID/schedstat).
 *   python  the Python lens (issue 12): Debian's /usr/bin/python3 with a
 *           pymalloc heap of --py-mib MiB of small objects (bench/pybig.py),
 *           parked in read(2); a bare read of its arena mappings against
 *           the pool census, the census with types, and the pause of
 *           la_snapshot_take() with and without the Python heap, each
 *           walk or snapshot in a fresh child that reports its VmHWM
 *           (bench_python.c). About 30 s.
 *
 * The pause and monitor figures give the tool temporary log folders
 * (removed at exit) and LEAKATTACH_CONFIG= (empty), so that no
 * configuration is read and no state left on the machine counts; the
 * monitor figures count samples in the folder's history.jsonl. (The stop
 * and throughput figures use the tool's default log folder.)
 *
 * Every snapshot runs the real tool as a child, so its cost includes the
 * start of the process and the layout lookup (debug info on a first run,
 * the layout cache after), as a cron job calling `leakattach snapshot`
 * would pay it.
 *
 * Targets are started with a pipe on stdin and stdout, print one readiness
 * line, die with us (PR_SET_PDEATHSIG) and end when their stdin closes.
 * Children are waited for by PID only.
 *
 * For ru_maxrss to be the tool's own, run the real binary, not libtool's
 * wrapper script (a shell whose RSS would count too): `make bench` runs
 * this program under `libtool --mode=execute`, which does that.
 *
 * To profile the tool: `bench --hold --free-every 16` builds the heap and
 * waits with its PID printed; `--wrap 'perf stat -d'` runs each snapshot
 * under a command; `--only pause` repeats the pause and RSS part alone
 * (and `--only monitor`, `--only monitor-rss` the monitor figures,
 * `--only callers` the sampling windows, `--only window` one window).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

enum {
	ONLY_PAUSE = 1,
	ONLY_STOP = 2,
	ONLY_TPUT = 4,
	ONLY_MONITOR = 8,
	ONLY_MONITOR_RSS = 16,
	ONLY_CALLERS = 32,
	ONLY_WINDOW = 64,
	ONLY_PYTHON = 128,
};

static void
usage(FILE *f)
{
	fputs("usage: bench [--only pause,stop,tput,monitor,monitor-rss,callers,window,\n"
	      "                    python]\n"
	      "             [--runs N] [--rounds N] [--window S] [--leakattach PATH]\n"
	      "             [--targets DIR] [--mib M] [--chunks N] [--free-every K,...]\n"
	      "             [--arenas T] [--storm-threads N]\n"
	      "             [--churn-mib M] [--rss-mib M] [--rss-seconds S]\n"
	      "             [--rss-interval S] [--tool-arg ARG]... [--wrap 'CMD ARGS']\n"
	      "             [--hold] [-v]\n"
	      "  --only LIST       parts to run (default all): pause (pause and peak RSS;\n"
	      "                    also called rss), stop (stop latency), tput (throughput\n"
	      "                    with snapshots), monitor (throughput under `leakattach\n"
	      "                    monitor`, about 3 minutes), monitor-rss (the monitor's\n"
	      "                    own RSS over a long run, about 70 s), callers (the\n"
	      "                    cost of one --callers sampling window per backend,\n"
	      "                    its setup and teardown included, about 3 minutes),\n"
	      "                    window (the same, around one `leakattach check` per\n"
	      "                    backend, thread count and tracefs state; needs\n"
	      "                    root for unshare -m; about 3 minutes), python (the\n"
	      "                    pymalloc and types census of Debian's python3 against\n"
	      "                    a bare read of its arenas, about 30 s)\n"
	      "  --runs N          runs per figure (default 5)\n"
	      "  --rounds N        throughput rounds, tput, monitor, callers (default 5);\n"
	      "                    window: trials of each kind (default 7)\n"
	      "  --window S        seconds per throughput window (default 10; at least 10,\n"
	      "                    so that the every-10-s window holds a snapshot); callers:\n"
	      "                    the monitor's --duration\n"
	      "  --leakattach PATH the tool (default ./leakattach)\n"
	      "  --targets DIR     where bigheap, threads, storm and churn are (default:\n"
	      "                    beside bench)\n"
	      "  --mib M, --chunks N  the big heap (default 1024 MiB in about 5000000\n"
	      "                    chunks)\n"
	      "  --free-every K,.. heap shapes to measure: every K-th chunk freed, 0 for\n"
	      "                    none (default 0,16)\n"
	      "  --arenas T        pause: the last of those shapes again, built by T\n"
	      "                    threads in arenas of their own (default 8; 0: not)\n"
	      "  --storm-threads N threads of storm and churn (default 4)\n"
	      "  --churn-mib M     pause (the busy heap), monitor, callers: churn's heap\n"
	      "                    (default 100 MiB)\n"
	      "  --rss-mib M       monitor-rss: bigheap's heap (default 128 MiB)\n"
	      "  --rss-seconds S   monitor-rss: the monitor's --duration (default 60)\n"
	      "  --rss-interval S  monitor-rss: the monitor's --interval (default 0.1)\n"
	      "  --py-mib M        python: the pymalloc heap (default 1024 MiB)\n"
	      "  --tool-arg ARG    one more argument for leakattach (e.g. --no-debuginfo)\n"
	      "  --wrap 'CMD'      run the tool under CMD (e.g. 'perf stat -d'); ru_maxrss\n"
	      "                    is then CMD's\n"
	      "  --hold            build the (first) big heap, print its PID and wait for\n"
	      "                    Enter, to profile by hand: bench --hold --free-every 16\n"
	      "  -v                every snapshot and run on stderr\n",
	      f);
}

static unsigned
parse_only(const char *s)
{
	unsigned m = 0;
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "pause") || !strcmp(tok, "rss"))
			m |= ONLY_PAUSE;
		else if (!strcmp(tok, "stop"))
			m |= ONLY_STOP;
		else if (!strcmp(tok, "tput") || !strcmp(tok, "throughput"))
			m |= ONLY_TPUT;
		else if (!strcmp(tok, "monitor"))
			m |= ONLY_MONITOR;
		else if (!strcmp(tok, "monitor-rss"))
			m |= ONLY_MONITOR_RSS;
		else if (!strcmp(tok, "callers"))
			m |= ONLY_CALLERS;
		else if (!strcmp(tok, "window"))
			m |= ONLY_WINDOW;
		else if (!strcmp(tok, "python"))
			m |= ONLY_PYTHON;
		else {
			usage(stderr);
			exit(64);
		}
	}
	return m;
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.tool = "./leakattach",
		.runs = 5,
		.rounds = 5,
		.win_rounds = 7,
		.window = 10,
		.mib = 1024,
		.chunks = 5000000,
		.free_every = {0, 16},
		.n_shapes = 2,
		.arenas = 8,
		.storm_threads = 4,
		.churn_mib = 100,
		.rss_mib = 128,
		.rss_seconds = 60,
		.rss_interval = 0.1,
		.py_mib = 1024,
		.only = ONLY_PAUSE | ONLY_STOP | ONLY_TPUT | ONLY_MONITOR |
			ONLY_MONITOR_RSS | ONLY_CALLERS | ONLY_WINDOW |
			ONLY_PYTHON,
	};
	const char *slash;
	double t0 = now_s();

	/* the python figure's walker, exec'ed by the driver (not an option) */
	if (argc > 1 && !strcmp(argv[1], "--python-child"))
		return bench_python_child(argc - 2, argv + 2);

	slash = strrchr(argv[0], '/');
	if (slash)
		snprintf(o.dir, sizeof(o.dir), "%.*s", (int)(slash - argv[0]),
			 argv[0]);
	else
		snprintf(o.dir, sizeof(o.dir), "bench");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define TAKES_VALUE                    \
	do {                           \
		if (!v) {              \
			usage(stderr); \
			return 64;     \
		}                      \
		i++;                   \
	} while (0)
		if (!strcmp(a, "--only")) {
			TAKES_VALUE;
			o.only = parse_only(v);
		} else if (!strcmp(a, "--runs")) {
			TAKES_VALUE;
			o.runs = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--rounds")) {
			TAKES_VALUE;
			o.rounds = (unsigned)strtoul(v, NULL, 10);
			o.win_rounds = o.rounds;
		} else if (!strcmp(a, "--window")) {
			TAKES_VALUE;
			o.window = strtod(v, NULL);
		} else if (!strcmp(a, "--leakattach")) {
			TAKES_VALUE;
			o.tool = v;
		} else if (!strcmp(a, "--targets")) {
			TAKES_VALUE;
			snprintf(o.dir, sizeof(o.dir), "%s", v);
		} else if (!strcmp(a, "--mib")) {
			TAKES_VALUE;
			o.mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--chunks")) {
			TAKES_VALUE;
			o.chunks = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--free-every")) {
			char *end;

			TAKES_VALUE;
			o.n_shapes = 0;
			for (const char *q = v; *q && o.n_shapes < MAX_SHAPES;
			     q = *end ? end + 1 : end) {
				o.free_every[o.n_shapes++] =
					strtoull(q, &end, 0);
				if (end == q)
					break;
			}
		} else if (!strcmp(a, "--arenas")) {
			TAKES_VALUE;
			o.arenas = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--storm-threads")) {
			TAKES_VALUE;
			o.storm_threads = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--churn-mib")) {
			TAKES_VALUE;
			o.churn_mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--rss-mib")) {
			TAKES_VALUE;
			o.rss_mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--rss-seconds")) {
			TAKES_VALUE;
			o.rss_seconds = strtod(v, NULL);
		} else if (!strcmp(a, "--rss-interval")) {
			TAKES_VALUE;
			o.rss_interval = strtod(v, NULL);
		} else if (!strcmp(a, "--py-mib")) {
			TAKES_VALUE;
			o.py_mib = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--tool-arg")) {
			TAKES_VALUE;
			if (o.n_tool_args < MAX_ARGS)
				o.tool_args[o.n_tool_args++] = argv[i];
		} else if (!strcmp(a, "--wrap")) {
			char *s, *tok, *save;

			TAKES_VALUE;
			s = strdup(v);
			for (tok = strtok_r(s, " ", &save);
			     tok && o.n_wrap < MAX_ARGS;
			     tok = strtok_r(NULL, " ", &save))
				o.wrap[o.n_wrap++] = tok;
		} else if (!strcmp(a, "--hold")) {
			o.hold = 1;
			o.only = ONLY_PAUSE;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o.verbose = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 64;
		}
#undef TAKES_VALUE
	}
	if (!o.runs || o.runs > MAX_RUNS || !o.rounds || !o.n_shapes ||
	    o.arenas > 64 || /* bench/bigheap's MAX_THREADS */
	    !o.win_rounds || o.win_rounds > MAX_ROUNDS ||
	    o.rounds > MAX_ROUNDS || o.window < 10 || !o.storm_threads ||
	    !o.churn_mib || !o.rss_mib || o.rss_seconds < 20 ||
	    o.rss_seconds > 3600 || o.rss_interval < 0.001 || !o.py_mib) {
		usage(stderr);
		return 64;
	}
	if (access(o.tool, X_OK))
		die("%s: %s (build it first, or pass --leakattach PATH)",
		    o.tool, strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	atexit(mon_dir_remove);
	atexit(pause_dirs_remove);
	print_machine(&o);
	if (o.only & ONLY_PAUSE)
		bench_pause(&o);
	if (o.only & ONLY_STOP)
		bench_stop(&o);
	if (o.only & ONLY_TPUT)
		bench_tput(&o);
	if (o.only & ONLY_MONITOR)
		bench_monitor(&o);
	if (o.only & ONLY_MONITOR_RSS)
		bench_monitor_rss(&o);
	if (o.only & ONLY_CALLERS)
		bench_callers(&o);
	if (o.only & ONLY_WINDOW)
		bench_window(&o);
	if (o.only & ONLY_PYTHON)
		bench_python(&o);
	printf("benchmark took %.0f s\n", now_s() - t0);
	return 0;
}

