/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_glibc_versions.c - the oracle of test_oracle.c on glibc versions
 * other than the system's: Debian bullseye's 2.31 (no safe-linking, no
 * mallinfo2, 32-byte heap_info, the pre-2.35 mp_) and trixie's 2.41 (small
 * frees go straight to the smallbins, calloc uses the tcache).
 *
 * make check fetches each suite's libc6, libc6-dev, libc6-dbg and
 * linux-libc-dev with scripts/fetch-glibc into a sysroot and builds
 * heapgen against it (tests/glibc/heapgen-VERSION), to run on that glibc's
 * own loader. The environment tells where (Makefile.am):
 *   LA_GLIBC_DIR   the folder of heapgen-VERSION (and heapgen-VERSION.failed
 *                  with the reason when the fetch failed)
 *   LA_GLIBC_231, LA_GLIBC_241   the sysroots
 * Every case FAILS, never skips, when its glibc could not be fetched.
 *
 * Each case: the snapshot's mallinfo equals the target's own, field by
 * field, with the version's libc6-dbg given as debug_dir (layout from
 * DWARF) and with debug info off (layout from signatures); the snapshot is
 * consistent, names the version, found the target's libc inside the
 * sysroot; the target is unharmed afterwards and its heap unchanged.
 * Per version, DWARF and signatures also find the same main_arena and mp_,
 * and one session follows the heap through several churns.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leakattach.h>

#include "target.h"

enum debug_mode { DEBUG_FOUND, DEBUG_OFF };

/*
 * Criterion hands parameters to a worker process where the binary may be
 * mapped elsewhere: no pointers in here, only arrays.
 */
struct version_case {
	char version[8]; /* "2.31" */
	char scenario[32];
	char tunables[64]; /* GLIBC_TUNABLES, or "" */
	enum debug_mode debug;
};

static const char *const field[MI_NFIELDS] = {
	"arena", "ordblks", "smblks", "hblks", "hblkhd",
	"usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
};

/* The environment variable naming the version's sysroot: LA_GLIBC_231. */
static void
root_var(const char *version, char *buf, size_t len)
{
	char digits[8];
	size_t n = 0;

	for (const char *p = version; *p && n + 1 < sizeof(digits); p++)
		if (*p != '.')
			digits[n++] = *p;
	digits[n] = '\0';
	snprintf(buf, len, "LA_GLIBC_%s", digits);
}

/*
 * The heapgen built for version and its sysroot (canonical), or fail the
 * test, saying why: not run through make check, or the fetch failed.
 */
static void
glibc_paths(const char *version, char *prog, size_t plen,
	    char root[PATH_MAX])
{
	const char *dir = getenv("LA_GLIBC_DIR");
	char var[32], why[512] = "", failed[PATH_MAX];
	const char *r;
	FILE *f;

	root_var(version, var, sizeof(var));
	r = getenv(var);
	cr_assert(dir && *dir && r && *r,
		  "LA_GLIBC_DIR and %s are not set: run this test with make check",
		  var);
	snprintf(prog, plen, "%s/heapgen-%s", dir, version);
	if (access(prog, X_OK)) {
		snprintf(failed, sizeof(failed), "%s.failed", prog);
		f = fopen(failed, "r");
		if (f) {
			if (!fgets(why, sizeof(why), f))
				why[0] = '\0';
			fclose(f);
			why[strcspn(why, "\n")] = '\0';
		}
		cr_assert_fail("glibc %s: %s was not built: %s", version, prog,
			       why[0] ? why
				      : "run make check (it fetches the packages with scripts/fetch-glibc)");
	}
	cr_assert_not_null(realpath(r, root), "glibc %s: sysroot %s: %s",
			   version, r, strerror(errno));
}

static void
run_case(const struct version_case *c)
{
	struct target t;
	const char *argv[] = { c->scenario, NULL };
	char env0[128], prog[PATH_MAX], root[PATH_MAX], dbg[PATH_MAX + 32];
	const char *env[] = { NULL, NULL };
	struct la_session_opts opts = { .sz = sizeof(opts) };
	struct la_session *s;
	struct la_snapshot *snap;
	struct la_mallinfo mi;
	struct la_snapshot_info info;
	struct la_layout_info lay;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS], again[MI_NFIELDS];
	unsigned major = 0, minor = 0;
	int err, want_sl;

	glibc_paths(c->version, prog, sizeof(prog), root);
	/* Safe-linking came with 2.32 and was never backported. */
	sscanf(c->version, "%u.%u", &major, &minor);
	want_sl = major > 2 || (major == 2 && minor >= 32);
	if (c->tunables[0]) {
		snprintf(env0, sizeof(env0), "GLIBC_TUNABLES=%s", c->tunables);
		env[0] = env0;
	}
	if (c->debug == DEBUG_FOUND) {
		snprintf(dbg, sizeof(dbg), "%s/usr/lib/debug", root);
		opts.debug_dir = dbg;
	} else {
		opts.no_debuginfo = 1;
	}
	cr_assert_eq(target_start(&t, prog, argv, env), 0, "cannot start %s",
		     prog);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s %s: %s", prog,
		     c->scenario, t.line);

	err = la_session_open(t.pid, &opts, &s);
	cr_assert_eq(err, 0, "glibc %s %s: open: %s", c->version, c->scenario,
		     la_errmsg());
	err = la_snapshot_take(s, &snap);
	cr_assert_eq(err, 0, "glibc %s %s: snapshot: %s", c->version,
		     c->scenario, la_errmsg());
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_layout(snap, &lay, sizeof(lay));
	mallinfo_fields(&mi, got);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(got[i], want[i],
			     "glibc %s %s%s%s (%s): %s is %llu, glibc says %llu",
			     c->version, c->scenario, c->tunables[0] ? " " : "",
			     c->tunables,
			     c->debug == DEBUG_FOUND ? "DWARF" : "signatures",
			     field[i], (unsigned long long)got[i],
			     (unsigned long long)want[i]);
	cr_expect(info.consistent, "glibc %s %s: inconsistent: %s", c->version,
		  c->scenario, info.inconsistency);
	cr_expect_str_eq(lay.glibc_version, c->version);
	cr_expect(!strncmp(lay.libc_path, root, strlen(root)),
		  "glibc %s: the target's libc %s is not the one in %s",
		  c->version, lay.libc_path, root);
	if (c->debug == DEBUG_FOUND)
		cr_expect_eq(lay.source, LA_LAYOUT_DWARF,
			     "glibc %s: the debug info in %s was not used",
			     c->version, dbg);
	else
		cr_expect_eq(lay.source, LA_LAYOUT_SIGNATURE);
	cr_expect(lay.safe_linking < 0 || lay.safe_linking == want_sl,
		  "glibc %s: safe-linking detected %s", c->version,
		  lay.safe_linking ? "on" : "off");
	la_snapshot_free(snap);
	la_session_close(s);

	/* Unharmed, and its heap exactly as before. */
	cr_assert_eq(target_check_unharmed(&t, 0, again), 0, "%s", t.line);
	for (int i = 0; i < MI_NFIELDS; i++)
		cr_expect_eq(again[i], want[i], "the heap changed: %s",
			     field[i]);
	cr_expect_eq(target_stop(&t), 0);
}

#define CASE(v, sc, tun) \
	{ v, sc, tun, DEBUG_FOUND }, { v, sc, tun, DEBUG_OFF }
#define VERSION_CASES(v)                                      \
	CASE(v, "idle", ""), CASE(v, "single", ""),            \
		CASE(v, "threads", ""), CASE(v, "bigarena", ""),   \
		CASE(v, "mmapped", ""), CASE(v, "trim", ""),       \
		CASE(v, "calloc", ""), CASE(v, "fastbins", ""),    \
		CASE(v, "threads", "glibc.malloc.arena_max=1"),    \
		CASE(v, "threads", "glibc.malloc.tcache_count=0"), \
		CASE(v, "fastbins", "glibc.malloc.tcache_count=0")

ParameterizedTestParameters(glibc_versions, matches_mallinfo)
{
	static struct version_case cases[] = {
		VERSION_CASES("2.31"),
		VERSION_CASES("2.41"),
	};

	return cr_make_param_array(struct version_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct version_case *c, glibc_versions, matches_mallinfo,
		  .timeout = 120)
{
	run_case(c);
}

struct version_only {
	char version[8];
};

ParameterizedTestParameters(glibc_versions, dwarf_and_signature_agree)
{
	static struct version_only v[] = { { "2.31" }, { "2.41" } };

	return cr_make_param_array(struct version_only, v,
				   sizeof(v) / sizeof(v[0]));
}

/* Both ways find the same main_arena and mp_, and the same version. */
ParameterizedTest(struct version_only *v, glibc_versions,
		  dwarf_and_signature_agree, .timeout = 60)
{
	struct target t;
	const char *argv[] = { "threads", NULL };
	char prog[PATH_MAX], root[PATH_MAX], dbg[PATH_MAX + 32];
	struct la_session_opts dw = { .sz = sizeof(dw) };
	struct la_session_opts sig = { .sz = sizeof(sig), .no_debuginfo = 1 };
	struct la_session *a, *b;
	struct la_layout_info la, lb;

	glibc_paths(v->version, prog, sizeof(prog), root);
	snprintf(dbg, sizeof(dbg), "%s/usr/lib/debug", root);
	dw.debug_dir = dbg;
	cr_assert_eq(target_start(&t, prog, argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, (uint64_t[MI_NFIELDS]){ 0 }), 0,
		     "%s", t.line);
	cr_assert_eq(la_session_open(t.pid, &dw, &a), 0, "%s", la_errmsg());
	cr_assert_eq(la_session_open(t.pid, &sig, &b), 0, "%s", la_errmsg());
	la_session_layout(a, &la, sizeof(la));
	la_session_layout(b, &lb, sizeof(lb));
	cr_expect_eq(la.source, LA_LAYOUT_DWARF);
	cr_expect_eq(lb.source, LA_LAYOUT_SIGNATURE);
	cr_expect_eq(la.main_arena_addr, lb.main_arena_addr,
		     "glibc %s: main_arena %#llx (DWARF) vs %#llx", v->version,
		     (unsigned long long)la.main_arena_addr,
		     (unsigned long long)lb.main_arena_addr);
	cr_expect_eq(la.mp_addr, lb.mp_addr,
		     "glibc %s: mp_ %#llx (DWARF) vs %#llx", v->version,
		     (unsigned long long)la.mp_addr,
		     (unsigned long long)lb.mp_addr);
	cr_expect_str_eq(la.glibc_version, v->version);
	cr_expect_str_eq(lb.glibc_version, v->version);
	la_session_close(a);
	la_session_close(b);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

ParameterizedTestParameters(glibc_versions, churn_is_followed)
{
	static struct version_case cases[] = {
		{ "2.31", "demo", "", DEBUG_FOUND },
		{ "2.31", "demo", "", DEBUG_OFF },
		{ "2.41", "demo", "", DEBUG_FOUND },
		{ "2.41", "demo", "", DEBUG_OFF },
	};

	return cr_make_param_array(struct version_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * One session, several snapshots: each equals the target's mallinfo after
 * the heap changed in between, and nothing stays attached.
 */
ParameterizedTest(struct version_case *c, glibc_versions, churn_is_followed,
		  .timeout = 60)
{
	struct target t;
	const char *argv[] = { c->scenario, NULL };
	char prog[PATH_MAX], root[PATH_MAX], dbg[PATH_MAX + 32];
	struct la_session_opts opts = { .sz = sizeof(opts) };
	struct la_session *s;
	uint64_t want[MI_NFIELDS], got[MI_NFIELDS];

	glibc_paths(c->version, prog, sizeof(prog), root);
	if (c->debug == DEBUG_FOUND) {
		snprintf(dbg, sizeof(dbg), "%s/usr/lib/debug", root);
		opts.debug_dir = dbg;
	} else {
		opts.no_debuginfo = 1;
	}
	cr_assert_eq(target_start(&t, prog, argv, NULL), 0);
	cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s", t.line);
	cr_assert_eq(la_session_open(t.pid, &opts, &s), 0, "%s", la_errmsg());
	for (int round = 0; round < 4; round++) {
		struct la_snapshot *snap;
		struct la_mallinfo mi;
		char tracer[32];

		cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
		la_snapshot_mallinfo(snap, &mi, sizeof(mi));
		mallinfo_fields(&mi, got);
		cr_assert_arr_eq(got, want, sizeof(got), "glibc %s round %d",
				 c->version, round);
		la_snapshot_free(snap);
		cr_assert_eq(proc_status_field(t.pid, "TracerPid", tracer,
					       sizeof(tracer)), 0);
		cr_assert_str_eq(tracer, "0");
		/* The heap changes; the next snapshot must follow it. */
		cr_assert_eq(target_send(&t, "churn"), 0);
		cr_assert_eq(target_wait_mallinfo(&t, want), 0, "%s", t.line);
	}
	la_session_close(s);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}
