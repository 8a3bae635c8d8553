/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* debugfile.c - see debugfile.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "debugfile: "
#include "base/log.h"
#include "elf/debugfile.h"
#include "elf/elfsyms.h"

/* Accept a candidate only if it is ELF with the same build-id. */
static int
matches(const char *cand, const unsigned char *id, size_t idlen)
{
	struct elffile *dbg;
	const unsigned char *did;
	size_t dlen;
	int ok;

	if (access(cand, R_OK) || elffile_open(cand, &dbg))
		return 0;
	dlen = elffile_build_id(dbg, &did);
	ok = !idlen || (dlen == idlen && !memcmp(did, id, idlen));
	elffile_close(dbg);
	if (!ok)
		pr_debug("%s: build-id differs, ignored", cand);
	return ok;
}

int
debugfile_find(const struct elffile *ef, const char *path, const char *root,
	       const char *const *debug_dirs, char *out, size_t len)
{
	const unsigned char *id;
	size_t idlen = elffile_build_id(ef, &id);
	const char *link = elffile_debuglink(ef);
	char dir[512], cand[1024];
	const char *slash = strrchr(path, '/');

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0,
		 path);
	for (const char *const *d = debug_dirs; *d; d++) {
		if (idlen >= 2) {
			int n = snprintf(cand, sizeof(cand),
					 "%s/.build-id/%02x/", *d, id[0]);

			for (size_t i = 1;
			     i < idlen && n < (int)sizeof(cand) - 8; i++)
				n += snprintf(cand + n,
					      sizeof(cand) - (size_t)n, "%02x",
					      id[i]);
			snprintf(cand + n, sizeof(cand) - (size_t)n, ".debug");
			if (matches(cand, id, idlen))
				goto found;
		}
		if (link) {
			snprintf(cand, sizeof(cand), "%s%s/%s", *d, dir, link);
			if (matches(cand, id, idlen))
				goto found;
		}
	}
	if (link) {
		snprintf(cand, sizeof(cand), "%s%s/%s", root, dir, link);
		if (strcmp(cand + strlen(root), path) &&
		    matches(cand, id, idlen))
			goto found;
		snprintf(cand, sizeof(cand), "%s%s/.debug/%s", root, dir, link);
		if (matches(cand, id, idlen))
			goto found;
	}
	return -ENOENT;
found:
	snprintf(out, len, "%s", cand);
	pr_debug("using %s", cand);
	return 0;
}
