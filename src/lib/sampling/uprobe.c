/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uprobe.c - sampling windows on the allocation functions through kernel
 * uprobes (see uprobe.h). Responsible for: the probes on the glibc file
 * the target maps (its functions found by alloc_fns.c), one perf event
 * per (thread, probe), the ring buffers, pairing each entry with its
 * return. Not for: unwinding, symbols, deciding when to sample.
 *
 * Facts used here (perf_event_open(2); kernel/events/core.c,
 * kernel/events/uprobes.c and kernel/trace/trace_uprobe.c of Linux 6.18;
 * doc/design/uprobe.md; verified on this machine):
 *  - The uprobe PMU's type is in /sys/bus/event_source/devices/uprobe/type;
 *    config1 is a path, config2 the FILE offset of the probed instruction,
 *    and the bit named by format/retprobe makes a return probe.
 *  - The path is resolved in the caller's mount namespace to an inode;
 *    the probe is on the inode, so /proc/PID/root/... names the target's
 *    very file when it lives in another namespace.
 *  - An event with pid = N follows thread N only, and mmap() refuses
 *    per-task events with inherit (perf_mmap), so every thread gets its own
 *    events. A CPU-wide event (pid = -1) would instead arm the breakpoint
 *    in every process that maps libc on the machine.
 *  - The breakpoint is set in the mm when the event is opened, not when it
 *    is enabled, and removed when the last event on it is closed, also
 *    when our process dies (the kernel closes its fds): no state of ours
 *    outlives us in the target. A return probe the target is still inside
 *    when that happens returns through the [uprobes] page normally.
 *  - Since Linux 6.12 (and its stable trees) uprobes need CAP_SYS_ADMIN;
 *    CAP_PERFMON and perf_event_paranoid do not matter (commit
 *    ba677dbe77af).
 *  - Closing a uprobe perf event takes about 80 ms here when it is the
 *    last user of its probe: perf_trace_event_unreg() ->
 *    tracepoint_synchronize_unregister() under event_mutex, serialised
 *    machine-wide. Through the PMU every event is the last user of its own
 *    local trace_uprobe.
 *  - A tracefs probe (a line in uprobe_events, then PERF_TYPE_TRACEPOINT
 *    with its id, per task) is shared: its filter lists the perf events
 *    and their mm (trace_uprobe.c, trace_uprobe_filter_add()). Closing an
 *    event that is not the last user only removes it from the filter and,
 *    when no event is left for that mm, the breakpoint from that mm
 *    (uprobe_perf_close() -> uprobe_apply(false)): a few ms at most,
 *    measured. An "anchor" (a disabled per-task event on a child of ours,
 *    opened first, closed last) keeps the target's events from ever being
 *    the last user. The child's own libc gets the breakpoints too; it only
 *    waits in read(2).
 *  - Writing uprobe_events needs only write access to the file, not
 *    CAP_SYS_ADMIN (verified): we still ask for CAP_SYS_ADMIN, so that
 *    both paths are allowed to the same callers. Never open it with
 *    O_TRUNC: that removes every uprobe definition on the machine.
 */
#include <asm/perf_regs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#define LOG_PREFIX "uprobe: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "proc/target_file.h"
#include "sampling/alloc_fns.h"
#include "sampling/tracefs.h"
#include "sampling/uprobe.h"

#define PMU_DIR "/sys/bus/event_source/devices/uprobe"
#define GROUP_PREFIX "leakattach_"

#define DEF_MAX_HITS 2000u
#define DEF_MAX_MS 100u
#define DEF_STACK (16u * 1024)
#define DEF_RING_PAGES 128u
#define DEF_MAX_THREADS 64u
/* A perf record's size is a u16 (struct perf_event_header). */
#define MAX_STACK 60000u
#define RET_STACK 2048u /* posix_memalign's return: finds *memptr */
#define PENDING_MAX 8 /* nested probed calls per thread */
#define RESCAN_NS (10 * 1000000ull) /* look for new threads */
#define GRACE_NS (5 * 1000000ull) /* returns after max_hits */
#define NPROBES (2 * ALLOC_NFNS)

static const struct window_limits limits = {
	.max_hits = DEF_MAX_HITS,
	.max_ms = DEF_MAX_MS,
	.stack_size = DEF_STACK,
	.stack_max = MAX_STACK,
	.fn_mask = UPROBE_FNS_DEFAULT,
};

/* the registers sampled: arguments, result, ip, sp, fp (and lr) */
#define REGS_MASK ARCH_PERF_MASK

/* One probe: a function's entry or return. */
struct probe {
	enum alloc_fn fn;
	int ret;
	unsigned stack; /* PERF_SAMPLE_STACK_USER bytes; 0: none */
	/* tracefs only: */
	char name[48]; /* event name in our group */
	int defined; /* the definition is ours to remove */
	uint64_t tp_id; /* events/GROUP/NAME/id */
	int anchor; /* the anchor event's fd, or -1 */
};

struct pending {
	enum alloc_fn fn;
	uint64_t time_ns, ip, sp, bp, lr, di, si, dx; /* di..dx: args 0-2 */
	unsigned char *stack; /* stack_size bytes, allocated once */
	size_t stack_len;
};

struct uthread {
	pid_t tid;
	int fds[NPROBES]; /* fds[0] leads the group and owns the ring */
	uint64_t ids[NPROBES]; /* PERF_EVENT_IOC_ID */
	int nfds;
	struct perf_event_mmap_page *meta; /* ring: 1 + ring_pages pages */
	size_t map_len;
	struct pending pend[PENDING_MAX];
	unsigned depth;
	int closed;
};

struct uprobe_window {
	struct window win; /* first: a struct window * is one of these */
	pid_t pid;
	struct uprobe_opts o;
	int pmu_type;
	unsigned retbit;
	char path[1100]; /* the libc file, as we reach it */
	struct probe probes[NPROBES];
	int nprobes;
	uint64_t offset[ALLOC_NFNS]; /* file offset, 0: not probed */
	enum alloc_fn alias[ALLOC_NFNS]; /* reported as */
	struct uthread *th;
	unsigned nth, cap_th;
	struct memsrc *mem;
	size_t page, data_len;
	unsigned char *scratch; /* a record that wraps the ring's end */
	uint64_t accepted, frees;
	/* tracefs: the directory ("" for the PMU), our group, the anchor */
	char tracefs[64];
	struct tracefs *tfs;
	char group[48];
	pid_t anchor_pid;
	int anchor_pipe; /* its write end: the child exits on EOF */
	int enabled, stopping;
	struct uprobe_stats st;
};

/*
 * What a window holds of its tracefs probes, moved out of it by
 * window_close() when kept (uprobe_opts.keep) and back into the
 * next window of the session.
 */
struct uprobe_probes {
	char path[1100];
	uint64_t offset[ALLOC_NFNS];
	struct probe probes[NPROBES];
	int nprobes;
	char tracefs[64];
	struct tracefs *tfs;
	char group[48];
	pid_t anchor_pid;
	int anchor_pipe;
	int tracefs_private;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
read_sysfs(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* "8\n" in type; "config:0\n" in format/retprobe. */
static int
read_pmu(struct uprobe_window *w)
{
	char buf[64];
	unsigned bit;
	int err;

	err = read_sysfs(PMU_DIR "/type", buf, sizeof(buf));
	if (err)
		return la_fail(
			-ENOENT,
			"this kernel has no uprobe PMU (%s/type: %s): it needs CONFIG_UPROBE_EVENTS, or sample with ptrace breakpoints: --callers-backend=int3",
			PMU_DIR, strerror(-err));
	w->pmu_type = atoi(buf);
	if (w->pmu_type <= 0)
		return la_fail(-ENOENT, "%s/type holds no PMU number", PMU_DIR);
	w->retbit = 0; /* the historical value, when format/ is missing */
	if (!read_sysfs(PMU_DIR "/format/retprobe", buf, sizeof(buf)) &&
	    sscanf(buf, "config:%u", &bit) == 1 && bit < 64)
		w->retbit = bit;
	return 0;
}

static long
perf_event_open(struct perf_event_attr *a, pid_t pid, int cpu, int group,
		unsigned long flags)
{
	return syscall(SYS_perf_event_open, a, pid, cpu, group, flags);
}

/*
 * The probes from the function a program calls least to the one it calls
 * most, each entry before its return: they are opened in this order and
 * closed in the reverse (open_threads(), close_all()), so that the hot
 * breakpoints are in the target's text for the shortest time.
 */
static void
order_probes(struct uprobe_window *w)
{
	static const enum alloc_fn heat[] = {
		ALLOC_PVALLOC,	ALLOC_VALLOC,	      ALLOC_ALIGNED_ALLOC,
		ALLOC_MEMALIGN, ALLOC_POSIX_MEMALIGN, ALLOC_REALLOC,
		ALLOC_CALLOC,	ALLOC_FREE,	      ALLOC_MALLOC,
	};
	struct probe v[NPROBES];
	int n = 0;

	for (size_t h = 0; h < sizeof(heat) / sizeof(heat[0]); h++)
		for (int i = 0; i < w->nprobes; i++)
			if (w->probes[i].fn == heat[h])
				v[n++] = w->probes[i];
	if (n == w->nprobes)
		memcpy(w->probes, v, n * sizeof(*v));
}

/*
 * The allocation functions (alloc_fns.h) and their probes: an entry's
 * stack for unwinding, memptr's target at posix_memalign's return; free:
 * its entry only, no stack.
 */
static int
resolve(struct uprobe_window *w)
{
	struct alloc_fns fns;
	struct maps maps;
	int err;

	err = procmaps_read(w->pid, &maps);
	if (err)
		return la_fail(err, "cannot read /proc/%d/maps: %s",
			       (int)w->pid, strerror(-err));
	err = alloc_fns_find(w->pid, &maps, w->mem, w->o.fn_mask, &fns);
	if (err)
		goto out;
	memcpy(w->offset, fns.offset, sizeof(w->offset));
	memcpy(w->win.addr, fns.addr, sizeof(w->win.addr));
	memcpy(w->alias, fns.alias, sizeof(w->alias));
	for (int fn = 0; fn < ALLOC_NFNS; fn++) {
		if (!w->win.addr[fn])
			continue;
		w->probes[w->nprobes++] = (struct probe){
			.fn = fn,
			.stack = fn == ALLOC_FREE ? 0 : w->o.stack_size,
			.anchor = -1};
		if (fn != ALLOC_FREE)
			w->probes[w->nprobes++] = (struct probe){
				.fn = fn,
				.ret = 1,
				.stack = fn == ALLOC_POSIX_MEMALIGN ? RET_STACK
								    : 0,
				.anchor = -1};
	}
	order_probes(w);
	/* the kernel resolves the path in our namespace, to the inode */
	err = target_file_path(w->pid, fns.lib, w->path, sizeof(w->path));
	if (err)
		err = la_fail(
			-ENOENT,
			"cannot reach %s of process %d to set uprobes on it",
			fns.lib->path, (int)w->pid);
out:
	procmaps_free(&maps);
	return err;
}

/* ---- tracefs probes and their anchor ------------------------------------- */

static int open_error(struct uprobe_window *w, int err, const struct probe *p);

static int
have_sys_admin(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[CAP_SYS_ADMIN / 32].effective &
		  (1u << (CAP_SYS_ADMIN % 32)));
}

/* One command to uprobe_events: append, never truncate. */
static int
tracefs_cmd(const struct uprobe_window *w, const char *cmd)
{
	char path[128];
	size_t len = strlen(cmd);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/uprobe_events", w->tracefs);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, cmd, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/*
 * Definitions of a leakattach that died (its pid gone) stay, inert, until
 * someone removes them: do it. One still in use (EBUSY) stays.
 */
static void
tracefs_clean_stale(const struct uprobe_window *w)
{
	char path[128], *buf = NULL, *line, *save;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/uprobe_events", w->tracefs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = cap < (16u << 20) ? realloc(buf, cap + 65536)
						     : NULL;

			if (!nb)
				break;
			buf = nb;
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return;
	buf[len] = '\0';
	/* "p:leakattach_123/malloc_e1 /path:0x..." */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *g = strchr(line, ':'), *end, *sp, cmd[160];
		long pid;

		if (!g || strncmp(g + 1, GROUP_PREFIX, strlen(GROUP_PREFIX)))
			continue;
		g++;
		pid = strtol(g + strlen(GROUP_PREFIX), &end, 10);
		sp = strchr(g, ' ');
		if (*end != '/' || pid <= 0 || !sp || pid == (long)getpid() ||
		    !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		*sp = '\0';
		snprintf(cmd, sizeof(cmd), "-:%.150s\n", g);
		if (!tracefs_cmd(w, cmd))
			pr_debug("removed the stale uprobe definition %s", g);
	}
	free(buf);
}

/* Remove our definitions (after every event on them is closed). */
static void
tracefs_undefine(struct uprobe_window *w)
{
	for (int i = 0; i < w->nprobes; i++) {
		struct probe *p = &w->probes[i];
		char cmd[128];
		int err;

		if (!p->defined)
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s/%s\n", w->group, p->name);
		err = tracefs_cmd(w, cmd);
		if (err)
			pr_warn("cannot remove the uprobe definition %s/%s: %s",
				w->group, p->name, strerror(-err));
		p->defined = 0;
	}
}

static int
tracefs_define(struct uprobe_window *w)
{
	static unsigned serial;
	unsigned n = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);

	snprintf(w->group, sizeof(w->group), GROUP_PREFIX "%d", (int)getpid());
	for (int i = 0; i < w->nprobes; i++) {
		struct probe *p = &w->probes[i];
		char cmd[1300], path[256], buf[32];
		int err;

		snprintf(p->name, sizeof(p->name), "%s_%c%u",
			 alloc_fn_name(p->fn), p->ret ? 'r' : 'e', n);
		snprintf(cmd, sizeof(cmd), "%c:%s/%s %s:%#llx\n",
			 p->ret ? 'r' : 'p', w->group, p->name, w->path,
			 (unsigned long long)w->offset[p->fn]);
		err = tracefs_cmd(w, cmd);
		if (err)
			return err;
		p->defined = 1;
		snprintf(path, sizeof(path), "%s/events/%s/%s/id", w->tracefs,
			 w->group, p->name);
		err = read_sysfs(path, buf, sizeof(buf));
		if (err)
			return err;
		p->tp_id = strtoull(buf, NULL, 10);
		if (!p->tp_id)
			return -EINVAL;
	}
	return 0;
}

/*
 * The anchor's child: a process of ours with its own mm that only waits
 * for our end of the pipe to close (our window closing, or our death; and
 * PR_SET_PDEATHSIG as well). It keeps no fd of ours: a copy of another
 * window's perf fd would keep that window's probes alive. Only
 * async-signal-safe calls after fork().
 */
static void __attribute__((noreturn)) anchor_child(int rd, pid_t parent)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	if (rd != 0 && dup2(rd, 0) != 0)
		_exit(0);
	if (syscall(SYS_close_range, 1u, ~0u, 0u))
		for (int fd = 1; fd < 65536; fd++)
			close(fd);
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int
anchor_start(struct uprobe_window *w)
{
	pid_t parent = getpid();
	int pfd[2], err = 0;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	w->anchor_pid = fork();
	if (w->anchor_pid < 0) {
		err = -errno;
		w->anchor_pid = 0;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (!w->anchor_pid)
		anchor_child(pfd[0], parent);
	close(pfd[0]);
	w->anchor_pipe = pfd[1];
	/* Counting events, disabled: they only hold the probes. */
	for (int i = 0; i < w->nprobes; i++) {
		struct perf_event_attr a;
		long fd;

		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_TRACEPOINT;
		a.config = w->probes[i].tp_id;
		a.disabled = 1;
		a.exclude_kernel = 1;
		a.exclude_hv = 1;
		fd = perf_event_open(&a, w->anchor_pid, -1, -1,
				     PERF_FLAG_FD_CLOEXEC);
		if (fd < 0)
			return -errno;
		w->probes[i].anchor = (int)fd;
	}
	return 0;
}

/*
 * After the target's events are closed: close the anchors (each the last
 * user of its probe: about 80 ms), end the child, remove the definitions.
 */
static void
tracefs_release(struct uprobe_window *w)
{
	uint64_t t0 = mono_ns();

	for (int i = 0; i < w->nprobes; i++) {
		if (w->probes[i].anchor >= 0)
			close(w->probes[i].anchor);
		w->probes[i].anchor = -1;
	}
	if (w->anchor_pid > 0) {
		close(w->anchor_pipe);
		while (waitpid(w->anchor_pid, NULL, 0) < 0 && errno == EINTR)
			;
		w->anchor_pid = 0;
	}
	tracefs_undefine(w);
	tracefs_close(w->tfs);
	w->tfs = NULL;
	if (w->tracefs[0])
		w->st.release_ns += mono_ns() - t0;
}

/* Move w's tracefs probes to p, leaving w none to release. */
static void
probes_move_out(struct uprobe_window *w, struct uprobe_probes *p)
{
	memcpy(p->path, w->path, sizeof(p->path));
	memcpy(p->offset, w->offset, sizeof(p->offset));
	memcpy(p->probes, w->probes, sizeof(p->probes));
	p->nprobes = w->nprobes;
	memcpy(p->tracefs, w->tracefs, sizeof(p->tracefs));
	memcpy(p->group, w->group, sizeof(p->group));
	p->tfs = w->tfs;
	p->anchor_pid = w->anchor_pid;
	p->anchor_pipe = w->anchor_pipe;
	p->tracefs_private = w->st.tracefs_private;
	for (int i = 0; i < w->nprobes; i++) {
		w->probes[i].defined = 0;
		w->probes[i].anchor = -1;
	}
	w->tfs = NULL;
	w->anchor_pid = 0;
	w->anchor_pipe = -1;
	w->tracefs[0] = '\0';
}

/* The reverse, into a window that has none of its own yet. */
static void
probes_move_in(struct uprobe_window *w, struct uprobe_probes *p)
{
	for (int i = 0; i < w->nprobes; i++) {
		memcpy(w->probes[i].name, p->probes[i].name,
		       sizeof(w->probes[i].name));
		w->probes[i].defined = p->probes[i].defined;
		w->probes[i].tp_id = p->probes[i].tp_id;
		w->probes[i].anchor = p->probes[i].anchor;
		p->probes[i].defined = 0;
		p->probes[i].anchor = -1;
	}
	memcpy(w->tracefs, p->tracefs, sizeof(w->tracefs));
	memcpy(w->group, p->group, sizeof(w->group));
	w->tfs = p->tfs;
	w->anchor_pid = p->anchor_pid;
	w->anchor_pipe = p->anchor_pipe;
	w->st.tracefs_private = p->tracefs_private;
	p->tfs = NULL;
	p->anchor_pid = 0;
	p->anchor_pipe = -1;
	p->nprobes = 0;
}

/*
 * Can w use the kept probes p? The same file, functions and offsets, every
 * probe defined with its anchor, the anchor's child alive (a dead one's
 * events no longer hold the probes: the target's events would be their
 * last users again) and the tracefs still there.
 */
static int
probes_fit(const struct uprobe_window *w, struct uprobe_probes *p)
{
	char path[128];

	if (strcmp(p->path, w->path) || p->nprobes != w->nprobes ||
	    memcmp(p->offset, w->offset, sizeof(p->offset)))
		return 0;
	for (int i = 0; i < w->nprobes; i++)
		if (p->probes[i].fn != w->probes[i].fn ||
		    p->probes[i].ret != w->probes[i].ret ||
		    !p->probes[i].defined || p->probes[i].anchor < 0)
			return 0;
	if (p->anchor_pid <= 0 || waitpid(p->anchor_pid, NULL, WNOHANG) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/uprobe_events", p->tracefs);
	return !access(path, W_OK);
}

void
uprobe_probes_release(struct uprobe_probes *p)
{
	struct uprobe_window *w;

	if (!p)
		return;
	/* a window holding them releases them, as its own */
	w = calloc(1, sizeof(*w));
	if (w) {
		w->anchor_pipe = -1;
		w->nprobes = p->nprobes;
		memcpy(w->probes, p->probes, sizeof(w->probes));
		for (int i = 0; i < p->nprobes; i++) {
			w->probes[i].defined = 0;
			w->probes[i].anchor = -1;
		}
		probes_move_in(w, p);
		tracefs_release(w);
		free(w);
	}
	free(p);
}

/*
 * Use tracefs: the machine's mount, else one of our own in a private mount
 * namespace (tracefs.h). Needs CAP_SYS_ADMIN either way (uprobes do since
 * Linux 6.12). Returns 1 when the tracefs path is set up, 0 when the PMU
 * is to be used (UPROBE_PMU_ONLY), or a negative error with a sentence:
 * the PMU is never a silent fallback, since removing its probes stalls
 * the target's allocator for seconds (uprobe.h).
 */
static int
tracefs_setup(struct uprobe_window *w)
{
	int err;

	if (w->o.flags & UPROBE_PMU_ONLY)
		return 0;
	if (!have_sys_admin())
		return open_error(w, -EPERM, NULL);
	if (strpbrk(w->path, " \t\n"))
		return la_fail(
			-EOPNOTSUPP,
			"cannot define a uprobe on %s: its path has white space; use --callers-backend=int3",
			w->path);
	err = tracefs_open(w->o.flags & UPROBE_TRACEFS_PRIVATE ? TRACEFS_PRIVATE
							       : TRACEFS_MOUNT,
			   &w->tfs);
	if (err == -ENOENT) {
		char why[200];

		/* la_fail() writes where la_errmsg() points */
		snprintf(why, sizeof(why), "%s", la_errmsg());
		return la_fail(
			-EOPNOTSUPP,
			"%s; without tracefs, removing uprobes would stall process %d for seconds",
			why, (int)w->pid);
	}
	if (err)
		return err;
	snprintf(w->tracefs, sizeof(w->tracefs), "%s", tracefs_dir(w->tfs));
	w->st.tracefs_private = tracefs_is_private(w->tfs);
	tracefs_clean_stale(w);
	err = tracefs_define(w);
	if (!err)
		err = anchor_start(w);
	if (!err)
		return 1;
	la_fail(-EOPNOTSUPP, "tracefs uprobes in %s failed: %s", w->tracefs,
		strerror(-err));
	tracefs_release(w);
	w->st.release_ns = 0;
	w->tracefs[0] = '\0';
	return -EOPNOTSUPP;
}

static int
open_error(struct uprobe_window *w, int err, const struct probe *p)
{
	if (err == -EACCES || err == -EPERM)
		return la_fail(
			err,
			"setting uprobes on process %d needs CAP_SYS_ADMIN (CAP_PERFMON is not enough since Linux 6.12): run leakattach as root, or sample with ptrace breakpoints: --callers-backend=int3",
			(int)w->pid);
	if (err == -ESRCH)
		return la_fail(err, "process %d exited", (int)w->pid);
	return la_fail(err, "cannot set a uprobe on %s%s in %s at %#llx: %s",
		       alloc_fn_name(p->fn), p->ret ? "'s return" : "", w->path,
		       (unsigned long long)w->offset[p->fn], strerror(-err));
}

static void
thread_close(struct uprobe_window *w, struct uthread *t)
{
	if (t->meta)
		munmap(t->meta, t->map_len);
	t->meta = NULL;
	for (int i = 0; i < t->nfds; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	t->nfds = 0;
	t->closed = 1;
	(void)w;
}

/*
 * Open probe i for one thread (its probes are opened in order: i is
 * t->nfds): the first leads the thread's group (one ioctl enables or
 * disables its probes together) and owns the ring the others write into
 * (PERF_EVENT_IOC_SET_OUTPUT: same task, cpu -1).
 * PERF_SAMPLE_IDENTIFIER comes first in every record, so records of
 * events with different sample_type can share the ring. On failure the
 * thread's events stay open: thread_close() them.
 */
static int
event_open(struct uprobe_window *w, struct uthread *t, int i, int enabled)
{
	const struct probe *p = &w->probes[i];
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	if (w->tracefs[0]) {
		a.type = PERF_TYPE_TRACEPOINT;
		a.config = p->tp_id;
	} else {
		a.type = (uint32_t)w->pmu_type;
		a.config = p->ret ? 1ull << w->retbit : 0;
		a.config1 = (uint64_t)(uintptr_t)w->path;
		a.config2 = w->offset[p->fn];
	}
	a.sample_period = 1;
	a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID |
			PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER;
	a.sample_regs_user = REGS_MASK;
	if (p->stack) {
		a.sample_type |= PERF_SAMPLE_STACK_USER;
		a.sample_stack_user = p->stack;
	}
	a.disabled = i == 0 && !enabled;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	/* Wake us at half a ring; poll's timeout covers the rest. */
	a.watermark = 1;
	a.wakeup_watermark = (uint32_t)(w->data_len / 2);
	fd = perf_event_open(&a, t->tid, -1, i ? t->fds[0] : -1,
			     PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		if (err == -EACCES || err == -EPERM || err == -ENOENT ||
		    err == -EINVAL || err == -EOPNOTSUPP)
			open_error(w, err, p);
		return err;
	}
	t->fds[t->nfds++] = (int)fd;
	if (ioctl((int)fd, PERF_EVENT_IOC_ID, &t->ids[i]) < 0)
		return -errno;
	if (i == 0) {
		t->map_len = w->page + w->data_len;
		t->meta = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE,
			       MAP_SHARED, (int)fd, 0);
		if (t->meta == MAP_FAILED) {
			t->meta = NULL;
			return -errno;
		}
	} else if (ioctl((int)fd, PERF_EVENT_IOC_SET_OUTPUT, t->fds[0]) < 0) {
		return -errno;
	}
	return 0;
}

/* Every probe for one thread (one found during the window). */
static int
thread_open(struct uprobe_window *w, struct uthread *t, int enabled)
{
	for (int i = 0; i < w->nprobes; i++) {
		int err = event_open(w, t, i, enabled);

		if (err) {
			thread_close(w, t);
			return err;
		}
	}
	return 0;
}

static int
thread_known(const struct uprobe_window *w, pid_t tid)
{
	unsigned i = 0;

	while (i < w->nth && w->th[i].tid != tid)
		i++;
	return i < w->nth;
}

/* th allocated once for max_threads: no pointer ever moves. */
static int
alloc_threads(struct uprobe_window *w)
{
	if (w->th)
		return 0;
	w->th = calloc(w->o.max_threads, sizeof(*w->th));
	if (!w->th)
		return -ENOMEM;
	w->cap_th = w->o.max_threads;
	return 0;
}

/*
 * What an error opening a thread's events means: it ended (-ESRCH: 0,
 * skip it), no more descriptors or memory (skip it, unless no thread
 * has its events: then the window cannot be), or a refusal for all.
 */
static int
thread_failed(struct uprobe_window *w, int err, int any_open)
{
	if (err == -ESRCH)
		return 0;
	if (err == -EMFILE || err == -ENFILE || err == -ENOMEM) {
		if (!any_open)
			return la_fail(
				err,
				"cannot open uprobe events for process %d: %s",
				(int)w->pid, strerror(-err));
		w->st.win.threads_skipped++;
		return 0;
	}
	return err;
}

/* A thread that appeared during the window gets its probes. */
static int
add_thread(struct uprobe_window *w, pid_t tid)
{
	struct uthread *t;
	int err;

	if (w->nth >= w->o.max_threads) {
		w->st.win.threads_skipped++;
		return 0;
	}
	if (alloc_threads(w))
		return -ENOMEM;
	t = &w->th[w->nth];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	err = thread_open(w, t, w->enabled);
	if (err)
		return thread_failed(w, err, w->nth > 0);
	w->nth++;
	w->st.win.threads++;
	return 0;
}

/*
 * The threads there at the start (placed in w->th by scan_threads()),
 * probe by probe across them: w->probes is ordered coldest function
 * first, malloc last (order_probes()), and a function's breakpoint enters
 * the target's text with its first event, so the target traps on the hot
 * functions only once the other events are open, not while they open (8
 * threads: over 100 events, tens of ms). Threads that fail are closed
 * and dropped at the end.
 */
static int
open_threads(struct uprobe_window *w)
{
	unsigned k = 0;

	for (int i = 0; i < w->nprobes; i++)
		for (unsigned j = 0; j < w->nth; j++) {
			struct uthread *t = &w->th[j];
			unsigned live = 0;
			int err;

			if (t->closed)
				continue;
			err = event_open(w, t, i, w->enabled);
			if (!err)
				continue;
			thread_close(w, t);
			for (unsigned q = 0; q < w->nth; q++)
				live += !w->th[q].closed;
			err = thread_failed(w, err, live > 0);
			if (err)
				return err;
		}
	for (unsigned j = 0; j < w->nth; j++)
		if (!w->th[j].closed)
			w->th[k++] = w->th[j];
	w->nth = k;
	w->st.win.threads += k;
	return 0;
}

/*
 * New threads in /proc/PID/task get their probes: at the start all
 * together (open_threads()), later one by one.
 */
static int
scan_threads(struct uprobe_window *w)
{
	char dir[64];
	struct dirent *e;
	int first = !w->nth, err = 0;
	DIR *d;

	if (first && alloc_threads(w))
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)w->pid);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!err && (e = readdir(d))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);

		if (e->d_name[0] == '.' || *end || tid <= 0 ||
		    thread_known(w, (pid_t)tid))
			continue;
		if (!first) {
			err = add_thread(w, (pid_t)tid);
		} else if (w->nth < w->o.max_threads) {
			memset(&w->th[w->nth], 0, sizeof(*w->th));
			w->th[w->nth++].tid = (pid_t)tid;
		} else {
			w->st.win.threads_skipped++;
		}
	}
	closedir(d);
	if (!err && first)
		err = open_threads(w);
	return err;
}

int
uprobe_window_open(pid_t pid, const struct uprobe_opts *opts,
		   struct window **out)
{
	struct uprobe_window *w;
	struct uprobe_opts o;
	uint64_t t0 = mono_ns();
	size_t page;
	int err;

	*out = NULL;
	window_copy_opts(&o, sizeof(o), opts);
	window_fill_opts(&limits, &o.max_hits, &o.max_ms, &o.stack_size,
			 &o.fn_mask);
	/* The kernel wants a multiple of 8 (perf_copy_attr()). */
	o.stack_size = (o.stack_size + 7) & ~7u;
	if (!o.max_threads)
		o.max_threads = DEF_MAX_THREADS;
	if (!o.max_frees)
		o.max_frees = o.max_hits > UINT32_MAX / 4 ? UINT32_MAX
							  : 4 * o.max_hits;
	if (!o.ring_pages)
		o.ring_pages = DEF_RING_PAGES;
	if (o.ring_pages & (o.ring_pages - 1) || o.ring_pages > 4096)
		return la_fail(
			-EINVAL,
			"the ring buffer needs a power of 2 of pages, at most 4096, not %u",
			o.ring_pages);
	/* A record must fit in the ring with room to spare. */
	page = (size_t)sysconf(_SC_PAGESIZE);
	if (page * o.ring_pages < 2 * (o.stack_size + 4096))
		return la_fail(
			-EINVAL,
			"a ring of %u pages is too small for %u bytes of stack per call",
			o.ring_pages, o.stack_size);
	w = window_new(&uprobe_backend, pid, sizeof(*w), &err);
	if (!w)
		return err;
	w->o = o;
	w->page = page;
	w->data_len = page * o.ring_pages;
	w->win.stats = &w->st.win;
	w->pid = pid;
	w->anchor_pipe = -1;
	w->scratch = malloc(65536);
	if (!w->scratch) {
		err = -ENOMEM;
		goto fail;
	}
	err = memsrc_pid_open(pid, &w->mem);
	if (err) {
		err = la_fail(err, "cannot read process %d: %s", (int)pid,
			      strerror(-err));
		goto fail;
	}
	err = resolve(w);
	if (err)
		goto fail;
	if (w->o.keep && *w->o.keep) {
		struct uprobe_probes *p = *w->o.keep;

		*w->o.keep = NULL;
		if (!(w->o.flags & UPROBE_PMU_ONLY) && probes_fit(w, p)) {
			probes_move_in(w, p);
			w->st.reused = 1;
		}
		uprobe_probes_release(p);
	}
	/* The anchors first: the target's events are never last users. */
	err = w->st.reused ? 1 : tracefs_setup(w);
	if (err < 0)
		goto fail;
	w->st.tracefs = err;
	if (!w->st.tracefs) {
		err = read_pmu(w);
		if (err)
			goto fail;
	}
	err = scan_threads(w);
	if (!err && !w->nth)
		err = la_fail(-ESRCH, "process %d has no thread left",
			      (int)pid);
	if (err) {
		if (err == -ESRCH)
			la_fail(err, "process %d exited", (int)pid);
		goto fail;
	}
	w->st.win.open_ns = mono_ns() - t0;
	*out = &w->win;
	return 0;
fail:
	window_close(&w->win);
	return err;
}

/* ---- records ------------------------------------------------------------ */

/* A bounded reader over one record. */
struct cursor {
	const unsigned char *p, *end;
	int bad;
};

static uint64_t
take_u64(struct cursor *c)
{
	uint64_t v = 0;

	if (c->end - c->p < 8) {
		c->bad = 1;
		c->p = c->end;
		return 0;
	}
	memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

struct sample {
	uint64_t id, time;
	uint32_t pid, tid;
	uint64_t regs[ARCH_PERF_NREGS];
	int have_regs;
	const unsigned char *stack;
	size_t stack_len;
};

/*
 * PERF_RECORD_SAMPLE in perf_event_open(2)'s order: identifier, pid/tid,
 * time, regs_user (abi, then one u64 per mask bit, lowest bit first),
 * stack_user (size, data[size], dyn_size when size != 0). The ring is
 * written by the kernel, but every length is still checked.
 */
static int
parse_sample(struct cursor *c, int with_stack, struct sample *s)
{
	uint64_t v, abi;

	memset(s, 0, sizeof(*s));
	s->id = take_u64(c);
	v = take_u64(c);
	s->pid = (uint32_t)v;
	s->tid = (uint32_t)(v >> 32);
	s->time = take_u64(c);
	abi = take_u64(c);
	if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
		for (int b = 0; b < ARCH_PERF_NREGS; b++)
			if (REGS_MASK & (1ull << b))
				s->regs[b] = take_u64(c);
		s->have_regs = abi == PERF_SAMPLE_REGS_ABI_64;
	}
	if (with_stack) {
		uint64_t size = take_u64(c), dyn;

		if (size) {
			if (size > (uint64_t)(c->end - c->p) ||
			    (uint64_t)(c->end - c->p) - size < 8)
				return -EINVAL;
			s->stack = c->p;
			c->p += size;
			dyn = take_u64(c);
			s->stack_len = dyn < size ? (size_t)dyn : (size_t)size;
		}
	}
	return c->bad ? -EINVAL : 0;
}

static int
probe_of(const struct uthread *t, uint64_t id)
{
	for (int i = 0; i < t->nfds; i++)
		if (t->ids[i] == id)
			return i;
	return -1;
}

static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static void
on_entry(struct uprobe_window *w, struct uthread *t, enum alloc_fn fn,
	 const struct sample *s)
{
	struct pending *p;

	/* After the bounds: only returns of calls already entered count. */
	if (w->stopping || w->accepted >= w->o.max_hits ||
	    w->frees >= w->o.max_frees)
		return;
	if (t->depth == PENDING_MAX) {
		struct pending first = t->pend[0];

		w->st.unfinished++; /* too deep: forget the oldest */
		memmove(&t->pend[0], &t->pend[1],
			(PENDING_MAX - 1) * sizeof(t->pend[0]));
		t->pend[PENDING_MAX - 1] = first;
		t->depth--;
	}
	p = &t->pend[t->depth];
	if (!p->stack) {
		p->stack = malloc(w->o.stack_size);
		if (!p->stack)
			return;
	}
	p->fn = fn;
	p->time_ns = s->time;
	p->ip = s->regs[ARCH_PERF_IP];
	p->sp = s->regs[ARCH_PERF_SP];
	p->bp = s->regs[ARCH_PERF_FP];
	p->lr = ARCH_PERF_LR_VALUE(s->regs);
	p->di = s->regs[ARCH_PERF_ARG0];
	p->si = s->regs[ARCH_PERF_ARG1];
	p->dx = s->regs[ARCH_PERF_ARG2];
	p->stack_len =
		s->stack_len < w->o.stack_size ? s->stack_len : w->o.stack_size;
	memcpy(p->stack, s->stack, p->stack_len);
	t->depth++;
	w->accepted++;
	w->st.win.hits[fn]++;
}

/* A free() entry: delivered at once, no return is probed. */
static int
on_free(struct uprobe_window *w, const struct sample *s, window_event_fn cb,
	void *arg)
{
	struct alloc_event ev;

	if (w->frees >= w->o.max_frees) {
		w->st.frees_dropped++;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.tid = (pid_t)s->tid;
	ev.time_ns = s->time;
	ev.fn = ALLOC_FREE;
	ev.old_ptr = s->regs[ARCH_PERF_ARG0];
	ev.ip = s->regs[ARCH_PERF_IP];
	ev.sp = s->regs[ARCH_PERF_SP];
	ev.bp = s->regs[ARCH_PERF_FP];
	ev.lr = ARCH_PERF_LR_VALUE(s->regs);
	w->frees++;
	w->st.win.hits[ALLOC_FREE]++;
	w->st.win.delivered++;
	return cb ? cb(&ev, arg) : 0;
}

/* posix_memalign's *memptr: from the return's stack copy, else live. */
static uint64_t
memptr_value(struct uprobe_window *w, uint64_t memptr, const struct sample *s,
	     int *racy)
{
	uint64_t sp = s->regs[ARCH_PERF_SP], v = 0;

	*racy = 0;
	if (s->stack && memptr >= sp && memptr - sp <= s->stack_len &&
	    s->stack_len - (memptr - sp) >= 8) {
		memcpy(&v, s->stack + (memptr - sp), 8);
		return v;
	}
	*racy = 1;
	if (memsrc_read(w->mem, memptr, &v, sizeof(v)))
		return 0;
	return v;
}

static int
on_return(struct uprobe_window *w, struct uthread *t, enum alloc_fn fn,
	  const struct sample *s, window_event_fn cb, void *arg)
{
	uint64_t sp = s->regs[ARCH_PERF_SP], rax = s->regs[ARCH_PERF_RET];
	struct alloc_event ev;
	struct pending *p;
	int i, ret;

	/*
	 * The return's sp is the entry's sp + ARCH_RET_SP_DELTA (x86_64: 8,
	 * ret popped the return address; aarch64: 0): an exact pairing that survives lost records, nesting
	 * (realloc(NULL, n) calls malloc) and calls entered before the
	 * window. Entries above the match never returned through us (their
	 * return records were lost): drop them.
	 */
	for (i = (int)t->depth - 1; i >= 0; i--)
		if (t->pend[i].fn == fn &&
		    t->pend[i].sp + ARCH_RET_SP_DELTA == sp)
			break;
	if (i < 0) {
		w->st.unmatched++;
		return 0;
	}
	w->st.unmatched += t->depth - 1 - (unsigned)i;
	p = &t->pend[i];
	memset(&ev, 0, sizeof(ev));
	ev.tid = (pid_t)s->tid;
	ev.time_ns = p->time_ns;
	ev.end_ns = s->time;
	ev.fn = fn;
	ev.ip = p->ip;
	ev.sp = p->sp;
	ev.bp = p->bp;
	ev.lr = p->lr;
	ev.stack = p->stack;
	ev.stack_len = p->stack_len;
	ev.ptr = rax;
	switch (fn) {
	case ALLOC_MALLOC:
	case ALLOC_VALLOC:
	case ALLOC_PVALLOC:
		ev.size = p->di;
		ev.align = fn == ALLOC_MALLOC ? 0 : w->page;
		break;
	case ALLOC_CALLOC:
		ev.size = mul_sat(p->di, p->si);
		break;
	case ALLOC_REALLOC:
		ev.old_ptr = p->di;
		ev.size = p->si;
		break;
	case ALLOC_MEMALIGN:
	case ALLOC_ALIGNED_ALLOC:
		ev.align = p->di;
		ev.size = p->si;
		break;
	case ALLOC_POSIX_MEMALIGN:
		ev.align = p->si;
		ev.size = p->dx;
		/* It returns 0 or an error number, not the pointer. */
		ev.ptr = (uint32_t)rax
				 ? 0
				 : memptr_value(w, p->di, s, &ev.ptr_racy);
		break;
	default:
		break;
	}
	t->depth = (unsigned)i;
	w->st.win.delivered++;
	ret = cb ? cb(&ev, arg) : 0;
	return ret;
}

static int
handle_record(struct uprobe_window *w, struct uthread *t,
	      const unsigned char *rec, size_t len, window_event_fn cb,
	      void *arg)
{
	struct perf_event_header h;
	struct cursor c = {rec + sizeof(h), rec + len, 0};
	struct sample s;
	int i;

	memcpy(&h, rec, sizeof(h));
	switch (h.type) {
	case PERF_RECORD_SAMPLE:
		break;
	case PERF_RECORD_LOST:
		take_u64(&c); /* id */
		w->st.win.lost += take_u64(&c);
		return 0;
	case PERF_RECORD_THROTTLE:
	case PERF_RECORD_UNTHROTTLE:
		/* Samples were dropped in between: sp pairing copes. */
		return 0;
	default:
		w->st.bad_records++;
		return 0;
	}
	/* The identifier is always first: find the probe, then parse. */
	if (len < sizeof(h) + 8) {
		w->st.bad_records++;
		return 0;
	}
	{
		uint64_t id;

		memcpy(&id, rec + sizeof(h), 8);
		i = probe_of(t, id);
	}
	if (i < 0) {
		w->st.bad_records++;
		return 0;
	}
	if (parse_sample(&c, w->probes[i].stack != 0, &s) || !s.have_regs) {
		w->st.bad_records++;
		return 0;
	}
	if (w->probes[i].fn == ALLOC_FREE)
		return on_free(w, &s, cb, arg);
	if (!w->probes[i].ret) {
		on_entry(w, t, w->probes[i].fn, &s);
		return 0;
	}
	return on_return(w, t, w->probes[i].fn, &s, cb, arg);
}

/*
 * Consume one thread's ring (perf_event_open(2), "MMAP layout"): read
 * data_head with acquire, records from data_tail up to it, then publish
 * data_tail with release so that the kernel may reuse the space.
 */
static int
drain(struct uprobe_window *w, struct uthread *t, window_event_fn cb, void *arg)
{
	struct perf_event_mmap_page *m = t->meta;
	const unsigned char *data;
	uint64_t head, tail;
	size_t mask = w->data_len - 1;
	int ret = 0;

	if (!m)
		return 0;
	data = (const unsigned char *)m + w->page;
	head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	tail = m->data_tail;
	while (!ret && tail < head) {
		struct perf_event_header h;
		size_t off = (size_t)(tail & mask);
		const unsigned char *rec;

		/* Records are 8-byte aligned: a header never wraps. */
		if (head - tail < sizeof(h) || off + sizeof(h) > w->data_len) {
			w->st.bad_records++;
			tail = head;
			break;
		}
		memcpy(&h, data + off, sizeof(h));
		if (h.size < sizeof(h) || h.size > head - tail) {
			w->st.bad_records++;
			tail = head; /* lost sync: skip what is there */
			break;
		}
		if (off + h.size <= w->data_len) {
			rec = data + off;
		} else {
			size_t first = w->data_len - off;

			memcpy(w->scratch, data + off, first);
			memcpy(w->scratch + first, data, h.size - first);
			rec = w->scratch;
		}
		ret = handle_record(w, t, rec, h.size, cb, arg);
		tail += h.size;
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
	return ret;
}

static void
set_enabled(struct uprobe_window *w, int on)
{
	for (unsigned i = 0; i < w->nth; i++)
		if (!w->th[i].closed)
			ioctl(w->th[i].fds[0],
			      on ? PERF_EVENT_IOC_ENABLE
				 : PERF_EVENT_IOC_DISABLE,
			      PERF_IOC_FLAG_GROUP);
	w->enabled = on;
}

/*
 * Closing the target's events is what removes its breakpoints. Through
 * tracefs each close only removes a filter (the anchors are the last
 * users): a few ms for all of them. Through the PMU it is slow: each
 * event has its own trace_uprobe, and its release waits for RCU grace
 * periods under event_mutex (perf_uprobe_destroy() ->
 * perf_trace_event_unreg() -> tracepoint_synchronize_unregister()),
 * measured at about 80 ms per event on 6.18, serialised, whoever closes.
 * The breakpoint at a function leaves the target's text when the last
 * event on it closes, so close function by function across the threads,
 * in the reverse of w->probes (order_probes()): malloc first, the hottest
 * breakpoint goes first. The rings are unmapped before: a mapping keeps
 * its event alive.
 */
static void
close_all(struct uprobe_window *w)
{
	uint64_t t0 = mono_ns();

	for (unsigned i = 0; i < w->nth; i++) {
		struct uthread *t = &w->th[i];

		if (t->meta)
			munmap(t->meta, t->map_len);
		t->meta = NULL;
	}
	for (int k = w->nprobes; k-- > 0;)
		for (unsigned i = 0; i < w->nth; i++) {
			struct uthread *t = &w->th[i];

			if (k < t->nfds && t->fds[k] >= 0)
				close(t->fds[k]);
			if (k < t->nfds)
				t->fds[k] = -1;
		}
	for (unsigned i = 0; i < w->nth; i++) {
		w->th[i].nfds = 0;
		w->th[i].closed = 1;
	}
	w->st.win.close_ns += mono_ns() - t0;
}

static int
any_pending(const struct uprobe_window *w)
{
	for (unsigned i = 0; i < w->nth; i++)
		if (!w->th[i].closed && w->th[i].depth)
			return 1;
	return 0;
}

static int
run_window(struct window *win, window_event_fn cb, void *arg)
{
	struct uprobe_window *w = (struct uprobe_window *)win;
	struct pollfd *pfd;
	uint64_t t0, deadline, grace = 0, next_scan;
	int ret = 0, err;

	pfd = calloc(w->o.max_threads, sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	set_enabled(w, 1);
	t0 = mono_ns();
	deadline = t0 + (uint64_t)w->o.max_ms * 1000000ull;
	next_scan = t0 + RESCAN_NS;
	for (;;) {
		uint64_t now = mono_ns(), until = deadline;
		unsigned n = 0;
		int tmo;

		if (w->win.cancel) {
			w->st.win.stop = WINDOW_STOP_CANCEL;
			break;
		}
		if (now >= deadline) {
			w->st.win.stop = WINDOW_STOP_TIME;
			break;
		}
		if (w->accepted >= w->o.max_hits ||
		    w->frees >= w->o.max_frees) {
			/* Let the calls already entered return. */
			if (!grace)
				grace = now + GRACE_NS;
			if (!any_pending(w) || now >= grace) {
				w->st.win.stop = WINDOW_STOP_HITS;
				break;
			}
			until = grace < deadline ? grace : deadline;
		}
		if (now >= next_scan) {
			err = scan_threads(w);
			if (err && err != -ESRCH) {
				ret = err;
				break;
			}
			next_scan = now + RESCAN_NS;
		}
		for (unsigned i = 0; i < w->nth; i++) {
			if (w->th[i].closed)
				continue;
			pfd[n].fd = w->th[i].fds[0];
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		if (!n && kill(w->pid, 0) && errno == ESRCH) {
			w->st.win.stop = WINDOW_STOP_EXIT;
			break;
		}
		if (next_scan < until)
			until = next_scan;
		tmo = (int)((until - now + 999999) / 1000000);
		if (poll(pfd, n, tmo) < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		for (unsigned i = 0, k = 0; !ret && i < w->nth; i++) {
			struct uthread *t = &w->th[i];

			if (t->closed)
				continue;
			ret = drain(w, t, cb, arg);
			/* The thread exited (perf_poll: EPOLLHUP). */
			if (!ret && pfd[k].revents & (POLLHUP | POLLERR)) {
				w->st.unfinished += t->depth;
				t->depth = 0;
				thread_close(w, t);
			}
			k++;
		}
		if (ret) {
			w->st.win.stop = WINDOW_STOP_CALLBACK;
			break;
		}
	}
	/*
	 * Disabling is synchronous (an IPI to the thread's CPU), so after it
	 * the rings hold everything there will be.
	 */
	set_enabled(w, 0);
	w->st.disabled_at_ns = mono_ns();
	w->st.win.run_ns = w->st.disabled_at_ns - t0;
	for (unsigned i = 0; i < w->nth; i++) {
		struct uthread *t = &w->th[i];

		/* No callbacks once one asked to stop or on an error. */
		if (!t->closed) {
			int r = drain(w, t, ret ? NULL : cb, arg);

			if (r && !ret) {
				ret = r;
				w->st.win.stop = WINDOW_STOP_CALLBACK;
			}
		}
		w->st.unfinished += t->depth;
		t->depth = 0;
	}
	close_all(w);
	free(pfd);
	return ret;
}

const struct uprobe_stats *
uprobe_window_stats(const struct window *w)
{
	return &((const struct uprobe_window *)w)->st;
}

static void
close_window(struct window *win)
{
	struct uprobe_window *w = (struct uprobe_window *)win;

	close_all(w);
	/* kept for the session's next window, when they can serve it */
	if (w->o.keep && !*w->o.keep && w->tracefs[0] && w->nprobes &&
	    w->anchor_pid > 0) {
		struct uprobe_probes *p = calloc(1, sizeof(*p));

		if (p) {
			probes_move_out(w, p);
			*w->o.keep = p;
		}
	}
	tracefs_release(w);
	for (unsigned i = 0; i < w->nth; i++) {
		for (int k = 0; k < PENDING_MAX; k++)
			free(w->th[i].pend[k].stack);
	}
	free(w->th);
	memsrc_close(w->mem);
	free(w->scratch);
	free(w);
}

WINDOW_BACKEND(uprobe, "uprobe", (1u << ALLOC_NFNS) - 1, run_window,
	       close_window);
