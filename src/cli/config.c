/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.c - defaults from configuration files, before the command line.
 *
 *   # /etc/leakattach.conf or ~/.config/leakattach/config
 *   threshold = 2.5
 *   min-size = 4M
 *   [check]
 *   interval = 10s
 *
 * Keys are long option names; flags take yes or no. Keys before any
 * section apply to every command they fit (and are ignored by the
 * others); keys under [monitor], [check], [simulate], [trim], [reset] or
 * [snapshot] only to that command. A later file overrides an earlier one.
 * A line that does not parse is a usage error naming the file and line:
 * a silently ignored setting is worse than a refusal.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"

static char *
trim_blanks(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Values must outlive parsing (log-dir and debug-dir are kept as
 * pointers): a static pool, so nothing is allocated. A value that does
 * not fit is refused by the caller.
 */
static char pool[8192];
static size_t pool_used;

const char *
config_keep(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy;

	if (n > sizeof(pool) - pool_used)
		return NULL;
	copy = pool + pool_used;
	memcpy(copy, s, n);
	pool_used += n;
	return copy;
}

static int
read_file(const struct config_reader *r, const char *path, int slot)
{
	FILE *f = fopen(path, "re");
	char line[1024], where[600], section[sizeof(line)] = "";
	int lineno = 0, rc = 0;

	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		/* e.g. HOME still names another user's folder (sudo, setpriv) */
		if (errno == EACCES) {
			fprintf(stderr,
				"leakattach: warning: cannot read the configuration file %s: %s; ignored\n",
				path, strerror(errno));
			return 0;
		}
		return r->usage_error(
			"cannot read the configuration file %s: %s", path,
			strerror(errno));
	}
	snprintf(r->files[slot], sizeof(r->files[slot]), "%s", path);
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s, *eq;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			rc = r->usage_error("%sline too long", where);
			break;
		}
		s = trim_blanks(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || end[1]) {
				rc = r->usage_error(
					"%sa section looks like [check]",
					where);
				break;
			}
			*end = '\0';
			snprintf(section, sizeof(section), "%s",
				 trim_blanks(s + 1));
			rc = r->section(r->ctx, section, where);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			rc = r->usage_error("%sexpected KEY = VALUE", where);
			break;
		}
		*eq = '\0';
		rc = r->key(r->ctx, section, trim_blanks(s),
			    trim_blanks(eq + 1), where);
	}
	if (!rc && ferror(f))
		rc = r->usage_error("cannot read %s", path);
	fclose(f);
	return rc;
}

int
config_read(const struct config_reader *r)
{
	const char *env = getenv("LEAKATTACH_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[1024];
	int rc;

	if (env)
		return *env ? read_file(r, env, 0) : 0;
	rc = read_file(r, "/etc/leakattach.conf", 0);
	if (rc)
		return rc;
	if (xdg && *xdg == '/')
		snprintf(user, sizeof(user), "%s/leakattach/config", xdg);
	else if (home && *home == '/')
		snprintf(user, sizeof(user), "%s/.config/leakattach/config",
			 home);
	else
		return 0;
	return read_file(r, user, 1);
}
