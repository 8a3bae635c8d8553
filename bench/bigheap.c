/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bigheap.c - benchmark target: one big main-arena heap, then idle.
 *
 *   bigheap [--mib M] [--chunks N] [--free-every K] [--seed S]
 *
 * Allocates chunks of mixed small sizes (chunk sizes spread evenly over
 * 32 .. 2 * M MiB / N - 32 bytes, so N chunks make about M MiB; defaults:
 * 1024 MiB in about 5,000,000 chunks) until M MiB are in use, writes every
 * chunk, then, if K > 0, frees every K-th chunk and makes one largebin
 * request so that glibc consolidates the fastbins and sorts the unsorted
 * bin, as any long-running program's heap would be. Everything is in the
 * main arena ([heap], grown with brk); the list of chunks to free lives in
 * one mmapped chunk that is freed before the target reports ready.
 *
 * Then it prints one line
 *   ready chunks=N bytes=B freed=F
 * (B: chunk bytes allocated, headers included) and blocks reading stdin:
 * "quit" or end of file ends it. Not sanitized, no stdio (write(2) only),
 * and it dies with its parent (PR_SET_PDEATHSIG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../tests/targets/target_io.h"

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

int
main(int argc, char **argv)
{
	unsigned long long mib = arg_num(argc, argv, "--mib", 1024);
	unsigned long long nchunks = arg_num(argc, argv, "--chunks", 5000000);
	unsigned long long every = arg_num(argc, argv, "--free-every", 0);
	uint64_t seed = arg_num(argc, argv, "--seed", 0x9e3779b97f4a7c15ull);
	unsigned long long want, total = 0, n = 0, nfree = 0, cap, steps;
	void **tofree = NULL;
	char line[160];

	die_with_parent();
	if (!nchunks || !mib)
		return 64;
	want = mib << 20;
	/* average chunk size want / nchunks: chunk sizes 32 .. 2 * avg - 32 */
	steps = ((2 * (want / nchunks) - 32) - 32) / 16 + 1;
	if (steps < 1 || 2 * (want / nchunks) < 64)
		steps = 1;
	cap = every ? nchunks / every + nchunks / (4 * every) + 16 : 0;
	if (cap) {
		tofree = malloc(cap * sizeof(*tofree)); /* one mmapped chunk */
		if (!tofree)
			return 2;
	}
	while (total < want) {
		uint64_t cs = 32 + 16 * (xorshift(&seed) % steps);
		char *p = malloc(cs - 8); /* request cs - 8: chunk size cs */

		if (!p)
			return 2;
		memset(p, 0x5a, cs - 8);
		total += cs;
		n++;
		if (every && n % every == 0 && nfree < cap)
			tofree[nfree++] = p;
	}
	for (unsigned long long i = 0; i < nfree; i++)
		free(tofree[i]);
	free(tofree);
	if (nfree) {
		/*
		 * A largebin request consolidates the fastbins and sorts the
		 * unsorted bin into the small bins (malloc.c _int_malloc).
		 */
		void *big = malloc(4000);

		if (!big)
			return 2;
		memset(big, 1, 4000);
	}
	snprintf(line, sizeof(line),
		 "ready chunks=%llu bytes=%llu freed=%llu\n", n, total, nfree);
	say(line);

	for (;;) {
		ssize_t r = read(0, line, sizeof(line));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !strncmp(line, "quit", 4))
			return 0;
	}
}
