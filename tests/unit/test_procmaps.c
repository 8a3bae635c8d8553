/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_procmaps.c - the /proc/PID/maps parser on fmemopen'ed text, no
 * process: file-backed, anonymous, [heap], [stack] and [anon:...] lines,
 * paths with spaces, the kernel's " (deleted)" suffix (stripped and
 * flagged), malformed lines
 * (-EINVAL, nothing left allocated), the binary search of procmaps_find()
 * at mapping edges, mapping_is_anon() and mapping_basename().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/procmaps.h"

/* A sample of a real x86_64 maps file, in address order. */
static const char sample[] =
	"555555554000-555555556000 r--p 00000000 fe:01 1315030                    /usr/bin/sleep\n"
	"555555556000-55555555a000 r-xp 00002000 fe:01 1315030                    /usr/bin/sleep\n"
	"55555555a000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
	"7ffff7d8a000-7ffff7d8d000 rw-p 00000000 00:00 0 \n"
	"7ffff7d8d000-7ffff7db3000 r--p 00000000 fe:01 1319470                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7db3000-7ffff7f08000 r-xp 00026000 fe:01 1319470                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7f9c000-7ffff7f9e000 rw-s 00000000 00:01 4242                       /dev/shm/my shared file (deleted)\n"
	"7ffff7fa0000-7ffff7fa4000 rw-p 00000000 00:00 0                          [anon:glibc: malloc]\n"
	"7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static int
parse_text(const char *text, struct maps *out)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	cr_assert_not_null(f, "fmemopen failed");
	err = procmaps_parse(f, out);
	fclose(f);
	return err;
}

static void
parse_sample(struct maps *m)
{
	cr_assert_eq(parse_text(sample, m), 0);
	cr_assert_eq(m->len, 11);
}

Test(procmaps, parses_a_file_backed_line)
{
	struct maps m;
	const struct mapping *v;

	parse_sample(&m);
	v = &m.v[1];
	cr_assert_eq(v->start, 0x555555556000ull);
	cr_assert_eq(v->end, 0x55555555a000ull);
	cr_assert_eq(v->prot, MAP_R | MAP_X);
	cr_assert_eq(v->offset, 0x2000);
	cr_assert_eq(v->dev_major, 0xfe);
	cr_assert_eq(v->dev_minor, 0x01);
	cr_assert_eq(v->inode, 1315030);
	cr_assert_str_eq(v->path, "/usr/bin/sleep");

	v = &m.v[4];
	cr_assert_eq(v->prot, MAP_R);
	cr_assert_str_eq(v->path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	procmaps_free(&m);
}

Test(procmaps, parses_an_anonymous_line_without_path)
{
	struct maps m;
	const struct mapping *v;

	parse_sample(&m);
	v = &m.v[3];
	cr_assert_eq(v->start, 0x7ffff7d8a000ull);
	cr_assert_eq(v->end, 0x7ffff7d8d000ull);
	cr_assert_eq(v->prot, MAP_R | MAP_W);
	cr_assert_eq(v->inode, 0);
	cr_assert_str_eq(v->path, "");
	procmaps_free(&m);
}

static const char one_anon_line[] =
	"7f0000000000-7f0000001000 rw-p 00000000 00:00 0";

Test(procmaps, parses_an_anonymous_last_line_without_newline)
{
	struct maps m;

	/* no newline at the end of the text */
	cr_assert_eq(parse_text(one_anon_line, &m), 0);
	cr_assert_eq(m.len, 1);
	cr_assert_str_eq(m.v[0].path, "");
	cr_assert_eq(m.v[0].end, 0x7f0000001000ull);
	procmaps_free(&m);
}

Test(procmaps, parses_heap_and_stack_pseudo_paths)
{
	struct maps m;

	parse_sample(&m);
	cr_assert_str_eq(m.v[2].path, "[heap]");
	cr_assert_eq(m.v[2].prot, MAP_R | MAP_W);
	cr_assert_str_eq(m.v[9].path, "[stack]");
	cr_assert_eq(m.v[9].start, 0x7ffffffde000ull);
	cr_assert_str_eq(m.v[7].path, "[anon:glibc: malloc]");
	cr_assert_str_eq(m.v[10].path, "[vsyscall]");
	cr_assert_eq(m.v[10].start, 0xffffffffff600000ull);
	cr_assert_eq(m.v[10].prot, MAP_X);
	procmaps_free(&m);
}

Test(procmaps, keeps_spaces_and_flags_deleted_files)
{
	struct maps m;
	const struct mapping *v;

	parse_sample(&m);
	v = &m.v[6];
	/* the kernel's " (deleted)" suffix is no part of the file name */
	cr_assert_str_eq(v->path, "/dev/shm/my shared file");
	cr_assert_eq(v->deleted, 1);
	cr_assert_eq(v->prot, MAP_R | MAP_W | MAP_SHARED_);
	cr_assert_eq(v->dev_minor, 1);
	cr_assert_eq(v->inode, 4242);
	cr_assert_str_eq(mapping_basename(v), "my shared file");
	for (size_t i = 0; i < m.len; i++)
		if (i != 6)
			cr_assert_eq(m.v[i].deleted, 0, "mapping %zu", i);
	procmaps_free(&m);
}

/* Only a trailing suffix of a file path means deleted. */
static const char deleted_inside[] =
	"7f0000000000-7f0000001000 r--p 00000000 fe:01 7 /tmp/a (deleted) b\n"
	"7f0000001000-7f0000002000 rw-p 00000000 00:00 0 [anon: (deleted)]\n";

Test(procmaps, keeps_deleted_inside_a_file_name)
{
	struct maps m;

	cr_assert_eq(parse_text(deleted_inside, &m), 0);
	cr_assert_eq(m.len, 2);
	cr_assert_str_eq(m.v[0].path, "/tmp/a (deleted) b");
	cr_assert_eq(m.v[0].deleted, 0);
	cr_assert_str_eq(m.v[1].path, "[anon: (deleted)]");
	cr_assert_eq(m.v[1].deleted, 0);
	procmaps_free(&m);
}

Test(procmaps, parses_empty_input)
{
	struct maps m;

	cr_assert_eq(parse_text("", &m), 0);
	cr_assert_eq(m.len, 0);
	cr_assert_null(procmaps_find(&m, 0x1000));
	procmaps_free(&m);
}

static void
check_malformed(const char *text)
{
	struct maps m;

	cr_assert_eq(parse_text(text, &m), -EINVAL, "accepted: %s", text);
	/* nothing left behind */
	cr_assert_eq(m.len, 0);
	cr_assert_null(m.v);
}

Test(procmaps, rejects_malformed_lines)
{
	check_malformed("this is not a maps line\n");
	check_malformed("7f0000000000-7f0000001000 rw-p\n");
	check_malformed("7f0000000000 rw-p 00000000 00:00 0\n");
	check_malformed("7f0000000000-7f0000001000 rw-p 00000000 00:00\n");
	check_malformed("7f0000000000-7f0000001000 rw- 00000000 00:00 0\n");
	/* end before start */
	check_malformed("7f0000001000-7f0000000000 rw-p 00000000 00:00 0\n");
}

Test(procmaps, rejects_a_malformed_line_after_good_ones)
{
	char text[sizeof(sample) + 64];

	snprintf(text, sizeof(text), "%s\ngarbage here\n", sample);
	check_malformed(text);
}

Test(procmaps, find_includes_start_and_excludes_end)
{
	struct maps m;
	const struct mapping *v;

	parse_sample(&m);
	v = procmaps_find(&m, 0x55555555a000ull);
	cr_assert_not_null(v);
	cr_assert_str_eq(v->path, "[heap]");
	v = procmaps_find(&m, 0x55555557b000ull - 1);
	cr_assert_not_null(v);
	cr_assert_str_eq(v->path, "[heap]");
	cr_assert_null(procmaps_find(&m, 0x55555557b000ull), "end is not in");

	/* adjacent mappings: the end of one is the start of the next */
	v = procmaps_find(&m, 0x7ffff7d8d000ull);
	cr_assert_not_null(v);
	cr_assert_eq(v, &m.v[4]);
	v = procmaps_find(&m, 0x7ffff7d8d000ull - 1);
	cr_assert_eq(v, &m.v[3]);
	procmaps_free(&m);
}

Test(procmaps, find_at_the_first_and_last_mapping)
{
	struct maps m;

	parse_sample(&m);
	cr_assert_null(procmaps_find(&m, 0));
	cr_assert_null(procmaps_find(&m, 0x555555554000ull - 1));
	cr_assert_eq(procmaps_find(&m, 0x555555554000ull), &m.v[0]);
	cr_assert_eq(procmaps_find(&m, 0xffffffffff600000ull), &m.v[10]);
	cr_assert_eq(procmaps_find(&m, 0xffffffffff600fffull), &m.v[10]);
	cr_assert_null(procmaps_find(&m, 0xffffffffff601000ull));
	cr_assert_null(procmaps_find(&m, UINT64_MAX));
	/* in a gap between mappings */
	cr_assert_null(procmaps_find(&m, 0x7ffff7f08000ull));
	cr_assert_null(procmaps_find(&m, 0x7ffff7f9bfffull));
	procmaps_free(&m);
}

Test(procmaps, find_every_mapping_by_its_edges)
{
	struct maps m;

	parse_sample(&m);
	for (size_t i = 0; i < m.len; i++) {
		cr_assert_eq(procmaps_find(&m, m.v[i].start), &m.v[i],
			     "start of mapping %zu", i);
		cr_assert_eq(procmaps_find(&m, m.v[i].end - 1), &m.v[i],
			     "last byte of mapping %zu", i);
		if (i + 1 < m.len && m.v[i + 1].start != m.v[i].end)
			cr_assert_null(procmaps_find(&m, m.v[i].end),
				       "end of mapping %zu", i);
	}
	procmaps_free(&m);
}

Test(procmaps, tells_anonymous_mappings)
{
	struct maps m;

	parse_sample(&m);
	cr_assert_eq(mapping_is_anon(&m.v[3]), 1, "no path");
	cr_assert_eq(mapping_is_anon(&m.v[2]), 1, "[heap]");
	cr_assert_eq(mapping_is_anon(&m.v[7]), 1, "[anon:...]");
	cr_assert_eq(mapping_is_anon(&m.v[9]), 0, "[stack]");
	cr_assert_eq(mapping_is_anon(&m.v[8]), 0, "[vdso]");
	cr_assert_eq(mapping_is_anon(&m.v[0]), 0, "a file");
	cr_assert_eq(mapping_is_anon(&m.v[6]), 0, "a deleted file");
	procmaps_free(&m);
}

Test(procmaps, gives_the_basename_of_file_mappings)
{
	struct maps m;

	parse_sample(&m);
	cr_assert_str_eq(mapping_basename(&m.v[0]), "sleep");
	cr_assert_str_eq(mapping_basename(&m.v[4]), "libc.so.6");
	cr_assert_str_eq(mapping_basename(&m.v[3]), "");
	cr_assert_str_eq(mapping_basename(&m.v[2]), "");
	cr_assert_str_eq(mapping_basename(&m.v[9]), "");
	procmaps_free(&m);
}

Test(procmaps, free_leaves_an_empty_table)
{
	struct maps m;

	parse_sample(&m);
	procmaps_free(&m);
	cr_assert_eq(m.len, 0);
	cr_assert_null(m.v);
	procmaps_free(&m); /* twice is harmless */
}

/*
 * procmaps_cut: ranges cut out of anonymous mappings only (rounded out to
 * pages, in any order, overlapping), a mapping split in two, one cut
 * away whole; files kept, or left out with anon_only.
 */
Test(procmaps, cuts_ranges_out_of_anonymous_mappings)
{
	static char anon[] = "", file[] = "/usr/lib/libc.so.6",
		    heap[] = "[heap]";
	struct mapping v[] = {
		{.start = 0x1000, .end = 0x9000, .path = heap},
		{.start = 0x10000, .end = 0x20000, .path = file},
		{.start = 0x20000, .end = 0x30000, .path = anon},
		{.start = 0x40000, .end = 0x42000, .path = anon},
	};
	struct maps in = {v, 4}, out;
	const struct addr_range r[] = {
		{0x24010, 0x25000}, /* rounded out to 0x24000 */
		{0x18000, 0x26800}, /* a file is not cut; ends at 0x27000 */
		{0x2f000, 0x50000}, /* the tail, and all of the last */
		{0x3000, 0x3001},
	};

	cr_assert_eq(procmaps_cut(&in, r, 4, 0, &out), 0);
	cr_assert_eq(out.len, 4);
	cr_expect_eq(out.v[0].start, 0x1000);
	cr_expect_eq(out.v[0].end, 0x3000);
	cr_expect_eq(out.v[1].start, 0x4000);
	cr_expect_eq(out.v[1].end, 0x9000);
	cr_expect_str_eq(out.v[1].path, heap);
	cr_expect_eq(out.v[2].start, 0x10000);
	cr_expect_eq(out.v[2].end, 0x20000);
	cr_expect_str_eq(out.v[2].path, file);
	cr_expect_eq(out.v[3].start, 0x27000);
	cr_expect_eq(out.v[3].end, 0x2f000);
	free(out.v);

	cr_assert_eq(procmaps_cut(&in, r, 4, 1, &out), 0);
	cr_assert_eq(out.len, 3, "the file left out");
	cr_expect_eq(out.v[2].start, 0x27000);
	free(out.v);

	cr_assert_eq(procmaps_cut(&in, NULL, 0, 0, &out), 0);
	cr_expect_eq(out.len, 4, "nothing to cut: a copy");
	free(out.v);
}
