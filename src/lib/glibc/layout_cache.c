/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* layout_cache.c - see layout_cache.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "layout cache: "
#include "base/checksum.h"
#include "base/log.h"
#include "glibc/layout_cache.h"
#include "glibc/malloc_code.h"
#include "glibc/malloc_layout.h"

/* Bump when struct malloc_layout or struct malloc_code change meaning. */
#define CACHE_MAGIC "LALAYT02"

struct header {
	char magic[8];
	uint32_t layout_size, code_size;
	uint32_t idlen;
	unsigned char id[64];
	uint64_t sum; /* of the layout and the code, as stored */
};

/* FNV-1a of a then b: a damaged entry must not pass for a layout. */
static uint64_t
checksum(const void *a, size_t alen, const void *b, size_t blen)
{
	return fnv1a(fnv1a(FNV_INIT, a, alen), b, blen);
}

static int
entry_path(const char *dir, const unsigned char *id, size_t idlen, char *buf,
	   size_t len)
{
	int n;

	if (!dir || !*dir || !idlen || idlen > 64)
		return -ENOENT;
	n = snprintf(buf, len, "%s/layout-", dir);
	for (size_t i = 0; i < idlen && n < (int)len - 3; i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", id[i]);
	return n < (int)len - 1 ? 0 : -ENAMETOOLONG;
}

/* Target addresses <-> offsets from the load bias. */
static void
rebase(struct malloc_layout *l, struct malloc_code *mc, int64_t delta)
{
	l->main_arena_addr += (uint64_t)delta;
	l->mp_addr += (uint64_t)delta;
	if (l->tcache_got_addr)
		l->tcache_got_addr += (uint64_t)delta;
	for (unsigned i = 0; i < l->n_tls_got_cand && i < 32; i++)
		l->tls_got_cand[i] += (uint64_t)delta;
	l->bias += (uint64_t)delta;
	for (unsigned i = 0; i < mc->n && i < MALLOC_CODE_MAX; i++) {
		mc->lo[i] += (uint64_t)delta;
		mc->hi[i] += (uint64_t)delta;
	}
}

int
layout_cache_load(const char *dir, const unsigned char *id, size_t idlen,
		  uint64_t bias, struct malloc_layout *l,
		  struct malloc_code *mc)
{
	char path[1024];
	struct header h;
	struct malloc_layout nl;
	struct malloc_code nc;
	FILE *f;
	int ok;

	if (entry_path(dir, id, idlen, path, sizeof(path)))
		return -ENOENT;
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	ok = fread(&h, sizeof(h), 1, f) == 1 &&
	     !memcmp(h.magic, CACHE_MAGIC, 8) && h.layout_size == sizeof(nl) &&
	     h.code_size == sizeof(nc) && h.idlen == idlen &&
	     !memcmp(h.id, id, idlen) && fread(&nl, sizeof(nl), 1, f) == 1 &&
	     fread(&nc, sizeof(nc), 1, f) == 1 &&
	     h.sum == checksum(&nl, sizeof(nl), &nc, sizeof(nc)) &&
	     nl.bias == 0 && nc.n <= MALLOC_CODE_MAX &&
	     nl.n_tls_got_cand <= 32 && nl.source == LA_LAYOUT_DWARF;
	fclose(f);
	if (!ok) {
		pr_debug("%s: not a usable entry, ignored", path);
		return -ENOENT;
	}
	nl.glibc_version[sizeof(nl.glibc_version) - 1] = '\0';
	rebase(&nl, &nc, (int64_t)bias);
	*l = nl;
	*mc = nc;
	pr_debug("using %s", path);
	return 0;
}

int
layout_cache_save(const char *dir, const unsigned char *id, size_t idlen,
		  uint64_t bias, const struct malloc_layout *l,
		  const struct malloc_code *mc)
{
	char path[1024], tmp[1100];
	struct header h;
	struct malloc_layout nl = *l;
	struct malloc_code nc = *mc;
	int fd, err = 0;

	if (entry_path(dir, id, idlen, path, sizeof(path)))
		return -ENOENT;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CACHE_MAGIC, 8);
	h.layout_size = sizeof(nl);
	h.code_size = sizeof(nc);
	h.idlen = (uint32_t)idlen;
	memcpy(h.id, id, idlen);
	/* What was learned at run time is not part of the layout. */
	nl.safe_linking = -1;
	rebase(&nl, &nc, -(int64_t)bias);
	h.sum = checksum(&nl, sizeof(nl), &nc, sizeof(nc));
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, &nl, sizeof(nl)) != (ssize_t)sizeof(nl) ||
	    write(fd, &nc, sizeof(nc)) != (ssize_t)sizeof(nc) || fsync(fd))
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	else
		pr_debug("saved %s", path);
	return err;
}
