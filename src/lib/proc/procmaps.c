/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procmaps.c - parse /proc/PID/maps into a mapping table. Knows the text
 * format and nothing about what the mappings hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "proc/procmaps.h"

int
procmaps_parse_line(const char *line, struct mapping *m)
{
	/*
	 * 7f2c8a400000-7f2c8a428000 r--p 00000000 fe:01 1315030    /usr/lib/x86_64-linux-gnu/libc.so.6
	 * 55d0c1a2e000-55d0c1a4f000 rw-p 00000000 00:00 0          [heap]
	 * 7f2c8a3fe000-7f2c8a400000 rw-p 00000000 00:00 0
	 * 7f2c8a200000-7f2c8a228000 r--p 00000000 fe:01 1315999    /tmp/libc.so.6 (deleted)
	 */
	char perms[5];
	int pos = 0;
	const char *path;
	size_t n;

	if (sscanf(line,
		   "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64
		   " %n",
		   &m->start, &m->end, perms, &m->offset, &m->dev_major,
		   &m->dev_minor, &m->inode, &pos) < 7 ||
	    pos <= 0)
		return -EINVAL;
	if (m->end < m->start || strlen(perms) != 4)
		return -EINVAL;
	m->prot = (perms[0] == 'r' ? MAP_R : 0) |
		  (perms[1] == 'w' ? MAP_W : 0) |
		  (perms[2] == 'x' ? MAP_X : 0) |
		  (perms[3] == 's' ? MAP_SHARED_ : 0);
	path = line + pos;
	n = strlen(path);
	while (n && (path[n - 1] == '\n' || path[n - 1] == ' '))
		n--;
	/* The kernel appends " (deleted)" to unlinked files (d_path()). */
	if (path[0] == '/' && n > 10 &&
	    !memcmp(path + n - 10, " (deleted)", 10)) {
		m->deleted = 1;
		n -= 10;
	}
	m->path = strndup(path, n);
	return m->path ? 0 : -ENOMEM;
}

int
procmaps_parse(FILE *f, struct maps *out)
{
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	while (getline(&line, &cap, f) > 0) {
		struct mapping m;

		if (out->len == alloc) {
			size_t nalloc = alloc ? alloc * 2 : 64;
			struct mapping *nv =
				realloc(out->v, nalloc * sizeof(*nv));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			out->v = nv;
			alloc = nalloc;
		}
		memset(&m, 0, sizeof(m));
		err = procmaps_parse_line(line, &m);
		if (err)
			break;
		out->v[out->len++] = m;
	}
	free(line);
	if (err)
		procmaps_free(out);
	return err;
}

int
procmaps_read(pid_t pid, struct maps *out)
{
	char path[64];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = procmaps_parse(f, out);
	fclose(f);
	return err;
}

void
procmaps_free(struct maps *maps)
{
	for (size_t i = 0; i < maps->len; i++)
		free(maps->v[i].path);
	free(maps->v);
	memset(maps, 0, sizeof(*maps));
}

const struct mapping *
procmaps_find(const struct maps *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps->len;

	/* The kernel lists mappings in address order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mapping *m = &maps->v[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

int
mapping_is_anon(const struct mapping *m)
{
	if (!m->path[0])
		return 1;
	if (!strcmp(m->path, "[heap]") || !strncmp(m->path, "[anon:", 6))
		return 1;
	return 0;
}

const char *
mapping_basename(const struct mapping *m)
{
	const char *slash = strrchr(m->path, '/');

	if (m->path[0] != '/')
		return "";
	return slash ? slash + 1 : m->path;
}

static int
range_by_lo(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Add [lo, hi) of m to out (room was made for it). */
static void
keep_part(struct maps *out, const struct mapping *m, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return;
	out->v[out->len] = *m;
	out->v[out->len].start = lo;
	out->v[out->len++].end = hi;
}

#define RANGE_PAGE arch_page_size()

int
addr_ranges_merge(const struct addr_range *r, unsigned n,
		  struct addr_range **out, unsigned *merged)
{
	struct addr_range *s = malloc((n ? n : 1) * sizeof(*s));
	unsigned k = 0;

	*out = s;
	*merged = 0;
	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		uint64_t lo = r[i].lo & ~(RANGE_PAGE - 1);
		uint64_t hi = r[i].hi > UINT64_MAX - RANGE_PAGE
				      ? UINT64_MAX & ~(RANGE_PAGE - 1)
				      : (r[i].hi + RANGE_PAGE - 1) &
						~(RANGE_PAGE - 1);

		if (hi > lo)
			s[k++] = (struct addr_range){lo, hi};
	}
	qsort(s, k, sizeof(*s), range_by_lo);
	for (unsigned i = 0; i < k; i++) {
		if (*merged && s[i].lo <= s[*merged - 1].hi) {
			if (s[i].hi > s[*merged - 1].hi)
				s[*merged - 1].hi = s[i].hi;
			continue;
		}
		s[(*merged)++] = s[i];
	}
	return 0;
}

int
procmaps_cut(const struct maps *in, const struct addr_range *r, unsigned n,
	     int anon_only, struct maps *out)
{
	struct addr_range *s;
	unsigned k;

	out->len = 0;
	out->v = malloc((in->len + n + 1) * sizeof(*out->v));
	if (!out->v || addr_ranges_merge(r, n, &s, &n)) {
		free(out->v);
		out->v = NULL;
		return -ENOMEM;
	}
	/* maps are in address order: one pass over both */
	k = 0;
	for (size_t i = 0; i < in->len; i++) {
		const struct mapping *m = &in->v[i];
		uint64_t a = m->start;

		if (!mapping_is_anon(m)) {
			if (!anon_only)
				keep_part(out, m, m->start, m->end);
			continue;
		}
		while (k < n && s[k].hi <= m->start)
			k++;
		for (unsigned j = k; j < n && s[j].lo < m->end; j++) {
			keep_part(out, m, a, s[j].lo);
			if (s[j].hi > a)
				a = s[j].hi;
		}
		keep_part(out, m, a, m->end);
	}
	free(s);
	return 0;
}
