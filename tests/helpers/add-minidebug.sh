#!/bin/bash
# add-minidebug.sh IN OUT [garbage] - OUT: IN stripped of its .symtab and
# DWARF, with MiniDebugInfo added as Fedora's find-debuginfo does: the
# function symbols .dynsym lacks, in an ELF file of their own (objcopy
# --only-keep-debug, then every other symbol stripped), xz-compressed
# into a .gnu_debugdata section. With "garbage", that section holds bytes
# that are no xz stream (the reader must refuse them and go on).
set -u
set -e
in=$1
out=$2
mode=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/minidebug.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

nm -D "$in" --format=posix --defined-only | awk '{ print $1 }' |
	sort >"$tmp/dynsyms"
nm "$in" --format=posix --defined-only |
	awk '$2 == "T" || $2 == "t" { print $1 }' | sort >"$tmp/funcsyms"
comm -13 "$tmp/dynsyms" "$tmp/funcsyms" >"$tmp/keep"
objcopy --only-keep-debug "$in" "$tmp/mini"
objcopy -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols="$tmp/keep" "$tmp/mini"
if [ "$mode" = garbage ]; then
	head -c 4096 /dev/zero | tr '\0' 'x' >"$tmp/mini.xz"
else
	xz --check=crc32 -c "$tmp/mini" >"$tmp/mini.xz"
fi
strip --strip-all -o "$tmp/out" "$in"
objcopy --add-section .gnu_debugdata="$tmp/mini.xz" "$tmp/out"
mv "$tmp/out" "$out"
