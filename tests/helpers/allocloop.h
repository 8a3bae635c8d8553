/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * allocloop.h - drive the allocator_loop target and the sampler helpers
 * (window_sampler) for the sampling-window backend tests
 * (test_uprobe, test_int3). Backend-neutral: no window type appears here.
 *
 * Nothing here asserts: every function returns 0 or a negative errno value
 * and the tests decide. Where a reason helps, it is left in l->t.line.
 */
#ifndef LA_TESTS_ALLOCLOOP_H
#define LA_TESTS_ALLOCLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampling/window.h" /* struct alloc_event, what both backends deliver */
#include "target.h"

/* A running allocator_loop and what its ready line said. */
struct loop {
	struct target t;
	uint64_t seq_fn; /* address of alloc_sequence() */
	pid_t tids[8]; /* worker thread ids */
	int ntids;
};

/*
 * loop_start - start allocator_loop with threads ("1", "2", ...) workers
 * and parse its "ready pid=P seq_fn=0xADDR tids=T1,T2,..." line (within
 * 20 s). Returns 0; or -errno from target_start, -ETIMEDOUT or -EPIPE
 * (no ready line), -EPROTO (a bad ready line), with the reason in
 * l->t.line.
 */
int loop_start(struct loop *l, const char *threads);

/*
 * loop_command - send cmd and read one line (within 10 s) that must start
 * with reply; the line is left in l->t.line. Returns 0, -EPIPE, -ETIMEDOUT,
 * or -EPROTO (another answer); on failure l->t.line says why.
 */
int loop_command(struct loop *l, const char *cmd, const char *reply);

/* loop_progress - the storm's call count ("progress N"). As loop_command. */
int loop_progress(struct loop *l, unsigned long *calls);

/*
 * loop_rate - calls per second of the storm over ms milliseconds, into
 * *rate. As loop_command.
 */
int loop_rate(struct loop *l, int ms, double *rate);

/*
 * loop_read_seq - after "seq" was sent: read the lines the workers print
 * (within 20 s each) until "done seq", each copied into text[i] (at most
 * 150 characters). *n is the number of lines. Returns 0; -ETIMEDOUT or
 * -EPIPE (as target_read_line); -E2BIG when more than max lines came.
 */
int loop_read_seq(struct loop *l, char (*text)[160], unsigned max, unsigned *n);

/*
 * wait_state - wait up to timeout_ms for /proc/PID/status State to start
 * with want (e.g. 'T'), polling every millisecond. The last State read is
 * left in state ("" when none could be read). Returns 0 or -ETIMEDOUT.
 */
int wait_state(pid_t pid, char want, int timeout_ms, char *state, size_t len);

/*
 * malloc_bytes_check - compare the first 16 bytes of the target's malloc
 * at addr with glibc's malloc in this process (same libc file in both;
 * looked up in libc.so.6 itself, since in a sanitizer build our own
 * "malloc" is the sanitizer's). Returns 0 when they match (no breakpoint
 * left), -EBADMSG when they differ, -ENOENT when libc's malloc is not
 * found here, -EIO when the target's bytes cannot be read.
 */
int malloc_bytes_check(pid_t pid, uint64_t addr);

/*
 * sampler_spawn - fork and exec the helper program name (next to the
 * targets: target_path("")/../helpers/name) with argv[0] = name and args
 * (NULL-terminated); its stdout is a pipe whose read end goes to *out_fd.
 * With pdeathsig, the child gets PR_SET_PDEATHSIG(SIGKILL). An exec
 * failure makes the child exit 127. Returns 0 and *pid, or -errno.
 */
int sampler_spawn(const char *name, const char *const args[], int pdeathsig,
		  pid_t *pid, int *out_fd);

/* Totals of the "window N hits=H lost=L ..." lines the samplers print. */
struct sampler_tally {
	unsigned long windows, hits, lost; /* summed over calls */
	int open; /* last call: its last line said a window was open */
	char err[256]; /* the first "error ..." line seen, or "" */
};

/*
 * sampler_tally - read fd to its end (up to 64 KiB), add its "window" lines
 * to st and set st->open. st must be zeroed before the first call. Returns
 * 0 (read errors end the reading, like end of file).
 */
int sampler_tally(int fd, struct sampler_tally *st);

/* What the window tests keep of one delivered event. */
struct seen {
	pid_t tid;
	enum alloc_fn fn;
	uint64_t size, ptr, old, ip, retaddr, time_ns, end_ns;
	size_t stack_len;
};
#define MAX_SEEN (1 << 18)

/*
 * seen_add - copy ev (and the return address, the first word of its
 * stack copy) into v[*n], then publish *n + 1 with a release store, so
 * that another thread may read v[0 .. *n) with an acquire load. Beyond
 * MAX_SEEN it counts *dropped instead. An ip other than fn_addr (the
 * window's entry address of ev->fn) counts in *bad_ip.
 */
void seen_add(struct seen *v, unsigned long *n, unsigned long *dropped,
	      unsigned long *bad_ip, uint64_t fn_addr,
	      const struct alloc_event *ev);

/* One "ptr tid=T fn=F size=S ptr=P old=O" line that "seq" prints. */
struct loop_call {
	int tid;
	unsigned fn; /* an enum alloc_fn of window.h, by its name */
	unsigned long size;
	unsigned long long ptr, old; /* "(nil)" is 0 */
};

/*
 * loop_parse_call - parse such a line; fn_name(i) names function i for
 * i < nfns (alloc_fn_name of window.h: this file stays apart from the
 * library). Returns 0, or -EPROTO for another line or an unknown name.
 */
int loop_parse_call(const char *text, const char *(*fn_name)(unsigned),
		    unsigned nfns, struct loop_call *out);

#endif /* LA_TESTS_ALLOCLOOP_H */
