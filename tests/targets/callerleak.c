/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callerleak.c - test target for callers (issue 5): a leak through a named
 * call chain, main -> serve_requests -> cache_insert -> make_entry, that
 * never frees its 1160-byte entries (chunk 1168, size class 1040-1264),
 * while churn_buffers allocates and frees buffers of 1100-1200 bytes
 * (chunks 1120-1216: the same size class) three times as often, each
 * freed four calls later, interleaved with the leak. Only the chain
 * leaks; a report must blame make_entry and its callers, never
 * churn_buffers.
 *
 * Usage: callerleak [MS N]   with MS N, the timer runs from the start.
 *
 * Protocol on stdout, one line each: "ready callerleak chunk=1168" once
 * set up, then an answer per command. Commands on stdin, one per line:
 *   again        print glibc's mallinfo2() as heapgen does
 *   step [N]     one tick by hand: N entries leaked (default 1), 3N
 *                buffers churned; answers "stepped leaked=TOTAL"
 *   timer MS N   a tick every MS ms from now (MS 0 stops); answers
 *                "timer on" or "timer off"
 *   quit         exit(0); so does end of file
 * Anything else is answered with "error ...". No stdio (it allocates):
 * output is write(2) of snprintf'ed stack buffers. Dies with its parent.
 * Built with the suite's target flags (-g, frame pointers, PIE: the
 * toolchain's default); the functions of the chain are noinline and (GCC)
 * noclone, so that no frame is lost or renamed; tick() may be inlined
 * into main.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only: no FILE is ever touched */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_NAME "callerleak"
#include "target_report.h"

#define ENTRY_REQUEST 1160 /* chunk 1168 */
#define CHURN_MIN 1100
#define CHURN_MAX 1200
#define CHURN_RING 4
#define CHURN_FACTOR 3
#define KEPT_MAX 262144

/* Keep each function of the chain whole, under its own name. */
#if defined(__GNUC__) && !defined(__clang__)
#define CHAIN __attribute__((noinline, noclone))
#else
#define CHAIN __attribute__((noinline))
#endif

/* Kept reachable, as a cache that is never evicted would keep them. */
static void *kept[KEPT_MAX];
static size_t nkept;
static long leaked;

CHAIN static void *
make_entry(long key)
{
	char *e = malloc(ENTRY_REQUEST);

	if (!e)
		die("malloc failed");
	memset(e, 0x5a, ENTRY_REQUEST);
	memcpy(e, &key, sizeof(key));
	return e;
}

CHAIN static void
cache_insert(long key)
{
	void *e = make_entry(key);

	if (nkept < KEPT_MAX)
		kept[nkept++] = e;
	leaked++;
}

static long served;

/* Work after the calls: none of them may become a tail call. */
CHAIN static void
serve_requests(long n)
{
	for (long i = 0; i < n; i++)
		cache_insert(leaked);
	served += n;
}

/* Balanced: every buffer is freed a few ticks' worth of calls later. */
static void *ring[CHURN_RING];
static unsigned ring_pos;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

CHAIN static void
churn_buffers(long n)
{
	for (long i = 0; i < n; i++) {
		size_t size;
		char *b;

		seed ^= seed >> 12;
		seed ^= seed << 25;
		seed ^= seed >> 27;
		size = CHURN_MIN +
		       (size_t)((seed * 0x2545f4914f6cdd1dull) >> 33) %
			       (CHURN_MAX - CHURN_MIN + 1);
		b = malloc(size);
		if (!b)
			die("malloc failed");
		memset(b, 0xa5, size);
		free(ring[ring_pos]);
		ring[ring_pos] = b;
		ring_pos = (ring_pos + 1) % CHURN_RING;
	}
}

/* Interleaved, as a server would: any window sees both. */
static void
tick(long n)
{
	for (long i = 0; i < n; i++) {
		serve_requests(1);
		churn_buffers(CHURN_FACTOR);
	}
}

/* A non-negative decimal number, or -1. */
static long
parse_num(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > 100000000)
		return -1;
	return v;
}

static long timer_ms, timer_n;
static int64_t next_tick;

static void
command(char *line)
{
	char *argv[4] = {NULL};
	int argc = 0;

	for (char *tok = strtok(line, " "); tok && argc < 4;
	     tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (!argc) {
		sayf("error empty command\n");
	} else if (!strcmp(argv[0], "again")) {
		report_mallinfo();
	} else if (!strcmp(argv[0], "step")) {
		long n = argc > 1 ? parse_num(argv[1]) : 1;

		if (n < 0) {
			sayf("error bad count\n");
			return;
		}
		tick(n);
		sayf("stepped leaked=%ld\n", leaked);
	} else if (!strcmp(argv[0], "timer") && argc == 3) {
		long ms = parse_num(argv[1]), n = parse_num(argv[2]);

		if (ms < 0 || n < 0) {
			sayf("error bad timer\n");
			return;
		}
		timer_ms = ms;
		timer_n = n;
		next_tick = now_ms() + ms;
		sayf("timer %s\n", ms ? "on" : "off");
	} else {
		sayf("error unknown command %s\n", argv[0]);
	}
}

int
main(int argc, char **argv)
{
	struct line_in in = {{0}, 0, 0};

	die_with_parent();
	if (argc == 3) {
		timer_ms = parse_num(argv[1]);
		timer_n = parse_num(argv[2]);
		if (timer_ms < 0 || timer_n < 0)
			die("usage: callerleak [MS N]");
		next_tick = now_ms() + timer_ms;
	} else if (argc != 1) {
		die("usage: callerleak [MS N]");
	}
	/* the churn's ring is full before anyone looks */
	churn_buffers(CHURN_RING);
	sayf("ready callerleak chunk=%d pid=%d\n",
	     (ENTRY_REQUEST + 8 + 15) & ~15, (int)getpid());
	for (;;) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		int timeout = -1, rc;

		if (timer_ms) {
			int64_t left = next_tick - now_ms();

			if (left <= 0) {
				tick(timer_n);
				next_tick += timer_ms;
				if (next_tick < now_ms())
					next_tick = now_ms() + timer_ms;
				continue;
			}
			timeout = (int)left;
		}
		rc = poll(&p, 1, timeout);
		if (rc < 0 && errno != EINTR)
			die("poll failed");
		if (rc <= 0)
			continue;
		if (line_in_read(&in, command))
			exit(0);
	}
}
