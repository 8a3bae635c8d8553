/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callers_file.c - a callers window kept between invocations
 * (la_store_target_save_callers(), store.c), written and read back
 * (see callers.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/checksum.h"
#include "base/error.h"
#include "sampling/callers.h"
#include "sampling/callers_tables.h"

/*
 * The file: a header, the stacks (return addresses, not their names: the
 * frames are named again from the target's modules when read), the kept
 * chunks, and an FNV-1a sum of everything before it. Binary, for this
 * build on this machine only: the header names the format and the sizes
 * of what follows, and anything else is refused.
 */
#define CALLERS_MAGIC "leakattach-callers\n"
#define CALLERS_VERSION 1u

struct file_head {
	char magic[20];
	uint32_t version, size_info, size_stack, size_chunk;
	uint32_t n_stacks, n_chunks;
	struct la_callers_info info;
};

struct file_stack {
	uint64_t hash;
	uint32_t n_pcs, allocations, kept, freed;
	uint64_t bytes;
	uint64_t pcs[LA_CALLER_FRAMES];
};

static int
put(FILE *f, uint64_t *sum, const void *p, size_t len)
{
	*sum = fnv1a(*sum, p, len);
	return fwrite(p, 1, len, f) == len ? 0 : -EIO;
}

int
callers_write(const struct la_callers *c, FILE *f)
{
	struct file_head h;
	uint64_t sum = FNV_INIT;
	int err;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CALLERS_MAGIC, sizeof(CALLERS_MAGIC));
	h.version = CALLERS_VERSION;
	h.size_info = sizeof(struct la_callers_info);
	h.size_stack = sizeof(struct file_stack);
	h.size_chunk = sizeof(struct kchunk);
	h.n_stacks = c->n_stacks;
	h.n_chunks = c->n_chunks;
	h.info = c->info;
	err = put(f, &sum, &h, sizeof(h));
	for (unsigned i = 0; !err && i < c->n_stacks; i++) {
		const struct cstack *st = &c->stacks[i];
		struct file_stack fs;

		memset(&fs, 0, sizeof(fs));
		fs.hash = st->hash;
		fs.n_pcs = st->n_pcs;
		fs.allocations = st->allocations;
		fs.kept = st->kept;
		fs.freed = st->freed;
		fs.bytes = st->bytes;
		memcpy(fs.pcs, st->pcs, st->n_pcs * sizeof(*st->pcs));
		err = put(f, &sum, &fs, sizeof(fs));
	}
	if (!err && c->n_chunks)
		err = put(f, &sum, c->chunks, c->n_chunks * sizeof(*c->chunks));
	if (!err && fwrite(&sum, 1, sizeof(sum), f) != sizeof(sum))
		err = -EIO;
	return err;
}

static int
get(FILE *f, uint64_t *sum, void *p, size_t len)
{
	if (fread(p, 1, len, f) != len)
		return ferror(f) ? -EIO : -LA_EBADSTATE;
	*sum = fnv1a(*sum, p, len);
	return 0;
}

static int
bad_file(const char *why)
{
	return la_fail(-LA_EBADSTATE, "%s", why);
}

/* Everything read from the file is checked before it is used. */
static int
read_body(FILE *f, pid_t pid, struct la_callers *c)
{
	struct file_head h;
	uint64_t sum = FNV_INIT, want;
	int err;

	err = get(f, &sum, &h, sizeof(h));
	if (err)
		return err == -EIO ? err : bad_file("cut short in its header");
	if (memcmp(h.magic, CALLERS_MAGIC, sizeof(CALLERS_MAGIC)) ||
	    h.version != CALLERS_VERSION ||
	    h.size_info != sizeof(struct la_callers_info) ||
	    h.size_stack != sizeof(struct file_stack) ||
	    h.size_chunk != sizeof(struct kchunk))
		return bad_file("not a window of this version of leakattach");
	if (h.n_stacks > LA_CALLERS_STACKS_MAX ||
	    h.n_chunks > LA_CALLERS_CHUNKS_MAX)
		return bad_file("more stacks or chunks than a window keeps");
	if (h.info.pid != pid)
		return bad_file("a window of another process");
	c->info = h.info;
	c->info.backend[sizeof(c->info.backend) - 1] = '\0';
	/* make_probes() counts them again; the check is yet to come */
	c->info.kept_chunks = c->info.control_chunks = 0;
	c->info.checked = 0;
	for (unsigned i = 0; i < h.n_stacks; i++) {
		struct cstack *st = &c->stacks[i];
		struct file_stack fs;

		err = get(f, &sum, &fs, sizeof(fs));
		if (err)
			return err == -EIO ? err : bad_file("cut short");
		if (fs.n_pcs > LA_CALLER_FRAMES || fs.kept > fs.allocations ||
		    fs.freed > fs.kept)
			return bad_file("a stack that no window makes");
		*st = (struct cstack){
			.hash = fs.hash,
			.n_pcs = fs.n_pcs,
			.allocations = fs.allocations,
			.kept = fs.kept,
			.freed = fs.freed,
			.bytes = fs.bytes,
		};
		memcpy(st->pcs, fs.pcs, fs.n_pcs * sizeof(*fs.pcs));
		c->n_stacks++;
	}
	if (h.n_chunks) {
		err = get(f, &sum, c->chunks, h.n_chunks * sizeof(*c->chunks));
		if (err)
			return err == -EIO ? err : bad_file("cut short");
	}
	c->n_chunks = h.n_chunks;
	for (unsigned i = 0; i < c->n_chunks; i++) {
		struct kchunk *k = &c->chunks[i];

		if (k->stack >= c->n_stacks || k->dead > 1 || k->control > 1 ||
		    k->aligned > 1 || k->control != k->dead || k->size)
			return bad_file("a chunk that no window keeps");
	}
	if (fread(&want, 1, sizeof(want), f) != sizeof(want))
		return bad_file("cut short before its checksum");
	if (want != sum)
		return bad_file("its checksum does not match: damaged");
	if (getc(f) != EOF)
		return bad_file("more after its checksum");
	return 0;
}

int
callers_read(FILE *f, pid_t pid, struct la_callers **out)
{
	struct la_callers *c;
	int err;

	*out = NULL;
	c = callers_new();
	if (!c)
		return la_fail(-ENOMEM, "out of memory");
	err = read_body(f, pid, c);
	if (!err)
		err = callers_ready(c);
	if (err) {
		la_callers_free(c);
		if (err == -LA_EBADSTATE || err == -EIO)
			return err; /* the sentence is set */
		if (err == -ESRCH)
			return la_fail(-ESRCH, "process %d exited", (int)pid);
		return la_fail_default(err);
	}
	*out = c;
	return 0;
}
