/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers_tables.h - what a callers window keeps: its stacks and chunks
 * (struct la_callers), filled by the window (callers.c) or read from a
 * file (callers_file.c). Inside sampling/ only.
 */
#ifndef LA_CALLERS_TABLES_H
#define LA_CALLERS_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "leakattach.h"

struct modules;

/* A kept chunk: what a call got, and what the check found there. */
struct kchunk {
	uint64_t addr; /* the chunk header: ptr - 16 */
	uint64_t want; /* the smallest chunk the request fits in */
	uint64_t end_ns; /* when the call returned it */
	uint64_t size; /* found at the check (0: not in use) */
	unsigned stack;
	unsigned char aligned; /* from an aligned function: any size >= want */
	/*
	 * Freed within the window: a recorded call got its address again
	 * later, or a recorded free() (or a moving realloc) let it go.
	 */
	unsigned char dead;
	/*
	 * Dead, so one of the control group: the check also probes its
	 * address, to learn how often a freed address is in use again by
	 * then (maybe by a chunk the window saw: that is what happens to
	 * the chunks freed after the window too).
	 */
	unsigned char control;
};

/*
 * What the window saw at one chunk address, from all threads: the latest
 * return of a call that got it, the latest free of it. Events of several
 * threads come in no global order; these two times order them.
 */
struct aslot {
	uint64_t addr, alloc_end, free_ns;
};

struct cstack {
	uint64_t hash;
	unsigned n_pcs;
	uint64_t pcs[LA_CALLER_FRAMES];
	unsigned allocations, kept, freed;
	uint64_t bytes;
	unsigned surviving;
	uint64_t surviving_bytes;
	uint64_t attributed_bytes; /* after the check: beyond chance */
	struct la_frame *frames; /* named on first use (stack_name()) */
};

struct la_callers {
	struct la_callers_info info;
	struct cstack *stacks;
	unsigned n_stacks;
	unsigned *order; /* stack indexes, as la_callers_get() lists them */
	unsigned *stack_slot; /* hash -> stack index + 1 */
	size_t stack_mask;
	struct kchunk *chunks;
	unsigned n_chunks;
	struct aslot *addrs; /* during the window: open addressing */
	size_t addr_mask;
	unsigned n_addrs;
	uint64_t *probes; /* the live and control chunks' addresses, sorted */
	unsigned n_probes;
	/* after the check: the control group per size class */
	unsigned *ctl_n, *ctl_reused;
	/*
	 * The modules: the session's, shared (modules_ref()), for the
	 * window's unwinding and for the names of the frames on first use
	 * (stack_name()); opened then for a window read from a file. With
	 * the frames named so far (a cache: the same return addresses recur
	 * in many stacks). Both go once every stack is named.
	 */
	struct modules *mods;
	int mods_failed;
	struct la_frame *seen;
	unsigned n_seen, cap_seen, n_named;
	/*
	 * During the window: calls are sampled from the first event's time
	 * until max_ms or max_hits (sample_end), or on to ext_ns while fewer
	 * than MIN_SAMPLE_CALLS came; the frees of the sampled chunks are
	 * then followed for follow_ns more, and the window ends.
	 */
	uint64_t first_ns, sample_end, max_ns, ext_ns, follow_ns;
	unsigned max_hits;
};

/*
 * callers_new - an empty window with its tables, for callers_read();
 * NULL when out of memory. callers_ready - its probes made and its
 * stacks ordered once filled: 0, -ENOMEM, or what naming the modules
 * returned.
 */
struct la_callers *callers_new(void);
int callers_ready(struct la_callers *c);

#endif
