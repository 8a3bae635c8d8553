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
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "json.h"

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

/*
 * The sentences on stderr, for --json's error object: every command
 * writes its error as "leakattach: SENTENCE" on stderr (the library's
 * through la_errmsg()), from many places; stderr writes through here to
 * fd 2 unbuffered, as before, and the last such line that is not a
 * warning or the log ("leakattach: warning: ...") is kept.
 */
static char err_line[1024], err_last[1024];
static size_t err_len;

static void
err_line_done(void)
{
	static const char *const skip[] = {"warning: ", "info: ", "debug: "};
	static const char prefix[] = "leakattach: ";
	const char *line = err_line, *msg;

	err_line[err_len] = '\0';
	err_len = 0;
	/* after a status line: "\r\033[K" cleared it */
	if (!strncmp(line, "\033[K", 3))
		line += 3;
	if (strncmp(line, prefix, sizeof(prefix) - 1))
		return;
	msg = line + sizeof(prefix) - 1;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strncmp(msg, skip[i], strlen(skip[i])))
			return;
	snprintf(err_last, sizeof(err_last), "%s", msg);
}

static ssize_t
err_write(void *cookie, const char *buf, size_t n)
{
	size_t done = 0;

	(void)cookie;
	while (done < n) {
		ssize_t w = write(STDERR_FILENO, buf + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
	}
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n')
			err_line_done();
		else if (buf[i] == '\r')
			err_len = 0;
		else if (err_len < sizeof(err_line) - 1)
			err_line[err_len++] = buf[i];
	}
	return (ssize_t)n;
}

void
cli_errors_keep(void)
{
	FILE *f = fopencookie(NULL, "w",
			      (cookie_io_functions_t){.write = err_write});

	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f;
}

void
cli_json_error(int status)
{
	struct json j;

	if (json_stdout_begun())
		return;
	json_begin(&j, stdout);
	json_object(&j, NULL);
	json_string(&j, "schema", "leakattach.error/1");
	json_object(&j, "error");
	json_i64(&j, "code", status);
	json_string(&j, "message",
		    err_last[0] ? err_last : "failed (see the exit status)");
	json_end_object(&j);
	json_end_object(&j);
	json_finish(&j);
	fflush(stdout);
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
