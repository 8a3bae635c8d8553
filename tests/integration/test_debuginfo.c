/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_debuginfo.c - debuginfo.c reading one compilation unit alone (issue
 * 10 §3: the whole of libc6-dbg's DWARF cost 20 MB of peak RSS) answers
 * every question as libdwarf over the whole file does, through the
 * internal debuginfo.h (linked like the unit tests).
 *
 *  - malloc's types and variables (what malloc_layout.c asks) in the libc
 *    debug files of this system, of Debian bullseye (glibc 2.31, DWARF 4)
 *    and of trixie (2.41), fetched by make check with scripts/fetch-glibc
 *    (the cases FAIL, never skip, when the fetch failed), and the
 *    questions are answered from the CU alone (debuginfo_sliced());
 *  - file:line of a sample of libc's functions (compressed sections) and
 *    of every function of callchain (DWARF in the executable itself,
 *    uncompressed), still from one CU at a time at the end;
 *  - a file without .debug_aranges (libc's debug file after objcopy) is
 *    read whole, and gives the same answers;
 *  - call frame information: the FDEs found through .eh_frame_hdr and
 *    read with the last few asked for give the rules of libdwarf's whole
 *    list, around every function of libc and of three builds of
 *    callchain, and in .plt.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf/debugfile.h"
#include "elf/debuginfo.h"
#include "elf/elfsyms.h"
#include "target.h"

/* The environment variable naming a version's sysroot: LA_GLIBC_231. */
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
 * The debug file of the libc of version ("" for this test's own libc) and
 * the address of __libc_malloc in it, or fail saying why.
 */
static void
libc_debug_file(const char *version, char *out, size_t len, uint64_t *pc)
{
	char libc[PATH_MAX + 64], dbgdir[PATH_MAX + 32], var[32];
	const char *dirs[2] = {dbgdir, NULL};
	struct elffile *ef, *dbg;
	int err;

	if (!*version) {
		Dl_info info;

		cr_assert(dladdr((void *)gnu_get_libc_version, &info) &&
				  info.dli_fname,
			  "where is this test's libc?");
		snprintf(libc, sizeof(libc), "%s", info.dli_fname);
		snprintf(dbgdir, sizeof(dbgdir), "/usr/lib/debug");
	} else {
		const char *root;
		char real[PATH_MAX];

		root_var(version, var, sizeof(var));
		root = getenv(var);
		cr_assert(root && *root,
			  "%s is not set: run this test with make check", var);
		cr_assert_not_null(
			realpath(root, real),
			"glibc %s: sysroot %s: %s (make check fetches it with scripts/fetch-glibc)",
			version, root, strerror(errno));
		snprintf(libc, sizeof(libc),
			 "%s/lib/x86_64-linux-gnu/libc.so.6", real);
		snprintf(dbgdir, sizeof(dbgdir), "%s/usr/lib/debug", real);
	}
	err = elffile_open(libc, &ef);
	cr_assert_eq(err, 0, "%s: %d", libc, err);
	err = debugfile_find(ef, libc, "", dirs, out, len);
	elffile_close(ef);
	cr_assert_eq(err, 0, "no debug file for %s under %s (libc6-dbg)", libc,
		     dbgdir);
	cr_assert_eq(elffile_open(out, &dbg), 0, "%s", out);
	cr_assert_eq(elffile_symbol(dbg, "__libc_malloc", pc, NULL), 0,
		     "%s: no __libc_malloc", out);
	elffile_close(dbg);
}

static const char *const structs[] = {
	"malloc_state", "malloc_par", "_heap_info", "tcache_perthread_struct",
	"malloc_chunk",
};
#define NSTRUCTS (sizeof(structs) / sizeof(structs[0]))
static const char *const vars[] = {"main_arena", "mp_", "tcache"};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

struct answers {
	int sliced;
	int err[NSTRUCTS];
	struct di_struct st[NSTRUCTS];
	int verr[NVARS];
	uint64_t val[NVARS];
	int tls[NVARS];
};

static void
ask(const char *path, uint64_t pc, int whole, struct answers *a)
{
	struct debuginfo *di = NULL;
	int err;

	memset(a, 0, sizeof(*a));
	err = whole ? debuginfo_open_whole(path, &di)
		    : debuginfo_open(path, &di);
	cr_assert_eq(err, 0, "%s: %d", path, err);
	cr_assert_eq(debuginfo_select_cu(di, pc, "/malloc.c"), 0,
		     "%s: no CU at %#llx", path, (unsigned long long)pc);
	for (size_t i = 0; i < NSTRUCTS; i++)
		a->err[i] = debuginfo_struct(di, structs[i], &a->st[i]);
	for (size_t i = 0; i < NVARS; i++)
		a->verr[i] =
			debuginfo_variable(di, vars[i], &a->val[i], &a->tls[i]);
	a->sliced = debuginfo_sliced(di);
	debuginfo_close(di);
}

struct version {
	char v[8]; /* "" for this system's glibc */
};

ParameterizedTestParameters(debuginfo, malloc_cu_alone_answers_as_the_file)
{
	static struct version versions[] = {{""}, {"2.31"}, {"2.41"}};

	return cr_make_param_array(struct version, versions,
				   sizeof(versions) / sizeof(versions[0]));
}

ParameterizedTest(struct version *v, debuginfo,
		  malloc_cu_alone_answers_as_the_file, .timeout = 120)
{
	static struct answers one, all;
	char path[PATH_MAX];
	uint64_t pc;

	libc_debug_file(v->v, path, sizeof(path), &pc);
	ask(path, pc, 0, &one);
	ask(path, pc, 1, &all);
	cr_expect_eq(one.sliced, 1, "%s: malloc.c's CU was not read alone",
		     path);
	cr_expect_eq(all.sliced, 0);
	for (size_t i = 0; i < NSTRUCTS; i++) {
		cr_expect_eq(all.err[i], 0, "%s: struct %s: %d", path,
			     structs[i], all.err[i]);
		cr_expect_eq(one.err[i], all.err[i], "struct %s", structs[i]);
		cr_expect_geq(all.st[i].n, 2, "struct %s: %u members",
			      structs[i], all.st[i].n);
		cr_expect_eq(memcmp(&one.st[i], &all.st[i], sizeof(one.st[i])),
			     0, "struct %s differs", structs[i]);
	}
	for (size_t i = 0; i < NVARS; i++) {
		cr_expect_eq(all.verr[i], 0, "%s: %s: %d", path, vars[i],
			     all.verr[i]);
		cr_expect_eq(one.verr[i], all.verr[i], "%s", vars[i]);
		cr_expect_eq(one.val[i], all.val[i], "%s: %#llx, not %#llx",
			     vars[i], (unsigned long long)one.val[i],
			     (unsigned long long)all.val[i]);
		cr_expect_eq(one.tls[i], all.tls[i], "%s", vars[i]);
		/* tcache is the one thread-local variable */
		cr_expect_eq(all.tls[i], !strcmp(vars[i], "tcache"), "%s",
			     vars[i]);
	}
}

/* ---- lines ---------------------------------------------------------- */

#define MAX_PCS 8192

struct sample {
	uint64_t pc[MAX_PCS]; /* a function's middle */
	uint64_t start[MAX_PCS], size[MAX_PCS];
	unsigned n, every, seen;
};

static int
sample_cb(const char *name, const char *file, uint64_t value, uint64_t size,
	  void *arg)
{
	struct sample *s = arg;

	(void)name;
	(void)file;
	if (s->seen++ % s->every == 0 && s->n < MAX_PCS) {
		s->start[s->n] = value;
		s->size[s->n] = size;
		s->pc[s->n++] = value + size / 2;
	}
	return 0;
}

/* Function middles of symfile's .symtab, one in every. */
static void
sample_functions(const char *symfile, unsigned every, struct sample *s)
{
	struct elffile *ef;

	memset(s, 0, sizeof(*s));
	s->every = every;
	cr_assert_eq(elffile_open(symfile, &ef), 0, "%s", symfile);
	elffile_foreach_function(ef, sample_cb, s);
	elffile_close(ef);
	cr_assert_gt(s->n, 3, "%s: %u functions", symfile, s->n);
}

/*
 * file:line of every sampled pc through a and through b agree; returns
 * how many had a line.
 */
static unsigned
same_lines(struct debuginfo *a, struct debuginfo *b, const struct sample *s)
{
	unsigned found = 0;

	/* each function's first byte, and its middle */
	for (unsigned i = 0; i < 2 * s->n; i++) {
		uint64_t pc = i % 2 ? s->pc[i / 2] : s->start[i / 2];
		char fa[512] = "", fb[512] = "";
		unsigned la = 0, lb = 0;
		int ea = debuginfo_line(a, pc, fa, sizeof(fa), &la);
		int eb = debuginfo_line(b, pc, fb, sizeof(fb), &lb);

		cr_expect_eq(ea, eb, "pc %#llx: %d, not %d",
			     (unsigned long long)pc, ea, eb);
		if (ea || eb)
			continue;
		found++;
		cr_expect_str_eq(fa, fb, "pc %#llx", (unsigned long long)pc);
		cr_expect_eq(la, lb, "pc %#llx: line %u, not %u",
			     (unsigned long long)pc, la, lb);
	}
	return found;
}

static void
lines_agree(const char *dwarf_file, const char *symfile, unsigned every)
{
	static struct sample s;
	struct debuginfo *one, *all;
	unsigned found;

	sample_functions(symfile, every, &s);
	cr_assert_eq(debuginfo_open(dwarf_file, &one), 0, "%s", dwarf_file);
	cr_assert_eq(debuginfo_open_whole(dwarf_file, &all), 0, "%s",
		     dwarf_file);
	found = same_lines(one, all, &s);
	/* every function of a -g build has a line; allow for asm ones */
	cr_expect_geq(found, 2 * s.n * 3 / 4, "%s: lines for %u of %u pcs",
		      dwarf_file, found, 2 * s.n);
	cr_expect_eq(debuginfo_sliced(one), 1,
		     "%s: line tables were not read one CU at a time",
		     dwarf_file);
	/* Again, from the tables kept and then from new loads. */
	cr_expect_eq(same_lines(one, all, &s), found);
	debuginfo_close(one);
	debuginfo_close(all);
}

Test(debuginfo, libc_lines_from_one_cu_at_a_time, .timeout = 120)
{
	char path[PATH_MAX];
	uint64_t pc;

	libc_debug_file("", path, sizeof(path), &pc);
	/* ~3000 functions: about 100 of them, in as many CUs */
	lines_agree(path, path, 29);
}

Test(debuginfo, executable_lines_from_one_cu_at_a_time)
{
	char prog[PATH_MAX];

	target_path("callchain", prog, sizeof(prog));
	lines_agree(prog, prog, 1);
}

/* Sort s by address: neighbours share a CU, read once. */
static void
sort_sample(struct sample *s)
{
	for (unsigned i = 1; i < s->n; i++)
		for (unsigned j = i; j > 0 && s->start[j - 1] > s->start[j];
		     j--) {
			uint64_t a = s->start[j], b = s->size[j], c = s->pc[j];

			s->start[j] = s->start[j - 1];
			s->size[j] = s->size[j - 1];
			s->pc[j] = s->pc[j - 1];
			s->start[j - 1] = a;
			s->size[j - 1] = b;
			s->pc[j - 1] = c;
		}
}

/*
 * lineprog.c decodes line programs as libdwarf's line tables read them
 * (what debuginfo_line() used before): the same file and line at the
 * first byte and the middle of every function, both reading one CU at
 * a time.
 */
static void
lines_as_libdwarf(const char *dwarf_file, const char *symfile, unsigned every)
{
	static struct sample s;
	struct debuginfo *ours, *theirs;
	unsigned found;

	sample_functions(symfile, every, &s);
	sort_sample(&s);
	cr_assert_eq(debuginfo_open(dwarf_file, &ours), 0, "%s", dwarf_file);
	cr_assert_eq(debuginfo_open(dwarf_file, &theirs), 0, "%s",
		     dwarf_file);
	debuginfo_lines_libdwarf(theirs);
	found = same_lines(ours, theirs, &s);
	cr_expect_geq(found, 2 * s.n * 3 / 4, "%s: lines for %u of %u pcs",
		      dwarf_file, found, 2 * s.n);
	cr_expect_eq(debuginfo_sliced(ours), 1, "%s", dwarf_file);
	cr_expect_eq(debuginfo_sliced(theirs), 1, "%s", dwarf_file);
	debuginfo_close(ours);
	debuginfo_close(theirs);
}

/* This system's libc at every function; bullseye's (DWARF 4) and trixie's
 * at every 4th */
ParameterizedTestParameters(debuginfo, libc_lines_as_libdwarf)
{
	static struct version versions[] = {{""}, {"2.31"}, {"2.41"}};

	return cr_make_param_array(struct version, versions,
				   sizeof(versions) / sizeof(versions[0]));
}

ParameterizedTest(struct version *v, debuginfo, libc_lines_as_libdwarf,
		  .timeout = 300)
{
	char path[PATH_MAX];
	uint64_t pc;

	libc_debug_file(v->v, path, sizeof(path), &pc);
	lines_as_libdwarf(path, path, *v->v ? 4 : 1);
}

Test(debuginfo, executable_lines_as_libdwarf_at_every_function)
{
	const char *const names[] = {"callchain", "callchain-o2",
				     "callchain-nopie"};
	char prog[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		target_path(names[i], prog, sizeof(prog));
		lines_as_libdwarf(prog, prog, 1);
	}
}

/*
 * Without .debug_aranges, finding a CU takes every CU's ranges: libdwarf
 * reads the whole file, and answers as before.
 */
Test(debuginfo, a_file_without_aranges_is_read_whole, .timeout = 120)
{
	static struct answers one, all;
	char path[PATH_MAX], copy[64];
	uint64_t pc;
	pid_t pid;
	int st;

	libc_debug_file("", path, sizeof(path), &pc);
	snprintf(copy, sizeof(copy), "/tmp/la-noaranges-%d", (int)getpid());
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		execlp("objcopy", "objcopy", "--remove-section=.debug_aranges",
		       path, copy, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && !WEXITSTATUS(st),
		  "objcopy failed (binutils): %#x", st);
	ask(copy, pc, 0, &one);
	unlink(copy);
	ask(path, pc, 1, &all);
	cr_expect_eq(one.sliced, 0,
		     "no .debug_aranges, yet malloc.c's CU was read alone");
	for (size_t i = 0; i < NSTRUCTS; i++) {
		cr_expect_eq(one.err[i], 0, "struct %s: %d", structs[i],
			     one.err[i]);
		cr_expect_eq(memcmp(&one.st[i], &all.st[i], sizeof(one.st[i])),
			     0, "struct %s differs", structs[i]);
	}
	for (size_t i = 0; i < NVARS; i++) {
		cr_expect_eq(one.verr[i], 0, "%s: %d", vars[i], one.verr[i]);
		cr_expect_eq(one.val[i], all.val[i], "%s", vars[i]);
	}
}

/* ---- call frame information -------------------------------------------- */

static void
expect_same_rule(const struct cfi_rule *a, const struct cfi_rule *b,
		 uint64_t pc, const char *what)
{
	cr_expect_eq(a->kind, b->kind, "pc %#llx %s: kind %d, not %d",
		     (unsigned long long)pc, what, a->kind, b->kind);
	cr_expect_eq(a->reg, b->reg, "pc %#llx %s: reg", (unsigned long long)pc,
		     what);
	cr_expect_eq(a->offset, b->offset, "pc %#llx %s: offset",
		     (unsigned long long)pc, what);
	cr_expect_eq(a->expr_len, b->expr_len, "pc %#llx %s: expression",
		     (unsigned long long)pc, what);
	if (a->expr_len == b->expr_len && a->expr_len)
		cr_expect(a->expr && b->expr &&
				  !memcmp(a->expr, b->expr, a->expr_len),
			  "pc %#llx %s: expression", (unsigned long long)pc,
			  what);
}

/*
 * The rows of every sampled pc (around each function's middle, and every
 * 4th byte of .plt) agree between the FDEs read as asked for and the
 * whole list; returns how many had one.
 */
static unsigned
same_rows(const char *path, const char *symfile)
{
	static struct sample s;
	struct debuginfo_cfi *one, *all;
	struct elffile *ef;
	uint64_t plt = 0, plt_size = 0;
	const void *data;
	unsigned found = 0, tried = 0;

	sample_functions(symfile, 1, &s);
	cr_assert_eq(elffile_open(path, &ef), 0, "%s", path);
	if (elffile_section(ef, ".plt", &plt, &plt_size, &data))
		plt_size = 0;
	elffile_close(ef);
	cr_assert_eq(debuginfo_cfi_open(path, &one), 0, "%s", path);
	cr_assert_eq(debuginfo_cfi_open_whole(path, &all), 0, "%s", path);
	cr_expect_eq(debuginfo_cfi_sliced(one), 1,
		     "%s: every FDE was read at open", path);
	cr_expect_eq(debuginfo_cfi_sliced(all), 0);
	for (unsigned i = 0; i < s.n + plt_size / 4; i++) {
		/* a function's first, second, middle and last bytes: the
		 * rows differ along a function; or a byte of .plt */
		uint64_t a = i < s.n ? s.start[i] : plt + 4 * (i - s.n);
		uint64_t pcs[4] = {a, a + 1, i < s.n ? s.pc[i] : a,
				   i < s.n ? a + s.size[i] - 1 : a};

		for (unsigned k = 0; k < (i < s.n ? 4u : 1u); k++) {
			struct cfi_row ra, rb;
			int ea, eb;

			memset(&ra, 0, sizeof(ra));
			memset(&rb, 0, sizeof(rb));
			/* one then the other: each row is read before the
			 * next call may free its expressions */
			ea = debuginfo_cfi_row(one, pcs[k], &ra);
			eb = debuginfo_cfi_row(all, pcs[k], &rb);
			tried++;
			cr_expect_eq(ea, eb, "%s: pc %#llx: %d, not %d", path,
				     (unsigned long long)pcs[k], ea, eb);
			if (ea || eb)
				continue;
			found++;
			cr_expect_eq(ra.fde_lo, rb.fde_lo, "pc %#llx",
				     (unsigned long long)pcs[k]);
			cr_expect_eq(ra.fde_hi, rb.fde_hi, "pc %#llx",
				     (unsigned long long)pcs[k]);
			expect_same_rule(&ra.cfa, &rb.cfa, pcs[k], "CFA");
			for (unsigned r = 0; r < CFI_NREGS; r++)
				expect_same_rule(&ra.reg[r], &rb.reg[r], pcs[k],
						 "register");
		}
	}
	cr_expect_geq(found, tried / 2, "%s: rows for %u of %u pcs", path,
		      found, tried);
	cr_expect_eq(debuginfo_cfi_sliced(one), 1);
	debuginfo_cfi_close(one);
	debuginfo_cfi_close(all);
	return found;
}

Test(debuginfo, libc_cfi_from_the_fdes_asked_for, .timeout = 120)
{
	char dbg[PATH_MAX];
	Dl_info info;
	uint64_t pc;

	cr_assert(dladdr((void *)gnu_get_libc_version, &info) &&
		  info.dli_fname);
	/* libc's .symtab is in its debug file; the CFI in libc itself */
	libc_debug_file("", dbg, sizeof(dbg), &pc);
	same_rows(info.dli_fname, dbg);
}

Test(debuginfo, executable_cfi_from_the_fdes_asked_for)
{
	const char *const names[] = {"callchain", "callchain-o2",
				     "callchain-nopie"};
	char prog[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		target_path(names[i], prog, sizeof(prog));
		same_rows(prog, prog);
	}
}
