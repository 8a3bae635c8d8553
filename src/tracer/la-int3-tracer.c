/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * la-int3-tracer.c - the int3 backend's tracer as a program of its own.
 * int3_window_open() (src/lib/sampling/int3.c) forks, and the child
 * executes this, so that the process holding the target's breakpoints does
 * not keep the analyser's memory mapped (the OOM killer counts it); the
 * tracer itself is src/lib/sampling/int3_tracer.c. Not run by hand: its
 * socket is fd 3 and its command line is int3_proto.h's.
 */
#include <unistd.h>

#include "sampling/int3_proto.h"

int
main(int argc, char **argv)
{
	/* no atexit work: the same exit as the tracer in a fork */
	_exit(int3_tracer_argv(argc, argv));
}
