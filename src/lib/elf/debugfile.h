/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debugfile.h - find the separate debug file of a binary: by build-id
 * (DEBUG/.build-id/xx/rest.debug), then by .gnu_debuglink (next to the
 * file, in its .debug/, under DEBUG/<dir>/). Only files whose build-id
 * matches are accepted. Does not read DWARF.
 */
#ifndef LA_DEBUGFILE_H
#define LA_DEBUGFILE_H

#include <stddef.h>

struct elffile;

/*
 * ef: the binary as opened; path: its path inside the target (for the
 * debuglink directories); root: prefix for the target's filesystem
 * ("/proc/PID/root"); debug_dirs: NULL-terminated list of debug roots, each
 * tried with and without the root prefix unless absolute_only.
 * Writes the path into out. -ENOENT when none.
 */
int debugfile_find(const struct elffile *ef, const char *path, const char *root,
		   const char *const *debug_dirs, char *out, size_t len);

#endif
