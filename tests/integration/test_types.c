/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_types.c - hook-free types of leaked chunks (issue 5, deliverable
 * 1): a snapshot samples the in-use chunks of watched locations, uniformly
 * and within its bounds, and la_types_of() names them by their first word:
 * a C++ class by its vtable (cxxleak: Widget leaks, Gadget of the same
 * size is churned), a C struct by the static ops table it points at
 * (opsleak: widget_ops), plain data as unknown (leaky). Through the CLI,
 * check reports a leak with its types in text and in leakattach.check/1
 * JSON (checked with python3); without debug info the class is still
 * named. Every target is unharmed at the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakattach.h>

#include "expect.h"
#include "target.h"

#define EXIT_LEAK 1
#define EXIT_UNDECIDED 3 /* fewer samples than the rule needs */

/* ---- targets ------------------------------------------------------------ */

/* Start a target (a name in LA_TARGETS_DIR or a path); its chunk size. */
static uint64_t
start(struct target *t, const char *name, const char *const argv[])
{
	const char *c;

	target_start_ready(t, name, argv, "ready ");
	c = strstr(t->line, "chunk=");
	cr_assert(c, "%s", t->line);
	return strtoull(c + 6, NULL, 10);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * cxxleak "list": the address of every live object and, in *w (*nw of
 * them), of the Widgets alone; both sorted. Free both.
 */
static uint64_t *
list_objects(struct target *t, size_t *n, uint64_t **w, size_t *nw)
{
	size_t cap = 1024;
	uint64_t *v = malloc(cap * sizeof(*v));

	cr_assert(v);
	*n = *nw = 0;
	cr_assert_eq(target_send(t, "list"), 0);
	for (;;) {
		cr_assert_eq(target_read_line(t, 20000), 0, "list cut short");
		if (!strncmp(t->line, "end ", 4))
			break;
		cr_assert(t->line[0] == 'w' || t->line[0] == 'g', "%s",
			  t->line);
		if (*n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			cr_assert(v);
		}
		v[(*n)++] = strtoull(t->line + 2, NULL, 16);
		*nw += t->line[0] == 'w';
	}
	/* "w" lines come first */
	*w = malloc((*nw ? *nw : 1) * sizeof(**w));
	cr_assert(*w);
	memcpy(*w, v, *nw * sizeof(**w));
	qsort(*w, *nw, sizeof(**w), cmp_u64);
	qsort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

static struct la_session *
open_session(const struct target *t)
{
	struct la_session *s;
	int err = la_session_open(t->pid, NULL, &s);

	cr_assert_eq(err, 0, "la_session_open: %s", la_errmsg());
	return s;
}

static struct la_location
size_location(uint64_t chunk)
{
	struct la_location loc = {.kind = LA_LOC_SIZE_CLASS,
				  .chunk_size_min = chunk,
				  .chunk_size_max = chunk};

	snprintf(loc.key, sizeof(loc.key), "size:%" PRIu64 "-%" PRIu64, chunk,
		 chunk);
	return loc;
}

/* Take a snapshot watching locs, each sampled up to sample_max. */
static struct la_snapshot *
take(struct la_session *s, const struct la_location *locs, unsigned n,
     unsigned sample_max)
{
	struct la_snapshot_opts o = {.sz = sizeof(o),
				     .watch = locs,
				     .n_watch = n,
				     .sample_max = sample_max};
	struct la_snapshot *snap;
	struct la_snapshot_info si;
	int err = la_snapshot_take_opts(s, &o, &snap);

	cr_assert_eq(err, 0, "la_snapshot_take_opts: %s", la_errmsg());
	la_snapshot_info(snap, &si, sizeof(si));
	cr_assert(si.consistent, "%s", si.inconsistency);
	return snap;
}

/* In-use chunks of the exact size class chunk. */
static uint64_t
class_in_use(const struct la_snapshot *snap, uint64_t chunk)
{
	unsigned n = la_snapshot_size_class_count(snap);
	struct la_size_class c;

	for (unsigned i = 0; i < n; i++)
		if (!la_snapshot_size_class(snap, i, &c, sizeof(c)) &&
		    c.chunk_size_min <= chunk && chunk <= c.chunk_size_max)
			return c.counts.in_use_chunks;
	return 0;
}

static uint64_t
arena_class_in_use(const struct la_snapshot *snap, unsigned arena,
		   uint64_t chunk)
{
	unsigned n = la_snapshot_arena_size_class_count(snap, arena);
	struct la_size_class c;

	for (unsigned i = 0; i < n; i++)
		if (!la_snapshot_arena_size_class(snap, arena, i, &c, sizeof(c)) &&
		    c.chunk_size_min <= chunk && chunk <= c.chunk_size_max)
			return c.counts.in_use_chunks;
	return 0;
}

static void
expect_near(uint64_t got, uint64_t want, double tol, const char *what)
{
	double d = (double)got - (double)want;

	cr_expect(d <= tol * (double)want && -d <= tol * (double)want,
		  "%s: estimated %" PRIu64 ", truth %" PRIu64
		  " (more than %.0f %% off)",
		  what, got, want, tol * 100);
}

/* ---- sampling ------------------------------------------------------------ */

Test(sample, population_is_the_class_and_the_sample_its_chunks, .timeout = 60)
{
	struct target t;
	uint64_t chunk = start(&t, "cxxleak", NULL), pop;
	struct la_location locs[3];
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_totals tot;
	const uint64_t *a;
	uint64_t *objs, *w;
	size_t nobj, widgets;
	unsigned n;

	target_expect(&t, "step 2000", "stepped widgets=2000");
	objs = list_objects(&t, &nobj, &w, &widgets);
	cr_assert_eq(widgets, 2000);
	s = open_session(&t);
	locs[0] = size_location(chunk);
	locs[1] = (struct la_location){.kind = LA_LOC_HEAP, .key = "heap"};
	locs[2] = (struct la_location){.kind = LA_LOC_ARENA_SIZE_CLASS,
				       .arena_is_main = 1,
				       .chunk_size_min = chunk,
				       .chunk_size_max = chunk};
	snap = take(s, locs, 3, 100);
	cr_assert_eq(la_snapshot_watch_count(snap), 3);

	/* the class: every Widget and Gadget, nothing else */
	cr_assert_eq(la_snapshot_sampled(snap, 0, &a, &n, &pop), 0);
	cr_expect_eq(pop, class_in_use(snap, chunk));
	cr_expect_eq(pop, nobj, "population %" PRIu64 ", %zu objects live", pop,
		     nobj);
	cr_assert_eq(n, 100);
	for (unsigned i = 0; i < n; i++) {
		uint64_t user = a[i] + 16;
		const uint64_t *hit =
			bsearch(&user, objs, nobj, sizeof(*objs), cmp_u64);

		cr_expect(!i || a[i - 1] < a[i], "not ascending at %u", i);
		cr_expect(hit, "sampled chunk %#" PRIx64 " is no live object",
			  a[i]);
	}
	/* the whole heap and the class in the main arena */
	la_snapshot_totals(snap, &tot, sizeof(tot));
	cr_assert_eq(la_snapshot_sampled(snap, 1, NULL, &n, &pop), 0);
	cr_expect_eq(pop, tot.counts.in_use_chunks);
	cr_expect_eq(n, 100);
	cr_assert_eq(la_snapshot_sampled(snap, 2, NULL, &n, &pop), 0);
	cr_expect_eq(pop, arena_class_in_use(snap, 0, chunk));
	cr_expect_eq(la_snapshot_sampled(snap, 3, NULL, &n, &pop), -ENOENT);
	la_snapshot_free(snap);

	/* more room than chunks: the sample is the whole class */
	snap = take(s, locs, 1, 4096);
	cr_assert_eq(la_snapshot_sampled(snap, 0, &a, &n, &pop), 0);
	cr_expect_eq(n, pop);
	cr_expect_eq(n, nobj);
	for (unsigned i = 0; i < n && i < nobj; i++)
		cr_expect_eq(a[i] + 16, objs[i], "chunk %u", i);
	la_snapshot_free(snap);
	free(objs);
	free(w);
	la_session_close(s);
	expect_unharmed(&t);
}

Test(sample, the_sample_is_uniform_and_repeatable, .timeout = 60)
{
	struct target t;
	uint64_t chunk = start(&t, "cxxleak", NULL), pop;
	struct la_location loc;
	struct la_session *s;
	struct la_snapshot *s1, *s2;
	const uint64_t *a, *b;
	uint64_t *objs, *w;
	size_t nobj, nw;
	unsigned n1, n2, in_w = 0;

	target_expect(&t, "step 1744", "stepped widgets=1744");
	objs = list_objects(&t, &nobj, &w, &nw);
	s = open_session(&t);
	loc = size_location(chunk);
	s1 = take(s, &loc, 1, 400);
	s2 = take(s, &loc, 1, 400);
	cr_assert_eq(la_snapshot_sampled(s1, 0, &a, &n1, &pop), 0);
	cr_assert_eq(la_snapshot_sampled(s2, 0, &b, &n2, NULL), 0);
	/* the same heap, the same fixed seed: the same sample */
	cr_expect_eq(n1, n2);
	cr_expect(!memcmp(a, b, n1 * sizeof(*a)), "two samples differ");
	for (unsigned i = 0; i < n1; i++) {
		uint64_t user = a[i] + 16;

		in_w += !!bsearch(&user, w, nw, sizeof(*w), cmp_u64);
	}
	/* 1744 of 2000 are Widgets: 87.2 %, +-5 sd of a 400 sample */
	cr_expect(in_w >= 400 * 0.872 - 5 * 6.7 && in_w <= 400 * 0.872 + 34,
		  "%u Widgets in a sample of 400 (expected about 349)", in_w);
	la_snapshot_free(s1);
	la_snapshot_free(s2);
	free(objs);
	free(w);
	la_session_close(s);
	expect_unharmed(&t);
}

Test(sample, bounds_are_enforced, .timeout = 60)
{
	struct target t;
	struct la_location locs[LA_WATCH_MAX + 1];
	struct la_snapshot_opts o = {.sz = sizeof(o), .watch = locs};
	struct la_snapshot *snap;
	struct la_session *s;
	uint64_t chunk = start(&t, "cxxleak", NULL);

	for (unsigned i = 0; i <= LA_WATCH_MAX; i++)
		locs[i] = size_location(chunk);
	s = open_session(&t);
	o.n_watch = LA_WATCH_MAX + 1;
	cr_expect_eq(la_snapshot_take_opts(s, &o, &snap), -EINVAL);
	o.n_watch = 1;
	o.sample_max = LA_SAMPLE_MAX + 1;
	cr_expect_eq(la_snapshot_take_opts(s, &o, &snap), -EINVAL);
	/* NULL options: la_snapshot_take(), nothing watched */
	cr_assert_eq(la_snapshot_take_opts(s, NULL, &snap), 0);
	cr_expect_eq(la_snapshot_watch_count(snap), 0);
	cr_expect_eq(la_snapshot_sampled(snap, 0, NULL, NULL, NULL), -ENOENT);
	la_snapshot_free(snap);
	la_session_close(s);
	expect_unharmed(&t);
}

/* ---- types ----------------------------------------------------------------- */

/* la_types_of() on the size class of target t; returns the entries. */
static unsigned
types_of(struct target *t, uint64_t chunk, struct la_type_count *out,
	 unsigned max, unsigned *sampled)
{
	struct la_location loc = size_location(chunk);
	struct la_session *s = open_session(t);
	struct la_snapshot *snap = take(s, &loc, 1, 0);
	struct la_types *ty, *none = (void *)1;
	unsigned n = 0, sum = 0;
	int err;

	cr_assert_eq(la_snapshot_sampled(snap, 0, NULL, sampled, NULL), 0);
	cr_expect_eq(*sampled, 256, "the default sample is 256 chunks");
	err = la_types_of(s, snap, 0, &ty);
	cr_assert_eq(err, 0, "la_types_of: %s", la_errmsg());
	n = la_types_count(ty);
	n = n < max ? n : max;
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(la_types_get(ty, i, &out[i], sizeof(out[i])), 0);
	cr_expect_eq(la_types_get(ty, la_types_count(ty), &out[0],
				  sizeof(out[0])),
		     -ENOENT);
	la_types_free(ty);
	for (unsigned i = 0; i < n; i++) {
		sum += out[i].chunks;
		cr_expect(i == 0 || out[i - 1].source == LA_TYPE_UNKNOWN ||
				  out[i].source == LA_TYPE_UNKNOWN ||
				  out[i - 1].chunks >= out[i].chunks,
			  "not sorted at %u", i);
		cr_expect(out[i].source != LA_TYPE_UNKNOWN || i == n - 1,
			  "unknown is not last");
	}
	if (n < max)
		cr_expect_eq(sum, *sampled, "types cover %u of %u chunks", sum,
			     *sampled);
	cr_expect_eq(la_types_of(s, snap, 1, &none), -ENOENT);
	cr_expect_null(none);
	la_snapshot_free(snap);
	la_session_close(s);
	return n;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

static void
widget_is_named(const char *target, const char *module_tail)
{
	struct la_type_count ty[16];
	struct target t;
	uint64_t chunk = start(&t, target, NULL);
	unsigned n, sampled;

	target_expect(&t, "step 3000", "stepped widgets=3000");
	n = types_of(&t, chunk, ty, 16, &sampled);
	cr_assert_gt(n, 0);
	cr_expect_str_eq(ty[0].name, "Widget");
	cr_expect_eq(ty[0].source, LA_TYPE_VTABLE);
	cr_expect(ends_with(ty[0].module, module_tail), "module %s",
		  ty[0].module);
	/* 3000 Widgets and 256 Gadgets live in the class */
	expect_near(ty[0].est_chunks, 3000, 0.25, "Widgets");
	expect_near(ty[0].est_bytes, 3000 * chunk, 0.25, "Widget bytes");
	for (unsigned i = 1; i < n; i++)
		if (!strcmp(ty[i].name, "Gadget"))
			cr_expect_lt(ty[i].chunks, ty[0].chunks);
	expect_unharmed(&t);
}

Test(types, cxx_class_is_named_by_its_vtable, .timeout = 60)
{
	widget_is_named("cxxleak", "/cxxleak");
}

Test(types, c_struct_is_named_by_its_ops_table, .timeout = 60)
{
	struct la_type_count ty[16];
	struct target t;
	uint64_t chunk = start(&t, "opsleak", NULL);
	unsigned n, sampled;

	target_expect(&t, "step 2000", "stepped widgets=2000");
	n = types_of(&t, chunk, ty, 16, &sampled);
	cr_assert_gt(n, 0);
	cr_expect_str_eq(ty[0].name, "&widget_ops");
	cr_expect_eq(ty[0].source, LA_TYPE_OBJECT);
	cr_expect(ends_with(ty[0].module, "/opsleak"), "module %s",
		  ty[0].module);
	expect_near(ty[0].est_chunks, 2000, 0.25, "widgets");
	/* the churned gadgets are all freed again */
	for (unsigned i = 1; i < n; i++)
		cr_expect_str_neq(ty[i].name, "&gadget_ops");
	expect_unharmed(&t);
}

Test(types, plain_data_is_unknown, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct la_type_count ty[4];
	struct target t;
	unsigned n, sampled;

	start(&t, "leaky", argv);
	target_expect(&t, "step 1000", "stepped");
	n = types_of(&t, 1168, ty, 4, &sampled);
	cr_assert_eq(n, 1, "%u types, the first %s", n, ty[0].name);
	cr_expect_eq(ty[0].source, LA_TYPE_UNKNOWN);
	cr_expect_str_eq(ty[0].name, "unknown");
	cr_expect_eq(ty[0].chunks, sampled);
	expect_unharmed(&t);
}

/* Run a program (argv[0] looked up in PATH); its stdout, or fail. */
static char *
run_ok(const char *const argv[], const char *const env[])
{
	struct run_result r;
	char *out;
	int err = run_capture(argv, env, 60000, &r);

	cr_assert_eq(err, 0, "%s: %s", argv[0], strerror(-err));
	cr_assert_eq(r.status, 0, "%s: status %d: %s", argv[0], r.status,
		     r.err);
	out = r.out;
	r.out = NULL;
	run_result_free(&r);
	return out;
}

Test(types, class_is_named_without_debug_info, .timeout = 60)
{
	char dir[] = "/tmp/la-types-XXXXXX", src[1024], copy[1100];
	char *sections;

	cr_assert(mkdtemp(dir));
	cr_assert(target_path("cxxleak", src, sizeof(src)));
	snprintf(copy, sizeof(copy), "%s/cxxleak", dir);
	free(run_ok((const char *const[]){"strip", "--strip-debug", "-o", copy,
					  src, NULL},
		    NULL));
	/* no DWARF left; the symbol table is what names the class */
	sections = run_ok(
		(const char *const[]){"readelf", "-S", "-W", copy, NULL}, NULL);
	cr_assert(!strstr(sections, ".debug_info"), "%s", sections);
	cr_assert(strstr(sections, ".symtab"), "%s", sections);
	free(sections);
	widget_is_named(copy, "/cxxleak");
	rm_tree(dir);
}

/* ---- the CLI ------------------------------------------------------------- */

static int
check(const struct ctx *c, pid_t pid, int json, struct run_result *r)
{
	char p[32];
	const char *argv[] = {leakattach_path(),
			      "check",
			      "-p",
			      p,
			      "--log-dir",
			      c->dir,
			      "--min-size",
			      "64K",
			      json ? "--json" : NULL,
			      NULL};
	int err;

	snprintf(p, sizeof(p), "%d", (int)pid);
	err = run_capture(argv, c->env, 60000, r);
	cr_assert_eq(err, 0, "running leakattach: %s", strerror(-err));
	cr_assert_lt(r->status, 128, "leakattach died: %d\n%s", r->status,
		     r->err);
	return r->status;
}

static const char leak_has_types[] =
	"import json, sys\n"
	"d = json.load(open(sys.argv[1]))\n"
	"chunk = int(sys.argv[2])\n"
	"assert d['schema'] == 'leakattach.check/1'\n"
	"assert d['verdict'] == 'leak', d['verdict']\n"
	"for f in d['leaks']:\n"
	"    for k in ('kind', 'location', 'in_use_bytes', 'growth_bytes', 'growth_bytes_per_hour', 'growth_percent', 'consecutive', 'verdict', 'new'):\n"
	"        assert k in f, ('no key ' + k, f)\n"
	"    assert f['verdict'] == 'leak', f\n"
	"locs = [f for f in d['leaks'] if f['kind'] != 'type']\n"
	"typed = [f for f in locs if 'types' in f]\n"
	"assert typed, locs\n"
	"for f in typed:\n"
	"    assert f['chunk_size_min'] <= chunk <= f['chunk_size_max'], f\n"
	"    assert f['types_sampled_chunks'] > 0, f\n"
	"    t = f['types'][0]\n"
	"    assert t['kind'] == 'type' and t['type'] == 'Widget', f['types']\n"
	"    assert t['source'] == 'vtable' and t['module'].endswith('/cxxleak'), t\n"
	"    for k in ('sampled_chunks', 'sampled_bytes', 'estimated_chunks', 'estimated_bytes'):\n"
	"        assert isinstance(t[k], int), (k, t)\n"
	"    assert t['sampled_chunks'] <= f['types_sampled_chunks'], f\n"
	"    assert t['estimated_bytes'] <= f['in_use_bytes'] * 1.01, f\n"
	"    assert all(x['type'] != 'Gadget' or x['sampled_chunks'] < t['sampled_chunks'] for x in f['types']), f['types']\n"
	"types = [f for f in d['leaks'] if f['kind'] == 'type']\n"
	"assert [f['type'] for f in types] == ['Widget'] * len(types) and types, types\n"
	"for f in types:\n"
	"    assert f['location'] == 'type:Widget@' + f['within'], f\n"
	"    assert f['within'] in [g['location'] for g in typed], f\n"
	"    assert f['estimated'] is True and f['source'] == 'vtable', f\n"
	"    assert f['in_use_bytes'] == f['estimated_bytes'] > 0, f\n"
	"    assert 0 < f['growth_bytes'] <= f['in_use_bytes'], f\n";

Test(cli, check_reports_the_leak_with_its_types, .timeout = 90)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	uint64_t chunk = start(&t, "cxxleak", NULL);
	char want[32];
	int rc;

	ctx_open(&c, "la-types");
	snprintf(want, sizeof(want), "%" PRIu64, chunk);
	target_expect(&t, "step 500", "stepped");
	for (int i = 1; i <= 3; i++) {
		rc = check(&c, t.pid, 1, &r);
		cr_expect_eq(rc, EXIT_UNDECIDED, "sample %d: %s%s", i, r.out,
			     r.err);
		run_result_free(&r);
		target_expect(&t, "step 500", "stepped");
	}
	/* the fourth sample: a leak, watched since the third */
	rc = check(&c, t.pid, 1, &r);
	cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
	py_expect(r.out, leak_has_types, want, NULL);
	run_result_free(&r);

	target_expect(&t, "step 500", "stepped");
	rc = check(&c, t.pid, 0, &r);
	cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "types, estimated from a sample of"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "      Widget "), "%s", r.out);
	cr_expect(strstr(r.out, "C++ vtable in "), "%s", r.out);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(cli, plain_data_leak_says_no_type_recognised, .timeout = 90)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	int rc = 0;

	ctx_open(&c, "la-types");
	start(&t, "leaky", argv);
	for (int i = 1; i <= 4; i++) {
		target_expect(&t, "step 100", "stepped");
		rc = check(&c, t.pid, 0, &r);
		if (i < 4)
			run_result_free(&r);
	}
	cr_expect_eq(rc, EXIT_LEAK, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "types: no type recognised in "), "%s", r.out);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}
