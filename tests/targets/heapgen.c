/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * heapgen.c - test target: builds a known glibc malloc heap, parks every
 * thread outside malloc and reports glibc's own mallinfo2() (mallinfo()
 * when built against glibc < 2.33; the line is the same).
 *
 * Usage: heapgen SCENARIO [SEED]
 *
 * The tests attach leakattach to this process and compare what it computes
 * with the mallinfo2() line printed here. Protocol on stdout, one line each,
 * written only while the heap is quiescent (every worker thread blocked in
 * pthread_cond_wait, the main thread blocked in read(2) on stdin):
 *
 *   mallinfo2 arena=N ordblks=N smblks=N hblks=N hblkhd=N usmblks=N
 *             fsmblks=N uordblks=N fordblks=N keepcost=N      (one line)
 *
 * Commands on stdin, one per line:
 *   again   print the mallinfo2 line again (the heap must not have changed)
 *   churn   malloc and free some more in the main thread, then print it
 *   quit    exit(0); so does end of file
 * Anything else is answered with "error unknown command".
 *
 * Scenarios: idle single threads bigarena mmapped trim calloc fastbins
 * demo (see the table at the end of this file).
 *
 * Rules that keep the heap known: no stdio (a FILE allocates its buffer on
 * first use; snprintf into a stack buffer does not), a deterministic
 * xorshift PRNG seeded by SEED, every kept pointer stored in a static pool,
 * only libc and pthread so that it also links with -static. Worker threads
 * run one after the other, so the layout does not depend on scheduling even
 * when every thread shares one arena (glibc.malloc.arena_max=1). The same
 * binary, scenario, seed and tunables give the same numbers on every run,
 * except "mmapped" (see there).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* snprintf() only: no FILE is ever touched */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "target_io.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- output ---------------------------------------------------------- */



static void __attribute__((noreturn)) die(const char *msg)
{
	write_all(2, "heapgen: ", 9);
	write_all(2, msg, strlen(msg));
	write_all(2, "\n", 1);
	_exit(1);
}

#if !__GLIBC_PREREQ(2, 33)
/*
 * glibc before 2.33 has only mallinfo(): the same numbers in int fields,
 * wrapped to 32 bits. Every scenario's heap stays far below 4 GiB, so read
 * back as unsigned they are exactly what mallinfo2() would say.
 */
struct mallinfo2 {
	size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks,
		uordblks, fordblks, keepcost;
};

static struct mallinfo2 mallinfo2(void)
{
	struct mallinfo m = mallinfo();
	struct mallinfo2 mi = {
		.arena = (unsigned int)m.arena,
		.ordblks = (unsigned int)m.ordblks,
		.smblks = (unsigned int)m.smblks,
		.hblks = (unsigned int)m.hblks,
		.hblkhd = (unsigned int)m.hblkhd,
		.usmblks = (unsigned int)m.usmblks,
		.fsmblks = (unsigned int)m.fsmblks,
		.uordblks = (unsigned int)m.uordblks,
		.fordblks = (unsigned int)m.fordblks,
		.keepcost = (unsigned int)m.keepcost,
	};

	return mi;
}
#endif

static void report_mallinfo(void)
{
	struct mallinfo2 mi = mallinfo2();
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "mallinfo2 arena=%zu ordblks=%zu smblks=%zu hblks=%zu "
		     "hblkhd=%zu usmblks=%zu fsmblks=%zu uordblks=%zu "
		     "fordblks=%zu keepcost=%zu\n",
		     mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd,
		     mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks,
		     mi.keepcost);
	if (n < 0 || (size_t)n >= sizeof(buf))
		die("mallinfo2 line too long");
	write_all(1, buf, (size_t)n);
}

/* ---- deterministic PRNG: xorshift64* seeded through splitmix64 ------- */

struct rng {
	uint64_t s;
};

static void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dULL;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

/* A number in [0, n). */
static size_t rng_below(struct rng *r, size_t n)
{
	return (size_t)((rng_next(r) >> 11) % n);
}

/* A number in [lo, hi]. */
static size_t rng_range(struct rng *r, size_t lo, size_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static void shuffle(struct rng *r, void **v, size_t n)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = rng_below(r, i);
		void *tmp = v[i - 1];

		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

/* ---- allocation wrappers -------------------------------------------- */

/* Kept pointers live here, so they stay reachable and are never freed. */
#define POOL_SLOTS 65536
static void *pool[POOL_SLOTS];
static size_t pool_used;

static void **pool_take(size_t n)
{
	size_t at = __atomic_fetch_add(&pool_used, n, __ATOMIC_RELAXED);

	if (at + n > POOL_SLOTS)
		die("pointer pool exhausted");
	return &pool[at];
}

/* Write the first bytes, as a program would. */
static void touch(void *p, size_t size)
{
	memset(p, 0xa5, size < 64 ? size : 64);
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("malloc failed");
	touch(p, size);
	return p;
}

static void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb, size);

	if (!p)
		die("calloc failed");
	touch(p, nmemb * size);
	return p;
}

static void *xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size);

	if (!p)
		die("realloc failed");
	touch(p, size);
	return p;
}

/* calloc() of about size bytes, split into nmemb elements. */
static void *xcalloc_split(struct rng *r, size_t size)
{
	size_t nmemb = rng_range(r, 1, 8);

	return xcalloc(nmemb, size / nmemb + 1);
}

/*
 * how: 0 posix_memalign, 1 aligned_alloc, 2 memalign, 3 valloc (page
 * aligned whatever align says).
 */
static void *xmemalign(int how, size_t align, size_t size)
{
	void *p = NULL;

	switch (how) {
	case 0:
		if (posix_memalign(&p, align, size))
			p = NULL;
		break;
	case 1:
		/* C11 wants size to be a multiple of the alignment. */
		p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
		break;
	case 2:
		p = memalign(align, size);
		break;
	default:
		p = valloc(size);
		break;
	}
	if (!p)
		die("aligned allocation failed");
	if (how < 3 && ((uintptr_t)p & (align - 1)))
		die("misaligned pointer");
	touch(p, size);
	return p;
}

/* ---- the mixed workload --------------------------------------------- */

/*
 * One allocation of a mixed size: tcache and fastbin sizes, small-bin
 * sizes, large-bin sizes, mmapped sizes (above the default 128 KiB mmap
 * threshold) and page-aligned blocks of about 300 KiB. One in seven comes
 * from calloc(), one in twelve is then grown or shrunk with realloc().
 *
 * Freeing an mmapped chunk raises glibc's mmap threshold to that chunk's
 * size (up to 32 MiB), so only the first workload of a process gets its
 * 200-800 KiB blocks mmapped; later ones get them from their arena.
 */
static void *mixed_alloc(struct rng *r)
{
	size_t roll = rng_below(r, 100);
	size_t size;
	void *p;

	if (roll < 40) {
		size = rng_range(r, 1, 120);
	} else if (roll < 70) {
		size = rng_range(r, 1, 1100);
	} else if (roll < 96) {
		size = rng_range(r, 1100, 61 * KIB);
	} else if (roll < 98) {
		size = rng_range(r, 200 * KIB, 800 * KIB);
	} else {
		size = rng_range(r, 280 * KIB, 320 * KIB);
		return xmemalign(0, 4096, size);
	}

	if (rng_below(r, 7) == 0)
		p = xcalloc_split(r, size);
	else
		p = xmalloc(size);

	if (rng_below(r, 12) == 0) {
		if (rng_below(r, 2))
			size *= rng_range(r, 2, 4);
		else
			size = size / rng_range(r, 2, 4) + 1;
		p = xrealloc(p, size);
	}
	return p;
}

/*
 * Leave every kind of free chunk behind: mallocs above the tcache range
 * sort the unsorted chunks into the small and large bins; freeing a few of
 * them refills the unsorted bin; of twelve chunks of each fastbin size ten
 * are freed, which overflows the tcache (7 per size), so the rest stays in
 * the fastbins. The order matters: a free that coalesces into 64 KiB or more
 * consolidates the fastbins, and a large malloc does too.
 */
#define SETTLE_BIG 32
#define SETTLE_ROUNDS 12
static const size_t fast_sizes[] = { 16, 24, 40, 56, 72, 88, 104, 120 };

static void settle(struct rng *r)
{
	void **big = pool_take(SETTLE_BIG);
	void **small = pool_take(SETTLE_ROUNDS * ARRAY_SIZE(fast_sizes));
	size_t i, j, k;

	for (i = 0; i < SETTLE_BIG; i++)
		big[i] = xmalloc(rng_range(r, 1100, 20 * KIB));

	k = 0;
	for (i = 0; i < SETTLE_ROUNDS; i++)
		for (j = 0; j < ARRAY_SIZE(fast_sizes); j++)
			small[k++] = xmalloc(fast_sizes[j]);

	for (i = 0; i < SETTLE_BIG; i += 3) {
		free(big[i]);
		big[i] = NULL;
	}

	k = 0;
	for (i = 0; i < SETTLE_ROUNDS; i++) {
		for (j = 0; j < ARRAY_SIZE(fast_sizes); j++, k++) {
			if (i == 5 || i == 11)
				continue; /* two guards per size stay */
			free(small[k]);
			small[k] = NULL;
		}
	}
}

/*
 * n mixed allocations, free_pct percent of them freed in random order,
 * then settle() if asked.
 */
static void mixed_workload(struct rng *r, size_t n, size_t free_pct,
			   int do_settle)
{
	void **slot = pool_take(n);
	size_t i, nfree = n * free_pct / 100;

	for (i = 0; i < n; i++)
		slot[i] = mixed_alloc(r);
	shuffle(r, slot, n);
	for (i = 0; i < nfree; i++) {
		free(slot[i]);
		slot[i] = NULL;
	}
	if (do_settle)
		settle(r);
}

static void work_mixed(struct rng *r, size_t n)
{
	mixed_workload(r, n, 55, 1);
}

/* Fastbin-sized chunks, interleaved, 80 % freed in random order. */
static void work_fastbins(struct rng *r, size_t rounds)
{
	size_t n = rounds * ARRAY_SIZE(fast_sizes);
	void **slot = pool_take(n);
	void **victims = pool_take(n);
	size_t i, j, k = 0, nv = 0;

	for (i = 0; i < rounds; i++)
		for (j = 0; j < ARRAY_SIZE(fast_sizes); j++)
			slot[k++] = xmalloc(fast_sizes[j]);
	/* Every fifth chunk of each size stays allocated as a guard. */
	for (k = 0; k < n; k++) {
		if ((k / ARRAY_SIZE(fast_sizes)) % 5 == 4)
			continue;
		victims[nv++] = slot[k];
		slot[k] = NULL;
	}
	shuffle(r, victims, nv);
	for (i = 0; i < nv; i++) {
		free(victims[i]);
		victims[i] = NULL;
	}
}

/*
 * About 150 MiB in 60 KiB chunks (below the mmap threshold): in a non-main
 * arena that takes three 64 MiB heaps. Some chunks are freed, never the
 * last ones, so the top heap stays. Then a small mixed workload.
 */
#define BIG_CHUNK (60 * KIB)
#define BIG_CHUNKS 2560

static void work_bigarena(struct rng *r, size_t n)
{
	void **slot = pool_take(BIG_CHUNKS);
	size_t i;

	for (i = 0; i < BIG_CHUNKS; i++)
		slot[i] = xmalloc(BIG_CHUNK);
	for (i = 0; i < BIG_CHUNKS - 16; i++) {
		if (i % 4 == 1 || rng_below(r, 10) == 0) {
			free(slot[i]);
			slot[i] = NULL;
		}
	}
	mixed_workload(r, n, 55, 1);
}

/* ---- worker threads ------------------------------------------------- */

typedef void (*work_fn)(struct rng *r, size_t n);

struct worker {
	pthread_t tid;
	work_fn fn;
	size_t n;
	uint64_t seed;
};

#define MAX_WORKERS 16
static struct worker workers[MAX_WORKERS];
static int nworkers;

/* Two parties: the main thread and the worker it has just started. */
static pthread_barrier_t done_barrier;

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER; /* never set */
static pthread_cond_t parked_cond = PTHREAD_COND_INITIALIZER;
static int nparked;

static void __attribute__((noreturn)) park(void)
{
	pthread_mutex_lock(&park_lock);
	nparked++;
	pthread_cond_broadcast(&parked_cond);
	for (;;)
		pthread_cond_wait(&park_cond, &park_lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rng r;

	rng_seed(&r, w->seed);
	w->fn(&r, w->n);
	pthread_barrier_wait(&done_barrier);
	park();
}

static void *exiter_main(void *arg)
{
	struct worker *w = arg;
	struct rng r;

	rng_seed(&r, w->seed);
	w->fn(&r, w->n);
	return NULL;
}

/* Start a worker and wait until it has finished allocating. */
static void start_worker(struct rng *r, work_fn fn, size_t n)
{
	struct worker *w;

	if (nworkers == MAX_WORKERS)
		die("too many workers");
	w = &workers[nworkers++];
	w->fn = fn;
	w->n = n;
	w->seed = rng_next(r);
	if (pthread_create(&w->tid, NULL, worker_main, w))
		die("pthread_create failed");
	pthread_barrier_wait(&done_barrier);
}

/* Run fn in a thread that exits: its arena goes on glibc's free list. */
static void run_exiting_thread(struct rng *r, work_fn fn, size_t n)
{
	struct worker w = { .fn = fn, .n = n, .seed = rng_next(r) };

	if (pthread_create(&w.tid, NULL, exiter_main, &w))
		die("pthread_create failed");
	if (pthread_join(w.tid, NULL))
		die("pthread_join failed");
}

/*
 * Return once every worker has released park_lock inside
 * pthread_cond_wait(): none of them can be in malloc any more.
 */
static void wait_all_parked(void)
{
	pthread_mutex_lock(&park_lock);
	while (nparked < nworkers)
		pthread_cond_wait(&parked_cond, &park_lock);
	pthread_mutex_unlock(&park_lock);
}

/* ---- scenarios ------------------------------------------------------ */

static void scen_idle(struct rng *r)
{
	void **slot = pool_take(6);
	size_t i;

	for (i = 0; i < 6; i++)
		slot[i] = xmalloc(rng_range(r, 16, 256));
	free(slot[1]);
	slot[1] = NULL;
	free(slot[4]);
	slot[4] = NULL;
}

static void scen_single(struct rng *r)
{
	work_mixed(r, 3000);
}

/*
 * main + 6 workers with arenas of their own, one more thread that works
 * and exits (its arena goes on the free list), then a seventh worker that
 * picks that arena up again.
 */
static void scen_threads(struct rng *r)
{
	int i;

	work_mixed(r, 1500);
	for (i = 0; i < 6; i++)
		start_worker(r, work_mixed, 1500);
	run_exiting_thread(r, work_mixed, 1500);
	start_worker(r, work_mixed, 1500);
}

static void scen_bigarena(struct rng *r)
{
	work_mixed(r, 300);
	start_worker(r, work_bigarena, 300);
}

/*
 * Mmapped chunks: plain ones of 200 KiB to 2 MiB, aligned ones of every
 * alignment from 64 to 64 KiB, small and above the mmap threshold. All of
 * it is allocated before anything is freed: freeing an mmapped chunk
 * raises glibc's dynamic mmap threshold. Where an aligned chunk is carved
 * depends on the heap's address, so with ASLR the numbers of this scenario
 * differ from run to run (every other scenario repeats exactly).
 */
static void scen_mmapped(struct rng *r)
{
	static const size_t nhuge = 64;
	size_t nalign = 11 * 4, n = nhuge + nalign, i, k = 0, align;
	void **slot = pool_take(n);
	int how = 0;

	for (i = 0; i < nhuge; i++) {
		size_t size = rng_range(r, 200 * KIB, 2 * MIB);

		if (i % 7 == 0)
			slot[k++] = xcalloc_split(r, size);
		else
			slot[k++] = xmalloc(size);
	}
	for (align = 64; align <= 64 * KIB; align *= 2) {
		slot[k++] = xmemalign(how++ % 4, align, rng_range(r, 1, 200));
		slot[k++] = xmemalign(how++ % 4, align,
				      rng_range(r, 1000, 5000));
		slot[k++] = xmemalign(how++ % 4, align,
				      rng_range(r, 20 * KIB, 60 * KIB));
		slot[k++] = xmemalign(how++ % 4, align,
				      rng_range(r, 150 * KIB, 400 * KIB));
		how++; /* rotate: every size meets every function */
	}
	shuffle(r, slot, n);
	for (i = 0; i < n * 4 / 10; i++) {
		free(slot[i]);
		slot[i] = NULL;
	}
	settle(r);
}

static void scen_trim(struct rng *r)
{
	mixed_workload(r, 2000, 90, 0);
	malloc_trim(0);
}

/*
 * calloc() of every size class, then realloc() in every direction: grow and
 * shrink in the heap, heap to mmap, mmap grow (mremap), and mmap back down
 * to a small size (glibc shrinks the mapping with mremap and keeps the
 * chunk mmapped).
 */
static void scen_calloc(struct rng *r)
{
	static const size_t n = 1500;
	void **slot = pool_take(n);
	size_t i;

	for (i = 0; i < n; i++) {
		size_t roll = rng_below(r, 100), size;

		if (roll < 45)
			size = rng_range(r, 1, 120);
		else if (roll < 75)
			size = rng_range(r, 1, 1100);
		else if (roll < 97)
			size = rng_range(r, 1100, 61 * KIB);
		else
			size = rng_range(r, 200 * KIB, 800 * KIB);
		slot[i] = xcalloc_split(r, size);
	}
	for (i = 0; i < n; i += 3) {
		switch (rng_below(r, 6)) {
		case 0: /* grow within the heap */
			slot[i] = xrealloc(slot[i], rng_range(r, 1, 4000));
			break;
		case 1: /* shrink */
			slot[i] = xrealloc(slot[i], rng_range(r, 1, 64));
			break;
		case 2: /* heap to mmap */
			slot[i] = xrealloc(slot[i],
					   rng_range(r, 300 * KIB, 1500 * KIB));
			break;
		case 3: /* heap to mmap and back down */
			slot[i] = xrealloc(slot[i],
					   rng_range(r, 300 * KIB, 900 * KIB));
			slot[i] = xrealloc(slot[i], rng_range(r, 16, 2000));
			break;
		case 4: /* grow a lot: mmap, then mremap */
			slot[i] = xrealloc(slot[i],
					   rng_range(r, 200 * KIB, 400 * KIB));
			slot[i] = xrealloc(slot[i],
					   rng_range(r, 1 * MIB, 3 * MIB));
			break;
		default: /* medium */
			slot[i] = xrealloc(slot[i],
					   rng_range(r, 1100, 61 * KIB));
			break;
		}
	}
	shuffle(r, slot, n);
	for (i = 0; i < n / 2; i++) {
		free(slot[i]);
		slot[i] = NULL;
	}
	settle(r);
}

static void scen_fastbins(struct rng *r)
{
	work_fastbins(r, 40);
	start_worker(r, work_fastbins, 40);
}

static void scen_demo(struct rng *r)
{
	work_mixed(r, 600);
	start_worker(r, work_mixed, 600);
	start_worker(r, work_mixed, 600);
}

static const struct scenario {
	const char *name;
	void (*run)(struct rng *r);
} scenarios[] = {
	{ "idle", scen_idle },
	{ "single", scen_single },
	{ "threads", scen_threads },
	{ "bigarena", scen_bigarena },
	{ "mmapped", scen_mmapped },
	{ "trim", scen_trim },
	{ "calloc", scen_calloc },
	{ "fastbins", scen_fastbins },
	{ "demo", scen_demo },
};

/* ---- commands ------------------------------------------------------- */

/* Kept by churn; a full ring frees its oldest entry. */
#define CHURN_KEEP 8192
static void *churn_keep[CHURN_KEEP];
static size_t churn_pos;

static void churn(struct rng *r)
{
	void *tmp[1000];
	size_t i, n = ARRAY_SIZE(tmp);

	for (i = 0; i < n; i++) {
		size_t roll = rng_below(r, 100), size;

		if (roll < 85)
			size = rng_range(r, 1, 1100);
		else if (roll < 99)
			size = rng_range(r, 1100, 61 * KIB);
		else
			size = rng_range(r, 200 * KIB, 400 * KIB);
		tmp[i] = xmalloc(size);
	}
	shuffle(r, tmp, n);
	for (i = 0; i < n / 2; i++)
		free(tmp[i]);
	for (; i < n; i++) {
		void **slot = &churn_keep[churn_pos++ % CHURN_KEEP];

		free(*slot);
		*slot = tmp[i];
	}
}

/* The generator of the scenario, which "churn" goes on drawing from. */
static struct rng *command_rng;

static void command(char *line)
{
	if (!strcmp(line, "again")) {
		report_mallinfo();
	} else if (!strcmp(line, "churn")) {
		churn(command_rng);
		report_mallinfo();
	} else {
		say("error unknown command\n");
	}
}

static void __attribute__((noreturn)) usage(void)
{
	static const char head[] = "usage: heapgen SCENARIO [SEED]\nscenarios:";
	size_t i;

	write_all(2, head, strlen(head));
	for (i = 0; i < ARRAY_SIZE(scenarios); i++) {
		write_all(2, " ", 1);
		write_all(2, scenarios[i].name, strlen(scenarios[i].name));
	}
	write_all(2, "\n", 1);
	exit(2);
}

int main(int argc, char **argv)
{
	const struct scenario *sc = NULL;
	uint64_t seed = 1;
	struct rng r;
	size_t i;

	die_with_parent();

	if (argc < 2 || argc > 3)
		usage();
	for (i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (!strcmp(argv[1], scenarios[i].name))
			sc = &scenarios[i];
	if (!sc)
		usage();
	if (argc == 3) {
		char *end;

		errno = 0;
		seed = strtoull(argv[2], &end, 0);
		if (errno || end == argv[2] || *end)
			usage();
	}

	if (pthread_barrier_init(&done_barrier, NULL, 2))
		die("pthread_barrier_init failed");
	rng_seed(&r, seed);
	sc->run(&r);
	wait_all_parked();

	report_mallinfo();
	command_rng = &r;
	serve_commands(command);
}
