/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options.h - the command line: which command, its options, validated.
 * Parsing only; running commands is elsewhere.
 */
#ifndef LA_CLI_OPTIONS_H
#define LA_CLI_OPTIONS_H

#include <stdio.h>
#include <sys/types.h>

enum command { CMD_NONE, CMD_SNAPSHOT, CMD_HELP, CMD_VERSION };

struct options {
	enum command cmd;
	pid_t pid;
	int json;
	unsigned top; /* size classes to show (0: all) */
	int top_given;
	const char *debug_dir;
	int no_debuginfo;
	int verbose;
};

/* Returns 0, or prints one line to stderr and returns EXIT_USAGE. */
int options_parse(int argc, char **argv, struct options *o);
void options_usage(FILE *f);

#endif
