/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procinfo.c - see procinfo.h. The EPERM explanation follows strace's
 * diagnose_attach_eperm(): say which rule refused us and what to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "proc/procinfo.h"

struct status {
	char name[64];
	char state;
	pid_t tgid, tracer;
	unsigned threads;
	uid_t uid[3];
	uint64_t rss_kb, hwm_kb;
	uint64_t cap_eff;
};

/* "Name:\tcat", "State:\tS (sleeping)", "Uid:\t1000\t1000\t1000\t1000" ... */
static int
read_status(pid_t pid, struct status *st)
{
	char path[64], line[256];
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned u0, u1, u2;

		if (!strncmp(line, "Name:", 5))
			sscanf(line + 5, " %63[^\n]", st->name);
		else if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &st->state);
		else if (!strncmp(line, "Tgid:", 5))
			st->tgid = (pid_t)atoi(line + 5);
		else if (!strncmp(line, "TracerPid:", 10))
			st->tracer = (pid_t)atoi(line + 10);
		else if (!strncmp(line, "Threads:", 8))
			st->threads = (unsigned)atoi(line + 8);
		else if (!strncmp(line, "VmRSS:", 6))
			st->rss_kb = strtoull(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			st->hwm_kb = strtoull(line + 6, NULL, 10);
		else if (!strncmp(line, "CapEff:", 7))
			st->cap_eff = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "Uid:", 4) &&
			 sscanf(line + 4, "%u %u %u", &u0, &u1, &u2) == 3) {
			st->uid[0] = u0;
			st->uid[1] = u1;
			st->uid[2] = u2;
		}
	}
	fclose(f);
	return 0;
}

/* Field 9 of /proc/PID/stat, after the parenthesised comm. */
/*
 * State and flags of /proc/PID/stat, fields 3 and 9, after the
 * parenthesised comm: "1234 (cat) S 1 1234 1234 0 -1 4194304 ...".
 * Returns -ESRCH when the process is gone.
 */
static int
read_stat(pid_t pid, char *state, unsigned long *flags)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	*state = '?';
	*flags = 0;
	if (!p ||
	    sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", state, flags) < 1)
		return -ESRCH;
	return 0;
}

static unsigned long
stat_flags(pid_t pid)
{
	unsigned long flags;
	char state;

	return read_stat(pid, &state, &flags) ? 0 : flags;
}

int
procinfo_gone(pid_t pid)
{
	unsigned long flags;
	char state;

	return read_stat(pid, &state, &flags) || state == 'Z' || state == 'X';
}

static void
comm_of(pid_t pid, char *buf, size_t len)
{
	struct status st;

	if (read_status(pid, &st) || !st.name[0])
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s", st.name);
}

int
procinfo_check(pid_t pid, pid_t *tgid)
{
	struct status st;
	int err;

	if (pid <= 0)
		return la_fail(-EINVAL, "%d is not a process ID", (int)pid);
	err = read_status(pid, &st);
	if (err == -ESRCH)
		return la_fail(-ESRCH, "no process with PID %d", (int)pid);
	if (err)
		return la_fail(err, "cannot read /proc/%d/status: %s", (int)pid,
			       strerror(-err));
	*tgid = st.tgid ? st.tgid : pid;
	if (*tgid == getpid())
		return la_fail(
			-LA_ESELF,
			"PID %d is leakattach itself: give the PID of the program to inspect",
			(int)pid);
	/* PF_KTHREAD (include/linux/sched.h) */
	if (stat_flags(pid) & 0x00200000)
		return la_fail(
			-LA_EKTHREAD,
			"process %d (%s) is a kernel thread: it has no user-space heap",
			(int)pid, st.name);
	if ((st.state == 'Z' || st.state == 'X') && st.threads <= 1)
		return la_fail(
			-LA_EZOMBIE,
			"process %d (%s) is a zombie: it has exited and holds no heap any more",
			(int)pid, st.name);
	if (st.tracer && st.tracer != getpid()) {
		char comm[64];

		comm_of(st.tracer, comm, sizeof(comm));
		return la_fail(
			-LA_ETRACED,
			"process %d is already traced by process %d (%s): detach that tracer first",
			(int)pid, (int)st.tracer, comm);
	}
	return 0;
}

static int
ptrace_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int
procinfo_explain_eperm(pid_t pid)
{
	struct status st, self;
	int scope = ptrace_scope(), cap;
	struct stat sb;
	char path[64];
	uid_t me = getuid();

	if (read_status(pid, &st))
		return la_fail(-ESRCH, "no process with PID %d", (int)pid);
	read_status(getpid(), &self);
	cap = (self.cap_eff >> 19) & 1; /* CAP_SYS_PTRACE */
	if (st.tracer && st.tracer != getpid()) {
		char comm[64];

		comm_of(st.tracer, comm, sizeof(comm));
		return la_fail(
			-LA_ETRACED,
			"process %d is already traced by process %d (%s): detach that tracer first",
			(int)pid, (int)st.tracer, comm);
	}
	if (scope == 3)
		return la_fail(
			-EPERM,
			"kernel.yama.ptrace_scope is 3: no process may be traced until the next reboot");
	if (!cap && (st.uid[0] != me || st.uid[1] != me || st.uid[2] != me)) {
		struct passwd *pw = getpwuid(st.uid[0]);

		return la_fail(
			-EPERM,
			"process %d belongs to user %s (uid %u): run leakattach as that user, or as root (CAP_SYS_PTRACE)",
			(int)pid, pw ? pw->pw_name : "?", (unsigned)st.uid[0]);
	}
	if (scope == 2 && !cap)
		return la_fail(
			-EPERM,
			"kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may attach: run leakattach as root");
	if (scope == 1 && !cap)
		return la_fail(
			-EPERM,
			"kernel.yama.ptrace_scope is 1: leakattach may attach only to its own children: run it as root (or with CAP_SYS_PTRACE), or set kernel.yama.ptrace_scope=0");
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (!cap && !stat(path, &sb) && sb.st_uid != st.uid[0])
		return la_fail(
			-EPERM,
			"process %d is not dumpable (setuid, or it called prctl(PR_SET_DUMPABLE, 0)): run leakattach as root",
			(int)pid);
	return la_fail(
		-EPERM,
		"permission denied attaching to process %d: run leakattach as root or with CAP_SYS_PTRACE (in a container, add the SYS_PTRACE capability)",
		(int)pid);
}

int
procinfo_cpu_ns(pid_t pid, uint64_t *ns, uint64_t *age)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, start;
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec boot;
	uint64_t tick;
	ssize_t n;
	int fd;

	*ns = 0;
	if (age)
		*age = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* after the command name, which may hold spaces and parentheses */
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads
	 * itrealvalue starttime (proc(5), fields 3 to 22) */
	if (!p || hz <= 0 ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
		   &ut, &st, &start) != 3)
		return -EIO;
	tick = 1000000000ull / (uint64_t)hz;
	*ns = (uint64_t)(ut + st) * tick;
	/* starttime counts from boot, as CLOCK_BOOTTIME does */
	if (age && !clock_gettime(CLOCK_BOOTTIME, &boot)) {
		uint64_t now = (uint64_t)boot.tv_sec * 1000000000ull +
			       (uint64_t)boot.tv_nsec;

		if (now > start * tick)
			*age = now - start * tick;
	}
	return 0;
}

void
procinfo_memory(pid_t pid, uint64_t *rss, uint64_t *hwm)
{
	struct status st;

	*rss = *hwm = 0;
	if (read_status(pid, &st))
		return;
	*rss = st.rss_kb * 1024;
	*hwm = st.hwm_kb * 1024;
}

int
procinfo_status_field(pid_t pid, pid_t tid, const char *field, char *buf,
		      size_t len)
{
	char path[96], line[256];
	size_t flen = strlen(field);
	int err = -ENOENT;
	FILE *f;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status",
			 (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		const char *v = line + flen + 1;

		if (strncmp(line, field, flen) || line[flen] != ':')
			continue;
		v += strspn(v, " \t");
		snprintf(buf, len, "%.*s", (int)strcspn(v, "\n"), v);
		err = 0;
	}
	fclose(f);
	return err;
}

/* "x86_Thread_features: shstk wrss" (Linux >= 6.6, CET user shadow stack) */
int
procinfo_thread_has_shstk(pid_t pid, pid_t tid)
{
	char v[128];

	return !procinfo_status_field(pid, tid, "x86_Thread_features", v,
				      sizeof(v)) &&
	       strstr(v, "shstk");
}
