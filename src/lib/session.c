/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c - the public facade: la_session_open() identifies the target
 * and its malloc layout; la_snapshot_take() runs one stop-walk-resume
 * cycle (with la_snapshot_take_opts(), sampling watched locations on the
 * way). Everything between the stop and the resume is in take_attempt(),
 * and every path out of it resumes the target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "session: "
#include "arch/arch.h"
#include "base/abi.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/debugfile.h"
#include "elf/elfsyms.h"
#include "elf/modules.h"
#include "glibc/allocator.h"
#include "glibc/glibc_heap.h"
#include "glibc/layout_cache.h"
#include "glibc/malloc_code.h"
#include "glibc/malloc_layout.h"
#include "glibc/quiesce.h"
#include "memory.h"
#include "proc/memsrc.h"
#include "proc/procinfo.h"
#include "proc/procmaps.h"
#include "proc/target_file.h"
#include "ptrace/tracee.h"
#include "sampling/uprobe.h"
#include "session.h"
#include "snapshot.h"

#define MAX_ATTEMPTS 5

static void
layout_info(const struct la_session *s, struct la_layout_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->glibc_version, sizeof(out->glibc_version), "%s",
		 s->layout.glibc_version);
	out->source = s->layout.source;
	out->safe_linking = s->layout.safe_linking;
	out->static_binary = s->layout.static_binary;
	out->main_arena_addr = s->layout.main_arena_addr;
	out->mp_addr = s->layout.mp_addr;
	snprintf(out->libc_path, sizeof(out->libc_path), "%s", s->loc.path);
}

void
la_session_layout(const struct la_session *s, struct la_layout_info *out,
		  size_t out_sz)
{
	struct la_layout_info l;

	layout_info(s, &l);
	out_give(out, out_sz, &l, sizeof(l));
}

/* Map a failed read of the target to a sentence. */
static int
read_error(pid_t pid, int err)
{
	if (err == -EPERM || err == -EACCES)
		return procinfo_explain_eperm(pid);
	if (err == -ESRCH)
		return la_fail(-ESRCH, "process %d exited", (int)pid);
	return la_fail_default(err);
}

static int
resolve_layout(struct la_session *s, const struct la_session_opts *o)
{
	char root[64];
	const char *dirs[3] = {NULL, NULL, NULL};
	char target_debug[96];
	struct layout_ctx ctx;
	const unsigned char *id;
	size_t idlen = elffile_build_id(s->loc.elf, &id);
	char dbgpath[1024];
	struct elffile *dbg = NULL;
	int err;

	target_root(s->pid, root, sizeof(root));
	snprintf(target_debug, sizeof(target_debug), "%s/usr/lib/debug", root);
	if (o->debug_dir) {
		dirs[0] = o->debug_dir;
	} else {
		dirs[0] = target_debug;
		dirs[1] = "/usr/lib/debug";
	}
	ctx = (struct layout_ctx){
		.mem = s->mem,
		.elf = s->loc.elf,
		.elf_path = s->loc.path,
		.bias = s->loc.bias,
		.static_binary = s->loc.static_binary,
		.use_dwarf = !o->no_debuginfo,
	};
	if (!o->no_debuginfo && o->cache_dir &&
	    !layout_cache_load(o->cache_dir, id, idlen, s->loc.bias, &s->layout,
			       &s->code) &&
	    !malloc_layout_confirm(&s->layout, s->mem))
		return 0;
	/* One debug file serves the DWARF layout and malloc's code ranges. */
	if (!o->no_debuginfo &&
	    !debugfile_find(s->loc.elf, s->loc.path, root, dirs, dbgpath,
			    sizeof(dbgpath)) &&
	    elffile_open(dbgpath, &dbg))
		dbg = NULL;
	ctx.debug_elf = dbg;
	err = malloc_layout_from_dwarf(&ctx, &s->layout);
	malloc_code_collect(s->loc.elf, dbg, s->loc.bias, &s->code);
	elffile_close(dbg);
	if (!err && o->cache_dir) {
		int serr = layout_cache_save(o->cache_dir, id, idlen,
					     s->loc.bias, &s->layout, &s->code);

		if (serr)
			pr_info("cannot keep the layout in %s: %s",
				o->cache_dir, strerror(-serr));
	}
	if (err) {
		pr_info("no usable debug info for %s: finding malloc's state by its signatures",
			s->loc.path);
		err = malloc_layout_from_signature(&ctx, &s->layout);
	}
	if (err && s->loc.static_binary) {
		const char *kind = allocator_static_kind(s->loc.elf);

		if (kind)
			return la_fail(
				-LA_ENOTGLIBC,
				"process %d (%s) is a static program built with %s, which brings its own malloc: leakattach reads only glibc's heap",
				(int)s->pid, s->loc.path, kind);
		return la_fail(
			-LA_ENOTGLIBC,
			"process %d (%s) is a static program without glibc's malloc (musl, Go, Rust?): leakattach reads only glibc's heap",
			(int)s->pid, s->loc.path);
	}
	if (err)
		return err;
	err = malloc_layout_confirm(&s->layout, s->mem);
	if (err == -EFAULT || err == -ESRCH || err == -EPERM)
		return read_error(s->pid, err);
	return err;
}

int
la_session_open(pid_t pid, const struct la_session_opts *opts,
		struct la_session **out)
{
	struct la_session_opts o = {0};
	struct la_session *s;
	struct maps maps;
	pid_t tgid;
	uint64_t probe;
	int err;

	la_error_clear();
	*out = NULL;
	err = OPTS_TAKE(&o, opts, la_session_opts);
	if (err)
		return err;
	err = procinfo_check(pid, &tgid);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return la_fail(-ENOMEM, "out of memory");
	s->pid = tgid;
	s->stop_timeout_ms = o.stop_timeout_ms ? o.stop_timeout_ms : 2000;
	if (!procinfo_cpu_ns(s->pid, &s->cpu_ns, NULL))
		s->cpu_at_ns = la_now_ns();
	err = procmaps_read(s->pid, &maps);
	if (err) {
		err = read_error(s->pid, err == -ENOENT ? -ESRCH : err);
		goto fail;
	}
	err = memsrc_pid_open(s->pid, &s->mem);
	if (err)
		goto fail_maps;
	/* One read tells whether we may look at the target at all. */
	err = maps.len ? memsrc_u64(s->mem, maps.v[0].start, &probe) : -ESRCH;
	if (err && err != -EFAULT) {
		err = read_error(s->pid, err);
		goto fail_maps;
	}
	err = allocator_find_glibc(s->pid, &maps, s->mem, &s->loc);
	if (!err)
		err = resolve_layout(s, &o);
	if (err)
		goto fail_maps;
	procmaps_free(&maps);
	*out = s;
	return 0;
fail_maps:
	procmaps_free(&maps);
fail:
	/* A target that exits meanwhile fails every step its own way. */
	if (err != -ESRCH && procinfo_gone(s->pid))
		err = la_fail(-ESRCH, "process %d exited", (int)s->pid);
	la_session_close(s);
	return la_fail_default(err);
}

int
session_modules(struct la_session *s)
{
	if (s->mods)
		return modules_refresh(s->mods);
	return modules_open(s->pid, &s->mods);
}

void
la_session_close(struct la_session *s)
{
	if (!s)
		return;
	memsrc_close(s->mem);
	if (s->mods)
		modules_close(s->mods);
	uprobe_probes_release(s->uprobes);
	python_session_free(&s->py);
	glibc_loc_free(&s->loc);
	free(s);
}

/*
 * The glibc heap and, in a CPython process, pymalloc's pools. The glibc
 * walk names the chunks of large Python objects; its search for mmapped
 * chunks skips Python's arenas (a gigabyte of them cost a read of the
 * gigabyte), and is done again over every mapping if its chunks then
 * disagree with mp_'s counts (an arena freed since gave its place to a
 * chunk). The arenas are those of the last snapshot, and the pools are
 * then scanned outside malloc's ranges (a numpy array is not read twice);
 * a session's first snapshot knows none, so it scans the pools first,
 * everywhere, and skips the arenas just found.
 */
static int
walk_both(struct la_session *s, const struct maps *maps,
	  const uint64_t *tcaches, unsigned ntc, const uint64_t *stacks,
	  unsigned nst, struct la_snapshot *snap, struct heap_walk *w,
	  int python)
{
	int pools_first = python && !s->py.n_arenas, skip = 0;
	struct maps cut = {0};
	int err = 0;

	for (;;) {
		if (python)
			err = python_heap_begin(&s->py, s->pid, s->mem, maps,
						&snap->py);
		if (!err && pools_first)
			err = python_heap_pools(&s->py, s->mem, maps, NULL, 0,
						&snap->py);
		if (!err && python && !cut.v)
			skip = python_heap_skip(&s->py, maps, &cut);
		if (skip < 0)
			err = skip;
		if (err)
			break;
		snap->walk = w; /* watched arenas are known by their address */
		err = glibc_heap_walk(&s->layout, s->mem, skip ? &cut : maps,
				      tcaches, ntc, stacks, nst, snapshot_visit,
				      snap, w);
		if (err || !skip ||
		    (w->mmapped_chunks == w->mp_n_mmaps &&
		     w->mmapped_bytes == w->mp_mmapped_mem))
			break;
		pr_debug("mmapped chunks where Python's arenas were: again");
		glibc_heap_walk_free(w);
		memset(w, 0, sizeof(*w));
		snapshot_reset(snap);
		skip = 0;
	}
	free(cut.v);
	if (!err && python && !pools_first)
		err = python_heap_pools(&s->py, s->mem, maps, w->ranges,
					w->n_ranges, &snap->py);
	return err;
}

/*
 * With every thread stopped: learn each thread's tcache and stack, then
 * walk. The caller resumes the target whatever this returns.
 */
static int
walk_stopped(struct la_session *s, const struct tracee_set *ts,
	     struct la_snapshot *snap, struct heap_walk *w, int python)
{
	uint64_t *tcaches = calloc(ts->n + 1, sizeof(*tcaches));
	uint64_t *stacks = calloc(2 * ts->n + 1, sizeof(*stacks));
	unsigned ntc = 0, nst = 0;
	struct maps maps;
	int err;

	if (!tcaches || !stacks) {
		err = -ENOMEM;
		goto out;
	}
	/* the census after the resume needs each thread's stack (memory.c) */
	free(snap->stack_ptrs);
	snap->stack_ptrs = calloc(ts->n + 1, sizeof(*snap->stack_ptrs));
	snap->n_stack_ptrs = 0;
	if (!snap->stack_ptrs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TRACEE_STOPPED && ts->t[i].have_regs)
			snap->stack_ptrs[snap->n_stack_ptrs++] =
				arch_sp(&ts->t[i].regs);
	memsrc_invalidate(s->mem);
	err = procmaps_read(s->pid, &maps);
	if (err)
		goto out;
	err = malloc_layout_find_tcache(&s->layout, s->mem, ts);
	if (err)
		goto out_maps;
	for (size_t i = 0; i < ts->n; i++) {
		const struct tracee *t = &ts->t[i];
		uint64_t tc = 0;

		if (t->state != TRACEE_STOPPED || !t->have_regs)
			continue;
		if (!malloc_layout_thread_tcache(&s->layout, s->mem, t->tp,
						 &tc) &&
		    tc)
			tcaches[ntc++] = tc;
		/* glibc keeps struct pthread at the top of a thread's stack */
		stacks[nst++] = t->tp;
	}
	err = walk_both(s, &maps, tcaches, ntc, stacks, nst, snap, w, python);
out_maps:
	procmaps_free(&maps);
out:
	free(tcaches);
	free(stacks);
	return err;
}

/*
 * Rounds of letting the threads caught inside malloc run on, alone, until
 * no thread is inside malloc and no arena lock is held. A thread that only
 * *may* be inside (a malloc return address on its stack: stale stack
 * words look the same) holds a walk back for a few rounds only, a call
 * not at all (trim.c judges such threads itself); a call that may run
 * with a lock held (tests only) waits only for the threads inside.
 */
#define SETTLE_BUDGET_NS 50000000ull /* then walk and let the checks judge */
#define SETTLE_SLICE_NS 10000ull /* a malloc call takes far less */
#define SETTLE_PATIENCE 4

int
session_settle(struct la_session *s, struct tracee_set *ts, enum settle_for why,
	       unsigned *rounds)
{
	unsigned char *run = NULL;
	struct quiesce_scan q;
	uint64_t until = la_now_ns() + SETTLE_BUDGET_NS;
	unsigned r, busy = UINT32_MAX, stuck = 0;
	int err = 0;

	for (r = 0; la_now_ns() < until; r++) {
		unsigned char *nr = realloc(run, ts->n ? ts->n : 1);

		if (!nr) {
			err = -ENOMEM;
			break;
		}
		run = nr;
		memsrc_invalidate(s->mem);
		err = quiesce_scan(&s->code, &s->py.code, &s->layout, s->mem,
				   ts, run, &q);
		if (err)
			break;
		if (!q.inside && (!q.locks || why == SETTLE_CALL_LOCKED) &&
		    (!q.maybe || why != SETTLE_WALK || r >= SETTLE_PATIENCE))
			break;
		if (!q.inside && !q.maybe) /* a lock held, holder unknown */
			memset(run, 1, ts->n);
		/*
		 * Longer slices while nothing improves: with more runnable
		 * threads than cores, a short slice may not reach them all.
		 */
		stuck = q.inside + q.maybe < busy ? 0 : stuck + 1;
		busy = q.inside + q.maybe;
		err = tracee_run_some(
			ts, run, SETTLE_SLICE_NS << (stuck < 8 ? stuck : 8),
			s->stop_timeout_ms);
		if (err)
			break;
	}
	if (!err && (q.inside || q.locks))
		for (size_t i = 0; i < ts->n; i++)
			pr_debug("unsettled: thread %d pc %#llx %s",
				 (int)ts->t[i].tid,
				 (unsigned long long)arch_pc(&ts->t[i].regs),
				 run && run[i] ? "runs" : "stays");
	free(run);
	if (rounds)
		*rounds = r;
	return err;
}

int
session_stop(struct la_session *s, struct tracee_set *ts)
{
	int err = tracee_stop_all(s->pid, s->stop_timeout_ms, ts);

	if (!err)
		return 0;
	tracee_set_free(ts);
	if (err == -EPERM)
		return procinfo_explain_eperm(s->pid);
	if (err == -ESRCH)
		return la_fail(-ESRCH, "process %d exited", (int)s->pid);
	return err;
}

static int
take_attempt(struct la_session *s, struct la_snapshot *snap,
	     struct heap_walk *w, int python, uint64_t *pause_ns,
	     uint64_t *stop_ns, uint64_t *walk_ns, unsigned *threads,
	     unsigned *rounds)
{
	struct tracee_set ts;
	uint64_t t0;
	int err;

	err = session_stop(s, &ts);
	if (err)
		return err;
	err = session_settle(s, &ts, SETTLE_WALK, rounds);
	if (err) { /* every thread was let go already */
		tracee_set_free(&ts);
		return err == -ESRCH ? la_fail(-ESRCH, "process %d exited",
					       (int)s->pid)
				     : err;
	}
	*threads = 0;
	for (size_t i = 0; i < ts.n; i++)
		*threads += ts.t[i].state == TRACEE_STOPPED;
	t0 = la_now_ns();
	err = walk_stopped(s, &ts, snap, w, python);
	*walk_ns = la_now_ns() - t0;
	tracee_resume_all(&ts);
	*pause_ns = ts.resume_end_ns - ts.stop_begin_ns;
	*stop_ns = ts.stopped_ns - ts.stop_begin_ns;
	tracee_set_free(&ts);
	if (err == -ESRCH)
		return la_fail(-ESRCH, "process %d exited during the snapshot",
			       (int)s->pid);
	return err;
}

int
la_snapshot_take(struct la_session *s, struct la_snapshot **out)
{
	return la_snapshot_take_opts(s, NULL, out);
}

int
la_snapshot_take_opts(struct la_session *s, const struct la_snapshot_opts *opts,
		      struct la_snapshot **out)
{
	struct la_snapshot_opts o = {0};
	struct la_snapshot *snap;
	struct heap_walk w;
	struct timespec now;
	uint64_t pause_ns = 0, stop_ns = 0, walk_ns = 0, bytes = 0;
	unsigned attempts = 0, threads = 0, rounds = 0;
	int err;

	la_error_clear();
	*out = NULL;
	err = OPTS_TAKE(&o, opts, la_snapshot_opts);
	if (err)
		return err;
	if (o.n_watch && !o.watch)
		return la_fail(-EINVAL, "no locations to watch were given");
	if (o.n_watch > LA_WATCH_MAX)
		return la_fail(
			-EINVAL,
			"%u locations to watch: at most %u can be sampled in one snapshot",
			o.n_watch, LA_WATCH_MAX);
	if (o.sample_max > LA_SAMPLE_MAX)
		return la_fail(
			-EINVAL,
			"a sample of %u chunks per location is too large: at most %u",
			o.sample_max, LA_SAMPLE_MAX);
	if (o.n_probes && !o.probes)
		return la_fail(-EINVAL,
			       "no chunk addresses to probe were given");
	if (o.n_probes > LA_PROBE_MAX)
		return la_fail(-EINVAL,
			       "%u chunks to probe: at most %u in one snapshot",
			       o.n_probes, LA_PROBE_MAX);
	snap = snapshot_new();
	if (!snap)
		return la_fail(-ENOMEM, "out of memory");
	if (o.n_probes && snapshot_probe(snap, o.probes, o.n_probes)) {
		la_snapshot_free(snap);
		return la_fail(-ENOMEM, "out of memory");
	}
	if (o.n_watch && snapshot_watch(snap, o.watch, o.n_watch,
					o.sample_max ? o.sample_max : 256)) {
		la_snapshot_free(snap);
		return la_fail(-ENOMEM, "out of memory");
	}
	if (!o.no_python && python_heap_prepare(&s->py, s->pid) == -ESRCH) {
		la_snapshot_free(snap);
		return la_fail(-ESRCH, "process %d exited", (int)s->pid);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	for (;;) {
		memset(&w, 0, sizeof(w));
		attempts++;
		err = take_attempt(s, snap, &w, !o.no_python, &pause_ns,
				   &stop_ns, &walk_ns, &threads, &rounds);
		bytes += w.bytes_read + snap->py.info.bytes_read;
		if (err || attempts >= MAX_ATTEMPTS ||
		    (w.consistent && python_heap_consistent(&snap->py)))
			break;
		/*
		 * Caught mid-update (a thread inside malloc or pymalloc):
		 * let it run a little, then look again.
		 */
		pr_debug("attempt %u inconsistent: %s", attempts,
			 w.consistent ? snap->py.info.why : w.why);
		glibc_heap_walk_free(&w);
		snapshot_reset(snap);
		nanosleep(&(struct timespec){0, 200000L * attempts}, NULL);
	}
	if (!err)
		err = snapshot_finish(snap, &w);
	if (!err)
		err = python_heap_finish(&snap->py);
	if (err && err != -ESRCH && err != -ENOMEM && procinfo_gone(s->pid))
		err = la_fail(-ESRCH, "process %d exited during the snapshot",
			      (int)s->pid);
	if (err) {
		glibc_heap_walk_free(&w);
		la_snapshot_free(snap);
		return la_fail_default(err);
	}
	snap->info.pid = s->pid;
	snap->info.consistent = w.consistent;
	snap->info.attempts = attempts;
	snap->info.settle_rounds = rounds;
	snap->info.pause_ns = pause_ns;
	snap->info.stop_ns = stop_ns;
	snap->info.walk_ns = walk_ns;
	snap->info.bytes_read = bytes;
	snap->info.time_unix_ns =
		(int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	snprintf(snap->info.inconsistency, sizeof(snap->info.inconsistency),
		 "%s", w.consistent ? "" : w.why);
	snap->totals.threads = threads;
	procinfo_memory(s->pid, &snap->info.rss_bytes, &snap->info.hwm_bytes);
	memory_measure(s->pid, snap, &w); /* the target runs again */
	layout_info(s, &snap->layout);
	glibc_heap_walk_free(&w);
	*out = snap;
	return 0;
}
