/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_pause.c - figures 1 and 2: the pause of a snapshot against a bare read of
 * the same heap, and leakattach's peak RSS, on bench/bigheap's packed,
 * fragmented and multi-arena heaps, a busy bench/churn and a tiny heap; a
 * first run (an empty log folder: the layout from debug info) and later
 * runs (the layout cached). bench.c tells the whole story.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "harness.h"

#define HEAP_MAX_SIZE (64ull << 20) /* glibc's thread heaps are aligned so */
#define PIECE (1u << 20) /* what leakattach reads per call too */

/* ---- 1. pause and peak RSS ---------------------------------------------- */

struct range {
	uint64_t start, end;
};

/*
 * The heap mappings: [heap] (the main arena) and the read-write anonymous
 * mappings that start on a HEAP_MAX_SIZE boundary (thread heaps).
 */
static unsigned
heap_ranges(pid_t pid, struct range *r, unsigned max)
{
	char path[64], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, off, inode;
		char perms[8], dev[16], name[256] = "";

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %255s", &s, &e,
			   perms, &off, dev, &inode, name) < 6)
			continue;
		if (!strcmp(name, "[heap]") ||
		    (!name[0] && !inode && !strncmp(perms, "rw", 2) &&
		     !(s & (HEAP_MAX_SIZE - 1))))
			r[n++] = (struct range){s, e};
	}
	fclose(f);
	return n;
}

/* The baseline: process_vm_readv of every range, 1 MiB per call. */
static double
read_ranges_ms(pid_t pid, const struct range *r, unsigned n, void *buf,
	       uint64_t *bytes)
{
	double t0 = now_s();

	*bytes = 0;
	for (unsigned i = 0; i < n; i++)
		for (uint64_t a = r[i].start; a < r[i].end;) {
			size_t want =
				r[i].end - a < PIECE ? r[i].end - a : PIECE;
			struct iovec l = {buf, want};
			struct iovec rem = {(void *)(uintptr_t)a, want};
			ssize_t got = process_vm_readv(pid, &l, 1, &rem, 1, 0);

			/*
			 * EFAULT: a busy target's mapping shrank since its
			 * maps were read (malloc.c heap_trim, systrim).
			 */
			if (got < 0 && errno == EFAULT)
				break;
			if (got <= 0)
				die("process_vm_readv(%d, %#llx): %s", (int)pid,
				    (unsigned long long)a, strerror(errno));
			a += (uint64_t)got;
			*bytes += (uint64_t)got;
		}
	return (now_s() - t0) * 1e3;
}

static int
has_tool_arg(const struct opts *o, const char *arg)
{
	for (unsigned i = 0; i < o->n_tool_args; i++)
		if (!strcmp(o->tool_args[i], arg))
			return 1;
	return 0;
}

static void
hold(const struct opts *o, struct target *t)
{
	char buf[64];

	printf("holding the target: PID %d. Profile the tool by hand, e.g.\n"
	       "  perf record -e cpu-clock --call-graph dwarf -o perf.data -- %s snapshot -p %d --json >/dev/null\n"
	       "  strace -c %s snapshot -p %d --json >/dev/null\n"
	       "then press Enter (or end stdin) to end it.\n",
	       (int)t->pid, o->tool, (int)t->pid, o->tool, (int)t->pid);
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) && buf[0] != '\n')
		;
}

/*
 * The shapes of heap measured: bench/bigheap packed and fragmented
 * (--free-every), the last of those spread over thread arenas (--arenas),
 * a busy heap (bench/churn, its threads doing malloc/free all the time)
 * and, for the tool's memory alone, a tiny one (bench/threads 1 idle).
 */
enum { RUN_FIRST, RUN_LATER, RUN_NODEBUG, RUN_KINDS };

static const char *const run_label[RUN_KINDS] = {
	"first run (empty log folder: layout from debug info)",
	"later runs (layout cached)",
	"--no-debuginfo (layout from signatures)",
};

struct heap_result {
	unsigned long long
		every; /* bigheap: every K-th chunk freed (0: none) */
	unsigned threads; /* bigheap: builder threads (0: the main arena) */
	int busy; /* bench/churn */
	int tiny; /* bench/threads 1 idle: the tool's memory only */
	unsigned long long chunks, bytes, freed;
	double heap_mib;
	unsigned nranges, arenas, approx, attempts;
	unsigned not_dwarf; /* first runs whose layout was not from DWARF */
	unsigned not_kept; /* first runs that kept no layout in their folder */
	double base[MAX_RUNS], stop[MAX_RUNS], walk[MAX_RUNS],
		readmib[MAX_RUNS];
	/* [RUN_FIRST] and [RUN_LATER] */
	double pause[2][MAX_RUNS], ratio[2][MAX_RUNS], cpu[2][MAX_RUNS],
		wall[2][MAX_RUNS];
	double rss[RUN_KINDS][MAX_RUNS];
};

#define MAX_RANGES 256

/*
 * The log folders of the pause figures, so that no state of the machine
 * counts: one for the later runs (its layout cache filled by a warm-up
 * run), a fresh, empty one per first run.
 */
static char later_dir[PATH_MAX], first_dir[PATH_MAX];

void
pause_dirs_remove(void)
{
	tmpdir_remove(first_dir);
	tmpdir_remove(later_dir);
}

/*
 * Does DIR/layouts hold a layout? The tool keeps one there only when it
 * learned it from DWARF (session.c: layout_cache_save after
 * malloc_layout_from_dwarf), so on a first run this says the debug info
 * was read, not merely found.
 */
static int
layout_kept(const char *dir)
{
	char path[PATH_MAX + 16];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/layouts", dir);
	d = opendir(path);
	while (d && !found && (e = readdir(d)))
		found = !strncmp(e->d_name, "layout-", 7);
	if (d)
		closedir(d);
	return found;
}

/*
 * A first run: a fresh, empty log folder, so the layout comes from the
 * libc's debug info (libdwarf) as on the first run for a libc; the folder
 * is removed after.
 */
static void
first_run(const struct opts *o, pid_t pid, struct heap_result *h, struct run *r)
{
	tmpdir_make(first_dir, sizeof(first_dir));
	tool_run(o, pid, NULL, first_dir, NULL, r);
	h->not_dwarf += !r->dwarf;
	h->not_kept += !layout_kept(first_dir);
	tmpdir_remove(first_dir);
}

/* The rest of the first line of PATH holding NEEDLE, into out; -1: none. */
static int
log_find(const char *path, const char *needle, char *out, size_t size)
{
	char line[2048];
	int found = -1;
	FILE *f = fopen(path, "re");

	while (f && found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p) {
			p += strlen(needle);
			p[strcspn(p, "\n")] = '\0';
			snprintf(out, size, "%s", p);
			found = 0;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * Where the layout comes from on a first and on a later run, in the
 * tool's own words (-vv: "layout: from DWARF in FILE (...)", "layout
 * cache: using FILE"; session.c, layout_cache.c), so that the figures
 * below say what they measured.
 */
static void
layout_probe(const struct opts *o, pid_t pid, char *first, char *later,
	     size_t size)
{
	char err[PATH_MAX + 16], buf[PATH_MAX + 64], *p;
	struct run r;

	tmpdir_make(first_dir, sizeof(first_dir));
	snprintf(err, sizeof(err), "%s/stderr", first_dir);
	tool_run(o, pid, "-vv", first_dir, err, &r);
	if (!log_find(err, "layout: from DWARF in ", buf, sizeof(buf))) {
		p = strstr(buf, ": main_arena");
		if (p)
			*p = '\0';
		/* the target's root as the tool sees it: /proc/PID/root */
		p = buf;
		if (!strncmp(p, "/proc/", 6) && strstr(p, "/root/"))
			p = strstr(p, "/root/") + 5;
		snprintf(first, size, "from debug info: DWARF in %s", p);
	} else if (r.dwarf && layout_kept(first_dir)) {
		snprintf(
			first, size,
			"from debug info (leakattach -vv did not say which file)");
	} else {
		snprintf(
			first, size,
			"NOT from debug info (install the libc's debug package, e.g. libc6-dbg): the figures below are not those of a first run with debug info");
	}
	tool_run(o, pid, "-vv", first_dir, err, &r);
	if (!log_find(err, "layout cache: using ", buf, sizeof(buf))) {
		p = strrchr(buf, '/');
		snprintf(later, size, "from the layout cache (layouts/%s)",
			 p ? p + 1 : buf);
	} else {
		snprintf(
			later, size,
			"NOT from the layout cache (leakattach -vv did not say it used one)");
	}
	tmpdir_remove(first_dir);
}

static const char *
shape_label(const struct opts *o, const struct heap_result *h, char *buf,
	    size_t size)
{
	char freed[64];

	if (h->every)
		snprintf(freed, sizeof(freed), "1 in %llu chunks free",
			 h->every);
	else
		snprintf(freed, sizeof(freed), "every chunk in use");
	if (h->tiny)
		snprintf(buf, size,
			 "tiny: 1 idle thread (bench/threads 1 idle)");
	else if (h->busy)
		snprintf(
			buf, size,
			"busy: %.0f MiB, %u threads doing malloc/free (bench/churn), %u arenas",
			(double)o->churn_mib, o->storm_threads, h->arenas);
	else if (h->threads)
		snprintf(buf, size,
			 "multi-arena: %.0f MiB, %u threads, %u arenas, %s",
			 (double)h->bytes / 1048576, h->threads, h->arenas,
			 freed);
	else
		snprintf(buf, size, "%s: %.0f MiB, %s",
			 h->every ? "fragmented" : "packed",
			 (double)h->bytes / 1048576, freed);
	return buf;
}

static void
measure_heap(const struct opts *o, struct heap_result *h, int nodebug_col)
{
	char mib[32], chunks[32], every[32], threads[16], cmd[256] = "";
	const char *argv[12];
	static struct range ranges[MAX_RANGES];
	unsigned na = 0;
	struct target t;
	struct run r;
	uint64_t bytes;
	double t0;
	void *rbuf;

	if (h->busy) {
		snprintf(threads, sizeof(threads), "%u", o->storm_threads);
		snprintf(mib, sizeof(mib), "%llu", o->churn_mib);
		argv[na++] = "churn";
		argv[na++] = "--threads";
		argv[na++] = threads;
		argv[na++] = "--mib";
		argv[na++] = mib;
	} else {
		snprintf(mib, sizeof(mib), "%llu", o->mib);
		snprintf(chunks, sizeof(chunks), "%llu", o->chunks);
		snprintf(every, sizeof(every), "%llu", h->every);
		snprintf(threads, sizeof(threads), "%u", h->threads);
		argv[na++] = "bigheap";
		argv[na++] = "--mib";
		argv[na++] = mib;
		argv[na++] = "--chunks";
		argv[na++] = chunks;
		argv[na++] = "--free-every";
		argv[na++] = every;
		if (h->threads) {
			argv[na++] = "--threads";
			argv[na++] = threads;
		}
	}
	argv[na] = NULL;
	for (unsigned i = 0; i < na; i++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s",
			 i ? " " : "bench/", argv[i]);
	t0 = now_s();
	target_start(&t, o, argv, 600);
	h->chunks = ready_field(&t, "chunks=");
	h->bytes = ready_field(&t, "bytes=");
	h->freed = ready_field(&t, "freed=");
	printf("   heap built: %.1f MiB in %llu chunks, %llu of them free, in %.1f s (%s, PID %d)\n",
	       (double)h->bytes / 1048576, h->chunks, h->freed, now_s() - t0,
	       cmd, (int)t.pid);
	fflush(stdout);
	h->nranges = heap_ranges(t.pid, ranges, MAX_RANGES);
	for (unsigned i = 0; i < h->nranges; i++)
		h->heap_mib +=
			(double)(ranges[i].end - ranges[i].start) / 1048576;
	if (o->hold) {
		hold(o, &t);
		target_stop(&t);
		return;
	}
	rbuf = malloc(PIECE);
	if (!rbuf)
		die("out of memory");
	/*
	 * A warm-up of each, not counted: page tables, caches, debug files;
	 * it fills the later runs' layout cache too.
	 */
	read_ranges_ms(t.pid, ranges, h->nranges, rbuf, &bytes);
	tool_run(o, t.pid, NULL, later_dir, NULL, &r);
	for (unsigned i = 0; i < o->runs; i++) {
		struct run rf, rl;

		/* a busy heap's mappings change: read them each time */
		if (h->busy)
			h->nranges = heap_ranges(t.pid, ranges, MAX_RANGES);
		/* alternate the order: neither kind of run always goes first */
		if (i % 2)
			tool_run(o, t.pid, NULL, later_dir, NULL, &rl);
		else
			first_run(o, t.pid, h, &rf);
		h->base[i] =
			read_ranges_ms(t.pid, ranges, h->nranges, rbuf, &bytes);
		if (i % 2)
			first_run(o, t.pid, h, &rf);
		else
			tool_run(o, t.pid, NULL, later_dir, NULL, &rl);
		h->pause[RUN_LATER][i] = rl.pause_ms;
		h->pause[RUN_FIRST][i] = rf.pause_ms;
		h->ratio[RUN_LATER][i] = rl.pause_ms / h->base[i];
		h->ratio[RUN_FIRST][i] = rf.pause_ms / h->base[i];
		h->cpu[RUN_LATER][i] = rl.cpu_ms;
		h->cpu[RUN_FIRST][i] = rf.cpu_ms;
		h->wall[RUN_LATER][i] = rl.wall_ms;
		h->wall[RUN_FIRST][i] = rf.wall_ms;
		h->rss[RUN_LATER][i] = rl.maxrss_kib / 1024;
		h->rss[RUN_FIRST][i] = rf.maxrss_kib / 1024;
		h->stop[i] = rl.stop_ms;
		h->walk[i] = rl.walk_ms;
		h->readmib[i] = rl.bytes_read / 1048576;
		h->arenas = rl.arenas;
		h->approx += !rl.consistent + !rf.consistent;
		h->attempts += rl.attempts + rf.attempts;
		if (o->verbose)
			fprintf(stderr,
				"  run %u: read %.2f ms, pause %.2f ms (first run %.2f ms), ratio %.2f\n",
				i + 1, h->base[i], rl.pause_ms, rf.pause_ms,
				h->ratio[RUN_LATER][i]);
	}
	free(rbuf);
	for (unsigned i = 0; nodebug_col && i < o->runs; i++) {
		tool_run(o, t.pid, "--no-debuginfo", later_dir, NULL, &r);
		h->rss[RUN_NODEBUG][i] = r.maxrss_kib / 1024;
	}
	target_stop(&t);
}

static void
print_heap(const struct opts *o, const struct heap_result *h)
{
	char buf[128], what[160];
	static const char *const kind[2] = {"first run", "later runs"};

	printf("   -- %s\n", shape_label(o, h, what, sizeof(what)));
	printf("   %-38s %s ms   (%.1f MiB in %u mapping(s), 1 MiB per call)\n",
	       "baseline: process_vm_readv of the heap",
	       spread(buf, sizeof(buf), 1, h->base, o->runs), h->heap_mib,
	       h->nranges);
	for (int k = RUN_LATER; k >= RUN_FIRST; k--) {
		char label[64];

		snprintf(label, sizeof(label), "leakattach pause, %s", kind[k]);
		printf("   %-38s %s ms\n", label,
		       spread(buf, sizeof(buf), 1, h->pause[k], o->runs));
		if (k == RUN_LATER) {
			printf("   %-38s %s ms\n", "  of which stop",
			       spread(buf, sizeof(buf), 2, h->stop, o->runs));
			printf("   %-38s %s ms\n", "  of which read + walk",
			       spread(buf, sizeof(buf), 1, h->walk, o->runs));
			printf("   %-38s %s MiB\n", "  target memory read",
			       spread(buf, sizeof(buf), 1, h->readmib,
				      o->runs));
		}
		printf("   %-38s %s ms\n", "  tool CPU per run (user+sys)",
		       spread(buf, sizeof(buf), 0, h->cpu[k], o->runs));
		printf("   %-38s %s ms\n", "  tool wall time per run",
		       spread(buf, sizeof(buf), 0, h->wall[k], o->runs));
	}
	printf("   %-38s %u of %u, %u stop(s) in all\n",
	       "approximate snapshots (both kinds)", h->approx, 2 * o->runs,
	       h->attempts);
	for (int k = RUN_LATER; k >= RUN_FIRST; k--) {
		char label[64];

		snprintf(label, sizeof(label), "RATIO pause / read, %s",
			 kind[k]);
		printf("   %-38s %s      budget <= 1.3: %s\n", label,
		       spread(buf, sizeof(buf), 2, h->ratio[k], o->runs),
		       verdict(median(h->ratio[k], o->runs) <= 1.3));
	}
}

static void
print_rss(const struct opts *o, const struct heap_result *h, int nodebug_col)
{
	char buf[128], what[160];

	printf("   -- %s\n", shape_label(o, h, what, sizeof(what)));
	for (int k = 0; k < RUN_KINDS; k++) {
		if (k == RUN_NODEBUG && !nodebug_col)
			continue;
		printf("   %-52s %-20s budget <= 8 MiB: %s\n", run_label[k],
		       spread(buf, sizeof(buf), 1, h->rss[k], o->runs),
		       verdict(median(h->rss[k], o->runs) <= 8));
	}
	if (h->not_dwarf || h->not_kept)
		printf("   !! %u of %u first runs did NOT take the layout from debug info (%u kept none)\n",
		       h->not_dwarf, o->runs, h->not_kept);
}

void
bench_pause(const struct opts *o)
{
	static struct heap_result heaps[MAX_SHAPES + 3];
	const char *tiny_argv[] = {"threads", "1", "idle", NULL};
	int nodebug_col = !has_tool_arg(o, "--no-debuginfo");
	char first_how[PATH_MAX + 128], later_how[PATH_MAX + 128], what[160];
	double t0 = now_s(), worst_rss = 0, worst_ratio[2] = {0, 0};
	unsigned n = 0, worst_rss_at = 0, worst_ratio_at[2] = {0, 0};
	unsigned not_dwarf = 0;
	struct heap_result *tiny;
	struct target t;
	struct run r;

	for (unsigned s = 0; s < o->n_shapes; s++)
		heaps[n++] = (struct heap_result){.every = o->free_every[s]};
	if (o->arenas)
		heaps[n++] = (struct heap_result){
			.every = o->free_every[o->n_shapes - 1],
			.threads = o->arenas};
	heaps[n++] = (struct heap_result){.busy = 1};
	tmpdir_make(later_dir, sizeof(later_dir));

	printf("1. pause per snapshot against a bare process_vm_readv of the same heap mappings\n"
	       "   (same target, runs interleaved) on bench/bigheap, %llu MiB in about %llu\n"
	       "   chunks (--free-every%s), and on a busy bench/churn.\n"
	       "   First run: a fresh, empty log folder each (layout from debug info); later\n"
	       "   runs: one folder (layout cached)\n",
	       o->mib, o->chunks, o->arenas ? ", then in thread arenas" : "");
	fflush(stdout);
	for (unsigned s = 0; s < n; s++) {
		measure_heap(o, &heaps[s], nodebug_col);
		if (o->hold) {
			pause_dirs_remove();
			return;
		}
		print_heap(o, &heaps[s]);
		for (int k = RUN_FIRST; k <= RUN_LATER; k++)
			if (median(heaps[s].ratio[k], o->runs) >
			    worst_ratio[k]) {
				worst_ratio[k] =
					median(heaps[s].ratio[k], o->runs);
				worst_ratio_at[k] = s;
			}
		fflush(stdout);
	}
	for (int k = RUN_LATER; k >= RUN_FIRST; k--)
		printf("   %-38s %.2f (%s)   budget <= 1.3: %s\n",
		       k == RUN_LATER ? "WORST RATIO, later runs"
				      : "WORST RATIO, first run",
		       worst_ratio[k],
		       shape_label(o, &heaps[worst_ratio_at[k]], what,
				   sizeof(what)),
		       verdict(worst_ratio[k] <= 1.3));

	/* The same tool on a tiny heap: its memory without a big walk. */
	tiny = &heaps[n++];
	*tiny = (struct heap_result){.tiny = 1};
	target_start(&t, o, tiny_argv, 30);
	layout_probe(o, t.pid, first_how, later_how, sizeof(first_how));
	tool_run(o, t.pid, NULL, later_dir, NULL, &r); /* warm-up */
	for (unsigned i = 0; i < o->runs; i++) {
		first_run(o, t.pid, tiny, &r);
		tiny->rss[RUN_FIRST][i] = r.maxrss_kib / 1024;
		tool_run(o, t.pid, NULL, later_dir, NULL, &r);
		tiny->rss[RUN_LATER][i] = r.maxrss_kib / 1024;
		if (nodebug_col) {
			tool_run(o, t.pid, "--no-debuginfo", later_dir, NULL,
				 &r);
			tiny->rss[RUN_NODEBUG][i] = r.maxrss_kib / 1024;
		}
	}
	target_stop(&t);

	printf("2. leakattach peak RSS in MiB (ru_maxrss from wait4), budget <= 8 MiB\n"
	       "   first run: a fresh, empty log folder (LEAKATTACH_LOG_DIR, removed after), as\n"
	       "   on the first run for a libc; the layout, as `leakattach -vv` tells it:\n"
	       "     %s\n"
	       "   later runs: one log folder, its layout cache filled by a warm-up run:\n"
	       "     %s\n",
	       first_how, later_how);
	if (o->n_tool_args)
		printf("   (tool arguments as configured above)\n");
	for (unsigned s = 0; s < n; s++) {
		double m = median(heaps[s].rss[RUN_FIRST], o->runs);

		print_rss(o, &heaps[s], nodebug_col);
		not_dwarf += heaps[s].not_dwarf + heaps[s].not_kept;
		if (m > worst_rss) {
			worst_rss = m;
			worst_rss_at = s;
		}
	}
	/* a budget for the first run with debug info needs such runs */
	printf("   %-52s %.1f MiB (%s)   budget <= 8 MiB: %s\n",
	       "WORST first run (layout from debug info)", worst_rss,
	       shape_label(o, &heaps[worst_rss_at], what, sizeof(what)),
	       not_dwarf ? "NOT measured (debug info not read, see !! above)"
			 : verdict(worst_rss <= 8));
	pause_dirs_remove();
	printf("   (pause and RSS took %.0f s)\n\n", now_s() - t0);
	fflush(stdout);
}
