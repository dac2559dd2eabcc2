#!/bin/sh
# bench/kvm/exits.sh: what a connection and a bulk transfer cost the echo
# guest in VM exits under haze-kvm, read off --trace's counts.
#
#   bench/kvm/exits.sh [BUILD[+FLAG...]...]   (root: a namespace and a tap)
#
# For each build tree named (default: $O, else build), the echo example
# runs under that build's haze-kvm --trace behind a tap in a namespace,
# with the tender flags joined to the tree's name by + (build+--no-net-rings
# is the same build without net rings); a Linux client makes CONNS
# connections (1 byte there and back, close), one at a time, then pushes
# MIB MiB into discard and reads MIB MiB from chargen. The counts line the
# tender prints every 5 s is read before and after each phase (a ping
# after the period makes the idle guest's next yield print it), and the
# differences are printed per connection and per MiB: exits, yields,
# reads, writes, kicks (NET_KICK: a net ring's I/O thread woken). Exits are counted, never timed, so the figures hold on
# any host, tests/kvm/nested.sh's emulated one included; two builds named
# together compare an ABI change in one run.
set -u
. tests/net/lib.sh

CONNS=${CONNS:-200}
MIB=${MIB:-16}
[ $# -gt 0 ] || set -- "${O:-build}"
ns=hzx$$ tap=hzxt$$
tmp=$(mktemp -d)
cleanup() {
	netns_down $ns
	rm -rf "$tmp"
}
trap cleanup EXIT

netns_usable || {
	echo "bench/kvm/exits: needs root, /dev/net/tun and namespaces" >&2
	exit 1
}
[ -c /dev/kvm ] || {
	echo "bench/kvm/exits: no /dev/kvm (tests/kvm/nested.sh gives one)" >&2
	exit 1
}

# counts LOG: the last counts line's fields, as shell assignments.
counts() {
	grep 'trace: exits=' "$1" | tail -1 | sed 's/.*trace: //' |
		tr ' ' '\n' | grep -E '^(exits|yield|net_read|net_write|net_kick)=' |
		tr '\n' ' '
}

# tick LOG: waits out the 5 s period and has the guest print its counts.
tick() {
	n=$(grep -c 'trace: exits=' "$1")
	sleep 5.5
	for _ in $(seq 60); do
		ip netns exec $ns ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1
		[ "$(grep -c 'trace: exits=' "$1")" -gt "$n" ] && return 0
	done
	echo "bench/kvm/exits: the guest printed no counts" >&2
	exit 1
}

# phase NAME PER LOG BEFORE: the differences since BEFORE, per PER.
phase() {
	eval "$4"
	e0=$exits y0=$yield r0=$net_read w0=$net_write k0=$net_kick
	eval "$(counts "$3")"
	awk -v n="$2" -v name="$1" -v e=$((exits - e0)) -v y=$((yield - y0)) \
		-v r=$((net_read - r0)) -v w=$((net_write - w0)) \
		-v k=$((net_kick - k0)) 'BEGIN {
		printf "  %-16s exits %6.2f  yield %6.2f  net_read %6.2f  net_write %6.2f  net_kick %6.2f\n",
			name, e / n, y / n, r / n, w / n, k / n }'
}

netns_up $ns $tap 10.77.0.1/24 || exit 1
for arg in "$@"; do
	build=${arg%%+*}
	flags=$(echo "$arg" | sed -n 's/^[^+]*+//p' | tr '+' ' ')
	log=$tmp/trace.log
	: >"$log"
	# shellcheck disable=SC2086 # the flags are words
	ip netns exec $ns "$build/host/tender/haze-kvm" --trace $flags --mem 512 \
		--net service=tap:$tap "$build/kvm/examples/echo/echo.hz" \
		--stack direct:service,ip=10.77.0.2/24 --quiet \
		>"$tmp/console.log" 2>"$log" &
	pid=$!
	ip netns exec $ns /usr/bin/python3 - 10.77.0.2 1 <<'EOF' 
import socket, sys, time
end = time.time() + 120
while True:
    try:
        socket.create_connection((sys.argv[1], 7), timeout=2).close()
        break
    except OSError:
        if time.time() > end:
            sys.exit("bench/kvm/exits: echo never answered; haze-kvm said:")
        time.sleep(0.2)
EOF
	[ $? -eq 0 ] || {
		cat "$log" >&2
		exit 1
	}
	tick "$log"
	before=$(counts "$log")
	ip netns exec $ns /usr/bin/python3 - 10.77.0.2 "$CONNS" <<'EOF' || exit 1
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((sys.argv[1], 7), timeout=30)
    s.sendall(b"x")
    if s.recv(1) != b"x":
        sys.exit("bench/kvm/exits: echo answered wrong")
    s.close()
EOF
	tick "$log"
	echo "$arg:"
	phase "per connection" "$CONNS" "$log" "$before"
	before=$(counts "$log")
	head -c $((MIB << 20)) /dev/zero |
		ip netns exec $ns /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 9), timeout=30)
while True:
    b = sys.stdin.buffer.read(1 << 20)
    if not b:
        break
    s.sendall(b)
s.shutdown(socket.SHUT_WR)
s.recv(1)
' 10.77.0.2 || exit 1
	tick "$log"
	phase "per MiB received" "$MIB" "$log" "$before"
	before=$(counts "$log")
	ip netns exec $ns /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 19), timeout=30)
left = int(sys.argv[2]) << 20
while left > 0:
    b = s.recv(min(left, 1 << 20))
    if not b:
        sys.exit("bench/kvm/exits: chargen closed early")
    left -= len(b)
s.close()
' 10.77.0.2 "$MIB" || exit 1
	tick "$log"
	phase "per MiB sent" "$MIB" "$log" "$before"
	kill $pid
	wait $pid 2>/dev/null || true
done
