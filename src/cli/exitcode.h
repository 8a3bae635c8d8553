/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exitcode.h - leakattach's exit statuses, for scripts (leakattach(1)). */
#ifndef LA_CLI_EXITCODE_H
#define LA_CLI_EXITCODE_H

enum {
	EXIT_NO_LEAK = 0, /* success; no leak found */
	EXIT_LEAK = 1, /* a leak was found */
	EXIT_ERROR = 2, /* target gone, no permission, not glibc... */
	/*
	 * check, monitor: too few exact samples for any verdict yet (the
	 * rule needs consecutive + 1): neither "no leak" nor an error. 3 is
	 * the first status free below sysexits' 64, and not one a shell
	 * gives (126, 127, 128 + signal).
	 */
	EXIT_UNDECIDED = 3,
	EXIT_USAGE = 64, /* bad command line (sysexits EX_USAGE) */
};

#endif
