/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * error.c - la_strerror() from the LA_ERRORS list, and the thread-local
 * sentence behind la_errmsg(). Printing is the caller's business.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static __thread char errmsg[512];

static const char *const domain_text[] = {
#define LA_ERROR_TEXT(name, text) [LA_E##name - LA_ERRNO_BASE] = text,
	LA_ERRORS(LA_ERROR_TEXT)
#undef LA_ERROR_TEXT
};

const char *
la_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err > LA_ERRNO_BASE && err < LA_ERRNO_END)
		return domain_text[err - LA_ERRNO_BASE];
	if (err == 0)
		return "success";
	return strerror(err);
}

const char *
la_errmsg(void)
{
	return errmsg;
}

int
la_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int
la_fail_default(int err)
{
	if (!errmsg[0])
		snprintf(errmsg, sizeof(errmsg), "%s", la_strerror(err));
	return err;
}

void
la_error_clear(void)
{
	errmsg[0] = '\0';
}
