/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target_file.h - the files of another process, as paths valid in our
 * mount namespace: through /proc/PID/root (a container sees its own
 * files), as named (a chroot in ours), or through /proc/PID/map_files
 * (a deleted or replaced file). Read-only: nothing here opens a file for
 * writing.
 */
#ifndef LA_TARGET_FILE_H
#define LA_TARGET_FILE_H

#include <stddef.h>
#include <sys/types.h>

struct mapping;

/* "/proc/PID/root": prefix a path the process sees with it. */
void target_root(pid_t pid, char *buf, size_t len);

/*
 * A path, valid in our namespace, to the file behind a mapping of the
 * target: /proc/PID/root/PATH when that is still the mapped file (same
 * inode), else PATH (a chroot), else /proc/PID/map_files/START-END (a
 * deleted or replaced file, as after a libc upgrade). -ENOENT when none
 * names the mapped inode.
 */
int target_file_path(pid_t pid, const struct mapping *m, char *buf, size_t len);

#endif
