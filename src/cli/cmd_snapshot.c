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

int
cmd_snapshot(const struct options *o)
{
	struct la_session *s;
	struct la_snapshot *snap;
	sigset_t term, old;
	char comm[64];
	int err;

	cli_log_setup(o->verbose);
	cli_comm(o->pid, comm, sizeof(comm));
	cli_term_signals(&term);
	sigprocmask(SIG_BLOCK, &term, &old);
	err = cli_session_open(o, o->pid, &s);
	if (err) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err;
	}
	err = la_snapshot_take(s, &snap);
	la_session_close(s);
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
