/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_readahead.c - the heap walk's read-ahead (readahead.c) over the
 * buffer-backed memory source, with small windows so that a few MiB make
 * many of them: every range served holds the bytes a plain read gives,
 * errors are those of a plain read (holes, a process gone), nothing is
 * read ahead past where the scan stops, the memory source is never used
 * by two threads at once, the helper thread blocks signals and is joined,
 * and with no CPU to spare nothing is read ahead.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#include "proc/memsrc.h"
#include "proc/readahead.h"

#define BASE 0x7f0000000000ull
#define WIN (64u << 10)
/* windows a jump may leave read ahead in vain: all but the one parsed */
#define LOST_PER_JUMP 2u

static unsigned jumps; /* in the last scan() */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned char *
random_bytes(size_t len)
{
	unsigned char *b = malloc(len);

	cr_assert_not_null(b);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rng();

		memcpy(b + i, &v, len - i < 8 ? len - i : 8);
	}
	return b;
}

static unsigned
count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * A memory source over another that checks how it is used: never by two
 * threads at once, by which threads, how far, and the signal mask of the
 * threads that are not the test's. ESRCH at and after gone (0: never).
 */
struct watched {
	struct memsrc src; /* first: memsrc_close() frees it */
	struct memsrc *inner;
	pthread_t caller;
	pid_t caller_tid;
	uint64_t gone;
	atomic_int inflight;
	atomic_int overlapped;
	atomic_ulong helper_reads, helper_max_end;
	atomic_int helper_unblocked; /* a signal the helper left open */
};

/* The state letter of the test's thread: R running, S sleeping... */
static char
caller_state(const struct watched *w)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
		 (int)w->caller_tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/*
 * A read of the helper's ends only once the test's thread sleeps (it
 * waits for this read, or for the helper to end), or has itself started
 * a read: whatever the load on the machine, the caller always finds the
 * helper's read in flight when it jumps or ends a scan, and a read of
 * its own then would show as an overlap. At most 2 s each.
 */
static void
hold_until_caller_waits(const struct watched *w)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		char st = caller_state(w);

		if (st == 'S' || st == 'D' || atomic_load(&w->overlapped))
			return;
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 2);
}

static ssize_t
watched_read(void *priv, uint64_t addr, void *buf, size_t len)
{
	struct watched *w = priv;
	int helper = !pthread_equal(pthread_self(), w->caller);
	ssize_t n;

	if (atomic_fetch_add(&w->inflight, 1))
		atomic_store(&w->overlapped, 1);
	if (helper) {
		static const int sigs[] = { SIGINT, SIGTERM, SIGALRM, SIGUSR1,
					    SIGCHLD, SIGPIPE };
		sigset_t cur;
		unsigned long end = (unsigned long)(addr + len);

		atomic_fetch_add(&w->helper_reads, 1);
		if (end > atomic_load(&w->helper_max_end))
			atomic_store(&w->helper_max_end, end);
		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			if (!sigismember(&cur, sigs[i]))
				atomic_store(&w->helper_unblocked, sigs[i]);
	}
	if (helper)
		hold_until_caller_waits(w);
	else /* a helper's read that was about to start would show now */
		for (unsigned i = 0; i < 50 && !atomic_load(&w->overlapped);
		     i++) {
			sched_yield();
			if (atomic_load(&w->inflight) > 1)
				atomic_store(&w->overlapped, 1);
		}
	if (w->gone && addr + len > w->gone)
		n = addr >= w->gone ? -ESRCH : (ssize_t)(w->gone - addr);
	else
		n = w->inner->ops->read(w->inner->priv, addr, buf, len);
	atomic_fetch_sub(&w->inflight, 1);
	return n;
}

static void
watched_close(void *priv)
{
	struct watched *w = priv;

	memsrc_close(w->inner);
}

static const struct memsrc_ops watched_ops = {
	.read = watched_read,
	.close = watched_close,
};

/* Regions: pairs of (offset from BASE, length) over one buffer. */
static struct watched *
watched_new(const unsigned char *buf, const size_t *regions, unsigned n)
{
	struct watched *w = calloc(1, sizeof(*w));

	cr_assert_not_null(w);
	cr_assert_eq(memsrc_buf_new(&w->inner), 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(memsrc_buf_add(w->inner, BASE + regions[2 * i],
					    buf + regions[2 * i],
					    regions[2 * i + 1]),
			     0);
	cr_assert_eq(memsrc_init(&w->src, &watched_ops, w), 0);
	w->caller = pthread_self();
	w->caller_tid = gettid();
	return w;
}

/* Whether [off, off + n) lies within the regions, before w->gone. */
static int
readable(const struct watched *w, const size_t *regions, unsigned nr,
	 size_t off, size_t n)
{
	if (w->gone && BASE + off + n > w->gone)
		return 0;
	for (unsigned i = 0; i < nr; i++)
		if (off >= regions[2 * i] &&
		    off + n <= regions[2 * i] + regions[2 * i + 1])
			return 1;
	return 0;
}

/*
 * One scan of [0, hi) from BASE, read ahead up to ahead_hi, in steps like
 * a heap walk's: mostly small, a jump over several windows now and then.
 * Every range served must hold the buffer's bytes; a range that a plain
 * read of a window from its start could read must be served; one that is
 * not wholly readable must fail with the plain read's error.
 */
static unsigned
scan(struct watched *w, const unsigned char *buf, const size_t *regions,
     unsigned nr, size_t hi, size_t ahead_hi)
{
	struct readahead *ra;
	unsigned gets = 0, failed = 0;
	size_t off = 0;

	cr_assert_eq(readahead_new(&w->src, WIN, READAHEAD_ALWAYS, &ra), 0);
	readahead_begin(ra, BASE + hi, BASE + ahead_hi);
	jumps = 0;
	while (off < hi) {
		size_t n = hi - off >= 32 ? 32 : 16;
		size_t plain = hi - off < WIN ? hi - off : WIN;
		int err = 0;
		const unsigned char *p = readahead_get(ra, BASE + off, n, &err);
		uint64_t r = rng();

		gets++;
		if (p) {
			cr_assert_eq(memcmp(p, buf + off, n), 0,
				     "wrong bytes at +%#zx", off);
			cr_assert(readable(w, regions, nr, off, n),
				  "+%#zx served but unreadable", off);
		} else {
			failed++;
			cr_assert(!readable(w, regions, nr, off, plain),
				  "+%#zx readable but refused (%d)", off, err);
			cr_assert(err == -EFAULT || err == -ESRCH,
				  "error %d at +%#zx", err, off);
			if (w->gone)
				cr_assert_eq(err, -ESRCH, "+%#zx: %d", off,
					     err);
		}
		if (r % 4096 == 0) {
			off += WIN + r % (4 * WIN); /* a big chunk */
			jumps++;
		} else
			off += 16 + 16 * (r % 24);
	}
	readahead_end(ra);
	/* Nothing in flight now: the caller may read. */
	cr_assert_eq(atomic_load(&w->inflight), 0);
	readahead_free(ra);
	cr_log_info("%u gets, %u failed, %llu bytes read, %lu by the helper", gets,
		    failed, (unsigned long long)w->src.bytes_read,
		    atomic_load(&w->helper_reads));
	return failed;
}

Test(readahead, serves_the_bytes_of_a_plain_read, .timeout = 20)
{
	const size_t len = 4u << 20;
	const size_t regions[] = { 0, len };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 1);

	cr_assert_eq(scan(w, buf, regions, 1, len, len), 0);
	cr_assert_gt(atomic_load(&w->helper_reads), 16,
		     "the helper read %lu windows",
		     atomic_load(&w->helper_reads));
	cr_assert_eq(atomic_load(&w->overlapped), 0,
		     "the memory source was used by two threads at once");
	/*
	 * Each byte at most once, but for the windows' overlaps and those
	 * read ahead in vain before a jump (the helper runs at most
	 * LOST_PER_JUMP windows ahead of the one parsed).
	 */
	cr_assert_leq(w->src.bytes_read,
		      len + (len / WIN + 1) * READAHEAD_OVERLAP +
			      jumps * LOST_PER_JUMP * WIN,
		      "read %llu bytes, %u jumps",
		      (unsigned long long)w->src.bytes_read, jumps);
	memsrc_close(&w->src);
	free(buf);
}

Test(readahead, reads_nothing_ahead_past_ahead_hi, .timeout = 20)
{
	const size_t len = 4u << 20, ahead_hi = (3u << 20) / 2;
	const size_t regions[] = { 0, len };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 1);

	/* the scan goes on past ahead_hi: those ranges are read at once */
	cr_assert_eq(scan(w, buf, regions, 1, len, ahead_hi), 0);
	cr_assert_gt(atomic_load(&w->helper_reads), 4);
	cr_assert_leq(atomic_load(&w->helper_max_end), BASE + ahead_hi,
		      "the helper read up to +%#llx",
		      (unsigned long long)(atomic_load(&w->helper_max_end) -
					   BASE));
	cr_assert_eq(atomic_load(&w->overlapped), 0);
	memsrc_close(&w->src);
	free(buf);
}

Test(readahead, fails_like_a_plain_read_around_holes, .timeout = 20)
{
	const size_t len = 4u << 20;
	/* holes that windows read ahead run into, and one inside a window */
	const size_t regions[] = { 0,
				   (1u << 20) + 4096,
				   (3u << 19),
				   (1u << 19) + 100,
				   (2u << 20) + 2048,
				   len - (2u << 20) - 2048 };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 3);

	cr_assert_gt(scan(w, buf, regions, 3, len, len), 0,
		     "no range failed: the holes were not reached");
	cr_assert_eq(atomic_load(&w->overlapped), 0);
	memsrc_close(&w->src);
	free(buf);
}

Test(readahead, reports_a_process_gone_as_esrch, .timeout = 20)
{
	const size_t len = 4u << 20;
	const size_t regions[] = { 0, len };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 1);

	w->gone = BASE + (5u << 19) + 4000;
	cr_assert_gt(scan(w, buf, regions, 1, len, len), 0);
	cr_assert_eq(atomic_load(&w->overlapped), 0);
	memsrc_close(&w->src);
	free(buf);
}

Test(readahead, blocks_signals_in_its_thread_and_joins_it, .timeout = 20)
{
	const size_t len = 1u << 20;
	const size_t regions[] = { 0, len };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 1);
	unsigned before = count_threads();
	struct readahead *ra;
	int err = 0;

	cr_assert_eq(readahead_new(&w->src, WIN, READAHEAD_ALWAYS, &ra), 0);
	/* a scan of one window: no thread */
	readahead_begin(ra, BASE + WIN, BASE + WIN);
	cr_assert_not_null(readahead_get(ra, BASE, 32, &err));
	cr_assert_not_null(readahead_get(ra, BASE + WIN - 32, 32, &err));
	readahead_end(ra);
	cr_assert_eq(readahead_threaded(ra), 0);
	cr_assert_eq(count_threads(), before);
	/* a longer one starts it, and it stays for the next scans */
	readahead_begin(ra, BASE + len, BASE + len);
	cr_assert_not_null(readahead_get(ra, BASE, 32, &err));
	cr_assert_eq(readahead_threaded(ra), 1);
	cr_assert_eq(count_threads(), before + 1);
	for (size_t off = 256; off + 32 <= len; off += 256)
		cr_assert_not_null(readahead_get(ra, BASE + off, 32, &err));
	readahead_end(ra);
	cr_assert_gt(atomic_load(&w->helper_reads), 0);
	cr_assert_eq(atomic_load(&w->helper_unblocked), 0,
		     "signal %d not blocked in the helper",
		     atomic_load(&w->helper_unblocked));
	readahead_free(ra);
	cr_assert_eq(count_threads(), before, "the helper outlived its free");
	/* freed in the middle of a scan, a read ahead perhaps in flight */
	cr_assert_eq(readahead_new(&w->src, WIN, READAHEAD_ALWAYS, &ra), 0);
	readahead_begin(ra, BASE + len, BASE + len);
	cr_assert_not_null(readahead_get(ra, BASE, 32, &err));
	readahead_free(ra);
	cr_assert_eq(count_threads(), before);
	cr_assert_eq(atomic_load(&w->inflight), 0);
	memsrc_close(&w->src);
	free(buf);
}

/* Pinned to one CPU: no CPU to spare for a helper, so no helper. */
Test(readahead, reads_alone_with_no_cpu_to_spare, .timeout = 20)
{
	const size_t len = 2u << 20;
	const size_t regions[] = { 0, len };
	unsigned char *buf = random_bytes(len);
	struct watched *w = watched_new(buf, regions, 1);
	unsigned before = count_threads();
	struct readahead *ra;
	cpu_set_t one;
	int err = 0;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	cr_assert_eq(readahead_new(&w->src, WIN, 0, &ra), 0);
	readahead_begin(ra, BASE + len, BASE + len);
	for (size_t off = 0; off + 32 <= len; off += 256) {
		const unsigned char *p = readahead_get(ra, BASE + off, 32, &err);

		cr_assert_not_null(p, "+%#zx: %d", off, err);
		cr_assert_eq(memcmp(p, buf + off, 32), 0);
	}
	readahead_end(ra);
	cr_assert_eq(readahead_threaded(ra), 0, "a helper on the one CPU");
	cr_assert_eq(count_threads(), before);
	cr_assert_eq(atomic_load(&w->helper_reads), 0);
	/* every window read once, by the caller */
	cr_assert_leq(w->src.bytes_read, len + (len / WIN) * READAHEAD_OVERLAP);
	readahead_free(ra);
	memsrc_close(&w->src);
	free(buf);
}
