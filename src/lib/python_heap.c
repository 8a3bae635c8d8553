/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * python_heap.c - the Python heap of a snapshot (python_heap.h) and its
 * public accessors. Inside the stop: the interpreter is found by its file
 * (pyversion.c), pymalloc's pools by their headers (pymalloc.c), each
 * block's object by its header (pytypes.c); the glibc walk then hands
 * over the malloc chunks large enough to hold what pymalloc does not
 * (objects above 512 bytes). Types of the same name are counted together
 * (doc/design/python-heap.md, "In a snapshot").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/abi.h"
#include "elf/elfsyms.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "ptrace/tracee.h"
#include "python/pytypes.h"
#include "python_heap.h"
#include "snapshot.h"

/*
 * pymalloc's functions (Objects/obmalloc.c, 3.8-3.13): a thread whose PC
 * is in one of them may be half-way through a pool update. Most are
 * static: only a symbol table that kept them (.symtab, an unstripped
 * build) names them; a stripped interpreter leaves the consistency
 * checks of the census, and the retries, to catch such a thread.
 */
static const char *const pymalloc_functions[] = {
	"_PyObject_Malloc",
	"_PyObject_Calloc",
	"_PyObject_Realloc",
	"_PyObject_Free",
	"pymalloc_alloc",
	"pymalloc_free",
	"pymalloc_realloc",
	"allocate_from_new_pool",
	"insert_to_usedpool",
	"insert_to_freepool",
	"new_arena",
	"_PyObject_ArenaMmap",
	"_PyObject_ArenaMunmap",
};

/* The chunk size of the smallest request pymalloc hands to malloc (513
 * bytes, with its 8-byte size field, rounded to 16). */
#define CHUNK_ABOVE_PYMALLOC 528u
#define CHUNK_MIN 32u

static const struct mapping *
first_mapping(const struct maps *maps, const char *path)
{
	for (size_t i = 0; i < maps->len; i++)
		if (!strcmp(maps->v[i].path, path) && !maps->v[i].offset)
			return &maps->v[i];
	return NULL;
}

/* pymalloc's functions as the interpreter's symbols name them. */
static void
collect_code(pid_t pid, const struct maps *maps, const char *path,
	     struct malloc_code *out)
{
	const struct mapping *m = first_mapping(maps, path);
	struct elffile *ef;
	uint64_t bias;

	memset(out, 0, sizeof(*out));
	if (!m || elffile_open_mapped(pid, m, &ef))
		return;
	/* ET_EXEC maps at its link address (bias 0), ET_DYN anywhere */
	bias = m->start - (elffile_load_base(ef) & ~(uint64_t)0xfff);
	for (size_t i = 0;
	     i < sizeof(pymalloc_functions) / sizeof(pymalloc_functions[0]) &&
	     out->n < MALLOC_CODE_MAX;
	     i++) {
		uint64_t value, size;

		if (elffile_symbol(ef, pymalloc_functions[i], &value, &size) ||
		    !value || !size)
			continue;
		out->lo[out->n] = value + bias;
		out->hi[out->n++] = value + bias + size;
	}
	out->from_symtab = elffile_has_symtab(ef);
	elffile_close(ef);
}

/* The interpreter, kept while its file stays mapped. 0 or -ENOENT. */
static int
find_interpreter(struct python_session *ps, pid_t pid, const struct maps *maps)
{
	if (ps->ver.source != PYVERSION_NONE &&
	    first_mapping(maps, ps->ver.path))
		return 0;
	python_session_free(ps);
	memset(ps, 0, sizeof(*ps));
	if (pyversion_detect(pid, maps, &ps->ver)) {
		memset(&ps->ver, 0, sizeof(ps->ver));
		return -ENOENT;
	}
	collect_code(pid, maps, ps->ver.path, &ps->code);
	return 0;
}

/*
 * The list heads the used pools link to (usedpools: a static array of
 * Objects/obmalloc.c up to 3.11, part of _PyRuntime's obmalloc state from
 * 3.12) lie in the interpreter's own data: a writable mapping of its file,
 * or the anonymous one right after it (.bss). Anything else is not the
 * main interpreter's pymalloc (an isolated subinterpreter's state, or
 * memory that looks like pools).
 */
static int
usedpools_in_interpreter(const struct maps *maps, const char *path,
			 uint64_t usedpools)
{
	for (size_t i = 0; i < maps->len; i++) {
		const struct mapping *m = &maps->v[i];

		if (usedpools < m->start || usedpools >= m->end)
			continue;
		if (!strcmp(m->path, path))
			return 1;
		return !m->path[0] && i && !strcmp(maps->v[i - 1].path, path) &&
		       maps->v[i - 1].end == m->start;
	}
	return 0;
}

static void
say_why(struct la_python *info, const struct pymalloc_census *c)
{
	if (c->bad_pools)
		snprintf(
			info->why, sizeof(info->why),
			"%llu of %llu pools disagree with their blocks or lists (free list %llu, count %llu, links %llu): left out",
			(unsigned long long)c->bad_pools,
			(unsigned long long)(c->pools + c->bad_pools),
			(unsigned long long)c->bad_freelist,
			(unsigned long long)c->bad_count,
			(unsigned long long)c->bad_links);
	else if (c->bad_arenas)
		snprintf(info->why, sizeof(info->why),
			 "%llu arenas span more than an arena's bytes",
			 (unsigned long long)c->bad_arenas);
	else if (c->carving)
		snprintf(info->why, sizeof(info->why),
			 "%llu pools were being carved",
			 (unsigned long long)c->carving);
	else if (c->usedpools_seen > 1)
		snprintf(info->why, sizeof(info->why),
			 "pools link to %u different usedpools tables",
			 c->usedpools_seen);
	else if (c->other_geometry)
		snprintf(info->why, sizeof(info->why),
			 "%llu pools of another pool size",
			 (unsigned long long)c->other_geometry);
}

static int
keep_classes(struct snap_python *sp, const struct pymalloc_census *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PYMALLOC_NCLASSES; i++)
		n += c->cls[i].blocks != 0;
	sp->classes = calloc(n ? n : 1, sizeof(*sp->classes));
	if (!sp->classes)
		return -ENOMEM;
	for (unsigned i = 0; i < PYMALLOC_NCLASSES; i++) {
		if (!c->cls[i].blocks)
			continue;
		sp->classes[sp->n_classes++] = (struct la_python_class){
			.block_size = c->cls[i].block_size,
			.pools = c->cls[i].pools,
			.blocks = c->cls[i].blocks,
			.bytes = c->cls[i].bytes,
		};
	}
	return 0;
}

/*
 * PYTHONMALLOC=malloc (or malloc_debug) in the environment the process
 * started with: pymalloc is off, every object is a malloc chunk
 * (Objects/obmalloc.c _PyMem_SetupAllocators(), read once at startup).
 */
static int
malloc_only(pid_t pid)
{
	char path[64], buf[16384];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strncmp(buf + i, "PYTHONMALLOC=malloc", 19))
			return 1;
	return 0;
}

int
python_heap_prepare(struct python_session *ps, pid_t pid)
{
	struct maps maps;
	int err = procmaps_read(pid, &maps);

	if (err)
		return err;
	if (ps->ver.source == PYVERSION_NONE ||
	    !first_mapping(&maps, ps->ver.path)) {
		find_interpreter(ps, pid, &maps);
		ps->malloc_only = malloc_only(pid);
	}
	procmaps_free(&maps);
	return 0;
}

int
python_heap_begin(struct python_session *ps, pid_t pid, struct memsrc *mem,
		  const struct maps *maps, struct snap_python *sp)
{
	int err;

	(void)pid;
	if (ps->ver.source == PYVERSION_NONE ||
	    !first_mapping(maps, ps->ver.path))
		return 0;
	err = memsrc_twin(&sp->mem, mem);
	if (err)
		return err;
	err = pytypes_new(&sp->mem, maps,
			  pytypes_rules_for(ps->ver.major, ps->ver.minor),
			  &sp->pt);
	if (err)
		return err;
	sp->chunk_min = ps->malloc_only ? CHUNK_MIN : CHUNK_ABOVE_PYMALLOC;
	sp->info.found = 1;
	return 0;
}

/* The spans of a census that agreed, for the next snapshot's walk. */
static void
remember_arenas(struct python_session *ps, const struct snap_python *sp)
{
	struct addr_range *a =
		malloc((sp->n_spans ? sp->n_spans : 1) * sizeof(*a));

	if (!a)
		return; /* the next walk reads everything: slower, as exact */
	memcpy(a, sp->spans, sp->n_spans * sizeof(*a));
	free(ps->arenas);
	ps->arenas = a;
	ps->n_arenas = sp->n_spans;
}

void
python_session_free(struct python_session *ps)
{
	free(ps->arenas);
	ps->arenas = NULL;
	ps->n_arenas = 0;
}

int
python_heap_skip(const struct python_session *ps, const struct maps *maps,
		 struct maps *out)
{
	if (!ps->n_arenas)
		return 0;
	return procmaps_cut(maps, ps->arenas, ps->n_arenas, 0, out) ? -ENOMEM
								    : 1;
}

int
python_heap_pools(struct python_session *ps, struct memsrc *mem,
		  const struct maps *maps, const struct addr_range *r,
		  unsigned nr, struct snap_python *sp)
{
	struct la_python *info = &sp->info;
	struct pymalloc_census c;
	struct pytypes_totals before, t;
	struct maps anon;
	uint64_t t0 = la_now_ns();
	int err;

	if (!sp->pt)
		return 0;
	/* not glibc's heaps and mmapped chunks: a numpy array is read once */
	err = procmaps_cut(maps, r, nr, 1, &anon);
	if (err)
		return err;
	pytypes_totals(sp->pt, &before);
	err = pymalloc_walk(mem, &anon, pytypes_pool, sp->pt, &c);
	free(anon.v);
	if (err) {
		pymalloc_census_release(&c);
		return err == -ESRCH ? err : -ENOMEM;
	}
	info->major = ps->ver.major;
	info->minor = ps->ver.minor;
	info->version_hex = ps->ver.hex;
	snprintf(info->path, sizeof(info->path), "%s", ps->ver.path);
	info->consistent = c.consistent;
	if (!c.consistent)
		say_why(info, &c);
	if (c.consistent && c.usedpools &&
	    !usedpools_in_interpreter(maps, ps->ver.path, c.usedpools)) {
		info->consistent = 0;
		const char *base = strrchr(ps->ver.path, '/');

		snprintf(
			info->why, sizeof(info->why),
			"the pools' list heads (%#llx) are not in %.64s's data",
			(unsigned long long)c.usedpools,
			base ? base + 1 : ps->ver.path);
	}
	info->pool_size = c.pool_size;
	info->arenas = c.arenas;
	info->pools = c.pools;
	info->pools_used = c.pools_used;
	info->pools_full = c.pools_full;
	info->pools_empty = c.pools_empty;
	info->blocks = c.blocks;
	info->in_use_bytes = c.bytes;
	info->bad_pools = c.bad_pools;
	/* the pools, and what the types took from elsewhere */
	info->bytes_read = c.bytes_scanned + sp->mem.bytes_read;
	pytypes_totals(sp->pt, &t);
	info->types_available = t.available;
	/* the blocks' own, not the malloc chunks' named before */
	info->unknown_blocks = t.unknown_blocks - before.unknown_blocks;
	info->unknown_bytes = t.unknown_bytes - before.unknown_bytes;
	sp->spans = c.spans;
	sp->n_spans = c.n_spans;
	if (info->consistent)
		remember_arenas(ps, sp);
	sp->walk_ns += la_now_ns() - t0;
	return keep_classes(sp, &c);
}

void
python_heap_chunk(struct snap_python *sp, uint64_t chunk, uint64_t size)
{
	unsigned char head[48];
	uint64_t t0;

	if (!sp->pt || size < sp->chunk_min || size < CHUNK_MIN)
		return;
	t0 = la_now_ns();
	memset(head, 0, sizeof(head));
	/* the program's data starts after prev_size and size */
	if (!memsrc_read_cached(&sp->mem, chunk + 16, head,
				size - 16 < sizeof(head) ? size - 16
							 : sizeof(head)) &&
	    pytypes_block(sp->pt, chunk + 16, head, size - 16,
			  PYTYPES_IN_MALLOC) == -ENOMEM)
		sp->oom = 1;
	sp->walk_ns += la_now_ns() - t0;
}

static int
by_name(const void *a, const void *b)
{
	const struct la_python_type *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
by_bytes(const void *a, const void *b)
{
	const struct la_python_type *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Types of the same name as one; sorted by bytes, most first. */
static void
merge_names(struct snap_python *sp)
{
	unsigned n = 0;

	qsort(sp->types, sp->n_types, sizeof(*sp->types), by_name);
	for (unsigned i = 0; i < sp->n_types; i++) {
		struct la_python_type *o = &sp->types[i], *k;

		if (n && !strcmp(sp->types[n - 1].name, o->name)) {
			k = &sp->types[n - 1];
			k->objects += o->objects;
			k->bytes += o->bytes;
			k->pymalloc_objects += o->pymalloc_objects;
			k->malloc_objects += o->malloc_objects;
		} else {
			sp->types[n++] = *o;
		}
	}
	sp->n_types = n;
	for (unsigned i = 0; i < n; i++) {
		struct la_python_type *k = &sp->types[i];

		k->in = !k->malloc_objects     ? LA_PYTHON_IN_PYMALLOC
			: !k->pymalloc_objects ? LA_PYTHON_IN_MALLOC
					       : LA_PYTHON_IN_BOTH;
	}
	qsort(sp->types, n, sizeof(*sp->types), by_bytes);
}

int
python_heap_finish(struct snap_python *sp)
{
	struct pytypes_totals t;
	size_t n;

	if (!sp->pt)
		return 0;
	if (sp->oom)
		return -ENOMEM;
	n = pytypes_count(sp->pt);
	sp->types = calloc(n ? n : 1, sizeof(*sp->types));
	if (!sp->types)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct pytype_count *k = pytypes_get(sp->pt, i);
		struct la_python_type *o;

		if (!k->objects)
			continue;
		o = &sp->types[sp->n_types++];
		snprintf(o->name, sizeof(o->name), "%s", k->name);
		o->objects = k->objects;
		o->bytes = k->bytes;
		o->pymalloc_objects = k->pymalloc_objects;
		o->malloc_objects = k->malloc_objects;
	}
	merge_names(sp);
	pytypes_totals(sp->pt, &t);
	sp->info.objects = t.objects;
	sp->info.object_bytes = t.object_bytes;
	sp->info.walk_ns = sp->walk_ns;
	pytypes_free(sp->pt);
	sp->pt = NULL;
	memsrc_twin_release(&sp->mem);
	return 0;
}

int
python_heap_consistent(const struct snap_python *sp)
{
	return !sp->info.found || sp->info.consistent;
}

void
python_heap_reset(struct snap_python *sp)
{
	pytypes_free(sp->pt);
	memsrc_twin_release(&sp->mem);
	free(sp->classes);
	free(sp->types);
	free(sp->spans);
	memset(sp, 0, sizeof(*sp));
}

/* Public accessors. */

void
la_snapshot_python(const struct la_snapshot *snap, struct la_python *out,
		   size_t out_sz)
{
	out_give(out, out_sz, &snap->py.info, sizeof(snap->py.info));
}

unsigned
la_snapshot_python_class_count(const struct la_snapshot *snap)
{
	return snap->py.n_classes;
}

int
la_snapshot_python_class(const struct la_snapshot *snap, unsigned i,
			 struct la_python_class *out, size_t out_sz)
{
	return list_give(snap->py.classes, snap->py.n_classes,
			 sizeof(*snap->py.classes), i, out, out_sz);
}

unsigned
la_snapshot_python_type_count(const struct la_snapshot *snap)
{
	return snap->py.n_types;
}

int
la_snapshot_python_type(const struct la_snapshot *snap, unsigned i,
			struct la_python_type *out, size_t out_sz)
{
	return list_give(snap->py.types, snap->py.n_types,
			 sizeof(*snap->py.types), i, out, out_sz);
}

const char *
la_python_in_name(enum la_python_in in)
{
	switch (in) {
	case LA_PYTHON_IN_PYMALLOC:
		return "pymalloc";
	case LA_PYTHON_IN_MALLOC:
		return "malloc";
	case LA_PYTHON_IN_BOTH:
		return "both";
	}
	return NULL;
}
