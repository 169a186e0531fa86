#!/usr/bin/env bash
# bench-memif.sh [BUILD_DIR] — the blkstore figure: 4 KiB random reads at
# queue depth 1 and 32, remote (blkstore-server over DPDK net_memif, server
# on core 1, client on core 0, both busy-polling) against local io_uring on
# the same file from the client's core, interleaved local, remote, local,
# remote ... in one run (blkstore-cli bench --local --rounds).
#
# The export is a 256 MiB file of random bytes on /var/tmp (written first,
# so reads reach the disk, not holes), opened O_DIRECT by both the server
# and the local bench; BUFFERED=1 measures the page cache instead. Needs
# root (DPDK); uses hugepages when reserved (ci/hugepages), else --no-huge.
# Env: ROUNDS (3), DURATION per run in s (3), FILE (export path).
set -u
build=${1:-build/gcc}
rounds=${ROUNDS:-3}
duration=${DURATION:-3}
file=${FILE:-/var/tmp/tern-blkbench.img}
srv_bin=$build/apps/blkstore/blkstore-server
cli_bin=$build/apps/blkstore/blkstore-cli
for b in "$srv_bin" "$cli_bin"; do
	[[ -x $b ]] || { echo "bench-memif: $b not built (ci/build first)" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "bench-memif: needs root (DPDK)" >&2; exit 2; }

mem="--no-huge -m 512 --no-shconf"
if [[ $(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0) -gt 256 ]] && mountpoint -q /dev/hugepages; then
	mem="-m 512"
fi
sock=/tmp/tern-blkbench-$$.sock
eal_s="-l 1 $mem --no-pci --log-level=*:warning --file-prefix tern-blkb-s$$ --vdev=net_memif0,role=server,id=0,socket=$sock,socket-abstract=no"
eal_c="-l 0 $mem --no-pci --log-level=*:warning --file-prefix tern-blkb-c$$ --vdev=net_memif0,role=client,id=0,socket=$sock,socket-abstract=no"
buffered=()
[[ ${BUFFERED:-0} == 1 ]] && buffered=(--buffered)

srv=
cleanup() {
	[[ -n $srv ]] && kill -INT "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -f "$sock"
}
trap cleanup EXIT

if [[ ! -f $file || $(stat -c %s "$file") -ne $((256 << 20)) ]]; then
	echo "bench-memif: writing 256 MiB of random data to $file" >&2
	timeout 120 dd if=/dev/urandom of="$file" bs=1M count=256 status=none conv=fsync || exit 1
fi

timeout 600 taskset -c 1 "$srv_bin" --file "$file" "${buffered[@]}" --driver dpdk --eal "$eal_s" \
	--bind 10.0.0.1:31872 --busy-poll --quiet >/tmp/tern-blkbench-srv.$$ 2>&1 &
srv=$!
for _ in $(seq 100); do
	[[ -S $sock ]] && break
	sleep 0.1
done
[[ -S $sock ]] || { echo "bench-memif: server did not start:" >&2; cat /tmp/tern-blkbench-srv.$$ >&2; exit 1; }

rc=0
for qd in 1 32; do
	echo "== 4 KiB random read, QD$qd, $rounds rounds of ${duration} s each, local and remote interleaved"
	timeout $((rounds * duration * 4 + 60)) taskset -c 0 "$cli_bin" --server 10.0.0.1:31872 \
		--driver dpdk --bind 10.0.0.2:31873 --eal "$eal_c" --busy-poll \
		bench --qd "$qd" --rw read --bs 4096 --range 256M --duration "$duration" --warmup 1 \
		--rounds "$rounds" --local "$file" "${buffered[@]}" || rc=1
done
rm -f /tmp/tern-blkbench-srv.$$
exit $rc
