/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * allocator.c - which malloc does the target use (see allocator.h)?
 * doc/design/glibc-heap.md, "Finding the allocator": libc calls malloc
 * through its own GOT slot (R_X86_64_GLOB_DAT, resolved at load time,
 * never lazily), so the slot's value in the live process is the malloc
 * every caller got.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "allocator: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "glibc/allocator.h"
#include "glibc/malloc_layout.h"
#include "proc/memsrc.h"
#include "proc/procmaps.h"

/* Well-known allocators, by the file that provides malloc. */
static const char *
allocator_name(const char *base)
{
	static const struct {
		const char *part, *name;
	} known[] = {
		{"jemalloc", "jemalloc"},
		{"tcmalloc", "tcmalloc"},
		{"mimalloc", "mimalloc"},
		{"snmalloc", "snmalloc"},
		{"rpmalloc", "rpmalloc"},
		{"hoard", "Hoard"},
		{"libasan", "AddressSanitizer's allocator"},
		{"libhwasan", "HWAddressSanitizer's allocator"},
		{"libtsan", "ThreadSanitizer's allocator"},
		{"libmsan", "MemorySanitizer's allocator"},
		{"libumem", "umem"},
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(base, known[i].part))
			return known[i].name;
	return "another allocator";
}

const char *
allocator_static_kind(const struct elffile *ef)
{
	uint64_t a, sz;
	const void *d;
	char buf[32];

	/* musl: its startup and malloc entry points (musl >= 1.2.1). */
	if (!elffile_symbol(ef, "__init_libc", &a, NULL) ||
	    !elffile_symbol(ef, "__libc_malloc_impl", &a, NULL))
		return "musl libc";
	if (!elffile_section(ef, ".go.buildinfo", &a, &sz, &d) ||
	    !elffile_section(ef, ".note.go.buildid", &a, &sz, &d))
		return "Go";
	if (!elffile_find_string(ef, "RUST_BACKTRACE", buf, sizeof(buf)))
		return "Rust";
	return NULL;
}

static int
is_glibc_name(const char *base)
{
	return !strcmp(base, "libc.so.6") ||
	       (!strncmp(base, "libc-2.", 7) && strstr(base, ".so"));
}

static int
is_musl_name(const char *base)
{
	return !strncmp(base, "ld-musl-", 8) || !strncmp(base, "libc.musl", 9);
}

/* The lowest mapping of path: its start minus the ELF's first PT_LOAD. */
static const struct mapping *
first_mapping(const struct maps *maps, const char *path)
{
	const struct mapping *best = NULL;

	for (size_t i = 0; i < maps->len; i++)
		if (!strcmp(maps->v[i].path, path) &&
		    (!best || maps->v[i].start < best->start))
			best = &maps->v[i];
	return best;
}

struct malloc_slot {
	uint64_t offset;
	int found;
};

static int
malloc_slot_cb(const struct elf_reloc *r, void *arg)
{
	struct malloc_slot *q = arg;
	size_t n = strlen("malloc");

	if ((r->type == ARCH_R_GLOB_DAT || r->type == ARCH_R_JUMP_SLOT) &&
	    !strncmp(r->sym_name, "malloc", n) &&
	    (r->sym_name[n] == '\0' || r->sym_name[n] == '@')) {
		q->offset = r->offset;
		q->found = 1;
		return 1;
	}
	return 0;
}

/* The malloc bound through ef's GOT (load bias bias), or 0. */
static int
bound_malloc(const struct elffile *ef, uint64_t bias, struct memsrc *mem,
	     uint64_t *bound)
{
	struct malloc_slot q = {0, 0};

	*bound = 0;
	elffile_foreach_reloc(ef, malloc_slot_cb, &q);
	if (!q.found)
		return 0;
	return memsrc_u64(mem, bias + q.offset, bound);
}

static int
check_binding(pid_t pid, const struct maps *maps, struct memsrc *mem,
	      const struct glibc_loc *loc)
{
	uint64_t own, bound;
	const struct mapping *m;
	int err;

	if (elffile_symbol(loc->elf, "malloc", &own, NULL))
		return 0; /* nothing to compare with */
	own += loc->bias;
	err = bound_malloc(loc->elf, loc->bias, mem, &bound);
	/*
	 * A non-PIE executable that takes malloc's address gets a canonical
	 * PLT entry, and every GOT then points there (python3 does this): a
	 * module that does not define malloc is followed through its own
	 * GOT slot.
	 */
	for (int hop = 0; !err && bound && bound != own && hop < 4; hop++) {
		const struct mapping *first;
		struct elffile *ef;
		uint64_t v, next;
		int defines;

		m = procmaps_find(maps, bound);
		if (!m || !m->path[0] || !strcmp(m->path, loc->path))
			break;
		first = NULL;
		for (size_t i = 0; i < maps->len; i++)
			if (!strcmp(maps->v[i].path, m->path)) {
				first = &maps->v[i];
				break;
			}
		if (elffile_open_mapped(pid, first, &ef))
			break;
		defines = !elffile_symbol(ef, "malloc", &v, NULL);
		v = first->start - first->offset - elffile_load_base(ef);
		if (!elffile_is_dyn(ef))
			v = 0;
		if (!defines && !bound_malloc(ef, v, mem, &next) && next) {
			bound = next;
			elffile_close(ef);
			continue;
		}
		elffile_close(ef);
		break;
	}
	if (err == -ESRCH)
		return la_fail(-ESRCH, "process %d exited", (int)pid);
	if (err || !bound || bound == own)
		return 0;
	m = procmaps_find(maps, bound);
	if (!m) {
		pr_warn("malloc is bound to %#llx, outside any mapping",
			(unsigned long long)bound);
		return 0;
	}
	if (strstr(m->path, "libc_malloc_debug")) {
		pr_warn("malloc goes through libc_malloc_debug.so (MALLOC_CHECK_, mcheck or mtrace): sizes include its headers");
		return 0;
	}
	if (!strcmp(m->path, loc->path))
		return 0; /* lazily bound PLT slot inside libc itself */
	if (!m->path[0])
		return la_fail(
			-LA_ENOTGLIBC,
			"process %d allocates with code in an anonymous mapping, not glibc's malloc: leakattach reads only glibc's heap",
			(int)pid);
	return la_fail(
		-LA_ENOTGLIBC,
		"process %d allocates with %s (%s), not glibc's malloc: leakattach reads only glibc's heap",
		(int)pid, allocator_name(mapping_basename(m)),
		mapping_basename(m));
}

static int
exe_path(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
		buf[n - 10] = '\0'; /* as procmaps strips it */
	return 0;
}

int
allocator_find_glibc(pid_t pid, const struct maps *maps, struct memsrc *mem,
		     struct glibc_loc *out)
{
	const struct mapping *lib = NULL, *m;
	char exe[512];
	int err;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < maps->len; i++) {
		const char *base = mapping_basename(&maps->v[i]);

		if (is_musl_name(base))
			return la_fail(
				-LA_ENOTGLIBC,
				"process %d uses musl libc (%s), whose malloc leakattach cannot read",
				(int)pid, maps->v[i].path);
		if (!lib && is_glibc_name(base))
			lib = &maps->v[i];
	}
	if (lib) {
		snprintf(out->path, sizeof(out->path), "%s", lib->path);
	} else {
		/* No libc.so: a static executable, glibc or not. */
		err = exe_path(pid, exe, sizeof(exe));
		if (err)
			return la_fail(err, "cannot read /proc/%d/exe: %s",
				       (int)pid, strerror(-err));
		snprintf(out->path, sizeof(out->path), "%s", exe);
		out->static_binary = 1;
	}
	m = first_mapping(maps, out->path);
	if (!m)
		return la_fail(
			-LA_ENOTGLIBC,
			"process %d has no glibc mapped: leakattach reads only glibc's heap",
			(int)pid);
	err = elffile_open_mapped(pid, m, &out->elf);
	if (err)
		return la_fail(err == -LA_EBADELF ? err : -LA_EBADELF,
			       "cannot open %s of process %d: %s", out->path,
			       (int)pid, la_strerror(err));
	out->bias = m->start - m->offset - elffile_load_base(out->elf);
	if (!elffile_is_dyn(out->elf))
		out->bias = 0;
	if (out->static_binary)
		return 0;
	return check_binding(pid, maps, mem, out);
}

void
glibc_loc_free(struct glibc_loc *loc)
{
	elffile_close(loc->elf);
	memset(loc, 0, sizeof(*loc));
}
