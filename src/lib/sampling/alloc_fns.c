/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * alloc_fns.c - the allocation functions' names and their places in the
 * target's glibc (see alloc_fns.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_PREFIX "sampling: "
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "glibc/allocator.h"
#include "proc/procmaps.h"
#include "sampling/alloc_fns.h"

static const char *const fn_names[ALLOC_NFNS] = {
	[ALLOC_MALLOC] = "malloc",
	[ALLOC_CALLOC] = "calloc",
	[ALLOC_REALLOC] = "realloc",
	[ALLOC_MEMALIGN] = "memalign",
	[ALLOC_POSIX_MEMALIGN] = "posix_memalign",
	[ALLOC_ALIGNED_ALLOC] = "aligned_alloc",
	[ALLOC_VALLOC] = "valloc",
	[ALLOC_PVALLOC] = "pvalloc",
	[ALLOC_FREE] = "free",
};

const char *
alloc_fn_name(enum alloc_fn fn)
{
	return (unsigned)fn < ALLOC_NFNS ? fn_names[fn] : "?";
}

/*
 * The file offset is taken from the executable mapping that holds the
 * symbol's address (address - start + pgoff): the same value as st_value
 * - p_vaddr + p_offset of its PT_LOAD, and exactly what the kernel
 * matches against vm_pgoff when it places a uprobe (kernel/events/
 * uprobes.c, offset_to_vaddr()).
 */
int
alloc_fns_find(pid_t pid, const struct maps *maps, struct memsrc *mem,
	       unsigned mask, struct alloc_fns *out)
{
	struct glibc_loc loc;
	int err, nfound = 0;

	memset(out, 0, sizeof(*out));
	err = allocator_find_glibc(pid, maps, mem, &loc);
	if (err)
		return err;
	snprintf(out->glibc, sizeof(out->glibc), "%s", loc.path);
	for (int fn = 0; fn < ALLOC_NFNS; fn++) {
		const struct mapping *m;
		uint64_t value, addr, off;

		out->alias[fn] = (enum alloc_fn)fn;
		if (!(mask & (1u << fn)) ||
		    elffile_symbol(loc.elf, fn_names[fn], &value, NULL) ||
		    !value)
			continue;
		addr = loc.bias + value;
		m = procmaps_find(maps, addr);
		if (!m || !(m->prot & MAP_X) || strcmp(m->path, loc.path)) {
			pr_warn("%s at %#llx is not in an executable mapping of %s",
				fn_names[fn], (unsigned long long)addr,
				loc.path);
			continue;
		}
		off = addr - m->start + m->offset;
		for (int o = 0; o < fn; o++)
			if (out->addr[o] == addr)
				out->alias[fn] = (enum alloc_fn)o;
		if ((int)out->alias[fn] != fn)
			continue;
		out->lib = m;
		out->addr[fn] = addr;
		out->offset[fn] = off;
		nfound += fn != ALLOC_FREE;
	}
	if (!nfound)
		err = la_fail(-LA_ENOTGLIBC,
			      "found none of the allocation functions in %s",
			      loc.path);
	glibc_loc_free(&loc);
	return err;
}
