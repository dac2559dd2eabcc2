#!/bin/sh
# Test unikernels on the unix target, bound to host resources through the
# command line: blockcheck against a file, and the refusals of bindings.
set -u
. tests/tap.sh

O=${O:-build}
app=$O/unix/tests/apps/blockcheck/blockcheck
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

truncate -s 1M "$tmp/disk.img"
"$app" --block disk="$tmp/disk.img" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^blockcheck: ok 2048$" "$tmp/out"; then
	ok "blockcheck writes, reads and verifies 2048 sectors of a file"
else
	not_ok "blockcheck on a 1 MiB file (exit $rc)"
	diag "$(cat "$tmp/out")"
fi
check "what blockcheck wrote is in the file" \
	[ "$(od -An -tu1 -j 1 -N 1 "$tmp/disk.img" | tr -d ' ')" = 7 ]

"$app" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "block device 'disk' is not bound" "$tmp/out"; then
	ok "a missing binding is refused before the application starts"
else
	not_ok "a missing binding is refused (exit $rc)"
	diag "$(cat "$tmp/out")"
fi
"$app" --block disk="$tmp/disk.img" --block disk="$tmp/disk.img" >"$tmp/out" 2>&1
rc=$?
check "a duplicate binding is refused" sh -c "[ $rc -eq 2 ] && grep -q 'bound twice' '$tmp/out'"
"$app" --block disk="$tmp/none.img" >"$tmp/out" 2>&1
rc=$?
check "a missing file is refused, naming it" sh -c "[ $rc -eq 2 ] && grep -q 'none.img' '$tmp/out'"
done_testing
