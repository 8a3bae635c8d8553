/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callchain.c - test target for unwinding: the main thread waits for each
 * command at the end of a known call chain,
 *
 *   main -> chain_a -> chain_b -> chain_c -> read(2)            (default)
 *   main -> chain_a -> chain_b -> chain_c -> raw_read -> syscall  ("raw")
 *
 * "raw" blocks in a function of this file that issues the read system call
 * itself, so that with frame pointers every frame up to main has one (libc
 * has none). The tests build this file several ways (-g PIE, stripped of
 * DWARF, -no-pie, -O2 -fomit-frame-pointer) and compare what they unwind
 * with what it announces:
 *
 *   ready main=ADDR chain_a=ADDR chain_b=ADDR chain_c=ADDR raw_read=ADDR
 *         line_main=N line_a=N line_b=N line_c=N line_raw=N       (one line)
 *
 * ADDR: the functions' runtime addresses; line_X: the line of the call
 * made in X (line_c: the call of read or raw_read). Commands on stdin, one
 * per line, each read at the end of the chain: "ping" is answered "pong"
 * (the chain returns to main and goes down again); "dlopen LIB SYM" loads
 * LIB and answers "dl SYM=ADDR" ("error ..." when it cannot), "dlclose"
 * unloads it again ("closed"), for tests of a target whose modules change;
 * "quit" and end of file exit. Never sanitized, like every target; no
 * stdio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h> /* snprintf() only */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target_io.h"

#define NOINLINE __attribute__((noinline))

static int raw_mode;
/* Stores after each call: no call in the chain may become a tail call. */
static volatile long sink;
static char cmd[64];

static NOINLINE void
note(long v)
{
	sink = v;
}

/*
 * read(2) without libc: this function's frame is the innermost one. It
 * calls note() so that it is no leaf function: GCC omits the frame
 * pointer of leaf functions even with -fno-omit-frame-pointer.
 */
static NOINLINE long
raw_read(int fd, void *buf, size_t len)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_read), "D"((long)fd), "S"(buf),
			   "d"(len)
			 : "rcx", "r11", "memory");
	note(ret);
	return ret;
}

static NOINLINE long
chain_c(int fd)
{
	long n;

	if (raw_mode) {
		n = raw_read(fd, cmd, sizeof(cmd) - 1); /* call:raw */
	} else {
		n = read(fd, cmd, sizeof(cmd) - 1); /* call:chain_c */
	}
	sink = n;
	return n;
}

static NOINLINE long
chain_b(int fd)
{
	long n = chain_c(fd); /* call:chain_b */

	sink = n;
	return n;
}

static NOINLINE long
chain_a(int fd)
{
	long n = chain_b(fd); /* call:chain_a */

	sink = n;
	return n;
}

/* The library of "dlopen LIB SYM": one at a time. */
static void *dl_handle;

static const char *
dl_open(char *arg)
{
	static char line[256];
	char *sym = strchr(arg, ' ');
	void *addr;

	if (dl_handle || !sym)
		return "error dlopen LIB SYM, one at a time\n";
	*sym++ = '\0';
	dl_handle = dlopen(arg, RTLD_NOW | RTLD_LOCAL);
	if (!dl_handle)
		return "error cannot load it\n";
	addr = dlsym(dl_handle, sym);
	if (!addr)
		return "error no such symbol\n";
	snprintf(line, sizeof(line), "dl %s=%p\n", sym, addr);
	return line;
}

static const char *
dl_close(void)
{
	if (!dl_handle || dlclose(dl_handle))
		return "error nothing to close\n";
	dl_handle = NULL;
	return "closed\n";
}

int
main(int argc, char **argv)
{
	char line[512];
	long n = 0;

	die_with_parent();
	raw_mode = argc > 1 && !strcmp(argv[1], "raw");
	snprintf(line, sizeof(line),
		 "ready main=%p chain_a=%p chain_b=%p chain_c=%p raw_read=%p\n",
		 (void *)main, (void *)chain_a, (void *)chain_b,
		 (void *)chain_c, (void *)raw_read);
	say(line);
	/* Bounded by the test: it sends quit or closes stdin. */
	for (;;) {
		char *nl;

		memset(cmd, 0, sizeof(cmd));
		n = chain_a(0); /* call:main */
		if (n <= 0)
			break;
		nl = memchr(cmd, '\n', (size_t)n);
		if (nl)
			*nl = '\0';
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "ping"))
			say("pong\n");
		else if (!strncmp(cmd, "dlopen ", 7))
			say(dl_open(cmd + 7));
		else if (!strcmp(cmd, "dlclose"))
			say(dl_close());
		else
			say("error unknown command\n");
	}
	sink = n;
	return 0;
}
