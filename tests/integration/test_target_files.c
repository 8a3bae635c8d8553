/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_target_files.c - leakattach opens the target's own files, not
 * whatever has that name on the host now: a target in a chroot, a static
 * executable deleted after start, and a libc deleted under a running
 * program (what a libc upgrade does to every running process).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakattach.h>

#include "target.h"

static void
copy_file(const char *from, const char *to)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void
expect_oracle(struct target *t, const uint64_t want[MI_NFIELDS],
	      int no_debuginfo)
{
	struct la_session_opts o = { .sz = sizeof(o),
				     .no_debuginfo = no_debuginfo };
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	uint64_t got[MI_NFIELDS];

	cr_assert_eq(la_session_open(t->pid, &o, &s), 0, "%s", la_errmsg());
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	mallinfo_fields(&mi, got);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(got[i], want[i], "mallinfo field %d: %llu, glibc %llu",
			     i, (unsigned long long)got[i],
			     (unsigned long long)want[i]);
	la_snapshot_free(snap);
	la_session_close(s);
	cr_expect_eq(target_check_unharmed(t, 0, NULL), 0, "%s", t->line);
}

static char *
scratch_dir(const char *tag)
{
	static char dir[128];

	snprintf(dir, sizeof(dir), "/tmp/la-%s-%d", tag, (int)getpid());
	mkdir(dir, 0700);
	return dir;
}

Test(target_files, static_target_in_a_chroot, .timeout = 60)
{
	char root[256], bin[300], src[4096];
	const char *argv[] = { root, "/heapgen", "single", NULL };
	struct target t;
	uint64_t want[MI_NFIELDS];

	snprintf(root, sizeof(root), "%s", scratch_dir("chroot"));
	snprintf(bin, sizeof(bin), "%s/heapgen", root);
	cr_assert(target_path("heapgen-static", src, sizeof(src)));
	copy_file(src, bin);
	cr_assert_eq(target_start(&t, "/usr/sbin/chroot", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s", t.line);
	expect_oracle(&t, want, 1);
	target_stop(&t);
	unlink(bin);
	rmdir(root);
}

Test(target_files, static_executable_deleted_after_start, .timeout = 60)
{
	char dir[256], bin[300], src[4096];
	const char *argv[] = { "threads", NULL };
	struct target t;
	uint64_t want[MI_NFIELDS];

	snprintf(dir, sizeof(dir), "%s", scratch_dir("deleted"));
	snprintf(bin, sizeof(bin), "%s/heapgen", dir);
	cr_assert(target_path("heapgen-static", src, sizeof(src)));
	copy_file(src, bin);
	cr_assert_eq(target_start(&t, bin, argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s", t.line);
	unlink(bin);
	rmdir(dir);
	expect_oracle(&t, want, 1);
	target_stop(&t);
}

Test(target_files, libc_deleted_under_a_running_program, .timeout = 60)
{
	char dir[256], lib[300], env0[400];
	const char *env[] = { env0, NULL };
	const char *argv[] = { "single", NULL };
	struct target t;
	uint64_t want[MI_NFIELDS];

	/* A private copy of libc, loaded instead of the system's, then gone. */
	snprintf(dir, sizeof(dir), "%s", scratch_dir("libc"));
	snprintf(lib, sizeof(lib), "%s/libc.so.6", dir);
	copy_file("/lib/x86_64-linux-gnu/libc.so.6", lib);
	snprintf(env0, sizeof(env0), "LD_LIBRARY_PATH=%s", dir);
	cr_assert_eq(target_start(&t, "heapgen", argv, env), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s", t.line);
	unlink(lib);
	rmdir(dir);
	/* Same build-id as the system's: its debug file still applies. */
	expect_oracle(&t, want, 0);
	expect_oracle(&t, want, 1);
	target_stop(&t);
}
