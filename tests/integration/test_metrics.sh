#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test_metrics.sh - --metrics FILE with the real parts around it:
#  - a leaking target (leaky sizeclass, under a name with a quote and a
#    backslash) checked one sample at a time with --metrics: promtool
#    check metrics accepts every file written, and the sample counter
#    follows the checks; a configuration file's metrics = FILE works; a
#    file that cannot be written is said once and sampling goes on;
#    simulate writes one too;
#  - examples/systemd: systemd-analyze verify passes on the units (with
#    the build's leakattach and man page in place of the installed ones),
#    and the service's own command, run on a target of that name, writes
#    the file for node_exporter;
#  - examples/prometheus/leakattach.rules.yml: promtool check rules and
#    promtool test rules (tests/integration/metrics_rules_test.yml);
#  - prometheus-node-exporter, only its textfile collector, on a free
#    loopback port over the folder of those files: its /metrics has the
#    leakattach_leak gauge of the leaking target with its labels, and the
#    series of every process that wrote a file, and no textfile error.
# Run by make check from the top of the build tree (LEAKATTACH,
# LA_TARGETS_DIR, LA_MANPAGE and srcdir come from the harness). Every
# process it starts is killed on every exit path.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
srcdir=${srcdir:-.}
la=${LEAKATTACH:-$PWD/leakattach}
targets=${LA_TARGETS_DIR:-$PWD/tests/targets}
manpage=${LA_MANPAGE:-$srcdir/doc/leakattach.1}
py=/usr/bin/python3
exporter=${LA_NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
rules=$srcdir/examples/prometheus/leakattach.rules.yml
units=$srcdir/examples/systemd

skip() {
	echo "test_metrics: SKIP: $*"
	exit 77
}
[ -x "$la" ] || { echo "test_metrics: no $la (build it first)"; exit 99; }
[ -x "$targets/leaky" ] || { echo "test_metrics: no $targets/leaky"; exit 99; }
command -v promtool >/dev/null || skip "no promtool (Debian package prometheus)"
[ -x "$exporter" ] || skip "no $exporter (Debian package prometheus-node-exporter)"
command -v systemd-analyze >/dev/null || skip "no systemd-analyze (Debian package systemd)"
[ -x "$py" ] || skip "no $py"

T=$(mktemp -d "${TMPDIR:-/tmp}/test_metrics.XXXXXX") || exit 99
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail=0
bad() {
	echo "test_metrics: FAIL: $*"
	fail=1
}

tf=$T/textfile # the collector's folder
mkdir -p "$tf" "$T/bin" "$T/other" "$T/man/man1"
export LEAKATTACH_LOG_DIR=$T/log LEAKATTACH_CONFIG=
common=(--callers=off --min-size 64K)

# promtool check metrics FILE, its complaints shown
promcheck() {
	if ! promtool check metrics <"$1" >"$T/promtool.out" 2>&1; then
		bad "promtool check metrics refuses $2:"
		sed 's/^/	/' "$T/promtool.out"
		head -n 20 "$1" | sed 's/^/	> /'
	fi
}

# the value of a series without extra labels in a file of ours
value_of() {
	sed -n "s/^$1{[^}]*} //p" "$2"
}

# start a copy of leaky named $1, leaking unattended; sets started
start_leaky() {
	cp "$targets/leaky" "$T/bin/$1" || exit 99
	"$T/bin/$1" sizeclass 50 20 </dev/null >/dev/null 2>&1 &
	started=$!
	pids+=("$started")
	# sampled once its libc is mapped
	for _ in $(seq 200); do
		grep -q libc "/proc/$started/maps" 2>/dev/null && return
		sleep 0.05
	done
	bad "$1 ($started) never mapped its libc"
	exit 1
}

# --- the rules ---------------------------------------------------------------
promtool check rules "$rules" >"$T/promtool.out" 2>&1 ||
	{ bad "promtool check rules $rules:"; cat "$T/promtool.out"; }
sed "s|RULES|$(cd "$(dirname "$rules")" && pwd)/$(basename "$rules")|" \
	"$srcdir/tests/integration/metrics_rules_test.yml" >"$T/rules_test.yml"
promtool test rules "$T/rules_test.yml" >"$T/promtool.out" 2>&1 ||
	{ bad "promtool test rules:"; cat "$T/promtool.out"; }

# --- a leak, one check at a time ---------------------------------------------
name='la"q\m'
start_leaky "$name"
pid=$started
rc=
for i in $(seq 12); do
	"$la" check -p "$pid" --repeat 1 "${common[@]}" \
		--metrics "$tf/leaky.prom" >"$T/out" 2>"$T/err"
	rc=$?
	case $rc in 0 | 1 | 3) ;; *) bad "check $i: exit $rc: $(cat "$T/err")" ;; esac
	[ -f "$tf/leaky.prom" ] || { bad "check $i wrote no $tf/leaky.prom"; break; }
	promcheck "$tf/leaky.prom" "the file of check $i"
	n=$(value_of leakattach_samples_total "$tf/leaky.prom")
	[ "$n" = "$i" ] || bad "check $i: leakattach_samples_total is '$n'"
	[ $rc = 1 ] && break
	sleep 0.3
done
[ "$rc" = 1 ] || bad "no leak found in $i checks of leaky sizeclass"
grep -q '^leakattach_leak{.*kind="arena_size_class"' "$tf/leaky.prom" ||
	bad "no leakattach_leak of an arena_size_class in the file: $(cat "$tf/leaky.prom")"
ls -A "$tf" | grep -q '^\.' && bad "temporary files left: $(ls -A "$tf")"
checks=$i
start=$(ls "$LEAKATTACH_LOG_DIR/targets" | sed -n "s/^$pid-//p")
[ -n "$start" ] || bad "no targets/$pid-START in the log folder"

# --- the same from a configuration file (not into the collector's folder:
# two files with the same process would be duplicate series) -------------
printf '[check]\nmetrics = %s\n' "$T/other/config.prom" >"$T/config"
LEAKATTACH_CONFIG=$T/config "$la" check -p "$pid" --repeat 1 "${common[@]}" \
	>/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] || bad "check with metrics in the configuration file: exit $rc: $(cat "$T/err")"
if [ -f "$T/other/config.prom" ]; then
	promcheck "$T/other/config.prom" "the file set in a configuration file"
else
	bad "metrics = FILE in [check] of a configuration file wrote nothing"
fi

# --- a file that cannot be written: one sentence, sampling goes on -------------
"$la" check -p "$pid" --repeat 3 --interval 0.1 "${common[@]}" \
	--metrics "$T/none/x.prom" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] || bad "check with an unwritable --metrics: exit $rc (the leak is still there)"
n=$(grep -c -e '--metrics: cannot' "$T/err")
[ "$n" = 1 ] || bad "an unwritable --metrics said $n times: $(cat "$T/err")"

# --- simulate writes one too (its leaker exits at the end, the file stays) ---
"$la" simulate --size 1 --count 5 --interval 0.2 --metrics "$tf/simulate.prom" \
	>/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] || bad "simulate --metrics: exit $rc: $(cat "$T/err")"
if [ -f "$tf/simulate.prom" ]; then
	promcheck "$tf/simulate.prom" "simulate's file"
else
	bad "simulate --metrics wrote nothing"
fi

# --- the systemd units, with the build's binary and man page ----------------
sed -e "s|/usr/local/bin/leakattach|$la|g" \
	-e "s|/var/lib/prometheus/node-exporter|$tf|g" \
	"$units/leakattach@.service" >"$T/leakattach@.service"
cp "$units/leakattach@.timer" "$T/"
cp "$manpage" "$T/man/man1/leakattach.1"
grep -q "$la" "$T/leakattach@.service" ||
	bad "leakattach@.service does not run /usr/local/bin/leakattach"
if ! MANPATH=$T/man systemd-analyze verify "$T/leakattach@unit.service" \
	"$T/leakattach@unit.timer" >"$T/verify.out" 2>&1; then
	bad "systemd-analyze verify:"
	cat "$T/verify.out"
fi
# The service's ExecStart= as systemd runs it: $$ is $, %i the instance.
unit_run() {
	local cmd
	cmd=$(sed -n 's/^ExecStart=//p' "$T/leakattach@.service")
	cmd=${cmd//\$\$/\$}
	cmd=${cmd//%i/$1}
	eval "$cmd"
}
unit_name=lamet-$$
start_leaky "$unit_name"
unit_pid=$started
unit_run "$unit_name" >/dev/null 2>"$T/err"
rc=$?
case $rc in 0 | 1 | 3) ;; *) bad "leakattach@$unit_name.service's command: exit $rc: $(cat "$T/err")" ;; esac
if [ -f "$tf/leakattach-$unit_name.prom" ]; then
	promcheck "$tf/leakattach-$unit_name.prom" "the service's file"
else
	bad "leakattach@$unit_name.service's command wrote no $tf/leakattach-$unit_name.prom"
fi
unit_run "nosuch-$$" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] && grep -q "no process named nosuch-$$" "$T/err" ||
	bad "leakattach@nosuch.service's command: exit $rc (not 2), $(cat "$T/err")"

# --- node_exporter's textfile collector over the folder -------------------------
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$exporter" --web.listen-address="127.0.0.1:$port" \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$tf" >"$T/exporter.log" 2>&1 &
pids+=("$!")
LEAK_PID=$pid LEAK_COMM=$name LEAK_START=$start CHECKS=$checks \
	UNIT_PID=$unit_pid UNIT_COMM=$unit_name PORT=$port \
	"$py" - <<'EOF' || fail=1
import os, re, sys, time, urllib.request

url = "http://127.0.0.1:%s/metrics" % os.environ["PORT"]
text = None
for _ in range(100):  # until it listens
    try:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        break
    except OSError:
        time.sleep(0.1)
if text is None:
    sys.exit("test_metrics: FAIL: node_exporter never answered on " + url)

label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
unescape = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
series = []
for line in text.splitlines():
    if not line or line.startswith("#"):
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
    if not m:
        sys.exit("test_metrics: FAIL: unparsable line: " + line)
    labels = {k: re.sub(r'\\[\\"n]', lambda e: unescape[e.group(0)], v)
              for k, v in label.findall(m.group(2) or "")}
    series.append((m.group(1), labels, float(m.group(3))))

def find(name, **want):
    return [(l, v) for n, l, v in series
            if n == name and all(l.get(k) == w for k, w in want.items())]

ok = True
def bad(msg):
    global ok
    print("test_metrics: FAIL: " + msg)
    ok = False

err = find("node_textfile_scrape_error")
if not err or err[0][1] != 0:
    bad("node_textfile_scrape_error: %s" % err)
leak = dict(pid=os.environ["LEAK_PID"], comm=os.environ["LEAK_COMM"],
            start=os.environ["LEAK_START"])
leaks = find("leakattach_leak", kind="arena_size_class", **leak)
# leaky sizeclass leaks chunks of 1168 bytes in the main arena
hit = [l for l, v in leaks if v == 1 and re.fullmatch(
    r"size:(\d+)-(\d+)@arena:main", l["location"]) and
    int(l["location"][5:].split("-")[0]) <= 1168 <=
    int(l["location"].split("-")[1].split("@")[0])]
if not hit:
    bad("no leakattach_leak{kind=\"arena_size_class\"} 1 of the 1168-byte "
        "chunks of %s: %s" % (leak, find("leakattach_leak")))
n = find("leakattach_samples_total", **leak)
if not n or n[0][1] != float(os.environ["CHECKS"]):
    bad("leakattach_samples_total of %s: %s" % (leak, n))
if not find("leakattach_heap_in_use_bytes", **leak):
    bad("no leakattach_heap_in_use_bytes of %s" % leak)
if not find("leakattach_samples_total", pid=os.environ["UNIT_PID"],
            comm=os.environ["UNIT_COMM"]):
    bad("no series of the service's target %s" % os.environ["UNIT_COMM"])
if not find("leakattach_leak", comm="leakattach-leak"):
    bad("no leakattach_leak of simulate's leaker")
if ok:
    print("test_metrics: node_exporter serves %d leakattach series, "
          "the leak gauge %s" % (sum(n.startswith("leakattach_")
                                     for n, _, _ in series), hit[0]))
sys.exit(0 if ok else 1)
EOF

[ $fail = 0 ] && echo "test_metrics: promtool, systemd-analyze and node_exporter accept what --metrics writes (the leak found at check $checks)"
exit $fail
