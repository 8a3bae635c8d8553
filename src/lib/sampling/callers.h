/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers.h - what the callers window offers inside the library beyond
 * the la_callers_* functions (callers.c): the arithmetic of chance
 * (callers_chance.c, pure, for the unit tests), and a window written to
 * and read from a file (callers_file.c, for store.c).
 */
#ifndef LA_CALLERS_H
#define LA_CALLERS_H

#include <stdio.h>
#include <sys/types.h>

#include "leakattach.h"

/*
 * callers_beyond_chance - a of a caller's chunks were live at the end of
 * the window and s of them are in use at the check, when a freed address
 * is back in use by then with probability p (the control group's rate).
 * Returns 1 when chance alone gives s or more with a probability under
 * 1/1000 (the exact binomial tail) and s exceeds p * a by a chunk, with
 * *own the caller's own survivors, (s - p a) / (1 - p), at most s; else 0
 * with *own 0. With p 0 every survivor is the caller's own.
 */
int callers_beyond_chance(unsigned a, unsigned s, double p, double *own);

/*
 * callers_write - c, a window not yet checked, to f, for the next
 * invocation (store.c makes the file). callers_read - a window written by
 * callers_write() for process pid, checked field by field, its frames
 * named again from the target's modules, its probes made: ready for a
 * snapshot and la_callers_check(). Fail with -EIO, -LA_EBADSTATE (not a
 * window of this build, of another process, damaged: la_errmsg() says
 * which), -ESRCH, -ENOMEM.
 */
int callers_write(const struct la_callers *c, FILE *f);
int callers_read(FILE *f, pid_t pid, struct la_callers **out);

#endif
