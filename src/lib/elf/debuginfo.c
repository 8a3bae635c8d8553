/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debuginfo.c - DWARF through libdwarf 20210528 (Debian 12). Every libdwarf
 * call of the project is in this file: the library's API changed in its
 * 0.x releases, and libdw exports clashing dwarf_* names, so one small
 * wrapper keeps both problems in one place.
 *
 * One compilation unit at a time. Handed a whole debug file, libdwarf
 * inflates all of .debug_info, .debug_abbrev, .debug_loclists and
 * .debug_rnglists (SHF_COMPRESSED in Debian's debug files) and makes a
 * context for every CU in front of the one asked for: 17 MB of heap for
 * libc6-dbg's libc (2.36), where malloc.c's CU is 51 KB. So, when the file allows
 * it, this file finds the CU itself (.debug_aranges, parsed here), streams
 * the sections through zlib keeping only that CU's bytes, its abbreviation
 * table, the string sections and (for line tables) its line program, and
 * hands libdwarf a small ELF image built in memory that holds just those.
 * In that image the CU starts at offset 0 of .debug_info; nothing asked
 * here follows a reference out of the CU (the queries read names, sizes,
 * member offsets, locations and line tables), and no DIE offset leaves
 * this file. .debug_line keeps its offsets (the line program is put where
 * DW_AT_stmt_list says, in a region of untouched anonymous pages, which
 * cost no memory), and so do the string sections (copied whole).
 *
 * Files this cannot do (no .debug_aranges, 32-bit, big-endian, another
 * compression), a CU wanted by name rather than by address, and any
 * failure on the way fall back to libdwarf over the whole file, as before.
 * Line tables of a file read in slices are not libdwarf's: lineprog.c
 * runs the CU's line program (libdwarf's rows cost about 330 bytes each).
 * One difference remains: read in slices, an address that .debug_aranges
 * does not cover has no line (the whole file would look at every CU's
 * ranges; GCC's aranges cover every CU with code).
 *
 * Debug files are opened by path with no true_path buffer, so libdwarf
 * does not wander off to other files on its own.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#define LOG_PREFIX "dwarf: "
#include "arch/arch.h"
#include "base/error.h"
#include "base/log.h"
#include "elf/debuginfo.h"
#include "elf/lineprog.h"

/*
 * For calls made with no Dwarf_Error: without a handler, libdwarf 20210528
 * prints a line and aborts the process on an error (_dwarf_error_string()),
 * which a corrupt debug file could cause. With one, the call returns
 * DW_DLV_ERROR.
 * arg is where the Dwarf_Debug is kept (NULL while it is being made), so
 * that errors do not pile up until dwarf_finish().
 */
static void
ignore_error(Dwarf_Error err, Dwarf_Ptr arg)
{
	Dwarf_Debug *dbg = arg;

	if (dbg && *dbg)
		dwarf_dealloc(*dbg, err, DW_DLA_ERROR);
}

/* ---- debug sections, read without libdwarf ------------------------------ */

enum sec_id {
	SEC_INFO,
	SEC_ABBREV,
	SEC_ARANGES,
	SEC_LINE,
	SEC_STR,
	SEC_LINE_STR,
	SEC_STR_OFFSETS,
	SEC_ADDR,
	SEC_N,
};

static const char *const sec_names[SEC_N] = {
	".debug_info", ".debug_abbrev",	  ".debug_aranges",	".debug_line",
	".debug_str",  ".debug_line_str", ".debug_str_offsets", ".debug_addr",
};

/* The image copies the sections from SEC_STR on whole. */
#define SEC_FIRST_WHOLE SEC_STR

struct zcheck;

struct sec {
	int present;
	int zlib; /* SHF_COMPRESSED with an ELFCOMPRESS_ZLIB header */
	uint64_t addr; /* sh_addr */
	uint64_t off; /* of the bytes in the file (after the Chdr) */
	uint64_t fsize; /* bytes in the file */
	uint64_t size; /* bytes once inflated */
	/* zlib: where inflating can resume (see zr_seek()) */
	struct zcheck **ck;
	unsigned nck;
};

/* No debug section of ours is near this; a header saying so lies. */
#define SEC_MAX (1ull << 32)

static int
pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -LA_EBADELF;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * The sections named names[0..n) of an x86_64 ELF file, from its section
 * headers: where their bytes are, and how big they are once inflated.
 */
static int
read_section_table(int fd, const char *const *names_wanted, int n,
		   struct sec *out)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL, sh0;
	char *names = NULL;
	struct stat st;
	uint64_t nsec, strndx, nlen;
	int err;

	memset(out, 0, (size_t)n * sizeof(*out));
	if (fstat(fd, &st) || pread_all(fd, &eh, sizeof(eh), 0))
		return -LA_EBADELF;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shoff)
		return -LA_EBADELF;
	nsec = eh.e_shnum;
	strndx = eh.e_shstrndx;
	if (!nsec || strndx == SHN_XINDEX) {
		/* Extended numbering (gABI): the true values are in shdr 0. */
		if (pread_all(fd, &sh0, sizeof(sh0), eh.e_shoff))
			return -LA_EBADELF;
		if (!nsec)
			nsec = sh0.sh_size;
		if (strndx == SHN_XINDEX)
			strndx = sh0.sh_link;
	}
	if (!nsec || nsec > 65536 || strndx >= nsec ||
	    eh.e_shoff > (uint64_t)st.st_size ||
	    nsec * sizeof(*sh) > (uint64_t)st.st_size - eh.e_shoff)
		return -LA_EBADELF;
	sh = malloc(nsec * sizeof(*sh));
	err = -ENOMEM;
	if (!sh)
		goto out;
	err = -LA_EBADELF;
	if (pread_all(fd, sh, nsec * sizeof(*sh), eh.e_shoff))
		goto out;
	nlen = sh[strndx].sh_size;
	if (sh[strndx].sh_type != SHT_STRTAB || !nlen || nlen > (1u << 20) ||
	    sh[strndx].sh_offset > (uint64_t)st.st_size ||
	    nlen > (uint64_t)st.st_size - sh[strndx].sh_offset)
		goto out;
	names = malloc(nlen + 1);
	err = -ENOMEM;
	if (!names)
		goto out;
	err = -LA_EBADELF;
	if (pread_all(fd, names, nlen, sh[strndx].sh_offset))
		goto out;
	names[nlen] = '\0';
	for (uint64_t i = 1; i < nsec; i++) {
		const Elf64_Shdr *s = &sh[i];
		struct sec *d = NULL;

		if (s->sh_name >= nlen || s->sh_type == SHT_NOBITS)
			continue;
		for (int k = 0; k < n; k++)
			if (!strcmp(names + s->sh_name, names_wanted[k]))
				d = &out[k];
		if (!d || d->present)
			continue;
		if (s->sh_offset > (uint64_t)st.st_size ||
		    s->sh_size > (uint64_t)st.st_size - s->sh_offset)
			goto out;
		d->present = 1;
		d->addr = s->sh_addr;
		d->off = s->sh_offset;
		d->fsize = d->size = s->sh_size;
		if (s->sh_flags & SHF_COMPRESSED) {
			Elf64_Chdr ch;

			if (d->fsize < sizeof(ch) ||
			    pread_all(fd, &ch, sizeof(ch), d->off) ||
			    ch.ch_type != ELFCOMPRESS_ZLIB)
				goto out;
			d->zlib = 1;
			d->off += sizeof(ch);
			d->fsize -= sizeof(ch);
			d->size = ch.ch_size;
		}
		if (d->size >= SEC_MAX)
			goto out;
	}
	err = 0;
out:
	free(sh);
	free(names);
	return err;
}

/* The debug sections; 0 when the file can be read in slices. */
static int
read_sections(int fd, struct sec *out)
{
	int err = read_section_table(fd, sec_names, SEC_N, out);

	if (err)
		return err;
	return out[SEC_INFO].present && out[SEC_ABBREV].present &&
			       out[SEC_ARANGES].present
		       ? 0
		       : -ENOENT;
}

/*
 * A section's bytes in order, inflated on the way when compressed, with
 * 16 KiB of input and zlib's 32 KiB window: the memory of a read does not
 * grow with the section.
 *
 * Inflating a stream can only start at its beginning. So that each CU
 * read does not inflate everything in front of it again, the state of the
 * inflater is kept (inflateCopy(): 32 KiB of window and 7 KiB of state)
 * every MiB of output (or every ZCHECK_MAX-th of the section, for bigger
 * ones: the memory stays bounded), the first time a read gets there;
 * zr_seek() resumes from the last one in front of the offset. For libc6-dbg
 * that is 6 checkpoints (240 KiB) once every CU has been read.
 */
#define ZCHECK_EVERY (1u << 20)
#define ZCHECK_MAX 8u

static uint64_t
zcheck_every(const struct sec *s)
{
	uint64_t every = (s->size + ZCHECK_MAX - 1) / ZCHECK_MAX;

	return every < ZCHECK_EVERY ? ZCHECK_EVERY : every;
}

struct zcheck {
	uint64_t pos; /* inflated bytes before this point */
	uint64_t in_off; /* compressed bytes before it */
	z_stream z;
};

struct zread {
	int fd;
	struct sec *s;
	uint64_t pos; /* inflated bytes handed out */
	uint64_t in_off; /* compressed bytes read from the file */
	int z_live;
	z_stream z;
	unsigned char in[16384];
};

static void
sec_free_checkpoints(struct sec *s)
{
	for (unsigned i = 0; i < s->nck; i++) {
		inflateEnd(&s->ck[i]->z);
		free(s->ck[i]);
	}
	free(s->ck);
	s->ck = NULL;
	s->nck = 0;
}

static int
zr_open(struct zread *r, int fd, struct sec *s)
{
	unsigned char h[2];
	int err;

	memset(r, 0, offsetof(struct zread, in));
	r->fd = fd;
	r->s = s;
	if (!s->present)
		return -ENOENT;
	if (!s->zlib)
		return 0;
	/*
	 * The zlib header (RFC 1950: deflate, no preset dictionary), then a
	 * raw inflate: the Adler-32 at the end is not worth computing.
	 */
	if (s->fsize < 2)
		return -LA_EBADELF;
	err = pread_all(fd, h, 2, s->off);
	if (err)
		return err;
	if ((h[0] & 0x0f) != 8 || (h[0] >> 4) > 7 || (h[1] & 0x20) ||
	    (h[0] << 8 | h[1]) % 31)
		return -LA_EBADELF;
	r->in_off = 2;
	if (inflateInit2(&r->z, -MAX_WBITS) != Z_OK)
		return -ENOMEM;
	r->z_live = 1;
	return 0;
}

static void
zr_close(struct zread *r)
{
	if (r->z_live)
		inflateEnd(&r->z);
	r->z_live = 0;
}

/* Keep the inflater's state at r->pos, a multiple of zcheck_every(). */
static void
zr_checkpoint(struct zread *r)
{
	struct sec *s = r->s;
	struct zcheck *c, **v;

	if (s->nck >= ZCHECK_MAX ||
	    (s->nck && s->ck[s->nck - 1]->pos >= r->pos))
		return;
	v = realloc(s->ck, (s->nck + 1) * sizeof(*v));
	if (!v)
		return;
	s->ck = v;
	/* its own allocation: zlib's state points back at its z_stream */
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	if (inflateCopy(&c->z, &r->z) != Z_OK) {
		free(c);
		return;
	}
	c->pos = r->pos;
	c->in_off = r->in_off - r->z.avail_in;
	s->ck[s->nck++] = c;
}

/* Exactly len more bytes, or an error (the section ends, bad data). */
static int
zr_read(struct zread *r, void *buf, uint64_t len)
{
	if (len > r->s->size - r->pos)
		return -LA_EBADELF;
	if (!r->s->zlib) {
		int err = pread_all(r->fd, buf, len, r->s->off + r->pos);

		if (!err)
			r->pos += len;
		return err;
	}
	r->z.next_out = buf;
	while (len) {
		uint64_t every = zcheck_every(r->s);
		uint64_t next = (r->pos / every + 1) * every;
		uInt chunk = (uInt)(len < next - r->pos ? len : next - r->pos);
		int zr;

		if (!r->z.avail_in) {
			uint64_t left = r->s->fsize - r->in_off;
			size_t n = left < sizeof(r->in) ? (size_t)left
							: sizeof(r->in);
			int err;

			if (!n)
				return -LA_EBADELF;
			err = pread_all(r->fd, r->in, n, r->s->off + r->in_off);
			if (err)
				return err;
			r->in_off += n;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)n;
		}
		r->z.avail_out = chunk;
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			return -LA_EBADELF;
		len -= chunk - r->z.avail_out;
		r->pos += chunk - r->z.avail_out;
		if (zr == Z_STREAM_END && len)
			return -LA_EBADELF;
		if (r->pos == next)
			zr_checkpoint(r);
	}
	return 0;
}

static int
zr_skip(struct zread *r, uint64_t n)
{
	unsigned char scratch[8192];

	if (n > r->s->size - r->pos)
		return -LA_EBADELF;
	if (!r->s->zlib) {
		r->pos += n;
		return 0;
	}
	while (n) {
		uint64_t k = n < sizeof(scratch) ? n : sizeof(scratch);
		int err = zr_read(r, scratch, k);

		if (err)
			return err;
		n -= k;
	}
	return 0;
}

/* Forward to off, from the last checkpoint in front of it if closer. */
static int
zr_seek(struct zread *r, uint64_t off)
{
	struct sec *s = r->s;
	struct zcheck *c = NULL;

	if (off < r->pos || off > s->size)
		return -LA_EBADELF;
	for (unsigned i = s->nck; i-- > 0 && !c;)
		if (s->ck[i]->pos <= off)
			c = s->ck[i];
	if (s->zlib && c && c->pos > r->pos) {
		inflateEnd(&r->z);
		r->z_live = 0;
		memset(&r->z, 0, sizeof(r->z));
		if (inflateCopy(&r->z, &c->z) != Z_OK)
			return -ENOMEM;
		r->z_live = 1;
		r->z.next_in = NULL;
		r->z.avail_in = 0;
		r->pos = c->pos;
		r->in_off = c->in_off;
	}
	return zr_skip(r, off - r->pos);
}

/*
 * A DWARF unit's initial length (DWARF 5, 7.4): 4 bytes, or 0xffffffff and
 * 8 bytes for 64-bit DWARF. *hdr gets the bytes, *total the unit's size
 * with them.
 */
static int
zr_unit_length(struct zread *r, unsigned char *hdr, unsigned *hlen,
	       uint64_t *total)
{
	uint32_t l32;
	uint64_t l64;
	int err = zr_read(r, hdr, 4);

	if (err)
		return err;
	memcpy(&l32, hdr, 4);
	if (l32 < 0xfffffff0u) {
		*hlen = 4;
		*total = 4 + (uint64_t)l32;
		return 0;
	}
	if (l32 != 0xffffffffu || (err = zr_read(r, hdr + 4, 8)))
		return err ? err : -LA_EBADELF;
	memcpy(&l64, hdr + 4, 8);
	if (l64 > SEC_MAX)
		return -LA_EBADELF;
	*hlen = 12;
	*total = 12 + l64;
	return 0;
}

/* ---- .debug_aranges: which CU holds an address -------------------------- */

struct arange {
	uint64_t lo;
	uint32_t len;
	uint32_t cu; /* offset of the CU header (.debug_info < SEC_MAX) */
};

static int
arange_cmp(const void *a, const void *b)
{
	const struct arange *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static uint64_t
get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/*
 * Every address range of .debug_aranges (DWARF 5, 6.1.2: per set a header
 * naming the CU, then (address, length) pairs up to (0, 0)), sorted.
 */
static int
read_aranges(int fd, struct sec *s, struct arange **out, size_t *nout)
{
	struct zread r;
	struct arange *v = NULL;
	size_t n = 0, cap = 0;
	unsigned char *set = NULL;
	int err = zr_open(&r, fd, s);

	while (!err && r.pos < s->size) {
		unsigned char hdr[12];
		unsigned hlen, osz;
		uint64_t total, cu, at;

		err = zr_unit_length(&r, hdr, &hlen, &total);
		if (err)
			break;
		osz = hlen == 4 ? 4 : 8;
		free(set);
		set = malloc(total);
		err = -ENOMEM;
		if (!set)
			break;
		memcpy(set, hdr, hlen);
		err = zr_read(&r, set + hlen, total - hlen);
		if (err)
			break;
		err = -LA_EBADELF;
		/* version 2, offset, address size 8, segment selector size 0 */
		if (total < hlen + 2 + osz + 2 || get_le(set + hlen, 2) != 2 ||
		    set[hlen + 2 + osz] != 8 || set[hlen + 3 + osz])
			break;
		cu = get_le(set + hlen + 2, osz);
		/* The pairs start at a multiple of their size from the set. */
		at = (hlen + 2 + osz + 2 + 15) / 16 * 16;
		err = 0;
		for (; at + 16 <= total; at += 16) {
			uint64_t a = get_le(set + at, 8),
				 l = get_le(set + at + 8, 8);

			if (!a && !l)
				break;
			/* (a range of 4 GiB or more is no code of ours) */
			if (!l || a + l < a || l > UINT32_MAX || cu >= SEC_MAX)
				continue;
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 256;
				struct arange *nv =
					realloc(v, ncap * sizeof(*v));

				if (!nv) {
					err = -ENOMEM;
					break;
				}
				v = nv;
				cap = ncap;
			}
			v[n++] = (struct arange){a, (uint32_t)l, (uint32_t)cu};
		}
	}
	zr_close(&r);
	free(set);
	if (!err && !n)
		err = -ENOENT;
	if (err) {
		free(v);
		return err;
	}
	qsort(v, n, sizeof(*v), arange_cmp);
	*out = v;
	*nout = n;
	return 0;
}

/* The CU of pc. Ranges do not overlap, but look back a little anyway. */
static int
arange_find(const struct arange *v, size_t n, uint64_t pc, uint64_t *cu)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (unsigned k = 0; lo > 0 && k < 16; k++, lo--)
		if (pc - v[lo - 1].lo < v[lo - 1].len) {
			*cu = v[lo - 1].cu;
			return 0;
		}
	return -ENOENT;
}

/* ---- one CU as a small ELF image for libdwarf --------------------------- */

static uint64_t
read_uleb(const unsigned char *p, size_t len, size_t *at, int *ok)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*at < len) {
		unsigned char b = p[(*at)++];

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	*ok = 0;
	return 0;
}

/*
 * The length of the abbreviation table at the start of p (DWARF 5, 7.5.3:
 * entries of code, tag, children flag and (attribute, form) pairs ending
 * in (0, 0), the table ending in code 0), or 0 when p holds less of it.
 */
static size_t
abbrev_table_len(const unsigned char *p, size_t len)
{
	size_t at = 0;
	int ok = 1;

	for (;;) {
		uint64_t code = read_uleb(p, len, &at, &ok);

		if (!ok)
			return 0;
		if (!code)
			return at;
		read_uleb(p, len, &at, &ok); /* tag */
		at++; /* DW_CHILDREN_* */
		for (;;) {
			uint64_t attr = read_uleb(p, len, &at, &ok);
			uint64_t form = read_uleb(p, len, &at, &ok);

			if (form == DW_FORM_implicit_const)
				read_uleb(p, len, &at,
					  &ok); /* SLEB: same bytes */
			if (!ok || at > len)
				return 0;
			if (!attr && !form)
				break;
		}
	}
}

/* One CU's abbreviation table, read until it ends. */
static int
read_abbrevs(int fd, struct sec *s, uint64_t off, unsigned char **out,
	     size_t *nout)
{
	struct zread r;
	unsigned char *buf = NULL;
	size_t have = 0, cap = 0, len = 0;
	int err = zr_open(&r, fd, s);

	if (!err)
		err = zr_seek(&r, off);
	while (!err && !len) {
		uint64_t want = s->size - r.pos < 4096 ? s->size - r.pos : 4096;
		unsigned char *nb;

		if (!want) {
			err = -LA_EBADELF;
			break;
		}
		if (have + want > cap) {
			cap = cap ? 2 * cap : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		err = zr_read(&r, buf + have, want);
		have += (size_t)want;
		if (!err)
			len = abbrev_table_len(buf, have);
	}
	zr_close(&r);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*nout = len;
	return 0;
}

/*
 * A CU and what it needs, in an ELF image libdwarf reads through libelf's
 * elf_memory(): libdwarf's own ELF reader would load the file's symbol
 * table too, and its object interface (dwarf_object_init_b) is unusable
 * here: libdwarf 20210528 then calls whichever ELF reader ran last to ask
 * for section flags, with our object.
 */
struct unit {
	unsigned char *img; /* mmap()ed, len bytes */
	size_t len;
	Elf *elf;
	Dwarf_Debug dbg;
	Dwarf_Die cu;
	unsigned addr_size; /* of the CU header */
	/* built with lines: the CU's line program (line_len bytes) */
	const unsigned char *line;
	size_t line_len;
};

static void
unit_free(struct unit *u)
{
	if (u->dbg)
		dwarf_finish(u->dbg, NULL);
	if (u->elf)
		elf_end(u->elf);
	if (u->img)
		munmap(u->img, u->len);
	memset(u, 0, sizeof(*u));
}

static uint64_t
align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

/* A section of an image: what img_alloc() needs, and where it put it. */
struct img_sec {
	const char *name;
	uint64_t addr; /* sh_addr */
	uint64_t size;
	uint64_t off; /* set by img_alloc(): where its bytes go in u->img */
};

#define IMG_MAX_SECS 12

/*
 * Lay out an image of the sections v[0..n) (those of size 0 left out)
 * in anonymous memory: ELF header, the sections' room, their names and
 * headers. The caller then writes each section's bytes at u->img +
 * v[i].off; pages it does not write cost nothing.
 */
static int
img_alloc(struct unit *u, struct img_sec *v, int n)
{
	char shstr[512];
	unsigned name[IMG_MAX_SECS + 2];
	size_t shlen = 1;
	uint64_t at = sizeof(Elf64_Ehdr), shstr_off;
	int nsh = 1; /* the null section */
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;

	if (n > IMG_MAX_SECS)
		return -EINVAL;
	shstr[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(v[i].name) + 1;

		if (!v[i].size)
			continue;
		if (shlen + l + sizeof(".shstrtab") > sizeof(shstr))
			return -EINVAL;
		memcpy(shstr + shlen, v[i].name, l);
		name[i] = (unsigned)shlen;
		shlen += l;
		v[i].off = at;
		at = align8(at + v[i].size);
	}
	memcpy(shstr + shlen, ".shstrtab", sizeof(".shstrtab"));
	name[n] = (unsigned)shlen;
	shlen += sizeof(".shstrtab");
	shstr_off = at;
	at = align8(at + shlen);
	for (int i = 0; i < n; i++)
		nsh += !!v[i].size;
	nsh++; /* .shstrtab */
	u->len = at + (uint64_t)nsh * sizeof(Elf64_Shdr);
	u->img = mmap(NULL, u->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (u->img == MAP_FAILED) {
		u->img = NULL;
		return -ENOMEM;
	}
	eh = (Elf64_Ehdr *)u->img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = ARCH_EM;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(*eh);
	eh->e_shoff = at;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = (uint16_t)nsh;
	eh->e_shstrndx = (uint16_t)(nsh - 1);
	sh = (Elf64_Shdr *)(u->img + at);
	nsh = 1;
	for (int i = 0; i <= n; i++) {
		Elf64_Shdr *d = &sh[nsh];

		if (i < n && !v[i].size)
			continue;
		d->sh_name = name[i];
		d->sh_type = i == n ? SHT_STRTAB : SHT_PROGBITS;
		d->sh_addr = i == n ? 0 : v[i].addr;
		d->sh_offset = i == n ? shstr_off : v[i].off;
		d->sh_size = i == n ? shlen : v[i].size;
		d->sh_addralign = 1;
		nsh++;
	}
	memcpy(u->img + shstr_off, shstr, shlen);
	return 0;
}

/* libdwarf on the image (through libelf: see struct unit). */
static int
img_open(struct unit *u)
{
	Dwarf_Error derr = NULL;
	int res;

	elf_version(EV_CURRENT);
	u->elf = elf_memory((char *)u->img, u->len);
	if (!u->elf)
		return -LA_ENODEBUGINFO;
	res = dwarf_elf_init_b(u->elf, DW_DLC_READ, DW_GROUPNUMBER_ANY,
			       ignore_error, &u->dbg, &u->dbg, &derr);
	if (res != DW_DLV_OK) {
		pr_debug("an image of %zu bytes: %s", u->len,
			 res == DW_DLV_ERROR ? dwarf_errmsg(derr) : "no DWARF");
		if (res == DW_DLV_ERROR)
			dwarf_dealloc(NULL, derr, DW_DLA_ERROR);
		u->dbg = NULL;
		return -LA_ENODEBUGINFO;
	}
	return 0;
}

/*
 * Put .debug_line's bytes for the CU in: the line program at the offset
 * DW_AT_stmt_list names, the rest of the region left untouched (zero
 * pages, no memory). libdwarf loads .debug_line when a line table is
 * first asked for (dwarf_srclines_b), so filling it now is in time.
 */
static int
unit_fill_line(struct unit *u, int fd, struct sec *s, uint64_t at)
{
	Dwarf_Attribute a = NULL;
	Dwarf_Half form = 0;
	Dwarf_Off off = 0;
	struct zread r;
	unsigned char hdr[12];
	unsigned hlen;
	uint64_t total;
	int res, err;

	if (dwarf_attr(u->cu, DW_AT_stmt_list, &a, NULL) != DW_DLV_OK)
		return -ENOENT;
	/* As dwarf_line.c reads it: an offset, or an address (old LLVM). */
	if (dwarf_whatform(a, &form, NULL) != DW_DLV_OK)
		res = DW_DLV_ERROR;
	else if (form == DW_FORM_addr)
		res = dwarf_formaddr(a, &off, NULL);
	else
		res = dwarf_global_formref(a, &off, NULL);
	dwarf_dealloc(u->dbg, a, DW_DLA_ATTR);
	if (res != DW_DLV_OK || off >= s->size)
		return -ENOENT;
	err = zr_open(&r, fd, s);
	if (!err)
		err = zr_seek(&r, off);
	if (!err)
		err = zr_unit_length(&r, hdr, &hlen, &total);
	if (!err && total > s->size - off)
		err = -LA_EBADELF;
	if (!err) {
		memcpy(u->img + at + off, hdr, hlen);
		err = zr_read(&r, u->img + at + off + hlen, total - hlen);
	}
	zr_close(&r);
	if (!err) {
		u->line = u->img + at + off;
		u->line_len = total;
	}
	return err;
}

/* The image's sections, in this order (see unit_build()). */
enum { IMG_INFO, IMG_ABBREV, IMG_LINE, IMG_FIRST_WHOLE };

/*
 * The CU whose header is at cu_off in .debug_info, alone in an image: its
 * bytes at offset 0 (the header's abbreviation offset made 0), its
 * abbreviation table, the string and index sections whole, .debug_line
 * at full size holding only this CU's line program when lines is set.
 */
static int
unit_build(int fd, struct sec *secs, uint64_t cu_off, int lines, struct unit *u)
{
	struct zread r;
	unsigned char hdr[24], *abbrev = NULL;
	unsigned hlen, ver, aoff, osz;
	uint64_t total, abbrev_off;
	size_t alen = 0;
	struct img_sec v[IMG_FIRST_WHOLE + SEC_N - SEC_FIRST_WHOLE];
	Dwarf_Unsigned next = 0;
	Dwarf_Half cu_type = 0;
	int err;

	memset(u, 0, sizeof(*u));
	err = zr_open(&r, fd, &secs[SEC_INFO]);
	if (!err)
		err = zr_seek(&r, cu_off);
	if (!err)
		err = zr_unit_length(&r, hdr, &hlen, &total);
	osz = hlen == 4 ? 4 : 8;
	/* version, then (5) unit type, address size, abbrev offset or (2-4)
	 * abbrev offset, address size (DWARF 5, 7.5.1.1; DWARF 4, 7.5.1.1) */
	if (!err && total < hlen + 4 + osz)
		err = -LA_EBADELF;
	if (!err)
		err = zr_read(&r, hdr + hlen, 4 + osz);
	if (err)
		goto fail;
	ver = (unsigned)get_le(hdr + hlen, 2);
	if (ver < 2 || ver > 5) {
		err = -LA_EBADELF;
		goto fail;
	}
	aoff = hlen + (ver >= 5 ? 4 : 2);
	abbrev_off = get_le(hdr + aoff, osz);
	u->addr_size = hdr[ver >= 5 ? hlen + 3 : hlen + 2 + osz];
	err = read_abbrevs(fd, &secs[SEC_ABBREV], abbrev_off, &abbrev, &alen);
	if (err)
		goto fail;

	memset(v, 0, sizeof(v));
	v[IMG_INFO] = (struct img_sec){sec_names[SEC_INFO], 0, total, 0};
	v[IMG_ABBREV] = (struct img_sec){sec_names[SEC_ABBREV], 0, alen, 0};
	v[IMG_LINE] = (struct img_sec){
		sec_names[SEC_LINE], 0,
		lines && secs[SEC_LINE].present ? secs[SEC_LINE].size : 0, 0};
	for (int k = SEC_FIRST_WHOLE; k < SEC_N; k++)
		v[IMG_FIRST_WHOLE + k - SEC_FIRST_WHOLE] = (struct img_sec){
			sec_names[k], 0, secs[k].present ? secs[k].size : 0, 0};
	err = img_alloc(u, v, (int)(sizeof(v) / sizeof(v[0])));
	if (err)
		goto fail;

	/* The CU: its header with the abbreviation offset now 0, the rest. */
	memset(hdr + aoff, 0, osz);
	memcpy(u->img + v[IMG_INFO].off, hdr, hlen + 4 + osz);
	err = zr_read(&r, u->img + v[IMG_INFO].off + hlen + 4 + osz,
		      total - hlen - 4 - osz);
	zr_close(&r);
	if (err)
		goto fail;
	memcpy(u->img + v[IMG_ABBREV].off, abbrev, alen);
	free(abbrev);
	abbrev = NULL;
	for (int k = SEC_FIRST_WHOLE; k < SEC_N && !err; k++) {
		const struct img_sec *d =
			&v[IMG_FIRST_WHOLE + k - SEC_FIRST_WHOLE];

		if (!d->size)
			continue;
		err = zr_open(&r, fd, &secs[k]);
		if (!err)
			err = zr_read(&r, u->img + d->off, d->size);
		zr_close(&r);
	}
	if (!err)
		err = img_open(u);
	if (err)
		goto fail;
	err = -LA_ENODEBUGINFO;
	if (dwarf_next_cu_header_d(u->dbg, 1, NULL, NULL, NULL, NULL, NULL,
				   NULL, NULL, NULL, &next, &cu_type,
				   NULL) != DW_DLV_OK ||
	    dwarf_siblingof_b(u->dbg, NULL, 1, &u->cu, NULL) != DW_DLV_OK)
		goto fail;
	if (v[IMG_LINE].size) {
		err = unit_fill_line(u, fd, &secs[SEC_LINE], v[IMG_LINE].off);
		if (err)
			goto fail;
	}
	return 0;
fail:
	zr_close(&r);
	free(abbrev);
	unit_free(u);
	return err;
}

/* ---- the debug file ----------------------------------------------------- */

/* One CU's line table, flattened once so that lookups are a scan. */
struct line_row {
	uint64_t addr;
	uint32_t line;
	uint16_t file; /* index in files */
	uint16_t end_seq;
};

struct line_table {
	int used;
	uint64_t cu_off;
	struct line_row *rows;
	size_t n;
	char **files; /* as dwarf_linesrc() names them */
	Dwarf_Unsigned *fileno; /* the line table's number of each */
	unsigned nfiles;
};

/* CU ranges from the CU DIEs, when .debug_aranges does not help. */
struct cu_range {
	uint64_t lo, hi;
	Dwarf_Off off;
};

#define LINE_TABLES 8

/*
 * A CU's line program, copied out of its image (sliced reading), for
 * lineprog.c to run on each question: a window's frames come back to the
 * same few CUs, and building a CU's image costs inflating it and the
 * string sections. Bytes (NULL when the CU has no line program) are
 * bounded as a whole by LINE_UNIT_BYTES; a program bigger than that is
 * never kept (it is read again for each question).
 */
struct line_unit {
	int used;
	uint64_t cu_off;
	unsigned long stamp; /* of the last use: the least recent goes */
	unsigned char *bytes;
	size_t len;
	char *comp_dir;
	unsigned addr_size;
};

#define LINE_UNITS 8
#define LINE_UNIT_BYTES (1u << 20)

struct debuginfo {
	char *path;
	/* Slices (see the top): the file and its sections; else fd < 0. */
	int fd;
	struct sec sec[SEC_N];
	struct arange *ar;
	size_t nar;
	struct unit unit; /* the selected CU, when sliced */
	/* libdwarf over the whole file: opened when slices cannot do. */
	Dwarf_Debug dbg;
	/* the selected CU's DIE, in unit.dbg or dbg */
	Dwarf_Debug cu_dbg;
	Dwarf_Die cu;
	/* debuginfo_line() on the whole file: 0 not read yet, 1 usable, -1 absent */
	int ar_state, cur_state;
	Dwarf_Arange *war;
	Dwarf_Signed nwar;
	struct cu_range *cur;
	size_t ncur;
	struct line_table lt[LINE_TABLES];
	unsigned lt_next;
	/* sliced: line programs, and the string sections their names may
	 * be in, read whole when a name first needs one */
	struct line_unit lu[LINE_UNITS];
	size_t lu_bytes;
	unsigned long lu_clock;
	unsigned char *str, *line_str;
	size_t str_len, line_str_len;
	int lines_libdwarf; /* tests: libdwarf's line tables, sliced too */
};

static void line_units_flush(struct debuginfo *di);

static int
whole_open(struct debuginfo *di)
{
	Dwarf_Error err = NULL;
	int res;

	if (di->dbg)
		return 0;
	res = dwarf_init_path(di->path, NULL, 0, DW_DLC_READ,
			      DW_GROUPNUMBER_ANY, ignore_error, &di->dbg,
			      &di->dbg, NULL, 0, NULL, &err);
	if (res != DW_DLV_OK) {
		pr_debug("%s: %s", di->path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "no DWARF");
		if (res == DW_DLV_ERROR)
			dwarf_dealloc(NULL, err, DW_DLA_ERROR);
		di->dbg = NULL;
		return -LA_ENODEBUGINFO;
	}
	return 0;
}

/* From now on, libdwarf over the whole file. */
static int
give_up_slices(struct debuginfo *di, const char *why)
{
	if (di->fd >= 0) {
		pr_debug("%s: %s; reading all of its DWARF", di->path, why);
		close(di->fd);
		di->fd = -1;
		free(di->ar);
		di->ar = NULL;
		di->nar = 0;
		for (int k = 0; k < SEC_N; k++)
			sec_free_checkpoints(&di->sec[k]);
		line_units_flush(di);
	}
	return whole_open(di);
}

static int
open_common(const char *path, int slices, struct debuginfo **out)
{
	struct debuginfo *di = calloc(1, sizeof(*di));
	int err;

	if (!di)
		return -ENOMEM;
	di->fd = -1;
	di->path = strdup(path);
	if (!di->path) {
		free(di);
		return -ENOMEM;
	}
	if (slices) {
		di->fd = open(path, O_RDONLY | O_CLOEXEC);
		err = di->fd < 0 ? -errno : read_sections(di->fd, di->sec);
		if (!err)
			err = read_aranges(di->fd, &di->sec[SEC_ARANGES],
					   &di->ar, &di->nar);
		if (err) {
			if (di->fd >= 0)
				close(di->fd);
			di->fd = -1;
			pr_debug("%s: not read in slices (%s)", path,
				 err == -ENOENT ? "no .debug_aranges"
						: la_strerror(err));
		}
	}
	if (di->fd < 0 && whole_open(di)) {
		debuginfo_close(di);
		return -LA_ENODEBUGINFO;
	}
	*out = di;
	return 0;
}

int
debuginfo_open(const char *path, struct debuginfo **out)
{
	return open_common(path, 1, out);
}

int
debuginfo_open_whole(const char *path, struct debuginfo **out)
{
	return open_common(path, 0, out);
}

int
debuginfo_sliced(const struct debuginfo *di)
{
	return di->fd >= 0;
}

static void
line_table_free(struct line_table *t)
{
	for (unsigned i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free(t->fileno);
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

void
debuginfo_close(struct debuginfo *di)
{
	if (!di)
		return;
	for (unsigned i = 0; i < LINE_TABLES; i++)
		line_table_free(&di->lt[i]);
	line_units_flush(di);
	free(di->cur);
	free(di->ar);
	unit_free(&di->unit);
	if (di->dbg)
		dwarf_finish(di->dbg, NULL);
	if (di->fd >= 0)
		close(di->fd);
	for (int k = 0; k < SEC_N; k++)
		sec_free_checkpoints(&di->sec[k]);
	free(di->path);
	free(di);
}

/* ---- the selected CU ---------------------------------------------------- */

static int
die_name_is(Dwarf_Die die, const char *name)
{
	char *n = NULL;

	return dwarf_diename(die, &n, NULL) == DW_DLV_OK && !strcmp(n, name);
}

static int
die_name_ends(Dwarf_Die die, const char *suffix)
{
	char *n = NULL;
	size_t ln, ls = strlen(suffix);

	if (dwarf_diename(die, &n, NULL) != DW_DLV_OK)
		return 0;
	ln = strlen(n);
	return ln >= ls && !strcmp(n + ln - ls, suffix);
}

static int
select_by_aranges(struct debuginfo *di, uint64_t pc)
{
	Dwarf_Arange *ar = NULL, one;
	Dwarf_Signed count = 0;
	Dwarf_Off off;
	Dwarf_Die die;

	if (dwarf_get_aranges(di->dbg, &ar, &count, NULL) != DW_DLV_OK)
		return -ENOENT;
	if (dwarf_get_arange(ar, (Dwarf_Unsigned)count, pc, &one, NULL) !=
		    DW_DLV_OK ||
	    dwarf_get_cu_die_offset(one, &off, NULL) != DW_DLV_OK ||
	    dwarf_offdie_b(di->dbg, off, 1, &die, NULL) != DW_DLV_OK)
		return -ENOENT;
	di->cu = die;
	return 0;
}

static int
cu_covers(Dwarf_Die cu, uint64_t pc)
{
	Dwarf_Addr lo, hi;
	Dwarf_Half form;
	enum Dwarf_Form_Class cls;

	if (dwarf_lowpc(cu, &lo, NULL) != DW_DLV_OK ||
	    dwarf_highpc_b(cu, &hi, &form, &cls, NULL) != DW_DLV_OK)
		return 0;
	if (cls == DW_FORM_CLASS_CONSTANT)
		hi += lo;
	return pc >= lo && pc < hi;
}

/* The CU of pc alone, from the slices. */
static int
select_slice(struct debuginfo *di, uint64_t pc)
{
	uint64_t cu_off;
	int err;

	if (!pc || arange_find(di->ar, di->nar, pc, &cu_off))
		return -ENOENT;
	unit_free(&di->unit);
	err = unit_build(di->fd, di->sec, cu_off, 0, &di->unit);
	if (err)
		return err;
	di->cu_dbg = di->unit.dbg;
	di->cu = di->unit.cu;
	return 0;
}

int
debuginfo_select_cu(struct debuginfo *di, uint64_t pc, const char *cu_suffix)
{
	Dwarf_Unsigned next = 0;
	Dwarf_Half cu_type;
	Dwarf_Die by_name = NULL;

	di->cu = NULL;
	if (di->fd >= 0) {
		int err = select_slice(di, pc);

		if (!err)
			return 0;
		if (give_up_slices(di, pc ? "the CU could not be read alone"
					  : "a CU by name"))
			return -ENOENT;
	}
	di->cu_dbg = di->dbg;
	if (pc && !select_by_aranges(di, pc))
		return 0;
	/* Walk every CU header once; libdwarf needs it for the DIEs anyway. */
	for (unsigned guard = 0; guard < 1000000; guard++) {
		Dwarf_Die cu = NULL;
		int res = dwarf_next_cu_header_d(di->dbg, 1, NULL, NULL, NULL,
						 NULL, NULL, NULL, NULL, NULL,
						 &next, &cu_type, NULL);

		if (res != DW_DLV_OK)
			break;
		if (dwarf_siblingof_b(di->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (pc && cu_covers(cu, pc)) {
			di->cu = cu;
			return 0;
		}
		if (!by_name && cu_suffix && die_name_ends(cu, cu_suffix))
			by_name = cu;
	}
	if (!by_name)
		return -ENOENT;
	di->cu = by_name;
	return 0;
}

/* Call fn on each top-level DIE of the selected CU with tag; stop on != 0. */
static int
foreach_child(struct debuginfo *di, Dwarf_Half tag,
	      int (*fn)(struct debuginfo *di, Dwarf_Die die, void *arg),
	      void *arg)
{
	Dwarf_Die die = NULL;

	if (!di->cu || dwarf_child(di->cu, &die, NULL) != DW_DLV_OK)
		return 0;
	for (unsigned guard = 0; guard < 10000000; guard++) {
		Dwarf_Die sib = NULL;
		Dwarf_Half t;
		int ret;

		if (dwarf_tag(die, &t, NULL) == DW_DLV_OK && t == tag) {
			ret = fn(di, die, arg);
			if (ret)
				return ret;
		}
		if (dwarf_siblingof_b(di->cu_dbg, die, 1, &sib, NULL) !=
		    DW_DLV_OK)
			break;
		die = sib;
	}
	return 0;
}

static int
attr_udata(Dwarf_Die die, Dwarf_Half attr, uint64_t *out)
{
	Dwarf_Attribute a;
	Dwarf_Unsigned v;

	if (dwarf_attr(die, attr, &a, NULL) != DW_DLV_OK ||
	    dwarf_formudata(a, &v, NULL) != DW_DLV_OK)
		return -ENOENT;
	*out = v;
	return 0;
}

struct struct_query {
	const char *name;
	struct di_struct *out;
};

static int
struct_cb(struct debuginfo *di, Dwarf_Die die, void *arg)
{
	struct struct_query *q = arg;
	Dwarf_Die m = NULL;
	uint64_t size;

	(void)di;
	if (!die_name_is(die, q->name) ||
	    attr_udata(die, DW_AT_byte_size, &size))
		return 0; /* another struct, or only a declaration */
	memset(q->out, 0, sizeof(*q->out));
	q->out->size = size;
	if (dwarf_child(die, &m, NULL) != DW_DLV_OK)
		return 1;
	for (unsigned guard = 0; guard < 4096; guard++) {
		Dwarf_Die sib = NULL;
		Dwarf_Half t;
		char *n = NULL;
		uint64_t off;

		if (dwarf_tag(m, &t, NULL) == DW_DLV_OK && t == DW_TAG_member &&
		    dwarf_diename(m, &n, NULL) == DW_DLV_OK &&
		    !attr_udata(m, DW_AT_data_member_location, &off) &&
		    q->out->n < DEBUGINFO_MAX_MEMBERS) {
			struct di_member *dm = &q->out->m[q->out->n++];

			snprintf(dm->name, sizeof(dm->name), "%s", n);
			dm->offset = off;
		}
		if (dwarf_siblingof_b(di->cu_dbg, m, 1, &sib, NULL) !=
		    DW_DLV_OK)
			break;
		m = sib;
	}
	return 1;
}

int
debuginfo_struct(struct debuginfo *di, const char *name, struct di_struct *out)
{
	struct struct_query q = {name, out};

	return foreach_child(di, DW_TAG_structure_type, struct_cb, &q) == 1
		       ? 0
		       : -ENOENT;
}

int64_t
debuginfo_member_offset(const struct di_struct *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].name, name))
			return (int64_t)s->m[i].offset;
	return -1;
}

struct var_query {
	const char *name;
	uint64_t value;
	int is_tls;
};

/*
 * DW_AT_location of a static variable: DW_OP_addr A, or for __thread
 * variables DW_OP_const*u OFF; DW_OP_form_tls_address (DWARF 5) or
 * DW_OP_GNU_push_tls_address (GCC with -gdwarf-4).
 */
static int
var_cb(struct debuginfo *di, Dwarf_Die die, void *arg)
{
	struct var_query *q = arg;
	Dwarf_Attribute a;
	Dwarf_Loc_Head_c head = NULL;
	Dwarf_Unsigned count = 0, nops = 0, expr_off, desc_off;
	Dwarf_Small lle, source;
	Dwarf_Addr lo, hi;
	Dwarf_Locdesc_c desc;
	int found = 0;

	(void)di;
	if (!die_name_is(die, q->name) ||
	    dwarf_attr(die, DW_AT_location, &a, NULL) != DW_DLV_OK)
		return 0;
	if (dwarf_get_loclist_c(a, &head, &count, NULL) != DW_DLV_OK)
		return 0;
	if (count >= 1 &&
	    dwarf_get_locdesc_entry_c(head, 0, &lle, &lo, &hi, &nops, &desc,
				      &source, &expr_off, &desc_off,
				      NULL) == DW_DLV_OK) {
		Dwarf_Small op0 = 0, op1 = 0;
		Dwarf_Unsigned v0 = 0, v1, v2, br;

		if (nops >= 1)
			dwarf_get_location_op_value_c(desc, 0, &op0, &v0, &v1,
						      &v2, &br, NULL);
		if (nops >= 2)
			dwarf_get_location_op_value_c(desc, 1, &op1, &v1, &v1,
						      &v2, &br, NULL);
		if (nops == 1 && op0 == DW_OP_addr) {
			q->value = v0;
			q->is_tls = 0;
			found = 1;
		} else if (nops == 2 &&
			   (op1 == DW_OP_form_tls_address ||
			    op1 == DW_OP_GNU_push_tls_address) &&
			   (op0 == DW_OP_const8u || op0 == DW_OP_const4u ||
			    op0 == DW_OP_constu || op0 == DW_OP_const1u ||
			    op0 == DW_OP_const2u)) {
			q->value = v0;
			q->is_tls = 1;
			found = 1;
		}
	}
	dwarf_loc_head_c_dealloc(head);
	return found;
}

int
debuginfo_variable(struct debuginfo *di, const char *name, uint64_t *value,
		   int *is_tls)
{
	struct var_query q = {name, 0, 0};

	if (foreach_child(di, DW_TAG_variable, var_cb, &q) != 1)
		return -ENOENT;
	*value = q.value;
	*is_tls = q.is_tls;
	return 0;
}

/* ---- line tables ------------------------------------------------------ */

/*
 * The CU DIE offset of every CU with a low/high pc, walking the CU headers
 * once to the end (libdwarf's CU iterator is state in the Dwarf_Debug; a
 * walk left half-way would make the next one start in the middle).
 */
static void
read_cu_ranges(struct debuginfo *di)
{
	size_t cap = 0;

	di->cur_state = -1;
	for (unsigned guard = 0; guard < 1000000; guard++) {
		Dwarf_Unsigned next = 0;
		Dwarf_Half cu_type;
		Dwarf_Die cu = NULL;
		Dwarf_Addr lo, hi;
		Dwarf_Half form;
		enum Dwarf_Form_Class cls;
		Dwarf_Off off;

		if (dwarf_next_cu_header_d(di->dbg, 1, NULL, NULL, NULL, NULL,
					   NULL, NULL, NULL, NULL, &next,
					   &cu_type, NULL) != DW_DLV_OK)
			break;
		if (dwarf_siblingof_b(di->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (dwarf_lowpc(cu, &lo, NULL) != DW_DLV_OK ||
		    dwarf_highpc_b(cu, &hi, &form, &cls, NULL) != DW_DLV_OK ||
		    dwarf_dieoffset(cu, &off, NULL) != DW_DLV_OK) {
			dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
			continue;
		}
		dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		if (hi <= lo)
			continue;
		if (di->ncur == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct cu_range *v =
				realloc(di->cur, ncap * sizeof(*v));

			if (!v)
				break;
			di->cur = v;
			cap = ncap;
		}
		di->cur[di->ncur++] = (struct cu_range){lo, hi, off};
		di->cur_state = 1;
	}
}

/* The offset of the CU DIE whose code holds pc, in the whole file. */
static int
cu_of_pc(struct debuginfo *di, uint64_t pc, Dwarf_Off *off)
{
	Dwarf_Arange one;

	if (!di->ar_state)
		di->ar_state = dwarf_get_aranges(di->dbg, &di->war, &di->nwar,
						 NULL) == DW_DLV_OK &&
					       di->nwar > 0
				       ? 1
				       : -1;
	if (di->ar_state > 0 &&
	    dwarf_get_arange(di->war, (Dwarf_Unsigned)di->nwar, pc, &one,
			     NULL) == DW_DLV_OK &&
	    dwarf_get_cu_die_offset(one, off, NULL) == DW_DLV_OK)
		return 0;
	if (!di->cur_state)
		read_cu_ranges(di);
	for (size_t i = 0; i < di->ncur; i++)
		if (pc >= di->cur[i].lo && pc < di->cur[i].hi) {
			*off = di->cur[i].off;
			return 0;
		}
	return -ENOENT;
}

#define NO_FILE 0xffffu

/* The index in t->files of line's source file, named once per file. */
static uint16_t
line_file(Dwarf_Debug dbg, struct line_table *t, Dwarf_Line line)
{
	Dwarf_Unsigned no = 0;
	char *src = NULL, *name, **nf;
	Dwarf_Unsigned *nn;

	if (dwarf_line_srcfileno(line, &no, NULL) != DW_DLV_OK)
		return NO_FILE;
	for (unsigned i = t->nfiles; i-- > 0;)
		if (t->fileno[i] == no)
			return (uint16_t)i;
	if (t->nfiles >= NO_FILE)
		return NO_FILE;
	nf = realloc(t->files, (t->nfiles + 1) * sizeof(*nf));
	if (nf)
		t->files = nf;
	nn = realloc(t->fileno, (t->nfiles + 1) * sizeof(*nn));
	if (nn)
		t->fileno = nn;
	if (!nf || !nn)
		return NO_FILE;
	if (dwarf_linesrc(line, &src, NULL) != DW_DLV_OK)
		src = NULL;
	name = strdup(src ? src : "");
	if (src)
		dwarf_dealloc(dbg, src, DW_DLA_STRING);
	if (!name)
		return NO_FILE;
	t->files[t->nfiles] = name;
	t->fileno[t->nfiles] = no;
	return (uint16_t)t->nfiles++;
}

/*
 * The CU's line table, copied out of libdwarf (so that the Dwarf_Debug
 * can go): -ENOENT when the CU has none or libdwarf cannot read it.
 */
static int
line_table_fill(Dwarf_Debug dbg, Dwarf_Die cu, struct line_table *t)
{
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx = NULL;
	Dwarf_Line *lines = NULL;
	Dwarf_Signed n = 0;
	int err = -ENOENT;

	if (dwarf_srclines_b(cu, &version, &count, &ctx, NULL) != DW_DLV_OK)
		return -ENOENT;
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, NULL) !=
		    DW_DLV_OK ||
	    n <= 0)
		goto out;
	err = -ENOMEM;
	t->rows = calloc((size_t)n, sizeof(*t->rows));
	if (!t->rows)
		goto out;
	for (Dwarf_Signed i = 0; i < n; i++) {
		Dwarf_Addr a = 0;
		Dwarf_Unsigned ln = 0;
		Dwarf_Bool end = 1;

		dwarf_lineaddr(lines[i], &a, NULL);
		dwarf_lineno(lines[i], &ln, NULL);
		dwarf_lineendsequence(lines[i], &end, NULL);
		t->rows[i].addr = a;
		t->rows[i].line = ln > UINT32_MAX ? UINT32_MAX : (uint32_t)ln;
		t->rows[i].end_seq = !!end;
		/* end rows are never answers; their file is not needed */
		t->rows[i].file = end ? NO_FILE : line_file(dbg, t, lines[i]);
	}
	t->n = (size_t)n;
	err = 0;
out:
	dwarf_srclines_dealloc_b(ctx);
	return err;
}

static void
line_tables_flush(struct debuginfo *di)
{
	for (unsigned i = 0; i < LINE_TABLES; i++)
		line_table_free(&di->lt[i]);
}

/*
 * Load t for the CU at off (sliced: of its header; whole: of its DIE).
 * -ENOENT: the CU has no line table. Sliced, any other failure gives up
 * slices (the caller asks again).
 */
static int
line_table_load(struct debuginfo *di, uint64_t off, struct line_table *t)
{
	struct unit u;
	Dwarf_Die cu = NULL;
	int err;

	t->used = 1;
	t->cu_off = off;
	if (di->fd < 0) {
		if (dwarf_offdie_b(di->dbg, off, 1, &cu, NULL) != DW_DLV_OK)
			return -ENOENT;
		err = line_table_fill(di->dbg, cu, t);
		dwarf_dealloc(di->dbg, cu, DW_DLA_DIE);
		return err;
	}
	err = unit_build(di->fd, di->sec, off, 1, &u);
	if (err == -ENOENT)
		return err; /* no DW_AT_stmt_list */
	if (!err) {
		err = line_table_fill(u.dbg, u.cu, t);
		unit_free(&u);
	}
	if (err) {
		line_table_free(t);
		line_tables_flush(di);
		err = give_up_slices(di,
				     "a line table could not be read alone");
		return err ? err : -EAGAIN;
	}
	return 0;
}

/* ---- line programs, sliced (lineprog.c) -------------------------------- */

static void
line_unit_free(struct debuginfo *di, struct line_unit *lu)
{
	di->lu_bytes -= lu->len;
	free(lu->bytes);
	free(lu->comp_dir);
	memset(lu, 0, sizeof(*lu));
}

static void
line_units_flush(struct debuginfo *di)
{
	for (unsigned i = 0; i < LINE_UNITS; i++)
		line_unit_free(di, &di->lu[i]);
	free(di->str);
	free(di->line_str);
	di->str = di->line_str = NULL;
	di->str_len = di->line_str_len = 0;
}

/* DW_AT_comp_dir of a CU DIE, copied; NULL when it has none. */
static char *
cu_comp_dir(Dwarf_Debug dbg, Dwarf_Die cu)
{
	Dwarf_Attribute a = NULL;
	char *s = NULL, *dup = NULL;

	if (dwarf_attr(cu, DW_AT_comp_dir, &a, NULL) != DW_DLV_OK)
		return NULL;
	/* a pointer into the section (or the DIE): not to be freed */
	if (dwarf_formstring(a, &s, NULL) == DW_DLV_OK && s)
		dup = strdup(s);
	dwarf_dealloc(dbg, a, DW_DLA_ATTR);
	return dup;
}

/* A string section read whole, for names lineprog.c could not give. */
static int
load_strings(struct debuginfo *di, int k, unsigned char **out, size_t *len)
{
	struct zread r;
	unsigned char *buf;
	int err;

	if (*out)
		return 0;
	if (!di->sec[k].present || !di->sec[k].size)
		return -ENOENT;
	buf = malloc(di->sec[k].size);
	if (!buf)
		return -ENOMEM;
	err = zr_open(&r, di->fd, &di->sec[k]);
	if (!err)
		err = zr_read(&r, buf, di->sec[k].size);
	zr_close(&r);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = di->sec[k].size;
	return 0;
}

/*
 * Run lineprog.c on a CU's program. Names in string sections (DWARF 5)
 * make it ask for them: .debug_line_str (what GCC and LLVM use) first,
 * .debug_str only if that was not it.
 */
static int
line_unit_find(struct debuginfo *di, const unsigned char *bytes, size_t len,
	       unsigned addr_size, const char *comp_dir, uint64_t pc,
	       char *file, size_t flen, unsigned *line)
{
	for (int tries = 0;; tries++) {
		struct lineprog_strs strs = {di->str, di->str_len, di->line_str,
					     di->line_str_len};
		int err = lineprog_find(bytes, len, addr_size, &strs, comp_dir,
					pc, file, flen, line);

		if (err == -EINVAL)
			pr_debug("%s: a malformed line program", di->path);
		if (err != -ENODATA)
			return err == -EINVAL ? -ENOENT : err;
		if (tries == 0 && !di->line_str)
			err = load_strings(di, SEC_LINE_STR, &di->line_str,
					   &di->line_str_len);
		else if (tries < 2 && !di->str)
			err = load_strings(di, SEC_STR, &di->str, &di->str_len);
		if (err == -ENOMEM)
			return err;
		if (tries >= 2)
			return -ENOENT;
	}
}

/*
 * file:line of pc from the line program of the CU at off (of its
 * header), kept or read now. -EAGAIN: the CU could not be read alone, and
 * di now reads the whole file.
 */
static int
line_sliced(struct debuginfo *di, uint64_t off, uint64_t pc, char *file,
	    size_t flen, unsigned *line)
{
	struct line_unit *lu = NULL, *lru = NULL;
	struct unit u;
	char *comp_dir;
	size_t size;
	int err;

	for (unsigned i = 0; i < LINE_UNITS; i++) {
		struct line_unit *c = &di->lu[i];

		if (c->used && c->cu_off == off)
			lu = c;
		if (!lru || !c->used || (lru->used && c->stamp < lru->stamp))
			lru = c;
	}
	if (lu) {
		lu->stamp = ++di->lu_clock;
		if (!lu->bytes)
			return -ENOENT;
		return line_unit_find(di, lu->bytes, lu->len, lu->addr_size,
				      lu->comp_dir, pc, file, flen, line);
	}
	err = unit_build(di->fd, di->sec, off, 1, &u);
	if (err == -ENOENT) {
		/* no DW_AT_stmt_list: remember that */
		line_unit_free(di, lru);
		*lru = (struct line_unit){1,	off, ++di->lu_clock, NULL, 0,
					  NULL, 0};
		return -ENOENT;
	}
	if (err) {
		err = give_up_slices(di,
				     "a line program could not be read alone");
		return err ? err : -EAGAIN;
	}
	comp_dir = cu_comp_dir(u.dbg, u.cu);
	size = lineprog_unit_size(u.line, u.line_len);
	if (size && size <= LINE_UNIT_BYTES) {
		unsigned char *copy = malloc(size);

		if (copy) {
			memcpy(copy, u.line, size);
			line_unit_free(di, lru);
			/* the least recently used go until it fits */
			while (di->lu_bytes + size > LINE_UNIT_BYTES) {
				struct line_unit *old = NULL;

				for (unsigned i = 0; i < LINE_UNITS; i++)
					if (di->lu[i].used && di->lu[i].bytes &&
					    (!old ||
					     di->lu[i].stamp < old->stamp))
						old = &di->lu[i];
				line_unit_free(di, old);
			}
			*lru = (struct line_unit){
				1,    off,	++di->lu_clock, copy,
				size, comp_dir, u.addr_size};
			di->lu_bytes += size;
			unit_free(&u);
			return line_unit_find(di, copy, size, lru->addr_size,
					      lru->comp_dir, pc, file, flen,
					      line);
		}
	}
	/* too big to keep (or no memory): from the image, this once */
	err = line_unit_find(di, u.line, u.line_len, u.addr_size, comp_dir, pc,
			     file, flen, line);
	free(comp_dir);
	unit_free(&u);
	return err;
}

void
debuginfo_lines_libdwarf(struct debuginfo *di)
{
	di->lines_libdwarf = 1;
}

int
debuginfo_line(struct debuginfo *di, uint64_t pc, char *file, size_t len,
	       unsigned *line)
{
	struct line_table *t = NULL;
	uint64_t off = 0;
	size_t best = SIZE_MAX;
	int err;

again:
	if (di->fd >= 0) {
		if (arange_find(di->ar, di->nar, pc, &off))
			return -ENOENT;
		if (!di->lines_libdwarf) {
			err = line_sliced(di, off, pc, file, len, line);
			if (err == -EAGAIN)
				goto again; /* now on the whole file */
			return err;
		}
	} else {
		Dwarf_Off doff;

		err = cu_of_pc(di, pc, &doff);
		if (err)
			return err;
		off = doff;
	}
	for (unsigned i = 0; i < LINE_TABLES; i++)
		if (di->lt[i].used && di->lt[i].cu_off == off)
			t = &di->lt[i];
	if (!t) {
		/* Round robin: stacks revisit the same few CUs. */
		t = &di->lt[di->lt_next++ % LINE_TABLES];
		line_table_free(t);
		err = line_table_load(di, off, t);
		if (err == -EAGAIN)
			goto again; /* now on the whole file */
		if (err)
			return err;
	}
	/* Within a sequence addresses only grow; the end row closes it. */
	for (size_t i = 0; i + 1 < t->n; i++)
		if (!t->rows[i].end_seq && t->rows[i].addr <= pc &&
		    pc < t->rows[i + 1].addr)
			best = i;
	if (best == SIZE_MAX)
		return -ENOENT;
	snprintf(file, len, "%s",
		 t->rows[best].file < t->nfiles ? t->files[t->rows[best].file]
						: "");
	*line = t->rows[best].line;
	return 0;
}

/* ---- call frame information ------------------------------------------- */

/*
 * libdwarf's list of a module's FDEs costs about 400 bytes per FDE, 1.5 MB
 * for libc's 3700. So when the file has the usual .eh_frame_hdr (its
 * sorted table of (initial location, FDE), datarel sdata4, written by
 * ld's --eh-frame-hdr; LSB 5.0, "Exception Frames"), the FDE of a pc is
 * found in that table, and libdwarf is handed the last CFI_FDES FDEs
 * asked for (stacks revisit the same functions), with their CIEs, in a
 * small image rebuilt when another one is needed: each CIE once, then the
 * FDEs, their CIE pointers patched, their pc-relative initial locations
 * moved by as much as the FDE moved, so that they mean what they meant.
 * One image per module: a Dwarf_Debug costs some 25 KB. Without a usable
 * table, or with encodings this does not move, libdwarf reads every FDE,
 * as before.
 */
#define CFI_FDES 32
#define FDE_MAX (64u << 10) /* an FDE or CIE longer than this is not one */

struct fde_slot {
	int64_t idx; /* in the table; -1: free */
	unsigned long stamp;
	uint64_t fde_off; /* in .eh_frame */
	uint64_t lo, hi; /* its range, once in the image */
	uint64_t img_off; /* its offset in the image's .eh_frame */
};

enum { CFI_EH_FRAME, CFI_EH_FRAME_HDR, CFI_NSEC };

static const char *const cfi_sec_names[CFI_NSEC] = {".eh_frame",
						    ".eh_frame_hdr"};

/*
 * The table stays in the file (postgres's is 137 KB): kept in memory are
 * the first location of every FDE_BLOCK entries, and the last block read.
 */
#define FDE_BLOCK 64u

struct debuginfo_cfi {
	/* one FDE at a time (fd >= 0) */
	int fd;
	struct sec sec[CFI_NSEC];
	uint32_t nfde;
	int32_t *first; /* of each block: initial location, hdr-relative */
	uint32_t nblocks;
	int64_t block_no; /* in block; -1: none */
	int32_t block[FDE_BLOCK][2]; /* (initial location, FDE) */
	struct fde_slot slot[CFI_FDES];
	unsigned long clock;
	struct unit u; /* the image of the slots' FDEs */
	Dwarf_Cie *ucies;
	Dwarf_Signed nucies;
	Dwarf_Fde *ufdes;
	Dwarf_Signed nufdes;
	/* else libdwarf's list of every FDE */
	Dwarf_Debug dbg;
	Dwarf_Cie *cies;
	Dwarf_Signed ncies;
	Dwarf_Fde *fdes;
	Dwarf_Signed nfdes;
};

static void
cfi_image_free(struct debuginfo_cfi *c)
{
	if (c->ufdes)
		dwarf_fde_cie_list_dealloc(c->u.dbg, c->ucies, c->nucies,
					   c->ufdes, c->nufdes);
	c->ufdes = NULL;
	c->ucies = NULL;
	unit_free(&c->u);
}

/* The table's byte offset in the file of entry i. */
static uint64_t
cfi_entry_off(const struct debuginfo_cfi *c, uint64_t i)
{
	return c->sec[CFI_EH_FRAME_HDR].off + 12 + 8 * i;
}

/* Block b of the table into c->block; its number of entries. */
static uint32_t
cfi_load_block(struct debuginfo_cfi *c, uint32_t b)
{
	uint32_t n = c->nfde - b * FDE_BLOCK;

	if (n > FDE_BLOCK)
		n = FDE_BLOCK;
	if (c->block_no != (int64_t)b) {
		c->block_no = -1;
		if (pread_all(c->fd, c->block, n * sizeof(c->block[0]),
			      cfi_entry_off(c, (uint64_t)b * FDE_BLOCK)))
			return 0;
		c->block_no = b;
	}
	return n;
}

/*
 * The search table of .eh_frame_hdr (its header checked, the first
 * location of each block kept), or an error: then the whole list.
 */
static int
cfi_read_table(struct debuginfo_cfi *c)
{
	const struct sec *eh = &c->sec[CFI_EH_FRAME];
	const struct sec *hdr = &c->sec[CFI_EH_FRAME_HDR];
	unsigned char h[12];
	uint32_t count;
	int err;

	c->block_no = -1;
	if (!eh->present || !hdr->present || eh->zlib || hdr->zlib)
		return -ENOENT;
	if (hdr->size < sizeof(h) ||
	    (err = pread_all(c->fd, h, sizeof(h), hdr->off)))
		return -ENOENT;
	/*
	 * version 1; eh_frame_ptr (any 4-byte encoding); fde_count udata4;
	 * table datarel|sdata4 (DW_EH_PE_*: glibc's unwind-pe.h values).
	 */
	if (h[0] != 1 || (h[1] & 0x0f) != 0x0b || h[2] != 0x03 || h[3] != 0x3b)
		return -ENOENT;
	memcpy(&count, h + 8, 4);
	if (!count || count > (hdr->size - sizeof(h)) / 8)
		return -ENOENT;
	c->nfde = count;
	c->nblocks = (count + FDE_BLOCK - 1) / FDE_BLOCK;
	c->first = malloc(c->nblocks * sizeof(*c->first));
	if (!c->first)
		return -ENOMEM;
	for (uint32_t b = 0; b < c->nblocks; b++) {
		if (!cfi_load_block(c, b)) {
			free(c->first);
			c->first = NULL;
			return -LA_EBADELF;
		}
		c->first[b] = c->block[0][0];
	}
	return 0;
}

/*
 * The index of the table's last entry whose initial location is at or
 * below pc (the table is sorted), and its FDE's address; -ENOENT.
 */
static int
cfi_search(struct debuginfo_cfi *c, uint64_t pc, uint32_t *idx,
	   uint64_t *fde_addr)
{
	uint64_t base = c->sec[CFI_EH_FRAME_HDR].addr;
	uint32_t lo = 0, hi = c->nblocks, b, n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (base + (uint64_t)(int64_t)c->first[mid] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	b = lo - 1;
	n = cfi_load_block(c, b);
	if (!n)
		return -ENOENT;
	lo = 0;
	hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (base + (uint64_t)(int64_t)c->block[mid][0] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	*idx = b * FDE_BLOCK + lo - 1;
	*fde_addr = base + (uint64_t)(int64_t)c->block[lo - 1][1];
	return 0;
}

/* The whole list, as before: libdwarf reads every FDE of the file. */
static int
cfi_open_whole(const char *path, struct debuginfo_cfi *c)
{
	Dwarf_Error err = NULL;
	int res;

	/* No true_path buffer: the runtime file itself, never its debug file. */
	res = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY,
			      ignore_error, &c->dbg, &c->dbg, NULL, 0, NULL,
			      &err);
	if (res != DW_DLV_OK) {
		pr_debug("%s: %s", path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "no CFI");
		if (res == DW_DLV_ERROR)
			dwarf_dealloc(NULL, err, DW_DLA_ERROR);
		c->dbg = NULL;
		return -LA_ENODEBUGINFO;
	}
	err = NULL;
	res = dwarf_get_fde_list_eh(c->dbg, &c->cies, &c->ncies, &c->fdes,
				    &c->nfdes, &err);
	if (res != DW_DLV_OK || c->nfdes <= 0) {
		pr_debug("%s: no .eh_frame: %s", path,
			 res == DW_DLV_ERROR ? dwarf_errmsg(err) : "empty");
		c->fdes = NULL;
		return -LA_ENODEBUGINFO;
	}
	return 0;
}

static int
cfi_open(const char *path, int slices, struct debuginfo_cfi **out)
{
	struct debuginfo_cfi *c = calloc(1, sizeof(*c));
	int err = -ENOENT;

	if (!c)
		return -ENOMEM;
	for (unsigned i = 0; i < CFI_FDES; i++)
		c->slot[i].idx = -1;
	c->fd = -1;
	c->block_no = -1;
	if (slices) {
		c->fd = open(path, O_RDONLY | O_CLOEXEC);
		err = c->fd < 0 ? -errno
				: read_section_table(c->fd, cfi_sec_names,
						     CFI_NSEC, c->sec);
		if (!err)
			err = cfi_read_table(c);
	}
	if (err) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		if (slices)
			pr_debug("%s: no usable .eh_frame_hdr; every FDE read",
				 path);
		err = cfi_open_whole(path, c);
		if (err) {
			debuginfo_cfi_close(c);
			return err;
		}
	}
	*out = c;
	return 0;
}

int
debuginfo_cfi_open(const char *path, struct debuginfo_cfi **out)
{
	return cfi_open(path, 1, out);
}

int
debuginfo_cfi_open_whole(const char *path, struct debuginfo_cfi **out)
{
	return cfi_open(path, 0, out);
}

int
debuginfo_cfi_sliced(const struct debuginfo_cfi *c)
{
	return c->fd >= 0;
}

void
debuginfo_cfi_close(struct debuginfo_cfi *c)
{
	if (!c)
		return;
	cfi_image_free(c);
	free(c->first);
	if (c->fd >= 0)
		close(c->fd);
	if (c->fdes)
		dwarf_fde_cie_list_dealloc(c->dbg, c->cies, c->ncies, c->fdes,
					   c->nfdes);
	if (c->dbg)
		dwarf_finish(c->dbg, NULL);
	free(c);
}

/* An .eh_frame entry's total size at off (length field included). */
static int
eh_entry(struct debuginfo_cfi *c, uint64_t off, uint32_t *total)
{
	const struct sec *eh = &c->sec[CFI_EH_FRAME];
	uint32_t len;

	if (off > eh->size || eh->size - off < 8 ||
	    pread_all(c->fd, &len, 4, eh->off + off))
		return -ENOENT;
	/* 0 ends the section; 0xffffffff (64-bit lengths) is not ours */
	if (!len || len > FDE_MAX || len < 4 || len > eh->size - off - 4)
		return -ENOENT;
	*total = len + 4;
	return 0;
}

/* A DW_EH_PE_* pointer's size (glibc's unwind-pe.h); 0: not one of ours. */
static unsigned
eh_pe_size(unsigned char enc)
{
	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		return 8;
	case 0x02: /* udata2 */
	case 0x0a: /* sdata2 */
		return 2;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		return 4;
	}
	return 0;
}

/*
 * The encoding of the initial locations of a CIE's FDEs: its 'R'
 * augmentation (LSB 5.0, "The Common Information Entry Format"), absptr
 * without one. -1 for what this file does not read.
 */
static int
cie_fde_encoding(const unsigned char *cie, uint32_t total)
{
	const unsigned char *aug, *end = cie + total;
	size_t at = 9, len = total;
	int ok = 1, enc = 0;
	uint64_t auglen;
	uint32_t id;

	memcpy(&id, cie + 4, 4);
	if (total < 10 || id || (cie[8] != 1 && cie[8] != 3))
		return -1;
	aug = cie + at;
	if (!memchr(aug, 0, (size_t)(end - aug)))
		return -1;
	at += strlen((const char *)aug) + 1;
	read_uleb(cie, len, &at, &ok); /* code alignment */
	read_uleb(cie, len, &at, &ok); /* data alignment (SLEB, same bytes) */
	if (cie[8] == 1)
		at++; /* return address register */
	else
		read_uleb(cie, len, &at, &ok);
	if (aug[0] != 'z')
		return aug[0] ? -1 : 0;
	auglen = read_uleb(cie, len, &at, &ok);
	if (!ok || at > len || auglen > len - at)
		return -1;
	for (const unsigned char *a = aug + 1; *a; a++) {
		if (at >= len)
			return -1;
		switch (*a) {
		case 'R':
			enc = cie[at++];
			break;
		case 'L':
			at++;
			break;
		case 'P': {
			unsigned sz = eh_pe_size(cie[at]);

			if (!sz)
				return -1;
			at += 1 + sz;
			break;
		}
		case 'S':
			break;
		default:
			return -1;
		}
	}
	return enc;
}

/*
 * The slots' FDEs and their CIEs in a new image, read by libdwarf; each
 * slot's range and place in it. An error leaves no image.
 */
static int
cfi_image_build(struct debuginfo_cfi *c)
{
	const struct sec *eh = &c->sec[CFI_EH_FRAME];
	struct {
		uint64_t cie_off, cie_new;
		uint32_t cie_len, fde_len;
		int enc;
	} e[CFI_FDES];
	uint64_t cies[CFI_FDES], size = 0;
	unsigned ncies = 0;
	struct img_sec v[1];
	unsigned char *p;
	int err = 0;

	cfi_image_free(c);
	for (unsigned i = 0; i < CFI_FDES; i++) {
		struct fde_slot *f = &c->slot[i];
		uint32_t ptr;
		unsigned k;

		if (f->idx < 0)
			continue;
		if (eh_entry(c, f->fde_off, &e[i].fde_len) ||
		    pread_all(c->fd, &ptr, 4, eh->off + f->fde_off + 4) ||
		    !ptr || ptr > f->fde_off + 4)
			return -ENOENT;
		e[i].cie_off = f->fde_off + 4 - ptr;
		if (eh_entry(c, e[i].cie_off, &e[i].cie_len))
			return -ENOENT;
		for (k = 0; k < ncies && cies[k] != e[i].cie_off; k++)
			;
		if (k == ncies) {
			cies[ncies++] = e[i].cie_off;
			size += e[i].cie_len;
		}
		size += e[i].fde_len;
	}
	/* CIEs first, FDEs after them, then a 0 length: the end */
	v[0] = (struct img_sec){".eh_frame", eh->addr, size + 4, 0};
	err = img_alloc(&c->u, v, 1);
	if (err)
		return err;
	p = c->u.img + v[0].off;
	size = 0;
	for (unsigned k = 0; k < ncies && !err; k++) {
		for (unsigned i = 0; i < CFI_FDES; i++)
			if (c->slot[i].idx >= 0 && e[i].cie_off == cies[k]) {
				err = pread_all(c->fd, p + size, e[i].cie_len,
						eh->off + cies[k]);
				for (unsigned j = 0; j < CFI_FDES; j++)
					if (c->slot[j].idx >= 0 &&
					    e[j].cie_off == cies[k]) {
						e[j].cie_new = size;
						e[j].enc = cie_fde_encoding(
							p + size, e[i].cie_len);
					}
				size += e[i].cie_len;
				break;
			}
	}
	for (unsigned i = 0; i < CFI_FDES && !err; i++) {
		struct fde_slot *f = &c->slot[i];
		unsigned char *q = p + size;
		uint32_t ptr = (uint32_t)(size + 4 - e[i].cie_new);
		int64_t delta = (int64_t)f->fde_off - (int64_t)size;
		unsigned sz;

		if (f->idx < 0)
			continue;
		err = pread_all(c->fd, q, e[i].fde_len, eh->off + f->fde_off);
		sz = e[i].enc >= 0 ? eh_pe_size((unsigned char)e[i].enc) : 0;
		/* absolute or pc-relative, direct, 4 or 8 bytes */
		if (!err && (!sz || sz < 4 || (e[i].enc & 0xe0) ||
			     (e[i].enc & 0x70) > 0x10 || 8 + sz > e[i].fde_len))
			err = -ENOENT;
		if (err)
			break;
		memcpy(q + 4, &ptr, 4);
		if ((e[i].enc & 0x70) == 0x10) {
			/* its field moved by -delta: the value by +delta */
			if (sz == 4) {
				int32_t v4;
				int64_t nv;

				memcpy(&v4, q + 8, 4);
				nv = (int64_t)v4 + delta;
				if (nv < INT32_MIN || nv > INT32_MAX) {
					err = -ENOENT;
					break;
				}
				v4 = (int32_t)nv;
				memcpy(q + 8, &v4, 4);
			} else {
				uint64_t v8;

				memcpy(&v8, q + 8, 8);
				v8 += (uint64_t)delta;
				memcpy(q + 8, &v8, 8);
			}
		}
		f->img_off = size;
		size += e[i].fde_len;
	}
	if (!err)
		err = img_open(&c->u);
	if (!err &&
	    dwarf_get_fde_list_eh(c->u.dbg, &c->ucies, &c->nucies, &c->ufdes,
				  &c->nufdes, NULL) != DW_DLV_OK) {
		c->ufdes = NULL;
		err = -LA_ENODEBUGINFO;
	}
	/* Each slot's range, from libdwarf: matched by its place. */
	for (Dwarf_Signed k = 0; !err && k < c->nufdes; k++) {
		Dwarf_Addr lo = 0;
		Dwarf_Unsigned len = 0, blen;
		Dwarf_Ptr bytes;
		Dwarf_Off cie_o, fde_o = 0;
		Dwarf_Signed cie_i;

		if (dwarf_get_fde_range(c->ufdes[k], &lo, &len, &bytes, &blen,
					&cie_o, &cie_i, &fde_o,
					NULL) != DW_DLV_OK)
			continue;
		for (unsigned i = 0; i < CFI_FDES; i++)
			if (c->slot[i].idx >= 0 &&
			    c->slot[i].img_off == fde_o) {
				c->slot[i].lo = lo;
				c->slot[i].hi = lo + len;
			}
	}
	if (err)
		cfi_image_free(c);
	return err;
}

/* The FDE list that holds pc's rules: the image's, or the whole file's. */
static int
cfi_fdes(struct debuginfo_cfi *c, uint64_t pc, Dwarf_Fde **fdes)
{
	struct fde_slot *f = NULL, *old = &c->slot[0];
	uint64_t fde_addr;
	uint32_t idx;
	int err;

	if (c->fd < 0) {
		*fdes = c->fdes;
		return 0;
	}
	for (unsigned i = 0; i < CFI_FDES && !f && c->ufdes; i++)
		if (c->slot[i].idx >= 0 && pc >= c->slot[i].lo &&
		    pc < c->slot[i].hi)
			f = &c->slot[i];
	if (!f) {
		err = cfi_search(c, pc, &idx, &fde_addr);
		if (err)
			return err;
		for (unsigned i = 0; i < CFI_FDES; i++) {
			if (c->slot[i].idx == (int64_t)idx)
				f = &c->slot[i];
			if (c->slot[i].stamp < old->stamp)
				old = &c->slot[i];
		}
		/* f: in the image, pc past its FDE's end (libdwarf says so) */
	}
	if (!f || !c->ufdes) {
		const struct sec *eh = &c->sec[CFI_EH_FRAME];

		if (fde_addr < eh->addr || fde_addr - eh->addr >= eh->size)
			return -ENOENT;
		if (!f)
			f = old;
		f->idx = idx;
		f->fde_off = fde_addr - eh->addr;
		f->lo = f->hi = 0;
		err = cfi_image_build(c);
		if (err) {
			/* this FDE, it seems: the others as they were */
			f->idx = -1;
			f->stamp = 0;
			if (cfi_image_build(c))
				for (unsigned i = 0; i < CFI_FDES; i++)
					c->slot[i].idx = -1;
			return err == -ENOMEM ? err : -ENOENT;
		}
	}
	f->stamp = ++c->clock;
	*fdes = c->ufdes;
	return 0;
}

/* One libdwarf rule in our terms (libdwarf.h, Dwarf_Regtable_Entry3_s). */
static void
convert_rule(const Dwarf_Regtable_Entry3 *e, struct cfi_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (e->dw_regnum == DW_FRAME_UNDEFINED_VAL &&
	    e->dw_value_type == DW_EXPR_OFFSET) {
		r->kind = CFI_UNDEFINED;
		return;
	}
	if (e->dw_regnum == DW_FRAME_SAME_VAL &&
	    e->dw_value_type == DW_EXPR_OFFSET) {
		r->kind = CFI_SAME;
		return;
	}
	r->reg = e->dw_regnum;
	r->offset = (int64_t)e->dw_offset_or_block_len; /* signed, really */
	switch (e->dw_value_type) {
	case DW_EXPR_OFFSET:
		r->kind = e->dw_offset_relevant ? CFI_OFFSET : CFI_REGISTER;
		if (r->kind == CFI_REGISTER)
			r->offset = 0;
		break;
	case DW_EXPR_VAL_OFFSET:
		r->kind = CFI_VAL_OFFSET;
		break;
	case DW_EXPR_EXPRESSION:
	case DW_EXPR_VAL_EXPRESSION:
		r->kind = e->dw_value_type == DW_EXPR_EXPRESSION
				  ? CFI_EXPRESSION
				  : CFI_VAL_EXPRESSION;
		r->expr = e->dw_block_ptr;
		r->expr_len = (size_t)e->dw_offset_or_block_len;
		r->offset = 0;
		if (!r->expr)
			r->kind = CFI_UNDEFINED;
		break;
	default:
		r->kind = CFI_UNDEFINED;
	}
}

int
debuginfo_cfi_row(struct debuginfo_cfi *c, uint64_t pc, struct cfi_row *out)
{
	Dwarf_Regtable_Entry3 rules[32];
	Dwarf_Regtable3 tab = {.rt3_reg_table_size = 32, .rt3_rules = rules};
	Dwarf_Fde fde = NULL;
	Dwarf_Addr lo = 0, hi = 0, row_pc = 0;
	const Dwarf_Regtable_Entry3 *cfa;
	Dwarf_Fde *fdes = NULL;

	if (cfi_fdes(c, pc, &fdes) ||
	    dwarf_get_fde_at_pc(fdes, pc, &fde, &lo, &hi, NULL) != DW_DLV_OK)
		return -ENOENT;
	memset(rules, 0, sizeof(rules));
	if (dwarf_get_fde_info_for_all_regs3(fde, pc, &tab, &row_pc, NULL) !=
	    DW_DLV_OK)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->fde_lo = lo;
	out->fde_hi = hi;
	cfa = &tab.rt3_cfa_rule;
	if (cfa->dw_value_type == DW_EXPR_OFFSET) {
		/* DW_CFA_def_cfa: register + offset */
		out->cfa.kind = CFI_REGISTER;
		out->cfa.reg = cfa->dw_regnum;
		out->cfa.offset = cfa->dw_offset_relevant
					  ? (int64_t)cfa->dw_offset_or_block_len
					  : 0;
	} else if ((cfa->dw_value_type == DW_EXPR_EXPRESSION ||
		    cfa->dw_value_type == DW_EXPR_VAL_EXPRESSION) &&
		   cfa->dw_block_ptr) {
		/* DW_CFA_def_cfa_expression (the .plt): its value is the CFA */
		out->cfa.kind = CFI_VAL_EXPRESSION;
		out->cfa.expr = cfa->dw_block_ptr;
		out->cfa.expr_len = (size_t)cfa->dw_offset_or_block_len;
	} else {
		return -ENOENT;
	}
	for (unsigned i = 0; i < CFI_NREGS; i++)
		convert_rule(&rules[i], &out->reg[i]);
	return 0;
}
