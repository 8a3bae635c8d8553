/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window.h - the contract of a sampling window, which both backends fill:
 * uprobe.h (kernel uprobes, root) and int3.h (ptrace breakpoints in a
 * tracer process of ours). A window is opened on a process, run once (it
 * delivers one struct alloc_event per completed call of the probed
 * allocation functions, and per free() when asked for, to a callback,
 * until its bound in calls or time, the callback's non-zero return, a
 * cancel or the target's exit), then closed: the target holds nothing of
 * ours afterwards. A backend's own options and figures are in its header
 * (struct uprobe_opts, struct int3_opts; their stats begin with struct
 * window_stats). Design: doc/design/uprobe.md, doc/design/int3.md.
 */
#ifndef LA_WINDOW_H
#define LA_WINDOW_H

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
	 * for with 1u << ALLOC_FREE in fn_mask; no backend's default has
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
	uint64_t time_ns; /* at entry, CLOCK_MONOTONIC */
	/*
	 * At the return, same clock; 0 when unknown (a free). A free of ptr
	 * with time_ns > end_ns freed this call's chunk; one before it
	 * freed an earlier chunk at the same address (callers orders
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
	uint64_t lr; /* aarch64: x30, the return address; 0 on x86_64 */
	/*
	 * Copy of the user stack from sp at entry ([sp] is the return
	 * address). Valid only during the callback.
	 */
	const void *stack;
	size_t stack_len;
};

/* Non-zero ends the window (stop WINDOW_STOP_CALLBACK); run returns it. */
typedef int (*window_event_fn)(const struct alloc_event *ev, void *arg);

enum window_stop {
	WINDOW_STOP_NONE,
	WINDOW_STOP_HITS, /* max_hits entries taken (int3: then follow_ms) */
	WINDOW_STOP_TIME, /* max_ms elapsed (int3: or limit_ms) */
	WINDOW_STOP_CALLBACK, /* the callback returned non-zero */
	WINDOW_STOP_CANCEL, /* cancel(), or (int3) the analyser's end closed */
	WINDOW_STOP_EXIT, /* the target exited (int3: or executed a program) */
	WINDOW_STOP_TRACER, /* int3: the tracer died or failed mid-window */
	WINDOW_STOP_BEHIND, /* int3: the analyser read nothing in time */
};

/* The figures every backend gives; the first member of its own stats. */
struct window_stats {
	uint64_t hits[ALLOC_NFNS]; /* entries taken while sampling */
	uint64_t delivered; /* events given to the callback */
	uint64_t lost; /* records dropped on the way to us */
	unsigned threads; /* threads that had events (int3: traced) */
	unsigned threads_skipped; /* uprobe: over max_threads, fds out */
	uint64_t open_ns; /* open: until the probes are in place */
	uint64_t run_ns; /* probes active: the sampling itself */
	uint64_t close_ns; /* taking the probes out of the target */
	enum window_stop stop;
};

/*
 * A window, of any backend: each backend's window begins with this (its
 * fields are the backend's to fill; callers use the functions below).
 */
struct window {
	const struct window_backend *be;
	const struct window_stats *stats; /* the backend's, st.win */
	uint64_t addr[ALLOC_NFNS]; /* entries probed; 0: not probed */
	volatile int cancel; /* window_cancel(): the run loop stops */
	int ran;
};

/*
 * What any backend takes. Each field, when not 0, replaces the one of the
 * backend's own options in ext (struct uprobe_opts for uprobe_backend,
 * struct int3_opts for int3_backend; NULL: their defaults).
 */
struct window_opts {
	size_t sz; /* sizeof(struct window_opts), for later fields */
	unsigned max_hits; /* allocation entries to take; frees not counted */
	unsigned max_ms; /* sampling time from the probes' arming */
	unsigned stack_size; /* bytes of stack copied per entry */
	unsigned fn_mask; /* 1u << ALLOC_*; 0: the backend's default */
	const void *ext;
};

/* A backend's operations, behind the functions below. */
struct window_backend {
	const char *name; /* "uprobe", "int3" */
	unsigned fns; /* the functions it can probe, 1u << ALLOC_* */
	int (*open)(pid_t pid, const struct window_opts *o,
		    struct window **out);
	int (*run)(struct window *w, window_event_fn fn, void *arg);
	void (*close)(struct window *w);
};

extern const struct window_backend uprobe_backend;
extern const struct window_backend int3_backend;

/*
 * window_open - a window of backend be on process pid, its probes in
 * place: run it at once. o may be NULL. Fails with -errno (la_errmsg()
 * says why; each backend's header lists its errors). A backend's own
 * open (uprobe_window_open(), int3_window_open()) takes all its options.
 */
int window_open(const struct window_backend *be, pid_t pid,
		const struct window_opts *o, struct window **out);

/*
 * window_run - deliver completed calls to fn (from this thread, in order
 * of completion per thread) until the window's bound in calls or time, a
 * non-zero return of fn, window_cancel() or the target's exit; then take
 * the probes out of the target. Once per window. Returns 0 (the reason is
 * in window_stats()->stop), fn's non-zero value, or -errno.
 */
int window_run(struct window *w, window_event_fn fn, void *arg);

/* Ask a running window to stop soon; safe from any thread. */
void window_cancel(struct window *w);

/* Valid until window_close(). */
const struct window_stats *window_stats(const struct window *w);

/*
 * The entry address of fn in the target, or 0 when it is not probed (not
 * found, not asked for, refused, or an alias: aligned_alloc is memalign
 * in glibc < 2.38, and its calls are then reported as memalign).
 */
uint64_t window_fn_addr(const struct window *w, enum alloc_fn fn);

/* Free w, nothing of ours left in the target. NULL is fine. */
void window_close(struct window *w);

/*
 * For the backends' open: a zeroed window of size bytes (its struct
 * window first) of backend be; NULL with *err -EINVAL (pid names no
 * process, la_errmsg() says so) or -ENOMEM.
 */
void *window_new(const struct window_backend *be, pid_t pid, size_t size,
		 int *err);

/* For the backends: the defaults and bounds of the options above. */
struct window_limits {
	unsigned max_hits, max_ms, stack_size, fn_mask; /* for 0 */
	unsigned stack_max;
};

/*
 * For the backends: src (NULL, or options that begin with their size_t
 * sz) copied by its sz into dst of dst_sz bytes, zeroed first; dst's sz
 * set to dst_sz.
 */
void window_copy_opts(void *dst, size_t dst_sz, const void *src);

/* For the backends: 0 in each option replaced by lim's, stack bounded. */
void window_fill_opts(const struct window_limits *lim, unsigned *max_hits,
		      unsigned *max_ms, unsigned *stack_size,
		      unsigned *fn_mask);

/*
 * For the backends: their own options from o (o->ext copied as by
 * window_copy_opts(), then o's non-zero fields).
 */
void window_opts_to(const struct window_opts *o, void *opts, size_t opts_sz,
		    unsigned *max_hits, unsigned *max_ms, unsigned *stack_size,
		    unsigned *fn_mask);

/*
 * WINDOW_BACKEND(P, NAME, FNS, RUN, CLOSE) defines P_backend, the table of
 * the backend whose open is P_window_open(pid, const struct P_opts *,
 * struct window **), once in uprobe.c and in int3.c.
 */
#define WINDOW_BACKEND(P, NAME, FNS, RUN, CLOSE)                             \
	static int P##_open_any(pid_t pid, const struct window_opts *o,      \
				struct window **out)                         \
	{                                                                    \
		struct P##_opts bo;                                          \
                                                                             \
		window_opts_to(o, &bo, sizeof(bo), &bo.max_hits, &bo.max_ms, \
			       &bo.stack_size, &bo.fn_mask);                 \
		return P##_window_open(pid, &bo, out);                       \
	}                                                                    \
	const struct window_backend P##_backend = {                          \
		.name = NAME,                                                \
		.fns = FNS,                                                  \
		.open = P##_open_any,                                        \
		.run = RUN,                                                  \
		.close = CLOSE,                                              \
	}

#endif
