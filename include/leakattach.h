/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * leakattach.h - the whole public API of libleakattach.
 *
 * libleakattach takes exact snapshots of the glibc malloc heap of a running
 * Linux process from the outside: it stops every thread for a moment with
 * ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT), walks every arena, heap, chunk,
 * bin, fastbin, tcache and mmapped chunk, and lets the target run again.
 *
 * Conventions:
 *  - Fallible functions return 0 on success, a negative errno value for an
 *    operating-system failure (-ESRCH: the target is gone, -EPERM: no ptrace
 *    permission) or a negative LA_E* domain code (see LA_ERRORS below).
 *    After a failure, la_errmsg() holds one sentence that explains it and
 *    says what to do.
 *  - _open/_close hold OS resources, _new/_free only memory; every
 *    destructor accepts NULL.
 *  - The library never prints, never exits and never installs signal
 *    handlers. Diagnostics go to the log callback (la_set_log_fn).
 *  - Between calls the target runs freely: no ptrace stop or attachment is
 *    held by an open session. A snapshot stops the target only while it is
 *    being taken.
 *  - Structs may grow at their end in later versions (version 0 of the
 *    library keeps this ABI). An options struct (..._opts, la_rules)
 *    carries its size in .sz (LA_OPTS() sets it): an older caller's
 *    smaller struct gets the defaults for what it lacks, and a newer
 *    caller's struct is refused with -EINVAL if it sets a field this
 *    library does not know. A function that fills an output struct
 *    takes its size after it (pass sizeof(*out)): the library fills
 *    what both know and zeroes what only the caller knows. Lists are
 *    objects with a _count() and a _get(i)/(i) accessor that returns
 *    -ENOENT past the end. struct la_location, which callers also pass
 *    back in (watch lists, la_snapshot_in_use(), la_callers_attribute()),
 *    keeps its size.
 */
#ifndef LEAKATTACH_H
#define LEAKATTACH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LA_API __attribute__((visibility("default")))
#define LA_MUST_CHECK __attribute__((warn_unused_result))

/*
 * Domain error codes, returned negated. They start at 4000 so that they
 * never collide with errno values. One list makes both the enum and the
 * strings of la_strerror().
 */
#define LA_ERRORS(X)                                                         \
	X(NOTGLIBC, "the target's malloc is not glibc's")                    \
	X(ZOMBIE, "the target is a zombie")                                  \
	X(SELF, "leakattach cannot inspect its own process")                 \
	X(KTHREAD, "the target is a kernel thread")                          \
	X(TRACED, "the target is already traced by another process")         \
	X(LAYOUT, "glibc's malloc state could not be located in the target") \
	X(HEAPCORRUPT, "the heap metadata is inconsistent")                  \
	X(BADELF, "an ELF file of the target could not be parsed")           \
	X(STOPTIMEOUT, "a thread of the target did not stop in time")        \
	X(EXEC, "the target executed a new program during the snapshot")     \
	X(NODEBUGINFO, "no usable debug information for the target's libc")  \
	X(VFORK, "the target is inside vfork()")                             \
	X(BUSY, "the target's heap is busy: an arena lock is held")          \
	X(CALLTIMEOUT, "a call into the target did not return in time")      \
	X(LOCKED, "another leakattach is working on this target's state")    \
	X(BADSTATE, "a state file in the log folder is corrupt")

enum la_error {
	LA_ERRNO_BASE = 4000,
#define LA_ERROR_ENUM(name, text) LA_E##name,
	LA_ERRORS(LA_ERROR_ENUM)
#undef LA_ERROR_ENUM
		LA_ERRNO_END
};

/*
 * la_strerror - a static description of an error code (negative errno or
 * negative LA_E* code). Never NULL.
 */
LA_API const char *la_strerror(int err);

/*
 * la_errmsg - one sentence describing the last failure of a library call in
 * the calling thread, with what to do about it (for example which process
 * already traces the target, or that ptrace_scope forbids the attach).
 * Owned by the library, valid until the next call from this thread.
 */
LA_API const char *la_errmsg(void);

enum la_log_level { LA_LOG_WARN, LA_LOG_INFO, LA_LOG_DEBUG };
typedef void (*la_log_fn)(enum la_log_level level, const char *msg);

/*
 * la_set_log_fn - install the log sink (NULL: silence, the default).
 * Returns the previous one. Messages carry no trailing newline.
 */
LA_API la_log_fn la_set_log_fn(la_log_fn fn);

/* Options for la_session_open(). Zero-initialise, then set .sz. */
struct la_session_opts {
	size_t sz; /* sizeof(struct la_session_opts) */
	/*
	 * Root of separate debug files (default: the target's
	 * /usr/lib/debug, then the host's). A directory without debug
	 * files makes the library use the symbol-less layout detection.
	 */
	const char *debug_dir;
	/* Never read DWARF; find malloc's state by its signatures. */
	int no_debuginfo;
	/* Give up on a thread that does not stop within this (0: 2000). */
	unsigned stop_timeout_ms;
	/*
	 * Directory where layouts learned from DWARF are kept per build-id,
	 * so that later sessions skip the debug info (NULL: no cache). Created
	 * with mode 0700 if missing.
	 */
	const char *cache_dir;
};
#define LA_OPTS(TYPE, ...) \
	((struct TYPE){.sz = sizeof(struct TYPE), __VA_ARGS__})

/* A target process: its libc, allocator and malloc layout. */
struct la_session;

/*
 * la_session_open - identify the target's allocator and locate glibc's
 * malloc state. Reads /proc/PID and the target's memory and files (through
 * /proc/PID/root, so containers work); it does not stop the target and
 * writes nothing into it. Fails with -ESRCH, -EPERM, -LA_EZOMBIE,
 * -LA_ESELF, -LA_EKTHREAD, -LA_ETRACED, -LA_ENOTGLIBC, -LA_ELAYOUT.
 * opts may be NULL. On success *out must be closed with la_session_close().
 */
LA_API LA_MUST_CHECK int la_session_open(pid_t pid,
					 const struct la_session_opts *opts,
					 struct la_session **out);

/* la_session_close - release the session. Accepts NULL. */
LA_API void la_session_close(struct la_session *s);

/* Where the malloc layout came from. */
enum la_layout_source { LA_LAYOUT_DWARF, LA_LAYOUT_SIGNATURE };

struct la_layout_info {
	/* "2.36" when the libc names its version, else "unknown". */
	char glibc_version[32];
	enum la_layout_source source;
	int safe_linking; /* fastbin/tcache links are protected */
	int static_binary; /* malloc lives in the executable */
	uint64_t main_arena_addr;
	uint64_t mp_addr;
	char libc_path[512]; /* as mapped in the target */
};

/* la_session_layout - describe the layout found by la_session_open(). */
LA_API void la_session_layout(const struct la_session *s,
			      struct la_layout_info *out, size_t out_sz);

/* A heap snapshot: plain data, independent of the session once taken. */
struct la_snapshot;

/*
 * la_snapshot_take - stop every thread of the target, walk the whole
 * malloc heap, resume every thread and detach. The target is stopped only
 * inside this call; a target that job control had stopped stays stopped,
 * and signals that arrive meanwhile are delivered. Fails with -ESRCH (the
 * target exited), -EPERM, -LA_ETRACED, -LA_ESTOPTIMEOUT, -LA_EEXEC or
 * -LA_EHEAPCORRUPT (the heap could not be read at all). A heap that was
 * caught in the middle of an update is still returned, with
 * la_snapshot_info()'s consistent 0 and its inconsistency saying why.
 * Free *out with la_snapshot_free().
 */
LA_API LA_MUST_CHECK int la_snapshot_take(struct la_session *s,
					  struct la_snapshot **out);

/* la_snapshot_free - free a snapshot. Accepts NULL. */
LA_API void la_snapshot_free(struct la_snapshot *snap);

/*
 * The ten fields of glibc's struct mallinfo2, recomputed from the walk
 * under glibc's names: they equal what mallinfo2() returns in the target
 * at the instant of the snapshot.
 */
struct la_mallinfo {
	uint64_t arena; /* bytes obtained from the system (sbrk + heaps) */
	uint64_t ordblks; /* free chunks in bins, plus one top per arena */
	uint64_t smblks; /* free chunks in fastbins */
	uint64_t hblks; /* mmapped chunks */
	uint64_t hblkhd; /* bytes in mmapped chunks */
	uint64_t usmblks; /* always 0 */
	uint64_t fsmblks; /* bytes in fastbins */
	uint64_t uordblks; /* bytes in use (incl. tcache and metadata) */
	uint64_t fordblks; /* free bytes (top, fastbins, bins) */
	uint64_t keepcost; /* size of the main arena's top chunk */
};

LA_API void la_snapshot_mallinfo(const struct la_snapshot *snap,
				 struct la_mallinfo *out, size_t out_sz);

/*
 * Chunk counts and bytes by where a chunk sits. Bytes are chunk sizes
 * (headers included). "meta" is malloc's own bookkeeping: tcache structs,
 * fenceposts, heap and arena headers.
 */
struct la_counts {
	uint64_t in_use_chunks, in_use_bytes; /* handed to the program */
	uint64_t mmapped_chunks, mmapped_bytes; /* part of in_use */
	uint64_t tcache_chunks, tcache_bytes; /* free in a tcache */
	uint64_t fastbin_chunks, fastbin_bytes; /* free in a fastbin */
	uint64_t bin_chunks, bin_bytes; /* free in a bin */
	uint64_t top_bytes; /* the top chunks */
	uint64_t meta_chunks, meta_bytes; /* malloc's own metadata */
};

struct la_totals {
	struct la_counts counts;
	uint64_t free_bytes; /* tcache + fastbin + bin + top */
	uint64_t system_bytes; /* arena + hblkhd: what malloc holds */
	unsigned arenas, heaps, threads;
};

LA_API void la_snapshot_totals(const struct la_snapshot *snap,
			       struct la_totals *out, size_t out_sz);

struct la_arena_stats {
	uint64_t addr; /* the arena's malloc_state in the target */
	int is_main;
	int consistent; /* 0: caught mid-update; numbers approximate */
	unsigned heaps; /* segments (main: 1) */
	unsigned threads; /* attached_threads */
	uint64_t system_mem; /* as glibc counts it */
	struct la_counts counts;
};

LA_API unsigned la_snapshot_arena_count(const struct la_snapshot *snap);
/* Returns -ENOENT when i is out of range. */
LA_API int la_snapshot_arena(const struct la_snapshot *snap, unsigned i,
			     struct la_arena_stats *out, size_t out_sz);

/*
 * Size classes: exact chunk sizes up to 1 KiB (16-byte steps), then four
 * classes per power of two. Only classes holding at least one chunk are
 * listed, smallest first.
 */
struct la_size_class {
	uint64_t chunk_size_min, chunk_size_max; /* inclusive */
	struct la_counts counts;
};

LA_API unsigned la_snapshot_size_class_count(const struct la_snapshot *snap);
LA_API int la_snapshot_size_class(const struct la_snapshot *snap, unsigned i,
				  struct la_size_class *out, size_t out_sz);
/* Per arena (index as for la_snapshot_arena); mmapped chunks have none. */
LA_API unsigned
la_snapshot_arena_size_class_count(const struct la_snapshot *snap,
				   unsigned arena);
LA_API int la_snapshot_arena_size_class(const struct la_snapshot *snap,
					unsigned arena, unsigned i,
					struct la_size_class *out,
					size_t out_sz);

struct la_snapshot_info {
	pid_t pid;
	int consistent; /* every arena walked exactly */
	unsigned attempts; /* stops it took */
	/* rounds of letting threads caught inside malloc finish (last stop) */
	unsigned settle_rounds;
	uint64_t pause_ns; /* first thread stopped -> last thread resumed */
	uint64_t stop_ns; /* first PTRACE_INTERRUPT -> every thread stopped */
	uint64_t walk_ns; /* time spent reading and walking */
	uint64_t bytes_read; /* target memory read */
	uint64_t rss_bytes; /* VmRSS of the target */
	uint64_t hwm_bytes; /* VmHWM of the target */
	int64_t time_unix_ns;
	/* Why the snapshot is not consistent, when it is not; else "". */
	char inconsistency[160];
};

LA_API void la_snapshot_info(const struct la_snapshot *snap,
			     struct la_snapshot_info *out, size_t out_sz);

/* The layout the snapshot was taken with. */
LA_API void la_snapshot_layout(const struct la_snapshot *snap,
			       struct la_layout_info *out, size_t out_sz);

/* ---- The whole process: memory outside malloc ------------------------- */

/*
 * After the walk, with the target running again, a snapshot reads
 * /proc/PID/smaps and splits the resident memory (Rss) of every mapping
 * between glibc's malloc (the main arena's brk heap, the thread arenas'
 * heaps, the mmapped chunks: the walk knows their addresses) and the
 * kinds below. Every byte is counted once: the parts add up to rss_bytes.
 * A mapping that holds both malloc memory and something else (the kernel
 * merges neighbouring mappings) is split by the pages present in the
 * malloc part (/proc/PID/pagemap).
 */
enum la_outside_kind {
	/*
	 * The mappings that hold a thread's stack pointer at the stop, and
	 * the main thread's [stack]
	 */
	LA_OUTSIDE_THREAD_STACKS,
	/* CPython's pymalloc arenas (the mappings holding its pools; see
	 * la_snapshot_python()) */
	LA_OUTSIDE_PYTHON_ARENAS,
	/* Other private anonymous memory: mmap(MAP_ANONYMOUS), brk
	 * outside malloc, [anon:name] */
	LA_OUTSIDE_ANONYMOUS,
	/* Private mappings of files (programs, libraries, data files; and
	 * the kernel's [vdso] and [vvar]) */
	LA_OUTSIDE_FILE,
	/* MAP_SHARED mappings, shared memory (/dev/shm, memfd, SysV) */
	LA_OUTSIDE_SHARED,
	LA_OUTSIDE_KIND_COUNT /* kinds this library knows */
};

/*
 * la_outside_kind_name - "thread_stacks", "python_arenas", "anonymous",
 * "file", "shared" (the JSON names); NULL for an unknown kind.
 */
LA_API const char *la_outside_kind_name(enum la_outside_kind kind);

struct la_memory {
	/*
	 * 1 when smaps was read; 0 when it could not be (the process exited
	 * right after the walk, no permission): then every figure below is
	 * 0, not measured, and why says why.
	 */
	int measured;
	uint64_t rss_bytes; /* the sum of every mapping's Rss */
	uint64_t malloc_rss_bytes; /* resident in malloc's mappings */
	/* the walk's in-use and free bytes (la_totals), for comparison */
	uint64_t malloc_in_use_bytes, malloc_free_bytes;
	uint64_t outside_rss_bytes; /* rss_bytes - malloc_rss_bytes */
	unsigned mappings; /* mappings read */
	uint64_t read_ns; /* reading smaps (after the target was resumed) */
	char why[128]; /* when not measured; else "" */
};

LA_API void la_snapshot_memory(const struct la_snapshot *snap,
			       struct la_memory *out, size_t out_sz);

struct la_outside {
	uint64_t rss_bytes; /* resident */
	uint64_t size_bytes; /* mapped (smaps Size) */
	unsigned mappings; /* mappings with a part of this kind */
};

/*
 * la_snapshot_outside - the memory of one kind outside malloc. Returns 0,
 * -ENOENT for a kind this library does not know, -ENODATA when the
 * snapshot could not read smaps (la_memory.measured 0; *out zeroed).
 */
LA_API int la_snapshot_outside(const struct la_snapshot *snap,
			       enum la_outside_kind kind,
			       struct la_outside *out, size_t out_sz);

/*
 * How much more memory the process can take before something stops it,
 * read with the census: the limit of its memory cgroup (the nearest over
 * the cgroup and its ancestors, v2 or v1) or the box's MemAvailable,
 * whichever is nearer. A leak's rate divided into headroom_bytes says
 * when the process runs out ("at this rate the box is out of memory in
 * ~31 h"). A cgroup named by a path this process cannot see (another
 * cgroup namespace) is left out.
 */
enum la_headroom_kind {
	LA_HEADROOM_UNKNOWN, /* neither could be read */
	LA_HEADROOM_CGROUP, /* the memory cgroup's limit is nearer */
	LA_HEADROOM_MEMAVAILABLE, /* the box's MemAvailable is nearer */
};

struct la_headroom {
	enum la_headroom_kind kind;
	uint64_t headroom_bytes; /* the nearer of the two */
	/* the cgroup's limit and usage (UINT64_MAX, 0: no limit found) */
	uint64_t cgroup_limit_bytes, cgroup_used_bytes;
	uint64_t mem_available_bytes; /* 0: not read */
};

LA_API void la_snapshot_headroom(const struct la_snapshot *snap,
				 struct la_headroom *out, size_t out_sz);

/* ---- The Python heap ---------------------------------------------------- */

/*
 * When the target runs CPython 3.8 to 3.13 (the executable or a loaded
 * libpython, default builds), each snapshot also walks the interpreter's
 * own allocator, pymalloc, inside the same stop, reading only: its pools
 * are found without symbols by scanning the anonymous mappings for pool
 * headers, and every block in use (and every malloc chunk in use larger
 * than pymalloc's 512 bytes) is named by the type of the object it holds,
 * accepted only when the type pointer leads to a type object whose own
 * type is `type`. Counts are exact, not sampled
 * (doc/design/python-heap.md). The pymalloc arenas are then the
 * LA_OUTSIDE_PYTHON_ARENAS kind of the census above.
 */
struct la_python {
	/* 1 when a CPython interpreter was found and its heap walked */
	int found;
	unsigned major, minor; /* 3, 11 */
	uint32_t version_hex; /* PY_VERSION_HEX; 0 when only 3.N is known */
	char path[256]; /* the interpreter's file, as the target maps it */
	/*
	 * 1 when the pools agree with their blocks and with each other.
	 * 0: pools disagreed in every attempt (the interpreter was caught
	 * mid-update, or the memory is not what it looks like); the figures
	 * below leave the disagreeing pools out, and why says how many.
	 */
	int consistent;
	char why[160];
	/* 1 when the object header of this version is known (3.8-3.13) */
	int types_available;
	uint32_t pool_size; /* 16384 (3.10+) or 4096; 0: no pool found */
	uint64_t arenas; /* arenas holding consistent pools */
	uint64_t pools, pools_used, pools_full, pools_empty;
	uint64_t blocks, in_use_bytes; /* pymalloc blocks in use */
	uint64_t bad_pools; /* pools left out (consistent == 0) */
	/* objects named, and their bytes (blocks and chunks) */
	uint64_t objects, object_bytes;
	/* blocks in use that hold no live object (never guessed) */
	uint64_t unknown_blocks, unknown_bytes;
	uint64_t walk_ns; /* the walk's share of the pause */
	uint64_t bytes_read; /* target memory it read */
};

LA_API void la_snapshot_python(const struct la_snapshot *snap,
			       struct la_python *out, size_t out_sz);

/* Blocks in use of one pymalloc size class. */
struct la_python_class {
	uint32_t block_size; /* 16, 32, ... 512 */
	uint64_t pools; /* pools of this class with blocks in use */
	uint64_t blocks, bytes; /* in use */
};

/* The size classes with blocks in use, smallest first. */
LA_API unsigned la_snapshot_python_class_count(const struct la_snapshot *snap);
LA_API int la_snapshot_python_class(const struct la_snapshot *snap, unsigned i,
				    struct la_python_class *out, size_t out_sz);

/* Where the objects of a type live. */
enum la_python_in {
	LA_PYTHON_IN_PYMALLOC, /* pymalloc blocks only */
	LA_PYTHON_IN_MALLOC, /* malloc chunks only (objects > 512 bytes) */
	LA_PYTHON_IN_BOTH,
};

/* "pymalloc", "malloc", "both"; NULL for an unknown value. */
LA_API const char *la_python_in_name(enum la_python_in in);

struct la_python_type {
	/*
	 * tp_name: "dict", "collections.OrderedDict"; a class defined in
	 * Python is named by its __name__ alone ("Node"). Types of the same
	 * name are counted together, as objgraph does.
	 */
	char name[96];
	uint64_t objects; /* live objects (refcount > 0) */
	uint64_t bytes; /* their blocks' and chunks' bytes */
	uint64_t pymalloc_objects, malloc_objects;
	enum la_python_in in;
};

/* The types with live objects, most bytes first. */
LA_API unsigned la_snapshot_python_type_count(const struct la_snapshot *snap);
LA_API int la_snapshot_python_type(const struct la_snapshot *snap, unsigned i,
				   struct la_python_type *out, size_t out_sz);

/* ---- Leak detection over time ----------------------------------------- */

/*
 * The leak rule (leakattach(1) "LEAK RULE"). Between two consecutive
 * samples a location *grew* when its in-use bytes rose by more than
 * threshold_pct percent of the earlier value; its count of consecutive
 * growths resets when it does not. A location is a leak once that count
 * reaches `consecutive` and its in-use bytes are at least min_size.
 * Retention is the same rule applied to free bytes (bins, tcache,
 * fastbins, top) while the in-use bytes of the location did not grow.
 */
struct la_rules {
	size_t sz; /* sizeof(struct la_rules) */
	double threshold_pct; /* 2.0 */
	unsigned consecutive; /* 3 */
	uint64_t min_size; /* 1 MiB */
	/*
	 * The trend verdict (LA_EVIDENCE_TREND): a location whose bytes in
	 * use rise over its whole history (Theil-Sen slope, Mann-Kendall
	 * test corrected for serially correlated samples), at a false-alarm
	 * probability of trend_alpha per location and sample, divided among
	 * the locations tested (Bonferroni), with a total growth of at
	 * least min_size and no plateau. 1e-4 from la_rules_init(); 0 turns
	 * it off (the fixed rule alone, as before 0.2.0).
	 */
	double trend_alpha;
	/*
	 * The noise test of the growth rule: a rise counts as a growth only
	 * when it is also more than noise_k times the location's noise, the
	 * robust spread of the changes between its latest samples less
	 * their drift (1.4826 times the median absolute deviation; up to 16 samples,
	 * at least 5 for the noise to be known: until then the rise counts
	 * as before). 3 from la_rules_init(); 0 turns it off (with
	 * trend_alpha 0: the fixed rule, exactly as before 0.2.0).
	 */
	double noise_k;
};

/* la_rules_init - fill *r with the defaults above (and .sz). */
LA_API void la_rules_init(struct la_rules *r);

enum la_location_kind {
	LA_LOC_HEAP, /* the whole heap: every arena and mmapped chunk */
	LA_LOC_ARENA, /* one arena */
	LA_LOC_SIZE_CLASS, /* a size class over every arena and mmapped chunks */
	LA_LOC_ARENA_SIZE_CLASS, /* a size class within one arena */
	/*
	 * One kind of memory outside malloc (outside_kind): its resident
	 * bytes are its in-use bytes; it has no free bytes, so no retention
	 */
	LA_LOC_OUTSIDE,
	/*
	 * The objects of one Python type (la_python_type, by name): their
	 * bytes in pymalloc blocks and malloc chunks; no free bytes
	 */
	LA_LOC_PYTHON_TYPE,
};

/* A place in the heap that the rule watches. */
struct la_location {
	enum la_location_kind kind;
	int arena_is_main; /* ARENA, ARENA_SIZE_CLASS */
	union {
		uint64_t arena_addr; /* the ARENA kinds: its malloc_state */
		uint64_t outside_kind; /* OUTSIDE: an enum la_outside_kind */
	};
	uint64_t chunk_size_min, chunk_size_max; /* the SIZE_CLASS kinds */
	/*
	 * Stable key, also used in JSON: "heap", "arena:main",
	 * "arena:0x7f0c40000030", "size:1168-1184",
	 * "size:1168-1184@arena:main", "outside:anonymous" (the kind's
	 * la_outside_kind_name()), "python:dict" (the type's name, cut to
	 * fit: a longer name ends the key).
	 */
	char key[80];
};

enum la_verdict {
	LA_VERDICT_GROWING, /* in-use bytes grew, not (yet) a leak: a suspect */
	LA_VERDICT_LEAK, /* in-use bytes grew `consecutive` times, >= min_size */
	LA_VERDICT_RETENTION, /* free bytes grew while in-use bytes did not */
	/*
	 * Was a leak, and has since stayed flat (no growth above the
	 * threshold) for `consecutive` exact samples or more: a warm-up or
	 * a cache that filled up, not a leak now. The finding keeps the
	 * leak's streak (consecutive, base, growth, percentages) and says
	 * since when it is flat (stopped_growing_samples).
	 */
	LA_VERDICT_PLATEAU,
};

#define LA_GROWTH_MAX 16

enum la_evidence {
	LA_EVIDENCE_NONE, /* not a leak */
	/* the fixed rule: `consecutive` growths in a row above threshold */
	LA_EVIDENCE_CONSECUTIVE,
	/* the trend over the location's history (la_rules.trend_alpha) */
	LA_EVIDENCE_TREND,
};

struct la_finding {
	struct la_location loc;
	enum la_verdict verdict;
	/* The verdict was reached at the latest sample (report it now). */
	int is_new;
	unsigned consecutive; /* growths in a row so far */
	uint64_t in_use_bytes, free_bytes; /* at the latest exact sample */
	/*
	 * The watched bytes (in-use; free for retention) when the streak
	 * began, and how much they grew since.
	 */
	uint64_t base_bytes, growth_bytes;
	int64_t base_time_unix_ns, time_unix_ns;
	double bytes_per_hour; /* growth_bytes over the streak's duration */
	/* Growth of each comparison of the streak, in percent, oldest first
	 * (the last LA_GROWTH_MAX of them). */
	unsigned n_growth;
	double growth_percent[LA_GROWTH_MAX];
	/*
	 * LA_LOC_PYTHON_TYPE: its live objects at the latest exact sample
	 * and how many more than when the streak began (may be negative);
	 * 0 for other kinds.
	 */
	uint64_t objects;
	int64_t growth_objects;
	/*
	 * PLATEAU, and RETENTION at a location whose leak stopped growing:
	 * the exact samples compared without growth since it stopped
	 * (a plateau from `consecutive` on); 0 otherwise.
	 */
	unsigned stopped_growing_samples;
	/*
	 * LEAK: which evidence made it one. The trend fields describe the
	 * location's whole history (its series) whenever it has enough
	 * samples (samples > 0), whatever the evidence: slope_bytes_per_hour
	 * (Theil-Sen) and its 95 % interval, the one-sided p-value of a
	 * rise (Mann-Kendall, corrected for serial correlation), and the
	 * points they rest on (older samples merged in pairs).
	 */
	enum la_evidence evidence;
	double slope_bytes_per_hour, slope_ci_lo, slope_ci_hi, p_value;
	unsigned samples;
};

/*
 * A tracker holds the history the rule needs: per location, the bytes at
 * the latest exact sample and the current streak. Plain memory: it never
 * touches the target. Kept between invocations by la_store_target_save().
 */
struct la_tracker;

struct la_tracker_info {
	unsigned samples; /* every sample ever added */
	unsigned approximate; /* of which approximate: not used as evidence */
	int last_approximate; /* the latest sample was approximate */
	int64_t first_time_unix_ns, last_time_unix_ns;
	unsigned leaks, retention, growing; /* findings by verdict */
	unsigned locations; /* locations tracked */
	unsigned plateau; /* findings of verdict LA_VERDICT_PLATEAU */
	/*
	 * Growing locations whose streak is long enough for a leak but
	 * rests on rises below the threshold while their noise is not known
	 * yet (la_rules.noise_k): the next sample decides. A verdict of "no
	 * leak" now would rest on too little.
	 */
	unsigned pending;
};

/* la_tracker_new - an empty history. rules NULL: defaults. */
LA_API LA_MUST_CHECK int la_tracker_new(const struct la_rules *rules,
					struct la_tracker **out);
LA_API void la_tracker_free(struct la_tracker *t);

/*
 * la_tracker_add - take snap as the next sample and apply the rule. An
 * approximate snapshot (la_snapshot_info().consistent == 0) is counted but
 * never starts, extends or ends a streak: the next exact sample is
 * compared with the last exact one. Returns 0 or -ENOMEM.
 */
LA_API LA_MUST_CHECK int la_tracker_add(struct la_tracker *t,
					const struct la_snapshot *snap);

LA_API void la_tracker_info(const struct la_tracker *t,
			    struct la_tracker_info *out, size_t out_sz);

/*
 * The findings after the latest sample: leaks first, then retention, then
 * growing locations; within each, by bytes, largest first.
 */
LA_API unsigned la_tracker_finding_count(const struct la_tracker *t);
LA_API int la_tracker_finding(const struct la_tracker *t, unsigned i,
			      struct la_finding *out, size_t out_sz);

/* ---- Sampled chunks and their types ------------------------------------- */

/*
 * Options for la_snapshot_take_opts(). Zero-initialise, then set .sz.
 * A watched location keeps, during the walk, a uniform random sample of
 * the addresses of its in-use chunks (mmapped ones included; free and
 * tcache chunks never), and the number of chunks it was drawn from. The
 * memory is bounded by n_watch * sample_max * 16 bytes, whatever the heap.
 */
#define LA_WATCH_MAX 64
#define LA_SAMPLE_MAX 65536

struct la_snapshot_opts {
	size_t sz; /* sizeof(struct la_snapshot_opts) */
	/*
	 * Locations to sample (for example from la_tracker_finding()), copied
	 * by the call; at most LA_WATCH_MAX. A size kind matches the chunks
	 * whose size lies in [chunk_size_min, chunk_size_max]; for a size
	 * class of a snapshot that is exactly its in_use_chunks.
	 */
	const struct la_location *watch;
	unsigned n_watch;
	/* Chunks kept per location (0: 256; at most LA_SAMPLE_MAX). */
	unsigned sample_max;
	/*
	 * Chunk addresses (of the header, as la_snapshot_sampled() gives
	 * them) whose fate the walk records: in use or not, and the chunk
	 * size when in use (la_snapshot_probe()). Copied by the call; at
	 * most LA_PROBE_MAX, any order, duplicates allowed. This is how
	 * la_callers_check() learns which sampled allocations survive.
	 */
	const uint64_t *probes;
	unsigned n_probes;
	/*
	 * 1: leave the Python heap out (la_snapshot_python().found stays 0)
	 * even when the target runs CPython; 0 walks it when there is one.
	 */
	int no_python;
};
#define LA_PROBE_MAX 65536

/*
 * la_snapshot_take_opts - la_snapshot_take() that also samples the chunks
 * of opts->watch (opts NULL: nothing watched, as la_snapshot_take()).
 * The sample is drawn with a fixed seed, so the same heap gives the same
 * sample. Fails as la_snapshot_take(), and with -EINVAL for more than
 * LA_WATCH_MAX locations or sample_max above LA_SAMPLE_MAX.
 */
LA_API LA_MUST_CHECK int
la_snapshot_take_opts(struct la_session *s, const struct la_snapshot_opts *opts,
		      struct la_snapshot **out);

/* The number of watched locations (0 for la_snapshot_take()). */
LA_API unsigned la_snapshot_watch_count(const struct la_snapshot *snap);

/*
 * la_snapshot_sampled - the sample of watched location watch_index (the
 * index into la_snapshot_opts.watch): *n chunk addresses (of the chunk
 * header, as in glibc's mchunkptr; the program's data starts 16 bytes
 * further), ascending, owned by snap, and the number of in-use chunks of
 * the location they were drawn from (*n == *population when it held no
 * more than sample_max). Any output pointer may be NULL. -ENOENT when
 * watch_index is out of range.
 */
LA_API int la_snapshot_sampled(const struct la_snapshot *snap,
			       unsigned watch_index,
			       const uint64_t **chunk_addrs, unsigned *n,
			       uint64_t *population);

/*
 * la_snapshot_probe - the fate of probed chunk chunk_addr in the walk:
 * 1 when an in-use chunk (mmapped ones included) starts there, with its
 * size in *chunk_size (may be NULL); 0 when none does (freed, merged,
 * or not a chunk start); -ENOENT when chunk_addr was not probed.
 */
LA_API int la_snapshot_probe(const struct la_snapshot *snap,
			     uint64_t chunk_addr, uint64_t *chunk_size);

/*
 * la_snapshot_in_use - the in-use bytes of loc in snap: the whole heap, an
 * arena (by arena_is_main and arena_addr), the snapshot's size classes
 * that lie within loc's size range (overall, or in that arena), or the
 * resident bytes of a kind outside malloc (0 when not measured).
 */
LA_API uint64_t la_snapshot_in_use(const struct la_snapshot *snap,
				   const struct la_location *loc);

/* What named a chunk's type. */
enum la_type_source {
	LA_TYPE_UNKNOWN, /* plain data: the first word names nothing */
	LA_TYPE_VTABLE, /* the first word points into a C++ vtable */
	LA_TYPE_OBJECT, /* ... into a named object of a module's data */
	/*
	 * The chunk holds a CPython object (its header names a type object
	 * whose type is `type`, as in la_snapshot_python_type())
	 */
	LA_TYPE_PYTHON,
};

struct la_type_count {
	/*
	 * VTABLE: the class, demangled ("Widget", "ns::Foo<int>");
	 * OBJECT: the object pointed to, as "&widget_ops"; PYTHON: the
	 * type's tp_name ("bytes"); UNKNOWN: "unknown".
	 */
	char name[256];
	enum la_type_source source;
	/* The module (executable or library) holding the symbol; "". */
	char module[256];
	unsigned chunks; /* sampled chunks of this type */
	uint64_t bytes; /* their chunk sizes */
	/* Scaled to the location's population: estimates. */
	uint64_t est_chunks, est_bytes;
};

/* The types of one watched location's sampled chunks. */
struct la_types;

/*
 * la_types_of - name the types of the sampled chunks of watched location
 * watch_index of snap (taken from s with la_snapshot_take_opts()). For
 * each sampled chunk it reads the first 8 bytes of the program's data
 * (process_vm_readv, in batches, without stopping the target) and looks
 * the value up in the target's modules: an address inside a C++ vtable
 * symbol (_ZTV...) names that class, an address inside a named object in
 * .data, .rodata, .data.rel.ro or .bss names that object. In a CPython
 * process a chunk holding a Python object is named by its type
 * (LA_TYPE_PYTHON), the way the snapshot names them. Chunks whose
 * first word names nothing are counted in one LA_TYPE_UNKNOWN entry.
 *
 * The target runs on between the snapshot and this call: a sampled chunk
 * that was freed (and maybe reused) meanwhile is read as it is now, and
 * may be counted as another type or as unknown. Call it right after the
 * snapshot. The work is bounded by the sample: at most sample_max words
 * read and as many distinct symbol look-ups.
 *
 * The entries (la_types_count(), la_types_get()) are by sampled chunks,
 * most first, the unknown entry last; none for a location whose sample
 * is empty. est_chunks and est_bytes scale the sampled counts by
 * population / sampled. Writes nothing into the target. Returns 0,
 * -ENOENT (no such watched location), -EINVAL (snap is of another
 * process), -ESRCH, -ENOMEM. Free *out with la_types_free().
 */
LA_API LA_MUST_CHECK int la_types_of(struct la_session *s,
				     const struct la_snapshot *snap,
				     unsigned watch_index,
				     struct la_types **out);
LA_API void la_types_free(struct la_types *ty);
LA_API unsigned la_types_count(const struct la_types *ty);
/* Returns -ENOENT when i is out of range. */
LA_API int la_types_get(const struct la_types *ty, unsigned i,
			struct la_type_count *out, size_t out_sz);

/* ---- Callers: sampled allocations and their stacks ---------------------- */

/*
 * Chunk headers carry no call site. la_callers_sample() opens one short
 * sampling window on the target's allocation functions, records for each
 * call the size, the result and a copy of the stack, lets the target run
 * on and unwinds the copies offline; la_callers_check() then tells, from
 * a LATER snapshot, which of the sampled chunks are still in use. Callers
 * whose sampled chunks survive in a growing location are where it grows
 * from. Everything is sampled: the numbers are estimates.
 */

/* How the window is made. */
enum la_callers_backend {
	/*
	 * uprobes; where they are refused the window fails with a
	 * sentence: int3 stops the target at each call it samples, so it
	 * is used only when asked for (LA_CALLERS_INT3)
	 */
	LA_CALLERS_AUTO,
	LA_CALLERS_UPROBE, /* kernel uprobes (perf_event_open), CAP_SYS_ADMIN */
	/*
	 * ptrace int3 breakpoints, held by a tracer process of ours
	 * ("la-int3-tracer"): no privilege beyond ptrace. Killing THAT
	 * process with SIGKILL while a window is open kills a target that
	 * allocates (the breakpoints stay in its text); killing the caller
	 * is safe. malloc, calloc and realloc only.
	 */
	LA_CALLERS_INT3,
};

/* The allocation functions, as bits of la_callers_opts.functions. */
#define LA_ALLOC_MALLOC (1u << 0)
#define LA_ALLOC_CALLOC (1u << 1)
#define LA_ALLOC_REALLOC (1u << 2)
#define LA_ALLOC_MEMALIGN (1u << 3)
#define LA_ALLOC_POSIX_MEMALIGN (1u << 4)
#define LA_ALLOC_ALIGNED_ALLOC (1u << 5)
#define LA_ALLOC_VALLOC (1u << 6)
#define LA_ALLOC_PVALLOC (1u << 7)
/*
 * Every allocation function but the obsolete valloc and pvalloc. The int3
 * backend probes malloc, calloc and realloc of them (the others begin
 * with instructions it does not emulate).
 */
#define LA_ALLOC_DEFAULT                                        \
	(LA_ALLOC_MALLOC | LA_ALLOC_CALLOC | LA_ALLOC_REALLOC | \
	 LA_ALLOC_MEMALIGN | LA_ALLOC_POSIX_MEMALIGN | LA_ALLOC_ALIGNED_ALLOC)

/* Options for la_callers_sample(). Zero-initialise, then set .sz. */
struct la_callers_opts {
	size_t sz; /* sizeof(struct la_callers_opts) */
	enum la_callers_backend backend;
	unsigned max_hits; /* calls to record (0: 1000) */
	/*
	 * Sampling length (0: 20). With uprobes, a window that recorded
	 * fewer than 64 calls by then samples on, to 5 * max_ms at most (a
	 * slow target pays per call; a few calls prove nothing).
	 */
	unsigned max_ms;
	/*
	 * LA_ALLOC_* (0: LA_ALLOC_DEFAULT); free() is always probed too
	 * (to follow the chunks). With uprobes, removing each probed
	 * function costs leakattach about 80 ms on Linux 6.18 (a global
	 * RCU wait), after the target is free of the probes.
	 */
	unsigned functions;
	unsigned max_threads; /* threads probed (0: 8) */
	/*
	 * After max_hits or max_ms, the window stays open only to see frees
	 * of the sampled chunks: this long (0: 15 ms) and until as many
	 * calls as were sampled came (64 at least: a slow target lives
	 * slower); the whole window never lasts more than max_ms +
	 * follow_ms, or follow_ms after an extended sampling (a busy
	 * target does little else while the probes are on). A chunk freed
	 * just after the sampling is then known dead, instead of its
	 * address, reused by then, making it look like a survivor.
	 */
	unsigned follow_ms;
};

/* Bounds: distinct stacks, chunks kept per stack and in all. */
#define LA_CALLER_FRAMES 16
#define LA_CALLERS_STACKS_MAX 1024
#define LA_CALLERS_PER_STACK 64
#define LA_CALLERS_CHUNKS_MAX 4096
#define LA_CALLER_CLASSES 8

/* The sampled calls of one window, grouped by call stack. */
struct la_callers;

struct la_callers_info {
	char backend[16]; /* "uprobe" or "int3" */
	pid_t pid;
	int64_t time_unix_ns; /* when the window opened */
	uint64_t hits; /* calls seen while the window was enabled */
	uint64_t allocations; /* calls recorded (with their result) */
	uint64_t lost; /* records the kernel dropped */
	uint64_t failed; /* calls that returned NULL: not kept */
	uint64_t frees; /* free() calls seen (to follow the kept chunks) */
	uint64_t followed; /* calls seen after the sampling, not sampled */
	/* chunk addresses the window could not follow (its table was full) */
	unsigned addresses_dropped;
	unsigned threads, threads_skipped; /* probed; over max_threads */
	uint64_t open_ns; /* setting the probes up */
	uint64_t window_ns; /* the probes enabled, until disabled */
	/*
	 * Removing the probes from the target: it runs free of them
	 * after this (the uprobe events of its threads, or the tracer's
	 * restore and detach).
	 */
	uint64_t teardown_ns;
	/*
	 * Then the rest of the removal, ours alone while the target runs
	 * normally: with uprobes, the kernel's waits of about 80 ms per
	 * probed function (Linux 6.18); 0 with int3.
	 */
	uint64_t release_ns;
	unsigned stacks; /* distinct stacks */
	unsigned stacks_dropped; /* calls whose stack found no room */
	unsigned kept_chunks; /* chunks live at the window's end, kept */
	/*
	 * Kept chunks freed in the window (a recorded free, or their
	 * address handed out again): the control group. The check probes
	 * them too.
	 */
	unsigned control_chunks;
	/* after la_callers_check() */
	int checked;
	int64_t checked_unix_ns; /* the snapshot's time */
	unsigned surviving_chunks;
	uint64_t surviving_bytes;
	/*
	 * Control chunks whose address was in use again (by a chunk of a
	 * size their call could have got) at the check, and their share:
	 * how often chance makes a freed chunk look like a survivor.
	 */
	unsigned control_reused;
	double reuse_rate;
	uint64_t attributed_bytes; /* the callers' own survivors, all */
	/*
	 * With LA_CALLERS_AUTO, why the window is not the first choice
	 * (uprobes): the sentence of their refusal; "" otherwise.
	 */
	char backend_why[256];
};

struct la_frame {
	uint64_t pc; /* return address (the call is just before it) */
	/* the mapped file, as in /proc/PID/maps; "" when none maps pc */
	char module[256];
	uint64_t module_offset; /* pc as a link-time address of module */
	/*
	 * demangled, from the first symbol source that names pc (.symtab,
	 * the debug file's, .gnu_debugdata, .dynsym); "near NAME+0xOFF"
	 * when only the nearest symbol below, one without a size, may hold
	 * it; "" when no symbol holds it
	 */
	char function[256];
	char file[256]; /* with debug info; else "" */
	unsigned line; /* with debug info; else 0 */
};

/* Sampled chunks of one caller in one size class (snapshot classes). */
struct la_caller_class {
	uint64_t chunk_size_min, chunk_size_max;
	unsigned kept_chunks; /* sampled chunks live at the window's end */
	unsigned surviving_chunks;
	uint64_t surviving_bytes; /* chunk sizes as the check saw them */
	/* after la_callers_check(): */
	/*
	 * The control group's, in this class (8 chunks or more) or all, as
	 * (reused + 1) / (freed + 2): one half when the window saw no free.
	 */
	double reuse_rate;
	double chance_survivors; /* reuse_rate * kept_chunks */
	/*
	 * The surviving bytes that are this caller's own: 0 unless chance
	 * (binomial, reuse_rate) gives as many survivors with a probability
	 * under 1/1000, then scaled to (surviving - chance_survivors) /
	 * (1 - reuse_rate) chunks.
	 */
	uint64_t attributed_bytes;
};

struct la_caller {
	/* frame 0 is the allocation function's caller */
	unsigned n_frames;
	struct la_frame frames[LA_CALLER_FRAMES];
	unsigned sampled_allocations; /* calls from this stack */
	uint64_t sampled_bytes; /* bytes they asked for */
	unsigned kept_chunks; /* of which kept, live at the window's end */
	unsigned freed_chunks; /* of which kept, but freed in the window */
	unsigned surviving_chunks; /* of the kept, in use at the check */
	uint64_t surviving_bytes;
	uint64_t attributed_bytes; /* the classes' attributed_bytes, summed */
	/* the kept chunks by size class, most surviving bytes first */
	unsigned n_classes;
	struct la_caller_class classes[LA_CALLER_CLASSES];
};

/*
 * la_callers_sample - open one sampling window on the target of s (the
 * target is never stopped or written: the kernel copies registers and
 * stack at each call) until max_hits calls or max_ms, remove the probes,
 * unwind every record from its copies (CFI, then frame pointers) and
 * group the calls by their first LA_CALLER_FRAMES return addresses, the
 * allocation function itself left out. Symbols and lines are resolved
 * before it returns. Fails with -EPERM/-EACCES (not privileged), -ENOENT
 * (no uprobes in this kernel), -ESRCH, -LA_ENOTGLIBC, -EINVAL (a bad
 * option), -ENOMEM; la_errmsg() says which and what to do. Free *out with
 * la_callers_free().
 */
LA_API LA_MUST_CHECK int la_callers_sample(struct la_session *s,
					   const struct la_callers_opts *opts,
					   struct la_callers **out);
LA_API void la_callers_free(struct la_callers *c);

LA_API void la_callers_info(const struct la_callers *c,
			    struct la_callers_info *out, size_t out_sz);

/*
 * la_callers_probes - the chunk addresses to pass as la_snapshot_opts
 * probes to a later snapshot: *n of them (at most LA_CALLERS_CHUNKS_MAX),
 * sorted, owned by c.
 */
LA_API void la_callers_probes(const struct la_callers *c,
			      const uint64_t **chunk_addrs, unsigned *n);

/*
 * la_callers_check - mark which kept chunks are still in use in snap, a
 * snapshot taken after the window with la_callers_probes() as its probes.
 * A chunk survives when an in-use chunk of a size the call could have got
 * starts at its address. That is also true of a chunk freed after the
 * window whose address was handed out again (a false survivor, common
 * where a program churns chunks of the same size). So the chunks freed
 * during the window are probed as well, as a control group: the share of
 * them back in use is the chance of a false survivor, per size class, and
 * a caller's survivors count (attributed_bytes) only where chance would
 * give as many with a probability under 1/1000. Callers are then ordered by
 * attributed bytes, then surviving bytes. May be called again with a
 * newer snapshot. Returns 0, -EINVAL (another process, or the snapshot did
 * not probe these chunks).
 */
LA_API LA_MUST_CHECK int la_callers_check(struct la_callers *c,
					  const struct la_snapshot *snap);

/*
 * The stacks: by attributed bytes after la_callers_check(), by sampled
 * bytes before, most first. la_callers_get returns -ENOENT when i is out
 * of range. A stack's frames are named (module, function, file:line) the
 * first time it is asked for, from the target's files as it maps them
 * then, with what its session has read of them (the session may be
 * closed before): a window names nothing it is not asked for. A
 * la_callers and its session are used by one thread at a time,
 * la_callers_get included.
 */
LA_API unsigned la_callers_count(const struct la_callers *c);
LA_API int la_callers_get(const struct la_callers *c, unsigned i,
			  struct la_caller *out, size_t out_sz);

/*
 * One caller's part in the growth of a size class (la_callers_attribute()):
 * the figures of its la_caller_class entries that lie within the class's
 * size range, summed, and its share of the growth.
 */
struct la_caller_share {
	unsigned caller; /* its index for la_callers_get() */
	unsigned kept_chunks;
	unsigned surviving_chunks;
	uint64_t surviving_bytes;
	double chance_survivors;
	uint64_t attributed_bytes; /* beyond chance: never 0 here */
	/*
	 * Its weight over every caller's: attributed_bytes, scaled by
	 * sampled_allocations / (kept_chunks + freed_chunks) of its
	 * la_caller when it made more calls than the window kept chunks
	 * of. est_bytes is that share of the growth (estimates).
	 */
	double share;
	uint64_t est_bytes;
};

/* The callers given a share of one size class's growth. */
struct la_attribution;

/*
 * la_callers_attribute - share growth_bytes, the growth of size class loc
 * (LA_LOC_SIZE_CLASS or LA_LOC_ARENA_SIZE_CLASS) since window c opened,
 * among the callers whose sampled chunks survive in it beyond chance
 * (la_callers_check() first). The growth is usually
 * la_snapshot_in_use() of the snapshot that checked c less that of the
 * snapshot taken before c opened. The arena of a sampled chunk is not
 * known: a class in an arena is given the callers of the class anywhere.
 * The shares (la_attribution_count(), la_attribution_get()) are the
 * callers with attributed bytes in the class, largest share first, ties
 * in la_callers_get() order. leakattach(1) reports the first three.
 * It reads every stack through la_callers_get() (naming its frames, the
 * same thread rule). Returns 0, -EINVAL (loc is no size class), -ENOMEM.
 * Free *out with la_attribution_free().
 */
LA_API LA_MUST_CHECK int la_callers_attribute(const struct la_callers *c,
					      const struct la_location *loc,
					      uint64_t growth_bytes,
					      struct la_attribution **out);
LA_API void la_attribution_free(struct la_attribution *at);
LA_API unsigned la_attribution_count(const struct la_attribution *at);
/* Returns -ENOENT when i is out of range. */
LA_API int la_attribution_get(const struct la_attribution *at, unsigned i,
			      struct la_caller_share *out, size_t out_sz);

/* ---- The log folder ---------------------------------------------------- */

/*
 * The log folder keeps, per target, the tracker state and a JSON-lines
 * history of samples, and one JSON report per detection. Layout (stable,
 * leakattach(1) FILES):
 *
 *   DIR/targets/PID-STARTTIME/state          the tracker (text, versioned)
 *   DIR/targets/PID-STARTTIME/history.jsonl  one line per sample
 *   DIR/targets/PID-STARTTIME/lock           flock(2)ed while in use
 *   DIR/reports/PID-STARTTIME-YYYYmmddTHHMMSSZ-N.json
 *   DIR/layouts/                             see la_session_opts.cache_dir
 *
 * STARTTIME is field 22 of /proc/PID/stat, so a reused PID starts afresh.
 * Files are written atomically (temporary file, fsync, rename); folders
 * are created with mode 0700.
 */
struct la_store;
struct la_store_target;

/*
 * la_store_open - use (and create, mode 0700) the log folder dir. Fails
 * with -EACCES, -EROFS, -ENOTDIR... and a sentence naming the folder when
 * it cannot be created or written.
 */
LA_API LA_MUST_CHECK int la_store_open(const char *dir, struct la_store **out);
LA_API void la_store_close(struct la_store *st);
LA_API const char *la_store_dir(const struct la_store *st);

/*
 * la_store_target_open - lock the state of process pid (identified by pid
 * and start time). When another process holds the lock, wait up to
 * wait_ms, then fail with -LA_ELOCKED (the sentence names the holder's
 * PID when known). -ESRCH when the process does not exist.
 */
LA_API LA_MUST_CHECK int la_store_target_open(struct la_store *st, pid_t pid,
					      unsigned wait_ms,
					      struct la_store_target **out);
/* la_store_target_close - unlock. Accepts NULL. */
LA_API void la_store_target_close(struct la_store_target *tg);

/*
 * la_store_target_load - the tracker kept for this target, with rules
 * applied from now on (NULL: defaults). No state yet: an empty tracker
 * and 0. A corrupt or truncated state: an empty tracker, and 1 with
 * la_errmsg() saying what was wrong (the caller warns); the bad file is
 * kept as state.corrupt. Otherwise a negative error.
 */
LA_API LA_MUST_CHECK int la_store_target_load(struct la_store_target *tg,
					      const struct la_rules *rules,
					      struct la_tracker **out);
/*
 * la_store_target_save_callers - keep a sampling window that no snapshot
 * has checked yet (la_callers_sample()), for the next invocation: the file
 * DIR/targets/PID-STARTTIME/callers, replaced atomically; NULL removes it.
 * la_store_target_load_callers - the window kept there, its frames named
 * again from the target's modules and its probes made, ready for the next
 * snapshot and la_callers_check(); the file is removed (a window is
 * checked once). *out is NULL when none was kept. A file that is not a
 * window of this build of leakattach for this process, or damaged, is
 * removed and 1 returned with the reason in la_errmsg() (a warning).
 */
LA_API LA_MUST_CHECK int
la_store_target_save_callers(struct la_store_target *tg,
			     const struct la_callers *callers);
LA_API LA_MUST_CHECK int
la_store_target_load_callers(struct la_store_target *tg,
			     struct la_callers **out);

/* la_store_target_save - replace the kept state with t, atomically. */
LA_API LA_MUST_CHECK int la_store_target_save(struct la_store_target *tg,
					      const struct la_tracker *t);
/*
 * la_store_target_append - add one line (a JSON object; no newline) to
 * the target's history.jsonl. The history is rotated to history.jsonl.1
 * beyond 4 MiB, so a long monitor never fills the disk.
 */
LA_API LA_MUST_CHECK int la_store_target_append(struct la_store_target *tg,
						const char *line);
/*
 * la_store_target_report - write a report (len bytes of JSON) as a new
 * file under DIR/reports/, atomically; its path goes to path (may be
 * NULL).
 */
LA_API LA_MUST_CHECK int la_store_target_report(struct la_store_target *tg,
						const char *buf, size_t len,
						char *path, size_t pathlen);
/* The folder of this target's state ("DIR/targets/PID-STARTTIME"). */
LA_API const char *la_store_target_dir(const struct la_store_target *tg);

/*
 * la_store_forget - forget every state kept for pid, whatever its start
 * time (the process may be gone); la_store_forget_all - for every target.
 * Reports are kept. Return the number of targets forgotten, or a negative
 * error; a state locked by a running leakattach is waited for as in
 * la_store_target_open().
 */
LA_API int la_store_forget(struct la_store *st, pid_t pid, unsigned wait_ms);
LA_API int la_store_forget_all(struct la_store *st, unsigned wait_ms);

/* ---- Giving memory back: malloc_trim(0) inside the target --------------- */

struct la_trim_opts {
	size_t sz; /* sizeof(struct la_trim_opts) */
	/*
	 * Give up on a call that waits for an arena lock after this (0:
	 * 1000). The call is then aborted and the thread restored exactly.
	 */
	unsigned timeout_ms;
};

struct la_trim_result {
	int returned; /* malloc_trim's result: 1 when memory was released */
	pid_t tid; /* the thread that made the call */
	uint64_t call_ns; /* from the call to its return */
	uint64_t pause_ns; /* the chosen thread was away from its own code */
	/*
	 * The call was still running (outside a lock wait) when the timeout
	 * passed, so it was let finish, with a warning: 1; 2 when it also
	 * ran past ten times the timeout (a second warning). Else 0.
	 */
	unsigned overran;
};

/*
 * la_trim - call glibc's malloc_trim(0) in the target. This WRITES into
 * the target: it stops every thread, checks that no arena lock is held,
 * picks a thread that is not inside malloc, a signal handler or vfork,
 * saves its registers (general and extended state) and the stack words it
 * uses below the red zone, makes it call malloc_trim with a return address
 * of 0, lets every other thread run meanwhile, catches the fault at 0, and
 * restores everything. A call that waits for an arena lock longer than
 * timeout_ms is interrupted and the thread restored as if nothing ran.
 * Fails with -LA_EBUSY (nothing written: an arena lock is held, or no
 * thread can make the call), -LA_ECALLTIMEOUT (aborted, restored), -ESRCH,
 * -EPERM... If the caller dies while the call runs, the target crashes
 * when malloc_trim returns: call la_trim() from a process that cannot be
 * interrupted (leakattach(1) forks a guard process for it).
 */
LA_API LA_MUST_CHECK int la_trim(struct la_session *s,
				 const struct la_trim_opts *opts,
				 struct la_trim_result *out, size_t out_sz);

/* ---- A program that watches itself: la_watch_* ------------------------- */

/*
 * A program cannot ptrace itself, so la_watch_start() forks a watcher
 * process that executes `leakattach monitor -p PROGRAM --watch-fd 3` and
 * samples the program from outside, as monitor and check do (the same
 * log folder, history, reports, rules): the program's threads are stopped
 * only for each sample's pause. The program permits it with
 * prctl(PR_SET_PTRACER, watcher), so this works where Yama's ptrace_scope
 * is 1; that replaces any ptracer the program declared before. One watch
 * per process; a child of the program's fork() has none.
 *
 * The watcher never outlives the program: it is sent SIGKILL when the
 * thread that called la_watch_start() exits (PR_SET_PDEATHSIG: call it
 * from the main thread, or from a thread that lives as long as the watch),
 * it ends at the end of file of its channel, and a sample of a program
 * that is gone fails and ends it. The program receives SIGCHLD when the
 * watcher exits (ignored by default); the library's reader thread
 * reaps it with waitpid() on its pid as soon as it ends (a handler of
 * the program's that reaps every child may reap it first; no harm). The watcher writes nothing on the program's stdout or
 * stderr: its messages are kept, and la_errmsg() gives the last one when
 * it ended. The library itself never prints, exits or handles a signal.
 */

/* The verdict of a watch report, as check's exit status. */
enum la_watch_verdict {
	LA_WATCH_NO_LEAK,
	LA_WATCH_LEAK,
	LA_WATCH_UNDECIDED, /* too few samples yet */
};

/* One finding of a report: la_watch_finding(). */
struct la_watch_finding {
	enum la_location_kind kind;
	enum la_verdict state; /* leak, retention, growing, plateau */
	int is_new; /* the verdict was reached at this sample */
	uint64_t in_use_bytes; /* at the latest exact sample */
	uint64_t growth_bytes; /* since its streak began */
	double bytes_per_hour;
	char location
		[80]; /* the location's key, as in JSON: "size:1168-1184" */
};

/* A report: la_watch_report_info(). */
struct la_watch_report_info {
	enum la_watch_verdict verdict;
	unsigned samples; /* taken by this watch */
	uint64_t heap_in_use_bytes; /* at the latest exact sample */
	int64_t time_unix_ns; /* of the latest sample */
	unsigned findings; /* la_watch_finding_count() */
	pid_t watcher; /* the watcher's process ID */
};

/* The verdict after one sample (la_watch_check(), the callback). */
struct la_watch_report;

/*
 * Called from the library's reader thread (never from a signal handler),
 * once for each finding that became a leak at a sample (is_new), with the
 * report of that sample; both are valid during the call only. It must not
 * call la_watch_check() or la_watch_stop() (they fail with -EDEADLK and
 * do nothing).
 */
typedef void (*la_watch_fn)(const struct la_watch_report *report,
			    const struct la_watch_finding *finding, void *user);

/* Options for la_watch_start(). Zero-initialise, then set .sz. */
struct la_watch_opts {
	size_t sz; /* sizeof(struct la_watch_opts) */
	double interval_s; /* between samples (0: monitor's, 60) */
	/* the rule (0: the defaults of la_rules_init(), or a config file's) */
	double threshold_pct;
	unsigned consecutive;
	uint64_t min_size;
	const char *log_dir; /* NULL: leakattach's default log folder */
	/*
	 * Prometheus text file written after every sample (leakattach
	 * --metrics FILE); NULL: none. A leakattach without --metrics
	 * refuses to start: la_watch_start() fails and says so.
	 */
	const char *metrics_file;
	la_watch_fn on_finding; /* NULL: none */
	void *user; /* passed to on_finding */
	/*
	 * The leakattach program; NULL: $LEAKATTACH (ignored in a setuid
	 * program), else the one installed with this library.
	 */
	const char *leakattach_path;
};

/*
 * la_watch_start - fork the watcher, let it trace us, and wait for its
 * first sample (so that a refusal is an error here, with la_errmsg()).
 * Returns 0, -EALREADY when a watch runs, -EINVAL for bad options, or the
 * watcher's failure (-EPERM, -ENOENT for no program, ...).
 */
LA_API LA_MUST_CHECK int la_watch_start(const struct la_watch_opts *opts);

/*
 * la_watch_check - the verdict now, like the in-process tracker's
 * check_leaks(): asks the watcher for a sample and waits for it; when
 * the latest sample is less than half an interval old it answers (a
 * sample so close could not show growth and would break a streak). Free
 * *out with la_watch_report_free(). Returns 0, -ESRCH when no watch runs,
 * -EPIPE when the watcher ended (la_errmsg() says why), -EDEADLK from
 * the callback, -ETIMEDOUT after two minutes without an answer.
 */
LA_API LA_MUST_CHECK int la_watch_check(struct la_watch_report **out);

LA_API void la_watch_report_info(const struct la_watch_report *r,
				 struct la_watch_report_info *out,
				 size_t out_sz);
/* Leaks first, then retention, growing locations, plateaus (at most 32). */
LA_API unsigned la_watch_finding_count(const struct la_watch_report *r);
LA_API int la_watch_finding(const struct la_watch_report *r, unsigned i,
			    struct la_watch_finding *out, size_t out_sz);
LA_API void la_watch_report_free(struct la_watch_report *r);

/*
 * la_watch_stop - end the watcher (after its current sample) and reap
 * it; the reader thread is joined. Nothing when no watch runs. The
 * ptracer declared by la_watch_start() is withdrawn.
 */
LA_API void la_watch_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* LEAKATTACH_H */
