/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * threads.c - benchmark target for stop latency: N threads, then idle.
 *
 *   threads N idle|spin
 *
 * Starts N threads besides the main one; each allocates a little (so that
 * thread arenas exist) and then either blocks (idle: in a futex wait, the
 * way most threads of a server spend their time) or computes without
 * calling malloc (spin: always runnable, so a stop has to wait for the CPU).
 * Once every thread is running it prints "ready threads=N\n" and blocks
 * reading stdin: "quit" or end of file ends it. Not sanitized, no stdio,
 * dies with its parent (PR_SET_PDEATHSIG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../tests/targets/target_io.h"

static pthread_barrier_t started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int spin;
static volatile unsigned long sink;

static void *
thread_main(void *arg)
{
	void *keep[8];

	for (unsigned i = 0; i < 8; i++) {
		keep[i] = malloc(48u << i);
		if (keep[i])
			memset(keep[i], (int)(long)arg, 16);
	}
	pthread_barrier_wait(&started);
	if (spin) {
		for (unsigned long x = 0;; x++)
			sink = x;
	}
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return keep[0];
}

int
main(int argc, char **argv)
{
	unsigned n;
	char line[64];
	pthread_attr_t attr;

	die_with_parent();
	if (argc != 3)
		return 64;
	n = (unsigned)strtoul(argv[1], NULL, 10);
	spin = !strcmp(argv[2], "spin");
	if (!n || (!spin && strcmp(argv[2], "idle")))
		return 64;
	pthread_barrier_init(&started, NULL, n + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (unsigned i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, thread_main,
				   (void *)(long)(i + 1)))
			return 2;
	}
	pthread_barrier_wait(&started);
	snprintf(line, sizeof(line), "ready threads=%u\n", n);
	say(line);
	for (;;) {
		ssize_t r = read(0, line, sizeof(line));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !strncmp(line, "quit", 4))
			_exit(0);
	}
}
