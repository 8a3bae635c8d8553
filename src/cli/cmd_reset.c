/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_reset.c - `leakattach reset -p PID | --all`: forget the history kept
 * in the log folder for one process (whatever its start time: it may be
 * gone) or for every process. Reports stay; they are records of what was
 * found, not state.
 */
#include <stdio.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"

int
cmd_reset(const struct options *o)
{
	struct la_store *st;
	char dir[1024];
	int n;

	cli_log_setup(o->verbose);
	if (!cli_log_dir(o, dir, sizeof(dir))) {
		fprintf(stderr,
			"leakattach: no log folder: set HOME, or give one with --log-dir DIR or LEAKATTACH_LOG_DIR\n");
		return EXIT_ERROR;
	}
	if (la_store_open(dir, &st)) {
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		return EXIT_ERROR;
	}
	n = o->all ? la_store_forget_all(st, 30000)
		   : la_store_forget(st, o->pid, 30000);
	la_store_close(st);
	if (n < 0) {
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		return EXIT_ERROR;
	}
	if (o->all)
		printf("forgot the history of %d process%s in %s\n", n,
		       n == 1 ? "" : "es", dir);
	else if (n)
		printf("forgot the history of process %d in %s\n", (int)o->pid,
		       dir);
	else
		printf("no history of process %d in %s\n", (int)o->pid, dir);
	return EXIT_NO_LEAK;
}
