#!/usr/bin/env bash
# test-blkstore.sh SERVER CLI TESTER MODE [TERN-KEYGEN] — blkstore between
# two processes.
#
# MODE:
#   udp-faults    kernel UDP on 127.0.0.1, faults on both ends (loss 5%,
#                 dup 1%, reorder 10%): random writes of 4 KiB .. 1 MiB read
#                 back against a shadow copy, the server's writes-applied
#                 counter equal to the writes issued; bad requests and junk
#   memif-faults  the same over DPDK net_memif (root; skip otherwise)
#   flush-kill    write, Flush, kill -9 the server, restart it on the same
#                 file, read back: the data is there (O_DIRECT and buffered)
#   enospc        a 1100 KiB tmpfs (root) holding an 8 MiB sparse export: writes
#                 fail with -ENOSPC, never succeed silently; Discard frees
#                 space. 1100 KiB is not a multiple of the 256 KiB writes: one
#                 fails part-way (a short write, resumed, then -ENOSPC) and
#                 must be reported failed. (tmpfs exports are buffered.)
#   blkdev        a loop device (root) as the export: verify, Discard, Stat
#   secure        keys from tern-keygen: the server takes only the allowed
#                 client key at --protection privacy; data written and read
#                 back over an encrypted session; a client with another key,
#                 or none, is refused and writes nothing
#
# Every step is bounded by timeout(1); servers are killed on every exit
# path, mounts and loop devices undone. Exit: 0 pass, 1 fail, 77 skip.
set -u
server=${1:?usage: test-blkstore.sh SERVER CLI TESTER MODE}
cli=${2:?}
tester=${3:?}
mode=${4:?}
keygen=${5:-}
tag=blk$$
tmp=$(mktemp -d /tmp/tern-blkstore.XXXXXX) || exit 1
img=/var/tmp/tern-$tag.img # ext4 here: O_DIRECT
srv=  # timeout(1) wrapping the server
srvp= # the server itself (kill -9 to timeout would orphan it)
mnt=
loopdev=

cleanup() {
	[[ -n "$srvp" ]] && kill -9 "$srvp" 2>/dev/null
	if [[ -n "$srv" ]]; then
		kill -9 "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	[[ -n "$loopdev" ]] && losetup -d "$loopdev" 2>/dev/null
	if [[ -n "$mnt" ]]; then
		for _ in 1 2 3 4 5; do
			umount "$mnt" 2>/dev/null && break
			sleep 0.2
		done
		mountpoint -q "$mnt" && umount -l "$mnt"
		rmdir "$mnt" 2>/dev/null
	fi
	rm -rf "$tmp" "$img" "$img.back" "/tmp/tern-$tag.sock"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	for f in "$tmp"/server.out "$tmp"/*.err "$tmp"/tester.out; do # not cli.out: data
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; tail -n 40 "$f"; }
	done
	exit 1
}

need_root() {
	if [[ $EUID -ne 0 ]]; then
		echo "skip: $mode needs root"
		exit 77
	fi
}

# start_server ARGS...: run it in the background, set $srv and $addr.
start_server() {
	: >"$tmp/server.out"
	timeout 600 "$server" "$@" >"$tmp/server.out" 2>>"$tmp/server.err" &
	srv=$!
	addr=
	for _ in $(seq 1 200); do
		addr=$(sed -n 's/^blkstore-server: listening on \([^ ]*\) .*/\1/p' "$tmp/server.out")
		if [[ -n "$addr" ]]; then
			srvp=$(pgrep -P "$srv" | head -n 1)
			[[ -n "$srvp" ]] || fail "no server process under timeout $srv"
			return 0
		fi
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.05
	done
	fail "server did not come up ($*)"
}

# stop_server: SIGTERM, and it must exit 0.
stop_server() {
	kill -TERM "$srv"
	wait "$srv"
	local rc=$?
	srv= srvp=
	[[ $rc -eq 0 ]] || fail "server exited $rc after SIGTERM"
}

# run_tester ARGS...: the tester must pass.
run_tester() {
	timeout 500 "$tester" "$@" >>"$tmp/tester.out" 2>&1 || fail "tester $*"
	cat "$tmp/tester.out"
	: >"$tmp/tester.out"
}

# cli ARGS...: blkstore-cli against the server, must exit 0.
run_cli() {
	timeout 60 "$cli" --server "$addr" "${cli_net[@]}" "$@" >"$tmp/cli.out" 2>"$tmp/cli.err" ||
		fail "blkstore-cli $* (exit $?): $(cat "$tmp/cli.err")"
}

faults_s="loss=0.05,dup=0.01,reorder=0.1,seed=7"
faults_c="loss=0.05,dup=0.01,reorder=0.1,seed=8"
cli_net=()

case $mode in
udp-faults)
	start_server --file "$img" --create --size 32M --bind 127.0.0.1:0 --faults "$faults_s"
	run_tester --server "$addr" --faults "$faults_c" --rto-min-us 300 --count 150 --qd 8 \
		--seed 3 --expect-faults verify
	run_tester --server "$addr" --faults "$faults_c" --rto-min-us 300 badreq
	stop_server
	;;
memif-faults)
	need_root
	mem="--no-huge -m 512 --no-shconf --no-pci --log-level=*:warning"
	sock=/tmp/tern-$tag.sock
	start_server --file "$img" --create --size 32M --driver dpdk --bind 10.88.0.1:31900 \
		--eal "-l 1 $mem --file-prefix tern-$tag-s --vdev=net_memif0,role=server,id=0,socket=$sock,socket-abstract=no" \
		--faults "$faults_s"
	ceal="-l 0 $mem --file-prefix tern-$tag-c --vdev=net_memif0,role=client,id=0,socket=$sock,socket-abstract=no"
	run_tester --server "$addr" --driver dpdk --bind 10.88.0.2:31901 --eal "$ceal" \
		--faults "$faults_c" --rto-min-us 300 --count 150 --qd 8 --seed 4 --expect-faults verify
	run_tester --server "$addr" --driver dpdk --bind 10.88.0.2:31901 --eal "$ceal" \
		--faults "$faults_c" --rto-min-us 300 badreq
	stop_server
	;;
flush-kill)
	for io in direct buffered; do
		extra=()
		[[ $io == buffered ]] && extra=(--buffered)
		rm -f "$img"
		start_server --file "$img" --create --size 16M --bind 127.0.0.1:0 "${extra[@]}"
		grep -q "$([[ $io == direct ]] && echo O_DIRECT || echo buffered)" "$tmp/server.out" ||
			fail "server not in $io mode: $(cat "$tmp/server.out")"
		run_cli write 0 --pattern 11 --length 3M
		run_cli write 8M --pattern 12 --length 1M --fua
		head -c 1048576 /dev/urandom >"$tmp/data"
		run_cli write 12M <"$tmp/data"
		run_cli flush
		kill -9 "$srvp" # the server itself: a crash
		wait "$srv" 2>/dev/null
		srv= srvp=
		# Restart on the same file: no --create, no --size.
		start_server --file "$img" --bind 127.0.0.1:0 "${extra[@]}"
		run_cli read 0 3M --check-pattern 11
		run_cli read 8M 1M --check-pattern 12
		run_cli read 12M 1M
		cmp -s "$tmp/cli.out" "$tmp/data" || fail "$io: data from stdin lost across kill -9"
		# A range never written reads as zeros (sparse file).
		run_cli read 4M 64K
		cmp -s "$tmp/cli.out" <(head -c 65536 /dev/zero) || fail "$io: unwritten range not zero"
		stop_server
		echo "  $io: flushed data survived kill -9 and restart"
	done
	;;
enospc)
	need_root
	mnt=$(mktemp -d /tmp/tern-blkstore-mnt.XXXXXX)
	mount -t tmpfs -o size=1100k tern-blkstore "$mnt" || { mnt=; echo "skip: cannot mount tmpfs"; exit 77; }
	start_server --file "$mnt/export.img" --create --size 8M --bind 127.0.0.1:0
	grep -q buffered "$tmp/server.out" || fail "tmpfs export not buffered: $(cat "$tmp/server.out")"
	run_tester --server "$addr" enospc
	stop_server
	grep -q "short [1-9]" "$tmp/server.err" || fail "no write was cut short by the full tmpfs"
	;;
blkdev)
	need_root
	command -v losetup >/dev/null || { echo "skip: no losetup"; exit 77; }
	truncate -s 32M "$img.back"
	loopdev=$(losetup -f --show "$img.back" 2>/dev/null) || { loopdev=; echo "skip: no loop device"; exit 77; }
	start_server --file "$loopdev" --bind 127.0.0.1:0
	grep -q "block device" "$tmp/server.out" || fail "not a block device: $(cat "$tmp/server.out")"
	run_tester --server "$addr" --count 60 --qd 4 --seed 5 verify
	run_cli write 1M --pattern 21 --length 1M
	run_cli read 1M 1M --check-pattern 21
	# Discard: BLOCK_URING_CMD_DISCARD (kernel >= 6.12). A loop device over
	# a file punches the hole, so it reads back as zeros.
	if "$cli" --server "$addr" discard 1M 512K >"$tmp/cli.out" 2>"$tmp/cli.err"; then
		run_cli read 1M 512K
		cmp -s "$tmp/cli.out" <(head -c 524288 /dev/zero) || fail "discarded range not zero"
		run_cli read 1536K 512K --check-pattern 21
		echo "  discard on $loopdev: ok"
	else
		grep -q "Operation not supported\|Invalid argument" "$tmp/cli.err" ||
			fail "discard: $(cat "$tmp/cli.err")"
		echo "  discard on $loopdev: not supported by this kernel ($(cat "$tmp/cli.err"))"
	fi
	run_cli --json stat
	grep -q '"block_device":true' "$tmp/cli.out" || fail "stat: $(cat "$tmp/cli.out")"
	stop_server
	;;
secure)
	[[ -n "$keygen" ]] || { echo "skip: secure needs tern-keygen"; exit 77; }
	for k in server client other; do
		"$keygen" "$tmp/$k" >/dev/null || fail "tern-keygen $k"
	done
	cp "$tmp/client.pub" "$tmp/allowed"
	start_server --file "$img" --create --size 16M --bind 127.0.0.1:0 \
		--key "$tmp/server.key" --allow "$tmp/allowed" --protection privacy
	cli_net=(--key "$tmp/client.key" --peer-key "$tmp/server.pub" --protection privacy)
	head -c 2097152 /dev/urandom >"$tmp/data"
	run_cli write 4M <"$tmp/data"
	run_cli flush
	run_cli read 4M 2M
	cmp -s "$tmp/cli.out" "$tmp/data" || fail "secure: data differs"
	run_cli bench --qd 8 --rw mix --range 1M --duration 1 --warmup 0 # in [0, 1M)
	# Refused: another key; no key at all against a privacy-only server.
	for bad in "--key $tmp/other.key --peer-key $tmp/server.pub --protection privacy" ""; do
		# shellcheck disable=SC2086
		if timeout 20 "$cli" --server "$addr" --timeout-ms 1500 $bad write 8M --pattern 1 \
			--length 4K >"$tmp/cli.out" 2>"$tmp/cli.err"; then
			fail "secure: a client with '${bad:-no key}' could write"
		fi
	done
	run_cli read 8M 4K
	cmp -s "$tmp/cli.out" <(head -c 4096 /dev/zero) || fail "secure: a refused client wrote"
	run_cli read 4M 2M
	cmp -s "$tmp/cli.out" "$tmp/data" || fail "secure: data changed"
	stop_server
	echo "  privacy session: data intact; other key and no key refused"
	;;
*)
	echo "test-blkstore.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
echo "--- server:"
cat "$tmp/server.out" "$tmp/server.err"
echo PASS
