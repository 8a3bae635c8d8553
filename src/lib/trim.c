/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trim.c - la_trim(): glibc's malloc_trim(0) called inside the target, to
 * give back the free memory glibc keeps (retention). This file decides
 * whether the call is safe now and which thread makes it; inject.c makes
 * the call and puts the thread back. Nothing is written into the target
 * before every check below has passed.
 *
 * The rules (doc/design/injection.md, "Lock checks: when the call is
 * safe"):
 *  - every arena lock is free (malloc_trim takes them one at a time; a
 *    held one means a thread is inside malloc, and a call from that very
 *    thread would deadlock on it);
 *  - the calling thread is not inside malloc (no PC in malloc's code, no
 *    malloc return address near the top of its stack), not inside a
 *    signal handler (no __restore_rt return address there), has stack
 *    room, and its SIGSEGV (the call's return) can be caught without
 *    changing the process's signal handling;
 *  - among those, a thread blocked in a syscall is best: it loses no
 *    time, and the syscall is simply restarted afterwards.
 * Not this file's business: the call itself, the timeout, the events of
 * the other threads meanwhile (inject.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#define LOG_PREFIX "trim: "
#include "arch/arch.h"
#include "base/abi.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "glibc/malloc_code.h"
#include "glibc/malloc_layout.h"
#include "glibc/quiesce.h"
#include "proc/memsrc.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "ptrace/inject.h"
#include "ptrace/tracee.h"
#include "session.h"

#define DEFAULT_TIMEOUT_MS 1000u
#define TOP_SCAN 1024u /* quiesce.c's window: a malloc frame here is live */
#define HANDLER_SCAN 4096u /* a handler's return address here: inside it */
#define DEEP_SCAN (32u << 10) /* further up: maybe stale, ranks lower */
#define STACK_ROOM (32u << 10) /* malloc_trim needs far less */
#define RED_ZONE_ROOM 512u /* the red zone and inject.c's gap */
#define MAX_ARENAS 4096u
#define MAX_RESTORERS 4
#define SIGSEGV_BIT (1ull << (SIGSEGV - 1))

/*
 * glibc's sa_restorer __restore_rt (arch/CPU/cpu.h, ARCH_RESTORE_RT_CODE).
 * A stripped libc has no symbol for it, but these bytes occur once in its
 * text.
 */
static const unsigned char restore_rt_code[] = ARCH_RESTORE_RT_CODE;

struct facts {
	uint64_t fn_addr; /* malloc_trim */
	uint64_t restorer[MAX_RESTORERS];
	unsigned n_restorer;
	uint64_t sigcgt, sigign; /* the process's caught/ignored signals */
};

/* Why a thread cannot make the call. */
enum verdict {
	V_OK,
	V_MALLOC, /* inside malloc */
	V_HANDLER, /* inside a signal handler */
	V_SEGV, /* blocks SIGSEGV while the process handles it */
	V_STACK, /* too little stack, or its stack is unknown */
	V_SHSTK, /* a shadow stack would refuse the fake return */
	V_NREASONS
};

static const char *const reason_text[V_NREASONS] = {
	[V_MALLOC] = "inside malloc",	 [V_HANDLER] = "in a signal handler",
	[V_SEGV] = "blocking SIGSEGV",	 [V_STACK] = "short of stack",
	[V_SHSTK] = "on a shadow stack",
};

static void
find_restorers(const struct la_session *s, struct facts *f)
{
	const unsigned char *p, *base, *end;
	uint64_t value, size, addr;
	const void *data;

	if (!elffile_symbol(s->loc.elf, "__restore_rt", &value, &size)) {
		f->restorer[f->n_restorer++] = s->loc.bias + value;
		return;
	}
	if (elffile_section(s->loc.elf, ".text", &addr, &size, &data) || !data)
		return;
	base = p = data;
	end = base + size;
	while (f->n_restorer < MAX_RESTORERS &&
	       (p = memmem(p, (size_t)(end - p), restore_rt_code,
			   sizeof(restore_rt_code)))) {
		f->restorer[f->n_restorer++] =
			s->loc.bias + addr + (uint64_t)(p - base);
		p += sizeof(restore_rt_code);
	}
	if (!f->n_restorer)
		pr_info("no __restore_rt in %s: signal handlers go unnoticed",
			elffile_path(s->loc.elf));
}

/* A hexadecimal field of /proc/PID/status ("SigIgn:\t0000000000001000"). */
static int
status_hex(pid_t pid, const char *field, uint64_t *out)
{
	char v[64];
	int err = procinfo_status_field(pid, 0, field, v, sizeof(v));

	if (!err)
		*out = strtoull(v, NULL, 16);
	return err;
}

/*
 * What must hold for the process as a whole, before anything is
 * stopped: malloc_trim exists and is code, the fault at address 0 is a
 * fault and reaches us without changing a handler.
 */
static int
learn_facts(struct la_session *s, struct facts *f)
{
	const struct mapping *m;
	struct maps maps;
	uint64_t value, size;
	int err;

	memset(f, 0, sizeof(*f));
	if (elffile_symbol(s->loc.elf, "malloc_trim", &value, &size) || !value)
		return la_fail(
			-ENOENT,
			"process %d: %s has no malloc_trim (a static program that never calls it?): nothing was done",
			(int)s->pid, s->loc.path);
	f->fn_addr = s->loc.bias + value;
	find_restorers(s, f);

	if (status_hex(s->pid, "SigCgt", &f->sigcgt) ||
	    status_hex(s->pid, "SigIgn", &f->sigign))
		return la_fail(-ESRCH, "process %d exited", (int)s->pid);
	/*
	 * The kernel forces the fault's SIGSEGV through (force_sig_fault):
	 * an ignored SIGSEGV would be reset to SIG_DFL for good.
	 */
	if (f->sigign & SIGSEGV_BIT)
		return la_fail(
			-LA_EBUSY,
			"process %d ignores SIGSEGV, and catching the call's return would undo that: nothing was done",
			(int)s->pid);

	err = procmaps_read(s->pid, &maps);
	if (err)
		return la_fail(err == -ENOENT ? -ESRCH : err,
			       "cannot read the mappings of process %d: %s",
			       (int)s->pid, strerror(-err));
	m = procmaps_find(&maps, f->fn_addr);
	if (!m || !(m->prot & MAP_X))
		err = la_fail(
			-EFAULT,
			"process %d: malloc_trim's address %#llx is not in its code: nothing was done",
			(int)s->pid, (unsigned long long)f->fn_addr);
	else if (procmaps_find(&maps, 0))
		err = la_fail(
			-LA_EBUSY,
			"process %d has memory at address 0, where the call must fault to return: nothing was done",
			(int)s->pid);
	procmaps_free(&maps);
	return err;
}

/*
 * The arenas whose mutex is held (bounded walk of the next ring).
 * Returns how many; the first max go to held[].
 */
static unsigned
locks_held(struct la_session *s, uint64_t *held, unsigned max)
{
	const struct malloc_layout *l = &s->layout;
	uint64_t a = l->main_arena_addr;
	unsigned n_held = 0;

	for (unsigned n = 0; n < MAX_ARENAS; n++) {
		uint32_t mutex;
		uint64_t next;

		if (memsrc_read(s->mem, a + l->ms_mutex, &mutex,
				sizeof(mutex)) ||
		    memsrc_read(s->mem, a + l->ms_next, &next, sizeof(next)))
			break;
		if (mutex) {
			if (n_held < max)
				held[n_held] = a;
			n_held++;
		}
		if (!next || next == l->main_arena_addr)
			break;
		a = next;
	}
	return n_held;
}

/*
 * inject.c's question, when the call hangs in futex(2): is the futex an
 * arena mutex? malloc_trim holds at most one arena lock at a time, and
 * none while it waits for the next one.
 */
static int
waits_for_arena_lock(void *arg, const struct user_regs_struct *r)
{
	struct la_session *s = arg;
	const struct malloc_layout *l = &s->layout;
	uint64_t a = l->main_arena_addr;

	memsrc_invalidate(s->mem);
	for (unsigned n = 0; n < MAX_ARENAS; n++) {
		uint64_t next;

		if (arch_syscall_arg0(r) == a + l->ms_mutex)
			return 1;
		if (memsrc_read(s->mem, a + l->ms_next, &next, sizeof(next)) ||
		    !next || next == l->main_arena_addr)
			break;
		a = next;
	}
	return 0;
}

struct judged {
	enum verdict v;
	int rank; /* lower is better */
	int malloc_below; /* a malloc return address somewhere in its stack */
};

static int
words_hold(const uint64_t *w, size_t from, size_t to, const uint64_t *set,
	   unsigned n)
{
	for (size_t i = from; i < to; i++)
		for (unsigned k = 0; k < n; k++)
			if (w[i] == set[k])
				return 1;
	return 0;
}

static int
words_in_malloc(const struct malloc_code *mc, const uint64_t *w, size_t from,
		size_t to)
{
	for (size_t i = from; i < to; i++)
		if (malloc_code_contains(mc, w[i]))
			return 1;
	return 0;
}

/*
 * May thread t make the call, and how well suited is it? locks_free: every
 * arena lock was seen free, so a thread with malloc frames is at most in
 * one of malloc's lock-free paths (munmap of a freed mmapped chunk, say),
 * which malloc_trim does not touch.
 */
static void
judge(struct la_session *s, const struct tracee *t, const struct facts *f,
      const struct maps *maps, int locks_free, uint64_t *stack,
      struct judged *j)
{
	const struct user_regs_struct *r = &t->regs;
	const uint64_t sp = arch_sp(r);
	const struct mapping *m = procmaps_find(maps, sp);
	size_t len, nw, top, hs;
	uint64_t mask = 0;
	int in_syscall = inject_blocked_in_syscall(r);

	memset(j, 0, sizeof(*j));
	if (malloc_code_contains(&s->code, arch_pc(r))) {
		j->v = V_MALLOC;
		j->malloc_below = 1;
		return;
	}
	if (!m || sp < m->start + RED_ZONE_ROOM ||
	    (strcmp(m->path, "[stack]") &&
	     sp - m->start < STACK_ROOM + RED_ZONE_ROOM)) {
		j->v = V_STACK;
		return;
	}
	len = m->end - sp < DEEP_SCAN ? (size_t)(m->end - sp) : DEEP_SCAN;
	len &= ~(size_t)7;
	while (len >= 64 && memsrc_read(s->mem, sp, stack, len))
		len /= 2;
	if (len < 64) {
		j->v = V_STACK; /* unreadable: too odd to borrow */
		return;
	}
	nw = len / 8;
	top = TOP_SCAN / 8 < nw ? TOP_SCAN / 8 : nw;
	hs = HANDLER_SCAN / 8 < nw ? HANDLER_SCAN / 8 : nw;
	j->malloc_below = words_in_malloc(&s->code, stack, 0, nw);
	if (words_hold(stack, 0, hs, f->restorer, f->n_restorer)) {
		j->v = V_HANDLER;
		return;
	}
	if (words_in_malloc(&s->code, stack, 0, top)) {
		/* live malloc frames, or stale words in a live frame */
		if (!locks_free || !in_syscall) {
			j->v = V_MALLOC;
			return;
		}
		j->rank += 16;
	} else if (j->malloc_below) {
		j->rank += 4;
	}
	if (words_hold(stack, hs, nw, f->restorer, f->n_restorer))
		j->rank += 8;
	if (!in_syscall)
		j->rank += 2;
	else if (in_syscall == 2)
		j->rank += 1; /* restart_syscall: prefer a plain restart */
	/*
	 * With SIGSEGV blocked, force_sig_fault() unblocks it (the mask is
	 * restored afterwards) but also resets a handler to SIG_DFL.
	 */
	if (!ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(mask), &mask) &&
	    (mask & SIGSEGV_BIT) && (f->sigcgt & SIGSEGV_BIT)) {
		j->v = V_SEGV;
		return;
	}
	if (procinfo_thread_has_shstk(s->pid, t->tid))
		j->v = V_SHSTK;
}

/* Append ", thread N" lists and the like to a sentence. */
static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static int
lock_held_error(struct la_session *s, const struct tracee_set *ts,
		const struct judged *j, const uint64_t *held, unsigned n_held)
{
	char which[160] = "", who[160] = "";
	unsigned n_who = 0;

	if (held[0] == s->layout.main_arena_addr)
		append(which, sizeof(which), "the main arena's");
	else
		append(which, sizeof(which), "arena %#llx's",
		       (unsigned long long)held[0]);
	if (n_held > 1)
		append(which, sizeof(which), " and %u more", n_held - 1);
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TRACEE_STOPPED && j[i].malloc_below &&
		    n_who++ < 4)
			append(who, sizeof(who), "%s%d", n_who > 1 ? ", " : "",
			       (int)ts->t[i].tid);
	return la_fail(
		-LA_EBUSY,
		"process %d: an arena lock is held (%s; %s%s %s inside malloc): nothing was done; try again",
		(int)s->pid, which,
		n_who ? (n_who > 1 ? "threads " : "thread ") : "a thread", who,
		n_who > 1 ? "are" : "is");
}

static int
no_thread_error(struct la_session *s, const struct tracee_set *ts,
		const struct judged *j)
{
	unsigned count[V_NREASONS] = {0};
	char why[200] = "";

	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TRACEE_STOPPED)
			count[j[i].v]++;
	for (int v = V_OK + 1; v < V_NREASONS; v++)
		if (count[v])
			append(why, sizeof(why), "%s%u %s", why[0] ? ", " : "",
			       count[v], reason_text[v]);
	return la_fail(
		-LA_EBUSY,
		"process %d: no thread can make the call now (%s): nothing was done; try again",
		(int)s->pid, why[0] ? why : "none stopped");
}

/*
 * With every thread stopped: check, choose, call. Returns with the
 * threads stopped or a stop pending; the caller resumes them.
 */
static int
trim_stopped(struct la_session *s, struct tracee_set *ts,
	     const struct la_trim_opts *o, int lock_check,
	     const struct facts *f, struct la_trim_result *out)
{
	struct inject_call call = {
		.fn_addr = f->fn_addr,
		.arg = 0, /* pad: keep nothing at the top of the heap */
		.timeout_ms =
			o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS,
		.may_abort = waits_for_arena_lock,
		.may_abort_arg = s,
		.restorer_addr = f->restorer,
		.n_restorer = f->n_restorer,
	};
	struct inject_result res;
	struct judged *j = NULL;
	uint64_t *stack = NULL, held[8];
	unsigned n_held;
	size_t best = SIZE_MAX;
	struct maps maps;
	int err;

	err = session_settle(
		s, ts, lock_check ? SETTLE_CALL : SETTLE_CALL_LOCKED, NULL);
	if (err)
		return err;
	/* Its other threads cannot run meanwhile, nor may the caller. */
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TRACEE_STOPPED && ts->t[i].group_stop)
			return la_fail(
				-LA_EBUSY,
				"process %d is stopped (job control): nothing was done; continue it first (kill -CONT %d)",
				(int)s->pid, (int)s->pid);
	memsrc_invalidate(s->mem);
	n_held = locks_held(s, held, sizeof(held) / sizeof(held[0]));
	err = procmaps_read(s->pid, &maps);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	j = calloc(ts->n ? ts->n : 1, sizeof(*j));
	stack = malloc(DEEP_SCAN);
	if (!j || !stack) {
		err = la_fail(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ts->n; i++) {
		const struct tracee *t = &ts->t[i];

		if (t->state != TRACEE_STOPPED || !t->have_regs) {
			j[i].v = V_STACK;
			continue;
		}
		judge(s, t, f, &maps, !n_held, stack, &j[i]);
		pr_debug("thread %d: %s, rank %d", (int)t->tid,
			 j[i].v ? reason_text[j[i].v] : "suitable", j[i].rank);
		/*
		 * On a tie the later thread: the kernel hands a signal sent
		 * to the process to the main thread first, and a handler
		 * running on top of the call delays it.
		 */
		if (j[i].v == V_OK &&
		    (best == SIZE_MAX || j[i].rank <= j[best].rank))
			best = i;
	}
	if (n_held && lock_check) {
		err = lock_held_error(s, ts, j, held, n_held);
		goto out;
	}
	if (best == SIZE_MAX) {
		err = no_thread_error(s, ts, j);
		goto out;
	}
	out->tid = ts->t[best].tid;
	pr_info("thread %d calls malloc_trim(0) at %#llx", (int)out->tid,
		(unsigned long long)f->fn_addr);
	err = inject_call(ts, best, &call, &res);
	out->returned = (int)(uint32_t)res.ret;
	out->call_ns = res.call_ns;
	out->pause_ns = res.away_ns;
	out->overran = res.overran;
	if (res.signals_forwarded || res.signals_delivered)
		pr_info("signals meanwhile: %u forwarded, %u to the calling thread",
			res.signals_forwarded, res.signals_delivered);
	if (err == -LA_ECALLTIMEOUT)
		err = la_fail(
			-LA_ECALLTIMEOUT,
			"process %d: malloc_trim waited for an arena lock for more than %u ms (a thread is inside malloc): the call was abandoned and thread %d restored; try again",
			(int)s->pid, call.timeout_ms, (int)out->tid);
out:
	procmaps_free(&maps);
	free(j);
	free(stack);
	return err;
}

int
trim_call(struct la_session *s, const struct la_trim_opts *opts, int lock_check,
	  struct la_trim_result *out)
{
	struct la_trim_opts o = {0};
	struct tracee_set ts;
	struct facts f;
	int err;

	la_error_clear();
	memset(out, 0, sizeof(*out));
	err = OPTS_TAKE(&o, opts, la_trim_opts);
	if (err)
		return err;
	if (!ARCH_HAS_INJECT) /* before anything is stopped */
		return la_fail(-EOPNOTSUPP,
			       ARCH_NOT_PORTED("trim (the injected call)"));
	err = learn_facts(s, &f);
	if (err)
		return la_fail_default(err);
	err = session_stop(s, &ts);
	if (err)
		return la_fail_default(err);
	err = trim_stopped(s, &ts, &o, lock_check, &f, out);
	tracee_resume_all(&ts);
	tracee_set_free(&ts);
	if (err && err != -ESRCH && procinfo_gone(s->pid))
		err = la_fail(-ESRCH, "process %d exited during the trim",
			      (int)s->pid);
	return la_fail_default(err);
}

int
la_trim(struct la_session *s, const struct la_trim_opts *opts,
	struct la_trim_result *out, size_t out_sz)
{
	struct la_trim_result r;
	int err = trim_call(s, opts, 1, &r);

	out_give(out, out_sz, &r, sizeof(r));
	return err;
}
