/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window_harness.h - the sampling-window tests that hold for every
 * backend (kernel uprobes, the ptrace int3 tracer), written once and run
 * by test_uprobe and test_int3 through a table of the backend's
 * operations. What only one backend promises stays in its test file; it
 * reaches the shared tests through wh_backend.check().
 *
 * Everything here asserts (Criterion): call it from a test only.
 */
#ifndef LA_TESTS_WINDOW_HARNESS_H
#define LA_TESTS_WINDOW_HARNESS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "allocloop.h"

/* What a shared test asks of a window; the backend makes its options. */
struct wh_opts {
	unsigned max_hits, max_ms, stack_size, fn_mask; /* window_opts' */
	/*
	 * The test must see every call of a sequence: the backend's settings
	 * that lose nothing (uprobe: a large ring, every free). A window is
	 * as long as max_ms asks (int3: limit_ms too).
	 */
	int lossless;
};

/* Which shared test asks wh_backend.check() for its own promises. */
enum wh_check {
	WH_CHECK_SEQUENCE, /* the known sequence was read and the window ended */
	WH_CHECK_FREES, /* the same, with free() probed */
	WH_CHECK_MAX_HITS, /* the window stopped at max_hits */
	WH_CHECK_SIGNALS, /* 20 SIGUSR1 went through during the window */
};

struct wh_backend {
	const struct window_backend *be; /* the library's table */
	unsigned fns_default; /* 1u << ALLOC_*: probed when fn_mask is 0 */
	/*
	 * 1: a window is live only once every worker has had an event (the
	 * threads' events are enabled one after the other), so the shared
	 * tests storm until they have; 0: live from its opening.
	 */
	int warm_up;
	/* window_open() with the backend's own options for o (its ext). */
	int (*open)(pid_t pid, const struct wh_opts *o, struct window **w);
	void (*print_stats)(const char *what, const struct window *w);
	/* Asserts what this backend promises beyond the shared tests. */
	void (*check)(enum wh_check what, const struct window *w);
	/*
	 * After a sampler of target was SIGKILLed and reaped: wait until
	 * what it left behind is gone (int3: its orphaned tracer restores,
	 * detaches and exits); log what is not. NULL: nothing to wait for.
	 */
	void (*settle)(pid_t target, unsigned trial);
};

/* Assertion wrappers over allocloop.h. */
void wh_start_loop(struct loop *l, const char *threads);
void wh_command(struct loop *l, const char *cmd, const char *reply);
unsigned long wh_progress(struct loop *l);
double wh_rate(struct loop *l, int ms); /* storm calls per second */

/* b->open(), asserting success (never a skip: CI runs as root). */
struct window *wh_open(const struct wh_backend *b, pid_t pid,
		       const struct wh_opts *o);
/* wh_open() with the backend's own options (struct uprobe_opts, ...). */
struct window *wh_open_ext(const struct wh_backend *b, pid_t pid,
			   const void *ext);
/* window_open() of be, o's fields and ext (the backend's own options). */
int wh_window_open(const struct window_backend *be, pid_t pid,
		   const struct wh_opts *o, const void *ext, struct window **w);
/* Asserts that err, what the opening of a b window returned, is 0. */
void wh_opened(const struct wh_backend *b, int err);

/* A window run in a thread of ours, its events kept in v[0 .. n). */
struct wh_collector {
	const struct wh_backend *b;
	struct window *w;
	struct seen *v;
	unsigned long n, dropped, bad_ip;
	pthread_t th;
	int ret;
};

void wh_start_bg(struct wh_collector *c, const struct wh_backend *b,
		 struct window *w);
/* Cancel, join, assert the run returned 0. The window stays open. */
void wh_stop_bg(struct wh_collector *c);
/* Join without cancelling (the window ends by itself). */
void wh_join_bg(struct wh_collector *c);
/* For a window that must be live: see wh_backend.warm_up. */
void wh_wait_live(struct loop *l, struct wh_collector *c);

/* The entry of malloc in pid, from a 1 ms window of b. */
uint64_t wh_malloc_addr(const struct wh_backend *b, pid_t pid);

/* Every thread of pid has TracerPid 0, within timeout_ms: 0, -ETIMEDOUT. */
int wh_wait_untraced(pid_t pid, int timeout_ms);
/* Is the target gone, or a zombie? */
int wh_target_dead(struct loop *l);
/* Does the storm still make progress? If not, l->t.line says so. */
int wh_storm_runs(struct loop *l);

/*
 * window_sampler of backend b on target: windows of max_ms, max_hits, on
 * the functions fns ("malloc,free"; "-": the default ones), word one of
 * its WORDs or NULL; pdeathsig as sampler_spawn(). Its output on *out_fd.
 */
pid_t wh_spawn_sampler(const struct wh_backend *b, pid_t target,
		       const char *max_ms, const char *max_hits,
		       const char *fns, const char *word, int pdeathsig,
		       int *out_fd);

/*
 * Kill safety: a target storming (l) while analysers (samplers) of
 * backend b are SIGKILLed at random moments. What each kill left is
 * counted; a dead target is replaced by a new one, storming too.
 */
struct wh_kills {
	const struct wh_backend *b;
	const char *threads; /* allocator_loop's workers */
	struct loop l;
	uint64_t malloc_addr; /* in the target of now */
	unsigned trials, deaths, harmed, bytes_left, traced, err_trials;
	int64_t t0;
};

/* Start the target; malloc's bytes must be glibc's before any kill. */
void wh_kills_start(struct wh_kills *k, const struct wh_backend *b,
		    const char *threads);
/*
 * Trial i, once its kill is reaped: b->settle(), then the target: no
 * thread traced after 5 s, malloc's bytes glibc's, alive, unharmed and
 * storming; a dead one is counted and replaced.
 */
void wh_kills_look(struct wh_kills *k, unsigned i);
/*
 * Trial i of a sampler s (its output on fd, closed here): SIGKILLed 0 to
 * max_us after now, reaped, its lines added to tl; then wh_kills_look().
 * Returns 1 when a window was open at the kill: its last line said so,
 * or opened (the caller saw one open) and no window ended since.
 */
int wh_kills_trial(struct wh_kills *k, unsigned i, pid_t s, int fd, int opened,
		   unsigned max_us, struct sampler_tally *tl);
/*
 * The figures (printed), then: no sampler error (tl may be NULL), a
 * quarter of the kills in a window at least, no death, no harm, no byte
 * left, nothing traced; the target unharmed, and "seq" still gives
 * every pointer. Stops the target.
 */
void wh_kills_end(struct wh_kills *k, const struct sampler_tally *tl,
		  unsigned in_window);

/* The shared tests: one a property, the same for every backend. */
void wh_sees_every_allocation_of_a_known_sequence(const struct wh_backend *b);
void wh_sees_the_frees_of_a_known_sequence(const struct wh_backend *b);
void wh_stops_at_max_hits(const struct wh_backend *b);
void wh_stops_at_max_ms(const struct wh_backend *b);
void wh_signals_reach_the_target_during_a_window(const struct wh_backend *b);
void wh_a_stopped_target_stays_stopped(const struct wh_backend *b);

/*
 * The shared tests as Criterion tests of suite, each a call of the function
 * of its name with the backend b (a struct wh_backend): the same test
 * names for every backend.
 */
#define WH_TEST(suite, name, b)           \
	Test(suite, name, .timeout = 120) \
	{                                 \
		wh_##name(&(b));          \
	}
#define WH_SHARED_TESTS(suite, b)                                    \
	WH_TEST(suite, sees_every_allocation_of_a_known_sequence, b) \
	WH_TEST(suite, sees_the_frees_of_a_known_sequence, b)        \
	WH_TEST(suite, stops_at_max_hits, b)                         \
	WH_TEST(suite, stops_at_max_ms, b)                           \
	WH_TEST(suite, signals_reach_the_target_during_a_window, b)  \
	WH_TEST(suite, a_stopped_target_stays_stopped, b)

/*
 * WH_BACKEND(P, FNS, WARM_UP, SETTLE), once in a backend's test file:
 * P_harness, the struct wh_backend of the library's P_backend, made of
 * that file's be_open(), print_stats() and be_check(); and the shared
 * tests, as tests of suite P.
 */
#define WH_BACKEND(P, FNS, WARM_UP, SETTLE)            \
	static const struct wh_backend P##_harness = { \
		.be = &P##_backend,                    \
		.fns_default = FNS,                    \
		.warm_up = WARM_UP,                    \
		.open = be_open,                       \
		.print_stats = print_stats,            \
		.check = be_check,                     \
		.settle = SETTLE,                      \
	};                                             \
	WH_SHARED_TESTS(P, P##_harness)

#endif /* LA_TESTS_WINDOW_HARNESS_H */
