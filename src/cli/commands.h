/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * commands.h - one function per command; each returns an exit status.
 * Also what the commands share: the log sink, the log folder, opening a
 * session with one sentence on failure, and the guarded trim.
 */
#ifndef LA_CLI_COMMANDS_H
#define LA_CLI_COMMANDS_H

#include <signal.h>

#include "options.h"

int cmd_monitor(const struct options *o); /* monitor and check */
int cmd_reset(const struct options *o);
int cmd_snapshot(const struct options *o);
int cmd_simulate(const struct options *o);
int cmd_trim(const struct options *o);

/* common.c */
/* Route the library's log to stderr ("leakattach: warning: ..."). */
void cli_log_setup(int verbose);
/*
 * The log folder: --log-dir, else $LEAKATTACH_LOG_DIR, else
 * $XDG_STATE_HOME/leakattach, else ~/.local/state/leakattach. Not created
 * here. Returns buf, or NULL when none can be named (no HOME).
 */
const char *cli_log_dir(const struct options *o, char *buf, size_t len);
/*
 * la_session_open() with the options (debug dir, layout cache under the
 * log folder). On failure prints la_errmsg() and returns EXIT_ERROR.
 */
int cli_session_open(const struct options *o, pid_t pid,
		     struct la_session **out);
/* SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE: the signals that end us. */
void cli_term_signals(sigset_t *set);
/* The command name of pid from /proc/PID/comm ("" when unknown). */
void cli_comm(pid_t pid, char *buf, size_t len);

/* cmd_trim.c */
struct trim_outcome {
	int err; /* 0, or the library's negative error */
	char msg[512]; /* la_errmsg() when err */
	struct la_trim_result res;
	uint64_t rss_before, rss_after; /* VmRSS of the target */
	uint64_t free_before, free_after; /* free bytes in the heap */
	uint64_t system_before, system_after; /* bytes malloc holds */
};
/*
 * Snapshot, la_trim(), snapshot, in a guard process of its own (own
 * session, termination signals ignored) that finishes or aborts the call
 * even if this process is killed meanwhile. Returns 0 with *out filled
 * (out->err tells how the trim went), or -errno when the guard could not
 * run.
 */
int trim_guarded(const struct options *o, pid_t pid, struct trim_outcome *out);

#endif
