/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * error.h - the library's error channel: codes (negative errno or -LA_E*)
 * plus one thread-local sentence for la_errmsg(). Not for logging.
 */
#ifndef LA_ERROR_H
#define LA_ERROR_H

#include "leakattach.h"

/*
 * la_fail - record the sentence la_errmsg() will return and return err, so
 * that failure paths read "return la_fail(-EPERM, "...", ...);".
 */
int la_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* la_fail_default - record la_strerror(err) unless a sentence is set. */
int la_fail_default(int err);

/* Forget the previous sentence (at the start of each public call). */
void la_error_clear(void);

#endif
