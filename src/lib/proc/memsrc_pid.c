/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsrc_pid.c - read a live process: process_vm_readv first, and
 * /proc/PID/mem when that is refused. Neither needs the target stopped or
 * traced, only ptrace-attach permission; neither writes anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/arch.h"
#include "proc/memsrc.h"

struct pid_src {
	struct memsrc src;
	pid_t pid;
	int mem_fd; /* /proc/PID/mem, opened on first need */
	int use_procmem;
	int pagemap_fd; /* /proc/PID/pagemap, opened on first need; -2: refused */
};

static ssize_t
read_procmem(struct pid_src *ps, uint64_t addr, void *buf, size_t len)
{
	ssize_t n;

	if (ps->mem_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", (int)ps->pid);
		ps->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ps->mem_fd < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	n = pread(ps->mem_fd, buf, len, (off_t)addr);
	if (n < 0)
		return errno == EIO ? -EFAULT : -errno;
	return n ? n : -ESRCH; /* 0: the address space is gone */
}

static ssize_t
pid_read(void *priv, uint64_t addr, void *buf, size_t len)
{
	struct pid_src *ps = priv;
	struct iovec local = {buf, len};
	struct iovec remote = {(void *)(uintptr_t)addr, len};
	ssize_t n;

	if (ps->use_procmem)
		return read_procmem(ps, addr, buf, len);
	n = process_vm_readv(ps->pid, &local, 1, &remote, 1, 0);
	if (n > 0)
		return n;
	if (n == 0)
		return -EFAULT;
	switch (errno) {
	case EFAULT: /* addr unmapped (a partial read returns a count) */
	case ESRCH: /* the process is gone */
		return -errno;
	case ENOSYS: /* kernel without CONFIG_CROSS_MEMORY_ATTACH */
	case EPERM: /* seccomp or LSM policy may still allow /proc/PID/mem */
		ps->use_procmem = 1;
		return read_procmem(ps, addr, buf, len);
	default:
		return -errno;
	}
}

/* process_vm_readv takes at most IOV_MAX (1024) iovecs a side */
#define GATHER_MAX 1024u

static ssize_t
pid_gather(void *priv, const uint64_t *addrs, unsigned n, size_t each,
	   void *buf)
{
	struct pid_src *ps = priv;
	struct iovec local[GATHER_MAX], remote[GATHER_MAX];
	unsigned char *b = buf;
	ssize_t got;

	if (ps->use_procmem)
		return 0; /* one pread each, by memsrc_gather() */
	if (n > GATHER_MAX)
		n = GATHER_MAX;
	for (unsigned i = 0; i < n; i++) {
		local[i] = (struct iovec){b + (size_t)i * each, each};
		remote[i] = (struct iovec){(void *)(uintptr_t)addrs[i], each};
	}
	got = process_vm_readv(ps->pid, local, n, remote, n, 0);
	if (got < 0)
		return errno == ESRCH ? -ESRCH : 0;
	return got / (ssize_t)each; /* whole slices: it stops at a failure */
}

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_BATCH 512u

/*
 * pagemap has one entry per page of the kernel's size (16 or 64 KiB on
 * some aarch64 kernels): each MEMSRC_PAGE unit takes its page's entry.
 */
static int
big_pages_used(int fd, uint64_t lo, unsigned n, unsigned char *used)
{
	const uint64_t page = arch_page_size();
	uint64_t e[PM_BATCH], got_lo = 0, got_n = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t pg = (lo + (uint64_t)i * MEMSRC_PAGE) / page;

		if (pg < got_lo || pg >= got_lo + got_n) {
			ssize_t got = pread(fd, e, sizeof(e), (off_t)(pg * 8));

			if (got < 8)
				return got < 0 ? -errno : -EIO;
			got_lo = pg;
			got_n = (uint64_t)got / 8;
		}
		used[i] = !!(e[pg - got_lo] & (PM_PRESENT | PM_SWAPPED));
	}
	return 0;
}

static int
pid_pages_used(void *priv, uint64_t lo, unsigned n, unsigned char *used)
{
	struct pid_src *ps = priv;
	uint64_t e[PM_BATCH];

	if (ps->pagemap_fd == -1) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)ps->pid);
		ps->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ps->pagemap_fd < 0)
			ps->pagemap_fd = -2;
	}
	if (ps->pagemap_fd < 0)
		return -EACCES;
	if (arch_page_size() != MEMSRC_PAGE)
		return big_pages_used(ps->pagemap_fd, lo, n, used);
	for (unsigned i = 0; i < n;) {
		unsigned want = n - i < PM_BATCH ? n - i : PM_BATCH;
		ssize_t got = pread(ps->pagemap_fd, e, want * sizeof(e[0]),
				    (off_t)((lo / MEMSRC_PAGE + i) * 8));

		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		for (ssize_t k = 0; k < got / 8; k++)
			used[i + k] = !!(e[k] & (PM_PRESENT | PM_SWAPPED));
		i += (unsigned)(got / 8);
	}
	return 0;
}

static void
pid_close(void *priv)
{
	struct pid_src *ps = priv;

	if (ps->mem_fd >= 0)
		close(ps->mem_fd);
	if (ps->pagemap_fd >= 0)
		close(ps->pagemap_fd);
}

static const struct memsrc_ops pid_ops = {
	.read = pid_read,
	.gather = pid_gather,
	.pages_used = pid_pages_used,
	.close = pid_close,
};

int
memsrc_pid_open(pid_t pid, struct memsrc **out)
{
	struct pid_src *ps = calloc(1, sizeof(*ps));
	int err;

	if (!ps)
		return -ENOMEM;
	ps->pid = pid;
	ps->mem_fd = -1;
	ps->pagemap_fd = -1;
	err = memsrc_init(&ps->src, &pid_ops, ps);
	if (err) {
		free(ps);
		return err;
	}
	*out = &ps->src;
	return 0;
}
