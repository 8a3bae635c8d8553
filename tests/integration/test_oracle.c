/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_oracle.c - the snapshot's mallinfo equals glibc's own mallinfo2(),
 * field by field, for every heap shape the test targets build: one
 * thread, many thread arenas, an arena of several heaps, arena_max=1,
 * tcache_count=0, mmapped and memaligned chunks, after malloc_trim,
 * calloc/realloc mixes, fastbins, a static executable - each with libc's
 * debug info and again with it hidden from the tool. After every
 * snapshot the target must be unharmed and its heap unchanged.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakattach.h>

#include "target.h"

enum debug_mode { DEBUG_FOUND, DEBUG_HIDDEN };

/*
 * Criterion hands parameters to a worker process where the binary may be
 * mapped elsewhere: no pointers in here, only arrays.
 */
struct oracle_case {
	char target[32];
	char scenario[32];
	char tunables[64]; /* GLIBC_TUNABLES, or "" */
	enum debug_mode debug;
};

static const char *const field[MI_NFIELDS] = {
	"arena", "ordblks", "smblks", "hblks", "hblkhd",
	"usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
};

/* An empty directory: "debug info hidden" without touching the system. */
static const char *
empty_debug_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/la-nodebug-%d", (int)getpid());
	mkdir(dir, 0700);
	return dir;
}

static void
run_case(const struct oracle_case *c)
{
	struct target t;
	const char *argv[] = { c->scenario, NULL };
	char env0[128];
	const char *env[] = { NULL, NULL };
	struct la_session_opts opts = { .sz = sizeof(opts) };
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	struct la_snapshot_info info;
	struct la_layout_info lay;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS], again[MI_NFIELDS];
	int err;

	if (c->tunables[0]) {
		snprintf(env0, sizeof(env0), "GLIBC_TUNABLES=%s", c->tunables);
		env[0] = env0;
	}
	if (c->debug == DEBUG_HIDDEN)
		opts.debug_dir = empty_debug_dir();
	cr_assert_eq(target_start(&t, c->target, argv, env), 0,
		     "cannot start %s", c->target);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s %s: %s",
		     c->target, c->scenario, t.line);

	err = la_session_open(t.pid, &opts, &s);
	cr_assert_eq(err, 0, "open: %s", la_errmsg());
	err = la_snapshot_take(s, &snap);
	cr_assert_eq(err, 0, "snapshot: %s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_layout(snap, &lay, sizeof(lay));
	mallinfo_fields(&mi, got);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(got[i], want[i], "%s %s%s%s: %s is %llu, glibc says %llu",
			     c->target, c->scenario,
			     c->tunables[0] ? " " : "", c->tunables,
			     field[i], (unsigned long long)got[i],
			     (unsigned long long)want[i]);
	cr_expect(info.consistent, "inconsistent: %s", info.inconsistency);
	if (c->debug == DEBUG_HIDDEN || strstr(c->target, "static"))
		cr_expect_eq(lay.source, LA_LAYOUT_SIGNATURE);
	else
		cr_expect_eq(lay.source, LA_LAYOUT_DWARF,
			     "libc debug info (libc6-dbg) was not used");
	la_snapshot_free(snap);
	la_session_close(s);

	/* Unharmed, and its heap exactly as before. */
	cr_assert_eq(target_check_unharmed(&t, 0, again), 0, "%s", t.line);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(again[i], want[i], "the heap changed: %s",
			     field[i]);
	cr_expect_eq(target_stop(&t), 0);
}

#define CASE(tgt, sc, tun) { tgt, sc, tun, DEBUG_FOUND }, { tgt, sc, tun, DEBUG_HIDDEN }

ParameterizedTestParameters(oracle, matches_mallinfo2)
{
	static struct oracle_case cases[] = {
		CASE("heapgen", "idle", ""),
		CASE("heapgen", "single", ""),
		CASE("heapgen", "threads", ""),
		CASE("heapgen", "bigarena", ""),
		CASE("heapgen", "threads", "glibc.malloc.arena_max=1"),
		CASE("heapgen", "threads", "glibc.malloc.tcache_count=0"),
		CASE("heapgen", "fastbins", "glibc.malloc.tcache_count=0"),
		CASE("heapgen", "mmapped", ""),
		CASE("heapgen", "trim", ""),
		CASE("heapgen", "calloc", ""),
		CASE("heapgen", "fastbins", ""),
		CASE("heapgen-static", "single", ""),
		CASE("heapgen-static", "threads", ""),
		CASE("heapgen-static", "mmapped", ""),
	};

	return cr_make_param_array(struct oracle_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct oracle_case *c, oracle, matches_mallinfo2,
		  .timeout = 120)
{
	run_case(c);
}

Test(oracle, dwarf_and_signature_find_the_same_state, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "threads", NULL };
	struct la_session_opts dw = { .sz = sizeof(dw) };
	struct la_session_opts sig = { .sz = sizeof(sig), .no_debuginfo = 1 };
	struct la_session *a, *b;
	struct la_layout_info la, lb;

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, (uint64_t[MI_NFIELDS]){ 0 }), 0);
	cr_assert_eq(la_session_open(t.pid, &dw, &a), 0, "%s", la_errmsg());
	cr_assert_eq(la_session_open(t.pid, &sig, &b), 0, "%s", la_errmsg());
	la_session_layout(a, &la, sizeof(la));
	la_session_layout(b, &lb, sizeof(lb));
	cr_expect_eq(la.source, LA_LAYOUT_DWARF);
	cr_expect_eq(lb.source, LA_LAYOUT_SIGNATURE);
	cr_expect_eq(la.main_arena_addr, lb.main_arena_addr);
	cr_expect_eq(la.mp_addr, lb.mp_addr);
	cr_expect_str_eq(la.glibc_version, lb.glibc_version);
	la_session_close(a);
	la_session_close(b);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(oracle, repeated_snapshots_agree_and_leave_no_trace, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "demo", NULL };
	struct la_session *s;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS];

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0);
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	for (int round = 0; round < 20; round++) {
		struct la_snapshot *snap;
		struct la_mallinfo mi;
		char tracer[32];

		cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
		la_snapshot_mallinfo(snap, &mi, sizeof(mi));
		mallinfo_fields(&mi, got);
		cr_assert_arr_eq(got, want, sizeof(got), "round %d", round);
		la_snapshot_free(snap);
		/* Between snapshots nothing is attached. */
		cr_assert_eq(proc_status_field(t.pid, "TracerPid", tracer,
					       sizeof(tracer)), 0);
		cr_assert_str_eq(tracer, "0");
	}
	la_session_close(s);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(oracle, churn_between_snapshots_is_followed, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "single", NULL };
	struct la_session *s;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS];

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0);
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	for (int round = 0; round < 3; round++) {
		struct la_snapshot *snap;
		struct la_mallinfo mi;

		/* The heap changes; the next snapshot must follow it. */
		cr_assert_eq(target_send(&t, "churn"), 0);
		cr_assert_eq(target_wait_mallinfo(&t, want), 0);
		cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
		la_snapshot_mallinfo(snap, &mi, sizeof(mi));
		mallinfo_fields(&mi, got);
		cr_assert_arr_eq(got, want, sizeof(got), "round %d", round);
		la_snapshot_free(snap);
	}
	la_session_close(s);
	target_stop(&t);
}

Test(oracle, job_control_stopped_target_stays_stopped, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "demo", NULL };
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS];
	char state[64];

	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0);
	kill(t.pid, SIGSTOP);
	for (int i = 0; i < 1000; i++) {
		proc_status_field(t.pid, "State", state, sizeof(state));
		if (state[0] == 'T')
			break;
		usleep(1000);
	}
	cr_assert_eq(state[0], 'T', "the target did not stop: %s", state);
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	mallinfo_fields(&mi, got);
	cr_expect_arr_eq(got, want, sizeof(got));
	la_snapshot_free(snap);
	la_session_close(s);
	/*
	 * Still stopped by job control, and untraced. A thread detached from
	 * a group stop is woken to re-enter it (kernel __ptrace_unlink), so
	 * give it a moment to settle.
	 */
	for (int i = 0; i < 200; i++) {
		if (!target_check_unharmed(&t, 1, NULL))
			break;
		usleep(5000);
	}
	cr_expect_eq(target_check_unharmed(&t, 1, NULL), 0, "%s", t.line);
	kill(t.pid, SIGCONT);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

/* The layout cache: written once from DWARF, then used, never trusted blind. */
static void
snapshot_matches(pid_t pid, const struct la_session_opts *o,
		 const uint64_t want[MI_NFIELDS])
{
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	struct la_layout_info lay;
	uint64_t got[MI_NFIELDS];

	cr_assert_eq(la_session_open(pid, o, &s), 0, "%s", la_errmsg());
	la_session_layout(s, &lay, sizeof(lay));
	cr_expect_eq(lay.source, LA_LAYOUT_DWARF);
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	mallinfo_fields(&mi, got);
	cr_expect_arr_eq(got, want, sizeof(got));
	la_snapshot_free(snap);
	la_session_close(s);
}

Test(oracle, layout_cache_is_used_and_checked, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "threads", NULL };
	char dir[64], cmd[256];
	struct la_session_opts o = { .sz = sizeof(o) };
	uint64_t want[MI_NFIELDS];
	struct stat st1, st2;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/la-cache-%d", (int)getpid());
	o.cache_dir = dir;
	cr_assert_eq(target_start(&t, "heapgen", argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0);

	snapshot_matches(t.pid, &o, want); /* learns from DWARF, saves */
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) = 1", dir);
	cr_assert_eq(system(cmd), 0, "no layout saved in %s", dir);
	snprintf(cmd, sizeof(cmd), "%s/layout-*", dir);
	{
		char path[512];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "ls %s/layout-*", dir);
		p = popen(cmd, "r");
		cr_assert(p && fgets(path, sizeof(path), p));
		pclose(p);
		path[strcspn(path, "\n")] = '\0';
		cr_assert_eq(stat(path, &st1), 0);
		snapshot_matches(t.pid, &o, want); /* from the cache */
		cr_assert_eq(stat(path, &st2), 0);
		cr_expect_eq(st1.st_mtime, st2.st_mtime, "the entry was rewritten");
		cr_expect_eq(st1.st_ino, st2.st_ino, "the entry was rewritten");

		/* A damaged entry is ignored and replaced. */
		f = fopen(path, "r+");
		cr_assert(f);
		fseek(f, 100, SEEK_SET);
		fputs("garbage garbage garbage", f);
		fclose(f);
		snapshot_matches(t.pid, &o, want);
		/* A truncated one too. */
		cr_assert_eq(truncate(path, 10), 0);
		snapshot_matches(t.pid, &o, want);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}
