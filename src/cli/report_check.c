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
