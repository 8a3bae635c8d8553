/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bigheap.c - benchmark target: one big heap, then idle.
 *
 *   bigheap [--mib M] [--chunks N] [--free-every K] [--threads T] [--seed S]
 *
 * Allocates chunks of mixed small sizes (chunk sizes spread evenly over
 * 32 .. 2 * M MiB / N - 32 bytes, so N chunks make about M MiB; defaults:
 * 1024 MiB in about 5,000,000 chunks) until M MiB are in use, writes every
 * chunk, then, if K > 0, frees every K-th chunk and makes one largebin
 * request so that glibc consolidates the fastbins and sorts the unsorted
 * bin, as any long-running program's heap would be. Without --threads
 * everything is in the main arena ([heap], grown with brk). With
 * --threads T, T threads each build M / T MiB in N / T chunks the same way
 * in an arena of their own (glibc gives each new thread one while there
 * are fewer than 8 per core), in thread heaps of up to 64 MiB each, and
 * then stay blocked. The list of chunks to free lives in one mmapped chunk
 * per builder that is freed before the target reports ready.
 *
 * Then it prints one line
 *   ready chunks=N bytes=B freed=F threads=T
 * (B: chunk bytes allocated, headers included) and blocks reading stdin:
 * "quit" or end of file ends it. Not sanitized, no stdio (write(2) only),
 * and it dies with its parent (PR_SET_PDEATHSIG).
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
#include <unistd.h>

#include "../tests/targets/target_io.h"

#define MAX_THREADS 64

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static unsigned long long
arg_num(int argc, char **argv, const char *name, unsigned long long def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return strtoull(argv[i + 1], NULL, 0);
	return def;
}

/* One heap's worth: built by the main thread, or by each thread in its own. */
struct part {
	unsigned long long want, nchunks, every;
	uint64_t seed;
	unsigned long long n, total, nfree;
	int err;
};

static void
build(struct part *pt)
{
	unsigned long long cap, steps;
	void **tofree = NULL;

	/* average chunk size want / nchunks: chunk sizes 32 .. 2 * avg - 32 */
	steps = ((2 * (pt->want / pt->nchunks) - 32) - 32) / 16 + 1;
	if (steps < 1 || 2 * (pt->want / pt->nchunks) < 64)
		steps = 1;
	cap = pt->every ? pt->nchunks / pt->every +
				  pt->nchunks / (4 * pt->every) + 16
			: 0;
	if (cap) {
		tofree = malloc(cap * sizeof(*tofree)); /* one mmapped chunk */
		if (!tofree) {
			pt->err = 1;
			return;
		}
	}
	while (pt->total < pt->want) {
		uint64_t cs = 32 + 16 * (xorshift(&pt->seed) % steps);
		char *p = malloc(cs - 8); /* request cs - 8: chunk size cs */

		if (!p) {
			pt->err = 1;
			return;
		}
		memset(p, 0x5a, cs - 8);
		pt->total += cs;
		pt->n++;
		if (pt->every && pt->n % pt->every == 0 && pt->nfree < cap)
			tofree[pt->nfree++] = p;
	}
	for (unsigned long long i = 0; i < pt->nfree; i++)
		free(tofree[i]);
	free(tofree);
	if (pt->nfree) {
		/*
		 * A largebin request consolidates the fastbins and sorts the
		 * unsorted bin into the small bins (malloc.c _int_malloc).
		 */
		void *big = malloc(4000);

		if (!big) {
			pt->err = 1;
			return;
		}
		memset(big, 1, 4000);
	}
}

static pthread_barrier_t built;

/*
 * A thread's first malloc gives it an arena of its own while there are
 * fewer than 8 per core (malloc/arena.c arena_get2); it builds its part
 * there, then stays blocked so that its arena and heaps stay as they are.
 */
static void *
builder(void *arg)
{
	build(arg);
	pthread_barrier_wait(&built);
	for (;;)
		pause();
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long long mib = arg_num(argc, argv, "--mib", 1024);
	unsigned long long nchunks = arg_num(argc, argv, "--chunks", 5000000);
	unsigned long long every = arg_num(argc, argv, "--free-every", 0);
	unsigned long long nthreads = arg_num(argc, argv, "--threads", 0);
	uint64_t seed = arg_num(argc, argv, "--seed", 0x9e3779b97f4a7c15ull);
	unsigned long long n = 0, total = 0, nfree = 0;
	struct part parts[MAX_THREADS];
	unsigned nparts = nthreads ? (unsigned)nthreads : 1;
	char line[160];

	die_with_parent();
	if (!nchunks || !mib || nthreads > MAX_THREADS)
		return 64;
	for (unsigned i = 0; i < nparts; i++) {
		parts[i] = (struct part){
			.want = (mib << 20) / nparts,
			.nchunks = nchunks / nparts,
			.every = every,
			.seed = seed + 0x632be59bd9b4e019ull * i,
		};
		if (!parts[i].nchunks)
			return 64;
	}
	if (!nthreads) {
		build(&parts[0]);
	} else {
		pthread_barrier_init(&built, NULL, nparts + 1);
		for (unsigned i = 0; i < nparts; i++) {
			pthread_t th;

			if (pthread_create(&th, NULL, builder, &parts[i]))
				return 2;
		}
		pthread_barrier_wait(&built);
	}
	for (unsigned i = 0; i < nparts; i++) {
		if (parts[i].err)
			return 2;
		n += parts[i].n;
		total += parts[i].total;
		nfree += parts[i].nfree;
	}
	snprintf(line, sizeof(line),
		 "ready chunks=%llu bytes=%llu freed=%llu threads=%llu\n", n,
		 total, nfree, nthreads);
	say(line);

	for (;;) {
		ssize_t r = read(0, line, sizeof(line));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !strncmp(line, "quit", 4))
			return 0;
	}
}
