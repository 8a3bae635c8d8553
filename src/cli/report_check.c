/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_check.c - what monitor, check and simulate tell people
 * (report_check_text.c: a line per new leak or retention, the summary
 * with what to do next) and machines (report_check_json.c: the
 * leakattach.check/1 document, which doc/leakattach.1 documents field by
 * field, fields only ever added within a version, and the history line
 * kept per sample). The verdicts themselves come from the library's
 * tracker, the types of a leak from la_types_of(), its callers from
 * la_callers_attribute(); nothing in these files decides anything, except
 * which named types and callers get an entry of their own. Here: what
 * both reports look up.
 */
#include <string.h>

#include "report.h"

const struct loc_types *
report_types_of(const struct check_doc *d, const struct la_location *loc)
{
	for (unsigned i = 0; i < d->n_types; i++)
		if (!strcmp(d->types[i].loc.key, loc->key))
			return &d->types[i];
	return NULL;
}

double
type_share(const struct loc_types *lt, const struct la_type_count *t)
{
	return lt->sampled ? 100.0 * t->chunks / lt->sampled : 0;
}

const struct loc_callers *
report_callers_of(const struct check_doc *d, const struct la_location *loc)
{
	for (unsigned i = 0; i < d->n_callers; i++)
		if (!strcmp(d->callers[i].loc.key, loc->key))
			return &d->callers[i];
	return NULL;
}

/*
 * Exact samples in the history: approximate ones are no evidence
 * (la_tracker_add() never compares them).
 */
unsigned
report_exact_samples(const struct check_doc *d)
{
	struct la_tracker_info ti;

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	return ti.samples > ti.approximate ? ti.samples - ti.approximate : 0;
}

/* Is loc a leak in the tracker now? */
static int
tracker_has(const struct la_tracker *t, const struct la_location *loc,
	    enum la_verdict v)
{
	unsigned n = la_tracker_finding_count(t);
	struct la_finding fd;

	for (unsigned i = 0; i < n; i++)
		if (!la_tracker_finding(t, i, &fd, sizeof(fd)) &&
		    fd.verdict == v && !strcmp(fd.loc.key, loc->key))
			return 1;
	return 0;
}

int
report_is_leak(const struct check_doc *d)
{
	struct la_tracker_info ti;

	la_tracker_info(d->tracker, &ti, sizeof(ti));
	if (ti.leaks)
		return 1;
	/*
	 * A leak reported during this run still decides, unless it has
	 * since stayed flat long enough to be called a plateau (a warm-up).
	 */
	for (unsigned i = 0; i < d->n_seen; i++)
		if (!tracker_has(d->tracker, &d->seen[i].loc,
				 LA_VERDICT_PLATEAU))
			return 1;
	return 0;
}

unsigned
report_samples_needed(const struct check_doc *d)
{
	unsigned need = d->rules->consecutive + 1;
	unsigned have = report_exact_samples(d);
	struct la_tracker_info ti;

	/* simulate is a self-test with its own verdict */
	if (!strcmp(d->command, "simulate") || report_is_leak(d))
		return 0;
	if (have < need)
		return need - have;
	/* a streak that waits for its location's noise */
	la_tracker_info(d->tracker, &ti, sizeof(ti));
	return ti.pending ? 1 : 0;
}

double
report_heap_growth_pct(const struct check_doc *d)
{
	if (!d->heap_first_in_use)
		return 0;
	return 100.0 *
	       ((double)d->heap_last_in_use - (double)d->heap_first_in_use) /
	       (double)d->heap_first_in_use;
}
