/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * python_heap.h - the Python heap of a snapshot: when the target runs
 * CPython, the pool census and the objects by type of src/lib/python,
 * taken inside the snapshot's stop (session.c calls it between the stop
 * and the resume), then kept as plain data in the snapshot for the public
 * accessors (la_snapshot_python() and friends) and for the tracker. Knows
 * how the python room's parts fit a snapshot, not how pools or objects
 * are read.
 */
#ifndef LA_PYTHON_HEAP_H
#define LA_PYTHON_HEAP_H

#include <stdint.h>
#include <sys/types.h>

#include "glibc/glibc_heap.h"
#include "glibc/malloc_code.h"
#include "leakattach.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "python/pymalloc.h"
#include "python/pyversion.h"

struct maps;
struct memsrc;
struct pytypes;

/* What a session keeps between snapshots. */
struct python_session {
	struct pyversion ver; /* source PYVERSION_NONE: none found yet */
	/*
	 * pymalloc's functions, where the interpreter's symbol table names
	 * them: a thread stopped inside them is inside the allocator
	 * (quiesce.c); n 0 when the interpreter is stripped of them.
	 */
	struct malloc_code code;
	/* PYTHONMALLOC=malloc: no pools, every object a malloc chunk */
	int malloc_only;
	/*
	 * The arenas' spans at the last snapshot whose pools agreed: the
	 * glibc walk's search for mmapped chunks need not read them again
	 * (python_heap_skip()).
	 */
	struct addr_range *arenas;
	unsigned n_arenas;
};

/* Free what ps holds. */
void python_session_free(struct python_session *ps);

/*
 * maps without the arenas of the last snapshot (the glibc walk's maps in
 * a CPython process), into *out (free out->v only): 1 when something was
 * cut, 0 when there was nothing to cut (out untouched), -ENOMEM. The
 * caller must check the walk's mmapped chunks against mp_'s counts: an
 * arena freed since may have given its place to an mmapped chunk, and
 * then the walk is done again on the whole maps.
 */
int python_heap_skip(const struct python_session *ps, const struct maps *maps,
		     struct maps *out);

/* What a snapshot keeps. */
struct snap_python {
	struct la_python info;
	struct la_python_class *classes;
	unsigned n_classes;
	struct la_python_type *types;
	unsigned n_types;
	/* the arenas' spans, for the census of memory (memory.c) */
	struct addr_range *spans;
	uint32_t n_spans;
	/* During the walks: the type census, and which malloc chunks to
	 * name (chunk size at least chunk_min) */
	struct pytypes *pt;
	/*
	 * The reads of the type census, on the session's reader but with a
	 * cache of its own: during the glibc walk the walk's read-ahead
	 * thread uses the session's source (chunk_visit_fn's contract)
	 */
	struct memsrc mem;
	uint64_t chunk_min;
	uint64_t walk_ns;
	int oom; /* a type could not be recorded */
};

/*
 * Before the stop: find the interpreter, and pymalloc's functions for the
 * settle (ps->code), unless known and still mapped. 0 or -errno from
 * reading the maps; a process without CPython is not an error.
 */
int python_heap_prepare(struct python_session *ps, pid_t pid);

/*
 * In the stop, before the glibc walk: when the interpreter ps found is
 * still mapped, ready sp to name objects (sp->info.found 1); else leave
 * sp as it is (no CPython). 0 or -ENOMEM.
 */
int python_heap_begin(struct python_session *ps, pid_t pid, struct memsrc *mem,
		      const struct maps *maps, struct snap_python *sp);

/*
 * In the stop, after the glibc walk: walk pymalloc's pools in the
 * anonymous mappings outside malloc's ranges r (the glibc walk's), and
 * name their blocks' objects. Returns 0, -ESRCH or -ENOMEM; a census
 * that disagrees with itself is not an error (python_heap_consistent()).
 */
int python_heap_pools(struct python_session *ps, struct memsrc *mem,
		      const struct maps *maps, const struct addr_range *r,
		      unsigned nr, struct snap_python *sp);

/* During the glibc walk: an in-use chunk (its header's address, size). */
void python_heap_chunk(struct snap_python *sp, uint64_t chunk, uint64_t size);

/*
 * After the glibc walk, still in the stop: the types into plain data.
 * 0 or -ENOMEM.
 */
int python_heap_finish(struct snap_python *sp);

/* 1 when no Python heap was walked or its pools agreed (retry if not). */
int python_heap_consistent(const struct snap_python *sp);

/* Back to nothing walked (another attempt), or free everything. */
void python_heap_reset(struct snap_python *sp);

#endif
