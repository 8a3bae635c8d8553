/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - diagnostics through the caller's la_log_fn; silent by default.
 * Each file may define LOG_PREFIX before including this.
 */
#ifndef LA_LOG_H
#define LA_LOG_H

#include "leakattach.h"

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

void la_log(enum la_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(fmt, ...) la_log(LA_LOG_WARN, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) la_log(LA_LOG_INFO, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) la_log(LA_LOG_DEBUG, LOG_PREFIX fmt, ##__VA_ARGS__)

#endif
