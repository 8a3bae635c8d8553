/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * preload_malloc.c - test allocator that is not glibc's: LD_PRELOAD it
 * (built with gcc -shared -fPIC) to make a process whose malloc lives
 * outside libc, so leakattach must refuse it with LA_ENOTGLIBC.
 *
 * A bump allocator over anonymous mmap regions. Every block is preceded by
 * a 16-byte header that holds its size; free() does nothing and memory is
 * never reused, so fresh blocks are always zero and calloc() needs no
 * memset. A spinlock makes it thread-safe. glibc's own malloc is never
 * called, so its main_arena stays uninitialised.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HDR 16 /* header size, also the minimum alignment */
#define REGION ((size_t)64 << 20)
#define PAGE 4096

struct hdr {
	size_t size;  /* usable bytes */
	size_t magic; /* PRELOAD_MAGIC */
};

#define PRELOAD_MAGIC ((size_t)0x70726c6d616c6c63ULL)

static int lock;
static uintptr_t cur, end;

static void spin_lock(void)
{
	while (__atomic_test_and_set(&lock, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock, __ATOMIC_RELAXED))
			sched_yield();
}

static void spin_unlock(void)
{
	__atomic_clear(&lock, __ATOMIC_RELEASE);
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * size usable bytes aligned to align (a power of two, at least HDR), with
 * the header right before them.
 */
static void *bump(size_t size, size_t align)
{
	size_t need;
	uintptr_t base, user;
	struct hdr *h;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
	size = (size + HDR - 1) & ~(size_t)(HDR - 1);
	need = size + align + HDR;

	if (need > REGION / 4) {
		/* Big: a mapping of its own. */
		size_t len = (need + PAGE - 1) & ~(size_t)(PAGE - 1);

		base = (uintptr_t)map(len);
		if (!base) {
			errno = ENOMEM;
			return NULL;
		}
	} else {
		spin_lock();
		if (end - cur < need) {
			void *r = map(REGION);

			if (!r) {
				spin_unlock();
				errno = ENOMEM;
				return NULL;
			}
			cur = (uintptr_t)r;
			end = cur + REGION;
		}
		base = cur;
		cur = ((base + HDR + align - 1) & ~(uintptr_t)(align - 1)) +
		      size;
		spin_unlock();
	}
	user = (base + HDR + align - 1) & ~(uintptr_t)(align - 1);
	h = (struct hdr *)(user - HDR);
	h->size = size;
	h->magic = PRELOAD_MAGIC;
	return (void *)user;
}

static size_t power_of_two_at_least(size_t align)
{
	size_t a = HDR;

	while (a < align && a < SIZE_MAX / 2)
		a *= 2;
	return a;
}

void *malloc(size_t size)
{
	return bump(size, HDR);
}

void free(void *p)
{
	(void)p; /* never reused */
}

void *calloc(size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return bump(nmemb * size, HDR); /* fresh memory is zero */
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	return ((struct hdr *)((uintptr_t)p - HDR))->size;
}

void *realloc(void *old, size_t size)
{
	size_t old_size;
	void *p;

	if (!old)
		return malloc(size);
	if (size == 0) {
		free(old);
		return NULL;
	}
	old_size = malloc_usable_size(old);
	if (size <= old_size)
		return old;
	p = malloc(size);
	if (p)
		memcpy(p, old, old_size);
	return p;
}

void *memalign(size_t align, size_t size)
{
	return bump(size, power_of_two_at_least(align));
}

void *aligned_alloc(size_t align, size_t size)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return bump(size, power_of_two_at_least(align));
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = bump(size, power_of_two_at_least(align));
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t size)
{
	return bump(size, PAGE);
}

void *pvalloc(size_t size)
{
	if (size > SIZE_MAX - PAGE) {
		errno = ENOMEM;
		return NULL;
	}
	return bump((size + PAGE - 1) & ~(size_t)(PAGE - 1), PAGE);
}
