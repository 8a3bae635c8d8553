/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * storm.c - benchmark target for the slowdown: an allocation-heavy program.
 *
 *   storm [NTHREADS]        (default 4)
 *
 * Each thread keeps 4096 live blocks and, as fast as it can, frees a
 * random one and allocates a new one of a mixed small size (70 % 16-128
 * bytes, 25 % 128-1024, 5 % 1024-4096), writing its first bytes. One
 * free + one malloc is one operation; each thread counts its own in a
 * cache line of its own.
 *
 * Once every thread runs it prints "ready threads=N\n". Then, on stdin:
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

#define SLOTS 4096
#define MAX_THREADS 256

struct counter {
	_Alignas(64) uint64_t ops;
};

static struct counter counters[MAX_THREADS];
static pthread_barrier_t started;

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

static void *
thread_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (id + 1);
	char **slot = calloc(SLOTS, sizeof(*slot));
	uint64_t ops = 0;

	if (!slot)
		_exit(2);
	for (unsigned i = 0; i < SLOTS; i++) {
		slot[i] = malloc(mixed_size(&seed));
		if (!slot[i])
			_exit(2);
		slot[i][0] = 1;
	}
	pthread_barrier_wait(&started);
	for (;;) {
		unsigned i = (unsigned)(seed >> 40) % SLOTS;
		size_t sz = mixed_size(&seed);

		free(slot[i]);
		slot[i] = malloc(sz);
		if (!slot[i])
			_exit(2);
		memset(slot[i], (int)ops, 16);
		__atomic_store_n(&counters[id].ops, ++ops, __ATOMIC_RELAXED);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4;
	char line[128];
	size_t len = 0;

	die_with_parent();
	if (!n || n > MAX_THREADS)
		return 64;
	pthread_barrier_init(&started, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_main, (void *)(uintptr_t)i))
			return 2;
	}
	pthread_barrier_wait(&started);
	snprintf(line, sizeof(line), "ready threads=%u\n", n);
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
