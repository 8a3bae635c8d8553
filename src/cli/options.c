/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options.c - parse leakattach's command line. The --help text lives here
 * and must list the same long options as doc/leakattach.1 (a test checks).
 * Every option is applied by one function, option_apply(), whether it
 * comes from the command line or from a configuration file (config.c), so
 * both accept the same values and say the same things about bad ones.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_file.h"
#include "exitcode.h"
#include "options.h"

void
options_usage(FILE *f)
{
	fputs("Usage: leakattach [monitor] -p PID [--interval S] [--duration S]\n"
	      "                  [--threshold PCT] [--consecutive N] [--min-size SIZE]\n"
	      "                  [--rule=trend|noise|fixed] [--log-dir DIR] [--json]\n"
	      "                  [--auto-cleanup] [--metrics FILE] [--html FILE] [--quiet]\n"
	      "                  [--callers=auto|always|off] [--callers-hits N]\n"
	      "                  [--callers-ms MS] [--callers-backend=auto|uprobe|int3]\n"
	      "       leakattach check (-p PID | -- COMMAND [ARG...]) [--repeat N]\n"
	      "                  [--interval S] [--threshold PCT] [--consecutive N]\n"
	      "                  [--min-size SIZE] [--rule=trend|noise|fixed]\n"
	      "                  [--log-dir DIR] [--json] [--quiet]\n"
	      "                  [--metrics FILE] [--html FILE]\n"
	      "                  [--callers=auto|always|off] [--callers-hits N]\n"
	      "                  [--callers-ms MS] [--callers-backend=auto|uprobe|int3]\n"
	      "       leakattach reset (-p PID | --all) [--log-dir DIR]\n"
	      "       leakattach snapshot -p PID [--json] [--top N]\n"
	      "       leakattach simulate [--size MIB] [--count N] [--interval S] [--cleanup]\n"
	      "                  [--metrics FILE] [--html FILE]\n"
	      "       leakattach trim -p PID [--json]\n"
	      "       leakattach report [-p PID | --all] [--log-dir DIR] [--html FILE]\n"
	      "       leakattach --help | --version\n"
	      "\n"
	      "Find memory leaks in a running glibc process from the outside.\n"
	      "\n"
	      "The quickest answer (4 samples 5s apart; exit status 1: a leak):\n"
	      "  leakattach check -p PID --repeat 4\n"
	      "\n"
	      "Commands:\n"
	      "  monitor           (the default) sample the heap every --interval until\n"
	      "                    --duration or Ctrl-C; report each location that grows\n"
	      "                    in --consecutive samples in a row\n"
	      "  check             take --repeat samples and judge them together with the\n"
	      "                    history that earlier checks of the process left in the\n"
	      "                    log folder (for cron and CI); with -- COMMAND, start\n"
	      "                    the program, check it, then stop it\n"
	      "  reset             forget the history of one process, or of all\n"
	      "  snapshot          stop the target for a moment, walk its whole glibc\n"
	      "                    heap, let it run again and report what is in it\n"
	      "  simulate          start a child that leaks --count blocks of --size MiB,\n"
	      "                    one per --interval, monitor it and report (self-test)\n"
	      "  trim              call malloc_trim(0) inside the target to give free\n"
	      "                    memory back to the system (writes into the target)\n"
	      "  report            what the log folder holds about one process or all\n"
	      "                    (the default): a few lines each, with a sparkline\n"
	      "                    per finding, or with --html charts; never attaches\n"
	      "\n"
	      "Options:\n"
	      "  -p, --pid PID     the process to inspect\n"
	      "      --interval S  time between samples (monitor 60s, check 5s, simulate\n"
	      "                    2s); units ms, s, m, h (0.5, 500ms, 2m)\n"
	      "      --duration S  monitor: stop after this long (default: until Ctrl-C)\n"
	      "      --threshold PCT  growth between two samples that counts (2.0)\n"
	      "      --consecutive N  growths in a row that make a leak (3)\n"
	      "      --min-size SIZE  never report a location smaller than this (1M);\n"
	      "                    bytes, or K, M, G, T: powers of 1024, in any case,\n"
	      "                    alone or with B or iB (1M = 1MiB = 1mb = 1048576)\n"
	      "      --rule=R      trend (default): growths in a row beyond the\n"
	      "                    location's noise, --threshold on average, and a\n"
	      "                    location is also a leak when its history as a whole\n"
	      "                    rises (a slow leak the growths in a row never show);\n"
	      "                    noise: growths in a row beyond the noise only;\n"
	      "                    fixed: --consecutive growths in a row of more than\n"
	      "                    --threshold each, as before 0.2.0\n"
	      "      --repeat N    check: samples to take now (1; with -- COMMAND,\n"
	      "                    --consecutive + 1)\n"
	      "      --log-dir DIR  state, history and reports (default\n"
	      "                    $LEAKATTACH_LOG_DIR, $XDG_STATE_HOME/leakattach or\n"
	      "                    ~/.local/state/leakattach)\n"
	      "      --metrics FILE  monitor, check, simulate: after every sample,\n"
	      "                    replace FILE with the figures in the Prometheus\n"
	      "                    text format, for node_exporter's textfile collector\n"
	      "                    (a FILE of its own per process, named *.prom)\n"
	      "      --auto-cleanup  monitor: when retention (not a leak) grew, call\n"
	      "                    malloc_trim(0) in the target, as trim does\n"
	      "      --quiet       monitor, check: no line per sample (monitor prints\n"
	      "                    one when standard output is not a terminal) and no\n"
	      "                    status line (on a terminal)\n"
	      "      --html FILE   monitor, check, simulate, report: write the history\n"
	      "                    as one self-contained HTML page of charts (- for\n"
	      "                    stdout); monitor, check and simulate at the end\n"
	      "      --callers=WHEN  monitor, check: sample the allocation functions\n"
	      "                    for a moment to find who allocates what grows:\n"
	      "                    auto (default: after a sample where a size\n"
	      "                    class leaks or grew in --consecutive - 1 samples\n"
	      "                    in a row), always, or off; the callers are estimates,\n"
	      "                    checked at the next sample (a check keeps its\n"
	      "                    window in the log folder for the next run)\n"
	      "      --callers-hits N  calls recorded per window (1000)\n"
	      "      --callers-ms MS  sampling time of a window in milliseconds (20)\n"
	      "      --callers-backend=B  how to sample: auto (default: uprobe when\n"
	      "                    permitted, else none), uprobe (kernel uprobes, root)\n"
	      "                    or int3 (ptrace breakpoints held by a helper process,\n"
	      "                    la-int3-tracer; only when asked for: it stops the\n"
	      "                    target at every call it samples, and SIGKILLing\n"
	      "                    THAT process during a window kills the target;\n"
	      "                    killing leakattach is safe)\n"
	      "      --watch-fd N  monitor: for la_watch_start(3) only, which runs\n"
	      "                    monitor on its own program (leakattach(1), LIBRARY)\n"
	      "      --all         reset: forget every process; report: every process\n"
	      "      --size MIB    simulate: size of each leaked block (10)\n"
	      "      --count N     simulate: blocks to leak (10; 0 leaks nothing)\n"
	      "      --cleanup     simulate: the child frees its blocks at the end\n"
	      "      --trim-timeout S  trim: abort a call that waits for a lock this\n"
	      "                    long (1s)\n"
	      "      --json        print one JSON object (schemas leakattach.check/1,\n"
	      "                    leakattach.snapshot/1, leakattach.trim/1; on an\n"
	      "                    error leakattach.error/1, and the sentence on\n"
	      "                    standard error)\n"
	      "      --top N       snapshot: list the N size classes with the most bytes\n"
	      "                    in use (text default 10, JSON default all; 0: all)\n"
	      "      --debug-dir DIR  look for libc debug files under DIR instead of\n"
	      "                    the target's and the host's /usr/lib/debug\n"
	      "      --no-debuginfo  never read DWARF; find malloc's state by its\n"
	      "                    signatures (what happens without debug packages)\n"
	      "  -v, --verbose     explain what leakattach is doing on stderr\n"
	      "  -h, --help        show this help and exit\n"
	      "  -V, --version     show the version and exit\n"
	      "\n"
	      "Defaults may also come from /etc/leakattach.conf and\n"
	      "$XDG_CONFIG_HOME/leakattach/config; the command line wins.\n"
	      "Exit status: 0 no leak, 1 leak found, 2 error, 3 undecided (too few\n"
	      "samples yet), 64 usage error.\n"
	      "Only trim and --auto-cleanup write into the target; a --callers window\n"
	      "sets breakpoints in it for a moment (uprobes, or int3 when asked for).\n"
	      "See leakattach(1).\n",
	      f);
}

int
options_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "leakattach: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'leakattach --help'\n");
	return EXIT_USAGE;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A finite, non-negative decimal number followed by *end. */
static int
parse_number(const char *s, double *out, char **end)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*out = strtod(s, end);
	if (errno || *end == s || !isfinite(*out) || *out < 0)
		return -EINVAL;
	return 0;
}

int
options_parse_duration(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double seconds;
	} units[] = {{"", 1},	  {"s", 1},    {"ms", 1e-3}, {"m", 60},
		     {"min", 60}, {"h", 3600}, {"d", 86400}};
	char *end;
	double v;

	if (parse_number(s, &v, &end))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].seconds;
		if (v > 366.0 * 86400)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

/*
 * Bytes ("1048576"), or a number with K, M, G or T, powers of 1024 in any
 * case, alone or followed by B or iB ("512K", "1.5MiB", "1mb"); "B" alone
 * is bytes. Digits and one point only: no sign, exponent, hex or space,
 * and a fraction only with a unit (rounded down to a byte).
 */
int
options_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *p = s, *u = NULL;
	int digits = 0, point = 0;
	double mult = 1, v;

	if (!s)
		return -EINVAL;
	for (; isdigit((unsigned char)*p) || (*p == '.' && !point); p++) {
		if (*p == '.')
			point = 1;
		else
			digits++;
	}
	if (!digits)
		return -EINVAL;
	if (*p)
		u = strchr(units, toupper((unsigned char)*p));
	if (u) {
		for (const char *q = units; q <= u; q++)
			mult *= 1024;
		if (*++p == 'i' || *p == 'I') {
			p++;
			if (*p != 'B' && *p != 'b')
				return -EINVAL;
		}
	}
	if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if (!u) {
		unsigned long long n;

		if (point)
			return -EINVAL;
		errno = 0;
		n = strtoull(s, NULL, 10);
		if (errno)
			return -EINVAL;
		*out = n;
		return 0;
	}
	v = strtod(s, NULL) * mult;
	if (!isfinite(v) || v >= 18446744073709551616.0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/* Which commands each option belongs to. */
#define FOR(...) (__VA_ARGS__)
#define C(cmd) (1u << (cmd))
#define ALL_TARGET \
	(C(CMD_MONITOR) | C(CMD_CHECK) | C(CMD_SNAPSHOT) | C(CMD_TRIM))
#define RULES (C(CMD_MONITOR) | C(CMD_CHECK) | C(CMD_SIMULATE))

enum {
	OPT_INTERVAL = 256,
	OPT_DURATION,
	OPT_THRESHOLD,
	OPT_CONSECUTIVE,
	OPT_MIN_SIZE,
	OPT_REPEAT,
	OPT_LOG_DIR,
	OPT_AUTO_CLEANUP,
	OPT_ALL,
	OPT_SIZE,
	OPT_COUNT,
	OPT_CLEANUP,
	OPT_TRIM_TIMEOUT,
	OPT_JSON,
	OPT_TOP,
	OPT_DEBUG_DIR,
	OPT_NO_DEBUGINFO,
	OPT_CALLERS,
	OPT_CALLERS_HITS,
	OPT_CALLERS_MS,
	OPT_CALLERS_BACKEND,
	OPT_RULE,
	OPT_METRICS,
	OPT_QUIET,
	OPT_HTML,
	OPT_WATCH_FD,
};

static const struct option longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"threshold", required_argument, NULL, OPT_THRESHOLD},
	{"consecutive", required_argument, NULL, OPT_CONSECUTIVE},
	{"rule", required_argument, NULL, OPT_RULE},
	{"html", required_argument, NULL, OPT_HTML},
	{"min-size", required_argument, NULL, OPT_MIN_SIZE},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"log-dir", required_argument, NULL, OPT_LOG_DIR},
	{"auto-cleanup", no_argument, NULL, OPT_AUTO_CLEANUP},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"all", no_argument, NULL, OPT_ALL},
	{"size", required_argument, NULL, OPT_SIZE},
	{"count", required_argument, NULL, OPT_COUNT},
	{"cleanup", no_argument, NULL, OPT_CLEANUP},
	{"trim-timeout", required_argument, NULL, OPT_TRIM_TIMEOUT},
	{"json", no_argument, NULL, OPT_JSON},
	{"top", required_argument, NULL, OPT_TOP},
	{"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
	{"no-debuginfo", no_argument, NULL, OPT_NO_DEBUGINFO},
	{"callers", required_argument, NULL, OPT_CALLERS},
	{"callers-hits", required_argument, NULL, OPT_CALLERS_HITS},
	{"callers-ms", required_argument, NULL, OPT_CALLERS_MS},
	{"callers-backend", required_argument, NULL, OPT_CALLERS_BACKEND},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"watch-fd", required_argument, NULL, OPT_WATCH_FD},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const struct {
	int code;
	unsigned cmds;
} option_cmds[] = {
	{'p', ALL_TARGET | C(CMD_RESET) | C(CMD_REPORT)},
	{OPT_INTERVAL, RULES},
	{OPT_DURATION, C(CMD_MONITOR)},
	{OPT_THRESHOLD, RULES},
	{OPT_CONSECUTIVE, RULES},
	{OPT_RULE, RULES},
	{OPT_MIN_SIZE, RULES},
	{OPT_REPEAT, C(CMD_CHECK)},
	{OPT_LOG_DIR,
	 RULES | C(CMD_RESET) | C(CMD_SNAPSHOT) | C(CMD_TRIM) | C(CMD_REPORT)},
	{OPT_AUTO_CLEANUP, C(CMD_MONITOR)},
	{OPT_QUIET, C(CMD_MONITOR) | C(CMD_CHECK)},
	{OPT_ALL, C(CMD_RESET) | C(CMD_REPORT)},
	{OPT_HTML, RULES | C(CMD_REPORT)},
	{OPT_WATCH_FD, C(CMD_MONITOR)},
	{OPT_SIZE, C(CMD_SIMULATE)},
	{OPT_COUNT, C(CMD_SIMULATE)},
	{OPT_CLEANUP, C(CMD_SIMULATE)},
	{OPT_TRIM_TIMEOUT, C(CMD_TRIM) | C(CMD_MONITOR)},
	{OPT_JSON, ALL_TARGET | C(CMD_SIMULATE)},
	{OPT_TOP, C(CMD_SNAPSHOT)},
	{OPT_DEBUG_DIR, ALL_TARGET | C(CMD_SIMULATE)},
	{OPT_NO_DEBUGINFO, ALL_TARGET | C(CMD_SIMULATE)},
	{OPT_CALLERS, C(CMD_MONITOR) | C(CMD_CHECK)},
	{OPT_CALLERS_HITS, C(CMD_MONITOR) | C(CMD_CHECK)},
	{OPT_CALLERS_MS, C(CMD_MONITOR) | C(CMD_CHECK)},
	{OPT_CALLERS_BACKEND, C(CMD_MONITOR) | C(CMD_CHECK)},
	{OPT_METRICS, RULES},
};

static const char *const command_names[] = {
	[CMD_MONITOR] = "monitor",   [CMD_CHECK] = "check",
	[CMD_RESET] = "reset",	     [CMD_SNAPSHOT] = "snapshot",
	[CMD_SIMULATE] = "simulate", [CMD_TRIM] = "trim",
	[CMD_REPORT] = "report",
};

const char *
options_command_name(enum command cmd)
{
	if (cmd < sizeof(command_names) / sizeof(command_names[0]) &&
	    command_names[cmd])
		return command_names[cmd];
	return "";
}

enum command
options_command(const char *name)
{
	for (size_t i = 0; i < sizeof(command_names) / sizeof(command_names[0]);
	     i++)
		if (command_names[i] && !strcmp(name, command_names[i]))
			return (enum command)i;
	return CMD_NONE;
}

static const char *
option_name(int code)
{
	for (const struct option *l = longopts; l->name; l++)
		if (l->val == code)
			return l->name;
	return "?";
}

/* Does the option belong to cmd? Options for other commands are errors. */
static int
option_fits(int code, enum command cmd)
{
	for (size_t i = 0; i < sizeof(option_cmds) / sizeof(option_cmds[0]);
	     i++)
		if (option_cmds[i].code == code)
			return !!(option_cmds[i].cmds & C(cmd));
	return 1;
}

/* The option of long name name: -ENOENT when there is none. */
static int
option_lookup(const char *name, int *code)
{
	for (const struct option *l = longopts; l->name; l++) {
		if (strcmp(l->name, name))
			continue;
		*code = l->val;
		return 0;
	}
	return -ENOENT;
}

/*
 * Apply one option to o. where is "" on the command line, or
 * "FILE:LINE: " for a configuration file. Returns 0 or EXIT_USAGE (the
 * error printed).
 */
static int
option_apply(struct options *o, int code, const char *arg, const char *where)
{
	unsigned long v;
	double d;
	uint64_t u;
	const char *name = option_name(code);

	switch (code) {
	case 'p':
		if (parse_uint(arg, INT_MAX, &v) || v == 0)
			return options_usage_error(
				"%s--pid needs a process ID, not '%s'", where,
				arg);
		o->pid = (pid_t)v;
		break;
	case OPT_INTERVAL:
		if (options_parse_duration(arg, &d) || d < 0.001)
			return options_usage_error(
				"%s--interval needs a time of at least 1ms such as 30, 0.5, 500ms or 2m, not '%s'",
				where, arg);
		o->interval_s = d;
		break;
	case OPT_DURATION:
		if (options_parse_duration(arg, &d))
			return options_usage_error(
				"%s--duration needs a time such as 3600, 90m or 2h (0: until interrupted), not '%s'",
				where, arg);
		o->duration_s = d;
		break;
	case OPT_THRESHOLD: {
		char buf[64];
		size_t n;
		char *end;

		snprintf(buf, sizeof(buf), "%s", arg ? arg : "");
		n = strlen(buf);
		if (n && buf[n - 1] == '%')
			buf[n - 1] = '\0';
		if (parse_number(buf, &d, &end) || *end || d > 1e6)
			return options_usage_error(
				"%s--threshold needs a percentage such as 2 or 0.5, not '%s'",
				where, arg);
		o->rules.threshold_pct = d;
		break;
	}
	case OPT_CONSECUTIVE:
		if (parse_uint(arg, 1000, &v) || v == 0)
			return options_usage_error(
				"%s--consecutive needs a count from 1 to 1000, not '%s'",
				where, arg);
		o->rules.consecutive = (unsigned)v;
		break;
	case OPT_RULE: {
		struct la_rules def;

		la_rules_init(&def);
		if (arg && !strcmp(arg, "trend")) {
			o->rules.trend_alpha = def.trend_alpha;
			o->rules.noise_k = def.noise_k;
		} else if (arg && !strcmp(arg, "noise")) {
			o->rules.trend_alpha = 0;
			o->rules.noise_k = def.noise_k;
		} else if (arg && !strcmp(arg, "fixed")) {
			o->rules.trend_alpha = 0;
			o->rules.noise_k = 0;
		} else {
			return options_usage_error(
				"%s--rule is trend, noise or fixed, not '%s'",
				where, arg ? arg : "");
		}
		break;
	}
	case OPT_MIN_SIZE:
		if (options_parse_size(arg, &u))
			return options_usage_error(
				"%s--min-size needs a size in bytes, or with K, M, G or T (powers of 1024, in any case, alone or with B or iB: 1M = 1MiB = 1mb = 1048576), not '%s'",
				where, arg);
		o->rules.min_size = u;
		break;
	case OPT_REPEAT:
		if (parse_uint(arg, 100000, &v) || v == 0)
			return options_usage_error(
				"%s--repeat needs a count of at least 1, not '%s'",
				where, arg);
		o->repeat = (unsigned)v;
		break;
	case OPT_LOG_DIR:
		if (!arg || !*arg)
			return options_usage_error("%s--log-dir needs a folder",
						   where);
		o->log_dir = arg;
		break;
	case OPT_METRICS:
		if (!arg || !*arg || arg[strlen(arg) - 1] == '/')
			return options_usage_error(
				"%s--metrics needs a file name such as /var/lib/prometheus/node-exporter/leakattach-NAME.prom, not '%s'",
				where, arg ? arg : "");
		o->metrics = arg;
		break;
	case OPT_HTML:
		if (!arg || !*arg)
			return options_usage_error(
				"%s--html needs a file name (- for stdout)",
				where);
		o->html = arg;
		break;
	case OPT_SIZE: {
		char *end;

		if (parse_number(arg, &d, &end) || *end || d <= 0 ||
		    d > 1024 * 1024)
			return options_usage_error(
				"%s--size needs a size in MiB such as 10 or 0.5, not '%s'",
				where, arg);
		o->sim_size_mb = d;
		break;
	}
	case OPT_COUNT:
		if (parse_uint(arg, 100000, &v))
			return options_usage_error(
				"%s--count needs a count, not '%s'", where,
				arg);
		o->sim_count = (unsigned)v;
		break;
	case OPT_TRIM_TIMEOUT:
		if (options_parse_duration(arg, &d) || d < 0.001 || d > 600)
			return options_usage_error(
				"%s--trim-timeout needs a time from 1ms to 10m, not '%s'",
				where, arg);
		o->trim_timeout_ms = (unsigned)(d * 1000 + 0.5);
		break;
	case OPT_WATCH_FD:
		if (parse_uint(arg, INT_MAX, &v) || v < 3)
			return options_usage_error(
				"%s--watch-fd needs an open descriptor from 3 up, not '%s'",
				where, arg);
		o->watch_fd = (int)v;
		break;
	case OPT_TOP:
		if (parse_uint(arg, 100000, &v))
			return options_usage_error(
				"%s--top needs a count, not '%s'", where, arg);
		o->top = (unsigned)v;
		o->top_given = 1;
		break;
	case OPT_DEBUG_DIR:
		o->debug_dir = arg;
		break;
	case OPT_CALLERS:
		if (arg && !strcmp(arg, "auto"))
			o->callers = CALLERS_AUTO;
		else if (arg && !strcmp(arg, "always"))
			o->callers = CALLERS_ALWAYS;
		else if (arg && !strcmp(arg, "off"))
			o->callers = CALLERS_OFF;
		else
			return options_usage_error(
				"%s--callers takes auto, always or off, not '%s'",
				where, arg ? arg : "");
		break;
	case OPT_CALLERS_HITS:
		if (parse_uint(arg, 100000, &v) || v == 0)
			return options_usage_error(
				"%s--callers-hits needs a count from 1 to 100000, not '%s'",
				where, arg);
		o->callers_hits = (unsigned)v;
		break;
	case OPT_CALLERS_MS:
		if (parse_uint(arg, 10000, &v) || v == 0)
			return options_usage_error(
				"%s--callers-ms needs milliseconds from 1 to 10000, not '%s'",
				where, arg);
		o->callers_ms = (unsigned)v;
		break;
	case OPT_CALLERS_BACKEND:
		if (arg && !strcmp(arg, "auto"))
			o->callers_backend = LA_CALLERS_AUTO;
		else if (arg && !strcmp(arg, "uprobe"))
			o->callers_backend = LA_CALLERS_UPROBE;
		else if (arg && !strcmp(arg, "int3"))
			o->callers_backend = LA_CALLERS_INT3;
		else
			return options_usage_error(
				"%s--callers-backend takes auto, uprobe or int3, not '%s'",
				where, arg ? arg : "");
		break;
	/* flags: in a configuration file they take yes/no */
	case OPT_AUTO_CLEANUP:
	case OPT_ALL:
	case OPT_CLEANUP:
	case OPT_JSON:
	case OPT_NO_DEBUGINFO:
	case OPT_QUIET: {
		int on = 1;

		if (arg) {
			if (!strcmp(arg, "yes") || !strcmp(arg, "true") ||
			    !strcmp(arg, "1"))
				on = 1;
			else if (!strcmp(arg, "no") || !strcmp(arg, "false") ||
				 !strcmp(arg, "0"))
				on = 0;
			else
				return options_usage_error(
					"%s%s takes yes or no, not '%s'", where,
					name, arg);
		}
		if (code == OPT_AUTO_CLEANUP)
			o->auto_cleanup = on;
		else if (code == OPT_ALL)
			o->all = on;
		else if (code == OPT_CLEANUP)
			o->sim_cleanup = on;
		else if (code == OPT_JSON)
			o->json = on;
		else if (code == OPT_QUIET)
			o->quiet = on;
		else
			o->no_debuginfo = on;
		break;
	}
	default:
		return options_usage_error("%sunknown option '%s'", where,
					   name);
	}
	return 0;
}

/*
 * The configuration files (config.c reads them): a section is a
 * command's name, and its keys apply to that command only; a key is a
 * long option, set as on the command line, where it fits o->cmd.
 */
static int
config_section(void *ctx, const char *name, const char *where)
{
	(void)ctx;
	if (options_command(name) == CMD_NONE)
		return options_usage_error(
			"%sunknown section [%s]: use a command name", where,
			name);
	return 0;
}

static int
config_key(void *ctx, const char *section, const char *key, const char *val,
	   const char *where)
{
	struct options *o = ctx;
	enum command in = *section ? options_command(section) : CMD_NONE;
	int code;

	if (option_lookup(key, &code) || code == 'p' || code == 'h' ||
	    code == 'V' || code == 'v' || code == OPT_WATCH_FD)
		return options_usage_error(
			"%s'%s' cannot be set in a configuration file", where,
			key);
	if (in != CMD_NONE && in != o->cmd)
		return 0;
	if (!option_fits(code, o->cmd)) {
		if (in != CMD_NONE)
			return options_usage_error("%s%s does not apply to %s",
						   where, key,
						   options_command_name(in));
		return 0;
	}
	val = config_keep(val);
	return val ? option_apply(o, code, val, where)
		   : options_usage_error("%stoo many settings", where);
}

static int
config_apply(struct options *o)
{
	const struct config_reader r = {
		.ctx = o,
		.section = config_section,
		.key = config_key,
		.usage_error = options_usage_error,
		.files = o->config_files,
	};

	return config_read(&r);
}

static int
all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * The processes whose name (/proc/PID/comm, 15 characters at most) is
 * name: up to max of their IDs in pids; returns how many there are.
 */
static unsigned
processes_named(const char *name, pid_t *pids, unsigned max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (!all_digits(e->d_name) || atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (!*comm || strncmp(comm, name, 15) ||
		    (strlen(name) < 15 && strcmp(comm, name)))
			continue;
		if (n < max)
			pids[n] = (pid_t)atoi(e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * A first word that is no command: a process ID, or the name of a
 * running process, is what -p takes; say so.
 */
static int
unknown_command(const char *word)
{
	pid_t pids[3];
	unsigned n;

	if (all_digits(word))
		return options_usage_error(
			"unknown command '%s': a process is given with -p, as in 'leakattach -p %s'",
			word, word);
	n = processes_named(word, pids, 3);
	if (n == 1)
		return options_usage_error(
			"unknown command '%s': to monitor the process of that name, give its ID with -p, as in 'leakattach -p %d'",
			word, (int)pids[0]);
	if (n > 1)
		return options_usage_error(
			"unknown command '%s': %u processes have that name (%d, %d%s): give the ID of one with -p, as in 'leakattach -p %d'",
			word, n, (int)pids[0], (int)pids[1],
			n > 2 ? ", ..." : "", (int)pids[0]);
	return options_usage_error("unknown command '%s'", word);
}

int
options_parse(int argc, char **argv, struct options *o)
{
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->top = 10;
	o->pid = -1;
	o->watch_fd = -1;
	la_rules_init(&o->rules);
	o->sim_size_mb = 10;
	o->sim_count = 10;
	o->cmd = CMD_MONITOR;
	if (argc < 2)
		return options_usage_error(
			"%s",
			"no command or process given: 'leakattach -p PID' monitors a process");
	if (argv[1][0] != '-') {
		o->cmd = options_command(argv[1]);
		if (o->cmd == CMD_NONE)
			return unknown_command(argv[1]);
		argv++;
		argc--;
	}
	/* --help and --version need no configuration and win over all. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			o->cmd = CMD_HELP;
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			o->cmd = CMD_VERSION;
			return 0;
		}
	}
	rc = config_apply(o);
	if (rc)
		return rc;
	opterr = 0;
	optind = 1;
	/* "+": options come before check's -- COMMAND, never after it */
	while ((c = getopt_long(argc, argv, "+:p:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			o->verbose++;
			continue;
		case ':':
			return options_usage_error(
				"option '%s' needs an argument",
				argv[optind - 1]);
		case '?':
			return options_usage_error("unknown option '%s'",
						   argv[optind - 1]);
		default:
			break;
		}
		if (!option_fits(c, o->cmd))
			return options_usage_error(
				"--%s does not apply to %s", option_name(c),
				options_command_name(o->cmd));
		rc = option_apply(o, c, optarg, "");
		if (rc)
			return rc;
	}
	if (optind < argc) {
		if (o->cmd == CMD_CHECK && !strcmp(argv[optind - 1], "--"))
			o->argv = argv + optind;
		else if (all_digits(argv[optind]) && o->pid <= 0)
			return options_usage_error(
				"unexpected argument '%s': a process is given with -p, as in '-p %s'",
				argv[optind], argv[optind]);
		else
			return options_usage_error("unexpected argument '%s'",
						   argv[optind]);
	}
	switch (o->cmd) {
	case CMD_CHECK:
		if ((o->pid > 0) == !!o->argv)
			return options_usage_error(
				"%s",
				o->argv ? "check takes -p PID or -- COMMAND, not both"
					: "check needs -p PID or -- COMMAND");
		break;
	case CMD_RESET:
		if ((o->pid > 0) == o->all)
			return options_usage_error(
				"%s",
				o->all ? "reset takes -p PID or --all, not both"
				       : "reset needs -p PID or --all");
		break;
	case CMD_SIMULATE:
		break;
	case CMD_REPORT:
		if (o->pid > 0 && o->all)
			return options_usage_error(
				"%s", "report takes -p PID or --all, not both");
		break;
	default:
		if (o->pid <= 0)
			return options_usage_error(
				"%s needs -p PID",
				options_command_name(o->cmd));
	}
	return 0;
}
