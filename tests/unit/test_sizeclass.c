/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sizeclass.c - the snapshot's size classes (size_class_index and
 * size_class_bounds in snapshot.h): one exact class per chunk size up to
 * 1 KiB, then four classes per power of two; the bounds of a class hold
 * every size that maps to it, consecutive classes neither overlap nor
 * leave a gap for multiples of 16, and no size indexes past SIZE_CLASSES.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "snapshot.h"

Test(sizeclass, gives_each_small_chunk_size_its_own_class)
{
	unsigned prev = 0;

	for (uint64_t cs = 32; cs <= 1024; cs += 16) {
		unsigned idx = size_class_index(cs);
		uint64_t min, max;

		cr_assert_lt(idx, SIZE_CLASSES);
		if (cs > 32)
			cr_assert_eq(idx, prev + 1,
				     "size %llu: class %u after %u",
				     (unsigned long long)cs, idx, prev);
		size_class_bounds(idx, &min, &max);
		cr_assert_eq(min, cs, "size %llu: class %u starts at %llu",
			     (unsigned long long)cs, idx,
			     (unsigned long long)min);
		cr_assert_eq(max, cs, "size %llu: class %u ends at %llu",
			     (unsigned long long)cs, idx,
			     (unsigned long long)max);
		prev = idx;
	}
}

Test(sizeclass, splits_each_power_of_two_above_1k_in_four)
{
	for (unsigned p = 10; p < 64; p++) {
		uint64_t lo = p == 10 ? 1040 : 1ull << p;
		uint64_t hi = (p == 63 ? 0 : 1ull << (p + 1)) - 16; /* wraps */
		unsigned seen[4], n = 0;

		/* every quarter of [2^p, 2^(p+1)), at both of its ends */
		for (unsigned q = 0; q < 4; q++) {
			uint64_t qlo = (1ull << p) + ((uint64_t)q << (p - 2));
			uint64_t qhi = qlo + (1ull << (p - 2)) - 16;
			unsigned a, b;

			if (qlo < lo)
				qlo = lo;
			a = size_class_index(qlo);
			b = size_class_index(qhi);
			cr_assert_eq(a, b,
				     "2^%u quarter %u: %llu in %u, %llu in %u",
				     p, q, (unsigned long long)qlo, a,
				     (unsigned long long)qhi, b);
			if (n)
				cr_assert_eq(a, seen[n - 1] + 1,
					     "2^%u quarter %u", p, q);
			seen[n++] = a;
		}
		cr_assert_eq(size_class_index(lo), seen[0]);
		cr_assert_eq(size_class_index(hi), seen[3]);
		cr_assert_eq(seen[0], 65 + 4 * (p - 10), "first class of 2^%u",
			     p);
	}
}

/* Sizes that matter: around every power of two and every quarter. */
static void
check_contained(uint64_t cs)
{
	unsigned idx;
	uint64_t min, max;

	if (cs < 32 || cs & 15)
		return;
	idx = size_class_index(cs);
	cr_assert_lt(idx, SIZE_CLASSES, "size %llu", (unsigned long long)cs);
	size_class_bounds(idx, &min, &max);
	cr_assert(min <= cs && cs <= max,
		  "size %llu not in its class %u [%llu, %llu]",
		  (unsigned long long)cs, idx, (unsigned long long)min,
		  (unsigned long long)max);
}

Test(sizeclass, bounds_contain_the_size)
{
	for (uint64_t cs = 32; cs <= 1u << 20; cs += 16)
		check_contained(cs);
	for (unsigned p = 10; p < 64; p++)
		for (unsigned q = 0; q < 4; q++) {
			uint64_t qlo = (1ull << p) + ((uint64_t)q << (p - 2));

			check_contained(qlo - 16);
			check_contained(qlo);
			check_contained(qlo + 16);
		}
	check_contained(UINT64_MAX & ~(uint64_t)15);
}

Test(sizeclass, consecutive_classes_meet_without_gap_or_overlap)
{
	for (unsigned idx = 0; idx + 1 < SIZE_CLASSES; idx++) {
		uint64_t min, max, nmin, nmax;

		size_class_bounds(idx, &min, &max);
		size_class_bounds(idx + 1, &nmin, &nmax);
		cr_assert_leq(min, max, "class %u is empty", idx);
		cr_assert_eq(max + 16, nmin,
			     "class %u ends at %llu, class %u starts at %llu",
			     idx, (unsigned long long)max, idx + 1,
			     (unsigned long long)nmin);
	}
}

Test(sizeclass, each_class_maps_back_to_itself)
{
	for (unsigned idx = 0; idx < SIZE_CLASSES; idx++) {
		uint64_t min, max;

		size_class_bounds(idx, &min, &max);
		cr_assert_eq(size_class_index(min), idx, "min of class %u",
			     idx);
		cr_assert_eq(size_class_index(max), idx, "max of class %u",
			     idx);
	}
}

Test(sizeclass, keeps_very_large_sizes_in_range)
{
	uint64_t min, max;

	cr_assert_lt(size_class_index(1ull << 40), SIZE_CLASSES);
	cr_assert_lt(size_class_index(1ull << 63), SIZE_CLASSES);
	cr_assert_lt(size_class_index(UINT64_MAX & ~(uint64_t)15),
		     SIZE_CLASSES);
	cr_assert_lt(size_class_index(UINT64_MAX), SIZE_CLASSES);
	cr_assert_eq(size_class_index(UINT64_MAX & ~(uint64_t)15),
		     SIZE_CLASSES - 1);
	size_class_bounds(SIZE_CLASSES - 1, &min, &max);
	cr_assert_eq(max, UINT64_MAX & ~(uint64_t)15,
		     "the last class ends at %llu", (unsigned long long)max);
}
