# shellcheck shell=bash
# ci/bench-lib.sh — run a benchmark server and client pair, bounded and
# always cleaned up. Sourced by ci/demo and perf/compare/run.
#
#   . ci/bench-lib.sh                      # installs the cleanup traps
#   bench_start 1 "$log" ./server ...      # pinned to core 1; sets BENCH_PID
#   bench_wait_ready "$BENCH_PID" 10 bench_udp_listening 31850 || ...
#   timeout 120 taskset -c 0 ./client ...
#   bench_stop "$BENCH_PID"                # SIGINT, then SIGKILL after 5 s
#
# On exit (also Ctrl-C/SIGTERM) every process started with bench_start that
# is still alive gets SIGTERM, then SIGKILL: no busy-polling process is left
# behind on a 2-core box. Only processes this script started are signalled,
# by PID.

_bench_pids=()

# bench_start CORE LOG CMD...: run CMD in the background pinned to CORE,
# stdout and stderr to LOG. Sets BENCH_PID.
bench_start() {
	local core=$1 log=$2
	shift 2
	taskset -c "$core" "$@" >"$log" 2>&1 &
	BENCH_PID=$!
	_bench_pids+=("$BENCH_PID")
}

# bench_wait_ready PID TIMEOUT_S CHECK...: poll the command CHECK every
# 0.1 s until it succeeds. Fails if PID exits first or TIMEOUT_S passes.
bench_wait_ready() {
	local pid=$1 timeout=$2
	shift 2
	local tries=$((timeout * 10))
	while ((tries-- > 0)); do
		if ! _bench_alive "$pid"; then
			echo "bench: server (pid $pid) exited before it was ready" >&2
			return 1
		fi
		"$@" && return 0
		sleep 0.1
	done
	echo "bench: server (pid $pid) not ready after ${timeout}s" >&2
	return 1
}

# Readiness checks for bench_wait_ready.
bench_udp_listening() { [[ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]]; }
# A memif server's socket (DPDK makes it abstract by default: "@PATH").
bench_unix_listening() { ss -Hxl 2>/dev/null | grep -qF -- "$1"; }

# bench_stop PID [GRACE_S]: SIGINT, wait up to GRACE_S (default 5), then
# SIGKILL. Returns the process's exit status (130 etc. if killed).
bench_stop() {
	local pid=$1 grace=${2:-5} tries
	kill -INT "$pid" 2>/dev/null || true
	tries=$((grace * 10))
	while _bench_alive "$pid" && ((tries-- > 0)); do
		sleep 0.1
	done
	if _bench_alive "$pid"; then
		echo "bench: pid $pid ignored SIGINT for ${grace}s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	local rc=0 p keep=()
	wait "$pid" 2>/dev/null || rc=$?
	# Reaped: forget it, so cleanup never signals a recycled PID.
	for p in "${_bench_pids[@]}"; do
		[[ "$p" == "$pid" ]] || keep+=("$p")
	done
	_bench_pids=("${keep[@]}")
	return "$rc"
}

# bench_dpdk_mem HUGEPAGES: EAL memory options. With hugepages, unlink the
# hugepage files right after mapping them (nothing is left in /dev/hugepages
# if a process dies); without, 4 KiB pages (--no-huge needs --no-shconf, not
# --in-memory, in 22.11).
bench_dpdk_mem() {
	if (($1 > 0)); then
		echo "--huge-unlink"
	else
		echo "--no-huge --no-shconf -m 512"
	fi
}

# Alive and not a zombie (an exited child we have not reaped yet).
_bench_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [[ "$st" != Z ]]
}

bench_cleanup() {
	local pid
	for pid in "${_bench_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${_bench_pids[@]}"; do
		local tries=30
		while _bench_alive "$pid" && ((tries-- > 0)); do
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	_bench_pids=()
}

trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
