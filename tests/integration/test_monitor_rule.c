/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_rule.c - the leak rule: a leak through one size class is
 * found at --consecutive + 1 samples with its size class, arena and rate
 * (check -p, check -- COMMAND, monitor); a steady cache, a sawtooth and
 * fragmentation are not leaks (fragmentation is retention); --auto-cleanup
 * trims retention, and not while a leak grows.
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_monitor.h"

/* ---- the leak rule ------------------------------------------------------- */

/* Stop leaky's timer: the lines of its ticks come before the answer. */
static void
timer_off(struct target *t)
{
	int off = 0;

	cr_assert_eq(target_send(t, "timer 0 0"), 0);
	while (!off && target_read_line(t, 20000) == 0)
		off = !strcmp(t->line, "timer off");
	cr_expect(off, "no answer to timer 0 0: %s", t->line);
}


/* The sizeclass leak after its fourth sample, for sizeclass and thread. */
static const char leak_at_fourth[] =
	"want = int(a[0]); arena = a[1]; heap = int(a[2], 16)\n"
	"assert d['samples'] == 4 and d['verdict'] == 'leak', d['samples']\n"
	"l = where(d['leaks'], 'arena_size_class', arena, 1168)\n"
	"assert len(l) == 1, d['leaks']\n"
	"f = l[0]\n"
	"assert f['new'] is True and f['consecutive'] == 3, f\n"
	"assert near(f['growth_bytes'] / 3, want), (f['growth_bytes'], want)\n"
	"assert near(f['in_use_bytes'], 4 * want), f\n"
	"assert f['growth_bytes_per_hour'] > 0, f\n"
	"assert len(f['growth_percent']) == 3 and all(p > 2 for p in f['growth_percent']), f\n"
	"if arena == 'other':\n"
	"    assert int(f['arena'], 16) & ~(64 * 2**20 - 1) == heap, (f['arena'], hex(heap))\n"
	"    assert where(d['leaks'], 'arena', 'other'), d['leaks']\n"
	"    assert not where(d['leaks'], arena='main'), d['leaks']\n"
	"assert where(d['leaks'], 'size_class', None, 1168), d['leaks']\n"
	"for f in d['leaks']:\n"
	"    if 'chunk_size_min' in f:\n"
	"        assert f['chunk_size_min'] <= 1168 <= f['chunk_size_max'], f\n";

/*
 * A target that leaks 100 chunks of 1168 bytes between samples: no leak
 * in samples 1-3, the leak at sample 4 = --consecutive + 1, in that size
 * class and arena, at 100 x 1168 bytes per sample.
 */
static void
stepped_leak(const char *scenario)
{
	static const char *const nth[] = {"0", "1", "2", "3"};
	const char *argv[] = {scenario, NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], heap[64] = "0", want[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	if (!strcmp(scenario, "thread")) {
		const char *h = strstr(t.line, "heap=");

		cr_assert(h, "%s", t.line);
		sscanf(h + 5, "%63s", heap);
	}
	pid_str(&t, pid, sizeof(pid));
	snprintf(want, sizeof(want), "%d", 100 * LEAK_CHUNK);
	target_expect(&t, "step 100", "stepped");
	for (int i = 1; i <= 4; i++) {
		int rc = la_run(&c, &r, "check", "-p", pid, "--min-size", "64K",
				"--json", NULL);

		cr_assert_eq(json_int(r.out, "samples"), i, "%s", r.out);
		if (i < 4) {
			/* fewer than 4 samples: no verdict yet */
			cr_expect_eq(rc, EXIT_UNDECIDED, "sample %d: %s%s", i,
				     r.out, r.err);
			py_expect_doc(
				r.out,
				"n = int(a[0])\n"
				"assert d['leaks'] == [], d['leaks']\n"
				"if n > 1:\n"
				"    g = where(d['growing'], 'size_class', None, 1168)\n"
				"    assert g and g[0]['consecutive'] == n - 1, d['growing']\n",
				nth[i], NULL);
			target_expect(&t, "step 100", "stepped");
		} else {
			cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
			py_expect_doc(r.out, leak_at_fourth, want,
				  strcmp(scenario, "thread") ? "main" : "other",
				  heap, NULL);
		}
		run_result_free(&r);
	}
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(rule, size_class_leak_is_found_at_consecutive_plus_one, .timeout = 60)
{
	stepped_leak("sizeclass");
}

/*
 * A warm-up (issue 13: memcached filling its slabs was a leak for good):
 * 100 chunks of 1168 bytes before each of 4 samples, a leak at the 4th,
 * the first of one check --repeat; then flat. With --consecutive (3)
 * flat samples after the leak, it is listed as stopped growing and no
 * longer makes the exit status 1; with 2 it is still the run's leak.
 */
Test(rule, a_leak_that_stops_growing_is_a_plateau_not_a_leak, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	for (int flat = 2; flat <= 3; flat++) {
		char repeat[8];

		snprintf(repeat, sizeof(repeat), "%d", flat + 1);
		ctx_open(&c, "la-monitor");
		leaky_start(&t, argv);
		pid_str(&t, pid, sizeof(pid));
		for (int i = 1; i <= 3; i++) {
			target_expect(&t, "step 100", "stepped");
			cr_expect_eq(la_run(&c, &r, "check", "-p", pid,
					    "--min-size", "64K", "--json",
					    NULL),
				     EXIT_UNDECIDED, "%s%s", r.out, r.err);
			run_result_free(&r);
		}
		target_expect(&t, "step 100", "stepped");
		/* the leak at this run's first sample, then flat ones */
		cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--min-size",
				    "64K", "--repeat", repeat, "--interval",
				    "0.1", "--json", NULL),
			     flat == 3 ? 0 : EXIT_LEAK, "flat %d: %s%s", flat,
			     r.out, r.err);
		py_expect_doc(
			r.out,
			"flat = int(a[0])\n"
			"assert d['samples'] == 4 + flat, d['samples']\n"
			"assert d['leaks'] == [], d['leaks']\n"
			"assert where(d['leaks_this_run'], 'arena_size_class', 'main', 1168), d['leaks_this_run']\n"
			"p = where(d['plateau'], 'arena_size_class', 'main', 1168)\n"
			"if flat < 3:\n"
			"    assert p == [] and d['verdict'] == 'leak', d\n"
			"else:\n"
			"    assert d['verdict'] == 'no_leak', d['verdict']\n"
			"    assert len(p) == 1, d['plateau']\n"
			"    assert p[0]['stopped_growing_samples'] == 3, p\n"
			"    assert p[0]['consecutive'] == 3 and len(p[0]['growth_percent']) == 3, p\n"
			"    assert p[0]['growth_bytes'] >= 3 * 100 * 1168, p\n",
			flat == 3 ? "3" : "2", NULL);
		run_result_free(&r);
		/* the text says it, and no longer calls it a leak */
		if (flat == 3) {
			cr_expect_eq(la_run(&c, &r, "check", "-p", pid,
					    "--min-size", "64K", NULL),
				     0, "%s%s", r.out, r.err);
			cr_expect(strstr(r.out, "STOPPED GROWING"), "%s",
				  r.out);
			cr_expect(strstr(r.out, "flat for 4 samples since"),
				  "%s", r.out);
			cr_expect_not(strstr(r.out, "\nLEAK"), "%s", r.out);
			run_result_free(&r);
		}
		expect_unharmed(&t);
		ctx_close(&c);
	}
}

/*
 * The growth a check saw is shown even when no rule fired (issue 13: a
 * 1 MB/s leak growing 1.98 % per sample was "No leak", the 14.5 MiB it
 * had seen not shown). A leak every 10 ms, --min-size 1G so that no
 * location can be a leak: the text names the heap's growth, and the
 * JSON's heap_growth is the difference of the history's own in-use bytes
 * between the run's first and last exact samples. Then with the timer
 * off, no growth line.
 */
static const char heap_growth_matches_history[] =
	"h = [json.loads(l) for l in open(a[0])]\n"
	"run = [s for s in h[-int(a[1]):] if s['consistent']]\n"
	"g = d['heap_growth']\n"
	"assert g['samples'] == len(run), (g, len(run))\n"
	"assert g['bytes'] == run[-1]['in_use_bytes'] - run[0]['in_use_bytes'], (g, run)\n"
	"assert abs(g['percent'] - 100.0 * g['bytes'] / run[0]['in_use_bytes']) < 0.01, g\n"
	"assert d['leaks'] == [] and d['verdict'] == 'undecided', d['verdict']\n";

Test(rule, the_heap_s_growth_is_shown_when_no_rule_fired, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], hist[600];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "timer 10 10", "timer on");
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "3",
			    "--interval", "0.2", "--min-size", "1G", "--json",
			    NULL),
		     EXIT_UNDECIDED, "%s%s", r.out, r.err);
	json_str(r.out, "state_dir", hist, sizeof(hist) - 16);
	strcat(hist, "/history.jsonl");
	py_expect_doc(r.out, heap_growth_matches_history, hist, "3", NULL);
	run_result_free(&r);
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "2",
			    "--interval", "0.2", "--min-size", "1G", NULL),
		     0, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "  the heap grew "), "%s", r.out);
	cr_expect(strstr(r.out, "; no location crossed the rule"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "No leak"), "%s", r.out);
	run_result_free(&r);
	timer_off(&t);
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "2",
			    "--interval", "0.2", "--min-size", "1G", NULL),
		     0, "%s%s", r.out, r.err);
	cr_expect_not(strstr(r.out, "the heap grew"), "%s", r.out);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * Issue 13's fast leak called "No leak": a steady 1 MB/s leak in a
 * process holding about 49 MB, sampled every second (the field trial's
 * 1 MB/s in 240 MB every 5 s, scaled: about +2.06 %, +2.02 %, +1.98 %
 * a sample, shrinking as it grows). A one-sample check is undecided
 * (exit 3, no verdict); the same history at 6 samples is a leak, still
 * one at the last sample.
 */
static const char fast_leak_found[] =
	"assert d['samples'] == 6 and d['verdict'] == 'leak', (d['samples'], d['verdict'])\n"
	"l = where(d['leaks'], 'arena_size_class', 'main', 1168)\n"
	"assert len(l) == 1, d['leaks']\n"
	"assert l[0]['evidence'] == 'consecutive' and l[0]['consecutive'] >= 3, l[0]\n";

Test(rule, a_fast_leak_near_the_threshold_is_found_within_six_samples,
     .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "step 41800", "stepped");
	target_expect(&t, "timer 100 86", "timer on");
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--callers=off",
			    "--json", NULL),
		     EXIT_UNDECIDED, "%s%s", r.out, r.err);
	py_expect_doc(r.out,
		      "assert d['verdict'] == 'undecided' and d['samples_needed'] >= 1, d\n",
		      NULL);
	run_result_free(&r);
	/*
	 * The next check's first sample comes half an interval after this
	 * one at the earliest: 0.5 s, half a step of this leak, which on a
	 * loaded machine (CI, sanitizer build) made the first growth 1.0 %
	 * and the streak's average fall short of the threshold. Every growth
	 * here is a whole interval's, as in the field trial.
	 */
	usleep(1000 * 1000);
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "1", "--callers=off", "--json",
			    NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect_doc(r.out, fast_leak_found, NULL);
	run_result_free(&r);
	timer_off(&t);
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(rule, thread_arena_leak_names_the_arena, .timeout = 60)
{
	stepped_leak("thread");
}

/*
 * monitor on a target leaking 20 chunks every 100 ms: exit 1, the leak
 * line, and a report with the class and the rate (20 x 1168 bytes ten
 * times a second; three ticks per 0.3 s sample).
 */
Test(rule, monitor_reports_a_timer_leak_with_its_rate, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "timer 100 20", "timer on");
	/* no sampling windows: their teardown would stretch the cadence */
	cr_expect_eq(la_run(&c, &r, "monitor", "-p", pid, "--interval", "0.3",
			    "--duration", "1.5", "--min-size", "64K",
			    "--callers=off", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out,
			 "LEAK chunks of 1040-1264 bytes in the main arena"),
		  "%s", r.out);
	cr_expect(strstr(r.out, "6 samples"), "%s", r.out);
	run_result_free(&r);
	target_expect(&t, "timer 0 0", "timer off");
	py_expect_doc(
		NULL,
		"docs = [json.load(open(p)) for p in glob.glob(a[0] + '/reports/*.json')]\n"
		"assert docs, 'no report in ' + a[0]\n"
		"found = []\n"
		"for r in docs:\n"
		"    check_doc(r)\n"
		"    assert r['command'] == 'monitor', r['command']\n"
		"    found += [f for f in where(r['leaks'], 'arena_size_class', 'main', 1168) if f['new']]\n"
		"assert len(found) == 1, found\n"
		"f = found[0]\n"
		"assert f['consecutive'] == 3, f\n"
		"assert near(f['growth_bytes'] / 3, 3 * 20 * 1168), f\n"
		"assert near(f['growth_bytes_per_hour'], 10 * 20 * 1168 * 3600), f\n",
		c.dir, NULL);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * check -- COMMAND starts the program, checks it --repeat times (by
 * default --consecutive + 1) and stops it.
 */
Test(rule, check_command_starts_checks_and_stops_the_program, .timeout = 60)
{
	static const char *const repeats[] = {"4", NULL};
	char leaky[4096], pidpath[64];
	struct run_result r;
	struct ctx c;

	cr_assert(target_path("leaky", leaky, sizeof(leaky)));
	ctx_open(&c, "la-monitor");
	for (int i = 0; i < 2; i++) {
		int rc;
		pid_t pid;

		if (repeats[i])
			rc = la_run(&c, &r, "check", "--interval", "0.2",
				    "--repeat", repeats[i], "--min-size", "64K",
				    "--json", "--", leaky, "sizeclass", "50",
				    "20", NULL);
		else
			rc = la_run(&c, &r, "check", "--interval", "0.2",
				    "--min-size", "64K", "--json", "--", leaky,
				    "sizeclass", "50", "20", NULL);
		cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
		cr_expect_eq(json_int(r.out, "samples"), 4, "%s", r.out);
		py_expect_doc(
			r.out,
			"assert d['command'] == 'check' and d['comm'] == 'leaky', d['comm']\n"
			"assert d['samples_this_run'] == 4, d\n"
			"assert where(d['leaks'], 'arena_size_class', 'main', 1168), d['leaks']\n",
			NULL);
		pid = (pid_t)json_int(r.out, "pid");
		snprintf(pidpath, sizeof(pidpath), "/proc/%d", (int)pid);
		cr_expect(pid > 0 && !exists(pidpath),
			  "the started program %d is still there", (int)pid);
		run_result_free(&r);
	}
	ctx_close(&c);
}

/*
 * A cache of 4096 entries of 64-4096 bytes (8 MiB), constantly replaced
 * by a background thread, with temporaries: the default rules find no
 * leak in 8 samples. Steady means steady per size class too: leaky swaps
 * the sizes of two entries at each replacement, so no class's in-use
 * bytes move by more than the two chunks (8 KiB) a sample may catch in
 * flight, which is under 2 % of any class of 1 MiB or more, and under
 * 1 % of the arena: nothing at or above --min-size may even grow. (When
 * a replacement drew a fresh size, each quarter-octave class of ~500
 * entries random-walked by about 4 %, and three rises of more than 2 %
 * in a row, a leak by the rule, came in about one check in ten; telling
 * that noise from a leak is the rule's business, not this test's.)
 */
Test(rule, steady_cache_with_churn_is_no_leak, .timeout = 60)
{
	const char *argv[] = {"cache", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "8",
			    "--interval", "0.25", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect_doc(
		r.out,
		"assert d['samples'] == 8, d['samples']\n"
		"assert d['leaks'] == [], d['leaks']\n"
		"assert d['growing'] == [], d['growing']\n"
		"assert d['approximate_samples'] < 8, 'no exact sample'\n"
		"assert 6 * 2**20 < d['totals']['in_use_bytes'] < 12 * 2**20, d['totals']\n"
		"assert d['totals']['arenas'] == 2, d['totals']\n",
		NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * A cache that grows by 1 MiB a tick and is dropped every third tick
 * grows two samples in a row, never three: no leak with the default
 * rules in 7 samples; with --consecutive 2 the same pattern is one.
 */
Test(rule, sawtooth_cache_is_no_leak, .timeout = 60)
{
	const char *argv[] = {"sawtooth", "3", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 7; i++) {
		cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
			     i < 4 ? EXIT_UNDECIDED : 0, "sample %d: %s%s", i,
			     r.out, r.err);
		cr_expect_eq(json_int(r.out, "samples"), i);
		py_expect_doc(r.out,
			  "assert d['leaks'] == [], d['leaks']\n"
			  "for f in d['growing']:\n"
			  "    assert f['consecutive'] <= 2, f\n",
			  NULL);
		run_result_free(&r);
		target_expect(&t, "step", "stepped");
	}
	expect_unharmed(&t);
	ctx_close(&c);

	/* the control: two growths in a row are a leak with --consecutive 2 */
	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 3; i++) {
		int rc = la_run(&c, &r, "check", "-p", pid, "--consecutive",
				"2", "--json", NULL);

		cr_expect_eq(rc, i < 3 ? EXIT_UNDECIDED : EXIT_LEAK,
			     "sample %d: %s%s", i, r.out, r.err);
		if (i == 3)
			py_expect_doc(
				r.out,
				"assert where(d['leaks'], 'arena_size_class', 'main', 4096), d['leaks']\n",
				NULL);
		run_result_free(&r);
		target_expect(&t, "step", "stepped");
	}
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * Fragmentation: each step frees 64 holes of 8 KiB between live blocks
 * and allocates as much in a new size class, so in-use bytes stay flat
 * and free bytes grow by 512 KiB: retention of the main arena (and the
 * heap), never a leak, with the default rules.
 */
Test(rule, fragmentation_is_retention_not_leak, .timeout = 60)
{
	const char *argv[] = {"fragment", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], hist[512];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 6; i++) {
		cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
			     i < 4 ? EXIT_UNDECIDED : 0, "sample %d: %s%s", i,
			     r.out, r.err);
		py_expect_doc(r.out, "assert d['leaks'] == [], d['leaks']\n", NULL);
		if (i == 6) {
			py_expect_doc(
				r.out,
				"rs = where(d['retention'], 'arena', 'main') + where(d['retention'], 'heap')\n"
				"assert len(rs) == 2, d['retention']\n"
				"for f in rs:\n"
				"    assert f['consecutive'] >= 3, f\n"
				"    assert f['free_bytes'] >= 2**20, f\n"
				"    assert near(f['growth_bytes'] / f['consecutive'], 512 * 1024, 0.3), f\n"
				"assert [f for f in d['retention'] if f['new']] == [], 'retention stays new'\n",
				NULL);
			json_str(r.out, "state_dir", hist, sizeof(hist) - 16);
		}
		run_result_free(&r);
		target_expect(&t, "step", "stepped");
	}
	/* in-use bytes flat within 1 %, free bytes grew, over the history */
	strcat(hist, "/history.jsonl");
	py_expect_doc(NULL,
		  "h = [json.loads(l) for l in open(a[0])]\n"
		  "assert len(h) == 6, h\n"
		  "u = [s['in_use_bytes'] for s in h]\n"
		  "assert max(u) - min(u) <= 0.01 * min(u), u\n"
		  "fr = [s['free_bytes'] for s in h]\n"
		  "assert all(y > x for x, y in zip(fr, fr[1:])), fr\n",
		  hist, NULL);
	/* the text report says what it is and what to do */
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, NULL), 0, "%s%s", r.out,
		     r.err);
	cr_expect(strstr(r.out, "RETENTION"), "%s", r.out);
	cr_expect(strstr(r.out, "No leak"), "%s", r.out);
	cr_expect(strstr(r.out, "leakattach trim -p"), "%s", r.out);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * monitor --auto-cleanup on a heap that fragments every 200 ms (in use
 * flat, free growing; two steps per 0.4 s sample, never none): once the
 * retention is found, malloc_trim(0) is called in the target, the RSS
 * goes down, and it is still no leak.
 */
Test(rule, auto_cleanup_trims_retention, .timeout = 60)
{
	const char *argv[] = {"fragment", "12", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];
	const char *line;
	double rb = 0, ra = 0;
	char ub[16] = "", ua[16] = "";
	int ret = -1;

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "timer 200 1", "timer on");
	cr_expect_eq(la_run(&c, &r, "monitor", "-p", pid, "--interval", "0.4",
			    "--duration", "2.4", "--auto-cleanup", NULL),
		     0, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "RETENTION"), "%s", r.out);
	line = strstr(r.out, "auto-cleanup: malloc_trim(0) returned ");
	cr_assert(line, "no trim: %s%s", r.out, r.err);
	cr_expect_eq(
		sscanf(line,
		       "auto-cleanup: malloc_trim(0) returned %d: RSS %lf %15[^ ,] -> %lf %15[^ ,]",
		       &ret, &rb, ub, &ra, ua),
		5, "%s", line);
	cr_expect_eq(ret, 1, "%s", line);
	cr_expect_str_eq(ub, ua, "%s", line);
	cr_expect_lt(ra, rb, "RSS did not go down: %s", line);
	cr_expect(strstr(r.out, "malloc_trim(0) was called 1 time"), "%s",
		  r.out);
	cr_expect_not(strstr(r.out, "LEAK"), "%s", r.out);
	run_result_free(&r);
	timer_off(&t);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * The same fragmenting heap while a thread leaks in its own arena: the
 * retention is found, but a leak grows too, and trimming cannot fix a
 * leak: --auto-cleanup says so and does not call malloc_trim.
 */
Test(rule, auto_cleanup_does_not_trim_while_a_leak_grows, .timeout = 60)
{
	const char *argv[] = {"fragment", "12", "thread", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "timer 200 200", "timer on");
	/* no sampling windows: their teardown would stretch the cadence */
	cr_expect_eq(la_run(&c, &r, "monitor", "-p", pid, "--interval", "0.4",
			    "--duration", "2.4", "--min-size", "64K",
			    "--auto-cleanup", "--callers=off", NULL),
		     1, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "RETENTION"), "%s", r.out);
	cr_expect(strstr(r.out, "LEAK"), "%s", r.out);
	cr_expect(
		strstr(r.err, "auto-cleanup: not trimming while a leak grows"),
		"%s", r.err);
	cr_expect_not(strstr(r.out, "auto-cleanup: malloc_trim(0) returned"),
		      "%s", r.out);
	cr_expect_not(strstr(r.out, "malloc_trim(0) was called"), "%s", r.out);
	run_result_free(&r);
	timer_off(&t);
	expect_unharmed(&t);
	ctx_close(&c);
}
