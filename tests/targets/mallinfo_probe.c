/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mallinfo_probe.c - glibc's own mallinfo2() of a program nobody here
 * wrote, on request. LD_PRELOAD libmallinfo_probe.so with LA_MALLINFO_FD=N
 * (a descriptor open in the program, e.g. 1 for its stdout), and each
 * SIGUSR2 writes one line in target_report.h's format,
 * "mallinfo2 arena=... keepcost=...\n", to descriptor N. It is the oracle
 * of test_real_programs: asking gdb to call mallinfo2() in the program does
 * not work everywhere (gdb 13 on CPUs with AMX cannot call any function:
 * "Couldn't write extended state status: Bad address.").
 *
 * Asking must not change the answer, so the handler allocates nothing: a
 * stack buffer, decimal digits written by hand (snprintf() of integers
 * happens not to allocate in glibc, but nothing promises it) and write(2).
 * The library is bound at load time (-z now in Makefile.am), so the first
 * signal does not go through the lazy binder either.
 *
 * mallinfo2() is not async-signal-safe: __libc_mallinfo2() (glibc
 * malloc/malloc.c) locks every arena's mutex in turn, so a signal that
 * arrives while the program is inside malloc would deadlock it. Send
 * SIGUSR2 only while every thread of the program is idle outside malloc
 * (blocked reading its stdin, say), as the test does.
 *
 * The constructor removes LA_MALLINFO_FD from the environment, and
 * LD_PRELOAD when it names this library alone, and makes descriptor N
 * close-on-exec unless it is a standard one: children of the program
 * start without the probe, as they would without the test. Never
 * sanitized, like every target (TARGET_CFLAGS).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_NAME "libmallinfo_probe.so"

static int report_fd = -1;

/* Append s to buf[*len] if it fits; the buffers below are sized for the
 * longest line, so nothing is ever cut. */
static void
put_str(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (n > size - *len)
		n = size - *len;
	memcpy(buf + *len, s, n);
	*len += n;
}

/* v in decimal, without snprintf(). */
static void
put_u64(char *buf, size_t size, size_t *len, uint64_t v)
{
	char digits[20]; /* 18446744073709551615 */
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0 && *len < size)
		buf[(*len)++] = digits[--n];
}

static void
write_fully(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nobody to tell, and not our program to end */
		buf += n;
		len -= (size_t)n;
	}
}

static void
on_sigusr2(int sig)
{
	static const char *const names[] = {
		" arena=",   " ordblks=", " smblks=",   " hblks=",
		" hblkhd=",  " usmblks=", " fsmblks=",  " uordblks=",
		" fordblks=", " keepcost=",
	};
	int saved_errno = errno;
	struct mallinfo2 mi = mallinfo2();
	const size_t v[] = {
		mi.arena,   mi.ordblks, mi.smblks,   mi.hblks,    mi.hblkhd,
		mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost,
	};
	char buf[10 * (sizeof(" fordblks=") + 20) + sizeof("mallinfo2\n")];
	size_t len = 0;

	(void)sig;
	put_str(buf, sizeof(buf), &len, "mallinfo2");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		put_str(buf, sizeof(buf), &len, names[i]);
		put_u64(buf, sizeof(buf), &len, v[i]);
	}
	put_str(buf, sizeof(buf), &len, "\n");
	/* One write(2) of under PIPE_BUF bytes: a pipe gets it whole. */
	write_fully(report_fd, buf, len);
	errno = saved_errno;
}

static void
complain(const char *msg)
{
	write_fully(2, PROBE_NAME ": ", strlen(PROBE_NAME ": "));
	write_fully(2, msg, strlen(msg));
	write_fully(2, "\n", 1);
}

/* The environment as the program would have had it without the test. */
static void
forget_environment(void)
{
	const char *pre = getenv("LD_PRELOAD");

	unsetenv("LA_MALLINFO_FD");
	if (pre && !strpbrk(pre, ": \t")) {
		const char *base = strrchr(pre, '/');

		base = base ? base + 1 : pre;
		if (!strcmp(base, PROBE_NAME))
			unsetenv("LD_PRELOAD");
	}
}

__attribute__((constructor)) static void
probe_init(void)
{
	const char *s = getenv("LA_MALLINFO_FD");
	struct sigaction sa;
	long fd = 0;

	/* Without a valid descriptor no handler is installed: SIGUSR2 then
	 * ends the program (its default action), which the test notices. */
	if (!s || !*s) {
		complain("LA_MALLINFO_FD is not set");
		goto out;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || fd > 1000000) {
			complain("LA_MALLINFO_FD is not a descriptor number");
			goto out;
		}
		fd = fd * 10 + (*p - '0');
	}
	if (fcntl((int)fd, F_GETFD) < 0) {
		complain("LA_MALLINFO_FD is not an open descriptor");
		goto out;
	}
	if (fd > 2)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	report_fd = (int)fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr2;
	/* SA_RESTART: the program's blocking read(2) goes on as if nothing
	 * happened. Every other signal waits until the line is out. */
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		complain("cannot install the SIGUSR2 handler");
out:
	forget_environment();
}
