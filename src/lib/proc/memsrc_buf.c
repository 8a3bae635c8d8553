/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsrc_buf.c - a memory source over caller-owned buffers, so unit tests
 * can walk synthetic heaps with no process at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"

struct region {
	uint64_t addr;
	const unsigned char *buf;
	size_t len;
};

struct buf_src {
	struct memsrc src;
	struct region *r;
	size_t n;
};

static ssize_t
buf_read(void *priv, uint64_t addr, void *buf, size_t len)
{
	struct buf_src *bs = priv;

	for (size_t i = 0; i < bs->n; i++) {
		const struct region *r = &bs->r[i];

		if (addr >= r->addr && addr - r->addr < r->len) {
			size_t off = (size_t)(addr - r->addr);
			size_t n = r->len - off < len ? r->len - off : len;

			memcpy(buf, r->buf + off, n);
			return (ssize_t)n;
		}
	}
	return -EFAULT;
}

static void
buf_close(void *priv)
{
	struct buf_src *bs = priv;

	free(bs->r);
}

static const struct memsrc_ops buf_ops = {
	.read = buf_read,
	.close = buf_close,
};

int
memsrc_buf_new(struct memsrc **out)
{
	struct buf_src *bs = calloc(1, sizeof(*bs));
	int err;

	if (!bs)
		return -ENOMEM;
	err = memsrc_init(&bs->src, &buf_ops, bs);
	if (err) {
		free(bs);
		return err;
	}
	*out = &bs->src;
	return 0;
}

int
memsrc_buf_add(struct memsrc *src, uint64_t addr, const void *buf, size_t len)
{
	struct buf_src *bs = src->priv;
	struct region *nr = realloc(bs->r, (bs->n + 1) * sizeof(*nr));

	if (!nr)
		return -ENOMEM;
	bs->r = nr;
	bs->r[bs->n++] = (struct region){addr, buf, len};
	return 0;
}
