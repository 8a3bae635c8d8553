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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "elf: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "proc/target_file.h"

struct elffile {
	int fd;
	uint64_t file_size;
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
	/* where those string tables are in the file */
	uint64_t strtab_off[2], strtab_size[2];
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
	for (int k = 0; k < 2; k++) {
		Elf_Scn *str = ef->strtab[k]
				       ? elf_getscn(ef->elf, ef->strtab[k])
				       : NULL;

		if (str && gelf_getshdr(str, &sh) && sh.sh_type == SHT_STRTAB &&
		    sh.sh_offset <= ef->file_size &&
		    sh.sh_size <= ef->file_size - sh.sh_offset) {
			ef->strtab_off[k] = sh.sh_offset;
			ef->strtab_size[k] = sh.sh_size;
		}
	}
}

int
elffile_open(const char *path, struct elffile **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return elffile_open_fd(fd, path, out);
}

int
elffile_open_fd(int fd, const char *path, struct elffile **out)
{
	struct elffile *ef;
	GElf_Shdr sh;
	struct stat st;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return -LA_EBADELF;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		close(fd);
		return -ENOMEM;
	}
	ef->fd = fd;
	ef->path = strdup(path);
	if (!fstat(ef->fd, &st))
		ef->file_size = (uint64_t)st.st_size;
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->path || !ef->elf || elf_kind(ef->elf) != ELF_K_ELF ||
	    !gelf_getehdr(ef->elf, &ef->ehdr) ||
	    ef->ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ef->ehdr.e_machine != ARCH_EM ||
	    elf_getshdrstrndx(ef->elf, &ef->shstrndx)) {
		pr_debug("%s: not a usable " ARCH_NAME " ELF file", path);
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
 * The symbols and names of a symbol table section, for one walk. Mapped
 * for the walk alone when possible: through libelf's mapping of the file
 * (ELF_C_READ_MMAP) every page a walk touches stays resident, and counted
 * in our RSS, until elffile_close(), and whole tables are walked once
 * (libc6-dbg's .symtab and .strtab: 370 KB; postgres's .dynsym and
 * .dynstr: 460 KB). Else through libelf.
 */
struct wmap {
	void *base;
	size_t len;
	const unsigned char *p; /* the section's first byte */
	uint64_t size;
};

struct symsrc {
	int mapped;
	struct wmap syms, strs;
	uint64_t count; /* entries */
	/* through libelf */
	const struct elffile *ef;
	Elf_Data *d;
	size_t strndx;
};

static int
wmap_open(const struct elffile *ef, const GElf_Shdr *sh, struct wmap *w)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t off = sh->sh_offset & ~(pg - 1);

	memset(w, 0, sizeof(*w));
	if (sh->sh_type == SHT_NOBITS || !sh->sh_size ||
	    sh->sh_offset > ef->file_size ||
	    sh->sh_size > ef->file_size - sh->sh_offset)
		return -1;
	w->len = (size_t)(sh->sh_offset - off + sh->sh_size);
	w->base =
		mmap(NULL, w->len, PROT_READ, MAP_PRIVATE, ef->fd, (off_t)off);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		return -1;
	}
	w->p = (const unsigned char *)w->base + (sh->sh_offset - off);
	w->size = sh->sh_size;
	return 0;
}

static void
wmap_close(struct wmap *w)
{
	if (w->base)
		munmap(w->base, w->len);
	w->base = NULL;
}

/* The symbol table at scn (header sh); -1 when it cannot be read. */
static int
symsrc_open(const struct elffile *ef, Elf_Scn *scn, const GElf_Shdr *sh,
	    struct symsrc *s)
{
	Elf_Scn *strscn = elf_getscn(ef->elf, sh->sh_link);
	GElf_Shdr strsh;

	memset(s, 0, sizeof(*s));
	s->ef = ef;
	s->strndx = sh->sh_link;
	if (sh->sh_entsize == sizeof(Elf64_Sym) && strscn &&
	    gelf_getshdr(strscn, &strsh) && strsh.sh_type == SHT_STRTAB &&
	    !wmap_open(ef, sh, &s->syms) && !wmap_open(ef, &strsh, &s->strs)) {
		s->mapped = 1;
		s->count = s->syms.size / sizeof(Elf64_Sym);
		return 0;
	}
	wmap_close(&s->syms);
	s->d = elf_getdata(scn, NULL);
	if (!s->d || !sh->sh_entsize)
		return -1;
	s->count = s->d->d_size / sh->sh_entsize;
	return 0;
}

static void
symsrc_close(struct symsrc *s)
{
	wmap_close(&s->syms);
	wmap_close(&s->strs);
}

/* Symbol i and its name (NULL when the name is not in the table). */
static int
symsrc_get(const struct symsrc *s, uint64_t i, GElf_Sym *sym, const char **name)
{
	if (i >= s->count)
		return -1;
	if (!s->mapped) {
		if (!gelf_getsym(s->d, (int)i, sym))
			return -1;
		*name = elf_strptr(s->ef->elf, s->strndx, sym->st_name);
		return 0;
	}
	/* ELF64 little-endian on x86_64 (elffile_open): GElf_Sym's layout */
	memcpy(sym, s->syms.p + i * sizeof(Elf64_Sym), sizeof(*sym));
	*name = NULL;
	/* as elf_strptr(): inside the table and ended by a NUL */
	if (sym->st_name < s->strs.size &&
	    memchr(s->strs.p + sym->st_name, 0, s->strs.size - sym->st_name))
		*name = (const char *)s->strs.p + sym->st_name;
	return 0;
}

/*
 * Call fn for every named symbol of the SHT_SYMTAB or SHT_DYNSYM sections,
 * with the source file named by the last STT_FILE symbol before it (the
 * linker groups local symbols by input file). Stops on != 0. The names
 * are valid during the call only.
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
		struct symsrc src;
		int ret = 0;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type ||
		    !sh.sh_entsize || symsrc_open(ef, scn, &sh, &src))
			continue;
		for (uint64_t i = 1; i < src.count && !ret; i++) {
			GElf_Sym sym;
			const char *n;

			if (symsrc_get(&src, i, &sym, &n) || !n)
				continue;
			if (GELF_ST_TYPE(sym.st_info) == STT_FILE) {
				file = n;
				continue;
			}
			ret = fn(&sym, n, file, arg);
		}
		symsrc_close(&src);
		if (ret)
			return ret;
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
		Elf_Data *d;
		GElf_Shdr symsh;
		Elf_Scn *symscn;
		struct symsrc src;
		int have_syms = 0, ret = 0;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		symscn = elf_getscn(ef->elf, sh.sh_link);
		if (symscn && gelf_getshdr(symscn, &symsh))
			have_syms = !symsrc_open(ef, symscn, &symsh, &src);
		count = d->d_size / sh.sh_entsize;
		for (size_t i = 0; i < count && !ret; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			const char *n;
			struct elf_reloc r;

			if (!gelf_getrela(d, (int)i, &rela))
				continue;
			r.offset = rela.r_offset;
			r.type = (uint32_t)GELF_R_TYPE(rela.r_info);
			r.sym = (uint32_t)GELF_R_SYM(rela.r_info);
			r.addend = rela.r_addend;
			r.sym_name = "";
			if (r.sym && have_syms &&
			    !symsrc_get(&src, r.sym, &sym, &n) && n)
				r.sym_name = n;
			ret = fn(&r, arg);
		}
		if (have_syms)
			symsrc_close(&src);
		if (ret)
			return ret;
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

int
elffile_symbol_name(const struct elffile *ef, int dynsym, uint32_t name_off,
		    char *buf, size_t len)
{
	uint64_t size = ef->strtab_size[dynsym ? 1 : 0];
	size_t want;
	ssize_t n;

	/*
	 * Read, not through libelf's mapping: names looked up one by one
	 * (the frames of a window) would leave a page of a big string table
	 * resident per name (postgres's .dynstr is 200 KB).
	 */
	if (!len || name_off >= size)
		return -ENOENT;
	want = size - name_off < len - 1 ? (size_t)(size - name_off) : len - 1;
	n = pread(ef->fd, buf, want,
		  (off_t)(ef->strtab_off[dynsym ? 1 : 0] + name_off));
	if (n < 0 || (size_t)n != want)
		return -ENOENT;
	buf[n] = '\0';
	/* as elf_strptr(): a name runs into a NUL inside its table */
	if (strlen(buf) == (size_t)n && want == size - name_off)
		return -ENOENT;
	return 0;
}

int
elffile_section_of(const struct elffile *ef, uint64_t addr, uint64_t *start,
		   uint64_t *end)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    !sh.sh_size || sh.sh_addr + sh.sh_size < sh.sh_addr)
			continue;
		if (addr >= sh.sh_addr && addr - sh.sh_addr < sh.sh_size) {
			*start = sh.sh_addr;
			*end = sh.sh_addr + sh.sh_size;
			return 0;
		}
	}
	return -ENOENT;
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

int
elffile_open_mapped(pid_t pid, const struct mapping *m, struct elffile **out)
{
	char p[1024];
	int err = target_file_path(pid, m, p, sizeof(p));

	return err ? err : elffile_open(p, out);
}
