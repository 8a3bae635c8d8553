/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attribute.c - la_callers_attribute(): a growing size class's growth
 * shared among the callers whose sampled chunks survive in it beyond
 * chance. callers.c decides, per caller and class, which survivors are
 * the caller's own (attributed bytes, against the control group); this
 * file only weighs those callers against each other for one location, so
 * that leakattach(1) and any other program on the API name the same
 * callers with the same shares. It reads a window through the public
 * accessors alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/abi.h"
#include "base/error.h"

struct la_attribution {
	unsigned n;
	struct la_caller_share *sh; /* by share, most first */
};

/* Largest share first; on a tie, the window's order of the callers. */
static int
by_share(const void *a, const void *b)
{
	const struct la_caller_share *x = a, *y = b;

	if (x->share != y->share)
		return x->share > y->share ? -1 : 1;
	return x->caller < y->caller ? -1 : x->caller > y->caller;
}

/*
 * The caller's chunks in [min, max], summed over its classes, and its
 * weight: attributed bytes, scaled up when it made more calls than the
 * window kept chunks of (its kept chunks stand for all its calls).
 */
static double
weigh(const struct la_caller *k, const struct la_location *loc,
      struct la_caller_share *sh)
{
	unsigned kept = k->kept_chunks + k->freed_chunks;
	double w;

	for (unsigned q = 0; q < k->n_classes; q++) {
		const struct la_caller_class *cc = &k->classes[q];

		if (cc->chunk_size_min < loc->chunk_size_min ||
		    cc->chunk_size_max > loc->chunk_size_max)
			continue;
		sh->kept_chunks += cc->kept_chunks;
		sh->surviving_chunks += cc->surviving_chunks;
		sh->surviving_bytes += cc->surviving_bytes;
		sh->chance_survivors += cc->chance_survivors;
		sh->attributed_bytes += cc->attributed_bytes;
	}
	w = (double)sh->attributed_bytes;
	if (kept && k->sampled_allocations > kept)
		w = w * k->sampled_allocations / kept;
	return w;
}

int
la_callers_attribute(const struct la_callers *c, const struct la_location *loc,
		     uint64_t growth_bytes, struct la_attribution **out)
{
	unsigned nc = la_callers_count(c);
	struct la_attribution *at;
	struct la_caller *k;
	double *w, total = 0;

	la_error_clear();
	*out = NULL;
	if (loc->kind != LA_LOC_SIZE_CLASS &&
	    loc->kind != LA_LOC_ARENA_SIZE_CLASS)
		return la_fail(
			-EINVAL,
			"callers are attributed to size classes only, not to %s",
			loc->key);
	at = calloc(1, sizeof(*at));
	k = malloc(sizeof(*k));
	w = calloc(nc ? nc : 1, sizeof(*w));
	if (at)
		at->sh = calloc(nc ? nc : 1, sizeof(*at->sh));
	if (!at || !k || !w || !at->sh) {
		la_attribution_free(at);
		free(k);
		free(w);
		return la_fail(-ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < nc; i++) {
		struct la_caller_share sh = {.caller = i};

		if (la_callers_get(c, i, k, sizeof(*k)))
			continue;
		w[at->n] = weigh(k, loc, &sh);
		/* survivors that chance explains: not a caller of the class */
		if (!sh.attributed_bytes)
			continue;
		total += w[at->n];
		at->sh[at->n++] = sh;
	}
	for (unsigned i = 0; i < at->n; i++) {
		at->sh[i].share = total > 0 ? w[i] / total : 0;
		at->sh[i].est_bytes =
			(uint64_t)(at->sh[i].share * (double)growth_bytes);
	}
	qsort(at->sh, at->n, sizeof(*at->sh), by_share);
	free(k);
	free(w);
	*out = at;
	return 0;
}

void
la_attribution_free(struct la_attribution *at)
{
	if (!at)
		return;
	free(at->sh);
	free(at);
}

unsigned
la_attribution_count(const struct la_attribution *at)
{
	return at->n;
}

int
la_attribution_get(const struct la_attribution *at, unsigned i,
		   struct la_caller_share *out, size_t out_sz)
{
	return list_give(at->sh, at->n, sizeof(*at->sh), i, out, out_sz);
}
