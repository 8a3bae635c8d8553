/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * expect.h - what the tests that run the leakattach program share, on top
 * of target.h: a log folder of a test's own, a JSON document checked with
 * python3, a target started up to its ready line and driven command by
 * command, and the check that a target is unharmed.
 *
 * Unlike target.h these assert (Criterion): a failure ends the test with
 * the reason, so they are for the test's own thread only.
 */
#ifndef LA_TESTS_EXPECT_H
#define LA_TESTS_EXPECT_H

#include <stdarg.h>

#include "target.h"

/* A test's log folder and the environment that points leakattach at it. */
struct ctx {
	char dir[256];
	char log_env[300];
	char config_env[600];
	const char *env[3]; /* for run_capture(): no configuration file */
};

/*
 * ctx_open - a fresh folder $TMPDIR/NAME-XXXXXX (TMPDIR unset: /tmp) and
 * env: LEAKATTACH_LOG_DIR names it, LEAKATTACH_CONFIG= (empty) has
 * leakattach read no configuration file.
 */
void ctx_open(struct ctx *c, const char *name);

/* ctx_config - read the configuration file at path instead of none. */
void ctx_config(struct ctx *c, const char *path);

/* ctx_close - remove the folder and all it holds. */
void ctx_close(struct ctx *c);

/* rm_tree - remove dir and all it holds, not following links. */
void rm_tree(const char *dir);

/*
 * py_expect - run a python3 script on a JSON document: sys.argv[1] is a
 * temporary file holding doc ("-" when doc is NULL: the script finds its
 * files itself), the arguments (NULL-terminated, at most 10) follow. The
 * script fails the test by exiting non-zero (a failed assert); its stderr
 * and the document are in the message.
 */
void py_expect(const char *doc, const char *script, ...);

/* py_expectv - the same, with prelude (NULL: none) run before the script. */
void py_expectv(const char *doc, const char *prelude, const char *script,
		va_list ap);

/*
 * target_start_ready - target_start() (name, argv, no extra environment)
 * and its first line, which must begin with ready (e.g. "ready "), within
 * 20 s; the line stays in t->line.
 */
void target_start_ready(struct target *t, const char *name,
			const char *const argv[], const char *ready);

/* target_expect - send cmd; the answer must begin with want (20 s). */
void target_expect(struct target *t, const char *cmd, const char *want);

/*
 * expect_unharmed - target_check_unharmed() (running, traced by nobody,
 * not stopped, answers "again"), then target_stop(). A harmed target fails
 * the test but is stopped all the same.
 */
void expect_unharmed(struct target *t);

#endif /* LA_TESTS_EXPECT_H */
