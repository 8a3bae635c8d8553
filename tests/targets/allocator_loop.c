/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * allocator_loop.c - test target for allocation sampling: worker threads
 * that, on command, call the allocation functions in a known sequence
 * from one named function, or storm malloc/free without pause.
 *
 * Usage: allocator_loop [THREADS]          (default 2 workers, at most 8)
 *        allocator_loop exit               (exits 0 at once: forkstorm)
 *
 * Protocol on stdout, one line each. First, once every worker waits:
 *   ready pid=P seq_fn=0xADDR tids=T1,T2,...
 * seq_fn is the address of alloc_sequence(), the function that makes
 * every call of "seq" (the return address of each call points into it).
 * Commands on stdin, one per line:
 *   seq       every worker runs alloc_sequence() once, at the same time:
 *             100 x malloc(4242), 50 x calloc(7, 100), 20 x realloc of
 *             the first 20 malloc results to 9000, 10 x posix_memalign
 *             (64, 3333) into a local variable. Then, one line per call:
 *               ptr tid=T fn=malloc size=4242 ptr=0x... old=0x0
 *             then everything is freed and "done seq" follows.
 *   storm     workers loop malloc(64..4096)/free until "calm" ("ok")
 *   forkstorm the same, and after every 64 calls a worker creates a
 *             process and waits for it: in turn a fork() whose child
 *             calls malloc and free and exits 0, and a posix_spawn() of
 *             this program with the argument "exit" (a vfork, then an
 *             exec) ("ok")
 *   forks     "forks N bad M last S": processes created and waited for,
 *             and of them those that did not exit 0 (killed by a signal:
 *             one of our breakpoints, say); S is the last bad one's wait
 *             status (-1: not created), plus 0x10000 for a posix_spawn
 *   reallocstorm  the same with realloc(NULL, n) for malloc: in glibc
 *             2.36 a tail call (`jmp __libc_malloc`) from realloc's
 *             entry, its frame popped ("ok")
 *   calm      stop the storm ("ok")
 *   progress  "progress N": storm iterations so far, all workers
 *   signals   "signals N": SIGUSR1 signals handled so far
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
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target_io.h"

#define MAX_WORKERS 8
#define N_MALLOC 100
#define N_CALLOC 50
#define N_REALLOC 20
#define N_MEMALIGN 10
#define N_CALLS (N_MALLOC + N_CALLOC + N_REALLOC + N_MEMALIGN)

struct call {
	const char *fn;
	size_t size;
	void *ptr, *old;
	int owned; /* ptr is still ours to free */
};

struct worker {
	pthread_t th;
	pid_t tid;
	struct call calls[N_CALLS];
	unsigned long progress;
	char pad[64];
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 2;
static unsigned long usr1_count;
static unsigned long forks, forks_bad;
static int forks_last_bad; /* a wait status, or -1: not created */
static char arg0[] = "allocator_loop", arg1[] = "exit";
static char *self_argv[] = {arg0, arg1, NULL};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned generation, finished, waiting;
static int storming;

static void __attribute__((noreturn)) die(const char *msg)
{
	write_all(2, "allocator_loop: ", 16);
	write_all(2, msg, strlen(msg));
	write_all(2, "\n", 1);
	_exit(1);
}

static void
on_usr1(int sig)
{
	(void)sig;
	__atomic_fetch_add(&usr1_count, 1, __ATOMIC_RELAXED);
}

/* The named function every call of "seq" comes from. */
static void __attribute__((noinline)) alloc_sequence(struct worker *wk)
{
	struct call *c = wk->calls;
	int i;

	for (i = 0; i < N_MALLOC; i++, c++)
		*c = (struct call){"malloc", 4242, malloc(4242), NULL, 1};
	for (i = 0; i < N_CALLOC; i++, c++)
		*c = (struct call){"calloc", 700, calloc(7, 100), NULL, 1};
	for (i = 0; i < N_REALLOC; i++, c++) {
		/* Printed after the call: keep it as a number, not a pointer. */
		uintptr_t old = (uintptr_t)wk->calls[i].ptr;

		c->ptr = realloc(wk->calls[i].ptr, 9000);
		c->fn = "realloc";
		c->size = 9000;
		c->old = (void *)old;
		c->owned = 1;
		wk->calls[i].owned = 0; /* moved or grown: c owns it now */
	}
	for (i = 0; i < N_MEMALIGN; i++, c++) {
		void *p = NULL;

		if (posix_memalign(&p, 64, 3333))
			p = NULL;
		*c = (struct call){"posix_memalign", 3333, p, NULL, 1};
	}
}

static void
storm_once(struct worker *wk, unsigned *x, int tail)
{
	/* volatile: GCC would call realloc(NULL, n) malloc(n) */
	void *volatile none = NULL;
	void *p;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	p = tail ? realloc(none, 64 + *x % 4032) : malloc(64 + *x % 4032);
	if (!p)
		die("out of memory");
	*(volatile char *)p = 1;
	free(p);
	__atomic_fetch_add(&wk->progress, 1, __ATOMIC_RELAXED);
}

/* One process created and waited for (forkstorm). */
static void
fork_once(unsigned *n)
{
	int st = 0;
	pid_t c;

	if ((*n)++ % 2) {
		if (posix_spawn(&c, "/proc/self/exe", NULL, NULL, self_argv,
				NULL))
			c = -1;
	} else {
		c = fork();
		if (c == 0) {
			void *p = malloc(100);

			free(p);
			_exit(p ? 0 : 3);
		}
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		st = -1;
	__atomic_fetch_add(&forks, 1, __ATOMIC_RELAXED);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		__atomic_fetch_add(&forks_bad, 1, __ATOMIC_RELAXED);
		/* 0x10000: a posix_spawn (n was odd) */
		__atomic_store_n(&forks_last_bad, *n % 2 ? st : st | 0x10000,
				 __ATOMIC_RELAXED);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	unsigned seen = 0, x = 2463534242u + (unsigned)(wk - workers), nf = 0;
	int mode;

	wk->tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&lock);
	for (;;) {
		waiting++;
		pthread_cond_broadcast(&cond);
		while (generation == seen && !storming)
			pthread_cond_wait(&cond, &lock);
		waiting--;
		if (generation != seen) {
			seen = generation;
			pthread_mutex_unlock(&lock);
			alloc_sequence(wk);
			pthread_mutex_lock(&lock);
			finished++;
			pthread_cond_broadcast(&cond);
			continue;
		}
		/* Storm until calm, checking the flag every 64 calls. */
		pthread_mutex_unlock(&lock);
		while ((mode = __atomic_load_n(&storming, __ATOMIC_RELAXED))) {
			for (int i = 0; i < 64; i++)
				storm_once(wk, &x, mode == 3);
			if (mode == 2)
				fork_once(&nf);
		}
		pthread_mutex_lock(&lock);
	}
	return NULL;
}

static void
print_calls(void)
{
	char buf[160];

	for (int w = 0; w < nworkers; w++)
		for (int i = 0; i < N_CALLS; i++) {
			const struct call *c = &workers[w].calls[i];
			int n = snprintf(
				buf, sizeof(buf),
				"ptr tid=%d fn=%s size=%zu ptr=%p old=%p\n",
				(int)workers[w].tid, c->fn, c->size, c->ptr,
				c->old);

			write_all(1, buf, (size_t)n);
		}
	for (int w = 0; w < nworkers; w++)
		for (int i = 0; i < N_CALLS; i++) {
			if (workers[w].calls[i].owned)
				free(workers[w].calls[i].ptr);
			workers[w].calls[i].owned = 0;
		}
	say("done seq\n");
}

static void
run_seq(void)
{
	pthread_mutex_lock(&lock);
	finished = 0;
	generation++;
	pthread_cond_broadcast(&cond);
	while (finished < (unsigned)nworkers)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	print_calls();
}

static void
set_storm(int on)
{
	pthread_mutex_lock(&lock);
	__atomic_store_n(&storming, on, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	say("ok\n");
}

static int
read_line(char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = read(0, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	char buf[256], line[64];
	int n;

	if (argc > 1 && !strcmp(argv[1], "exit"))
		_exit(0); /* forkstorm's posix_spawn() */
	die_with_parent();
	if (argc > 1)
		nworkers = atoi(argv[1]);
	if (nworkers < 1 || nworkers > MAX_WORKERS)
		die("THREADS must be 1..8");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < nworkers; i++)
		if (pthread_create(&workers[i].th, NULL, worker_main,
				   &workers[i]))
			die("pthread_create failed");
	pthread_mutex_lock(&lock);
	while (waiting < (unsigned)nworkers)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	n = snprintf(buf, sizeof(buf),
		     "ready pid=%d seq_fn=%p tids=", (int)getpid(),
		     (void *)alloc_sequence);
	for (int i = 0; i < nworkers; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%d",
			      i ? "," : "", (int)workers[i].tid);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	write_all(1, buf, (size_t)n);

	while (!read_line(line, sizeof(line))) {
		if (!strcmp(line, "seq")) {
			run_seq();
		} else if (!strcmp(line, "storm")) {
			set_storm(1);
		} else if (!strcmp(line, "forkstorm")) {
			set_storm(2);
		} else if (!strcmp(line, "reallocstorm")) {
			set_storm(3);
		} else if (!strcmp(line, "forks")) {
			n = snprintf(
				buf, sizeof(buf),
				"forks %lu bad %lu last %#x\n",
				__atomic_load_n(&forks, __ATOMIC_RELAXED),
				__atomic_load_n(&forks_bad, __ATOMIC_RELAXED),
				__atomic_load_n(&forks_last_bad,
						__ATOMIC_RELAXED));
			write_all(1, buf, (size_t)n);
		} else if (!strcmp(line, "calm")) {
			set_storm(0);
		} else if (!strcmp(line, "progress")) {
			unsigned long sum = 0;

			for (int i = 0; i < nworkers; i++)
				sum += __atomic_load_n(&workers[i].progress,
						       __ATOMIC_RELAXED);
			n = snprintf(buf, sizeof(buf), "progress %lu\n", sum);
			write_all(1, buf, (size_t)n);
		} else if (!strcmp(line, "signals")) {
			n = snprintf(
				buf, sizeof(buf), "signals %lu\n",
				__atomic_load_n(&usr1_count, __ATOMIC_RELAXED));
			write_all(1, buf, (size_t)n);
		} else if (!strcmp(line, "again")) {
			say("alive\n");
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			say("error unknown command\n");
		}
	}
	_exit(0);
}
