/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * musl_static.c - a statically linked musl program (built with musl-gcc):
 * a heap that is not glibc's. Allocates a little, prints "ready", then
 * waits for a line or EOF on stdin. Dies with its parent.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *volatile keep[1000];

int
main(void)
{
	char buf[64];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc(100 + (size_t)i);
	if (write(1, "ready\n", 6) != 6)
		return 1;
	return read(0, buf, sizeof(buf)) < 0;
}
