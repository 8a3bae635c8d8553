#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test_pkgconfig.sh - leakattach as a user gets it: `make install
# DESTDIR=...` of this build, then examples/watch_server.c built out of
# the tree with nothing but `pkg-config --cflags --libs leakattach`
# (leakattach.pc, with PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR into
# DESTDIR), and run against the installed library and program: it starts
# its watcher, leaks when asked, and its callback and la_watch_check()
# see the leak. Run by make check (LA_BUILDDIR, LA_MAKE, LA_INSTALL_*,
# LA_EXAMPLE_SRC, LA_CC).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
if [ -n "${LA_SANITIZED:-}" ]; then
	# the library's programs then allocate with ASan's malloc, not glibc's
	echo "test_pkgconfig: skipped: built with --enable-sanitizers, so the example's malloc is ASan's, which leakattach refuses; the plain build runs it"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_pkgconfig.XXXXXX")
dest=$tmp/dest
spid=
trap '[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

for v in LA_BUILDDIR LA_MAKE LA_INSTALL_LIBDIR LA_INSTALL_BINDIR LA_INSTALL_INCLUDEDIR \
	LA_EXAMPLE_SRC LA_CC; do
	[ -n "${!v:-}" ] || { echo "test_pkgconfig: $v is not set (run by make check)"; exit 99; }
done
command -v pkg-config >/dev/null || { echo "FAIL: no pkg-config (apt-get install pkg-config)"; exit 1; }

# MAKEFLAGS of the make check that runs us would pass its TESTS along
if ! env -u MAKEFLAGS -u MFLAGS $LA_MAKE -C "$LA_BUILDDIR" install \
	DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
	echo "FAIL: make install DESTDIR=$dest"
	tail -20 "$tmp/install.log"
	exit 1
fi
libdir=$dest$LA_INSTALL_LIBDIR
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs leakattach) || {
	echo "FAIL: pkg-config --cflags --libs leakattach"
	exit 1
}
echo "pkg-config --cflags --libs leakattach: $flags"
for want in "-I$dest$LA_INSTALL_INCLUDEDIR" "-L$libdir" -lleakattach; do
	case " $flags " in
	*" $want "*) ;;
	*) echo "FAIL: no $want: the flags do not point into DESTDIR"; exit 1 ;;
	esac
done
# the example alone, in a folder of its own, as a user would build it
mkdir "$tmp/user"
cp "$LA_EXAMPLE_SRC" "$tmp/user/"
(cd "$tmp/user" && $LA_CC -o watch_server watch_server.c $flags -pthread) || {
	echo "FAIL: the example does not build with pkg-config's flags"
	exit 1
}
# its library and its leakattach, the installed ones
export LD_LIBRARY_PATH=$libdir
export LEAKATTACH=$dest$LA_INSTALL_BINDIR/leakattach
ldd "$tmp/user/watch_server" | grep -q "libleakattach.so.* => $libdir/" || {
	echo "FAIL: the example does not load the installed library:"
	ldd "$tmp/user/watch_server"
	exit 1
}
coproc SRV { exec "$tmp/user/watch_server" -i 0.5 -d "$tmp/log" 2>&1; }
spid=$SRV_PID
exec {sin}<&"${SRV[0]}" {sout}>&"${SRV[1]}"
fail=1
seen_callback=0
echo leak >&$sout
while IFS= read -r -t 120 line <&$sin; do
	echo "  server: $line"
	case $line in
	"callback: leak at size:"*)
		seen_callback=1
		echo check >&$sout ;;
	"check: leak after"*)
		[ $seen_callback = 1 ] && fail=0
		echo quit >&$sout ;;
	stopped) break ;;
	esac
done
wait "$spid"
rc=$?
spid=
[ $rc = 0 ] || { echo "FAIL: the example's exit status is $rc"; fail=1; }
[ $fail = 0 ] || echo "FAIL: the installed example did not see its leak"
exit $fail
