/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_memory.c - every byte of the process: the census of memory
 * outside malloc (memory.c) against the kernel's own total, the target's
 * reading of /proc/self/smaps_rollup at a quiet point; thread stacks by
 * their stack pointers; anonymous regions that grow by exactly what the
 * target mapped; a drip of anonymous regions reported as a leak outside
 * malloc, by one check run and across check runs (the state file keeps
 * those locations); a steady process with memory outside malloc, no
 * finding there; the snapshot's and the check's "memory" JSON and the
 * census in history.jsonl. The target is mapper.c.
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leakattach.h>

#include "test_monitor.h"

#define KIB 1024ull

static void
mapper_start(struct target *t)
{
	const char *argv[] = {NULL};

	target_start_ready(t, "mapper", argv, "ready");
}

/*
 * "rollup rss=N anon=M": the target's own reading, now. Asked twice, the
 * second kept: the first run of the code that answers (and waits for the
 * next command) maps the program's and libc's pages it touches, with the
 * kernel's fault-around (16 pages, 64 KiB, of a file already cached), a
 * moment after the reading: the second reading is of a process that
 * runs no new code until the next command.
 */
static unsigned long long
rollup_rss(struct target *t)
{
	unsigned long long rss = 0;
	const char *p;

	target_expect(t, "rollup", "rollup rss=");
	target_expect(t, "rollup", "rollup rss=");
	p = strstr(t->line, "rss=");
	cr_assert(p, "%s", t->line);
	rss = strtoull(p + 4, NULL, 10);
	cr_assert_gt(rss, 0, "%s", t->line);
	return rss;
}

static struct la_snapshot *
take(struct target *t, struct la_session **s)
{
	struct la_snapshot *snap;

	if (!*s)
		cr_assert_eq(la_session_open(t->pid, NULL, s), 0, "%s",
			     la_errmsg());
	cr_assert_eq(la_snapshot_take(*s, &snap), 0, "%s", la_errmsg());
	return snap;
}

static void
outside(const struct la_snapshot *snap, enum la_outside_kind k,
	struct la_outside *o)
{
	cr_assert_eq(la_snapshot_outside(snap, k, o, sizeof(*o)), 0);
}

/* The parts of the census, which must add up to its rss_bytes. */
static uint64_t
parts(const struct la_snapshot *snap, const struct la_memory *m)
{
	uint64_t sum = m->malloc_rss_bytes;

	for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++) {
		struct la_outside o;

		outside(snap, (enum la_outside_kind)k, &o);
		sum += o.rss_bytes;
	}
	return sum;
}

/* Memory of every kind: regions, stacks, a file, shared memory. */
static void
mapper_fill(struct target *t)
{
	target_expect(t, "anon 4 512", "ok anon 4");
	target_expect(t, "threads 3 64", "ok threads 3");
	target_expect(t, "file", "ok file");
	target_expect(t, "shared 256", "ok shared");
}

/*
 * The census's total is the kernel's: the target reads smaps_rollup, then
 * parks; the snapshot reads smaps. Nothing runs in the target in between,
 * and the snapshot only reads (process_vm_readv of a page never touched
 * maps the zero page, which Rss does not count): equal to the byte, and
 * the target's second reading, after the snapshot, is the same again.
 */
Test(memory, rss_is_the_kernels_to_the_byte, .timeout = 60)
{
	struct la_session *s = NULL;
	struct la_snapshot *snap;
	struct la_memory m;
	struct la_totals tot;
	struct target t;
	unsigned long long before, after;

	mapper_start(&t);
	mapper_fill(&t);
	before = rollup_rss(&t);
	snap = take(&t, &s);
	after = rollup_rss(&t);
	la_snapshot_memory(snap, &m, sizeof(m));
	la_snapshot_totals(snap, &tot, sizeof(tot));
	cr_assert_eq(m.measured, 1, "%s", m.why);
	cr_expect_eq(m.rss_bytes, before,
		     "census %llu, smaps_rollup %llu before the snapshot",
		     (unsigned long long)m.rss_bytes, before);
	cr_expect_eq(after, before, "the snapshot changed the target's RSS");
	cr_expect_eq(parts(snap, &m), m.rss_bytes);
	cr_expect_eq(m.outside_rss_bytes, m.rss_bytes - m.malloc_rss_bytes);
	cr_expect_eq(m.malloc_in_use_bytes, tot.counts.in_use_bytes);
	cr_expect_eq(m.malloc_free_bytes, tot.free_bytes);
	cr_expect_gt(m.mappings, 10);
	la_snapshot_free(snap);
	la_session_close(s);
	expect_unharmed(&t);
}

/*
 * T threads that wrote K KiB of their stacks: T + 1 stack mappings (the
 * main thread's [stack]) holding T * K at least. N regions of SIZE: the
 * anonymous memory grows by N * SIZE exactly, in N more mappings, and
 * nothing else moves.
 */
Test(memory, finds_thread_stacks_and_each_anonymous_region, .timeout = 60)
{
	struct la_session *s = NULL;
	struct la_snapshot *a, *b;
	struct la_outside sa, sb, aa, ab, fa, fb;
	struct la_memory ma, mb;
	struct target t;

	mapper_start(&t);
	target_expect(&t, "threads 4 256", "ok threads 4");
	/* the code that maps a region, faulted in (file memory) before */
	target_expect(&t, "anon 1 4", "ok anon 1");
	a = take(&t, &s);
	target_expect(&t, "anon 5 512", "ok anon 5");
	b = take(&t, &s);
	la_snapshot_memory(a, &ma, sizeof(ma));
	la_snapshot_memory(b, &mb, sizeof(mb));
	cr_assert(ma.measured && mb.measured, "%s %s", ma.why, mb.why);
	outside(a, LA_OUTSIDE_THREAD_STACKS, &sa);
	outside(b, LA_OUTSIDE_THREAD_STACKS, &sb);
	outside(a, LA_OUTSIDE_ANONYMOUS, &aa);
	outside(b, LA_OUTSIDE_ANONYMOUS, &ab);
	outside(a, LA_OUTSIDE_FILE, &fa);
	outside(b, LA_OUTSIDE_FILE, &fb);
	cr_expect_eq(sa.mappings, 5, "%u stack mappings", sa.mappings);
	cr_expect_geq(sa.rss_bytes, 4 * 256 * KIB);
	/* 8 MiB stacks (pthread_attr_setstacksize) and the main one */
	cr_expect_geq(sa.size_bytes, 4 * 8192 * KIB);
	cr_expect_eq(ab.rss_bytes - aa.rss_bytes, 5 * 512 * KIB,
		     "anonymous grew %lld bytes",
		     (long long)(ab.rss_bytes - aa.rss_bytes));
	cr_expect_eq(ab.mappings - aa.mappings, 5);
	cr_expect_eq(ab.size_bytes - aa.size_bytes, 5 * 512 * KIB);
	cr_expect_eq(mb.rss_bytes - ma.rss_bytes, 5 * 512 * KIB);
	cr_expect_eq(sb.rss_bytes, sa.rss_bytes);
	cr_expect_eq(fb.rss_bytes, fa.rss_bytes);
	cr_expect_eq(mb.malloc_rss_bytes, ma.malloc_rss_bytes);
	la_snapshot_free(a);
	la_snapshot_free(b);
	la_session_close(s);
	expect_unharmed(&t);
}

/*
 * The snapshot's JSON: "memory" with the census, its parts adding up,
 * the kinds that are measured (python_arenas is not, yet: absent), and
 * the total equal to the target's own reading.
 */
Test(memory, snapshot_json_accounts_for_every_byte, .timeout = 60)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], rss[32];

	ctx_open(&c, "la-memory");
	mapper_start(&t);
	mapper_fill(&t);
	snprintf(rss, sizeof(rss), "%llu", rollup_rss(&t));
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "snapshot", "-p", pid, "--json", NULL), 0,
		     "%s%s", r.out, r.err);
	py_expect(
		r.out,
		"import json, sys\n"
		"d = json.load(open(sys.argv[1]))\n"
		"m = d['memory']\n"
		"for k in ('measured', 'rss_bytes', 'malloc_rss_bytes', 'malloc_in_use_bytes', 'malloc_free_bytes', 'outside_malloc_rss_bytes', 'mappings', 'read_ms', 'outside_malloc'):\n"
		"    assert k in m, ('no key', k)\n"
		"assert m['measured'] is True, m\n"
		"assert m['rss_bytes'] == int(sys.argv[2]), (m['rss_bytes'], sys.argv[2])\n"
		"o = {x['kind']: x for x in m['outside_malloc']}\n"
		"assert sorted(o) == ['anonymous', 'file', 'shared', 'thread_stacks'], sorted(o)\n"
		"for x in m['outside_malloc']:\n"
		"    assert set(x) == {'kind', 'rss_bytes', 'size_bytes', 'mappings'}, x\n"
		"    assert x['rss_bytes'] <= x['size_bytes'], x\n"
		"assert m['malloc_rss_bytes'] + sum(x['rss_bytes'] for x in o.values()) == m['rss_bytes'], m\n"
		"assert m['outside_malloc_rss_bytes'] == m['rss_bytes'] - m['malloc_rss_bytes'], m\n"
		"assert m['malloc_in_use_bytes'] == d['totals']['in_use_bytes'], (m, d['totals'])\n"
		"assert o['shared']['rss_bytes'] >= 256 * 1024, o['shared']\n"
		"assert o['anonymous']['rss_bytes'] >= 4 * 512 * 1024, o['anonymous']\n"
		"assert o['thread_stacks']['mappings'] == 4, o['thread_stacks']\n"
		"assert o['file']['mappings'] >= 1, o['file']\n"
		"assert d['process']['rss_bytes'] > 0, d['process']\n",
		rss, NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * The check's JSON carries the census of its latest sample, as the
 * snapshot's does (one function writes both): equal to the byte to the
 * target's own reading while it is parked, its parts adding up. The line
 * that sample left in history.jsonl has the same figures, compactly: the
 * total, malloc's part and each kind measured outside malloc.
 */
Test(memory, check_json_and_history_carry_the_census, .timeout = 60)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], rss[32], hist[4096];

	ctx_open(&c, "la-memory");
	mapper_start(&t);
	mapper_fill(&t);
	pid_str(&t, pid, sizeof(pid));
	snprintf(rss, sizeof(rss), "%llu", rollup_rss(&t));
	/* one sample: the census, but no verdict yet */
	cr_assert_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
		     EXIT_UNDECIDED, "%s%s", r.out, r.err);
	json_str(r.out, "state_dir", hist, sizeof(hist) - 16);
	strcat(hist, "/history.jsonl");
	py_expect_doc(
		r.out,
		"m = d['memory']\n"
		"for k in ('measured', 'rss_bytes', 'malloc_rss_bytes', 'malloc_in_use_bytes', 'malloc_free_bytes', 'outside_malloc_rss_bytes', 'mappings', 'read_ms', 'outside_malloc'):\n"
		"    assert k in m, ('no key', k)\n"
		"assert m['measured'] is True, m\n"
		"assert m['rss_bytes'] == int(a[0]), (m['rss_bytes'], a[0])\n"
		"o = {x['kind']: x['rss_bytes'] for x in m['outside_malloc']}\n"
		"assert sorted(o) == ['anonymous', 'file', 'shared', 'thread_stacks'], sorted(o)\n"
		"assert m['malloc_rss_bytes'] + sum(o.values()) == m['rss_bytes'], m\n"
		"assert m['outside_malloc_rss_bytes'] == m['rss_bytes'] - m['malloc_rss_bytes'], m\n"
		"assert m['malloc_in_use_bytes'] == d['totals']['in_use_bytes'], (m, d['totals'])\n"
		"assert o['shared'] >= 256 * 1024 and o['anonymous'] >= 4 * 512 * 1024, o\n"
		"h = [json.loads(l) for l in open(a[1])]\n"
		"assert len(h) == 1, h\n"
		"hm = h[0]['memory']\n"
		"assert set(hm) == {'rss_bytes', 'malloc_rss_bytes', 'outside'}, hm\n"
		"assert hm['rss_bytes'] == m['rss_bytes'], (hm, m)\n"
		"assert hm['malloc_rss_bytes'] == m['malloc_rss_bytes'], (hm, m)\n"
		"assert hm['outside'] == o, (hm, o)\n"
		"assert h[0]['rss_bytes'] == d['totals']['rss_bytes'], (h[0], d['totals'])\n",
		rss, hist, NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * One check a step, the target mapping three more regions of 512 KiB
 * between steps: the fourth check has seen three growths in a row, kept
 * across runs in the state file, and reports a leak of anonymous memory
 * outside malloc, grown by exactly what was mapped.
 */
Test(memory, regions_mapped_between_checks_are_a_leak_outside_malloc,
     .timeout = 120)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], grown[32];

	ctx_open(&c, "la-memory");
	mapper_start(&t);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "anon 1 4", "ok anon 1");
	for (int step = 0; step < 4; step++) {
		if (step)
			target_expect(&t, "anon 3 512", "ok anon 3");
		cr_assert_eq(la_run(&c, &r, "check", "-p", pid, "--json", NULL),
			     step < 3 ? EXIT_UNDECIDED : EXIT_LEAK,
			     "step %d: %s%s", step,
			     r.out, r.err);
		if (step < 3)
			run_result_free(&r);
	}
	snprintf(grown, sizeof(grown), "%llu", 3 * 3 * 512 * KIB);
	py_expect_doc(
		r.out,
		"l = [f for f in d['leaks'] if f['kind'] == 'outside_malloc']\n"
		"assert len(l) == 1, d['leaks']\n"
		"f = l[0]\n"
		"assert f['location'] == 'anonymous', f\n"
		"assert f['growth_bytes'] == int(a[0]), (f['growth_bytes'], a[0])\n"
		"assert f['consecutive'] == 3, f\n"
		"assert f['mappings'] >= 9 and f['size_bytes'] >= 9 * 512 * 1024, f\n"
		"assert f['free_bytes'] == 0, f\n"
		"assert not where(d['leaks'], 'heap'), d['leaks']\n"
		"assert d['samples'] == 4 and d['samples_this_run'] == 1, d\n",
		grown, NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/*
 * A drip of 512 KiB regions while one check samples: the text report
 * names the leak outside malloc, its new mappings, and where RSS went.
 */
Test(memory, a_drip_of_regions_is_reported_in_words, .timeout = 60)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-memory");
	mapper_start(&t);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "drip 512 50", "ok drip");
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "4",
			    "--interval", "0.3", NULL),
		     EXIT_LEAK, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "LEAK anonymous memory outside malloc: +"),
		  "%s", r.out);
	cr_expect(strstr(r.out, " new mappings of "), "%s", r.out);
	cr_expect(strstr(r.out, "  RSS +"), "%s", r.out);
	cr_expect(strstr(r.out, ", anonymous +"), "%s", r.out);
	cr_expect(!strstr(r.out, "the whole heap"), "%s", r.out);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* Memory outside malloc that holds still: no finding about it at all. */
Test(memory, steady_memory_outside_malloc_is_no_finding, .timeout = 60)
{
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32];

	ctx_open(&c, "la-memory");
	mapper_start(&t);
	mapper_fill(&t);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(la_run(&c, &r, "check", "-p", pid, "--repeat", "5",
			    "--interval", "0.2", "--json", NULL),
		     0, "%s%s", r.out, r.err);
	py_expect_doc(r.out,
		      "assert d['samples'] == 5, d['samples']\n"
		      "for l in ('leaks', 'growing', 'retention'):\n"
		      "    assert not where(d[l], 'outside_malloc'), d[l]\n",
		      NULL);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

/* The pages of [addr, addr + len) present in pid's memory (pagemap). */
static unsigned
pages_present(pid_t pid, uint64_t addr, uint64_t len)
{
	char path[64];
	uint64_t e;
	unsigned n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	for (uint64_t a = addr; a < addr + len; a += 4096) {
		cr_assert_eq(pread(fd, &e, sizeof(e), (off_t)(a / 4096 * 8)),
			     (ssize_t)sizeof(e));
		n += !!(e & (1ull << 63));
	}
	close(fd);
	return n;
}

/*
 * Memory mapped ahead of need and never touched holds no chunk header:
 * the search for mmapped chunks must not read it, since reading a page
 * never touched makes the kernel map a page of zeros there (page tables
 * the target did not ask for, and pages pagemap calls present). 64 MiB
 * reserved, one page touched: after three snapshots still one page.
 */
Test(memory, snapshots_leave_untouched_memory_untouched, .timeout = 60)
{
	struct la_session *s = NULL;
	struct target t;
	uint64_t addr;

	mapper_start(&t);
	target_expect(&t, "reserve 65536", "ok reserve ");
	addr = strtoull(t.line + strlen("ok reserve "), NULL, 16);
	cr_assert_eq(pages_present(t.pid, addr, 64 << 20), 1);
	for (int i = 0; i < 3; i++)
		la_snapshot_free(take(&t, &s));
	la_session_close(s);
	cr_expect_eq(pages_present(t.pid, addr, 64 << 20), 1,
		     "the snapshots faulted pages in");
	expect_unharmed(&t);
	target_stop(&t);
}
