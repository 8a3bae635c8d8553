/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procinfo.h - what /proc says about a target before we touch it: does it
 * exist, is it a zombie, a kernel thread, ourselves, already traced; why
 * an attach was refused; its memory use. Reads /proc only.
 */
#ifndef LA_PROCINFO_H
#define LA_PROCINFO_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Check that pid names a live user process we could inspect. *tgid gets
 * the process a thread id belongs to. Errors carry a sentence.
 */
int procinfo_check(pid_t pid, pid_t *tgid);
/* Record the sentence that explains an -EPERM from ptrace; returns -EPERM. */
int procinfo_explain_eperm(pid_t pid);
/* The process has exited (gone, or a zombie). */
int procinfo_gone(pid_t pid);
/*
 * CPU time the process has used, user and system, all its threads (the
 * utime and stime of /proc/PID/stat), in ns: the kernel counts in clock
 * ticks (10 ms at USER_HZ 100); age (may be NULL) gets the time since it
 * started. Returns 0 or -errno.
 */
int procinfo_cpu_ns(pid_t pid, uint64_t *ns, uint64_t *age);
/* VmRSS and VmHWM in bytes (0 when unknown). */
void procinfo_memory(pid_t pid, uint64_t *rss, uint64_t *hwm);
/*
 * The value of field ("SigIgn", "x86_Thread_features", ...) in
 * /proc/PID/status (tid 0) or /proc/PID/task/TID/status, blanks and
 * newline stripped. Returns 0, -errno when it cannot be read, -ENOENT
 * when the field is missing.
 */
int procinfo_status_field(pid_t pid, pid_t tid, const char *field, char *buf,
			  size_t len);
/*
 * Does thread tid of pid run with a CET user shadow stack (Linux >= 6.6,
 * "x86_Thread_features: shstk")? A return to an address of our choosing
 * would fault there. 0 when it cannot be told.
 */
int procinfo_thread_has_shstk(pid_t pid, pid_t tid);

#endif
