/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * storm.c - test target: a large heap that never stands still.
 *
 * Usage: storm [THREADS [HEAP_MB]]     (defaults: 4 threads, 200 MiB)
 *
 * The main thread first builds a heap of about HEAP_MB MiB in the main
 * arena, in many chunks of mixed sizes (most of them small, so a walk
 * has a lot to visit), and frees some of them so that the bins are not
 * empty. Then THREADS threads run a tight malloc/free/realloc storm of
 * mixed sizes, each in its own arena, and each increments a progress
 * counter of its own after every operation. The tests stop and resume
 * this process (and kill the tool that stops it) while it runs; it must
 * simply go on.
 *
 * Signals: SIGUSR1 and SIGRTMIN are caught (sigaction, SA_RESTART) by a
 * handler that only increments an atomic counter, which is
 * async-signal-safe. Any thread may take them.
 *
 * Protocol on stdout, one line each: "ready" once the heap is built and
 * the storm threads run. Commands on stdin, one per line:
 *   progress    "progress N": the sum of the storm threads' counters
 *   signals     "signals N": SIGUSR1 signals handled so far
 *   rtsignals   "rtsignals N": SIGRTMIN signals handled so far
 *   again       "alive" (what target_check_unharmed() asks; this heap
 *               is never quiescent, so there is no mallinfo2 line)
 *   quit        exit(0); so does end of file
 * Anything else is answered with "error unknown command".
 *
 * Conventions of the test targets: no stdio (snprintf into a stack buffer
 * only), PR_SET_PDEATHSIG so that it dies with the test, never sanitized.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "target_io.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define MAX_THREADS 64
#define RING 1024 /* live allocations per storm thread */

/* ---- output ---------------------------------------------------------- */



static void __attribute__((noreturn)) die(const char *msg)
{
	write_all(2, "storm: ", 7);
	write_all(2, msg, strlen(msg));
	write_all(2, "\n", 1);
	_exit(1);
}

static void
say_number(const char *name, unsigned long long v)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s %llu\n", name, v);

	write_all(1, buf, (size_t)n);
}

/* ---- PRNG: xorshift64* ----------------------------------------------- */

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A number in [lo, hi]. */
static size_t
rng_range(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)((rng_next(s) >> 11) % (hi - lo + 1));
}

/* ---- signals ---------------------------------------------------------- */

static unsigned long usr1_count, rt_count;

static void
on_signal(int sig)
{
	/* Lock-free atomics are async-signal-safe. */
	if (sig == SIGUSR1)
		__atomic_fetch_add(&usr1_count, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&rt_count, 1, __ATOMIC_RELAXED);
}

static void
catch_signal(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		die("sigaction failed");
}

/* ---- the big heap ------------------------------------------------------ */

/* A mixed size, small ones most often. */
static size_t
mixed_size(uint64_t *s)
{
	size_t roll = rng_range(s, 0, 99);

	if (roll < 55)
		return rng_range(s, 1, 120);
	if (roll < 85)
		return rng_range(s, 121, 1024);
	if (roll < 98)
		return rng_range(s, 1025, 16 * KIB);
	return rng_range(s, 16 * KIB, 100 * KIB);
}

static void
touch(void *p, size_t size)
{
	memset(p, 0x5a, size < 64 ? size : 64);
}

/*
 * Allocate about mb MiB in the main arena; free about one chunk in eight
 * (not the neighbours of each other, so they stay in the bins as they
 * are). The pointers sit in an anonymous mapping, outside the heap.
 */
static void
build_heap(size_t mb)
{
	size_t want = mb * MIB, got = 0, n = 0, cap = 1 << 16, i;
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	void **ptrs = mmap(NULL, cap * sizeof(*ptrs), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (ptrs == MAP_FAILED)
		die("mmap failed");
	while (got < want) {
		size_t size = mixed_size(&s);
		void *p = malloc(size);

		if (!p)
			die("malloc failed");
		/* Touch every page, so the heap is resident as a real one. */
		for (i = 0; i < size; i += 4096)
			((char *)p)[i] = 1;
		touch(p, size);
		got += size;
		if (n == cap) {
			void **np =
				mremap(ptrs, cap * sizeof(*ptrs),
				       2 * cap * sizeof(*ptrs), MREMAP_MAYMOVE);

			if (np == MAP_FAILED)
				die("mremap failed");
			ptrs = np;
			cap *= 2;
		}
		ptrs[n++] = p;
	}
	for (i = 3; i + 1 < n; i += 8) {
		free(ptrs[i]);
		ptrs[i] = NULL;
	}
}

/* ---- the storm -------------------------------------------------------- */

struct worker {
	pthread_t tid;
	uint64_t seed;
	/* Its own cache line: the counters are written all the time. */
	unsigned long progress __attribute__((aligned(64)));
	char pad[64 - sizeof(unsigned long)];
};

static struct worker workers[MAX_THREADS];
static int nworkers;

static size_t
storm_size(uint64_t *s)
{
	size_t roll = rng_range(s, 0, 999);

	if (roll < 600)
		return rng_range(s, 1, 256);
	if (roll < 900)
		return rng_range(s, 257, 4 * KIB);
	if (roll < 995)
		return rng_range(s, 4 * KIB, 64 * KIB);
	return rng_range(s, 128 * KIB, 512 * KIB);
}

static void *
storm_main(void *arg)
{
	struct worker *w = arg;
	void *ring[RING] = {NULL};
	uint64_t s = w->seed;

	for (;;) {
		size_t i = rng_range(&s, 0, RING - 1);
		size_t op = rng_range(&s, 0, 9);
		size_t size = storm_size(&s);

		if (!ring[i]) {
			ring[i] = malloc(size);
			if (!ring[i])
				die("malloc failed");
			touch(ring[i], size);
		} else if (op < 3) {
			void *p = realloc(ring[i], size);

			if (!p)
				die("realloc failed");
			touch(p, size);
			ring[i] = p;
		} else {
			free(ring[i]);
			ring[i] = NULL;
		}
		__atomic_store_n(&w->progress, w->progress + 1,
				 __ATOMIC_RELAXED);
	}
	return NULL;
}

static unsigned long long
total_progress(void)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < nworkers; i++)
		sum += __atomic_load_n(&workers[i].progress, __ATOMIC_RELAXED);
	return sum;
}

/* ---- commands --------------------------------------------------------- */

static void
command(char *line)
{
	if (!strcmp(line, "progress"))
		say_number("progress", total_progress());
	else if (!strcmp(line, "signals"))
		say_number("signals",
			   __atomic_load_n(&usr1_count, __ATOMIC_RELAXED));
	else if (!strcmp(line, "rtsignals"))
		say_number("rtsignals",
			   __atomic_load_n(&rt_count, __ATOMIC_RELAXED));
	else if (!strcmp(line, "again"))
		say("alive\n");
	else
		say("error unknown command\n");
}

static long
parse_arg(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		write_all(2, "usage: storm [THREADS [HEAP_MB]]\n", 33);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	long nthreads = 4, heap_mb = 200;
	int i;

	die_with_parent();

	if (argc > 3)
		parse_arg("", 1, 0); /* usage */
	if (argc > 1)
		nthreads = parse_arg(argv[1], 1, MAX_THREADS);
	if (argc > 2)
		heap_mb = parse_arg(argv[2], 0, 4096);

	catch_signal(SIGUSR1);
	catch_signal(SIGRTMIN);

	build_heap((size_t)heap_mb);

	for (i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];

		w->seed = 0x2545f4914f6cdd1dULL * (uint64_t)(i + 1);
		if (pthread_create(&w->tid, NULL, storm_main, w))
			die("pthread_create failed");
		nworkers++;
	}
	say("ready\n");
	serve_commands(command);
}
