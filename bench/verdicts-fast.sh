#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/verdicts-fast.sh - make bench-verdicts, its third part: issue 13's
# fast leak called "No leak". A steady 1 MB/s leak (tests/targets/leaky
# sizeclass: 86 chunks of 1168 bytes every 100 ms) in a process that
# already holds 243 MB of them, checked the way cron or a person would:
# one `leakattach check -p PID --json` every INTERVAL seconds (5, the
# field trial's), each continuing the history the earlier ones left, under
# each rule. Its growth per sample is about +2.07 %, +2.03 %, +1.99 %,
# +1.95 % ...: just around --threshold, shrinking as it grows.
# Printed per rule: each check's verdict (u undecided, L leak, - no leak)
# and exit status, the sample of the first LEAK, and its growth per
# sample. Nothing is asserted; exit 2 when something could not run.
# Usage: verdicts-fast.sh LEAKATTACH LEAKY [INTERVAL [CHECKS]]
set -u
export LC_ALL=C
la=$1 leaky=$2 interval=${3:-5} checks=${4:-8}
python=/usr/bin/python3
rules="default noise fixed"
tmp=$(mktemp -d) || exit 2
lpid=
cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

printf 'a 1 MB/s leak in 243 MB, one check every %ss (u undecided, L leak, - no leak):\n' "$interval"
printf '  %-8s %-*s %10s  %s\n' rule $((checks * 2)) verdicts first-leak \
	"growth per sample at it"
for rule in $rules; do
	opt=()
	[ "$rule" != default ] && opt=(--rule="$rule")
	coproc LEAKY { exec "$leaky" sizeclass; }
	lpid=$LEAKY_PID
	read -r -t 20 line <&"${LEAKY[0]}" || { echo "  leaky did not start"; exit 2; }
	echo "step 207700" >&"${LEAKY[1]}"
	read -r -t 60 line <&"${LEAKY[0]}" || { echo "  leaky: no answer"; exit 2; }
	echo "timer 100 86" >&"${LEAKY[1]}"
	read -r -t 20 line <&"${LEAKY[0]}"
	verdicts= first=- growth=
	for i in $(seq "$checks"); do
		t0=$(date +%s.%N)
		"$la" check -p "$lpid" --callers=off --json "${opt[@]}" \
			--log-dir "$tmp/log-$rule" > "$tmp/out.json" 2> "$tmp/err"
		rc=$?
		if [ "$rc" -ge 2 ] && [ "$rc" != 3 ]; then
			echo "  $rule: leakattach exited $rc: $(head -c 300 "$tmp/err")"
			exit 2
		fi
		case $rc in 0) v=- ;; 1) v=L ;; 3) v=u ;; esac
		verdicts="$verdicts$v "
		if [ "$v" = L ] && [ "$first" = - ]; then
			first=$i
			growth=$("$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
l = [f for f in d["leaks"] if f.get("kind") == "arena_size_class"] or d["leaks"]
print(" ".join("+%.2f %%" % p for p in l[0].get("growth_percent", [])), l[0].get("evidence"))
' "$tmp/out.json")
		fi
		sleep "$("$python" -c "import sys, time; print(max(0, float(sys.argv[1]) - (time.time() - float(sys.argv[2]))))" "$interval" "$t0")"
	done
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	lpid=
	printf '  %-8s %-*s %10s  %s\n' "$rule" $((checks * 2)) "$verdicts" "$first" "$growth"
done
