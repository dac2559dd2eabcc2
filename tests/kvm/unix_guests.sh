#!/bin/sh
# The guest test programs that use only the platform API, built from the
# same source for the unix target and run as Linux processes: the same
# program, the same output, on either target.
set -u
. tests/tap.sh

O=${O:-build}
g=$O/unix/tests/kvm/guests
out=$(mktemp)
disk=$(mktemp)
trap 'rm -f "$out" "$disk"' EXIT

# runs WHAT PATTERN COMMAND...: COMMAND exits 0 and prints PATTERN.
runs() {
	what=$1 pattern=$2
	shift 2
	if "$@" >"$out" 2>&1 && grep -q "$pattern" "$out"; then
		ok "$what"
	else
		not_ok "$what"
		diag "$(cat "$out")"
	fi
}

runs "hello on unix: its arguments" "arg 2: two" "$g/hello/hello" one two
runs "sleep on unix: 50 ms" "slept 5[01][0-9][0-9][0-9] us" "$g/sleep/sleep"
runs "crypto on unix: random bytes" "random ok" "$g/crypto/crypto"
check "crypto on unix: SHA-256 and AES-GCM known answers" \
	grep -q "sha256 ok, aes-gcm (ct) ok" "$out"
truncate -s 65536 "$disk"
runs "block on unix: write, read and verify a file" \
	"block write-read-verify ok" "$g/block/block" --block "disk=$disk"

# A fiber that recurses off its stack hits the guard page below it: the
# fault handler names the fiber and aborts (SIGABRT, 128 + 6).
"$g/overflow/overflow" >"$out" 2>&1
rc=$?
if [ "$rc" -eq 134 ] && ! grep -q "went unnoticed" "$out" &&
	grep -q "^fiber deep overflowed its stack (guard page at 0x[0-9a-f]*)$" \
		"$out"; then
	ok "overflow on unix: the guard page faults, naming the fiber"
else
	not_ok "overflow on unix: the guard page faults, naming the fiber"
	diag "status $rc: $(cat "$out")"
fi
echo "1..$tap_n"
