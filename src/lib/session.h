/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.h - what a session knows about its target, for the library's
 * own verbs that stop it (session.c: snapshots, trim.c: malloc_trim).
 * Internal: the public API sees struct la_session as an opaque handle.
 */
#ifndef LA_SESSION_H
#define LA_SESSION_H

#include <sys/types.h>

#include "allocator.h"
#include "malloc_code.h"
#include "malloc_layout.h"

struct memsrc;

struct la_session {
	pid_t pid;
	unsigned stop_timeout_ms;
	struct memsrc *mem;
	struct glibc_loc loc;
	struct malloc_layout layout;
	struct malloc_code code;
};

#endif
