/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.c - the log folder (leakattach.h "The log folder"): per target a
 * folder, locked while in use, with the tracker state and the history of
 * samples; one file per report. Responsible for names, locking, atomic
 * writes and rotation. Not for what the files say (tracker_state.c
 * writes the state; the caller makes history lines and reports), nor for
 * choosing the folder (the CLI). The files: doc/design/tracker.md, "The
 * log folder".
 *
 * Locks are flock(2) on DIR/targets/PID-START/lock: they vanish with the
 * process that holds them, so a killed leakattach never leaves a target
 * locked. The holder writes its PID into the file so that a waiter can
 * name it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "store: "
#include "base/error.h"
#include "base/log.h"
#include "sampling/callers.h"
#include "track/tracker.h"

/* The history is rotated before it would grow past this. */
#define HISTORY_MAX_BYTES (4u << 20)
/* How often a waiter tries the lock again. */
#define LOCK_POLL_MS 10
/* Bounds for loops over folders that others may fill meanwhile. */
#define TARGET_FILES_MAX 4096
#define TARGETS_MAX 100000
#define REPORT_TRIES 10000
#define LOCK_RACES_MAX 1000

#define HINT "choose another with --log-dir or LEAKATTACH_LOG_DIR"

struct la_store {
	char dir[PATH_MAX];
};

struct la_store_target {
	pid_t pid;
	unsigned long long start;
	int lock_fd;
	char dir[PATH_MAX];
	char reports[PATH_MAX];
};

static int __attribute__((format(printf, 3, 4)))
path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return la_fail(-ENAMETOOLONG,
			       "a path in the log folder is too long: " HINT);
	return 0;
}

/* mkdir -p, every level mode 0700: the folder holds nobody else's data. */
static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int
mkdir_one(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (stat(path, &sb))
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

/* A rename is durable once the folder that holds the name is synced. */
static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int
la_store_open(const char *dir, struct la_store **out)
{
	struct la_store *st;
	char probe[PATH_MAX], sub[PATH_MAX];
	struct stat sb;
	size_t len;
	int err, fd;

	la_error_clear();
	*out = NULL;
	if (!dir || !*dir)
		return la_fail(-EINVAL, "no log folder named: " HINT);
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	/* Room for "/targets/PID-START/history.jsonl.1" and the like. */
	if (len + 128 > sizeof(st->dir))
		return la_fail(-ENAMETOOLONG,
			       "the name of the log folder is too long: " HINT);
	st = calloc(1, sizeof(*st));
	if (!st)
		return la_fail(-ENOMEM, "out of memory");
	memcpy(st->dir, dir, len);
	st->dir[len] = '\0';

	err = mkdir_p(st->dir);
	if (!err && stat(st->dir, &sb))
		err = -errno;
	if (!err && !S_ISDIR(sb.st_mode))
		err = -ENOTDIR;
	if (err) {
		la_fail(err, "cannot create the log folder %s: %s: " HINT,
			st->dir, strerror(-err));
		free(st);
		return err;
	}
	/* Permission bits do not tell (root, ACLs, a read-only mount): try. */
	err = path_fmt(probe, sizeof(probe), "%s/.probe-XXXXXX", st->dir);
	if (err) {
		free(st);
		return err;
	}
	fd = mkostemp(probe, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		close(fd);
		if (unlink(probe))
			err = -errno;
	}
	for (unsigned i = 0; !err && i < 2; i++) {
		err = path_fmt(sub, sizeof(sub), "%s/%s", st->dir,
			       i ? "reports" : "targets");
		if (!err)
			err = mkdir_one(sub);
	}
	if (err) {
		la_fail(err, "cannot write to the log folder %s: %s: " HINT,
			st->dir, strerror(-err));
		free(st);
		return err;
	}
	*out = st;
	return 0;
}

void
la_store_close(struct la_store *st)
{
	free(st);
}

const char *
la_store_dir(const struct la_store *st)
{
	return st->dir;
}

/*
 * Field 22 of /proc/PID/stat, the start time in clock ticks since boot:
 *   "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 ... 1234567 ..."
 * The command name may hold spaces and parentheses; nothing after the
 * last ')' can.
 */
static int
read_start_time(pid_t pid, unsigned long long *start)
{
	char path[64], buf[2048], *p, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n == -ESRCH ? -ESRCH : (int)n;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	/* Skip fields 3 (state) to 21. */
	for (unsigned field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EIO;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -EIO;
	errno = 0;
	*start = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end))
		return -EIO;
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The PID the holder wrote into the lock file, 0 when unknown. */
static pid_t
lock_holder(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v = 0;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		if ((v = v * 10 + (buf[i] - '0')) > INT_MAX)
			return 0;
	return (pid_t)v;
}

static void
lock_mark(int fd)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	/* Only for the waiters' message: a failure here costs nothing. */
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n)
		pr_debug("cannot write our PID into the lock file: %s",
			 strerror(errno));
}

static int
locked(pid_t holder, pid_t pid)
{
	if (holder)
		return la_fail(
			-LA_ELOCKED,
			"another leakattach (PID %d) is working on process %d's state: wait for it to finish, or stop it",
			(int)holder, (int)pid);
	return la_fail(
		-LA_ELOCKED,
		"another leakattach is working on process %d's state: wait for it to finish, or stop it",
		(int)pid);
}

/*
 * Lock the folder dir of target pid, waiting up to wait_ms. create: make
 * the folder when missing. Returns 0 with *fdp locked; 1 when !create and
 * the folder is gone; or a negative error with a sentence.
 */
static int
lock_target(const char *dir, pid_t pid, unsigned wait_ms, int create, int *fdp)
{
	char path[PATH_MAX];
	int64_t deadline = now_ms() + wait_ms;
	unsigned races = 0;
	pid_t holder;
	int err, fd;

	err = path_fmt(path, sizeof(path), "%s/lock", dir);
	if (err)
		return err;
	/*
	 * Each round waits 10 ms for the holder, or starts again at once
	 * after a concurrent forget; forgets do not go on for ever.
	 */
	while (races < LOCK_RACES_MAX) {
		struct stat held, named;

		err = create ? mkdir_one(dir) : 0;
		/* Made, then removed by a forget before we looked at it. */
		if (err == -ENOENT) {
			races++;
			continue;
		}
		if (err)
			return la_fail(err, "cannot create %s: %s", dir,
				       strerror(-err));
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		/* The folder was removed: make it again, or nothing to do. */
		if (fd < 0 && errno == ENOENT && create) {
			races++;
			continue;
		}
		if (fd < 0 && errno == ENOENT)
			return 1;
		if (fd < 0) {
			err = -errno;
			return la_fail(err, "cannot open %s: %s", path,
				       strerror(-err));
		}
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			/*
			 * A forget may have removed the file while we waited
			 * for it: a lock on a removed file guards nothing.
			 */
			if (!fstat(fd, &held) && !stat(path, &named) &&
			    held.st_dev == named.st_dev &&
			    held.st_ino == named.st_ino) {
				lock_mark(fd);
				*fdp = fd;
				return 0;
			}
			close(fd);
			races++;
			continue;
		}
		err = errno == EWOULDBLOCK ? 0 : -errno;
		holder = err ? 0 : lock_holder(fd);
		close(fd);
		if (err)
			return la_fail(err, "cannot lock %s: %s", path,
				       strerror(-err));
		if (now_ms() >= deadline)
			return locked(holder, pid);
		nanosleep(
			&(struct timespec){.tv_nsec = LOCK_POLL_MS * 1000000L},
			NULL);
	}
	return la_fail(-EAGAIN, "%s keeps being removed while we lock it",
		       path);
}

int
la_store_target_open(struct la_store *st, pid_t pid, unsigned wait_ms,
		     struct la_store_target **out)
{
	struct la_store_target *tg;
	unsigned long long start = 0;
	char targets[PATH_MAX];
	int err;

	la_error_clear();
	*out = NULL;
	if (pid <= 0)
		return la_fail(-EINVAL, "%d is not a process ID", (int)pid);
	err = read_start_time(pid, &start);
	if (err == -ESRCH)
		return la_fail(-ESRCH, "no process with PID %d", (int)pid);
	if (err)
		return la_fail(err, "cannot read /proc/%d/stat: %s", (int)pid,
			       strerror(-err));
	tg = calloc(1, sizeof(*tg));
	if (!tg)
		return la_fail(-ENOMEM, "out of memory");
	tg->pid = pid;
	tg->start = start;
	tg->lock_fd = -1;
	err = path_fmt(targets, sizeof(targets), "%s/targets", st->dir);
	if (!err)
		err = path_fmt(tg->dir, sizeof(tg->dir), "%s/%d-%llu", targets,
			       (int)pid, start);
	if (!err)
		err = path_fmt(tg->reports, sizeof(tg->reports), "%s/reports",
			       st->dir);
	/* Recreated if someone removed it since la_store_open(). */
	if (!err && (err = mkdir_one(targets)))
		la_fail(err, "cannot create %s: %s: " HINT, targets,
			strerror(-err));
	if (!err)
		err = lock_target(tg->dir, pid, wait_ms, 1, &tg->lock_fd);
	if (err) {
		free(tg);
		return err;
	}
	*out = tg;
	return 0;
}

void
la_store_target_close(struct la_store_target *tg)
{
	if (!tg)
		return;
	if (tg->lock_fd >= 0) {
		/* Name no holder once we are gone. */
		if (ftruncate(tg->lock_fd, 0))
			pr_debug("cannot empty the lock file: %s",
				 strerror(errno));
		close(tg->lock_fd);
	}
	free(tg);
}

const char *
la_store_target_dir(const struct la_store_target *tg)
{
	return tg->dir;
}

int
la_store_target_load(struct la_store_target *tg, const struct la_rules *rules,
		     struct la_tracker **out)
{
	char path[PATH_MAX], kept[PATH_MAX], why[256];
	FILE *f;
	int err;

	la_error_clear();
	*out = NULL;
	err = path_fmt(path, sizeof(path), "%s/state", tg->dir);
	if (!err)
		err = path_fmt(kept, sizeof(kept), "%s/state.corrupt", tg->dir);
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return la_tracker_new(rules, out);
	if (!f) {
		err = -errno;
		return la_fail(err, "cannot read %s: %s", path, strerror(-err));
	}
	err = tracker_read(f, rules, out);
	fclose(f);
	if (err == -EIO)
		return la_fail(err, "cannot read %s: %s", path, strerror(-err));
	if (err != -LA_EBADSTATE)
		return err;

	snprintf(why, sizeof(why), "%s", la_errmsg());
	/* Kept for a bug report; the next save would overwrite it anyway. */
	if (rename(path, kept))
		pr_warn("cannot rename %s to %s: %s", path, kept,
			strerror(errno));
	err = la_tracker_new(rules, out);
	if (err)
		return err;
	return la_fail(
		1,
		"state file %s is corrupt (%s): kept as %s, starting a fresh history",
		path, why, kept);
}

/*
 * What a file is to hold: a tracker's state, a sampling window, or else
 * len bytes of buf.
 */
struct content {
	const struct la_tracker *t;
	const struct la_callers *callers;
	const char *buf;
	size_t len;
};

/* Write a new file tmp with c, synced to disk; 0 or -errno. */
static int
write_synced(const char *tmp, const struct content *c)
{
	FILE *f;
	int fd, err = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	if (c->t)
		err = tracker_write(c->t, f);
	else if (c->callers)
		err = callers_write(c->callers, f);
	else if (c->len && fwrite(c->buf, 1, c->len, f) != c->len)
		err = -EIO;
	if (!err && fflush(f))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* Replace the file name of the target's folder with c, atomically. */
static int
replace_file(struct la_store_target *tg, const char *name,
	     const struct content *c)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int err;

	err = path_fmt(path, sizeof(path), "%s/%s", tg->dir, name);
	if (!err)
		err = path_fmt(tmp, sizeof(tmp), "%s/%s.%d.tmp", tg->dir, name,
			       (int)getpid());
	if (err)
		return err;
	err = write_synced(tmp, c);
	if (!err && rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	if (!err)
		err = fsync_dir(tg->dir);
	if (err)
		return la_fail(err, "cannot write %s: %s", path,
			       strerror(-err));
	return 0;
}

int
la_store_target_save(struct la_store_target *tg, const struct la_tracker *t)
{
	struct content c = {.t = t};

	la_error_clear();
	return replace_file(tg, "state", &c);
}

int
la_store_target_save_callers(struct la_store_target *tg,
			     const struct la_callers *callers)
{
	struct content c = {.callers = callers};
	char path[PATH_MAX];
	int err;

	la_error_clear();
	if (callers)
		return replace_file(tg, "callers", &c);
	err = path_fmt(path, sizeof(path), "%s/callers", tg->dir);
	if (err)
		return err;
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		return la_fail(err, "cannot remove %s: %s", path,
			       strerror(-err));
	}
	return 0;
}

int
la_store_target_load_callers(struct la_store_target *tg,
			     struct la_callers **out)
{
	char path[PATH_MAX], why[300];
	FILE *f;
	int err;

	la_error_clear();
	*out = NULL;
	err = path_fmt(path, sizeof(path), "%s/callers", tg->dir);
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		err = -errno;
		return la_fail(err, "cannot read %s: %s", path, strerror(-err));
	}
	err = callers_read(f, tg->pid, out);
	fclose(f);
	/* checked once: never again, whatever came of it */
	if (unlink(path) && errno != ENOENT)
		pr_warn("cannot remove %s: %s", path, strerror(errno));
	if (err != -LA_EBADSTATE && err != -EIO)
		return err;
	snprintf(why, sizeof(why), "%s", la_errmsg());
	return la_fail(1, "sampling window %s is unusable (%s): removed", path,
		       why);
}

int
la_store_target_append(struct la_store_target *tg, const char *line)
{
	char path[PATH_MAX], old[PATH_MAX];
	size_t len = strlen(line), done = 0, total = len + 1;
	struct iovec iov[2] = {
		{.iov_base = (void *)line, .iov_len = len},
		{.iov_base = (void *)"\n", .iov_len = 1},
	};
	struct stat sb;
	ssize_t n;
	int fd, err = 0;

	la_error_clear();
	if (memchr(line, '\n', len))
		return la_fail(-EINVAL, "a history line cannot hold a newline");
	err = path_fmt(path, sizeof(path), "%s/history.jsonl", tg->dir);
	if (!err)
		err = path_fmt(old, sizeof(old), "%s/history.jsonl.1", tg->dir);
	if (err)
		return err;
	/* Rotate before the line would take the history past its size. */
	if (!stat(path, &sb) && sb.st_size > 0 &&
	    (uint64_t)sb.st_size + total > HISTORY_MAX_BYTES &&
	    rename(path, old)) {
		err = -errno;
		return la_fail(err, "cannot rename %s to %s: %s", path, old,
			       strerror(-err));
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		err = -errno;
		return la_fail(err, "cannot open %s: %s", path, strerror(-err));
	}
	/* One write: a reader never sees half a line, unless the disk fills. */
	n = writev(fd, iov, 2);
	for (;;) {
		if (n > 0) {
			done += (size_t)n;
		} else if (!n || errno != EINTR) {
			err = n ? -errno : -EIO;
			break;
		}
		if (done >= total)
			break;
		if (done < len)
			n = write(fd, line + done, len - done);
		else
			n = write(fd, "\n", 1);
	}
	if (close(fd) && !err)
		err = -errno;
	if (err)
		return la_fail(err, "cannot write %s: %s", path,
			       strerror(-err));
	return 0;
}

int
la_store_target_report(struct la_store_target *tg, const char *buf, size_t len,
		       char *path, size_t pathlen)
{
	char name[PATH_MAX], tmp[PATH_MAX], stamp[32];
	struct content c = {.buf = buf, .len = len};
	time_t now = time(NULL);
	struct tm tm;
	int err, fd = -1;

	la_error_clear();
	if (!gmtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		return la_fail(-EINVAL, "the clock cannot be read as a date");
	err = mkdir_one(tg->reports);
	if (err)
		return la_fail(err, "cannot create %s: %s: " HINT, tg->reports,
			       strerror(-err));
	err = path_fmt(tmp, sizeof(tmp), "%s/.%d-%llu.%d.tmp", tg->reports,
		       (int)tg->pid, tg->start, (int)getpid());
	if (err)
		return err;
	err = write_synced(tmp, &c);
	if (err)
		return la_fail(err, "cannot write %s: %s", tmp, strerror(-err));
	/* The first free N: an empty placeholder, then the real file. */
	err = -EEXIST;
	for (unsigned i = 1; i <= REPORT_TRIES && err == -EEXIST; i++) {
		err = path_fmt(name, sizeof(name), "%s/%d-%llu-%s-%u.json",
			       tg->reports, (int)tg->pid, tg->start, stamp, i);
		if (err)
			break;
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		err = fd < 0 ? -errno : 0;
	}
	if (fd >= 0) {
		close(fd);
		if (rename(tmp, name)) {
			err = -errno;
			unlink(name);
		}
	}
	if (!err)
		err = fsync_dir(tg->reports);
	if (err) {
		unlink(tmp);
		return la_fail(err, "cannot write a report in %s: %s",
			       tg->reports, strerror(-err));
	}
	if (path && pathlen &&
	    snprintf(path, pathlen, "%s", name) >= (int)pathlen)
		return la_fail(
			-ENAMETOOLONG,
			"the report was written, but its name is too long for the buffer");
	return 0;
}

/* "PID-START" -> pid; 0 when name is not a target folder's. */
static pid_t
target_name_pid(const char *name)
{
	const char *p = name, *dash;
	unsigned long v = 0;

	dash = strchr(name, '-');
	if (!dash || dash == name || !dash[1])
		return 0;
	for (; p < dash; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > INT_MAX)
			return 0;
	}
	for (p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return (pid_t)v;
}

/* Remove one target folder under its lock. 1: removed, 0: gone. */
static int
forget_one(const char *dir, pid_t pid, unsigned wait_ms)
{
	char lock[PATH_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;
	int err, fd;

	err = path_fmt(lock, sizeof(lock), "%s/lock", dir);
	if (err)
		return err;
	err = lock_target(dir, pid, wait_ms, 0, &fd);
	if (err)
		return err < 0 ? err : 0;
	d = opendir(dir);
	if (!d)
		err = -errno;
	while (d && !err && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "lock"))
			continue;
		if (++n > TARGET_FILES_MAX)
			err = -EMLINK;
		else if (unlinkat(dirfd(d), de->d_name, 0))
			err = -errno;
	}
	if (d)
		closedir(d);
	/* The lock goes last, and with it the folder. */
	if (!err && unlink(lock))
		err = -errno;
	/* Not empty: a new leakattach has just begun, a fresh history. */
	if (!err && rmdir(dir) && errno != ENOTEMPTY && errno != EEXIST)
		err = -errno;
	close(fd);
	if (err)
		return la_fail(err, "cannot remove %s: %s", dir,
			       strerror(-err));
	return 1;
}

/* Forget the targets of pid, or every target when pid is 0. */
static int
forget(struct la_store *st, pid_t pid, unsigned wait_ms)
{
	char targets[PATH_MAX], dir[PATH_MAX];
	struct dirent *de;
	int err = 0, count = 0;
	unsigned seen = 0;
	DIR *d;

	err = path_fmt(targets, sizeof(targets), "%s/targets", st->dir);
	if (err)
		return err;
	d = opendir(targets);
	if (!d && errno == ENOENT)
		return 0;
	if (!d) {
		err = -errno;
		return la_fail(err, "cannot read %s: %s", targets,
			       strerror(-err));
	}
	/* Removing entries already read does not disturb readdir(). */
	while (!err && seen++ < TARGETS_MAX && (de = readdir(d))) {
		pid_t p = target_name_pid(de->d_name);

		if (!p || (pid && p != pid))
			continue;
		err = path_fmt(dir, sizeof(dir), "%s/%s", targets, de->d_name);
		if (!err)
			err = forget_one(dir, p, wait_ms);
		if (err > 0) {
			count++;
			err = 0;
		}
	}
	closedir(d);
	return err ? err : count;
}

int
la_store_forget(struct la_store *st, pid_t pid, unsigned wait_ms)
{
	la_error_clear();
	if (pid <= 0)
		return la_fail(-EINVAL, "%d is not a process ID", (int)pid);
	return forget(st, pid, wait_ms);
}

int
la_store_forget_all(struct la_store *st, unsigned wait_ms)
{
	la_error_clear();
	return forget(st, 0, wait_ms);
}
