/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mapper.c - a process with memory outside malloc, for the census of the
 * whole process (test_monitor_memory.c): anonymous regions it maps
 * itself, threads whose stacks it touches, a file and shared memory, and
 * a steady drip of anonymous regions (a leak outside malloc). At a quiet
 * point it reads its own /proc/self/smaps_rollup: the kernel's total,
 * which the census must match to the byte.
 *
 * Protocol: prints "ready" once. Commands on stdin, one a line:
 *   anon N KIB     map N regions of KIB KiB, each its own mapping, and
 *                  write every page; answers "ok anon N"
 *   threads T KIB  start T threads that each write KIB KiB of their stack,
 *                  then block for good; answers "ok threads T" once all
 *                  have
 *   reserve KIB    map KIB KiB of anonymous memory and touch only its
 *                  first page; answers "ok reserve ADDR" (hexadecimal)
 *   file           map its own executable privately, read every page
 *   shared KIB     map KIB KiB MAP_SHARED|MAP_ANONYMOUS, write every page
 *   drip KIB MS    a thread maps and writes a KIB KiB region every MS ms,
 *                  1024 regions at most; answers "ok drip"
 *   rollup         answers "rollup rss=BYTES anon=BYTES": Rss and
 *                  Anonymous of /proc/self/smaps_rollup, read now
 *   again          answers glibc's mallinfo2 line (target_report.h)
 *   quit           exit(0); so does end of file
 * Every thread but the drip's is blocked when an answer is printed, so
 * its memory holds still until the next command. Transparent huge pages
 * are off for the process (PR_SET_THP_DISABLE): khugepaged would otherwise
 * fill a region's untouched pages behind the test's back. No stdio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define TARGET_NAME "mapper"
#include "target_report.h"

#define PAGE 4096ul

static int never_fd[2]; /* nothing is ever written: threads block on it */
static int ready_fd[2]; /* a thread's byte: its stack is written */
static char rollup_buf[8192];

/*
 * A region of kib KiB that is its own mapping: mapped one page longer and
 * that page given back, so that the next region, which the kernel puts
 * just below (mm/mmap.c, top-down), is never its neighbour and never
 * merged with it.
 */
static void
map_region(unsigned long kib)
{
	size_t len = kib * 1024;
	char *p = mmap(NULL, len + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap failed");
	munmap(p + len, PAGE);
	for (size_t o = 0; o < len; o += PAGE)
		p[o] = 1;
}

/*
 * A region of KIB KiB reserved and left untouched but for its first page:
 * memory a program maps ahead of need. Answers its address.
 */
static void
reserve(unsigned long kib)
{
	char *p = mmap(NULL, kib * 1024, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap failed");
	p[0] = 1;
	sayf("ok reserve %lx\n", (unsigned long)(uintptr_t)p);
}

static void *
stack_toucher(void *arg)
{
	unsigned long kib = (unsigned long)(uintptr_t)arg;
	volatile char *buf = __builtin_alloca(kib * 1024);
	char c;

	for (size_t o = 0; o < kib * 1024; o += PAGE)
		buf[o] = 1;
	buf[kib * 1024 - 1] = 1;
	write_all(ready_fd[1], "r", 1);
	while (read(never_fd[0], &c, 1) != 0)
		;
	return NULL;
}

struct drip {
	unsigned long kib, ms;
};

static void *
dripper(void *arg)
{
	struct drip *d = arg;
	struct timespec ts = {(time_t)(d->ms / 1000),
			      (long)(d->ms % 1000) * 1000000L};

	for (unsigned i = 0; i < 1024; i++) {
		map_region(d->kib);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* "Rss:   1234 kB" in the rollup, in bytes. */
static unsigned long long
rollup_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

static void
rollup(void)
{
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		die("cannot open /proc/self/smaps_rollup");
	while ((n = read(fd, rollup_buf + len,
			 sizeof(rollup_buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	rollup_buf[len] = '\0';
	sayf("rollup rss=%llu anon=%llu\n", rollup_field(rollup_buf, "\nRss:"),
	     rollup_field(rollup_buf, "\nAnonymous:"));
}

static void
start_threads(unsigned long t, unsigned long kib)
{
	pthread_attr_t attr;
	char c;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 8ul << 20);
	for (unsigned long i = 0; i < t; i++) {
		pthread_t th;

		if (pthread_create(&th, &attr, stack_toucher,
				   (void *)(uintptr_t)kib))
			die("pthread_create failed");
	}
	pthread_attr_destroy(&attr);
	for (unsigned long i = 0; i < t; i++)
		if (read(ready_fd[0], &c, 1) != 1)
			die("a thread did not start");
	sayf("ok threads %lu\n", t);
}

static void
map_file(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	off_t len = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	volatile char *p;
	char sum = 0;

	if (len <= 0)
		die("cannot open its own executable");
	p = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("mmap of the executable failed");
	for (off_t o = 0; o < len; o += (off_t)PAGE)
		sum += p[o];
	sayf("ok file %d\n", sum != 0x7f ? 1 : 0);
}

static void
map_shared(unsigned long kib)
{
	char *p = mmap(NULL, kib * 1024, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap shared failed");
	for (size_t o = 0; o < kib * 1024; o += PAGE)
		p[o] = 1;
	say("ok shared\n");
}

/*
 * "WORD N" or "WORD N M" (no stdio: sscanf would do). The count of
 * numbers read after word, or 0.
 */
static int
args(const char *line, const char *word, unsigned long *a, unsigned long *b)
{
	size_t n = strlen(word);
	char *end;

	if (strncmp(line, word, n) || line[n] != ' ')
		return 0;
	*a = strtoul(line + n + 1, &end, 10);
	if (end == line + n + 1)
		return 0;
	if (!*end)
		return 1;
	if (*end != ' ')
		return 0;
	line = end + 1;
	*b = strtoul(line, &end, 10);
	return end != line && !*end ? 2 : 0;
}

static void
command(char *line)
{
	static struct drip d;
	unsigned long a, b;
	pthread_t th;

	if (!strcmp(line, "again")) {
		report_mallinfo();
	} else if (!strcmp(line, "rollup")) {
		rollup();
	} else if (args(line, "anon", &a, &b) == 2 && a && b) {
		for (unsigned long i = 0; i < a; i++)
			map_region(b);
		sayf("ok anon %lu\n", a);
	} else if (args(line, "threads", &a, &b) == 2 && b < 4096) {
		start_threads(a, b ? b : 1);
	} else if (args(line, "reserve", &a, &b) == 1 && a) {
		reserve(a);
	} else if (!strcmp(line, "file")) {
		map_file();
	} else if (args(line, "shared", &a, &b) == 1 && a) {
		map_shared(a);
	} else if (args(line, "drip", &a, &b) == 2 && a && !d.kib) {
		d = (struct drip){a, b};
		if (pthread_create(&th, NULL, dripper, &d))
			die("pthread_create failed");
		say("ok drip\n");
	} else {
		say("error unknown command\n");
	}
}

int
main(void)
{
	die_with_parent();
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		die("PR_SET_THP_DISABLE failed");
	if (pipe(never_fd) || pipe(ready_fd))
		die("pipe failed");
	memset(rollup_buf, 0, sizeof(rollup_buf)); /* its pages, now */
	say("ready\n");
	serve_commands(command);
}
