/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config_file.h - the configuration files, read line by line (config.c).
 * The reader knows the files' places and syntax, nothing of the options:
 * it calls back per section and per KEY = VALUE, and options.c decides
 * what a key means.
 */
#ifndef LA_CLI_CONFIG_FILE_H
#define LA_CLI_CONFIG_FILE_H

struct config_reader {
	void *ctx;
	/*
	 * A [NAME] line: 0 to read on, else an exit status (the error
	 * printed), which ends the reading. where is "FILE:LINE: ".
	 */
	int (*section)(void *ctx, const char *name, const char *where);
	/*
	 * KEY = VALUE under section ("" before any), both trimmed; value
	 * lives until the line after. 0 or an exit status, as above.
	 */
	int (*key)(void *ctx, const char *section, const char *key,
		   const char *value, const char *where);
	/* Print "leakattach: MESSAGE; see ..." and return EXIT_USAGE. */
	int (*usage_error)(const char *fmt, ...)
		__attribute__((format(printf, 1, 2)));
	/* The files read: [0] the system's (or $LEAKATTACH_CONFIG), [1] the user's. */
	char (*files)[512];
};

/*
 * config_read - read /etc/leakattach.conf, then
 * $XDG_CONFIG_HOME/leakattach/config (else ~/.config/leakattach/config);
 * $LEAKATTACH_CONFIG, when set, replaces both ("" reads none). A missing
 * file is skipped, an unreadable one (EACCES) warned about. A line that
 * does not parse is a usage error naming its file and line. Returns 0 or
 * the exit status of the first error.
 */
int config_read(const struct config_reader *r);

/*
 * config_keep - a copy of s that lives as long as the program (option
 * values are kept as pointers), from a static pool; NULL when it is full.
 */
const char *config_keep(const char *s);

#endif
