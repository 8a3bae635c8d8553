# SPDX-License-Identifier: GPL-2.0-or-later
# chromium.sh - sourced by test_html_report.sh and doc/screenshots/make.sh:
# run headless Chromium on a local page with the network disabled (every
# request goes to a proxy on port 9 that does not answer, and every host
# name fails to resolve), a profile of its own, a time limit, and never
# left running.
#
# chromium_run OUTDIR ARG...: runs chromium ARG... in the background,
# waits for it (90 s at most, then kills it); its stdout in OUTDIR/stdout,
# stderr in OUTDIR/stderr. Returns chromium's status (124: timed out).

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
chromium_pid=

chromium_kill() {
	if [ -n "$chromium_pid" ]; then
		kill -KILL "$chromium_pid" 2>/dev/null
		wait "$chromium_pid" 2>/dev/null
		chromium_pid=
	fi
}

chromium_run() {
	local out=$1 rc
	shift
	mkdir -p "$out/profile"
	# timeout(1) in the foreground of its own group: it kills chromium's
	# whole process tree when the time is up
	timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check --disable-extensions \
		--disable-background-networking --disable-sync \
		--disable-component-update --user-data-dir="$out/profile" \
		--proxy-server=127.0.0.1:9 \
		--host-resolver-rules='MAP * ~NOTFOUND' "$@" \
		>"$out/stdout" 2>"$out/stderr" &
	chromium_pid=$!
	wait "$chromium_pid"
	rc=$?
	chromium_pid=
	return $rc
}
