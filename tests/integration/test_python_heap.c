/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_python_heap.c - the Python lens against the interpreter's own
 * account. An interpreter runs tests/targets/pyheap.py, which builds a
 * known heap, prints sys._debugmallocstats() and parks in sigwait(). The
 * pool census of src/lib/python/pymalloc.c must equal the statistics
 * exactly: pools, blocks in use and available blocks per size class, pool
 * size, arenas, and "# bytes in allocated blocks"; with one thread and
 * with a few threads blocked. The objects of the script's own classes
 * counted by src/lib/python/pytypes.c must equal gc.get_objects()'s counts.
 *
 * The interpreters (Makefile.am builds or fetches them):
 *   3.11           Debian 12's /usr/bin/python3 (stripped, non-PIE: no
 *                  symbol of pymalloc's), by absolute path: python3 on PATH
 *                  may be another build (pyenv shims)
 *   libpython3.11  tests/targets/pyembed: Py_BytesMain() of Debian 12's
 *                  libpython3.11.so.1.0, the interpreter as a shared
 *                  library (high addresses, symbols in its .dynsym)
 *   3.9, 3.13      Debian bullseye's and trixie's pythonN-minimal, fetched
 *                  with their own glibc by scripts/fetch-glibc --python and
 *                  run on that glibc's loader by the launcher
 *                  LA_PYTHON_DIR/python3.N; 3.9 has 4 KiB pools in 256 KiB
 *                  arenas, 3.13 the 3.12+ object header
 * The environment (make check) names LA_PYTHON_DIR and the sysroots
 * LA_PYTHON_39 and LA_PYTHON_313. Every case of an interpreter that could
 * not be fetched or built FAILS, never skips, with the reason Makefile.am
 * left in FILE.failed.
 *
 * Each interpreter is also checked to be the one meant: the version the
 * script reports (sys.hexversion) is the one pyversion.c detects (exactly,
 * from Py_Version, from 3.11), a fetched one's stdlib (sys.prefix) and
 * every shared library it maps come from its sysroot. What the walk finds
 * without symbols is checked against the symbols every Debian build
 * exports, stripped or not (.dynsym): PyType_Type as pytypes.c finds it (a
 * fixed point) is where the symbol of that name says, and the usedpools
 * the census infers lies in the interpreter file's .data or .bss.
 *
 * The target is read while parked, not stopped: every thread is blocked in
 * a system call that returns only on our SIGUSR1 (the main thread in
 * rt_sigtimedwait) or never (the others on a lock the main thread holds),
 * which the test checks in /proc/PID/task/TID/syscall before reading. A
 * parked interpreter runs no Python code and so no allocator; stopping it
 * would add nothing but a way to harm it. The script allocates nothing
 * between the statistics and the park (see its comment), so the figures
 * are those of the moment read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <leakattach.h>

#include "elf/elfsyms.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "python/pymalloc.h"
#include "python/pytypes.h"
#include "python/pyversion.h"
#include "target.h"

enum interp_kind {
	INTERP_SYSTEM, /* an absolute path */
	INTERP_EMBED, /* a target built here, in LA_TARGETS_DIR */
	INTERP_SYSROOT, /* a launcher in LA_PYTHON_DIR, a sysroot */
};

struct interp {
	const char *label;
	enum interp_kind kind;
	unsigned minor; /* 3.minor */
	const char *prog; /* path, target name or launcher name */
	const char *root_var; /* the sysroot's variable, or NULL */
	const char *file; /* the file pyversion must name (basename) */
};

static const struct interp py311 = {
	.label = "3.11",
	.kind = INTERP_SYSTEM,
	.minor = 11,
	.prog = "/usr/bin/python3",
	.file = "python3.11",
};
static const struct interp libpy311 = {
	.label = "libpython3.11",
	.kind = INTERP_EMBED,
	.minor = 11,
	.prog = "pyembed",
	.file = "libpython3.11.so.1.0",
};
static const struct interp py39 = {
	.label = "3.9",
	.kind = INTERP_SYSROOT,
	.minor = 9,
	.prog = "python3.9",
	.root_var = "LA_PYTHON_39",
	.file = "python3.9",
};
static const struct interp py313 = {
	.label = "3.13",
	.kind = INTERP_SYSROOT,
	.minor = 13,
	.prog = "python3.13",
	.root_var = "LA_PYTHON_313",
	.file = "python3.13",
};

/* An interpreter, ready to start. */
struct interp_run {
	const struct interp *ip;
	char prog[PATH_MAX];
	char root[PATH_MAX]; /* canonical sysroot, "" for the system's */
};

/* What the target printed before parking. */
struct py_stats {
	uint64_t pools[PYMALLOC_NCLASSES], blocks[PYMALLOC_NCLASSES];
	uint64_t avail[PYMALLOC_NCLASSES];
	uint64_t arenas, bytes_allocated, pool_size, arena_size;
	unsigned long hexversion;
	char prefix[PATH_MAX];
	int have_bytes, have_arenas, nclasses_seen;
	uint64_t counts[5]; /* Plain Slotted Empty WeakOnly list */
	uint64_t big[16];
	int nbig;
};

static const char *const class_names[4] = {"Plain", "Slotted", "Empty",
					   "WeakOnly"};

/* "   11,521,808" after the '=' */
static uint64_t
number_after_eq(const char *line)
{
	const char *p = strchr(line, '=');
	uint64_t v = 0;

	cr_assert(p, "no number in '%s'", line);
	for (p++; *p; p++)
		if (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

static void
parse_line(struct py_stats *st, const char *line)
{
	unsigned cls, size;
	unsigned long long pools, blocks, avail;
	char tail;

	if (!strncmp(line, "python ", 7)) {
		int off = 0;

		cr_assert_eq(sscanf(line + 7, "%lx %n", &st->hexversion, &off),
			     1, "%s", line);
		snprintf(st->prefix, sizeof(st->prefix), "%s", line + 7 + off);
	} else if (!strncmp(line, "counts ", 7)) {
		const char *keys[5] = {
			"Plain=", "Slotted=", "Empty=", "WeakOnly=", "list="};

		for (int i = 0; i < 5; i++) {
			const char *p = strstr(line, keys[i]);

			cr_assert(p, "%s", line);
			st->counts[i] = strtoull(p + strlen(keys[i]), NULL, 10);
		}
	} else if (!strncmp(line, "big ", 4)) {
		char *p = (char *)line + 4, *end;

		while (st->nbig < 16) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			st->big[st->nbig++] = v;
			p = end;
		}
	} else if (sscanf(line, "%u %u %llu %llu %llu %c", &cls, &size, &pools,
			  &blocks, &avail, &tail) == 5) {
		cr_assert_lt(cls, PYMALLOC_NCLASSES, "%s", line);
		cr_assert_eq(size, 16 * (cls + 1), "%s", line);
		st->pools[cls] = pools;
		st->blocks[cls] = blocks;
		st->avail[cls] = avail;
		st->nclasses_seen++;
	} else if (!strncmp(line, "# bytes in allocated blocks", 27)) {
		st->bytes_allocated = number_after_eq(line);
		st->have_bytes = 1;
	} else if (!strncmp(line, "# arenas allocated current", 26)) {
		st->arenas = number_after_eq(line);
		st->have_arenas = 1;
	} else if (strstr(line, "unused pools * ")) {
		/* "35 unused pools * 16384 bytes  = ..." */
		st->pool_size = strtoull(strstr(line, "unused pools * ") + 15,
					 NULL, 10);
	} else if (strstr(line, " arenas * ")) {
		/* "16 arenas * 262144 bytes/arena     = ..." */
		st->arena_size =
			strtoull(strstr(line, " arenas * ") + 10, NULL, 10);
	}
}

static int
syscall_of(pid_t pid, const char *tid)
{
	char path[320], buf[128] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (buf[0] < '0' || buf[0] > '9')
		return -1; /* "running" */
	return atoi(buf);
}

/*
 * Every thread parked: the main one in rt_sigtimedwait, threads more in
 * futex (the lock). Waits up to 10 s (the threads get there on their own
 * time after "ready").
 */
static void
wait_parked(pid_t pid, int threads)
{
	int64_t deadline = now_us() + 10 * 1000000;
	char path[64], why[400] = "";

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	while (now_us() < deadline) {
		DIR *d = opendir(path);
		struct dirent *e;
		int n = 0, ok = 1;

		cr_assert(d, "%s: %s", path, strerror(errno));
		while ((e = readdir(d))) {
			int want, got;

			if (e->d_name[0] == '.')
				continue;
			n++;
			want = atoi(e->d_name) == pid ? SYS_rt_sigtimedwait
						      : SYS_futex;
			got = syscall_of(pid, e->d_name);
			if (got != want) {
				snprintf(why, sizeof(why),
					 "thread %s in syscall %d, not %d",
					 e->d_name, got, want);
				ok = 0;
			}
		}
		closedir(d);
		if (ok && n == threads + 1)
			return;
		if (ok)
			snprintf(why, sizeof(why), "%d threads, not %d", n,
				 threads + 1);
		sleep_us(2000);
	}
	cr_assert_fail("target never parked: %s", why);
}

/* The first line of path, or "". */
static void
first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * The interpreter's program and sysroot, or fail the test, saying why: not
 * run through make check, or its fetch or build failed (FILE.failed).
 */
static void
interp_prepare(const struct interp *ip, struct interp_run *r)
{
	char failed[PATH_MAX + 8], why[512];
	const char *dir, *root;

	memset(r, 0, sizeof(*r));
	r->ip = ip;
	switch (ip->kind) {
	case INTERP_SYSTEM:
		snprintf(r->prog, sizeof(r->prog), "%s", ip->prog);
		return;
	case INTERP_EMBED:
		cr_assert(target_path(ip->prog, r->prog, sizeof(r->prog)));
		break;
	case INTERP_SYSROOT:
		dir = getenv("LA_PYTHON_DIR");
		root = getenv(ip->root_var);
		cr_assert(dir && *dir && root && *root,
			  "LA_PYTHON_DIR and %s are not set: run this test "
			  "with make check",
			  ip->root_var);
		snprintf(r->prog, sizeof(r->prog), "%s/%s", dir, ip->prog);
		break;
	}
	if (access(r->prog, X_OK)) {
		snprintf(failed, sizeof(failed), "%s.failed", r->prog);
		first_line(failed, why, sizeof(why));
		cr_assert_fail(
			"python %s: %s was not built: %s", ip->label, r->prog,
			why[0] ? why
			       : "run make check (it fetches or builds it)");
	}
	if (ip->kind == INTERP_SYSROOT)
		cr_assert_not_null(realpath(getenv(ip->root_var), r->root),
				   "python %s: sysroot %s: %s", ip->label,
				   getenv(ip->root_var), strerror(errno));
}

static void
start_target(struct target *t, const struct interp_run *r, int n, int threads,
	     struct py_stats *st)
{
	char script[] = PYHEAP_SCRIPT, nbuf[16], tbuf[16];
	/* -I: no PYTHON* variable, no user site, no script folder on the path */
	const char *argv[] = {"-I", script, nbuf, tbuf, NULL};
	int err;

	snprintf(nbuf, sizeof(nbuf), "%d", n);
	snprintf(tbuf, sizeof(tbuf), "%d", threads);
	memset(st, 0, sizeof(*st));
	cr_assert_eq(target_start(t, r->prog, argv, NULL), 0,
		     "python %s: cannot start %s", r->ip->label, r->prog);
	for (;;) {
		err = target_read_line(t, 120000);
		cr_assert_eq(err, 0, "python %s: %s: %s", r->ip->label, r->prog,
			     t->line);
		if (!strcmp(t->line, "ready"))
			break;
		parse_line(st, t->line);
	}
	cr_assert(st->have_bytes && st->have_arenas && st->nclasses_seen,
		  "python %s: no statistics from the target", r->ip->label);
	cr_assert_eq(st->hexversion >> 16, 0x0300u | r->ip->minor,
		     "python %s: the target runs %#lx", r->ip->label,
		     st->hexversion);
	wait_parked(t->pid, threads);
}

/*
 * The interpreter is the one meant: pyversion names its file and version
 * (from Py_Version, exactly, from 3.11: Python/getversion.c); a fetched
 * one runs its sysroot's stdlib and maps only its sysroot's libraries.
 */
static void
interp_matches(const struct interp_run *r, pid_t pid, const struct maps *maps,
	       const struct py_stats *st, struct pyversion *ver)
{
	const struct interp *ip = r->ip;
	const char *base;
	char want_prefix[PATH_MAX + 8];
	size_t rlen = strlen(r->root);

	cr_assert_eq(pyversion_detect(pid, maps, ver), 0,
		     "python %s: no interpreter found", ip->label);
	base = strrchr(ver->path, '/');
	base = base ? base + 1 : ver->path;
	cr_expect_str_eq(base, ip->file, "python %s: pyversion names %s",
			 ip->label, ver->path);
	cr_expect(ver->major == 3 && ver->minor == ip->minor,
		  "python %s: pyversion says %u.%u", ip->label, ver->major,
		  ver->minor);
	if (ip->minor >= 11) {
		cr_expect_eq(ver->source, PYVERSION_SYMBOL,
			     "python %s: version from %d (%s)", ip->label,
			     (int)ver->source, ver->path);
		cr_expect_eq(ver->hex, st->hexversion,
			     "python %s: Py_Version %#x, sys.hexversion %#lx",
			     ip->label, ver->hex, st->hexversion);
	} else {
		/* no Py_Version before 3.11: the file's name */
		cr_expect_eq(ver->source, PYVERSION_FILE_NAME,
			     "python %s: version from %d (%s)", ip->label,
			     (int)ver->source, ver->path);
	}
	if (!rlen)
		return;
	snprintf(want_prefix, sizeof(want_prefix), "%s/usr", r->root);
	cr_expect_str_eq(st->prefix, want_prefix,
			 "python %s: sys.prefix is not in the sysroot",
			 ip->label);
	cr_expect(!strncmp(ver->path, r->root, rlen),
		  "python %s: %s is not in the sysroot %s", ip->label,
		  ver->path, r->root);
	for (size_t i = 0; i < maps->len; i++) {
		const struct mapping *m = &maps->v[i];

		if (m->path[0] == '/' && strstr(mapping_basename(m), ".so"))
			cr_expect(!strncmp(m->path, r->root, rlen) &&
					  m->path[rlen] == '/',
				  "python %s: %s is not in the sysroot %s",
				  ip->label, m->path, r->root);
	}
}

/* The load bias of the file at path among maps (0 for an executable). */
static uint64_t
load_bias(const struct maps *maps, const struct elffile *ef, const char *path)
{
	for (size_t i = 0; i < maps->len; i++)
		if (!strcmp(maps->v[i].path, path) && maps->v[i].offset == 0)
			return elffile_is_dyn(ef)
				       ? maps->v[i].start -
						 elffile_load_base(ef)
				       : 0;
	cr_assert_fail("%s: no mapping at offset 0", path);
	return 0;
}

static struct elffile *
open_interp(pid_t pid, const struct maps *maps, const char *path)
{
	struct elffile *ef = NULL;

	for (size_t i = 0; i < maps->len; i++)
		if (!strcmp(maps->v[i].path, path) && maps->v[i].offset == 0) {
			cr_assert_eq(elffile_open_mapped(pid, &maps->v[i], &ef),
				     0, "%s", path);
			return ef;
		}
	cr_assert_fail("%s: no mapping at offset 0", path);
	return NULL;
}

/*
 * PyType_Type's address from the interpreter file's exported symbol (all
 * of Debian's builds export it, stripped or not), plus the file's load
 * bias, or 0.
 */
static uint64_t
symbol_type_type(pid_t pid, const struct maps *maps, const char *path)
{
	struct elffile *ef = open_interp(pid, maps, path);
	uint64_t value, size, addr = 0;

	if (!elffile_symbol(ef, "PyType_Type", &value, &size))
		addr = value + load_bias(maps, ef, path);
	elffile_close(ef);
	return addr;
}

/*
 * usedpools, which the census infers from the used pools' links to their
 * list heads (no symbol), is a variable of the interpreter's file: in its
 * .data or .bss: a static array of Objects/obmalloc.c up to 3.11, part of
 * the main interpreter's state in _PyRuntime on 3.12, and on 3.13 a static
 * state of Objects/obmalloc.c for the main interpreter (measured on Debian's
 * 3.13.5: 0x90 bytes past the end of _PyRuntime). A wrong inference
 * points into the arenas instead.
 */
static void
usedpools_in_file(pid_t pid, const struct maps *maps, const char *path,
		  const char *label, uint64_t usedpools)
{
	static const char *const sections[] = {".data", ".bss"};
	struct elffile *ef = open_interp(pid, maps, path);
	uint64_t bias = load_bias(maps, ef, path), value, size;
	int inside = 0;

	cr_expect_neq(usedpools, 0, "python %s: no usedpools inferred", label);
	for (size_t i = 0; i < 2; i++) {
		uint64_t addr, len;
		const void *data;

		if (!elffile_section(ef, sections[i], &addr, &len, &data) &&
		    usedpools >= addr + bias && usedpools < addr + bias + len)
			inside = 1;
	}
	cr_expect(inside,
		  "python %s: usedpools %#llx is not in %s's .data "
		  "or .bss",
		  label, (unsigned long long)usedpools, path);
	if (!elffile_symbol(ef, "_PyRuntime", &value, &size))
		cr_log_info(
			"python %s: usedpools %#llx, _PyRuntime %#llx + %#llx",
			label, (unsigned long long)usedpools,
			(unsigned long long)(value + bias),
			(unsigned long long)size);
	elffile_close(ef);
}

/* Wake the target, which must then be unharmed and quit cleanly. */
static void
finish_target(struct target *t)
{
	int err;

	cr_assert_eq(kill(t->pid, SIGUSR1), 0, "%s", strerror(errno));
	err = target_check_unharmed(t, 0, NULL);
	cr_expect_eq(err, 0, "target harmed: %s", t->line);
	err = target_stop(t);
	cr_expect_eq(err, 0, "target exited with status %d", err);
}

static void
census_matches(const struct py_stats *st, const struct pymalloc_census *c)
{
	uint64_t blocks = 0;

	cr_expect(c->consistent,
		  "walk flagged: bad pools %llu (free list %llu, count %llu, "
		  "links %llu), bad arenas %llu, carving %llu, usedpools %u",
		  (unsigned long long)c->bad_pools,
		  (unsigned long long)c->bad_freelist,
		  (unsigned long long)c->bad_count,
		  (unsigned long long)c->bad_links,
		  (unsigned long long)c->bad_arenas,
		  (unsigned long long)c->carving, c->usedpools_seen);
	cr_expect_eq(c->pool_size, st->pool_size, "pool size %u, stats %llu",
		     c->pool_size, (unsigned long long)st->pool_size);
	/* each arena's pools lie within one arena of the version's size */
	cr_expect_gt(st->arena_size, 0, "no arena size in the statistics");
	for (uint32_t i = 0; i < c->n_spans; i++)
		cr_expect_leq(
			c->spans[i].hi - c->spans[i].lo, st->arena_size,
			"arena %u spans %llu bytes, arenas are %llu", i,
			(unsigned long long)(c->spans[i].hi - c->spans[i].lo),
			(unsigned long long)st->arena_size);
	for (unsigned i = 0; i < PYMALLOC_NCLASSES; i++) {
		const struct pymalloc_class *k = &c->cls[i];
		uint64_t numblocks =
			(c->pool_size - PYMALLOC_POOL_OVERHEAD) / k->block_size;

		cr_expect_eq(k->blocks, st->blocks[i],
			     "class %u (%u bytes): blocks in use %llu, "
			     "stats %llu",
			     i, k->block_size, (unsigned long long)k->blocks,
			     (unsigned long long)st->blocks[i]);
		cr_expect_eq(k->pools, st->pools[i],
			     "class %u: pools %llu, stats %llu", i,
			     (unsigned long long)k->pools,
			     (unsigned long long)st->pools[i]);
		cr_expect_eq(
			k->pools * numblocks - k->blocks, st->avail[i],
			"class %u: available blocks %llu, stats %llu", i,
			(unsigned long long)(k->pools * numblocks - k->blocks),
			(unsigned long long)st->avail[i]);
		blocks += st->blocks[i];
	}
	cr_expect_eq(c->bytes, st->bytes_allocated,
		     "bytes in allocated blocks: walk %llu, stats %llu",
		     (unsigned long long)c->bytes,
		     (unsigned long long)st->bytes_allocated);
	cr_expect_eq(c->blocks, blocks, "blocks: walk %llu, stats %llu",
		     (unsigned long long)c->blocks, (unsigned long long)blocks);
	cr_expect_eq(c->arenas, st->arenas, "arenas: walk %llu, stats %llu",
		     (unsigned long long)c->arenas,
		     (unsigned long long)st->arenas);
	cr_log_info("pool census: %llu pools, %llu arenas, %llu blocks, "
		    "%llu bytes (stats: %llu blocks, %llu bytes, %llu arenas)",
		    (unsigned long long)c->pools, (unsigned long long)c->arenas,
		    (unsigned long long)c->blocks, (unsigned long long)c->bytes,
		    (unsigned long long)blocks,
		    (unsigned long long)st->bytes_allocated,
		    (unsigned long long)st->arenas);
}

static void
walk_target(pid_t pid, struct pymalloc_census *c, struct pytypes *pt)
{
	struct memsrc *mem;
	struct maps maps;
	int err;

	cr_assert_eq(procmaps_read(pid, &maps), 0);
	cr_assert_eq(memsrc_pid_open(pid, &mem), 0);
	err = pymalloc_walk(mem, &maps, pt ? pytypes_pool : NULL, pt, c);
	cr_assert_eq(err, 0, "walk: %s", strerror(-err));
	memsrc_close(mem);
	procmaps_free(&maps);
}

static void
pool_census(const struct interp *ip, int n, int threads)
{
	struct pymalloc_census c;
	struct interp_run r;
	struct pyversion ver;
	struct py_stats st;
	struct target t;
	struct maps maps;

	interp_prepare(ip, &r);
	start_target(&t, &r, n, threads, &st);
	cr_assert_eq(procmaps_read(t.pid, &maps), 0);
	interp_matches(&r, t.pid, &maps, &st, &ver);
	walk_target(t.pid, &c, NULL);
	census_matches(&st, &c);
	usedpools_in_file(t.pid, &maps, ver.path, ip->label, c.usedpools);
	procmaps_free(&maps);
	cr_expect_gt(c.bytes, (uint64_t)n * 200, "heap too small: %llu",
		     (unsigned long long)c.bytes);
	pymalloc_census_release(&c);
	finish_target(&t);
}

Test(python_heap, pool_census_equals_debugmallocstats, .timeout = 120)
{
	pool_census(&py311, 20000, 0);
}

Test(python_heap, pool_census_equals_debugmallocstats_threads, .timeout = 120)
{
	pool_census(&py311, 20000, 3);
}

Test(python_heap, pool_census_equals_debugmallocstats_libpython3_11,
     .timeout = 120)
{
	pool_census(&libpy311, 20000, 0);
}

Test(python_heap, pool_census_equals_debugmallocstats_libpython3_11_threads,
     .timeout = 120)
{
	pool_census(&libpy311, 20000, 3);
}

Test(python_heap, pool_census_equals_debugmallocstats_3_9, .timeout = 120)
{
	pool_census(&py39, 20000, 0);
}

Test(python_heap, pool_census_equals_debugmallocstats_3_9_threads,
     .timeout = 120)
{
	pool_census(&py39, 20000, 3);
}

Test(python_heap, pool_census_equals_debugmallocstats_3_13, .timeout = 120)
{
	pool_census(&py313, 20000, 0);
}

Test(python_heap, pool_census_equals_debugmallocstats_3_13_threads,
     .timeout = 120)
{
	pool_census(&py313, 20000, 3);
}

/* The usable size of the malloc chunk at user (its size word, glibc). */
static uint64_t
chunk_usable(struct memsrc *mem, uint64_t user)
{
	uint64_t size;

	cr_assert_eq(memsrc_u64(mem, user - 8, &size), 0);
	cr_assert_eq(size & 2, 0, "chunk at %#llx is mmapped",
		     (unsigned long long)user);
	return (size & ~(uint64_t)7) - 8;
}

static void
object_census(const struct interp *ip, int n, int threads)
{
	struct interp_run r;
	struct pymalloc_census c;
	struct pytypes_totals tot;
	const struct pytype_count *k;
	struct pyversion ver;
	struct pytypes *pt;
	struct py_stats st;
	struct memsrc *mem;
	struct maps maps;
	struct target t;
	uint64_t big_usable = 0, sym_type_type;
	int err;

	interp_prepare(ip, &r);
	start_target(&t, &r, n, threads, &st);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(st.counts[i], (uint64_t)n,
			     "the target made %llu %s, not %d",
			     (unsigned long long)st.counts[i], class_names[i],
			     n);
	cr_assert_eq(procmaps_read(t.pid, &maps), 0);
	cr_assert_eq(memsrc_pid_open(t.pid, &mem), 0);

	interp_matches(&r, t.pid, &maps, &st, &ver);
	sym_type_type = symbol_type_type(t.pid, &maps, ver.path);
	cr_assert_neq(pytypes_rules_for(ver.major, ver.minor),
		      PYTYPES_RULES_NONE, "%u.%u", ver.major, ver.minor);

	cr_assert_eq(pytypes_new(mem, &maps,
				 pytypes_rules_for(ver.major, ver.minor), &pt),
		     0);
	err = pymalloc_walk(mem, &maps, pytypes_pool, pt, &c);
	cr_assert_eq(err, 0, "walk: %s", strerror(-err));
	/* the census is the same with the types' callback */
	census_matches(&st, &c);

	/* large bytes objects are malloc chunks: the same header test */
	cr_assert_gt(st.nbig, 0, "no addresses of large bytes");
	for (int i = 0; i < st.nbig; i++) {
		uint64_t usable = chunk_usable(mem, st.big[i]);

		big_usable += usable;
		err = pytypes_chunk(pt, st.big[i], usable);
		cr_expect_geq(err, 0, "chunk %#llx: no object",
			      (unsigned long long)st.big[i]);
		cr_expect_str_eq(err >= 0 ? pytypes_get(pt, (size_t)err)->name
					  : "",
				 "bytes");
	}

	pytypes_totals(pt, &tot);
	cr_expect_neq(tot.type_type, 0, "PyType_Type not found");
	/* the fixed point is the exported PyType_Type */
	cr_expect_eq(tot.type_type, sym_type_type,
		     "PyType_Type found at %#llx, the symbol in %s says %#llx",
		     (unsigned long long)tot.type_type, ver.path,
		     (unsigned long long)sym_type_type);
	cr_expect_eq(tot.type_type_others, 0);
	/* every block in use is an object, free-listed or unknown, once */
	cr_expect_eq(tot.objects - st.nbig + tot.freelisted +
			     tot.unknown_blocks,
		     c.blocks,
		     "objects %llu + free-listed %llu + unknown %llu "
		     "against %llu blocks",
		     (unsigned long long)(tot.objects - st.nbig),
		     (unsigned long long)tot.freelisted,
		     (unsigned long long)tot.unknown_blocks,
		     (unsigned long long)c.blocks);
	for (int i = 0; i < 4; i++) {
		k = pytypes_find(pt, class_names[i]);
		cr_expect(k, "no type %s", class_names[i]);
		if (!k)
			continue;
		cr_expect_eq(k->objects, (uint64_t)n,
			     "%s: %llu objects, not %d", class_names[i],
			     (unsigned long long)k->objects, n);
		cr_expect_eq(k->malloc_objects, 0);
		cr_log_info("%s: %llu objects, %llu bytes", k->name,
			    (unsigned long long)k->objects,
			    (unsigned long long)k->bytes);
	}
	k = pytypes_find(pt, "list");
	cr_expect(k && k->objects == st.counts[4],
		  "list: %llu objects, gc.get_objects() %llu",
		  k ? (unsigned long long)k->objects : 0ull,
		  (unsigned long long)st.counts[4]);
	/* dicts, tuples, bytes: at least the target's own N */
	k = pytypes_find(pt, "dict");
	cr_expect(k && k->objects >= (uint64_t)n, "dict");
	k = pytypes_find(pt, "tuple");
	cr_expect(k && k->objects >= (uint64_t)n, "tuple");
	k = pytypes_find(pt, "bytes");
	cr_expect(k && k->pymalloc_objects >= (uint64_t)n &&
			  k->malloc_objects == (uint64_t)st.nbig,
		  "bytes: %llu in pymalloc, %llu in malloc",
		  k ? (unsigned long long)k->pymalloc_objects : 0ull,
		  k ? (unsigned long long)k->malloc_objects : 0ull);
	cr_expect(k && k->bytes >= (uint64_t)n * 144 + big_usable,
		  "bytes: %llu bytes", k ? (unsigned long long)k->bytes : 0ull);
	/*
	 * The item arrays of [int, float, None] hold &PyLong_Type, then
	 * &PyFloat_Type: without the rule on pointer-like refcounts each
	 * would be a float (the interpreter itself holds a few dozen).
	 */
	k = pytypes_find(pt, "float");
	cr_expect(!k || k->objects < (uint64_t)n / 20,
		  "float: %llu objects, phantoms of the %d item arrays",
		  k ? (unsigned long long)k->objects : 0ull, n / 10);
	cr_log_info("types: %zu, objects %llu, free-listed %llu, unknown "
		    "blocks %llu; PyType_Type at %#llx",
		    pytypes_count(pt), (unsigned long long)tot.objects,
		    (unsigned long long)tot.freelisted,
		    (unsigned long long)tot.unknown_blocks,
		    (unsigned long long)tot.type_type);

	pymalloc_census_release(&c);
	pytypes_free(pt);
	memsrc_close(mem);
	procmaps_free(&maps);
	finish_target(&t);
}

Test(python_heap, counts_objects_of_each_class_exactly, .timeout = 120)
{
	object_census(&py311, 20000, 0);
}

Test(python_heap, counts_objects_of_each_class_exactly_threads, .timeout = 120)
{
	object_census(&py311, 20000, 3);
}

Test(python_heap, counts_objects_of_each_class_exactly_libpython3_11,
     .timeout = 120)
{
	object_census(&libpy311, 20000, 0);
}

Test(python_heap, counts_objects_of_each_class_exactly_libpython3_11_threads,
     .timeout = 120)
{
	object_census(&libpy311, 20000, 3);
}

Test(python_heap, counts_objects_of_each_class_exactly_3_9, .timeout = 120)
{
	object_census(&py39, 20000, 0);
}

Test(python_heap, counts_objects_of_each_class_exactly_3_9_threads,
     .timeout = 120)
{
	object_census(&py39, 20000, 3);
}

Test(python_heap, counts_objects_of_each_class_exactly_3_13, .timeout = 120)
{
	object_census(&py313, 20000, 0);
}

Test(python_heap, counts_objects_of_each_class_exactly_3_13_threads,
     .timeout = 120)
{
	object_census(&py313, 20000, 3);
}

/*
 * The same heap through the public API: la_snapshot_take() stops the
 * parked target, walks glibc's heap and pymalloc's pools in the stop, and
 * names the large bytes objects by their malloc chunks. Its figures must
 * equal the statistics as the walk's do, its classes the statistics'
 * classes, its types the script's counts; pymalloc's arenas are a kind
 * of the census of memory, holding at least the blocks in use.
 */
static void
snapshot_census(const struct interp *ip, int n, int threads)
{
	struct la_python_type ty;
	struct la_snapshot_info si;
	struct la_python_class k;
	struct interp_run r;
	struct la_outside o;
	struct la_python p;
	struct la_session *s;
	struct la_snapshot *snap;
	struct py_stats st;
	struct target t;
	uint64_t arena_bytes;
	unsigned found = 0, bytes_malloc = 0;

	interp_prepare(ip, &r);
	start_target(&t, &r, n, threads, &st);
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_session_close(s);
	la_snapshot_info(snap, &si, sizeof(si));
	la_snapshot_python(snap, &p, sizeof(p));
	cr_expect(si.consistent, "%s", si.inconsistency);
	cr_assert(p.found, "no CPython found in %s", ip->label);
	cr_expect_eq(p.major, 3);
	cr_expect_eq(p.minor, ip->minor);
	cr_expect_str_eq(strrchr(p.path, '/') + 1, ip->file);
	cr_expect(p.consistent, "%s", p.why);
	cr_expect(p.types_available);
	cr_expect_eq(p.pool_size, st.pool_size);
	cr_expect_eq(p.arenas, st.arenas);
	cr_expect_eq(p.in_use_bytes, st.bytes_allocated,
		     "bytes in allocated blocks: snapshot %llu, stats %llu",
		     (unsigned long long)p.in_use_bytes,
		     (unsigned long long)st.bytes_allocated);
	for (unsigned i = 0; i < la_snapshot_python_class_count(snap); i++) {
		unsigned c;

		cr_assert_eq(la_snapshot_python_class(snap, i, &k, sizeof(k)),
			     0);
		c = k.block_size / 16 - 1;
		cr_assert_lt(c, PYMALLOC_NCLASSES);
		cr_expect_eq(k.blocks, st.blocks[c], "class %u: %llu blocks",
			     k.block_size, (unsigned long long)k.blocks);
		cr_expect_eq(k.pools, st.pools[c]);
		cr_expect_eq(k.bytes, k.blocks * k.block_size);
	}
	for (unsigned i = 0; i < la_snapshot_python_type_count(snap); i++) {
		cr_assert_eq(la_snapshot_python_type(snap, i, &ty, sizeof(ty)),
			     0);
		for (int c = 0; c < 4; c++)
			if (!strcmp(ty.name, class_names[c])) {
				cr_expect_eq(ty.objects, (uint64_t)n, "%s",
					     ty.name);
				cr_expect_eq(ty.in, LA_PYTHON_IN_PYMALLOC);
				found++;
			}
		if (!strcmp(ty.name, "list"))
			cr_expect_eq(ty.objects, st.counts[4]);
		if (!strcmp(ty.name, "bytes")) {
			bytes_malloc = (unsigned)ty.malloc_objects;
			cr_expect_eq(ty.in, LA_PYTHON_IN_BOTH);
		}
		if (i)
			cr_expect_leq(ty.bytes, p.object_bytes);
	}
	cr_expect_eq(found, 4, "the script's classes: %u of 4 found", found);
	/* the N/10 bytes of 604: each a malloc chunk, named by the walk */
	cr_expect_geq(bytes_malloc, (unsigned)n / 10);
	cr_expect_lt(bytes_malloc, (unsigned)n / 10 + (unsigned)n / 100,
		     "%u large bytes objects", bytes_malloc);
	cr_assert_eq(la_snapshot_outside(snap, LA_OUTSIDE_PYTHON_ARENAS, &o,
					 sizeof(o)),
		     0);
	arena_bytes = p.arenas * st.arena_size;
	cr_expect_geq(o.rss_bytes, p.in_use_bytes,
		      "arenas resident %llu, blocks in use %llu",
		      (unsigned long long)o.rss_bytes,
		      (unsigned long long)p.in_use_bytes);
	cr_expect_leq(o.size_bytes, arena_bytes, "arenas mapped %llu of %llu",
		      (unsigned long long)o.size_bytes,
		      (unsigned long long)arena_bytes);
	cr_expect_leq(o.rss_bytes, o.size_bytes);
	la_snapshot_free(snap);
	finish_target(&t);
}

Test(python_heap, snapshot_equals_debugmallocstats, .timeout = 120)
{
	snapshot_census(&py311, 20000, 0);
}

Test(python_heap, snapshot_equals_debugmallocstats_threads, .timeout = 120)
{
	snapshot_census(&py311, 20000, 3);
}

Test(python_heap, snapshot_equals_debugmallocstats_libpython3_11_threads,
     .timeout = 120)
{
	snapshot_census(&libpy311, 20000, 3);
}

Test(python_heap, snapshot_equals_debugmallocstats_3_9_threads, .timeout = 120)
{
	snapshot_census(&py39, 20000, 3);
}

Test(python_heap, snapshot_equals_debugmallocstats_3_13_threads,
     .timeout = 120)
{
	snapshot_census(&py313, 20000, 3);
}

/*
 * A busy interpreter, stopped wherever it happens to be: threads churn
 * small dicts and tuples (pools change all the time; the churn runs on
 * whichever thread holds the GIL) while N instances of a class stay.
 * Every snapshot's census either agrees with itself and then counts the
 * N exactly, or says it does not (consistent 0, why): never a wrong
 * count. Debian's interpreter keeps no symbol of pymalloc's, so only the
 * census's checks and the retries stand between a stop inside pymalloc
 * and a wrong figure.
 */
static const char busy_script[] =
	"import os, sys, threading\n"
	"class Keep:\n"
	"    pass\n"
	"def serve():\n"
	"    for line in sys.stdin:\n"
	"        if line.strip() == 'again':\n"
	"            print('alive', flush=True)\n"
	"        elif line.strip() == 'quit':\n"
	"            break\n"
	"    os._exit(0)\n"
	"def churn(seed):\n"
	"    d = {}\n"
	"    i = seed\n"
	"    while True:\n"
	"        d[i % 5000] = {'k': i, 't': (i, str(i))}\n"
	"        i += 1\n"
	"keep = [Keep() for _ in range(int(sys.argv[1]))]\n"
	"for t in range(int(sys.argv[2])):\n"
	"    threading.Thread(target=churn, args=(t,), daemon=True).start()\n"
	"threading.Thread(target=serve, daemon=True).start()\n"
	"print('ready', flush=True)\n"
	"churn(99)\n";

static void
busy_census(const struct interp *ip, int threads)
{
	const int n = 30000, samples = 15;
	char nbuf[16], tbuf[16];
	const char *argv[] = {"-I", "-c", busy_script, nbuf, tbuf, NULL};
	struct interp_run r;
	struct la_session *s;
	struct target t;
	int consistent = 0;

	interp_prepare(ip, &r);
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	snprintf(tbuf, sizeof(tbuf), "%d", threads);
	cr_assert_eq(target_start(&t, r.prog, argv, NULL), 0, "%s", r.prog);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "ready");
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	for (int i = 0; i < samples; i++) {
		struct la_snapshot_info si;
		struct la_python_type ty;
		struct la_snapshot *snap;
		struct la_python p;
		uint64_t keep = 0, dicts = 0;

		cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
		la_snapshot_info(snap, &si, sizeof(si));
		la_snapshot_python(snap, &p, sizeof(p));
		cr_assert(p.found);
		for (unsigned k = 0; k < la_snapshot_python_type_count(snap);
		     k++) {
			cr_assert_eq(la_snapshot_python_type(snap, k, &ty,
							     sizeof(ty)),
				     0);
			if (!strcmp(ty.name, "Keep"))
				keep = ty.objects;
			if (!strcmp(ty.name, "dict"))
				dicts = ty.objects;
		}
		if (p.consistent) {
			consistent++;
			cr_expect_eq(keep, (uint64_t)n,
				     "sample %d: %llu Keep, not %d", i,
				     (unsigned long long)keep, n);
			cr_expect_geq(dicts, 5000, "sample %d: %llu dicts", i,
				      (unsigned long long)dicts);
		} else {
			cr_expect(p.why[0], "sample %d: flagged, no reason", i);
			cr_log_info("sample %d flagged: %s", i, p.why);
		}
		cr_log_info("sample %d: attempts %u, pause %.1f ms, %s", i,
			    si.attempts, si.pause_ns / 1e6,
			    p.consistent ? "consistent" : p.why);
		la_snapshot_free(snap);
		sleep_us(20000);
	}
	la_session_close(s);
	/* a census flagged in every attempt is honest, but rare */
	cr_expect_geq(consistent, samples - 3, "%d of %d samples consistent",
		      consistent, samples);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}

Test(python_heap, busy_interpreter_is_counted_exactly_or_flagged,
     .timeout = 120)
{
	busy_census(&py311, 2);
}

Test(python_heap, busy_interpreter_is_counted_exactly_or_flagged_3_13,
     .timeout = 120)
{
	busy_census(&py313, 2);
}

/*
 * The search for mmapped chunks skips the arenas the last snapshot found.
 * Python frees its arenas when their objects go, and malloc's next large
 * chunks land where they were (the kernel maps top down, into the
 * highest hole that fits; the mmap threshold is held at 128 KiB, so that
 * 200 chunks of 300 KB fill the hole): the next snapshot must still find
 * them all (its mmapped chunks disagree with mp_'s counts, and the walk
 * is done again over every mapping). The oracle is the target's own
 * mallinfo2().
 */
static const char reuse_script[] =
	"import ctypes, sys\n"
	"libc = ctypes.CDLL(None)\n"
	"class MI(ctypes.Structure):\n"
	"    _fields_ = [(n, ctypes.c_size_t) for n in 'arena ordblks smblks "
	"hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split()]\n"
	"libc.mallinfo2.restype = MI\n"
	"keep = big = None\n"
	"print('ready', flush=True)\n"
	"for line in sys.stdin:\n"
	"    c = line.strip()\n"
	"    if c == 'fill':\n"
	"        keep = [(i,) for i in range(2000000)]\n"
	"    elif c == 'free':\n"
	"        keep = None\n"
	"    elif c == 'big':\n"
	"        big = [bytearray(300000) for _ in range(200)]\n"
	"        print('addr ' + ' '.join('%x' % ctypes.addressof(\n"
	"            (ctypes.c_char * 1).from_buffer(b)) for b in big[:60]),\n"
	"            flush=True)\n"
	"        continue\n"
	"    elif c == 'again':\n"
	"        print('alive', flush=True)\n"
	"        continue\n"
	"    elif c != 'mi':\n"
	"        break\n"
	"    m = libc.mallinfo2()\n"
	"    print('mi %d %d' % (m.hblks, m.hblkhd), flush=True)\n";

static void
expect_mmapped(struct la_session *s, struct target *t, const char *when)
{
	unsigned long long hblks, hblkhd;
	struct la_snapshot_info si;
	struct la_snapshot *snap;
	struct la_mallinfo mi;

	cr_assert_eq(sscanf(t->line, "mi %llu %llu", &hblks, &hblkhd), 2,
		     "%s", t->line);
	cr_assert_eq(la_snapshot_take(s, &snap), 0, "%s", la_errmsg());
	la_snapshot_info(snap, &si, sizeof(si));
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));
	cr_expect(si.consistent, "%s: %s", when, si.inconsistency);
	/* in one stop: the target is idle, nothing can make a walk fail */
	cr_expect_eq(si.attempts, 1, "%s: %u stops", when, si.attempts);
	cr_expect_eq(mi.hblks, hblks, "%s: %llu mmapped chunks, mallinfo2 %llu",
		     when, (unsigned long long)mi.hblks, hblks);
	cr_expect_eq(mi.hblkhd, hblkhd, "%s", when);
	la_snapshot_free(snap);
}

/* Is addr inside an anonymous mapping of the list at maps? */
static int
in_mappings(const struct maps *maps, uint64_t addr)
{
	const struct mapping *m = procmaps_find(maps, addr);

	return m && !m->path[0];
}

Test(python_heap, finds_an_mmapped_chunk_where_arenas_were, .timeout = 120)
{
	const char *argv[] = {"-I", "-c", reuse_script, NULL};
	const char *env[] = {"MALLOC_MMAP_THRESHOLD_=131072", NULL};
	struct la_session *s;
	struct maps before;
	struct target t;
	unsigned where = 0, n = 0;
	char *p, *end;

	cr_assert_eq(target_start(&t, "/usr/bin/python3", argv, env), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "ready");
	cr_assert_eq(la_session_open(t.pid, NULL, &s), 0, "%s", la_errmsg());
	cr_assert_eq(target_send(&t, "fill"), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	expect_mmapped(s, &t, "with the arenas");
	cr_assert_eq(procmaps_read(t.pid, &before), 0);
	cr_assert_eq(target_send(&t, "free"), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	cr_assert_eq(target_send(&t, "big"), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	cr_assert_eq(strncmp(t.line, "addr ", 5), 0, "%s", t.line);
	for (p = t.line + 5;; p = end, n++) {
		uint64_t addr = strtoull(p, &end, 16);

		if (end == p)
			break;
		where += in_mappings(&before, addr - 16);
	}
	/* the premise: chunks lie where the arenas were (of the first 60) */
	cr_expect_gt(where, 0, "none of %u chunks where the arenas were", n);
	procmaps_free(&before);
	cr_assert_eq(target_send(&t, "mi"), 0);
	cr_assert_eq(target_read_line(&t, 60000), 0, "%s", t.line);
	expect_mmapped(s, &t, "after the arenas");
	la_session_close(s);
	cr_expect_eq(target_check_unharmed(&t, 0, NULL), 0, "%s", t.line);
	target_stop(&t);
}
