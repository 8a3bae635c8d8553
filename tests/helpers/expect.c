/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * expect.c - asserting helpers for the tests that run leakattach. See
 * expect.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"

#define PY_MAX_ARGS 10

static const char *
tmp_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

void
ctx_open(struct ctx *c, const char *name)
{
	snprintf(c->dir, sizeof(c->dir), "%s/%s-XXXXXX", tmp_dir(), name);
	cr_assert(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
	snprintf(c->log_env, sizeof(c->log_env), "LEAKATTACH_LOG_DIR=%s",
		 c->dir);
	snprintf(c->config_env, sizeof(c->config_env), "LEAKATTACH_CONFIG=");
	c->env[0] = c->config_env;
	c->env[1] = c->log_env;
	c->env[2] = NULL;
}

void
ctx_config(struct ctx *c, const char *path)
{
	snprintf(c->config_env, sizeof(c->config_env), "LEAKATTACH_CONFIG=%s",
		 path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
ctx_close(struct ctx *c)
{
	rm_tree(c->dir);
}

void
py_expectv(const char *doc, const char *prelude, const char *script,
	   va_list ap)
{
	char path[PATH_MAX] = "-", *full;
	const char *argv[PY_MAX_ARGS + 5] = {"/usr/bin/python3", "-c", NULL,
					     path};
	const char *arg;
	struct run_result r;
	size_t plen = prelude ? strlen(prelude) : 0;
	int n = 4, err;

	if (doc) {
		int fd;

		snprintf(path, sizeof(path), "%s/la-json-XXXXXX", tmp_dir());
		fd = mkstemp(path);
		cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
		cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
		close(fd);
	}
	full = malloc(plen + strlen(script) + 1);
	cr_assert(full);
	memcpy(full, prelude ? prelude : "", plen);
	strcpy(full + plen, script);
	argv[2] = full;
	while ((arg = va_arg(ap, const char *)))
		if (n < PY_MAX_ARGS + 4)
			argv[n++] = arg;
	argv[n] = NULL;
	err = run_capture(argv, NULL, 30000, &r);
	cr_assert_eq(err, 0, "python3: %s", strerror(-err));
	cr_expect_eq(r.status, 0, "JSON check failed:\n%s\ndocument: %.6000s",
		     r.err, doc ? doc : "(files)");
	run_result_free(&r);
	free(full);
	if (doc)
		remove(path);
}

void
py_expect(const char *doc, const char *script, ...)
{
	va_list ap;

	va_start(ap, script);
	py_expectv(doc, NULL, script, ap);
	va_end(ap);
}

void
target_start_ready(struct target *t, const char *name,
		   const char *const argv[], const char *ready)
{
	int err = target_start(t, name, argv, NULL);

	cr_assert_eq(err, 0, "cannot start %s: %s", name, strerror(-err));
	cr_assert_eq(target_read_line(t, 20000), 0, "%s: no ready line: %s",
		     name, t->line);
	cr_assert(!strncmp(t->line, ready, strlen(ready)), "%s: %s", name,
		  t->line);
}

void
target_expect(struct target *t, const char *cmd, const char *want)
{
	cr_assert_eq(target_send(t, cmd), 0, "%s: %s", cmd, t->line);
	cr_assert_eq(target_read_line(t, 20000), 0, "no answer to %s: %s", cmd,
		     t->line);
	cr_assert(!strncmp(t->line, want, strlen(want)), "%s: %s", cmd,
		  t->line);
}

void
expect_unharmed(struct target *t)
{
	cr_expect_eq(target_check_unharmed(t, 0, NULL), 0, "%s", t->line);
	target_stop(t);
}
