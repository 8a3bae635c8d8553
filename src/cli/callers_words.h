/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers_words.h - what the reports say of sampled callers, as pure
 * functions (strings in, a string out) that tests can call alone.
 */
#ifndef LA_CALLERS_WORDS_H
#define LA_CALLERS_WORDS_H

#include <stddef.h>

#include "leakattach.h"

/*
 * The location key of a caller's leak entry, "caller:FRAME@LOCATION":
 * FRAME is the first frame's function when a symbol holds it exactly,
 * else its module and link-time offset ("python3.11+0x5064f4": the same
 * in every run of that binary, whatever its load address), else its
 * address (code no file maps), "??" without frames. Two unnamed callers
 * of one location so get two keys. frames: the caller's stack (n may be
 * 0); loc_key: the location's key.
 */
const char *caller_key(const struct la_frame *frames, unsigned n,
		       const char *loc_key, char *buf, size_t len);

/*
 * What the window's control group says: "N % of the chunks freed in the
 * window were in use again", or "no frees seen in the window" when it
 * freed none (the chance of a false survivor is then the prior, one
 * half, not a measure). Returns nonzero when no frees were seen.
 */
int callers_reuse_text(const struct la_callers_info *ci, char *buf, size_t len);

#endif
