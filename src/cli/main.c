/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - leakattach(1): parse the command line, run the command, map
 * the outcome to an exit status. Uses only the public API.
 */
#include <locale.h>
#include <malloc.h>
#include <stdio.h>

#include "commands.h"
#include "exitcode.h"
#include "options.h"

int
main(int argc, char **argv)
{
	struct options o;
	int rc;

	/*
	 * glibc raises its mmap threshold to the largest block freed (up to
	 * 32 MiB): after the first sample, the walk's 1 MiB read windows and
	 * the snapshots' tables come from the heap and stay in our RSS once
	 * freed (a monitor of 8 busy threads peaked at 11.1 MiB, 8.8 with
	 * the threshold fixed). Fixed, they are mapped and given back.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/*
	 * The character set only (sparklines: block elements on UTF-8):
	 * numbers and JSON keep the C locale's decimal point.
	 */
	setlocale(LC_CTYPE, "");
	rc = options_parse(argc, argv, &o);
	if (rc)
		return rc;
	switch (o.cmd) {
	case CMD_HELP:
		options_usage(stdout);
		return EXIT_NO_LEAK;
	case CMD_VERSION:
		printf("leakattach %s\n", PACKAGE_VERSION);
		return EXIT_NO_LEAK;
	case CMD_MONITOR:
	case CMD_CHECK:
		return cmd_monitor(&o);
	case CMD_RESET:
		return cmd_reset(&o);
	case CMD_SNAPSHOT:
		return cmd_snapshot(&o);
	case CMD_SIMULATE:
		return cmd_simulate(&o);
	case CMD_TRIM:
		return cmd_trim(&o);
	case CMD_REPORT:
		return cmd_report(&o);
	default:
		return EXIT_USAGE;
	}
}
