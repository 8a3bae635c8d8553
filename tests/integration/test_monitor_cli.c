/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_cli.c - what the user types: usage errors exit 64 with one
 * line, and the configuration file sets defaults that the command line
 * overrides; a bad line in it is a usage error naming the file and the
 * line.
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_monitor.h"

/* ---- usage and configuration ------------------------------------------------ */

Test(usage, errors_exit_64_with_one_line, .timeout = 60)
{
	static const struct {
		const char *args[6];
		const char *says;
	} cases[] = {
		{{"check", NULL}, "check needs -p PID or -- COMMAND"},
		{{"check", "-p", "PID", "--threshold", "abc", NULL},
		 "--threshold"},
		{{"check", "-p", "PID", "--", "true", NULL}, "not both"},
		{{"reset", NULL}, "reset needs -p PID or --all"},
		{{"snapshot", "-p", "PID", "--repeat", "3", NULL},
		 "--repeat does not apply to snapshot"},
		{{"monitor", "--interval", "1", NULL}, "monitor needs -p PID"},
		{{"monitor", "-p", "PID", "--consecutive", "0", NULL},
		 "--consecutive"},
		{{"check", "-p", "PID", "--min-size", "3X", NULL},
		 "--min-size"},
		{{"frobnicate", NULL}, "unknown command"},
	};
	struct run_result r;
	struct ctx c;
	char pid[32], targets[512];

	ctx_open(&c, "la-monitor");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = {leakattach_path()};
		const char *nl;
		int n = 1;

		for (int j = 0; cases[i].args[j]; j++)
			argv[n++] = strcmp(cases[i].args[j], "PID")
					    ? cases[i].args[j]
					    : pid;
		argv[n] = NULL;
		cr_assert_eq(run_capture(argv, c.env, 30000, &r), 0);
		cr_expect_eq(r.status, EXIT_USAGE, "%s: status %d: %s",
			     cases[i].args[0], r.status, r.err);
		cr_expect(strstr(r.err, cases[i].says), "case %zu: %s", i,
			  r.err);
		nl = strchr(r.err, '\n');
		cr_expect(nl && !nl[1], "case %zu: not one line: %s", i, r.err);
		cr_expect_str_eq(r.out, "", "case %zu", i);
		run_result_free(&r);
	}
	/* usage errors touch nothing */
	snprintf(targets, sizeof(targets), "%s/targets", c.dir);
	cr_expect(!exists(targets), "a usage error created %s", targets);
	ctx_close(&c);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/*
 * consecutive = 2 in the configuration file makes the leak one sample
 * earlier; --consecutive 3 on the command line wins over the file.
 */
Test(config, file_sets_defaults_and_the_command_line_wins, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], conf[512];

	for (int cli = 0; cli < 2; cli++) {
		ctx_open(&c, "la-monitor");
		snprintf(conf, sizeof(conf), "%s/config", c.dir);
		write_file(conf, "# leak sooner\n"
				 "consecutive = 2\n"
				 "[check]\n"
				 "min-size = 64K\n"
				 "[monitor]\n"
				 "min-size = 1G\n");
		ctx_config(&c, conf);
		leaky_start(&t, argv);
		pid_str(&t, pid, sizeof(pid));
		target_expect(&t, "step 100", "stepped");
		for (int i = 1; i <= 3; i++) {
			int rc = cli ? la_run(&c, &r, "check", "-p", pid,
					      "--consecutive", "3", "--json",
					      NULL)
				     : la_run(&c, &r, "check", "-p", pid,
					      "--json", NULL);

			/* fewer than consecutive + 1 samples: no verdict */
			cr_expect_eq(rc,
				     i == 3 && !cli ? EXIT_LEAK
						    : EXIT_UNDECIDED,
				     "cli %d sample %d: %s%s", cli, i, r.out,
				     r.err);
			py_expect_doc(
				r.out,
				"assert d['rules']['consecutive'] == int(a[0]), d['rules']\n"
				"assert d['rules']['min_size_bytes'] == 65536, d['rules']\n",
				cli ? "3" : "2", NULL);
			run_result_free(&r);
			target_expect(&t, "step 100", "stepped");
		}
		expect_unharmed(&t);
		ctx_close(&c);
	}
}

Test(config, a_bad_line_is_a_usage_error_naming_file_and_line, .timeout = 60)
{
	static const struct {
		const char *text;
		const char *line;
	} cases[] = {
		{"threshold = 2\nthreshold = abc\n", ":2:"},
		{"# fine\n\njust words\n", ":3:"},
		{"[nosuchcommand]\n", ":1:"},
		{"pid = 1\n", ":1:"},
	};
	struct run_result r;
	struct ctx c;
	char conf[512], want[600];

	ctx_open(&c, "la-monitor");
	snprintf(conf, sizeof(conf), "%s/bad.conf", c.dir);
	ctx_config(&c, conf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(conf, cases[i].text);
		cr_expect_eq(la_run(&c, &r, "check", "-p", "1", NULL),
			     EXIT_USAGE, "case %zu: %s", i, r.err);
		snprintf(want, sizeof(want), "%s%s", conf, cases[i].line);
		cr_expect(strstr(r.err, want), "case %zu: %s", i, r.err);
		run_result_free(&r);
	}
	ctx_close(&c);
}
