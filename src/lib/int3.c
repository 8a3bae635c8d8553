/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3.c - sampling windows through ptrace int3 breakpoints (see int3.h).
 * Responsible for: the tracer process (stop the world, check and arm the
 * entries, a drain-first event loop, the orderly end that restores every
 * byte), the records it sends, the analyser's side of the socket. Not
 * for: unwinding, symbols, pairing returns (there are none here).
 *
 * Facts used (research/ptrace-dwarf.md §1.2-1.6, §5.1, verified there):
 *  - A ptrace stop that the tracer has waited for is harmless if the
 *    tracer dies: the thread resumes with signal 0. An unwaited SIGTRAP
 *    stop is delivered and kills. So every trap is waited, handled and
 *    resumed in the same step, before anything else is done with it.
 *  - An int3 at the first byte of "push %reg" is hit with rip = bp + 1;
 *    emulating the push (rsp -= 8, store, rip = bp + len) costs one stop
 *    per call and never takes the byte out, so no other thread can run
 *    past an unarmed entry while one thread single-steps.
 *  - A SEIZEd tracer gets SIGCHLD for each stop of its tracees: a
 *    signalfd wakes the loop, waitpid(-1, WNOHANG | __WALL) drains it. The
 *    tracer is a fresh child, so every child it has is a tracee.
 *  - Blocked SIGINT/SIGTERM/SIGHUP/SIGQUIT do not kill; SIGPIPE blocked
 *    turns into EPIPE. Only SIGKILL remains (and SIGSTOP: a stopped tracer
 *    holds its tracees in their stops; they are released when it dies or
 *    continues).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "int3: "
#include "allocator.h"
#include "elfsyms.h"
#include "error.h"
#include "int3.h"
#include "log.h"
#include "memsrc.h"
#include "procinfo.h"
#include "procmaps.h"
#include "tracee.h"

#define DEF_MAX_HITS 2000u
#define DEF_MAX_MS 100u
#define DEF_STACK (8u * 1024)
#define MAX_STACK 60000u
#define SOCK_BUF (4u << 20)
#define STOP_TIMEOUT_MS 2000u
#define READY_TIMEOUT_MS 10000
#define MSG_MAX 512

enum rec_type { REC_READY = 1, REC_EVENT, REC_END, REC_ERROR };

/* One record per SOCK_SEQPACKET message: this, then its payload. */
struct rec {
	uint32_t type;
	uint32_t fn;
	int32_t tid;
	int32_t err;
	uint64_t time_ns, ip, sp, bp, di, si, dx;
	uint32_t len; /* payload bytes: stack, stats or message */
	uint32_t pad;
};

/* ---- the tracer ---------------------------------------------------------- */

enum { T_RUN, T_STOP, T_GONE };

struct tthread {
	pid_t tid;
	unsigned char state;
	unsigned char want_stop; /* interrupted at the end: a stop comes */
	unsigned char group_stop;
};

struct bp {
	uint64_t addr;
	uint64_t orig; /* the word at addr before arming */
	int reg; /* user_regs_struct index of the pushed register */
	int len; /* 1 (push %rXX) or 2 (REX.B push %r8-%r15) */
	int armed;
};

struct tracer {
	pid_t pid;
	int fd, sfd;
	struct int3_opts o;
	struct tthread *th;
	size_t n, cap;
	struct bp bp[ALLOC_NFNS];
	unsigned char *stack;
	unsigned char *msg; /* a record and its stack */
	uint64_t taken;
	int peer_gone, exec_seen;
	struct int3_stats st;
};

static struct tthread *
t_find(struct tracer *tr, pid_t tid)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].tid == tid)
			return &tr->th[i];
	return NULL;
}

/* A new thread (or one seen first by its stop); may move tr->th. */
static struct tthread *
t_add(struct tracer *tr, pid_t tid, int state)
{
	struct tthread *t = t_find(tr, tid);

	if (t)
		return t;
	if (tr->n == tr->cap) {
		size_t ncap = tr->cap ? tr->cap * 2 : 32;
		struct tthread *nt = realloc(tr->th, ncap * sizeof(*nt));

		if (!nt)
			return NULL;
		tr->th = nt;
		tr->cap = ncap;
	}
	t = &tr->th[tr->n++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->state = (unsigned char)state;
	tr->st.threads++;
	return t;
}

static void
send_rec(struct tracer *tr, const struct rec *r, const void *payload,
	 size_t len, int may_drop)
{
	struct iovec iov[2] = {{(void *)r, sizeof(*r)}, {(void *)payload, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	if (tr->peer_gone)
		return;
	do
		n = sendmsg(tr->fd, &mh,
			    MSG_NOSIGNAL | (may_drop ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return;
	if (errno == EAGAIN || errno == ENOBUFS)
		tr->st.lost++;
	else
		tr->peer_gone = 1; /* EPIPE, ECONNRESET: the analyser died */
}

static void
send_error(struct tracer *tr, int err)
{
	struct rec r = {.type = REC_ERROR, .err = err};
	const char *m = la_errmsg();
	size_t len = strnlen(m, MSG_MAX - 1);

	r.len = (uint32_t)len;
	send_rec(tr, &r, m, len, 0);
}

static unsigned long long *
reg_slot(struct user_regs_struct *r, int reg)
{
	switch (reg) {
	case 0:
		return &r->rax;
	case 1:
		return &r->rcx;
	case 2:
		return &r->rdx;
	case 3:
		return &r->rbx;
	case 4:
		return &r->rsp;
	case 5:
		return &r->rbp;
	case 6:
		return &r->rsi;
	case 7:
		return &r->rdi;
	case 8:
		return &r->r8;
	case 9:
		return &r->r9;
	case 10:
		return &r->r10;
	case 11:
		return &r->r11;
	case 12:
		return &r->r12;
	case 13:
		return &r->r13;
	case 14:
		return &r->r14;
	default:
		return &r->r15;
	}
}

static struct bp *
bp_at(struct tracer *tr, uint64_t addr, enum alloc_fn *fn)
{
	for (int f = 0; f < ALLOC_NFNS; f++)
		if (tr->bp[f].len && tr->bp[f].addr == addr) {
			*fn = (enum alloc_fn)f;
			return &tr->bp[f];
		}
	return NULL;
}

/* Some thread in a ptrace stop, for PEEKTEXT/POKETEXT; 0 if none. */
static pid_t
stopped_tid(struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].state == T_STOP)
			return tr->th[i].tid;
	return 0;
}

/*
 * Decode the entry instruction: 50+r is push %r (1 byte), 41 50+r is
 * push %r8+r (2 bytes). Anything else cannot be emulated here.
 */
static int
check_and_arm(struct tracer *tr, pid_t tid, const uint64_t addr[ALLOC_NFNS])
{
	int armed = 0;

	for (int f = 0; f < ALLOC_NFNS; f++) {
		struct bp *b = &tr->bp[f];
		unsigned b0, b1;
		long word;

		if (!addr[f] || !(tr->o.fn_mask & (1u << f)))
			continue;
		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, tid, (void *)addr[f], 0);
		if (errno) {
			tr->st.refused_mask |= 1u << f;
			continue;
		}
		b0 = (unsigned)word & 0xff;
		b1 = ((unsigned)word >> 8) & 0xff;
		if (b0 >= 0x50 && b0 <= 0x57) {
			b->reg = (int)(b0 - 0x50);
			b->len = 1;
		} else if (b0 == 0x41 && b1 >= 0x50 && b1 <= 0x57) {
			b->reg = 8 + (int)(b1 - 0x50);
			b->len = 2;
		} else {
			pr_info("%s begins with %02x %02x, not a push: not probed",
				alloc_fn_name((enum alloc_fn)f), b0, b1);
			tr->st.refused_mask |= 1u << f;
			continue;
		}
		b->addr = addr[f];
		b->orig = (uint64_t)word;
		if (ptrace(PTRACE_POKETEXT, tid, (void *)addr[f],
			   (void *)((b->orig & ~0xffull) | 0xcc))) {
			b->len = 0;
			tr->st.refused_mask |= 1u << f;
			continue;
		}
		b->armed = 1;
		armed++;
	}
	return armed;
}

/* Put every original byte back; needs a stopped thread. */
static void
disarm(struct tracer *tr)
{
	pid_t tid = stopped_tid(tr);

	for (int f = 0; f < ALLOC_NFNS; f++) {
		struct bp *b = &tr->bp[f];
		long word;

		if (!b->armed)
			continue;
		if (tr->exec_seen || !tid) {
			b->armed = 0; /* a new image, or no process left */
			continue;
		}
		/* Only the first byte is ours: keep the rest as it is. */
		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, tid, (void *)b->addr, 0);
		if (errno)
			word = (long)b->orig;
		word = (long)(((uint64_t)word & ~0xffull) | (b->orig & 0xff));
		if (ptrace(PTRACE_POKETEXT, tid, (void *)b->addr,
			   (void *)word) == 0) {
			b->armed = 0;
			pr_debug("%s restored (thread %d)",
				 alloc_fn_name((enum alloc_fn)f), (int)tid);
		} else
			pr_warn("cannot restore %s in process %d: %s",
				alloc_fn_name((enum alloc_fn)f), (int)tr->pid,
				strerror(errno));
	}
}

static void
t_cont(struct tthread *t, int sig)
{
	if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) == 0)
		t->state = T_RUN;
	else if (errno == ESRCH)
		t->state = T_RUN; /* killed meanwhile: its exit comes */
}

static int
is_job_control_stop(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

/*
 * Our trap, during the window: take the copies, emulate the push, resume,
 * and only then send. r holds the registers at the trap (rip = bp + 1).
 */
static void
on_hit(struct tracer *tr, struct tthread *t, struct bp *b, enum alloc_fn fn,
       struct user_regs_struct *r)
{
	struct rec *rec = (struct rec *)tr->msg;
	uint64_t sp = r->rsp, val = *reg_slot(r, b->reg);
	struct iovec local = {tr->msg + sizeof(*rec), tr->o.stack_size};
	struct iovec remote = {(void *)(uintptr_t)sp, tr->o.stack_size};
	int want = tr->taken < tr->o.max_hits;
	ssize_t got = 0;

	if (want) {
		/* Partial near the top of the stack: what was read counts. */
		got = process_vm_readv(tr->pid, &local, 1, &remote, 1, 0);
		if (got < 0)
			got = 0;
		memset(rec, 0, sizeof(*rec));
		rec->type = REC_EVENT;
		rec->fn = (uint32_t)fn;
		rec->tid = t->tid;
		rec->time_ns = la_now_ns();
		rec->ip = b->addr;
		rec->sp = sp;
		rec->bp = r->rbp;
		rec->di = r->rdi;
		rec->si = r->rsi;
		rec->dx = r->rdx;
		rec->len = (uint32_t)got;
	}
	if (ptrace(PTRACE_POKEDATA, t->tid, (void *)(sp - 8), (void *)val)) {
		/* Killed meanwhile (ESRCH): nothing to resume. */
		t->state = T_RUN;
		return;
	}
	r->rsp = sp - 8;
	r->rip = b->addr + (unsigned)b->len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r)) {
		t->state = T_RUN;
		return;
	}
	t_cont(t, 0);
	if (!want)
		return;
	tr->taken++;
	tr->st.hits[fn]++;
	send_rec(tr, rec, tr->msg + sizeof(*rec), (size_t)got, 1);
}

/* The new thread of a PTRACE_EVENT_CLONE: its first stop comes later. */
static void
on_clone(struct tracer *tr, pid_t parent)
{
	unsigned long msg = 0;
	struct tthread *c;

	if (ptrace(PTRACE_GETEVENTMSG, parent, 0, &msg) || !msg)
		return;
	c = t_add(tr, (pid_t)msg, T_RUN);
	if (c && tr->st.stop != INT3_STOP_NONE)
		c->want_stop = 1; /* SEIZE: it starts with a trap stop */
}

/*
 * One wait status during the window. Order (research §1.6): our trap is
 * handled and resumed first; a foreign signal is re-injected at once.
 */
static void
window_status(struct tracer *tr, pid_t tid, int st)
{
	struct tthread *t = t_add(tr, tid, T_RUN);
	int ev = st >> 16, sig;

	if (!t)
		return; /* out of memory: it stays in its stop until we exit */
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		t->state = T_GONE;
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	t->state = T_STOP;
	sig = WSTOPSIG(st);
	switch (ev) {
	case 0: {
		struct user_regs_struct r;
		enum alloc_fn fn;
		struct bp *b;

		if (sig == SIGTRAP && !ptrace(PTRACE_GETREGS, tid, 0, &r) &&
		    (b = bp_at(tr, r.rip - 1, &fn)) && b->armed) {
			on_hit(tr, t, b, fn, &r);
			return;
		}
		tr->st.signals_forwarded++;
		t_cont(t, sig);
		return;
	}
	case PTRACE_EVENT_STOP:
		if (is_job_control_stop(sig)) {
			/* a group stop: keep it, and hear of SIGCONT */
			t->group_stop = 1;
			if (!ptrace(PTRACE_LISTEN, tid, 0, 0))
				t->state = T_RUN;
			return;
		}
		/* a new thread's first stop, or the end of a group stop */
		t->group_stop = 0;
		t_cont(t, 0);
		return;
	case PTRACE_EVENT_CLONE:
		on_clone(tr, tid);
		t = t_find(tr, tid);
		if (t)
			t_cont(t, 0);
		return;
	case PTRACE_EVENT_EXEC:
		/* the old image, breakpoints and all, is gone */
		tr->exec_seen = 1;
		for (size_t i = 0; i < tr->n; i++)
			if (tr->th[i].tid != tid)
				tr->th[i].state = T_GONE;
		return; /* stays stopped: the window ends */
	default:
		t_cont(t, 0);
		return;
	}
}

/* Every SIGCHLD worth of stops, without blocking. */
static void
drain(struct tracer *tr, void (*fn)(struct tracer *, pid_t, int))
{
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

		if (w <= 0)
			return;
		fn(tr, w, st);
	}
}

static int
alive(const struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].state != T_GONE)
			return 1;
	return 0;
}

/*
 * One wait status while ending: everything stops and stays stopped; a
 * trap at one of our entries is rewound (the push was not executed) and
 * its SIGTRAP dropped: a stop we waited for is detached with signal 0.
 */
static void
end_status(struct tracer *tr, pid_t tid, int st)
{
	struct tthread *t = t_add(tr, tid, T_RUN);
	int ev = st >> 16, sig;

	if (!t)
		return;
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		t->state = T_GONE;
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	sig = WSTOPSIG(st);
	t->state = T_STOP;
	switch (ev) {
	case 0: {
		struct user_regs_struct r;
		enum alloc_fn fn;

		if (sig == SIGTRAP && !ptrace(PTRACE_GETREGS, tid, 0, &r) &&
		    bp_at(tr, r.rip - 1, &fn)) {
			r.rip--;
			if (!ptrace(PTRACE_SETREGS, tid, 0, &r))
				tr->st.rewound++;
			/* want_stop stays: the INTERRUPT's trap is dropped
			 * by the detach (JOBCTL_TRAP_MASK) */
			t->want_stop = 0;
			return;
		}
		/* re-inject at once, then ask for our stop again */
		tr->st.signals_forwarded++;
		t_cont(t, sig);
		if (t->state == T_RUN && !ptrace(PTRACE_INTERRUPT, tid, 0, 0))
			t->want_stop = 1;
		return;
	}
	case PTRACE_EVENT_STOP:
		t->group_stop = is_job_control_stop(sig);
		t->want_stop = 0;
		return;
	case PTRACE_EVENT_CLONE:
		on_clone(tr, tid);
		t = t_find(tr, tid);
		if (t)
			t->want_stop = 0; /* an event stop is a stop */
		return;
	case PTRACE_EVENT_EXEC:
		tr->exec_seen = 1;
		for (size_t i = 0; i < tr->n; i++)
			if (tr->th[i].tid != tid)
				tr->th[i].state = T_GONE;
		t->want_stop = 0;
		return;
	default:
		t->want_stop = 0;
		return;
	}
}

static int
stopping(const struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].state == T_RUN)
			return 1;
	return 0;
}

/* SIGTRAP (bit 4) in the thread's private pending set: "SigPnd:\t0..10" */
static int
sigtrap_pending(pid_t pid, pid_t tid)
{
	char v[64];

	return !procinfo_status_field(pid, tid, "SigPnd", v, sizeof(v)) &&
	       (strtoull(v, NULL, 16) & (1ull << (SIGTRAP - 1)));
}

/*
 * A thread can take its INTERRUPT's trap (or a group stop) with the
 * SIGTRAP of an int3 still pending: get_signal() runs the job-control
 * traps before it dequeues signals (kernel/signal.c). Detached like that,
 * it would take the SIGTRAP untraced and die. So let each such thread
 * dequeue it under our eyes: its signal-delivery stop comes at once, and
 * end_status() rewinds it and drops the signal. A group stop survives
 * this: __ptrace_unlink() re-arms it while the group is stopped.
 */
static void
consume_traps(struct tracer *tr, uint64_t deadline)
{
	unsigned idle = 0;

	for (int round = 0; round < 4; round++) {
		int any = 0;

		for (size_t i = 0; i < tr->n; i++) {
			struct tthread *t = &tr->th[i];

			if (t->state != T_STOP ||
			    !sigtrap_pending(tr->pid, t->tid))
				continue;
			t_cont(t, 0);
			any = 1;
		}
		if (!any)
			return;
		while (stopping(tr) && la_now_ns() < deadline) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

			if (w > 0)
				end_status(tr, w, st);
			tracee_backoff(&idle, w > 0);
		}
	}
}

/*
 * The orderly end (research §1.5): stop every thread, restore the bytes,
 * rewind and drop any trap of ours, detach. A listening thread (group
 * stop) is interrupted too: it re-traps, and the detach keeps its group
 * stop.
 */
static void
finish(struct tracer *tr)
{
	uint64_t t0 = la_now_ns(), deadline;
	unsigned idle = 0;

	for (size_t i = 0; i < tr->n; i++) {
		struct tthread *t = &tr->th[i];

		if (t->state != T_RUN)
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) == 0)
			t->want_stop = 1;
	}
	deadline = la_now_ns() + STOP_TIMEOUT_MS * 1000000ull;
	while (stopping(tr) && la_now_ns() < deadline) {
		size_t before = tr->n;
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

		if (w < 0 && errno == ECHILD) {
			for (size_t i = 0; i < tr->n; i++)
				tr->th[i].state = T_GONE;
			break;
		}
		if (w > 0)
			end_status(tr, w, st);
		/* a thread born now has its first stop coming: wait for it */
		for (size_t i = before; i < tr->n; i++)
			tr->th[i].want_stop = 1;
		tracee_backoff(&idle, w > 0);
	}
	pr_debug("ending: %zu threads, stopped in %.1f ms", tr->n,
		 (double)(la_now_ns() - t0) / 1e6);
	disarm(tr);
	consume_traps(tr, deadline);
	tr->st.run_ns = la_now_ns() - tr->st.run_ns;
	/* Anything that came meanwhile: a late trap is rewound here. */
	drain(tr, end_status);
	for (size_t i = 0; i < tr->n; i++) {
		struct tthread *t = &tr->th[i];

		if (t->state == T_RUN) {
			tr->st.abandoned++;
			continue;
		}
		if (t->state == T_STOP)
			ptrace(PTRACE_DETACH, t->tid, 0, 0);
		t->state = T_GONE;
	}
	tr->st.close_ns = la_now_ns() - t0;
}

static void
block_signals(sigset_t *chld)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGTSTP);
	sigaddset(&set, SIGTTIN);
	sigaddset(&set, SIGTTOU);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigemptyset(chld);
	sigaddset(chld, SIGCHLD);
}

static int
tracer_setup(struct tracer *tr, const struct int3_opts *opts)
{
	int sz = SOCK_BUF;

	memcpy(&tr->o, opts, sizeof(tr->o));
	if (!tr->o.max_hits)
		tr->o.max_hits = DEF_MAX_HITS;
	if (!tr->o.max_ms)
		tr->o.max_ms = DEF_MAX_MS;
	if (!tr->o.stack_size)
		tr->o.stack_size = DEF_STACK;
	if (tr->o.stack_size > MAX_STACK)
		tr->o.stack_size = MAX_STACK;
	if (!tr->o.fn_mask)
		tr->o.fn_mask = INT3_FNS_DEFAULT;
	tr->msg = malloc(sizeof(struct rec) + tr->o.stack_size);
	if (!tr->msg)
		return -ENOMEM;
	/* Root may go past wmem_max; others get what they can. */
	if (setsockopt(tr->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(tr->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return 0;
}

int
int3_tracer_main(int fd, pid_t pid, const struct int3_opts *opts,
		 const uint64_t addr[ALLOC_NFNS])
{
	struct tracer tr;
	struct tracee_set set;
	struct pollfd pfd[2];
	struct rec ready = {.type = REC_READY};
	struct rec end = {.type = REC_END};
	uint64_t deadline;
	sigset_t chld;
	int err;

	memset(&tr, 0, sizeof(tr));
	tr.pid = pid;
	tr.fd = fd;
	block_signals(&chld);
	setsid();
	prctl(PR_SET_NAME, "la-int3-tracer", 0, 0, 0);
	tr.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	err = tracer_setup(&tr, opts);
	if (err || tr.sfd < 0) {
		send_error(&tr, la_fail(err ? err : -errno,
					"the int3 tracer cannot start: %s",
					strerror(err ? -err : errno)));
		return 1;
	}
	err = tracee_stop_all(pid, STOP_TIMEOUT_MS, &set);
	if (err) {
		send_error(&tr, err);
		return 1;
	}
	for (size_t i = 0; i < set.n; i++) {
		struct tthread *t;

		if (set.t[i].state != TRACEE_STOPPED)
			continue;
		t = t_add(&tr, set.t[i].tid, T_STOP);
		if (!t) {
			tracee_resume_all(&set);
			send_error(&tr, la_fail(-ENOMEM, "out of memory"));
			return 1;
		}
		t->group_stop = (unsigned char)set.t[i].group_stop;
	}
	tracee_set_free(&set);
	tr.st.open_ns = la_now_ns();
	if (!check_and_arm(&tr, stopped_tid(&tr), addr)) {
		err = la_fail(
			-ENOTSUP,
			"no allocation function of process %d starts with an instruction the int3 backend can emulate (a push)",
			(int)pid);
		finish(&tr);
		send_error(&tr, err);
		return 1;
	}
	tr.st.run_ns = la_now_ns();
	/* Resume all; a group stop is kept and listened to. */
	for (size_t i = 0; i < tr.n; i++) {
		struct tthread *t = &tr.th[i];

		if (t->group_stop) {
			if (!ptrace(PTRACE_LISTEN, t->tid, 0, 0))
				t->state = T_RUN;
		} else {
			t_cont(t, 0);
		}
	}
	for (int f = 0; f < ALLOC_NFNS; f++)
		if (tr.bp[f].armed)
			ready.fn |= 1u << f;
	ready.err = (int32_t)tr.st.refused_mask;
	send_rec(&tr, &ready, NULL, 0, 0);
	deadline = tr.st.run_ns + (uint64_t)tr.o.max_ms * 1000000ull;
	for (;;) {
		uint64_t now;
		int tmo;

		drain(&tr, window_status);
		now = la_now_ns();
		if (tr.taken >= tr.o.max_hits)
			tr.st.stop = INT3_STOP_HITS;
		else if (now >= deadline)
			tr.st.stop = INT3_STOP_TIME;
		else if (!alive(&tr) || tr.exec_seen)
			tr.st.stop = INT3_STOP_EXIT;
		else if (tr.peer_gone)
			tr.st.stop = INT3_STOP_CANCEL;
		if (tr.st.stop != INT3_STOP_NONE)
			break;
		pfd[0].fd = tr.sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		/* SIGCHLD may coalesce: never sleep long without a look */
		tmo = (int)((deadline - now + 999999) / 1000000);
		if (tmo > 10)
			tmo = 10;
		if (poll(pfd, 2, tmo) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(tr.sfd, &si, sizeof(si)) == sizeof(si))
				;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char c;
			ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);

			/* The analyser sends nothing: EOF or an error. */
			if (r == 0 ||
			    (r < 0 && errno != EAGAIN && errno != EINTR) ||
			    pfd[1].revents & (POLLHUP | POLLERR))
				tr.st.stop = INT3_STOP_CANCEL;
		}
	}
	finish(&tr);
	end.len = sizeof(tr.st);
	send_rec(&tr, &end, &tr.st, sizeof(tr.st), 0);
	free(tr.th);
	free(tr.msg);
	close(tr.sfd);
	return 0;
}

/* ---- the analyser's side ----------------------------------------------- */

struct int3_window {
	pid_t pid, tracer;
	int fd;
	struct int3_opts o;
	uint64_t addr[ALLOC_NFNS];
	unsigned char *buf;
	size_t buf_len;
	int ran, ended;
	volatile int cancel;
	struct int3_stats st;
};

static int
resolve(pid_t pid, unsigned mask, uint64_t addr[ALLOC_NFNS])
{
	struct glibc_loc loc;
	struct maps maps;
	struct memsrc *mem;
	int err, nfound = 0;

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
	err = allocator_find_glibc(pid, &maps, mem, &loc);
	if (err)
		goto out;
	for (int fn = 0; fn < ALLOC_NFNS; fn++) {
		const struct mapping *m;
		uint64_t value, a;

		if (!(mask & (1u << fn)) ||
		    elffile_symbol(loc.elf, alloc_fn_name((enum alloc_fn)fn),
				   &value, NULL) ||
		    !value)
			continue;
		a = loc.bias + value;
		m = procmaps_find(&maps, a);
		if (!m || !(m->prot & MAP_X))
			continue;
		/* an alias (aligned_alloc = memalign before 2.38): once */
		for (int o = 0; o < fn; o++)
			if (addr[o] == a)
				a = 0;
		addr[fn] = a;
		nfound += a != 0;
	}
	if (!nfound)
		err = la_fail(-LA_ENOTGLIBC,
			      "found none of the allocation functions in %s",
			      loc.path);
	glibc_loc_free(&loc);
out:
	procmaps_free(&maps);
	memsrc_close(mem);
	return err;
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
int3_window_open(pid_t pid, const struct int3_opts *opts,
		 struct int3_window **out)
{
	struct int3_window *w;
	uint64_t t0 = la_now_ns();
	int sv[2], err;
	ssize_t n;

	*out = NULL;
	if (pid <= 0)
		return la_fail(-EINVAL, "no process %d", (int)pid);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->pid = pid;
	w->fd = -1;
	w->st.tracer_status = -1;
	if (opts)
		memcpy(&w->o, opts,
		       opts->sz && opts->sz < sizeof(w->o) ? opts->sz
							   : sizeof(w->o));
	w->o.sz = sizeof(w->o);
	if (!w->o.fn_mask)
		w->o.fn_mask = INT3_FNS_DEFAULT;
	if (!w->o.stack_size)
		w->o.stack_size = DEF_STACK;
	if (w->o.stack_size > MAX_STACK)
		w->o.stack_size = MAX_STACK;
	w->buf_len = sizeof(struct rec) + MAX_STACK + sizeof(struct int3_stats);
	w->buf = malloc(w->buf_len);
	if (!w->buf) {
		free(w);
		return -ENOMEM;
	}
	err = resolve(pid, w->o.fn_mask, w->addr);
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
		_exit(int3_tracer_main(3, pid, &w->o, w->addr));
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
				w->addr[f] = 0;
		w->st.refused_mask = (unsigned)r.err;
	}
	w->st.open_ns = la_now_ns() - t0;
	*out = w;
	return 0;
fail:
	int3_window_close(w);
	return err;
}

static void
to_event(const struct rec *r, const unsigned char *stack,
	 struct alloc_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->tid = r->tid;
	ev->time_ns = r->time_ns;
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
	default:
		ev->size = r->di;
		break;
	}
}

int
int3_window_run(struct int3_window *w, uprobe_event_fn cb, void *arg)
{
	int ret = 0, asked = 0;

	if (w->ran)
		return la_fail(-EINVAL, "an int3 window runs only once");
	w->ran = 1;
	for (;;) {
		struct rec r;
		ssize_t n;

		if (!asked && (w->cancel || ret)) {
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
				w->st.stop = INT3_STOP_TRACER;
			break;
		}
		memcpy(&r, w->buf, sizeof(r));
		if (r.len > (size_t)n - sizeof(r))
			continue; /* malformed: cannot happen */
		if (r.type == REC_EVENT && !ret && r.fn < ALLOC_NFNS) {
			struct alloc_event ev;

			to_event(&r, w->buf + sizeof(r), &ev);
			w->st.delivered++;
			if (cb)
				ret = cb(&ev, arg);
		} else if (r.type == REC_END && r.len == sizeof(w->st)) {
			uint64_t delivered = w->st.delivered;
			uint64_t open_ns = w->st.open_ns;
			unsigned refused = w->st.refused_mask;

			memcpy(&w->st, w->buf + sizeof(r), sizeof(w->st));
			w->st.delivered = delivered;
			w->st.open_ns = open_ns;
			w->st.refused_mask |= refused;
			w->ended = 1;
		}
	}
	reap(w);
	if (ret > 0 || (ret == 0 && asked && w->cancel))
		w->st.stop = ret > 0 ? INT3_STOP_CALLBACK : INT3_STOP_CANCEL;
	return ret;
}

void
int3_window_cancel(struct int3_window *w)
{
	__atomic_store_n(&w->cancel, 1, __ATOMIC_RELAXED);
}

const struct int3_stats *
int3_window_stats(const struct int3_window *w)
{
	return &w->st;
}

uint64_t
int3_window_fn_addr(const struct int3_window *w, enum alloc_fn fn)
{
	return (unsigned)fn < ALLOC_NFNS ? w->addr[fn] : 0;
}

pid_t
int3_window_tracer(const struct int3_window *w)
{
	return w->tracer;
}

void
int3_window_close(struct int3_window *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd); /* EOF: the tracer restores and exits */
	reap(w);
	free(w->buf);
	free(w);
}
