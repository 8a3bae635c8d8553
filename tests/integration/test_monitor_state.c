/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_monitor_state.c - the log folder: separate checks build one history,
 * which reset forgets; state is keyed by PID and start time; a corrupt
 * state file warns and starts fresh; an unwritable folder is an error;
 * concurrent checks share one history.
 * See test_monitor.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_monitor.h"

/* ---- the log folder ------------------------------------------------------- */

/* check -p PID --json in c; returns the exit status, r filled. */
static int
check_once(const struct ctx *c, const char *pid, struct run_result *r)
{
	return la_run(c, r, "check", "-p", pid, "--min-size", "64K", "--json",
		      NULL);
}

Test(state, separate_checks_build_one_history_and_reset_forgets_it,
     .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], hist[600], want[64];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 4; i++) {
		int rc = check_once(&c, pid, &r);

		cr_expect_eq(json_int(r.out, "samples"), i, "%s", r.out);
		cr_expect_eq(json_int(r.out, "samples_this_run"), 1);
		/*
		 * the rule needs 4 exact samples (3 growths): until then no
		 * verdict, neither in the JSON nor in the exit status
		 */
		if (i < 4) {
			cr_expect_eq(rc, EXIT_UNDECIDED, "check %d: %s%s", i,
				     r.out, r.err);
			py_expect_doc(r.out,
				      "assert d['verdict'] == 'undecided', d['verdict']\n"
				      "assert d['samples_needed'] == 4 - int(a[0]), d['samples_needed']\n",
				      i == 1 ? "1" : i == 2 ? "2" : "3", NULL);
		} else {
			cr_expect_neq(rc, EXIT_UNDECIDED, "%s", r.out);
			py_expect_doc(r.out,
				      "assert d['verdict'] in ('leak', 'no_leak'), d['verdict']\n"
				      "assert d['samples_needed'] == 0\n",
				      NULL);
		}
		json_str(r.out, "state_dir", dir, sizeof(dir));
		run_result_free(&r);
		target_expect(&t, "step 10", "stepped");
	}
	snprintf(hist, sizeof(hist), "%s/history.jsonl", dir);
	snprintf(want, sizeof(want), "/targets/%s-", pid);
	cr_expect(strstr(dir, want), "%s", dir);
	py_expect_doc(
		NULL,
		"h = [json.loads(l) for l in open(a[0])]\n"
		"assert [s['sample'] for s in h] == [1, 2, 3, 4], h\n"
		"assert all(s['command'] == 'check' and s['consistent'] for s in h), h\n"
		"u = [s['in_use_bytes'] for s in h]\n"
		"assert all(y - x == 10 * 1168 for x, y in zip(u, u[1:])), u\n"
		"assert os.stat(os.path.dirname(a[0])).st_mode & 0o777 == 0o700\n",
		hist, NULL);

	cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0, "%s", r.err);
	snprintf(want, sizeof(want), "forgot the history of process %s", pid);
	cr_expect(strstr(r.out, want), "%s", r.out);
	run_result_free(&r);
	cr_expect(!exists(dir), "%s is still there", dir);
	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
	run_result_free(&r);
	cr_expect_eq(count_lines(hist), 1);
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(state, reset_all_forgets_every_process, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t[2];
	struct run_result r;
	struct ctx c;
	char pid[2][32], path[512];

	ctx_open(&c, "la-monitor");
	for (int k = 0; k < 2; k++) {
		leaky_start(&t[k], argv);
		pid_str(&t[k], pid[k], sizeof(pid[k]));
		for (int i = 0; i < 2; i++) {
			check_once(&c, pid[k], &r);
			run_result_free(&r);
		}
	}
	cr_expect_eq(la_run(&c, &r, "reset", "--all", NULL), 0, "%s", r.err);
	cr_expect(strstr(r.out, "forgot the history of 2 processes"), "%s",
		  r.out);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/targets", c.dir);
	py_expect_doc(NULL, "assert os.listdir(a[0]) == [], os.listdir(a[0])\n",
		  path, NULL);
	for (int k = 0; k < 2; k++) {
		check_once(&c, pid[k], &r);
		cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
		run_result_free(&r);
		expect_unharmed(&t[k]);
	}
	ctx_close(&c);
}

/*
 * State is keyed by PID and start time: the history of an earlier
 * process with the same PID (a folder with another start time) is not
 * this process's history, and is left alone; reset -p forgets both.
 */
Test(state, a_reused_pid_starts_fresh, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], fake[600], now[512], state[700];
	struct stat before, after;

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 1; i <= 2; i++) {
		check_once(&c, pid, &r);
		json_str(r.out, "state_dir", dir, sizeof(dir));
		run_result_free(&r);
	}
	snprintf(fake, sizeof(fake), "%s/targets/%s-1", c.dir, pid);
	cr_assert_eq(rename(dir, fake), 0, "rename %s: %s", dir,
		     strerror(errno));
	snprintf(state, sizeof(state), "%s/state", fake);
	cr_assert_eq(stat(state, &before), 0);

	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 1, "%s", r.out);
	json_str(r.out, "state_dir", now, sizeof(now));
	cr_expect_str_eq(now, dir);
	run_result_free(&r);
	cr_assert_eq(stat(state, &after), 0);
	cr_expect_eq(before.st_size, after.st_size);
	cr_expect_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

	cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0, "%s", r.err);
	run_result_free(&r);
	cr_expect(!exists(fake) && !exists(dir), "reset -p left a folder");
	expect_unharmed(&t);
	ctx_close(&c);
}

/* Replace the state file with len bytes of garbage (NULL: cut it). */
static void
spoil_state(const char *dir, const char *garbage, int cut_to_half)
{
	char path[700];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/state", dir);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	if (cut_to_half >= 0) {
		cr_assert_eq(truncate(path, cut_to_half ? st.st_size / 2 : 0),
			     0);
		return;
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, garbage, strlen(garbage)),
		     (ssize_t)strlen(garbage));
	close(fd);
}

/*
 * A corrupt, a truncated and an empty state file: a warning, a fresh
 * history (the next sample is the first), the bad file kept aside, and
 * the usual exit status.
 */
Test(state, a_corrupt_state_file_warns_and_starts_fresh, .timeout = 60)
{
	static const char garbage[] =
		"leakattach-state 999\n\x01\x02 not a state \xff\n{{{\n";
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], aside[600];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	target_expect(&t, "step 100", "stepped");
	for (int how = 0; how < 3; how++) {
		for (int i = 1; i <= 3; i++) {
			check_once(&c, pid, &r);
			json_str(r.out, "state_dir", dir, sizeof(dir));
			run_result_free(&r);
			target_expect(&t, "step 100", "stepped");
		}
		spoil_state(dir, garbage, how - 1); /* -1, 0, 1 */
		/* a fresh history of one sample: no verdict yet */
		cr_expect_eq(check_once(&c, pid, &r), EXIT_UNDECIDED, "%s%s",
			     r.out, r.err);
		cr_expect_eq(json_int(r.out, "samples"), 1, "how %d: %s", how,
			     r.out);
		cr_expect(strstr(r.err, "warning"), "how %d: no warning: %s",
			  how, r.err);
		run_result_free(&r);
		snprintf(aside, sizeof(aside), "%s/state.corrupt", dir);
		cr_expect(exists(aside), "how %d: no %s", how, aside);
		remove(aside);
		cr_expect_eq(la_run(&c, &r, "reset", "-p", pid, NULL), 0);
		run_result_free(&r);
	}
	expect_unharmed(&t);
	ctx_close(&c);
}

Test(state, an_unwritable_log_folder_is_an_error, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], file[512], below[600];
	FILE *f;
	const char *nl;

	ctx_open(&c, "la-monitor");
	snprintf(file, sizeof(file), "%s/a-file", c.dir);
	f = fopen(file, "w");
	cr_assert(f);
	fclose(f);
	snprintf(below, sizeof(below), "%s/logs", file);
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	cr_expect_eq(
		la_run(&c, &r, "check", "-p", pid, "--log-dir", below, NULL),
		EXIT_ERROR, "%s%s", r.out, r.err);
	nl = strchr(r.err, '\n');
	cr_expect(nl && !nl[1], "not one line: %s", r.err);
	cr_expect(strstr(r.err, file), "the folder is not named: %s", r.err);
	run_result_free(&r);
	cr_expect_eq(la_run(&c, &r, "monitor", "-p", pid, "--log-dir", below,
			    "--interval", "0.1", "--duration", "0.2", NULL),
		     EXIT_ERROR, "%s%s", r.out, r.err);
	cr_expect(strstr(r.err, file), "%s", r.err);
	run_result_free(&r);
	expect_unharmed(&t);
	ctx_close(&c);
}

struct concurrent {
	const struct ctx *c;
	const char *pid;
	struct run_result r;
	int err;
};

static void *
concurrent_check(void *arg)
{
	struct concurrent *k = arg;
	const char *argv[] = {leakattach_path(), "check", "-p",		k->pid,
			      "--repeat",	 "3",	  "--interval", "0.05",
			      "--json",		 NULL};

	k->err = run_capture(argv, k->c->env, 60000, &k->r);
	return NULL;
}

/* Two checks at once on one target: both succeed, one history of 6. */
Test(state, concurrent_checks_share_one_history, .timeout = 60)
{
	const char *argv[] = {"sizeclass", NULL};
	struct concurrent k[2];
	pthread_t th[2];
	struct target t;
	struct run_result r;
	struct ctx c;
	char pid[32], dir[512], hist[600];

	ctx_open(&c, "la-monitor");
	leaky_start(&t, argv);
	pid_str(&t, pid, sizeof(pid));
	for (int i = 0; i < 2; i++) {
		k[i] = (struct concurrent){.c = &c, .pid = pid};
		cr_assert_eq(
			pthread_create(&th[i], NULL, concurrent_check, &k[i]),
			0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(k[i].err, 0);
		/*
		 * the first to end may have seen fewer than 4 samples of the
		 * shared history (the other's first came late): undecided
		 */
		cr_expect_eq(k[i].r.status,
			     json_int(k[i].r.out, "samples") >= 4
				     ? 0
				     : EXIT_UNDECIDED,
			     "%s%s", k[i].r.out, k[i].r.err);
		py_expect_doc(k[i].r.out, "assert d['samples_this_run'] == 3\n",
			  NULL);
		run_result_free(&k[i].r);
	}
	check_once(&c, pid, &r);
	cr_expect_eq(json_int(r.out, "samples"), 7, "%s", r.out);
	json_str(r.out, "state_dir", dir, sizeof(dir));
	run_result_free(&r);
	snprintf(hist, sizeof(hist), "%s/history.jsonl", dir);
	py_expect_doc(NULL,
		  "h = [json.loads(l) for l in open(a[0])]\n"
		  "assert [s['sample'] for s in h] == list(range(1, 8)), h\n",
		  hist, NULL);
	expect_unharmed(&t);
	ctx_close(&c);
}
