#!/usr/bin/env bash
# check-tern-install.sh PREFIX — the tern installed in PREFIX is what a user
# needs: the headers and pkg-config files, only the user-facing tools in
# bin/ (tern-perf, tern-keygen, blkstore-server, blkstore-cli; no demo
# apps), tools that run without LD_LIBRARY_PATH (their rpath finds
# libtern), and the Wireshark dissector.
set -u
prefix=${1:?usage: check-tern-install.sh PREFIX}
failed=0
fail() { echo "FAIL: $*"; failed=1; }

for f in include/tern.h include/tern_pb.h share/tern/wireshark/tern.lua; do
	[[ -f "$prefix/$f" ]] || fail "$f not installed"
done
for pc in tern tern_pb; do
	[[ -n "$(find "$prefix" -name "$pc.pc" -path '*/pkgconfig/*')" ]] || fail "$pc.pc not installed"
done

allowed=" tern-perf tern-keygen blkstore-server blkstore-cli "
for b in "$prefix"/bin/*; do
	[[ -e "$b" ]] || continue
	name=$(basename "$b")
	[[ "$allowed" == *" $name "* ]] || fail "bin/$name installed (not a user-facing tool)"
done
for name in tern-perf tern-keygen; do
	[[ -x "$prefix/bin/$name" ]] || fail "bin/$name missing"
done

# Each runs with a clean environment: libtern through the rpath.
run() {
	local out
	out=$(env -u LD_LIBRARY_PATH "$@" 2>&1) || { fail "$* failed: $out"; return; }
}
[[ -x "$prefix/bin/tern-perf" ]] && run "$prefix/bin/tern-perf" drivers
[[ -x "$prefix/bin/tern-keygen" ]] && run "$prefix/bin/tern-keygen" --help
[[ -x "$prefix/bin/blkstore-server" ]] && run "$prefix/bin/blkstore-server" --help
[[ -x "$prefix/bin/blkstore-cli" ]] && run "$prefix/bin/blkstore-cli" --help
for b in "$prefix"/bin/*; do
	[[ -x "$b" ]] || continue
	lib=$(env -u LD_LIBRARY_PATH ldd "$b" | awk '$1 ~ /^libtern/ {print $3}')
	case "$lib" in
	"$prefix"/*) ;;
	*) fail "$(basename "$b"): libtern resolves to '$lib', not under $prefix" ;;
	esac
done
((failed == 0)) && echo "PASS: $(ls "$prefix/bin" | tr '\n' ' ')"
exit $failed
