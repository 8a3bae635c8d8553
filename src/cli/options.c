/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options.c - parse leakattach's command line. The --help text lives here
 * and must list the same long options as doc/leakattach.1 (a test checks).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"
#include "options.h"

void
options_usage(FILE *f)
{
	fputs("Usage: leakattach snapshot -p PID [--json] [--top N] [OPTION...]\n"
	      "       leakattach --help | --version\n"
	      "\n"
	      "Find memory leaks in a running glibc process from the outside.\n"
	      "\n"
	      "Commands:\n"
	      "  snapshot          stop the target for a moment, walk its whole glibc\n"
	      "                    heap, let it run again and report what is in it\n"
	      "\n"
	      "Options:\n"
	      "  -p, --pid PID     the process to inspect\n"
	      "      --json        print one JSON object (schema leakattach.snapshot/1)\n"
	      "      --top N       list the N size classes with the most bytes in use\n"
	      "                    (text default 10, JSON default all; 0: all)\n"
	      "      --debug-dir DIR  look for libc debug files under DIR instead of\n"
	      "                    the target's and the host's /usr/lib/debug\n"
	      "      --no-debuginfo  never read DWARF; find malloc's state by its\n"
	      "                    signatures (what happens without debug packages)\n"
	      "  -v, --verbose     explain what leakattach is doing on stderr\n"
	      "  -h, --help        show this help and exit\n"
	      "  -V, --version     show the version and exit\n"
	      "\n"
	      "Exit status: 0 no leak, 1 leak found, 2 error, 64 usage error.\n"
	      "The default mode writes nothing into the target. See leakattach(1).\n",
	      f);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
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

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
options_parse(int argc, char **argv, struct options *o)
{
	enum { OPT_JSON = 256, OPT_TOP, OPT_DEBUG_DIR, OPT_NO_DEBUGINFO };
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, OPT_JSON},
		{"top", required_argument, NULL, OPT_TOP},
		{"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
		{"no-debuginfo", no_argument, NULL, OPT_NO_DEBUGINFO},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->top = 10;
	o->pid = -1;
	if (argc > 1 && argv[1][0] != '-') {
		if (!strcmp(argv[1], "snapshot"))
			o->cmd = CMD_SNAPSHOT;
		else
			return usage_error("unknown command '%s'", argv[1]);
		argv++;
		argc--;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, INT_MAX, &v) || v == 0)
				return usage_error(
					"--pid needs a process ID, not '%s'",
					optarg);
			o->pid = (pid_t)v;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_TOP:
			if (parse_uint(optarg, 100000, &v))
				return usage_error(
					"--top needs a count, not '%s'",
					optarg);
			o->top = (unsigned)v;
			o->top_given = 1;
			break;
		case OPT_DEBUG_DIR:
			o->debug_dir = optarg;
			break;
		case OPT_NO_DEBUGINFO:
			o->no_debuginfo = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->cmd = CMD_HELP;
			return 0;
		case 'V':
			o->cmd = CMD_VERSION;
			return 0;
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->cmd == CMD_NONE || o->cmd == CMD_MONITOR)
		return usage_error(
			"%s",
			o->pid > 0
				? "only the 'snapshot' command exists in this version: use 'leakattach snapshot -p PID'"
				: "no command given");
	if (o->cmd == CMD_SNAPSHOT && o->pid <= 0)
		return usage_error("%s", "snapshot needs -p PID");
	return 0;
}
