/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * leaker.c - leakattach-leaker, the child of `leakattach simulate`: a
 * plain glibc program that leaks on a schedule. Never built with
 * sanitizers (they replace glibc's malloc, the very thing to observe).
 *
 * Usage: leakattach-leaker SIZE_BYTES COUNT INTERVAL_S
 *
 * Prints "ready", then every INTERVAL_S seconds (on a fixed schedule from
 * "ready", so it never drifts) allocates and fills one block of
 * SIZE_BYTES, keeps it, and prints "leaked K". Then it obeys its stdin:
 * "free" frees every block and prints "freed"; "quit" or end of file ends
 * it. It dies with its parent (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void
usage(void)
{
	fputs("usage: leakattach-leaker SIZE_BYTES COUNT INTERVAL_S\n", stderr);
	exit(64);
}

int
main(int argc, char **argv)
{
	struct timespec t0, at;
	unsigned long long size;
	unsigned long count;
	double interval;
	char **blocks, line[64], *end;

	if (argc != 4)
		usage();
	errno = 0;
	size = strtoull(argv[1], &end, 10);
	if (errno || *end || !size)
		usage();
	count = strtoul(argv[2], &end, 10);
	if (errno || *end || count > 100000)
		usage();
	interval = strtod(argv[3], &end);
	if (*end || !(interval >= 0))
		usage();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1; /* the parent is already gone */
	blocks = calloc(count ? count : 1, sizeof(*blocks));
	if (!blocks)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("ready\n");
	for (unsigned long k = 1; k <= count; k++) {
		double when = interval * (double)k;

		at = t0;
		at.tv_sec += (time_t)when;
		at.tv_nsec += (long)((when - (double)(time_t)when) * 1e9);
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at,
				       NULL) == EINTR)
			;
		blocks[k - 1] = malloc(size);
		if (!blocks[k - 1]) {
			printf("out of memory\n");
			return 1;
		}
		/* touch every page: the leak shows in RSS too */
		memset(blocks[k - 1], (int)(k & 0xff) | 1, size);
		printf("leaked %lu\n", k);
	}
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "free\n")) {
			for (unsigned long k = 0; k < count; k++) {
				free(blocks[k]);
				blocks[k] = NULL;
			}
			printf("freed\n");
		} else if (!strcmp(line, "quit\n")) {
			break;
		}
	}
	free(blocks);
	return 0;
}
