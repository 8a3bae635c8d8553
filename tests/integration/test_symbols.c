/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_symbols.c - every symbol source before "??" (issue 14 §5), on
 * real binaries whose truth the test knows: symsrc built with its
 * .symtab, a copy stripped of it (only .dynsym left), a copy stripped
 * with MiniDebugInfo added as Fedora does (tests/helpers/add-minidebug.sh)
 * and one whose .gnu_debugdata is garbage; and this system's
 * /usr/bin/python3.11 (stripped, .dynsym only), running.
 *
 *  - the MiniDebugInfo copy names every function the unstripped build
 *    names, the stripped copy not the static ones (the source matters);
 *  - a garbage .gnu_debugdata is refused and .dynsym still names;
 *  - "near": a function symbol without size names an address after it in
 *    its section (said nearest), a sized one that ends before never does,
 *    nor _init an address of .plt; in python3.11 no address past the end
 *    of an exported function gets a name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "elf/elfsyms.h"
#include "elf/minidebug.h"
#include "elf/modules.h"
#include "target.h"

#define TIMEOUT_MS 20000

struct running {
	struct target t;
	struct modules *m;
	uint64_t local_a, local_b, exported, sizeless; /* runtime */
};

static void
start(struct running *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	cr_assert_eq(target_start(&r->t, name, NULL, NULL), 0, "%s: %s", name,
		     r->t.line);
	cr_assert_eq(target_read_line(&r->t, TIMEOUT_MS), 0, "%s: %s", name,
		     r->t.line);
	cr_assert_eq(
		sscanf(r->t.line,
		       "ready local_a=%lx local_b=%lx exported=%lx sizeless=%lx",
		       &r->local_a, &r->local_b, &r->exported, &r->sizeless),
		4, "%s said: %s", name, r->t.line);
	cr_assert_eq(modules_open(r->t.pid, &r->m), 0);
}

static void
finish(struct running *r)
{
	modules_close(r->m);
	cr_expect_eq(target_stop(&r->t), 0);
}

/* Link-time value of a symbol of the unstripped build. */
static uint64_t
truth(const char *name)
{
	char path[4096];
	struct elffile *ef;
	uint64_t v, sz;

	cr_assert_not_null(target_path("symsrc", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0, "%s", path);
	cr_assert_eq(elffile_symbol(ef, name, &v, &sz), 0, "%s", name);
	elffile_close(ef);
	return v;
}

Test(symbols, stripped_names_only_the_exported)
{
	struct running r;
	struct symbol_hit hit;

	start(&r, "symsrc-stripped");
	cr_expect_neq(modules_symbol(r.m, r.local_a + 1, &hit), 0,
		      "local_a named without a .symtab: %s", hit.name);
	cr_expect_neq(modules_symbol(r.m, r.local_b + 1, &hit), 0);
	cr_assert_eq(modules_symbol(r.m, r.exported + 1, &hit), 0);
	cr_expect_str_eq(hit.name, "symsrc_exported");
	finish(&r);
}

#ifdef HAVE_LZMA
struct walk {
	struct modules *m;
	uint64_t bias;
	unsigned functions, named;
	char missed[512];
};

static int
every_function(const char *name, const char *file, uint64_t value,
	       uint64_t size, void *arg)
{
	struct walk *w = arg;
	struct symbol_hit hit;
	uint64_t a = value + w->bias + size / 2;

	(void)file;
	if (!size)
		return 0;
	w->functions++;
	if (!modules_symbol(w->m, a, &hit) && !strcmp(hit.name, name) &&
	    hit.start == value + w->bias)
		w->named++;
	else if (strlen(w->missed) + strlen(name) + 2 < sizeof(w->missed))
		strcat(strcat(w->missed, " "), name);
	return 0;
}

/* Every sized function of the unstripped build, named in the copy r. */
static struct walk
name_all(struct running *r)
{
	char path[4096];
	struct elffile *ef;
	struct walk w = {.m = r->m};

	w.bias = r->local_a - truth("local_a");
	cr_assert_not_null(target_path("symsrc", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	elffile_foreach_function(ef, every_function, &w);
	elffile_close(ef);
	return w;
}

Test(symbols, minidebuginfo_names_every_function)
{
	struct running r;
	struct walk w;

	start(&r, "symsrc-minidebug");
	w = name_all(&r);
	cr_expect_geq(w.functions, 6, "%u functions", w.functions);
	cr_expect_eq(w.named, w.functions, "%u of %u named; missed:%s", w.named,
		     w.functions, w.missed);
	finish(&r);
}

Test(symbols, minidebug_open_reads_the_section)
{
	char path[4096];
	struct elffile *ef, *mini = NULL;
	uint64_t v, sz;

	cr_assert_not_null(target_path("symsrc-minidebug", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	cr_expect_eq(elffile_has_symtab(ef), 0, "the copy is not stripped");
	cr_assert_eq(minidebug_open(ef, &mini), 0);
	cr_expect(elffile_has_symtab(mini));
	cr_assert_eq(elffile_symbol(mini, "local_b", &v, &sz), 0);
	cr_expect_eq(v, truth("local_b"));
	/* only what .dynsym lacks, as Fedora does */
	cr_expect_eq(elffile_symbol(mini, "symsrc_exported", &v, &sz), -ENOENT);
	elffile_close(mini);
	elffile_close(ef);

	cr_assert_not_null(target_path("symsrc-stripped", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	cr_expect_eq(minidebug_open(ef, &mini), -ENOENT);
	elffile_close(ef);
}

Test(symbols, garbage_debugdata_is_refused)
{
	char path[4096];
	struct elffile *ef, *mini = NULL;
	struct running r;
	struct symbol_hit hit;

	cr_assert_not_null(target_path("symsrc-garbage", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	cr_expect_eq(minidebug_open(ef, &mini), -LA_EBADELF);
	cr_expect_null(mini);
	elffile_close(ef);

	start(&r, "symsrc-garbage");
	cr_expect_neq(modules_symbol(r.m, r.local_a + 1, &hit), 0);
	cr_assert_eq(modules_symbol(r.m, r.exported + 1, &hit), 0);
	cr_expect_str_eq(hit.name, "symsrc_exported");
	finish(&r);
}

#else /* !HAVE_LZMA */
Test(symbols, without_liblzma_minidebuginfo_is_not_read)
{
	char path[4096];
	struct elffile *ef, *mini = NULL;

	cr_assert_not_null(target_path("symsrc-minidebug", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	cr_expect_eq(minidebug_open(ef, &mini), -ENOTSUP);
	elffile_close(ef);
}
#endif

Test(symbols, a_sizeless_function_is_near)
{
	struct running r;
	struct symbol_hit hit;

	start(&r, "symsrc-stripped");
	/* inside its 64 nops: no symbol holds it */
	cr_expect_neq(modules_symbol(r.m, r.sizeless + 3, &hit), 0);
	cr_assert_eq(modules_symbol_near(r.m, r.sizeless + 3, &hit), 0);
	cr_expect_str_eq(hit.name, "symsrc_sizeless");
	cr_expect(hit.nearest);
	cr_expect_eq(hit.offset, 3);
	/* past the end of the sized symsrc_exported: in something else */
	cr_expect_eq(modules_symbol_near(r.m, r.local_a + 1, &hit), -ENOENT,
		     "local_a named %s%s", hit.nearest ? "near " : "",
		     hit.name);
	/* inside a sized one: exact */
	cr_assert_eq(modules_symbol_near(r.m, r.exported + 1, &hit), 0);
	cr_expect_not(hit.nearest);
	finish(&r);
}

Test(symbols, plt_is_not_near_init)
{
	char path[4096];
	struct elffile *ef;
	struct running r;
	struct symbol_hit hit;
	uint64_t plt, sz, bias, init_v;
	const void *data;

	cr_assert_not_null(target_path("symsrc", path, sizeof(path)));
	cr_assert_eq(elffile_open(path, &ef), 0);
	cr_assert_eq(elffile_section(ef, ".plt", &plt, &sz, &data), 0);
	cr_assert_eq(elffile_symbol(ef, "_init", &init_v, &sz), 0);
	cr_assert_eq(sz, 0, "_init has a size here: no case");
	cr_assert_lt(init_v, plt);
	elffile_close(ef);
	start(&r, "symsrc");
	bias = r.local_a - truth("local_a");
	cr_expect_eq(modules_symbol_near(r.m, plt + bias + 4, &hit), -ENOENT,
		     ".plt named %s%s", hit.nearest ? "near " : "", hit.name);
	/* _init itself, in its section: near */
	cr_assert_eq(modules_symbol_near(r.m, init_v + bias + 4, &hit), 0);
	cr_expect_str_eq(hit.name, "_init");
	cr_expect(hit.nearest);
	finish(&r);
}

/* ---- python3.11, a real stripped program ---------------------------- */

#define PYTHON "/usr/bin/python3.11"

struct pywalk {
	struct modules *m;
	uint64_t bias;
	unsigned sized, named, gaps, gaps_named;
	char bad[256];
};

static int
py_symbol(const struct elf_sym *s, void *arg)
{
	struct pywalk *w = arg;
	struct symbol_hit hit;
	uint64_t mid = s->value + w->bias + s->size / 2;
	uint64_t end = s->value + w->bias + s->size;

	if (s->type != STT_FUNC || !s->size)
		return 0;
	w->sized++;
	if (!modules_symbol_near(w->m, mid, &hit) && !hit.nearest &&
	    hit.start == s->value + w->bias)
		w->named++;
	else if (!w->bad[0])
		snprintf(w->bad, sizeof(w->bad), "%s", s->name);
	/* just past it, where no symbol holds the address */
	if (modules_symbol(w->m, end, &hit) == -ENOENT) {
		w->gaps++;
		if (!modules_symbol_near(w->m, end, &hit))
			w->gaps_named++;
	}
	return 0;
}

Test(symbols, python_exported_named_and_no_false_near)
{
	const char *const argv[] = {
		"-c",
		"import sys; print('ready', flush=True); sys.stdin.read()",
		NULL};
	struct target t;
	struct modules *m;
	struct elffile *ef;
	struct pywalk w = {0};

	cr_assert_eq(access(PYTHON, X_OK), 0, PYTHON " is needed");
	cr_assert_eq(target_start(&t, PYTHON, argv, NULL), 0, "%s", t.line);
	cr_assert_eq(target_read_line(&t, TIMEOUT_MS), 0, "%s", t.line);
	cr_assert_str_eq(t.line, "ready");
	cr_assert_eq(modules_open(t.pid, &m), 0);
	cr_assert_eq(elffile_open(PYTHON, &ef), 0);
	cr_assert_eq(elffile_has_symtab(ef), 0, PYTHON " is not stripped");
	/* ET_EXEC on Debian: link-time addresses are runtime ones */
	cr_assert_not(elffile_is_dyn(ef), PYTHON " is a PIE here");
	w.m = m;
	elffile_foreach_symbol(ef, 1, py_symbol, &w);
	elffile_close(ef);
	cr_expect_gt(w.sized, 1000);
	cr_expect_eq(w.named, w.sized, "%u of %u, first missed: %s", w.named,
		     w.sized, w.bad);
	cr_expect_gt(w.gaps, 10, "no static function between exported ones?");
	cr_expect_eq(w.gaps_named, 0,
		     "%u of %u addresses past an exported function named",
		     w.gaps_named, w.gaps);
	modules_close(m);
	cr_expect_eq(target_stop(&t), 0);
}
