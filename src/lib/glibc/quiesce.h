/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quiesce.h - with every thread stopped, tell whether the heap may be in
 * the middle of an update, and which threads to let run so that it
 * settles: threads whose PC is in malloc's code (certainly inside), or
 * whose stack holds a return address into it (perhaps inside, in a callee
 * such as mmap, memcpy or a futex wait), and whether an arena lock is
 * held. The threads found outside malloc stay stopped, so the set of
 * threads that still run shrinks round by round. Does not walk the heap.
 */
#ifndef LA_QUIESCE_H
#define LA_QUIESCE_H

#include <stdint.h>

struct malloc_code;
struct malloc_layout;
struct memsrc;
struct tracee_set;

struct quiesce_scan {
	unsigned inside; /* PC in malloc's code */
	unsigned maybe; /* a malloc return address on the stack */
	unsigned locks; /* arena mutexes held */
};

/*
 * Fill run[0..ts->n) with 1 for the threads to let run, and *out with the
 * counts. also (may be NULL): another allocator's code, whose threads
 * are inside or maybe inside in the same way (CPython's pymalloc). Returns 0 or -ESRCH.
 */
int quiesce_scan(const struct malloc_code *mc, const struct malloc_code *also,
		 const struct malloc_layout *l, struct memsrc *mem,
		 const struct tracee_set *ts, unsigned char *run,
		 struct quiesce_scan *out);

#endif
