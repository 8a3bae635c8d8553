/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * minidebug.c - see minidebug.h. The stream comes from an untrusted file:
 * the decoder's memory and the output are both bounded, and the result is
 * parsed by elfsyms.c like any file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef HAVE_LZMA
#include <lzma.h>
#endif

#define LOG_PREFIX "minidebug: "
#include "base/error.h"
#include "base/log.h"
#include "elf/elfsyms.h"
#include "elf/minidebug.h"

#ifdef HAVE_LZMA

/* Fedora's are 100 KB to a few MB decompressed: far above that is no
 * symbol table but a bomb. */
#define MINIDEBUG_MAX (256u << 20)
/* The decoder's memory: xz -9 needs 65 MiB; MiniDebugInfo uses less. */
#define DECODER_MEMLIMIT (128u << 20)

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Decompress in (an xz stream) into fd. */
static int
unxz(const uint8_t *in, size_t len, int fd)
{
	lzma_stream z = LZMA_STREAM_INIT;
	uint8_t out[65536];
	uint64_t total = 0;
	lzma_ret r;
	int err = 0;

	if (lzma_stream_decoder(&z, DECODER_MEMLIMIT, 0) != LZMA_OK)
		return -ENOMEM;
	z.next_in = in;
	z.avail_in = len;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		r = lzma_code(&z, LZMA_FINISH);
		if (r != LZMA_OK && r != LZMA_STREAM_END) {
			err = -LA_EBADELF;
			break;
		}
		total += sizeof(out) - z.avail_out;
		if (total > MINIDEBUG_MAX) {
			err = -LA_EBADELF;
			break;
		}
		err = write_all(fd, out, sizeof(out) - z.avail_out);
	} while (!err && r != LZMA_STREAM_END);
	lzma_end(&z);
	return err;
}

int
minidebug_open(const struct elffile *ef, struct elffile **out)
{
	uint64_t addr, size;
	const void *data;
	char name[600];
	int fd, err;

	if (elffile_section(ef, ".gnu_debugdata", &addr, &size, &data) ||
	    !data || !size)
		return -ENOENT;
	fd = memfd_create("leakattach-minidebug", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = unxz(data, (size_t)size, fd);
	if (err) {
		pr_debug("%s: .gnu_debugdata is no xz stream we can read",
			 elffile_path(ef));
		close(fd);
		return err;
	}
	snprintf(name, sizeof(name), "%s[.gnu_debugdata]", elffile_path(ef));
	return elffile_open_fd(fd, name, out);
}

#else /* !HAVE_LZMA */

int
minidebug_open(const struct elffile *ef, struct elffile **out)
{
	(void)ef;
	(void)out;
	return -ENOTSUP;
}

#endif
