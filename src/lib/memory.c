/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memory.c - the census of the whole process (memory.h): every mapping's
 * Rss, from /proc/PID/smaps, goes to malloc (the part inside the walk's
 * ranges) or to one kind outside it. Read after the target is resumed, so
 * that the pause does not grow: the stack pointers were taken during the
 * stop, and a thread started or ended in between only moves its stack
 * between thread_stacks and anonymous. Each mapping's Rss is given whole,
 * so the parts add up exactly to the sum read; only a mapping partly
 * malloc's (the kernel merges neighbouring anonymous mappings with the
 * same flags, mm/vma.c) is split, by the pages present in its malloc part.
 * Not responsible for the walk, the stop or presenting the figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "memory: "
#include "arch/arch.h"
#include "base/log.h"
#include "glibc/glibc_heap.h"
#include "memory.h"
#include "proc/headroom.h"
#include "proc/procmaps.h"
#include "proc/smaps.h"
#include "ptrace/tracee.h"
#include "snapshot.h"

#define PAGE arch_page_size()

static const char *const kind_names[LA_OUTSIDE_KIND_COUNT] = {
	[LA_OUTSIDE_THREAD_STACKS] = "thread_stacks",
	[LA_OUTSIDE_PYTHON_ARENAS] = "python_arenas",
	[LA_OUTSIDE_ANONYMOUS] = "anonymous",
	[LA_OUTSIDE_FILE] = "file",
	[LA_OUTSIDE_SHARED] = "shared",
};

const char *
la_outside_kind_name(enum la_outside_kind kind)
{
	if ((unsigned)kind >= LA_OUTSIDE_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

/*
 * Shared memory that a private mapping may also name: POSIX shm lives in
 * /dev/shm, memfd_create() files are "/memfd:NAME", SysV segments
 * "/SYSV%08x" (mm/shmem.c, ipc/shm.c).
 */
static int
shmem_path(const char *p)
{
	return !strncmp(p, "/dev/shm/", 9) || !strncmp(p, "/memfd:", 7) ||
	       !strncmp(p, "/SYSV", 5);
}

/* The kind of a mapping's memory that is not malloc's. */
static enum la_outside_kind
kind_of(const struct smaps_entry *e, const uint64_t *sps, unsigned n_sps)
{
	if ((e->prot & MAP_SHARED_) || shmem_path(e->path))
		return LA_OUTSIDE_SHARED;
	if (!strcmp(e->path, "[stack]"))
		return LA_OUTSIDE_THREAD_STACKS;
	for (unsigned i = 0; i < n_sps; i++)
		if (sps[i] >= e->start && sps[i] < e->end)
			return LA_OUTSIDE_THREAD_STACKS;
	if (!e->path[0] || !strcmp(e->path, "[heap]") ||
	    !strncmp(e->path, "[anon:", 6))
		return LA_OUTSIDE_ANONYMOUS;
	/* files, and the kernel's images mapped like one ([vdso], [vvar]) */
	return LA_OUTSIDE_FILE;
}

/* The first range ending after addr. */
static unsigned
first_after(const struct addr_range *r, unsigned n, uint64_t addr)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (r[mid].hi <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bytes of e inside the ranges. */
static uint64_t
covered(const struct smaps_entry *e, const struct addr_range *r, unsigned n)
{
	uint64_t c = 0;

	for (unsigned i = first_after(r, n, e->start);
	     i < n && r[i].lo < e->end; i++)
		c += (r[i].hi < e->end ? r[i].hi : e->end) -
		     (r[i].lo > e->start ? r[i].lo : e->start);
	return c;
}

/* The bytes present in e's parts inside the ranges. 0 or -errno. */
static int
covered_present(const struct smaps_entry *e, const struct addr_range *r,
		unsigned n, mem_present_fn present, void *arg, uint64_t *bytes)
{
	*bytes = 0;
	if (!present)
		return -ENOSYS;
	for (unsigned i = first_after(r, n, e->start);
	     i < n && r[i].lo < e->end; i++) {
		uint64_t p;
		int err = present(arg, r[i].lo > e->start ? r[i].lo : e->start,
				  r[i].hi < e->end ? r[i].hi : e->end, &p);

		if (err)
			return err;
		*bytes += p;
	}
	return 0;
}

/*
 * The Rss of e's part inside the ranges r (c bytes of it): all of it when
 * the ranges cover e, else the pages present there, read a moment after
 * smaps (capped: the target runs), else in proportion.
 */
static uint64_t
part_rss(const struct smaps_entry *e, const struct addr_range *r, unsigned n,
	 uint64_t c, mem_present_fn present, void *arg)
{
	uint64_t len = e->end - e->start, pres = 0;

	if (!c)
		return 0;
	if (c >= len)
		return e->rss;
	if (covered_present(e, r, n, present, arg, &pres))
		pres = (uint64_t)((double)e->rss * (double)c / (double)len) &
		       ~(PAGE - 1);
	return pres < e->rss ? pres : e->rss;
}

int
memory_classify(const struct smaps *sm, const struct mem_owners *own,
		const uint64_t *sps, unsigned n_sps, mem_present_fn present,
		void *arg, struct la_memory *m,
		struct la_outside out[LA_OUTSIDE_KIND_COUNT])
{
	struct addr_range *r, *py = NULL;
	unsigned n, np;

	if (addr_ranges_merge(own->malloc, own->n_malloc, &r, &n) ||
	    addr_ranges_merge(own->python, own->n_python, &py, &np)) {
		free(r);
		free(py);
		return -ENOMEM;
	}
	memset(out, 0, LA_OUTSIDE_KIND_COUNT * sizeof(*out));
	m->measured = 1;
	m->rss_bytes = m->malloc_rss_bytes = m->outside_rss_bytes = 0;
	m->mappings = 0;
	for (size_t i = 0; i < sm->len; i++) {
		const struct smaps_entry *e = &sm->v[i];
		uint64_t len = e->end - e->start, c = 0, cp = 0, mrss, prss;

		m->rss_bytes += e->rss;
		m->mappings++;
		/* a shared mapping is neither allocator's */
		if (!(e->prot & MAP_SHARED_)) {
			c = covered(e, r, n);
			cp = c < len ? covered(e, py, np) : 0;
			if (cp > len - c)
				cp = len - c;
		}
		mrss = part_rss(e, r, n, c, present, arg);
		prss = part_rss(e, py, np, cp, present, arg);
		if (prss > e->rss - mrss)
			prss = e->rss - mrss;
		m->malloc_rss_bytes += mrss;
		if (cp) {
			struct la_outside *o = &out[LA_OUTSIDE_PYTHON_ARENAS];

			o->rss_bytes += prss;
			o->size_bytes += cp;
			o->mappings++;
		}
		if (c + cp < len) {
			struct la_outside *o = &out[kind_of(e, sps, n_sps)];

			o->rss_bytes += e->rss - mrss - prss;
			o->size_bytes +=
				e->size > c + cp ? e->size - c - cp : 0;
			o->mappings++;
		}
	}
	m->outside_rss_bytes = m->rss_bytes - m->malloc_rss_bytes;
	free(r);
	free(py);
	return 0;
}

static int
present_live(void *arg, uint64_t lo, uint64_t hi, uint64_t *bytes)
{
	return smaps_present_bytes(*(pid_t *)arg, lo, hi, bytes);
}

/* Split sm by the walk's ranges and the Python arenas of snap. */
static int
classify_live(pid_t pid, struct la_snapshot *snap, const struct heap_walk *w,
	      const struct smaps *sm)
{
	struct mem_owners own = {w->ranges, w->n_ranges, snap->py.spans,
				 snap->py.n_spans};

	return memory_classify(sm, &own, snap->stack_ptrs, snap->n_stack_ptrs,
			       present_live, &pid, &snap->memory,
			       snap->outside);
}

void
memory_measure(pid_t pid, struct la_snapshot *snap, const struct heap_walk *w)
{
	struct la_memory *m = &snap->memory;
	struct smaps sm;
	uint64_t t0 = la_now_ns();
	int err;

	memset(m, 0, sizeof(*m));
	memset(snap->outside, 0, sizeof(snap->outside));
	headroom_read(pid, &snap->headroom);
	err = smaps_read(pid, &sm);
	if (!err) {
		err = classify_live(pid, snap, w, &sm);
		smaps_free(&sm);
	}
	if (err) {
		memset(m, 0, sizeof(*m));
		memset(snap->outside, 0, sizeof(snap->outside));
		if (err == -ESRCH)
			snprintf(
				m->why, sizeof(m->why),
				"the process exited before its mappings were read");
		else if (err == -EACCES || err == -EPERM)
			snprintf(m->why, sizeof(m->why),
				 "no permission to read /proc/%d/smaps",
				 (int)pid);
		else
			snprintf(m->why, sizeof(m->why),
				 "/proc/%d/smaps could not be read: %s",
				 (int)pid, strerror(-err));
		pr_info("no census of memory outside malloc: %s", m->why);
		return;
	}
	m->malloc_in_use_bytes = snap->totals.counts.in_use_bytes;
	m->malloc_free_bytes = snap->totals.free_bytes;
	m->read_ns = la_now_ns() - t0;
}
