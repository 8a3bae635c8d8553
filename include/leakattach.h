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
	X(VFORK, "the target is inside vfork()")

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

LA_API pid_t la_session_pid(const struct la_session *s);

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
			      struct la_layout_info *out);

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
 * la_snapshot_consistent() false. Free *out with la_snapshot_free().
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
				 struct la_mallinfo *out);

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
			       struct la_totals *out);

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
			     struct la_arena_stats *out);

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
				  struct la_size_class *out);
/* Per arena (index as for la_snapshot_arena); mmapped chunks have none. */
LA_API unsigned
la_snapshot_arena_size_class_count(const struct la_snapshot *snap,
				   unsigned arena);
LA_API int la_snapshot_arena_size_class(const struct la_snapshot *snap,
					unsigned arena, unsigned i,
					struct la_size_class *out);

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
			     struct la_snapshot_info *out);

/* The layout the snapshot was taken with. */
LA_API void la_snapshot_layout(const struct la_snapshot *snap,
			       struct la_layout_info *out);

#ifdef __cplusplus
}
#endif

#endif /* LEAKATTACH_H */
