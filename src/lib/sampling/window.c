/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window.c - the functions of window.h that are the same for every
 * backend, and those that dispatch to its table.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "sampling/window.h"

int
window_open(const struct window_backend *be, pid_t pid,
	    const struct window_opts *o, struct window **out)
{
	static const struct window_opts none = {.sz = sizeof(none)};

	return be->open(pid, o ? o : &none, out);
}

int
window_run(struct window *w, window_event_fn fn, void *arg)
{
	if (w->ran)
		return la_fail(-EINVAL, "this %s window has run already",
			       w->be->name);
	w->ran = 1;
	return w->be->run(w, fn, arg);
}

void
window_cancel(struct window *w)
{
	__atomic_store_n(&w->cancel, 1, __ATOMIC_RELAXED);
}

const struct window_stats *
window_stats(const struct window *w)
{
	return w->stats;
}

uint64_t
window_fn_addr(const struct window *w, enum alloc_fn fn)
{
	return (unsigned)fn < ALLOC_NFNS ? w->addr[fn] : 0;
}

void
window_close(struct window *w)
{
	if (w)
		w->be->close(w);
}

void
window_opts_to(const struct window_opts *o, void *opts, size_t opts_sz,
	       unsigned *max_hits, unsigned *max_ms, unsigned *stack_size,
	       unsigned *fn_mask)
{
	struct window_opts wo = {0};
	size_t sz;

	memcpy(&wo, o, o->sz && o->sz < sizeof(wo) ? o->sz : sizeof(wo));
	memset(opts, 0, opts_sz);
	if (wo.ext) {
		/* every backend's options begin with their size_t sz */
		memcpy(&sz, wo.ext, sizeof(sz));
		memcpy(opts, wo.ext, sz && sz < opts_sz ? sz : opts_sz);
	}
	memcpy(opts, &opts_sz, sizeof(opts_sz));
	if (wo.max_hits)
		*max_hits = wo.max_hits;
	if (wo.max_ms)
		*max_ms = wo.max_ms;
	if (wo.stack_size)
		*stack_size = wo.stack_size;
	if (wo.fn_mask)
		*fn_mask = wo.fn_mask;
}
