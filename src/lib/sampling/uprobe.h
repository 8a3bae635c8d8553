/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uprobe.h - the uprobe backend of window.h: a sampling window on the
 * target's allocation functions through kernel uprobes (perf_event_open(2);
 * CAP_SYS_ADMIN). The target is never stopped, traced or written by us; the
 * kernel removes the probes when the window's fds close, also when
 * leakattach dies. Probes are defined through tracefs (the machine's, or a
 * private mount of a child of ours, tracefs.h) with an "anchor" event per
 * probe on a child of ours, so that the target stops trapping within ms of
 * the window's end and the slow release (about 80 ms a probe) is paid in
 * window_close() or, with uprobe_opts.keep, once per session. The
 * uprobe PMU is for tests only (UPROBE_PMU_ONLY). Design:
 * doc/design/uprobe.md.
 */
#ifndef LA_UPROBE_H
#define LA_UPROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampling/window.h"

struct uprobe_probes;

struct uprobe_opts {
	size_t sz; /* sizeof(struct uprobe_opts), for later fields */
	unsigned max_hits; /* entries to deliver; 0: 2000 */
	unsigned max_ms; /* window length from enabling; 0: 100 */
	unsigned stack_size; /* bytes of stack per entry; 0: 16 KiB */
	unsigned ring_pages; /* ring buffer per thread, power of 2; 0: 128 */
	unsigned max_threads; /* threads with events; 0: 64 */
	unsigned fn_mask; /* 1u << ALLOC_*; 0: UPROBE_FNS_DEFAULT */
	/*
	 * free() events to deliver (with 1u << ALLOC_FREE in fn_mask); 0:
	 * 4 * max_hits. They do not count toward max_hits, but reaching this
	 * bound ends the window like max_hits does (stop WINDOW_STOP_HITS),
	 * so that no free of a delivered allocation is silently missed.
	 */
	unsigned max_frees;
	unsigned flags; /* UPROBE_* below */
	/*
	 * Probes kept from one window to the next of a session (tracefs
	 * only; NULL: none). When *keep holds probes on the same file and
	 * functions, with their anchor alive, the window uses them: no
	 * definitions to write, no anchors to open. Others in *keep are
	 * released first. window_close() then leaves the window's
	 * probes in *keep rather than paying their release (about 80 ms a
	 * probe, window_close()), so that a session's windows cost
	 * it that once, in uprobe_probes_release(), and not per window: a
	 * window then takes what its sampling takes, and samples keep
	 * their cadence. The target holds no breakpoint between windows:
	 * only its own events, closed at each window's end, ask for them
	 * in its memory; kept probes are definitions, never enabled, and
	 * anchors on a child of ours.
	 */
	struct uprobe_probes **keep;
};

/*
 * Use the uprobe PMU (tests, comparisons). Never the default, nor a
 * fallback: its teardown stalls the target for seconds.
 */
#define UPROBE_PMU_ONLY 1u
/* Mount a private tracefs even when the machine has one (tests). */
#define UPROBE_TRACEFS_PRIVATE 2u

/*
 * Every function but the obsolete valloc and pvalloc, and not free: each
 * probed function costs two events per thread and, through tracefs, one
 * anchor whose close takes about 80 ms in window_close() (through the
 * PMU: each event about 80 ms, in window_run()).
 */
#define UPROBE_FNS_DEFAULT                                                     \
	((1u << ALLOC_MALLOC) | (1u << ALLOC_CALLOC) | (1u << ALLOC_REALLOC) | \
	 (1u << ALLOC_MEMALIGN) | (1u << ALLOC_POSIX_MEMALIGN) |               \
	 (1u << ALLOC_ALIGNED_ALLOC))

/*
 * window_stats for uprobes: lost counts the records the kernel dropped
 * (PERF_RECORD_LOST), open_ns the probes' set-up, run_ns enabled until
 * disabled, close_ns closing the target's events.
 */
struct uprobe_stats {
	struct window_stats win;
	uint64_t unmatched; /* returns without their entry (lost, nested) */
	uint64_t unfinished; /* entries whose return came after the end */
	uint64_t bad_records; /* malformed or unknown ring records */
	int tracefs; /* 1: tracefs probes with anchors; 0: the uprobe PMU */
	uint64_t frees_dropped; /* free() entries over max_frees */
	/*
	 * CLOCK_MONOTONIC when the events were disabled (the end of the
	 * sampling), to time how long the target still traps afterwards.
	 */
	uint64_t disabled_at_ns;
	/*
	 * window_close(): closing the anchors (about 80 ms each),
	 * ending their child and removing our definitions. The target no
	 * longer traps then. 0 on the PMU path.
	 */
	uint64_t release_ns;
	/*
	 * 1: tracefs was not mounted, and a child of ours mounted one in a
	 * private mount namespace (tracefs.h).
	 */
	int tracefs_private;
	/* 1: the probes were kept by an earlier window (uprobe_opts.keep) */
	int reused;
};

/*
 * uprobe_window_open - resolve the allocation functions of the glibc that
 * pid uses and open, for every thread of pid, an entry probe and a return
 * probe on each, disabled. The breakpoints exist in the target from here
 * (hits cost a trap but record nothing until window_run()), so run at
 * once. opts may be NULL. Fails with -EACCES/-EPERM (not privileged: the
 * sentence says what to do), -EOPNOTSUPP (no tracefs, and none could be
 * mounted), -ENOENT (no uprobe PMU in this kernel), -ESRCH,
 * -LA_ENOTGLIBC, -LA_EBADELF, -EMFILE, -ENOMEM.
 *
 * window_run() delivers free() entries, when asked for, as they are read
 * (at most max_frees), allocations once they return. Through tracefs it
 * closes the target's events in a few ms in all (the anchors make sure
 * none of them is the last user of its probe); window_close() pays the
 * 80 ms per probe (closing the anchors), then removes our definitions.
 * Through the PMU, window_run() closes each event in about 80 ms, two per
 * probed function and thread, malloc's last.
 */
int uprobe_window_open(pid_t pid, const struct uprobe_opts *opts,
		       struct window **out);

/* The figures of w, a window of uprobe_window_open(). */
const struct uprobe_stats *uprobe_window_stats(const struct window *w);

/*
 * Release probes kept by window_close() (uprobe_opts.keep): close
 * the anchors (about 80 ms each, the kernel's), end their child and the
 * private tracefs' if any, remove the definitions. NULL is fine. The
 * definitions of a leakattach killed while it kept probes stay, inert
 * (never enabled, no event on them), until the next window of any
 * leakattach removes them (their group names a pid that is gone).
 */
void uprobe_probes_release(struct uprobe_probes *p);

#endif
