/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_memory.c - the census of the whole process without a process: the
 * smaps parser on captured text (every field line the kernel prints, the
 * ones kept and the ones skipped; malformed input refused, nothing left
 * allocated), and memory_classify() on a hand-made process whose every
 * mapping is one case: malloc's brk heap (a range ending mid-page), a
 * thread heap's reservation, a mapping partly malloc's (merged by the
 * kernel with an mmapped chunk), a thread stack found by its stack
 * pointer, [stack], shared mappings (the 's' flag, /dev/shm mapped
 * privately), anonymous memory, files, [vdso], [vsyscall]. The parts
 * must add up to the Rss read.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "proc/headroom.h"
#include "proc/smaps.h"

/* One mapping as Linux 6.18 prints it (fs/proc/task_mmu.c show_smap()). */
static const char full[] =
	"55555555a000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
	"Size:                132 kB\n"
	"KernelPageSize:        4 kB\n"
	"MMUPageSize:           4 kB\n"
	"Rss:                 100 kB\n"
	"Pss:                 100 kB\n"
	"Pss_Dirty:           100 kB\n"
	"Shared_Clean:          4 kB\n"
	"Shared_Dirty:          8 kB\n"
	"Private_Clean:         0 kB\n"
	"Private_Dirty:        88 kB\n"
	"Referenced:          100 kB\n"
	"Anonymous:            96 kB\n"
	"KSM:                   0 kB\n"
	"LazyFree:              0 kB\n"
	"AnonHugePages:         0 kB\n"
	"ShmemPmdMapped:        0 kB\n"
	"FilePmdMapped:         0 kB\n"
	"Shared_Hugetlb:        0 kB\n"
	"Private_Hugetlb:       0 kB\n"
	"Swap:                  0 kB\n"
	"SwapPss:               0 kB\n"
	"Locked:                0 kB\n"
	"THPeligible:           0\n"
	"VmFlags: rd wr mr mw me ac \n";

#define M(range, perms, path, size, rss)                                      \
	range " " perms " 00000000 00:00 0 " path "\nSize: " #size               \
	      " kB\nRss: " #rss " kB\nAnonymous: 0 kB\nVmFlags: rd wr mr mw me \n"

/* The process of the classification tests; its Rss adds up to 1356 kB. */
static const char process[] =
	M("555555554000-555555556000", "r--p", "/usr/bin/prog", 8, 8)
	M("55555555a000-55555557b000", "rw-p", "[heap]", 132, 100)
	M("7ffff0000000-7ffff0021000", "rw-p", "", 132, 60)
	M("7ffff0021000-7ffff4000000", "---p", "", 65404, 0)
	M("7ffff7000000-7ffff7100000", "rw-p", "", 1024, 1024)
	M("7ffff7200000-7ffff7201000", "---p", "", 4, 0)
	M("7ffff7201000-7ffff7a01000", "rw-p", "", 8192, 40)
	M("7ffff7b00000-7ffff7b10000", "rw-s", "/memfd:ring (deleted)", 64, 64)
	M("7ffff7c00000-7ffff7c04000", "rw-p", "/dev/shm/seg", 16, 8)
	M("7ffff7c10000-7ffff7c20000", "rw-p", "", 64, 32)
	M("7ffff7fc5000-7ffff7fc7000", "r-xp", "[vdso]", 8, 4)
	M("7ffffffde000-7ffffffff000", "rw-p", "[stack]", 132, 16)
	M("ffffffffff600000-ffffffffff601000", "--xp", "[vsyscall]", 4, 0);

#define KB 1024ull

static int
parse(const char *text, struct smaps *out)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	cr_assert_not_null(f, "fmemopen failed");
	err = smaps_parse(f, out);
	fclose(f);
	return err;
}

Test(smaps, keeps_the_fields_of_a_mapping_in_bytes)
{
	struct smaps sm;

	cr_assert_eq(parse(full, &sm), 0);
	cr_assert_eq(sm.len, 1);
	cr_expect_eq(sm.v[0].start, 0x55555555a000ull);
	cr_expect_eq(sm.v[0].end, 0x55555557b000ull);
	cr_expect_str_eq(sm.v[0].path, "[heap]");
	cr_expect_eq(sm.v[0].size, 132 * KB);
	cr_expect_eq(sm.v[0].rss, 100 * KB);
	cr_expect_eq(sm.v[0].shared_clean, 4 * KB);
	cr_expect_eq(sm.v[0].shared_dirty, 8 * KB);
	cr_expect_eq(sm.v[0].anonymous, 96 * KB);
	smaps_free(&sm);
}

Test(smaps, reads_every_mapping_with_its_flags)
{
	struct smaps sm;

	cr_assert_eq(parse(process, &sm), 0);
	cr_assert_eq(sm.len, 13);
	/* the kernel's " (deleted)" is stripped, as in maps */
	cr_expect_str_eq(sm.v[7].path, "/memfd:ring");
	cr_expect_str_eq(sm.v[9].path, "");
	cr_expect_neq(sm.v[7].prot & 8 /* MAP_SHARED_ */, 0);
	cr_expect_eq(sm.v[8].prot & 8, 0);
	cr_expect_eq(sm.v[12].start, 0xffffffffff600000ull);
	smaps_free(&sm);
}

Test(smaps, refuses_malformed_text)
{
	struct smaps sm;

	/* no Rss line: its memory would go uncounted */
	cr_expect_eq(parse("1000-2000 rw-p 00000000 00:00 0\nSize: 4 kB\n"
			   "2000-3000 rw-p 00000000 00:00 0\nRss: 4 kB\n",
			   &sm),
		     -EINVAL);
	cr_expect_eq(parse("1000-2000 rw-p 00000000 00:00 0\nSize: 4 kB\n",
			   &sm),
		     -EINVAL);
	cr_expect_eq(parse("1000-2000 rw-p 00000000 00:00 0\nRss: x kB\n",
			   &sm),
		     -EINVAL);
	cr_expect_eq(parse("1000-2000 rw-p 00000000 00:00 0\nRss: 4 MB\n",
			   &sm),
		     -EINVAL);
	cr_expect_eq(parse("Rss: 4 kB\n", &sm), -EINVAL);
	cr_expect_eq(sm.len, 0);
	cr_expect_null(sm.v);
	/* nothing at all is a process without mappings */
	cr_expect_eq(parse("", &sm), 0);
	cr_expect_eq(sm.len, 0);
	smaps_free(&sm);
}

/* malloc's ranges: brk heap (ends mid-page), a thread heap, a chunk */
static const struct addr_range ranges[] = {
	{0x7ffff7000000ull, 0x7ffff7080000ull}, /* mmapped chunk, 512 KiB */
	{0x55555555a010ull, 0x55555557a123ull}, /* sbrk_base .. top end */
	{0x7ffff0000000ull, 0x7ffff4000000ull}, /* heap_max reservation */
};
/* the main thread's and another thread's stack pointers */
static const uint64_t sps[] = {0x7fffffffe000ull, 0x7ffff7a00000ull - 0x230};

struct present_log {
	int fail;
	uint64_t bytes;
	unsigned calls;
	uint64_t lo, hi;
};

static int
fake_present(void *arg, uint64_t lo, uint64_t hi, uint64_t *bytes)
{
	struct present_log *pl = arg;

	pl->calls++;
	pl->lo = lo;
	pl->hi = hi;
	*bytes = pl->bytes;
	return pl->fail ? -EPERM : 0;
}

static void
classify(struct present_log *pl, struct la_memory *m,
	 struct la_outside out[LA_OUTSIDE_KIND_COUNT])
{
	struct smaps sm;

	struct mem_owners own = {ranges, 3, NULL, 0};

	cr_assert_eq(parse(process, &sm), 0);
	memset(m, 0, sizeof(*m));
	cr_assert_eq(memory_classify(&sm, &own, sps, 2, fake_present, pl, m,
				     out),
		     0);
	smaps_free(&sm);
}

static uint64_t
parts(const struct la_memory *m, const struct la_outside *out)
{
	uint64_t sum = m->malloc_rss_bytes;

	for (unsigned k = 0; k < LA_OUTSIDE_KIND_COUNT; k++)
		sum += out[k].rss_bytes;
	return sum;
}

Test(memory, gives_every_mapping_to_malloc_or_one_kind)
{
	struct present_log pl = {.bytes = 300 * KB};
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;

	classify(&pl, &m, out);
	cr_expect_eq(m.measured, 1);
	cr_expect_eq(m.mappings, 13);
	cr_expect_eq(m.rss_bytes, 1356 * KB);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
	cr_expect_eq(m.outside_rss_bytes, m.rss_bytes - m.malloc_rss_bytes);
	/* [heap] 100 + thread heap 60 + 0 + the chunk's present 300 */
	cr_expect_eq(m.malloc_rss_bytes, 460 * KB);
	cr_expect_eq(out[LA_OUTSIDE_THREAD_STACKS].rss_bytes, 56 * KB);
	cr_expect_eq(out[LA_OUTSIDE_THREAD_STACKS].mappings, 2);
	cr_expect_eq(out[LA_OUTSIDE_THREAD_STACKS].size_bytes,
		     (8192 + 132) * KB);
	cr_expect_eq(out[LA_OUTSIDE_SHARED].rss_bytes, 72 * KB);
	cr_expect_eq(out[LA_OUTSIDE_SHARED].mappings, 2);
	/* the merged mapping's other 724, the guard page, 32 */
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes, 756 * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].mappings, 3);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].size_bytes,
		     (512 + 4 + 64) * KB);
	cr_expect_eq(out[LA_OUTSIDE_FILE].rss_bytes, 12 * KB);
	cr_expect_eq(out[LA_OUTSIDE_FILE].mappings, 3);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].rss_bytes, 0);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].mappings, 0);
}

Test(memory, asks_pagemap_only_for_the_malloc_part_of_a_merged_mapping)
{
	struct present_log pl = {.bytes = 300 * KB};
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;

	classify(&pl, &m, out);
	cr_expect_eq(pl.calls, 1);
	cr_expect_eq(pl.lo, 0x7ffff7000000ull);
	cr_expect_eq(pl.hi, 0x7ffff7080000ull);
}

Test(memory, splits_in_proportion_without_pagemap)
{
	struct present_log pl = {.fail = 1};
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;

	classify(&pl, &m, out);
	cr_expect_eq(m.malloc_rss_bytes, (160 + 512) * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes, (512 + 32) * KB);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
}

Test(memory, never_gives_malloc_more_than_the_mapping_holds)
{
	/* the target ran between the two reads: pagemap saw more */
	struct present_log pl = {.bytes = 4096 * KB};
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;

	classify(&pl, &m, out);
	cr_expect_eq(m.malloc_rss_bytes, (160 + 1024) * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes, 32 * KB);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
}

Test(memory, without_malloc_ranges_the_brk_heap_is_anonymous)
{
	struct smaps sm;
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;

	cr_assert_eq(parse(process, &sm), 0);
	cr_assert_eq(memory_classify(&sm, &(struct mem_owners){0}, NULL, 0,
				     NULL, NULL, &m, out),
		     0);
	cr_expect_eq(m.malloc_rss_bytes, 0);
	/* [stack] still is one; the other stack is anonymous memory now */
	cr_expect_eq(out[LA_OUTSIDE_THREAD_STACKS].rss_bytes, 16 * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes,
		     (100 + 60 + 1024 + 40 + 32) * KB);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
	smaps_free(&sm);
}

Test(memory, names_its_kinds)
{
	cr_expect_str_eq(la_outside_kind_name(LA_OUTSIDE_THREAD_STACKS),
			 "thread_stacks");
	cr_expect_str_eq(la_outside_kind_name(LA_OUTSIDE_PYTHON_ARENAS),
			 "python_arenas");
	cr_expect_str_eq(la_outside_kind_name(LA_OUTSIDE_ANONYMOUS),
			 "anonymous");
	cr_expect_str_eq(la_outside_kind_name(LA_OUTSIDE_FILE), "file");
	cr_expect_str_eq(la_outside_kind_name(LA_OUTSIDE_SHARED), "shared");
	cr_expect_null(la_outside_kind_name(LA_OUTSIDE_KIND_COUNT));
}

/*
 * pymalloc's arenas: the upper half of the merged mapping (beside the
 * mmapped chunk) and all of a 64 KiB mapping; each part gets the pages
 * present in it, never more than its mapping's Rss left.
 */
Test(memory, gives_the_python_arenas_their_own_kind)
{
	static const struct addr_range py[] = {
		{0x7ffff70c0000ull, 0x7ffff7100000ull},
		{0x7ffff7c10000ull, 0x7ffff7c20000ull},
	};
	struct mem_owners own = {ranges, 3, py, 2};
	struct present_log pl = {.bytes = 200 * KB};
	struct la_outside out[LA_OUTSIDE_KIND_COUNT];
	struct la_memory m;
	struct smaps sm;

	cr_assert_eq(parse(process, &sm), 0);
	cr_assert_eq(memory_classify(&sm, &own, sps, 2, fake_present, &pl, &m,
				     out),
		     0);
	smaps_free(&sm);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
	cr_expect_eq(m.malloc_rss_bytes, (160 + 200) * KB);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].rss_bytes, (200 + 32) * KB);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].size_bytes, (256 + 64) * KB);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].mappings, 2);
	/* what is left of the merged mapping, and the guard page */
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes, (1024 - 400) * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].size_bytes, (256 + 4) * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].mappings, 2);
	cr_expect_eq(pl.calls, 2, "pagemap for the two parts of one mapping");

	/* pagemap saw more than smaps: the arenas get what malloc left */
	pl.bytes = 900 * KB;
	cr_assert_eq(parse(process, &sm), 0);
	cr_assert_eq(memory_classify(&sm, &own, sps, 2, fake_present, &pl, &m,
				     out),
		     0);
	smaps_free(&sm);
	cr_expect_eq(parts(&m, out), m.rss_bytes);
	cr_expect_eq(out[LA_OUTSIDE_PYTHON_ARENAS].rss_bytes,
		     (1024 - 900 + 32) * KB);
	cr_expect_eq(out[LA_OUTSIDE_ANONYMOUS].rss_bytes, 0);
}

/* ---- headroom: what a leak's rate is divided into --------------------- */

Test(headroom, reads_memavailable)
{
	uint64_t b;

	cr_expect_eq(headroom_meminfo("MemTotal:       24571252 kB\n"
				      "MemFree:         1000 kB\n"
				      "MemAvailable:   24073180 kB\n",
				      &b),
		     0);
	cr_expect_eq(b, 24073180ull * 1024);
	cr_expect_eq(headroom_meminfo("MemTotal: 1 kB\n", &b), -ENOENT);
	/* a field whose name only ends so is not it */
	cr_expect_eq(headroom_meminfo("XMemAvailable: 5 kB\n", &b), -ENOENT);
}

Test(headroom, finds_the_memory_cgroup_v1_before_v2)
{
	char path[256];
	int v1 = -1;

	cr_assert_eq(headroom_cgroup_path("0::/user.slice/a.scope\n", path,
					  sizeof(path), &v1),
		     0);
	cr_expect_str_eq(path, "/user.slice/a.scope");
	cr_expect_eq(v1, 0);
	cr_assert_eq(headroom_cgroup_path("9:name=systemd:/\n"
					  "4:cpu,memory:/box/7\n"
					  "1:cpu:/\n0::/\n",
					  path, sizeof(path), &v1),
		     0);
	cr_expect_str_eq(path, "/box/7");
	cr_expect_eq(v1, 1);
	cr_expect_eq(headroom_cgroup_path("1:cpu:/\n2:memoryx:/a\n", path,
					  sizeof(path), &v1),
		     -ENOENT);
}

Test(headroom, reads_limits_and_no_limit)
{
	uint64_t b;

	cr_expect_eq(headroom_limit_value("max\n", &b), 0);
	cr_expect_eq(b, UINT64_MAX);
	cr_expect_eq(headroom_limit_value("9223372036854771712\n", &b), 0);
	cr_expect_eq(b, UINT64_MAX, "v1's no limit");
	cr_expect_eq(headroom_limit_value("536870912\n", &b), 0);
	cr_expect_eq(b, 536870912);
	cr_expect_eq(headroom_limit_value("12x\n", &b), -EINVAL);
	cr_expect_eq(headroom_limit_value("", &b), -EINVAL);
}

/* A live process: the box's MemAvailable at least, never more. */
Test(headroom, reads_a_live_process)
{
	struct la_headroom h;

	headroom_read(getpid(), &h);
	cr_expect_neq(h.kind, LA_HEADROOM_UNKNOWN);
	cr_expect_gt(h.mem_available_bytes, 0);
	cr_expect_leq(h.headroom_bytes, h.mem_available_bytes);
	if (h.kind == LA_HEADROOM_CGROUP)
		cr_expect_leq(h.cgroup_used_bytes + h.headroom_bytes,
			      h.cgroup_limit_bytes);
}
