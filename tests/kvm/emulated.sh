#!/bin/sh
# tests/kvm/run.py where this machine has no /dev/kvm: inside the QEMU VM
# of tests/kvm/nested.sh, whose emulated CPU gives its kernel a /dev/kvm,
# so haze-kvm and the kvm platform's guest code are tested on every
# machine. Its TAP is passed through. Where /dev/kvm is usable the suite
# runs on it directly, and this one skips. The guest's timing test skips
# in there (HAZE_KVM_EMULATED); everything else must pass.
set -u

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "1..0 # SKIP /dev/kvm is usable: tests/kvm/run.py runs on it"
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tests/kvm/nested.sh /usr/bin/python3 tests/kvm/run.py >"$out" 2>&1
rc=$?
case $rc in
77)
	echo "1..0 # SKIP $(grep 'nested: skipped:' "$out" | sed 's/.*skipped: //')"
	exit 0
	;;
esac
if ! grep -q '^1\.\.[0-9]' "$out"; then
	echo "not ok 1 - tests/kvm/run.py ran in the emulated VM (status $rc)"
	sed 's/^/# /' "$out"
	echo "1..1"
	exit 1
fi
# TAP lines as they are; anything else (the VM's or a tool's words) as
# diagnostics.
sed '/^\(ok\|not ok\|1\.\.\|#\)/!s/^/# /' "$out"
exit "$rc"
