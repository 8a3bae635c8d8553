#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test_watch.sh - la_watch_* (leakattach.h) through examples/watch_server,
# a program that watches itself and leaks when asked, with the real
# leakattach as its watcher:
#  1. the leak is seen by the callback and by la_watch_check(); before it,
#     the verdict is no leak or undecided; the watcher's files are in the
#     log folder; after "quit" the watcher is gone (reaped, not a zombie);
#  2. the server SIGKILLed: its watcher exits by itself;
#  3. the watcher SIGKILLed: the server runs on, neither stopped nor traced,
#     and la_watch_check() says that the watcher ended;
#  4. la_watch_start() declares the watcher its ptracer
#     (prctl(PR_SET_PTRACER, watcher), seen by strace), and fails cleanly
#     when the watcher cannot trace it (strace traces it already);
#  5. a metrics file is passed on as --metrics (or refused by a leakattach
#     without it, in la_watch_start()'s error);
#  6. where Yama's ptrace_scope is 1: scenario 1 without CAP_SYS_PTRACE
#     (capsh), which only PR_SET_PTRACER permits. Said and passed over
#     where there is no Yama or another scope.
# Run by make check (LA_WATCH_SERVER, LEAKATTACH); bash, for coproc.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
if [ -n "${LA_SANITIZED:-}" ]; then
	# the library's programs then allocate with ASan's malloc, not glibc's
	echo "test_watch: skipped: built with --enable-sanitizers, so the example's malloc is ASan's, which leakattach refuses; the plain build runs it"
	exit 77
fi
server=${LA_WATCH_SERVER:-examples/watch_server}
export LEAKATTACH=${LEAKATTACH:-$PWD/leakattach}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_watch.XXXXXX")
fail=0
spid=
wpid=
sin=
sout=
declare -A called

cleanup()
{
	for p in $spid $wpid; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

bad()
{
	echo "FAIL: $*"
	fail=1
}

# expect REGEX [GUARD_S]: read the server's lines until one matches; the
# guard only stops a hung run. The line is left in $got.
expect()
{
	local guard=${2:-120} end=$((SECONDS + ${2:-120}))
	got=
	while [ $SECONDS -lt $end ]; do
		if ! IFS= read -r -t $guard got <&$sin; then
			bad "no line matching '$1' (end of output or ${guard}s)"
			return 1
		fi
		echo "  server: $got"
		# each leak is called back once (a repeated line is no news)
		if [[ $got =~ ^callback:\ leak\ at\ ([^,]*), ]]; then
			[ -n "${called[${BASH_REMATCH[1]}]:-}" ] &&
				bad "a second callback for ${BASH_REMATCH[1]}"
			called[${BASH_REMATCH[1]}]=1
		fi
		[[ $got =~ $1 ]] && return 0
	done
	bad "no line matching '$1' in ${guard}s"
	return 1
}

# start ARGS...: the server as a coprocess; sets spid and wpid.
start()
{
	coproc SRV { exec "$@" 2>"$tmp/stderr"; }
	spid=$SRV_PID
	# bash forgets SRV when the server exits: keep its pipes
	[ -n "$sin" ] && exec {sin}<&- {sout}>&-
	exec {sin}<&"${SRV[0]}" {sout}>&"${SRV[1]}"
	wpid=
	expect '^ready: watched by process [0-9]+$' || {
		cat "$tmp/stderr"
		return 1
	}
	wpid=${got##* }
}

# The state of a process ("" when gone or a zombie) and its tracer.
pstate()
{
	awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null | grep -v Z
}
tracer()
{
	awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# gone PID WHAT: PID exits within 30 s (a guard; the time is printed).
gone()
{
	local t0=$SECONDS
	while [ -n "$(pstate "$1")" ] && [ $((SECONDS - t0)) -lt 30 ]; do
		sleep 0.1
	done
	if [ -n "$(pstate "$1")" ]; then
		bad "$2 (process $1) still runs after 30 s"
		kill -KILL "$1" 2>/dev/null
	else
		echo "  $2 (process $1) gone after about $((SECONDS - t0)) s"
	fi
}

leak_scenario()
{
	local log=$1
	shift
	called=()
	start "$@" -i 0.5 -d "$log" || return
	# (argv[0] may be libtool's .libs/leakattach)
	[[ "$(tr '\0' ' ' <"/proc/$wpid/cmdline")" == \
		*"leakattach monitor -p $spid --watch-fd 3 --quiet --interval 0.500000 --log-dir $log " ]] ||
		bad "the watcher runs: $(tr '\0' ' ' <"/proc/$wpid/cmdline")"
	[ "$(awk '/^PPid:/ { print $2 }' "/proc/$wpid/status")" = "$spid" ] ||
		bad "the watcher is not the server's child"
	echo check >&$sout
	expect '^check: ' &&
		[[ $got =~ ^check:\ (no-leak|undecided)\  ]] ||
		bad "a leak before the server leaks: $got"
	echo leak >&$sout
	expect '^callback: leak at size:' ||
		bad "the callback never named a size class"
	echo check >&$sout
	expect '^check: (leak|no-leak|undecided|error)' &&
		[[ $got =~ ^check:\ leak\ after ]] ||
		bad "la_watch_check() after the callback: $got"
	expect '^check: leak at size:' ||
		bad "la_watch_check() named no size class"
	# the answer repeats the latest sample: no callback again for it
	echo check >&$sout
	expect '^check: leak after'
	echo quit >&$sout
	expect '^stopped$'
	ls "$log"/targets/"$spid"-*/history.jsonl >/dev/null 2>&1 ||
		bad "no history in the log folder $log: $(ls -R "$log")"
	# la_watch_stop() reaped it: gone at once, no zombie left
	[ -z "$(pstate "$wpid")" ] && [ ! -e "/proc/$wpid" ] ||
		bad "the watcher $wpid is still there after la_watch_stop()"
	wait "$spid"
	[ $? = 0 ] || bad "the server's exit status is not 0"
	[ -s "$tmp/stderr" ] && bad "the server wrote on stderr: $(cat "$tmp/stderr")"
	spid=
}

echo "1. a leak, seen by the callback and by la_watch_check()"
leak_scenario "$tmp/log1" "$server"

echo "2. the server SIGKILLed: its watcher ends"
if start "$server" -i 0.2 -d "$tmp/log2"; then
	echo leak >&$sout
	expect '^leaking$'
	sleep 1
	kill -KILL "$spid"
	wait "$spid" 2>/dev/null
	spid=
	gone "$wpid" "the watcher of a SIGKILLed server"
	wpid=
fi

echo "3. the watcher SIGKILLed: the server runs on, untraced"
if start "$server" -i 0.2 -d "$tmp/log3"; then
	kill -KILL "$wpid"
	echo check >&$sout
	expect '^check: ' &&
		[[ $got =~ ^check:\ error:\ the\ leakattach\ watcher\ ended ]] ||
		bad "la_watch_check() without a watcher: $got"
	# the reader thread reaped it as its socket ended: no zombie waits
	[ ! -e "/proc/$wpid" ] || bad "the killed watcher $wpid is not reaped"
	case "$(pstate "$spid")" in
	[RS]) ;;
	*) bad "the server is in state '$(pstate "$spid")'" ;;
	esac
	[ "$(tracer "$spid")" = 0 ] || bad "the server is traced by $(tracer "$spid")"
	echo quit >&$sout
	expect '^stopped$'
	wait "$spid"
	spid=
	wpid=
fi

echo "4. PR_SET_PTRACER names the watcher; a refusal fails cleanly"
if command -v strace >/dev/null; then
	strace -qq -e trace=prctl,clone,clone3,fork -o "$tmp/strace" \
		"$server" -i 0.2 -d "$tmp/log4" </dev/null >"$tmp/out4" 2>&1
	rc=$?
	# (the server may be libtool's wrapper script: other children first)
	child=$(sed -n 's/^prctl(PR_SET_PTRACER, \([1-9][0-9]*\)).*/\1/p' "$tmp/strace")
	[ -n "$child" ] && grep -q "^clone(.*) = $child\$" "$tmp/strace" ||
		bad "no prctl(PR_SET_PTRACER, WATCHER): $(cat "$tmp/strace")"
	[ $rc = 2 ] && grep -q '^la_watch_start: the leakattach watcher .* failed' "$tmp/out4" ||
		bad "la_watch_start() under strace: status $rc, $(cat "$tmp/out4")"
	[ -n "$child" ] && [ -e "/proc/$child" ] && bad "the watcher $child is left"
else
	bad "no strace (apt-get install strace)"
fi

echo "5. la_watch_opts.metrics_file is passed on as --metrics FILE"
# A leakattach without --metrics refuses it, and la_watch_start() says so;
# one with it writes the file at the first sample.
echo quit | "$server" -i 0.5 -d "$tmp/log5" -m "$tmp/metrics.prom" \
	>"$tmp/out5" 2>&1
rc=$?
if [ $rc = 0 ]; then
	[ -s "$tmp/metrics.prom" ] || bad "no metrics file after la_watch_start()"
else
	grep -q "la_watch_start: .*--metrics" "$tmp/out5" ||
		bad "la_watch_start() with a metrics file: status $rc, $(cat "$tmp/out5")"
	echo "  this leakattach has no --metrics: $(cat "$tmp/out5")"
fi

echo "6. Yama's ptrace_scope 1 without CAP_SYS_PTRACE"
scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null)
if [ "$scope" = 1 ] && command -v capsh >/dev/null; then
	leak_scenario "$tmp/log5" capsh --drop=cap_sys_ptrace -- -c \
		'exec "$0" "$@"' "$server"
else
	echo "  not tested here: ptrace_scope is '${scope:-absent (no Yama)}'"
fi

exit $fail
