/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_store.c - the log folder (store.c) in a fresh temporary folder per
 * test: it is created with mode 0700, or refused with a sentence; a
 * target's folder is named by PID and start time and locked, so that a
 * second user waits and then fails naming the holder; the state survives
 * a save and a load, and a corrupt one is kept aside for a fresh history;
 * the history rotates beyond 4 MiB; reports get unique names and exactly
 * the bytes given; forget removes one PID's folders or all of them and
 * keeps reports. The target is this test process: the store never
 * attaches to it.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "track/tracker.h"

#define MiB (1024ull * 1024)

static char root[64];

/* snprintf that must not truncate. */
static void __attribute__((format(printf, 3, 4)))
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < len, "%s: too long", fmt);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void
make_root(void)
{
	pathf(root, sizeof(root), "/tmp/la-store-XXXXXX");
	cr_assert(mkdtemp(root));
}

static void
remove_root(void)
{
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = make_root, .fini = remove_root, .timeout = 30);

/* root/rel in a buffer of the caller's */
static char *
at(char *buf, size_t len, const char *rel)
{
	pathf(buf, len, "%s/%s", root, rel);
	return buf;
}

static struct la_store *
store(void)
{
	char dir[PATH_MAX];
	struct la_store *st;

	cr_assert_eq(la_store_open(at(dir, sizeof(dir), "logs"), &st), 0, "%s",
		     la_errmsg());
	return st;
}

static int
exists(const char *path)
{
	struct stat sb;

	return !lstat(path, &sb);
}

static unsigned
mode_of(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	return sb.st_mode & 07777;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	cr_assert(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert(f, "%s", path);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

/* Field 22 of /proc/self/stat, found independently of store.c. */
static unsigned long long
my_start_time(void)
{
	char stat[2048], *p, *save = NULL, *tok;
	unsigned long long v = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field = 3;
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	stat[n] = '\0';
	p = strrchr(stat, ')');
	cr_assert(p);
	for (tok = strtok_r(p + 1, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++)
		if (field == 22)
			v = strtoull(tok, NULL, 10);
	cr_assert_neq(v, 0);
	return v;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A tracker with a leak in it, through the rule's own entry point. */
static struct la_tracker *
leaky_tracker(void)
{
	struct la_tracker *t;

	cr_assert_eq(la_tracker_new(NULL, &t), 0);
	for (int i = 0; i < 5; i++) {
		struct tracker_point p = {.in_use = (10 + i) * MiB};
		struct tracker_sample s = {
			.time_unix_ns = i * 1000000000ll,
			.consistent = 1,
			.points = &p,
			.n_points = 1,
		};

		tracker_location(&p.loc, LA_LOC_SIZE_CLASS, 0, 0, 64, 64);
		cr_assert_eq(tracker_add_sample(t, &s), 0);
	}
	return t;
}

static char *
state_of(const struct la_tracker *t)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	cr_assert(f);
	cr_assert_eq(tracker_write(t, f), 0);
	fclose(f);
	return buf;
}

/* Names in dir, other than . and .., that start with prefix. */
static unsigned
count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	cr_assert(d, "%s", dir);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* ---- the folder ------------------------------------------------------- */

Test(store, open_creates_the_folder_with_mode_0700)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	struct la_store *st;

	at(dir, sizeof(dir), "a/b/logs/");
	cr_assert_eq(la_store_open(dir, &st), 0, "%s", la_errmsg());
	at(dir, sizeof(dir), "a/b/logs");
	cr_assert_str_eq(la_store_dir(st), dir);
	cr_assert_eq(mode_of(dir), 0700);
	cr_assert_eq(mode_of(at(sub, sizeof(sub), "a/b/logs/targets")), 0700);
	cr_assert_eq(mode_of(at(sub, sizeof(sub), "a/b/logs/reports")), 0700);
	cr_assert_eq(count_entries(dir, "."), 0, "the probe is gone");
	la_store_close(st);
	la_store_close(NULL);

	/* An existing folder is used as it is. */
	cr_assert_eq(la_store_open(dir, &st), 0);
	la_store_close(st);
}

Test(store, open_refuses_a_folder_under_a_file)
{
	char file[PATH_MAX], dir[PATH_MAX];
	struct la_store *st = (void *)1;

	put(at(file, sizeof(file), "file"), "x");
	at(dir, sizeof(dir), "file/sub");
	cr_assert_eq(la_store_open(dir, &st), -ENOTDIR);
	cr_assert_null(st);
	cr_assert(strstr(la_errmsg(), dir), "%s", la_errmsg());
	cr_assert(strstr(la_errmsg(), "--log-dir"), "%s", la_errmsg());
	/* the file itself is no folder either */
	cr_assert_eq(la_store_open(file, &st), -ENOTDIR);
	cr_assert_eq(la_store_open("", &st), -EINVAL);
}

Test(store, open_refuses_a_folder_it_cannot_write)
{
	char dir[PATH_MAX];
	struct la_store *st = (void *)1;

	if (!geteuid()) {
		remove_root(); /* a skipped test has no .fini */
		cr_skip_test("root writes into a folder of mode 0500");
	}
	at(dir, sizeof(dir), "ro");
	cr_assert_eq(mkdir(dir, 0500), 0);
	cr_assert_eq(la_store_open(dir, &st), -EACCES);
	cr_assert_null(st);
	cr_assert(strstr(la_errmsg(), "cannot write to the log folder"), "%s",
		  la_errmsg());
	chmod(dir, 0700);
}

/* ---- a target's folder and its lock ----------------------------------- */

Test(store, names_a_target_folder_by_pid_and_start_time)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	char want[PATH_MAX], lock[PATH_MAX + 8], pid[32];
	size_t len;
	char *text;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0, "%s",
		     la_errmsg());
	pathf(want, sizeof(want), "%s/logs/targets/%d-%llu", root,
	      (int)getpid(), my_start_time());
	cr_assert_str_eq(la_store_target_dir(tg), want);
	cr_assert_eq(mode_of(want), 0700);
	/* The lock names its holder. */
	pathf(lock, sizeof(lock), "%s/lock", want);
	text = slurp(lock, &len);
	pathf(pid, sizeof(pid), "%d\n", (int)getpid());
	cr_assert_str_eq(text, pid);
	free(text);
	la_store_target_close(tg);
	la_store_target_close(NULL);
	la_store_close(st);
}

Test(store, refuses_a_process_that_does_not_exist)
{
	struct la_store *st = store();
	struct la_store_target *tg = (void *)1;

	cr_assert_eq(la_store_target_open(st, INT_MAX, 0, &tg), -ESRCH);
	cr_assert_null(tg);
	cr_assert(strstr(la_errmsg(), "2147483647"), "%s", la_errmsg());
	cr_assert_eq(la_store_target_open(st, 0, 0, &tg), -EINVAL);
	la_store_close(st);
}

Test(store, makes_a_second_user_wait_then_fail_until_the_first_closes)
{
	struct la_store *st;
	struct la_store_target *tg;
	int go[2], done[2], r[3], status;
	pid_t me = getpid(), child;
	char c = 'g';

	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	/* Forked before locking: a child must not share our lock. */
	child = fork();
	cr_assert_geq(child, 0);
	if (!child) {
		struct la_store_target *ctg;
		char want[64];
		int64_t t0;

		close(go[1]);
		close(done[0]);
		st = store();
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		t0 = now_ms();
		r[0] = la_store_target_open(st, me, 200, &ctg);
		r[1] = (int)(now_ms() - t0);
		pathf(want, sizeof(want), "(PID %d)", (int)me);
		r[2] = !!strstr(la_errmsg(), want);
		if (write(done[1], r, sizeof(r)) != sizeof(r))
			_exit(11);
		if (read(go[0], &c, 1) != 1)
			_exit(12);
		r[0] = la_store_target_open(st, me, 5000, &ctg);
		if (write(done[1], r, sizeof(r)) != sizeof(r))
			_exit(13);
		la_store_target_close(ctg);
		la_store_close(st);
		_exit(0);
	}
	close(go[0]);
	close(done[1]);
	st = store();
	cr_assert_eq(la_store_target_open(st, me, 0, &tg), 0, "%s",
		     la_errmsg());
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(done[0], r, sizeof(r)), sizeof(r));
	cr_assert_eq(r[0], -LA_ELOCKED);
	cr_assert_geq(r[1], 190, "gave up after %d ms", r[1]);
	cr_assert(r[2], "the message names the holder");

	la_store_target_close(tg);
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(done[0], r, sizeof(r)), sizeof(r));
	cr_assert_eq(r[0], 0, "%s", la_strerror(r[0]));
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && !WEXITSTATUS(status));
	la_store_close(st);
}

/* ---- state, history, reports ------------------------------------------ */

Test(store, loads_an_empty_tracker_when_nothing_was_saved)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	struct la_tracker *t;
	struct la_tracker_info ti;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert_eq(la_store_target_load(tg, NULL, &t), 0);
	la_tracker_info(t, &ti, sizeof(ti));
	cr_assert_eq(ti.samples, 0);
	la_tracker_free(t);
	la_store_target_close(tg);
	la_store_close(st);
}

Test(store, loads_what_it_saved)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	struct la_tracker *t = leaky_tracker(), *back;
	char path[PATH_MAX + 8];
	char *want, *got;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert_eq(la_store_target_save(tg, t), 0, "%s", la_errmsg());
	pathf(path, sizeof(path), "%s/state", la_store_target_dir(tg));
	cr_assert_eq(mode_of(path), 0600);
	cr_assert_eq(count_entries(la_store_target_dir(tg), "state"), 1,
		     "no temporary file is left");
	/* Saving again replaces it. */
	cr_assert_eq(la_store_target_save(tg, t), 0, "%s", la_errmsg());
	la_store_target_close(tg);

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert_eq(la_store_target_load(tg, NULL, &back), 0, "%s",
		     la_errmsg());
	cr_assert_eq(la_tracker_finding_count(back), 1);
	want = state_of(t);
	got = state_of(back);
	cr_assert_str_eq(got, want);
	free(want);
	free(got);
	la_tracker_free(t);
	la_tracker_free(back);
	la_store_target_close(tg);
	la_store_close(st);
}

Test(store, keeps_a_corrupt_state_aside_and_starts_afresh)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	struct la_tracker *t;
	struct la_tracker_info ti;
	char state[PATH_MAX + 8], kept[PATH_MAX + 16];
	size_t len;
	char *text;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	pathf(state, sizeof(state), "%s/state", la_store_target_dir(tg));
	pathf(kept, sizeof(kept), "%s/state.corrupt", la_store_target_dir(tg));
	put(state, "leakattach-state 1\nsamples 3 approx");
	cr_assert_eq(la_store_target_load(tg, NULL, &t), 1);
	cr_assert(strstr(la_errmsg(), "is corrupt ("), "%s", la_errmsg());
	cr_assert(strstr(la_errmsg(), "starting a fresh history"), "%s",
		  la_errmsg());
	cr_assert(strstr(la_errmsg(), state), "%s", la_errmsg());
	la_tracker_info(t, &ti, sizeof(ti));
	cr_assert_eq(ti.samples, 0);
	cr_assert_not(exists(state));
	text = slurp(kept, &len);
	cr_assert_str_eq(text, "leakattach-state 1\nsamples 3 approx");
	free(text);
	/* The fresh history is saved over nothing. */
	cr_assert_eq(la_store_target_save(tg, t), 0);
	la_tracker_free(t);
	cr_assert_eq(la_store_target_load(tg, NULL, &t), 0);
	la_tracker_free(t);
	la_store_target_close(tg);
	la_store_close(st);
}

Test(store, appends_history_lines_and_rotates_beyond_4_mib)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	char path[PATH_MAX + 16], old[PATH_MAX + 16];
	size_t len, oldlen, big = 64 * 1024 - 1;
	char *line = malloc(big + 1), *text;
	struct stat sb;

	cr_assert(line);
	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	pathf(path, sizeof(path), "%s/history.jsonl", la_store_target_dir(tg));
	pathf(old, sizeof(old), "%s.1", path);
	cr_assert_eq(la_store_target_append(tg, "{\"n\":1}"), 0);
	cr_assert_eq(la_store_target_append(tg, "{\"n\":2}"), 0);
	text = slurp(path, &len);
	cr_assert_str_eq(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	cr_assert_eq(la_store_target_append(tg, "{\"n\":\n3}"), -EINVAL);

	/* 100 lines of 64 KiB: 6.25 MiB, one rotation. */
	memset(line, 'x', big);
	line[big] = '\0';
	for (int i = 0; i < 100; i++)
		cr_assert_eq(la_store_target_append(tg, line), 0, "line %d", i);
	cr_assert(exists(old));
	cr_assert_eq(stat(old, &sb), 0);
	oldlen = (size_t)sb.st_size;
	cr_assert_leq(oldlen, 4 * MiB);
	cr_assert_eq(stat(path, &sb), 0);
	len = (size_t)sb.st_size;
	cr_assert_lt(len, 4 * MiB);
	cr_assert_eq(oldlen + len, 2 * 8 + 100 * (big + 1),
		     "not a line lost or cut");
	cr_assert_eq(len % (big + 1), 0, "the new file begins with a line");
	free(line);
	la_store_target_close(tg);
	la_store_close(st);
}

Test(store, writes_each_report_to_a_new_file)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	const char *doc = "{\"leaks\": [{\"key\": \"size:64-64\"}]}\n";
	char a[PATH_MAX], b[PATH_MAX], reports[PATH_MAX], prefix[PATH_MAX];
	size_t len;
	char *text;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert_eq(la_store_target_report(tg, doc, strlen(doc), a, sizeof(a)),
		     0, "%s", la_errmsg());
	cr_assert_eq(la_store_target_report(tg, doc, strlen(doc), b, sizeof(b)),
		     0, "%s", la_errmsg());
	cr_assert_str_neq(a, b);
	at(reports, sizeof(reports), "logs/reports");
	pathf(prefix, sizeof(prefix), "%s/%d-%llu-", reports, (int)getpid(),
	      my_start_time());
	for (int i = 0; i < 2; i++) {
		const char *p = i ? b : a;

		cr_assert_eq(strncmp(p, prefix, strlen(prefix)), 0, "%s", p);
		cr_assert_eq(
			fnmatch("[0-9][0-9][0-9][0-9][0-1][0-9][0-3][0-9]T"
				"[0-2][0-9][0-5][0-9][0-6][0-9]Z-[1-9]*.json",
				p + strlen(prefix), 0),
			0, "%s", p);
		text = slurp(p, &len);
		cr_assert_eq(len, strlen(doc));
		cr_assert_str_eq(text, doc);
		free(text);
	}
	cr_assert_eq(count_entries(reports, ""), 2, "no temporary file left");
	/* The name is optional. */
	cr_assert_eq(la_store_target_report(tg, "{}", 2, NULL, 0), 0);
	cr_assert_eq(count_entries(reports, ""), 3);
	la_store_target_close(tg);
	la_store_close(st);
}

/* ---- forgetting ------------------------------------------------------- */

static void
fake_target(const char *name)
{
	char dir[PATH_MAX], file[PATH_MAX + 8];

	pathf(dir, sizeof(dir), "%s/logs/targets/%s", root, name);
	cr_assert_eq(mkdir(dir, 0700), 0, "%s", dir);
	pathf(file, sizeof(file), "%s/state", dir);
	put(file, "leakattach-state 1\n");
	pathf(file, sizeof(file), "%s/history.jsonl", dir);
	put(file, "{}\n");
}

static int
target_exists(const char *name)
{
	char dir[PATH_MAX];

	pathf(dir, sizeof(dir), "%s/logs/targets/%s", root, name);
	return exists(dir);
}

Test(store, forgets_one_pid_or_every_target_and_keeps_reports)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	struct la_tracker *t = leaky_tracker();
	char mine[64], reports[PATH_MAX], other[PATH_MAX];

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert_eq(la_store_target_save(tg, t), 0);
	cr_assert_eq(la_store_target_append(tg, "{}"), 0);
	cr_assert_eq(la_store_target_report(tg, "{}", 2, NULL, 0), 0);
	la_store_target_close(tg);
	pathf(mine, sizeof(mine), "%d-%llu", (int)getpid(), my_start_time());
	fake_target("999999-1");
	fake_target("999999-2");
	fake_target("9999990-1");
	/* not target folders: left alone */
	fake_target("abc-1");
	put(at(other, sizeof(other), "logs/targets/notes"), "mine\n");

	cr_assert_eq(la_store_forget(st, 999999, 100), 2, "%s", la_errmsg());
	cr_assert_not(target_exists("999999-1"));
	cr_assert_not(target_exists("999999-2"));
	cr_assert(target_exists("9999990-1"));
	cr_assert(target_exists(mine));
	cr_assert_eq(la_store_forget(st, 999999, 100), 0);

	cr_assert_eq(la_store_forget_all(st, 100), 2, "%s", la_errmsg());
	cr_assert_not(target_exists("9999990-1"));
	cr_assert_not(target_exists(mine));
	cr_assert(target_exists("abc-1"));
	cr_assert(target_exists("notes"));
	at(reports, sizeof(reports), "logs/reports");
	cr_assert_eq(count_entries(reports, ""), 1, "the report is kept");
	cr_assert_eq(la_store_forget(st, 0, 100), -EINVAL);
	la_tracker_free(t);
	la_store_close(st);
}

Test(store, forget_waits_for_a_target_in_use)
{
	struct la_store *st = store();
	struct la_store_target *tg;
	int64_t t0;

	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	/* Another open file description: the lock is held against it. */
	t0 = now_ms();
	cr_assert_eq(la_store_forget(st, getpid(), 100), -LA_ELOCKED);
	cr_assert_geq(now_ms() - t0, 90);
	cr_assert(strstr(la_errmsg(), "wait for it to finish"), "%s",
		  la_errmsg());
	cr_assert(exists(la_store_target_dir(tg)));
	la_store_target_close(tg);
	cr_assert_eq(la_store_forget(st, getpid(), 100), 1, "%s", la_errmsg());

	/* A user that comes after a forget starts a folder afresh. */
	cr_assert_eq(la_store_target_open(st, getpid(), 0, &tg), 0);
	cr_assert(exists(la_store_target_dir(tg)));
	la_store_target_close(tg);
	la_store_close(st);
}

Test(store, never_removes_a_folder_from_under_its_user)
{
	struct la_store *st = store();
	int status, forgets = 0;
	pid_t child;

	/*
	 * The child keeps using the state while we keep forgetting it: a
	 * forget that removed the folder of a locked user would make one of
	 * its writes fail.
	 */
	child = fork();
	cr_assert_geq(child, 0);
	if (!child) {
		struct la_tracker *t;

		if (la_tracker_new(NULL, &t))
			_exit(10);
		for (int i = 0; i < 200; i++) {
			struct la_store_target *tg;

			/* The reason goes to the test's log. */
			if (la_store_target_open(st, getppid(), 5000, &tg) ||
			    la_store_target_save(tg, t) ||
			    la_store_target_append(tg, "{}")) {
				dprintf(2, "child: %s\n", la_errmsg());
				_exit(11);
			}
			la_store_target_close(tg);
			/* Give the forgets a chance at the lock. */
			nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
		}
		la_tracker_free(t);
		la_store_close(st);
		_exit(0);
	}
	while (waitpid(child, &status, WNOHANG) == 0) {
		int n = la_store_forget(st, getpid(), 5000);

		cr_assert_geq(n, 0, "%s", la_errmsg());
		forgets += n;
	}
	cr_assert(WIFEXITED(status), "the child was killed");
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed at %d",
		     WEXITSTATUS(status));
	cr_log_info("%d folders forgotten meanwhile", forgets);
	la_store_close(st);
}
