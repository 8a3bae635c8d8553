#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/pgbench.sh - PostgreSQL under pgbench, bare and with leakattach
# monitoring every backend (`make bench-pg`; not part of make check).
#
# The budget (issue 10): PostgreSQL under pgbench with 4 backends monitored
# loses at most 0.5 % tps. What users run: the distribution's server
# (Debian 12: PostgreSQL 15), initdb's defaults, and `leakattach -p PID`
# with the defaults but for the interval (--callers=auto: a callers window
# after a sample where something grew), with tracefs as the host has it
# and with tracefs mounted.
#
# Nothing is installed and nothing of the machine is changed: a private
# cluster is made in a temporary folder (initdb as the `postgres` user,
# which the package creates; postgres refuses to run as root), listening
# only on a Unix socket in that folder; it is removed at the end, also on
# Ctrl-C. tracefs is never mounted in the host's mount namespace: the
# "auto-tracefs" configuration mounts it in a namespace of the monitor's
# own (unshare -m) and execs the monitor there.
#
# Each round runs `pgbench -n -c 4 -j 2 -T 30` (the default TPC-B-like
# script, which writes: the issue's measurement used it) after doing what
# pgbench's own start does (VACUUM pgbench_branches and pgbench_tellers,
# TRUNCATE pgbench_history; done here so that the only connections to the
# database during the round are the clients', whose backends are the
# targets) plus a CHECKPOINT, so that no round starts with another's dirty
# buffers and no timed checkpoint (checkpoint_timeout, 5 min) falls inside
# a 30 s round. Modes are interleaved in cycles (bare, then each
# configuration), the order rotated from cycle to cycle, so that drift in
# the machine's load spreads over all of them.
#
# A monitored round finds the clients' backends (children of the
# postmaster whose title names the database), starts one
# `leakattach -p PID --interval 5 --log-dir DIR --json` per backend, and
# stops them with SIGINT MARGIN seconds before pgbench ends (6 s: a
# monitor still running when its backend exits would fail with exit 2,
# "the target exited"); each must exit 0 or 1. Their JSON gives the
# windows opened. The backends must be untraced and running afterwards.
#
# Figures: per configuration, the median tps of the bare and of the
# monitored rounds (min..max), the loss of the medians, the median of the
# losses paired within a cycle, the windows; "met" when the loss of the
# medians is at most 0.5 %. On a shared machine the bare rounds alone
# spread over far more than 0.5 %, so a model is printed beside it that
# other load disturbs less: the time the samples stopped each backend
# (pause_ms of every sample, from the monitor's history in the log
# folder) and the monitors' CPU time over the cores, in % of the
# monitored time. The per-round lines also give the transactions per CPU
# second of the server and pgbench (from /proc: the postmaster's own and
# reaped children's times, and this shell's reaped children).
#
# Nothing is asserted. Exit status: 0 when the benchmark ran, 1 when it
# ran but something went wrong that the summary lists under PROBLEMS (a
# monitor exited 2, windows refused, a backend left traced or stopped or
# dead, failed transactions), 2 when it could not run (a missing package,
# not root), 64 on a usage error.

set -u
export LC_ALL=C

me=pgbench.sh
la=${LEAKATTACH:-./leakattach}
pg_bindir=${PG_BINDIR:-}
rounds=6
secs=30
warmup=15
clients=4
jobs=2
scale=10
interval=5
# A monitor's exit releases the uprobe probes it kept across windows
# (about 80 ms a probe, serialised in the kernel: 1-4 s for 4 monitors);
# pgbench must still run meanwhile, or it ends, this shell reaps it and
# its CPU time lands in the monitors' figure (children_ticks()).
margin=6
select_only=0
configs="auto auto-tracefs off"
keep=""
budget=0.5
niceness=0

usage()
{
	cat <<EOF
Usage: $me [--leakattach PATH] [--rounds N] [--time S] [--warmup S]
       [--clients N] [--jobs N] [--scale N] [--interval S] [--select-only]
       [--configs LIST] [--nice N] [--keep DIR]

Runs PostgreSQL under pgbench in a private, temporary cluster, in rounds
that interleave a bare run with runs where one leakattach monitor per
backend watches it, and prints the tps lost. Needs root (uprobes, and
unshare -m for the tracefs configuration); postgres itself runs as the
postgres user.

  --leakattach PATH  the leakattach to run (\$LEAKATTACH, else ./leakattach)
  --rounds N     cycles; each runs every mode once (6)
  --time S       seconds per pgbench run (30)
  --warmup S     a first, uncounted monitored run (15; 0: none)
  --clients N    pgbench -c (4): the backends monitored
  --jobs N       pgbench -j (2)
  --scale N      pgbench -i -s (10)
  --interval S   leakattach --interval (5)
  --select-only  pgbench -S (read only) instead of the default TPC-B-like
                 script
  --configs LIST monitored configurations, among
                   auto          the defaults, tracefs as the host has it
                   auto-tracefs  the defaults, tracefs mounted (in a
                                 private mount namespace of the monitor)
                   off           --callers=off
                   always        --callers=always: a window after every
                                 sample, to see what windows cost
                 (default "$configs")
  --nice N       run the server, pgbench and the monitors at this nice
                 value (-20..19; 0, the default, leaves it): on a shared
                 machine, a negative value keeps the others' load from
                 swamping the difference, target and tool alike
  --keep DIR     copy the raw results (pgbench output, each monitor's
                 JSON and stderr, the server log) to DIR at the end

PG_BINDIR overrides the PostgreSQL programs' folder (default: the newest
/usr/lib/postgresql/*/bin). Exit status: 0 ran, 1 ran with PROBLEMS (a
monitor failed, a backend left traced...), 2 could not run, 64 usage.
EOF
}

die()
{
	local rc=$1

	shift
	echo "$me: $*" >&2
	exit "$rc"
}

need_uint()
{
	case $2 in
	'' | *[!0-9]*) die 64 "$1 wants a whole number, not '$2'" ;;
	esac
}

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	-h | --help)
		usage
		exit 0
		;;
	--select-only)
		select_only=1
		shift
		continue
		;;
	--leakattach | --rounds | --time | --warmup | --clients | --jobs | \
		--scale | --interval | --configs | --nice | --keep)
		[ $# -ge 2 ] || die 64 "$opt wants a value (see --help)"
		val=$2
		shift 2
		;;
	--*=*)
		val=${opt#*=}
		opt=${opt%%=*}
		shift
		;;
	*) die 64 "unknown argument '$opt' (see --help)" ;;
	esac
	case $opt in
	--leakattach) la=$val ;;
	--rounds) need_uint "$opt" "$val" && rounds=$val ;;
	--time) need_uint "$opt" "$val" && secs=$val ;;
	--warmup) need_uint "$opt" "$val" && warmup=$val ;;
	--clients) need_uint "$opt" "$val" && clients=$val ;;
	--jobs) need_uint "$opt" "$val" && jobs=$val ;;
	--scale) need_uint "$opt" "$val" && scale=$val ;;
	--interval) need_uint "$opt" "$val" && interval=$val ;;
	--configs) configs=${val//,/ } ;;
	--nice)
		case $val in
		'' | - | *[!0-9-]* | ?*-*) die 64 "--nice wants a number from -20 to 19, not '$val'" ;;
		esac
		if [ "$val" -lt -20 ] || [ "$val" -gt 19 ]; then
			die 64 "--nice wants a number from -20 to 19, not '$val'"
		fi
		niceness=$val
		;;
	--keep) keep=$val ;;
	*) die 64 "unknown option '$opt' (see --help)" ;;
	esac
done
if [ "$rounds" -lt 1 ] || [ "$clients" -lt 1 ] || [ "$jobs" -lt 1 ] ||
	[ "$scale" -lt 1 ] || [ "$interval" -lt 1 ]; then
	die 64 "--rounds, --clients, --jobs, --scale and --interval must be at least 1"
fi
[ "$secs" -ge $((margin + 5)) ] || die 64 "--time must be at least $((margin + 5)) s"
[ "$warmup" -eq 0 ] || [ "$warmup" -ge $((margin + 5)) ] ||
	die 64 "--warmup must be 0 or at least $((margin + 5)) s"
for c in $configs; do
	case $c in
	auto | auto-tracefs | off | always) ;;
	*) die 64 "unknown configuration '$c' (auto, auto-tracefs, off, always)" ;;
	esac
done
[ -n "$configs" ] || die 64 "--configs is empty"

# --- what is needed, installed nothing ----------------------------------
if [ -z "$pg_bindir" ]; then
	# The newest major version installed, as pg_wrapper would pick.
	pg_bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
for p in initdb pg_ctl postgres pgbench psql; do
	if [ ! -x "$pg_bindir/$p" ]; then
		cat >&2 <<EOF
$me: $pg_bindir/$p is missing: PostgreSQL is not installed (or set PG_BINDIR).
On Debian or Ubuntu, as root: apt-get install postgresql
(Debian 12: PostgreSQL 15; initdb, pg_ctl, postgres and pgbench are in
postgresql-15, psql in postgresql-client-15.)
EOF
		exit 2
	fi
done
[ "$(id -u)" -eq 0 ] ||
	die 2 "run as root: the monitors use uprobes and unshare -m like a root user's would (postgres runs as the postgres user)"
id postgres >/dev/null 2>&1 ||
	die 2 "there is no postgres user (the postgresql package creates it)"
command -v runuser >/dev/null || die 2 "runuser (util-linux) is missing"
case " $configs " in
*" auto-tracefs "*)
	command -v unshare >/dev/null || die 2 "unshare (util-linux) is missing"
	grep -qw tracefs /proc/filesystems ||
		die 2 "this kernel has no tracefs: leave auto-tracefs out of --configs"
	;;
esac
case $la in
*/*) ;;
*) la=./$la ;;
esac
if [ ! -f "$la" ] || [ ! -x "$la" ]; then
	die 2 "$la: no such program (build it with make, or give --leakattach PATH)"
fi
la="$(cd "$(dirname "$la")" && pwd)/$(basename "$la")"
la_version=$("$la" --version 2>&1 | head -n 1) || die 2 "$la --version failed"

tracefs_host=$(awk '$3 == "tracefs" { printf "%s%s", s, $2; s = " " }' /proc/self/mounts)

# --- the private cluster --------------------------------------------------
tmp=""
problems=0
pg_up=0
bench_pid=""
mon_pids=()
port=5432
db=labench

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local rc=$? p i

	trap - EXIT INT TERM HUP
	stop_monitors >/dev/null 2>&1
	if [ -n "$bench_pid" ]; then
		kill -INT "$bench_pid" 2>/dev/null
		wait "$bench_pid" 2>/dev/null
	fi
	if [ "$pg_up" = 1 ]; then
		if ! as_pg "$pg_bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1; then
			p=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
			[ -n "$p" ] && kill -QUIT "$p" 2>/dev/null
			for i in $(seq 50); do
				kill -0 "$p" 2>/dev/null || break
				sleep 0.1
			done
		fi
	fi
	if [ -n "$keep" ] && [ -n "$tmp" ] && [ -d "$tmp/out" ]; then
		mkdir -p "$keep" && cp -r "$tmp/out/." "$keep/" &&
			cp "$tmp/pg/server.log" "$keep/" 2>/dev/null
		cp -r "$tmp/la" "$keep/la" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "$me: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

as_pg()
{
	runuser -u postgres -- "$@"
}

# The server, pgbench and the monitors: at --nice, all alike.
nice_=()
[ "$niceness" -eq 0 ] || nice_=(nice -n "$niceness")

sql()
{
	local q args=()

	for q in "$@"; do
		args+=(-c "$q")
	done
	as_pg "$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
		-d "$db" "${args[@]}"
}

# Stop the monitors of the round: SIGINT (each finishes its sample or
# window, prints its JSON, exits), SIGTERM after 30 s, SIGKILL after 60 s
# (killing leakattach is safe for its target: doc/design/stopping.md,
# "What happens to the target if leakattach dies"). Sets mon_rc,
# mon_stop_ms (to within the 20 ms of the polling) and mon_stalled.
stop_monitors()
{
	local p i t0 n

	mon_rc=()
	[ ${#mon_pids[@]} -gt 0 ] || return 0
	t0=${EPOCHREALTIME/./}
	for p in "${mon_pids[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	mon_stalled=0
	for i in $(seq 3000); do
		n=0
		for p in "${mon_pids[@]}"; do
			kill -0 "$p" 2>/dev/null && n=$((n + 1))
		done
		[ "$n" -eq 0 ] && break
		if [ "$i" -eq 1500 ] || [ "$i" -eq 2999 ]; then
			mon_stalled=$n
			for p in "${mon_pids[@]}"; do
				kill "$([ "$i" -eq 1500 ] && echo -TERM || echo -KILL)" "$p" 2>/dev/null
			done
		fi
		sleep 0.02
	done
	mon_stop_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	for p in "${mon_pids[@]}"; do
		wait "$p"
		mon_rc+=($?)
	done
	mon_pids=()
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/la-pgbench.XXXXXX") || die 2 "mktemp failed"
chmod 0711 "$tmp"
mkdir "$tmp/pg" "$tmp/la" "$tmp/out"
chown postgres: "$tmp/pg"
chmod 0700 "$tmp/pg" "$tmp/la"
data=$tmp/pg/data
sock=$tmp/pg
cd "$tmp" || exit 2

echo "$me: $la_version ($la)"
echo "$me: $("$pg_bindir/postgres" --version), pgbench $("$pg_bindir/pgbench" --version | awk '{ print $3 }'), kernel $(uname -r), $(nproc) CPUs: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "$me: tracefs on the host: ${tracefs_host:-not mounted}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$me: $(date -u '+%Y-%m-%d %H:%M UTC'); cluster in $tmp"

as_pg "$pg_bindir/initdb" -D "$data" -U postgres -A trust -N >"$tmp/out/initdb.log" 2>&1 ||
	die 2 "initdb failed: $(tail -n 3 "$tmp/out/initdb.log")"
cat >>"$data/postgresql.conf" <<EOF

# bench/pgbench.sh: only a Unix socket, in the private temporary folder
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
EOF
pg_up=1
"${nice_[@]}" runuser -u postgres -- "$pg_bindir/pg_ctl" -D "$data" \
	-l "$tmp/pg/server.log" -w -t 120 start >/dev/null ||
	die 2 "the server did not start: $(tail -n 5 "$tmp/pg/server.log")"
postmaster=$(head -n 1 "$data/postmaster.pid")
as_pg "$pg_bindir/psql" -X -q -h "$sock" -p "$port" -d postgres -c "CREATE DATABASE $db" ||
	die 2 "CREATE DATABASE failed"
t=$SECONDS
as_pg "$pg_bindir/pgbench" -h "$sock" -p "$port" -i -q -s "$scale" "$db" >"$tmp/out/init.log" 2>&1 ||
	die 2 "pgbench -i failed: $(tail -n 3 "$tmp/out/init.log")"
echo "$me: pgbench -i -s $scale: $((SECONDS - t)) s"

pgb_args=(-n -c "$clients" -j "$jobs")
script="TPC-B-like (default, writes)"
if [ "$select_only" = 1 ]; then
	pgb_args+=(-S)
	script="select-only (-S)"
fi

# The backends serving the clients: children of the postmaster whose
# title (postgres rewrites its argv: update_process_title) is
# "postgres: USER DB [local] ...".
find_backends()
{
	local d s ppid cmd

	for d in /proc/[0-9]*; do
		# builtins only: this runs every 50 ms while pgbench connects
		read -r s 2>/dev/null <"$d/stat" || continue
		s=${s##*) }
		read -r _ ppid _ <<<"$s"
		[ "$ppid" = "$postmaster" ] || continue
		# the title is the first NUL-terminated string of cmdline
		read -r -d '' cmd 2>/dev/null <"$d/cmdline"
		case $cmd in
		"postgres: "*" $db [local]"*) echo "${d#/proc/}" ;;
		esac
	done
}

# CPU time, in clock ticks, of the cluster: the postmaster (utime, stime)
# with the children it has reaped (cutime, cstime: the backends of ended
# rounds, autovacuum workers), plus its live children (checkpointer,
# walwriter...). /proc/PID/stat after the comm: field N is word N - 2.
cluster_ticks()
{
	local d s ppid w t=0

	for d in /proc/[0-9]*; do
		read -r s 2>/dev/null <"$d/stat" || continue
		s=${s##*) }
		read -r -a w <<<"$s"
		ppid=${w[1]}
		if [ "${d#/proc/}" = "$postmaster" ] || [ "$ppid" = "$postmaster" ]; then
			t=$((t + w[11] + w[12] + w[13] + w[14]))
		fi
	done
	echo "$t"
}

# cutime + cstime of this shell: the CPU time of the children it has
# reaped (pgbench through runuser, the monitors).
children_ticks()
{
	local s w

	read -r s </proc/$$/stat
	s=${s##*) }
	read -r -a w <<<"$s"
	echo $((w[13] + w[14]))
}

json_field()
{
	# $1 file, $2 key: a number from the JSON's callers_sampling object
	sed -n 's/.*"callers_sampling":{\([^}]*\)}.*/\1/p' "$1" |
		grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2
}

hz=$(getconf CLK_TCK)
results=$tmp/out/rounds.tsv
printf 'cycle\tmode\ttps\ttx\tcpu_s\tload\twindows\tpause_ms\tmon_cpu_s\tmon_s\tsamples\tgone\tlate\tproblems\n' >"$results"

# run_round CYCLE LABEL CONFIG DURATION: one pgbench run, monitored unless
# CONFIG is "bare"; appends a line to $results and prints one.
run_round()
{
	local cycle=$1 label=$2 cfg=$3 dur=$4 dir=$tmp/out/$2
	local tb stop_at now b i n args rc ok f v sd ended
	local ct0 ht0 ht1 mon_cpu=0 mon_s=0 tps tx cpu load
	local samples=0 windows=0 wms=0 tms=0 rms=0 pause=0 gone=0 late=0 bad=""

	mkdir -p "$dir"
	sql "VACUUM pgbench_branches" "VACUUM pgbench_tellers" \
		"TRUNCATE pgbench_history" "CHECKPOINT" >"$dir/prep.log" 2>&1 ||
		die 2 "preparing the round failed: $(cat "$dir/prep.log")"
	ct0=$(cluster_ticks)
	ht0=$(children_ticks)
	"${nice_[@]}" runuser -u postgres -- "$pg_bindir/pgbench" -h "$sock" \
		-p "$port" "${pgb_args[@]}" -T "$dur" "$db" >"$dir/pgbench.out" 2>&1 &
	bench_pid=$!
	b=()
	for i in $(seq 400); do
		mapfile -t b < <(find_backends)
		[ ${#b[@]} -ge "$clients" ] && break
		kill -0 "$bench_pid" 2>/dev/null || break
		sleep 0.05
	done
	tb=${EPOCHREALTIME/./}
	[ ${#b[@]} -eq "$clients" ] ||
		die 2 "$label: found ${#b[@]} backends of $db, not $clients: ${b[*]}"
	echo "${b[*]}" >"$dir/backends"
	if [ "$cfg" != bare ]; then
		n=0
		for v in "${b[@]}"; do
			n=$((n + 1))
			args=(-p "$v" --interval "$interval" --log-dir "$tmp/la" --json)
			case $cfg in
			off | always) args+=(--callers="$cfg") ;;
			esac
			# A background job of a script ignores SIGINT; the
			# monitor must see the SIGINT that stops it.
			if [ "$cfg" = auto-tracefs ]; then
				# shellcheck disable=SC2016 # for sh -c
				(
					trap - INT QUIT
					exec "${nice_[@]}" unshare -m --propagation private sh -c \
						'mount -t tracefs nodev /sys/kernel/tracing || exit 2; exec "$0" "$@"' \
						"$la" "${args[@]}"
				) >"$dir/mon$n.json" 2>"$dir/mon$n.err" &
			else
				(
					trap - INT QUIT
					exec "${nice_[@]}" "$la" "${args[@]}"
				) >"$dir/mon$n.json" 2>"$dir/mon$n.err" &
			fi
			mon_pids+=($!)
		done
		stop_at=$((tb + (dur - margin) * 1000000))
		now=${EPOCHREALTIME/./}
		if [ "$now" -lt "$stop_at" ]; then
			sleep "$(awk -v us=$((stop_at - now)) 'BEGIN { printf "%.3f", us / 1e6 }')"
		fi
		ht1=$(children_ticks)
		stop_monitors
		mon_cpu=$(awk -v t=$(($(children_ticks) - ht1)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
		mon_s=$(awk -v us=$((${EPOCHREALTIME/./} - tb)) 'BEGIN { printf "%.1f", us / 1e6 }')
		# The targets must be running and untraced (rule 1). A backend
		# may have ended with pgbench while its monitor finished a
		# window: counted, not a problem (the server log is checked
		# below for backends that died).
		for v in "${b[@]}"; do
			if [ ! -r "/proc/$v/status" ]; then
				gone=$((gone + 1))
				continue
			fi
			ok=$(awk '/^State:/ { s = $2 } /^TracerPid:/ { t = $2 } END { print (t == 0 && s != "t" && s != "T") ? "ok" : s "/" t }' "/proc/$v/status")
			case $ok in
			ok) ;;
			Z/0 | X/0) gone=$((gone + 1)) ;;
			*) bad+=" backend$v:state/tracer=$ok" ;;
			esac
		done
		for i in "${!mon_rc[@]}"; do
			n=$((i + 1))
			rc=${mon_rc[$i]}
			f=$dir/mon$n.json
			# Its backend ended (with pgbench) before the monitor
			# acted on the SIGINT, which waits for the window in
			# progress and its release: the monitor says "exited
			# after N samples" and exits 2, or dies of the SIGINT
			# still pending (130) when it unblocks signals on its
			# way out. Counted as late, not a problem of the target.
			ended=0
			grep -q 'exited after [0-9]* sample' "$dir/mon$n.err" && ended=1
			case $rc in
			0 | 1 | 3) ;; # no leak, leak, undecided (few samples)
			2 | 130)
				if [ "$ended" = 1 ]; then
					late=$((late + 1))
				else
					bad+=" monitor$n:exit$rc"
				fi
				;;
			*) bad+=" monitor$n:exit$rc" ;;
			esac
			v=$(grep -o '"samples_this_run":[0-9]*' "$f" | head -n 1 | cut -d: -f2)
			samples=$((samples + ${v:-0}))
			v=$(json_field "$f" windows)
			windows=$((windows + ${v:-0}))
			wms=$(awk -v a="$wms" -v b="$(json_field "$f" window_ms)" 'BEGIN { print a + b }')
			tms=$(awk -v a="$tms" -v b="$(json_field "$f" teardown_ms)" 'BEGIN { print a + b }')
			rms=$(awk -v a="$rms" -v b="$(json_field "$f" release_ms)" 'BEGIN { print a + b }')
			if grep -q '"callers_sampling":{[^}]*"error"' "$f" &&
				[ "$ended" = 0 ]; then
				bad+=" monitor$n:windows-refused"
			fi
			# the time each sample stopped the backend: its history
			sd=$(grep -o '"state_dir":"[^"]*"' "$f" | head -n 1 | cut -d'"' -f4)
			if [ -n "$sd" ] && [ -f "$sd/history.jsonl" ]; then
				v=$(grep -o '"pause_ms":[0-9.]*' "$sd/history.jsonl" |
					awk -F: '{ s += $2 } END { printf "%.3f", s }')
				pause=$(awk -v a="$pause" -v b="$v" 'BEGIN { print a + b }')
			fi
		done
	fi
	wait "$bench_pid"
	rc=$?
	bench_pid=""
	[ "$rc" -eq 0 ] || die 2 "$label: pgbench failed ($rc): $(tail -n 3 "$dir/pgbench.out")"
	tps=$(awk '/^tps = / { print $3; exit }' "$dir/pgbench.out")
	tx=$(awk -F': ' '/^number of transactions actually processed/ { print $2; exit }' "$dir/pgbench.out")
	if [ -z "$tps" ] || [ -z "$tx" ]; then
		die 2 "$label: no tps in pgbench's output"
	fi
	grep -q 'failed transactions: 0 ' "$dir/pgbench.out" || bad+=" failed-transactions"
	# Let the postmaster reap the backends, so that their CPU time is in
	# its cutime.
	for i in $(seq 100); do
		n=0
		for v in "${b[@]}"; do
			[ -e "/proc/$v" ] && n=$((n + 1))
		done
		[ "$n" -eq 0 ] && break
		sleep 0.05
	done
	cpu=$(awk -v t=$(($(cluster_ticks) - ct0 + $(children_ticks) - ht0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
	if grep -qE 'terminated by signal|exited with exit code [^01]|server process .* was terminated' "$tmp/pg/server.log"; then
		bad+=" server-log:$(grep -cE 'terminated by signal|server process' "$tmp/pg/server.log")-backend-deaths"
	fi
	load=$(cut -d' ' -f1 /proc/loadavg)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cycle" \
		"$cfg" "$tps" "$tx" "$cpu" "$load" "$windows" "$pause" "$mon_cpu" \
		"$mon_s" "$samples" "$gone" "$late" "${bad:--}" >>"$results"
	printf '%-17s tps %7.1f  tx/CPU-s %6.1f  load %5s' "$label" "$tps" \
		"$(awk -v a="$tx" -v b="$cpu" 'BEGIN { print a / b }')" "$load"
	if [ "$cfg" != bare ]; then
		printf '  exits %s  samples %d stopped %.0f ms  windows %d (open %.0f ms, teardown %.0f ms, release %.0f ms)  stop %d ms  monitors %s s CPU' \
			"$(
				IFS=,
				echo "${mon_rc[*]}"
			)" "$samples" "$pause" "$windows" "$wms" "$tms" "$rms" \
			"$mon_stop_ms" "$mon_cpu"
		[ "$gone" -eq 0 ] || printf '  %d backends ended first' "$gone"
		[ "$late" -eq 0 ] || printf ' (%d monitors late: exit 2 or 130)' "$late"
		[ "$mon_stalled" -eq 0 ] || printf '  %d monitors did not stop within 30 s of SIGINT' "$mon_stalled"
	fi
	printf '%s\n' "${bad:+  PROBLEMS:$bad}"
	[ -z "$bad" ] || problems=1
}

[ "$niceness" -eq 0 ] || echo "$me: the server, pgbench and the monitors run at nice $niceness"
echo "$me: pgbench ${pgb_args[*]} -T $secs, $script; monitors: leakattach -p BACKEND --interval $interval --log-dir DIR --json, stopped by SIGINT ${margin} s before pgbench ends"
read -r -a modes <<<"bare $configs"
echo "$me: $rounds cycles of: ${modes[*]} (order rotated each cycle), ${secs} s each: about $(((rounds * ${#modes[@]} * (secs + 4) + warmup + 59) / 60)) min"
echo

start=$SECONDS
if [ "$warmup" -gt 0 ]; then
	# Warms the server's caches and the log folder's kept layout (the
	# first run for a libc build reads its debug information).
	run_round 0 warmup "${modes[1]}" "$warmup"
fi
for ((c = 1; c <= rounds; c++)); do
	for ((k = 0; k < ${#modes[@]}; k++)); do
		m=${modes[$(((k + c - 1) % ${#modes[@]}))]}
		run_round "$c" "c$c-$m" "$m" "$secs"
	done
done
elapsed=$((SECONDS - start))

echo
echo "$me: ran $((elapsed / 60)) min $((elapsed % 60)) s"
awk -F'\t' -v budget="$budget" -v clients="$clients" -v cores="$(nproc)" \
	-v configs="$configs" '
function median(a, n,    i, j, t, b) {
	for (i = 1; i <= n; i++)
		b[i] = a[i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && b[j - 1] > b[j]; j--) {
			t = b[j]; b[j] = b[j - 1]; b[j - 1] = t
		}
	min_ = b[1]; max_ = b[n]
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}
NR == 1 || $1 == 0 { next }
{
	m = $2; k = ++n[m]
	tps[m, k] = $3; eff[m, k] = $4 / $5; ld[++nl] = $6
	win[m] += $7
	# the model: the backends stopped (per backend), and the monitors
	# taking CPU time from the cores
	stopped[m, k] = $10 > 0 ? $8 / (clients * $10 * 1000) * 100 : 0
	moncpu[m, k] = $10 > 0 ? $9 / (cores * $10) * 100 : 0
	model[m, k] = stopped[m, k] + moncpu[m, k]
	late[m] += $13
	if ($14 != "-")
		prob[m] = prob[m] " c" $1 ":" $14
	ctps[$1, m] = $3
	cycles = $1 > cycles ? $1 : cycles
}
END {
	lm = median(ld, nl)
	printf "load average (1 min) at the end of the rounds: %.1f (%.1f..%.1f) on %d cores\n", lm, min_, max_, cores
	for (k = 1; k <= n["bare"]; k++) { a[k] = tps["bare", k]; e[k] = eff["bare", k] }
	bt = median(a, n["bare"]); bmin = min_; bmax = max_
	be = median(e, n["bare"]); emin = min_; emax = max_
	spread = (bmax - bmin) / bt * 100
	printf "bare: %.1f tps (%.1f..%.1f, spread %.1f %% of the median); %.0f transactions per CPU second of the server and pgbench (%.0f..%.0f)\n",
		bt, bmin, bmax, spread, be, emin, emax
	printf "\n%-13s %-22s %8s %8s %9s %8s %8s %7s  %s\n", "configuration", "monitored tps", "tps loss", "paired", "modelled", "stopped", "mon. CPU", "windows", "tps loss <= " budget " %"
	nc = split(configs, cf, " ")
	for (i = 1; i <= nc; i++) {
		m = cf[i]
		for (k = 1; k <= n[m]; k++) { a[k] = tps[m, k]; s[k] = stopped[m, k]; u[k] = moncpu[m, k]; d[k] = model[m, k] }
		mt = median(a, n[m]); tmin = min_; tmax = max_
		ms = median(s, n[m]); mu = median(u, n[m]); md = median(d, n[m])
		np = 0
		for (c = 1; c <= cycles; c++)
			if ((c, m) in ctps && (c, "bare") in ctps)
				p[++np] = (1 - ctps[c, m] / ctps[c, "bare"]) * 100
		pt = median(p, np)
		loss = (1 - mt / bt) * 100
		verdict = loss <= budget ? "met" : "NOT met"
		if (prob[m] != "")
			verdict = "no verdict; PROBLEMS:" prob[m]
		printf "%-13s %-22s %6.2f %% %6.2f %% %7.2f %% %6.2f %% %6.2f %% %7d  %s\n",
			m, sprintf("%.1f (%.1f..%.1f)", mt, tmin, tmax), loss, pt,
			md, ms, mu, win[m], verdict
	}
	printf "\ntps loss: 1 - median monitored / median bare tps; paired: the median over the cycles of 1 - monitored / bare.\n"
	printf "modelled: stopped + mon. CPU, the median round; stopped: the time the samples stopped each backend, in %% of\n"
	printf "the monitored time (a lower bound: the others may wait for its locks); mon. CPU: the monitors'"'"' CPU time in\n"
	printf "%% of the %d cores over the monitored time. windows: the callers windows opened in all rounds.\n", cores
	for (i = 1; i <= nc; i++)
		if (late[cf[i]])
			printf "%s: %d monitors were late: their backend ended with pgbench before they acted on the SIGINT (exit 2 or 130).\n", cf[i], late[cf[i]]
	if (spread > 4 * budget)
		printf "The bare rounds spread over %.1f %%, %.0f times the budget: the tps loss of this run cannot show whether the budget is met.\n", spread, spread / budget
}' "$results"
stderr_lines=$(cat "$tmp"/out/*/mon*.err 2>/dev/null | sort | uniq -c | sort -rn)
if [ -n "$stderr_lines" ]; then
	echo "monitors' stderr (count, line):"
	printf '%s\n' "$stderr_lines" | head -n 20
fi
exit "$problems"
