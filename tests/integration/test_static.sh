#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_static.sh - leakattach-static (Makefile.am, "the static tool") is
# one file that needs nothing of the machine but the kernel:
#   1. it is statically linked: no program interpreter, no dynamic
#      section, ldd calls it not dynamic; it runs with an empty
#      environment;
#   2. on heapgen built for this glibc, bullseye's 2.31 and trixie's 2.41
#      (tests/glibc, as test_glibc_versions), its snapshot prints the
#      mallinfo2 line heapgen printed itself, names the version, and
#      leaves the heap as it was; a C++ leak's type is demangled
#      (libstdc++'s demangler inside, no dlopen);
#   3. as root, in a chroot that holds only it, /proc and static targets
#      (own mount namespace: unshare -m): the same oracle on heapgen-static
#      in the chroot and on bullseye's heapgen outside it; a planted leak
#      found by four checks (leaky-static: 100 chunks of 1168 bytes before
#      each, the leak at the fourth, as test_monitor's rule tests); and the
#      int3 backend's callers from the file alone (it is its own
#      la-int3-tracer; no other file in the chroot).
# Not root: 1 and 2 run, then the test is SKIPPED, saying that the chroot
# needs root. Every other missing piece FAILS (on CI everything is there).
# Prints the file's size, as built and stripped.
#
# Run by make check (environment: LEAKATTACH_STATIC, LA_TARGETS_DIR,
# LA_GLIBC_DIR).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

me=test_static
tool=${LEAKATTACH_STATIC:-}
tdir=${LA_TARGETS_DIR:-}
gdir=${LA_GLIBC_DIR:-}
if [ -z "$tool" ] || [ -z "$tdir" ] || [ -z "$gdir" ]; then
	echo "$me: LEAKATTACH_STATIC, LA_TARGETS_DIR and LA_GLIBC_DIR are not set: run it with make check"
	exit 99
fi
[ -x "$tool" ] || { echo "$me: FAIL: no $tool (make static)"; exit 1; }

# Root: the whole test in a mount namespace of its own, so that the
# chroot's /proc goes away with it whatever happens.
if [ "$(id -u)" -eq 0 ] && [ -z "${LA_STATIC_NS:-}" ]; then
	if ! unshare -m --propagation private true; then
		echo "$me: FAIL: running as root, but unshare -m (a mount namespace for the chroot's /proc) is refused"
		exit 1
	fi
	LA_STATIC_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

fails=0
fail() {
	echo "$me: FAIL: $*"
	fails=$((fails + 1))
}
ok() {
	echo "$me: ok: $*"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/la-static.XXXXXX") || exit 99
root=$work/root
declare -A IN OUT PID

cleanup() {
	local p
	for p in "${PID[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if mountpoint -q "$root/proc" 2>/dev/null; then
		umount -l "$root/proc" || {
			echo "$me: cannot unmount $root/proc: $work left" >&2
			return
		}
	fi
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# start NAME CMD...: run a target, its stdin and stdout on FIFOs; it dies
# with this shell (the targets set PR_SET_PDEATHSIG).
start() {
	local name=$1 fd
	shift
	mkfifo "$work/$name.in" "$work/$name.out" || return 1
	exec {fd}<>"$work/$name.in"
	IN[$name]=$fd
	exec {fd}<>"$work/$name.out"
	OUT[$name]=$fd
	"$@" <&"${IN[$name]}" >&"${OUT[$name]}" 2>"$work/$name.err" &
	PID[$name]=$!
}

# line NAME: the target's next line, into $line (30 s at most: a target
# that says nothing has failed; not a timing assertion).
line() {
	line=
	if ! read -r -t 30 line <&"${OUT[$1]}"; then
		fail "$1 said nothing: $(head -c 300 "$work/$1.err")"
		return 1
	fi
}

# say NAME COMMAND: a command to the target, its answer into $line.
say() {
	echo "$2" >&"${IN[$1]}" && line "$1"
}

stop() {
	[ -n "${PID[$1]:-}" ] || return 0
	echo quit >&"${IN[$1]}"
	wait "${PID[$1]}" 2>/dev/null
	unset "PID[$1]"
}

# oracle LABEL NAME VERSION TOOL...: TOOL snapshot of target NAME, whose
# first line ($line) is its mallinfo2: the same figures, glibc VERSION
# named ("unknown (static)": a static target's version is not read), the
# heap unchanged after it.
oracle() {
	local label=$1 name=$2 version=$3 want=${line#mallinfo2 } out got
	shift 3
	if [ "$want" = "$line" ]; then
		fail "$label: heapgen said '$line', not its mallinfo2"
		return
	fi
	out=$("$@" snapshot -p "${PID[$name]}" 2>&1)
	got=$(sed -n 's/^mallinfo2: //p' <<<"$out")
	if [ "$got" != "$want" ]; then
		fail "$label: snapshot's mallinfo2 '$got', heapgen's own '$want'; output:
$out"
		return
	fi
	if ! head -n 1 <<<"$out" | grep -q "^process ${PID[$name]} (heapgen" ||
		! head -n 1 <<<"$out" | grep -qF ", glibc $version,"; then
		fail "$label: glibc $version not named: $(head -n 1 <<<"$out")"
		return
	fi
	say "$name" again || return
	if [ "${line#mallinfo2 }" != "$want" ]; then
		fail "$label: the heap changed under the snapshot: '$line', was '$want'"
		return
	fi
	ok "$label: mallinfo2 as heapgen's own ($want)"
}

# ---- 1. one file ------------------------------------------------------------

size=$(wc -c <"$tool")
stripped=$(strip -o "$work/stripped" "$tool" && wc -c <"$work/stripped")
echo "$me: $tool: $size bytes, ${stripped:-?} stripped"
if LC_ALL=C readelf -lW "$tool" | grep -q 'INTERP'; then
	fail "$tool has a program interpreter: $(LC_ALL=C readelf -lW "$tool" | grep -A1 INTERP)"
elif ! LC_ALL=C readelf -d "$tool" | grep -q 'no dynamic section'; then
	fail "$tool has a dynamic section: $(LC_ALL=C readelf -d "$tool" | head -n 5)"
elif ! LC_ALL=C ldd "$tool" 2>&1 | grep -q 'not a dynamic executable'; then
	fail "ldd: $(LC_ALL=C ldd "$tool" 2>&1)"
else
	ok "statically linked (no interpreter, no dynamic section, ldd: not a dynamic executable)"
fi
if ! v=$(env -i "$tool" --version 2>&1) || ! grep -q '^leakattach ' <<<"$v"; then
	fail "$tool --version with an empty environment: $v"
fi

# ---- 2. other glibc versions ------------------------------------------------

sysver=$(getconf GNU_LIBC_VERSION | sed -n 's/^glibc //p')
for v in "$sysver" 2.31 2.41; do
	if [ "$v" = "$sysver" ]; then
		prog=$tdir/heapgen
	else
		prog=$gdir/heapgen-$v
	fi
	if [ ! -x "$prog" ]; then
		fail "glibc $v: no $prog: $(cat "$prog.failed" 2>/dev/null || echo 'run make check (scripts/fetch-glibc)')"
		continue
	fi
	for scenario in single threads; do
		n=g${v//./}$scenario
		start "$n" "$prog" "$scenario" && line "$n" &&
			oracle "glibc $v $scenario" "$n" "$v" "$tool"
		stop "$n"
	done
done

# C++ names with libstdc++'s demangler linked in (no dlopen): cxxleak
# leaks Widgets (test_types); at the fourth check the leak's type is
# Widget, never the mangled _ZTV6Widget.
mkdir -p "$work/state" || exit 99
if start cxx "$tdir/cxxleak" && line cxx; then
	rcs=
	for i in 1 2 3 4; do
		say cxx "step 500" || break
		"$tool" check -p "${PID[cxx]}" --min-size 64K \
			--log-dir "$work/state" >"$work/cxx$i.txt" 2>&1
		rcs="$rcs$?"
	done
	if [ "$rcs" != 3331 ]; then
		fail "C++: exit statuses $rcs, not 3331: $(cat "$work/cxx4.txt" 2>/dev/null)"
	elif ! grep -q '^ *Widget .*C++ vtable in ' "$work/cxx4.txt" ||
		grep -q '_ZTV' "$work/cxx4.txt"; then
		fail "C++: the leak's type is not Widget, demangled: $(cat "$work/cxx4.txt")"
	else
		ok "C++: the leak's type named Widget, demangled"
	fi
fi
stop cxx

# ---- 3. a chroot of one file ------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	echo "$me: SKIP: the chroot needs root (parts 1 and 2 ran: $fails failures)"
	[ "$fails" -eq 0 ] && exit 77
	exit 1
fi

mkdir -p "$root/proc" "$root/state" || exit 99
if ! { cp "$tool" "$root/leakattach" &&
	cp "$tdir/heapgen-static" "$root/heapgen" &&
	cp "$tdir/leaky-static" "$root/leaky"; }; then
	fail "cannot fill the chroot (heapgen-static, leaky-static built?)"
	exit 1
fi
if ! mount -t proc proc "$root/proc"; then
	fail "cannot mount /proc in the chroot"
	exit 1
fi
echo "$me: the chroot holds: $(cd "$root" && find . -path ./proc -prune -o -print | sort | tr '\n' ' ')"
# The tool in the chroot, with nothing of this environment.
chroot=$(command -v chroot) || {
	fail "no chroot(8) (coreutils)"
	exit 1
}
in_root() {
	env -i "$chroot" "$root" /leakattach "$@"
}

start chs chroot "$root" /heapgen single && line chs &&
	oracle "chroot: heapgen-static in it" chs "unknown (static)" in_root
stop chs
if [ -x "$gdir/heapgen-2.31" ]; then
	start ch31 "$gdir/heapgen-2.31" threads && line ch31 &&
		oracle "chroot: bullseye's heapgen outside it" ch31 2.31 in_root
	stop ch31
fi

# A planted leak: 100 chunks of 1168 bytes before each check; undecided
# (3) at the first three, a leak (1) at the fourth, in size class 1168.
if start leak chroot "$root" /leaky sizeclass && line leak; then
	rcs=
	for i in 1 2 3 4; do
		say leak "step 100" || break
		in_root check -p "${PID[leak]}" --min-size 64K --log-dir /state \
			--json >"$work/check$i.json" 2>"$work/check$i.err"
		rcs="$rcs$?"
	done
	if [ "$rcs" != 3331 ]; then
		fail "chroot: leak: exit statuses $rcs, not 3331: $(cat "$work/check4.json" "$work/check4.err" 2>/dev/null)"
	elif ! /usr/bin/python3 - "$work/check4.json" <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
assert d['verdict'] == 'leak', d['verdict']
assert any(f['kind'] == 'size_class' and f['chunk_size_min'] <= 1168 <= f['chunk_size_max']
           for f in d['leaks']), d['leaks']
EOF
		fail "chroot: leak: not the size class of 1168 bytes: $(cat "$work/check4.json")"
	else
		ok "chroot: the planted leak found at the fourth check"
	fi
fi
stop leak

# int3 callers with no la-int3-tracer but the file itself: leaky leaks a
# chunk every 2 ms; the leak must come with a caller sampled by int3.
if start leak3 chroot "$root" /leaky sizeclass && line leak3 &&
	say leak3 "timer 2 1"; then
	in_root check -p "${PID[leak3]}" --repeat 8 --interval 0.4 \
		--min-size 64K --callers-backend=int3 --log-dir /state \
		--json >"$work/int3.json" 2>"$work/int3.err"
	rc=$?
	if [ "$rc" -ne 1 ]; then
		fail "chroot: int3: exit status $rc, not 1: $(cat "$work/int3.json" "$work/int3.err")"
	elif ! /usr/bin/python3 - "$work/int3.json" <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
cs = d['callers_sampling']
assert cs['backend'] == 'int3' and cs['windows'] >= 1 and cs['allocations'] > 0, cs
callers = [c for f in d['leaks'] for c in f.get('callers', [])]
assert callers, (d['leaks'], cs)
assert any(fr['module'] == '/leaky' and fr['function']
           for c in callers for fr in c['stack']), callers
EOF
		fail "chroot: int3: no caller in /leaky: $(cat "$work/int3.json" "$work/int3.err")"
	else
		ok "chroot: int3 callers sampled by the file as its own tracer"
	fi
fi
stop leak3

echo "$me: $fails failures"
[ "$fails" -eq 0 ]
