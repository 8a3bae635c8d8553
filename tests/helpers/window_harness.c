/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window_harness.c - the sampling-window tests shared by the backends.
 * See window_harness.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "window_harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <leakattach.h>

/*
 * What allocator_loop's alloc_sequence() calls, per worker (its header):
 * how many calls of each function, and the size each reports.
 */
static const unsigned seq_calls[ALLOC_NFNS] = {
	[ALLOC_MALLOC] = 100,
	[ALLOC_CALLOC] = 50,
	[ALLOC_REALLOC] = 20,
	[ALLOC_POSIX_MEMALIGN] = 10,
};
static const uint64_t seq_size[ALLOC_NFNS] = {
	[ALLOC_MALLOC] = 4242,
	[ALLOC_CALLOC] = 700,
	[ALLOC_REALLOC] = 9000,
	[ALLOC_POSIX_MEMALIGN] = 3333,
};
#define SEQ_LINES 180 /* the calls of one worker, one line each */
#define SEQ_OWNED 160 /* of them, pointers still owned after "seq" */

void
wh_start_loop(struct loop *l, const char *threads)
{
	cr_assert_eq(loop_start(l, threads), 0, "allocator_loop: %s",
		     l->t.line);
}

void
wh_command(struct loop *l, const char *cmd, const char *reply)
{
	cr_assert_eq(loop_command(l, cmd, reply), 0, "%s: %s", cmd, l->t.line);
}

unsigned long
wh_progress(struct loop *l)
{
	unsigned long calls = 0;

	cr_assert_eq(loop_progress(l, &calls), 0, "progress: %s", l->t.line);
	return calls;
}

double
wh_rate(struct loop *l, int ms)
{
	double r = 0;

	cr_assert_eq(loop_rate(l, ms, &r), 0, "progress: %s", l->t.line);
	return r;
}

void
wh_opened(const struct wh_backend *b, int err)
{
	/* Never a skip: CI runs as root, so a refusal is a failure. */
	cr_assert_eq(err, 0, "%s window open: %s (%s)", b->be->name,
		     la_errmsg(), strerror(-err));
}

int
wh_window_open(const struct window_backend *be, pid_t pid,
	       const struct wh_opts *o, const void *ext, struct window **w)
{
	struct window_opts wo = {.sz = sizeof(wo),
				 .max_hits = o->max_hits,
				 .max_ms = o->max_ms,
				 .stack_size = o->stack_size,
				 .fn_mask = o->fn_mask,
				 .ext = ext};

	return window_open(be, pid, &wo, w);
}

struct window *
wh_open_ext(const struct wh_backend *b, pid_t pid, const void *ext)
{
	struct window_opts wo = {.sz = sizeof(wo), .ext = ext};
	struct window *w = NULL;

	wh_opened(b, window_open(b->be, pid, &wo, &w));
	return w;
}

struct window *
wh_open(const struct wh_backend *b, pid_t pid, const struct wh_opts *o)
{
	struct window *w = NULL;

	wh_opened(b, b->open(pid, o, &w));
	return w;
}

static int
collect(const struct alloc_event *ev, void *arg)
{
	struct wh_collector *c = arg;

	seen_add(c->v, &c->n, &c->dropped, &c->bad_ip,
		 window_fn_addr(c->w, ev->fn), ev);
	return 0;
}

static void *
run_bg(void *arg)
{
	struct wh_collector *c = arg;

	c->ret = window_run(c->w, collect, c);
	return NULL;
}

void
wh_start_bg(struct wh_collector *c, const struct wh_backend *b,
	    struct window *w)
{
	memset(c, 0, sizeof(*c));
	c->b = b;
	c->w = w;
	c->v = calloc(MAX_SEEN, sizeof(*c->v));
	cr_assert(c->v);
	cr_assert_eq(pthread_create(&c->th, NULL, run_bg, c), 0);
}

void
wh_join_bg(struct wh_collector *c)
{
	pthread_join(c->th, NULL);
}

void
wh_stop_bg(struct wh_collector *c)
{
	window_cancel(c->w);
	wh_join_bg(c);
	cr_assert_eq(c->ret, 0, "%s window run: %d %s", c->b->be->name, c->ret,
		     la_errmsg());
}

/* Has every worker of l had an event in c yet? */
static int
all_workers_seen(const struct loop *l, struct wh_collector *c)
{
	unsigned long n = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);

	for (int k = 0; k < l->ntids; k++) {
		unsigned long i;

		for (i = 0; i < n && c->v[i].tid != l->tids[k]; i++)
			;
		if (i == n)
			return 0;
	}
	return n > 0;
}

/*
 * The window is live once the storm's calls come through from every
 * worker: the events of the threads are enabled one after the other, so
 * one thread's event says nothing of the next (a CI run lost the first 72
 * calls of the second worker that way).
 */
void
wh_wait_live(struct loop *l, struct wh_collector *c)
{
	int64_t deadline = now_us() + 10 * 1000000;

	if (!c->b->warm_up)
		return;
	wh_command(l, "storm", "ok");
	while (!all_workers_seen(l, c) && now_us() < deadline)
		sleep_us(1000);
	wh_command(l, "calm", "ok");
	cr_assert(
		all_workers_seen(l, c),
		"not every worker had an event within 10 s of a malloc storm");
	/*
	 * Then until the storm's records are read (no new event for 100 ms,
	 * 5 s at most): a ring still full of them when the sequence starts,
	 * behind a collector slowed by a loaded machine, would lose the
	 * sequence's records (seen once in CI: 127 of 360 not seen). An
	 * empty ring holds a whole sequence.
	 */
	deadline = now_us() + 5 * 1000000;
	for (;;) {
		unsigned long n = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);

		sleep_us(100000);
		if (n == __atomic_load_n(&c->n, __ATOMIC_ACQUIRE) ||
		    now_us() > deadline)
			break;
	}
}

static const char *
fn_name(unsigned f)
{
	return alloc_fn_name((enum alloc_fn)f);
}

static void
parse_line(const char *text, struct loop_call *ln)
{
	cr_assert_eq(loop_parse_call(text, fn_name, ALLOC_NFNS, ln), 0,
		     "bad line: %s", text);
}

/* The event of the call that a printed line describes, or NULL. */
static const struct seen *
find_call(const struct wh_collector *c, const struct loop_call *ln)
{
	for (unsigned long i = 0; i < c->n; i++) {
		const struct seen *s = &c->v[i];

		if (s->tid == ln->tid && s->fn == ln->fn && s->ptr == ln->ptr &&
		    s->size == ln->size &&
		    (ln->fn != ALLOC_REALLOC || s->old == ln->old))
			return s;
	}
	return NULL;
}

/* Is tid the target's, its main thread or one of its workers? */
static int
target_tid(const struct loop *l, pid_t tid)
{
	int ok = tid == l->t.pid;

	for (int k = 0; k < l->ntids; k++)
		ok |= tid == l->tids[k];
	return ok;
}

/*
 * Close w and leave l: malloc's bytes are glibc's again (when the window
 * probed it), the target unharmed; then it is stopped.
 */
static void
close_and_leave(struct window *w, struct loop *l)
{
	uint64_t malloc_addr = window_fn_addr(w, ALLOC_MALLOC);

	window_close(w);
	if (malloc_addr)
		cr_assert_eq(malloc_bytes_check(l->t.pid, malloc_addr), 0,
			     "a breakpoint is left in malloc");
	cr_assert_eq(target_check_unharmed(&l->t, 0, NULL), 0, "%s", l->t.line);
	target_stop(&l->t);
}

/*
 * A window open on two workers while they run "seq": every line the
 * target prints is read (the window delivers in its own time), then the
 * window is cancelled. text holds the lines.
 */
static void
run_sequence(const struct wh_backend *b, struct loop *l, struct wh_opts *o,
	     struct wh_collector *c, char (*text)[160], unsigned *lines)
{
	int err;

	wh_start_loop(l, "2");
	wh_start_bg(c, b, wh_open(b, l->t.pid, o));
	wh_wait_live(l, c);
	cr_assert_eq(target_send(&l->t, "seq"), 0);
	err = loop_read_seq(l, text, 2 * SEQ_LINES, lines);
	cr_assert_neq(err, -E2BIG, "too many lines");
	cr_assert_eq(err, 0, "seq: %s", l->t.line);
	wh_stop_bg(c);
	cr_assert_eq(*lines, 2 * SEQ_LINES, "%u lines from the target", *lines);
}

/*
 * Two workers each make 100 malloc(4242), 50 calloc(7, 100), 20
 * realloc(p, 9000) and 10 posix_memalign(64, 3333) in alloc_sequence():
 * every printed call of a function the backend probes by default is seen
 * with its very pointer, size, thread (and realloc's old pointer), its
 * return address in alloc_sequence(); exactly that many calls per worker
 * come from there; every event has a stack copy holding a return
 * address, end_ns >= time_ns, its ip at the function's entry, a thread
 * of the target; malloc's bytes are glibc's after the close.
 */
void
wh_sees_every_allocation_of_a_known_sequence(const struct wh_backend *b)
{
	struct wh_opts o = {.max_hits = 1000000,
			    .max_ms = 60000,
			    .stack_size = 4096,
			    .lossless = 1};
	static char text[2 * SEQ_LINES][160];
	unsigned lines = 0, missing = 0, bad_ret = 0, foreign = 0;
	unsigned checked = 0, expected = 0, no_stack = 0, bad_time = 0;
	struct wh_collector c;
	const struct window_stats *st;
	struct loop l;

	run_sequence(b, &l, &o, &c, text, &lines);
	st = window_stats(c.w);
	b->print_stats("known sequence", c.w);
	for (int f = 0; f < ALLOC_NFNS; f++) {
		if (!(b->fns_default & 1u << f) || !seq_calls[f])
			continue;
		expected += 2 * seq_calls[f];
		cr_assert_neq(window_fn_addr(c.w, (enum alloc_fn)f), 0,
			      "%s is not probed", alloc_fn_name(f));
		cr_assert_geq(st->hits[f], 2 * seq_calls[f], "%s: %" PRIu64,
			      alloc_fn_name(f), st->hits[f]);
	}
	/* Every printed call of a probed function, with its very pointer. */
	for (unsigned k = 0; k < lines; k++) {
		const struct seen *s;
		struct loop_call ln;

		parse_line(text[k], &ln);
		if (!(b->fns_default & 1u << ln.fn))
			continue; /* int3: the memalign family is refused */
		checked++;
		s = find_call(&c, &ln);
		if (!s) {
			if (missing++ < 5)
				cr_log_error("not seen: %s", text[k]);
			continue;
		}
		if (s->retaddr - l.seq_fn >= 4096 && bad_ret++ < 5)
			cr_log_error("return address %#" PRIx64
				     " is not in alloc_sequence() at %#" PRIx64,
				     s->retaddr, l.seq_fn);
	}
	if (missing)
		cr_log_error("collector dropped %lu events", c.dropped);
	cr_assert_eq(checked, expected);
	cr_assert_eq(missing, 0, "%u of %u printed calls not seen", missing,
		     checked);
	cr_assert_eq(bad_ret, 0);
	/* Per worker, exactly the calls alloc_sequence() made. */
	for (int k = 0; k < l.ntids; k++) {
		unsigned n[ALLOC_NFNS] = {0};

		for (unsigned long i = 0; i < c.n; i++) {
			const struct seen *s = &c.v[i];

			if (s->tid == l.tids[k] &&
			    s->retaddr - l.seq_fn < 4096 &&
			    s->size == seq_size[s->fn])
				n[s->fn]++;
		}
		for (int f = 0; f < ALLOC_NFNS; f++)
			if (b->fns_default & 1u << f)
				cr_expect_eq(n[f], seq_calls[f],
					     "thread %d: %u %s(%" PRIu64 ")",
					     (int)l.tids[k], n[f],
					     alloc_fn_name(f), seq_size[f]);
	}
	cr_assert_eq(c.bad_ip, 0, "%lu events with ip != the entry", c.bad_ip);
	for (unsigned long i = 0; i < c.n; i++) {
		foreign += !target_tid(&l, c.v[i].tid);
		no_stack += c.v[i].stack_len < 8;
		bad_time += !c.v[i].end_ns || c.v[i].end_ns < c.v[i].time_ns;
	}
	cr_assert_eq(foreign, 0, "%u events from threads not the target's",
		     foreign);
	cr_assert_eq(no_stack, 0, "%u events without a stack copy", no_stack);
	cr_assert_eq(bad_time, 0, "%u events without end_ns >= time_ns",
		     bad_time);
	b->check(WH_CHECK_SEQUENCE, c.w);
	free(c.v);
	close_and_leave(c.w, &l);
}

/*
 * With free probed too: free events carry the pointer, time, thread and
 * ip only; every pointer the target still owns after "seq" has a free
 * event from its main thread, after the return of the call that gave it
 * (which was seen, but for posix_memalign, not probed here).
 */
void
wh_sees_the_frees_of_a_known_sequence(const struct wh_backend *b)
{
	struct wh_opts o = {
		.max_hits = 1000000,
		.max_ms = 60000,
		.stack_size = 512,
		.fn_mask = (1u << ALLOC_MALLOC) | (1u << ALLOC_CALLOC) |
			   (1u << ALLOC_REALLOC) | (1u << ALLOC_FREE),
		.lossless = 1};
	static char text[2 * SEQ_LINES][160];
	static struct loop_call ln[2 * SEQ_LINES];
	unsigned lines = 0, owned = 0, missing = 0, no_call = 0;
	unsigned long frees = 0, bad_free = 0;
	struct wh_collector c;
	uint64_t free_addr;
	struct loop l;

	/* "done seq" comes after the main thread freed what it owns. */
	run_sequence(b, &l, &o, &c, text, &lines);
	b->print_stats("frees of a known sequence", c.w);
	free_addr = window_fn_addr(c.w, ALLOC_FREE);
	cr_assert_neq(free_addr, 0, "free is not probed");
	for (unsigned k = 0; k < lines; k++)
		parse_line(text[k], &ln[k]);
	for (unsigned long i = 0; i < c.n; i++) {
		const struct seen *s = &c.v[i];

		if (s->fn != ALLOC_FREE)
			continue;
		frees++;
		/* free's contract: no stack, no return, ip at the entry */
		bad_free += s->stack_len || s->ptr || s->end_ns || s->size ||
			    !s->time_ns || s->ip != free_addr;
	}
	cr_assert_eq(bad_free, 0, "%lu malformed free events", bad_free);
	for (unsigned k = 0; k < lines; k++) {
		const struct seen *call = NULL;
		unsigned long i;
		int moved = 0;

		/* a malloc result that a realloc took over is not owned */
		for (unsigned j = 0; j < lines; j++)
			moved |= ln[k].fn == ALLOC_MALLOC &&
				 ln[j].fn == ALLOC_REALLOC &&
				 ln[j].tid == ln[k].tid &&
				 ln[j].old == ln[k].ptr;
		if (moved || !ln[k].ptr)
			continue;
		owned++;
		if (o.fn_mask & 1u << ln[k].fn) {
			call = find_call(&c, &ln[k]);
			if (!call && no_call++ < 5)
				cr_log_error("no event for: %s", text[k]);
		}
		for (i = 0; i < c.n; i++) {
			const struct seen *s = &c.v[i];

			if (s->fn == ALLOC_FREE && s->old == ln[k].ptr &&
			    s->tid == l.t.pid &&
			    (!call || s->time_ns > call->end_ns))
				break;
		}
		if (i == c.n && missing++ < 5)
			cr_log_error("no free after the call: %s", text[k]);
	}
	cr_log_info("%s: %u owned pointers printed, %lu free events, %u "
		    "without their free",
		    b->be->name, owned, frees, missing);
	/* 2 x (80 malloc + 50 calloc + 20 realloc + 10 posix_memalign) */
	cr_assert_eq(owned, 2 * SEQ_OWNED);
	cr_assert_eq(no_call, 0, "%u allocations not seen", no_call);
	cr_assert_eq(missing, 0, "%u of %u owned pointers without a free",
		     missing, owned);
	cr_assert_eq(c.bad_ip, 0, "%lu events with ip != the entry", c.bad_ip);
	b->check(WH_CHECK_FREES, c.w);
	free(c.v);
	close_and_leave(c.w, &l);
}

/* A window run to its end in this thread, no callback; w stays open. */
static struct window *
run_to_end(const struct wh_backend *b, struct loop *l, const struct wh_opts *o,
	   const char *what, const struct window_stats **st)
{
	struct window *w = wh_open(b, l->t.pid, o);

	cr_assert_eq(window_run(w, NULL, NULL), 0, "%s", la_errmsg());
	*st = window_stats(w);
	b->print_stats(what, w);
	return w;
}

void
wh_stops_at_max_hits(const struct wh_backend *b)
{
	struct wh_opts o = {.max_hits = 2000,
			    .max_ms = 20000,
			    .fn_mask = 1u << ALLOC_MALLOC};
	uint64_t hits = 0;
	const struct window_stats *st;
	struct loop l;
	struct window *w;

	wh_start_loop(&l, "2");
	wh_command(&l, "storm", "ok");
	w = run_to_end(b, &l, &o, "max_hits 2000", &st);
	for (int f = 0; f < ALLOC_NFNS; f++)
		hits += st->hits[f];
	cr_assert_eq(st->stop, WINDOW_STOP_HITS);
	cr_assert_eq(st->hits[ALLOC_MALLOC], 2000);
	cr_assert_eq(hits, 2000);
	cr_assert_leq(st->delivered, 2000);
	cr_assert_gt(st->delivered, 0);
	cr_assert_lt(st->run_ns, 20000000000ull);
	b->check(WH_CHECK_MAX_HITS, w);
	close_and_leave(w, &l);
}

/* Idle, then storming: both end at 100 ms. */
void
wh_stops_at_max_ms(const struct wh_backend *b)
{
	struct wh_opts o = {.max_hits = 100000000,
			    .max_ms = 100,
			    .fn_mask = 1u << ALLOC_MALLOC};
	struct loop l;

	wh_start_loop(&l, "1");
	for (int storm = 0; storm < 2; storm++) {
		const struct window_stats *st;
		struct window *w;

		if (storm)
			wh_command(&l, "storm", "ok");
		w = run_to_end(b, &l, &o,
			       storm ? "100 ms, storm" : "100 ms, idle", &st);
		cr_assert_eq(st->stop, WINDOW_STOP_TIME);
		cr_assert_geq(st->run_ns, 100000000ull);
		cr_assert_lt(st->run_ns, 1000000000ull, "ran %.1f ms",
			     (double)st->run_ns / 1e6);
		if (storm)
			cr_assert_gt(st->delivered, 0);
		window_close(w);
	}
	cr_assert_eq(target_check_unharmed(&l.t, 0, NULL), 0, "%s", l.t.line);
	target_stop(&l.t);
}

/* 20 SIGUSR1 sent during a window, on a storming target: all handled. */
void
wh_signals_reach_the_target_during_a_window(const struct wh_backend *b)
{
	struct wh_opts o = {.max_hits = 100000000,
			    .max_ms = 60000,
			    .fn_mask = 1u << ALLOC_MALLOC};
	struct wh_collector c;
	const struct window_stats *st;
	struct loop l;

	wh_start_loop(&l, "2");
	wh_start_bg(&c, b, wh_open(b, l.t.pid, &o));
	wh_wait_live(&l, &c);
	wh_command(&l, "storm", "ok");
	for (int i = 1; i <= 20; i++) {
		int64_t deadline = now_us() + 5000000;
		char want[32];

		cr_assert_eq(kill(l.t.pid, SIGUSR1), 0);
		snprintf(want, sizeof(want), "signals %d", i);
		do
			wh_command(&l, "signals", "signals ");
		while (strcmp(l.t.line, want) && now_us() < deadline);
		cr_assert_str_eq(l.t.line, want,
				 "SIGUSR1 number %d not handled", i);
	}
	cr_assert_eq(c.ret, 0);
	wh_stop_bg(&c);
	st = window_stats(c.w);
	b->print_stats("20 SIGUSR1", c.w);
	cr_assert_gt(st->delivered, 0);
	b->check(WH_CHECK_SIGNALS, c.w);
	free(c.v);
	close_and_leave(c.w, &l);
}

/* A target stopped by SIGSTOP: the window stops nothing, job control wins. */
void
wh_a_stopped_target_stays_stopped(const struct wh_backend *b)
{
	struct wh_opts o = {.max_ms = 200};
	char state[64] = "";
	const struct window_stats *st;
	struct loop l;
	struct window *w;

	wh_start_loop(&l, "2");
	wh_command(&l, "storm", "ok");
	cr_assert_eq(kill(l.t.pid, SIGSTOP), 0);
	wait_state(l.t.pid, 'T', 5000, state, sizeof(state));
	cr_assert_eq(state[0], 'T', "not stopped: %s", state);
	w = run_to_end(b, &l, &o, "stopped target", &st);
	cr_assert_eq(st->delivered, 0);
	cr_assert_eq(st->stop, WINDOW_STOP_TIME);
	window_close(w);
	cr_assert_eq(target_check_unharmed(&l.t, 1, NULL), 0, "%s", l.t.line);
	cr_assert_eq(kill(l.t.pid, SIGCONT), 0);
	cr_assert_eq(target_check_unharmed(&l.t, 0, NULL), 0, "%s", l.t.line);
	target_stop(&l.t);
}

uint64_t
wh_malloc_addr(const struct wh_backend *b, pid_t pid)
{
	struct wh_opts o = {.max_ms = 1, .fn_mask = 1u << ALLOC_MALLOC};
	struct window *w = wh_open(b, pid, &o);
	uint64_t a = window_fn_addr(w, ALLOC_MALLOC);

	cr_assert_eq(window_run(w, NULL, NULL), 0, "%s", la_errmsg());
	window_close(w);
	cr_assert_neq(a, 0);
	return a;
}

/* ---- kill safety ---------------------------------------------------------- */

int
wh_wait_untraced(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	do {
		struct dirent *e;
		DIR *d = opendir(dir);
		int traced = 0;

		if (!d)
			return -ESRCH;
		while ((e = readdir(d))) {
			char path[400], line[128];
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/status", dir,
				 e->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			while (fgets(line, sizeof(line), f))
				if (!strncmp(line, "TracerPid:", 10) &&
				    atoi(line + 10))
					traced = 1;
			fclose(f);
		}
		closedir(d);
		if (!traced)
			return 0;
		sleep_us(2000);
	} while (now_us() < deadline);
	return -ETIMEDOUT;
}

int
wh_target_dead(struct loop *l)
{
	char state[64] = "?";

	return kill(l->t.pid, 0) ||
	       (!proc_status_field(l->t.pid, "State", state, sizeof(state)) &&
		(state[0] == 'Z' || state[0] == 'X'));
}

/*
 * The storm still makes progress, within 2 s: a worker that returned into
 * a wrong place, or was left stopped, would not (the others would still
 * count: allocator_loop's workers share nothing but the count). 2 s, not
 * 200 ms: once, on a loaded machine, uprobe's lone worker made no progress
 * for 200 ms right after a sampler was killed mid-window (the kernel
 * takes its probes out then), and went on.
 */
int
wh_storm_runs(struct loop *l)
{
	unsigned long a = 0, b = 0;

	if (loop_progress(l, &a))
		return 0;
	for (int i = 0; i < 1000 && b <= a; i++) {
		sleep_us(2000);
		if (loop_progress(l, &b))
			return 0;
	}
	if (b <= a)
		snprintf(l->t.line, sizeof(l->t.line),
			 "the storm stopped at %lu calls", a);
	return b > a;
}

/* After the storm: "seq" gives every pointer, all non-null. */
static void
seq_still_works(struct loop *l)
{
	static char text[8 * SEQ_LINES][160];
	unsigned lines = 0, null = 0;

	wh_command(l, "calm", "ok");
	cr_assert_eq(target_send(&l->t, "seq"), 0);
	cr_assert_eq(loop_read_seq(l, text, 8 * SEQ_LINES, &lines), 0,
		     "seq: %s", l->t.line);
	cr_assert_eq(lines, (unsigned)l->ntids * SEQ_LINES);
	for (unsigned k = 0; k < lines; k++)
		null += !strstr(text[k], "ptr=0x");
	cr_assert_eq(null, 0, "%u calls failed after the kills", null);
}

pid_t
wh_spawn_sampler(const struct wh_backend *b, pid_t target, const char *max_ms,
		 const char *max_hits, const char *fns, const char *word,
		 int pdeathsig, int *out_fd)
{
	char pidarg[16];
	const char *args[] = {b->be->name, pidarg, max_ms, max_hits,
			      fns,	   word,   NULL};
	pid_t child = 0;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)target);
	cr_assert_eq(sampler_spawn("window_sampler", args, pdeathsig, &child,
				   out_fd),
		     0, "cannot start window_sampler");
	return child;
}

static void
kills_target(struct wh_kills *k)
{
	wh_start_loop(&k->l, k->threads);
	/* a new process: malloc is elsewhere */
	k->malloc_addr = wh_malloc_addr(k->b, k->l.t.pid);
	wh_command(&k->l, "storm", "ok");
}

void
wh_kills_start(struct wh_kills *k, const struct wh_backend *b,
	       const char *threads)
{
	memset(k, 0, sizeof(*k));
	k->b = b;
	k->threads = threads;
	k->t0 = now_us();
	kills_target(k);
	cr_assert_eq(malloc_bytes_check(k->l.t.pid, k->malloc_addr), 0,
		     "malloc's bytes differ from ours before any kill");
	srand((unsigned)getpid());
}

void
wh_kills_look(struct wh_kills *k, unsigned i)
{
	struct loop *l = &k->l;

	k->trials++;
	if (k->b->settle)
		k->b->settle(l->t.pid, i);
	if (!wh_target_dead(l) && wh_wait_untraced(l->t.pid, 5000)) {
		cr_log_error("trial %u: still traced after 5 s", i);
		k->traced++;
	}
	if (!wh_target_dead(l) && malloc_bytes_check(l->t.pid, k->malloc_addr))
		k->bytes_left++;
	if (!wh_target_dead(l) && !target_check_unharmed(&l->t, 0, NULL) &&
	    wh_storm_runs(l))
		return;
	cr_log_error("trial %u: target %s (%s)", i,
		     wh_target_dead(l) ? "died" : "harmed", l->t.line);
	if (!wh_target_dead(l)) {
		k->harmed++;
		return;
	}
	k->deaths++;
	target_stop(&l->t);
	kills_target(k);
}

int
wh_kills_trial(struct wh_kills *k, unsigned i, pid_t s, int fd, int opened,
	       unsigned max_us, struct sampler_tally *tl)
{
	unsigned long windows = tl->windows;
	int status, in;

	sleep_us(rand() % max_us);
	kill(s, SIGKILL);
	waitpid(s, &status, 0);
	sampler_tally(fd, tl);
	in = tl->open || (opened && tl->windows == windows);
	if (tl->err[0] && !k->err_trials++)
		cr_log_error("trial %u: %s", i, tl->err);
	close(fd);
	wh_kills_look(k, i);
	return in;
}

void
wh_kills_end(struct wh_kills *k, const struct sampler_tally *tl,
	     unsigned in_window)
{
	cr_log_info("%s: analyser SIGKILLed %u times, %u of them with a "
		    "window open; target deaths %u, harmed %u, breakpoint "
		    "bytes left %u, still traced %u; %.1f s",
		    k->b->be->name, k->trials, in_window, k->deaths, k->harmed,
		    k->bytes_left, k->traced, (double)(now_us() - k->t0) / 1e6);
	if (tl)
		cr_log_info("%s: the samplers completed %lu windows (%lu hits, "
			    "%lu lost)",
			    k->b->be->name, tl->windows, tl->hits, tl->lost);
	if (tl)
		cr_assert_str_empty(tl->err, "the sampler failed: %s", tl->err);
	/*
	 * The kills must land in open windows to mean anything; how many
	 * do depends on the machine's load (opening and closing slow down
	 * under it), so a quarter is enough.
	 */
	cr_assert_geq(in_window, k->trials / 4, "too few kills hit a window");
	cr_assert_eq(k->deaths, 0);
	cr_assert_eq(k->harmed, 0);
	cr_assert_eq(k->bytes_left, 0, "a breakpoint is left in malloc");
	cr_assert_eq(k->traced, 0);
	cr_assert_eq(target_check_unharmed(&k->l.t, 0, NULL), 0, "%s",
		     k->l.t.line);
	seq_still_works(&k->l);
	target_stop(&k->l.t);
}
