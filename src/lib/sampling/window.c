/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * window.c - the functions of window.h that are the same for every
 * backend, and those that dispatch to its table.
 */
#include <errno.h>
#include <stdlib.h>
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

void *
window_new(const struct window_backend *be, pid_t pid, size_t size, int *err)
{
	struct window *w;

	if (pid <= 0) {
		*err = la_fail(-EINVAL, "no process %d", (int)pid);
		return NULL;
	}
	w = calloc(1, size);
	if (!w) {
		*err = -ENOMEM;
		return NULL;
	}
	w->be = be;
	return w;
}

void
window_copy_opts(void *dst, size_t dst_sz, const void *src)
{
	size_t sz = 0;

	memset(dst, 0, dst_sz);
	if (src) {
		memcpy(&sz, src, sizeof(sz));
		memcpy(dst, src, sz && sz < dst_sz ? sz : dst_sz);
	}
	memcpy(dst, &dst_sz, sizeof(dst_sz));
}

void
window_fill_opts(const struct window_limits *lim, unsigned *max_hits,
		 unsigned *max_ms, unsigned *stack_size, unsigned *fn_mask)
{
	if (!*max_hits)
		*max_hits = lim->max_hits;
	if (!*max_ms)
		*max_ms = lim->max_ms;
	if (!*stack_size)
		*stack_size = lim->stack_size;
	if (*stack_size > lim->stack_max)
		*stack_size = lim->stack_max;
	if (!*fn_mask)
		*fn_mask = lim->fn_mask;
}

void
window_opts_to(const struct window_opts *o, void *opts, size_t opts_sz,
	       unsigned *max_hits, unsigned *max_ms, unsigned *stack_size,
	       unsigned *fn_mask)
{
	struct window_opts wo;

	window_copy_opts(&wo, sizeof(wo), o);
	window_copy_opts(opts, opts_sz, wo.ext);
	if (wo.max_hits)
		*max_hits = wo.max_hits;
	if (wo.max_ms)
		*max_ms = wo.max_ms;
	if (wo.stack_size)
		*stack_size = wo.stack_size;
	if (wo.fn_mask)
		*fn_mask = wo.fn_mask;
}
