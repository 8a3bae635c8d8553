/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common.c - what every command does the same way: the log sink on
 * stderr, the log folder's name, opening a session with one sentence on
 * failure, the set of signals that end us, a process's name.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"

static int verbosity;

static void
log_to_stderr(enum la_log_level level, const char *msg)
{
	static const char *const names[] = {"warning", "info", "debug"};

	if ((int)level <= verbosity || level == LA_LOG_WARN)
		fprintf(stderr, "leakattach: %s: %s\n", names[level], msg);
}

void
cli_log_setup(int verbose)
{
	verbosity = verbose;
	la_set_log_fn(log_to_stderr);
}

const char *
cli_log_dir(const struct options *o, char *buf, size_t len)
{
	const char *env = getenv("LEAKATTACH_LOG_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (o->log_dir && *o->log_dir)
		n = snprintf(buf, len, "%s", o->log_dir);
	else if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/leakattach", xdg);
	else if (home && *home == '/')
		n = snprintf(buf, len, "%s/.local/state/leakattach", home);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

/* mkdir -p with mode 0700 for what it creates. */
static int
mkdirs(const char *path)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s", path);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			return -1;
		*c = '/';
	}
	return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

int
cli_session_try(const struct options *o, pid_t pid, struct la_session **out)
{
	struct la_session_opts so = {.sz = sizeof(so)};
	char base[1024], cache[1100];

	so.debug_dir = o->debug_dir;
	so.no_debuginfo = o->no_debuginfo;
	/*
	 * Layouts learned from debug info are kept in the log folder's
	 * layouts/; without a folder the tool works without the cache.
	 */
	if (cli_log_dir(o, base, sizeof(base)) && !mkdirs(base)) {
		snprintf(cache, sizeof(cache), "%s/layouts", base);
		so.cache_dir = cache;
	}
	return la_session_open(pid, &so, out);
}

int
cli_session_open(const struct options *o, pid_t pid, struct la_session **out)
{
	if (cli_session_try(o, pid, out)) {
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		return EXIT_ERROR;
	}
	return 0;
}

void
cli_term_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGPIPE);
}

void
cli_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}
