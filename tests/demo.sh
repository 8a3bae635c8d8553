#!/bin/bash
# demo.sh - the demo of the README (`make demo`): start the demo target,
# wait until it is ready, snapshot it with leakattach, stop it.
#
# Usage: tests/demo.sh BUILDDIR
#
# The target's stdin is a pipe this script keeps open; the target prints its
# "mallinfo2 ..." line once its heap is quiescent, and this script reads
# that line instead of sleeping. The exit status is leakattach's. No process
# is left behind: the target is told to quit, and on any other way out
# (error, Ctrl-C) it is killed and reaped by the EXIT trap. The target also
# dies with this script (PR_SET_PDEATHSIG) if the script is SIGKILLed.

# `make demo` runs this with $(SHELL), which may be a POSIX sh.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -eu

me=demo.sh
if [ $# -ne 1 ]; then
	echo "usage: $me BUILDDIR" >&2
	exit 64
fi
builddir=$1
target=$builddir/tests/targets/heapgen
tool=$builddir/leakattach
for f in "$target" "$tool"; do
	if [ ! -x "$f" ]; then
		echo "$me: $f is missing: run 'make -j2 check' (or make demo) first" >&2
		exit 2
	fi
done

pid=
tool_pid=
to=
from=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	# leakattach detaches in order on SIGTERM and leaves the target running.
	if [ -n "$tool_pid" ]; then
		kill -TERM "$tool_pid" 2>/dev/null || true
		wait "$tool_pid" 2>/dev/null || true
	fi
	# Close our end of its stdin first: end of file makes it exit too.
	if [ -n "$to" ]; then exec {to}>&-; fi
	if [ -n "$from" ]; then exec {from}<&-; fi
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# A coprocess: its stdin and stdout are pipes to us, its parent is this
# shell (so PR_SET_PDEATHSIG ties it to us). Duplicate the pipe ends:
# bash forgets the coproc's own descriptors once it has exited.
coproc HEAPGEN { exec "$target" demo; }
pid=$HEAPGEN_PID
exec {to}>&"${HEAPGEN[1]}" {from}<&"${HEAPGEN[0]}"

# The readiness handshake. The timeout only bounds a broken target.
ready=
while IFS= read -r -t 60 line <&"$from"; do
	case $line in
	mallinfo2\ *)
		ready=$line
		break
		;;
	esac
done
if [ -z "$ready" ]; then
	echo "$me: the demo target (PID $pid) never said it was ready" >&2
	exit 2
fi
echo "demo target PID $pid: glibc's own mallinfo2() says: $ready"
echo

# In the background so that a signal to this script is acted on at once
# (bash runs traps only between foreground commands, but interrupts wait);
# without our pipe ends, which are none of leakattach's business.
"$tool" snapshot -p "$pid" {to}>&- {from}<&- &
tool_pid=$!
rc=0
wait "$tool_pid" || rc=$?
tool_pid=

# Stop the target the polite way and reap it.
echo quit >&"$to" || true
exec {to}>&-
to=
exec {from}<&-
from=
wait "$pid" || true
pid=
exit "$rc"
