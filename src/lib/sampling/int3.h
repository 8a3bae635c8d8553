/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3.h - the int3 backend of window.h, for when kernel uprobes are
 * refused (no CAP_SYS_ADMIN): int3 breakpoints on the entries of malloc,
 * calloc, realloc (and free), written by a tracer process that
 * int3_window_open() forks (it executes la-int3-tracer). The tracer holds
 * the ptrace relationship and stops the target at every probed call; the
 * caller only reads records from a socket. When the caller dies (SIGKILL
 * included) the tracer restores every byte and return address, detaches
 * and exits; SIGKILLing the tracer itself mid-window can kill the target.
 * The caller sees one child process, reaped by pid in window_run() or
 * window_close() (a caller that reaps every child takes its status away:
 * tracer_status -1). Design: doc/design/int3.md.
 */
#ifndef LA_INT3_H
#define LA_INT3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampling/window.h"

struct int3_opts {
	size_t sz; /* sizeof(struct int3_opts), for later fields */
	/*
	 * allocation entries to take; 0: 2000. Frees do not count: they are
	 * taken while the window samples or follows, at most 4 per
	 * allocation entry.
	 */
	unsigned max_hits;
	unsigned max_ms; /* sampling, from arming; 0: 100; within limit_ms */
	unsigned stack_size; /* bytes of stack per entry; 0: 8 KiB, max 60000 */
	unsigned fn_mask; /* 1u << ALLOC_*; 0: INT3_FNS_DEFAULT */
	/*
	 * The tracer's own bound on a window, sampling and following, from
	 * arming until it starts restoring the bytes, whatever max_ms and
	 * follow_ms ask and however slow or stuck the analyser is (0:
	 * INT3_LIMIT_MS). Raise it knowingly (the tests that wait for a
	 * sequence of calls do).
	 */
	unsigned limit_ms;
	/*
	 * With free() probed: once the sampling ends (max_hits entries or
	 * max_ms), the window goes on this long (0: not at all; within
	 * limit_ms) with free() alone, to see the frees of the sampled
	 * chunks: the allocation functions' bytes are put back at the next
	 * stop, so that a call made while following stops the target once
	 * (free) instead of three times (entry, return, free).
	 */
	unsigned follow_ms;
};

/*
 * On a target that allocates all the time every call stops it (about 20
 * us a stop on the 2-core test machine, idle; far more under load), so a
 * window costs such a target about its length; no thread is held for
 * another at the start or at the end. 40 ms keeps one window within the
 * 50 ms budget of stalled target work (doc/design/budgets.md). A caller
 * that wants the frees of its samples fits max_ms + follow_ms in it
 * (INT3_SAMPLE_MS, INT3_FOLLOW_MS: what callers.c asks).
 */
#define INT3_LIMIT_MS 40u
#define INT3_SAMPLE_MS 25u
#define INT3_FOLLOW_MS 15u
/*
 * The analyser is behind when the tracer could queue no event for this
 * long (the socket stayed full): the window ends (WINDOW_STOP_BEHIND), as
 * its events would be lost while every call still stops the target.
 */
#define INT3_BEHIND_MS 20u

#define INT3_FNS_DEFAULT \
	((1u << ALLOC_MALLOC) | (1u << ALLOC_CALLOC) | (1u << ALLOC_REALLOC))

/*
 * window_stats for int3: hits are the entries the tracer took, lost the
 * events dropped when the socket to us was full, threads those traced
 * (new ones included), open_ns fork to breakpoints armed, run_ns armed
 * until every byte is restored, close_ns the restore, the returns and
 * each thread let go.
 */
struct int3_stats {
	struct window_stats win;
	uint64_t signals_forwarded; /* foreign signals re-injected */
	uint64_t rewound; /* traps at the end: rip put back on the int3 */
	uint64_t returns_caught; /* pending calls that returned to us */
	uint64_t returns_at_end; /* of those, caught while ending */
	uint64_t returns_restored; /* still pending: return address put back */
	uint64_t returns_abandoned; /* dead frame, thread gone, or unknown */
	uint64_t returns_skipped; /* entries whose return was not probed */
	/*
	 * processes the target created during the window: forked ones put
	 * right and let go before they ran, vforked ones traced like
	 * threads until they executed a program
	 */
	unsigned children;
	unsigned abandoned; /* threads that did not stop at the end */
	unsigned refused_mask; /* 1u << ALLOC_*: entry is not a push */
	int tracer_status; /* its wait status; -1 when unknown */
	int oom_score_adj; /* the tracer's: -1000 when it was allowed */
	uint64_t grace_ns; /* of close_ns: waiting for pending returns */
	uint64_t follow_ns; /* of run_ns: following, free() alone */
};

/*
 * int3_window_open - resolve the allocation functions of the glibc that
 * pid uses, fork the tracer and wait until it has seized every thread
 * (none stopped), stopped one to check the entry bytes and write the
 * breakpoints, and resumed it: the window is running from here (events
 * queue in the socket, up to 4 MiB for root, then are counted lost, and
 * the window ends when none could be queued for INT3_BEHIND_MS), so call
 * window_run() at once. It ends when the tracer ends it (max_hits,
 * max_ms, then follow_ms; limit_ms; the target's exit), fn returns
 * non-zero or window_cancel() is called; window_run() then waits for the
 * tracer to restore, let pending calls return (their events come then),
 * detach and exit. window_close() tells the tracer to finish and waits
 * for it: bounded, the tracer gives one thread 2 s to stop for the
 * restore, pending calls up to 100 ms to return, and every thread 2 s
 * more to stop and be let go. opts may be NULL. Fails with -ESRCH,
 * -EPERM, -LA_ETRACED, -LA_EVFORK, -LA_ESTOPTIMEOUT, -LA_ENOTGLIBC,
 * -ENOTSUP (no function has a push at its entry, or the process keeps
 * kernel uprobes' [uprobes] page), -ENOMEM, or what fork/socketpair
 * returned; la_errmsg() says why.
 */
int int3_window_open(pid_t pid, const struct int3_opts *opts,
		     struct window **out);

/* The figures of w, a window of int3_window_open(). */
const struct int3_stats *int3_window_stats(const struct window *w);

/* The tracer's pid while it runs (the tests kill it), else 0. */
pid_t int3_window_tracer(const struct window *w);

#endif
