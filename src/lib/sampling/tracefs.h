/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracefs.h - a tracefs directory to write uprobe definitions into, even
 * where nothing mounted one (containers, minimal VMs): then, with
 * CAP_SYS_ADMIN, a child of ours mounts one in a private mount namespace
 * of its own and we reach it through /proc/CHILD/root. The host's mounts
 * never change. Not here: what is written there (uprobe.c).
 *
 * tracefs has one instance per machine (fs/tracefs/inode.c: every mount
 * shows the same files), so definitions written through a private mount
 * are the machine's definitions, seen and removable through any other.
 */
#ifndef LA_TRACEFS_H
#define LA_TRACEFS_H

#include <sys/types.h>

struct tracefs;

/* A private mount when the machine has none. */
#define TRACEFS_MOUNT 1u
/* A private mount even when the machine has one (tests). */
#define TRACEFS_PRIVATE 2u

/*
 * tracefs_open - the first writable tracefs among /sys/kernel/tracing and
 * /sys/kernel/debug/tracing; else, with TRACEFS_MOUNT, a private mount
 * held by a child (needs CAP_SYS_ADMIN in the initial namespaces). Fails
 * with -ENOENT (none, and none could be mounted: la_errmsg() says why),
 * -ENOMEM, -errno of fork.
 */
int tracefs_open(unsigned flags, struct tracefs **out);

/* The directory ("/sys/kernel/tracing", "/proc/123/root/sys/..."). */
const char *tracefs_dir(const struct tracefs *t);

/* 1 when the mount is our child's, 0 when it is the machine's. */
int tracefs_is_private(const struct tracefs *t);

/* Ends the child (its namespace and mount go with it). Takes NULL. */
void tracefs_close(struct tracefs *t);

#endif
