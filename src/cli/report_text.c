/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report_text.c - a snapshot for people: totals, arenas, size classes. */
#include <stdlib.h>

#include "report.h"

/* Up to eight sizes in one printf: each call gets its own buffer. */
static const char *
B(uint64_t v)
{
	static char b[8][32];
	static unsigned i;

	i = (i + 1) % 8;
	return human_bytes(v, b[i], sizeof(b[i]));
}

/* Where the resident memory is: malloc's, and each kind outside it. */
static void
memory_text(FILE *f, const struct la_snapshot *snap)
{
	struct la_memory m;
	struct la_outside o;

	la_snapshot_memory(snap, &m, sizeof(m));
	if (!m.measured) {
		fprintf(f, "memory outside malloc: not measured (%s)\n", m.why);
		return;
	}
	fprintf(f,
		"memory by mapping (smaps, read after the pause, in %.1f ms): %s resident in %u mappings\n",
		(double)m.read_ns / 1e6, B(m.rss_bytes), m.mappings);
	fprintf(f, "  %-34s %10s (heap in use %s, free %s)\n", "malloc",
		B(m.malloc_rss_bytes), B(m.malloc_in_use_bytes),
		B(m.malloc_free_bytes));
	for (unsigned k = 0; outside_next(snap, &k, &o); k++) {
		fprintf(f, "  %-34s %10s in %u mapping%s (%s mapped)\n",
			outside_text((enum la_outside_kind)k), B(o.rss_bytes),
			o.mappings, o.mappings == 1 ? "" : "s",
			B(o.size_bytes));
	}
}

/* Python types shown in the text report (JSON has them all). */
#define PY_TYPES_TEXT 10

/* "40,000" */
static const char *
N(uint64_t v)
{
	static char b[8][32];
	static unsigned i;

	i = (i + 1) % 8;
	return human_count(v, b[i], sizeof(b[i]));
}

/*
 * The Python heap, when the target runs CPython: pymalloc's figures, the
 * objects named and the blocks that hold none, whether the pools agreed,
 * and the biggest types.
 */
static void
python_text(FILE *f, const struct la_snapshot *snap)
{
	struct la_python py;
	char ver[32];
	unsigned n;

	la_snapshot_python(snap, &py, sizeof(py));
	if (!py.found)
		return;
	fprintf(f,
		"\npython heap: CPython %s (%s), walked in %.1f ms of the pause, %s read\n",
		python_version_text(&py, ver, sizeof(ver)),
		py.path[0] ? py.path : "?", (double)py.walk_ns / 1e6,
		B(py.bytes_read));
	fprintf(f,
		"  pymalloc  %10s in %s blocks in use; %s pools of %s (%s used, %s full, %s empty) in %s arenas\n",
		B(py.in_use_bytes), N(py.blocks), N(py.pools), B(py.pool_size),
		N(py.pools_used), N(py.pools_full), N(py.pools_empty),
		N(py.arenas));
	if (py.types_available)
		fprintf(f,
			"  objects   %10s in %s objects named; %s blocks in use hold no live object (%s)\n",
			B(py.object_bytes), N(py.objects), N(py.unknown_blocks),
			B(py.unknown_bytes));
	else
		fprintf(f,
			"  objects   not named: the object header of Python %u.%u is not known\n",
			py.major, py.minor);
	if (!py.consistent)
		fprintf(f, "  APPROXIMATE: %s (%s pools left out)\n", py.why,
			N(py.bad_pools));
	n = la_snapshot_python_type_count(snap);
	if (!py.types_available || !n)
		return;
	fprintf(f, "\n%s python types by bytes:\n",
		n > PY_TYPES_TEXT ? "top" : "all");
	fprintf(f, "  %-32s %12s %10s  %s\n", "type", "objects", "bytes", "in");
	for (unsigned i = 0; i < n && i < PY_TYPES_TEXT; i++) {
		struct la_python_type t;
		const char *in;

		if (la_snapshot_python_type(snap, i, &t, sizeof(t)))
			continue;
		in = la_python_in_name(t.in);
		fprintf(f, "  %-32s %12s %10s  %s\n", t.name, N(t.objects),
			B(t.bytes), in ? in : "?");
	}
	if (n > PY_TYPES_TEXT)
		fprintf(f, "  ... and %u more types (all of them in --json)\n",
			n - PY_TYPES_TEXT);
}

void
report_text_snapshot(FILE *f, const struct la_snapshot *snap, const char *comm,
		     unsigned top)
{
	struct la_snapshot_info info;
	struct la_layout_info lay;
	struct la_totals t;
	struct la_mallinfo mi;
	struct la_size_class *cls;
	unsigned n;

	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_layout(snap, &lay, sizeof(lay));
	la_snapshot_totals(snap, &t, sizeof(t));
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));

	fprintf(f, "process %d (%s), glibc %s%s, layout from %s\n",
		(int)info.pid, comm[0] ? comm : "?", lay.glibc_version,
		lay.static_binary ? " (static)" : "",
		lay.source == LA_LAYOUT_DWARF ? "debug info" : "signatures");
	fprintf(f, "paused %.2f ms: %u thread%s stopped, %s read%s\n",
		(double)info.pause_ns / 1e6, t.threads,
		t.threads == 1 ? "" : "s", B(info.bytes_read),
		info.attempts > 1 ? " (after retries)" : "");
	if (!info.consistent)
		fprintf(f, "APPROXIMATE: the heap was changing (%s)\n",
			info.inconsistency);
	/*
	 * Held from the system, as everywhere (check's summary, JSON's
	 * system_bytes): the arenas' memory and the mmapped chunks, which is
	 * in use + free + metadata. In use counts the mmapped chunks too.
	 */
	fprintf(f,
		"\nheap: %s held from the system: %s in %u arena%s (%u heap%s), %s in %llu mmapped chunk%s\n",
		B(t.system_bytes), B(mi.arena), t.arenas,
		t.arenas == 1 ? "" : "s", t.heaps, t.heaps == 1 ? "" : "s",
		B(mi.hblkhd), (unsigned long long)mi.hblks,
		mi.hblks == 1 ? "" : "s");
	fprintf(f, "  in use    %10s in %llu chunks (%s of it mmapped)\n",
		B(t.counts.in_use_bytes),
		(unsigned long long)t.counts.in_use_chunks,
		B(t.counts.mmapped_bytes));
	fprintf(f,
		"  free      %10s: tcache %s, fastbins %s, bins %s, top %s\n",
		B(t.free_bytes), B(t.counts.tcache_bytes),
		B(t.counts.fastbin_bytes), B(t.counts.bin_bytes),
		B(t.counts.top_bytes));
	fprintf(f,
		"  metadata  %10s (tcache structs, fenceposts, heap headers)\n",
		B(t.counts.meta_bytes));
	fprintf(f, "process: RSS %s, peak %s\n", B(info.rss_bytes),
		B(info.hwm_bytes));
	memory_text(f, snap);
	python_text(f, snap);

	fprintf(f, "\n%-18s %5s %7s %10s %10s %10s\n", "arena", "heaps",
		"threads", "system", "in use", "free");
	for (unsigned i = 0; i < la_snapshot_arena_count(snap); i++) {
		struct la_arena_stats a;
		char name[24];
		uint64_t fr;

		if (la_snapshot_arena(snap, i, &a, sizeof(a)))
			continue;
		fr = a.counts.tcache_bytes + a.counts.fastbin_bytes +
		     a.counts.bin_bytes + a.counts.top_bytes;
		snprintf(name, sizeof(name), a.is_main ? "main" : "%#llx",
			 (unsigned long long)a.addr);
		fprintf(f, "%-18s %5u %7u %10s %10s %10s%s\n", name, a.heaps,
			a.threads, B(a.system_mem), B(a.counts.in_use_bytes),
			B(fr), a.consistent ? "" : "  (approximate)");
	}

	n = report_classes(snap, top, &cls);
	fprintf(f, "\n%s size classes by bytes in use:\n", top ? "top" : "all");
	fprintf(f, "  %-21s %10s %9s %10s %9s\n", "chunk size", "in use",
		"chunks", "free", "chunks");
	for (unsigned i = 0; i < n; i++) {
		const struct la_counts *c = &cls[i].counts;
		char range[32];

		if (cls[i].chunk_size_min == cls[i].chunk_size_max)
			snprintf(range, sizeof(range), "%llu",
				 (unsigned long long)cls[i].chunk_size_min);
		else
			snprintf(range, sizeof(range), "%llu-%llu",
				 (unsigned long long)cls[i].chunk_size_min,
				 (unsigned long long)cls[i].chunk_size_max);
		fprintf(f, "  %-21s %10s %9llu %10s %9llu\n", range,
			B(c->in_use_bytes),
			(unsigned long long)c->in_use_chunks,
			B(c->tcache_bytes + c->fastbin_bytes + c->bin_bytes),
			(unsigned long long)(c->tcache_chunks +
					     c->fastbin_chunks +
					     c->bin_chunks));
	}
	free(cls);
	fprintf(f,
		"\nmallinfo2: arena=%llu ordblks=%llu smblks=%llu hblks=%llu hblkhd=%llu usmblks=%llu fsmblks=%llu uordblks=%llu fordblks=%llu keepcost=%llu\n",
		(unsigned long long)mi.arena, (unsigned long long)mi.ordblks,
		(unsigned long long)mi.smblks, (unsigned long long)mi.hblks,
		(unsigned long long)mi.hblkhd, (unsigned long long)mi.usmblks,
		(unsigned long long)mi.fsmblks, (unsigned long long)mi.uordblks,
		(unsigned long long)mi.fordblks,
		(unsigned long long)mi.keepcost);
}
