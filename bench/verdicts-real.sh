#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/verdicts-real.sh - make bench-verdicts, its second half: the
# verdicts on steady real programs, where any LEAK is a false alarm
# (issue 13). Each program runs while one `leakattach check --repeat N
# --interval I` samples it (the defaults otherwise, --callers=off: the
# windows are not the question), at --min-size 1M and 256K; counted: the
# leaks reported (false alarms), and location-samples (the locations the
# tracker follows times the samples).
#   pydict   Debian's python3: a dict of 5000 keys whose values are
#            replaced with fresh strings every 10 ms (bounded: no leak)
#   pylru    python3: an LRU of 50000 small tuples, 500 replaced every 10 ms
#   churn    bench/churn: 4 threads of malloc/free over 100 MiB
# A leak counts when it was reported at any sample of the run (JSON
# leaks_this_run), even if it became a plateau since.
# Usage: verdicts-real.sh LEAKATTACH CHURN [SAMPLES [INTERVAL]]
# Nothing is asserted; exit 2 when something could not run.
set -u
export LC_ALL=C
la=$1 churn=$2 samples=${3:-100} interval=${4:-0.2}
python=/usr/bin/python3
tmp=$(mktemp -d) || exit 2
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

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

# NAME: starts it with its stdout to $tmp/NAME.out, its pid in $pid (not
# in a subshell: bench/churn dies with its parent)
start() {
	case $1 in
	pydict) "$python" -c "$pydict" > "$tmp/$1.out" & ;;
	pylru) "$python" -c "$pylru" > "$tmp/$1.out" & ;;
	churn) "$churn" < <(sleep 100000) > "$tmp/$1.out" & ;;
	esac
	pid=$!
}

printf '%s %d samples at --interval %s\n' \
	"steady real programs (any LEAK is a false alarm):" "$samples" "$interval"
printf '  %-8s %-6s %8s %10s %12s %10s\n' program min-size leaks loc-samples \
	"false/loc-s" approximate
for prog in pydict pylru churn; do
	for min in 1M 256K; do
		start $prog
		pids+=("$pid")
		for _ in $(seq 100); do
			grep -q ready "$tmp/$prog.out" 2>/dev/null && break
			sleep 0.1
		done
		"$la" check -p "$pid" --repeat "$samples" --interval "$interval" \
			--min-size "$min" --callers=off --json \
			--log-dir "$tmp/log-$prog-$min" > "$tmp/out.json" 2> "$tmp/err"
		rc=$?
		kill "$pid" 2>/dev/null
		if [ "$rc" -ge 2 ] && [ "$rc" != 3 ]; then
			echo "  $prog: leakattach exited $rc: $(head -c 300 "$tmp/err")"
			continue
		fi
		"$python" - "$tmp/out.json" "$prog" "$min" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# every leak reported during the run: one withdrawn later (a warm-up
# that became a plateau) was an accusation all the same
leaks = len(d.get('leaks_this_run', d.get('leaks', [])))
ls = d['samples'] * d.get('locations', 0)
print('  %-8s %-6s %8d %10d %12.2e %10d' % (sys.argv[2], sys.argv[3], leaks, ls,
      leaks / ls if ls else 0, d.get('approximate_samples', 0)))
PY
	done
done
