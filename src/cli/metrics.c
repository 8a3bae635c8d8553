/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.c - --metrics FILE: after every sample, the figures of the
 * target in the Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector, which reads every *.prom file of a
 * folder at each scrape. The file is replaced atomically (a temporary
 * file in the same folder, renamed over it), so a scrape never reads
 * half of it; the temporary name starts with a dot and does not end in
 * .prom, so the collector never reads it either.
 *
 * Every series is labelled with the process (pid, comm, and start: its
 * start time as in the log folder's targets/PID-START), so several
 * leakattach processes can write their own files into one folder.
 * Per-location series are bounded (METRICS_LOCATIONS_MAX): the leaks
 * first, then the suspects (growing), then the largest size classes.
 * Only the public API (leakattach.h): this is what a program could write
 * itself.
 */
#include <errno.h>
#include <stddef.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "report.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* One per-location series. */
struct loc_series {
	char key[80];
	const char *kind;
	uint64_t in_use_bytes;
	unsigned growths; /* growths in a row (0 for a top size class) */
	int leak;
};

struct metrics_doc {
	FILE *f;
	char labels[512]; /* pid="..",comm="..",start=".." */
};

/* A label value as the exposition format quotes it: \\, \" and \n. */
static void
put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
head(struct metrics_doc *m, const char *name, const char *type,
     const char *help)
{
	fprintf(m->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{LABELS[,extra="value"]} */
static void
series(struct metrics_doc *m, const char *name, const char *extra,
       const char *value, const char *extra2, const char *value2)
{
	fprintf(m->f, "%s{%s", name, m->labels);
	if (extra) {
		fprintf(m->f, ",%s=\"", extra);
		put_escaped(m->f, value);
		fputc('"', m->f);
	}
	if (extra2) {
		fprintf(m->f, ",%s=\"", extra2);
		put_escaped(m->f, value2);
		fputc('"', m->f);
	}
	fputs("} ", m->f);
}

static void
gauge_u64(struct metrics_doc *m, const char *name, const char *help, uint64_t v)
{
	head(m, name, "gauge", help);
	series(m, name, NULL, NULL, NULL, NULL);
	fprintf(m->f, "%llu\n", (unsigned long long)v);
}

/* The START of ".../targets/PID-START"; "" when there is none. */
static const char *
start_of(const char *target_dir)
{
	const char *base, *dash;

	if (!target_dir)
		return "";
	base = strrchr(target_dir, '/');
	base = base ? base + 1 : target_dir;
	dash = strchr(base, '-');
	return dash ? dash + 1 : "";
}

static int
by_bytes_desc(const void *a, const void *b)
{
	const struct la_size_class *x = a, *y = b;

	if (x->counts.in_use_bytes != y->counts.in_use_bytes)
		return x->counts.in_use_bytes < y->counts.in_use_bytes ? 1 : -1;
	return x->chunk_size_min < y->chunk_size_min ? -1 : 1;
}

static int
have_key(const struct loc_series *ls, unsigned n, const char *key)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(ls[i].key, key))
			return 1;
	return 0;
}

/*
 * The locations with a series: every leak, then the suspects (growing),
 * then the size classes with the most bytes in use; at most
 * METRICS_LOCATIONS_MAX in all.
 */
static unsigned
pick_locations(const struct la_tracker *t, const struct la_snapshot *snap,
	       struct loc_series *out)
{
	static const enum la_verdict order[] = {LA_VERDICT_LEAK,
						LA_VERDICT_GROWING};
	unsigned n = 0, nf = la_tracker_finding_count(t);
	unsigned nc = la_snapshot_size_class_count(snap);
	struct la_size_class *sc;
	struct la_finding fd;

	for (unsigned v = 0; v < 2; v++)
		for (unsigned i = 0; i < nf && n < METRICS_LOCATIONS_MAX; i++) {
			if (la_tracker_finding(t, i, &fd, sizeof(fd)) ||
			    fd.verdict != order[v] ||
			    have_key(out, n, fd.loc.key))
				continue;
			snprintf(out[n].key, sizeof(out[n].key), "%s",
				 fd.loc.key);
			out[n].kind = location_kind_name(fd.loc.kind);
			out[n].in_use_bytes = fd.in_use_bytes;
			out[n].growths = fd.consecutive;
			out[n].leak = fd.verdict == LA_VERDICT_LEAK;
			n++;
		}
	if (n == METRICS_LOCATIONS_MAX || !nc)
		return n;
	sc = calloc(nc, sizeof(*sc));
	if (!sc)
		return n;
	for (unsigned i = 0; i < nc; i++)
		if (la_snapshot_size_class(snap, i, &sc[i], sizeof(sc[i])))
			memset(&sc[i], 0, sizeof(sc[i]));
	qsort(sc, nc, sizeof(*sc), by_bytes_desc);
	for (unsigned i = 0; i < nc && n < METRICS_LOCATIONS_MAX; i++) {
		char key[80];

		if (!sc[i].counts.in_use_bytes)
			break;
		/* the tracker's key of a size class */
		snprintf(key, sizeof(key), "size:%llu-%llu",
			 (unsigned long long)sc[i].chunk_size_min,
			 (unsigned long long)sc[i].chunk_size_max);
		if (have_key(out, n, key))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].key, sizeof(out[n].key), "%s", key);
		out[n].kind = location_kind_name(LA_LOC_SIZE_CLASS);
		out[n].in_use_bytes = sc[i].counts.in_use_bytes;
		n++;
	}
	free(sc);
	return n;
}

static void
write_doc(struct metrics_doc *m, const struct la_tracker *t,
	  const struct la_snapshot *snap)
{
	static const struct {
		const char *name;
		size_t off;
	} verdicts[] = {
		{"leak", offsetof(struct la_tracker_info, leaks)},
		{"growing", offsetof(struct la_tracker_info, growing)},
		{"retention", offsetof(struct la_tracker_info, retention)},
		{"plateau", offsetof(struct la_tracker_info, plateau)},
	};
	struct loc_series ls[METRICS_LOCATIONS_MAX];
	struct la_snapshot_info si;
	struct la_tracker_info ti;
	struct la_totals tt;
	struct la_memory mem;
	unsigned n;
	int any;

	la_snapshot_info(snap, &si, sizeof(si));
	la_snapshot_totals(snap, &tt, sizeof(tt));
	la_snapshot_memory(snap, &mem, sizeof(mem));
	la_tracker_info(t, &ti, sizeof(ti));

	gauge_u64(
		m, "leakattach_heap_in_use_bytes",
		"Bytes of glibc malloc chunks in use by the program (chunk sizes, mmapped chunks included), at the latest sample.",
		tt.counts.in_use_bytes);
	gauge_u64(
		m, "leakattach_heap_free_bytes",
		"Bytes free in the glibc heap (tcache, fastbins, bins, top chunks), at the latest sample.",
		tt.free_bytes);
	gauge_u64(
		m, "leakattach_heap_held_bytes",
		"Bytes glibc malloc holds from the system (its arenas and mmapped chunks), at the latest sample.",
		tt.system_bytes);
	gauge_u64(
		m, "leakattach_rss_bytes",
		"Resident memory of the process (VmRSS), at the latest sample.",
		si.rss_bytes);
	if (mem.measured) {
		gauge_u64(
			m, "leakattach_malloc_rss_bytes",
			"Resident bytes of the mappings of glibc malloc, at the latest sample.",
			mem.malloc_rss_bytes);
		head(m, "leakattach_outside_malloc_rss_bytes", "gauge",
		     "Resident bytes outside glibc malloc, by kind of memory, at the latest sample.");
		for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++) {
			const char *name = la_outside_kind_name(k);
			struct la_outside out;

			if (!name ||
			    la_snapshot_outside(snap, k, &out, sizeof(out)))
				continue;
			series(m, "leakattach_outside_malloc_rss_bytes", "kind",
			       name, NULL, NULL);
			fprintf(m->f, "%llu\n",
				(unsigned long long)out.rss_bytes);
		}
	}

	n = pick_locations(t, snap, ls);
	if (n) {
		head(m, "leakattach_location_in_use_bytes", "gauge",
		     "Bytes in use at a location of the heap (its leaks, suspects and largest size classes, at most " STR(
			     METRICS_LOCATIONS_MAX) " per process), at its latest exact sample.");
		for (unsigned i = 0; i < n; i++) {
			series(m, "leakattach_location_in_use_bytes", "kind",
			       ls[i].kind, "location", ls[i].key);
			fprintf(m->f, "%llu\n",
				(unsigned long long)ls[i].in_use_bytes);
		}
		head(m, "leakattach_location_growths", "gauge",
		     "Growths in a row of the in-use bytes of a location (0: not growing).");
		for (unsigned i = 0; i < n; i++) {
			series(m, "leakattach_location_growths", "kind",
			       ls[i].kind, "location", ls[i].key);
			fprintf(m->f, "%u\n", ls[i].growths);
		}
	}
	any = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!ls[i].leak)
			continue;
		if (!any++)
			head(m, "leakattach_leak", "gauge",
			     "1 for each location that is a leak now by leakattach's rule.");
		series(m, "leakattach_leak", "kind", ls[i].kind, "location",
		       ls[i].key);
		fputs("1\n", m->f);
	}
	head(m, "leakattach_findings", "gauge",
	     "Locations by verdict after the latest sample (every one, not bounded).");
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		unsigned v;

		memcpy(&v, (const char *)&ti + verdicts[i].off, sizeof(v));
		series(m, "leakattach_findings", "verdict", verdicts[i].name,
		       NULL, NULL);
		fprintf(m->f, "%u\n", v);
	}
	head(m, "leakattach_samples_total", "counter",
	     "Samples of the process taken by every leakattach run that shares its log folder.");
	series(m, "leakattach_samples_total", NULL, NULL, NULL, NULL);
	fprintf(m->f, "%u\n", ti.samples);
	head(m, "leakattach_approximate_samples_total", "counter",
	     "Samples that caught the heap mid-update (not used as evidence).");
	series(m, "leakattach_approximate_samples_total", NULL, NULL, NULL,
	       NULL);
	fprintf(m->f, "%u\n", ti.approximate);
	head(m, "leakattach_last_sample_timestamp_seconds", "gauge",
	     "When the latest sample was taken, in seconds since the Unix epoch.");
	series(m, "leakattach_last_sample_timestamp_seconds", NULL, NULL, NULL,
	       NULL);
	fprintf(m->f, "%.3f\n", (double)si.time_unix_ns / 1e9);
	head(m, "leakattach_last_sample_exact", "gauge",
	     "1 when the latest sample walked every arena exactly, 0 when it was approximate.");
	series(m, "leakattach_last_sample_exact", NULL, NULL, NULL, NULL);
	fprintf(m->f, "%d\n", si.consistent ? 1 : 0);
	head(m, "leakattach_pause_seconds", "gauge",
	     "How long the latest sample stopped the process (first thread stopped to last thread resumed).");
	series(m, "leakattach_pause_seconds", NULL, NULL, NULL, NULL);
	fprintf(m->f, "%.6f\n", (double)si.pause_ns / 1e9);
}

/* Said once until a write succeeds again. */
static int failing;

static int
fail(const char *path, const char *what, int err)
{
	if (!failing++)
		fprintf(stderr,
			"%sleakattach: --metrics: cannot %s %s: %s; sampling goes on without it\n",
			isatty(STDERR_FILENO) ? "\r\033[K" : "", what, path,
			strerror(err));
	return -err;
}

int
metrics_write(const char *path, pid_t pid, const char *comm,
	      const char *target_dir, const struct la_tracker *t,
	      const struct la_snapshot *snap)
{
	struct metrics_doc m;
	char tmp[4096], dir[4096], base[4096];
	FILE *lf;
	int fd, err;

	if (!path || !t || !snap)
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir),
			     basename(base)) >= sizeof(tmp))
		return fail(path, "write", ENAMETOOLONG);
	lf = fmemopen(m.labels, sizeof(m.labels), "w");
	if (!lf)
		return fail(path, "write", errno);
	fprintf(lf, "pid=\"%d\",comm=\"", (int)pid);
	put_escaped(lf, comm ? comm : "");
	fprintf(lf, "\",start=\"");
	put_escaped(lf, start_of(target_dir));
	fputc('"', lf);
	if (fclose(lf))
		return fail(path, "write", ENAMETOOLONG);

	fd = mkstemp(tmp);
	if (fd < 0)
		return fail(path, "create a file beside", errno);
	/* the collector runs as another user: readable by all, as 0644 */
	if (fchmod(fd, 0644) || !(m.f = fdopen(fd, "w"))) {
		err = errno;
		close(fd);
		unlink(tmp);
		return fail(path, "write", err);
	}
	write_doc(&m, t, snap);
	err = ferror(m.f) ? EIO : 0;
	if (fclose(m.f) && !err)
		err = errno ? errno : EIO;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		unlink(tmp);
		return fail(path, "write", err);
	}
	failing = 0;
	return 0;
}
