/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3.h - a bounded sampling window on the target's allocation functions
 * through ptrace and int3 breakpoints, for when kernel uprobes are refused
 * (no CAP_SYS_ADMIN). It delivers the same struct alloc_event as uprobe.h:
 * one event per completed call (entry and return: ptr, end_ns), and with
 * 1u << ALLOC_FREE in fn_mask one per free (old_ptr; no stack, no
 * return).
 *
 * THIS FORKS A PROCESS. int3_window_open() forks a small tracer process
 * (int3_tracer_main(), named "la-int3-tracer") that holds the ptrace
 * relationship; the caller's process only reads records from a socket.
 * The child executes the program la-int3-tracer (PKGLIBEXECDIR, or
 * $LEAKATTACH_INT3_TRACER), so that it does not keep the caller's memory;
 * where it cannot, it runs the tracer itself.
 * Why (research/ptrace-dwarf.md §1.4-1.6): an int3 byte left in the text,
 * an unwaited SIGTRAP stop, or a fake return address left on a stack
 * (below) kills the target when its tracer dies. The tracer is small, in
 * its own session, blocks SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE and the
 * job-control stops, has no PDEATHSIG, runs with oom_score_adj -1000
 * where the process may set it (CAP_SYS_RESOURCE; else as low as it may),
 * and when the caller dies (SIGKILL included: its end of the socket
 * closes) it restores every byte, lets the pending calls return, puts
 * back the return addresses of those that did not, detaches and exits.
 * So SIGKILLing the caller during a window is safe; SIGKILLing the tracer
 * itself is not (an armed breakpoint stays in the text and kills the
 * target on its next call, and a thread inside malloc then returns to a
 * fake address and dies: the residual risk, measured in test_int3).
 *
 * The caller sees one child process: it is reaped by int3_window_run() or
 * int3_window_close(), by pid. A caller that reaps every child (waitpid
 * -1) takes its status away; the window then reports tracer_status -1.
 *
 * Probed instructions, emulated so that there is no single step and the
 * int3 stays in place for the whole window (one stop per call): a push of
 * a register (Debian 12 glibc 2.36: malloc push %r12, 41 54; calloc push
 * %r13; realloc push %r15: rsp -= 8, the register stored at rsp, rip past
 * it), and free's test %rdi,%rdi (48 85 ff: the flags it sets, rip += 3).
 * The bytes are checked in the target at run time; a function whose bytes
 * differ is not probed (stats.refused_mask). The memalign family starts
 * with a rip-relative compare in 2.36: refused.
 *
 * Returned pointers: at an allocation function's entry the tracer copies
 * the stack (with the real return address), then writes a fake return
 * address into the slot at rsp: 0x10 + 8 * depth, in the never-mapped
 * page 0 (depth: the call's nesting on its thread; realloc(NULL, n) calls
 * malloc). The return faults there; the tracer catches that SIGSEGV (rip
 * and si_addr the fake address, rsp just above the slot), reads rax, puts
 * rip at the real return address, drops the signal and resumes, then
 * sends the event. A SIGSEGV that is not ours is delivered as usual. A
 * stack copy that covers the slot of an outer pending call has that
 * call's real return address, not the fake one.
 * At the start every thread is seized and made to stop once (so that
 * none is inside a fork() or clone() whose child would escape tracing),
 * each resumed at once; one is stopped again to check and write the
 * bytes. At the end of a window (and on the caller's EOF, and on every
 * error path) the bytes are restored first (through the first thread
 * that stops, or one stopped for it; the others run on), the threads run
 * up to 100 ms more so that pending calls return and are fixed up as
 * usual; then each thread is stopped and let go on its own: for its calls
 * still pending the real return address is written back into the slot,
 * only if it still holds our fake value and the frame is live (rsp <=
 * slot) (stats.returns_*). No thread waits in a stop for another.
 * A call whose return cannot be caught is not delivered (returns_skipped):
 * its thread blocks SIGSEGV (the forced signal would reset a handler), has
 * a shadow stack, or is nested more than 16 deep; when the process
 * ignores SIGSEGV or maps page 0 no allocation function is probed
 * (refused_mask).
 * A process the target forks during the window is traced from its birth
 * and gets the original bytes and return addresses back in its copy of
 * the memory before it runs, then is let go; a vforked one shares the
 * memory and is traced like a thread until it executes a program
 * (stats.children).
 * While a call is pending, its frame's return address is the fake one:
 * an unwinder in the target itself (backtrace() in a signal handler that
 * interrupted malloc) stops there.
 */
#ifndef LA_INT3_H
#define LA_INT3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampling/uprobe.h" /* enum alloc_fn, struct alloc_event */

struct int3_opts {
	size_t sz; /* sizeof(struct int3_opts), for later fields */
	/*
	 * allocation entries to take; 0: 2000. Frees do not count: they are
	 * taken while the window samples or follows, at most 4 per
	 * allocation entry.
	 */
	unsigned max_hits;
	unsigned max_ms; /* sampling, from arming; 0: 100; within limit_ms */
	unsigned stack_size; /* bytes of stack per entry; 0: 8 KiB, max 60000 */
	unsigned fn_mask; /* 1u << ALLOC_*; 0: INT3_FNS_DEFAULT */
	/*
	 * The tracer's own bound on a window, sampling and following, from
	 * arming until it starts restoring the bytes, whatever max_ms and
	 * follow_ms ask and however slow or stuck the analyser is (0:
	 * INT3_LIMIT_MS). Raise it knowingly (the tests that wait for a
	 * sequence of calls do).
	 */
	unsigned limit_ms;
	/*
	 * With free() probed: once the sampling ends (max_hits entries or
	 * max_ms), the window goes on this long (0: not at all; within
	 * limit_ms) with free() alone, to see the frees of the sampled
	 * chunks: the allocation functions' bytes are put back at the next
	 * stop, so that a call made while following stops the target once
	 * (free) instead of three times (entry, return, free).
	 */
	unsigned follow_ms;
};

/*
 * On a target that allocates all the time every call stops it (about 20
 * us a stop on the 2-core test machine, idle; far more under load), so a
 * window costs such a target about its length; no thread is held for
 * another at the start or at the end. 40 ms keeps one window within the
 * 50 ms budget of stalled target work (DESIGN.md §3). A caller that wants the
 * frees of its samples fits max_ms + follow_ms in it (INT3_SAMPLE_MS,
 * INT3_FOLLOW_MS: what the callers layer should ask).
 */
#define INT3_LIMIT_MS 40u
#define INT3_SAMPLE_MS 25u
#define INT3_FOLLOW_MS 15u
/*
 * The analyser is behind when the tracer could queue no event for this
 * long (the socket stayed full): the window ends (INT3_STOP_BEHIND), as
 * its events would be lost while every call still stops the target.
 */
#define INT3_BEHIND_MS 20u

#define INT3_FNS_DEFAULT \
	((1u << ALLOC_MALLOC) | (1u << ALLOC_CALLOC) | (1u << ALLOC_REALLOC))

enum int3_stop {
	INT3_STOP_NONE,
	/* these two: and then follow_ms, if asked for, elapsed too */
	INT3_STOP_HITS, /* max_hits entries taken */
	INT3_STOP_TIME, /* max_ms (or limit_ms) elapsed */
	INT3_STOP_CALLBACK, /* the callback returned non-zero */
	INT3_STOP_CANCEL, /* int3_window_cancel(), or our end closed */
	INT3_STOP_EXIT, /* the target exited or executed another program */
	INT3_STOP_TRACER, /* the tracer died or failed mid-window */
	INT3_STOP_BEHIND, /* the analyser read nothing for INT3_BEHIND_MS */
};

struct int3_stats {
	uint64_t hits[ALLOC_NFNS]; /* entries taken by the tracer */
	uint64_t delivered; /* events given to the callback */
	uint64_t lost; /* events dropped: the socket to us was full */
	uint64_t signals_forwarded; /* foreign signals re-injected */
	uint64_t rewound; /* traps at the end: rip put back on the int3 */
	uint64_t returns_caught; /* pending calls that returned to us */
	uint64_t returns_at_end; /* of those, caught while ending */
	uint64_t returns_restored; /* still pending: return address put back */
	uint64_t returns_abandoned; /* dead frame, thread gone, or unknown */
	uint64_t returns_skipped; /* entries whose return was not probed */
	unsigned threads; /* threads traced, new ones included */
	/*
	 * processes the target created during the window: forked ones put
	 * right and let go before they ran, vforked ones traced like
	 * threads until they executed a program
	 */
	unsigned children;
	unsigned abandoned; /* threads that did not stop at the end */
	unsigned refused_mask; /* 1u << ALLOC_*: entry is not a push */
	int tracer_status; /* its wait status; -1 when unknown */
	int oom_score_adj; /* the tracer's: -1000 when it was allowed */
	uint64_t open_ns; /* fork to breakpoints armed */
	uint64_t run_ns; /* armed until every byte restored */
	uint64_t close_ns; /* restore, returns, each thread let go */
	uint64_t grace_ns; /* of close_ns: waiting for pending returns */
	uint64_t follow_ns; /* of run_ns: following, free() alone */
	enum int3_stop stop;
};

struct int3_window;

/*
 * int3_window_open - resolve the allocation functions of the glibc that
 * pid uses, fork the tracer and wait until it has seized every thread
 * (none stopped), stopped one to check the entry bytes and write the
 * breakpoints, and resumed it: the window is running from here (events queue in the socket,
 * up to 4 MiB for root, then are counted lost, and the window ends when
 * none could be queued for INT3_BEHIND_MS), so call int3_window_run() at
 * once.
 * opts may be NULL. Fails with -ESRCH, -EPERM, -LA_ETRACED, -LA_EVFORK,
 * -LA_ESTOPTIMEOUT, -LA_ENOTGLIBC, -ENOTSUP (no function has a push at
 * its entry), -ENOMEM,
 * or what fork/socketpair returned; la_errmsg() says why.
 */
int int3_window_open(pid_t pid, const struct int3_opts *opts,
		     struct int3_window **out);

/*
 * int3_window_run - deliver completed calls (and frees) to fn (from this
 * thread, in order of completion) until the tracer ends the window
 * (max_hits, max_ms, the target's exit), fn returns non-zero or
 * int3_window_cancel() is called; then wait for the tracer to restore,
 * let pending calls return (their events come then), detach and exit.
 * Returns 0, fn's non-zero value, or -errno.
 */
int int3_window_run(struct int3_window *w, uprobe_event_fn fn, void *arg);

/* Ask a running window to stop soon; safe from any thread. */
void int3_window_cancel(struct int3_window *w);

const struct int3_stats *int3_window_stats(const struct int3_window *w);

/* The entry address of fn in the target, or 0 when it is not probed. */
uint64_t int3_window_fn_addr(const struct int3_window *w, enum alloc_fn fn);

/* The tracer's pid while it runs (the tests kill it), else 0. */
pid_t int3_window_tracer(const struct int3_window *w);

/*
 * Tell the tracer to finish, wait for it, free w. NULL is fine. Bounded:
 * the tracer gives one thread 2 s to stop for the restore, pending calls
 * up to 100 ms to return, and every thread 2 s more to stop and be let
 * go.
 */
void int3_window_close(struct int3_window *w);

/*
 * int3_tracer_main - the tracer's body, run in the child that
 * int3_window_open() forks; the caller should _exit() with its return
 * value. fd is a SOCK_SEQPACKET socket to the analyser; addr[fn] the
 * entry address of each function to probe (0: not probed). Returns 0, or
 * 1 after sending an error record. Exposed for tests and for a caller
 * that wants to run the tracer in a process of its own making.
 */
int int3_tracer_main(int fd, pid_t pid, const struct int3_opts *opts,
		     const uint64_t addr[ALLOC_NFNS]);

/*
 * int3_tracer_argv - the main() of la-int3-tracer, the program that
 * int3_window_open()'s child executes (the socket on fd 3, the rest on
 * the command line that int3.c writes): int3_tracer_main()'s value, or 2
 * for a command line it cannot read. The caller should _exit() with it.
 */
int int3_tracer_argv(int argc, char **argv);

#endif
