/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor.h - what the suites of the test_monitor program share
 * (test_monitor.c): leakattach run in a test's log folder, the JSON
 * documents it prints, the leaky target.
 */
#ifndef LA_TEST_MONITOR_H
#define LA_TEST_MONITOR_H

#include <stddef.h>

#include "expect.h"
#include "target.h"

/* sizeclass and thread leak blocks of this chunk size (leaky.c) */
#define LEAK_CHUNK 1168

#define EXIT_LEAK 1
#define EXIT_ERROR 2
#define EXIT_UNDECIDED 3 /* too few exact samples for a verdict */
#define EXIT_USAGE 64

/*
 * Run leakattach in c with the arguments (NULL-terminated); its exit
 * status. monitor and check get --callers=off first (a later --callers
 * wins).
 */
int la_run(const struct ctx *c, struct run_result *r, ...);

/* The number after "key": in a compact JSON document (top-level keys). */
long long json_int(const char *doc, const char *key);

/* The string after "key": (no escapes expected). */
void json_str(const char *doc, const char *key, char *buf, size_t len);

/*
 * py_expect() on a leakattach.check/1 document (doc NULL: none, the
 * script globs files itself): a prelude loads it as d and checks the keys
 * of the schema, and gives the script a (the extra arguments), near() and
 * where().
 */
void py_expect_doc(const char *doc, const char *script, ...);

/* Start a leaky scenario and wait for its "ready" line. */
void leaky_start(struct target *t, const char *const argv[]);

void pid_str(const struct target *t, char *buf, size_t len);

/* Lines of a file, or -1 when it cannot be read. */
int count_lines(const char *path);

int exists(const char *path);

#endif /* LA_TEST_MONITOR_H */
