/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cmd_trim.c - placeholder, being written. */
#include <errno.h>
#include <stdio.h>

#include "commands.h"
#include "exitcode.h"

int
cmd_trim(const struct options *o)
{
	(void)o;
	fprintf(stderr, "leakattach: not written yet\n");
	return EXIT_ERROR;
}

int
trim_guarded(const struct options *o, pid_t pid, struct trim_outcome *out)
{
	(void)o;
	(void)pid;
	(void)out;
	return -ENOSYS;
}
