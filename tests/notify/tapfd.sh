#!/bin/sh
# An inherited tap (--net NAME=tapfd:FD) on the unix target, as haze-jitsu
# uses it: the parent opens the tap and keeps it while no unikernel runs,
# so frames sent to a booting service wait in the tap, and the unikernel
# reads them from the same open file description. tests/notify/tapfd.py
# judges it from the parent's side, in a namespace of its own. Needs root
# and /dev/net/tun; skips saying which is missing.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
echo_bin=$O/unix/examples/echo/echo
need ip iproute2
need /usr/bin/python3 python3
built "$echo_bin"
end_if_missing

if why=$(netns_unusable); then
	skip "an inherited tap on the unix target" "$why"
	done_testing
	exit 0
fi
ns=hzfd$$
tap=hzfdt$$
trap 'netns_down "$ns"' EXIT
if ! netns_up "$ns" "$tap" 10.82.0.1/24; then
	not_ok "the namespace and its tap are made"
	done_testing
	exit 1
fi
client_tap "tapfd" 6 ip netns exec "$ns" /usr/bin/python3 \
	tests/notify/tapfd.py "$tap" "$echo_bin"
done_testing
