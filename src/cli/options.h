/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options.h - the command line: which command, its options, validated.
 * Defaults come from the configuration files (config.c) first, then the
 * command line overrides them. Parsing only; running commands is
 * elsewhere.
 */
#ifndef LA_CLI_OPTIONS_H
#define LA_CLI_OPTIONS_H

#include <stdio.h>
#include <sys/types.h>

#include <leakattach.h>

enum command {
	CMD_NONE,
	CMD_MONITOR,
	CMD_CHECK,
	CMD_RESET,
	CMD_SNAPSHOT,
	CMD_SIMULATE,
	CMD_TRIM,
	CMD_REPORT,
	CMD_HELP,
	CMD_VERSION,
};

struct options {
	enum command cmd;
	pid_t pid; /* -1: none */
	char **argv; /* check -- COMMAND [ARG...]: NULL-terminated, or NULL */
	int json;
	unsigned top; /* size classes to show (0: all) */
	int top_given;
	const char *debug_dir;
	int no_debuginfo;
	int verbose;
	/* monitor and check */
	double interval_s; /* 0: the command's default (60 monitor, 5 check) */
	double duration_s; /* monitor: 0 = until interrupted */
	unsigned repeat; /* check: samples in this invocation (0: default) */
	struct la_rules rules;
	const char *log_dir; /* NULL: $LEAKATTACH_LOG_DIR, XDG, ~/.local */
	int auto_cleanup; /* monitor: trim when retention grew */
	const char *metrics; /* --metrics FILE (metrics.c), or NULL */
	int quiet; /* monitor: no line per sample, no status line */
	int watch_fd; /* monitor: la_watch_start()'s channel (watch_fd.c); -1 */
	/* monitor and check: sampling windows for the callers of a leak */
	enum callers_mode {
		CALLERS_AUTO, /* after a sample where something grows */
		CALLERS_ALWAYS, /* after every sample */
		CALLERS_OFF,
	} callers;
	enum la_callers_backend callers_backend; /* LA_CALLERS_AUTO */
	unsigned callers_hits; /* calls per window (0: the library's) */
	unsigned callers_ms; /* window length (0: the library's) */
	int all; /* reset --all, report --all */
	const char *html; /* --html FILE: monitor, check, simulate, report */
	/* simulate */
	double sim_size_mb; /* 10 */
	unsigned sim_count; /* 10 */
	int sim_cleanup;
	/* trim and --auto-cleanup: the abort timeout of the call */
	unsigned trim_timeout_ms; /* 0: the library's default */
	/* where the defaults came from, for --verbose */
	char config_files[2][512];
};

/* Returns 0, or prints one line to stderr and returns EXIT_USAGE. */
int options_parse(int argc, char **argv, struct options *o);
void options_usage(FILE *f);
/* Print "leakattach: MESSAGE; see 'leakattach --help'"; EXIT_USAGE. */
int options_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
const char *options_command_name(enum command cmd);
enum command options_command(const char *name);

/*
 * Parse a duration ("0.5", "500ms", "2m", "1h", "30s") into seconds, or
 * a size ("1M", "512K", "2G", "1048576") into bytes. Return 0 or -EINVAL.
 */
int options_parse_duration(const char *s, double *out);
int options_parse_size(const char *s, uint64_t *out);

#endif
