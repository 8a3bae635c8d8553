/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pyversion.c - the CPython version of a process, from its files (see
 * pyversion.h). Py_Version is a const unsigned long in .rodata, exported
 * since 3.11 (Python/getversion.c), equal to PY_VERSION_HEX
 * (Include/patchlevel.h: major << 24 | minor << 16 | micro << 8 | level
 * << 4 | serial). Reading it from the file needs no access to the target's
 * memory. Older versions, and a file that does not export it, are named
 * by the file alone, as py-spy does last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf/elfsyms.h"
#include "proc/procmaps.h"
#include "python/pyversion.h"

int
pyversion_from_name(const char *base, unsigned *major, unsigned *minor)
{
	const char *p = base;
	char *end;
	unsigned long ma, mi;

	if (!strncmp(p, "lib", 3))
		p += 3;
	if (strncmp(p, "python", 6))
		return -ENOENT;
	p += 6;
	if (*p < '0' || *p > '9')
		return -ENOENT;
	ma = strtoul(p, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -ENOENT;
	mi = strtoul(end + 1, &end, 10);
	/* python3.11, python3.11d, libpython3.11.so.1.0 */
	if (*end && *end != '.' && strcmp(end, "d") && strcmp(end, "m") &&
	    strncmp(end, "d.", 2) && strncmp(end, "m.", 2))
		return -ENOENT;
	if (ma != 3 || mi > 99)
		return -ENOENT;
	*major = (unsigned)ma;
	*minor = (unsigned)mi;
	return 0;
}

/* Py_Version's value, read from the section that holds it. */
static int
version_symbol(const struct elffile *ef, uint32_t *hex)
{
	static const char *const sections[] = {".rodata", ".data"};
	uint64_t value, size;

	if (elffile_symbol(ef, "Py_Version", &value, &size) || size < 4)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		uint64_t addr, len;
		const void *data;

		if (elffile_section(ef, sections[i], &addr, &len, &data) ||
		    !data || value < addr || value - addr > len - 4 || len < 4)
			continue;
		memcpy(hex, (const char *)data + (value - addr), 4);
		return 0;
	}
	return -ENOENT;
}

int
pyversion_detect(pid_t pid, const struct maps *maps, struct pyversion *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < maps->len; i++) {
		const struct mapping *m = &maps->v[i];
		struct elffile *ef;
		unsigned ma, mi;
		uint32_t hex;

		if (m->path[0] != '/' ||
		    pyversion_from_name(mapping_basename(m), &ma, &mi))
			continue;
		out->major = ma;
		out->minor = mi;
		out->source = PYVERSION_FILE_NAME;
		snprintf(out->path, sizeof(out->path), "%s", m->path);
		if (!elffile_open_mapped(pid, m, &ef)) {
			if (!version_symbol(ef, &hex) && hex >> 24 == ma &&
			    ((hex >> 16) & 0xff) == mi) {
				out->hex = hex;
				out->source = PYVERSION_SYMBOL;
			}
			elffile_close(ef);
		}
		/* libpython wins over the executable that links it */
		if (strncmp(mapping_basename(m), "lib", 3) &&
		    out->source == PYVERSION_SYMBOL)
			return 0;
		if (!strncmp(mapping_basename(m), "lib", 3))
			return 0;
	}
	return out->source == PYVERSION_NONE ? -ENOENT : 0;
}
