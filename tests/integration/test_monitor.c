/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor.c - leak detection over time, as users run it: monitor,
 * check (with -p PID and with -- COMMAND), reset and simulate on the
 * leaky target's scenarios and on python3, judged by the leak rule of
 * leakattach(1): a leak through one size class is found within
 * --consecutive + 1 samples with its size class, arena and rate; a steady
 * cache, a sawtooth and fragmentation are not leaks (fragmentation is
 * retention); separate checks build one history in the log folder, which
 * survives corruption and concurrency and which reset forgets; usage
 * errors and the configuration file. Every target is unharmed at the end.
 *
 * Each test has a log folder of its own (LEAKATTACH_LOG_DIR) and reads no
 * configuration file unless it says so (LEAKATTACH_CONFIG=). JSON
 * documents (schema leakattach.check/1) are checked with python3.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"

/* sizeclass and thread leak blocks of this chunk size (leaky.c) */
#define LEAK_CHUNK 1168

#define EXIT_LEAK 1
#define EXIT_ERROR 2
#define EXIT_USAGE 64

/* A test's log folder and the environment that points leakattach at it. */
struct ctx {
	char dir[256];
	char log_env[300];
	char config_env[600];
	const char *env[3];
};

static void
ctx_open(struct ctx *c)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(c->dir, sizeof(c->dir), "%s/la-monitor-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
	snprintf(c->log_env, sizeof(c->log_env), "LEAKATTACH_LOG_DIR=%s",
		 c->dir);
	snprintf(c->config_env, sizeof(c->config_env), "LEAKATTACH_CONFIG=");
	c->env[0] = c->config_env;
	c->env[1] = c->log_env;
	c->env[2] = NULL;
}

/* Read this configuration file instead of none. */
static void
ctx_config(struct ctx *c, const char *path)
{
	snprintf(c->config_env, sizeof(c->config_env), "LEAKATTACH_CONFIG=%s",
		 path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
ctx_close(struct ctx *c)
{
	nftw(c->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run leakattach with the arguments (NULL-terminated); its exit status. */
static int
la_run(const struct ctx *c, struct run_result *r, ...)
{
	const char *argv[40];
	const char *a;
	va_list ap;
	int n = 0, err;

	argv[n++] = leakattach_path();
	va_start(ap, r);
	while ((a = va_arg(ap, const char *)) && n < 38) {
		argv[n++] = a;
		/*
		 * These tests count samples in fixed times: as root,
		 * --callers=auto would open uprobe windows whose teardown
		 * (~0.5 s each) changes that; test_callers covers callers.
		 */
		if (n == 2 && (!strcmp(a, "monitor") || !strcmp(a, "check")))
			argv[n++] = "--callers=off";
	}
	va_end(ap);
	argv[n] = NULL;
	err = run_capture(argv, c->env, 60000, r);
	cr_assert_eq(err, 0, "running %s: %s", argv[0], strerror(-err));
	cr_assert_lt(r->status, 128, "leakattach %s died: status %d\n%s",
		     argv[1], r->status, r->err);
	return r->status;
}

/* The number after "key": in a compact JSON document (top-level keys). */
static long long
json_int(const char *doc, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(doc, pat);
	cr_assert(p, "no \"%s\" in: %s", key, doc);
	return strtoll(p + strlen(pat), NULL, 10);
}

/* The string after "key": (no escapes expected). */
static void
json_str(const char *doc, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(doc, pat);
	cr_assert(p, "no \"%s\" in: %s", key, doc);
	p += strlen(pat);
	e = strchr(p, '"');
	cr_assert(e && (size_t)(e - p) < len);
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
}

/*
 * Run a python3 check on a JSON document (doc NULL: none, the script
 * globs files itself). The prelude loads it as d, checks the keys of
 * schema leakattach.check/1, and gives the script a (the extra
 * arguments), near() and where(). A failed assert fails the test with
 * python's message.
 */
static void
py_expect(const char *doc, const char *script, ...)
{
	static const char prelude[] =
		"import glob, json, os, sys\n"
		"d = json.load(open(sys.argv[1])) if sys.argv[1] != '-' else None\n"
		"a = sys.argv[2:]\n"
		"def near(x, want, tol=0.2):\n"
		"    return abs(x - want) <= tol * want\n"
		"def where(lst, kind=None, arena=None, chunk=None):\n"
		"    out = []\n"
		"    for f in lst:\n"
		"        if kind and f['kind'] != kind: continue\n"
		"        if arena == 'main' and f.get('arena') != 'main': continue\n"
		"        if arena == 'other' and f.get('arena', 'main') == 'main': continue\n"
		"        if chunk is not None and not (f.get('chunk_size_min', -1) <= chunk <= f.get('chunk_size_max', -1)): continue\n"
		"        out.append(f)\n"
		"    return out\n"
		"def check_doc(d):\n"
		"    assert d['schema'] == 'leakattach.check/1', d['schema']\n"
		"    for k in ('command', 'pid', 'verdict', 'samples', 'samples_this_run', 'approximate_samples', 'rules', 'leaks', 'retention', 'growing', 'totals'):\n"
		"        assert k in d, 'no key ' + k\n"
		"    for l in ('leaks', 'retention', 'growing'):\n"
		"        for f in d[l]:\n"
		"            for k in ('kind', 'location', 'in_use_bytes', 'growth_bytes', 'growth_bytes_per_hour', 'growth_percent', 'consecutive', 'verdict', 'new'):\n"
		"                assert k in f, ('no key ' + k, f)\n"
		"            assert f['verdict'] == {'leaks': 'leak', 'retention': 'retention', 'growing': 'growing'}[l], f\n"
		"            if f['kind'] in ('arena', 'arena_size_class'):\n"
		"                assert 'arena' in f, f\n"
		"            if f['kind'] in ('size_class', 'arena_size_class'):\n"
		"                assert f['chunk_size_min'] <= f['chunk_size_max'], f\n"
		"    assert d['verdict'] == ('leak' if d['leaks'] else 'no_leak'), d['verdict']\n"
		"    for k in ('in_use_bytes', 'free_bytes', 'system_bytes', 'rss_bytes'):\n"
		"        assert k in d['totals'], 'no totals key ' + k\n"
		"if d is not None:\n"
		"    check_doc(d)\n";
	char path[64] = "-", *full;
	const char *argv[16] = {"/usr/bin/python3", "-c", NULL, path};
	const char *arg;
	struct run_result r;
	va_list ap;
	int n = 4, err;

	if (doc) {
		int fd;

		snprintf(path, sizeof(path), "/tmp/la-json-XXXXXX");
		fd = mkstemp(path);
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
		close(fd);
	}
	full = malloc(sizeof(prelude) + strlen(script) + 1);
	cr_assert(full);
	strcpy(full, prelude);
	strcat(full, script);
	argv[2] = full;
	va_start(ap, script);
	while ((arg = va_arg(ap, const char *)) && n < 15)
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	err = run_capture(argv, NULL, 30000, &r);
	cr_assert_eq(err, 0, "python3: %s", strerror(-err));
	cr_expect_eq(r.status, 0, "JSON check failed:\n%s\ndocument: %.3000s",
		     r.err, doc ? doc : "(files)");
	run_result_free(&r);
	free(full);
	if (doc)
		remove(path);
}

/* Start a leaky scenario and wait for its "ready" line. */
static void
leaky_start(struct target *t, const char *const argv[])
{
	int err = target_start(t, "leaky", argv, NULL);

	cr_assert_eq(err, 0, "cannot start leaky: %s", strerror(-err));
	cr_assert_eq(target_read_line(t, 20000), 0, "no ready line");
	cr_assert(!strncmp(t->line, "ready ", 6), "%s", t->line);
}

/* Send a command and expect an answer starting with want. */
static void
leaky_cmd(struct target *t, const char *cmd, const char *want)
{
	cr_assert_eq(target_send(t, cmd), 0);
	cr_assert_eq(target_read_line(t, 20000), 0, "no answer to %s", cmd);
	cr_assert(!strncmp(t->line, want, strlen(want)), "%s: %s", cmd,
		  t->line);
}

static void
expect_unharmed(struct target *t)
{
	cr_expect_eq(target_check_unharmed(t, 0, NULL), 0, "%s", t->line);
	target_stop(t);
}

static void
pid_str(const struct target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%d", (int)t->pid);
}

/* Lines of a file, or -1 when it cannot be read. */
static int
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int
exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* ---- the leak rule ------------------------------------------------------- */

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

	ctx_open(&c);
	leaky_start(&t, argv);
	if (!strcmp(scenario, "thread")) {
		const char *h = strstr(t.line, "heap=");

		cr_assert(h, "%s", t.line);
		sscanf(h + 5, "%63s", heap);
	}
	pid_str(&t, pid, sizeof(pid));
	snprintf(want, sizeof(want), "%d", 100 * LEAK_CHUNK);
	leaky_cmd(&t, "step 100", "stepped");
	for (int i = 1; i <= 4; i++) {
		int rc = la_run(&c, &r, "check", "-p", pid, "--min-size", "64K",
				"--json", NULL);

		cr_assert_eq(json_int(r.out, "samples"), i, "%s", r.out);
		if (i < 4) {
			cr_expect_eq(rc, 0, "sample %d: %s%s", i, r.out, r.err);
			py_expect(
				r.out,
				"n = int(a[0])\n"
				"assert d['leaks'] == [], d['leaks']\n"
				"if n > 1:\n"
				"    g = where(d['growing'], 'size_class', None, 1168)\n"
				"    assert g and g[0]['consecutive'] == n - 1, d['growing']\n",
				nth[i], NULL);
			leaky_cmd(&t, "step 100", "stepped");
		} else {
			cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
			py_expect(r.out, leak_at_fourth, want,
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

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	leaky_cmd(&t, "timer 100 20", "timer on");
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
	leaky_cmd(&t, "timer 0 0", "timer off");
	py_expect(
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
	ctx_open(&c);
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
		py_expect(
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

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "8",
			    "--interval", "0.25", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect(
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

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 7; i++) {
		cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
			     0, "sample %d: %s%s", i, r.out, r.err);
		cr_expect_eq(json_int(r.out, "samples"), i);
		py_expect(r.out,
			  "assert d['leaks'] == [], d['leaks']\n"
			  "for f in d['growing']:\n"
			  "    assert f['consecutive'] <= 2, f\n",
			  NULL);
		run_result_free(&r);
		leaky_cmd(&t, "step", "stepped");
	}
	expect_unharmed(&t);
	ctx_close(&c);

	/* the control: two growths in a row are a leak with --consecutive 2 */
	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 3; i++) {
		int rc = la_run(&c, &r, "check", "-p", pid, "--consecutive",
				"2", "--json", NULL);

		cr_expect_eq(rc, i < 3 ? 0 : EXIT_LEAK, "sample %d: %s%s", i,
			     r.out, r.err);
		if (i == 3)
			py_expect(
				r.out,
				"assert where(d['leaks'], 'arena_size_class', 'main', 4096), d['leaks']\n",
				NULL);
		run_result_free(&r);
		leaky_cmd(&t, "step", "stepped");
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

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 6; i++) {
		cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
			     0, "sample %d: %s%s", i, r.out, r.err);
		py_expect(r.out, "assert d['leaks'] == [], d['leaks']\n", NULL);
		if (i == 6) {
			py_expect(
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
		leaky_cmd(&t, "step", "stepped");
	}
	/* in-use bytes flat within 1 %, free bytes grew, over the history */
	strcat(hist, "/history.jsonl");
	py_expect(NULL,
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
	int ret = -1, off = 0;

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	leaky_cmd(&t, "timer 200 1", "timer on");
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
	/* the timer's "stepped" lines come first */
	cr_assert_eq(target_send(&t, "timer 0 0"), 0);
	while (!off && target_read_line(&t, 20000) == 0)
		off = !strcmp(t.line, "timer off");
	cr_expect(off, "no answer to timer 0 0: %s", t.line);
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
	int off = 0;

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	leaky_cmd(&t, "timer 200 200", "timer on");
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
	cr_assert_eq(target_send(&t, "timer 0 0"), 0);
	while (!off && target_read_line(&t, 20000) == 0)
		off = !strcmp(t.line, "timer off");
	cr_expect(off, "no answer to timer 0 0: %s", t.line);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* ---- a real program: python3 ---------------------------------------------- */

/*
 * python3 -c SCRIPT list SIZE N: append N strings of SIZE characters to
 * a list every 0.1 s; dict SIZE KEYS N: replace N of KEYS values with
 * fresh strings of SIZE/2-3*SIZE/2 characters every 10 ms. "again" is
 * answered "alive"; quit or end of file ends it at once.
 */
static const char py_target[] =
	"import os, random, sys, threading, time\n"
	"def serve():\n"
	"    for line in sys.stdin:\n"
	"        if line.strip() == 'again':\n"
	"            print('alive', flush=True)\n"
	"        elif line.strip() == 'quit':\n"
	"            break\n"
	"    os._exit(0)\n"
	"threading.Thread(target=serve, daemon=True).start()\n"
	"mode, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[-1])\n"
	"rng = random.Random(1)\n"
	"i = 0\n"
	"if mode == 'list':\n"
	"    kept = []\n"
	"    print('ready', flush=True)\n"
	"    while True:\n"
	"        for _ in range(n):\n"
	"            kept.append(('%d ' % i).ljust(size, 'x'))\n"
	"            i += 1\n"
	"        time.sleep(0.1)\n"
	"keys = int(sys.argv[3])\n"
	"cache = {k: 'x' * rng.randint(size // 2, size * 3 // 2) for k in range(keys)}\n"
	"print('ready', flush=True)\n"
	"while True:\n"
	"    for _ in range(n):\n"
	"        cache[rng.randrange(keys)] = ('%d ' % i).ljust(rng.randint(size // 2, size * 3 // 2), 'y')\n"
	"        i += 1\n"
	"    time.sleep(0.01)\n";

static void
python_start(struct target *t, const char *const args[])
{
	const char *argv[8] = {"-c", py_target};
	int n = 2, err;

	for (int i = 0; args[i] && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	err = target_start(t, "/usr/bin/python3", argv, NULL);
	cr_assert_eq(err, 0, "python3: %s", strerror(-err));
	cr_assert_eq(target_read_line(t, 20000), 0, "python3 did not start");
	cr_assert_str_eq(t->line, "ready");
}

/*
 * Strings of 1000 characters are malloc()ed (pymalloc takes only 512
 * bytes and less), 500 of them every 0.1 s: the leak is named by its
 * size class in the main arena.
 */
Test(python, appending_large_strings_to_a_list_is_a_leak, .timeout = 60)
{
	const char *args[] = {"list", "1000", "500", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c);
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "0.3", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect(
		r.out,
		"assert d['comm'].startswith('python3'), d['comm']\n"
		"assert where(d['leaks'], 'arena_size_class', 'main', 1072), d['leaks']\n"
		"assert where(d['leaks'], 'heap'), d['leaks']\n",
		NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * 20000 strings of 100 characters every 0.1 s: the strings live in
 * pymalloc's arenas, which python mmaps itself, outside malloc's heap;
 * what malloc sees grow is the list's array. Still a leak, of the heap.
 */
Test(python, appending_small_strings_to_a_list_is_a_leak, .timeout = 60)
{
	const char *args[] = {"list", "100", "20000", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c);
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "0.3", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect(r.out, "assert where(d['leaks'], 'heap'), d['leaks']\n",
		  NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* A dict of 5000 keys whose values are replaced all the time: no leak. */
Test(python, churning_a_bounded_dict_is_no_leak, .timeout = 60)
{
	const char *args[] = {"dict", "1000", "5000", "200", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c);
	python_start(&t, args);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "8",
			    "--interval", "0.25", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect(
		r.out,
		"assert d['samples'] == 8 and d['leaks'] == [], d['leaks']\n"
		"assert d['totals']['in_use_bytes'] > 4 * 2**20, d['totals']\n",
		NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* ---- the log folder ------------------------------------------------------- */

/* check -p PID --json in c; returns the exit status, r filled. */
static int
check_once(const struct ctx *c, const char *pid, struct run_result *r)
{
	return la_run(c, r, "check", "-p", pid, "--min-size", "64K", "--json",
		      NULL);
}

Test(state, separate_checks_build_one_history_and_reset_forgets_it,
     .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], hist[600], want[64];

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 4; i++) {
		check_once(&c, pid, &r);
		cr_expect_eq(json_int(r.out, "samples"), i, "%s", r.out);
		cr_expect_eq(json_int(r.out, "samples_this_run"), 1);
		json_str(r.out, "state_dir", dir, sizeof(dir));
		run_result_free(&r);
		leaky_cmd(&t, "step 10", "stepped");
	}
	snprintf(hist, sizeof(hist), "%s/history.jsonl", dir);
	snprintf(want, sizeof(want), "/targets/%s-", pid);
	cr_expect(strstr(dir, want), "%s", dir);
	py_expect(
		NULL,
		"h = [json.loads(l) for l in open(a[0])]\n"
		"assert [s['sample'] for s in h] == [1, 2, 3, 4], h\n"
		"assert all(s['command'] == 'check' and s['consistent'] for s in h), h\n"
		"u = [s['in_use_bytes'] for s in h]\n"
		"assert all(y - x == 10 * 1168 for x, y in zip(u, u[1:])), u\n"
		"assert os.stat(os.path.dirname(a[0])).st_mode & 0o777 == 0o700\n",
		hist, NULL);

	cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0, "%s", r.err);
	snprintf(want, sizeof(want), "forgot the history of process %s", pid);
	cr_expect(strstr(r.out, want), "%s", r.out);
	run_result_free(&r);
	cr_expect(!exists(dir), "%s is still there", dir);
	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
	run_result_free(&r);
	cr_expect_eq(count_lines(hist), 1);
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(state, reset_all_forgets_every_process, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t[2];
	struct run_result r;
	struct ctx c;
	char pid[2][32], path[512];

	ctx_open(&c);
	for (int k = 0; k < 2; k++) {
		leaky_start(&t[k], argv);
		pid_str(&t[k], pid[k], sizeof(pid[k]));
		for (int i = 0; i < 2; i++) {
			check_once(&c, pid[k], &r);
			run_result_free(&r);
		}
	}
	cr_expect_eq(la_run(&c, &r, "reset", "--all", NULL), 0, "%s", r.err);
	cr_expect(strstr(r.out, "forgot the history of 2 processes"), "%s",
		  r.out);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/targets", c.dir);
	py_expect(NULL, "assert os.listdir(a[0]) == [], os.listdir(a[0])\n",
		  path, NULL);
	for (int k = 0; k < 2; k++) {
		check_once(&c, pid[k], &r);
		cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
		run_result_free(&r);
		expect_unharmed(&t[k]);
	}
	ctx_close(&c);
}

/*
 * State is keyed by PID and start time: the history of an earlier
 * process with the same PID (a folder with another start time) is not
 * this process's history, and is left alone; reset -p forgets both.
 */
Test(state, a_reused_pid_starts_fresh, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], fake[600], now[512], state[700];
	struct stat before, after;

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 2; i++) {
		check_once(&c, pid, &r);
		json_str(r.out, "state_dir", dir, sizeof(dir));
		run_result_free(&r);
	}
	snprintf(fake, sizeof(fake), "%s/targets/%s-1", c.dir, pid);
	cr_assert_eq(rename(dir, fake), 0, "rename %s: %s", dir,
		     strerror(errno));
	snprintf(state, sizeof(state), "%s/state", fake);
	cr_assert_eq(stat(state, &before), 0);

	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
	json_str(r.out, "state_dir", now, sizeof(now));
	cr_expect_str_eq(now, dir);
	run_result_free(&r);
	cr_assert_eq(stat(state, &after), 0);
	cr_expect_eq(before.st_size, after.st_size);
	cr_expect_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

	cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0, "%s", r.err);
	run_result_free(&r);
	cr_expect(!exists(fake) && !exists(dir), "reset -p left a folder");
	expect_unharmed(&t);
	ctx_close(&c);
}

/* Replace the state file with len bytes of garbage (NULL: cut it). */
static void
spoil_state(const char *dir, const char *garbage, int cut_to_half)
{
	char path[700];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/state", dir);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	if (cut_to_half >= 0) {
		cr_assert_eq(truncate(path, cut_to_half ? st.st_size / 2 : 0),
			     0);
		return;
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, garbage, strlen(garbage)),
		     (ssize_t)strlen(garbage));
	close(fd);
}

/*
 * A corrupt, a truncated and an empty state file: a warning, a fresh
 * history (the next sample is the first), the bad file kept aside, and
 * the usual exit status.
 */
Test(state, a_corrupt_state_file_warns_and_starts_fresh, .timeout = 60)
{
	static const char garbage[] =
		"leakattach-state 999\n\x01\x02 not a state \xff\n{{{\n";
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], aside[600];

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	leaky_cmd(&t, "step 100", "stepped");
	for (int how = 0; how < 3; how++) {
		for (int i = 1; i <= 3; i++) {
			check_once(&c, pid, &r);
			json_str(r.out, "state_dir", dir, sizeof(dir));
			run_result_free(&r);
			leaky_cmd(&t, "step 100", "stepped");
		}
		spoil_state(dir, garbage, how - 1); /* -1, 0, 1 */
		cr_expect_eq(check_once(&c, pid, &r), 0, "%s%s", r.out, r.err);
		cr_expect_eq(json_int(r.out, "samples"), 1, "how %d: %s", how,
			     r.out);
		cr_expect(strstr(r.err, "warning"), "how %d: no warning: %s",
			  how, r.err);
		run_result_free(&r);
		snprintf(aside, sizeof(aside), "%s/state.corrupt", dir);
		cr_expect(exists(aside), "how %d: no %s", how, aside);
		remove(aside);
		cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0);
		run_result_free(&r);
	}
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(state, an_unwritable_log_folder_is_an_error, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], file[512], below[600];
	FILE *f;
	const char *nl;

	ctx_open(&c);
	snprintf(file, sizeof(file), "%s/a-file", c.dir);
	f = fopen(file, "w");
	cr_assert(f);
	fclose(f);
	snprintf(below, sizeof(below), "%s/logs", file);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(
		la_run(&c, &r, "check", "-p", pid, "--log-dir", below, NULL),
		EXIT_ERROR, "%s%s", r.out, r.err);
	nl = strchr(r.err, '\n');
	cr_expect(nl && !nl[1], "not one line: %s", r.err);
	cr_expect(strstr(r.err, file), "the folder is not named: %s", r.err);
	run_result_free(&r);
	cr_expect_eq(la_run(&c, &r, "monitor", "-p", pid, "--log-dir", below,
			    "--interval", "0.1", "--duration", "0.2", NULL),
		     EXIT_ERROR, "%s%s", r.out, r.err);
	cr_expect(strstr(r.err, file), "%s", r.err);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

struct concurrent {
	const struct ctx *c;
	const char *pid;
	struct run_result r;
	int err;
};

static void *
concurrent_check(void *arg)
{
	struct concurrent *k = arg;
	const char *argv[] = {leakattach_path(), "check", "-p",		k->pid,
			      "--repeat",	 "3",	  "--interval", "0.05",
			      "--json",		 NULL};

	k->err = run_capture(argv, k->c->env, 60000, &k->r);
	return NULL;
}

/* Two checks at once on one target: both succeed, one history of 6. */
Test(state, concurrent_checks_share_one_history, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct concurrent k[2];
	pthread_t th[2];
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], hist[600];

	ctx_open(&c);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 0; i < 2; i++) {
		k[i] = (struct concurrent){.c = &c, .pid = pid};
		cr_assert_eq(
			pthread_create(&th[i], NULL, concurrent_check, &k[i]),
			0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(k[i].err, 0);
		cr_expect_eq(k[i].r.status, 0, "%s%s", k[i].r.out, k[i].r.err);
		py_expect(k[i].r.out, "assert d['samples_this_run'] == 3\n",
			  NULL);
		run_result_free(&k[i].r);
	}
	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 7, "%s", r.out);
	json_str(r.out, "state_dir", dir, sizeof(dir));
	run_result_free(&r);
	snprintf(hist, sizeof(hist), "%s/history.jsonl", dir);
	py_expect(NULL,
		  "h = [json.loads(l) for l in open(a[0])]\n"
		  "assert [s['sample'] for s in h] == list(range(1, 8)), h\n",
		  hist, NULL);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* ---- simulate ---------------------------------------------------------------- */

/* The chunk glibc mmaps for malloc(1 MiB): 1 MiB + 16, + 8, to pages. */
#define MIB_CHUNK "1052672"

Test(simulate, finds_the_planted_leak, .timeout = 60)
{
	struct run_result r;
	struct ctx c;

	ctx_open(&c);
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "5",
			    "--interval", "0.2", "--json", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect(
		r.out,
		"assert d['command'] == 'simulate', d['command']\n"
		"l = where(d['leaks'], 'size_class', None, int(a[0]))\n"
		"assert len(l) == 1, d['leaks']\n"
		"assert l[0]['in_use_bytes'] >= 5 * int(a[0]), l\n"
		"assert near(l[0]['growth_bytes'] / l[0]['consecutive'], int(a[0]), 0.05), l\n"
		"assert d['totals']['mmapped_bytes'] >= 5 * int(a[0]), d['totals']\n",
		MIB_CHUNK, NULL);
	run_result_free(&r);
	ctx_close(&c);
}

Test(simulate, count_zero_finds_nothing, .timeout = 60)
{
	struct run_result r;
	struct ctx c;

	ctx_open(&c);
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "0",
			    "--interval", "0.2", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect(r.out, "assert d['leaks'] == [] and d['samples'] == 4, d\n",
		  NULL);
	run_result_free(&r);
	ctx_close(&c);
}

/* "12.3 MiB" -> bytes */
static double
parse_human(const char *s)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
	char unit[8];
	double v, m = 1;

	cr_assert_eq(sscanf(s, "%lf %7[A-Za-z]", &v, unit), 2, "%s", s);
	for (int i = 0; i < 4; i++, m *= 1024)
		if (!strcmp(unit, units[i]))
			return v * m;
	cr_assert_fail("unit in %s", s);
	return 0;
}

Test(simulate, cleanup_shows_the_memory_come_back, .timeout = 60)
{
	struct run_result r;
	struct ctx c;
	const char *p, *arrow;

	ctx_open(&c);
	cr_expect_eq(la_run(&c, &r, "simulate", "--size", "1", "--count", "4",
			    "--interval", "0.2", "--cleanup", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	p = strstr(r.out, "cleanup: the child freed its blocks: in use ");
	cr_assert(p, "%s", r.out);
	p = strstr(p, "in use ") + 7;
	arrow = strstr(p, " -> ");
	cr_assert(arrow, "%s", r.out);
	cr_expect_geq(parse_human(p), 4.0 * 1024 * 1024, "%s", r.out);
	cr_expect_lt(parse_human(arrow + 4), 1.0 * 1024 * 1024, "%s", r.out);
	/* the blocks were touched and mmapped: RSS falls with them */
	p = strstr(arrow, "RSS ");
	cr_assert(p, "%s", r.out);
	arrow = strstr(p, " -> ");
	cr_assert(arrow, "%s", r.out);
	cr_expect_lt(parse_human(arrow + 4) + 3.0 * 1024 * 1024,
		     parse_human(p + 4), "%s", r.out);
	cr_expect(strstr(r.out, "simulate: found the planted leak"), "%s",
		  r.out);
	run_result_free(&r);
	ctx_close(&c);
}

/* ---- usage and configuration ------------------------------------------------ */

Test(usage, errors_exit_64_with_one_line, .timeout = 60)
{
	static const struct {
		const char *args[6];
		const char *says;
	} cases[] = {
		{{"check", NULL}, "check needs -p PID or -- COMMAND"},
		{{"check", "-p", "PID", "--threshold", "abc", NULL},
		 "--threshold"},
		{{"check", "-p", "PID", "--", "true", NULL}, "not both"},
		{{"reset", NULL}, "reset needs -p PID or --all"},
		{{"snapshot", "-p", "PID", "--repeat", "3", NULL},
		 "--repeat does not apply to snapshot"},
		{{"monitor", "--interval", "1", NULL}, "monitor needs -p PID"},
		{{"monitor", "-p", "PID", "--consecutive", "0", NULL},
		 "--consecutive"},
		{{"check", "-p", "PID", "--min-size", "3X", NULL},
		 "--min-size"},
		{{"frobnicate", NULL}, "unknown command"},
	};
	struct run_result r;
	struct ctx c;
	char pid[32], targets[512];

	ctx_open(&c);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = {leakattach_path()};
		const char *nl;
		int n = 1;

		for (int j = 0; cases[i].args[j]; j++)
			argv[n++] = strcmp(cases[i].args[j], "PID")
					    ? cases[i].args[j]
					    : pid;
		argv[n] = NULL;
		cr_assert_eq(run_capture(argv, c.env, 30000, &r), 0);
		cr_expect_eq(r.status, EXIT_USAGE, "%s: status %d: %s",
			     cases[i].args[0], r.status, r.err);
		cr_expect(strstr(r.err, cases[i].says), "case %zu: %s", i,
			  r.err);
		nl = strchr(r.err, '\n');
		cr_expect(nl && !nl[1], "case %zu: not one line: %s", i, r.err);
		cr_expect_str_eq(r.out, "", "case %zu", i);
		run_result_free(&r);
	}
	/* usage errors touch nothing */
	snprintf(targets, sizeof(targets), "%s/targets", c.dir);
	cr_expect(!exists(targets), "a usage error created %s", targets);
	ctx_close(&c);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/*
 * consecutive = 2 in the configuration file makes the leak one sample
 * earlier; --consecutive 3 on the command line wins over the file.
 */
Test(config, file_sets_defaults_and_the_command_line_wins, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], conf[512];

	for (int cli = 0; cli < 2; cli++) {
		ctx_open(&c);
		snprintf(conf, sizeof(conf), "%s/config", c.dir);
		write_file(conf, "# leak sooner\n"
				 "consecutive = 2\n"
				 "[check]\n"
				 "min-size = 64K\n"
				 "[monitor]\n"
				 "min-size = 1G\n");
		ctx_config(&c, conf);
		leaky_start(&t, argv);
		pid_str(&t, pid, sizeof(pid));
		leaky_cmd(&t, "step 100", "stepped");
		for (int i = 1; i <= 3; i++) {
			int rc = cli ? la_run(&c, &r, "check", "-p", pid,
					      "--consecutive", "3", "--json",
					      NULL)
				     : la_run(&c, &r, "check", "-p", pid,
					      "--json", NULL);

			cr_expect_eq(rc, i == 3 && !cli ? EXIT_LEAK : 0,
				     "cli %d sample %d: %s%s", cli, i, r.out,
				     r.err);
			py_expect(
				r.out,
				"assert d['rules']['consecutive'] == int(a[0]), d['rules']\n"
				"assert d['rules']['min_size_bytes'] == 65536, d['rules']\n",
				cli ? "3" : "2", NULL);
			run_result_free(&r);
			leaky_cmd(&t, "step 100", "stepped");
		}
		expect_unharmed(&t);
		ctx_close(&c);
	}
}

Test(config, a_bad_line_is_a_usage_error_naming_file_and_line, .timeout = 60)
{
	static const struct {
		const char *text;
		const char *line;
	} cases[] = {
		{"threshold = 2\nthreshold = abc\n", ":2:"},
		{"# fine\n\njust words\n", ":3:"},
		{"[nosuchcommand]\n", ":1:"},
		{"pid = 1\n", ":1:"},
	};
	struct run_result r;
	struct ctx c;
	char conf[512], want[600];

	ctx_open(&c);
	snprintf(conf, sizeof(conf), "%s/bad.conf", c.dir);
	ctx_config(&c, conf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(conf, cases[i].text);
		cr_expect_eq(la_run(&c, &r, "check", "-p", "1", NULL),
			     EXIT_USAGE, "case %zu: %s", i, r.err);
		snprintf(want, sizeof(want), "%s%s", conf, cases[i].line);
		cr_expect(strstr(r.err, want), "case %zu: %s", i, r.err);
		run_result_free(&r);
	}
	ctx_close(&c);
}
