/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target_report.h - what the glibc test targets that answer commands
 * share beyond target_io.h: die() with the target's name, printf-style
 * output without stdio streams (snprintf into a stack buffer, write(2)),
 * glibc's own mallinfo2() line (the oracle the tests compare with) and a
 * monotonic clock in ms. Define TARGET_NAME ("leaky") before including.
 * Header-only; glibc >= 2.33 (mallinfo2), so not for the targets built
 * against older glibcs or musl.
 */
#ifndef LA_TARGET_REPORT_H
#define LA_TARGET_REPORT_H

#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> /* vsnprintf() only: no FILE is ever touched */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target_io.h"

#ifndef TARGET_NAME
#error "define TARGET_NAME before including target_report.h"
#endif

static inline void __attribute__((noreturn)) die(const char *msg)
{
	write_all(2, TARGET_NAME ": ", strlen(TARGET_NAME ": "));
	write_all(2, msg, strlen(msg));
	write_all(2, "\n", 1);
	_exit(1);
}

static inline void sayf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static inline void
sayf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		die("output line too long");
	write_all(1, buf, (size_t)n);
}

/* glibc's own figures, as heapgen prints them: the tests' oracle. */
static inline void
report_mallinfo(void)
{
	struct mallinfo2 mi = mallinfo2();

	sayf("mallinfo2 arena=%zu ordblks=%zu smblks=%zu hblks=%zu "
	     "hblkhd=%zu usmblks=%zu fsmblks=%zu uordblks=%zu "
	     "fordblks=%zu keepcost=%zu\n",
	     mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd, mi.usmblks,
	     mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost);
}

static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
