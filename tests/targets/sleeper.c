/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sleeper.c - trivial test target: allocates a little, prints "ready" and
 * blocks reading stdin. Run with LD_PRELOAD=preload_malloc.so it is a
 * process whose malloc is not glibc's; the tests also use it for bad
 * inputs (a zombie once it has quit, a stopped process, ...).
 *
 * Protocol: prints "ready\n" once. Commands on stdin, one per line:
 *   again   answers "alive\n" (it has no glibc heap to report)
 *   quit    exit(0); so does end of file
 * Anything else is answered with "error unknown command". No stdio: all
 * output goes through write(2).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "target_io.h"

static void *kept[16];


static void command(char *line)
{
	if (!strcmp(line, "again"))
		say("alive\n");
	else
		say("error unknown command\n");
}

int main(void)
{
	size_t i;

	die_with_parent();

	/* Some heap for whichever malloc is in use. */
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		kept[i] = malloc(32 << i);
		if (kept[i])
			memset(kept[i], 0x5a, 32);
	}
	say("ready\n");
	serve_commands(command);
}
