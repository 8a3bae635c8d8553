/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * elfsyms.c - ELF reading with libelf (see elfsyms.h). Every size and
 * index read from the file is checked before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "elf: "
#include "elfsyms.h"
#include "error.h"
#include "log.h"

struct elffile {
	int fd;
	Elf *elf;
	char *path;
	GElf_Ehdr ehdr;
	size_t shstrndx;
	unsigned char build_id[64];
	size_t build_id_len;
	char *debuglink;
	int has_symtab;
	/* sh_link (string table) of .symtab and .dynsym; 0 when absent */
	size_t strtab[2];
};

static Elf_Scn *
find_section(const struct elffile *ef, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(ef->elf, ef->shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static void
read_notes(struct elffile *ef)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *d;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		while ((off = gelf_getnote(d, off, &nh, &name_off,
					   &desc_off))) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + name_off, "GNU", 4) &&
			    nh.n_descsz <= sizeof(ef->build_id)) {
				memcpy(ef->build_id,
				       (char *)d->d_buf + desc_off,
				       nh.n_descsz);
				ef->build_id_len = nh.n_descsz;
				return;
			}
		}
	}
}

static void
read_debuglink(struct elffile *ef)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(ef, ".gnu_debuglink", &sh);
	Elf_Data *d;

	if (!scn || sh.sh_type == SHT_NOBITS)
		return;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_size || !memchr(d->d_buf, 0, d->d_size))
		return;
	ef->debuglink = strdup(d->d_buf);
}

/* Where symbol names live, for elffile_symbol_name(). */
static void
read_strtabs(struct elffile *ef)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !ef->strtab[0])
			ef->strtab[0] = sh.sh_link;
		else if (sh.sh_type == SHT_DYNSYM && !ef->strtab[1])
			ef->strtab[1] = sh.sh_link;
	}
}

int
elffile_open(const char *path, struct elffile **out)
{
	struct elffile *ef;
	GElf_Shdr sh;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -LA_EBADELF;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		int err = -errno;

		free(ef);
		return err;
	}
	ef->path = strdup(path);
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->path || !ef->elf || elf_kind(ef->elf) != ELF_K_ELF ||
	    !gelf_getehdr(ef->elf, &ef->ehdr) ||
	    ef->ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ef->ehdr.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(ef->elf, &ef->shstrndx)) {
		pr_debug("%s: not a usable x86_64 ELF file", path);
		elffile_close(ef);
		return -LA_EBADELF;
	}
	read_notes(ef);
	read_debuglink(ef);
	ef->has_symtab = find_section(ef, ".symtab", &sh) != NULL &&
			 sh.sh_type == SHT_SYMTAB;
	read_strtabs(ef);
	*out = ef;
	return 0;
}

void
elffile_close(struct elffile *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef->path);
	free(ef->debuglink);
	free(ef);
}

const char *
elffile_path(const struct elffile *ef)
{
	return ef->path;
}

int
elffile_is_dyn(const struct elffile *ef)
{
	return ef->ehdr.e_type == ET_DYN;
}

uint64_t
elffile_load_base(const struct elffile *ef)
{
	size_t n = 0;
	uint64_t base = UINT64_MAX;

	if (elf_getphdrnum(ef->elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(ef->elf, (int)i, &ph) &&
		    ph.p_type == PT_LOAD && ph.p_vaddr < base)
			base = ph.p_vaddr;
	}
	return base == UINT64_MAX ? 0 : base & ~(uint64_t)0xfff;
}

int
elffile_tls(const struct elffile *ef, uint64_t *memsz, uint64_t *align)
{
	size_t n = 0;

	if (elf_getphdrnum(ef->elf, &n))
		return -LA_EBADELF;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(ef->elf, (int)i, &ph) && ph.p_type == PT_TLS) {
			*memsz = ph.p_memsz;
			*align = ph.p_align ? ph.p_align : 1;
			return 0;
		}
	}
	return -ENOENT;
}

size_t
elffile_build_id(const struct elffile *ef, const unsigned char **id)
{
	*id = ef->build_id;
	return ef->build_id_len;
}

const char *
elffile_debuglink(const struct elffile *ef)
{
	return ef->debuglink;
}

int
elffile_has_symtab(const struct elffile *ef)
{
	return ef->has_symtab;
}

static int
name_matches(const char *symname, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(symname, name, n) &&
	       (symname[n] == '\0' || symname[n] == '@');
}

/*
 * Call fn for every named symbol of the SHT_SYMTAB or SHT_DYNSYM sections,
 * with the source file named by the last STT_FILE symbol before it (the
 * linker groups local symbols by input file). Stops on != 0.
 */
static int
foreach_symbol(const struct elffile *ef, Elf64_Word type,
	       int (*fn)(const GElf_Sym *sym, const char *name,
			 const char *file, void *arg),
	       void *arg)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *file = "";
		Elf_Data *d;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		count = d->d_size / sh.sh_entsize;
		for (size_t i = 1; i < count; i++) {
			GElf_Sym sym;
			const char *n;
			int ret;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			n = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (!n)
				continue;
			if (GELF_ST_TYPE(sym.st_info) == STT_FILE) {
				file = n;
				continue;
			}
			ret = fn(&sym, n, file, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct symbol_query {
	const char *name;
	uint64_t *value, *size;
};

static int
symbol_cb(const GElf_Sym *sym, const char *name, const char *file, void *arg)
{
	struct symbol_query *q = arg;

	(void)file;
	if (sym->st_shndx == SHN_UNDEF || !name_matches(name, q->name))
		return 0;
	*q->value = sym->st_value;
	if (q->size)
		*q->size = sym->st_size;
	return 1;
}

static int
symbol_in(const struct elffile *ef, Elf64_Word type, const char *name,
	  uint64_t *value, uint64_t *size)
{
	struct symbol_query q = {name, value, size};

	return foreach_symbol(ef, type, symbol_cb, &q) == 1 ? 0 : -ENOENT;
}

int
elffile_symbol(const struct elffile *ef, const char *name, uint64_t *value,
	       uint64_t *size)
{
	if (!symbol_in(ef, SHT_SYMTAB, name, value, size))
		return 0;
	return symbol_in(ef, SHT_DYNSYM, name, value, size);
}

int
elffile_section(const struct elffile *ef, const char *name, uint64_t *addr,
		uint64_t *size, const void **data)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(ef, name, &sh);
	Elf_Data *d;

	if (!scn)
		return -ENOENT;
	*addr = sh.sh_addr;
	*size = sh.sh_size;
	*data = NULL;
	if (sh.sh_type == SHT_NOBITS)
		return 0;
	d = elf_getdata(scn, NULL);
	if (!d || d->d_size != sh.sh_size)
		return -LA_EBADELF;
	*data = d->d_buf;
	return 0;
}

int
elffile_foreach_reloc(const struct elffile *ef,
		      int (*fn)(const struct elf_reloc *r, void *arg),
		      void *arg)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *d, *symd = NULL;
		GElf_Shdr symsh;
		Elf_Scn *symscn;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		symscn = elf_getscn(ef->elf, sh.sh_link);
		if (symscn && gelf_getshdr(symscn, &symsh))
			symd = elf_getdata(symscn, NULL);
		count = d->d_size / sh.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			struct elf_reloc r;
			int ret;

			if (!gelf_getrela(d, (int)i, &rela))
				continue;
			r.offset = rela.r_offset;
			r.type = (uint32_t)GELF_R_TYPE(rela.r_info);
			r.sym = (uint32_t)GELF_R_SYM(rela.r_info);
			r.addend = rela.r_addend;
			r.sym_name = "";
			if (r.sym && symd &&
			    gelf_getsym(symd, (int)r.sym, &sym)) {
				const char *n = elf_strptr(
					ef->elf, symsh.sh_link, sym.st_name);
				if (n)
					r.sym_name = n;
			}
			ret = fn(&r, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int
elffile_find_string(const struct elffile *ef, const char *needle, char *buf,
		    size_t len)
{
	const size_t win = 65536;
	size_t nlen = strlen(needle), keep = 256;
	char *mem = malloc(win + keep);
	off_t off = 0;
	int err = -ENOENT;

	if (!mem)
		return -ENOMEM;
	for (;;) {
		ssize_t n = pread(ef->fd, mem, win + keep, off);
		char *hit;

		if (n <= 0 || (size_t)n < nlen)
			break;
		hit = memmem(mem, (size_t)n, needle, nlen);
		if (hit) {
			size_t avail = (size_t)n - (size_t)(hit - mem), i;

			for (i = 0; i + 1 < len && i < avail && hit[i]; i++)
				buf[i] = hit[i];
			buf[i] = '\0';
			err = 0;
			break;
		}
		if ((size_t)n < win + keep)
			break;
		off += (off_t)win;
	}
	free(mem);
	return err;
}

struct function_query {
	int (*fn)(const char *name, const char *file, uint64_t value,
		  uint64_t size, void *arg);
	void *arg;
};

static int
function_cb(const GElf_Sym *sym, const char *name, const char *file, void *arg)
{
	struct function_query *q = arg;

	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC ||
	    sym->st_shndx == SHN_UNDEF || !sym->st_size)
		return 0;
	return q->fn(name, GELF_ST_BIND(sym->st_info) == STB_LOCAL ? file : "",
		     sym->st_value, sym->st_size, q->arg);
}

int
elffile_foreach_function(const struct elffile *ef,
			 int (*fn)(const char *name, const char *file,
				   uint64_t value, uint64_t size, void *arg),
			 void *arg)
{
	struct function_query q = {fn, arg};

	return foreach_symbol(ef, ef->has_symtab ? SHT_SYMTAB : SHT_DYNSYM,
			      function_cb, &q);
}

struct any_symbol_query {
	int (*fn)(const struct elf_sym *s, void *arg);
	void *arg;
};

static int
any_symbol_cb(const GElf_Sym *sym, const char *name, const char *file,
	      void *arg)
{
	struct any_symbol_query *q = arg;
	struct elf_sym s;

	(void)file;
	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx == SHN_ABS || !*name)
		return 0;
	s.name = name;
	s.name_off = sym->st_name;
	s.value = sym->st_value;
	s.size = sym->st_size;
	s.type = GELF_ST_TYPE(sym->st_info);
	s.bind = GELF_ST_BIND(sym->st_info);
	return q->fn(&s, q->arg);
}

int
elffile_foreach_symbol(const struct elffile *ef, int dynsym,
		       int (*fn)(const struct elf_sym *s, void *arg), void *arg)
{
	struct any_symbol_query q = {fn, arg};

	if (!ef->strtab[dynsym ? 1 : 0])
		return -ENOENT;
	return foreach_symbol(ef, dynsym ? SHT_DYNSYM : SHT_SYMTAB,
			      any_symbol_cb, &q);
}

const char *
elffile_symbol_name(const struct elffile *ef, int dynsym, uint32_t name_off)
{
	size_t strtab = ef->strtab[dynsym ? 1 : 0];

	/* elf_strptr() checks the offset against the section's size. */
	return strtab ? elf_strptr(ef->elf, strtab, name_off) : NULL;
}

uint64_t
elffile_load_end(const struct elffile *ef)
{
	size_t n = 0;
	uint64_t end = 0;

	if (elf_getphdrnum(ef->elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(ef->elf, (int)i, &ph) &&
		    ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz > end &&
		    ph.p_vaddr + ph.p_memsz >= ph.p_vaddr)
			end = ph.p_vaddr + ph.p_memsz;
	}
	return end;
}
