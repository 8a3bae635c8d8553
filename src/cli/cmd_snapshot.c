/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_snapshot.c - `leakattach snapshot -p PID`: one snapshot, printed.
 * Termination signals are held back while the target is stopped, so an
 * interrupted run still resumes and detaches before it exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "report.h"

static int verbosity;

static void
log_to_stderr(enum la_log_level level, const char *msg)
{
	static const char *const names[] = {"warning", "info", "debug"};

	if ((int)level <= verbosity || level == LA_LOG_WARN)
		fprintf(stderr, "leakattach: %s: %s\n", names[level], msg);
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

static void
comm_of(pid_t pid, char *buf, size_t len)
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

/*
 * The log folder (leakattach(1) FILES): $LEAKATTACH_LOG_DIR, else
 * $XDG_STATE_HOME/leakattach, else ~/.local/state/leakattach. Layouts
 * learned from debug info are kept in its layouts/ folder. Returns NULL
 * when no folder can be made; the tool then works without the cache.
 */
static const char *
layout_cache_dir(char *buf, size_t len)
{
	const char *env = getenv("LEAKATTACH_LOG_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char base[900];

	if (env && *env)
		snprintf(base, sizeof(base), "%s", env);
	else if (xdg && *xdg == '/')
		snprintf(base, sizeof(base), "%s/leakattach", xdg);
	else if (home && *home == '/')
		snprintf(base, sizeof(base), "%s/.local/state/leakattach",
			 home);
	else
		return NULL;
	if (mkdirs(base))
		return NULL;
	snprintf(buf, len, "%s/layouts", base);
	return buf;
}

int
cmd_snapshot(const struct options *o)
{
	struct la_session_opts so = {.sz = sizeof(so)};
	struct la_session *s;
	struct la_snapshot *snap;
	sigset_t term, old;
	char comm[64], cache[1024];
	int err;

	verbosity = o->verbose;
	la_set_log_fn(log_to_stderr);
	so.debug_dir = o->debug_dir;
	so.no_debuginfo = o->no_debuginfo;
	so.cache_dir = layout_cache_dir(cache, sizeof(cache));
	comm_of(o->pid, comm, sizeof(comm));

	sigemptyset(&term);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGHUP);
	sigaddset(&term, SIGQUIT);
	sigaddset(&term, SIGPIPE);
	sigprocmask(SIG_BLOCK, &term, &old);
	err = la_session_open(o->pid, &so, &s);
	if (!err) {
		err = la_snapshot_take(s, &snap);
		la_session_close(s);
	}
	/* The target runs again: a pending Ctrl-C may end us now. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		return EXIT_ERROR;
	}
	if (o->json)
		report_json_snapshot(stdout, snap, o->top_given ? o->top : 0);
	else
		report_text_snapshot(stdout, snap, comm, o->top);
	la_snapshot_free(snap);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "leakattach: cannot write the report\n");
		return EXIT_ERROR;
	}
	return EXIT_NO_LEAK;
}
