/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* callers_words.c - see callers_words.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "callers_words.h"

/*
 * A name a symbol gives exactly: not "" and not "near NAME+0xOFF" (the
 * nearest symbol below, which may be another function than the frame's).
 */
static int
exact_name(const char *fn)
{
	return fn[0] && strncmp(fn, "near ", 5);
}

const char *
caller_key(const struct la_frame *frames, unsigned n, const char *loc_key,
	   char *buf, size_t len)
{
	const struct la_frame *fr = n ? &frames[0] : NULL;
	const char *mod;

	if (!fr) {
		snprintf(buf, len, "caller:??@%s", loc_key);
	} else if (exact_name(fr->function)) {
		snprintf(buf, len, "caller:%s@%s", fr->function, loc_key);
	} else if (fr->module[0]) {
		mod = strrchr(fr->module, '/');
		mod = mod ? mod + 1 : fr->module;
		snprintf(buf, len, "caller:%s+%#" PRIx64 "@%s", mod,
			 fr->module_offset, loc_key);
	} else {
		snprintf(buf, len, "caller:%#" PRIx64 "@%s", fr->pc, loc_key);
	}
	return buf;
}

int
callers_reuse_text(const struct la_callers_info *ci, char *buf, size_t len)
{
	if (!ci->control_chunks) {
		snprintf(buf, len, "no frees seen in the window");
		return 1;
	}
	snprintf(buf, len,
		 "%.0f %% of the chunks freed in the window were in use again",
		 100.0 * ci->reuse_rate);
	return 0;
}
