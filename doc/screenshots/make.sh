#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make.sh - `make screenshots`: the README's two pictures of the HTML
# report, from real runs on tests/targets/leaky in a temporary log folder:
#   leak.png       check -- leaky sizeclass: a leak, its streak and callers
#   retention.png  monitor of leaky fragment: free bytes that glibc keeps
# rendered by headless Chromium (network disabled) 1200 px wide.
# Usage: make.sh OUTDIR (LEAKATTACH and LA_TARGETS_DIR from make)
set -u

out=${1:?usage: make.sh OUTDIR}
LEAKATTACH=${LEAKATTACH:-./leakattach}
LA_TARGETS_DIR=${LA_TARGETS_DIR:-tests/targets}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/integration/chromium.sh"

T=$(mktemp -d /tmp/la-shots.XXXXXX)
leaky_pid=
cleanup() {
	chromium_kill
	if [ -n "$leaky_pid" ]; then
		kill "$leaky_pid" 2>/dev/null
		wait "$leaky_pid" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "make.sh: $*" >&2
	exit 1
}

shot() { # PAGE PNG HEIGHT
	chromium_run "$T/c" --window-size=1200,"$3" --hide-scrollbars \
		--screenshot="$2" "file://$1" ||
		fail "chromium failed: $(tail -3 "$T/c/stderr")"
}

# the leak: 1000 blocks of 1160 bytes every 100 ms, 8 samples
"$LEAKATTACH" check --log-dir "$T/leak" --interval 0.5 --repeat 8 \
	--html "$T/leak.html" -- "$LA_TARGETS_DIR/leaky" sizeclass 100 1000 \
	>/dev/null
[ $? -eq 1 ] || fail "the leak was not found"
shot "$T/leak.html" "$out/leak.png" 1150

# retention: holes of 8 KiB freed between live blocks, a step every 500 ms
coproc LEAKY { exec "$LA_TARGETS_DIR/leaky" fragment 15; }
leaky_pid=$LEAKY_PID
read -r -t 10 -u "${LEAKY[0]}" line || fail "leaky did not start"
echo "timer 500 0" >&"${LEAKY[1]}"
read -r -t 10 -u "${LEAKY[0]}" line || fail "leaky: no timer"
"$LEAKATTACH" monitor -p "$leaky_pid" --log-dir "$T/ret" --interval 0.5 \
	--duration 6 --html "$T/ret.html" >/dev/null ||
	fail "monitor of the retention failed"
grep -q 'data-verdict="retention"' "$T/ret.html" ||
	fail "no retention in the page"
shot "$T/ret.html" "$out/retention.png" 1150
echo "wrote $out/leak.png $out/retention.png"
