/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsrc.h - read-only view of target memory. The heap walker reads only
 * through this seam: a live process (memsrc_pid.c: process_vm_readv, then
 * /proc/PID/mem) or caller-owned buffers (memsrc_buf.c, for unit tests).
 *
 * Two ways to read: memsrc_read() for bulk windows (no copy kept), and
 * memsrc_read_cached() / memsrc_u64() for small scattered reads (free-list
 * links, headers), served from a small direct-mapped page cache that
 * memsrc_invalidate() empties whenever the target may have run.
 */
#ifndef LA_MEMSRC_H
#define LA_MEMSRC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct memsrc_ops {
	/*
	 * Read up to len bytes at addr into buf. Returns the number of bytes
	 * read (> 0; may be short at an unmapped page), -EFAULT when addr
	 * itself is unreadable, -ESRCH when the process is gone.
	 */
	ssize_t (*read)(void *priv, uint64_t addr, void *buf, size_t len);
	/*
	 * Optional: read `each` bytes at each of addrs[0..n) into buf (n
	 * slices, in order) in as few calls as it can. Returns how many
	 * leading slices were read whole (a read stops at the first that
	 * fails), or -ESRCH.
	 */
	ssize_t (*gather)(void *priv, const uint64_t *addrs, unsigned n,
			  size_t each, void *buf);
	/*
	 * Optional: used[i] = whether page lo + i * MEMSRC_PAGE holds data
	 * (present in memory or swapped out), for i < n. 0, or -errno when
	 * it cannot tell (then every page may hold data).
	 */
	int (*pages_used)(void *priv, uint64_t lo, unsigned n,
			  unsigned char *used);
	void (*close)(void *priv);
};

#define MEMSRC_PAGE 4096u
#define MEMSRC_CACHE_PAGES 64u

struct memsrc {
	const struct memsrc_ops *ops;
	void *priv;
	uint64_t bytes_read;
	uint64_t
		cache_tag[MEMSRC_CACHE_PAGES]; /* page address + 1; 0 = empty */
	unsigned char (*cache)[MEMSRC_PAGE];
};

/*
 * `each` bytes at each of addrs[0..n) into buf, n slices in order: ok[i]
 * says whether slice i was read. Batched where the source can (one
 * process_vm_readv for many pages), else one read per slice. Not cached.
 * 0 or -ESRCH.
 */
int memsrc_gather(struct memsrc *src, const uint64_t *addrs, unsigned n,
		  size_t each, void *buf, unsigned char *ok);

/*
 * Which of the n pages from lo (page-aligned) hold data: a page that was
 * never touched (or was dropped) holds zeros, and reading it would make
 * the kernel map a page of zeros into the target. Where the source cannot
 * tell, every page is said to hold data. Always succeeds.
 */
void memsrc_pages_used(struct memsrc *src, uint64_t lo, unsigned n,
		       unsigned char *used);

/* Exactly len bytes, or -EFAULT (part of the range unreadable) / -ESRCH. */
int memsrc_read(struct memsrc *src, uint64_t addr, void *buf, size_t len);
int memsrc_read_cached(struct memsrc *src, uint64_t addr, void *buf,
		       size_t len);
int memsrc_u64(struct memsrc *src, uint64_t addr, uint64_t *out);
void memsrc_invalidate(struct memsrc *src);
void memsrc_close(struct memsrc *src);

/* A live process. */
int memsrc_pid_open(pid_t pid, struct memsrc **out);

/*
 * Buffers: memsrc_buf_new() then memsrc_buf_add() for each region. The
 * buffers stay owned by the caller and must outlive the memsrc.
 */
int memsrc_buf_new(struct memsrc **out);
int memsrc_buf_add(struct memsrc *src, uint64_t addr, const void *buf,
		   size_t len);

/*
 * A second source on src's reader, with a cache of its own, for code that
 * runs while src is in use by another thread (the heap walk's read-ahead)
 * or must not disturb its cache. The readers (process_vm_readv, pread)
 * may be called from any thread at once. memsrc_twin_release() frees it
 * and adds what it read to src->bytes_read: call it when src is idle.
 * 0 or -ENOMEM.
 */
int memsrc_twin(struct memsrc *twin, struct memsrc *src);
void memsrc_twin_release(struct memsrc *twin);

/*
 * A source on src's reader for bulk reads of memory known to be mapped
 * (memsrc_read() only: no cache) that reads only the pages holding data
 * (memsrc_pages_used()) and gives zeros for the others, as the kernel
 * would, without faulting them in. The caller adds out->bytes_read to
 * src's when done.
 */
void memsrc_sparse(struct memsrc *out, struct memsrc *src);

/* For implementations. */
int memsrc_init(struct memsrc *src, const struct memsrc_ops *ops, void *priv);

#endif
