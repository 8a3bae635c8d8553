/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * threadchurn.c - test target: threads come and go all the time.
 *
 * Usage: threadchurn [SPAWNERS]     (default 4)
 *
 * SPAWNER threads create short-lived threads without pause: some joinable
 * (each spawner keeps up to four and joins the oldest), some detached (at
 * most MAX_DETACHED alive at once in the whole process). Every thread,
 * spawners included, increments one shared global counter in a loop while
 * it is alive; a short-lived thread also mallocs and frees a little, so
 * that thread creation and exit meet malloc (tcache setup and shutdown).
 * When every thread of the process is stopped, the counter stands still;
 * a thread that a stop-the-world missed, or one created during the stop
 * and not stopped, makes it move.
 *
 * Protocol on stdout, one line each: "ready counter_addr=0x..." once the
 * spawners run: the address of the counter (an unsigned long) in this
 * process, for process_vm_readv(). Commands on stdin, one per line:
 *   counter   "counter N": the counter's value
 *   again     "alive" (what target_check_unharmed() asks)
 *   quit      exit(0); so does end of file
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
#include <sys/prctl.h>
#include <unistd.h>

#include "target_io.h"

#define MAX_SPAWNERS 32
#define MAX_DETACHED 32
#define KEEP 4 /* joinable threads per spawner */

/* The counter the tests read from the outside. */
unsigned long churn_counter;
static unsigned long detached_alive;



static void __attribute__((noreturn)) die(const char *msg)
{
	write_all(2, "threadchurn: ", 13);
	write_all(2, msg, strlen(msg));
	write_all(2, "\n", 1);
	_exit(1);
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void
bump(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		__atomic_fetch_add(&churn_counter, 1, __ATOMIC_RELAXED);
}

struct job {
	unsigned long spins;
	size_t alloc;
	int detached;
};

static void *
short_lived(void *arg)
{
	struct job j = *(struct job *)arg;
	char *p;

	free(arg);
	p = malloc(j.alloc);
	if (p)
		memset(p, 0x33, j.alloc < 64 ? j.alloc : 64);
	bump(j.spins);
	free(p);
	if (j.detached)
		__atomic_fetch_sub(&detached_alive, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *
spawner(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	pthread_t keep[KEEP];
	pthread_attr_t joinable, detached;
	unsigned nkeep = 0, oldest = 0;

	if (pthread_attr_init(&joinable) || pthread_attr_init(&detached) ||
	    pthread_attr_setstacksize(&joinable, 256 * 1024) ||
	    pthread_attr_setstacksize(&detached, 256 * 1024) ||
	    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED))
		die("pthread_attr failed");
	for (;;) {
		uint64_t r = rng_next(&s);
		struct job *j = malloc(sizeof(*j));
		pthread_t t;

		if (!j)
			die("malloc failed");
		j->spins = 100 + (r >> 20) % 20000;
		j->alloc = 1 + (r >> 40) % 2048;
		j->detached = (r & 1) &&
			      __atomic_load_n(&detached_alive,
					      __ATOMIC_RELAXED) < MAX_DETACHED;
		if (!j->detached && nkeep == KEEP) {
			pthread_join(keep[oldest], NULL);
			nkeep--;
			oldest = (oldest + 1) % KEEP;
		}
		if (j->detached)
			__atomic_fetch_add(&detached_alive, 1,
					   __ATOMIC_RELAXED);
		if (pthread_create(&t, j->detached ? &detached : &joinable,
				   short_lived, j)) {
			/* Out of threads for a moment: just try again. */
			if (j->detached)
				__atomic_fetch_sub(&detached_alive, 1,
						   __ATOMIC_RELAXED);
			free(j);
		} else if (!j->detached) {
			keep[(oldest + nkeep) % KEEP] = t;
			nkeep++;
		}
		bump(200 + (r >> 8) % 2000);
	}
	return NULL;
}

static void
command(char *line)
{
	char buf[64];
	int n;

	if (!strcmp(line, "counter")) {
		n = snprintf(buf, sizeof(buf), "counter %lu\n",
			     __atomic_load_n(&churn_counter, __ATOMIC_RELAXED));
		write_all(1, buf, (size_t)n);
	} else if (!strcmp(line, "again")) {
		say("alive\n");
	} else {
		say("error unknown command\n");
	}
}

int
main(int argc, char **argv)
{
	long nspawners = 4, i;
	char buf[256];
	int n;

	die_with_parent();

	if (argc > 1) {
		char *end;

		nspawners = strtol(argv[1], &end, 10);
		if (*end || nspawners < 1 || nspawners > MAX_SPAWNERS) {
			write_all(2, "usage: threadchurn [SPAWNERS]\n", 30);
			exit(2);
		}
	}
	for (i = 0; i < nspawners; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, spawner, (void *)(uintptr_t)i))
			die("pthread_create failed");
	}
	n = snprintf(buf, sizeof(buf), "ready counter_addr=%p\n",
		     (void *)&churn_counter);
	write_all(1, buf, (size_t)n);

	serve_commands(command);
}
