/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3_sampler.c - opens int3 sampling windows on a process, one after
 * the other, until killed: the analyser that test_int3 SIGKILLs at random
 * moments (its tracer must then restore the target and detach), or whose
 * tracer it SIGKILLs (the residual risk).
 *
 * Usage: int3_sampler PID [MAX_MS [MAX_HITS [FN,FN... [WORD...]]]]
 *        (defaults: 50, 2000, the backend's default functions)
 * WORDs, after the functions ("-" for the default ones):
 *   session    setsid() first: its own session and process group, like
 *              a job a shell started (the test kills that group or that
 *              session, and the tracer must not be in either)
 *   ballast=M  allocate and touch M MiB first, as an analyser that has
 *              read debug information would have (a tracer forked from
 *              the sampler would keep it mapped)
 *   oom=B      set oom_score_adj to B (raising it needs no privilege)
 *   oom=A,B    set oom_score_adj to A with CAP_SYS_RESOURCE (which also
 *              makes A the least value the process and its children may
 *              set later), drop CAP_SYS_RESOURCE for good, then set B:
 *              an unprivileged sampler whose tracer can lower its value
 *              to A and no further
 *
 * Output, one line each, each with one write(2) so a kill never leaves
 * half a line: "open N tracer=T" once window N's breakpoints are armed
 * (T: the tracer's pid), "window N hits=H lost=L ms=T close_ms=C stop=S
 * err=E returns=C/E/R/A oom=O" once the tracer has restored the target
 * and exited (returns caught, of them while ending, restored, abandoned;
 * the tracer's oom_score_adj); "error MESSAGE" and exit 2 when a window
 * cannot be opened, or a WORD cannot be done. With
 * INT3_SAMPLER_LOG=FILE the library's log is appended to FILE (the
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
#include <unistd.h>

#include "base/error.h"
#include "sampling/int3.h"

static int
count_event(const struct alloc_event *ev, void *arg)
{
	/* Touch the copy, as an analyser would. */
	if (ev->stack_len)
		*(unsigned long *)arg += ((const unsigned char *)ev->stack)[0];
	return 0;
}

/* INT3_SAMPLER_LOG=FILE: the library's log (a forked tracer's included). */
static void
log_to_file(enum la_log_level level, const char *msg)
{
	const char *path = getenv("INT3_SAMPLER_LOG");
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
	return write(1, buf, (size_t)len) == len ? 0 : -1;
}

/* The WORDs after the functions; 0, or -1 with a line said. */
static int
setup(int argc, char **argv)
{
	char buf[200];
	int len;

	for (int i = 5; i < argc; i++) {
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

int
main(int argc, char **argv)
{
	struct int3_opts o = {.sz = sizeof(o)};
	unsigned long sink = 0;
	pid_t pid;
	char buf[200];

	if (argc < 2) {
		fprintf(stderr,
			"usage: int3_sampler PID [MAX_MS [MAX_HITS [FN,... [WORD...]]]]\n");
		return 2;
	}
	if (getenv("INT3_SAMPLER_LOG"))
		la_set_log_fn(log_to_file);
	if (setup(argc, argv))
		return 2;
	pid = (pid_t)atoi(argv[1]);
	o.max_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
	o.max_hits = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
	for (int f = 0; argc > 4 && f < ALLOC_NFNS; f++) {
		const char *name = alloc_fn_name((enum alloc_fn)f);
		const char *p = strstr(argv[4], name);
		size_t n = strlen(name);

		if (p && (p == argv[4] || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			o.fn_mask |= 1u << f;
	}
	for (unsigned long n = 1;; n++) {
		struct window *w;
		const struct int3_stats *st;
		uint64_t hits = 0;
		int err, len;

		err = int3_window_open(pid, &o, &w);
		if (err) {
			len = snprintf(buf, sizeof(buf), "error %s\n",
				       la_errmsg());
			say(buf, len);
			return 2;
		}
		len = snprintf(buf, sizeof(buf), "open %lu tracer=%d\n", n,
			       (int)int3_window_tracer(w));
		if (say(buf, len))
			return 2;
		err = window_run(w, count_event, &sink);
		st = int3_window_stats(w);
		for (int f = 0; f < ALLOC_NFNS; f++)
			hits += st->win.hits[f];
		len = snprintf(
			buf, sizeof(buf),
			"window %lu hits=%llu lost=%llu ms=%.1f close_ms=%.1f stop=%d err=%d returns=%llu/%llu/%llu/%llu oom=%d\n",
			n, (unsigned long long)hits,
			(unsigned long long)st->win.lost,
			(double)st->win.run_ns / 1e6,
			(double)st->win.close_ns / 1e6, (int)st->win.stop, err,
			(unsigned long long)st->returns_caught,
			(unsigned long long)st->returns_at_end,
			(unsigned long long)st->returns_restored,
			(unsigned long long)st->returns_abandoned,
			st->oom_score_adj);
		window_close(w);
		if (say(buf, len))
			return 2;
	}
}
