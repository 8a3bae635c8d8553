#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/verdicts-real.sh - make bench-verdicts, its second half: the
# verdicts on steady real programs, where any LEAK is a false alarm
# (issue 13). Each program runs while one `leakattach check --repeat N
# --interval I` samples it (the defaults otherwise, --callers=off: the
# windows are not the question), at --min-size 1M and 256K, under each
# rule of $rules ("default": no --rule option); counted: the leaks
# accused (reported at any sample of the run, JSON leaks_this_run: the
# false alarms), the leaks standing at the end (JSON leaks), leakattach's
# exit status (1 also for a leak accused in the run that is no longer a
# leak but not yet a plateau), and location-samples (the locations the
# tracker follows times the samples).
#   pydict    Debian's python3: a dict of 5000 keys whose values are
#             distinct strings of 500-1500 bytes (random sizes), 200 of
#             them replaced with fresh ones every 10 ms (bounded: no
#             leak); ready after 2 s of that, its steady state sampled
#   pylru     python3: an LRU of 50000 small tuples, 500 replaced every 10 ms
#   churn     bench/churn: 4 threads of malloc/free over 100 MiB
#   memcached Debian's /usr/bin/memcached on 127.0.0.1 (a free port from
#             21211 up), -m 64, under bench/memcload.py's sets of 100-3000
#             bytes to 2M keys (about 3 GB), gets, multi-gets and deletes,
#             all the time, from 8 connections, each one opened anew
#             after 50-500 requests; sampled at its memory limit: from a
#             few seconds after its first eviction (the warm-up's length
#             is printed). Skipped, with one line, when memcached is not
#             installed.
# Every row starts its program afresh. A leak counts when it was reported
# at any sample of the run (JSON leaks_this_run), even if it became a
# plateau since.
# Then a second, short table, not of steady programs:
#   memcached-warmup  memcached under the same load, sampled from the
#             moment it answers, while the load fills its 64 MiB, with
#             enough samples to stay at its limit for max(SAMPLES, 30)
#             more after (from the steady rows' longest fill): a warm-up,
#             maybe accused while it grows, to be withdrawn as a plateau
#             once flat. Counted: accused, standing, the exit status, the
#             plateaus at the end (JSON plateau), and the samples taken
#             after its first eviction (from the samples' times).
# Usage: verdicts-real.sh LEAKATTACH CHURN [SAMPLES [INTERVAL]]
# Nothing is asserted; exit 2 when something could not run.
set -u
export LC_ALL=C
rules="default noise fixed"
la=$1 churn=$2 samples=${3:-100} interval=${4:-0.2}
python=/usr/bin/python3
memcached=/usr/bin/memcached
memcload=$(dirname "$0")/memcload.py
settle=5 # seconds of load after memcached's first eviction
tmp=$(mktemp -d) || exit 2
status=0
# the live processes this script started; stop() ends them
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
cleanup() {
	stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# "y" * n with n known only when it runs: a fresh string each time
pydict='import random, sys, time
r = random.Random(1)
d = {i: "y" * r.randrange(500, 1500) for i in range(5000)}
def churn():
    for _ in range(200):
        d[r.randrange(5000)] = "y" * r.randrange(500, 1500)
    time.sleep(0.01)
t = time.monotonic()
while time.monotonic() - t < 2:
    churn()
print("ready", flush=True)
while True:
    churn()'
pylru='import collections, sys, time
lru = collections.OrderedDict((i, (i, i + 1)) for i in range(50000))
n = 50000
print("ready", flush=True)
while True:
    for _ in range(500):
        lru.popitem(last=False)
        lru[n] = (n, n + 1)
        n += 1
    time.sleep(0.01)'

# memcached's `stats [GROUP]` field NAME on $port ("" when it does not
# answer): mcstat NAME [GROUP]
mcstat() {
	"$python" "$memcload" "$port" stats ${2:+"$2"} 2>/dev/null |
		awk -v k="$1" '$1 == k { print $2 }'
}

# starts memcached on the first free port from 21211 and its load; then,
# unless WAIT is "nowait", waits for its memory limit (the longest wait
# in $fill, seconds). Sets $pid (memcached's), $port, $loadpid, $note; 1
# when it could not, with the reason in $note. start_memcached [WAIT]
fill=0
start_memcached() {
	local p t0 ev user=()
	pid=
	[ "$(id -u)" = 0 ] && user=(-u root)
	for p in $(seq 21211 21240); do
		# something answers there: not ours, next
		(exec 3<> "/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		"$memcached" -l 127.0.0.1 -p "$p" -U 0 -m 64 "${user[@]}" \
			> "$tmp/memcached.out" 2>&1 &
		pid=$! port=$p
		pids+=("$pid")
		for _ in $(seq 50); do
			[ "$(mcstat pid)" = "$pid" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		[ "$(mcstat pid)" = "$pid" ] && break
		stop # lost the port to another, or failed: try the next
		pid=
	done
	if [ -z "$pid" ]; then
		note="did not start on 127.0.0.1:21211-21240: $(head -c 200 "$tmp/memcached.out")"
		return 1
	fi
	"$python" "$memcload" "$port" load > "$tmp/memcload.out" 2>&1 &
	loadpid=$!
	pids+=("$loadpid")
	note=
	[ "${1:-}" = nowait ] && return 0
	t0=$EPOCHREALTIME
	for _ in $(seq 1200); do
		ev=$(mcstat evictions)
		[ "${ev:-0}" -gt 0 ] && break
		if ! kill -0 "$loadpid" 2>/dev/null; then
			note="the load stopped: $(head -c 200 "$tmp/memcload.out")"
			return 1
		fi
		sleep 0.1
	done
	if [ "${ev:-0}" -le 0 ]; then
		note="no eviction after 120 s of load"
		return 1
	fi
	note=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "first eviction after %.1f s of load", b - a }')
	fill=$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v f="$fill" \
		'BEGIN { print (b - a > f ? b - a : f) }')
	sleep "$settle"
	note+=", sampled from +$settle s: $(mcstat curr_items) items,"
	note+=" $(mcstat evictions) evictions,"
	note+=" $(mcstat total_malloced slabs) bytes in slab pages"
	return 0
}

# PROG: starts it with its stdout to $tmp/PROG.out, its pid in $pid (not
# in a subshell: bench/churn dies with its parent, its stdin's end), and
# waits for it to be ready; 1 when it could not, the reason in $note
start() {
	note=
	case $1 in
	pydict) "$python" -c "$pydict" > "$tmp/$1.out" & ;;
	pylru) "$python" -c "$pylru" > "$tmp/$1.out" & ;;
	churn)
		# a sleep holds churn's stdin open: it is stopped with churn
		exec 7< <(exec sleep 100000)
		pids+=("$!")
		"$churn" <&7 > "$tmp/$1.out" &
		exec 7<&-
		;;
	memcached)
		start_memcached
		return
		;;
	memcached-warmup)
		start_memcached nowait || return 1
		# the time of its first eviction, in ms, to $tmp/evicted
		rm -f "$tmp/evicted"
		(
			while sleep 0.1; do
				ev=$(mcstat evictions)
				if [ "${ev:-0}" -gt 0 ]; then
					echo "${EPOCHREALTIME/./}" |
						cut -c1-13 > "$tmp/evicted"
					exit 0
				fi
			done
		) &
		pids+=("$!")
		return 0
		;;
	esac
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		grep -q ready "$tmp/$1.out" 2>/dev/null && return 0
		sleep 0.1
	done
	note="not ready after 10 s"
	return 1
}

# one row: PROG MIN RULE SAMPLES MODE; MODE "steady" or "warmup", the
# table the row is printed in
row() {
	local prog=$1 min=$2 rule=$3 n=$4 mode=$5 rc ruleopt=()
	[ "$rule" = default ] || ruleopt=(--rule="$rule")
	if ! start "$prog"; then
		echo "  $prog $min $rule: $note"
		status=2
		stop
		return
	fi
	[ -n "$note" ] && notes+=("$prog $min $rule: $note")
	# in the background: Ctrl-C ends the wait, not only leakattach
	# (which exits 2 then, not by the signal, and the script would go
	# on); stop() ends it then
	"$la" check -p "$pid" --repeat "$n" --interval "$interval" \
		--min-size "$min" "${ruleopt[@]}" --callers=off --json \
		--log-dir "$tmp/log-$prog-$min-$rule" \
		> "$tmp/out.json" 2> "$tmp/err" &
	pids+=("$!")
	wait "$!"
	rc=$?
	unset 'pids[-1]'
	stop
	if [ "$rc" -ge 2 ] && [ "$rc" != 3 ]; then
		echo "  $prog $min $rule: leakattach exited $rc: $(head -c 300 "$tmp/err")"
		status=2
		return
	fi
	"$python" - "$tmp/out.json" "$prog" "$min" "$rule" "$rc" "$mode" \
		"$(cat "$tmp/evicted" 2>/dev/null)" <<'PY' || status=2
import json, sys
d = json.load(open(sys.argv[1]))
prog, min_, rule, rc, mode, evicted = sys.argv[2:8]


def locs(a):
    """The locations of a list, not the types and callers of its leaks."""
    return [e for e in d.get(a, []) if e.get('kind') not in ('type', 'caller')]


# every leak reported during the run: one withdrawn later (a warm-up
# that became a plateau) was an accusation all the same
accused = len(locs('leaks_this_run'))
standing = len(locs('leaks'))
ls = d['samples'] * d.get('locations', 0)
if mode == 'steady':
    print('  %-9s %-8s %-7s %7d %8d %4s %11d %11.2e %11d' % (
        prog, min_, rule, accused, standing, rc, ls,
        accused / ls if ls else 0, d.get('approximate_samples', 0)))
    sys.exit(0)
# the samples at or after the first eviction, from the samples' times
# (evenly spread between the first and the last)
first, last, n = (d['first_sample_unix_ms'], d['last_sample_unix_ms'],
                  d['samples'])
if not evicted:
    full = 'never'
elif int(evicted) <= first:
    full = '%d' % n
else:
    full = '%d' % max(0, round((last - int(evicted)) / (last - first) *
                               (n - 1)) if last > first else 0)
print('  %-16s %-8s %-7s %7d %8d %4s %7d %7d %9s' % (
    prog, min_, rule, accused, standing, rc, len(locs('plateau')), n, full))
PY
}

printf '%s %d samples at --interval %s\n' \
	"steady real programs (any LEAK is a false alarm):" "$samples" "$interval"
printf '  %-9s %-8s %-7s %7s %8s %4s %11s %11s %11s\n' program min-size rule \
	accused standing exit loc-samples false/loc-s approximate
notes=()
for prog in pydict pylru churn memcached; do
	if [ $prog = memcached ] && [ ! -x "$memcached" ]; then
		echo "  memcached: not installed (apt-get install memcached); skipped"
		continue
	fi
	for min in 1M 256K; do
		for rule in $rules; do
			row $prog $min "$rule" "$samples" steady
		done
	done
done
if [ -x "$memcached" ]; then
	# max(SAMPLES, 30) at its limit after the longest fill seen (120 s
	# when none was): its fill takes fewer samples than fill / interval
	w=$(awk -v f="$fill" -v i="$interval" -v n="$samples" 'BEGIN {
		if (f <= 0) f = 120
		printf "%d", (n > 30 ? n : 30) + int(1.2 * f / i + 1) }')
	echo
	printf '%s %d samples at --interval %s\n' \
		"warm-ups (accused while growing, withdrawn when flat):" "$w" \
		"$interval"
	printf '  %-16s %-8s %-7s %7s %8s %4s %7s %7s %9s\n' program min-size \
		rule accused standing exit plateau samples "at limit"
	for min in 1M 256K; do
		for rule in $rules; do
			row memcached-warmup $min "$rule" "$w" warmup
		done
	done
fi
for n in "${notes[@]}"; do echo "  $n"; done
exit $status
