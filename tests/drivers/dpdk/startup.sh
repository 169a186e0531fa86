#!/usr/bin/env bash
# startup.sh TERN_PERF — what a user sees when the dpdk driver cannot start:
# each failure must name its cause and remedy (through tern-perf's log hook,
# on stderr) and end with exit 2, and a memif client started before its
# server must wait for it.
#
#   nonroot      not root, hugepages on a root-only hugetlbfs     (setpriv to nobody)
#   unmounted    no hugetlbfs mounted                             (private mount namespace)
#   unreserved   no hugepages reserved                            (tmpfs over /sys/kernel/mm/hugepages)
#   prefix       two processes on one --file-prefix
#   memif_alone  a memif client whose server never comes          (memif_wait=1)
#   memif_late   a memif client started 1 s before its server     (must succeed)
#
# Needs root (namespaces, /var/run/dpdk); a case whose situation cannot be
# set up here is skipped and said so; exit 77 if every case was skipped.
# The missing --bind message is checked by test_dpdk ring (open__bad_args).
set -u
perf=${1:?usage: startup.sh path/to/tern-perf}

case ",$("$perf" drivers)," in
*,dpdk,*) ;;
*) echo "dpdk driver not built into libtern: skipped"; exit 77 ;;
esac
if ((EUID != 0)); then
	echo "not root: skipped"
	exit 77
fi

tmp=$(mktemp -d /tmp/tern-startup.XXXXXX) || exit 1
chmod 755 "$tmp"
tag=tern-startup-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp" "/tmp/dpdk/$tag"* "/var/run/dpdk/$tag"*
}
trap cleanup EXIT

passed=0 skipped=0 failed=0
fail() {
	echo "FAIL [$case]: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; cat "$f"; }
	done
	failed=$((failed + 1))
}
skip() {
	echo "skip [$case]: $*"
	skipped=$((skipped + 1))
}
pass() {
	echo "ok   [$case]"
	passed=$((passed + 1))
}

# expect_fail WANT... : the last run exited 2 and its stderr has every WANT.
expect_fail() {
	[[ $rc -eq 2 ]] || { fail "exit $rc, not 2"; return; }
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/run.err" || { fail "stderr lacks \"$w\""; return; }
	done
	pass
}

# wait_line FILE TEXT PID: until FILE has a line with TEXT, PID exits, or
# 20 s (polling: the callers check the line afterwards).
wait_line() {
	for _ in $(seq 200); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

quiet="--no-pci --log-level=*:error"
# A server that dies early: no memif, no hugepages involved.
server_eal() { echo "-l 0 $quiet --file-prefix $tag-$1 --vdev=net_memif0,role=server,socket=$tmp/$1.sock,socket-abstract=no"; }

hugetlbfs=$(awk '$3 == "hugetlbfs" {print $2; exit}' /proc/mounts)
free_pages=$(cat /sys/kernel/mm/hugepages/hugepages-*/free_hugepages 2>/dev/null | awk '{s += $1} END {print s + 0}')

case=nonroot
if [[ -z "$hugetlbfs" || $free_pages -eq 0 ]]; then
	skip "no hugepages mounted and free here"
elif ! command -v setpriv >/dev/null; then
	skip "no setpriv"
elif setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$hugetlbfs"; then
	skip "$hugetlbfs is writable for nobody"
elif ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$perf"; then
	skip "$perf is not executable for nobody (a private build directory)"
else
	env -u XDG_RUNTIME_DIR setpriv --reuid=nobody --regid=nogroup --clear-groups \
		timeout 30 "$perf" server --driver dpdk --eal "$(server_eal nonroot)" \
		--bind 10.77.0.1:31990 >"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	expect_fail "not running as root (uid " "is not writable for this user: run as root, or add --in-memory or --no-huge -m 512"
fi

case=unmounted
if ! command -v unshare >/dev/null; then
	skip "no unshare"
else
	# A private mount namespace without any hugetlbfs.
	timeout 30 unshare -m bash -c '
		awk '\''$3 == "hugetlbfs" {print $2}'\'' /proc/mounts | while read -r m; do umount "$m" || exit 1; done
		exec "$@"' _ "$perf" server --driver dpdk --eal "$(server_eal unmounted)" \
		--bind 10.77.0.1:31990 >"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	expect_fail "no hugepages mounted" "run ci/hugepages as root" "add --in-memory or --no-huge -m 512 to the EAL arguments, or use --driver udp"
fi

case=unreserved
if ! command -v unshare >/dev/null; then
	skip "no unshare"
else
	# A hugetlbfs mounted (here, if the host has none) but no page sizes in sysfs.
	timeout 30 unshare -m bash -c '
		if ! awk '\''$3 == "hugetlbfs" {f = 1} END {exit !f}'\'' /proc/mounts; then
			mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages || exit 1
		fi
		mount -t tmpfs none /sys/kernel/mm/hugepages || exit 1
		exec "$@"' _ "$perf" server --driver dpdk --eal "$(server_eal unreserved)" \
		--bind 10.77.0.1:31990 >"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	expect_fail "no hugepages reserved (nr_hugepages is 0)" "or add --no-huge -m 512"
fi

case=prefix
eal="-l 0 $quiet --no-huge -m 256 --file-prefix $tag-prefix --vdev=net_memif0,role=server,socket=$tmp/prefix.sock,socket-abstract=no"
timeout 60 "$perf" server --driver dpdk --eal "$eal" --bind 10.77.0.1:31990 --busy-poll 0 \
	--duration 30 >"$tmp/first.out" 2>"$tmp/first.err" &
first=$!
pids+=("$first")
wait_line "$tmp/first.out" "listening on" "$first"
if ! grep -q "listening on" "$tmp/first.out"; then
	fail "the first server did not start"
else
	timeout 30 "$perf" server --driver dpdk --eal "$eal" --bind 10.77.0.1:31991 \
		>"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	# The pid named is the first server's (timeout(1)'s child).
	holder=$(sed -n 's/.*another DPDK process (pid \([0-9]*\)).*/\1/p' "$tmp/run.err")
	if [[ -z "$holder" || "$(ps -o ppid= -p "$holder" | tr -d ' ')" != "$first" ]]; then
		fail "no pid, or not the first server's: '$holder'"
	else
		expect_fail "runs with --file-prefix $tag-prefix (it holds /" "give every DPDK process on this host its own --file-prefix"
	fi
fi
kill -INT "$first" 2>/dev/null
wait "$first" 2>/dev/null
rm -f "$tmp/first.out" "$tmp/first.err"

mem="--no-huge -m 256 --no-shconf"
client_eal() { echo "-l 0 $quiet $mem --file-prefix $tag-$1-c --vdev=net_memif0,role=client,socket=$tmp/$1.sock,socket-abstract=no"; }

case=memif_alone
# It gives up by itself (exit 2, saying after how long), not killed by
# timeout(1) (exit 124).
timeout 30 "$perf" client --driver dpdk --eal "$(client_eal alone)" --driver-args memif_wait=1 \
	--bind 10.77.0.2:31991 --connect 10.77.0.1:31990 --count 10 >"$tmp/run.out" 2>"$tmp/run.err"
rc=$?
if ((rc == 124)); then
	fail "did not give up by itself within 30 s"
else
	expect_fail "net_memif0: no memif server on socket $tmp/alone.sock yet; waiting up to 1 s" \
		"no memif server on socket $tmp/alone.sock after 1 s: start the server (role=server" \
		"Connection refused"
fi

case=memif_late
timeout 60 "$perf" client --driver dpdk --eal "$(client_eal late)" --bind 10.77.0.2:31991 \
	--connect 10.77.0.1:31990 --count 200 --busy-poll 0 >"$tmp/run.out" 2>"$tmp/run.err" &
client=$!
pids+=("$client")
# The server starts once the client says it is waiting for one.
wait_line "$tmp/run.err" "no memif server on socket $tmp/late.sock yet" "$client"
timeout 60 "$perf" server --driver dpdk --bind 10.77.0.1:31990 --busy-poll 0 --duration 30 \
	--eal "-l 1 $quiet $mem --file-prefix $tag-late-s --vdev=net_memif0,role=server,socket=$tmp/late.sock,socket-abstract=no" \
	>"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
pids+=("$server")
wait "$client"
rc=$?
kill -INT "$server" 2>/dev/null
wait "$server" 2>/dev/null
if [[ $rc -ne 0 ]]; then
	fail "client exit $rc"
elif ! grep -qF "no memif server on socket $tmp/late.sock yet; waiting up to 10 s" "$tmp/run.err"; then
	fail "the client did not start first (no waiting line)"
elif ! grep -q "count        200" "$tmp/run.out"; then
	fail "client result"
else
	pass
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0)) || exit 1
((passed > 0)) || exit 77
exit 0
