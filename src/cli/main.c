/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - leakattach(1): parse the command line, run the command, map
 * the outcome to an exit status. Uses only the public API.
 */
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exitcode.h"
#include "options.h"

/*
 * --json among the options (before check's --), for a usage error that
 * came before or instead of parsing it.
 */
static int
json_asked(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			return 1;
	return 0;
}

static int
run(const struct options *o)
{
	switch (o->cmd) {
	case CMD_HELP:
		options_usage(stdout);
		return EXIT_NO_LEAK;
	case CMD_VERSION:
		printf("leakattach %s\n", PACKAGE_VERSION);
		return EXIT_NO_LEAK;
	case CMD_MONITOR:
	case CMD_CHECK:
		return cmd_monitor(o);
	case CMD_RESET:
		return cmd_reset(o);
	case CMD_SNAPSHOT:
		return cmd_snapshot(o);
	case CMD_SIMULATE:
		return cmd_simulate(o);
	case CMD_TRIM:
		return cmd_trim(o);
	case CMD_REPORT:
		return cmd_report(o);
	default:
		return EXIT_USAGE;
	}
}

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
	/* the sentence of an error, for --json's error object */
	cli_errors_keep();
	/*
	 * The character set only (sparklines: block elements on UTF-8):
	 * numbers and JSON keep the C locale's decimal point.
	 */
	setlocale(LC_CTYPE, "");
	rc = options_parse(argc, argv, &o);
	if (rc) {
		if (o.json || json_asked(argc, argv))
			cli_json_error(rc);
		return rc;
	}
	rc = run(&o);
	/*
	 * With --json an error is also a document on stdout, unless the
	 * report was printed before it (monitor, check: a sample was taken).
	 */
	if (o.json && (rc == EXIT_ERROR || rc == EXIT_USAGE))
		cli_json_error(rc);
	return rc;
}
