/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * headroom.h - how much more memory a process can take before something
 * stops it: the limit of its memory cgroup (v2 memory.max, v1
 * memory.limit_in_bytes, the nearest over the cgroup and its ancestors)
 * or, the box itself, MemAvailable (/proc/meminfo). What a leak's rate is
 * divided by to say when the process runs out ("at this rate the box is
 * out of memory in ~31 h"). Reads /proc and /sys/fs/cgroup only; the
 * parsers are pure, for unit tests.
 */
#ifndef LA_HEADROOM_H
#define LA_HEADROOM_H

#include <stdint.h>
#include <sys/types.h>

#include "leakattach.h"

/* "MemAvailable:   24073180 kB" of meminfo text: 0 and bytes, -ENOENT. */
int headroom_meminfo(const char *text, uint64_t *bytes);

/*
 * The memory cgroup of a /proc/PID/cgroup text: the v2 path ("0::/a/b")
 * or the v1 memory controller's ("4:memory:/a/b"), into path; *v1 says
 * which. 0, or -ENOENT.
 */
int headroom_cgroup_path(const char *text, char *path, size_t len, int *v1);

/*
 * A limit file's value: a number of bytes, or "max" (v2) and v1's
 * "no limit" (a value near 2^63): then 0 with *bytes UINT64_MAX. -EINVAL.
 */
int headroom_limit_value(const char *text, uint64_t *bytes);

/*
 * The target's headroom now into h (fills limit_bytes, used_bytes,
 * headroom_bytes, headroom_kind). Never fails: what cannot be read is
 * left out (no cgroup limit: the box's MemAvailable; neither:
 * LA_HEADROOM_UNKNOWN).
 */
void headroom_read(pid_t pid, struct la_headroom *h);

#endif
