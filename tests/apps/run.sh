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

# netecho: frames from the host through a tap and back, in batches.
echo_app=$O/unix/tests/apps/netecho/netecho
tap=hzt$$
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
	skip "netecho exchanges frames with the host over a tap" "needs root and /dev/net/tun"
elif ! ip tuntap add dev "$tap" mode tap 2>"$tmp/err"; then
	not_ok "create tap $tap: $(cat "$tmp/err")"
else
	ip link set "$tap" up
	"$echo_app" --net net=tap:"$tap" -- 200 >"$tmp/echo.out" 2>&1 &
	pid=$!
	# It has attached to the tap once it reports its MAC.
	for _ in $(seq 50); do
		grep -q "netecho: mtu" "$tmp/echo.out" && break
		sleep 0.1
	done
	/usr/bin/python3 tests/apps/netpeer.py "$tap" 200 >"$tmp/peer.out" 2>&1
	peer_rc=$?
	wait $pid
	app_rc=$?
	if [ "$peer_rc" -eq 0 ] && [ "$app_rc" -eq 0 ] &&
		grep -q "echoed 200" "$tmp/echo.out"; then
		ok "netecho turns 200 frames from the host around over a tap"
	else
		not_ok "netecho over a tap (peer $peer_rc, app $app_rc)"
		diag "$(cat "$tmp/echo.out" "$tmp/peer.out")"
	fi
	ip link del "$tap" 2>/dev/null
fi
done_testing
