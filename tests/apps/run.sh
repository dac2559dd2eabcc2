#!/bin/sh
# Test unikernels on the unix target, bound to host resources through the
# command line: blockcheck against a file, and the refusals of bindings.
set -u
. tests/tap.sh

O=${O:-build}
app=$O/unix/tests/apps/blockcheck/blockcheck
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo_app=$O/unix/tests/apps/netecho/netecho

# What `make test` installs and builds is required (missing: a failure).
need ip iproute2
need runuser util-linux
need /usr/bin/python3 python3
built "$app"
built "$echo_app"
end_if_missing

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

# Bindings are checked against the manifest before any host resource is
# opened: a bad command line creates no tap and opens no file, and says what
# is wrong even where opening would have failed (no root: no tap).
tap=hzt$$
bad=hzb$$
# As root, a second run as nobody shows the message does not depend on
# being allowed to open a tap; a link monitor sees any tap come and go.
as_nobody=
monitor=
if [ "$(id -u)" -eq 0 ]; then
	if runuser -u nobody -- true >"$tmp/out" 2>&1; then
		as_nobody=yes
	else
		not_ok "runuser -u nobody runs a command"
		diag "$(cat "$tmp/out")"
	fi
	# The monitor proves itself with a tap of its own, so it needs one.
	if [ -c /dev/net/tun ]; then
		ip -o monitor link >"$tmp/links" 2>&1 &
		monitor=$!
		sleep 0.3
	fi
fi

# refused DESC PATTERN COMMAND...: COMMAND exits 2 with PATTERN in its
# output, run as this user and, when root, as nobody.
refused() {
	desc=$1 pattern=$2
	shift 2
	for who in self ${as_nobody:+nobody}; do
		if [ "$who" = self ]; then
			"$@" >"$tmp/out" 2>&1
		else
			runuser -u nobody -- "$@" >"$tmp/out" 2>&1
		fi
		rc=$?
		if [ "$rc" -eq 2 ] && grep -q -- "$pattern" "$tmp/out"; then
			ok "$desc (as $who)"
		else
			not_ok "$desc (as $who, exit $rc)"
			diag "$(cat "$tmp/out")"
		fi
	done
}

refused "the same net device bound twice is refused" \
	"device 'net' is bound twice" \
	"$echo_app" --net net=tap:$bad --net net=tap:$bad
refused "a binding of an undeclared device is refused" \
	"declares no net device 'svc'" \
	"$app" --block disk="$tmp/disk.img" --net svc=tap:$bad
refused "an undeclared device is refused before a file is opened" \
	"declares no block device 'other'" \
	"$app" --block other="$tmp/none.img" --block disk="$tmp/disk.img"
refused "a binding of the wrong kind is refused" \
	"declares 'disk' as a block device, not net" \
	"$app" --net disk=tap:$bad
refused "a missing net binding is refused" \
	"net device 'net' is not bound (use --net net=...)" "$echo_app"
refused "an unknown option is refused, naming it" \
	"unknown option --memory" "$app" --memory 64 --block disk="$tmp/disk.img"
if [ -n "$monitor" ]; then
	# The monitor works: it sees a tap that is really created.
	ip tuntap add dev "${bad}c" mode tap && ip link del "${bad}c"
	sleep 0.3
	kill "$monitor"
	wait "$monitor" 2>/dev/null
	if ! grep -q "${bad}c" "$tmp/links"; then
		not_ok "the link monitor sees taps come and go"
		diag "$(cat "$tmp/links")"
	elif grep -q "$bad:" "$tmp/links"; then
		not_ok "no refused command line created a tap"
		diag "$(cat "$tmp/links")"
	else
		ok "no refused command line created a tap"
	fi
else
	skip "no refused command line created a tap" "needs root and /dev/net/tun"
fi

# netecho: frames from the host through a tap and back, in batches.
if [ "$(id -u)" -ne 0 ]; then
	skip "netecho exchanges frames with the host over a tap" "needs root"
elif [ ! -c /dev/net/tun ]; then
	skip "netecho exchanges frames with the host over a tap" "needs /dev/net/tun"
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
