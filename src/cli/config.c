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

#include "options.h"

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

static const char *
keep(const char *s)
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
apply_file(struct options *o, const char *path, int slot)
{
	FILE *f = fopen(path, "re");
	char line[1024], where[600];
	enum command section = CMD_NONE; /* NONE: every command */
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
		return options_usage_error(
			"cannot read the configuration file %s: %s", path,
			strerror(errno));
	}
	snprintf(o->config_files[slot], sizeof(o->config_files[slot]), "%s",
		 path);
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		int code, takes_arg;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			rc = options_usage_error("%sline too long", where);
			break;
		}
		s = trim_blanks(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || end[1]) {
				rc = options_usage_error(
					"%sa section looks like [check]",
					where);
				break;
			}
			*end = '\0';
			section = options_command(trim_blanks(s + 1));
			if (section == CMD_NONE)
				rc = options_usage_error(
					"%sunknown section [%s]: use a command name",
					where, s + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			rc = options_usage_error("%sexpected KEY = VALUE",
						 where);
			break;
		}
		*eq = '\0';
		key = trim_blanks(s);
		val = trim_blanks(eq + 1);
		if (option_lookup(key, &code, &takes_arg) || code == 'p' ||
		    code == 'h' || code == 'V' || code == 'v') {
			rc = options_usage_error(
				"%s'%s' cannot be set in a configuration file",
				where, key);
			break;
		}
		if (section != CMD_NONE && section != o->cmd)
			continue;
		if (!option_fits(code, o->cmd)) {
			if (section != CMD_NONE)
				rc = options_usage_error(
					"%s%s does not apply to %s", where, key,
					options_command_name(section));
			continue;
		}
		val = (char *)keep(val);
		rc = val ? option_apply(o, code, val, where)
			 : options_usage_error("%stoo many settings", where);
	}
	if (!rc && ferror(f))
		rc = options_usage_error("cannot read %s", path);
	fclose(f);
	return rc;
}

int
config_apply(struct options *o)
{
	const char *env = getenv("LEAKATTACH_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[1024];
	int rc;

	if (env)
		return *env ? apply_file(o, env, 0) : 0;
	rc = apply_file(o, "/etc/leakattach.conf", 0);
	if (rc)
		return rc;
	if (xdg && *xdg == '/')
		snprintf(user, sizeof(user), "%s/leakattach/config", xdg);
	else if (home && *home == '/')
		snprintf(user, sizeof(user), "%s/.config/leakattach/config",
			 home);
	else
		return 0;
	return apply_file(o, user, 1);
}
