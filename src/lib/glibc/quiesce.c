/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quiesce.c - see quiesce.h. Measured on a malloc storm
 * (doc/design/stopping.md, "Settling outside malloc (quiesce)"): nearly
 * every random stop catches some arena lock held, so a plain "resume a
 * moment and stop again" rarely comes out clean with several busy
 * threads; letting only the threads inside malloc run on does.
 */
#include <errno.h>
#include <string.h>

#define LOG_PREFIX "quiesce: "
#include "arch/arch.h"
#include "base/log.h"
#include "glibc/malloc_code.h"
#include "glibc/malloc_layout.h"
#include "glibc/quiesce.h"
#include "proc/memsrc.h"
#include "ptrace/tracee.h"

/* How much of each stack to search for a return address into malloc. */
#define STACK_SCAN 1024u
#define MAX_ARENAS 4096u

static int
in_code(const struct malloc_code *mc, const struct malloc_code *also,
	uint64_t pc)
{
	return malloc_code_contains(mc, pc) ||
	       (also && malloc_code_contains(also, pc));
}

static int
stack_in_malloc(const struct malloc_code *mc, const struct malloc_code *also,
		struct memsrc *mem, uint64_t sp)
{
	uint64_t words[STACK_SCAN / 8];
	size_t len = STACK_SCAN;

	/* Near the top of a stack the window may run off its mapping. */
	while (len >= 64 && memsrc_read(mem, sp, words, len))
		len /= 2;
	if (len < 64)
		return 0;
	/* saved return addresses: PAC-signed on aarch64 (arch_strip_ra) */
	for (size_t i = 0; i < len / 8; i++)
		if (in_code(mc, also, arch_strip_ra(words[i])))
			return 1;
	return 0;
}

static unsigned
locks_held(const struct malloc_layout *l, struct memsrc *mem)
{
	uint64_t a = l->main_arena_addr;
	unsigned held = 0;

	for (unsigned n = 0; n < MAX_ARENAS; n++) {
		uint32_t mutex;
		uint64_t next;

		if (memsrc_read(mem, a + l->ms_mutex, &mutex, sizeof(mutex)) ||
		    memsrc_read(mem, a + l->ms_next, &next, sizeof(next)))
			break;
		held += mutex != 0;
		if (!next || next == l->main_arena_addr)
			break;
		a = next;
	}
	return held;
}

int
quiesce_scan(const struct malloc_code *mc, const struct malloc_code *also,
	     const struct malloc_layout *l, struct memsrc *mem,
	     const struct tracee_set *ts, unsigned char *run,
	     struct quiesce_scan *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ts->n; i++) {
		const struct tracee *t = &ts->t[i];

		run[i] = 0;
		if (t->state != TRACEE_STOPPED || !t->have_regs ||
		    t->group_stop)
			continue;
		if (in_code(mc, also, arch_pc(&t->regs))) {
			run[i] = 1;
			out->inside++;
		} else if ((arch_lr(&t->regs) &&
			    in_code(mc, also,
				    arch_strip_ra(arch_lr(&t->regs)))) ||
			   stack_in_malloc(mc, also, mem, arch_sp(&t->regs))) {
			run[i] = 1;
			out->maybe++;
		}
	}
	out->locks = locks_held(l, mem);
	return 0;
}
