/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * commands.h - one function per command; each returns an exit status.
 * Also what the commands share: the log sink, the log folder, opening a
 * session with one sentence on failure, and the guarded trim.
 */
#ifndef LA_CLI_COMMANDS_H
#define LA_CLI_COMMANDS_H

#include <signal.h>
#include <stdint.h>

#include "options.h"

int cmd_monitor(const struct options *o); /* monitor and check */
int cmd_reset(const struct options *o);
int cmd_snapshot(const struct options *o);
int cmd_simulate(const struct options *o);
int cmd_trim(const struct options *o);
int cmd_report(const struct options *o); /* cmd_report.c */

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
/* The same, silent: la_session_open()'s error, la_errmsg() says why. */
int cli_session_try(const struct options *o, pid_t pid,
		    struct la_session **out);
/* SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE: the signals that end us. */
void cli_term_signals(sigset_t *set);
/* The command name of pid from /proc/PID/comm ("" when unknown). */
void cli_comm(pid_t pid, char *buf, size_t len);
/*
 * --json's error object: cli_errors_keep() makes stderr remember the
 * last sentence written to it that is neither a warning nor the log;
 * cli_json_error() prints {"schema": "leakattach.error/1", "error":
 * {"code": status, "message": that sentence}} on stdout, unless a JSON
 * document was printed there already.
 */
void cli_errors_keep(void);
void cli_json_error(int status);

/* sampler.c: one target sampled over time (monitor, check, simulate) */
struct sampler;
/*
 * Open the session and the log folder for pid, and take over the
 * termination signals (blocked, read through a signalfd, so a Ctrl-C
 * never lands while the target is stopped). command names the caller in
 * reports ("monitor", "check", "simulate"). Returns 0 or an exit status
 * (the error printed).
 */
int sampler_open(const struct options *o, const char *command, pid_t pid,
		 struct sampler **out);
/*
 * Take one sample: lock the target's state, load it, snapshot, apply the
 * rule, append the history, save, write a report for a new detection,
 * unlock; print what is new. Returns 0 or EXIT_ERROR (printed).
 */
int sampler_sample(struct sampler *sm);
/*
 * After a sample that another will follow: open the sampling window of
 * --callers when it says so (the next sample checks it). Failures are
 * printed (once when no window can be opened) and never end the run.
 * next is when the next sample is due (CLOCK_MONOTONIC seconds; 0: no
 * sample is due, as after check's last): a window that would not end by
 * then, judged by the last one's time, is skipped (and counted), so that
 * windows never push samples off their cadence.
 */
void sampler_window(struct sampler *sm, double next);
/*
 * check, after its last sample and window: keep the window (or none) in
 * the log folder for the next run's first sample. Failures are printed.
 */
void sampler_keep_window(struct sampler *sm);
/*
 * Wait until the CLOCK_MONOTONIC time deadline (seconds). Returns 0 at
 * the deadline, 1 when a termination signal arrived, 2 when extra_fd (if
 * >= 0) became readable first.
 */
int sampler_wait(struct sampler *sm, double deadline, int extra_fd);
/*
 * The first line of monitor and check for people (none with --json): the
 * process, the interval, until (" for 5m", " until Ctrl-C"), the rule.
 */
void sampler_header(const struct sampler *sm, double interval,
		    const char *until);
/* Print the summary (text or JSON); the exit status by verdict. */
int sampler_finish(struct sampler *sm);
/* Whether a leak was reported during this run. */
int sampler_found_leak(const struct sampler *sm);
/* mono_now() when the latest snapshot was taken (its walk done) */
double sampler_taken_at(const struct sampler *sm);
/* Bytes in use, and the target's RSS, at the latest sample. */
uint64_t sampler_in_use(const struct sampler *sm);
uint64_t sampler_rss(const struct sampler *sm);
void sampler_close(struct sampler *sm);
/* CLOCK_MONOTONIC in seconds */
double mono_now(void);
/*
 * --watch-fd (la_watch_start()): write the latest sample's line to the
 * channel o->watch_fd (nothing when it is -1).
 */
void sampler_watch_line(const struct sampler *sm);

/* watch_fd.c: the channel of --watch-fd */
struct check_doc;
/* Read the requests waiting; 0 when the program is gone (end of file). */
int watch_fd_read(int fd);
/* One line for the sample d describes. */
void watch_fd_emit(int fd, const struct check_doc *d);

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
