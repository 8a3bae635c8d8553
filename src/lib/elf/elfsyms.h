/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * elfsyms.h - what leakattach needs from ELF files, through libelf:
 * symbols, sections, relocations, the build-id and debuglink, PT_TLS, and
 * byte searches. Parses untrusted files; knows nothing about malloc.
 */
#ifndef LA_ELFSYMS_H
#define LA_ELFSYMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elffile;

struct elf_reloc {
	uint64_t offset; /* r_offset: link-time address patched */
	uint32_t type; /* R_X86_64_*, R_AARCH64_* (arch.h: ARCH_R_*) */
	uint32_t sym; /* symbol index (0: none) */
	int64_t addend;
	const char *sym_name; /* "" when sym == 0; valid during the call */
};

int elffile_open(const char *path, struct elffile **out);
/*
 * The same from an open descriptor, which the elffile then owns (closed
 * on failure too); path names it in messages and elffile_path().
 */
int elffile_open_fd(int fd, const char *path, struct elffile **out);
struct mapping;

/* Open the file behind a mapping of process pid (target_file_path()). */
int elffile_open_mapped(pid_t pid, const struct mapping *m,
			struct elffile **out);
void elffile_close(struct elffile *ef);

/* e_type == ET_DYN (shared object or PIE). */
int elffile_is_dyn(const struct elffile *ef);
/* Lowest PT_LOAD p_vaddr rounded down to a page, for the load bias. */
uint64_t elffile_load_base(const struct elffile *ef);
/* PT_TLS p_memsz and p_align, or -ENOENT. */
int elffile_tls(const struct elffile *ef, uint64_t *memsz, uint64_t *align);
/* The NT_GNU_BUILD_ID note, or 0 bytes. */
size_t elffile_build_id(const struct elffile *ef, const unsigned char **id);
/* The .gnu_debuglink file name, or NULL. */
const char *elffile_debuglink(const struct elffile *ef);
int elffile_has_symtab(const struct elffile *ef);

/*
 * A symbol by name, from .symtab then .dynsym; versioned names
 * ("malloc@@GLIBC_2.2.5") match their bare name. -ENOENT if absent.
 */
int elffile_symbol(const struct elffile *ef, const char *name, uint64_t *value,
		   uint64_t *size);

/*
 * A section's link-time address and contents (NULL data for NOBITS).
 * The data belongs to the elffile. -ENOENT if absent.
 */
int elffile_section(const struct elffile *ef, const char *name, uint64_t *addr,
		    uint64_t *size, const void **data);

/* Call fn for every RELA relocation (.rela.dyn, .rela.plt); stop on != 0. */
int elffile_foreach_reloc(const struct elffile *ef,
			  int (*fn)(const struct elf_reloc *r, void *arg),
			  void *arg);

/*
 * Find needle in the file's bytes; copy up to len-1 bytes from the match
 * up to the next NUL into buf. -ENOENT when absent.
 */
int elffile_find_string(const struct elffile *ef, const char *needle, char *buf,
			size_t len);

/*
 * Call fn for every function symbol: of .symtab when there is one (file is
 * then the source file named by the last STT_FILE symbol before it, as the
 * linker groups local symbols), else of .dynsym (file ""). Stops on != 0.
 * name and file are valid during the call only (the table is mapped for
 * the walk alone).
 */
int elffile_foreach_function(const struct elffile *ef,
			     int (*fn)(const char *name, const char *file,
				       uint64_t value, uint64_t size,
				       void *arg),
			     void *arg);

const char *elffile_path(const struct elffile *ef);

/* One defined symbol, as elffile_foreach_symbol() reports it. */
struct elf_sym {
	const char *name;
	uint32_t name_off; /* st_name: elffile_symbol_name() gives it back */
	uint64_t value, size;
	unsigned char type, bind; /* STT_*, STB_* */
};

/*
 * Call fn for every defined (not SHN_UNDEF, not SHN_ABS) named symbol of
 * .symtab (dynsym == 0) or .dynsym (dynsym != 0). Stops on != 0.
 * -ENOENT when the file has no such table. s->name is valid during the
 * call only.
 */
int elffile_foreach_symbol(const struct elffile *ef, int dynsym,
			   int (*fn)(const struct elf_sym *s, void *arg),
			   void *arg);
/*
 * The name at st_name name_off of that table into buf (cut to len - 1
 * bytes), or -ENOENT: lets callers keep 4-byte offsets instead of
 * pointers.
 */
int elffile_symbol_name(const struct elffile *ef, int dynsym, uint32_t name_off,
			char *buf, size_t len);
/*
 * The link-time range [start, end) of the allocated section (SHF_ALLOC)
 * that holds link-time address addr, or -ENOENT (none, or no section
 * headers).
 */
int elffile_section_of(const struct elffile *ef, uint64_t addr, uint64_t *start,
		       uint64_t *end);
/* Highest PT_LOAD p_vaddr + p_memsz (link-time), 0 when none. */
uint64_t elffile_load_end(const struct elffile *ef);

#endif
