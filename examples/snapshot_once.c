/* SPDX-License-Identifier: MIT */
/*
 * snapshot_once.c - the smallest useful program on libleakattach: take one
 * snapshot of a process and print what glibc's mallinfo2() would say.
 *
 *   $ ./snapshot_once PID
 *   in use 1234567 bytes, free 89012 bytes, 3 arenas, paused 0.42 ms
 */
#include <stdio.h>
#include <stdlib.h>

#include <leakattach.h>

int
main(int argc, char **argv)
{
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	struct la_snapshot_info info;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PID\n", argv[0]);
		return 64;
	}
	err = la_session_open((pid_t)atoi(argv[1]), NULL, &s);
	if (err) {
		fprintf(stderr, "%s\n", la_errmsg());
		return 2;
	}
	err = la_snapshot_take(s, &snap);
	la_session_close(s);
	if (err) {
		fprintf(stderr, "%s\n", la_errmsg());
		return 2;
	}
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	la_snapshot_info(snap, &info, sizeof(info));
	printf("in use %llu bytes, free %llu bytes, %u arenas, paused %.2f ms\n",
	       (unsigned long long)mi.uordblks, (unsigned long long)mi.fordblks,
	       la_snapshot_arena_count(snap), (double)info.pause_ns / 1e6);
	la_snapshot_free(snap);
	return 0;
}
