#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR ARTIFACT_DIR — run a libFuzzer harness for a
# bounded time (TERN_FUZZ_TIME seconds, default 60) on a copy of the seed
# corpus, so the source tree is never written. Fails (non-zero) on any
# crash, leak, sanitizer report or harness trap; the reproducer is left in
# ARTIFACT_DIR (crash-*, leak-*, timeout-*).
set -eu
fuzzer=$1
seeds=$2
artifacts=$3
time=${TERN_FUZZ_TIME:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$seeds"/* "$work"/
mkdir -p "$artifacts"
exec_rc=0
# libFuzzer's own exit codes for a crash (77) and a timeout (70) would read
# as "skipped" (77) to meson: any failure exits 1.
"$fuzzer" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$artifacts"/ "$work" || exec_rc=$?
exit $exec_rc
