/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_report.c - leakattach report: what the log folder holds about one
 * process (-p PID) or all (the default, or --all), from their histories
 * and reports; never attaches. With --html FILE one self-contained page
 * of charts (report_html.c); without, a few lines per process, each
 * location a finding with its sparkline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "exitcode.h"
#include "history.h"
#include "report.h"
#include "report_html.h"

static const char *
clock_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	buf[0] = '\0';
	if (gmtime_r(&t, &tm))
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* A process in a few lines: its span, its heap now, each finding. */
static void
text_summary(FILE *f, const struct hist *h, int utf8)
{
	static const enum hist_state order[] = {HS_LEAK, HS_RETENTION,
						HS_GROWING, HS_PLATEAU};
	char b1[48], b2[48], b3[64], line[1100];
	unsigned shown = 0;
	double in_use = h->in_use[h->n - 1], fr = h->free_b[h->n - 1];

	fprintf(f, "process %d (%s): %u sample%s over %s, from %s\n",
		(int)h->pid, h->comm[0] ? h->comm : "?", h->n,
		h->n == 1 ? "" : "s",
		human_duration((double)(h->t_ms[h->n - 1] - h->t_ms[0]) / 1000,
			       b1, sizeof(b1)),
		clock_text(h->t_ms[0], b3, sizeof(b3)));
	fprintf(f, "  heap now: %s in use, %s free  %s\n",
		human_bytes(isnan(in_use) ? 0 : (uint64_t)in_use, b1,
			    sizeof(b1)),
		human_bytes(isnan(fr) ? 0 : (uint64_t)fr, b2, sizeof(b2)),
		sparkline(h->in_use, h->n, 40, utf8, line, sizeof(line)));
	for (unsigned r = 0; r < 4; r++)
		for (unsigned s = 0; s < h->nser; s++) {
			const struct hist_series *sr = &h->ser[s];
			int ret = sr->last_state == HS_RETENTION;
			const double *v = ret ? sr->free_b : sr->in_use;
			double now = NAN;

			if (sr->last_state != order[r])
				continue;
			for (unsigned i = 0; i < h->n; i++)
				if (!isnan(v[i]))
					now = v[i];
			fprintf(f, "  %s %s: %s %s  %s\n",
				hist_state_title(sr->last_state), sr->label,
				human_bytes(isnan(now) ? 0 : (uint64_t)now, b1,
					    sizeof(b1)),
				ret ? "free" : "in use",
				sparkline(v, h->n, 40, utf8, line,
					  sizeof(line)));
			shown++;
		}
	if (!shown)
		fprintf(f, "  no finding at the latest sample\n");
	fprintf(f, "  history: %s/history.jsonl\n", h->dir);
}

int
cmd_report(const struct options *o)
{
	char logbuf[1024];
	const char *log_dir = cli_log_dir(o, logbuf, sizeof(logbuf));
	char **dirs = NULL;
	int n, rc = EXIT_NO_LEAK, found = 0;
	struct hist *h;

	cli_log_setup(o->verbose);
	if (!log_dir) {
		fprintf(stderr,
			"leakattach: no log folder: set --log-dir or HOME\n");
		return EXIT_ERROR;
	}
	n = hist_dirs(log_dir, o->pid, &dirs);
	if (n <= 0) {
		if (o->pid > 0)
			fprintf(stderr,
				"leakattach: no history of process %d in %s\n",
				(int)o->pid, log_dir);
		else
			fprintf(stderr, "leakattach: no history in %s\n",
				log_dir);
		hist_dirs_free(dirs, n > 0 ? n : 0);
		return EXIT_ERROR;
	}
	if (o->html) {
		rc = report_html_write(o->html, log_dir, dirs, (unsigned)n,
				       NULL)
			     ? EXIT_ERROR
			     : EXIT_NO_LEAK;
		if (!rc && strcmp(o->html, "-"))
			printf("report: %s\n", o->html);
		hist_dirs_free(dirs, n);
		return rc;
	}
	h = malloc(sizeof(*h));
	for (int i = 0; h && i < n; i++) {
		if (hist_load(dirs[i], h))
			continue;
		if (found++)
			putchar('\n');
		text_summary(stdout, h, hist_utf8());
		hist_free(h);
	}
	free(h);
	hist_dirs_free(dirs, n);
	if (!found) {
		fprintf(stderr, "leakattach: no history could be read in %s\n",
			log_dir);
		return EXIT_ERROR;
	}
	if (fflush(stdout) || ferror(stdout))
		return EXIT_ERROR;
	return rc;
}
