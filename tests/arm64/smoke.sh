#!/bin/bash
# smoke.sh - cross-builds the programs of tests/arm64 against the arm64
# guest's root filesystem and runs them in the guest (scripts/arm64-guest):
# ptrace and process_vm_readv (ptrace_smoke), libelf, libdwarf and Criterion
# (libs_smoke), pointer authentication (--pauth, and a copy built with
# -mbranch-protection=standard), and the guest's exit status coming back
# (0, 1, 7). The guest image must be built (scripts/arm64-guest image).
#
# Usage: tests/arm64/smoke.sh [OUTDIR]   (default: ./arm64-smoke)
# Environment: LA_ARM64_CC (default aarch64-linux-gnu-gcc), the guest's
# LA_ARM64_CACHE and LA_ARM64_TIMEOUT.
set -u

here=$(cd "$(dirname "$0")" && pwd)
guest=$here/../../scripts/arm64-guest
out=${1:-$PWD/arm64-smoke}
cc=${LA_ARM64_CC:-aarch64-linux-gnu-gcc}
failures=0

sysroot=$("$guest" sysroot) || exit 1
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1

# pkg-config reads the sysroot's .pc files only, and prefixes their paths
# with the sysroot (doc/design/aarch64.md). Debian 12's libdwarf has no .pc.
pc() {
	PKG_CONFIG_SYSROOT_DIR=$sysroot \
		PKG_CONFIG_LIBDIR=$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig \
		pkg-config "$@"
}

check() {
	local want=$1 what=$2 got
	shift 2
	"$@"
	got=$?
	if [ "$got" = "$want" ]; then
		echo "PASS: $what (exit status $got)"
	else
		echo "FAIL: $what: exit status $got, expected $want"
		failures=$((failures + 1))
	fi
}

set -x
$cc --sysroot="$sysroot" -O2 -Wall -Wextra -Werror -o "$out/ptrace_smoke" \
	"$here/ptrace_smoke.c" || exit 1
# Signed return addresses (paciasp/autiasp), as the PAC copy of the tests.
$cc --sysroot="$sysroot" -O2 -Wall -Wextra -Werror -mbranch-protection=standard \
	-o "$out/ptrace_smoke_pac" "$here/ptrace_smoke.c" || exit 1
# shellcheck disable=SC2046 # pkg-config's words are meant to be split
$cc --sysroot="$sysroot" -g -O2 -Wall -Wextra -Werror -o "$out/libs_smoke" \
	"$here/libs_smoke.c" $(pc --cflags --libs criterion libelf zlib) -ldwarf ||
	exit 1
set +x

check 0 "ptrace_smoke in the guest" "$guest" run --dir "$out" -- ./ptrace_smoke nopac
check 0 "ptrace_smoke in the guest with pointer authentication" \
	"$guest" run --pauth --dir "$out" -- ./ptrace_smoke pac
check 0 "ptrace_smoke built with -mbranch-protection=standard, with pointer authentication" \
	"$guest" run --pauth --dir "$out" -- ./ptrace_smoke_pac pac
check 0 "libs_smoke (Criterion, libelf, libdwarf) in the guest" \
	"$guest" run --dir "$out" -- ./libs_smoke --verbose
check 1 "a failing command's status comes back" "$guest" run --dir "$out" -- false
# shellcheck disable=SC2016 # $(uname -m) is the guest's
check 7 "and its value" "$guest" run --dir "$out" -- sh -c 'echo in the guest: $(uname -m); exit 7'

rm -rf "$out"
[ "$failures" = 0 ] && echo "arm64 smoke: passed" && exit 0
echo "arm64 smoke: $failures failed"
exit 1
