/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * target.h - start and drive test target processes (heapgen, sleeper) and
 * run commands with captured output, for the Criterion tests.
 *
 * Nothing here asserts: every function returns 0 or a negative errno value
 * and the tests decide. Children get PR_SET_PDEATHSIG(SIGKILL), so they die
 * with the thread that started them; waits name the child's pid, never -1.
 */
#ifndef LA_TESTS_TARGET_H
#define LA_TESTS_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Indexes into the uint64_t[10] arrays filled from mallinfo2 lines. */
enum {
	MI_ARENA,
	MI_ORDBLKS,
	MI_SMBLKS,
	MI_HBLKS,
	MI_HBLKHD,
	MI_USMBLKS,
	MI_FSMBLKS,
	MI_UORDBLKS,
	MI_FORDBLKS,
	MI_KEEPCOST,
	MI_NFIELDS
};

struct target {
	pid_t pid;    /* 0 when not running */
	int to_fd;    /* its stdin, -1 when closed */
	int from_fd;  /* its stdout, -1 when closed */
	char line[1024]; /* last line read (no newline), or an error reason */
	/* Private: bytes read from from_fd after the last line. */
	char rbuf[4096];
	size_t rlen;
};

/*
 * target_path - $LA_TARGETS_DIR/name (make check sets LA_TARGETS_DIR to
 * the built targets; the fallback is "tests/targets"). Returns buf, or
 * NULL when it does not fit in len.
 */
const char *target_path(const char *name, char *buf, size_t len);

/*
 * target_start - fork and exec target_path(name) with argv (argv[0] = name
 * is added; argv may be NULL) and the environment plus env ("K=V" strings,
 * NULL-terminated, or NULL; an entry replaces an inherited variable of the
 * same name). Its stdin and stdout are pipes to t, stderr is inherited.
 * Returns 0, or -errno (exec failures included, e.g. -ENOENT when the
 * target was not built); t is then not running.
 */
int target_start(struct target *t, const char *name, const char *const argv[],
		 const char *const env[]);

/*
 * target_read_line - read one line of the target's stdout into t->line
 * (newline stripped, truncated to fit). Returns 0, -ETIMEDOUT after
 * timeout_ms, or -EPIPE at end of file.
 */
int target_read_line(struct target *t, int timeout_ms);

/* target_send - write cmd and a newline to the target's stdin. -EPIPE when
 * it is gone (without SIGPIPE). */
int target_send(struct target *t, const char *cmd);

/*
 * target_parse_mallinfo - parse "mallinfo2 arena=N ordblks=N smblks=N
 * hblks=N hblkhd=N usmblks=N fsmblks=N uordblks=N fordblks=N keepcost=N"
 * into out[MI_*] (glibc's field order). Returns 0 or -EINVAL.
 */
int target_parse_mallinfo(const char *line, uint64_t out[10]);

/*
 * target_wait_mallinfo - wait up to 20 s for a mallinfo2 line, skipping
 * other lines, and parse it. Returns 0, -ETIMEDOUT, -EPIPE or -EINVAL.
 */
int target_wait_mallinfo(struct target *t, uint64_t out[10]);

/*
 * target_check_unharmed - the target exists and is not a zombie, and in
 * every one of its threads TracerPid is 0 and State is neither t (tracing
 * stop) nor T (stopped). With expect_stopped, every thread must instead be
 * in State T (job control stop) and nothing is sent; a thread in State R
 * is given up to 5 s to get there (a thread detached from a group stop is
 * woken to re-enter it: R until it gets a CPU). Otherwise "again" is
 * sent and a mallinfo2 line must come back within 5 s; it is parsed into
 * out. out may be NULL, and then an "alive" answer (from sleeper) is
 * accepted too. Returns 0, or a negative errno value with the reason in
 * t->line.
 */
int target_check_unharmed(struct target *t, int expect_stopped,
			  uint64_t out[10]);

/*
 * target_stop - send quit, close the pipes, wait up to 5 s for the exit
 * (a stopped target gets SIGCONT), then SIGKILL and reap. Returns the exit
 * status (128 + signal number when killed by a signal), or -errno; -ECHILD
 * when t is not running, so it is safe to call twice.
 */
int target_stop(struct target *t);

/*
 * proc_status_field - the value of field ("State", "TracerPid", ...) in
 * /proc/PID/status, leading blanks and newline removed. Returns 0, -ESRCH
 * when the process does not exist, -ENOENT when the field is missing,
 * -ENAMETOOLONG when it was truncated to fit len.
 */
int proc_status_field(pid_t pid, const char *field, char *buf, size_t len);

struct run_result {
	int status; /* exit code, or 128 + signal number */
	char *out;  /* stdout, NUL-terminated, never NULL after a run */
	char *err;  /* stderr, likewise */
};

/*
 * run_capture - run argv (argv[0] a path, or a name looked up in PATH) with
 * the environment plus env (as for target_start), stdin from /dev/null,
 * capturing stdout and stderr in full. After timeout_ms the child gets
 * SIGKILL and -ETIMEDOUT is returned (r is still filled). Returns 0 or
 * -errno (-ENOENT and the like when the exec fails). Free r with
 * run_result_free() after any return.
 */
int run_capture(const char *const argv[], const char *const env[],
		int timeout_ms, struct run_result *r);

/* run_result_free - free the outputs; r may be zeroed or already freed. */
void run_result_free(struct run_result *r);

/*
 * run_start - start argv (as for run_capture, with the environment as it
 * is) without waiting for it: a program that a test means to signal or
 * kill. Its stdin and stdout are /dev/null, its stderr errfd (a descriptor
 * above 2; -1: /dev/null). Like every child here it has the default
 * action of every signal and dies with the calling thread. Returns its
 * pid once it has been exec'd (a signal sent then reaches the program,
 * not a copy of the test), or -errno.
 */
pid_t run_start(const char *const argv[], int errfd);

/*
 * run_wait - reap pid, a child of ours, within timeout_ms (looking every
 * millisecond). Returns 0 with its status code in *code (the exit code, or
 * 128 + the signal number), -ETIMEDOUT when it still runs, or -errno.
 */
int run_wait(pid_t pid, int timeout_ms, int *code);

/*
 * status_code - a wait status as a shell tells it: the exit code, or 128 +
 * the signal number; -EINVAL for a stop.
 */
int status_code(int st);

/* CLOCK_MONOTONIC in microseconds; sleep that many, resuming after EINTR. */
int64_t now_us(void);
void sleep_us(int64_t us);

/* The leakattach program under test: $LEAKATTACH, else ./leakattach. */
const char *leakattach_path(void);

struct la_mallinfo;
/* The library's mallinfo as the uint64_t[MI_NFIELDS] the targets print. */
void mallinfo_fields(const struct la_mallinfo *mi, uint64_t out[MI_NFIELDS]);

#endif /* LA_TESTS_TARGET_H */
