/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * history.c - a process's history.jsonl read back (history.h): the
 * samples' totals and the locations each line names, as series over the
 * samples; the target folders and reports of a log folder; sparklines.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <langinfo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "history.h"
#include "jsonread.h"
#include "report.h"

/* Lines read at most (two files of 4 MiB hold fewer). */
#define HIST_LINES_MAX 100000

static int
grow(struct hist *h, unsigned cap)
{
	void **arrays[] = {(void **)&h->t_ms,	   (void **)&h->in_use,
			   (void **)&h->free_b,	   (void **)&h->system,
			   (void **)&h->rss,	   (void **)&h->pause_ms,
			   (void **)&h->consistent};
	size_t sizes[] = {sizeof(int64_t),
			  sizeof(double),
			  sizeof(double),
			  sizeof(double),
			  sizeof(double),
			  sizeof(double),
			  1};

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = realloc(*arrays[i], cap * sizes[i]);

		if (!p)
			return -ENOMEM;
		*arrays[i] = p;
	}
	for (unsigned s = 0; s < h->nser; s++) {
		struct hist_series *sr = &h->ser[s];
		void *a = realloc(sr->in_use, cap * sizeof(double));

		if (!a)
			return -ENOMEM;
		sr->in_use = a;
		a = realloc(sr->free_b, cap * sizeof(double));
		if (!a)
			return -ENOMEM;
		sr->free_b = a;
		a = realloc(sr->state, cap);
		if (!a)
			return -ENOMEM;
		sr->state = a;
	}
	return 0;
}

static enum hist_state
state_of(const char *s)
{
	static const char *const names[] = {
		[HS_NONE] = "none",	  [HS_GROWING] = "growing",
		[HS_LEAK] = "leak",	  [HS_RETENTION] = "retention",
		[HS_PLATEAU] = "plateau",
	};

	for (unsigned i = HS_NONE; i <= HS_PLATEAU; i++)
		if (!strcmp(s, names[i]))
			return (enum hist_state)i;
	return HS_NONE;
}

/* The series of key, made (its earlier samples absent) when new. */
static struct hist_series *
series(struct hist *h, const char *key, unsigned cap)
{
	struct hist_series *sr;

	for (unsigned s = 0; s < h->nser; s++)
		if (!strcmp(h->ser[s].key, key))
			return &h->ser[s];
	if (h->nser == HIST_SERIES_MAX)
		return NULL;
	sr = &h->ser[h->nser];
	memset(sr, 0, sizeof(*sr));
	sr->in_use = malloc(cap * sizeof(double));
	sr->free_b = malloc(cap * sizeof(double));
	sr->state = malloc(cap);
	if (!sr->in_use || !sr->free_b || !sr->state) {
		free(sr->in_use);
		free(sr->free_b);
		free(sr->state);
		return NULL;
	}
	for (unsigned i = 0; i < cap; i++) {
		sr->in_use[i] = NAN;
		sr->free_b[i] = NAN;
		sr->state[i] = HS_ABSENT;
	}
	snprintf(sr->key, sizeof(sr->key), "%s", key);
	sr->slope_per_hour = NAN;
	h->nser++;
	return sr;
}

static void
add_line(struct hist *h, const struct jv *o, unsigned i, unsigned cap)
{
	const struct jv *locs = jv_get(o, "locations");

	h->t_ms[i] = (int64_t)jv_get_num(o, "time_unix_ms", 0);
	h->in_use[i] = jv_get_num(o, "in_use_bytes", NAN);
	h->free_b[i] = jv_get_num(o, "free_bytes", NAN);
	h->system[i] = jv_get_num(o, "system_bytes", NAN);
	h->rss[i] = jv_get_num(o, "rss_bytes", NAN);
	h->pause_ms[i] = jv_get_num(o, "pause_ms", NAN);
	h->consistent[i] = jv_get_num(o, "consistent", 1) != 0;
	h->leaks_last = (unsigned)jv_get_num(o, "leaks", 0);
	if (jv_get_str(o, "comm", NULL))
		snprintf(h->comm, sizeof(h->comm), "%s",
			 jv_get_str(o, "comm", ""));
	for (unsigned s = 0; s < h->nser; s++) {
		h->ser[s].in_use[i] = NAN;
		h->ser[s].free_b[i] = NAN;
		h->ser[s].state[i] = HS_ABSENT;
	}
	for (const struct jv *l = locs ? locs->child : NULL; l; l = l->next) {
		const char *key = jv_get_str(l, "key", NULL);
		struct hist_series *sr = key ? series(h, key, cap) : NULL;
		const struct jv *slope;

		if (!sr)
			continue;
		snprintf(sr->kind, sizeof(sr->kind), "%s",
			 jv_get_str(l, "kind", ""));
		snprintf(sr->label, sizeof(sr->label), "%s",
			 jv_get_str(l, "label", key));
		sr->in_use[i] = jv_get_num(l, "in_use_bytes", NAN);
		sr->free_b[i] = jv_get_num(l, "free_bytes", NAN);
		sr->state[i] =
			(unsigned char)state_of(jv_get_str(l, "state", "none"));
		if (sr->state[i] == HS_LEAK)
			sr->ever_leak = 1;
		sr->consecutive = (unsigned)jv_get_num(l, "consecutive", 0);
		sr->since_ms = (int64_t)jv_get_num(l, "since_unix_ms", 0);
		snprintf(sr->evidence, sizeof(sr->evidence), "%s",
			 jv_get_str(l, "evidence", ""));
		slope = jv_get(l, "slope_bytes_per_hour");
		sr->slope_per_hour = jv_num(slope, NAN);
	}
}

/* Read the lines of path into h. */
static int
load_file(struct hist *h, const char *path, unsigned *cap)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t sz = 0;
	ssize_t len;
	int err = 0;

	if (!f)
		return -errno;
	while ((len = getline(&line, &sz, f)) > 0 && h->n < HIST_LINES_MAX) {
		struct jv *o;

		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		o = jv_parse(line, (size_t)len);
		if (!o || o->type != JV_OBJECT) {
			h->bad_lines++;
			jv_free(o);
			continue;
		}
		if (h->n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			err = grow(h, *cap);
			if (err) {
				jv_free(o);
				break;
			}
		}
		add_line(h, o, h->n++, *cap);
		jv_free(o);
	}
	free(line);
	fclose(f);
	return err;
}

int
hist_load(const char *dir, struct hist *h)
{
	char path[1200];
	const char *base = strrchr(dir, '/');
	unsigned cap = 0;
	int err, err1;
	long long pid = 0;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	if (sscanf(base ? base + 1 : dir, "%lld-%llu", &pid, &h->start) == 2)
		h->pid = (pid_t)pid;
	snprintf(path, sizeof(path), "%s/history.jsonl.1", dir);
	err1 = load_file(h, path, &cap);
	snprintf(path, sizeof(path), "%s/history.jsonl", dir);
	err = load_file(h, path, &cap);
	if (err == -ENOENT && !err1)
		err = 0;
	if (!err && !h->n)
		err = -ENOENT;
	if (err)
		hist_free(h);
	for (unsigned s = 0; !err && s < h->nser; s++) {
		struct hist_series *sr = &h->ser[s];

		sr->last_state = (enum hist_state)sr->state[h->n - 1];
	}
	return err;
}

void
hist_free(struct hist *h)
{
	free(h->t_ms);
	free(h->in_use);
	free(h->free_b);
	free(h->system);
	free(h->rss);
	free(h->pause_ms);
	free(h->consistent);
	for (unsigned s = 0; s < h->nser; s++) {
		free(h->ser[s].in_use);
		free(h->ser[s].free_b);
		free(h->ser[s].state);
	}
	h->t_ms = NULL;
	h->in_use = h->free_b = h->system = h->rss = h->pause_ms = NULL;
	h->consistent = NULL;
	h->nser = 0;
	h->n = 0;
}

const struct hist_series *
hist_find(const struct hist *h, const char *key)
{
	for (unsigned s = 0; s < h->nser; s++)
		if (!strcmp(h->ser[s].key, key))
			return &h->ser[s];
	return NULL;
}

/* "PID-START" folders by PID, then start time */
static int
by_pid_start(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/') + 1;
	const char *y = strrchr(*(char *const *)b, '/') + 1;

	return strverscmp(x, y);
}

int
hist_dirs(const char *log_dir, pid_t pid, char ***out)
{
	char path[1100];
	DIR *dp;
	struct dirent *e;
	char **dirs = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "%s/targets", log_dir);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((e = readdir(dp))) {
		long long p;
		unsigned long long start;
		char tail;
		char **more;

		if (sscanf(e->d_name, "%lld-%llu%c", &p, &start, &tail) != 2 ||
		    (pid > 0 && p != pid))
			continue;
		more = realloc(dirs, sizeof(*dirs) * (size_t)(n + 1));
		if (!more)
			break;
		dirs = more;
		if (asprintf(&dirs[n], "%s/%s", path, e->d_name) < 0)
			break;
		n++;
	}
	closedir(dp);
	if (n)
		qsort(dirs, (size_t)n, sizeof(*dirs), by_pid_start);
	*out = dirs;
	return n;
}

void
hist_dirs_free(char **dirs, int n)
{
	for (int i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

char *
hist_latest_report(const char *log_dir, const char *dir)
{
	const char *base = strrchr(dir, '/');
	char path[1200], prefix[64], best[256] = "";
	DIR *dp;
	struct dirent *e;
	FILE *f;
	char *text = NULL;
	size_t len = 0;

	base = base ? base + 1 : dir;
	snprintf(prefix, sizeof(prefix), "%s-", base);
	snprintf(path, sizeof(path), "%s/reports", log_dir);
	dp = opendir(path);
	if (!dp)
		return NULL;
	while ((e = readdir(dp))) {
		size_t nl = strlen(e->d_name);

		if (strncmp(e->d_name, prefix, strlen(prefix)) || nl < 5 ||
		    strcmp(e->d_name + nl - 5, ".json") || nl >= sizeof(best))
			continue;
		if (!best[0] || strverscmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(dp);
	if (!best[0])
		return NULL;
	snprintf(path, sizeof(path), "%s/reports/%s", log_dir, best);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	{
		FILE *m = open_memstream(&text, &len);
		char buf[65536];
		size_t got;

		while (m && (got = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, got, m);
		if (m && fclose(m)) {
			free(text);
			text = NULL;
		}
	}
	fclose(f);
	return text;
}

const char *
hist_state_title(enum hist_state s)
{
	switch (s) {
	case HS_LEAK:
		return "LEAK";
	case HS_RETENTION:
		return "RETENTION";
	case HS_GROWING:
		return "GROWING";
	case HS_PLATEAU:
		return "STOPPED GROWING";
	default:
		return "";
	}
}

int
hist_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

const char *
sparkline(const double *v, unsigned n, unsigned width, int utf8, char *buf,
	  size_t len)
{
	static const char *const blocks[] = {"\u2581", "\u2582", "\u2583",
					     "\u2584", "\u2585", "\u2586",
					     "\u2587", "\u2588"};
	static const char ascii[] = "_.-'^";
	double pts[256], lo = INFINITY, hi = -INFINITY;
	unsigned m = 0, levels = utf8 ? 8 : 5;
	size_t o = 0;
	unsigned have = 0;

	buf[0] = '\0';
	if (width > sizeof(pts) / sizeof(pts[0]))
		width = sizeof(pts) / sizeof(pts[0]);
	for (unsigned i = 0; i < n; i++)
		have += !isnan(v[i]);
	if (!have || !width)
		return buf;
	/* buckets of consecutive samples, each the mean of its values */
	for (unsigned b = 0, per = (have + width - 1) / width, i = 0; b < width;
	     b++) {
		double sum = 0;
		unsigned k = 0;

		for (; i < n && k < per; i++)
			if (!isnan(v[i])) {
				sum += v[i];
				k++;
			}
		if (!k)
			break;
		pts[m++] = sum / k;
	}
	for (unsigned i = 0; i < m; i++) {
		lo = pts[i] < lo ? pts[i] : lo;
		hi = pts[i] > hi ? pts[i] : hi;
	}
	for (unsigned i = 0; i < m; i++) {
		unsigned l = hi > lo ? (unsigned)((pts[i] - lo) / (hi - lo) *
							  (levels - 1) +
						  0.5)
				     : 0;
		const char *s = utf8 ? blocks[l] : (char[]){ascii[l], 0};
		size_t sl = strlen(s);

		if (o + sl + 1 > len)
			break;
		memcpy(buf + o, s, sl);
		o += sl;
		buf[o] = '\0';
	}
	return buf;
}

void
report_sparkline(FILE *f, const struct check_doc *d,
		 const struct la_location *loc, int retention)
{
	struct hist h;
	const struct hist_series *sr;
	const double *v;
	char line[1100], b1[32], b2[32];
	double first = NAN, last = NAN;
	unsigned have = 0;

	if (!d || !d->state_dir || hist_load(d->state_dir, &h))
		return;
	sr = hist_find(&h, loc->key);
	if (sr) {
		v = retention ? sr->free_b : sr->in_use;
		for (unsigned i = 0; i < h.n; i++) {
			if (isnan(v[i]))
				continue;
			if (!have++)
				first = v[i];
			last = v[i];
		}
	}
	if (sr && have >= 2)
		fprintf(f, "    history: %s %s -> %s %s in %u samples\n",
			sparkline(v, h.n, 40, hist_utf8(), line, sizeof(line)),
			human_bytes((uint64_t)first, b1, sizeof(b1)),
			human_bytes((uint64_t)last, b2, sizeof(b2)),
			retention ? "free" : "in use", have);
	hist_free(&h);
}
