/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * readahead.c - windows of a forward scan read by a helper thread ahead
 * of the caller (see readahead.h).
 *
 * process_vm_readv() needs no ptrace relation with the target, only the
 * permission to attach (kernel mm/process_vm_access.c, PTRACE_MODE_ATTACH),
 * and /proc/PID/mem the same: any thread of ours may read a target that
 * another thread holds stopped.
 *
 * Three windows form a ring: the helper fills them in order, the caller
 * takes them in the same order, each window is FREE, READING (the
 * helper's), READY (done, not yet taken) or HELD (the caller's). Every
 * field shared by the two threads (states, bases, lengths, errors, the
 * ring's positions, where the helper reads next) is read and written
 * under ra->lock only; a window's bytes are written by the helper while
 * it is READING and read by the caller while it is HELD, and each change
 * of state goes through the lock, so the bytes are handed over with it
 * (no data race: the lock orders every write before the read). The memory
 * source is used by the helper only while a window is READING and by the
 * caller only when none is (it waits under the lock), so it is never used
 * by both at once.
 *
 * Whether a CPU is free is judged once per readahead, at its first scan
 * longer than a window, from /proc/loadavg (kernel fs/proc/loadavg.c):
 * the tasks runnable at that moment (nr_running(), this one included) and
 * the load average of the last minute, against the CPUs this process may
 * use. Either suffices: the count of the moment can be thrown by a task
 * that runs for a moment only, the average by one that stopped a few
 * seconds ago. Measured on a 2-core VM, fragmented 1 GiB heap, pause
 * against a bare read: alone 1.6, reading ahead 1.1-1.2 when the machine
 * is otherwise idle, but 1.8 with one other busy process: the scheduler
 * then gives each of the three threads two thirds of a CPU, and the
 * reading thread, the slower stage, sets the pace.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/memsrc.h"
#include "proc/readahead.h"

/*
 * The one parsed, the one being read, and one more so that the helper
 * reads on while the caller is late to wake up (make bench, fragmented
 * 1 GiB heap, quiet 2-core VM: the pause 1.11-1.26 times a bare read
 * with three, 1.25-1.45 with two).
 */
#define RA_NBUF 3u
/* waits and windows passed over for one readahead_get() before reading */
#define RA_MAX_STEPS (8u * RA_NBUF)

enum ra_state { RA_FREE, RA_READING, RA_READY, RA_HELD };

struct ra_window {
	unsigned char *data;
	uint64_t base;
	size_t len;
	int err;
	enum ra_state state;
};

struct readahead {
	/* set before the helper starts, constant after */
	struct memsrc *mem;
	size_t window;
	unsigned flags;
	/* the caller's alone */
	uint64_t hi, scan_ahead_hi;
	int judged, spare; /* whether a CPU is free (judged once) */
	struct ra_window *held;
	int started; /* 1 helper running, -1 could not start, 0 not yet */
	pthread_t thread;
	/* shared: under lock */
	pthread_mutex_t lock;
	pthread_cond_t work; /* the helper waits for a FREE window */
	pthread_cond_t done; /* the caller waits for a READY one */
	struct ra_window win[RA_NBUF];
	unsigned fill, take; /* the next window to read, to take */
	/* the helper's next read starts at next; none at or after ahead_hi */
	uint64_t next, ahead_hi;
	int quit;
};

int
readahead_new(struct memsrc *mem, size_t window, unsigned flags,
	      struct readahead **out)
{
	struct readahead *ra;

	*out = NULL;
	if (window <= 2 * READAHEAD_OVERLAP)
		return -EINVAL;
	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -ENOMEM;
	ra->mem = mem;
	ra->window = window;
	ra->flags = flags;
	/* The other windows only when a helper starts. */
	ra->win[0].data = malloc(window);
	if (!ra->win[0].data) {
		free(ra);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&ra->lock, NULL)) {
		free(ra->win[0].data);
		free(ra);
		return -ENOMEM;
	}
	if (pthread_cond_init(&ra->work, NULL)) {
		pthread_mutex_destroy(&ra->lock);
		free(ra->win[0].data);
		free(ra);
		return -ENOMEM;
	}
	if (pthread_cond_init(&ra->done, NULL)) {
		pthread_cond_destroy(&ra->work);
		pthread_mutex_destroy(&ra->lock);
		free(ra->win[0].data);
		free(ra);
		return -ENOMEM;
	}
	*out = ra;
	return 0;
}

static void *
helper(void *arg)
{
	struct readahead *ra = arg;

	pthread_mutex_lock(&ra->lock);
	for (;;) {
		struct ra_window *w = &ra->win[ra->fill];
		uint64_t base;
		size_t len;
		int err;

		if (ra->quit)
			break;
		if (ra->next >= ra->ahead_hi || w->state != RA_FREE) {
			pthread_cond_wait(&ra->work, &ra->lock);
			continue;
		}
		base = ra->next;
		len = ra->ahead_hi - base < ra->window
			      ? (size_t)(ra->ahead_hi - base)
			      : ra->window;
		w->state = RA_READING;
		w->base = base;
		w->len = len;
		ra->fill = (ra->fill + 1) % RA_NBUF;
		/* Overlap: a range that ends past this window starts in the next. */
		ra->next = base + len < ra->ahead_hi
				   ? base + len - READAHEAD_OVERLAP
				   : ra->ahead_hi;
		pthread_mutex_unlock(&ra->lock);
		err = memsrc_read(ra->mem, base, w->data, len);
		pthread_mutex_lock(&ra->lock);
		w->err = err;
		w->state = RA_READY;
		if (err) /* read nothing more; the caller reads it again */
			ra->next = ra->ahead_hi = 0;
		pthread_cond_signal(&ra->done);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

/*
 * Start the helper, once. Its signals are all blocked: a signal meant for
 * the program must reach one of the program's threads, not run its
 * handler on ours (the library never handles signals).
 */
static int
start_helper(struct readahead *ra)
{
	sigset_t all, old;
	int err;

	if (ra->started)
		return ra->started > 0;
	ra->started = -1;
	for (unsigned i = 1; i < RA_NBUF; i++) {
		ra->win[i].data = malloc(ra->window);
		if (!ra->win[i].data)
			return 0;
	}
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old))
		return 0;
	err = pthread_create(&ra->thread, NULL, helper, ra);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return 0; /* every window is then read by the caller */
	ra->started = 1;
	return 1;
}

void
readahead_free(struct readahead *ra)
{
	if (!ra)
		return;
	if (ra->started > 0) {
		pthread_mutex_lock(&ra->lock);
		ra->quit = 1;
		pthread_cond_signal(&ra->work);
		pthread_mutex_unlock(&ra->lock);
		pthread_join(ra->thread, NULL);
	}
	pthread_cond_destroy(&ra->done);
	pthread_cond_destroy(&ra->work);
	pthread_mutex_destroy(&ra->lock);
	for (unsigned i = 0; i < RA_NBUF; i++)
		free(ra->win[i].data);
	free(ra);
}

int
readahead_threaded(const struct readahead *ra)
{
	return ra->started > 0;
}

/*
 * Under lock: end the read-ahead and wait until no read is in flight;
 * the memory source is then the caller's. Bounded: a read in flight ends.
 */
static void
quiesce(struct readahead *ra)
{
	int busy;

	ra->next = ra->ahead_hi = 0;
	if (ra->held) {
		ra->held->state = RA_FREE;
		ra->held = NULL;
	}
	do {
		busy = 0;
		for (unsigned i = 0; i < RA_NBUF; i++)
			busy |= ra->win[i].state == RA_READING;
		if (busy)
			pthread_cond_wait(&ra->done, &ra->lock);
	} while (busy);
	for (unsigned i = 0; i < RA_NBUF; i++)
		ra->win[i].state = RA_FREE;
}

/*
 * Whether a CPU is free for the helper: at least two CPUs allowed, and
 * fewer tasks runnable right now (this one included) than those CPUs, or
 * a load average (rounded) below them. A guess: wrong one way, the pause
 * is about a tenth longer than reading alone; wrong the other way, it
 * misses the gain (see the top of this file).
 * /proc/loadavg: "0.20 0.18 0.12 1/80 11206".
 */
static int
cpu_to_spare(void)
{
	char buf[128], *slash;
	cpu_set_t set;
	long running;
	double load;
	int fd, cpus;
	ssize_t n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	cpus = CPU_COUNT(&set);
	fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	load = strtod(buf, NULL);
	slash = strchr(buf, '/');
	if (cpus < 2 || !slash)
		return 0;
	while (slash > buf && slash[-1] >= '0' && slash[-1] <= '9')
		slash--;
	running = strtol(slash, NULL, 10);
	return (running >= 1 && running < cpus) ||
	       (load >= 0 && load < cpus - 0.5);
}

void
readahead_begin(struct readahead *ra, uint64_t hi, uint64_t ahead_hi)
{
	readahead_end(ra);
	ra->hi = hi;
	ra->scan_ahead_hi = ahead_hi < hi ? ahead_hi : hi;
}

void
readahead_end(struct readahead *ra)
{
	pthread_mutex_lock(&ra->lock);
	quiesce(ra);
	pthread_mutex_unlock(&ra->lock);
	ra->hi = ra->scan_ahead_hi = 0;
}

static int
holds(const struct ra_window *w, uint64_t addr, size_t n)
{
	return addr >= w->base && addr - w->base <= w->len &&
	       n <= w->len - (addr - w->base);
}

/*
 * Under lock: the window read ahead that holds [addr, addr + n), waiting
 * for it if it is being read or about to be; NULL when none will.
 * Windows that end before addr + n are passed over: the scan only rises.
 */
static struct ra_window *
take_ahead(struct readahead *ra, uint64_t addr, size_t n)
{
	for (unsigned step = 0; step < RA_MAX_STEPS; step++) {
		struct ra_window *w = &ra->win[ra->take];
		uint64_t reach = ra->ahead_hi - ra->next < ra->window
					 ? ra->ahead_hi
					 : ra->next + ra->window;

		/*
		 * Neither read nor next to be read (a jump of more than a
		 * window, or past ahead_hi): reading it at once beats reading
		 * what lies between.
		 */
		if (addr + n > reach ||
		    (ra->next >= ra->ahead_hi && w->state == RA_FREE))
			return NULL;
		if (w->state == RA_FREE || w->state == RA_READING) {
			pthread_cond_wait(&ra->done, &ra->lock);
			continue;
		}
		if (w->state != RA_READY || w->err)
			return NULL; /* read again by the caller: its error */
		if (holds(w, addr, n)) {
			w->state = RA_HELD;
			ra->take = (ra->take + 1) % RA_NBUF;
			return w;
		}
		if (w->base > addr)
			return NULL;
		w->state = RA_FREE; /* ends before addr + n: passed over */
		ra->take = (ra->take + 1) % RA_NBUF;
		pthread_cond_signal(&ra->work);
	}
	return NULL;
}

const unsigned char *
readahead_get(struct readahead *ra, uint64_t addr, size_t n, int *err)
{
	struct ra_window *w;
	size_t len;

	if (ra->held && holds(ra->held, addr, n))
		return ra->held->data + (addr - ra->held->base);
	if (ra->hi <= addr || ra->hi - addr < n) {
		*err = -EFAULT;
		return NULL;
	}
	pthread_mutex_lock(&ra->lock);
	if (ra->held) {
		ra->held->state = RA_FREE;
		ra->held = NULL;
		pthread_cond_signal(&ra->work);
	}
	w = ra->started > 0 ? take_ahead(ra, addr, n) : NULL;
	if (w) {
		pthread_mutex_unlock(&ra->lock);
		ra->held = w;
		return w->data + (addr - w->base);
	}
	/* Read here, as a plain read would: the ring restarts after it. */
	quiesce(ra);
	w = &ra->win[ra->take];
	w->state = RA_HELD; /* ours while we read into it */
	pthread_mutex_unlock(&ra->lock);
	len = ra->hi - addr < ra->window ? (size_t)(ra->hi - addr) : ra->window;
	*err = memsrc_read(ra->mem, addr, w->data, len);
	if (*err) {
		pthread_mutex_lock(&ra->lock);
		w->state = RA_FREE;
		pthread_mutex_unlock(&ra->lock);
		return NULL;
	}
	w->base = addr;
	w->len = len;
	ra->held = w;
	/* More of the scan to come: the helper reads on from here. */
	if (addr + len < ra->scan_ahead_hi && !ra->judged) {
		ra->judged = 1;
		ra->spare = (ra->flags & READAHEAD_ALWAYS) || cpu_to_spare();
	}
	if (addr + len < ra->scan_ahead_hi && ra->spare && start_helper(ra)) {
		pthread_mutex_lock(&ra->lock);
		ra->take = ra->fill = (ra->take + 1) % RA_NBUF;
		ra->next = addr + len - READAHEAD_OVERLAP;
		ra->ahead_hi = ra->scan_ahead_hi;
		pthread_cond_signal(&ra->work);
		pthread_mutex_unlock(&ra->lock);
	}
	return w->data;
}
