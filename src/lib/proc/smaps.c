/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smaps.c - parse /proc/PID/smaps, count present pages in /proc/PID/pagemap
 * (smaps.h). Each mapping is a maps line (procmaps_parse_line()) followed
 * by "Key: value kB" lines and a "VmFlags:" line (fs/proc/task_mmu.c
 * show_smap(), __show_smap()). Only the fields memory.c needs are kept;
 * unknown keys are skipped, so newer kernels' fields do no harm.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/procmaps.h"
#include "proc/smaps.h"

/* A header starts with the start address in lower-case hex. */
static int
is_header(const char *line)
{
	const char *dash = strchr(line, '-'), *space = strchr(line, ' ');

	return ((line[0] >= '0' && line[0] <= '9') ||
		(line[0] >= 'a' && line[0] <= 'f')) &&
	       dash && space && dash < space;
}

/* "Rss:                 128 kB": the value in bytes. */
static int
field_kb(const char *line, size_t keylen, uint64_t *out)
{
	const char *p = line + keylen;
	char *end;
	unsigned long long v;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || strncmp(end, " kB", 3) || v > UINT64_MAX / 1024)
		return -EINVAL;
	*out = (uint64_t)v * 1024;
	return 0;
}

static const struct {
	const char *key;
	size_t off;
} fields[] = {
	{"Size:", offsetof(struct smaps_entry, size)},
	{"Rss:", offsetof(struct smaps_entry, rss)},
	{"Shared_Clean:", offsetof(struct smaps_entry, shared_clean)},
	{"Shared_Dirty:", offsetof(struct smaps_entry, shared_dirty)},
	{"Anonymous:", offsetof(struct smaps_entry, anonymous)},
};

enum { SEEN_RSS = 1 << 1 };

static int
parse_field(const char *line, struct smaps_entry *e, unsigned *seen)
{
	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t n = strlen(fields[i].key);

		if (strncmp(line, fields[i].key, n))
			continue;
		*seen |= 1u << i;
		return field_kb(line, n,
				(uint64_t *)((char *)e + fields[i].off));
	}
	return 0; /* a field we do not keep */
}

static int
push(struct smaps *out, size_t *alloc, const struct mapping *m)
{
	struct smaps_entry *e;

	if (out->len == *alloc) {
		size_t n = *alloc ? *alloc * 2 : 64;
		struct smaps_entry *nv = realloc(out->v, n * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		out->v = nv;
		*alloc = n;
	}
	e = &out->v[out->len++];
	memset(e, 0, sizeof(*e));
	e->start = m->start;
	e->end = m->end;
	e->prot = m->prot;
	e->inode = m->inode;
	e->path = m->path;
	return 0;
}

int
smaps_parse(FILE *f, struct smaps *out)
{
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	unsigned seen = SEEN_RSS;
	int err = 0;

	memset(out, 0, sizeof(*out));
	while (!err && getline(&line, &cap, f) > 0) {
		struct mapping m;

		if (!is_header(line)) {
			err = out->len
				      ? parse_field(line, &out->v[out->len - 1],
						    &seen)
				      : -EINVAL;
			continue;
		}
		if (!(seen & SEEN_RSS)) { /* the previous mapping had none */
			err = -EINVAL;
			break;
		}
		memset(&m, 0, sizeof(m));
		err = procmaps_parse_line(line, &m);
		if (!err) {
			err = push(out, &alloc, &m);
			if (err)
				free(m.path);
		}
		seen = 0;
	}
	if (!err && !(seen & SEEN_RSS))
		err = -EINVAL;
	free(line);
	if (err)
		smaps_free(out);
	return err;
}

int
smaps_read(pid_t pid, struct smaps *out)
{
	char path[64];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	err = smaps_parse(f, out);
	if (!err && ferror(f)) {
		smaps_free(out);
		err = -EIO;
	}
	fclose(f);
	return err;
}

void
smaps_free(struct smaps *sm)
{
	for (size_t i = 0; i < sm->len; i++)
		free(sm->v[i].path);
	free(sm->v);
	memset(sm, 0, sizeof(*sm));
}

#define PM_PRESENT (1ull << 63)
#define PM_BATCH 512 /* entries per pread: 4 KiB */

int
smaps_present_bytes(pid_t pid, uint64_t lo, uint64_t hi, uint64_t *bytes)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t page = psz > 0 ? (uint64_t)psz : 4096, buf[PM_BATCH], n = 0;
	char path[64];
	int fd, err = 0;

	*bytes = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	for (uint64_t p = lo / page; p < hi / page && !err;) {
		uint64_t want = hi / page - p;
		ssize_t got;

		if (want > PM_BATCH)
			want = PM_BATCH;
		got = pread(fd, buf, want * 8, (off_t)(p * 8));
		if (got <= 0) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		for (ssize_t i = 0; i < got / 8; i++)
			n += !!(buf[i] & PM_PRESENT);
		p += (uint64_t)got / 8;
	}
	close(fd);
	if (!err)
		*bytes = n * page;
	return err;
}
