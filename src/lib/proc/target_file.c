/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target_file.c - the target's files, reached from our mount namespace
 * (see target_file.h). The one place that names /proc/PID/root.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LOG_PREFIX "target_file: "
#include "base/log.h"
#include "proc/procmaps.h"
#include "proc/target_file.h"

void
target_root(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/%d/root", (int)pid);
}

static int
same_file(const char *path, const struct mapping *m)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == m->inode &&
	       major(st.st_dev) == m->dev_major &&
	       minor(st.st_dev) == m->dev_minor;
}

int
target_file_path(pid_t pid, const struct mapping *m, char *buf, size_t len)
{
	/*
	 * Through the target's root, so containers (another mount namespace)
	 * see their own files; then as named, for a chroot in ours (maps
	 * shows paths from our root). Only the very inode that is mapped.
	 */
	snprintf(buf, len, "/proc/%d/root%s", (int)pid, m->path);
	if (!m->deleted && same_file(buf, m))
		return 0;
	snprintf(buf, len, "%s", m->path);
	if (!m->deleted && same_file(buf, m))
		return 0;
	/*
	 * A deleted or replaced file (after a libc upgrade): the mapping
	 * still has it. Following map_files needs CAP_SYS_ADMIN or
	 * CAP_CHECKPOINT_RESTORE (fs/proc/base.c).
	 */
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	if (same_file(buf, m))
		return 0;
	pr_debug("%s: cannot reach it through /proc/%d/root or map_files",
		 m->path, (int)pid);
	return -ENOENT;
}
