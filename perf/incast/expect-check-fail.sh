#!/bin/bash
# expect-check-fail.sh — run tern-incast with --check and pass only if the
# check failed for the named reason: exit status 1 and a stderr line
# "tern-incast: check failed: <REASON>..." (the other bounds may fail too).
# The tests that show a bound can fail (meson.build) use it, so that a
# crash or a refused option does not pass for the bound.
#
#   expect-check-fail.sh REASON tern-incast-sim local ... --check ...
set -u
reason=$1
shift
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$@" >/dev/null 2>"$err"
rc=$?
cat "$err" >&2
if [ "$rc" -ne 1 ]; then
	echo "expect-check-fail.sh: exit status $rc, not 1" >&2
	exit 1
fi
if ! grep -q "^tern-incast: check failed: $reason" "$err"; then
	echo "expect-check-fail.sh: no \"check failed: $reason\"" >&2
	exit 1
fi
echo "expect-check-fail.sh: failed as expected: $reason"
