/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * malloc_layout.h - one struct of offsets and addresses for the glibc in
 * the target. Everything that knows glibc's struct offsets reads them from
 * here; nothing else hard-codes one.
 *
 * Two ways to fill it, same answer (doc/design/glibc-heap.md, "Finding
 * the layout: DWARF" and "Finding the layout: signatures"):
 *  - malloc_layout_from_dwarf(): member offsets and variable addresses
 *    from libc's DWARF (the separate debug file the caller found, or the
 *    binary itself);
 *  - malloc_layout_from_signature(): main_arena and mp_ found by their
 *    static initial values in the on-disk .data, the layout picked by
 *    which signature matched, then confirmed against the live process.
 * The per-thread tcache location (TLS) is settled later, with the threads
 * stopped: malloc_layout_find_tcache().
 */
#ifndef LA_MALLOC_LAYOUT_H
#define LA_MALLOC_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "leakattach.h"

struct elffile;
struct memsrc;
struct maps;
struct tracee_set;

/* LP64 constants (x86_64), glibc 2.26-2.41. */
#define SIZE_SZ 8u
#define CHUNK_HDR_SZ 16u
#define MINSIZE 32u
#define MALLOC_ALIGN_MASK 15u
#define NBINS 128u
#define PREV_INUSE 1u
#define IS_MMAPPED 2u
#define NON_MAIN_ARENA 4u
#define SIZE_BITS 7u
#define HEAP_MAX_DEFAULT (64u << 20) /* 2 * DEFAULT_MMAP_THRESHOLD_MAX */
#define NONCONTIGUOUS_BIT 2u
#define TCACHE_MAX_BINS 64u

enum tcache_tls_kind {
	TCACHE_TLS_UNKNOWN, /* find it with the threads stopped */
	TCACHE_TLS_GOT, /* tpoff is stored in a GOT slot (shared libc) */
	TCACHE_TLS_OFFSET, /* tpoff known (static executable) */
	TCACHE_TLS_NONE, /* this glibc has no tcache */
};

struct malloc_layout {
	/* struct malloc_state */
	uint32_t ms_mutex, ms_flags, ms_fastbins, ms_top, ms_bins, ms_next,
		ms_next_free, ms_attached_threads, ms_system_mem, ms_size;
	uint32_t nfastbins;
	/* heap_info */
	uint32_t hi_ar_ptr, hi_prev, hi_size, hi_mprotect_size, hi_sizeof;
	/* struct malloc_par */
	uint32_t mp_n_mmaps, mp_mmapped_mem, mp_sbrk_base, mp_tcache_count,
		mp_size;
	int32_t mp_hp_pagesize; /* -1: glibc < 2.35, no hugetlb heaps */
	/* tcache_perthread_struct: counts[64] then entries[64] */
	uint32_t
		tc_count_size; /* 1 (char, <= 2.29) or 2 (uint16_t); 0 unknown */
	uint32_t tc_entries, tc_sizeof;

	/* -1: decide from the lists themselves (see glibc_freelists.c) */
	int safe_linking;

	uint64_t main_arena_addr, mp_addr;
	enum tcache_tls_kind tcache_tls;
	uint64_t tcache_got_addr; /* runtime address of the GOT slot */
	/*
	 * &tcache == tp + tcache_tpoff; with TCACHE_TLS_GOT, what to add to
	 * the slot's value (0 unless the slot is another variable's)
	 */
	int64_t tcache_tpoff;
	/* candidate GOT slots (runtime addresses) when not known */
	uint64_t tls_got_cand[32];
	unsigned n_tls_got_cand;
	/*
	 * static executable: the size of its TLS block (below tp on x86_64,
	 * above it on aarch64: arch_tls_exec_start()), for the search
	 */
	uint64_t tls_block_size;

	enum la_layout_source source;
	int static_binary;
	char glibc_version[32];
	uint64_t bias; /* load bias of the malloc-holding ELF */
};

/* What the resolvers need to know about the target. */
struct layout_ctx {
	struct memsrc *mem;
	const struct maps *maps;
	struct elffile *elf; /* libc.so.6, or the static executable */
	const char *elf_path; /* its path inside the target */
	uint64_t bias;
	int static_binary;
	int use_dwarf; /* 0: signatures only */
	const struct elffile *debug_elf; /* its separate debug file, or NULL */
};

int malloc_layout_from_dwarf(const struct layout_ctx *ctx,
			     struct malloc_layout *out);
int malloc_layout_from_signature(const struct layout_ctx *ctx,
				 struct malloc_layout *out);

/*
 * Confirm a layout against the live process: main_arena's next ring comes
 * back, every other arena sits where a heap's header ends. Sets
 * hi_sizeof when the signature path could not know it.
 */
int malloc_layout_confirm(struct malloc_layout *l, struct memsrc *mem);

/* heap_info alignment: 64 MiB unless glibc.malloc.hugetlb changed it. */
uint64_t malloc_layout_heap_max(const struct malloc_layout *l,
				struct memsrc *mem);

/*
 * With every thread stopped: settle where each thread's tcache pointer
 * lives, validating candidates against the heap. Also learns the tcache
 * struct's count width. May leave tcache_tls UNKNOWN when no thread has a
 * tcache yet.
 */
int malloc_layout_find_tcache(struct malloc_layout *l, struct memsrc *mem,
			      const struct tracee_set *threads);

/* The tcache pointer of a thread with thread pointer tp (0: none). */
int malloc_layout_thread_tcache(const struct malloc_layout *l,
				struct memsrc *mem, uint64_t tp,
				uint64_t *tcache);

/* "2.36" from the libc banner, or "unknown". */
void malloc_layout_version(struct elffile *ef, char *buf, size_t len);

#endif
