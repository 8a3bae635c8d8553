/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * allocloop.c - drive allocator_loop and the sampler helpers for the
 * sampling-window backend tests. See allocloop.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "allocloop.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

int
loop_start(struct loop *l, const char *threads)
{
	const char *argv[] = {threads, NULL};
	char got[1024];
	const char *p;
	int err;

	memset(l, 0, sizeof(*l));
	err = target_start(&l->t, "allocator_loop", argv, NULL);
	if (err) {
		snprintf(l->t.line, sizeof(l->t.line),
			 "cannot start allocator_loop: %s", strerror(-err));
		return err;
	}
	err = target_read_line(&l->t, 20000);
	if (err)
		return err;
	p = strstr(l->t.line, "seq_fn=");
	if (!p || strncmp(l->t.line, "ready ", 6))
		goto bad;
	l->seq_fn = strtoull(p + 7, NULL, 16);
	p = strstr(l->t.line, "tids=");
	if (!p)
		goto bad;
	p += 5;
	while (*p && l->ntids < 8) {
		char *end;

		l->tids[l->ntids++] = (pid_t)strtol(p, &end, 10);
		if (end == p)
			break;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
bad:
	snprintf(got, sizeof(got), "%s", l->t.line);
	snprintf(l->t.line, sizeof(l->t.line), "bad ready line: %.900s", got);
	return -EPROTO;
}

int
loop_command(struct loop *l, const char *cmd, const char *reply)
{
	char got[200];
	int err = target_send(&l->t, cmd);

	if (err) {
		snprintf(l->t.line, sizeof(l->t.line), "send: %s",
			 strerror(-err));
		return err;
	}
	err = target_read_line(&l->t, 10000);
	if (err)
		return err;
	if (strncmp(l->t.line, reply, strlen(reply))) {
		snprintf(got, sizeof(got), "%.150s", l->t.line);
		snprintf(l->t.line, sizeof(l->t.line), "expected %s, got %s",
			 reply, got);
		return -EPROTO;
	}
	return 0;
}

int
loop_progress(struct loop *l, unsigned long *calls)
{
	int err = loop_command(l, "progress", "progress ");

	if (err)
		return err;
	*calls = strtoul(l->t.line + 9, NULL, 10);
	return 0;
}

int
loop_rate(struct loop *l, int ms, double *rate)
{
	unsigned long a, b;
	int64_t t0;
	int err = loop_progress(l, &a);

	if (err)
		return err;
	t0 = now_us();
	sleep_us((int64_t)ms * 1000);
	err = loop_progress(l, &b);
	if (err)
		return err;
	*rate = (double)(b - a) * 1e6 / (double)(now_us() - t0);
	return 0;
}

int
loop_read_seq(struct loop *l, char (*text)[160], unsigned max, unsigned *n)
{
	*n = 0;
	for (;;) {
		int err = target_read_line(&l->t, 20000);

		if (err)
			return err;
		if (!strcmp(l->t.line, "done seq"))
			return 0;
		if (*n >= max)
			return -E2BIG;
		snprintf(text[(*n)++], sizeof(text[0]), "%.150s", l->t.line);
	}
}

int
wait_state(pid_t pid, char want, int timeout_ms, char *state, size_t len)
{
	int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;

	state[0] = '\0';
	while (now_us() < deadline &&
	       (proc_status_field(pid, "State", state, len) ||
		state[0] != want))
		sleep_us(1000);
	return state[0] == want ? 0 : -ETIMEDOUT;
}

int
malloc_bytes_check(pid_t pid, uint64_t addr)
{
	unsigned char theirs[16], ours[16];
	struct iovec l = {theirs, sizeof(theirs)};
	struct iovec r = {(void *)(uintptr_t)addr, sizeof(theirs)};
	/* glibc's own malloc, not a sanitizer's: same file in both */
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *fn = libc ? dlsym(libc, "malloc") : NULL;

	if (libc)
		dlclose(libc);
	if (!fn)
		return -ENOENT;
	memcpy(ours, fn, sizeof(ours));
	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)sizeof(theirs))
		return -EIO;
	return memcmp(theirs, ours, sizeof(ours)) ? -EBADMSG : 0;
}

int
sampler_spawn(const char *name, const char *const args[], int pdeathsig,
	      pid_t *pid, int *out_fd)
{
	char dir[512], path[600];
	const char *argv[16];
	int pfd[2], n = 0;
	pid_t child;

	if (!target_path("", dir, sizeof(dir)))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/../helpers/%s", dir, name);
	argv[n++] = name;
	for (int i = 0; args && args[i]; i++) {
		if (n == 15)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		int err = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (!child) {
		if (pdeathsig)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	*out_fd = pfd[0];
	*pid = child;
	return 0;
}

int
sampler_tally(int fd, struct sampler_tally *st)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	char *line, *save;

	st->open = 0;
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long w, h, lo;
		int got = sscanf(line, "window %lu hits=%lu lost=%lu", &w, &h,
				 &lo);

		if (got >= 2) {
			st->windows++;
			st->hits += h;
			if (got == 3)
				st->lost += lo;
			st->open = 0;
		} else if (!strncmp(line, "open ", 5)) {
			st->open = 1;
		} else if (!strncmp(line, "error", 5) && !st->err[0]) {
			snprintf(st->err, sizeof(st->err), "%s", line);
		}
	}
	return 0;
}

int
loop_parse_call(const char *text, const char *(*fn_name)(unsigned),
		unsigned nfns, struct loop_call *out)
{
	char fn[32];

	/* glibc prints a null pointer as "(nil)": 0 then. */
	memset(out, 0, sizeof(*out));
	if (sscanf(text, "ptr tid=%d fn=%31s size=%lu ptr=%llx old=%llx",
		   &out->tid, fn, &out->size, &out->ptr, &out->old) < 3)
		return -EPROTO;
	for (out->fn = 0; out->fn < nfns; out->fn++)
		if (!strcmp(fn, fn_name(out->fn)))
			return 0;
	return -EPROTO;
}

void
seen_add(struct seen *v, unsigned long *n, unsigned long *dropped,
	 unsigned long *bad_ip, uint64_t fn_addr, const struct alloc_event *ev)
{
	struct seen *s;

	if (ev->ip != fn_addr)
		(*bad_ip)++;
	if (*n >= MAX_SEEN) {
		(*dropped)++;
		return;
	}
	s = &v[*n];
	s->tid = ev->tid;
	s->fn = ev->fn;
	s->size = ev->size;
	s->ptr = ev->ptr;
	s->old = ev->old_ptr;
	s->ip = ev->ip;
	s->time_ns = ev->time_ns;
	s->end_ns = ev->end_ns;
	s->stack_len = ev->stack_len;
	s->retaddr = 0;
	if (ev->stack_len >= 8)
		memcpy(&s->retaddr, ev->stack, 8);
	__atomic_store_n(n, *n + 1, __ATOMIC_RELEASE);
}
