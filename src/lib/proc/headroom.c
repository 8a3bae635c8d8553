/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * headroom.c - see headroom.h. cgroup v2 (the kernel's
 * Documentation/admin-guide/cgroup-v2.rst): memory.max ("max" or bytes)
 * and memory.current; v1 (its memory controller's document, in
 * admin-guide's cgroup-v1 folder): memory.limit_in_bytes (no limit reads as
 * PAGE_COUNTER_MAX pages, a value near 2^63) and memory.usage_in_bytes.
 * A limit applies to a cgroup and everything below it, so the nearest
 * over the target's cgroup and its ancestors counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/headroom.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

int
headroom_meminfo(const char *text, uint64_t *bytes)
{
	const char *p = strstr(text, "MemAvailable:");
	unsigned long long kb;

	if (!p || (p != text && p[-1] != '\n') ||
	    sscanf(p + 13, " %llu kB", &kb) != 1)
		return -ENOENT;
	*bytes = (uint64_t)kb * 1024;
	return 0;
}

/* Is "memory" one of the comma-separated controllers of [c, c + n)? */
static int
has_memory(const char *c, size_t n)
{
	while (n) {
		const char *comma = memchr(c, ',', n);
		size_t k = comma ? (size_t)(comma - c) : n;

		if (k == 6 && !strncmp(c, "memory", 6))
			return 1;
		if (!comma)
			break;
		n -= k + 1;
		c = comma + 1;
	}
	return 0;
}

/* The line after the one at line, or NULL. */
static const char *
next_line(const char *line)
{
	const char *nl = strchr(line, '\n');

	return nl ? nl + 1 : NULL;
}

int
headroom_cgroup_path(const char *text, char *path, size_t len, int *v1)
{
	const char *line = text;
	int found = -ENOENT;

	/* "ID:CONTROLLERS:PATH" lines; v1's memory controller wins (a
	 * hybrid system keeps memory in v1), else v2's "0::PATH" */
	for (; line && *line; line = next_line(line)) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', n), *c2, *p;
		size_t plen;
		int mem;

		if (!c1)
			continue;
		c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line));
		if (!c2)
			continue;
		p = c2 + 1;
		plen = n - (size_t)(p - line);
		mem = has_memory(c1 + 1, (size_t)(c2 - c1 - 1));
		if (plen >= len || (!mem && !(c2 == c1 + 1 && c1 == line + 1 &&
					      line[0] == '0')))
			continue;
		memcpy(path, p, plen);
		path[plen] = '\0';
		*v1 = mem;
		found = 0;
		if (mem)
			return 0;
	}
	return found;
}

int
headroom_limit_value(const char *text, uint64_t *bytes)
{
	unsigned long long v;
	char *end;

	if (!strncmp(text, "max", 3)) {
		*bytes = UINT64_MAX;
		return 0;
	}
	errno = 0;
	v = strtoull(text, &end, 10);
	if (end == text || errno || (*end && *end != '\n'))
		return -EINVAL;
	/* v1's "no limit": PAGE_COUNTER_MAX pages (LONG_MAX rounded down) */
	*bytes = v >= (1ull << 62) ? UINT64_MAX : (uint64_t)v;
	return 0;
}

/* A small file's first line. 0 or -errno. */
static int
read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* The nearest limit over path and its ancestors, and usage there. */
static void
cgroup_nearest(const char *path, int v1, struct la_headroom *h)
{
	const char *limit = v1 ? "memory.limit_in_bytes" : "memory.max";
	const char *usage = v1 ? "memory.usage_in_bytes" : "memory.current";
	char dir[1100], file[1200], buf[64];
	uint64_t best = UINT64_MAX;

	snprintf(dir, sizeof(dir), "%s%s%s", CGROUP_ROOT, v1 ? "/memory" : "",
		 path);
	for (;;) {
		uint64_t lim, used;
		char *slash;

		snprintf(file, sizeof(file), "%s/%s", dir, limit);
		if (!read_small(file, buf, sizeof(buf)) &&
		    !headroom_limit_value(buf, &lim) && lim != UINT64_MAX) {
			snprintf(file, sizeof(file), "%s/%s", dir, usage);
			if (!read_small(file, buf, sizeof(buf)) &&
			    !headroom_limit_value(buf, &used) &&
			    used != UINT64_MAX) {
				uint64_t room = lim > used ? lim - used : 0;

				if (room < best) {
					best = room;
					h->cgroup_limit_bytes = lim;
					h->cgroup_used_bytes = used;
				}
			}
		}
		slash = strrchr(dir, '/');
		if (!slash ||
		    (size_t)(slash - dir) < strlen(CGROUP_ROOT) + (v1 ? 7 : 0))
			break;
		*slash = '\0';
	}
}

void
headroom_read(pid_t pid, struct la_headroom *h)
{
	char path[4096], buf[4096], cg[1024];
	uint64_t avail;
	int v1;

	memset(h, 0, sizeof(*h));
	h->cgroup_limit_bytes = UINT64_MAX;
	if (!read_small("/proc/meminfo", buf, sizeof(buf)) &&
	    !headroom_meminfo(buf, &avail))
		h->mem_available_bytes = avail;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!read_small(path, buf, sizeof(buf)) &&
	    !headroom_cgroup_path(buf, cg, sizeof(cg), &v1))
		cgroup_nearest(cg, v1, h);
	if (h->cgroup_limit_bytes != UINT64_MAX &&
	    (!h->mem_available_bytes ||
	     h->cgroup_limit_bytes - h->cgroup_used_bytes <
		     h->mem_available_bytes)) {
		h->kind = LA_HEADROOM_CGROUP;
		h->headroom_bytes =
			h->cgroup_limit_bytes > h->cgroup_used_bytes
				? h->cgroup_limit_bytes - h->cgroup_used_bytes
				: 0;
	} else if (h->mem_available_bytes) {
		h->kind = LA_HEADROOM_MEMAVAILABLE;
		h->headroom_bytes = h->mem_available_bytes;
	}
}
