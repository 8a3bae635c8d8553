/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * churn.c - benchmark target for the monitor's slowdown: bench/storm's
 * malloc/free storm over a heap of realistic size.
 *
 *   churn [--threads N] [--mib M]        (defaults 4 and 100)
 *
 * Each thread first fills its own arena with M / N MiB of long-lived
 * blocks (the "cache" of a server), interleaved with 4096 hot blocks.
 * Then, as fast as it can, it frees a random hot block and allocates a new
 * one, and on every 1024th operation replaces a random long-lived block
 * as well, so that the whole heap slowly ages (at 10 M operations/s, the
 * 100 MiB default is renewed in about 30 s; faster, the sizes of the
 * long-lived blocks would walk randomly enough to look like growth to
 * `leakattach monitor`). Sizes are bench/storm's mix:
 * 70 % 16-128 bytes, 25 % 128-1024, 5 % 1024-4096 (about 330 bytes a chunk
 * on average). One free + one malloc is one operation; each thread counts
 * its own in a cache line of its own.
 *
 * Once every thread runs it prints
 *   ready threads=N chunks=C bytes=B
 * (B: usable bytes of the long-lived blocks). Then, on stdin:
 *   count   answers "count OPS NS\n": operations of all threads so far and
 *           CLOCK_MONOTONIC in ns at the time of the sum
 *   quit    (or end of file) ends it.
 * Not sanitized, no stdio (write(2) only), dies with its parent
 * (PR_SET_PDEATHSIG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../tests/targets/target_io.h"

#define HOT 4096
#define MAX_THREADS 256

struct counter {
	_Alignas(64) uint64_t ops;
	unsigned long long chunks, bytes; /* after the fill */
};

static struct counter counters[MAX_THREADS];
static pthread_barrier_t started;
static unsigned long long bytes_per_thread;

static size_t
mixed_size(uint64_t *s)
{
	uint64_t x = *s;
	unsigned r;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	r = (unsigned)(x % 100);
	x >>= 8;
	if (r < 70)
		return 16 + x % 113;
	if (r < 95)
		return 128 + x % 897;
	return 1024 + x % 3073;
}

/* A new block of a mixed size: its first 16 bytes written, or all. */
static char *
block(uint64_t *seed, int fill, int whole)
{
	size_t sz = mixed_size(seed);
	char *p = malloc(sz);

	if (!p)
		_exit(2);
	memset(p, fill, whole ? sz : 16);
	return p;
}

static void *
thread_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (id + 1);
	/* about 330 bytes a chunk: room for twice as many */
	size_t cap = (size_t)(bytes_per_thread / 165) + 16, n = 0;
	size_t stride = (size_t)(bytes_per_thread / 330 / HOT) + 1;
	char **hot = calloc(HOT, sizeof(*hot));
	char **cold = calloc(cap, sizeof(*cold));
	unsigned h = 0;
	uint64_t ops = 0;

	if (!hot || !cold)
		_exit(2);
	/* Fill: one hot block after every `stride` long-lived ones. */
	while (counters[id].bytes < bytes_per_thread && n < cap) {
		if (h < HOT && n >= h * stride) {
			hot[h++] = block(&seed, 1, 1);
			continue;
		}
		cold[n] = block(&seed, 2, 1);
		counters[id].bytes += malloc_usable_size(cold[n++]);
	}
	while (h < HOT)
		hot[h++] = block(&seed, 1, 1);
	counters[id].chunks = n + HOT;
	pthread_barrier_wait(&started);
	for (;;) {
		unsigned i = (unsigned)(seed >> 40) % HOT;

		free(hot[i]);
		hot[i] = block(&seed, (int)ops, 0);
		if (n && !(ops % 1024)) {
			size_t j = (size_t)(seed >> 20) % n;

			free(cold[j]);
			cold[j] = block(&seed, 3, 0);
		}
		__atomic_store_n(&counters[id].ops, ++ops, __ATOMIC_RELAXED);
	}
	return NULL;
}

static unsigned long long
arg_num(int argc, char **argv, const char *name, unsigned long long def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return strtoull(argv[i + 1], NULL, 0);
	return def;
}

int
main(int argc, char **argv)
{
	unsigned n = (unsigned)arg_num(argc, argv, "--threads", 4);
	unsigned long long mib = arg_num(argc, argv, "--mib", 100);
	unsigned long long chunks = 0, bytes = 0;
	char line[160];
	size_t len = 0;

	die_with_parent();
	if (!n || n > MAX_THREADS || mib > (1ull << 20))
		return 64;
	bytes_per_thread = (mib << 20) / n;
	pthread_barrier_init(&started, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_main, (void *)(uintptr_t)i))
			return 2;
	}
	pthread_barrier_wait(&started);
	for (unsigned i = 0; i < n; i++) {
		chunks += counters[i].chunks;
		bytes += counters[i].bytes;
	}
	snprintf(line, sizeof(line),
		 "ready threads=%u chunks=%llu bytes=%llu\n", n, chunks, bytes);
	say(line);
	for (;;) {
		ssize_t r = read(0, line + len, sizeof(line) - 1 - len);
		char *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(0);
		len += (size_t)r;
		line[len] = '\0';
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			if (!strcmp(line, "count")) {
				struct timespec ts;
				unsigned long long sum = 0;
				char out[96];

				for (unsigned i = 0; i < n; i++)
					sum += __atomic_load_n(
						&counters[i].ops,
						__ATOMIC_RELAXED);
				clock_gettime(CLOCK_MONOTONIC, &ts);
				snprintf(
					out, sizeof(out), "count %llu %llu\n",
					sum,
					(unsigned long long)ts.tv_sec *
							1000000000ull +
						(unsigned long long)ts.tv_nsec);
				say(out);
			} else if (!strcmp(line, "quit")) {
				_exit(0);
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
		if (len >= sizeof(line) - 1)
			len = 0; /* an overlong line: drop it */
	}
}
