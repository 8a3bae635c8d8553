#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# replay.sh - run every input of the pymalloc fuzz corpus
# (tests/fuzz/corpus-pymalloc) once through the harness of
# tests/fuzz/fuzz_pymalloc.c, built as tests/fuzz/replay_pymalloc with the
# tests' own flags (ASan+UBSan with --enable-sanitizers). A crash, a
# sanitizer report or a failed invariant fails make check. Run from the top
# of the build tree (srcdir is set by the harness).
set -u
srcdir=${srcdir:-.}
prog=tests/fuzz/replay_pymalloc
[ -x "$prog" ] || { echo "replay: no $prog (build it first)"; exit 99; }
set -- "$srcdir"/tests/fuzz/corpus-pymalloc/*
[ -f "$1" ] || { echo "replay: no corpus in $srcdir/tests/fuzz/corpus-pymalloc"; exit 1; }
exec "$prog" "$@"
