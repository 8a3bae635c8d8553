/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vforker.c - test target: a process whose main thread sits inside
 * vfork(), waiting for a child that blocks.
 *
 * Usage: vforker
 *
 * The parent allocates a little (it has a glibc heap), prints "ready",
 * then calls vfork(). The child, which borrows the parent's memory and may
 * only make system calls, writes "child" to stdout and then reads stdin
 * one byte at a time until a newline: the parent stays in the kernel's
 * vfork wait (State D, killable) until the test sends an empty line. The
 * child then _exit()s and the parent prints "vfork done" and serves
 * commands on stdin, one per line:
 *   again   "alive" (what target_check_unharmed() asks)
 *   quit    exit(0); so does end of file
 *
 * The child asks for SIGKILL when the parent dies (PR_SET_PDEATHSIG is not
 * inherited across fork), so that killing the parent never leaves it
 * behind. Conventions of the test targets: no stdio, PR_SET_PDEATHSIG,
 * never sanitized.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target_io.h"

static void *kept[8];
/* Written by the vfork child only (it shares our memory). */
static char child_byte;



/*
 * The vfork child: raw system calls only, no return from the function
 * that called vfork(), no libc state touched.
 */
static void __attribute__((noreturn)) child(void)
{
	static const char msg[] = "child\n";

	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	syscall(SYS_write, 1, msg, sizeof(msg) - 1);
	for (;;) {
		long n = syscall(SYS_read, 0, &child_byte, 1);

		if (n == 0 || (n == 1 && child_byte == '\n'))
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
	syscall(SYS_exit, 0);
	for (;;)
		;
}

/* After the vfork: commands on stdin. */
static void
command(char *line)
{
	if (!strcmp(line, "again"))
		say("alive\n");
	else
		say("error unknown command\n");
}

int
main(void)
{
	pid_t pid;
	size_t i;
	int st;

	die_with_parent();

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		kept[i] = malloc(64 << i);
		if (kept[i])
			memset(kept[i], 0x5a, 64);
	}
	say("ready\n");

	pid = vfork();
	if (pid == 0)
		child();
	if (pid < 0) {
		say("error vfork failed\n");
		exit(1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	say("vfork done\n");
	serve_commands(command);
}
