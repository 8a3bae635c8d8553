/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uprobe.h - a bounded sampling window on the target's allocation
 * functions through kernel uprobes (perf_event_open(2), the uprobe PMU):
 * for each call of malloc, calloc, realloc, memalign, posix_memalign,
 * aligned_alloc, valloc or pvalloc, the size, the result and a raw copy of
 * the caller's stack. The target is never stopped, traced or written by
 * us; the kernel removes the probes when the window's fds close, also when
 * leakattach dies (research/ptrace-dwarf.md §1.6, §5.2).
 *
 * Two ways to the same kernel uprobes (both removed by the kernel when our
 * fds close):
 *  - tracefs (always, with CAP_SYS_ADMIN: the machine's mount, or where
 *    none is mounted a private one held by a child of ours, tracefs.h):
 *    one definition per probe in the
 *    group leakattach_<our pid>, shared by the target's threads, plus an
 *    "anchor" event per probe on a small child of ours. Closing one perf
 *    uprobe event costs about 80 ms on Linux 6.18 (a synchronisation
 *    under the machine-wide event_mutex), paid only by the last user of a
 *    probe: with the anchor that is never one of the target's events, so
 *    the target's breakpoints go away in a few ms once sampling ends, and
 *    the slow part is paid by uprobe_window_close() when the target no
 *    longer traps. Our definitions are removed there too; those of a
 *    leakattach that died (group leakattach_<pid>, pid gone) are removed
 *    at the next uprobe_window_open(). No definition is ever enabled.
 *  - the uprobe PMU (tests only, UPROBE_PMU_ONLY; it was the fallback
 *    until it was measured stalling a target's malloc at 0.1 % of its
 *    rate for 1-7 s per window): one private probe per event, each close
 *    about 80 ms with the target still trapping until its function's last
 *    event is closed (2 events per function and thread).
 *
 * Not here: unwinding the stack copies, symbols, attribution (callers),
 * the ptrace int3 backend.
 */
#ifndef LA_UPROBE_H
#define LA_UPROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum alloc_fn {
	ALLOC_MALLOC,
	ALLOC_CALLOC,
	ALLOC_REALLOC,
	ALLOC_MEMALIGN,
	ALLOC_POSIX_MEMALIGN,
	ALLOC_ALIGNED_ALLOC,
	ALLOC_VALLOC,
	ALLOC_PVALLOC,
	/*
	 * Not an allocation: a free() entry (no return is probed). Asked
	 * for with 1u << ALLOC_FREE in fn_mask; none of the defaults has
	 * it. The event has old_ptr (the pointer freed, maybe 0), time_ns,
	 * tid, ip and sp; size, ptr, end_ns are 0 and stack_len may be 0.
	 */
	ALLOC_FREE,
	ALLOC_NFNS
};

/* "malloc", "calloc", ...; "?" out of range. */
const char *alloc_fn_name(enum alloc_fn fn);

/* One completed call: its entry paired with its return, on one thread. */
struct alloc_event {
	pid_t tid; /* in our pid namespace */
	uint64_t time_ns; /* at entry, perf clock (CLOCK_MONOTONIC here) */
	/*
	 * At the return, same clock; 0 when unknown (a free). A free of ptr
	 * with time_ns > end_ns freed this call's chunk; one before it
	 * freed an earlier chunk at the same address (callers.c orders
	 * events from several threads by these two times).
	 */
	uint64_t end_ns;
	enum alloc_fn fn;
	/*
	 * Bytes asked for: malloc's size, calloc's nmemb * size (saturated),
	 * realloc's new size, the size of the aligned functions.
	 */
	uint64_t size;
	uint64_t align; /* memalign, posix_memalign, aligned_alloc; else 0 */
	uint64_t old_ptr; /* realloc's pointer argument; else 0 */
	/*
	 * The result (0 when the call failed). posix_memalign returns an
	 * error number: ptr is then what it stored in *memptr, read from the
	 * return's stack copy when memptr is on the caller's stack, else from
	 * the live target right after the return (ptr_racy is then 1: the
	 * target may have changed *memptr meanwhile); 0 when it failed.
	 */
	uint64_t ptr;
	int ptr_racy;
	/* Registers at entry: ip is the function's entry address. */
	uint64_t ip, sp, bp;
	/*
	 * Copy of the user stack from sp at entry ([sp] is the return
	 * address). Valid only during the callback.
	 */
	const void *stack;
	size_t stack_len;
};

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
	 * bound ends the window like max_hits does (stop UPROBE_STOP_HITS),
	 * so that no free of a delivered allocation is silently missed.
	 */
	unsigned max_frees;
	unsigned flags; /* UPROBE_* below */
	/*
	 * Probes kept from one window to the next of a session (tracefs
	 * only; NULL: none). When *keep holds probes on the same file and
	 * functions, with their anchor alive, the window uses them: no
	 * definitions to write, no anchors to open. Others in *keep are
	 * released first. uprobe_window_close() then leaves the window's
	 * probes in *keep rather than paying their release (about 80 ms a
	 * probe, uprobe_window_close()), so that a session's windows cost
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
 * anchor whose close takes about 80 ms in uprobe_window_close() (through
 * the PMU: each event about 80 ms, see uprobe_window_run()).
 */
#define UPROBE_FNS_DEFAULT                                                     \
	((1u << ALLOC_MALLOC) | (1u << ALLOC_CALLOC) | (1u << ALLOC_REALLOC) | \
	 (1u << ALLOC_MEMALIGN) | (1u << ALLOC_POSIX_MEMALIGN) |               \
	 (1u << ALLOC_ALIGNED_ALLOC))

enum uprobe_stop {
	UPROBE_STOP_NONE,
	UPROBE_STOP_HITS, /* max_hits entries delivered */
	UPROBE_STOP_TIME, /* max_ms elapsed */
	UPROBE_STOP_CALLBACK, /* the callback returned non-zero */
	UPROBE_STOP_CANCEL, /* uprobe_window_cancel() */
	UPROBE_STOP_EXIT, /* the target exited */
};

struct uprobe_stats {
	uint64_t hits[ALLOC_NFNS]; /* entries seen while enabled */
	uint64_t delivered; /* events given to the callback */
	uint64_t lost; /* records the kernel dropped (PERF_RECORD_LOST) */
	uint64_t unmatched; /* returns without their entry (lost, nested) */
	uint64_t unfinished; /* entries whose return came after the end */
	uint64_t bad_records; /* malformed or unknown ring records */
	unsigned threads; /* threads that had events */
	unsigned threads_skipped; /* over max_threads or fds exhausted */
	uint64_t open_ns; /* uprobe_window_open(): probes set up */
	uint64_t run_ns; /* enabled until disabled */
	uint64_t close_ns; /* closing the events: the probes' removal */
	enum uprobe_stop stop;
	/* Added later: */
	int tracefs; /* 1: tracefs probes with anchors; 0: the uprobe PMU */
	uint64_t frees_dropped; /* free() entries over max_frees */
	/*
	 * CLOCK_MONOTONIC when the events were disabled (the end of the
	 * sampling), to time how long the target still traps afterwards.
	 */
	uint64_t disabled_at_ns;
	/*
	 * uprobe_window_close(): closing the anchors (about 80 ms each),
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

struct uprobe_window;

typedef int (*uprobe_event_fn)(const struct alloc_event *ev, void *arg);

/*
 * uprobe_window_open - resolve the allocation functions of the glibc that
 * pid uses and open, for every thread of pid, an entry probe and a return
 * probe on each, disabled. The breakpoints exist in the target from here
 * (hits cost a trap but record nothing until uprobe_window_run()), so run
 * at once. opts may be NULL. Fails with -EACCES/-EPERM (not privileged:
 * the sentence says what to do), -EOPNOTSUPP (no tracefs, and none could
 * be mounted), -ENOENT (no uprobe PMU in this kernel),
 * -ESRCH, -LA_ENOTGLIBC, -LA_EBADELF, -EMFILE, -ENOMEM.
 */
int uprobe_window_open(pid_t pid, const struct uprobe_opts *opts,
		       struct uprobe_window **out);

/*
 * uprobe_window_run - enable the probes, deliver completed calls to fn
 * (from this thread, in order of completion per thread) until max_hits
 * entries, max_ms, a non-zero return of fn, uprobe_window_cancel() or the
 * target's exit; then close every probe. Once per window. Returns 0 (the
 * reason is in the stats), fn's non-zero return value, or -errno.
 *
 * free() entries, when asked for, are delivered as they are read (fn
 * ALLOC_FREE, at most max_frees of them), allocations once they return.
 *
 * Through tracefs, the target's events are closed here in a few ms in all
 * (each removes a filter; the anchors make sure none of them is the last
 * user of its probe): the target stops trapping right after sampling.
 * Through the PMU, closing is the slow part on Linux 6.18: about 80 ms per
 * event, two events per probed function and thread, serialised in the
 * kernel; the target keeps trapping (without records) on a function until
 * its last event is closed; functions are closed in enum order, malloc
 * first.
 */
int uprobe_window_run(struct uprobe_window *w, uprobe_event_fn fn, void *arg);

/* Ask a running window to stop soon; safe from any thread. */
void uprobe_window_cancel(struct uprobe_window *w);

const struct uprobe_stats *uprobe_window_stats(const struct uprobe_window *w);

/*
 * The entry address of fn in the target, or 0 when it is not probed (not
 * found, not in fn_mask, or an alias: aligned_alloc is memalign in glibc
 * < 2.38, and its calls are then reported as memalign).
 */
uint64_t uprobe_window_fn_addr(const struct uprobe_window *w, enum alloc_fn fn);

/*
 * Close any probe left open and free w. NULL is fine. Through tracefs this
 * is where the 80 ms per probe are paid (closing the anchors, after the
 * target's events), then our definitions are removed.
 */
void uprobe_window_close(struct uprobe_window *w);

/*
 * Release probes kept by uprobe_window_close() (uprobe_opts.keep): close
 * the anchors (about 80 ms each, the kernel's), end their child and the
 * private tracefs' if any, remove the definitions. NULL is fine. The
 * definitions of a leakattach killed while it kept probes stay, inert
 * (never enabled, no event on them), until the next window of any
 * leakattach removes them (their group names a pid that is gone).
 */
void uprobe_probes_release(struct uprobe_probes *p);

#endif
