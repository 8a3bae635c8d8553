/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * int3_proto.h - between the two sides of the int3 backend: the analyser
 * (int3.c, in the caller's process) and the tracer (int3_tracer.c, in
 * the child it forks, which executes la-int3-tracer). The analyser gives
 * the tracer its options on the command line (ARGV_*), the tracer sends
 * records on a SOCK_SEQPACKET socket (fd 3): one REC_READY once armed, a
 * REC_EVENT per completed call (its stack copy after it), one REC_END
 * with its struct int3_stats; or one REC_ERROR with la_errmsg()'s text.
 * The analyser sends nothing: its end closing ends the window. Both ends
 * are one build.
 */
#ifndef LA_INT3_PROTO_H
#define LA_INT3_PROTO_H

#include <stdint.h>
#include <sys/types.h>

#include "sampling/int3.h"

#define MAX_STACK 60000u /* int3_opts.stack_size at most */
#define MSG_MAX 512 /* a REC_ERROR's text, its NUL included */

/* The defaults of struct int3_opts (int3.h), for both sides. */
extern const struct window_limits int3_limits;

enum rec_type { REC_READY = 1, REC_EVENT, REC_END, REC_ERROR };

/*
 * One record per message: this, then its payload. REC_READY: fn the
 * mask of the functions armed, err the refused ones (int3_stats).
 */
struct rec {
	uint32_t type;
	uint32_t fn;
	int32_t tid;
	int32_t err;
	uint64_t time_ns, ip, sp, bp, di, si, dx;
	uint64_t end_ns, ret; /* at the return: its time and rax */
	uint32_t len; /* payload bytes: stack, stats or message */
	uint32_t pad;
};

/*
 * The command line of la-int3-tracer: its name, ARGV_VERSION, the pid and
 * the options max_hits, max_ms, stack_size, fn_mask, limit_ms, follow_ms
 * in decimal, then the ALLOC_NFNS entry addresses in hex.
 */
#define ARGV_VERSION "int3-v1"
#define ARGV_FIXED 9 /* name, version, pid, 6 options; then addresses */

/*
 * int3_tracer_main - the tracer's body, run in the child that
 * int3_window_open() forks; the caller should _exit() with its return
 * value. fd is the socket to the analyser; addr[fn] the entry address of
 * each function to probe (0: not probed). Returns 0, or 1 after sending
 * an error record.
 */
int int3_tracer_main(int fd, pid_t pid, const struct int3_opts *opts,
		     const uint64_t addr[ALLOC_NFNS]);

/*
 * int3_tracer_argv - the main() of la-int3-tracer (the socket on fd 3,
 * the rest on the command line above): int3_tracer_main()'s value, or 2
 * for a command line it cannot read. The caller should _exit() with it.
 */
int int3_tracer_argv(int argc, char **argv);

#endif
