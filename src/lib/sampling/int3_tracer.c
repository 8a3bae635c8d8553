/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3_tracer.c - the int3 backend's tracer (int3.h), the process that
 * holds the target while a window is open, and the one file of
 * src/lib/sampling that writes into the target. Responsible for: seizing
 * every thread, stopping one to check and arm the entries, a drain-first
 * event loop, fake return addresses and their faults, the processes the
 * target creates meanwhile, the orderly end that restores every byte and
 * every return address and lets each thread go as soon as it stops; its
 * OOM score; the records it sends (int3_proto.h, one per completed call,
 * sent when it returns) and its command line. Not for: the analyser's
 * side (int3.c), unwinding, symbols, attribution.
 *
 * Facts used (ptrace(2); kernel/ptrace.c, kernel/signal.c; doc/design/int3.md;
 * verified on Linux 6.18):
 *  - A ptrace stop that the tracer has waited for is harmless if the
 *    tracer dies: the thread resumes with signal 0. An unwaited SIGTRAP
 *    stop is delivered and kills. So every trap is waited, handled and
 *    resumed in the same step, before anything else is done with it.
 *  - An int3 at the first byte of "push %reg" is hit with rip = bp + 1;
 *    emulating the push (rsp -= 8, store, rip = bp + len) costs one stop
 *    per call and never takes the byte out, so no other thread can run
 *    past an unarmed entry while one thread single-steps.
 *  - A return to an address in page 0 faults with rip and si_addr that
 *    address and rsp just above the popped slot; the SIGSEGV is forced
 *    (force_sig_fault) and reported to the tracer as a signal-delivery
 *    stop before any handler runs; a stop waited for and resumed with
 *    signal 0 drops it (trim.c uses the same trick for malloc_trim).
 *  - A SEIZEd tracer gets SIGCHLD for each stop of its tracees: a
 *    signalfd wakes the loop, waitpid(-1, WNOHANG | __WALL) drains it. The
 *    tracer is a fresh child, so every child it has is a tracee.
 *  - A process the target forks copies its memory, our int3 bytes and
 *    fake return addresses included: untraced, it dies at its first
 *    malloc (measured: 371 of 800 forked children in five 100 ms
 *    windows before PTRACE_O_TRACEFORK). Traced from its birth, it is
 *    put right at its first stop, before it runs, and let go. A vfork
 *    child shares the memory: it is traced like a thread until it
 *    executes a program (PTRACE_O_TRACEVFORK).
 *  - Blocked SIGINT/SIGTERM/SIGHUP/SIGQUIT do not kill; SIGPIPE blocked
 *    turns into EPIPE. Only SIGKILL remains (and SIGSTOP: a stopped tracer
 *    holds its tracees in their stops; they are released when it dies or
 *    continues).
 */
#include <dirent.h>
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
#include <linux/kcmp.h>

#define LOG_PREFIX "int3: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "ptrace/tracee.h"
#include "sampling/int3_proto.h"

/*
 * The tracer below is x86_64's (int3, the emulated pushes, the return
 * address on the stack). aarch64's BRK twin is not written: there
 * int3.c refuses the backend before forking (ARCH_HAS_INT3), and these
 * entry points only say so.
 */
#if ARCH_HAS_INT3

#define SOCK_BUF (4u << 20)
#define STOP_TIMEOUT_MS 2000u
#define FREES_PER_HIT 4u
#define GRACE_MS 100u /* at the end: for pending calls to return */
/*
 * After a stop, look for the next one without sleeping for this long: a
 * thread that allocates all the time traps again microseconds after it
 * is resumed, and waking up through SIGCHLD and poll() doubled the time
 * a stop costs it (measured on the idle 2-core machine, emulated with
 * SCHED_FIFO: 47 against 20 us a stop, one thread in a malloc/free loop).
 */
#define SPIN_NS 100000u
/* Stops handled before the window's clock is looked at again. */
#define DRAIN_MAX 16u
/* At the end: how long the bytes wait for a thread to stop by itself. */
#define UNARM_WAIT_NS 2000000u
/* While spinning, the socket (the analyser's end) is looked at this often. */
#define SPIN_LOOK_NS 1000000u
/*
 * Every thread is seized with these: its new threads and a new program
 * are seen, and the processes it forks or vforks during the window are
 * traced from their birth too.
 */
#define TRACE_OPTS                                                       \
	(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | \
	 PTRACE_O_TRACEVFORK)
/* The allocation functions: probed while sampling, not while following. */
#define ALLOC_FNS_MASK (~(1u << ALLOC_FREE))

/*
 * Fake return addresses: 0x10, 0x18, ... 0x88, in the never-mapped page
 * 0, one per pending call of a thread (its index in tthread.pend: the
 * nesting depth, in the usual last-in first-out order).
 */
#define MAX_DEPTH 16u
#define FAKE_BASE 0x10ull
#define FAKE_STEP 8ull
#define FAKE_END (FAKE_BASE + FAKE_STEP * MAX_DEPTH)
#define SIG_BIT(s) (1ull << ((s)-1))

/* the defaults of int3.h, for both sides */
const struct window_limits int3_limits = {
	.max_hits = 2000,
	.max_ms = 100,
	.stack_size = 8u * 1024,
	.stack_max = MAX_STACK,
	.fn_mask = INT3_FNS_DEFAULT,
};

enum { T_RUN, T_STOP, T_GONE };

/*
 * A call whose return we wait for: its slot (rsp at the entry, where the
 * return address was) holds fake_ret(index) until the call returns.
 */
struct pending {
	uint64_t slot;
	uint64_t ret; /* the real return address */
	struct rec *rec; /* the entry's record and stack; NULL: unused */
};

struct tthread {
	pid_t tid;
	unsigned char state;
	unsigned char want_stop; /* interrupted at the end: a stop comes */
	unsigned char group_stop;
	unsigned char shstk; /* a shadow stack: no fake returns */
	/*
	 * Not a thread of the target: a process it created while traced
	 * (PTRACE_O_TRACEFORK/VFORK, or a clone() without CLONE_THREAD);
	 * own_mm: with a memory of its own, a copy of the target's.
	 */
	unsigned char child, own_mm;
	unsigned char consumed; /* pending traps let through at the end */
	unsigned npend;
	struct pending pend[MAX_DEPTH];
};

enum bp_kind {
	BP_PUSH, /* push %reg: rsp -= 8, [rsp] = reg */
	BP_TEST_RDI, /* 48 85 ff, test %rdi,%rdi: flags from rdi */
};

struct bp {
	uint64_t addr;
	uint64_t orig; /* the word at addr before arming */
	enum bp_kind kind;
	int reg; /* user_regs_struct index of the pushed register */
	int len; /* bytes of the emulated instruction; 0: not probed */
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
	uint64_t taken; /* allocation entries: max_hits bounds them */
	uint64_t frees; /* free entries: FREES_PER_HIT * max_hits at most */
	uint64_t full_since; /* the first event lost since one was queued */
	/*
	 * Following (after the sampling, with follow_ms): the allocation
	 * functions are no longer taken, and their bytes are put back at
	 * the next stop, free() alone stays. unarm: the functions whose
	 * bytes the next stop puts back (following, or ending).
	 */
	int following;
	unsigned unarm;
	int ending; /* the window is over: nothing more is taken */
	int peer_gone, exec_seen;
	int no_returns; /* SIGSEGV ignored, or page 0 mapped */
	int started; /* the threads of the first stop are in th */
	struct int3_stats st;
};

static uint64_t
fake_ret(unsigned depth)
{
	return FAKE_BASE + FAKE_STEP * depth;
}

static struct tthread *
t_find(struct tracer *tr, pid_t tid)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].tid == tid)
			return &tr->th[i];
	return NULL;
}

/*
 * A tracee that came during the window: one of the target's threads, or
 * a process it created. kcmp(KCMP_VM) tells whether that one shares the
 * target's memory (vfork, CLONE_VM); if kcmp cannot tell, it is taken
 * for a fork child: putting back our bytes and slots in shared memory
 * would only end the sampling of the target early.
 */
static void
t_classify(struct tracer *tr, struct tthread *t)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)tr->pid,
		 (int)t->tid);
	if (!access(path, F_OK))
		return;
	t->child = 1;
	t->own_mm = syscall(SYS_kcmp, (pid_t)tr->pid, t->tid, KCMP_VM, 0ul,
			    0ul) != 0;
}

/* A new thread (or one seen first by its stop); may move tr->th. */
static struct tthread *
t_add(struct tracer *tr, pid_t tid, int state)
{
	struct tthread *t = t_find(tr, tid);

	/* a tid seen gone is a new tracee again (its number reused) */
	if (t && t->state != T_GONE)
		return t;
	if (t)
		goto init;
	if (tr->n == tr->cap) {
		size_t ncap = tr->cap ? tr->cap * 2 : 32;
		struct tthread *nt = realloc(tr->th, ncap * sizeof(*nt));

		if (!nt)
			return NULL;
		tr->th = nt;
		tr->cap = ncap;
	}
	t = &tr->th[tr->n++];
init:
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->state = (unsigned char)state;
	if (tr->started)
		t_classify(tr, t);
	t->shstk = (unsigned char)procinfo_thread_has_shstk(
		t->child ? tid : tr->pid, tid);
	if (t->child)
		tr->st.children++;
	else
		tr->st.win.threads++;
	return t;
}

/* Forget t's pending calls (the thread or the image is gone). */
static void
t_drop_pending(struct tracer *tr, struct tthread *t)
{
	for (unsigned i = 0; i < MAX_DEPTH; i++)
		if (t->pend[i].rec) {
			free(t->pend[i].rec);
			t->pend[i].rec = NULL;
			tr->st.returns_abandoned++;
		}
	t->npend = 0;
}

static void
t_gone(struct tracer *tr, struct tthread *t)
{
	t->state = T_GONE;
	t_drop_pending(tr, t);
}

static unsigned
n_pending(const struct tracer *tr)
{
	unsigned n = 0;

	for (size_t i = 0; i < tr->n; i++)
		n += tr->th[i].npend;
	return n;
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
	if (n >= 0) {
		tr->full_since = 0;
		return;
	}
	if (errno == EAGAIN || errno == ENOBUFS) {
		tr->st.win.lost++;
		if (!tr->full_since)
			tr->full_since = la_now_ns();
	} else
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
		if (tr->th[i].state == T_STOP && !tr->th[i].own_mm)
			return tr->th[i].tid;
	return 0;
}

/*
 * Decode the entry instruction: 50+r is push %r (1 byte), 41 50+r is
 * push %r8+r (2 bytes), 48 85 ff is test %rdi,%rdi (free in glibc 2.36).
 * Anything else cannot be emulated here. An allocation function also
 * needs its return caught (fake return addresses): not probed when the
 * process ignores SIGSEGV or has page 0 mapped (tr->no_returns).
 */
static int
check_and_arm(struct tracer *tr, pid_t tid, const uint64_t addr[ALLOC_NFNS])
{
	int armed = 0;

	for (int f = 0; f < ALLOC_NFNS; f++) {
		struct bp *b = &tr->bp[f];
		unsigned b0, b1, b2;
		long word;

		if (!addr[f] || !(tr->o.fn_mask & (1u << f)))
			continue;
		if (f != ALLOC_FREE && tr->no_returns) {
			tr->st.refused_mask |= 1u << f;
			continue;
		}
		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, tid, (void *)addr[f], 0);
		if (errno) {
			tr->st.refused_mask |= 1u << f;
			continue;
		}
		b0 = (unsigned)word & 0xff;
		b1 = ((unsigned)word >> 8) & 0xff;
		b2 = ((unsigned)word >> 16) & 0xff;
		if (b0 >= 0x50 && b0 <= 0x57) {
			b->kind = BP_PUSH;
			b->reg = (int)(b0 - 0x50);
			b->len = 1;
		} else if (b0 == 0x41 && b1 >= 0x50 && b1 <= 0x57) {
			b->kind = BP_PUSH;
			b->reg = 8 + (int)(b1 - 0x50);
			b->len = 2;
		} else if (b0 == 0x48 && b1 == 0x85 && b2 == 0xff) {
			b->kind = BP_TEST_RDI;
			b->len = 3;
		} else {
			pr_info("%s begins with %02x %02x %02x, not an instruction we emulate: not probed",
				alloc_fn_name((enum alloc_fn)f), b0, b1, b2);
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

/*
 * No thread could be stopped (all in uninterruptible sleep, or gone):
 * write the byte through /proc/PID/mem, which a tracer may write without
 * a stopped tracee (mem_rw() with FOLL_FORCE; a kernel built or booted
 * with proc_mem.force_override=never refuses). A process that is gone
 * needs nothing.
 */
static void
mem_restore(struct tracer *tr, struct bp *b)
{
	char path[64];
	unsigned char byte = (unsigned char)(b->orig & 0xff);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tr->pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if ((fd < 0 && (errno == ENOENT || errno == ESRCH)) ||
	    (fd >= 0 && pwrite(fd, &byte, 1, (off_t)b->addr) == 1))
		b->armed = 0;
	else
		pr_warn("cannot restore %s in process %d: %s",
			alloc_fn_name((enum alloc_fn)(b - tr->bp)),
			(int)tr->pid, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Put the original bytes of the functions in mask back, through tid, a
 * thread in a ptrace stop (the others may run: the first byte goes from
 * int3 back to what it was, and a thread that trapped on it meanwhile is
 * rewound when its stop comes, window_status()).
 */
static void
disarm_fns(struct tracer *tr, pid_t tid, unsigned mask)
{
	for (int f = 0; f < ALLOC_NFNS; f++) {
		struct bp *b = &tr->bp[f];
		long word;

		if (!b->armed || !(mask & (1u << f)))
			continue;
		if (tr->exec_seen) {
			b->armed = 0; /* a new image */
			continue;
		}
		if (!tid) {
			mem_restore(tr, b);
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

static int
armed_any(const struct tracer *tr)
{
	for (int f = 0; f < ALLOC_NFNS; f++)
		if (tr->bp[f].armed)
			return 1;
	return 0;
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

static void
fill_rec(struct rec *rec, struct tthread *t, struct bp *b, enum alloc_fn fn,
	 const struct user_regs_struct *r)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = REC_EVENT;
	rec->fn = (uint32_t)fn;
	rec->tid = t->tid;
	rec->time_ns = la_now_ns();
	rec->ip = b->addr;
	rec->sp = r->rsp;
	rec->bp = r->rbp;
	rec->di = r->rdi;
	rec->si = r->rsi;
	rec->dx = r->rdx;
}

/*
 * free's test %rdi,%rdi: ZF = rdi == 0, SF = bit 63, PF = even parity of
 * the low byte, CF = OF = 0; AF is undefined and kept, like the rest.
 */
static void
emulate_test_rdi(struct user_regs_struct *r)
{
	const unsigned long long cf = 1, pf = 1 << 2, zf = 1 << 6, sf = 1 << 7,
				 of = 1 << 11;
	unsigned long long fl = r->eflags & ~(cf | pf | zf | sf | of);

	if (!r->rdi)
		fl |= zf;
	if (r->rdi >> 63)
		fl |= sf;
	if (!(__builtin_popcount((unsigned)(r->rdi & 0xff)) & 1))
		fl |= pf;
	r->eflags = fl;
}

/*
 * A free: no stack, no return; sent once the thread runs again. Frees do
 * not count toward max_hits (it bounds the allocations the window
 * samples); they are taken while the window samples or follows,
 * FREES_PER_HIT per allocation at most.
 */
static void
on_free_hit(struct tracer *tr, struct tthread *t, struct bp *b,
	    enum alloc_fn fn, struct user_regs_struct *r)
{
	struct rec rec;
	int want = !tr->ending &&
		   (tr->following || tr->taken < tr->o.max_hits) &&
		   tr->frees < FREES_PER_HIT * (uint64_t)tr->o.max_hits;

	if (want)
		fill_rec(&rec, t, b, fn, r);
	emulate_test_rdi(r);
	r->rip = b->addr + (unsigned)b->len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r)) {
		t->state = T_RUN; /* killed meanwhile (ESRCH) */
		return;
	}
	t_cont(t, 0);
	if (!want)
		return;
	tr->frees++;
	tr->st.win.hits[fn]++;
	send_rec(tr, &rec, NULL, 0, 1);
}

/*
 * Can this call's return be caught with a fake return address, without
 * changing the target's signal handling? The fault's SIGSEGV is forced
 * (force_sig_fault): blocked, it would be unblocked and its handler reset
 * to SIG_DFL for good. A shadow stack would refuse the return.
 */
static int
return_catchable(struct tracer *tr, struct tthread *t)
{
	uint64_t mask = 0;

	if (tr->no_returns || t->shstk || t->npend >= MAX_DEPTH)
		return 0;
	if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(mask), &mask))
		return 0;
	return !(mask & SIG_BIT(SIGSEGV));
}

/* The lowest unused depth of t; MAX_DEPTH if none. */
static unsigned
free_depth(const struct tthread *t)
{
	unsigned d = 0;

	while (d < MAX_DEPTH && t->pend[d].rec)
		d++;
	return d;
}

/*
 * Our trap at an allocation function, during the window: take the copies,
 * emulate the push, put a fake return address in the slot, resume; the
 * event is sent when the call returns (on_return()). r holds the registers
 * at the trap (rip = bp + 1).
 */
static void
on_hit(struct tracer *tr, struct tthread *t, struct bp *b, enum alloc_fn fn,
       struct user_regs_struct *r)
{
	uint64_t sp = r->rsp, val = *reg_slot(r, b->reg), ret = 0;
	uint64_t words[2];
	struct rec *rec = NULL;
	struct pending *tail = NULL;
	unsigned d = MAX_DEPTH;
	int want = !tr->ending && !tr->following && tr->taken < tr->o.max_hits;
	ssize_t got = 0;

	if (want) {
		tr->taken++;
		tr->st.win.hits[fn]++;
		/*
		 * A pending call at the same slot is either dead (its frame
		 * gone, a new return address written there) or the caller of
		 * a tail call: glibc 2.36's realloc(NULL, n) ends with
		 * `jmp __libc_malloc` once its frame is popped, so malloc
		 * starts with rsp at realloc's slot, which still holds
		 * realloc's fake return address. That one must stay pending
		 * (or hand its real return address on), or malloc returns to
		 * a fake address nobody catches: SIGSEGV at 0x10, seen with
		 * glob() and regcomp(), which call realloc(NULL, n).
		 */
		for (unsigned i = 0; i < MAX_DEPTH; i++) {
			struct pending *p = &t->pend[i];
			long v;

			if (!p->rec || p->slot != sp)
				continue;
			errno = 0;
			v = ptrace(PTRACE_PEEKDATA, t->tid, (void *)sp, 0);
			if (!errno && (uint64_t)v == fake_ret(i)) {
				tail = p;
				continue;
			}
			free(p->rec);
			p->rec = NULL;
			t->npend--;
			tr->st.returns_abandoned++;
		}
		if (return_catchable(tr, t))
			rec = malloc(sizeof(*rec) + tr->o.stack_size);
		if (!rec)
			tr->st.returns_skipped++;
	}
	if (rec) {
		unsigned char *stack = (unsigned char *)(rec + 1);
		struct iovec local = {stack, tr->o.stack_size};
		struct iovec remote = {(void *)(uintptr_t)sp, tr->o.stack_size};

		/* Partial near the top of the stack: what was read counts. */
		got = process_vm_readv(tr->pid, &local, 1, &remote, 1, 0);
		if (got < 8) {
			free(rec);
			rec = NULL;
			tr->st.returns_skipped++;
		}
	}
	if (rec) {
		unsigned char *stack = (unsigned char *)(rec + 1);

		fill_rec(rec, t, b, fn, r);
		rec->len = (uint32_t)got;
		if (tail) {
			/*
			 * The tail-called function returns for both: it takes
			 * the real return address, the caller's record goes
			 * (this call's event stands for it).
			 */
			memcpy(stack, &tail->ret, 8);
			free(tail->rec);
			tail->rec = NULL;
			t->npend--;
			tr->st.returns_abandoned++;
		}
		memcpy(&ret, stack, 8);
		/* Outer pending calls' slots: their real return address. */
		for (unsigned i = 0; i < MAX_DEPTH; i++) {
			const struct pending *p = &t->pend[i];

			if (p->rec && p->slot >= sp &&
			    p->slot - sp <= (uint64_t)got - 8)
				memcpy(stack + (p->slot - sp), &p->ret, 8);
		}
		d = free_depth(t);
	}
	/* [sp - 8] = the pushed register; [sp] = our fake return */
	words[0] = val;
	words[1] = rec ? fake_ret(d) : ret;
	{
		struct iovec local = {words, rec ? 16 : 8};
		struct iovec remote = {(void *)(uintptr_t)(sp - 8),
				       rec ? 16 : 8};

		if (process_vm_writev(tr->pid, &local, 1, &remote, 1, 0) !=
			    (ssize_t)local.iov_len &&
		    (ptrace(PTRACE_POKEDATA, t->tid, (void *)(sp - 8),
			    (void *)val) ||
		     (rec && ptrace(PTRACE_POKEDATA, t->tid, (void *)sp,
				    (void *)fake_ret(d))))) {
			/* Killed meanwhile (ESRCH): nothing to resume. */
			free(rec);
			t->state = T_RUN;
			return;
		}
	}
	r->rsp = sp - 8;
	r->rip = b->addr + (unsigned)b->len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r)) {
		free(rec);
		t->state = T_RUN;
		return;
	}
	if (rec) {
		t->pend[d].slot = sp;
		t->pend[d].ret = ret;
		t->pend[d].rec = rec;
		t->npend++;
	}
	t_cont(t, 0);
}

/*
 * Is this SIGSEGV stop the return of one of our pending calls? It is when
 * the thread faulted at a fake address (rip and si_addr both) with rsp
 * just above a pending call's slot. Usually that call is the thread's
 * own; a call whose thread differs (a user-level context switched
 * threads) is looked for too. Returns the pending call, and its thread in
 * *owner.
 */
static struct pending *
our_return(struct tracer *tr, struct tthread *t, int sig,
	   const struct user_regs_struct *r, struct tthread **owner)
{
	siginfo_t si;
	unsigned d;

	if (sig != SIGSEGV || r->rip < FAKE_BASE || r->rip >= FAKE_END ||
	    (r->rip - FAKE_BASE) % FAKE_STEP)
		return NULL;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) ||
	    si.si_signo != SIGSEGV || si.si_code <= 0 ||
	    (uint64_t)(uintptr_t)si.si_addr != r->rip)
		return NULL;
	d = (unsigned)((r->rip - FAKE_BASE) / FAKE_STEP);
	if (t->pend[d].rec && t->pend[d].slot + 8 == r->rsp) {
		*owner = t;
		return &t->pend[d];
	}
	for (size_t i = 0; i < tr->n; i++) {
		struct pending *p = &tr->th[i].pend[d];

		if (p->rec && p->slot + 8 == r->rsp) {
			*owner = &tr->th[i];
			return p;
		}
	}
	return NULL;
}

/*
 * The return of a pending call: the result is in rax; put rip at the real
 * return address and drop the signal (the caller resumes, or keeps the
 * thread stopped while ending). Then the event can be sent.
 */
static int
fix_return(struct tracer *tr, struct tthread *t, struct tthread *owner,
	   struct pending *p, struct user_regs_struct *r)
{
	r->rip = p->ret;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r))
		return -1;
	p->rec->ret = r->rax;
	owner->npend--;
	tr->st.returns_caught++;
	return 0;
}

static void
send_return(struct tracer *tr, struct pending *p)
{
	struct rec *rec = p->rec;

	p->rec = NULL;
	rec->end_ns = la_now_ns();
	send_rec(tr, rec, rec + 1, rec->len, 1);
	free(rec);
}

/* Our SIGSEGV during the window: fix up, resume, then send. */
static int
on_return(struct tracer *tr, struct tthread *t, int sig,
	  struct user_regs_struct *r)
{
	struct tthread *owner;
	struct pending *p = our_return(tr, t, sig, r, &owner);

	if (!p)
		return 0;
	if (fix_return(tr, t, owner, p, r)) {
		t->state = T_RUN; /* killed meanwhile (ESRCH) */
		return 1;
	}
	t_cont(t, 0);
	send_return(tr, p);
	return 1;
}

/*
 * A process the target forked, at its first stop (it has not run): its
 * memory is a copy of the target's, with our bytes and our fake return
 * addresses. Put back the first byte of every function we armed (even
 * one restored since: the copy may be older) and, where the copy holds
 * our fake value, the real return address of every pending call (the
 * forking thread is held in its fork event until this is done, so its
 * pending calls are those of the copy; the other threads' stacks are
 * dead in the child, and only our own writes are undone there). Then let
 * it go.
 */
static void
release_child(struct tracer *tr, struct tthread *c)
{
	for (int f = 0; f < ALLOC_NFNS; f++) {
		const struct bp *b = &tr->bp[f];
		long word;

		if (!b->len || (b->orig & 0xff) == 0xcc)
			continue;
		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, c->tid, (void *)b->addr, 0);
		if (!errno && (word & 0xff) == 0xcc)
			ptrace(PTRACE_POKETEXT, c->tid, (void *)b->addr,
			       (void *)(((uint64_t)word & ~0xffull) |
					(b->orig & 0xff)));
	}
	for (size_t i = 0; i < tr->n; i++) {
		const struct tthread *t = &tr->th[i];

		for (unsigned d = 0; d < MAX_DEPTH && !t->own_mm; d++) {
			const struct pending *p = &t->pend[d];
			long word;

			if (!p->rec)
				continue;
			errno = 0;
			word = ptrace(PTRACE_PEEKDATA, c->tid, (void *)p->slot,
				      0);
			if (!errno && (uint64_t)word == fake_ret(d))
				ptrace(PTRACE_POKEDATA, c->tid, (void *)p->slot,
				       (void *)p->ret);
		}
	}
	ptrace(PTRACE_DETACH, c->tid, 0, 0);
	c->state = T_GONE;
}

/* One wait status of a fork child: its first stop releases it. */
static void
child_status(struct tracer *tr, struct tthread *c, int st)
{
	if (WIFEXITED(st) || WIFSIGNALED(st))
		t_gone(tr, c);
	else if (WIFSTOPPED(st))
		release_child(tr, c);
}

/*
 * The new tracee of a PTRACE_EVENT_CLONE, FORK or VFORK: its first stop
 * comes later, except for a fork child, whose first stop is awaited (up
 * to STOP_TIMEOUT_MS) and released here, before its parent runs on.
 */
static void
on_clone(struct tracer *tr, pid_t parent)
{
	uint64_t deadline = la_now_ns() + STOP_TIMEOUT_MS * 1000000ull;
	unsigned long msg = 0;
	struct tthread *c;
	unsigned idle = 0;

	if (ptrace(PTRACE_GETEVENTMSG, parent, 0, &msg) || !msg)
		return;
	c = t_add(tr, (pid_t)msg, T_RUN);
	if (c && !c->own_mm && tr->st.win.stop != WINDOW_STOP_NONE)
		c->want_stop = 1; /* SEIZE: it starts with a trap stop */
	while (c && c->own_mm && c->state == T_RUN && la_now_ns() < deadline) {
		int st;
		pid_t w = waitpid((pid_t)msg, &st, WNOHANG | __WALL);

		if (w == (pid_t)msg)
			child_status(tr, c, st);
		else if (w < 0)
			t_gone(tr, c);
		else
			tracee_backoff(&idle, 0);
	}
}

/* A child (vfork) executed a program: a new memory, none of ours. */
static void
child_exec(struct tracer *tr, struct tthread *c)
{
	t_drop_pending(tr, c);
	ptrace(PTRACE_DETACH, c->tid, 0, 0);
	c->state = T_GONE;
}

/* A new image: the old one's breakpoints and pending calls are gone. */
static void
on_exec(struct tracer *tr, pid_t tid)
{
	tr->exec_seen = 1;
	for (size_t i = 0; i < tr->n; i++) {
		if (tr->th[i].tid != tid && !tr->th[i].child)
			tr->th[i].state = T_GONE;
		t_drop_pending(tr, &tr->th[i]);
	}
}

/*
 * One wait status during the window. Order (doc/design/int3.md): our trap is
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
		t_gone(tr, t);
		return;
	}
	if (t->own_mm) {
		child_status(tr, t, st);
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	t->state = T_STOP;
	if (tr->unarm) {
		/* following or ending: through this stopped thread */
		disarm_fns(tr, tid, tr->unarm);
		tr->unarm = 0;
	}
	sig = WSTOPSIG(st);
	switch (ev) {
	case 0: {
		struct user_regs_struct r;
		enum alloc_fn fn;
		struct bp *b;

		if ((sig != SIGTRAP && sig != SIGSEGV) ||
		    ptrace(PTRACE_GETREGS, tid, 0, &r))
			goto foreign;
		if (sig == SIGSEGV) {
			if (on_return(tr, t, sig, &r))
				return;
			goto foreign;
		}
		b = bp_at(tr, r.rip - 1, &fn);
		if (b && b->armed) {
			if (b->kind == BP_TEST_RDI)
				on_free_hit(tr, t, b, fn, &r);
			else
				on_hit(tr, t, b, fn, &r);
			return;
		}
		if (b) {
			/* a trap from before the bytes were restored */
			r.rip--;
			if (!ptrace(PTRACE_SETREGS, tid, 0, &r))
				tr->st.rewound++;
			t_cont(t, 0);
			return;
		}
	foreign:
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
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		on_clone(tr, tid);
		t = t_find(tr, tid);
		if (t)
			t_cont(t, 0);
		return;
	case PTRACE_EVENT_EXEC:
		if (t->child) {
			child_exec(tr, t);
			return;
		}
		/* the old image, breakpoints and all, is gone */
		on_exec(tr, tid);
		return; /* stays stopped: the window ends */
	default:
		t_cont(t, 0);
		return;
	}
}

/*
 * The stops there are, without blocking; how many there were. At most
 * DRAIN_MAX at a time: threads that allocate all the time keep a stop
 * always waiting, and the caller must look at the clock (the window's
 * end) between them.
 */
static unsigned
drain(struct tracer *tr, void (*fn)(struct tracer *, pid_t, int))
{
	unsigned n = 0;

	while (n < DRAIN_MAX) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

		if (w <= 0)
			break;
		fn(tr, w, st);
		n++;
	}
	return n;
}

/*
 * One status, if any, to fn; without blocking. Returns the pid it came
 * from, 0 when none is there, -1 when we have no tracee left (each is
 * then marked gone).
 */
static pid_t
wait_one(struct tracer *tr, void (*fn)(struct tracer *, pid_t, int))
{
	int st;
	pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

	if (w < 0 && errno == ECHILD) {
		for (size_t i = 0; i < tr->n; i++)
			t_gone(tr, &tr->th[i]);
		return -1;
	}
	if (w > 0)
		fn(tr, w, st);
	return w > 0 ? w : 0;
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
	if (t->own_mm) {
		child_status(tr, t, st);
		return;
	}
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		t_gone(tr, t);
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	sig = WSTOPSIG(st);
	t->state = T_STOP;
	switch (ev) {
	case 0: {
		struct user_regs_struct r;
		struct tthread *owner;
		struct pending *p;
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
		/* a pending call returned: fix it up, keep the thread */
		if (sig == SIGSEGV && !ptrace(PTRACE_GETREGS, tid, 0, &r) &&
		    (p = our_return(tr, t, sig, &r, &owner))) {
			if (!fix_return(tr, t, owner, p, &r)) {
				tr->st.returns_at_end++;
				send_return(tr, p);
			}
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
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		on_clone(tr, tid);
		t = t_find(tr, tid);
		if (t)
			t->want_stop = 0; /* an event stop is a stop */
		return;
	case PTRACE_EVENT_EXEC:
		t->want_stop = 0;
		if (t->child)
			child_exec(tr, t);
		else
			on_exec(tr, tid);
		return;
	default:
		t->want_stop = 0;
		return;
	}
}

/*
 * SIGTRAP or SIGSEGV in the thread's private pending set
 * ("SigPnd:\t0..10"): an int3 trap, or a fault at a fake return address,
 * whose stop has not come yet.
 */
static int
trap_pending(const struct tracer *tr, const struct tthread *t)
{
	char v[64];

	return !procinfo_status_field(t->child ? t->tid : tr->pid, t->tid,
				      "SigPnd", v, sizeof(v)) &&
	       (strtoull(v, NULL, 16) & (SIG_BIT(SIGTRAP) | SIG_BIT(SIGSEGV)));
}

/*
 * Stop thread tid alone (the others run on) and wait for it, until
 * deadline: its statuses go to end_status(), which keeps it stopped (a
 * late trap rewound, a return fixed up, a foreign signal passed on and
 * the stop asked for again), the others' to window_status(), as in the
 * window. Returns 0 once it is in a stop we waited for, -1 if it is
 * gone or did not stop.
 */
static int
stop_one(struct tracer *tr, pid_t tid, uint64_t deadline)
{
	struct tthread *t = t_find(tr, tid);
	unsigned idle = 0;

	if (!t || t->state == T_GONE)
		return -1;
	if (t->state == T_STOP)
		return 0;
	if (!ptrace(PTRACE_INTERRUPT, tid, 0, 0))
		t->want_stop = 1;
	while (la_now_ns() < deadline) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG | __WALL);

		if (w < 0 && errno == ECHILD) {
			for (size_t i = 0; i < tr->n; i++)
				t_gone(tr, &tr->th[i]);
			return -1;
		}
		if (w > 0) {
			if (w == tid)
				end_status(tr, w, st);
			else
				window_status(tr, w, st);
			t = t_find(tr, tid);
			if (!t || t->state == T_GONE)
				return -1;
			if (t->state == T_STOP)
				return 0;
		}
		tracee_backoff(&idle, w > 0);
	}
	return -1;
}

/* Stop some thread of the target's memory; its tid, or 0 if none did. */
static pid_t
stop_any(struct tracer *tr, uint64_t deadline)
{
	pid_t tid = stopped_tid(tr);

	for (size_t i = 0; !tid && i < tr->n && la_now_ns() < deadline; i++)
		if (!tr->th[i].own_mm && tr->th[i].state == T_RUN &&
		    !stop_one(tr, tr->th[i].tid, deadline))
			tid = tr->th[i].tid;
	return tid;
}

/* A thread that runs (not in a group stop) and has pending calls. */
static int
returns_to_come(const struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->th[i].npend && tr->th[i].state == T_RUN &&
		    !tr->th[i].group_stop)
			return 1;
	return 0;
}

/*
 * The bytes are restored; calls are still pending. Let every thread run,
 * still traced, for up to GRACE_MS, so that they return through their
 * fake address and are fixed up as in the window (window_status(): a
 * late trap is rewound there too).
 */
static void
let_returns_come(struct tracer *tr)
{
	uint64_t deadline = la_now_ns() + GRACE_MS * 1000000ull;
	unsigned idle = 0;

	for (size_t i = 0; i < tr->n; i++) {
		struct tthread *t = &tr->th[i];

		if (t->state != T_STOP)
			continue;
		if (t->group_stop) {
			if (!ptrace(PTRACE_LISTEN, t->tid, 0, 0))
				t->state = T_RUN;
		} else {
			t_cont(t, 0);
		}
		t->want_stop = 0;
	}
	while (returns_to_come(tr) && !tr->exec_seen &&
	       la_now_ns() < deadline) {
		pid_t w = wait_one(tr, window_status);

		if (w < 0)
			break;
		tracee_backoff(&idle, w > 0);
	}
}

/*
 * t's calls still pending, t stopped: put the real return address back
 * in each slot that still holds our fake one, if the frame is still live
 * (rsp <= slot). A slot above rsp is dead (a longjmp left the call):
 * never write there.
 */
static void
restore_slots(struct tracer *tr, struct tthread *t)
{
	struct user_regs_struct r;
	int regs;

	if (!t->npend)
		return;
	regs = !ptrace(PTRACE_GETREGS, t->tid, 0, &r);
	for (unsigned d = 0; d < MAX_DEPTH; d++) {
		struct pending *p = &t->pend[d];
		long word;

		if (!p->rec)
			continue;
		free(p->rec);
		p->rec = NULL;
		t->npend--;
		if (!regs || r.rsp > p->slot) {
			tr->st.returns_abandoned++;
			continue;
		}
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, t->tid, (void *)p->slot, 0);
		if (errno || (uint64_t)word != fake_ret(d) ||
		    ptrace(PTRACE_POKEDATA, t->tid, (void *)p->slot,
			   (void *)p->ret)) {
			tr->st.returns_abandoned++;
			continue;
		}
		tr->st.returns_restored++;
	}
}

/*
 * t is in a stop we waited for, the bytes are restored: let it go, unless
 * a trap of ours is still pending. A thread can take its INTERRUPT's
 * trap (or a group stop) with the SIGTRAP of an int3, or the SIGSEGV of a
 * return to a fake address, still pending: get_signal() runs the
 * job-control traps before it dequeues signals (kernel/signal.c).
 * Detached like that, it would take the signal untraced and die. So it
 * dequeues it under our eyes first: resumed, its signal-delivery stop
 * comes at once (a fault's signal is dequeued first), and end_status()
 * rewinds the trap or fixes the return up and drops the signal (a
 * foreign SIGSEGV is delivered, as it would have been), then this is
 * called again; 4 rounds at most. Then its pending calls get their
 * return addresses back, and it is detached: a group stop survives
 * (__ptrace_unlink() re-arms it while the group is stopped), and so does
 * an INTERRUPT's trap not taken yet (dropped with JOBCTL_TRAP_MASK).
 * Returns 1 when t was let go, 0 when it runs to dequeue its signal.
 */
static int
release_thread(struct tracer *tr, struct tthread *t)
{
	if (t->consumed < 4 && !tr->exec_seen && trap_pending(tr, t)) {
		/* no INTERRUPT now: its trap would come before the signal */
		t->consumed++;
		t_cont(t, 0);
		return 0;
	}
	restore_slots(tr, t);
	ptrace(PTRACE_DETACH, t->tid, 0, 0);
	t->state = T_GONE;
	return 1;
}

/*
 * Let every thread go, each as soon as it stops: all are interrupted at
 * once, and a thread is detached as soon as its own stop came (after
 * release_thread()), without waiting for the others, so that no thread
 * is held while a slower one gets a CPU. A thread born meanwhile has its
 * first stop coming: it is waited for too.
 */
static void
release_all(struct tracer *tr, uint64_t deadline)
{
	unsigned idle = 0;
	int left;

	for (size_t i = 0; i < tr->n; i++) {
		struct tthread *t = &tr->th[i];

		if (t->state == T_RUN &&
		    !ptrace(PTRACE_INTERRUPT, t->tid, 0, 0))
			t->want_stop = 1;
	}
	do {
		size_t before = tr->n;
		pid_t w = 0;

		left = 0;
		for (size_t i = 0; i < tr->n; i++) {
			struct tthread *t = &tr->th[i];

			if (t->state == T_STOP)
				release_thread(tr, t);
			left |= t->state != T_GONE;
		}
		if (!left || la_now_ns() >= deadline)
			break;
		w = wait_one(tr, end_status);
		if (w < 0)
			break;
		for (size_t i = before; i < tr->n; i++)
			tr->th[i].want_stop = 1;
		tracee_backoff(&idle, w > 0);
	} while (1);
	for (size_t i = 0; i < tr->n; i++) {
		struct tthread *t = &tr->th[i];

		if (t->state != T_GONE) {
			/* did not stop in time: our exit detaches it */
			tr->st.abandoned++;
			t_drop_pending(tr, t);
			t->state = T_GONE;
		}
	}
}

/*
 * The orderly end (doc/design/int3.md). Nothing more is taken. The bytes are
 * restored through one thread stopped for it, while the others run on
 * (a trap on an old byte is rewound when its stop comes); pending calls
 * may return for up to GRACE_MS (fixed up as usual); then every thread
 * is interrupted and let go as soon as it stops, after its own traps are
 * consumed and its return addresses put back (release_thread()). No
 * thread waits for another in a stop: a window's end costs each thread
 * its own stop, not the slowest one's.
 */
static void
finish(struct tracer *tr)
{
	uint64_t t0 = la_now_ns();
	uint64_t deadline = t0 + STOP_TIMEOUT_MS * 1000000ull;

	tr->ending = 1;
	/*
	 * A busy target stops within microseconds: put the bytes back
	 * through the first thread that does (window_status()), rather than
	 * interrupt one and wait for it to get a CPU, every thread trapping
	 * meanwhile (10-15 ms at load 15); else through one stopped for it.
	 */
	tr->unarm = ~0u;
	for (uint64_t until = t0 + UNARM_WAIT_NS;
	     armed_any(tr) && !tr->exec_seen && la_now_ns() < until;)
		if (wait_one(tr, window_status) < 0)
			break;
	tr->unarm = 0;
	if (armed_any(tr))
		disarm_fns(tr, stop_any(tr, deadline), ~0u);
	tr->st.win.run_ns = la_now_ns() - tr->st.win.run_ns;
	pr_debug("ending: %zu threads, bytes restored in %.1f ms", tr->n,
		 (double)(la_now_ns() - t0) / 1e6);
	if (n_pending(tr) && !tr->exec_seen) {
		uint64_t g0 = la_now_ns();

		let_returns_come(tr);
		tr->st.grace_ns = la_now_ns() - g0;
	}
	release_all(tr, la_now_ns() + STOP_TIMEOUT_MS * 1000000ull);
	tr->st.win.close_ns = la_now_ns() - t0;
}

/* Write v to an open oom_score_adj file; 0 or -errno (EACCES: refused). */
static int
oom_write(int fd, int v)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d\n", v);

	return pwrite(fd, buf, (size_t)len, 0) == len ? 0 : -errno;
}

/*
 * The OOM killer must not pick the tracer while its breakpoints are in
 * (a SIGKILL of the tracer is the one way the int3 backend kills the
 * target): lower our oom_score_adj to OOM_SCORE_ADJ_MIN (-1000), which
 * exempts a process. Without CAP_SYS_RESOURCE the kernel refuses a value
 * below the process's oom_score_adj_min (fs/proc/base.c,
 * __set_oom_adj(): -EACCES), which fork copies and which only a
 * privileged write sets; every value from there up is accepted. So,
 * refused -1000, find the lowest value accepted by bisection between
 * -1000 and the current one (at most 11 writes, before the target is
 * touched). Never raises it. Returns the value we run with; the current
 * one if the file cannot be used.
 */
static int
oom_protect(void)
{
	int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	int lo = -1000, hi;
	char buf[16];
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	hi = atoi(buf);
	if (n > 0 && hi > lo) {
		if (!oom_write(fd, lo))
			hi = lo;
		/* lo is refused, hi accepted (it is the current value) */
		while (hi - lo > 1) {
			int mid = lo + (hi - lo) / 2;

			if (oom_write(fd, mid))
				lo = mid;
			else
				hi = mid;
		}
	}
	close(fd);
	return hi;
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

/* What one pass over /proc/PID/task found (as tracee.c's). */
#define PASS_ZOMBIES 8
struct pass {
	int added; /* threads that joined tr->th */
	unsigned zombies; /* listed, not ours: exiting (State Z or X) */
	pid_t zombie[PASS_ZOMBIES]; /* the first of them */
};

/*
 * Seize thread tid with TRACE_OPTS, without stopping it. Returns 1 (it is
 * in tr->th), 0 (it is gone or exiting: counted in p) or an error.
 */
static int
seize_one(struct tracer *tr, pid_t tid, struct pass *p)
{
	char v[64];
	pid_t tracer;

	if (!ptrace(PTRACE_SEIZE, tid, 0, (void *)TRACE_OPTS))
		return t_add(tr, tid, T_RUN) ? 1 : -ENOMEM;
	if (errno == ESRCH)
		return 0; /* the thread exited meanwhile */
	if (errno != EPERM)
		return la_fail(-errno, "cannot seize thread %d: %s", (int)tid,
			       strerror(errno));
	if (procinfo_status_field(tr->pid, tid, "TracerPid", v, sizeof(v)))
		return 0; /* gone */
	tracer = (pid_t)atoi(v);
	if (tracer == getpid()) /* auto-attached by PTRACE_O_TRACECLONE */
		return t_add(tr, tid, T_RUN) ? 1 : -ENOMEM;
	if (!procinfo_status_field(tr->pid, tid, "State", v, sizeof(v)) &&
	    (v[0] == 'Z' || v[0] == 'X')) {
		/* an exiting thread: all_listed() counts it */
		if (p->zombies < PASS_ZOMBIES)
			p->zombie[p->zombies] = tid;
		p->zombies++;
		return 0;
	}
	if (tracer)
		return la_fail(
			-LA_ETRACED,
			"process %d is already traced by process %d: detach that tracer (a debugger or strace?) first",
			(int)tr->pid, (int)tracer);
	return la_fail(-EPERM, "permission denied attaching to process %d",
		       (int)tr->pid);
}

/* Resume a thread we hold; a group stop is kept and listened to. */
static void
t_resume(struct tthread *t)
{
	if (!t->group_stop)
		t_cont(t, 0);
	else if (!ptrace(PTRACE_LISTEN, t->tid, 0, 0))
		t->state = T_RUN;
}

/*
 * While each thread is made to stop once: the statuses of a thread asked
 * to stop go to end_status() (a stop is kept; a foreign signal is passed
 * on and the stop asked for again), the others' to window_status().
 */
static void
once_status(struct tracer *tr, pid_t tid, int st)
{
	struct tthread *t = t_find(tr, tid);

	if (t && t->want_stop && t->state != T_GONE && !t->child)
		end_status(tr, tid, st);
	else
		window_status(tr, tid, st);
}

/*
 * Did the last pass, which added no thread and came after every thread
 * stopped once, list every thread of the process? Not necessarily (the
 * same reasoning as tracee.c's all_listed(), where it was measured):
 * proc_task_readdir() ends a getdents(2) early at a thread that exits
 * under it (next_tid() finds it unhashed), and the next call restarts by
 * position (first_tid()), past the threads that moved up into the gap.
 * Threads of ours cannot vanish meanwhile (a traced thread that exits
 * stays a zombie until we wait for it: do_notify_parent() does not
 * autoreap for a tracer that blocks SIGCHLD), but threads we never
 * seized can, and there can be such: the children of a thread seized
 * inside clone() after kernel_clone() decided it had no tracer to report
 * to. Here a missed thread is worse than in a stop: it runs untraced
 * into an int3 and the whole target dies of SIGTRAP. So count: the
 * kernel's "Threads:" (signal->nr_threads, lowered by __exit_signal()
 * when a thread is reaped) must be our threads plus the exiting ones the
 * pass saw, those still there afterwards. Our threads' statuses are
 * taken first, so that threads PTRACE_O_TRACECLONE attached meanwhile
 * are ours; those still unseen only mean another pass.
 */
static int
all_listed(struct tracer *tr, const struct pass *p)
{
	unsigned long threads;
	size_t ours = 0;
	char buf[32];

	while (wait_one(tr, once_status) > 0)
		;
	if (procinfo_status_field(tr->pid, 0, "Threads", buf, sizeof(buf)))
		return 1; /* gone: stop_any() finds no thread */
	threads = strtoul(buf, NULL, 10);
	for (size_t i = 0; i < tr->n; i++)
		ours += !tr->th[i].child && tr->th[i].state != T_GONE;
	if (threads != ours + p->zombies || p->zombies > PASS_ZOMBIES) {
		pr_debug(
			"process %d has %lu threads; %zu of them ours, %u exiting: listing again",
			(int)tr->pid, threads, ours, p->zombies);
		return 0;
	}
	for (unsigned i = 0; i < p->zombies; i++)
		if (procinfo_status_field(tr->pid, p->zombie[i], "State", buf,
					  sizeof(buf)))
			return 0; /* reaped since: it may hide a miss */
	return 1;
}

/*
 * Seize every thread of the target with TRACE_OPTS and have each stop
 * once, resumed as soon as its stop comes (unlike tracee.c's
 * stop-the-world, no thread waits in a stop for a slower one; on a loaded
 * machine that took 24 ms of all 8 threads of a busy target, and holding
 * the latest to stop until the next one did, 8 x the gap between two
 * stops); then one is stopped again to write the bytes (its tid in
 * *kept).
 * Why stop at all: a thread seized in the middle of a fork() or clone()
 * was not traced when the kernel decided whether its child is
 * (kernel_clone(): ptrace_event_enabled() before copy_process()), so that
 * child would be neither traced nor seen; a forked one, copying our
 * bytes, dies at its first malloc (measured: 1 fork child in about 5000
 * until threads were stopped once). A thread stops only once out of the
 * system call: after that, every child it creates is traced from birth,
 * and every thread created before is in /proc/PID/task, which is read
 * again until a pass finds no new thread and the kernel's thread count
 * agrees (all_listed()).
 */
static int
seize_all(struct tracer *tr, uint64_t deadline, pid_t *kept)
{
	char path[64];
	unsigned idle = 0;
	struct pass p;

	*kept = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)tr->pid);
	for (;;) {
		struct dirent *e;
		DIR *d = opendir(path);
		int err = 0;

		if (!d)
			return la_fail(errno == ENOENT ? -ESRCH : -errno,
				       "cannot read %s: %s", path,
				       strerror(errno));
		memset(&p, 0, sizeof(p));
		while (!err && (e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			struct tthread *t;

			if (tid <= 0 ||
			    ((t = t_find(tr, tid)) && t->state != T_GONE))
				continue;
			err = seize_one(tr, tid, &p);
			if (err <= 0)
				continue;
			p.added++;
			if (!ptrace(PTRACE_INTERRUPT, tid, 0, 0))
				t_find(tr, tid)->want_stop = 1;
		}
		closedir(d);
		if (err < 0)
			return err;
		for (;;) {
			int pending = 0;
			pid_t w;

			for (size_t i = 0; i < tr->n; i++) {
				struct tthread *t = &tr->th[i];

				if (t->child)
					continue;
				if (t->state == T_STOP)
					t_resume(t);
				pending += t->state == T_RUN && t->want_stop;
			}
			if (!pending)
				break;
			if (la_now_ns() >= deadline)
				return la_fail(
					-LA_ESTOPTIMEOUT,
					"a thread of process %d did not stop in time (uninterruptible sleep?): try again",
					(int)tr->pid);
			w = wait_one(tr, once_status);
			if (w < 0)
				break;
			tracee_backoff(&idle, w > 0);
		}
		if (p.added)
			continue;
		if (all_listed(tr, &p))
			break;
		if (la_now_ns() >= deadline)
			return la_fail(
				-LA_ESTOPTIMEOUT,
				"threads of process %d came and went too fast to seize them all in time: try again",
				(int)tr->pid);
		tracee_backoff(&idle, 0);
	}
	*kept = stop_any(tr, deadline);
	if (!*kept)
		return la_fail(alive(tr) ? -LA_ESTOPTIMEOUT : -ESRCH,
			       "process %d %s", (int)tr->pid,
			       alive(tr) ? "has no thread that stops: try again"
					 : "exited");
	return 0;
}

static int
tracer_setup(struct tracer *tr, const struct int3_opts *opts)
{
	int sz = SOCK_BUF;

	memcpy(&tr->o, opts, sizeof(tr->o));
	window_fill_opts(&int3_limits, &tr->o.max_hits, &tr->o.max_ms,
			 &tr->o.stack_size, &tr->o.fn_mask);
	if (!tr->o.limit_ms)
		tr->o.limit_ms = INT3_LIMIT_MS;
	if (tr->o.max_ms > tr->o.limit_ms)
		tr->o.max_ms = tr->o.limit_ms;
	tr->msg = malloc(sizeof(struct rec) + tr->o.stack_size);
	if (!tr->msg)
		return -ENOMEM;
	/* Root may go past wmem_max; others get what they can. */
	if (setsockopt(tr->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(tr->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return 0;
}

/*
 * Can returns be caught through faults at fake addresses in page 0? Not
 * when SIGSEGV is ignored (the forced fault signal would reset it to
 * SIG_DFL for good) nor when something is mapped there. Read once,
 * before the bytes go in; a handler the target installs during the
 * window goes unnoticed.
 */
static int
returns_possible(pid_t pid)
{
	struct maps maps;
	char v[64];
	int ok;

	if (procinfo_status_field(pid, 0, "SigIgn", v, sizeof(v)))
		return 0;
	if (strtoull(v, NULL, 16) & SIG_BIT(SIGSEGV)) {
		pr_info("process %d ignores SIGSEGV: the allocation functions are not probed (their returns cannot be caught)",
			(int)pid);
		return 0;
	}
	if (procmaps_read(pid, &maps))
		return 0;
	ok = !procmaps_find(&maps, 0) && !procmaps_find(&maps, FAKE_END - 1);
	procmaps_free(&maps);
	if (!ok)
		pr_info("process %d has memory in page 0: the allocation functions are not probed (their returns cannot be caught)",
			(int)pid);
	return ok;
}

int
int3_tracer_main(int fd, pid_t pid, const struct int3_opts *opts,
		 const uint64_t addr[ALLOC_NFNS])
{
	struct tracer tr;
	struct pollfd pfd[2];
	pid_t alive_tid;
	struct rec ready = {.type = REC_READY};
	struct rec end = {.type = REC_END};
	uint64_t deadline, limit, spin_until = 0, looked = 0;
	enum window_stop sampled = WINDOW_STOP_NONE;
	sigset_t chld;
	int err;

	memset(&tr, 0, sizeof(tr));
	tr.pid = pid;
	tr.fd = fd;
	block_signals(&chld);
	setsid();
	prctl(PR_SET_NAME, "la-int3-tracer", 0, 0, 0);
	tr.st.oom_score_adj = oom_protect();
	tr.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	err = tracer_setup(&tr, opts);
	if (err || tr.sfd < 0) {
		send_error(&tr, la_fail(err ? err : -errno,
					"the int3 tracer cannot start: %s",
					strerror(err ? -err : errno)));
		return 1;
	}
	tr.started = 1;
	/*
	 * An analyser killed before the window began (its socket hung up):
	 * seize nothing. One killed later is seen at our next write.
	 */
	pfd[0] = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	if (poll(pfd, 1, 0) > 0 && pfd[0].revents & (POLLHUP | POLLRDHUP))
		return 1;
	if ((alive_tid = tracee_vforking(pid)))
		err = la_fail(
			-LA_EVFORK,
			"process %d is inside vfork() (thread %d waits for its child to exec or exit): try again in a moment",
			(int)pid, (int)alive_tid);
	else
		err = seize_all(&tr, la_now_ns() + STOP_TIMEOUT_MS * 1000000ull,
				&alive_tid);
	if (err) {
		/*
		 * nothing written: our exit detaches every thread, a stopped
		 * one with no signal (we waited for its stop)
		 */
		send_error(&tr, err);
		return 1;
	}
	tr.st.win.open_ns = la_now_ns();
	tr.no_returns = !returns_possible(pid);
	if (!check_and_arm(&tr, alive_tid, addr))
		err = la_fail(
			-ENOTSUP,
			"no allocation function of process %d starts with an instruction the int3 backend can emulate (a push)",
			(int)pid);
	if (err) {
		finish(&tr);
		send_error(&tr, err);
		return 1;
	}
	tr.st.win.run_ns = la_now_ns();
	for (size_t i = 0; i < tr.n; i++)
		if (tr.th[i].state == T_STOP)
			t_resume(&tr.th[i]);
	for (int f = 0; f < ALLOC_NFNS; f++)
		if (tr.bp[f].armed)
			ready.fn |= 1u << f;
	ready.err = (int32_t)tr.st.refused_mask;
	send_rec(&tr, &ready, NULL, 0, 0);
	limit = tr.st.win.run_ns + (uint64_t)tr.o.limit_ms * 1000000ull;
	deadline = tr.st.win.run_ns + (uint64_t)tr.o.max_ms * 1000000ull;
	for (;;) {
		uint64_t now;
		int tmo;

		if (drain(&tr, window_status))
			spin_until = la_now_ns() + SPIN_NS;
		now = la_now_ns();
		if (!tr.following &&
		    (tr.taken >= tr.o.max_hits || now >= deadline)) {
			sampled = tr.taken >= tr.o.max_hits ? WINDOW_STOP_HITS
							    : WINDOW_STOP_TIME;
			if (tr.bp[ALLOC_FREE].armed && tr.o.follow_ms &&
			    now < limit) {
				tr.following = 1;
				tr.unarm = ALLOC_FNS_MASK;
				tr.st.follow_ns = now;
				deadline = now + (uint64_t)tr.o.follow_ms *
							 1000000ull;
				if (deadline > limit)
					deadline = limit;
			} else {
				tr.st.win.stop = sampled;
			}
		}
		if (tr.st.win.stop != WINDOW_STOP_NONE)
			break;
		/* following: until follow_ms, or the frees it may take */
		if (tr.following &&
		    (now >= deadline ||
		     tr.frees >= FREES_PER_HIT * (uint64_t)tr.o.max_hits))
			tr.st.win.stop = sampled;
		else if (!alive(&tr) || tr.exec_seen)
			tr.st.win.stop = WINDOW_STOP_EXIT;
		else if (tr.peer_gone)
			tr.st.win.stop = WINDOW_STOP_CANCEL;
		else if (tr.full_since &&
			 now - tr.full_since >= INT3_BEHIND_MS * 1000000ull)
			tr.st.win.stop = WINDOW_STOP_BEHIND;
		if (tr.st.win.stop != WINDOW_STOP_NONE)
			break;
		/* a busy target: its next stop comes within microseconds */
		if (now < spin_until && now - looked < SPIN_LOOK_NS)
			continue;
		looked = now;
		pfd[0].fd = tr.sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		/* SIGCHLD may coalesce: never sleep long without a look */
		tmo = (int)((deadline - now + 999999) / 1000000);
		if (tmo > 10)
			tmo = 10;
		if (now < spin_until)
			tmo = 0;
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
				tr.st.win.stop = WINDOW_STOP_CANCEL;
		}
	}
	if (tr.following)
		tr.st.follow_ns = la_now_ns() - tr.st.follow_ns;
	finish(&tr);
	end.len = sizeof(tr.st);
	send_rec(&tr, &end, &tr.st, sizeof(tr.st), 0);
	free(tr.th);
	free(tr.msg);
	close(tr.sfd);
	return 0;
}

/* ---- la-int3-tracer's command line (int3_proto.h) ------------------------ */

static int
parse_u(const char *s, unsigned long long *v, int base)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, base);
	return errno || end == s || *end ? -1 : 0;
}

int
int3_tracer_argv(int argc, char **argv)
{
	struct int3_opts o = {.sz = sizeof(o)};
	uint64_t addr[ALLOC_NFNS];
	unsigned long long v[ARGV_FIXED];

	if (argc != ARGV_FIXED + ALLOC_NFNS || strcmp(argv[1], ARGV_VERSION))
		return 2;
	for (int i = 2; i < ARGV_FIXED; i++)
		if (parse_u(argv[i], &v[i], 10) || v[i] > INT32_MAX)
			return 2;
	for (int f = 0; f < ALLOC_NFNS; f++) {
		unsigned long long a;

		if (parse_u(argv[ARGV_FIXED + f], &a, 16))
			return 2;
		addr[f] = a;
	}
	o.max_hits = (unsigned)v[3];
	o.max_ms = (unsigned)v[4];
	o.stack_size = (unsigned)v[5];
	o.fn_mask = (unsigned)v[6];
	o.limit_ms = (unsigned)v[7];
	o.follow_ms = (unsigned)v[8];
	return int3_tracer_main(3, (pid_t)v[2], &o, addr);
}
#else /* !ARCH_HAS_INT3 */
int
int3_tracer_main(int fd, pid_t pid, const struct int3_opts *opts,
		 const uint64_t addr[ALLOC_NFNS])
{
	(void)fd;
	(void)pid;
	(void)opts;
	(void)addr;
	return 1;
}

int
int3_tracer_argv(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
#endif
