/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers.h - the part of callers.c that is pure arithmetic, for the unit
 * tests: whether a caller's surviving chunks are more than the reuse of
 * freed addresses would give by chance.
 */
#ifndef LA_CALLERS_H
#define LA_CALLERS_H

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

#endif
