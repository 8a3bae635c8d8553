/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* malloc_code.c - see malloc_code.h. */
#include <string.h>

#define LOG_PREFIX "malloc_code: "
#include "base/log.h"
#include "elf/elfsyms.h"
#include "glibc/malloc_code.h"

/* malloc.c's exported entry points (and their __libc_ aliases). */
static const char *const exported[] = {
	"malloc",
	"free",
	"calloc",
	"realloc",
	"memalign",
	"aligned_alloc",
	"valloc",
	"pvalloc",
	"posix_memalign",
	"malloc_trim",
	"malloc_usable_size",
	"mallinfo",
	"mallinfo2",
	"malloc_stats",
	"mallopt",
	"malloc_info",
	"__libc_malloc",
	"__libc_free",
	"__libc_calloc",
	"__libc_realloc",
	"__libc_memalign",
};

struct collect {
	struct malloc_code *mc;
	uint64_t bias;
	int symtab;
};

static int
is_exported(const char *name)
{
	size_t n;

	for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++) {
		n = strlen(exported[i]);
		if (!strncmp(name, exported[i], n) &&
		    (name[n] == '\0' || name[n] == '@'))
			return 1;
	}
	return 0;
}

static void
add(struct malloc_code *mc, uint64_t lo, uint64_t hi)
{
	for (unsigned i = 0; i < mc->n; i++)
		if (mc->lo[i] == lo)
			return; /* an alias */
	if (mc->n < MALLOC_CODE_MAX) {
		mc->lo[mc->n] = lo;
		mc->hi[mc->n] = hi;
		mc->n++;
	}
}

static int
function_cb(const char *name, const char *file, uint64_t value, uint64_t size,
	    void *arg)
{
	struct collect *c = arg;

	/* malloc.c's local functions: _int_malloc, sysmalloc, ... and .cold parts */
	if (is_exported(name) || !strcmp(file, "malloc.c"))
		add(c->mc, c->bias + value, c->bias + value + size);
	return 0;
}

void
malloc_code_collect(const struct elffile *ef, const struct elffile *dbg,
		    uint64_t bias, struct malloc_code *out)
{
	struct collect c = {out, bias, 0};

	memset(out, 0, sizeof(*out));
	if (dbg && elffile_has_symtab(dbg))
		elffile_foreach_function(dbg, function_cb, &c);
	else
		elffile_foreach_function(ef, function_cb, &c);
	out->from_symtab =
		(dbg && elffile_has_symtab(dbg)) || elffile_has_symtab(ef);
	pr_debug("%u ranges of malloc code (%s)", out->n,
		 out->from_symtab ? "symtab" : "exports only");
}

int
malloc_code_contains(const struct malloc_code *mc, uint64_t pc)
{
	for (unsigned i = 0; i < mc->n; i++)
		if (pc >= mc->lo[i] && pc < mc->hi[i])
			return 1;
	return 0;
}
