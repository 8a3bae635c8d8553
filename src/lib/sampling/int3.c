/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3.c - the int3 backend's analyser side (see int3.h): resolve the
 * functions, fork the tracer (int3_tracer.c) and have it execute
 * la-int3-tracer with its command line, read its records (int3_proto.h)
 * and deliver them as struct alloc_event, reap it. Writes nothing into
 * the target. Not for: the tracer, unwinding, symbols, attribution.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "base/error.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "arch/arch.h"
#include "ptrace/tracee.h" /* la_now_ns() */
#include "sampling/alloc_fns.h"
#include "sampling/int3_proto.h"

#define READY_TIMEOUT_MS 10000

struct int3_window {
	struct window win; /* first: a struct window * is one of these */
	pid_t pid, tracer;
	int fd;
	struct int3_opts o;
	unsigned char *buf;
	size_t buf_len;
	int ended;
	struct int3_stats st;
};

/*
 * The allocation functions (alloc_fns.h), unless kernel uprobes were used
 * in this process: its mm keeps their "[uprobes]" page and the kernel
 * goes on treating int3 traps in its files as uprobe hits: it steps over
 * our breakpoints itself and never tells us (measured on 6.18: 0 hits,
 * the target 20 times slower meanwhile). Nothing to sample then; refuse.
 */
static int
resolve(pid_t pid, unsigned mask, uint64_t addr[ALLOC_NFNS])
{
	struct alloc_fns fns;
	struct maps maps;
	struct memsrc *mem;
	int err;

	err = memsrc_pid_open(pid, &mem);
	if (err)
		return la_fail(err, "cannot read process %d: %s", (int)pid,
			       strerror(-err));
	err = procmaps_read(pid, &maps);
	if (err) {
		memsrc_close(mem);
		return la_fail(err, "cannot read /proc/%d/maps: %s", (int)pid,
			       strerror(-err));
	}
	for (size_t i = 0; i < maps.len; i++)
		if (!strcmp(maps.v[i].path, "[uprobes]")) {
			err = la_fail(
				-ENOTSUP,
				"process %d has been probed with kernel uprobes (its [uprobes] mapping stays), which take int3 breakpoints for their own: sample it with uprobes as root (--callers-backend=uprobe)",
				(int)pid);
			goto out;
		}
	err = alloc_fns_find(pid, &maps, mem, mask, &fns);
	if (!err)
		memcpy(addr, fns.addr, sizeof(fns.addr));
out:
	procmaps_free(&maps);
	memsrc_close(mem);
	return err;
}

/*
 * File capabilities (setcap cap_sys_ptrace+ep on leakattach) do not pass
 * an exec of another file: carry the permitted ones as ambient
 * capabilities (capabilities(7)), so that the tracer program may do what
 * a fork of ours could. Failures leave things as they were.
 */
static void
caps_across_exec(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return;
	d[0].inheritable |= d[0].permitted;
	d[1].inheritable |= d[1].permitted;
	if (syscall(SYS_capset, &h, d))
		return;
	for (unsigned c = 0; c < 64; c++)
		if (d[c / 32].permitted & (1u << (c % 32)))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

/*
 * In the forked child: become la-int3-tracer, the tracer as a program of
 * its own (installed in PKGLIBEXECDIR; LEAKATTACH_INT3_TRACER names
 * another, for a build tree). A fork of the caller keeps all of the
 * caller's memory mapped, and the OOM killer counts it: 28 MiB when the
 * caller is a leakattach that has read debug information; the program
 * needs about 2. Returns only when it cannot be executed (the child then
 * runs the tracer itself).
 */
static void
exec_tracer(pid_t pid, const struct int3_opts *o,
	    const uint64_t addr[ALLOC_NFNS])
{
	const char *path = secure_getenv("LEAKATTACH_INT3_TRACER");
	char num[ARGV_FIXED + ALLOC_NFNS][24];
	char *argv[ARGV_FIXED + ALLOC_NFNS + 1];
	const unsigned long long v[ARGV_FIXED] = {
		0,	     0,		  (unsigned long long)pid,
		o->max_hits, o->max_ms,	  o->stack_size,
		o->fn_mask,  o->limit_ms, o->follow_ms};

	if (!path || !*path)
		path = PKGLIBEXECDIR "/la-int3-tracer";
	argv[0] = (char *)"la-int3-tracer";
	argv[1] = (char *)ARGV_VERSION;
	for (int i = 2; i < ARGV_FIXED; i++) {
		snprintf(num[i], sizeof(num[i]), "%llu", v[i]);
		argv[i] = num[i];
	}
	for (int f = 0; f < ALLOC_NFNS; f++) {
		snprintf(num[ARGV_FIXED + f], sizeof(num[0]), "%llx",
			 (unsigned long long)addr[f]);
		argv[ARGV_FIXED + f] = num[ARGV_FIXED + f];
	}
	argv[ARGV_FIXED + ALLOC_NFNS] = NULL;
	caps_across_exec();
	execv(path, argv);
}

/* The tracer's stdio goes to /dev/null; only the socket is kept, as 3. */
static void
child_fds(int fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (fd != 3) {
		dup2(fd, 3);
		fd = 3;
	}
	fcntl(fd, F_SETFD, 0);
	syscall(SYS_close_range, 4u, ~0u, 0u);
}

/* One record, waiting up to timeout_ms (-1: for ever); 0 on EOF. */
static ssize_t
read_rec(struct int3_window *w, int timeout_ms)
{
	struct pollfd p = {w->fd, POLLIN, 0};
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	do
		n = recv(w->fd, w->buf, w->buf_len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n > 0 && (size_t)n < sizeof(struct rec))
		return -EPROTO;
	return n;
}

static void
reap(struct int3_window *w)
{
	int status;
	pid_t r;

	if (!w->tracer)
		return;
	do
		r = waitpid(w->tracer, &status, 0);
	while (r < 0 && errno == EINTR);
	w->st.tracer_status = r == w->tracer ? status : -1;
	w->tracer = 0;
}

int
int3_window_open(pid_t pid, const struct int3_opts *opts, struct window **out)
{
	struct int3_window *w;
	uint64_t t0 = la_now_ns();
	int sv[2], err;
	ssize_t n;

	*out = NULL;
	if (!ARCH_HAS_INT3)
		return la_fail(
			-EOPNOTSUPP,
			ARCH_NOT_PORTED("the int3 (BRK) callers backend"));
	w = window_new(&int3_backend, pid, sizeof(*w), &err);
	if (!w)
		return err;
	w->win.stats = &w->st.win;
	w->pid = pid;
	w->fd = -1;
	w->st.tracer_status = -1;
	window_copy_opts(&w->o, sizeof(w->o), opts);
	window_fill_opts(&int3_limits, &w->o.max_hits, &w->o.max_ms,
			 &w->o.stack_size, &w->o.fn_mask);
	w->buf_len = sizeof(struct rec) + MAX_STACK + sizeof(struct int3_stats);
	w->buf = malloc(w->buf_len);
	if (!w->buf) {
		free(w);
		return -ENOMEM;
	}
	err = resolve(pid, w->o.fn_mask, w->win.addr);
	if (err)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		err = la_fail(-errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	w->tracer = fork();
	if (w->tracer < 0) {
		err = la_fail(-errno, "cannot fork the int3 tracer: %s",
			      strerror(errno));
		w->tracer = 0;
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (w->tracer == 0) {
		close(sv[0]);
		child_fds(sv[1]);
		exec_tracer(pid, &w->o, w->win.addr);
		_exit(int3_tracer_main(3, pid, &w->o, w->win.addr));
	}
	close(sv[1]);
	w->fd = sv[0];
	n = read_rec(w, READY_TIMEOUT_MS);
	if (n <= 0) {
		err = la_fail(
			n ? (int)n : -EPIPE,
			"the int3 tracer for process %d did not start: %s",
			(int)pid, n ? strerror((int)-n) : "it exited");
		goto fail;
	}
	{
		struct rec r;

		memcpy(&r, w->buf, sizeof(r));
		if (r.type == REC_ERROR) {
			size_t len = (size_t)n - sizeof(r);

			w->buf[sizeof(r) +
			       (len < MSG_MAX ? len : MSG_MAX - 1)] = '\0';
			err = la_fail(r.err < 0 ? r.err : -EIO, "%s",
				      (char *)w->buf + sizeof(r));
			goto fail;
		}
		if (r.type != REC_READY) {
			err = la_fail(-EPROTO, "the int3 tracer said %u first",
				      r.type);
			goto fail;
		}
		for (int f = 0; f < ALLOC_NFNS; f++)
			if (!(r.fn & (1u << f)))
				w->win.addr[f] = 0;
		w->st.refused_mask = (unsigned)r.err;
	}
	w->st.win.open_ns = la_now_ns() - t0;
	*out = &w->win;
	return 0;
fail:
	window_close(&w->win);
	return err;
}

static void
to_event(const struct rec *r, const unsigned char *stack,
	 struct alloc_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->tid = r->tid;
	ev->time_ns = r->time_ns;
	ev->end_ns = r->end_ns;
	ev->ptr = r->ret;
	ev->fn = (enum alloc_fn)r->fn;
	ev->ip = r->ip;
	ev->sp = r->sp;
	ev->bp = r->bp;
	ev->stack = stack;
	ev->stack_len = r->len;
	switch (ev->fn) {
	case ALLOC_CALLOC:
		ev->size = r->si && r->di > UINT64_MAX / r->si ? UINT64_MAX
							       : r->di * r->si;
		break;
	case ALLOC_REALLOC:
		ev->old_ptr = r->di;
		ev->size = r->si;
		break;
	case ALLOC_MEMALIGN:
	case ALLOC_ALIGNED_ALLOC:
		ev->align = r->di;
		ev->size = r->si;
		break;
	case ALLOC_POSIX_MEMALIGN:
		ev->align = r->si;
		ev->size = r->dx;
		break;
	case ALLOC_FREE:
		ev->old_ptr = r->di;
		break;
	default:
		ev->size = r->di;
		break;
	}
}

static int
run_window(struct window *win, window_event_fn cb, void *arg)
{
	struct int3_window *w = (struct int3_window *)win;
	int ret = 0, asked = 0;

	for (;;) {
		struct rec r;
		ssize_t n;

		if (!asked && (w->win.cancel || ret)) {
			/* EOF for the tracer: it ends the window */
			shutdown(w->fd, SHUT_WR);
			asked = 1;
		}
		n = read_rec(w, 20);
		if (n == -ETIMEDOUT)
			continue;
		if (n <= 0) {
			if (n < 0 && !ret)
				ret = la_fail(
					(int)n,
					"reading from the int3 tracer: %s",
					strerror((int)-n));
			if (!w->ended)
				w->st.win.stop = WINDOW_STOP_TRACER;
			break;
		}
		memcpy(&r, w->buf, sizeof(r));
		if (r.len > (size_t)n - sizeof(r))
			continue; /* malformed: cannot happen */
		if (r.type == REC_EVENT && !ret && r.fn < ALLOC_NFNS) {
			struct alloc_event ev;

			to_event(&r, w->buf + sizeof(r), &ev);
			w->st.win.delivered++;
			if (cb)
				ret = cb(&ev, arg);
		} else if (r.type == REC_END && r.len == sizeof(w->st)) {
			uint64_t delivered = w->st.win.delivered;
			uint64_t open_ns = w->st.win.open_ns;
			unsigned refused = w->st.refused_mask;

			memcpy(&w->st, w->buf + sizeof(r), sizeof(w->st));
			w->st.win.delivered = delivered;
			w->st.win.open_ns = open_ns;
			w->st.refused_mask |= refused;
			w->ended = 1;
		}
	}
	reap(w);
	if (ret > 0 || (ret == 0 && asked && w->win.cancel))
		w->st.win.stop =
			ret > 0 ? WINDOW_STOP_CALLBACK : WINDOW_STOP_CANCEL;
	return ret;
}

const struct int3_stats *
int3_window_stats(const struct window *w)
{
	return &((const struct int3_window *)w)->st;
}

pid_t
int3_window_tracer(const struct window *w)
{
	return ((const struct int3_window *)w)->tracer;
}

static void
close_window(struct window *win)
{
	struct int3_window *w = (struct int3_window *)win;

	if (w->fd >= 0)
		close(w->fd); /* EOF: the tracer restores and exits */
	reap(w);
	free(w->buf);
	free(w);
}

/* no memalign family: their entries are no push (int3.h) */
WINDOW_BACKEND(int3, "int3", INT3_FNS_DEFAULT | (1u << ALLOC_FREE), run_window,
	       close_window);
