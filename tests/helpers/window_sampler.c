/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window_sampler.c - opens sampling windows of one backend (window.h) on
 * a process, one after the other, until killed: the analyser that
 * test_uprobe and test_int3 SIGKILL at random moments (the kernel must
 * then remove the uprobes, the int3 tracer restore the target and
 * detach), or whose int3 tracer test_int3 SIGKILLs (the residual risk).
 *
 * Usage: window_sampler BACKEND PID [MAX_MS [MAX_HITS [FN,FN... [WORD...]]]]
 *        BACKEND: uprobe or int3 (defaults: 50, 2000, the backend's
 *        default functions; "-" for those)
 * WORDs, after the functions:
 *   session    setsid() first: its own session and process group, like
 *              a job a shell started (the test kills that group or that
 *              session, and an int3 tracer must not be in either)
 *   ballast=M  allocate and touch M MiB first, as an analyser that has
 *              read debug information would have (an int3 tracer forked
 *              from the sampler would keep it mapped)
 *   oom=B      set oom_score_adj to B (raising it needs no privilege)
 *   oom=A,B    set oom_score_adj to A with CAP_SYS_RESOURCE (which also
 *              makes A the least value the process and its children may
 *              set later), drop CAP_SYS_RESOURCE for good, then set B:
 *              an unprivileged sampler whose int3 tracer can lower its
 *              value to A and no further
 *
 * Output, one line each, each with one write(2) so a kill never leaves
 * half a line: "open N" once window N's probes are in place (int3: "open
 * N tracer=T", T the tracer's pid); "window N hits=H lost=L ms=T
 * close_ms=C stop=S err=E ... release_ms=R" once the window is closed
 * (close_ms: taking the probes out in window_run(); release_ms:
 * window_close(), uprobe's anchors and definitions, int3's tracer
 * ending), between them uprobe's "tracefs=F", int3's
 * "returns=C/E/R/A oom=O" (returns caught, of them while ending,
 * restored, abandoned; the tracer's oom_score_adj); "error MESSAGE" and
 * exit 2 when a window cannot be opened, or a WORD cannot be done. With
 * WINDOW_SAMPLER_LOG=FILE the library's log is appended to FILE (an int3
 * tracer's too when it runs in a fork of the sampler: with
 * LEAKATTACH_INT3_TRACER naming no program).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "sampling/int3.h"
#include "sampling/uprobe.h"
#include "sampling/window.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
count_event(const struct alloc_event *ev, void *arg)
{
	/* Touch the copy, as an analyser would. */
	if (ev->stack_len)
		*(unsigned long *)arg += ((const unsigned char *)ev->stack)[0];
	return 0;
}

/* WINDOW_SAMPLER_LOG=FILE: the library's log (a forked tracer's too). */
static void
log_to_file(enum la_log_level level, const char *msg)
{
	const char *path = getenv("WINDOW_SAMPLER_LOG");
	char line[600];
	int fd, len;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "%d %d %s\n", (int)getpid(),
		       (int)level, msg);
	if (write(fd, line, (size_t)len) < 0)
		len = 0;
	close(fd);
}

static int
oom_set(int v)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d\n", v);
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, buf, (size_t)len) == len;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* CAP_SYS_RESOURCE out of every set, so that no exec gets it back. */
static int
drop_sys_resource(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	const unsigned bit = 1u << (CAP_SYS_RESOURCE % 32);
	const int i = CAP_SYS_RESOURCE / 32;

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) ||
	    syscall(SYS_capget, &h, d))
		return -1;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		return -1;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_RESOURCE, 0, 0);
	return 0;
}

static int
say(const char *buf, int len)
{
	return len > 0 && write(1, buf, (size_t)len) == len ? 0 : -1;
}

/* The WORDs after the functions; 0, or -1 with a line said. */
static int
setup(int argc, char **argv)
{
	char buf[200];
	int len;

	for (int i = 6; i < argc; i++) {
		int a, b;

		if (!strcmp(argv[i], "session")) {
			if (setsid() < 0)
				goto fail;
		} else if (sscanf(argv[i], "ballast=%d", &b) == 1) {
			size_t mib = (size_t)b << 20;
			char *p = b > 0 ? malloc(mib) : NULL;

			if (!p)
				goto fail;
			memset(p, 1, mib); /* kept: the sampler's memory */
		} else if (sscanf(argv[i], "oom=%d,%d", &a, &b) == 2) {
			if (oom_set(a) || drop_sys_resource() || oom_set(b))
				goto fail;
		} else if (sscanf(argv[i], "oom=%d", &b) == 1) {
			if (oom_set(b))
				goto fail;
		} else {
			errno = EINVAL;
			goto fail;
		}
		continue;
	fail:
		len = snprintf(buf, sizeof(buf), "error %s: %s\n", argv[i],
			       strerror(errno));
		say(buf, len);
		return -1;
	}
	return 0;
}

/* fn_mask from "malloc,free"; 0 (the backend's default) from "-". */
static unsigned
parse_fns(const char *list)
{
	unsigned mask = 0;

	for (int f = 0; f < ALLOC_NFNS; f++) {
		const char *name = alloc_fn_name((enum alloc_fn)f);
		const char *p = strstr(list, name);
		size_t n = strlen(name);

		if (p && (p == list || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			mask |= 1u << f;
	}
	return mask;
}

/* What the open line adds for be: int3's tracer. */
static int
open_extra(const struct window *w, char *buf, size_t len)
{
	if (w->be != &int3_backend)
		return snprintf(buf, len, "\n");
	return snprintf(buf, len, " tracer=%d\n", (int)int3_window_tracer(w));
}

/* What the window line adds for be, read before the close. */
static int
window_extra(const struct window *w, char *buf, size_t len)
{
	const struct int3_stats *st;

	if (w->be != &int3_backend)
		return snprintf(buf, len, " tracefs=%d",
				uprobe_window_stats(w)->tracefs);
	st = int3_window_stats(w);
	return snprintf(buf, len, " returns=%llu/%llu/%llu/%llu oom=%d",
			(unsigned long long)st->returns_caught,
			(unsigned long long)st->returns_at_end,
			(unsigned long long)st->returns_restored,
			(unsigned long long)st->returns_abandoned,
			st->oom_score_adj);
}

int
main(int argc, char **argv)
{
	struct window_opts o = {.sz = sizeof(o)};
	const struct window_backend *be;
	unsigned long sink = 0;
	char buf[400];
	pid_t pid;

	if (argc < 3 ||
	    (strcmp(argv[1], "uprobe") && strcmp(argv[1], "int3"))) {
		fprintf(stderr, "usage: window_sampler uprobe|int3 PID "
				"[MAX_MS [MAX_HITS [FN,... [WORD...]]]]\n");
		return 2;
	}
	be = strcmp(argv[1], "int3") ? &uprobe_backend : &int3_backend;
	if (getenv("WINDOW_SAMPLER_LOG"))
		la_set_log_fn(log_to_file);
	if (setup(argc, argv))
		return 2;
	pid = (pid_t)atoi(argv[2]);
	o.max_ms = argc > 3 ? (unsigned)atoi(argv[3]) : 50;
	o.max_hits = argc > 4 ? (unsigned)atoi(argv[4]) : 2000;
	o.fn_mask = argc > 5 ? parse_fns(argv[5]) : 0;
	for (unsigned long n = 1;; n++) {
		const struct window_stats *st;
		struct window *w;
		uint64_t hits = 0;
		double t0;
		int err, len;

		err = window_open(be, pid, &o, &w);
		if (err) {
			say(buf, snprintf(buf, sizeof(buf), "error %s\n",
					  la_errmsg()));
			return 2;
		}
		len = snprintf(buf, sizeof(buf), "open %lu", n);
		len += open_extra(w, buf + len, sizeof(buf) - (size_t)len);
		if (say(buf, len))
			return 2;
		err = window_run(w, count_event, &sink);
		st = window_stats(w);
		for (int f = 0; f < ALLOC_NFNS; f++)
			hits += st->hits[f];
		/* st goes with w: the figures first, then the close. */
		len = snprintf(buf, sizeof(buf),
			       "window %lu hits=%llu lost=%llu ms=%.1f "
			       "close_ms=%.1f stop=%d err=%d",
			       n, (unsigned long long)hits,
			       (unsigned long long)st->lost,
			       (double)st->run_ns / 1e6,
			       (double)st->close_ns / 1e6, (int)st->stop, err);
		len += window_extra(w, buf + len, sizeof(buf) - (size_t)len);
		t0 = now_ms();
		window_close(w);
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				" release_ms=%.1f\n", now_ms() - t0);
		if (say(buf, len))
			return 2;
	}
}
