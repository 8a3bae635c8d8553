#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_exports.sh - libleakattach exports exactly the functions that
# include/leakattach.h declares (LA_API), no more and no fewer, and its
# version script src/lib/libleakattach.sym lists exactly those. Run by
# make check from the top of the build tree (srcdir is set by the
# harness); LA_LIBRARY names another libleakattach.so to check.
set -u
srcdir=${srcdir:-.}
header=$srcdir/include/leakattach.h
sym=$srcdir/src/lib/libleakattach.sym
lib=${LA_LIBRARY:-src/lib/.libs/libleakattach.so}
tmp=${TMPDIR:-/tmp}/test_exports.$$
trap 'rm -f "$tmp".*' EXIT
fail=0

[ -r "$lib" ] || { echo "test_exports: no $lib (build it first)"; exit 99; }
command -v nm >/dev/null || { echo "test_exports: no nm (binutils)"; exit 99; }

# Declarations end at ';': one per line, then the name before the '('
# of each that is LA_API.
tr '\n' ' ' <"$header" | tr ';' '\n' |
	sed -n 's/.*LA_API[^(]*[^a-z0-9_]\(la_[a-z0-9_]*\)[[:space:]]*(.*/\1/p' |
	sort -u >"$tmp.header"
# Every defined dynamic symbol but the version node (type A).
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
	sort -u >"$tmp.exported"
# The names of the global: part of the version script.
sed -n '/global:/,/local:/p' "$sym" | sed -n 's/^[[:space:]]*\([A-Za-z0-9_*]*\);.*/\1/p' |
	sort -u >"$tmp.sym"

n=$(wc -l <"$tmp.header")
if [ "$n" -lt 40 ]; then
	echo "test_exports: only $n functions found in $header: the parser is broken"
	fail=1
fi
comm -23 "$tmp.header" "$tmp.exported" | sed "s|^|test_exports: declared in leakattach.h but not exported by $lib: |"
comm -13 "$tmp.header" "$tmp.exported" | sed "s|^|test_exports: exported by $lib but not declared in leakattach.h: |"
comm -3 "$tmp.header" "$tmp.sym" | sed "s|^[[:space:]]*|test_exports: in one of leakattach.h and libleakattach.sym, not the other: |"
if ! cmp -s "$tmp.header" "$tmp.exported" || ! cmp -s "$tmp.header" "$tmp.sym"; then
	fail=1
fi
[ $fail = 0 ] && echo "test_exports: $n functions, declared, listed and exported alike"
exit $fail
