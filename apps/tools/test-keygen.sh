#!/bin/sh
# test-keygen.sh TERN_KEYGEN — tern-keygen writes NAME.key (mode 0600) and
# NAME.pub, one 44-character base64 line each, prints the public key, keeps
# existing files unless --force, and fails clearly on bad usage or an
# unwritable place.
set -u
keygen=${1:?usage: test-keygen.sh tern-keygen}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

out=$("$keygen" "$tmp/a" 2>"$tmp/err") || fail "tern-keygen exited $? ($(cat "$tmp/err"))"
[ -f "$tmp/a.key" ] || fail "NAME.key not written"
[ -f "$tmp/a.pub" ] || fail "NAME.pub not written"
[ "$(stat -c %a "$tmp/a.key")" = 600 ] || fail "private key mode $(stat -c %a "$tmp/a.key")"
[ "$(wc -c <"$tmp/a.pub")" -eq 45 ] || fail "public key file is not one 44-character line"
[ "$(wc -c <"$tmp/a.key")" -eq 45 ] || fail "private key file is not one 44-character line"
[ "$out" = "$(cat "$tmp/a.pub")" ] || fail "printed '$out', not the public key"
grep -q '^[A-Za-z0-9+/]\{43\}=$' "$tmp/a.pub" || fail "public key is not base64"
[ "$(cat "$tmp/a.key")" != "$(cat "$tmp/a.pub")" ] || fail "private key equals the public key"

# Two runs: two different keys.
"$keygen" "$tmp/b" >/dev/null || fail "second key"
[ "$(cat "$tmp/a.pub")" != "$(cat "$tmp/b.pub")" ] || fail "two runs gave the same key"

# Existing files are kept...
old=$(cat "$tmp/a.key")
"$keygen" "$tmp/a" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "overwrote without --force"
grep -q 'exists' "$tmp/err" || fail "no clear error for an existing key: $(cat "$tmp/err")"
[ "$(cat "$tmp/a.key")" = "$old" ] || fail "the existing key changed"
# ...unless --force; a replaced private key is 0600 even if it was not.
chmod 644 "$tmp/a.key"
"$keygen" --force "$tmp/a" >/dev/null || fail "--force failed"
[ "$(cat "$tmp/a.key")" != "$old" ] || fail "--force kept the old key"
[ "$(stat -c %a "$tmp/a.key")" = 600 ] || fail "replaced private key mode $(stat -c %a "$tmp/a.key")"

# Bad usage: 2. A place it cannot write: 1, with the reason.
"$keygen" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no NAME: not exit 2"
"$keygen" a b >/dev/null 2>&1
[ $? -eq 2 ] || fail "two NAMEs: not exit 2"
"$keygen" "" >/dev/null 2>&1
[ $? -eq 2 ] || fail "empty NAME: not exit 2"
"$keygen" --bogus x >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown option: not exit 2"
"$keygen" "$tmp/no/such/dir/k" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "unwritable place: not exit 1"
grep -q 'cannot write' "$tmp/err" || fail "no clear error: $(cat "$tmp/err")"
"$keygen" --help | grep -q 'usage' || fail "--help"
echo "PASS"
