/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.h - what a session knows about its target, for the library's
 * own verbs that stop it (session.c: snapshots, trim.c: malloc_trim).
 * Internal: the public API sees struct la_session as an opaque handle.
 */
#ifndef LA_SESSION_H
#define LA_SESSION_H

#include <sys/types.h>

#include "glibc/allocator.h"
#include "glibc/malloc_code.h"
#include "glibc/malloc_layout.h"
#include "python_heap.h"

struct memsrc;
struct modules;

struct uprobe_probes;

struct la_session {
	pid_t pid;
	unsigned stop_timeout_ms;
	struct memsrc *mem;
	struct glibc_loc loc;
	struct malloc_layout layout;
	struct malloc_code code;
	/*
	 * The target's modules (session_modules()), or NULL; as mapped
	 * when snapshot mods_time was taken (types.c) or at the last
	 * callers window, whichever came later.
	 */
	struct modules *mods;
	int64_t mods_time;
	/*
	 * The uprobe backend's probes, kept from one callers window to the
	 * next (uprobe.h): released by la_session_close(). NULL: none.
	 */
	struct uprobe_probes *uprobes;
	/*
	 * The target's CPU time (procinfo_cpu_ns()) and CLOCK_MONOTONIC
	 * when it was read: at the session's start, then at each callers
	 * window, which asks how many cores the target kept busy since.
	 */
	uint64_t cpu_ns, cpu_at_ns;
	/* the CPython interpreter it runs, if any (python_heap.h) */
	struct python_session py;
};

struct tracee_set;

/*
 * s->mods as the target maps its files now: opened, or refreshed
 * (modules_refresh(): what was loaded for unchanged modules is kept, so
 * that each window and snapshot does not read the same files again).
 */
int session_modules(struct la_session *s);

enum settle_for {
	SETTLE_WALK, /* before a walk */
	SETTLE_CALL, /* before a call into malloc: no lock may be held */
	SETTLE_CALL_LOCKED, /* the same, locks allowed (tests only) */
};

/*
 * Stop every thread of the target (tracee_stop_all()). On failure nothing
 * stays attached, ts is freed and la_errmsg() says why: why the attach
 * was refused, that the process exited, or tracee.c's sentence.
 */
int session_stop(struct la_session *s, struct tracee_set *ts);

/*
 * With every thread stopped: let the threads caught inside malloc run on,
 * alone, for at most 50 ms, until the heap is quiet for why. Returns 0 or
 * an error from tracee_run_some(), after which nothing stays attached.
 * rounds (may be NULL) gets the rounds it took.
 */
int session_settle(struct la_session *s, struct tracee_set *ts,
		   enum settle_for why, unsigned *rounds);

/*
 * trim_call - la_trim(), with the check that no arena lock is held when
 * lock_check is set (la_trim() always sets it). Without it a call may
 * wait for a lock and be abandoned: test_trim reaches that abort path
 * through the core library, never through the public API.
 */
int trim_call(struct la_session *s, const struct la_trim_opts *opts,
	      int lock_check, struct la_trim_result *out);

#endif
