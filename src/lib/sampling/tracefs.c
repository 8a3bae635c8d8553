/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tracefs.c - find tracefs, or mount a private one (see tracefs.h).
 * Responsible for: the directory and, for a private mount, the child that
 * holds it. Not for: uprobe definitions (uprobe.c).
 *
 * Facts used here (Linux 6.18; mount_namespaces(7), proc(5)):
 *  - unshare(CLONE_NEWNS) gives the child a copy of our mount table; with
 *    "/" made recursively private first, nothing it mounts propagates
 *    back to the host's namespace.
 *  - /proc/PID/root resolves paths in PID's mount namespace, for a
 *    caller allowed to ptrace PID (our own child is).
 *  - The namespace, and the mount in it, end with the last process in it:
 *    the child, which exits when our end of its pipe closes (our close, or
 *    our death) or by PR_SET_PDEATHSIG.
 *  - sysfs has the empty directory /sys/kernel/tracing for tracefs to be
 *    mounted on (kernel/trace/trace.c, tracer_init_tracefs()).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "tracefs: "
#include "base/error.h"
#include "base/log.h"
#include "proc/target_file.h"
#include "sampling/tracefs.h"

#define MOUNT_POINT "/sys/kernel/tracing"

struct tracefs {
	char dir[64];
	pid_t child; /* 0: the machine's mount */
	int pipe; /* the child exits on EOF of its read end */
};

static const char *const host_dirs[] = {"/sys/kernel/tracing",
					"/sys/kernel/debug/tracing"};

/*
 * The child: a mount namespace of its own with tracefs in it. Reports 0 or
 * an errno (as an int) on st, then waits for EOF on rd. Only
 * async-signal-safe calls after fork(): we may have other threads.
 */
static void __attribute__((noreturn)) mount_child(int rd, int st, pid_t parent)
{
	int err = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/*
	 * EBUSY: tracefs is mounted there already (do_add_mount() refuses
	 * the same superblock on its own root), in the namespace we copied:
	 * that mount is ours to use just as well.
	 */
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    (mount("tracefs", MOUNT_POINT, "tracefs",
		   MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) &&
	     errno != EBUSY))
		err = errno;
	if (write(st, &err, sizeof(err)) != sizeof(err) || err)
		_exit(0);
	close(st);
	if (rd != 0 && dup2(rd, 0) != 0)
		_exit(0);
	/* No fd of ours stays open here (a perf fd would outlive us). */
	if (syscall(SYS_close_range, 1u, ~0u, 0u))
		for (int fd = 1; fd < 65536; fd++)
			close(fd);
	while (read(0, &err, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int
mount_private(struct tracefs *t)
{
	pid_t parent = getpid();
	int pfd[2], sfd[2], cerr = 0, err;
	char root[32]; /* "/proc/PID/root" */
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	if (pipe2(sfd, O_CLOEXEC)) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	t->child = fork();
	if (t->child < 0) {
		err = -errno;
		t->child = 0;
		close(pfd[0]);
		close(pfd[1]);
		close(sfd[0]);
		close(sfd[1]);
		return err;
	}
	if (!t->child)
		mount_child(pfd[0], sfd[1], parent);
	close(pfd[0]);
	close(sfd[1]);
	t->pipe = pfd[1];
	do
		n = read(sfd[0], &cerr, sizeof(cerr));
	while (n < 0 && errno == EINTR);
	close(sfd[0]);
	if (n != sizeof(cerr))
		cerr = ECHILD;
	if (cerr)
		return -cerr;
	/* our child's root: the private mount is in its namespace */
	target_root(t->child, root, sizeof(root));
	snprintf(t->dir, sizeof(t->dir), "%s" MOUNT_POINT, root);
	return 0;
}

int
tracefs_open(unsigned flags, struct tracefs **out)
{
	struct tracefs *t = calloc(1, sizeof(*t));
	int err;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->pipe = -1;
	for (size_t i = 0; !(flags & TRACEFS_PRIVATE) &&
			   i < sizeof(host_dirs) / sizeof(host_dirs[0]);
	     i++) {
		char f[128];

		snprintf(f, sizeof(f), "%s/uprobe_events", host_dirs[i]);
		if (!access(f, W_OK)) {
			snprintf(t->dir, sizeof(t->dir), "%s", host_dirs[i]);
			*out = t;
			return 0;
		}
	}
	if (!(flags & (TRACEFS_MOUNT | TRACEFS_PRIVATE))) {
		free(t);
		return la_fail(-ENOENT, "tracefs is not mounted");
	}
	err = mount_private(t);
	if (!err) {
		pr_debug("tracefs is not mounted: using a private mount, %s",
			 t->dir);
		*out = t;
		return 0;
	}
	tracefs_close(t);
	if (err == -ENOMEM)
		return err;
	return la_fail(
		-ENOENT,
		"tracefs is not mounted, and mounting one in a private namespace failed: %s",
		strerror(-err));
}

const char *
tracefs_dir(const struct tracefs *t)
{
	return t->dir;
}

int
tracefs_is_private(const struct tracefs *t)
{
	return t->child > 0;
}

void
tracefs_close(struct tracefs *t)
{
	if (!t)
		return;
	if (t->pipe >= 0)
		close(t->pipe);
	if (t->child > 0)
		while (waitpid(t->child, NULL, 0) < 0 && errno == EINTR)
			;
	free(t);
}
