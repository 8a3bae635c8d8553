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
 * One test program, a file per suite: test_monitor_rule.c (the leak rule),
 * test_monitor_python.c (a real program), test_monitor_state.c (the log
 * folder), test_monitor_simulate.c, test_monitor_cli.c (usage errors and
 * the configuration file). This file holds what they share
 * (test_monitor.h).
 *
 * Each test has a log folder of its own (LEAKATTACH_LOG_DIR) and reads no
 * configuration file unless it says so (LEAKATTACH_CONFIG=). JSON
 * documents (schema leakattach.check/1) are checked with python3.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_monitor.h"

/* Run leakattach with the arguments (NULL-terminated); its exit status. */
int
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
long long
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
void
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

void
leaky_start(struct target *t, const char *const argv[])
{
	target_start_ready(t, "leaky", argv, "ready ");
}

void
pid_str(const struct target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%d", (int)t->pid);
}

/* Lines of a file, or -1 when it cannot be read. */
int
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

int
exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/*
 * The prelude of py_expect_doc(): loads the document as d, checks the
 * keys of schema leakattach.check/1 (and that the census in "memory" adds
 * up; a program that is not python3 has no "python"), and gives the script a (the extra
 * arguments), near() and where().
 */
static const char check_prelude[] =
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
	"    for k in ('command', 'pid', 'verdict', 'samples', 'samples_this_run', 'approximate_samples', 'rules', 'leaks', 'retention', 'growing', 'totals', 'memory'):\n"
	"        assert k in d, 'no key ' + k\n"
	"    for l in ('leaks', 'retention', 'growing', 'plateau'):\n"
	"        for f in d[l]:\n"
	"            for k in ('kind', 'location', 'in_use_bytes', 'growth_bytes', 'growth_bytes_per_hour', 'growth_percent', 'consecutive', 'verdict', 'new'):\n"
	"                assert k in f, ('no key ' + k, f)\n"
	"            assert f['verdict'] == {'leaks': 'leak', 'retention': 'retention', 'growing': 'growing', 'plateau': 'plateau'}[l], f\n"
	"            if l == 'plateau':\n"
	"                assert f['stopped_growing_samples'] >= d['rules']['consecutive'], f\n"
	"            if f['kind'] in ('arena', 'arena_size_class'):\n"
	"                assert 'arena' in f, f\n"
	"            if f['kind'] in ('size_class', 'arena_size_class'):\n"
	"                assert f['chunk_size_min'] <= f['chunk_size_max'], f\n"
	"            if f['kind'] == 'python_type':\n"
	"                assert 'objects' in f and 'growth_objects' in f and not f['location'].startswith('python:'), f\n"
	"                assert f['free_bytes'] == 0, f\n"
	"    exact = d['samples'] - d['approximate_samples']\n"
	"    need = 0 if d['verdict'] == 'leak' or d['command'] == 'simulate' else max(0, d['rules']['consecutive'] + 1 - exact)\n"
	"    assert d['samples_needed'] == need, (d['samples_needed'], need, exact)\n"
	"    flat = set(f['location'] for f in d['plateau'])\n"
	"    leak = d['leaks'] or [f for f in d['leaks_this_run'] if f['location'] not in flat]\n"
	"    assert d['verdict'] == ('leak' if leak else 'undecided' if need else 'no_leak'), (d['verdict'], need)\n"
	"    if 'heap_growth' in d:\n"
	"        g = d['heap_growth']\n"
	"        assert 2 <= g['samples'] <= d['samples_this_run'], g\n"
	"    for k in ('in_use_bytes', 'free_bytes', 'system_bytes', 'rss_bytes'):\n"
	"        assert k in d['totals'], 'no totals key ' + k\n"
	"    if not d['comm'].startswith('python'):\n"
	"        assert 'python' not in d, d['python']\n"
	"    if 'python' in d:\n"
	"        for k in ('version', 'path', 'consistent', 'pymalloc', 'types'):\n"
	"            assert k in d['python'], 'no python key ' + k\n"
	"    m = d['memory']\n"
	"    assert m['measured'] in (True, False), m\n"
	"    if m['measured']:\n"
	"        assert m['rss_bytes'] == m['malloc_rss_bytes'] + sum(x['rss_bytes'] for x in m['outside_malloc']), m\n"
	"    else:\n"
	"        assert m['why'] and 'rss_bytes' not in m, m\n"
	"if d is not None:\n"
	"    check_doc(d)\n";

void
py_expect_doc(const char *doc, const char *script, ...)
{
	va_list ap;

	va_start(ap, script);
	py_expectv(doc, check_prelude, script, ap);
	va_end(ap);
}
