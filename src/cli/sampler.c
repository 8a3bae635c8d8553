/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sampler.c - one target sampled over time, the module that monitor,
 * check (cmd_monitor.c) and simulate (cmd_simulate.c) share.
 *
 * Every sample goes through the log folder: lock the target's state, load
 * it, take a snapshot, apply the rule, append the history, save, unlock.
 * So a monitor, a check from cron and a check run by hand on the same
 * process all extend one history, and three checks reach the verdict of
 * one monitor with three samples. Between samples the target runs free:
 * la_snapshot_take() holds no ptrace stop or attachment once it returns.
 *
 * A location that grew in the previous sample (a leak, or one of the top
 * suspects) is watched in the next: the snapshot samples its in-use
 * chunks and la_types_of() names their types, so a leak is reported with
 * what it is made of. That costs a few hundred reads of 8 bytes while
 * the target runs, and nothing when nothing grows.
 *
 * Callers (--callers): after a sample where something grows (auto) or
 * after every sample (always), one short sampling window records the
 * allocation calls with their stacks (la_callers_sample(): kernel uprobes
 * where they are permitted, else the int3 tracer, which needs no
 * privilege beyond ptrace); the next sample probes the chunks they got,
 * and each growing size class is given the callers whose chunks survive
 * in it (la_callers_attribute()). A window is checked by the next sample
 * of this run, or kept in the log folder for the next check of the
 * process (sampler_keep_window()).
 *
 * Termination signals are blocked for the whole run and read from a
 * signalfd while waiting, so they never interrupt a snapshot: Ctrl-C ends
 * the run after the current sample, with the summary and a clean detach.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <leakattach.h>

#include "commands.h"
#include "exitcode.h"
#include "metrics.h"
#include "report.h"
#include "report_html.h"

/* How long a sample waits for another leakattach on the same target. */
#define LOCK_WAIT_MS 30000
/* Leaks remembered for the summary of one run. */
#define SEEN_MAX 64
/* Locations watched per sample: every leak, then growing ones. */
#define WATCH_MAX 8
#define WATCH_GROWING 4
/* Chunks sampled per watched location. */
#define SAMPLE_CHUNKS 256
/* A callers window that does not fit is skipped this many times less one. */
#define SKIP_RETRY 5

struct sampler {
	const struct options *o;
	const char *command;
	pid_t pid;
	char comm[64];
	struct la_session *s;
	struct la_store *st;
	struct la_tracker *tracker; /* after the latest sample */
	struct la_snapshot *last; /* the latest sample */
	struct mem_mark first; /* the census of this run's first sample */
	/* exact samples of this run; in-use bytes at the first and latest */
	unsigned exact;
	uint64_t heap_first, heap_last;
	char log_dir[1024];
	char state_dir[1200];
	unsigned taken; /* samples in this run */
	double taken_at; /* mono_now() when the latest snapshot was taken */
	unsigned leaks_reported; /* new leaks printed in this run */
	unsigned trims;
	struct la_finding seen[SEEN_MAX]; /* leaks reported in this run */
	unsigned n_seen;
	struct loc_types types[WATCH_MAX]; /* of the latest sample */
	unsigned n_types;
	/* the window opened after the latest sample, checked at the next */
	struct la_callers *pending;
	struct loc_callers *callers; /* WATCH_MAX, from the latest check */
	unsigned n_callers;
	struct callers_run callers_run;
	unsigned skip_streak; /* windows skipped in a row (SKIP_RETRY) */
	int refused_trim; /* said once that a leak is not trimmed */
	int sigfd;
	sigset_t term, oldmask;
	int status_tty; /* a live status line on stderr */
	int status_shown;
	int sample_lines; /* monitor: a line per sample on stdout */
	uint64_t line_first, line_prev; /* in use at the first, previous */
	int gone; /* the target exited */
};

double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
status_clear(struct sampler *sm)
{
	if (sm->status_shown) {
		fputs("\r\033[K", stderr);
		sm->status_shown = 0;
	}
}

static void
status_show(struct sampler *sm)
{
	struct la_totals t;
	struct la_snapshot_info si;
	struct la_tracker_info ti;
	char b1[32], b2[32], b3[32];

	if (!sm->status_tty || !sm->last)
		return;
	la_snapshot_totals(sm->last, &t, sizeof(t));
	la_snapshot_info(sm->last, &si, sizeof(si));
	la_tracker_info(sm->tracker, &ti, sizeof(ti));
	fprintf(stderr,
		"\r\033[K%s %d: sample %u, in use %s, free %s, RSS %s, %u suspect%s, %u leak%s",
		sm->command, (int)sm->pid, ti.samples,
		human_bytes(t.counts.in_use_bytes, b1, sizeof(b1)),
		human_bytes(t.free_bytes, b2, sizeof(b2)),
		human_bytes(si.rss_bytes, b3, sizeof(b3)), ti.growing,
		ti.growing == 1 ? "" : "s", ti.leaks, ti.leaks == 1 ? "" : "s");
	sm->status_shown = 1;
}

/*
 * monitor with standard output not a terminal (a log file, a pipe, a
 * service's journal), where no status line shows: a line per sample, so
 * that the log shows the run before the first finding. None with --json
 * or --quiet.
 */
static void
sample_line(struct sampler *sm)
{
	struct la_totals t;
	struct la_snapshot_info si;
	char when[32], b1[32], b2[48], b3[48];
	time_t sec;
	struct tm tm;
	uint64_t in_use;

	if (!sm->sample_lines || !sm->last)
		return;
	la_snapshot_totals(sm->last, &t, sizeof(t));
	la_snapshot_info(sm->last, &si, sizeof(si));
	in_use = t.counts.in_use_bytes;
	sec = (time_t)(si.time_unix_ns / 1000000000);
	if (!localtime_r(&sec, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(when, sizeof(when), "?");
	if (sm->taken == 1)
		sm->line_first = sm->line_prev = in_use;
	printf("%s sample %u: heap in use %s", when, sm->taken,
	       human_bytes(in_use, b1, sizeof(b1)));
	if (sm->taken > 1)
		printf(" (%s since the previous sample, %s since the first)",
		       signed_bytes(in_use, sm->line_prev, b2, sizeof(b2)),
		       signed_bytes(in_use, sm->line_first, b3, sizeof(b3)));
	printf("%s\n", si.consistent ? "" : " (approximate)");
	fflush(stdout);
	sm->line_prev = in_use;
}

int
sampler_open(const struct options *o, const char *command, pid_t pid,
	     struct sampler **out)
{
	struct sampler *sm = calloc(1, sizeof(*sm));
	int err;

	*out = NULL;
	if (!sm) {
		fprintf(stderr, "leakattach: out of memory\n");
		return EXIT_ERROR;
	}
	sm->o = o;
	sm->command = command;
	sm->pid = pid;
	sm->sigfd = -1;
	cli_comm(pid, sm->comm, sizeof(sm->comm));
	cli_term_signals(&sm->term);
	sigprocmask(SIG_BLOCK, &sm->term, &sm->oldmask);
	sm->sigfd = signalfd(-1, &sm->term, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sm->sigfd < 0) {
		fprintf(stderr, "leakattach: signalfd: %s\n", strerror(errno));
		sampler_close(sm);
		return EXIT_ERROR;
	}
	sm->status_tty = isatty(STDERR_FILENO) && !o->json && !o->quiet;
	sm->sample_lines = o->cmd == CMD_MONITOR && !isatty(STDOUT_FILENO) &&
			   !o->json && !o->quiet;
	/* simulate is a self-test of the heap walk: no windows */
	sm->callers_run.enabled =
		o->callers != CALLERS_OFF && o->cmd != CMD_SIMULATE;
	sm->callers = calloc(WATCH_MAX, sizeof(*sm->callers));
	if (!sm->callers) {
		fprintf(stderr, "leakattach: out of memory\n");
		sampler_close(sm);
		return EXIT_ERROR;
	}
	if (!cli_log_dir(o, sm->log_dir, sizeof(sm->log_dir))) {
		fprintf(stderr,
			"leakattach: no log folder: set HOME, or give one with --log-dir DIR or LEAKATTACH_LOG_DIR\n");
		sampler_close(sm);
		return EXIT_ERROR;
	}
	err = la_store_open(sm->log_dir, &sm->st);
	if (err) {
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		sampler_close(sm);
		return EXIT_ERROR;
	}
	/*
	 * A program that check has just started may not have mapped its libc
	 * yet: its session is opened at the first sample, an interval later.
	 */
	if (!o->argv) {
		struct la_store_target *tg;

		/*
		 * A session refuses a traced target, and another leakattach's
		 * sample traces it during its pause: then again under the
		 * target's lock, as a sample is taken.
		 */
		err = cli_session_try(o, pid, &sm->s);
		if (err == -LA_ETRACED) {
			if (la_store_target_open(sm->st, pid, LOCK_WAIT_MS,
						 &tg))
				tg = NULL;
			err = cli_session_try(o, pid, &sm->s);
			la_store_target_close(tg);
		}
		if (err) {
			fprintf(stderr, "leakattach: %s\n", la_errmsg());
			err = EXIT_ERROR;
			sampler_close(sm);
			return err;
		}
	}
	*out = sm;
	return 0;
}

/* One sentence; a target that exited is news, not a failure of ours. */
static void
report_error(struct sampler *sm, int err)
{
	status_clear(sm);
	if (err == -ESRCH) {
		sm->gone = 1;
		fprintf(stderr,
			"leakattach: process %d (%s) exited after %u sample%s\n",
			(int)sm->pid, sm->comm, sm->taken,
			sm->taken == 1 ? "" : "s");
		return;
	}
	fprintf(stderr, "leakattach: %s\n", la_errmsg());
}

/* Lock the target's state, saying so when another run holds it. */
static int
lock_target(struct sampler *sm, struct la_store_target **tg)
{
	int err = la_store_target_open(sm->st, sm->pid, 0, tg);

	if (err == -LA_ELOCKED) {
		status_clear(sm);
		fprintf(stderr, "leakattach: %s; waiting up to %u s\n",
			la_errmsg(), LOCK_WAIT_MS / 1000);
		err = la_store_target_open(sm->st, sm->pid, LOCK_WAIT_MS, tg);
	}
	if (err)
		report_error(sm, err);
	return err;
}

static void
fill_doc(const struct sampler *sm, struct check_doc *d)
{
	*d = (struct check_doc){
		.command = sm->command,
		.pid = sm->pid,
		.comm = sm->comm,
		.rules = &sm->o->rules,
		.tracker = sm->tracker,
		.last = sm->last,
		.samples_this_run = sm->taken,
		.trims = sm->trims,
		.seen = sm->seen,
		.n_seen = sm->n_seen,
		.log_dir = sm->log_dir,
		.state_dir = sm->state_dir[0] ? sm->state_dir : NULL,
		.types = sm->types,
		.n_types = sm->n_types,
		.callers = sm->callers,
		.n_callers = sm->n_callers,
		.callers_run =
			sm->callers_run.enabled ? &sm->callers_run : NULL,
		.first = &sm->first,
		.exact_this_run = sm->exact,
		.heap_first_in_use = sm->heap_first,
		.heap_last_in_use = sm->heap_last,
	};
}

/* Write a JSON document with f into a string; NULL when out of memory. */
static char *
to_string(const struct sampler *sm,
	  void (*write)(FILE *, const struct check_doc *), size_t *len)
{
	struct check_doc d;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fill_doc(sm, &d);
	write(f, &d);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "  callers (estimates): make_entry (f.c:3) <- cache_insert ..." */
static void
print_top_caller(const struct loc_callers *lc)
{
	char fr[400];

	if (!lc || !lc->n)
		return;
	printf("  top caller (estimated %.0f %% of the sampled survivors):",
	       100.0 * lc->c[0].share);
	for (unsigned i = 0; i < lc->c[0].c.n_frames && i < 4; i++)
		printf("%s%s", i ? " <- " : " ",
		       frame_text(&lc->c[0].c.frames[i], fr, sizeof(fr)));
	putchar('\n');
}

/* Print what the latest sample made new; returns 1 when it was a leak. */
static void
print_news(struct sampler *sm, const char *report_path)
{
	unsigned n = la_tracker_finding_count(sm->tracker);
	struct la_snapshot_info si;
	struct la_finding fd;

	la_snapshot_info(sm->last, &si, sizeof(si));
	if (!si.consistent && !sm->o->json) {
		status_clear(sm);
		printf("sample %u was approximate (the heap was busy: %s): not used as evidence\n",
		       sm->taken, si.inconsistency);
	}
	/*
	 * New leaks of Python types first (pass 0): they say what grows, the
	 * heap and the arenas where it lies (as in the summary).
	 */
	for (unsigned k = 0; k < 2 * n; k++) {
		unsigned i = k % n;

		if (la_tracker_finding(sm->tracker, i, &fd, sizeof(fd)) ||
		    !fd.is_new || fd.verdict == LA_VERDICT_GROWING ||
		    (fd.loc.kind == LA_LOC_PYTHON_TYPE) != (k < n))
			continue;
		if (fd.verdict == LA_VERDICT_LEAK)
			sm->leaks_reported++;
		if (sm->o->json || !report_finding_shown(sm->tracker, i))
			continue;
		status_clear(sm);
		report_finding_line(stdout, &fd, sm->pid, &sm->first, sm->last);
		if (fd.verdict == LA_VERDICT_LEAK) {
			struct check_doc d;
			const struct loc_types *lt;
			char line[600];

			fill_doc(sm, &d);
			lt = report_types_of(&d, &fd.loc);
			if (lt && lt->sampled)
				printf("  types (estimated from %u sampled chunks): %s\n",
				       lt->sampled,
				       types_line(lt, line, sizeof(line)));
			print_top_caller(report_callers_of(&d, &fd.loc));
		}
	}
	if (report_path && !sm->o->json) {
		status_clear(sm);
		printf("report: %s\n", report_path);
	}
	fflush(stdout);
}

/* Remember every leak of this run, as last seen, for the summary. */
static void
remember_leaks(struct sampler *sm)
{
	unsigned n = la_tracker_finding_count(sm->tracker), k;
	struct la_finding fd;

	for (unsigned i = 0; i < n; i++) {
		if (la_tracker_finding(sm->tracker, i, &fd, sizeof(fd)) ||
		    fd.verdict != LA_VERDICT_LEAK)
			continue;
		for (k = 0; k < sm->n_seen; k++)
			if (!strcmp(sm->seen[k].loc.key, fd.loc.key))
				break;
		if (k == sm->n_seen) {
			if (sm->n_seen == SEEN_MAX)
				continue;
			sm->n_seen++;
		}
		sm->seen[k] = fd;
	}
}

/* Did this sample make a leak or retention verdict new? */
static int
has_news(const struct la_tracker *t, int *new_retention, int *any_leak)
{
	unsigned n = la_tracker_finding_count(t);
	struct la_finding fd;
	int news = 0;

	*new_retention = *any_leak = 0;
	for (unsigned i = 0; i < n; i++) {
		if (la_tracker_finding(t, i, &fd, sizeof(fd)))
			continue;
		if (fd.verdict == LA_VERDICT_LEAK)
			*any_leak = 1;
		if (fd.is_new && fd.verdict != LA_VERDICT_GROWING)
			news = 1;
		if (fd.is_new && fd.verdict == LA_VERDICT_RETENTION)
			*new_retention = 1;
	}
	return news;
}

/*
 * --auto-cleanup: give retained memory back, but only when retention is
 * what grew; a leak is memory in use, which no trim can return.
 */
static void
auto_cleanup(struct sampler *sm, int new_retention, int any_leak)
{
	struct trim_outcome t;
	char b1[32], b2[32], b3[32], b4[32];
	int err;

	if (!sm->o->auto_cleanup || !new_retention)
		return;
	status_clear(sm);
	if (any_leak) {
		if (!sm->refused_trim++)
			fprintf(stderr,
				"leakattach: auto-cleanup: not trimming while a leak grows: malloc_trim cannot return memory in use\n");
		return;
	}
	err = trim_guarded(sm->o, sm->pid, &t);
	if (err) {
		fprintf(stderr, "leakattach: auto-cleanup: %s\n",
			strerror(-err));
		return;
	}
	if (t.err) {
		fprintf(stderr, "leakattach: auto-cleanup: %s\n", t.msg);
		return;
	}
	sm->trims++;
	if (!sm->o->json)
		printf("auto-cleanup: malloc_trim(0) returned %d: RSS %s -> %s, free in the heap %s -> %s\n",
		       t.res.returned,
		       human_bytes(t.rss_before, b1, sizeof(b1)),
		       human_bytes(t.rss_after, b2, sizeof(b2)),
		       human_bytes(t.free_before, b3, sizeof(b3)),
		       human_bytes(t.free_after, b4, sizeof(b4)));
	fflush(stdout);
}

/*
 * What the next snapshot watches, from the findings of the previous
 * sample: every leak and the biggest growing locations, each at its most
 * specific location only (a size class in an arena, not also the class
 * overall, the arena and the heap), since each watch costs a little in
 * every chunk the walk visits.
 */
static unsigned
watch_list(const struct la_tracker *t, struct la_location *out)
{
	unsigned n = la_tracker_finding_count(t), k = 0, growing = 0;
	struct la_finding fd;

	for (unsigned i = 0; i < n && k < WATCH_MAX; i++) {
		/*
		 * memory outside malloc has no chunks to sample, and a
		 * Python type's objects are counted exactly already
		 */
		if (la_tracker_finding(t, i, &fd, sizeof(fd)) ||
		    fd.verdict == LA_VERDICT_RETENTION ||
		    fd.verdict == LA_VERDICT_PLATEAU ||
		    fd.loc.kind == LA_LOC_OUTSIDE ||
		    fd.loc.kind == LA_LOC_PYTHON_TYPE ||
		    !report_finding_shown(t, i))
			continue;
		if (fd.verdict == LA_VERDICT_GROWING &&
		    growing++ >= WATCH_GROWING)
			continue;
		out[k++] = fd.loc;
	}
	return k;
}

/* A growth callers are found for: in-use bytes of a size class. */
static int
callers_finding(const struct la_finding *fd)
{
	return (fd->verdict == LA_VERDICT_LEAK ||
		fd->verdict == LA_VERDICT_GROWING) &&
	       (fd->loc.kind == LA_LOC_SIZE_CLASS ||
		fd->loc.kind == LA_LOC_ARENA_SIZE_CLASS);
}

/*
 * Whether --callers=auto opens a window after this sample: a size class
 * (callers_finding()) that leaks, or that grew in as many
 * samples in a row as the rule needs but one, so that the window is
 * checked at the sample that may reach the verdict. A single growth,
 * which a steady program shows now and then, opens none: each window
 * costs the target (README.md, Performance), and the removal of the
 * probes costs the machine once per run.
 */
static int
window_due(const struct sampler *sm)
{
	unsigned n = la_tracker_finding_count(sm->tracker);
	unsigned need =
		sm->o->rules.consecutive > 1 ? sm->o->rules.consecutive - 1 : 1;
	struct la_finding fd;

	for (unsigned i = 0; i < n; i++) {
		if (la_tracker_finding(sm->tracker, i, &fd, sizeof(fd)) ||
		    !callers_finding(&fd) ||
		    !report_finding_shown(sm->tracker, i))
			continue;
		if (fd.verdict == LA_VERDICT_LEAK || fd.consecutive >= need)
			return 1;
	}
	return 0;
}

/*
 * Name the types of every watched location of snap, right after it was
 * taken (the target runs on: the sooner, the fewer stale chunks). A
 * failure leaves that location without types; it is not the sample's.
 */
static unsigned
name_types(struct sampler *sm, const struct la_snapshot *snap,
	   const struct la_location *watch, unsigned n, struct loc_types *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct loc_types *lt = &out[k];
		struct la_types *ty = NULL;
		unsigned got;
		int err;

		memset(lt, 0, sizeof(*lt));
		lt->loc = watch[i];
		err = la_snapshot_sampled(snap, i, NULL, &lt->sampled,
					  &lt->population);
		if (!err)
			err = la_types_of(sm->s, snap, i, &ty);
		if (err) {
			if (sm->o->verbose)
				fprintf(stderr, "leakattach: types of %s: %s\n",
					watch[i].key, la_errmsg());
			continue;
		}
		/* the 64 most frequent (and the unknown when among them) */
		got = la_types_count(ty);
		got = got < 64 ? got : 64;
		for (unsigned j = 0; j < got; j++) {
			struct la_type_count tc;

			if (la_types_get(ty, j, &tc, sizeof(tc)))
				break;
			lt->sampled_bytes += tc.bytes;
			/* the top ones, and the unknown (last) in any case */
			if (lt->n < LOC_TYPES_MAX - 1 ||
			    (lt->n < LOC_TYPES_MAX &&
			     tc.source == LA_TYPE_UNKNOWN))
				lt->t[lt->n++] = tc;
		}
		la_types_free(ty);
		k++;
	}
	return k;
}

/*
 * The callers of each growing size class since the window: the library
 * shares the class's growth among the callers whose sampled chunks
 * survive in it beyond chance (la_callers_attribute()); the report shows
 * the top LOC_CALLERS_MAX.
 */
static void
attribute_callers(struct sampler *sm, const struct la_callers *c,
		  const struct la_tracker *tr, const struct la_snapshot *prev,
		  const struct la_snapshot *now)
{
	unsigned nf = la_tracker_finding_count(tr);
	unsigned n_old = sm->n_callers;
	struct loc_callers *old;
	struct la_callers_info ci;
	struct la_finding fd;

	old = malloc((n_old ? n_old : 1) * sizeof(*old));
	if (!old)
		return;
	memcpy(old, sm->callers, n_old * sizeof(*old));
	sm->n_callers = 0;
	la_callers_info(c, &ci, sizeof(ci));
	for (unsigned i = 0; i < nf && sm->n_callers < WATCH_MAX; i++) {
		struct loc_callers *lc = &sm->callers[sm->n_callers];
		struct la_attribution *at;
		struct la_caller_share sh;
		unsigned n;

		if (la_tracker_finding(tr, i, &fd, sizeof(fd)) ||
		    !callers_finding(&fd))
			continue;
		memset(lc, 0, sizeof(*lc));
		lc->loc = fd.loc;
		lc->info = ci;
		if (prev) {
			uint64_t a = la_snapshot_in_use(prev, &fd.loc);
			uint64_t b = la_snapshot_in_use(now, &fd.loc);

			lc->growth_since_window = b > a ? b - a : 0;
		} else {
			lc->growth_since_window = fd.growth_bytes;
		}
		if (!la_callers_attribute(c, &fd.loc, lc->growth_since_window,
					  &at)) {
			n = la_attribution_count(at);
			for (unsigned j = 0; j < n && lc->n < LOC_CALLERS_MAX;
			     j++) {
				struct loc_caller *lk = &lc->c[lc->n];

				if (la_attribution_get(at, j, &sh,
						       sizeof(sh)) ||
				    la_callers_get(c, sh.caller, &lk->c,
						   sizeof(lk->c)))
					continue;
				lk->class_kept_chunks = sh.kept_chunks;
				lk->class_surviving_chunks =
					sh.surviving_chunks;
				lk->class_surviving_bytes = sh.surviving_bytes;
				lk->class_chance = sh.chance_survivors;
				lk->class_attributed_bytes =
					sh.attributed_bytes;
				lk->share = sh.share;
				lk->est_bytes = sh.est_bytes;
				lc->n++;
			}
			la_attribution_free(at);
		}
		/*
		 * A window that names no caller beyond chance here (a short
		 * one, under load) keeps what an earlier window of this run
		 * found for the location, with that window's figures.
		 */
		for (unsigned k = 0; !lc->n && k < n_old; k++)
			if (!strcmp(old[k].loc.key, fd.loc.key))
				*lc = old[k];
		if (lc->n)
			sm->n_callers++;
	}
	free(old);
}

/*
 * check: keep the window of the last sample in the log folder, for the
 * next check (or monitor) of the process to check. Nothing to keep
 * removes what an earlier run kept (it was checked by now, or is older).
 */
void
sampler_keep_window(struct sampler *sm)
{
	struct la_store_target *tg;

	if (!sm->callers_run.enabled || sm->gone || lock_target(sm, &tg))
		return;
	if (la_store_target_save_callers(tg, sm->pending)) {
		status_clear(sm);
		fprintf(stderr, "leakattach: callers: %s\n", la_errmsg());
	}
	la_store_target_close(tg);
}

/* Window errors that mean "never on this machine": say so once. */
static int
callers_refused(int err)
{
	return err == -EPERM || err == -EACCES || err == -ENOENT ||
	       err == -ENOTSUP;
}

/*
 * After a sample: open the window whose chunks the next sample checks,
 * when --callers says so. The target runs throughout; with uprobes the
 * kernel's removal of the probes is what takes us time (about 80 ms per
 * probed function on Linux 6.18, after the target is free of them).
 */
void
sampler_window(struct sampler *sm, double next)
{
	struct la_callers_opts co = {.sz = sizeof(co),
				     .backend = sm->o->callers_backend,
				     .max_hits = sm->o->callers_hits,
				     .max_ms = sm->o->callers_ms};
	struct la_callers_info ci;
	double t0;
	int err;

	la_callers_free(sm->pending);
	sm->pending = NULL;
	if (!sm->callers_run.enabled || sm->callers_run.error[0] || sm->gone ||
	    !sm->s || !sm->tracker)
		return;
	if (sm->o->callers == CALLERS_AUTO && !window_due(sm))
		return;
	/*
	 * A window that would end after the next sample is due is skipped,
	 * judged by the last one's time; every SKIP_RETRY-th in a row runs
	 * anyway and is timed again (a window slowed once by other load
	 * must not end sampling).
	 */
	t0 = mono_now();
	if (next > 0 && t0 + sm->callers_run.last_s > next &&
	    sm->skip_streak + 1 < SKIP_RETRY) {
		sm->skip_streak++;
		if (!sm->callers_run.skipped++) {
			status_clear(sm);
			fprintf(stderr,
				"leakattach: callers: a sampling window (%.0f ms the last time) does not fit before the next sample: windows that do not fit are skipped (a longer --interval makes room)\n",
				sm->callers_run.last_s * 1e3);
		}
		return;
	}
	sm->skip_streak = 0;
	err = la_callers_sample(sm->s, &co, &sm->pending);
	/*
	 * The first window of a run sets up what the others reuse (the
	 * probes, a private tracefs, the unwinding tables): not a measure.
	 */
	sm->callers_run.last_s = sm->callers_run.windows ? mono_now() - t0 : 0;
	if (err && !sm->callers_run.windows)
		snprintf(sm->callers_run.backend,
			 sizeof(sm->callers_run.backend), "%s",
			 co.backend == LA_CALLERS_UPROBE ? "uprobe"
			 : co.backend == LA_CALLERS_INT3 ? "int3"
							 : "auto");
	if (err) {
		status_clear(sm);
		if (callers_refused(err)) {
			snprintf(sm->callers_run.error,
				 sizeof(sm->callers_run.error), "%s",
				 la_errmsg());
			fprintf(stderr,
				"leakattach: callers: not sampled: %s\n",
				la_errmsg());
		} else if (err != -ESRCH) {
			fprintf(stderr, "leakattach: callers: %s\n",
				la_errmsg());
		}
		return;
	}
	la_callers_info(sm->pending, &ci, sizeof(ci));
	if (ci.backend_why[0] && !sm->callers_run.windows) {
		status_clear(sm);
		fprintf(stderr, "leakattach: callers: using %s: %s\n",
			ci.backend, ci.backend_why);
	}
	snprintf(sm->callers_run.backend, sizeof(sm->callers_run.backend), "%s",
		 ci.backend);
	sm->callers_run.windows++;
	sm->callers_run.allocations += ci.allocations;
	sm->callers_run.lost += ci.lost;
	sm->callers_run.window_ms += (double)ci.window_ns / 1e6;
	sm->callers_run.teardown_ms += (double)ci.teardown_ns / 1e6;
	sm->callers_run.release_ms += (double)ci.release_ns / 1e6;
	if (sm->o->verbose)
		fprintf(stderr,
			"leakattach: callers: %s: %llu allocations and %llu frees in %.0f ms, %u stacks, %u chunks kept, %u freed, teardown %.0f ms\n",
			ci.backend, (unsigned long long)ci.allocations,
			(unsigned long long)ci.frees,
			(double)ci.window_ns / 1e6, ci.stacks, ci.kept_chunks,
			ci.control_chunks, (double)ci.teardown_ns / 1e6);
}

int
sampler_sample(struct sampler *sm)
{
	struct la_store_target *tg = NULL;
	struct la_tracker *tr = NULL;
	struct la_snapshot *snap = NULL;
	char *line = NULL, *doc = NULL, path[1400];
	struct la_location watch[WATCH_MAX];
	struct la_snapshot_opts so = {.sz = sizeof(so)};
	size_t len;
	int err, new_retention = 0, any_leak = 0, news = 0;

	path[0] = '\0';
	err = lock_target(sm, &tg);
	if (err)
		return EXIT_ERROR;
	/*
	 * Under the lock: opening a session refuses a traced target, and
	 * another leakattach's sample of it traces it for its pause.
	 */
	if (!sm->s && cli_session_open(sm->o, sm->pid, &sm->s)) {
		la_store_target_close(tg);
		return EXIT_ERROR;
	}
	snprintf(sm->state_dir, sizeof(sm->state_dir), "%s",
		 la_store_target_dir(tg));
	err = la_store_target_load(tg, &sm->o->rules, &tr);
	if (err == 1) {
		status_clear(sm);
		fprintf(stderr, "leakattach: warning: %s\n", la_errmsg());
	} else if (err) {
		status_clear(sm);
		fprintf(stderr, "leakattach: %s\n", la_errmsg());
		goto fail;
	}
	/* a window that an earlier check of this process left to check */
	if (!sm->pending && sm->callers_run.enabled) {
		err = la_store_target_load_callers(tg, &sm->pending);
		if (err) {
			status_clear(sm);
			fprintf(stderr, "leakattach: %s%s\n",
				err == 1 ? "warning: " : "callers: ",
				la_errmsg());
		} else if (sm->pending && sm->o->verbose) {
			status_clear(sm);
			fprintf(stderr,
				"leakattach: callers: checking the sampling window an earlier run kept\n");
		}
	}
	/* the tracker as the previous sample left it says what to watch */
	so.watch = watch;
	so.n_watch = watch_list(tr, watch);
	so.sample_max = SAMPLE_CHUNKS;
	/* the chunks of the window after the previous sample */
	if (sm->pending)
		la_callers_probes(sm->pending, &so.probes, &so.n_probes);
	err = la_snapshot_take_opts(sm->s, &so, &snap);
	if (err) {
		report_error(sm, err);
		goto fail;
	}
	sm->taken_at = mono_now();
	sm->n_types = name_types(sm, snap, watch, so.n_watch, sm->types);
	err = la_tracker_add(tr, snap);
	if (err) {
		fprintf(stderr, "leakattach: out of memory\n");
		goto fail;
	}
	if (sm->pending) {
		if (la_callers_check(sm->pending, snap))
			fprintf(stderr, "leakattach: callers: %s\n",
				la_errmsg());
		else
			attribute_callers(sm, sm->pending, tr, sm->last, snap);
		if (sm->o->verbose) {
			struct la_callers_info ci;

			la_callers_info(sm->pending, &ci, sizeof(ci));
			fprintf(stderr,
				"leakattach: callers: %u of %u kept chunks still in use; %u of %u freed ones in use again (%.0f %%: the chance of a false survivor)\n",
				ci.surviving_chunks, ci.kept_chunks,
				ci.control_reused, ci.control_chunks,
				100.0 * ci.reuse_rate);
		}
		la_callers_free(sm->pending);
		sm->pending = NULL;
	}
	la_tracker_free(sm->tracker);
	la_snapshot_free(sm->last);
	sm->tracker = tr;
	sm->last = snap;
	tr = NULL;
	snap = NULL;
	if (!sm->taken)
		mem_mark_set(&sm->first, sm->last);
	sm->taken++;
	{
		struct la_snapshot_info si;
		struct la_totals tt;

		la_snapshot_info(sm->last, &si, sizeof(si));
		la_snapshot_totals(sm->last, &tt, sizeof(tt));
		if (si.consistent) {
			if (!sm->exact++)
				sm->heap_first = tt.counts.in_use_bytes;
			sm->heap_last = tt.counts.in_use_bytes;
		}
	}
	remember_leaks(sm);

	line = to_string(sm, report_history_line, &len);
	if (!line || la_store_target_append(tg, line))
		goto fail_store;
	if (la_store_target_save(tg, sm->tracker))
		goto fail_store;
	metrics_write(sm->o->metrics, sm->pid, sm->comm, sm->state_dir,
		      sm->tracker, sm->last);
	news = has_news(sm->tracker, &new_retention, &any_leak);
	if (news) {
		doc = to_string(sm, report_check_json, &len);
		if (!doc ||
		    la_store_target_report(tg, doc, len, path, sizeof(path)))
			goto fail_store;
	}
	la_store_target_close(tg);
	free(line);
	free(doc);
	sample_line(sm);
	print_news(sm, news ? path : NULL);
	auto_cleanup(sm, new_retention, any_leak);
	status_show(sm);
	sampler_watch_line(sm);
	return 0;

fail_store:
	status_clear(sm);
	fprintf(stderr, "leakattach: %s\n",
		line ? la_errmsg() : "out of memory");
fail:
	free(line);
	free(doc);
	la_tracker_free(tr);
	la_snapshot_free(snap);
	la_store_target_close(tg);
	return EXIT_ERROR;
}

int
sampler_wait(struct sampler *sm, double deadline, int extra_fd)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = sm->sigfd, .events = POLLIN},
				      {.fd = extra_fd, .events = POLLIN}};
		double left = deadline - mono_now();
		struct signalfd_siginfo si;
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(p, extra_fd >= 0 ? 2 : 1,
			  left > 3600 ? 3600000 : (int)(left * 1000) + 1);
		if (rc < 0 && errno != EINTR)
			return 1;
		if (rc > 0 && (p[0].revents & POLLIN) &&
		    read(sm->sigfd, &si, sizeof(si)) == sizeof(si)) {
			status_clear(sm);
			if (!sm->o->json)
				fprintf(stderr,
					"leakattach: %s: stopping after %u sample%s\n",
					strsignal((int)si.ssi_signo), sm->taken,
					sm->taken == 1 ? "" : "s");
			return 1;
		}
		if (rc > 0 && extra_fd >= 0 && p[1].revents)
			return 2;
	}
}

void
sampler_watch_line(const struct sampler *sm)
{
	struct check_doc d;

	if (sm->o->watch_fd < 0)
		return;
	fill_doc(sm, &d);
	watch_fd_emit(sm->o->watch_fd, &d);
}

int
sampler_found_leak(const struct sampler *sm)
{
	struct check_doc d;

	if (!sm->tracker)
		return 0;
	fill_doc(sm, &d);
	return report_is_leak(&d);
}

double
sampler_taken_at(const struct sampler *sm)
{
	return sm->taken_at;
}

uint64_t
sampler_in_use(const struct sampler *sm)
{
	struct la_totals t;

	if (!sm->last)
		return 0;
	la_snapshot_totals(sm->last, &t, sizeof(t));
	return t.counts.in_use_bytes;
}

uint64_t
sampler_rss(const struct sampler *sm)
{
	struct la_snapshot_info si;

	if (!sm->last)
		return 0;
	la_snapshot_info(sm->last, &si, sizeof(si));
	return si.rss_bytes;
}

int
sampler_finish(struct sampler *sm)
{
	struct check_doc d;

	status_clear(sm);
	if (!sm->tracker)
		return EXIT_ERROR; /* not one sample: the error is printed */
	fill_doc(sm, &d);
	if (sm->o->json) {
		report_check_json(stdout, &d);
	} else {
		putchar('\n');
		report_check_text(stdout, &d);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "leakattach: cannot write the report\n");
		return EXIT_ERROR;
	}
	/* --html: the page of the history, with this run's report */
	if (sm->o->html && sm->state_dir[0]) {
		char *dir = sm->state_dir, *doc;
		size_t len;

		doc = to_string(sm, report_check_json, &len);
		if (report_html_write(sm->o->html, sm->log_dir, &dir, 1, doc) &&
		    !report_is_leak(&d)) {
			free(doc);
			return EXIT_ERROR;
		}
		free(doc);
	}
	/* report_check_json()'s "verdict", as a status */
	if (report_is_leak(&d))
		return EXIT_LEAK;
	return report_samples_needed(&d) ? EXIT_UNDECIDED : EXIT_NO_LEAK;
}

void
sampler_close(struct sampler *sm)
{
	if (!sm)
		return;
	status_clear(sm);
	la_tracker_free(sm->tracker);
	la_snapshot_free(sm->last);
	la_callers_free(sm->pending);
	free(sm->callers);
	la_session_close(sm->s);
	la_store_close(sm->st);
	if (sm->sigfd >= 0) {
		struct signalfd_siginfo si;

		/*
		 * A Ctrl-C that came during the last sample or window asked
		 * for what is being done: the end. Taken here, it is not
		 * delivered when the mask is restored, which would kill us
		 * after the report, with the wrong exit status.
		 */
		while (read(sm->sigfd, &si, sizeof(si)) == sizeof(si))
			;
		close(sm->sigfd);
	}
	sigprocmask(SIG_SETMASK, &sm->oldmask, NULL);
	free(sm);
}

void
sampler_header(const struct sampler *sm, double interval, const char *until)
{
	char b1[32], b2[32];

	if (sm->o->json)
		return;
	printf("leakattach %s: process %d (%s), a sample every %s%s; a leak is %u growths in a row %s %.1f %%, at least %s%s\n",
	       sm->command, (int)sm->pid, sm->comm,
	       human_duration(interval, b1, sizeof(b1)), until,
	       sm->o->rules.consecutive,
	       sm->o->rules.noise_k > 0 ? "beyond the noise averaging more than"
					: "of more than",
	       sm->o->rules.threshold_pct,
	       human_bytes(sm->o->rules.min_size, b2, sizeof(b2)),
	       sm->o->rules.trend_alpha > 0 ? ", or a rising trend" : "");
	fflush(stdout);
}
