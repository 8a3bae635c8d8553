/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - hands formatted messages to the installed la_log_fn. */
#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"

static la_log_fn log_fn;

la_log_fn
la_set_log_fn(la_log_fn fn)
{
	la_log_fn old = log_fn;

	log_fn = fn;
	return old;
}

void
la_log(enum la_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg);
}
