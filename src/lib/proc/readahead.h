/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * readahead.h - a forward scan of target memory in large windows, with
 * the next window read by a helper thread while the caller parses the
 * current one. The heap walk (glibc_heap.c) costs about a copy of the heap
 * plus the parsing of its chunk headers; reading and parsing at once
 * leaves about the copy.
 *
 * A scan is [begin, end): the caller asks for small ranges at rising
 * addresses (readahead_get), each served from the window that holds it.
 * A range that no window read ahead holds (the first, one after a jump
 * over more than a window, one whose read ahead failed) is read at once
 * by the caller, exactly as a plain read would be: the same bytes, the
 * same errors. The read-ahead only decides which reads are already done.
 *
 * The memory source belongs to the scan between readahead_begin() and
 * readahead_end(): the helper thread reads through it, so the caller must
 * not (its page cache and byte count are not locked). After
 * readahead_end() no read is in flight. The thread is started on the
 * first scan longer than one window, blocks every signal, and is joined by
 * readahead_free(); it never outlives the readahead.
 *
 * Reading ahead pays only with a CPU to spare: the two threads then work
 * at once. With none (every CPU busy, or only one allowed), the two would
 * share the caller's CPU and be slower than the caller alone, so a scan
 * then reads ahead nothing unless READAHEAD_ALWAYS.
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
