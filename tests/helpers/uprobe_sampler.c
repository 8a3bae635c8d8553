/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uprobe_sampler.c - opens uprobe sampling windows on a process, one after
 * the other, until killed: what test_uprobe SIGKILLs at random moments to
 * show that the kernel removes the probes and the target lives on.
 *
 * Usage: uprobe_sampler PID [MAX_MS [MAX_HITS [FN,FN...]]]
 *        (defaults: 50, 2000, the library's default functions)
 *
 * Output, one line each: "open N" once window N's probes are set, and
 * "window N hits=H lost=L ms=T close_ms=C release_ms=R tracefs=F err=E"
 * once they are removed (close_ms: the target's events; release_ms:
 * window_close(), the anchors and definitions on the tracefs path)
 * (written with one write(2), so a kill never leaves half a line);
 * "error MESSAGE" and exit 2 when a window cannot be opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "sampling/uprobe.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
count_event(const struct alloc_event *ev, void *arg)
{
	/* Touch the copy, as an analyser would. */
	if (ev->stack_len)
		*(unsigned long *)arg += ((const unsigned char *)ev->stack)[0];
	return 0;
}

int
main(int argc, char **argv)
{
	struct uprobe_opts o = {.sz = sizeof(o)};
	unsigned long sink = 0;
	pid_t pid;
	char buf[160];

	if (argc < 2) {
		fprintf(stderr,
			"usage: uprobe_sampler PID [MAX_MS [MAX_HITS [FN,...]]]\n");
		return 2;
	}
	pid = (pid_t)atoi(argv[1]);
	o.max_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
	o.max_hits = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
	for (int f = 0; argc > 4 && f < ALLOC_NFNS; f++) {
		const char *name = alloc_fn_name((enum alloc_fn)f);
		const char *p = strstr(argv[4], name);
		size_t n = strlen(name);

		if (p && (p == argv[4] || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			o.fn_mask |= 1u << f;
	}
	for (unsigned long n = 1;; n++) {
		struct window *w;
		const struct uprobe_stats *st;
		uint64_t hits = 0, lost;
		double t0, run_ms, close_ms;
		int err, len, tracefs;

		err = uprobe_window_open(pid, &o, &w);
		if (err) {
			len = snprintf(buf, sizeof(buf), "error %s\n",
				       la_errmsg());
			if (write(1, buf, (size_t)len) < 0)
				return 2;
			return 2;
		}
		len = snprintf(buf, sizeof(buf), "open %lu\n", n);
		if (write(1, buf, (size_t)len) < 0)
			return 2;
		err = window_run(w, count_event, &sink);
		st = uprobe_window_stats(w);
		for (int f = 0; f < ALLOC_NFNS; f++)
			hits += st->win.hits[f];
		/* st goes with w: the figures first, then the release. */
		lost = st->win.lost;
		run_ms = (double)st->win.run_ns / 1e6;
		close_ms = (double)st->win.close_ns / 1e6;
		tracefs = st->tracefs;
		t0 = now_ms();
		window_close(w);
		len = snprintf(
			buf, sizeof(buf),
			"window %lu hits=%llu lost=%llu ms=%.1f close_ms=%.1f release_ms=%.1f tracefs=%d err=%d\n",
			n, (unsigned long long)hits, (unsigned long long)lost,
			run_ms, close_ms, now_ms() - t0, tracefs, err);
		if (write(1, buf, (size_t)len) < 0)
			return 2;
	}
}
