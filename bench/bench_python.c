/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_python.c - figure 9: the cost of the Python lens (issue 12,
 * "Cost"; doc/design/python-heap.md). Debian's /usr/bin/python3 (by path:
 * python3 on PATH may be a pyenv shim) runs bench/pybig.py, which builds a
 * pymalloc heap of about --py-mib MiB (default 1024) of small objects and
 * parks in read(2). Measured, interleaved run by run:
 *
 *   (a) a bare read of its arena mappings: process_vm_readv of every
 *       mapping that holds a pool, in 1 MiB pieces, by this driver (and,
 *       for information, of every mapping the scan reads: all the
 *       anonymous private ones, which include malloc's mmapped chunks and
 *       the thread stacks);
 *   (b) the pool census alone: pymalloc_walk() with no callback;
 *   (c) census and types: pymalloc_walk() with pytypes_pool(), with the
 *       library's read-ahead policy (a helper thread only with a CPU to
 *       spare), and again with the read-ahead forced;
 *   (d) the pause of la_snapshot_take() with the Python walk, and (d0)
 *       with la_snapshot_opts.no_python (the target stopped by the
 *       library; the session's layout cache in a temporary folder, filled
 *       by the warm-up, as for later runs of the tool); (d) - (d0) is
 *       what the Python heap adds to the pause.
 *
 * (b), (c) and (d) run in a fresh child each (this program exec'ed again
 * with --python-child MODE PID), which reads its own VmHWM at the end:
 * the walker's peak RSS with nothing of the driver's in it (a forked child
 * would start at the driver's RSS). Only the walk is timed, not the
 * child's start, the maps or the version lookup. The target is parked,
 * not stopped, for (a) to (c): blocked in read(2), it runs no allocator,
 * so every run reads the same heap.
 *
 * Printed: medians with min .. max, the ratios to (a) per run (their
 * medians), the budgets (issue 12): the pause with the Python walk <= 1.3
 * x the bare read, the tool's peak RSS <= 8 MiB; (c) is held to the same
 * ratio, the walk alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "leakattach.h"
#include "proc/memsrc.h"
#include "proc/readahead.h"
#include "proc/procmaps.h"
#include "python/pymalloc.h"
#include "python/pytypes.h"
#include "python/pyversion.h"

#define PYTHON "/usr/bin/python3"
#define PIECE (1u << 20) /* bench_pause.c's baseline reads so too */
#define MAX_PY_RANGES 4096

#ifndef BENCH_PY_SCRIPT
#define BENCH_PY_SCRIPT "bench/pybig.py"
#endif

/* ---- the child: one walk, its time and its peak RSS ---------------------- */

static unsigned long
self_hwm_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/*
 * MODE snap or snap-nopy: la_session_open() (its layout cache in dir),
 * then one la_snapshot_take_opts(), with the Python heap or with
 * no_python; ms= is its pause, py_ms= the Python walk's share. snap-next:
 * the second snapshot of the session, the pause of a monitor's (or a
 * check --repeat's) samples after the first.
 */
static int
child_snapshot(const char *mode, pid_t pid, const char *dir)
{
	struct la_snapshot_opts so = LA_OPTS(
		la_snapshot_opts, .no_python = !strcmp(mode, "snap-nopy"));
	struct la_session_opts sopts =
		LA_OPTS(la_session_opts, .cache_dir = dir);
	struct la_snapshot_info info;
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_python py;
	int err;

	err = la_session_open(pid, &sopts, &s);
	if (err) {
		fprintf(stderr, "la_session_open(%d): %s\n", (int)pid,
			la_strerror(err));
		return 1;
	}
	err = la_snapshot_take_opts(s, &so, &snap);
	if (!err && !strcmp(mode, "snap-next")) {
		/* what a monitor's samples after its first pause */
		la_snapshot_free(snap);
		err = la_snapshot_take_opts(s, &so, &snap);
	}
	if (err) {
		fprintf(stderr, "la_snapshot_take(%d): %s\n", (int)pid,
			la_strerror(err));
		la_session_close(s);
		return 1;
	}
	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_python(snap, &py, sizeof(py));
	printf("ms=%.3f py_ms=%.3f found=%d consistent=%d objects=%llu blocks=%llu hwm_kib=%lu\n",
	       (double)info.pause_ns / 1e6, (double)py.walk_ns / 1e6, py.found,
	       info.consistent && (!py.found || py.consistent),
	       (unsigned long long)py.objects, (unsigned long long)py.blocks,
	       self_hwm_kib());
	la_snapshot_free(snap);
	la_session_close(s);
	return 0;
}

/*
 * MODE is idle (nothing: the process's own RSS), census, types or
 * types-ra (read ahead whether a CPU is free or not). Prints one line:
 * ms= bytes= blocks= in_use= pools= arenas= objects= unknown= consistent=
 * ra= hwm_kib=. Exit 0, or 1 with a message on stderr.
 */
static int
child_walk(const char *mode, pid_t pid)
{
	struct pymalloc_census c;
	struct pytypes_totals tt;
	struct pytypes *pt = NULL;
	struct pyversion v;
	struct memsrc *mem;
	struct maps maps;
	double t0, ms = 0;
	int err;

	memset(&c, 0, sizeof(c));
	memset(&tt, 0, sizeof(tt));
	err = procmaps_read(pid, &maps);
	if (err) {
		fprintf(stderr, "maps of %d: %s\n", (int)pid, strerror(-err));
		return 1;
	}
	err = memsrc_pid_open(pid, &mem);
	if (err) {
		fprintf(stderr, "memory of %d: %s\n", (int)pid, strerror(-err));
		return 1;
	}
	if (!strcmp(mode, "types-ra"))
		pymalloc_set_readahead_flags(READAHEAD_ALWAYS);
	if (!strncmp(mode, "types", 5)) {
		if (pyversion_detect(pid, &maps, &v)) {
			fprintf(stderr, "%d runs no CPython\n", (int)pid);
			return 1;
		}
		err = pytypes_new(mem, &maps,
				  pytypes_rules_for(v.major, v.minor), &pt);
		if (err) {
			fprintf(stderr, "pytypes_new: %s\n", strerror(-err));
			return 1;
		}
	}
	if (strcmp(mode, "idle")) {
		t0 = now_s();
		err = pymalloc_walk(mem, &maps, pt ? pytypes_pool : NULL, pt,
				    &c);
		ms = (now_s() - t0) * 1e3;
		pymalloc_census_release(&c);
		if (err) {
			fprintf(stderr, "pymalloc_walk: %s\n", strerror(-err));
			return 1;
		}
	}
	if (pt)
		pytypes_totals(pt, &tt);
	printf("ms=%.3f bytes=%llu blocks=%llu in_use=%llu pools=%llu arenas=%llu objects=%llu unknown=%llu consistent=%d ra=%d hwm_kib=%lu\n",
	       ms, (unsigned long long)c.bytes_scanned,
	       (unsigned long long)c.blocks, (unsigned long long)c.bytes,
	       (unsigned long long)c.pools, (unsigned long long)c.arenas,
	       (unsigned long long)tt.objects,
	       (unsigned long long)tt.unknown_blocks, c.consistent,
	       c.read_ahead, self_hwm_kib());
	pytypes_free(pt);
	memsrc_close(mem);
	procmaps_free(&maps);
	return 0;
}

int
bench_python_child(int argc, char **argv)
{
	if (argc == 3 && !strncmp(argv[0], "snap", 4))
		return child_snapshot(argv[0], (pid_t)strtol(argv[1], NULL, 10),
				      argv[2]);
	if (argc != 2)
		return 64;
	return child_walk(argv[0], (pid_t)strtol(argv[1], NULL, 10));
}

/* ---- the driver ----------------------------------------------------------- */

struct child_out {
	double ms, bytes, blocks, in_use, pools, arenas, objects, unknown;
	double consistent, ra, hwm_kib, py_ms, found;
};

static int
field(const char *line, const char *key, double *out)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	*out = strtod(p + strlen(pat), NULL);
	return 0;
}

/*
 * /proc/self/exe --python-child MODE PID [DIR], its one line parsed (read
 * after a space, so that every key is found as " key=").
 */
static void
run_child(pid_t target, const char *mode, const char *dir, struct child_out *co)
{
	char pidstr[24], line[512] = " ";
	const char *argv[] = {
		"/proc/self/exe", "--python-child", mode, pidstr, dir, NULL};
	int out[2], st;
	ssize_t n, len = 1;
	pid_t child;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)target);
	if (pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		dup2(out[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	while (len < (ssize_t)sizeof(line) - 1 &&
	       (n = read(out[0], line + len, sizeof(line) - 1 - (size_t)len)) !=
		       0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += n;
	}
	line[len] = '\0';
	close(out[0]);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	memset(co, 0, sizeof(*co));
	if (!WIFEXITED(st) || WEXITSTATUS(st) || field(line, "ms", &co->ms) ||
	    field(line, "hwm_kib", &co->hwm_kib))
		die("the %s walker failed (status %#x): %s", mode, st, line);
	field(line, "bytes", &co->bytes);
	field(line, "blocks", &co->blocks);
	field(line, "in_use", &co->in_use);
	field(line, "pools", &co->pools);
	field(line, "arenas", &co->arenas);
	field(line, "objects", &co->objects);
	field(line, "unknown", &co->unknown);
	field(line, "consistent", &co->consistent);
	field(line, "ra", &co->ra);
	field(line, "py_ms", &co->py_ms);
	field(line, "found", &co->found);
}

struct range {
	uint64_t start, end;
};

struct ranges {
	struct range v[MAX_PY_RANGES];
	unsigned n;
	uint64_t bytes;
};

static void
ranges_add(struct ranges *r, const struct mapping *m)
{
	if (r->n && r->v[r->n - 1].start == m->start)
		return;
	if (r->n == MAX_PY_RANGES)
		die("more than %u mappings", MAX_PY_RANGES);
	r->v[r->n++] = (struct range){m->start, m->end};
	r->bytes += m->end - m->start;
}

struct arena_scan {
	const struct maps *maps;
	struct ranges *arenas;
};

static int
note_pool_mapping(const struct pymalloc_pool *p, void *arg)
{
	struct arena_scan *s = arg;
	const struct mapping *m = procmaps_find(s->maps, p->addr);

	if (m)
		ranges_add(s->arenas, m);
	return 0;
}

/*
 * The mappings holding pools in use (the arenas, as /proc/PID/maps merges
 * them) and every mapping the scan reads. Empty pools are not handed to
 * the callback; an arena of empty pools only is a rare spare.
 */
static void
find_ranges(pid_t pid, struct ranges *arenas, struct ranges *scanned)
{
	struct pymalloc_census c;
	struct arena_scan s;
	struct memsrc *mem;
	struct maps maps;

	if (procmaps_read(pid, &maps) || memsrc_pid_open(pid, &mem))
		die("cannot read process %d", (int)pid);
	arenas->n = scanned->n = 0;
	arenas->bytes = scanned->bytes = 0;
	for (size_t i = 0; i < maps.len; i++)
		if (pymalloc_scannable(&maps.v[i]))
			ranges_add(scanned, &maps.v[i]);
	s.maps = &maps;
	s.arenas = arenas;
	if (pymalloc_walk(mem, &maps, note_pool_mapping, &s, &c))
		die("pymalloc_walk of %d failed", (int)pid);
	pymalloc_census_release(&c);
	memsrc_close(mem);
	procmaps_free(&maps);
}

/* The baseline: process_vm_readv of every range, 1 MiB per call. */
static double
read_ranges_ms(pid_t pid, const struct ranges *r, void *buf)
{
	double t0 = now_s();

	for (unsigned i = 0; i < r->n; i++)
		for (uint64_t a = r->v[i].start; a < r->v[i].end;) {
			size_t want = r->v[i].end - a < PIECE ? r->v[i].end - a
							      : PIECE;
			struct iovec l = {buf, want};
			struct iovec rem = {(void *)(uintptr_t)a, want};
			ssize_t got = process_vm_readv(pid, &l, 1, &rem, 1, 0);

			if (got < 0 && errno == EFAULT) /* a guard page */
				a += MEMSRC_PAGE;
			else if (got <= 0)
				die("process_vm_readv(%d, %#llx): %s", (int)pid,
				    (unsigned long long)a, strerror(errno));
			else
				a += (uint64_t)got;
		}
	return (now_s() - t0) * 1e3;
}

/* What one kind of run measured, run by run. */
struct row {
	const char *mode, *label;
	double ms[MAX_RUNS], ratio[MAX_RUNS], hwm[MAX_RUNS], py_ms[MAX_RUNS];
	unsigned ra, found, inconsistent;
	struct child_out last;
};

static void
row_print(const struct row *w, unsigned runs, int budget)
{
	char b1[128], b2[128];

	printf("   %-40s %-26s %s", w->label,
	       spread(b1, sizeof(b1), 1, w->ms, runs),
	       spread(b2, sizeof(b2), 2, w->ratio, runs));
	if (budget)
		printf("  budget <= 1.3: %s",
		       verdict(median(w->ratio, runs) <= 1.3));
	printf("\n");
}

void
bench_python(const struct opts *o)
{
	char script[PATH_MAX], mib[32], dir[PATH_MAX], b1[128], b2[128];
	const char *argv[] = {PYTHON, script, mib, NULL};
	static struct row rows[] = {
		{"census", "(b) pool census (pymalloc_walk)"},
		{"types", "(c) census + types (pytypes_pool)"},
		{"types-ra", "    the same, read ahead forced"},
		{"snap-nopy", "(d0) la_snapshot_take(), no_python"},
		{"snap", "(d) la_snapshot_take() with Python"},
		{"snap-next", "(e) the same, a session's next snapshot"},
	};
	enum { N_ROWS = sizeof(rows) / sizeof(rows[0]), ROW_SNAP = 3 };
	double base[MAX_RUNS], all[MAX_RUNS], extra[MAX_RUNS];
	static struct ranges arenas, scanned;
	struct child_out idle;
	struct target t;
	unsigned runs = o->runs;
	void *buf;

	printf("9. python: the pymalloc census and the types census of Debian's %s\n"
	       "   (bench/pybig.py: small tuples, floats, str, dicts, bytes, lists,\n"
	       "   instances; parked in read(2)) against a bare read of its arenas;\n"
	       "   each walk in a fresh child, its VmHWM its own\n",
	       PYTHON);
	if (access(PYTHON, X_OK)) {
		printf("   not measured: %s: %s\n\n", PYTHON, strerror(errno));
		return;
	}
	snprintf(script, sizeof(script), "%s", BENCH_PY_SCRIPT);
	snprintf(mib, sizeof(mib), "%llu", o->py_mib);
	target_start(&t, o, argv, 300);
	find_ranges(t.pid, &arenas, &scanned);
	buf = malloc(PIECE);
	if (!buf)
		die("out of memory");
	/* the snapshots' layout cache: filled by the warm-up (later runs) */
	tmpdir_make(dir, sizeof(dir));

	/* a warm-up of each, not counted */
	read_ranges_ms(t.pid, &arenas, buf);
	for (unsigned k = 0; k < N_ROWS; k++)
		run_child(t.pid, rows[k].mode, k >= ROW_SNAP ? dir : NULL,
			  &rows[k].last);
	run_child(t.pid, "idle", NULL, &idle);
	for (unsigned i = 0; i < runs; i++) {
		base[i] = read_ranges_ms(t.pid, &arenas, buf);
		all[i] = read_ranges_ms(t.pid, &scanned, buf);
		for (unsigned k = 0; k < N_ROWS; k++) {
			struct row *w = &rows[k];

			run_child(t.pid, w->mode, k >= ROW_SNAP ? dir : NULL,
				  &w->last);
			w->ms[i] = w->last.ms;
			w->ratio[i] = w->last.ms / base[i];
			w->hwm[i] = w->last.hwm_kib / 1024;
			w->py_ms[i] = w->last.py_ms;
			w->ra += w->last.ra > 0;
			w->found += w->last.found > 0;
			w->inconsistent += !(w->last.consistent > 0);
			if (o->verbose)
				fprintf(stderr, "  python run %u: %s %.1f ms\n",
					i, w->mode, w->ms[i]);
		}
		/* what the Python heap adds to the pause */
		extra[i] = (rows[ROW_SNAP + 1].ms[i] - rows[ROW_SNAP].ms[i]) /
			   base[i];
	}
	tmpdir_remove(dir);
	free(buf);
	target_stop(&t);

	printf("   heap: %.0f MiB in use in %.0f pymalloc blocks, %.0f pools, %.0f arenas (%s);\n"
	       "   %.0f objects named, %.0f blocks unknown; target RSS %llu MiB\n",
	       rows[1].last.in_use / 1048576, rows[1].last.blocks,
	       rows[1].last.pools, rows[1].last.arenas,
	       rows[1].last.consistent ? "consistent" : "NOT consistent",
	       rows[1].last.objects, rows[1].last.unknown,
	       ready_field(&t, "rss_kib=") / 1024);
	printf("   %-40s %-26s %s\n", "", "ms", "/ (a)");
	printf("   %-40s %-26s\n", "(a) bare read of the arena mappings",
	       spread(b1, sizeof(b1), 1, base, runs));
	printf("       (%u mappings, %.1f MiB, process_vm_readv in 1 MiB pieces; all %u\n"
	       "       anonymous mappings, %.1f MiB, in %s ms)\n",
	       arenas.n, (double)arenas.bytes / 1048576, scanned.n,
	       (double)scanned.bytes / 1048576,
	       spread(b2, sizeof(b2), 1, all, runs));
	for (unsigned k = 0; k < N_ROWS; k++)
		row_print(&rows[k], runs, k == 1 || k >= ROW_SNAP + 1);
	printf("   %-40s %-26s %s\n", "    (d) - (d0), the Python heap's share",
	       "", spread(b1, sizeof(b1), 2, extra, runs));
	printf("   %-40s %s\n", "    its walk (la_python.walk_ns)",
	       spread(b1, sizeof(b1), 1, rows[ROW_SNAP + 1].py_ms, runs));
	if (rows[ROW_SNAP + 1].found < runs ||
	    rows[ROW_SNAP + 1].inconsistent || rows[ROW_SNAP].inconsistent)
		printf("   !! snapshots with the Python heap found: %u of %u; not consistent: %u\n",
		       rows[ROW_SNAP + 1].found, runs,
		       rows[ROW_SNAP + 1].inconsistent +
			       rows[ROW_SNAP].inconsistent);
	/*
	 * The walks read ahead only with a CPU to spare (proc/readahead.c
	 * judges by /proc/loadavg): on a busy machine they read alone.
	 */
	printf("   read ahead by a helper thread in %u of %u census runs, %u of %u types runs\n",
	       rows[0].ra, runs, rows[1].ra, runs);
	printf("   peak RSS (VmHWM of the child), MiB:\n");
	for (unsigned k = 0; k < N_ROWS; k++)
		printf("     %-38s %s%s\n", rows[k].mode,
		       spread(b1, sizeof(b1), 1, rows[k].hwm, runs),
		       k == 1 || k >= ROW_SNAP + 1
			       ? median(rows[k].hwm, runs) <= 8
					 ? "  budget <= 8 MiB: met"
					 : "  budget <= 8 MiB: NOT met"
			       : "");
	printf("     %-38s %.1f\n", "idle (the child alone)",
	       idle.hwm_kib / 1024);
	printf("\n");
	fflush(stdout);
}
