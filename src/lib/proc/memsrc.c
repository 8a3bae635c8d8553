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
