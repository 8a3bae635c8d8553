/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * types.c - hook-free types of sampled chunks (doc/design/callers.md,
 * "Types of chunks"): the first word of a chunk's data that points into a
 * C++ vtable names its class, one that points into a named object of a
 * module's data names that object. la_types_of() reads those words from
 * the running target (no stop, no write), resolves them through
 * modules.h, groups and scales them to the location's population. In a
 * CPython process, a chunk holding a Python object is named by its type
 * first (pytypes.c: its refcount would name nothing).
 *
 * Not here: drawing the sample (snapshot.c, during the walk) and finding
 * symbols in ELF files (modules.c). Everything read from the target is a
 * number we look up, never dereferenced; the work is bounded by the
 * sample's size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define LOG_PREFIX "types: "
#include "base/abi.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "elf/modules.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"
#include "python/pytypes.h"
#include "session.h"
#include "snapshot.h"

/* glibc x86_64: the program's data starts after prev_size and size */
#define CHUNK_DATA 16
/* remote iovecs per process_vm_readv (the kernel allows UIO_MAXIOV) */
#define READ_BATCH 512

/* A small open-addressing map from a target address to an index. */
struct addr_map {
	uint64_t *key; /* stored as key + 1: 0 marks an empty slot */
	int *val;
	size_t mask;
};

static int
map_init(struct addr_map *m, unsigned n)
{
	size_t cap = 16;

	while (cap < 2 * (size_t)n)
		cap *= 2;
	m->key = calloc(cap, sizeof(*m->key));
	m->val = calloc(cap, sizeof(*m->val));
	m->mask = cap - 1;
	return m->key && m->val ? 0 : -ENOMEM;
}

static void
map_free(struct addr_map *m)
{
	free(m->key);
	free(m->val);
}

/* The slot of key: where it is, or the empty slot where it goes. */
static size_t
map_slot(const struct addr_map *m, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & m->mask;

	while (m->key[i] && m->key[i] != key + 1)
		i = (i + 1) & m->mask;
	return i;
}

/* At most n distinct keys go in: the map never fills (cap >= 2n). */
static int *
map_get(struct addr_map *m, uint64_t key, int *found)
{
	size_t i = map_slot(m, key);

	*found = m->key[i] != 0;
	m->key[i] = key + 1;
	return &m->val[i];
}

/*
 * The first word of each chunk's data, in batches. A chunk that cannot be
 * read (freed and unmapped since the snapshot) gets ok[i] = 0. When
 * process_vm_readv is refused, /proc/PID/mem through memsrc.
 */
static int
read_words(struct la_session *s, const uint64_t *addrs, unsigned n,
	   uint64_t *words, unsigned char *ok)
{
	struct iovec local[READ_BATCH], remote[READ_BATCH];
	unsigned i = 0;

	while (i < n) {
		unsigned k = n - i < READ_BATCH ? n - i : READ_BATCH;
		ssize_t got;

		for (unsigned j = 0; j < k; j++) {
			local[j] = (struct iovec){&words[i + j], 8};
			remote[j] = (struct iovec){
				(void *)(uintptr_t)(addrs[i + j] + CHUNK_DATA),
				8};
		}
		got = process_vm_readv(s->pid, local, k, remote, k, 0);
		if (got < 0 && errno == ESRCH)
			return -ESRCH;
		if (got < 0 && errno != EFAULT) {
			/* refused (EPERM, ENOSYS): one word at a time */
			for (unsigned j = 0; j < k; j++) {
				int err = memsrc_read(s->mem,
						      addrs[i + j] + CHUNK_DATA,
						      &words[i + j], 8);

				if (err == -ESRCH)
					return err;
				ok[i + j] = !err;
			}
			i += k;
			continue;
		}
		/* whole elements only; the read stops at the first failure */
		got = got < 0 ? 0 : got / 8;
		for (unsigned j = 0; j < (unsigned)got; j++)
			ok[i + j] = 1;
		if ((unsigned)got < k)
			ok[i + (unsigned)got++] = 0;
		i += (unsigned)got;
	}
	return 0;
}

/* The modules as mapped now, once per snapshot. */
static int
snapshot_modules(struct la_session *s, const struct la_snapshot *snap)
{
	int err;

	if (s->mods && s->mods_time == snap->info.time_unix_ns)
		return 0;
	err = session_modules(s);
	if (err)
		return err;
	s->mods_time = snap->info.time_unix_ns;
	return 0;
}

/*
 * Is the symbol hit a named object in .data, .rodata, .data.rel.ro or
 * .bss? A module whose file has none of those sections (or cannot be
 * opened) is given the benefit of the doubt for any non-function.
 */
static int
in_data(struct modules *m, const struct symbol_hit *hit)
{
	static const char *const names[] = {".data", ".rodata", ".data.rel.ro",
					    ".bss"};
	struct elffile *ef;
	uint64_t link, addr, size;
	const void *data;
	int any = 0;

	if (hit->is_function)
		return 0;
	ef = hit->module ? modules_elf(m, hit->module) : NULL;
	if (!ef)
		return 1;
	link = hit->start - hit->module->bias;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (elffile_section(ef, names[i], &addr, &size, &data))
			continue;
		any = 1;
		if (link >= addr && link - addr < size)
			return 1;
	}
	return !any;
}

/* Copy src to buf (len > 0) after prefix (may be ""), cut to fit. */
static void
copy_name(char *buf, size_t len, const char *prefix, const char *src)
{
	size_t p = strnlen(prefix, len - 1);
	size_t n = strnlen(src, len - 1 - p);

	memcpy(buf, prefix, p);
	memcpy(buf + p, src, n);
	buf[p + n] = '\0';
}

static void
module_name(const struct symbol_hit *hit, char *buf, size_t len)
{
	const char *p;

	if (!hit->module) {
		buf[0] = '\0';
		return;
	}
	p = hit->module->path;
	if (strlen(p) >= len && strrchr(p, '/'))
		p = strrchr(p, '/') + 1; /* too long: the file name */
	copy_name(buf, len, "", p);
}

/*
 * Name what the word points at in out (name, source, module), or leave
 * out->source LA_TYPE_UNKNOWN. Returns the symbol's address as the group
 * key (0: none).
 */
static uint64_t
resolve(struct modules *m, uint64_t word, struct la_type_count *out)
{
	static const char vt[] = "vtable for ";
	struct symbol_hit hit;
	char dem[256];
	const char *name;

	out->source = LA_TYPE_UNKNOWN;
	if (word < 4096 || !modules_find(m, word) ||
	    modules_symbol(m, word, &hit))
		return 0;
	if (!strncmp(hit.raw, "_ZTV", 4)) {
		/* any address inside: offset-to-top, typeinfo, the slots */
		name = hit.name;
		if (strncmp(name, vt, sizeof(vt) - 1) &&
		    !modules_demangle(hit.raw, dem, sizeof(dem)))
			name = dem;
		if (!strncmp(name, vt, sizeof(vt) - 1))
			name += sizeof(vt) - 1;
		copy_name(out->name, sizeof(out->name), "", name);
		out->source = LA_TYPE_VTABLE;
	} else if (hit.name[0] && in_data(m, &hit)) {
		copy_name(out->name, sizeof(out->name), "&", hit.name);
		out->source = LA_TYPE_OBJECT;
	} else {
		return 0;
	}
	module_name(&hit, out->module, sizeof(out->module));
	return hit.start;
}

/* Most sampled chunks first, then most bytes, then by name; unknown last. */
static int
by_chunks(const void *a, const void *b)
{
	const struct la_type_count *x = a, *y = b;

	if ((x->source == LA_TYPE_UNKNOWN) != (y->source == LA_TYPE_UNKNOWN))
		return x->source == LA_TYPE_UNKNOWN ? 1 : -1;
	if (x->chunks != y->chunks)
		return x->chunks > y->chunks ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

static uint64_t
scale(uint64_t v, uint64_t population, unsigned n)
{
	return (uint64_t)(((unsigned __int128)v * population + n / 2) / n);
}

/* The sampled chunks' Python objects, as the snapshot names them. */
struct py_sample {
	struct maps maps;
	struct pytypes *pt;
	int *type; /* per sampled chunk: pytypes_get() index, or -1 */
};

static void
py_sample_free(struct py_sample *ps)
{
	pytypes_free(ps->pt);
	procmaps_free(&ps->maps);
	free(ps->type);
	memset(ps, 0, sizeof(*ps));
}

/*
 * In a CPython process (the session found one at a snapshot), name each
 * readable sampled chunk's object: ps->type[i]. Nothing otherwise (ps->pt
 * stays NULL). 0, -ESRCH or -ENOMEM.
 */
static int
py_sample_name(struct la_session *s, const struct snap_watch *w,
	       const unsigned char *ok, struct py_sample *ps)
{
	int err;

	memset(ps, 0, sizeof(*ps));
	if (s->py.ver.source == PYVERSION_NONE)
		return 0;
	ps->type = malloc(w->n * sizeof(*ps->type));
	if (!ps->type)
		return -ENOMEM;
	err = procmaps_read(s->pid, &ps->maps);
	if (!err)
		err = pytypes_new(
			s->mem, &ps->maps,
			pytypes_rules_for(s->py.ver.major, s->py.ver.minor),
			&ps->pt);
	if (err) {
		py_sample_free(ps);
		return err == -ENOMEM ? err : -ESRCH;
	}
	memsrc_invalidate(s->mem); /* the target ran since */
	for (unsigned i = 0; i < w->n; i++) {
		int r = -1;

		if (ok[i] && w->sizes[i] > CHUNK_DATA)
			r = pytypes_chunk(ps->pt, w->addrs[i] + CHUNK_DATA,
					  w->sizes[i] - CHUNK_DATA);
		if (r == -ENOMEM || r == -ESRCH) {
			py_sample_free(ps);
			return r;
		}
		ps->type[i] = r < 0 ? -1 : r;
	}
	return 0;
}

/* The group of sampled chunk i's Python object, made when new. */
static int
py_group(const struct py_sample *ps, unsigned i, struct addr_map *by_py,
	 struct la_type_count *g, unsigned *ng)
{
	const struct pytype_count *k = pytypes_get(ps->pt, (size_t)ps->type[i]);
	int found, *gi = map_get(by_py, k->type, &found);

	if (!found) {
		struct la_type_count *t = &g[*ng];

		memset(t, 0, sizeof(*t));
		copy_name(t->name, sizeof(t->name), "", k->name);
		t->source = LA_TYPE_PYTHON;
		*gi = (int)(*ng)++;
	}
	return *gi;
}

/* Group the sample's words into g (room for n + 1 groups). */
static int
group(struct modules *m, const struct snap_watch *w, const uint64_t *words,
      const unsigned char *ok, const struct py_sample *ps,
      struct la_type_count *g, unsigned *ng)
{
	struct addr_map by_word, by_sym, by_py;
	int unknown, err;

	err = map_init(&by_word, w->n);
	if (!err)
		err = map_init(&by_sym, w->n);
	if (!err)
		err = map_init(&by_py, w->n);
	if (err) {
		map_free(&by_word);
		map_free(&by_sym);
		return err;
	}
	/* group 0 collects the unknown, whatever the order */
	memset(&g[0], 0, sizeof(g[0]));
	snprintf(g[0].name, sizeof(g[0].name), "unknown");
	unknown = 0;
	*ng = 1;
	for (unsigned i = 0; i < w->n; i++) {
		int found, *gi = &unknown, pg;

		if (ps->pt && ps->type[i] >= 0) {
			pg = py_group(ps, i, &by_py, g, ng);
			g[pg].chunks++;
			g[pg].bytes += w->sizes[i];
			continue;
		}
		if (ok[i]) {
			gi = map_get(&by_word, words[i], &found);
			if (!found) {
				struct la_type_count *t = &g[*ng];
				uint64_t sym;
				int *si;

				memset(t, 0, sizeof(*t));
				sym = resolve(m, words[i], t);
				*gi = 0;
				if (sym) {
					si = map_get(&by_sym, sym, &found);
					if (!found)
						*si = (int)(*ng)++;
					*gi = *si;
				}
			}
		}
		g[*gi].chunks++;
		g[*gi].bytes += w->sizes[i];
	}
	map_free(&by_word);
	map_free(&by_sym);
	map_free(&by_py);
	return 0;
}

/* The types of one watched location: la_types_of(), then accessors. */
struct la_types {
	unsigned n;
	struct la_type_count *t; /* by sampled chunks, unknown last */
};

int
la_types_of(struct la_session *s, const struct la_snapshot *snap,
	    unsigned watch_index, struct la_types **out)
{
	const struct snap_watch *w;
	struct la_types *ty;
	struct la_type_count *g = NULL;
	struct py_sample ps = {0};
	uint64_t *words = NULL;
	unsigned char *ok = NULL;
	unsigned ng = 0, k = 0;
	int err;

	la_error_clear();
	*out = NULL;
	if (watch_index >= snap->n_watch)
		return la_fail(
			-ENOENT,
			"location %u was not watched: the snapshot watched %u",
			watch_index, snap->n_watch);
	if (snap->info.pid != s->pid)
		return la_fail(
			-EINVAL,
			"the snapshot is of process %d, the session of process %d",
			(int)snap->info.pid, (int)s->pid);
	w = &snap->watch[watch_index];
	ty = calloc(1, sizeof(*ty));
	if (!ty)
		return la_fail(-ENOMEM, "out of memory");
	*out = ty;
	if (!w->n)
		return 0;
	words = calloc(w->n, sizeof(*words));
	ok = calloc(w->n, 1);
	g = calloc((size_t)w->n + 1, sizeof(*g));
	if (!words || !ok || !g) {
		err = la_fail(-ENOMEM, "out of memory");
		goto out;
	}
	err = snapshot_modules(s, snap);
	if (!err)
		err = read_words(s, w->addrs, w->n, words, ok);
	if (err == -ESRCH) {
		err = la_fail(-ESRCH, "process %d exited", (int)s->pid);
		goto out;
	}
	if (err) {
		err = la_fail_default(err);
		goto out;
	}
	err = py_sample_name(s, w, ok, &ps);
	if (err == -ESRCH) {
		err = la_fail(-ESRCH, "process %d exited", (int)s->pid);
		goto out;
	}
	if (!err)
		err = group(s->mods, w, words, ok, &ps, g, &ng);
	if (err) {
		err = la_fail(-ENOMEM, "out of memory");
		goto out;
	}
	g[0].source = LA_TYPE_UNKNOWN;
	qsort(g, ng, sizeof(*g), by_chunks);
	for (unsigned i = 0; i < ng; i++) {
		if (!g[i].chunks)
			continue; /* an empty unknown */
		if (k != i)
			g[k] = g[i];
		g[k].est_chunks = scale(g[i].chunks, w->population, w->n);
		g[k].est_bytes = scale(g[i].bytes, w->population, w->n);
		k++;
	}
	ty->n = k;
	ty->t = g;
	g = NULL;
	pr_debug("%s: %u of %llu chunks sampled, %u types", w->loc.key, w->n,
		 (unsigned long long)w->population, ng - 1);
out:
	py_sample_free(&ps);
	free(words);
	free(ok);
	free(g);
	if (err) {
		la_types_free(*out);
		*out = NULL;
	}
	return err;
}

void
la_types_free(struct la_types *ty)
{
	if (!ty)
		return;
	free(ty->t);
	free(ty);
}

unsigned
la_types_count(const struct la_types *ty)
{
	return ty->n;
}

int
la_types_get(const struct la_types *ty, unsigned i, struct la_type_count *out,
	     size_t out_sz)
{
	return list_give(ty->t, ty->n, sizeof(*ty->t), i, out, out_sz);
}
