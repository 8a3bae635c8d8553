/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modules.h - the ELF files mapped into a target (its executable and
 * shared libraries), and what an address in them is: which module, which
 * symbol (function or object, C++ names demangled), and with debug
 * information which source line. Files are opened lazily, through
 * /proc/PID/root (or map_files for deleted ones), like libc itself.
 * Reads files only, never the target's memory; never stops the target.
 */
#ifndef LA_MODULES_H
#define LA_MODULES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elffile;
struct modules;

struct module {
	char path[512]; /* as mapped in the target */
	uint64_t start, end; /* lowest and highest mapped address + 1 */
	uint64_t bias; /* runtime address = link-time address + bias */
};

struct symbol_hit {
	const struct module *module;
	/* demangled for C++ ("Foo::bar(int)", "vtable for Foo") */
	char name[256];
	char raw[256]; /* as in the symbol table */
	uint64_t start; /* runtime address of the symbol */
	uint64_t offset; /* addr - start */
	int is_function; /* STT_FUNC (else STT_OBJECT or other) */
	/* modules_symbol_near(): the nearest symbol below, not holding it */
	int nearest;
};

/*
 * Read /proc/PID/maps into the module list. -ESRCH, -ENOMEM...
 * modules_ref() shares m (one more modules_close() before it goes); the
 * sharers use it from one thread at a time.
 */
int modules_open(pid_t pid, struct modules **out);
struct modules *modules_ref(struct modules *m);
/*
 * Read /proc/PID/maps again: modules still mapped as they were keep what
 * was loaded for them (the next window resolves at no cost), the others
 * are opened anew on first use. On error m is unchanged.
 */
int modules_refresh(struct modules *m);
void modules_close(struct modules *m);

/* The module that maps addr, or NULL. */
const struct module *modules_find(struct modules *m, uint64_t addr);

/*
 * The runtime ELF file of module mod (opened on first use; NULL when it
 * cannot be opened). Owned by m.
 */
struct elffile *modules_elf(struct modules *m, const struct module *mod);

/*
 * The symbol whose [st_value, st_value + st_size) holds addr, from every
 * table there is, merged: the module's .symtab; when it has none, its
 * debug file's .symtab (by build-id under the target's root then the
 * host's /usr/lib/debug, or .gnu_debuglink) and the MiniDebugInfo of its
 * .gnu_debugdata (minidebug.h); and .dynsym. Returns 0, or -ENOENT when
 * no symbol holds it (out->module is still set when a module maps addr).
 */
int modules_symbol(struct modules *m, uint64_t addr, struct symbol_hit *out);

/*
 * The same, and when no symbol holds addr, the nearest function symbol
 * below it if addr is plausibly inside it (out->nearest set): that
 * symbol has no size (assembly without .size: its extent is unknown), no
 * other symbol starts between them, and both are in one section. A sized
 * symbol that ends below addr is never given: addr is in something else.
 */
int modules_symbol_near(struct modules *m, uint64_t addr,
			struct symbol_hit *out);

/*
 * la_demangle - a C++ (Itanium ABI) name demangled, through libstdc++'s
 * __cxa_demangle loaded with dlopen (so the library needs no C++ runtime
 * when nobody demangles). Returns 0, or -ENOENT when name is not a C++
 * name or no demangler is available; buf then holds name unchanged.
 */
int modules_demangle(const char *name, char *buf, size_t len);

/*
 * The source file and line of addr from the DWARF line tables: of the
 * runtime file when it has DWARF, else of its debug file (found as for
 * modules_symbol). For a return address pass ra - 1 (the call). Returns 0,
 * or -ENOENT without debug information for addr (file is then "").
 */
int modules_line(struct modules *m, uint64_t addr, char *file, size_t len,
		 unsigned *line);

struct cfi_row;
/*
 * The call frame rules (debuginfo.h) at runtime address addr in mod, from
 * the runtime file's .eh_frame, its FDE list read once per module. -ENOENT
 * when the module has no CFI or no FDE holds addr.
 */
int modules_cfi_row(struct modules *m, const struct module *mod, uint64_t addr,
		    struct cfi_row *row);

#endif
