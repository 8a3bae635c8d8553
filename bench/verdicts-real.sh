#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/verdicts-real.sh - make bench-verdicts, its second half: the
# verdicts on steady real programs, where any LEAK is a false alarm
# (issue 13). Each program runs while one `leakattach check --repeat N
# --interval I` samples it (the defaults otherwise, --callers=off: the
# windows are not the question), at --min-size 1M and 256K, under each
# rule of $rules ("default": no --rule option); counted: the leaks
# reported (false alarms), and location-samples (the locations the
# tracker follows times the samples).
#   pydict    Debian's python3: a dict of 5000 keys whose values are
#             replaced with fresh strings every 10 ms (bounded: no leak)
#   pylru     python3: an LRU of 50000 small tuples, 500 replaced every 10 ms
#   churn     bench/churn: 4 threads of malloc/free over 100 MiB
#   memcached Debian's /usr/bin/memcached on 127.0.0.1 (a free port from
#             21211 up), -m 64, under bench/memcload.py's sets of 100-3000
#             bytes to 2M keys (about 3 GB) and gets, all the time;
#             sampled at its memory limit: from a few seconds after its
#             first eviction (the warm-up's length is printed). Skipped,
#             with one line, when memcached is not installed.
# Every row starts its program afresh. A leak counts when it was reported
# at any sample of the run (JSON leaks_this_run), even if it became a
# plateau since.
# Usage: verdicts-real.sh LEAKATTACH CHURN [SAMPLES [INTERVAL]]
# Nothing is asserted; exit 2 when something could not run.
set -u
export LC_ALL=C
rules="default fixed"
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

pydict='import random, sys, time
d = {i: "x" * 1000 for i in range(5000)}
r = random.Random(1)
print("ready", flush=True)
while True:
    for _ in range(200):
        k = r.randrange(5000)
        d[k] = "y" * r.randrange(500, 1500)
    time.sleep(0.01)'
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

# starts memcached on the first free port from 21211 and its load; waits
# for its memory limit. Sets $pid (memcached's), $port, $note; 1 when
# it could not, with the reason in $note.
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
	pids+=("$!")
	t0=$EPOCHREALTIME
	for _ in $(seq 1200); do
		ev=$(mcstat evictions)
		[ "${ev:-0}" -gt 0 ] && break
		if ! kill -0 "${pids[1]}" 2>/dev/null; then
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

printf '%s %d samples at --interval %s\n' \
	"steady real programs (any LEAK is a false alarm):" "$samples" "$interval"
printf '  %-9s %-8s %-7s %8s %10s %12s %10s\n' program min-size rule leaks \
	loc-samples "false/loc-s" approximate
notes=()
for prog in pydict pylru churn memcached; do
	if [ $prog = memcached ] && [ ! -x "$memcached" ]; then
		echo "  memcached: not installed (apt-get install memcached); skipped"
		continue
	fi
	for min in 1M 256K; do
		for rule in $rules; do
			ruleopt=()
			[ "$rule" = default ] || ruleopt=(--rule="$rule")
			if ! start $prog; then
				echo "  $prog $min $rule: $note"
				status=2
				stop
				continue
			fi
			[ -n "$note" ] && notes+=("$prog $min $rule: $note")
			# in the background: Ctrl-C ends the wait, not only
			# leakattach (which exits 2 then, not by the signal, and
			# the script would go on); stop() ends it then
			"$la" check -p "$pid" --repeat "$samples" \
				--interval "$interval" --min-size "$min" \
				"${ruleopt[@]}" --callers=off --json \
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
				continue
			fi
			"$python" - "$tmp/out.json" "$prog" "$min" "$rule" <<'PY' || status=2
import json, sys
d = json.load(open(sys.argv[1]))
# every leak reported during the run: one withdrawn later (a warm-up
# that became a plateau) was an accusation all the same
leaks = len(d.get('leaks_this_run', d.get('leaks', [])))
ls = d['samples'] * d.get('locations', 0)
print('  %-9s %-8s %-7s %8d %10d %12.2e %10d' % (sys.argv[2], sys.argv[3],
      sys.argv[4], leaks, ls, leaks / ls if ls else 0,
      d.get('approximate_samples', 0)))
PY
		done
	done
done
for n in "${notes[@]}"; do echo "  $n"; done
exit $status
