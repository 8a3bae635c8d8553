/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report_json.c - a snapshot for machines: schema "leakattach.snapshot/1",
 * documented in doc/leakattach.1 (JSON OUTPUT). Fields are only ever
 * added within a schema version.
 */
#include <stdlib.h>

#include "json.h"
#include "report.h"

static void
counts(struct json *j, const struct la_counts *c)
{
	json_u64(j, "in_use_chunks", c->in_use_chunks);
	json_u64(j, "in_use_bytes", c->in_use_bytes);
	json_u64(j, "free_chunks",
		 c->tcache_chunks + c->fastbin_chunks + c->bin_chunks);
	json_u64(j, "free_bytes",
		 c->tcache_bytes + c->fastbin_bytes + c->bin_bytes +
			 c->top_bytes);
	json_u64(j, "mmapped_chunks", c->mmapped_chunks);
	json_u64(j, "mmapped_bytes", c->mmapped_bytes);
	json_u64(j, "tcache_chunks", c->tcache_chunks);
	json_u64(j, "tcache_bytes", c->tcache_bytes);
	json_u64(j, "fastbin_chunks", c->fastbin_chunks);
	json_u64(j, "fastbin_bytes", c->fastbin_bytes);
	json_u64(j, "bin_chunks", c->bin_chunks);
	json_u64(j, "bin_bytes", c->bin_bytes);
	json_u64(j, "top_bytes", c->top_bytes);
	json_u64(j, "meta_bytes", c->meta_bytes);
}

/*
 * The census of the whole process: figures only when smaps was read, so
 * that no 0 passes for a measurement. The snapshot's and the check's
 * documents both carry it, written here alone so that they cannot drift.
 */
/* How much more the process can take, and what limits it. */
static void
headroom_json(struct json *j, const struct la_snapshot *snap)
{
	struct la_headroom h;

	la_snapshot_headroom(snap, &h, sizeof(h));
	json_object(j, "headroom");
	json_string(j, "limit",
		    h.kind == LA_HEADROOM_CGROUP	 ? "cgroup"
		    : h.kind == LA_HEADROOM_MEMAVAILABLE ? "MemAvailable"
							 : "unknown");
	if (h.kind != LA_HEADROOM_UNKNOWN)
		json_u64(j, "headroom_bytes", h.headroom_bytes);
	if (h.cgroup_limit_bytes != UINT64_MAX) {
		json_u64(j, "cgroup_limit_bytes", h.cgroup_limit_bytes);
		json_u64(j, "cgroup_used_bytes", h.cgroup_used_bytes);
	}
	if (h.mem_available_bytes)
		json_u64(j, "mem_available_bytes", h.mem_available_bytes);
	json_end_object(j);
}

void
report_memory_json(struct json *j, const struct la_snapshot *snap)
{
	struct la_memory m;
	struct la_outside o;

	la_snapshot_memory(snap, &m, sizeof(m));
	json_object(j, "memory");
	json_bool(j, "measured", m.measured);
	if (!m.measured)
		json_string(j, "why", m.why);
	json_u64(j, "malloc_in_use_bytes", m.malloc_in_use_bytes);
	json_u64(j, "malloc_free_bytes", m.malloc_free_bytes);
	if (m.measured) {
		json_u64(j, "rss_bytes", m.rss_bytes);
		json_u64(j, "malloc_rss_bytes", m.malloc_rss_bytes);
		json_u64(j, "outside_malloc_rss_bytes", m.outside_rss_bytes);
		json_u64(j, "mappings", m.mappings);
		json_double(j, "read_ms", (double)m.read_ns / 1e6);
		json_array(j, "outside_malloc");
		for (unsigned k = 0; outside_next(snap, &k, &o); k++) {
			json_object(j, NULL);
			json_string(
				j, "kind",
				la_outside_kind_name((enum la_outside_kind)k));
			json_u64(j, "rss_bytes", o.rss_bytes);
			json_u64(j, "size_bytes", o.size_bytes);
			json_u64(j, "mappings", o.mappings);
			json_end_object(j);
		}
		json_end_array(j);
	}
	headroom_json(j, snap);
	json_end_object(j);
}

/*
 * The Python heap, when the snapshot found a CPython; no "python" at all
 * otherwise, so that the document of any other program is as it was. The
 * snapshot's and the check's documents both carry it.
 */
void
report_python_json(struct json *j, const struct la_snapshot *snap)
{
	struct la_python py;
	char ver[32];
	unsigned n;

	la_snapshot_python(snap, &py, sizeof(py));
	if (!py.found)
		return;
	json_object(j, "python");
	json_string(j, "version", python_version_text(&py, ver, sizeof(ver)));
	json_string(j, "path", py.path);
	json_bool(j, "consistent", py.consistent);
	if (!py.consistent) {
		json_string(j, "why", py.why);
		json_u64(j, "bad_pools", py.bad_pools);
	}
	json_bool(j, "types_available", py.types_available);
	json_double(j, "walk_ms", (double)py.walk_ns / 1e6);
	json_u64(j, "bytes_read", py.bytes_read);
	json_object(j, "pymalloc");
	json_u64(j, "arenas", py.arenas);
	json_u64(j, "pools", py.pools);
	json_u64(j, "pool_size", py.pool_size);
	json_u64(j, "pools_used", py.pools_used);
	json_u64(j, "pools_full", py.pools_full);
	json_u64(j, "pools_empty", py.pools_empty);
	json_u64(j, "in_use_bytes", py.in_use_bytes);
	json_u64(j, "blocks", py.blocks);
	json_array(j, "size_classes");
	n = la_snapshot_python_class_count(snap);
	for (unsigned i = 0; i < n; i++) {
		struct la_python_class c;

		if (la_snapshot_python_class(snap, i, &c, sizeof(c)))
			continue;
		json_object(j, NULL);
		json_u64(j, "block_size", c.block_size);
		json_u64(j, "pools", c.pools);
		json_u64(j, "blocks", c.blocks);
		json_u64(j, "bytes", c.bytes);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
	/* the objects, named by type: figures only when they were named */
	if (py.types_available) {
		json_u64(j, "objects", py.objects);
		json_u64(j, "object_bytes", py.object_bytes);
		json_u64(j, "unknown_blocks", py.unknown_blocks);
		json_u64(j, "unknown_bytes", py.unknown_bytes);
	}
	json_array(j, "types");
	n = py.types_available ? la_snapshot_python_type_count(snap) : 0;
	for (unsigned i = 0; i < n; i++) {
		struct la_python_type t;
		const char *in;

		if (la_snapshot_python_type(snap, i, &t, sizeof(t)))
			continue;
		in = la_python_in_name(t.in);
		json_object(j, NULL);
		json_string(j, "name", t.name);
		json_u64(j, "objects", t.objects);
		json_u64(j, "bytes", t.bytes);
		json_string(j, "in", in ? in : "?");
		json_u64(j, "pymalloc_objects", t.pymalloc_objects);
		json_u64(j, "malloc_objects", t.malloc_objects);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

void
report_json_snapshot(FILE *f, const struct la_snapshot *snap, unsigned top)
{
	struct la_snapshot_info info;
	struct la_layout_info lay;
	struct la_totals t;
	struct la_mallinfo mi;
	struct la_size_class *cls;
	struct json j;
	unsigned n;

	la_snapshot_info(snap, &info, sizeof(info));
	la_snapshot_layout(snap, &lay, sizeof(lay));
	la_snapshot_totals(snap, &t, sizeof(t));
	la_snapshot_mallinfo(snap, &mi, sizeof(mi));

	json_begin(&j, f);
	json_object(&j, NULL);
	json_string(&j, "schema", "leakattach.snapshot/1");
	json_u64(&j, "pid", (uint64_t)info.pid);
	json_i64(&j, "time_unix_ms", info.time_unix_ns / 1000000);
	json_bool(&j, "consistent", info.consistent);
	if (!info.consistent)
		json_string(&j, "inconsistency", info.inconsistency);
	json_u64(&j, "attempts", info.attempts);
	json_u64(&j, "settle_rounds", info.settle_rounds);
	json_double(&j, "pause_ms", (double)info.pause_ns / 1e6);
	json_double(&j, "stop_ms", (double)info.stop_ns / 1e6);
	json_double(&j, "walk_ms", (double)info.walk_ns / 1e6);
	json_u64(&j, "bytes_read", info.bytes_read);

	json_object(&j, "layout");
	json_string(&j, "glibc_version", lay.glibc_version);
	json_string(&j, "source",
		    lay.source == LA_LAYOUT_DWARF ? "dwarf" : "signature");
	json_bool(&j, "static", lay.static_binary);
	json_string(&j, "libc", lay.libc_path);
	json_end_object(&j);

	json_object(&j, "mallinfo");
	json_u64(&j, "arena", mi.arena);
	json_u64(&j, "ordblks", mi.ordblks);
	json_u64(&j, "smblks", mi.smblks);
	json_u64(&j, "hblks", mi.hblks);
	json_u64(&j, "hblkhd", mi.hblkhd);
	json_u64(&j, "usmblks", mi.usmblks);
	json_u64(&j, "fsmblks", mi.fsmblks);
	json_u64(&j, "uordblks", mi.uordblks);
	json_u64(&j, "fordblks", mi.fordblks);
	json_u64(&j, "keepcost", mi.keepcost);
	json_end_object(&j);

	json_object(&j, "totals");
	counts(&j, &t.counts);
	json_u64(&j, "system_bytes", t.system_bytes);
	json_u64(&j, "arenas", t.arenas);
	json_u64(&j, "heaps", t.heaps);
	json_u64(&j, "threads", t.threads);
	json_end_object(&j);

	json_array(&j, "arenas");
	for (unsigned i = 0; i < la_snapshot_arena_count(snap); i++) {
		struct la_arena_stats a;
		char addr[32];

		if (la_snapshot_arena(snap, i, &a, sizeof(a)))
			continue;
		snprintf(addr, sizeof(addr), "%#llx",
			 (unsigned long long)a.addr);
		json_object(&j, NULL);
		json_string(&j, "addr", addr);
		json_bool(&j, "main", a.is_main);
		json_bool(&j, "consistent", a.consistent);
		json_u64(&j, "heaps", a.heaps);
		json_u64(&j, "threads", a.threads);
		json_u64(&j, "system_mem", a.system_mem);
		counts(&j, &a.counts);
		json_end_object(&j);
	}
	json_end_array(&j);

	n = report_classes(snap, top, &cls);
	json_array(&j, "size_classes");
	for (unsigned i = 0; i < n; i++) {
		json_object(&j, NULL);
		json_u64(&j, "chunk_size_min", cls[i].chunk_size_min);
		json_u64(&j, "chunk_size_max", cls[i].chunk_size_max);
		counts(&j, &cls[i].counts);
		json_end_object(&j);
	}
	json_end_array(&j);
	free(cls);

	json_object(&j, "process");
	json_u64(&j, "rss_bytes", info.rss_bytes);
	json_u64(&j, "hwm_bytes", info.hwm_bytes);
	json_end_object(&j);
	report_memory_json(&j, snap);
	report_python_json(&j, snap);
	json_end_object(&j);
	json_finish(&j);
}
