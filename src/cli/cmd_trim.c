/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd_trim.c - `leakattach trim -p PID`: call malloc_trim(0) inside the
 * target and show what it gave back; and trim_guarded(), which the trim
 * command and monitor --auto-cleanup share.
 *
 * The call writes into the target and makes one of its threads run
 * borrowed registers until malloc_trim returns to address 0, where the
 * library catches it. If the process doing that died meanwhile, the
 * target would die with it. So the whole job (session, snapshot, trim,
 * snapshot) runs in a guard process of its own: a new session (no
 * terminal signals reach it), the termination signals ignored, no
 * parent-death signal. Whatever happens to leakattach, the guard finishes
 * or aborts the call within the library's bounded time, then exits; the
 * outcome comes back as one struct over a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "json.h"
#include "report.h"

/* The outcome's sentence: la_errmsg(), else the code's description. */
static void
set_error(struct trim_outcome *out, int err, const char *prefix)
{
	const char *msg = la_errmsg();

	out->err = err;
	snprintf(out->msg, sizeof(out->msg), "%s%s", prefix,
		 msg && *msg ? msg : la_strerror(err));
}

static void
fill_before_after(const struct la_snapshot *snap, uint64_t *rss,
		  uint64_t *free_bytes, uint64_t *system)
{
	struct la_snapshot_info info;
	struct la_totals tot;

	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_totals(snap, &tot, sizeof(tot));
	*rss = info.rss_bytes;
	*free_bytes = tot.free_bytes;
	*system = tot.system_bytes;
}

/* cli_session_open() without its message on stderr: the parent prints. */
static int
open_quietly(const struct options *o, pid_t pid, struct la_session **s)
{
	int saved = dup(2), nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int err;

	fflush(stderr);
	if (saved >= 0 && nul >= 0)
		dup2(nul, 2);
	err = cli_session_open(o, pid, s);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (nul >= 0)
		close(nul);
	return err;
}

/* The guard's job. Never returns an error: everything goes into *out. */
static void
guard_work(const struct options *o, pid_t pid, struct trim_outcome *out)
{
	struct la_trim_opts topts = {.sz = sizeof(topts)};
	struct la_session *s;
	struct la_snapshot *snap;
	int err;

	if (open_quietly(o, pid, &s)) {
		/* cli_session_open() keeps only the sentence */
		set_error(out, kill(pid, 0) && errno == ESRCH ? -ESRCH : -EIO,
			  "");
		return;
	}
	err = la_snapshot_take(s, &snap);
	if (err) {
		set_error(out, err, "");
		goto out;
	}
	fill_before_after(snap, &out->rss_before, &out->free_before,
			  &out->system_before);
	la_snapshot_free(snap);

	topts.timeout_ms = o->trim_timeout_ms;
	err = la_trim(s, &topts, &out->res, sizeof(out->res));
	if (err) {
		set_error(out, err, "");
		goto out;
	}
	err = la_snapshot_take(s, &snap);
	if (err) {
		set_error(
			out, err,
			"malloc_trim was called, but the snapshot after it failed: ");
		goto out;
	}
	fill_before_after(snap, &out->rss_after, &out->free_after,
			  &out->system_after);
	la_snapshot_free(snap);
out:
	la_session_close(s);
}

static int
write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The guard process: never returns. */
static void __attribute__((noreturn))
guard_main(const struct options *o, pid_t pid, int fd)
{
	static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT,
				      SIGPIPE};
	struct trim_outcome out;
	sigset_t term;

	/* No terminal, no job control, no termination signal reaches us. */
	setsid();
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	cli_term_signals(&term);
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	prctl(PR_SET_NAME, "la-trim-guard", 0, 0, 0);
	/* PR_SET_PDEATHSIG stays 0 (fork cleared it): we outlive leakattach */

	memset(&out, 0, sizeof(out));
	guard_work(o, pid, &out);
	/* EPIPE when leakattach is gone: the work is done all the same */
	write_full(fd, &out, sizeof(out));
	fflush(stderr);
	_exit(0);
}

int
trim_guarded(const struct options *o, pid_t pid, struct trim_outcome *out)
{
	size_t got = 0;
	int p[2], st, err = 0;
	pid_t guard;

	memset(out, 0, sizeof(*out));
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	guard = fork();
	if (guard < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (guard == 0) {
		close(p[0]);
		guard_main(o, pid, p[1]);
	}
	close(p[1]);
	while (got < sizeof(*out)) {
		ssize_t n = read(p[0], (char *)out + got, sizeof(*out) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (waitpid(guard, &st, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof(*out)) {
		memset(out, 0, sizeof(*out));
		return WIFSIGNALED(st) ? -EINTR : -EPIPE;
	}
	return 0;
}

static void
print_json(const struct trim_outcome *oc, pid_t pid, const char *comm)
{
	struct json j;

	json_begin(&j, stdout);
	json_object(&j, NULL);
	json_string(&j, "schema", "leakattach.trim/1");
	json_i64(&j, "pid", pid);
	json_string(&j, "comm", comm);
	json_i64(&j, "returned", oc->res.returned);
	json_u64(&j, "rss_before_bytes", oc->rss_before);
	json_u64(&j, "rss_after_bytes", oc->rss_after);
	json_u64(&j, "free_before_bytes", oc->free_before);
	json_u64(&j, "free_after_bytes", oc->free_after);
	json_u64(&j, "system_before_bytes", oc->system_before);
	json_u64(&j, "system_after_bytes", oc->system_after);
	json_double(&j, "call_ms", (double)oc->res.call_ns / 1e6);
	json_double(&j, "pause_ms", (double)oc->res.pause_ns / 1e6);
	json_i64(&j, "tid", oc->res.tid);
	json_end_object(&j);
	json_finish(&j);
}

/* "-67.8 MiB", "+1.0 KiB", "0 B" */
static const char *
human_change(uint64_t before, uint64_t after, char *buf, size_t len)
{
	char h[32];

	if (after == before)
		return "0 B";
	human_bytes(after > before ? after - before : before - after, h,
		    sizeof(h));
	snprintf(buf, len, "%c%s", after > before ? '+' : '-', h);
	return buf;
}

static void
print_row(const char *what, uint64_t before, uint64_t after)
{
	char b[32], a[32], c[40];

	printf("  %-26s %12s %12s %12s\n", what,
	       human_bytes(before, b, sizeof(b)),
	       human_bytes(after, a, sizeof(a)),
	       human_change(before, after, c, sizeof(c)));
}

static void
print_text(const struct trim_outcome *oc, pid_t pid, const char *comm)
{
	printf("malloc_trim(0) in process %d%s%s%s: returned %d (%s) in %.2f ms, called by thread %d\n",
	       (int)pid, *comm ? " (" : "", comm, *comm ? ")" : "",
	       oc->res.returned,
	       oc->res.returned ? "memory was released" : "nothing to release",
	       (double)oc->res.call_ns / 1e6, (int)oc->res.tid);
	printf("  %-26s %12s %12s %12s\n", "", "before", "after", "change");
	print_row("resident memory (RSS)", oc->rss_before, oc->rss_after);
	print_row("free in the heap", oc->free_before, oc->free_after);
	print_row("held by malloc", oc->system_before, oc->system_after);
	printf("trim returns memory that malloc kept free (retention) to the system; it cannot fix a leak: memory the program still uses stays in use.\n");
}

int
cmd_trim(const struct options *o)
{
	struct trim_outcome oc;
	char comm[64];
	int err;

	cli_log_setup(o->verbose);
	cli_comm(o->pid, comm, sizeof(comm));
	err = trim_guarded(o, o->pid, &oc);
	if (err == -EINTR) {
		fprintf(stderr,
			"leakattach: the trim's guard process was killed before it answered: check process %d\n",
			(int)o->pid);
		return EXIT_ERROR;
	}
	if (err) {
		fprintf(stderr, "leakattach: cannot run the trim: %s\n",
			strerror(-err));
		return EXIT_ERROR;
	}
	if (oc.err) {
		fprintf(stderr, "leakattach: %s\n", oc.msg);
		return EXIT_ERROR;
	}
	if (o->json)
		print_json(&oc, o->pid, comm);
	else
		print_text(&oc, o->pid, comm);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "leakattach: cannot write the report\n");
		return EXIT_ERROR;
	}
	return EXIT_NO_LEAK;
}
