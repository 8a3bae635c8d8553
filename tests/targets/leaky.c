/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * leaky.c - test target for leak detection over time: one program, one
 * scenario per run, each a way for a heap to change between samples that
 * the leak rule must judge right (leakattach(1) "LEAK RULE").
 *
 * Usage: leaky SCENARIO [ARGS]
 *
 *   sizeclass          "step N" leaks N blocks of 1160 bytes (chunk 1168,
 *                      the size class 1040-1264, where nothing else
 *                      lives) in the main thread, the main arena
 *   sizeclass MS N     unattended (for check -- COMMAND): from the start,
 *                      leak N blocks every MS milliseconds; nothing is
 *                      printed and end of file on stdin does not end it
 *   thread [MS N]      the same, but a second thread leaks, so the blocks
 *                      live in its own arena; "ready" names the 64 MiB
 *                      aligned heap that holds that arena
 *   cache [OPS]        a steady cache: 4096 entries of 64-4096 bytes
 *                      (about 8 MiB) that a background thread keeps
 *                      replacing, OPS replacements (with as many
 *                      temporaries) per millisecond (default 16); a
 *                      replacement swaps the sizes of two entries, so
 *                      that every size class keeps its bytes (below)
 *   sawtooth [K]       "step" is a tick: add 1 MiB (256 blocks of 4088
 *                      bytes) to a cache, except that every K-th tick
 *                      (default 3) frees the whole cache instead, so the
 *                      cache never grows more than K-1 ticks in a row
 *   fragment [STEPS]   in-use bytes flat, free bytes growing: "step"
 *                      frees 64 blocks of 8 KiB that sit between live
 *                      blocks (holes no later request fits in) and
 *                      allocates as much again in a size class of its own
 *                      (10-112 KiB, below the mmap threshold); STEPS
 *                      (default 8, at most 15) steps are prepared
 *
 * Protocol on stdout, one line each: "ready SCENARIO ..." once set up,
 * then an answer per command. Commands on stdin, one per line:
 *   again        print glibc's mallinfo2() as heapgen does
 *   step [N]     what the scenario says above, then "stepped ..."
 *   timer MS N   sizeclass, thread: leak N blocks every MS ms from now;
 *                fragment: one step every MS ms until the steps run out
 *                (and with "thread", the worker leaks N blocks each time)
 *                (MS 0 stops); answers "timer on" or "timer off"
 *   quit         exit(0); so does end of file (not when unattended)
 * Anything else is answered with "error ...". No stdio (it allocates):
 * output is write(2) of snprintf'ed stack buffers. Dies with its parent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only: no FILE is ever touched */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_NAME "leaky"
#include "target_report.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* glibc's HEAP_MAX_SIZE on 64-bit: non-main heaps are aligned to it. */
#define HEAP_ALIGN (64 * MIB)

/* sizeclass, thread: chunk 1168 = 1160 + 8, rounded up to 16 */
#define LEAK_REQUEST 1160

static void *
xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("malloc failed");
	/* write every byte, as a program filling its data would */
	memset(p, 0x5a, size);
	return p;
}

/* xorshift64*, seeded: the same run every time */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static size_t
rng_range(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)((rng_next(s) >> 11) % (hi - lo + 1));
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

/* ---- sizeclass and thread: leak blocks of one size ------------------ */

/*
 * Kept so that they stay reachable (a debugger can look at them); past
 * the end of the table they are simply lost, which is a leak too.
 */
#define KEPT_MAX 262144
static void *kept[KEPT_MAX];
static size_t nkept;

static void
leak_blocks(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = xmalloc(LEAK_REQUEST);

		if (nkept < KEPT_MAX)
			kept[nkept++] = p;
	}
}

/* thread: the worker leaks what the main thread asks for */
static int threaded;
static pthread_t worker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static long requested, served;
static uintptr_t anchor_addr;

static void *
leak_worker(void *arg)
{
	void *anchor;

	(void)arg;
	/* the first malloc of this thread makes its arena */
	anchor = xmalloc(64);
	pthread_mutex_lock(&lock);
	anchor_addr = (uintptr_t)anchor;
	pthread_cond_broadcast(&done);
	for (;;) {
		long n;

		while (requested == served)
			pthread_cond_wait(&wake, &lock);
		n = requested - served;
		pthread_mutex_unlock(&lock);
		leak_blocks(n);
		pthread_mutex_lock(&lock);
		served += n;
		pthread_cond_broadcast(&done);
	}
	return NULL;
}

/* Leak n blocks, in the worker when threaded; wait for it when asked. */
static void
leak(long n, int wait)
{
	long want;

	if (!threaded) {
		leak_blocks(n);
		return;
	}
	pthread_mutex_lock(&lock);
	requested += n;
	want = requested;
	pthread_cond_signal(&wake);
	while (wait && served < want)
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
}

static void
start_worker(void)
{
	threaded = 1;
	if (pthread_create(&worker, NULL, leak_worker, NULL))
		die("pthread_create failed");
	pthread_mutex_lock(&lock);
	while (!anchor_addr)
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
}

/* ---- cache: steady, with churn, in a background thread --------------- */

/*
 * Steady means steady per size class, not only in total. Replacing an
 * entry with a block of a fresh random size makes the count of each size
 * class a random walk around its mean (an urn model: binomial, 4 % of
 * the ~500 entries of a quarter-octave class for one standard
 * deviation), and with about one replacement per entry between two
 * samples 250 ms apart, three rises of more than 2 % in a row come
 * often: a false leak in about one 8-sample check in ten (3 of 30
 * measured; 13 to 17 % in a simulation of that loop). So a replacement
 * frees two entries and allocates each again with the other's size: the
 * multiset of sizes never changes, hence neither do the bytes of any
 * size class, however the classes are cut, while blocks still move and
 * change size. What a sample can catch in flight is one entry freed and
 * not yet allocated again, one allocated with the other's size, or one
 * temporary: one chunk of at most 4112 bytes more or less in a class, so
 * a rise of at most 8224 bytes between two samples, which is more than
 * 2 % only of a class below 402 KiB, far under the 1 MiB a leak needs.
 */
#define CACHE_N 4096
#define CACHE_MIN 64
#define CACHE_MAX 4096
static void *cache[CACHE_N];
static size_t cache_size[CACHE_N];
static long cache_ops = 16;
static int cache_ready;

/* Free entry j and allocate it again with size bytes. */
static void
cache_set(size_t j, size_t size)
{
	free(cache[j]);
	cache[j] = xmalloc(size);
	cache_size[j] = size;
}

static void *
cache_worker(void *arg)
{
	uint64_t seed = 0x1234567;
	unsigned long round = 0;

	(void)arg;
	for (size_t i = 0; i < CACHE_N; i++) {
		cache_size[i] = rng_range(&seed, CACHE_MIN, CACHE_MAX);
		cache[i] = xmalloc(cache_size[i]);
	}
	pthread_mutex_lock(&lock);
	cache_ready = 1;
	pthread_cond_broadcast(&done);
	pthread_mutex_unlock(&lock);
	for (;;) {
		struct timespec ms = {0, 1000000};

		for (long k = 0; k < cache_ops; k++) {
			size_t i = rng_range(&seed, 0, CACHE_N - 1);
			size_t j = rng_range(&seed, 0, CACHE_N - 1);
			size_t si = cache_size[i], sj = cache_size[j];
			void *tmp;

			/* replace two entries, their sizes swapped */
			cache_set(i, sj);
			cache_set(j, si);
			/* and a temporary, as a request handler would */
			tmp = xmalloc(rng_range(&seed, 16, CACHE_MAX));
			free(tmp);
		}
		/* now and then a bigger temporary buffer */
		if (++round % 16 == 0)
			free(xmalloc(rng_range(&seed, 16 * KIB, 64 * KIB)));
		nanosleep(&ms, NULL);
	}
	return NULL;
}

static void
start_cache(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, cache_worker, NULL))
		die("pthread_create failed");
	pthread_mutex_lock(&lock);
	while (!cache_ready)
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
}

/* ---- sawtooth: fills by 1 MiB a tick, dropped every K-th tick -------- */

#define SAW_BLOCKS 256
#define SAW_REQUEST 4088 /* chunk 4096 */
static void *saw[KEPT_MAX];
static size_t nsaw;
static long saw_k = 3, saw_tick;

static void
saw_step(void)
{
	saw_tick++;
	if (saw_tick % saw_k == 0) {
		for (size_t i = 0; i < nsaw; i++)
			free(saw[i]);
		nsaw = 0;
		sayf("stepped tick=%ld dropped\n", saw_tick);
		return;
	}
	for (size_t i = 0; i < SAW_BLOCKS && nsaw < KEPT_MAX; i++)
		saw[nsaw++] = xmalloc(SAW_REQUEST);
	sayf("stepped tick=%ld cached=%zu\n", saw_tick, nsaw * SAW_REQUEST);
}

/* ---- fragment: in-use flat, free growing ------------------------------ */

/*
 * The pool is pairs [pin, hole] of a 64-byte and an 8 KiB chunk, and one
 * more pin: every hole has live neighbours, so freeing it makes an
 * 8 KiB free chunk that cannot coalesce. Each step frees FRAG_HOLES of
 * them and allocates as many bytes in chunks of the next size in
 * frag_chunks[]: all larger than a hole (so no hole is ever reused:
 * the heap grows instead), each in a size class of its own (so no size
 * class grows twice), all below the 128 KiB mmap threshold. The new
 * chunks come from the top, and the last of them stays live at the top
 * end, so neither coalescing nor trimming gives anything back.
 */
#define FRAG_HOLES 64
#define FRAG_HOLE_REQUEST (8 * KIB - 8) /* chunk 8192 */
#define FRAG_PIN_REQUEST 56 /* chunk 64 */
static const size_t frag_chunks[] = {
	10240, 12288, 14336, 16384, 20480, 24576, 28672,  32768,
	40960, 49152, 57344, 65536, 81920, 98304, 114688,
};
#define FRAG_MAX (ARRAY_SIZE(frag_chunks) * FRAG_HOLES)
static void *frag_pins[FRAG_MAX + 1], *frag_holes[FRAG_MAX];
static void *frag_new[FRAG_MAX];
static long frag_steps = 8, frag_done;
static size_t frag_nnew;

static void
frag_setup(void)
{
	size_t n = (size_t)frag_steps * FRAG_HOLES;

	for (size_t i = 0; i < n; i++) {
		frag_pins[i] = xmalloc(FRAG_PIN_REQUEST);
		frag_holes[i] = xmalloc(FRAG_HOLE_REQUEST);
	}
	frag_pins[n] = xmalloc(FRAG_PIN_REQUEST);
}

static void
frag_step(void)
{
	size_t chunk, bytes = FRAG_HOLES * (FRAG_HOLE_REQUEST + 8), n;

	if (frag_done >= frag_steps) {
		say("error no more steps prepared\n");
		return;
	}
	chunk = frag_chunks[frag_done];
	for (size_t i = 0; i < FRAG_HOLES; i++) {
		size_t k = (size_t)frag_done * FRAG_HOLES + i;

		free(frag_holes[k]);
		frag_holes[k] = NULL;
	}
	/* as many bytes again, to the nearest chunk */
	n = (bytes + chunk / 2) / chunk;
	for (size_t i = 0; i < n && frag_nnew < FRAG_MAX; i++)
		frag_new[frag_nnew++] = xmalloc(chunk - 8);
	frag_done++;
	sayf("stepped freed=%zu allocated=%zu chunk=%zu\n", bytes, n * chunk,
	     chunk);
}

/* ---- commands ---------------------------------------------------------- */

enum scenario { SIZECLASS, THREAD, CACHE, SAWTOOTH, FRAGMENT };
static enum scenario scen;
static long timer_ms, timer_n;
static int64_t next_tick;
static int unattended;

static void
set_timer(long ms, long n)
{
	timer_ms = ms;
	timer_n = n;
	next_tick = now_ms() + ms;
}

static void
command(char *line)
{
	char *arg = strchr(line, ' ');
	long n = 1, m = 0;

	if (arg) {
		*arg++ = '\0';
		n = parse_num(strtok(arg, " "));
		m = parse_num(strtok(NULL, " "));
	}
	if (!strcmp(line, "again")) {
		report_mallinfo();
	} else if (!strcmp(line, "step") && n >= 0) {
		switch (scen) {
		case SIZECLASS:
		case THREAD:
			leak(n, 1);
			sayf("stepped leaked=%ld chunk=%d\n", n,
			     LEAK_REQUEST + 8);
			break;
		case SAWTOOTH:
			saw_step();
			break;
		case FRAGMENT:
			frag_step();
			break;
		default:
			say("error this scenario has no steps\n");
		}
	} else if (!strcmp(line, "timer") && n >= 0 && m >= 0 &&
		   (scen == SIZECLASS || scen == THREAD || scen == FRAGMENT)) {
		set_timer(n, m);
		say(n ? "timer on\n" : "timer off\n");
	} else {
		say("error unknown command\n");
	}
}

/* The timer's ticks that are due; the poll timeout until the next. */
static int
run_timer(void)
{
	int64_t now;

	if (!timer_ms)
		return -1;
	now = now_ms();
	while (now >= next_tick) {
		if (scen == FRAGMENT) {
			if (frag_done < frag_steps)
				frag_step();
			if (threaded)
				leak(timer_n, 0);
		} else {
			leak(timer_n, 0);
		}
		next_tick += timer_ms;
	}
	return (int)(next_tick - now);
}

/* Serve commands from stdin (and the timer) until quit or end of file. */
static void __attribute__((noreturn)) serve(void)
{
	struct line_in in = {{0}, 0, 0};
	int in_open = 1;

	for (;;) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		int timeout = run_timer(), rc;

		if (!in_open) {
			if (timeout < 0)
				pause();
			else
				poll(NULL, 0, timeout);
			continue;
		}
		rc = poll(&p, 1, timeout);
		if (rc < 0 && errno != EINTR)
			die("poll failed");
		if (rc <= 0)
			continue;
		if (line_in_read(&in, command)) {
			if (!unattended)
				exit(0);
			in_open = 0;
		}
	}
}

static void __attribute__((noreturn)) usage(void)
{
	static const char text[] =
		"usage: leaky sizeclass [MS N] | thread [MS N] | cache [OPS] |\n"
		"             sawtooth [K] | fragment [STEPS [thread]]\n";

	write_all(2, text, strlen(text));
	exit(2);
}

int
main(int argc, char **argv)
{
	long a = argc > 2 ? parse_num(argv[2]) : -1;
	long b = argc > 3 ? parse_num(argv[3]) : -1;

	die_with_parent();
	if (argc < 2 || argc > 4)
		usage();
	if (!strcmp(argv[1], "sizeclass") || !strcmp(argv[1], "thread")) {
		scen = strcmp(argv[1], "thread") ? SIZECLASS : THREAD;
		if (argc == 3 || (argc == 4 && (a <= 0 || b < 0)))
			usage();
		if (scen == THREAD)
			start_worker();
		if (argc == 4) {
			unattended = 1;
			set_timer(a, b);
			serve();
		}
		if (scen == THREAD)
			sayf("ready thread heap=%#lx chunk=%d\n",
			     (unsigned long)(anchor_addr & ~(HEAP_ALIGN - 1)),
			     LEAK_REQUEST + 8);
		else
			sayf("ready sizeclass chunk=%d\n", LEAK_REQUEST + 8);
	} else if (!strcmp(argv[1], "cache") && argc <= 3) {
		scen = CACHE;
		if (argc == 3 && a <= 0)
			usage();
		if (argc == 3)
			cache_ops = a;
		start_cache();
		sayf("ready cache entries=%d\n", CACHE_N);
	} else if (!strcmp(argv[1], "sawtooth") && argc <= 3) {
		scen = SAWTOOTH;
		if (argc == 3 && a <= 0)
			usage();
		if (argc == 3)
			saw_k = a;
		sayf("ready sawtooth k=%ld fill=%d\n", saw_k,
		     SAW_BLOCKS * SAW_REQUEST);
	} else if (!strcmp(argv[1], "fragment") &&
		   (argc <= 3 || !strcmp(argv[3], "thread"))) {
		scen = FRAGMENT;
		if (argc >= 3 && (a <= 0 || a > (long)ARRAY_SIZE(frag_chunks)))
			usage();
		if (argc >= 3)
			frag_steps = a;
		/* with "thread", a worker leaks in its own arena meanwhile */
		if (argc == 4)
			start_worker();
		frag_setup();
		sayf("ready fragment steps=%ld hole=%zu holes_per_step=%d\n",
		     frag_steps, FRAG_HOLE_REQUEST + 8, FRAG_HOLES);
	} else {
		usage();
	}
	serve();
}
