/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_unwind.c - symbols, lines and offline unwinding (issue 5, item 4),
 * through the internal modules.h and unwind.h (linked like the unit tests).
 *
 * On callchain (tests/targets/callchain.c), whose main thread waits in
 * read(2) at the end of main -> chain_a -> chain_b -> chain_c: stop it with
 * tracee_stop_all(), copy the main thread's registers and 64 KiB of stack,
 * resume at once, then unwind from the copies and symbolize. Each build
 * must give read in libc (through libc's .eh_frame: Debian's libc keeps no
 * frame pointers), then chain_c, chain_b, chain_a, main in order at the
 * addresses the target announced, and end cleanly at _start:
 *
 *  - debug: -g PIE (Debian's default) with frame pointers; file:line must
 *    be callchain.c at the lines of the calls; gdb's `bt` on the same
 *    stopped process names the same functions from chain_c outwards.
 *  - nodebug: a PIE copy after strip --strip-debug: names from .symtab,
 *    no lines (-ENOENT).
 *  - nopie: -no-pie, so a bias of 0 for the executable.
 *  - o2: -O2 -fomit-frame-pointer: only CFI can find the chain.
 *  - frame_pointers: with CFI switched off, on a chain that blocks in a
 *    function of its own (every frame has a frame pointer).
 *
 * After dlopen() and dlclose() in callchain: a refresh of the modules keeps
 * what unchanged modules loaded and follows the library in and out. On
 * Debian's python3 with over 32 modules: the executable's symbols.
 *
 * Without a process: symbols and lines of this very test program, C++
 * demangling, and an unwinder fed garbage (random stacks and registers,
 * truncated copies, frame-pointer loops) that must end every walk without
 * reading outside the copy (run it under the sanitizer build to check).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <leakattach.h>

#include "elf/elfsyms.h"
#include "elf/modules.h"
#include "elf/unwind.h"
#include "proc/memsrc.h"
#include "ptrace/tracee.h"
#include "target.h"

#ifndef CALLCHAIN_SRC
#define CALLCHAIN_SRC "tests/targets/callchain.c"
#endif

#define MAXF 64
#define STACK_COPY (64 * 1024)

struct unwound {
	unsigned n;
	enum unwind_stop stop;
	struct unwind_frame f[MAXF];
	struct symbol_hit sym[MAXF];
	int sym_err[MAXF];
	char file[MAXF][512];
	unsigned line[MAXF];
	int line_err[MAXF];
};

static const char *
how_str(enum unwind_how how)
{
	return how == UNWIND_CFI ? "cfi" : how == UNWIND_FP ? "fp" : "regs";
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Names and lines: frame 0 at its pc, callers at ra - 1 (the call). */
static void
symbolize(struct modules *m, struct unwound *u)
{
	for (unsigned i = 0; i < u->n; i++) {
		uint64_t a = i ? u->f[i].pc - 1 : u->f[i].pc;

		u->sym_err[i] = modules_symbol(m, a, &u->sym[i]);
		u->line_err[i] = modules_line(m, a, u->file[i],
					      sizeof(u->file[i]), &u->line[i]);
		cr_log_info("#%-2u %#018llx %s+%#llx in %s (%s:%u) [%s]", i,
			    (unsigned long long)u->f[i].pc,
			    u->sym_err[i] ? "??" : u->sym[i].name,
			    (unsigned long long)u->sym[i].offset,
			    u->sym[i].module ? base_name(u->sym[i].module->path)
					     : "?",
			    u->line_err[i] ? "-" : base_name(u->file[i]),
			    u->line[i], how_str(u->f[i].how));
	}
	cr_log_info("stop: %s", unwind_stop_str(u->stop));
}

static const char *
name_of(const struct unwound *u, unsigned i)
{
	return i < u->n && !u->sym_err[i] ? u->sym[i].name : "??";
}

static int
find_frame(const struct unwound *u, const char *name)
{
	for (unsigned i = 0; i < u->n; i++)
		if (!strcmp(name_of(u, i), name))
			return (int)i;
	return -1;
}

/* The line marked "call:NAME" in callchain.c. */
static unsigned
call_line(const char *name)
{
	char marker[64], buf[512];
	unsigned ln = 0;
	FILE *f = fopen(CALLCHAIN_SRC, "r");

	cr_assert(f, "cannot read %s", CALLCHAIN_SRC);
	snprintf(marker, sizeof(marker), "/* call:%s */", name);
	while (fgets(buf, sizeof(buf), f)) {
		ln++;
		if (strstr(buf, marker)) {
			fclose(f);
			return ln;
		}
	}
	fclose(f);
	cr_assert_fail("no %s in %s", marker, CALLCHAIN_SRC);
	return 0;
}

struct announced {
	uint64_t main, a, b, c, raw;
};

static void
start_callchain(struct target *t, const char *name, int raw,
		struct announced *an)
{
	const char *const argv[] = {raw ? "raw" : NULL, NULL};
	unsigned long long v[5];

	cr_assert_eq(target_start(t, name, raw ? argv : NULL, NULL), 0,
		     "cannot start %s", name);
	cr_assert_eq(target_read_line(t, 20000), 0, "%s: %s", name, t->line);
	cr_assert_eq(sscanf(t->line,
			    "ready main=%llx chain_a=%llx chain_b=%llx "
			    "chain_c=%llx raw_read=%llx",
			    &v[0], &v[1], &v[2], &v[3], &v[4]),
		     5, "unexpected first line: %s", t->line);
	*an = (struct announced){v[0], v[1], v[2], v[3], v[4]};
}

/*
 * Stop the target while its main thread waits in read (orig_rax is the
 * system call it sleeps in), copy its registers and stack, resume it.
 */
static size_t
capture_blocked(pid_t pid, struct user_regs_struct *regs, unsigned char *stack)
{
	struct memsrc *mem;
	long got = 0;

	cr_assert_eq(memsrc_pid_open(pid, &mem), 0);
	for (int tries = 0; tries < 1000; tries++) {
		struct tracee_set set;
		struct tracee *main_thread = NULL;
		int err = tracee_stop_all(pid, 2000, &set);

		cr_assert_eq(err, 0, "tracee_stop_all: %s (%s)",
			     la_strerror(err), la_errmsg());
		for (size_t i = 0; i < set.n; i++)
			if (set.t[i].tid == pid && set.t[i].have_regs)
				main_thread = &set.t[i];
		if (main_thread && main_thread->regs.orig_rax == SYS_read) {
			*regs = main_thread->regs;
			got = unwind_copy_stack(mem, regs->rsp, stack,
						STACK_COPY);
		}
		tracee_resume_all(&set);
		tracee_set_free(&set);
		if (got)
			break;
		sleep_us(2000);
	}
	memsrc_close(mem);
	cr_assert_gt(got, 0, "never caught the main thread in read(2)");
	return (size_t)got;
}

static void
unwind_target(pid_t pid, struct modules *m, unsigned flags, struct unwound *u)
{
	struct user_regs_struct regs;
	unsigned char *stack = malloc(STACK_COPY);
	size_t len;

	cr_assert(stack);
	len = capture_blocked(pid, &regs, stack);
	memset(u, 0, sizeof(*u));
	u->n = unwind_stack(m, &regs, regs.rsp, stack, len, flags, u->f, MAXF,
			    &u->stop);
	free(stack);
	symbolize(m, u);
}

/*
 * read in libc as frame 0 (or 1), then chain_c, chain_b, chain_a, main,
 * found by method how (0: any), at the announced addresses; returns the
 * index of chain_c.
 */
static int
check_chain(const struct unwound *u, const struct announced *an,
	    enum unwind_how how)
{
	static const char *const chain[] = {"chain_c", "chain_b", "chain_a",
					    "main"};
	uint64_t starts[] = {an->c, an->b, an->a, an->main};
	int c = find_frame(u, "chain_c"), libc_read = 0;

	cr_assert(c == 1 || c == 2, "chain_c is frame %d, not 1 or 2", c);
	for (int i = 0; i < c; i++)
		if (strstr(name_of(u, (unsigned)i), "read") &&
		    u->sym[i].module &&
		    !strcmp(base_name(u->sym[i].module->path), "libc.so.6"))
			libc_read = 1;
	cr_expect(libc_read, "no read in libc.so.6 below chain_c");
	for (unsigned k = 0; k < 4; k++) {
		unsigned i = (unsigned)c + k;

		cr_assert_str_eq(name_of(u, i), chain[k], "frame %u", i);
		cr_expect_eq(u->sym[i].start, starts[k],
			     "%s at %#llx, announced at %#llx", chain[k],
			     (unsigned long long)u->sym[i].start,
			     (unsigned long long)starts[k]);
		cr_expect(u->sym[i].is_function);
		if (how)
			cr_expect_eq(u->f[i].how, how,
				     "frame %u (%s) found by %s", i, chain[k],
				     how_str(u->f[i].how));
	}
	return c;
}

/* The rest, from main outwards: libc's start code, then _start. */
static void
check_outermost(const struct unwound *u)
{
	cr_expect_eq(u->stop, UNWIND_STOP_OUTERMOST, "the walk ended with: %s",
		     unwind_stop_str(u->stop));
	cr_expect_str_eq(name_of(u, u->n - 1), "_start");
}

static void
check_lines(const struct unwound *u, int c, const char *c_marker)
{
	static const char *const markers[] = {NULL, "chain_b", "chain_a",
					      "main"};

	for (unsigned k = 0; k < 4; k++) {
		unsigned i = (unsigned)c + k;
		const char *mk = k ? markers[k] : c_marker;

		cr_assert_eq(u->line_err[i], 0, "frame %u: no line (%s)", i,
			     strerror(-u->line_err[i]));
		cr_expect_str_eq(base_name(u->file[i]), "callchain.c",
				 "frame %u in %s", i, u->file[i]);
		cr_expect_eq(u->line[i], call_line(mk),
			     "frame %u (%s): line %u, the call is on %u", i,
			     name_of(u, i), u->line[i], call_line(mk));
	}
}

/* ---- gdb ------------------------------------------------------------------- */

#define GDB_MAXF 64

/* Function names of gdb's `bt` on pid; -1 when gdb cannot be used. */
static int
gdb_backtrace(pid_t pid, char names[GDB_MAXF][128])
{
	char spid[16];
	const char *const argv[] = {"gdb",
				    "-batch",
				    "-nx",
				    "-p",
				    spid,
				    "-ex",
				    "set backtrace past-main on",
				    "-ex",
				    "bt",
				    NULL};
	const char *const env[] = {"DEBUGINFOD_URLS=", NULL};
	struct run_result r = {0};
	int n = 0, err;
	char *line, *save = NULL;

	snprintf(spid, sizeof(spid), "%d", (int)pid);
	err = run_capture(argv, env, 120000, &r);
	if (err) {
		cr_log_warn("gdb cannot be run: %s", strerror(-err));
		run_result_free(&r);
		return -1;
	}
	/*
	 * #0  0x00007f3c8e8f1a5d in __GI___libc_read (fd=0, ...) at ...
	 * #1  0x000055d1c4c5d1b9 in chain_c (fd=0) at callchain.c:64
	 * #4  main (argc=1, argv=...) at callchain.c:106
	 */
	for (line = strtok_r(r.out, "\n", &save); line && n < GDB_MAXF;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *in;
		size_t len;

		if (*p != '#')
			continue;
		p += strcspn(p, " ");
		p += strspn(p, " ");
		if (!strncmp(p, "0x", 2)) {
			in = strstr(p, " in ");
			if (!in)
				continue;
			p = in + 4;
		}
		len = strcspn(p, " (");
		snprintf(names[n++], 128, "%.*s", (int)len, p);
	}
	if (!n)
		cr_log_warn("gdb printed no backtrace: %s", r.err);
	run_result_free(&r);
	return n ? n : -1;
}

/* ---- the tests on callchain -------------------------------------------------- */

Test(unwind, debug_pie_cfi_names_lines_and_gdb, .timeout = 180)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	char gdb[GDB_MAXF][128];
	int c, ng;

	start_callchain(&t, "callchain", 0, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_outermost(&u);
	check_lines(&u, c, "chain_c");
	for (unsigned i = 0; i < u.n; i++)
		cr_expect_neq(u.f[i].how, UNWIND_FP,
			      "frame %u needed the frame pointer", i);
	/* The target is running again: it answers. */
	cr_assert_eq(target_send(&t, "ping"), 0);
	cr_assert_eq(target_read_line(&t, 5000), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "pong");

	/* gdb attaches after we detached; the thread waits in read again. */
	ng = gdb_backtrace(t.pid, gdb);
	if (ng > 0) {
		int gc = -1;

		for (int i = 0; i < ng; i++)
			cr_log_info("gdb #%d %s", i, gdb[i]);
		for (int i = 0; i < ng && gc < 0; i++)
			if (!strcmp(gdb[i], "chain_c"))
				gc = i;
		cr_assert_geq(gc, 0, "gdb found no chain_c");
		cr_expect_eq((unsigned)(ng - gc), u.n - (unsigned)c,
			     "from chain_c outwards gdb has %d frames, we %u",
			     ng - gc, u.n - (unsigned)c);
		/*
		 * The same functions up to main; past main, libc's aliases
		 * may differ (gdb names __libc_start_main_impl from DWARF,
		 * we __libc_start_main from .symtab), but not _start.
		 */
		for (int k = 0; k < 4 && gc + k < ng; k++)
			cr_expect_str_eq(name_of(&u, (unsigned)(c + k)),
					 gdb[gc + k], "frame %d", c + k);
		cr_expect_str_eq(gdb[ng - 1], name_of(&u, u.n - 1));
	}
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

/*
 * A session keeps its modules from one callers window to the next and
 * refreshes them (modules_refresh()): what an unchanged module loaded
 * stays (the same ELF file, not read again), a library loaded since is
 * found, one unloaded since is gone, and the chain unwinds and resolves
 * to the same lines as before.
 */
Test(unwind, refresh_keeps_what_is_loaded_and_follows_dlopen, .timeout = 60)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	struct symbol_hit hit;
	const struct module *exe;
	struct elffile *exe_elf;
	unsigned long long sym;
	int c;

	start_callchain(&t, "callchain", 0, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_lines(&u, c, "chain_c");
	exe = modules_find(m, an.main);
	cr_assert(exe);
	exe_elf = modules_elf(m, exe);
	cr_assert(exe_elf);

	cr_assert_eq(target_send(&t, "dlopen libz.so.1 zlibVersion"), 0);
	cr_assert_eq(target_read_line(&t, 5000), 0, "%s", t.line);
	cr_assert_eq(sscanf(t.line, "dl zlibVersion=%llx", &sym), 1, "%s",
		     t.line);
	cr_expect_null(modules_find(m, sym), "libz known before the refresh");
	cr_assert_eq(modules_refresh(m), 0);
	exe = modules_find(m, an.main);
	cr_assert(exe);
	cr_expect_eq(modules_elf(m, exe), exe_elf,
		     "the executable was opened again");
	cr_assert_eq(modules_symbol(m, sym, &hit), 0, "no symbol at %#llx",
		     sym);
	cr_expect_str_eq(hit.name, "zlibVersion");
	cr_expect_eq(hit.offset, 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_outermost(&u);
	check_lines(&u, c, "chain_c");

	cr_assert_eq(target_send(&t, "dlclose"), 0);
	cr_assert_eq(target_read_line(&t, 5000), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "closed");
	cr_assert_eq(modules_refresh(m), 0);
	cr_expect_null(modules_find(m, sym), "libz is still there");
	cr_expect_eq(modules_elf(m, modules_find(m, an.main)), exe_elf);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

/* Files with code mapped by pid. */
static unsigned
code_files(pid_t pid)
{
	char path[64], line[1024], seen[128][256];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f) && n < 128) {
		char perms[8], file[256] = "";
		unsigned i;

		if (sscanf(line, "%*s %7s %*s %*s %*s %255s", perms, file) < 2 ||
		    perms[2] != 'x' || file[0] != '/')
			continue;
		for (i = 0; i < n && strcmp(seen[i], file); i++)
			;
		if (i == n)
			snprintf(seen[n++], sizeof(seen[0]), "%s", file);
	}
	fclose(f);
	return n;
}

/*
 * More modules than the first table holds (32): the table moves as it
 * grows, and the executable (the first module) must still be opened by
 * its own path. Debian's python3 with many extension modules imported;
 * it says where Py_Initialize is (its executable exports it).
 */
Test(unwind, many_modules_keep_the_executables_symbols, .timeout = 60)
{
	const char *argv[] = {
		"-c",
		"import sys, ctypes, ssl, sqlite3, decimal, json, hashlib, zlib\n"
		"import bz2, lzma, curses, readline, uuid, socket, select, mmap\n"
		"import array, math, cmath, datetime, csv, pickle, struct, grp\n"
		"import unicodedata, asyncio, multiprocessing, binascii, fcntl\n"
		"import resource, termios, xml.etree.ElementTree\n"
		"a = ctypes.cast(ctypes.pythonapi.Py_Initialize, ctypes.c_void_p)\n"
		"sys.stdout.write('ready %#x\\n' % a.value); sys.stdout.flush()\n"
		"sys.stdin.readline()\n",
		NULL};
	struct target t;
	struct modules *m;
	struct symbol_hit hit;
	const struct module *mod;
	unsigned long long addr;

	cr_assert_eq(target_start(&t, "/usr/bin/python3", argv, NULL), 0);
	cr_assert_eq(target_read_line(&t, 30000), 0, "%s", t.line);
	cr_assert_eq(sscanf(t.line, "ready %llx", &addr), 1, "%s", t.line);
	cr_assert_gt(code_files(t.pid), 32, "too few modules for the test");
	cr_assert_eq(modules_open(t.pid, &m), 0);
	for (int refreshed = 0; refreshed < 2; refreshed++) {
		if (refreshed)
			cr_assert_eq(modules_refresh(m), 0);
		mod = modules_find(m, addr);
		cr_assert(mod, "no module maps %#llx", addr);
		cr_expect(strstr(mod->path, "/python3"), "%s", mod->path);
		cr_assert_eq(modules_symbol(m, addr, &hit), 0,
			     "no symbol at %#llx in %s", addr, mod->path);
		cr_expect_str_eq(hit.name, "Py_Initialize");
	}
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

Test(unwind, stripped_pie_names_from_symtab_no_lines, .timeout = 60)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	int c;

	start_callchain(&t, "callchain-nodebug", 0, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_outermost(&u);
	for (unsigned k = 0; k < 4; k++)
		cr_expect_eq(u.line_err[c + k], -ENOENT,
			     "frame %u has a line without DWARF: %s:%u", c + k,
			     u.file[c + k], u.line[c + k]);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

Test(unwind, no_pie, .timeout = 60)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	const struct module *exe;
	int c;

	start_callchain(&t, "callchain-nopie", 0, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_outermost(&u);
	check_lines(&u, c, "chain_c");
	exe = modules_find(m, an.main);
	cr_assert(exe);
	cr_expect_eq(exe->bias, 0, "bias %#llx for a -no-pie executable",
		     (unsigned long long)exe->bias);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

Test(unwind, o2_omit_frame_pointer_needs_cfi, .timeout = 60)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	int c;

	start_callchain(&t, "callchain-o2", 0, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, 0, &u);
	c = check_chain(&u, &an, UNWIND_CFI);
	check_outermost(&u);
	check_lines(&u, c, "chain_c");
	/* For the record: what frame pointers alone make of it. */
	cr_log_info("the same stop with frame pointers only:");
	unwind_target(t.pid, m, UNWIND_NO_CFI, &u);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

Test(unwind, frame_pointers_without_cfi, .timeout = 60)
{
	struct target t;
	struct announced an;
	struct modules *m;
	struct unwound u;
	int r;

	start_callchain(&t, "callchain", 1, &an);
	cr_assert_eq(modules_open(t.pid, &m), 0);
	unwind_target(t.pid, m, UNWIND_NO_CFI, &u);
	r = find_frame(&u, "raw_read");
	cr_assert_eq(r, 0, "raw_read is frame %d, not 0", r);
	cr_expect_eq(u.sym[0].start, an.raw);
	for (unsigned i = 1; i < 5; i++)
		cr_expect_eq(u.f[i].how, UNWIND_FP, "frame %u found by %s", i,
			     how_str(u.f[i].how));
	cr_assert_str_eq(name_of(&u, 1), "chain_c");
	cr_assert_str_eq(name_of(&u, 2), "chain_b");
	cr_assert_str_eq(name_of(&u, 3), "chain_a");
	cr_assert_str_eq(name_of(&u, 4), "main");
	cr_expect_eq(u.line[1], call_line("raw"));

	/* And CFI on the same stop: the same frames, then to _start. */
	unwind_target(t.pid, m, 0, &u);
	cr_assert_str_eq(name_of(&u, 0), "raw_read");
	cr_assert_str_eq(name_of(&u, 1), "chain_c");
	cr_assert_str_eq(name_of(&u, 4), "main");
	check_outermost(&u);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}

/* ---- without a process: this program ----------------------------------------- */

static int marker_object[16];

static __attribute__((noinline)) int
marker_function(int x)
{
	marker_object[x & 15] += x; /* keeps it a real function */
	return marker_object[(x + 1) & 15];
}

Test(unwind_self, symbols_lines_and_modules_of_this_program)
{
	struct modules *m;
	struct symbol_hit h;
	char file[512];
	unsigned line;
	uint64_t fn = (uint64_t)(uintptr_t)marker_function;
	uint64_t pid_fn = (uint64_t)(uintptr_t)getpid;
	void *heap = malloc(64);

	cr_assert_eq(modules_open(getpid(), &m), 0);
	cr_assert_eq(modules_symbol(m, fn + 1, &h), 0);
	cr_expect_str_eq(h.name, "marker_function");
	cr_expect_eq(h.start, fn);
	cr_expect_eq(h.offset, 1);
	cr_expect(h.is_function);
	cr_assert(h.module);
	cr_expect(modules_elf(m, h.module));

	cr_assert_eq(
		modules_symbol(m, (uint64_t)(uintptr_t)&marker_object[3], &h),
		0);
	cr_expect_str_eq(h.name, "marker_object");
	cr_expect_eq(h.offset, 3 * sizeof(int));
	cr_expect_not(h.is_function);

	cr_assert_eq(modules_line(m, fn, file, sizeof(file), &line), 0);
	cr_expect_str_eq(base_name(file), "test_unwind.c");
	cr_expect(line > 0 && line < 100000);
	cr_log_info("marker_function is at %s:%u", file, line);

	/* libc: its .dynsym, or .symtab of libc6-dbg's debug file. */
	cr_assert_eq(modules_symbol(m, pid_fn, &h), 0);
	cr_expect(strstr(h.name, "getpid"), "getpid is named %s", h.name);
	cr_assert(h.module);
	cr_expect_str_eq(base_name(h.module->path), "libc.so.6");

	cr_expect_null(modules_find(m, (uint64_t)(uintptr_t)heap));
	cr_expect_eq(modules_symbol(m, (uint64_t)(uintptr_t)heap, &h), -ENOENT);
	cr_expect_null(h.module);
	free(heap);
	modules_close(m);
}

Test(unwind_self, demangles_cxx_names)
{
	char buf[256];

	cr_assert_eq(modules_demangle("_ZN3Foo3barEi", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "Foo::bar(int)");
	cr_assert_eq(modules_demangle("_ZTV3Foo", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "vtable for Foo");
	cr_expect_eq(modules_demangle("main", buf, sizeof(buf)), -ENOENT);
	cr_expect_str_eq(buf, "main");
	cr_expect_eq(modules_demangle("_Z!!garbage", buf, sizeof(buf)),
		     -ENOENT);
	cr_expect_str_eq(buf, "_Z!!garbage");
	/* Truncated, never overflowing. */
	cr_assert_eq(modules_demangle("_ZN3Foo3barEi", buf, 5), 0);
	cr_expect_str_eq(buf, "Foo:");
}

/* ---- garbage ----------------------------------------------------------------- */

static uint64_t
rand64(void)
{
	return ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^
	       (uint64_t)rand();
}

/* The walk's invariants, whatever the input. */
static void
check_sane(const struct unwind_frame *f, unsigned n, unsigned max)
{
	cr_assert_leq(n, max);
	for (unsigned i = 1; i < n; i++)
		cr_assert_gt(f[i].sp, f[i - 1].sp, "frame %u: sp did not grow",
			     i);
}

Test(unwind_garbage, random_stacks_end_cleanly, .timeout = 120)
{
	struct modules *m;
	uint64_t code[4] = {
		(uint64_t)(uintptr_t)marker_function,
		(uint64_t)(uintptr_t)getpid,
		(uint64_t)(uintptr_t)memcpy,
		(uint64_t)(uintptr_t)unwind_stack,
	};
	unsigned counts[UNWIND_STOP_NO_RULE + 1] = {0};

	srand(12345);
	cr_assert_eq(modules_open(getpid(), &m), 0);
	for (int round = 0; round < 3000; round++) {
		/* Odd lengths too: the last few bytes are a partial word. */
		size_t len = (size_t)(rand() % 3 ? rand() % 4096 : rand() % 24);
		/* Exactly len bytes: the sanitizer sees any read beyond. */
		unsigned char *buf = malloc(len ? len : 1);
		uint64_t base =
			0x7ffc00000000ull + (uint64_t)(rand() % 4096) * 16;
		struct user_regs_struct regs;
		struct unwind_frame f[MAXF];
		enum unwind_stop stop;
		unsigned n, max = (unsigned)(rand() % MAXF) + 1;
		int plausible = rand() % 2;

		cr_assert(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rand();
		/* Sprinkle words that look like stack and code addresses. */
		for (size_t i = 0; plausible && i + 8 <= len; i += 8) {
			uint64_t v = rand() % 2
					     ? base + rand64() % (len + 64)
					     : code[rand() % 4] +
						       (uint64_t)(rand() % 256);

			memcpy(buf + i, &v, 8);
		}
		memset(&regs, 0, sizeof(regs));
		regs.rip =
			rand() % 8 ? code[rand() % 4] + rand() % 512 : rand64();
		regs.rsp = rand() % 8 ? base : rand64();
		regs.rbp = rand() % 2 ? base + rand64() % (len + 32) : rand64();
		regs.rbx = rand64();
		n = unwind_stack(m, &regs, base, buf, len,
				 rand() % 4 ? 0 : UNWIND_NO_CFI, f, max, &stop);
		check_sane(f, n, max);
		cr_assert(n >= 1);
		counts[stop]++;
		free(buf);
	}
	for (unsigned s = 0; s <= UNWIND_STOP_NO_RULE; s++)
		cr_log_info("%u walks ended with: %s", counts[s],
			    unwind_stop_str((enum unwind_stop)s));
	modules_close(m);
}

Test(unwind_garbage, loops_and_truncated_copies)
{
	uint64_t base = 0x7ffd12340000ull;
	uint64_t w[8];
	struct user_regs_struct regs;
	struct unwind_frame f[MAXF];
	enum unwind_stop stop;
	unsigned n;

	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rsp = base;

	/* rbp pointing at itself: the second step finds rbp below rsp. */
	w[0] = base;
	w[1] = 0x2000;
	regs.rbp = base;
	n = unwind_stack(NULL, &regs, base, w, 16, 0, f, MAXF, &stop);
	check_sane(f, n, MAXF);
	cr_expect_eq(n, 2);
	cr_expect_eq(stop, UNWIND_STOP_NO_RULE, "%s", unwind_stop_str(stop));

	/* A two-frame cycle: base -> base + 32 -> base. */
	memset(w, 0, sizeof(w));
	w[0] = base + 32;
	w[1] = 0x2000;
	w[4] = base;
	w[5] = 0x3000;
	n = unwind_stack(NULL, &regs, base, w, sizeof(w), 0, f, MAXF, &stop);
	check_sane(f, n, MAXF);
	cr_expect_eq(n, 3);
	cr_expect_neq(stop, UNWIND_STOP_MAX);

	/* A chain that leaves the copy: truncated at 12 bytes. */
	n = unwind_stack(NULL, &regs, base, w, 12, 0, f, MAXF, &stop);
	cr_expect_eq(n, 1);
	cr_expect_eq(stop, UNWIND_STOP_STACK, "%s", unwind_stop_str(stop));

	/* No copy at all. */
	n = unwind_stack(NULL, &regs, base, NULL, 4096, 0, f, MAXF, &stop);
	cr_expect_eq(n, 1);
	cr_expect_eq(stop, UNWIND_STOP_STACK, "%s", unwind_stop_str(stop));

	/* A return address of 0 ends the walk; so does max. */
	w[0] = base + 32;
	w[1] = 0;
	n = unwind_stack(NULL, &regs, base, w, sizeof(w), 0, f, MAXF, &stop);
	cr_expect_eq(n, 1);
	cr_expect_eq(stop, UNWIND_STOP_PC0);
	n = unwind_stack(NULL, &regs, base, w, sizeof(w), 0, f, 1, &stop);
	cr_expect_eq(n, 1);
	cr_expect_eq(stop, UNWIND_STOP_MAX);
	n = unwind_stack(NULL, &regs, base, w, sizeof(w), 0, f, 0, &stop);
	cr_expect_eq(n, 0);

	/* A frame pointer near the top of the address space. */
	regs.rbp = UINT64_MAX - 7;
	regs.rsp = UINT64_MAX - 15;
	n = unwind_stack(NULL, &regs, UINT64_MAX - 15, w, 16, 0, f, MAXF,
			 &stop);
	cr_expect_eq(n, 1);
}

Test(unwind_garbage, cfi_with_a_stack_of_return_addresses, .timeout = 60)
{
	/*
	 * A real function's CFI with a copy full of its own address: each
	 * step pops 8 or more bytes, so the walk ends at max frames or the
	 * end of the copy, never in a loop.
	 */
	struct modules *m;
	uint64_t pc = (uint64_t)(uintptr_t)marker_function;
	size_t len = 4096;
	uint64_t *w = malloc(len);
	struct user_regs_struct regs;
	struct unwind_frame f[MAXF];
	enum unwind_stop stop;
	unsigned n;

	cr_assert(w);
	for (size_t i = 0; i < len / 8; i++)
		w[i] = pc + 1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = pc; /* the first instruction: CFA = rsp + 8 */
	regs.rsp = 0x7ffd00000000ull;
	regs.rbp = 0;
	cr_assert_eq(modules_open(getpid(), &m), 0);
	n = unwind_stack(m, &regs, regs.rsp, w, len, 0, f, MAXF, &stop);
	check_sane(f, n, MAXF);
	cr_expect_gt(n, 1);
	cr_expect_eq(f[1].how, UNWIND_CFI);
	cr_expect(stop == UNWIND_STOP_MAX || stop == UNWIND_STOP_STACK, "%s",
		  unwind_stop_str(stop));
	modules_close(m);
	free(w);
}

Test(unwind_self, plt_cfa_expression)
{
	/*
	 * The .plt's CFA is a DWARF expression (binutils): rsp + 8, or
	 * rsp + 16 once the entry has pushed its index, i.e. from byte 11 of
	 * a 16-byte entry on: breg7 8; breg16 0; lit15; and; lit11; ge;
	 * lit3; shl; plus. Stop in this program's .plt, both ways.
	 */
	struct modules *m;
	const struct module *mod;
	uint64_t fn = (uint64_t)(uintptr_t)marker_function;
	uint64_t plt, size, w[4];
	const void *data;
	struct user_regs_struct regs;
	struct unwind_frame f[4];
	enum unwind_stop stop;
	unsigned n;

	cr_assert_eq(modules_open(getpid(), &m), 0);
	mod = modules_find(m, fn);
	cr_assert(mod);
	cr_assert_eq(elffile_section(modules_elf(m, mod), ".plt", &plt, &size,
				     &data),
		     0);
	cr_assert_geq(size, 32);
	memset(&regs, 0, sizeof(regs));
	regs.rsp = 0x7ffd00001000ull;
	w[0] = fn + 3; /* the return address, before the push */
	w[1] = fn + 5; /* ... after it */
	w[2] = w[3] = 0;

	regs.rip = mod->bias + plt + 16 + 2; /* in the entry's first jmp */
	n = unwind_stack(m, &regs, regs.rsp, w, sizeof(w), 0, f, 2, &stop);
	cr_assert_eq(n, 2);
	cr_expect_eq(f[1].how, UNWIND_CFI);
	cr_expect_eq(f[1].pc, fn + 3);
	cr_expect_eq(f[1].sp, regs.rsp + 8);

	regs.rip = mod->bias + plt + 16 + 11; /* after the push */
	n = unwind_stack(m, &regs, regs.rsp, w, sizeof(w), 0, f, 2, &stop);
	cr_assert_eq(n, 2);
	cr_expect_eq(f[1].how, UNWIND_CFI);
	cr_expect_eq(f[1].pc, fn + 5);
	cr_expect_eq(f[1].sp, regs.rsp + 16);
	modules_close(m);
}
