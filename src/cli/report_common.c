/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_common.c - what both report formats share: units, class order,
 * the kinds of memory outside malloc.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *
rule_name(const struct la_rules *r)
{
	if (r->trend_alpha > 0)
		return "trend";
	return r->noise_k > 0 ? "noise" : "fixed";
}

const char *
location_kind_name(enum la_location_kind k)
{
	static const char *const names[] = {
		[LA_LOC_HEAP] = "heap",
		[LA_LOC_ARENA] = "arena",
		[LA_LOC_SIZE_CLASS] = "size_class",
		[LA_LOC_ARENA_SIZE_CLASS] = "arena_size_class",
		[LA_LOC_OUTSIDE] = "outside_malloc",
		[LA_LOC_PYTHON_TYPE] = "python_type",
	};

	if ((unsigned)k < sizeof(names) / sizeof(names[0]) && names[k])
		return names[k];
	return "unknown";
}

const char *
human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	unsigned u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

const char *
signed_bytes(uint64_t now, uint64_t then, char *buf, size_t len)
{
	char b[32];

	snprintf(buf, len, "%c%s", now >= then ? '+' : '-',
		 human_bytes(now >= then ? now - then : then - now, b,
			     sizeof(b)));
	return buf;
}

const char *
human_count(uint64_t v, char *buf, size_t len)
{
	char digits[24], *o = buf;
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);

	if (len < (size_t)n + (size_t)(n - 1) / 3 + 1) {
		snprintf(buf, len, "%s", digits);
		return buf;
	}
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			*o++ = ',';
		*o++ = digits[i];
	}
	*o = '\0';
	return buf;
}

const char *
human_duration(double s, char *buf, size_t len)
{
	unsigned long long t = (unsigned long long)(s + 0.5);

	if (s < 10)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 60)
		snprintf(buf, len, "%llus", t);
	else if (t < 3600)
		snprintf(buf, len, "%llum%02llus", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lluh%02llum", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", t / 86400, t % 86400 / 3600);
	return buf;
}

static int
by_in_use_desc(const void *a, const void *b)
{
	const struct la_size_class *x = a, *y = b;

	if (x->counts.in_use_bytes != y->counts.in_use_bytes)
		return x->counts.in_use_bytes < y->counts.in_use_bytes ? 1 : -1;
	return x->chunk_size_min < y->chunk_size_min ? -1 : 1;
}

unsigned
report_classes(const struct la_snapshot *snap, unsigned top,
	       struct la_size_class **out)
{
	unsigned n = la_snapshot_size_class_count(snap), got = 0;
	struct la_size_class *v = calloc(n ? n : 1, sizeof(*v));

	*out = v;
	if (!v)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (!la_snapshot_size_class(snap, i, &v[got], sizeof(v[got])))
			got++;
	if (top) {
		qsort(v, got, sizeof(*v), by_in_use_desc);
		if (got > top)
			got = top;
	}
	return got;
}

int
outside_shown(enum la_outside_kind k, const struct la_outside *o)
{
	/*
	 * Python's arenas are there only in a CPython process: in any other
	 * the row would be zeros, and its reports stay as they were.
	 */
	return k != LA_OUTSIDE_PYTHON_ARENAS || o->rss_bytes || o->size_bytes ||
	       o->mappings;
}

int
outside_next(const struct la_snapshot *snap, unsigned *k, struct la_outside *o)
{
	for (; *k < LA_OUTSIDE_KIND_COUNT; (*k)++) {
		enum la_outside_kind kind = (enum la_outside_kind) * k;

		if (!la_snapshot_outside(snap, kind, o, sizeof(*o)) &&
		    outside_shown(kind, o))
			return 1;
	}
	return 0;
}

const char *
outside_text(enum la_outside_kind k)
{
	switch (k) {
	case LA_OUTSIDE_THREAD_STACKS:
		return "thread stacks";
	case LA_OUTSIDE_PYTHON_ARENAS:
		return "Python arenas";
	case LA_OUTSIDE_ANONYMOUS:
		return "anonymous memory outside malloc";
	case LA_OUTSIDE_FILE:
		return "file-backed memory";
	case LA_OUTSIDE_SHARED:
		return "shared memory";
	case LA_OUTSIDE_KIND_COUNT:
		break;
	}
	return "memory outside malloc";
}

void
mem_mark_set(struct mem_mark *mk, const struct la_snapshot *snap)
{
	memset(mk, 0, sizeof(*mk));
	la_snapshot_memory(snap, &mk->m, sizeof(mk->m));
	if (!mk->m.measured)
		return;
	for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++)
		if (la_snapshot_outside(snap, (enum la_outside_kind)k,
					&mk->o[k], sizeof(mk->o[k])))
			return;
	mk->have = 1;
}

const char *
python_version_text(const struct la_python *py, char *buf, size_t len)
{
	/*
	 * PY_VERSION_HEX (CPython's Include/patchlevel.h): major, minor and
	 * micro in the top three bytes, then the release level (0xA alpha,
	 * 0xB beta, 0xC candidate, 0xF final) and serial in the last one;
	 * written as sys.version writes it, "3.13.0rc1".
	 */
	uint32_t h = py->version_hex;
	unsigned level = (h >> 4) & 0xf, serial = h & 0xf;

	if (!h || (h >> 24) != py->major || ((h >> 16) & 0xff) != py->minor) {
		snprintf(buf, len, "%u.%u", py->major, py->minor);
		return buf;
	}
	if (level >= 0xa && level <= 0xc)
		snprintf(buf, len, "%u.%u.%u%s%u", py->major, py->minor,
			 (h >> 8) & 0xff,
			 level == 0xa	? "a"
			 : level == 0xb ? "b"
					: "rc",
			 serial);
	else
		snprintf(buf, len, "%u.%u.%u", py->major, py->minor,
			 (h >> 8) & 0xff);
	return buf;
}

const char *
python_type_of(const struct la_location *loc)
{
	static const char prefix[] = "python:";

	if (!strncmp(loc->key, prefix, sizeof(prefix) - 1))
		return loc->key + sizeof(prefix) - 1;
	return loc->key;
}
