/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modules.c - the target's mapped ELF files (see modules.h): the module
 * list from /proc/PID/maps, each module's files opened on first use, a
 * sorted symbol table per module built once, line tables and call frame
 * information through debuginfo.c. Reads files only. Not thread-safe: one
 * struct modules belongs to one thread at a time.
 *
 * Not here: reading the target's memory, unwinding (unwind.c), finding
 * debug files (debugfile.c), parsing ELF or DWARF (elfsyms.c, debuginfo.c).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "modules: "
#include "base/error.h"
#include "base/log.h"
#include "elf/debugfile.h"
#include "elf/debuginfo.h"
#include "elf/elfsyms.h"
#include "elf/minidebug.h"
#include "elf/modules.h"
#include "proc/procmaps.h"
#include "proc/target_file.h"

/*
 * One symbol in the per-module table: 16 bytes, the name kept as its
 * st_name offset (the string table stays mapped by libelf), the address
 * as an offset from the module's lowest symbol (one module spans less
 * than 4 GiB).
 */
struct modsym {
	uint32_t addr; /* link-time, minus struct mod.sym_base */
	uint32_t name;
	uint32_t size; /* 0: a function of unknown extent */
	unsigned char is_function;
	unsigned char rank; /* lower is preferred among aliases */
	unsigned char src; /* its table: struct mod.src[src] */
};

/*
 * The symbol tables a module's names come from, merged, the first
 * preferred at one address: the runtime file's .symtab, its separate
 * debug file's (by build-id, in the target's root then the host's, or
 * .gnu_debuglink), the MiniDebugInfo in .gnu_debugdata, then .dynsym.
 */
#define SYMSRC_MAX 4
struct symsrc_ref {
	const struct elffile *ef;
	int dynsym;
};

/* A table with more symbols than this is cut (bounded memory). */
#define MODSYM_MAX (4u << 20)

enum { UNTRIED = 0, READY = 1, FAILED = -1 };

struct mod {
	struct module pub; /* first: modules_find() hands out &pub */
	struct mapping first; /* lowest mapping (first.path = pub.path) */
	uint64_t map_end; /* end of its last mapping, before mod_elf() */
	uint64_t inode;
	int has_offset0; /* one of its mappings maps file offset 0 */
	int elf_state;
	struct elffile *elf;
	int dbg_state;
	struct elffile *dbg; /* separate debug file, when found */
	int sym_state;
	struct modsym *syms;
	size_t nsyms;
	uint64_t sym_base; /* link-time address of syms' offset 0 */
	struct symsrc_ref src[SYMSRC_MAX];
	unsigned nsrc;
	int mini_state;
	struct elffile *mini; /* .gnu_debugdata's file, when read */
	int cfi_state;
	struct debuginfo_cfi *cfi;
	int di_state;
	struct debuginfo *di;
};

struct modules {
	unsigned refs; /* modules_ref() */
	pid_t pid;
	char root[64]; /* "/proc/PID/root" */
	struct mod *v; /* sorted by start, not overlapping */
	size_t n;
};

static int
mapping_is_file(const struct mapping *mp)
{
	return mp->path[0] == '/' && mp->inode != 0;
}

/*
 * Group the file mappings into modules: consecutive mappings of one file
 * (same path and inode), a new module where the file is mapped again from
 * offset 0 (the same library loaded twice, in two namespaces). Only files
 * with executable code become modules: data files (locale-archive, fonts)
 * are not ELF modules.
 */
static int
build_modules(struct modules *m, const struct maps *maps)
{
	struct mod *cur = NULL;
	size_t cap = 0;
	int cur_exec = 0;

	for (size_t i = 0; i < maps->len; i++) {
		const struct mapping *mp = &maps->v[i];

		if (!mapping_is_file(mp))
			continue;
		if (cur && cur->inode == mp->inode &&
		    !strcmp(cur->pub.path, mp->path) &&
		    mp->start >= cur->pub.end &&
		    !(mp->offset == 0 && cur->has_offset0)) {
			cur->pub.end = mp->end;
			cur->map_end = mp->end;
			cur->has_offset0 |= mp->offset == 0;
			cur_exec |= !!(mp->prot & MAP_X);
			continue;
		}
		/* A new module; drop the previous one if it had no code. */
		if (cur && !cur_exec)
			m->n--;
		if (m->n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			struct mod *v = realloc(m->v, ncap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			m->v = v;
			cap = ncap;
		}
		cur = &m->v[m->n++];
		memset(cur, 0, sizeof(*cur));
		snprintf(cur->pub.path, sizeof(cur->pub.path), "%s", mp->path);
		cur->pub.start = mp->start;
		cur->pub.end = mp->end;
		cur->map_end = mp->end;
		/* A first guess until the ELF file says where its PT_LOAD is. */
		cur->pub.bias = mp->start - mp->offset;
		cur->first = *mp;
		cur->inode = mp->inode;
		cur->has_offset0 = mp->offset == 0;
		cur_exec = !!(mp->prot & MAP_X);
	}
	if (cur && !cur_exec)
		m->n--;
	/* only now: m->v moved as it grew */
	for (size_t i = 0; i < m->n; i++)
		m->v[i].first.path = m->v[i].pub.path;
	return 0;
}

static int
read_modules(struct modules *m)
{
	struct maps maps = {0};
	int err;

	err = procmaps_read(m->pid, &maps);
	if (!err)
		err = build_modules(m, &maps);
	procmaps_free(&maps);
	return err;
}

int
modules_open(pid_t pid, struct modules **out)
{
	struct modules *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->refs = 1;
	m->pid = pid;
	target_root(pid, m->root, sizeof(m->root));
	err = read_modules(m);
	if (err) {
		modules_close(m);
		return err;
	}
	*out = m;
	return 0;
}

static void
mod_free(struct mod *d)
{
	free(d->syms);
	debuginfo_cfi_close(d->cfi);
	debuginfo_close(d->di);
	elffile_close(d->dbg);
	elffile_close(d->mini);
	elffile_close(d->elf);
}

static void
mods_free(struct mod *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mod_free(&v[i]);
	free(v);
}

struct modules *
modules_ref(struct modules *m)
{
	m->refs++;
	return m;
}

void
modules_close(struct modules *m)
{
	if (!m || --m->refs)
		return;
	mods_free(m->v, m->n);
	free(m);
}

/* The same file mapped at the same place in the same way. */
static int
same_mod(const struct mod *a, const struct mod *b)
{
	return a->first.start == b->first.start &&
	       a->first.offset == b->first.offset &&
	       a->first.dev_major == b->first.dev_major &&
	       a->first.dev_minor == b->first.dev_minor &&
	       a->first.deleted == b->first.deleted && a->inode == b->inode &&
	       a->map_end == b->map_end && a->has_offset0 == b->has_offset0 &&
	       !strcmp(a->pub.path, b->pub.path);
}

/*
 * Both lists are sorted by start: a module that is still mapped as it
 * was moves with what it has loaded (files, symbols, CFI, line tables
 * and their inflater checkpoints), the others go.
 */
int
modules_refresh(struct modules *m)
{
	struct modules fresh = {.pid = m->pid};
	size_t j = 0;
	int err;

	memcpy(fresh.root, m->root, sizeof(fresh.root));
	err = read_modules(&fresh);
	if (err) {
		mods_free(fresh.v, fresh.n);
		return err;
	}
	for (size_t i = 0; i < fresh.n; i++) {
		struct mod *d = &fresh.v[i];

		while (j < m->n && m->v[j].first.start < d->first.start)
			j++;
		if (j == m->n || !same_mod(&m->v[j], d))
			continue;
		*d = m->v[j];
		d->first.path = d->pub.path;
		memset(&m->v[j++], 0, sizeof(*m->v));
		/* mod_elf() grew it, never into the next module */
		if (i + 1 < fresh.n && d->pub.end > fresh.v[i + 1].pub.start)
			d->pub.end = fresh.v[i + 1].pub.start;
	}
	mods_free(m->v, m->n);
	m->v = fresh.v;
	m->n = fresh.n;
	return 0;
}

/* mod as handed out by modules_find(), checked to be one of m's. */
static struct mod *
mod_of(struct modules *m, const struct module *mod)
{
	const struct mod *d = (const struct mod *)mod;

	if (!mod || !m->n || d < m->v || d >= m->v + m->n)
		return NULL;
	return &m->v[d - m->v];
}

/*
 * Open the runtime file; then the bias is exact: runtime address of the
 * lowest mapping minus its file offset minus the first PT_LOAD's page
 * (doc/design/unwinding.md, "Modules and their load bias"), 0 for
 * ET_EXEC. The module's end grows to the end of its last PT_LOAD, so .bss
 * (an anonymous mapping) counts.
 */
static struct elffile *
mod_elf(struct modules *m, struct mod *d)
{
	uint64_t end;

	if (d->elf_state)
		return d->elf;
	d->elf_state = FAILED;
	if (elffile_open_mapped(m->pid, &d->first, &d->elf))
		return NULL;
	d->elf_state = READY;
	if (!elffile_is_dyn(d->elf))
		d->pub.bias = 0;
	else
		d->pub.bias = d->first.start - d->first.offset -
			      elffile_load_base(d->elf);
	if (!d->has_offset0)
		pr_debug("%s: no mapping of offset 0; the bias is a guess",
			 d->pub.path);
	end = elffile_load_end(d->elf);
	if (end && d->pub.bias + end > d->pub.end) {
		uint64_t e = (d->pub.bias + end + 0xfff) & ~(uint64_t)0xfff;
		struct mod *next = d + 1 < m->v + m->n ? d + 1 : NULL;

		/* Never into the next module (a corrupt file could say so). */
		if (next && e > next->pub.start)
			e = next->pub.start;
		if (e > d->pub.end)
			d->pub.end = e;
	}
	return d->elf;
}

/* The separate debug file, by build-id then .gnu_debuglink. */
static struct elffile *
mod_debug(struct modules *m, struct mod *d)
{
	char target_debug[96], path[1024];
	const char *dirs[3];
	struct elffile *ef;

	if (d->dbg_state)
		return d->dbg;
	d->dbg_state = FAILED;
	ef = mod_elf(m, d);
	if (!ef)
		return NULL;
	snprintf(target_debug, sizeof(target_debug), "%s/usr/lib/debug",
		 m->root);
	dirs[0] = target_debug;
	dirs[1] = "/usr/lib/debug";
	dirs[2] = NULL;
	if (debugfile_find(ef, d->pub.path, m->root, dirs, path,
			   sizeof(path)) ||
	    elffile_open(path, &d->dbg))
		return NULL;
	d->dbg_state = READY;
	return d->dbg;
}

/* The ELF file in .gnu_debugdata (MiniDebugInfo), decompressed once. */
static struct elffile *
mod_mini(struct modules *m, struct mod *d)
{
	struct elffile *ef;

	if (d->mini_state)
		return d->mini;
	d->mini_state = FAILED;
	ef = mod_elf(m, d);
	if (!ef || minidebug_open(ef, &d->mini))
		return NULL;
	d->mini_state = READY;
	return d->mini;
}

const struct module *
modules_find(struct modules *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;
	struct mod *d;

	/* The last module starting at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	d = &m->v[lo - 1];
	mod_elf(m, d); /* the exact bias, and .bss in the range */
	return addr < d->pub.end ? &d->pub : NULL;
}

struct elffile *
modules_elf(struct modules *m, const struct module *mod)
{
	struct mod *d = mod_of(m, mod);

	return d ? mod_elf(m, d) : NULL;
}

/* ---- symbols ----------------------------------------------------------- */

/*
 * Two walks of the symbol table: the first counts the symbols and finds
 * the lowest address (v NULL), the second fills a table of exactly that
 * size. Growing it by doubling had 1.5 to 3 times the table allocated at
 * the peak (16384 slots and the 8192 being copied for postgres's 10254
 * symbols).
 */
struct collect {
	struct modsym *v;
	size_t n, cap;
	uint64_t base;
	int full;
	unsigned char src; /* the table being walked */
};

/*
 * Among symbols at one address, the name a person expects: a function
 * over an object, GLOBAL over WEAK over LOCAL, a plain name over a
 * versioned alias ("read@@GLIBC_2.2.5", an old "@GLIBC_2.2.5" one even
 * less) or glibc's internal "__GI_" one. So libc's .symtab gives
 * "__libc_start_main" rather than its local "__libc_start_main_alias_2".
 */
static unsigned char
symbol_rank(const struct elf_sym *s)
{
	unsigned r = 0;

	if (s->type != STT_FUNC && s->type != STT_GNU_IFUNC)
		r += 8;
	if (s->bind == STB_WEAK)
		r += 1;
	else if (s->bind != STB_GLOBAL)
		r += 2;
	if (!s->size)
		r += 16; /* an extent known beats none */
	if (strstr(s->name, "@@"))
		r += 1; /* the default version: the name callers link to */
	else if (strchr(s->name, '@'))
		r += 4;
	if (!strncmp(s->name, "__GI_", 5))
		r += 4;
	return (unsigned char)r;
}

static int
collect_cb(const struct elf_sym *s, void *arg)
{
	struct collect *c = arg;

	if (s->type != STT_FUNC && s->type != STT_GNU_IFUNC &&
	    s->type != STT_OBJECT)
		return 0;
	/*
	 * No extent: it holds no address, but a function's (assembly
	 * without .size) may be the nearest below one (modules_symbol_near).
	 */
	if (!s->size && s->type == STT_OBJECT)
		return 0;
	if (!c->v) {
		if (!c->n || s->value < c->base)
			c->base = s->value;
		c->n++;
		return 0;
	}
	if (s->value < c->base || s->value - c->base > UINT32_MAX)
		return 0; /* not in this module (a corrupt table) */
	if (c->n == c->cap) {
		c->full = 1;
		return 1;
	}
	c->v[c->n++] = (struct modsym){
		.addr = (uint32_t)(s->value - c->base),
		.name = s->name_off,
		.size = s->size > UINT32_MAX ? UINT32_MAX : (uint32_t)s->size,
		.is_function = s->type != STT_OBJECT,
		.rank = symbol_rank(s),
		.src = c->src,
	};
	return 0;
}

static int
modsym_cmp(const void *a, const void *b)
{
	const struct modsym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)x->rank - (int)y->rank;
}

/* Sort, and keep the best-ranked symbol of each address. */
static void
finish_table(struct mod *d, struct collect *c)
{
	size_t w = 0;
	struct modsym *v;

	/* glibc's qsort() is a merge sort (stable: among aliases of one rank,
	 * the table's first) while a copy of the table fits in memory */
	qsort(c->v, c->n, sizeof(*c->v), modsym_cmp);
	for (size_t i = 0; i < c->n; i++)
		if (!w || c->v[w - 1].addr != c->v[i].addr)
			c->v[w++] = c->v[i];
	/* Aliases share addresses: libc's .symtab, 8138 symbols, has 4889. */
	v = realloc(c->v, w * sizeof(*v));
	d->syms = v ? v : c->v;
	d->nsyms = w;
	d->sym_base = c->base;
}

/*
 * The tables to merge (struct symsrc_ref). A runtime file with its own
 * .symtab was not stripped: its debug file and MiniDebugInfo would add
 * nothing, so they are not looked for.
 */
static void
mod_sources(struct modules *m, struct mod *d, struct elffile *ef)
{
	struct elffile *x;

	d->nsrc = 0;
	if (elffile_has_symtab(ef)) {
		d->src[d->nsrc++] = (struct symsrc_ref){ef, 0};
	} else {
		x = mod_debug(m, d);
		if (x && elffile_has_symtab(x))
			d->src[d->nsrc++] = (struct symsrc_ref){x, 0};
		x = mod_mini(m, d);
		if (x && elffile_has_symtab(x))
			d->src[d->nsrc++] = (struct symsrc_ref){x, 0};
	}
	d->src[d->nsrc++] = (struct symsrc_ref){ef, 1};
}

/* Walk every table of d into c (counting when c->v is NULL). */
static void
collect_all(struct mod *d, struct collect *c)
{
	for (unsigned k = 0; k < d->nsrc && !c->full; k++) {
		c->src = (unsigned char)k;
		elffile_foreach_symbol(d->src[k].ef, d->src[k].dynsym,
				       collect_cb, c);
	}
}

/* Every table there is, merged (mod_sources()). */
static int
mod_symbols(struct modules *m, struct mod *d)
{
	struct collect c = {0};
	struct elffile *ef;

	if (d->sym_state)
		return d->sym_state == READY ? 0 : -ENOENT;
	d->sym_state = FAILED;
	ef = mod_elf(m, d);
	if (!ef)
		return -ENOENT;
	mod_sources(m, d, ef);
	collect_all(d, &c);
	if (!c.n)
		return -ENOENT;
	c.cap = c.n;
	if (c.cap > MODSYM_MAX) {
		pr_debug("%s: symbol table cut at %u symbols", d->pub.path,
			 MODSYM_MAX);
		c.cap = MODSYM_MAX;
	}
	c.v = malloc(c.cap * sizeof(*c.v));
	if (!c.v)
		return -ENOMEM;
	c.n = 0;
	collect_all(d, &c);
	if (!c.n) {
		free(c.v);
		return -ENOENT;
	}
	finish_table(d, &c);
	d->sym_state = READY;
	return 0;
}

/*
 * Symbols nest (a function's local object, an alias of a range): look at
 * this many entries below the nearest start for one whose range holds addr.
 */
#define NEST_LOOKBACK 32

/* out for addr from entry s of d's table. */
static int
hit_of(const struct mod *d, const struct modsym *s, uint64_t addr,
       struct symbol_hit *out)
{
	const struct symsrc_ref *src = &d->src[s->src];
	char bare[256];

	if (elffile_symbol_name(src->ef, src->dynsym, s->name, out->raw,
				sizeof(out->raw)))
		return -ENOENT;
	/* "clock_nanosleep@@GLIBC_2.17": the version is no part of it */
	snprintf(bare, sizeof(bare), "%.*s", (int)strcspn(out->raw, "@"),
		 out->raw);
	modules_demangle(bare, out->name, sizeof(out->name));
	out->start = s->addr + d->sym_base + d->pub.bias;
	out->offset = addr - out->start;
	out->is_function = s->is_function;
	return 0;
}

/*
 * Is link-time address link plausibly inside function s, the nearest
 * symbol below it that does not hold it? Only when s has no size (its
 * extent unknown: a sized one ends before link, so link is in something
 * else) and both are in one section of the runtime file (not an address
 * of .plt after _init's symbol).
 */
static int
plausibly_in(struct modules *m, struct mod *d, const struct modsym *s,
	     uint64_t link)
{
	struct elffile *ef = mod_elf(m, d);
	uint64_t sa = s->addr + d->sym_base, lo, hi;

	if (!s->is_function || s->size || !ef)
		return 0;
	return !elffile_section_of(ef, sa, &lo, &hi) && link >= lo && link < hi;
}

static int
symbol_at(struct modules *m, uint64_t addr, struct symbol_hit *out, int near)
{
	const struct module *mod = modules_find(m, addr);
	struct mod *d = mod_of(m, mod);
	size_t lo = 0, hi, below;
	uint64_t link;

	memset(out, 0, sizeof(*out));
	out->module = mod;
	if (!d || mod_symbols(m, d))
		return -ENOENT;
	link = addr - d->pub.bias;
	if (link < d->sym_base || link - d->sym_base > UINT32_MAX)
		return -ENOENT;
	hi = d->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->syms[mid].addr <= link - d->sym_base)
			lo = mid + 1;
		else
			hi = mid;
	}
	below = lo;
	for (size_t k = 0; lo > 0 && k < NEST_LOOKBACK; k++, lo--) {
		const struct modsym *s = &d->syms[lo - 1];

		if (link - d->sym_base - s->addr < s->size)
			return hit_of(d, s, addr, out);
	}
	if (!near || !below || !plausibly_in(m, d, &d->syms[below - 1], link))
		return -ENOENT;
	out->nearest = 1;
	return hit_of(d, &d->syms[below - 1], addr, out);
}

int
modules_symbol(struct modules *m, uint64_t addr, struct symbol_hit *out)
{
	return symbol_at(m, addr, out, 0);
}

int
modules_symbol_near(struct modules *m, uint64_t addr, struct symbol_hit *out)
{
	return symbol_at(m, addr, out, 1);
}

/* ---- C++ names ----------------------------------------------------------- */

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len,
				 int *status);

static pthread_once_t demangler_once = PTHREAD_ONCE_INIT;
static cxa_demangle_fn demangler;

/*
 * libstdc++ is loaded on the first C++ name only; a C program's tool then
 * never maps it. RTLD_LOCAL: its symbols stay out of everybody's way. The
 * handle is kept for the life of the process (demangled names may be
 * asked for at any time).
 */
static void
load_demangler(void)
{
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);

	if (!h) {
		pr_debug("no demangler: %s", dlerror());
		return;
	}
	demangler = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
}

int
modules_demangle(const char *name, char *buf, size_t len)
{
	char *d;
	int status = -1;

	if (!len)
		return -ENOENT;
	snprintf(buf, len, "%s", name);
	/* Itanium C++ ABI mangled names start with _Z. */
	if (strncmp(name, "_Z", 2))
		return -ENOENT;
	pthread_once(&demangler_once, load_demangler);
	if (!demangler)
		return -ENOENT;
	d = demangler(name, NULL, NULL, &status);
	if (!d || status) {
		free(d);
		return -ENOENT;
	}
	snprintf(buf, len, "%s", d);
	free(d);
	return 0;
}

/* ---- lines and CFI --------------------------------------------------------- */

/* DWARF of the runtime file when it has any, else of its debug file. */
static struct debuginfo *
mod_debuginfo(struct modules *m, struct mod *d)
{
	struct elffile *ef, *dbg;
	uint64_t a, sz;
	const void *data;
	const char *path = NULL;

	if (d->di_state)
		return d->di;
	d->di_state = FAILED;
	ef = mod_elf(m, d);
	if (!ef)
		return NULL;
	if (!elffile_section(ef, ".debug_line", &a, &sz, &data) && data &&
	    !elffile_section(ef, ".debug_info", &a, &sz, &data) && data)
		path = elffile_path(ef);
	else if ((dbg = mod_debug(m, d)))
		path = elffile_path(dbg);
	if (!path || debuginfo_open(path, &d->di))
		return NULL;
	d->di_state = READY;
	return d->di;
}

int
modules_line(struct modules *m, uint64_t addr, char *file, size_t len,
	     unsigned *line)
{
	struct mod *d = mod_of(m, modules_find(m, addr));
	struct debuginfo *di;

	if (len)
		file[0] = '\0';
	*line = 0;
	if (!d || !(di = mod_debuginfo(m, d)))
		return -ENOENT;
	return debuginfo_line(di, addr - d->pub.bias, file, len, line);
}

int
modules_cfi_row(struct modules *m, const struct module *mod, uint64_t addr,
		struct cfi_row *row)
{
	struct mod *d = mod_of(m, mod);
	struct elffile *ef;

	if (!d)
		return -ENOENT;
	if (!d->cfi_state) {
		d->cfi_state = FAILED;
		ef = mod_elf(m, d);
		/* The file that passed the inode check, not the maps name. */
		if (ef && !debuginfo_cfi_open(elffile_path(ef), &d->cfi))
			d->cfi_state = READY;
	}
	if (d->cfi_state != READY)
		return -ENOENT;
	return debuginfo_cfi_row(d->cfi, addr - d->pub.bias, row);
}
