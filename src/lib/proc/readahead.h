/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * readahead.h - a forward scan of target memory in large windows, the next
 * window read by a helper thread while the caller parses the current one
 * (doc/design/glibc-heap.md, "Reading ahead"). The caller asks for small
 * ranges at rising addresses (readahead_get); any range is served with the
 * same bytes and errors as a plain read. Between readahead_begin() and
 * readahead_end() the memory source belongs to the scan (the caller must
 * not read through it); after readahead_end() no read is in flight, and
 * readahead_free() joins the thread. With no CPU to spare, nothing is read
 * ahead unless READAHEAD_ALWAYS.
 */
#ifndef LA_READAHEAD_H
#define LA_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

struct memsrc;
struct readahead;

/*
 * The largest readahead_get() that two windows read ahead never split:
 * consecutive windows overlap by this much.
 */
#define READAHEAD_OVERLAP 32u

#define READAHEAD_ALWAYS 1u /* read ahead whether a CPU is free or not */

/* window: bytes per read, more than 2 * READAHEAD_OVERLAP. */
int readahead_new(struct memsrc *mem, size_t window, unsigned flags,
		  struct readahead **out);
void readahead_free(struct readahead *ra);

/*
 * A scan that reads nothing at or after hi; the helper reads ahead only
 * below ahead_hi (<= hi), where the caller knows its scan will stop.
 */
void readahead_begin(struct readahead *ra, uint64_t hi, uint64_t ahead_hi);
/*
 * n bytes at addr, valid until the next call on ra; addr never below that
 * of the previous call of the scan. NULL with *err = -EFAULT when
 * [addr, addr + n) is not below hi or cannot be read, -ESRCH when the
 * process is gone.
 */
const unsigned char *readahead_get(struct readahead *ra, uint64_t addr,
				   size_t n, int *err);
void readahead_end(struct readahead *ra);

/* Whether a helper thread was started (for tests). */
int readahead_threaded(const struct readahead *ra);

#endif
