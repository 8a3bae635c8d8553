/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cmd_simulate.c - placeholder, being written. */
#include <stdio.h>

#include "commands.h"
#include "exitcode.h"

int
cmd_simulate(const struct options *o)
{
	(void)o;
	fprintf(stderr, "leakattach: not written yet\n");
	return EXIT_ERROR;
}
