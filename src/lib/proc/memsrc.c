/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsrc.c - what every memory source shares: exact reads on top of the
 * backend's partial reads, and the page cache for scattered reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"

int
memsrc_init(struct memsrc *src, const struct memsrc_ops *ops, void *priv)
{
	memset(src, 0, sizeof(*src));
	src->ops = ops;
	src->priv = priv;
	src->cache = malloc(MEMSRC_CACHE_PAGES * sizeof(*src->cache));
	return src->cache ? 0 : -ENOMEM;
}

int
memsrc_read(struct memsrc *src, uint64_t addr, void *buf, size_t len)
{
	unsigned char *p = buf;

	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		ssize_t n = src->ops->read(src->priv, addr, p, len);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EFAULT;
		src->bytes_read += (uint64_t)n;
		addr += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
cached_page(struct memsrc *src, uint64_t page, const unsigned char **out)
{
	unsigned slot = (unsigned)(page / MEMSRC_PAGE) % MEMSRC_CACHE_PAGES;
	int err;

	if (src->cache_tag[slot] != page + 1) {
		src->cache_tag[slot] = 0;
		err = memsrc_read(src, page, src->cache[slot], MEMSRC_PAGE);
		if (err)
			return err;
		src->cache_tag[slot] = page + 1;
	}
	*out = src->cache[slot];
	return 0;
}

int
memsrc_read_cached(struct memsrc *src, uint64_t addr, void *buf, size_t len)
{
	unsigned char *p = buf;

	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		uint64_t page = addr & ~(uint64_t)(MEMSRC_PAGE - 1);
		size_t off = (size_t)(addr - page);
		size_t n = MEMSRC_PAGE - off;
		const unsigned char *data;
		int err = cached_page(src, page, &data);

		if (err == -EFAULT) /* page-crossing edge of a mapping */
			return memsrc_read(src, addr, p, len);
		if (err)
			return err;
		if (n > len)
			n = len;
		memcpy(p, data + off, n);
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int
memsrc_u64(struct memsrc *src, uint64_t addr, uint64_t *out)
{
	return memsrc_read_cached(src, addr, out, sizeof(*out));
}

void
memsrc_invalidate(struct memsrc *src)
{
	memset(src->cache_tag, 0, sizeof(src->cache_tag));
}

void
memsrc_close(struct memsrc *src)
{
	if (!src)
		return;
	if (src->ops->close)
		src->ops->close(src->priv);
	free(src->cache);
	free(src);
}

static ssize_t
twin_read(void *priv, uint64_t addr, void *buf, size_t len)
{
	struct memsrc *src = priv;

	return src->ops->read(src->priv, addr, buf, len);
}

static const struct memsrc_ops twin_ops = {.read = twin_read};

int
memsrc_twin(struct memsrc *twin, struct memsrc *src)
{
	return memsrc_init(twin, &twin_ops, src);
}

void
memsrc_twin_release(struct memsrc *twin)
{
	struct memsrc *src = twin->priv;

	if (!twin->cache)
		return;
	src->bytes_read += twin->bytes_read;
	free(twin->cache);
	memset(twin, 0, sizeof(*twin));
}

int
memsrc_gather(struct memsrc *src, const uint64_t *addrs, unsigned n,
	      size_t each, void *buf, unsigned char *ok)
{
	unsigned char *b = buf;
	unsigned i = 0;

	while (i < n) {
		ssize_t got =
			src->ops->gather
				? src->ops->gather(src->priv, addrs + i, n - i,
						   each, b + (size_t)i * each)
				: 0;
		int err;

		if (got == -ESRCH)
			return -ESRCH;
		for (ssize_t k = 0; k < got; k++)
			ok[i + k] = 1;
		if (got > 0) {
			src->bytes_read += (uint64_t)got * each;
			i += (unsigned)got;
			continue;
		}
		/* the slice that stopped the batch, alone */
		err = memsrc_read(src, addrs[i], b + (size_t)i * each, each);
		if (err == -ESRCH)
			return err;
		ok[i++] = !err;
	}
	return 0;
}

void
memsrc_pages_used(struct memsrc *src, uint64_t lo, unsigned n,
		  unsigned char *used)
{
	if (!src->ops->pages_used ||
	    src->ops->pages_used(src->priv, lo, n, used))
		memset(used, 1, n);
}

/* Pages asked of the source at once by a sparse read (a 512 KiB window). */
#define SPARSE_PAGES 128u

/* All of [addr, addr + len) from src's reader, or its first error. */
static ssize_t
read_whole(struct memsrc *src, uint64_t addr, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = src->ops->read(src->priv, addr + got, buf + got,
					   len - got);

		if (n <= 0)
			return got ? (ssize_t)got : n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t
sparse_read(void *priv, uint64_t addr, void *buf, size_t len)
{
	struct memsrc *src = priv;
	unsigned char used[SPARSE_PAGES], *b = buf;
	uint64_t first = addr & ~(uint64_t)(MEMSRC_PAGE - 1);
	uint64_t end = addr + len;
	unsigned n;

	if (len <= MEMSRC_PAGE || !src->ops->pages_used)
		return src->ops->read(src->priv, addr, buf, len);
	n = (unsigned)((end - first + MEMSRC_PAGE - 1) / MEMSRC_PAGE);
	if (n > SPARSE_PAGES) {
		n = SPARSE_PAGES;
		end = first + (uint64_t)n * MEMSRC_PAGE;
	}
	if (src->ops->pages_used(src->priv, first, n, used))
		return src->ops->read(src->priv, addr, buf, len);
	for (unsigned i = 0; i < n;) {
		unsigned j = i;
		uint64_t lo, hi;
		ssize_t got;

		while (j < n && used[j] == used[i])
			j++;
		lo = first + (uint64_t)i * MEMSRC_PAGE;
		hi = first + (uint64_t)j * MEMSRC_PAGE;
		lo = lo < addr ? addr : lo;
		hi = hi > end ? end : hi;
		if (!used[i]) {
			memset(b + (lo - addr), 0, hi - lo);
		} else {
			got = read_whole(src, lo, b + (lo - addr), hi - lo);
			if (got < (ssize_t)(hi - lo))
				return lo > addr ? (ssize_t)(lo - addr) +
							   (got > 0 ? got : 0)
						 : got;
		}
		i = j;
	}
	return (ssize_t)(end - addr);
}

static const struct memsrc_ops sparse_ops = {.read = sparse_read};

void
memsrc_sparse(struct memsrc *out, struct memsrc *src)
{
	memset(out, 0, sizeof(*out));
	out->ops = &sparse_ops;
	out->priv = src;
}
