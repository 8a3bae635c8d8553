/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * minidebug.h - MiniDebugInfo: the .gnu_debugdata section some
 * distributions (Fedora, RHEL, CentOS) leave in stripped binaries, an xz
 * stream of a small ELF file whose .symtab holds the functions .dynsym
 * lacks (the static ones). Needs liblzma (configure says when it is
 * missing; every call then answers -ENOTSUP).
 */
#ifndef LA_MINIDEBUG_H
#define LA_MINIDEBUG_H

struct elffile;

/*
 * The ELF file inside ef's .gnu_debugdata, decompressed into memory (an
 * anonymous memfd) and opened; close it with elffile_close(). -ENOENT
 * without the section, -LA_EBADELF when it is no xz stream of an ELF
 * file or decompresses to more than 256 MiB, -ENOTSUP without liblzma.
 */
int minidebug_open(const struct elffile *ef, struct elffile **out);

#endif
