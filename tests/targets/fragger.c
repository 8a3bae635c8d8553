/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fragger.c - test target for `leakattach trim`: a fragmented heap whose
 * free memory only malloc_trim can give back, threads that check their
 * own registers across a blocking syscall, and (optionally) a thread that
 * holds the main arena's lock.
 *
 * Usage: fragger MODE [BLOCKERS]
 *   frag      build the heap, report it, serve commands
 *   lockheld  the same, then a thread calls malloc_stats() with stderr on
 *             a pipe that is full and never read: it blocks in write(2)
 *             holding main_arena's mutex. glibc's __malloc_stats (2.36,
 *             and every version since 2.4) takes each arena's lock,
 *             calls int_mallinfo and prints that arena's three lines with
 *             fprintf(stderr) before unlocking; stderr is unbuffered, so
 *             the first fprintf already writes.
 *   BLOCKERS  threads blocked in read(2) on pipes of their own, holding
 *             known values across the syscall in registers a function
 *             call would clobber (r8-r10, xmm) and in r12-r15; 0 to 8,
 *             default 2
 *
 * The heap: 64 MiB in blocks of 1100 B to 16 KiB (above the tcache and
 * fastbin sizes), every 8th kept and filled with a pattern, the others
 * freed, and a small block after the last one: the free memory lies in
 * bins between kept blocks, so trimming the top alone gives nothing
 * back, while malloc_trim(0)'s madvise of the free pages inside free
 * chunks does.
 *
 * Output, one line each, on stdout: "rss N" (VmRSS in bytes), then the
 * "mallinfo2 arena=N ..." line of heapgen.c; in lockheld mode "locked"
 * once the lock is held. Commands on stdin, one per line:
 *   again    check the kept blocks against their checksum (exit 3 when
 *            wrong), then the mallinfo2 line; while the lock is held,
 *            the line from before it (mallinfo2() would wait for the lock)
 *   rss      "rss N"
 *   verify   "verify ok" or "verify bad"
 *   wake     wake every blocker once: "wake ok N" when all N blockers
 *            found their registers intact, "wake bad M" (M bad values
 *            seen so far) or "wake timeout"
 *   signals  "signals N": SIGUSR1 handled so far
 *   tids     "tids MAIN B1 B2 ...": the thread ids, blockers after main
 *   release  (lockheld) let malloc_stats finish: "released"
 *   refrag   free the kept blocks, build a fresh fragmented heap, then
 *            the mallinfo2 line
 *   quit     exit(0); so does end of file
 * Anything else is answered with "error unknown command". No stdio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "target_io.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define HEAP_BYTES (64 * MIB)
#define KEEP_EVERY 8
#define MAX_BLOCKS 16384
#define MAX_BLOCKERS 8

static int err_fd = 2;

static void __attribute__((noreturn)) die(const char *msg)
{
	write_all(err_fd, "fragger: ", 9);
	write_all(err_fd, msg, strlen(msg));
	write_all(err_fd, "\n", 1);
	_exit(1);
}

/* ---- the heap -------------------------------------------------------- */

static uint64_t rng_s = 0x2545f4914f6cdd1dULL;

static uint64_t
rng_next(void)
{
	rng_s ^= rng_s >> 12;
	rng_s ^= rng_s << 25;
	rng_s ^= rng_s >> 27;
	return rng_s * 0x2545f4914f6cdd1dULL;
}

static void *blocks[MAX_BLOCKS];
static size_t sizes[MAX_BLOCKS];
static void *kept[MAX_BLOCKS / KEEP_EVERY + 2];
static size_t kept_size[MAX_BLOCKS / KEEP_EVERY + 2];
static size_t nkept;
static uint64_t kept_sum;

static uint64_t
pattern(size_t block, size_t word)
{
	return (block + 1) * 0x9e3779b97f4a7c15ULL ^
	       (word * 0xbf58476d1ce4e5b9ULL);
}

static uint64_t
checksum(void)
{
	uint64_t sum = 0;
	size_t i, w;

	for (i = 0; i < nkept; i++) {
		const uint64_t *p = kept[i];

		for (w = 0; w < kept_size[i] / 8; w++)
			sum = (sum << 7 | sum >> 57) ^ p[w];
	}
	return sum;
}

static void
keep(void *p, size_t size)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		w[i] = pattern(nkept, i);
	kept[nkept] = p;
	kept_size[nkept] = size;
	nkept++;
}

static void
build(void)
{
	size_t total = 0, n = 0, i;

	while (total < HEAP_BYTES && n < MAX_BLOCKS) {
		size_t size =
			1100 + (size_t)(rng_next() >> 11) % (16 * KIB - 1100);
		void *p = malloc(size);

		if (!p)
			die("malloc failed");
		memset(p, 0x5a, size); /* resident, as a program's data is */
		blocks[n] = p;
		sizes[n] = size;
		total += size;
		n++;
	}
	/* Pins the last free run: the top cannot take it back. */
	blocks[n] = malloc(64);
	if (!blocks[n])
		die("malloc failed");
	sizes[n++] = 64;
	for (i = 0; i < n; i++) {
		if (i % KEEP_EVERY == KEEP_EVERY - 1 || i == n - 1)
			keep(blocks[i], sizes[i]);
		else
			free(blocks[i]);
		blocks[i] = NULL;
	}
	kept_sum = checksum();
}

static void
unbuild(void)
{
	size_t i;

	for (i = 0; i < nkept; i++)
		free(kept[i]);
	nkept = 0;
}

/* ---- output ---------------------------------------------------------- */

static char last_mallinfo[512];
static size_t last_mallinfo_len;

static void
report_mallinfo(void)
{
	struct mallinfo2 mi = mallinfo2();
	int n = snprintf(last_mallinfo, sizeof(last_mallinfo),
			 "mallinfo2 arena=%zu ordblks=%zu smblks=%zu hblks=%zu "
			 "hblkhd=%zu usmblks=%zu fsmblks=%zu uordblks=%zu "
			 "fordblks=%zu keepcost=%zu\n",
			 mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd,
			 mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks,
			 mi.keepcost);

	if (n < 0 || (size_t)n >= sizeof(last_mallinfo))
		die("mallinfo2 line too long");
	last_mallinfo_len = (size_t)n;
	write_all(1, last_mallinfo, last_mallinfo_len);
}

/* VmRSS from /proc/self/status, in bytes (0 when unknown). */
static unsigned long long
vm_rss(void)
{
	char buf[4096];
	ssize_t n, got = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	const char *p;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	p = strstr(buf, "VmRSS:");
	return p ? strtoull(p + 6, NULL, 10) * 1024 : 0;
}

static void
say_number(const char *what, unsigned long long v)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s %llu\n", what, v);

	write_all(1, buf, (size_t)n);
}

/* ---- signals --------------------------------------------------------- */

static unsigned long sigusr1_count;

static void
on_sigusr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sigusr1_count, 1, __ATOMIC_RELAXED);
}

/* ---- blockers: registers across a blocking syscall ------------------- */

typedef long long v2di __attribute__((vector_size(16)));

struct blocker {
	pthread_t th;
	int rfd, wfd;
	pid_t tid;
	unsigned long woke; /* atomic */
	unsigned long bad; /* atomic */
};

static struct blocker blockers[MAX_BLOCKERS];
static int nblockers;

/*
 * One read(2) of one byte, issued by hand so that the values below sit in
 * the registers named, across the syscall: the kernel keeps every
 * register but rax, rcx and r11, and so must anybody who borrows this
 * thread meanwhile.
 */
static long
blocked_read(struct blocker *b, uint64_t k, unsigned long *bad)
{
	uint64_t v8 = k ^ 0x0808080808080808ULL, v9 = k ^ 0x0909090909090909ULL;
	uint64_t v10 = k ^ 0x1010101010101010ULL,
		 v12 = k ^ 0x1212121212121212ULL;
	uint64_t v13 = k ^ 0x1313131313131313ULL,
		 v14 = k ^ 0x1414141414141414ULL;
	uint64_t v15 = k ^ 0x1515151515151515ULL;
	v2di e0 = {(long long)k, (long long)~k};
	v2di e1 = {(long long)(k * 3), (long long)(k * 5)};
	v2di e2 = {(long long)(k * 7), (long long)(k * 11)};
	v2di e3 = {(long long)(k * 13), (long long)(k * 17)};
	v2di x0 = e0, x1 = e1, x2 = e2, x3 = e3;
	char c = 0;
	char *bufp = &c;
	long fd = b->rfd, len = 1, ret;
	register uint64_t r8 __asm__("r8") = v8;
	register uint64_t r9 __asm__("r9") = v9;
	register uint64_t r10 __asm__("r10") = v10;
	register uint64_t r12 __asm__("r12") = v12;
	register uint64_t r13 __asm__("r13") = v13;
	register uint64_t r14 __asm__("r14") = v14;
	register uint64_t r15 __asm__("r15") = v15;

	__asm__ volatile("syscall"
			 : "=a"(ret), "+D"(fd), "+S"(bufp), "+d"(len), "+r"(r8),
			   "+r"(r9), "+r"(r10), "+r"(r12), "+r"(r13), "+r"(r14),
			   "+r"(r15), "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3)
			 : "0"((long)SYS_read)
			 : "rcx", "r11", "memory");
	*bad = (fd != b->rfd) + (bufp != &c) + (len != 1) + (r8 != v8) +
	       (r9 != v9) + (r10 != v10) + (r12 != v12) + (r13 != v13) +
	       (r14 != v14) + (r15 != v15) + !!memcmp(&x0, &e0, 16) +
	       !!memcmp(&x1, &e1, 16) + !!memcmp(&x2, &e2, 16) +
	       !!memcmp(&x3, &e3, 16);
	return ret;
}

static void *
blocker_main(void *arg)
{
	struct blocker *b = arg;
	uint64_t round;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_RELEASE);
	for (round = 1;; round++) {
		unsigned long bad = 0;
		long ret = blocked_read(b, round * 0x9e3779b97f4a7c15ULL, &bad);

		if (bad)
			__atomic_add_fetch(&b->bad, bad, __ATOMIC_RELAXED);
		if (ret == 1)
			__atomic_add_fetch(&b->woke, 1, __ATOMIC_RELEASE);
		else if (ret == 0)
			return NULL;
		else if (ret != -EINTR)
			die("a blocker's read failed");
	}
}

static void
start_blockers(int n)
{
	int i, p[2];

	for (i = 0; i < n; i++) {
		struct blocker *b = &blockers[i];

		if (pipe2(p, O_CLOEXEC))
			die("pipe failed");
		b->rfd = p[0];
		b->wfd = p[1];
		if (pthread_create(&b->th, NULL, blocker_main, b))
			die("pthread_create failed");
		while (!__atomic_load_n(&b->tid, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	nblockers = n;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void
wake(void)
{
	unsigned long before[MAX_BLOCKERS], bad = 0;
	int i, waited;

	for (i = 0; i < nblockers; i++) {
		before[i] =
			__atomic_load_n(&blockers[i].woke, __ATOMIC_ACQUIRE);
		write_all(blockers[i].wfd, "w", 1);
	}
	for (i = 0; i < nblockers; i++) {
		for (waited = 0; __atomic_load_n(&blockers[i].woke,
						 __ATOMIC_ACQUIRE) == before[i];
		     waited++) {
			if (waited > 5000) {
				say("wake timeout\n");
				return;
			}
			sleep_ms(1);
		}
		bad += __atomic_load_n(&blockers[i].bad, __ATOMIC_RELAXED);
	}
	if (bad)
		say_number("wake bad", bad);
	else
		say_number("wake ok", (unsigned long long)nblockers);
}

/* ---- lockheld: malloc_stats() blocked in write(2) -------------------- */

static int lock_rfd = -1; /* the full pipe's read end; closed to release */
static pthread_t locker;
static pid_t locker_tid;
static int locker_go[2];
static int locked;

static void *
locker_main(void *arg)
{
	char c;

	(void)arg;
	__atomic_store_n(&locker_tid, gettid(), __ATOMIC_RELEASE);
	while (read(locker_go[0], &c, 1) < 0 && errno == EINTR)
		;
	malloc_stats(); /* blocks holding main_arena's mutex */
	return NULL;
}

/* Make the locker thread, before the heap is reported: it allocates. */
static void
prepare_locker(void)
{
	if (pipe2(locker_go, O_CLOEXEC))
		die("pipe failed");
	if (pthread_create(&locker, NULL, locker_main, NULL))
		die("pthread_create failed");
	while (!__atomic_load_n(&locker_tid, __ATOMIC_ACQUIRE))
		sched_yield();
}

/* Is the locker blocked in write(2) on fd 2? (/proc/.../syscall: "1 0x2 ...") */
static int
locker_blocked(void)
{
	char path[64], buf[256];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall",
		 (int)locker_tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return !strncmp(buf, "1 0x2 ", 6);
}

static void
take_lock(void)
{
	int p[2], flags, waited;

	/* SIGPIPE would kill us when the pipe is closed to release. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(p, O_CLOEXEC))
		die("pipe failed");
	flags = fcntl(p[1], F_GETFL);
	fcntl(p[1], F_SETFL, flags | O_NONBLOCK);
	{
		static char junk[4096];

		while (write(p[1], junk, sizeof(junk)) > 0)
			;
		while (write(p[1], junk, 1) > 0)
			;
	}
	fcntl(p[1], F_SETFL, flags);
	err_fd = dup(2);
	if (err_fd < 0 || dup2(p[1], 2) < 0)
		die("dup failed");
	close(p[1]);
	lock_rfd = p[0];
	write_all(locker_go[1], "g", 1);
	for (waited = 0; !locker_blocked(); waited++) {
		if (waited > 10000)
			die("malloc_stats never blocked");
		sleep_ms(1);
	}
	locked = 1;
	say("locked\n");
}

static void
release_lock(void)
{
	if (!locked) {
		say("error not locked\n");
		return;
	}
	close(lock_rfd); /* the blocked write fails with EPIPE */
	lock_rfd = -1;
	if (pthread_join(locker, NULL))
		die("pthread_join failed");
	dup2(err_fd, 2);
	locked = 0;
	say("released\n");
}

/* ---- commands -------------------------------------------------------- */

static void
command(char *line)
{
	if (!strcmp(line, "again")) {
		if (checksum() != kept_sum) {
			write_all(err_fd, "fragger: kept blocks changed\n", 29);
			_exit(3);
		}
		if (locked)
			write_all(1, last_mallinfo, last_mallinfo_len);
		else
			report_mallinfo();
	} else if (!strcmp(line, "rss")) {
		say_number("rss", vm_rss());
	} else if (!strcmp(line, "verify")) {
		say(checksum() == kept_sum ? "verify ok\n" : "verify bad\n");
	} else if (!strcmp(line, "wake")) {
		wake();
	} else if (!strcmp(line, "signals")) {
		say_number("signals",
			   __atomic_load_n(&sigusr1_count, __ATOMIC_RELAXED));
	} else if (!strcmp(line, "tids")) {
		char buf[256];
		int n = snprintf(buf, sizeof(buf), "tids %d", (int)getpid()), i;

		for (i = 0; i < nblockers; i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %d",
				      (int)blockers[i].tid);
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
		write_all(1, buf, (size_t)n);
	} else if (!strcmp(line, "release")) {
		release_lock();
	} else if (!strcmp(line, "refrag")) {
		if (locked) {
			say("error locked\n");
			return;
		}
		unbuild();
		build();
		report_mallinfo();
	} else {
		say("error unknown command\n");
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	int lockheld, n = 2;

	die_with_parent();
	if (argc < 2 || argc > 3 ||
	    (strcmp(argv[1], "frag") && strcmp(argv[1], "lockheld")))
		die("usage: fragger frag|lockheld [BLOCKERS]");
	lockheld = !strcmp(argv[1], "lockheld");
	if (argc == 3)
		n = atoi(argv[2]);
	if (n < 0 || n > MAX_BLOCKERS)
		die("BLOCKERS: 0 to 8");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	start_blockers(n);
	if (lockheld)
		prepare_locker();
	build();
	say_number("rss", vm_rss());
	report_mallinfo();
	if (lockheld)
		take_lock();
	serve_commands(command);
}
