/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers.c - where allocations come from (doc/design/callers.md): one
 * sampling window on the allocation functions, its records unwound
 * offline and grouped by call stack, each stack with the chunks it
 * allocated; a later snapshot probes those chunks, and the stacks whose
 * chunks survive are where a growing location grows from.
 *
 * Responsible for: driving the backend (uprobes; int3 only when asked
 * for by name), keeping a bounded set of chunks per stack, their fate in
 * the window (frees are probed too), survival weighed against a control
 * group, ordering, symbols of the frames, the la_callers_* functions.
 * Not for: the window itself (window.h; uprobe.c, int3.c), the
 * arithmetic of chance (callers_chance.c), the window kept in a file
 * between invocations (callers_file.c), unwinding (unwind.c), symbols
 * (modules.c), the walk that finds the survivors (snapshot.c, through
 * the snapshot's probes), deciding when to sample (the caller).
 *
 * False survivors. A chunk in use at the check, at the address a sampled
 * call got, may be another chunk: freed after the window, its address
 * handed out again. Where a program churns chunks of one size, glibc's
 * LIFO tcache makes that likely, so survival alone would blame the
 * churning caller. The chunks freed during the window are the control
 * group: they are probed too, and the share of them back in use at the
 * check is the chance of a false survivor (per size class when it has
 * CONTROL_MIN of them, else pooled). A caller's survivors count only
 * beyond that chance (callers_beyond_chance()).
 *
 * Each record is unwound in the window's callback, from the copy of the
 * registers and stack the kernel made at the call: the target has already
 * run on by then and never waits for us; only our draining of the ring
 * buffers is slower (a full ring loses records, counted in lost). This
 * keeps the memory bounded by the stacks, not by the copies (1000 copies
 * of 16 KiB would be 16 MiB).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/user.h>
#include <time.h>

#define LOG_PREFIX "callers: "
#include "arch/arch.h"
#include "base/abi.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/modules.h"
#include "elf/unwind.h"
#include "proc/procinfo.h"
#include "ptrace/tracee.h"
#include "sampling/callers.h"
#include "sampling/callers_tables.h"
#include "sampling/int3.h"
#include "sampling/uprobe.h"
#include "session.h"
#include "snapshot.h"

/*
 * While the probes are on, a target that allocates all the time does
 * almost nothing else (every call traps: measured at about 1 % of its
 * rate with uprobes and int3 alike), so a window's cost to it is about
 * its length: 20 ms of sampling and 15 ms of following at most, plus the
 * teardown, keep it under the 50 ms budget (doc/design/budgets.md;
 * bench: `--only window`).
 */
#define DEF_MAX_HITS 1000u
#define DEF_MAX_MS 20u
#define DEF_MAX_THREADS 8u
/*
 * Stack copied per call, and ring buffer per thread: a burst of calls
 * faster than we drain must fit (8 KiB covers the frames of most call
 * chains; 256 pages hold about 120 records).
 */
#define STACK_COPY 8192u
#define RING_PAGES 256u
/* A frame more than kept, so that frame 0 (malloc itself) can be skipped. */
#define UNWIND_FRAMES (LA_CALLER_FRAMES + 1)
/* glibc x86_64: the program's data starts after prev_size and size */
#define CHUNK_DATA 16
#define CHUNK_MIN 32
/* Chunk addresses the window follows (allocations and frees). */
#define ADDRS_MAX 16384u
/* Control chunks a class needs for a rate of its own (else pooled). */
#define CONTROL_MIN 8u
/*
 * After the sampling, the window follows the frees of the sampled chunks
 * for DEF_FOLLOW_MS: a chunk churned at the window's end is then seen
 * freed, not left for the check to find its address reused. The calls
 * made meanwhile are not sampled, but the backend must let them through.
 * The whole window, sampling and following, never lasts more than
 * max_ms + follow_ms: the backend's bound on time.
 */
#define DEF_FOLLOW_MS 15u
/*
 * A target that keeps several cores busy loses a window's length on each
 * of them (every thread that allocates traps): measured 150 ms of its
 * work per default window with 8 threads on 2 cores, against 26-40 ms
 * with 1 thread. So the default window is divided by the cores the target
 * kept busy since the last window (or the session's start), down to
 * SCALED_MIN_MS each for sampling and following.
 */
#define SCALED_MIN_MS 5u
/*
 * A window that recorded fewer than MIN_SAMPLE_CALLS allocations in
 * max_ms samples on, to EXTEND_FACTOR times max_ms at most: a target
 * that allocates slowly (or was given little of the CPU while the window
 * was open: a loaded machine, a container's CPU quota) pays per call,
 * not per millisecond, and a window of a few calls names no caller
 * beyond chance (a CI run's window saw one tick of callerleak's timer).
 * The uprobe backend only: an int3 window stops the target for as long
 * as it lasts.
 */
#define MIN_SAMPLE_CALLS 64u
#define EXTEND_FACTOR 5u
#define FOLLOW_MIN_CALLS 64u
#define FOLLOW_HITS_FACTOR 8u
#define FOLLOW_HITS_MAX 1000000u

_Static_assert(LA_ALLOC_MALLOC == 1u << ALLOC_MALLOC &&
		       LA_ALLOC_CALLOC == 1u << ALLOC_CALLOC &&
		       LA_ALLOC_REALLOC == 1u << ALLOC_REALLOC &&
		       LA_ALLOC_MEMALIGN == 1u << ALLOC_MEMALIGN &&
		       LA_ALLOC_POSIX_MEMALIGN == 1u << ALLOC_POSIX_MEMALIGN &&
		       LA_ALLOC_ALIGNED_ALLOC == 1u << ALLOC_ALIGNED_ALLOC &&
		       LA_ALLOC_VALLOC == 1u << ALLOC_VALLOC &&
		       LA_ALLOC_PVALLOC == 1u << ALLOC_PVALLOC,
	       "LA_ALLOC_* follow enum alloc_fn");

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/*
 * The request as glibc's request2size() makes it a chunk (x86_64): the
 * request plus the 8-byte size field, rounded up to 16, at least 32.
 */
static uint64_t
request_chunk(uint64_t req)
{
	uint64_t cs = (req + 8 + 15) & ~15ull;

	return req > (1ull << 62) ? 0 : cs < CHUNK_MIN ? CHUNK_MIN : cs;
}

static struct cstack *
stack_get(struct la_callers *c, const uint64_t *pcs, unsigned n)
{
	uint64_t h = n;
	size_t i;

	for (unsigned k = 0; k < n; k++)
		h = mix(h, pcs[k]);
	i = (size_t)(h >> 7) & c->stack_mask;
	while (c->stack_slot[i]) {
		struct cstack *st = &c->stacks[c->stack_slot[i] - 1];

		if (st->hash == h && st->n_pcs == n &&
		    !memcmp(st->pcs, pcs, n * sizeof(*pcs)))
			return st;
		i = (i + 1) & c->stack_mask;
	}
	if (c->n_stacks == LA_CALLERS_STACKS_MAX)
		return NULL;
	c->stack_slot[i] = c->n_stacks + 1;
	c->stacks[c->n_stacks] = (struct cstack){.hash = h, .n_pcs = n};
	memcpy(c->stacks[c->n_stacks].pcs, pcs, n * sizeof(*pcs));
	return &c->stacks[c->n_stacks++];
}

/* The slot of chunk address addr, or NULL when it is not there. */
static struct aslot *
addr_find(const struct la_callers *c, uint64_t addr)
{
	size_t i =
		(size_t)((addr * 0x9e3779b97f4a7c15ull) >> 17) & c->addr_mask;

	while (c->addrs[i].addr && c->addrs[i].addr != addr)
		i = (i + 1) & c->addr_mask;
	return c->addrs[i].addr ? &c->addrs[i] : NULL;
}

/*
 * The window saw chunk address addr handed out by a call that returned at
 * alloc_end, or freed at free_ns (the other 0). A full table drops the
 * note: that chunk's fate is then unknown, never wrong the other way.
 */
static void
addr_note(struct la_callers *c, uint64_t addr, uint64_t alloc_end,
	  uint64_t free_ns)
{
	size_t i =
		(size_t)((addr * 0x9e3779b97f4a7c15ull) >> 17) & c->addr_mask;
	struct aslot *a;

	if (!addr)
		return;
	while (c->addrs[i].addr && c->addrs[i].addr != addr)
		i = (i + 1) & c->addr_mask;
	a = &c->addrs[i];
	if (!a->addr) {
		if (c->n_addrs >= ADDRS_MAX) {
			c->info.addresses_dropped++;
			return;
		}
		a->addr = addr;
		c->n_addrs++;
	}
	if (alloc_end > a->alloc_end)
		a->alloc_end = alloc_end;
	if (free_ns > a->free_ns)
		a->free_ns = free_ns;
}

static void
chunk_keep(struct la_callers *c, struct cstack *st,
	   const struct alloc_event *ev, uint64_t end_ns)
{
	if (st->kept >= LA_CALLERS_PER_STACK ||
	    c->n_chunks >= LA_CALLERS_CHUNKS_MAX)
		return;
	c->chunks[c->n_chunks++] = (struct kchunk){
		.addr = ev->ptr - CHUNK_DATA,
		.want = request_chunk(ev->size),
		.end_ns = end_ns,
		.stack = (unsigned)(st - c->stacks),
		.aligned = ev->fn != ALLOC_MALLOC && ev->fn != ALLOC_CALLOC &&
			   ev->fn != ALLOC_REALLOC,
	};
	st->kept++;
}

/*
 * Once the window is over, with every thread's events in: a chunk whose
 * address a recorded call got again after it returned was freed in the
 * window; so was one freed after it returned. Both join the control
 * group. Not only the second kind: an address freed and not handed out
 * again by the end of the window is more often one deep in a tcache bin,
 * rarely used (measured: 8 % of them in use at the check, against 4 of 4
 * churned chunks freed just after the window).
 */
static void
chunk_fates(struct la_callers *c)
{
	for (unsigned i = 0; i < c->n_chunks; i++) {
		struct kchunk *k = &c->chunks[i];
		const struct aslot *a = addr_find(c, k->addr);

		if (!a)
			continue;
		if (a->alloc_end > k->end_ns || a->free_ns > k->end_ns) {
			k->dead = 1;
			k->control = 1;
		}
		if (k->dead)
			c->stacks[k->stack].freed++;
	}
}

static int
on_event(const struct alloc_event *ev, void *arg)
{
	struct la_callers *c = arg;
	struct user_regs_struct regs;
	struct unwind_frame f[UNWIND_FRAMES];
	uint64_t pcs[LA_CALLER_FRAMES];
	struct cstack *st;
	unsigned n, k = 0;
	uint64_t end_ns = ev->end_ns ? ev->end_ns : ev->time_ns;

	if (!c->first_ns || ev->time_ns < c->first_ns)
		c->first_ns = ev->time_ns;
	if (!c->sample_end && ev->time_ns > c->first_ns + c->max_ns) {
		if (c->info.allocations >= MIN_SAMPLE_CALLS)
			c->sample_end = c->first_ns + c->max_ns;
		else if (ev->time_ns > c->first_ns + c->ext_ns)
			c->sample_end = c->first_ns + c->ext_ns;
	}
	/*
	 * The frees are followed for follow_ns, and for as many calls as
	 * were sampled, FOLLOW_MIN_CALLS at least (a slow target makes
	 * fewer calls in that time: a chunk it churns lives longer), until
	 * max_ns + follow_ns after the first call at most, or follow_ns
	 * after an extended sampling (the backend's bound ends the window
	 * there too): then the window is over.
	 */
	if (c->sample_end && ev->time_ns > c->sample_end + c->follow_ns &&
	    ((c->info.followed >= c->info.allocations &&
	      c->info.followed >= FOLLOW_MIN_CALLS) ||
	     ev->time_ns > c->first_ns + c->max_ns + c->follow_ns))
		return 1;
	if (ev->fn == ALLOC_FREE) {
		c->info.frees++;
		if (c->sample_end && ev->time_ns > c->sample_end)
			c->info.followed++;
		if (ev->old_ptr >= CHUNK_DATA)
			addr_note(c, ev->old_ptr - CHUNK_DATA, 0, ev->time_ns);
		return 0;
	}
	/* a realloc that moved the block freed the old chunk */
	if (ev->old_ptr >= CHUNK_DATA && ev->ptr != ev->old_ptr)
		addr_note(c, ev->old_ptr - CHUNK_DATA, 0, end_ns);
	if (ev->ptr >= CHUNK_DATA)
		addr_note(c, ev->ptr - CHUNK_DATA, end_ns, 0);
	/* after the sampling: only what it says of the sampled chunks */
	if (c->sample_end && ev->time_ns > c->sample_end) {
		c->info.followed++;
		return 0;
	}
	c->info.allocations++;
	if (!c->sample_end && (c->info.allocations >= c->max_hits ||
			       (c->info.allocations >= MIN_SAMPLE_CALLS &&
				ev->time_ns > c->first_ns + c->max_ns)))
		c->sample_end = ev->time_ns;
	if (!ev->ptr || ev->ptr < CHUNK_DATA) {
		c->info.failed++;
		return 0;
	}
	memset(&regs, 0, sizeof(regs));
	arch_sample_regs(&regs, ev->ip, ev->sp, ev->bp, ev->lr);
	n = unwind_stack(c->mods, &regs, ev->sp, ev->stack, ev->stack_len, 0, f,
			 UNWIND_FRAMES, NULL);
	/* frame 0 is the allocation function's entry: start at its caller */
	for (unsigned i = 1; i < n && k < LA_CALLER_FRAMES; i++)
		pcs[k++] = f[i].pc;
	st = stack_get(c, pcs, k);
	if (!st) {
		c->info.stacks_dropped++;
		return 0;
	}
	st->allocations++;
	st->bytes += ev->size;
	chunk_keep(c, st, ev, end_ns);
	return 0;
}

/* Copy src into dst (len > 0), cut to fit. */
static void
copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
resolve_frame(struct modules *m, uint64_t pc, struct la_frame *fr)
{
	const struct module *mod;
	struct symbol_hit hit;

	memset(fr, 0, sizeof(*fr));
	fr->pc = pc;
	/* a return address: the call is the instruction before it */
	mod = modules_find(m, pc - 1);
	if (!mod)
		return;
	copy_str(fr->module, sizeof(fr->module), mod->path);
	fr->module_offset = pc - mod->bias;
	/* only the nearest symbol below: "near NAME+0xOFF", said so */
	if (!modules_symbol_near(m, pc - 1, &hit) && hit.is_function) {
		if (hit.nearest)
			snprintf(fr->function, sizeof(fr->function),
				 "near %.200s+%#" PRIx64, hit.name,
				 pc - hit.start);
		else
			copy_str(fr->function, sizeof(fr->function), hit.name);
	}
	if (modules_line(m, pc - 1, fr->file, sizeof(fr->file), &fr->line))
		fr->file[0] = '\0';
}

/* pc named: from the cache, or resolved now and kept in it. */
static void
name_pc(struct la_callers *c, uint64_t pc, struct la_frame *out)
{
	for (unsigned j = 0; j < c->n_seen; j++)
		if (c->seen[j].pc == pc) {
			*out = c->seen[j];
			return;
		}
	if (c->mods) {
		resolve_frame(c->mods, pc, out);
	} else {
		memset(out, 0, sizeof(*out));
		out->pc = pc;
	}
	if (c->n_seen == c->cap_seen) {
		unsigned cap = c->cap_seen ? 2 * c->cap_seen : 64;
		void *nv = realloc(c->seen, cap * sizeof(*c->seen));

		if (!nv)
			return; /* named, not kept */
		c->seen = nv;
		c->cap_seen = cap;
	}
	c->seen[c->n_seen++] = *out;
}

/*
 * The frames of st named, on first use: a window names none of them, as
 * most windows are never reported (their names cost leakattach more CPU
 * than the window: the line tables of a compressed debug file are
 * inflated to the unit), and a report names only what it shows. The
 * modules are the session's as the target maps its files then (a library
 * unmapped since leaves its frames with addresses only), or for a window
 * read from a file opened now; let go once every stack is named. Without
 * memory the frames stay unnamed.
 */
static void
stack_name(struct la_callers *c, struct cstack *st)
{
	if (st->frames)
		return;
	st->frames = calloc(st->n_pcs ? st->n_pcs : 1, sizeof(*st->frames));
	if (!st->frames)
		return;
	if (!c->mods && !c->mods_failed && modules_open(c->info.pid, &c->mods))
		c->mods_failed = 1;
	for (unsigned i = 0; i < st->n_pcs; i++)
		name_pc(c, st->pcs[i], &st->frames[i]);
	if (++c->n_named == c->n_stacks) {
		modules_close(c->mods);
		c->mods = NULL;
		free(c->seen);
		c->seen = NULL;
		c->n_seen = c->cap_seen = 0;
	}
}

static int
by_bytes(const void *a, const void *b, void *arg)
{
	const struct la_callers *c = arg;
	const struct cstack *x = &c->stacks[*(const unsigned *)a];
	const struct cstack *y = &c->stacks[*(const unsigned *)b];

	if (x->attributed_bytes != y->attributed_bytes)
		return x->attributed_bytes > y->attributed_bytes ? -1 : 1;
	if (x->surviving_bytes != y->surviving_bytes)
		return x->surviving_bytes > y->surviving_bytes ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return (x->allocations < y->allocations) -
	       (x->allocations > y->allocations);
}

static void
sort_stacks(struct la_callers *c)
{
	for (unsigned i = 0; i < c->n_stacks; i++)
		c->order[i] = i;
	qsort_r(c->order, c->n_stacks, sizeof(*c->order), by_bytes, c);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The live and the control chunks' addresses, sorted and unique: what the
 * next snapshot probes.
 */
static int
make_probes(struct la_callers *c)
{
	unsigned n = 0;

	c->probes = malloc((c->n_chunks ? c->n_chunks : 1) * sizeof(uint64_t));
	if (!c->probes)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_chunks; i++) {
		const struct kchunk *k = &c->chunks[i];

		if (!k->dead)
			c->info.kept_chunks++;
		else if (k->control)
			c->info.control_chunks++;
		if (!k->dead || k->control)
			c->probes[n++] = k->addr;
	}
	qsort(c->probes, n, sizeof(uint64_t), cmp_u64);
	for (unsigned i = 0; i < n; i++)
		if (!c->n_probes || c->probes[c->n_probes - 1] != c->probes[i])
			c->probes[c->n_probes++] = c->probes[i];
	return 0;
}

static int
alloc_tables(struct la_callers *c)
{
	c->stack_mask = 2 * LA_CALLERS_STACKS_MAX - 1;
	c->addr_mask = 2 * ADDRS_MAX - 1;
	c->stacks = calloc(LA_CALLERS_STACKS_MAX, sizeof(*c->stacks));
	c->order = calloc(LA_CALLERS_STACKS_MAX, sizeof(*c->order));
	c->stack_slot = calloc(c->stack_mask + 1, sizeof(*c->stack_slot));
	c->chunks = calloc(LA_CALLERS_CHUNKS_MAX, sizeof(*c->chunks));
	c->addrs = calloc(c->addr_mask + 1, sizeof(*c->addrs));
	c->ctl_n = calloc(SIZE_CLASSES, sizeof(*c->ctl_n));
	c->ctl_reused = calloc(SIZE_CLASSES, sizeof(*c->ctl_reused));
	return c->stacks && c->order && c->stack_slot && c->chunks &&
			       c->addrs && c->ctl_n && c->ctl_reused
		       ? 0
		       : -ENOMEM;
}

/* The window's tables are only needed while it runs. */
static void
shrink(struct la_callers *c)
{
	free(c->stack_slot);
	free(c->addrs);
	c->stack_slot = NULL;
	c->addrs = NULL;
}

/*
 * The backend's bound on calls: the sampled ones, and room for the calls
 * made while the frees are followed (on_event() ends the window).
 */
static unsigned
backend_hits(const struct la_callers_opts *o)
{
	uint64_t n = (uint64_t)o->max_hits * FOLLOW_HITS_FACTOR;

	return n > FOLLOW_HITS_MAX ? FOLLOW_HITS_MAX : (unsigned)n;
}

/* Its bound on time: the sampling, extended at most, and the following. */
static unsigned
backend_ms(const struct la_callers_opts *o)
{
	uint64_t ms = (uint64_t)o->max_ms * EXTEND_FACTOR + o->follow_ms;

	return ms > 600000 ? 600000 : (unsigned)ms;
}

/* The options of a backend beyond window_opts (window_opts.ext). */
union callers_ext {
	struct uprobe_opts uprobe;
	struct int3_opts int3;
};

/*
 * A backend as the callers window drives it: its table, the options it
 * is given (prepare() may bound the window further, or refuse), and
 * which of its figures the window's info takes.
 */
struct callers_backend {
	const struct window_backend *be;
	int (*prepare)(struct la_callers *c, struct la_session *s,
		       const struct la_callers_opts *o, struct window_opts *wo,
		       union callers_ext *ext);
	int hits_with_frees; /* info.hits counts free() entries too */
	int release_timed; /* info.release_ns: the close, timed */
};

/*
 * The session keeps its probes from one window to the next (uprobe.h,
 * uprobe_opts.keep): their release, about 80 ms a probe, is paid once when
 * the session closes, not after every window.
 */
static int
prepare_uprobe(struct la_callers *c, struct la_session *s,
	       const struct la_callers_opts *o, struct window_opts *wo,
	       union callers_ext *ext)
{
	(void)c;
	wo->max_hits = backend_hits(o);
	wo->max_ms = backend_ms(o);
	wo->fn_mask = o->functions | (1u << ALLOC_FREE);
	ext->uprobe = (struct uprobe_opts){
		.sz = sizeof(ext->uprobe),
		.max_threads = o->max_threads,
		.ring_pages = RING_PAGES,
		.keep = &s->uprobes,
	};
	return 0;
}

/*
 * The int3 backend: a tracer process of its own holds the target while
 * the window is open (int3.h); it has no memalign family (their entries
 * are not emulated), and asks for free() like the uprobe backend.
 * The tracer bounds the window itself (INT3_LIMIT_MS, however slow we
 * are): max_hits counts allocation entries only (frees are taken besides
 * them), so it goes unscaled; the sampling fits INT3_SAMPLE_MS, and the
 * follow, with free() alone probed, INT3_FOLLOW_MS after it. on_event()
 * is told the same lengths, so that the frees of the tracer's follow
 * count as followed (nearly all: its clock starts at the first call, the
 * tracer's when the bytes are written). Its rule of as many calls
 * followed as sampled never holds an int3 window open: the tracer ends
 * it at INT3_FOLLOW_MS whatever was seen.
 */
static int
prepare_int3(struct la_callers *c, struct la_session *s,
	     const struct la_callers_opts *o, struct window_opts *wo,
	     union callers_ext *ext)
{
	(void)s;
	wo->max_hits = o->max_hits;
	wo->max_ms = o->max_ms < INT3_SAMPLE_MS ? o->max_ms : INT3_SAMPLE_MS;
	wo->fn_mask = (o->functions & INT3_FNS_DEFAULT) | (1u << ALLOC_FREE);
	ext->int3 = (struct int3_opts){
		.sz = sizeof(ext->int3),
		.follow_ms = o->follow_ms < INT3_FOLLOW_MS ? o->follow_ms
							   : INT3_FOLLOW_MS,
	};
	c->max_ns = (uint64_t)wo->max_ms * 1000000u;
	c->ext_ns = c->max_ns;
	c->follow_ns = (uint64_t)ext->int3.follow_ms * 1000000u;
	if (!(o->functions & INT3_FNS_DEFAULT))
		return la_fail(
			-ENOTSUP,
			"the int3 backend probes only malloc, calloc and realloc: ask for one of them, or use --callers-backend=uprobe as root");
	return 0;
}

static const struct callers_backend callers_uprobe = {
	.be = &uprobe_backend,
	.prepare = prepare_uprobe,
	.hits_with_frees = 1,
	.release_timed = 1,
};

static const struct callers_backend callers_int3 = {
	.be = &int3_backend,
	.prepare = prepare_int3,
};

/* One window of backend b, its events to on_event(), its figures kept. */
static int
run_backend(struct la_callers *c, struct la_session *s,
	    const struct la_callers_opts *o, const struct callers_backend *b)
{
	union callers_ext ext;
	struct window_opts wo = {
		.sz = sizeof(wo), .stack_size = STACK_COPY, .ext = &ext};
	const struct window_stats *st;
	struct window *w;
	int err;

	snprintf(c->info.backend, sizeof(c->info.backend), "%s", b->be->name);
	err = b->prepare(c, s, o, &wo, &ext);
	if (err)
		return err;
	err = window_open(b->be, s->pid, &wo, &w);
	if (err)
		return err; /* the sentence is the backend's */
	err = window_run(w, on_event, c);
	st = window_stats(w);
	for (unsigned i = 0; i < ALLOC_NFNS; i++)
		if (i != ALLOC_FREE || b->hits_with_frees)
			c->info.hits += st->hits[i];
	c->info.lost = st->lost;
	c->info.threads = st->threads;
	c->info.threads_skipped = st->threads_skipped;
	c->info.open_ns = st->open_ns;
	c->info.window_ns = st->run_ns;
	c->info.teardown_ns = st->close_ns;
	if (b->release_timed)
		c->info.release_ns = la_now_ns();
	window_close(w);
	if (b->release_timed)
		c->info.release_ns = la_now_ns() - c->info.release_ns;
	if (err > 0)
		err = 0;
	return err;
}

/* Uprobes refused for good on this machine: not privileged, or none. */
static int
uprobe_refused(int err)
{
	return err == -EPERM || err == -EACCES || err == -ENOENT ||
	       err == -EOPNOTSUPP;
}

static int
run_window(struct la_callers *c, struct la_session *s,
	   const struct la_callers_opts *o)
{
	int err;

	if (o->backend == LA_CALLERS_INT3)
		return run_backend(c, s, o, &callers_int3);
	err = run_backend(c, s, o, &callers_uprobe);
	if (o->backend == LA_CALLERS_UPROBE || !uprobe_refused(err))
		return err;
	/*
	 * auto does not fall back to int3 on its own: an int3 window stops
	 * the target at every call it samples (over 50 ms of the target's
	 * work per window with 8 threads, measured), and a SIGKILL of its
	 * tracer during a window kills the target. It is used only when
	 * asked for by name.
	 */
	snprintf(c->info.backend_why, sizeof(c->info.backend_why), "%s",
		 la_errmsg());
	return la_fail(
		err,
		"%s; the int3 backend is not used unless asked for (--callers-backend=int3): it stops the target at each call it samples (see SECURITY)",
		c->info.backend_why);
}

/*
 * The cores the target kept busy since the last reading (its CPU time
 * over the time passed), and a new reading. Over less than a second
 * (a check's first window, a few ms after the session began: the clock
 * ticks are 10 ms) its average over its life so far; 0 when unknown.
 */
static double
busy_cores(struct la_session *s)
{
	uint64_t cpu, age, now = la_now_ns();
	double busy = 0;

	if (procinfo_cpu_ns(s->pid, &cpu, &age))
		return 0;
	if (s->cpu_at_ns && now > s->cpu_at_ns + 1000000000ull &&
	    cpu >= s->cpu_ns)
		busy = (double)(cpu - s->cpu_ns) / (double)(now - s->cpu_at_ns);
	else if (age > 1000000000ull)
		busy = (double)cpu / (double)age;
	s->cpu_ns = cpu;
	s->cpu_at_ns = now;
	return busy;
}

static unsigned
scaled_ms(unsigned ms, double busy)
{
	unsigned v;

	if (busy <= 1.0)
		return ms;
	v = (unsigned)((double)ms / busy + 0.5);
	return v < SCALED_MIN_MS ? SCALED_MIN_MS : v;
}

struct la_callers *
callers_new(void)
{
	struct la_callers *c = calloc(1, sizeof(*c));

	if (!c || alloc_tables(c)) {
		la_callers_free(c);
		return NULL;
	}
	shrink(c);
	return c;
}

int
callers_ready(struct la_callers *c)
{
	int err = make_probes(c);

	if (!err)
		sort_stacks(c);
	return err;
}

int
la_callers_sample(struct la_session *s, const struct la_callers_opts *opts,
		  struct la_callers **out)
{
	struct la_callers_opts o = {0};
	struct la_callers *c;
	struct timespec now;
	double busy;
	int err;

	la_error_clear();
	*out = NULL;
	err = OPTS_TAKE(&o, opts, la_callers_opts);
	if (err)
		return err;
	if (o.backend != LA_CALLERS_AUTO && o.backend != LA_CALLERS_UPROBE &&
	    o.backend != LA_CALLERS_INT3)
		return la_fail(-EINVAL, "unknown callers backend %d",
			       (int)o.backend);
	if (o.functions & ~((1u << ALLOC_FREE) - 1))
		return la_fail(-EINVAL, "unknown allocation functions %#x",
			       o.functions);
	o.max_hits = o.max_hits ? o.max_hits : DEF_MAX_HITS;
	busy = busy_cores(s);
	o.max_ms = o.max_ms ? o.max_ms : scaled_ms(DEF_MAX_MS, busy);
	o.max_threads = o.max_threads ? o.max_threads : DEF_MAX_THREADS;
	o.follow_ms =
		o.follow_ms ? o.follow_ms : scaled_ms(DEF_FOLLOW_MS, busy);
	o.functions = o.functions ? o.functions : LA_ALLOC_DEFAULT;
	c = calloc(1, sizeof(*c));
	if (!c || alloc_tables(c)) {
		la_callers_free(c);
		return la_fail(-ENOMEM, "out of memory");
	}
	c->info.pid = s->pid;
	c->max_hits = o.max_hits;
	c->max_ns = (uint64_t)o.max_ms * 1000000u;
	c->ext_ns = c->max_ns * EXTEND_FACTOR;
	c->follow_ns = (uint64_t)o.follow_ms * 1000000u;
	/*
	 * The modules before the probes exist: the window starts at once.
	 * The session's, kept from the last window: their symbols, CFI and
	 * line tables are read once per run, not once per window.
	 */
	err = session_modules(s);
	if (err) {
		la_callers_free(c);
		if (err == -ESRCH)
			return la_fail(-ESRCH, "process %d exited",
				       (int)s->pid);
		return la_fail_default(err);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	c->info.time_unix_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	c->mods = modules_ref(s->mods);
	err = run_window(c, s, &o);
	if (!err) {
		chunk_fates(c);
		err = make_probes(c);
	}
	shrink(c);
	if (err) {
		la_callers_free(c);
		return err == -ENOMEM ? la_fail(-ENOMEM, "out of memory")
				      : la_fail_default(err);
	}
	c->info.stacks = c->n_stacks;
	sort_stacks(c);
	pr_debug("%llu calls, %u stacks, %u chunks kept, teardown %.0f ms",
		 (unsigned long long)c->info.allocations, c->n_stacks,
		 c->info.kept_chunks, (double)c->info.teardown_ns / 1e6);
	*out = c;
	return 0;
}

void
la_callers_free(struct la_callers *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->stacks && i < c->n_stacks; i++)
		free(c->stacks[i].frames);
	modules_close(c->mods);
	free(c->seen);
	free(c->stacks);
	free(c->order);
	free(c->stack_slot);
	free(c->chunks);
	free(c->addrs);
	free(c->probes);
	free(c->ctl_n);
	free(c->ctl_reused);
	free(c);
}

void
la_callers_info(const struct la_callers *c, struct la_callers_info *out,
		size_t out_sz)
{
	out_give(out, out_sz, &c->info, sizeof(c->info));
}

void
la_callers_probes(const struct la_callers *c, const uint64_t **chunk_addrs,
		  unsigned *n)
{
	*chunk_addrs = c->probes;
	*n = c->n_probes;
}

/*
 * Could the chunk found at the check be the one the call got? It must be
 * at least the request's chunk; glibc hands out a free chunk whole when
 * the rest would be smaller than CHUNK_MIN, and mmapped chunks are whole
 * pages (with their header in the first).
 */
static int
same_chunk(const struct kchunk *k, uint64_t size)
{
	if (size < k->want)
		return 0;
	if (k->aligned)
		return 1;
	if (size - k->want < CHUNK_MIN)
		return 1;
	return !(size & (arch_page_size() - 1)) &&
	       size - k->want < arch_page_size() + CHUNK_DATA;
}

static int
by_class_bytes(const void *a, const void *b)
{
	const struct la_caller_class *x = a, *y = b;

	if (x->attributed_bytes != y->attributed_bytes)
		return x->attributed_bytes > y->attributed_bytes ? -1 : 1;
	if (x->surviving_bytes != y->surviving_bytes)
		return x->surviving_bytes > y->surviving_bytes ? -1 : 1;
	return (x->kept_chunks < y->kept_chunks) -
	       (x->kept_chunks > y->kept_chunks);
}

/*
 * The control group's reuse in class idx, else the pooled one. Estimated
 * as (reused + 1) / (freed + 2), so that a window that saw few frees
 * proves little: with none, the chance is taken as one half (a CI run
 * blamed a churner whose 2 of 2 chunks survived when 0 was assumed).
 */
static double
reuse_rate(const struct la_callers *c, unsigned idx)
{
	if (c->ctl_n[idx] >= CONTROL_MIN)
		return (c->ctl_reused[idx] + 1.0) / (c->ctl_n[idx] + 2.0);
	return (c->info.control_reused + 1.0) / (c->info.control_chunks + 2.0);
}

static unsigned
class_of(uint64_t size)
{
	unsigned idx = size_class_index(size);

	return idx < SIZE_CLASSES ? idx : SIZE_CLASSES - 1;
}

/*
 * The kept chunks of stack si by size class (room for max in cls), with
 * each class's survivors weighed against the control group: returns the
 * classes filled; *attributed gets the bytes beyond chance, all classes.
 */
static unsigned
classes_of(const struct la_callers *c, unsigned si, struct la_caller_class *cls,
	   unsigned max, uint64_t *attributed)
{
	struct la_caller_class all[64];
	unsigned n = 0;

	*attributed = 0;
	for (unsigned i = 0; i < c->n_chunks; i++) {
		const struct kchunk *k = &c->chunks[i];
		uint64_t size = k->size ? k->size : k->want, lo, hi;
		unsigned j;

		if (k->stack != si || k->dead)
			continue;
		size_class_bounds(class_of(size), &lo, &hi);
		for (j = 0; j < n && all[j].chunk_size_min != lo; j++)
			;
		if (j == n) {
			if (n == sizeof(all) / sizeof(all[0]))
				continue;
			all[n++] = (struct la_caller_class){
				.chunk_size_min = lo, .chunk_size_max = hi};
		}
		all[j].kept_chunks++;
		if (k->size) {
			all[j].surviving_chunks++;
			all[j].surviving_bytes += k->size;
		}
	}
	for (unsigned j = 0; j < n; j++) {
		struct la_caller_class *x = &all[j];
		double own;

		if (!c->info.checked)
			continue;
		x->reuse_rate = reuse_rate(c, class_of(x->chunk_size_min));
		x->chance_survivors = x->reuse_rate * x->kept_chunks;
		if (callers_beyond_chance(x->kept_chunks, x->surviving_chunks,
					  x->reuse_rate, &own))
			x->attributed_bytes =
				(uint64_t)((double)x->surviving_bytes * own /
					   x->surviving_chunks);
		*attributed += x->attributed_bytes;
	}
	qsort(all, n, sizeof(all[0]), by_class_bytes);
	if (n > max)
		n = max;
	memcpy(cls, all, n * sizeof(*cls));
	return n;
}

int
la_callers_check(struct la_callers *c, const struct la_snapshot *snap)
{
	struct la_caller_class tmp[1];

	la_error_clear();
	if (snap->info.pid != c->info.pid)
		return la_fail(
			-EINVAL,
			"the snapshot is of process %d, the sample of process %d",
			(int)snap->info.pid, (int)c->info.pid);
	memset(c->ctl_n, 0, SIZE_CLASSES * sizeof(*c->ctl_n));
	memset(c->ctl_reused, 0, SIZE_CLASSES * sizeof(*c->ctl_reused));
	c->info.control_reused = 0;
	for (unsigned i = 0; i < c->n_chunks; i++) {
		struct kchunk *k = &c->chunks[i];
		uint64_t size = 0;
		int r;

		if (k->dead && !k->control)
			continue;
		r = la_snapshot_probe(snap, k->addr, &size);
		if (r < 0)
			return la_fail(
				-EINVAL,
				"the snapshot did not probe the sampled chunks: pass la_callers_probes() in la_snapshot_opts");
		k->size = r && same_chunk(k, size) ? size : 0;
		if (k->control) {
			unsigned idx = class_of(k->want);

			c->ctl_n[idx]++;
			if (k->size) {
				c->ctl_reused[idx]++;
				c->info.control_reused++;
			}
			k->size = 0; /* freed: never a survivor */
		}
	}
	c->info.surviving_chunks = 0;
	c->info.surviving_bytes = 0;
	c->info.attributed_bytes = 0;
	for (unsigned s = 0; s < c->n_stacks; s++) {
		c->stacks[s].surviving = 0;
		c->stacks[s].surviving_bytes = 0;
	}
	for (unsigned i = 0; i < c->n_chunks; i++) {
		const struct kchunk *k = &c->chunks[i];

		if (k->dead || !k->size)
			continue;
		c->stacks[k->stack].surviving++;
		c->stacks[k->stack].surviving_bytes += k->size;
		c->info.surviving_chunks++;
		c->info.surviving_bytes += k->size;
	}
	c->info.checked = 1;
	c->info.checked_unix_ns = snap->info.time_unix_ns;
	c->info.reuse_rate = c->info.control_chunks
				     ? (double)c->info.control_reused /
					       c->info.control_chunks
				     : 0;
	for (unsigned s = 0; s < c->n_stacks; s++) {
		classes_of(c, s, tmp, 0, &c->stacks[s].attributed_bytes);
		c->info.attributed_bytes += c->stacks[s].attributed_bytes;
	}
	sort_stacks(c);
	return 0;
}

unsigned
la_callers_count(const struct la_callers *c)
{
	return c->n_stacks;
}

static int
caller_get(const struct la_callers *c, unsigned i, struct la_caller *out)
{
	/* named on first use (stack_name()): one thread at a time */
	struct la_callers *mc = (struct la_callers *)c;
	struct cstack *st;

	if (i >= c->n_stacks)
		return -ENOENT;
	st = &mc->stacks[c->order[i]];
	stack_name(mc, st);
	memset(out, 0, sizeof(*out));
	out->n_frames = st->n_pcs;
	if (st->frames)
		memcpy(out->frames, st->frames,
		       st->n_pcs * sizeof(*out->frames));
	out->sampled_allocations = st->allocations;
	out->sampled_bytes = st->bytes;
	out->kept_chunks = st->kept - st->freed;
	out->surviving_chunks = st->surviving;
	out->surviving_bytes = st->surviving_bytes;
	out->freed_chunks = st->freed;
	out->n_classes = classes_of(c, c->order[i], out->classes,
				    LA_CALLER_CLASSES, &out->attributed_bytes);
	return 0;
}

int
la_callers_get(const struct la_callers *c, unsigned i, struct la_caller *out,
	       size_t out_sz)
{
	struct la_caller k;
	int err = caller_get(c, i, &k);

	if (!err)
		out_give(out, out_sz, &k, sizeof(k));
	return err;
}
