#!/bin/bash
# run-matrix.sh — tern-incast across fan-ins, call sizes and bottlenecks,
# as one markdown table (one tern-incast --row per case; each command is
# echoed to stderr before it runs).
#
#   run-matrix.sh [--bin PATH] [--kinds "sim loop udp tbf"] [--fanins "1 8 32 64 100"]
#                 [--sizes "1m 64k"] [--rate 200m] [--queue 256k] [--duration 5]
#                 [--victim] [-- extra tern-incast options]
#
# kinds:
#   sim   the emulated bottleneck over loop on tern-incast-sim's virtual
#         clock: one thread, infinitely fast hosts, deterministic
#   loop  the emulated bottleneck (faults link rate=R,queue=Q on the server's
#         ingress), server and clients in one process over loop, threads
#         pinned to CPUs 0 and 1
#   udp   the same link, server and client processes over udp on 127.0.0.1
#         (taskset -c 0 / -c 1)
#   tbf   the kernel's tbf (rate R, limit Q) in a router namespace (netns.sh)
#
# Short busy-polling runs on both cores (but sim): on a shared machine the
# CPU column says how much of a core the client thread got.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN="" KINDS="sim loop udp tbf" FANINS="1 8 32 64 100" SIZES="1m 64k"
RATE=200m QUEUE=256k DUR=5 VICTIM=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) BIN=$2; shift 2 ;;
	--kinds) KINDS=$2; shift 2 ;;
	--fanins) FANINS=$2; shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--queue) QUEUE=$2; shift 2 ;;
	--duration) DUR=$2; shift 2 ;;
	--victim) VICTIM=(--victim); shift ;;
	--) shift; break ;;
	*) echo "run-matrix.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
EXTRA=("$@")
if [ -z "$BIN" ]; then
	BIN=$here/../../build/dev/perf/incast/tern-incast
	[ -x "$BIN" ] || BIN=$(command -v tern-incast)
fi
[ -x "$BIN" ] || { echo "run-matrix.sh: no tern-incast (give --bin)" >&2; exit 2; }
SIM=$(dirname "$BIN")/tern-incast-sim

say() { echo "+ $*" >&2; }

# goodput and Jain: request bytes the server received from each sender in the
# window (first copies, of calls complete or not); "by calls": request bytes
# of the calls completed in the window (of the rate) and Jain over those.
echo "| case | goodput Gbit/s | of ${RATE}bit/s | Jain | resent | by calls: of ${RATE}bit/s / Jain | bulk p50 / p99 / p99.9 | victim p50 / p99 | failed | client CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for kind in $KINDS; do
	for size in $SIZES; do
		for n in $FANINS; do
			label="$kind $n x $size"
			common=(--senders "$n" --size "$size" --duration "$DUR" --rate "$RATE" --quiet --row "$label"
				"${VICTIM[@]}" "${EXTRA[@]}")
			case "$kind" in
			sim)
				cmd=("$SIM" local --driver loop --link "rate=$RATE,queue=$QUEUE" "${common[@]}")
				say "${cmd[*]}"
				"${cmd[@]}" || true
				;;
			loop)
				cmd=("$BIN" local --driver loop --link "rate=$RATE,queue=$QUEUE" "${common[@]}")
				say "${cmd[*]}"
				"${cmd[@]}" || true
				;;
			udp)
				port=$((7400 + RANDOM % 500))
				srv=(taskset -c 0 "$BIN" server --driver udp --bind "127.0.0.1:$port"
					--link "rate=$RATE,queue=$QUEUE" --quiet --senders 1000)
				cli=(taskset -c 1 "$BIN" client --driver udp --connect "127.0.0.1:$port"
					"${common[@]}")
				say "${srv[*]} &"
				say "${cli[*]}"
				timeout 120 "${srv[@]}" >/dev/null &
				spid=$!
				sleep 0.3
				timeout 100 "${cli[@]}" || true
				kill -TERM "$spid" 2>/dev/null || true
				wait "$spid" 2>/dev/null || true
				;;
			tbf)
				cmd=("$here/netns.sh" run --rate "${RATE}bit" --limit "${QUEUE}b" --bin "$BIN" --
					"${common[@]}")
				say "${cmd[*]}"
				"${cmd[@]}" 2>/dev/null | grep '^|' || true
				;;
			*) echo "run-matrix.sh: unknown kind $kind" >&2; exit 2 ;;
			esac
		done
	done
done
