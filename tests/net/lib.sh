# Network namespaces for interop tests: source this file.
#
# netns_up NAME TAP ADDR/PREFIX makes namespace NAME with a tap TAP whose
# Linux side has ADDR; the unikernel opens TAP from inside the namespace
# (netns_exec) and both ends of every packet stay inside it. netns_down
# removes it all. Needs root; netns_unusable says why we cannot. Also
# wait_for (a line in a log) and free_port, for any network test.
# shellcheck shell=sh

# wait_for FILE TEXT [SECONDS]: waits until TEXT appears in FILE (5 s, or
# SECONDS, at most); fails if it does not.
wait_for() {
	for _ in $(seq $((${3:-5} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# free_port: prints a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# netns_unusable: prints why this machine cannot make namespaces and taps
# (and succeeds), or fails quietly when it can. Only what a machine may
# lack counts: root, /dev/net/tun, the right to make a namespace. `ip`
# itself is a dependency (need ip iproute2), checked before this.
netns_unusable() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root"
	elif [ ! -c /dev/net/tun ]; then
		echo "needs /dev/net/tun"
	elif ! command -v ip >/dev/null 2>&1; then
		echo "ip is missing (Debian package iproute2)"
	elif ! probe_err=$(ip netns add hzprobe$$ 2>&1); then
		echo "cannot make a network namespace here: $probe_err"
	else
		ip netns del hzprobe$$
		return 1
	fi
}

# netns_usable: whether this machine lets us make namespaces and taps (for
# the benchmarks, which may skip; a test suite uses netns_unusable).
netns_usable() {
	! netns_unusable >/dev/null
}

# netns_up NAME TAP ADDR/PREFIX: namespace NAME, tap TAP up with ADDR.
netns_up() {
	ip netns add "$1" || return 1
	ip netns exec "$1" ip link set lo up &&
		ip netns exec "$1" ip tuntap add dev "$2" mode tap &&
		ip netns exec "$1" ip addr add "$3" dev "$2" &&
		ip netns exec "$1" ip link set "$2" up
}

# netns_exec NAME COMMAND...: runs COMMAND inside namespace NAME.
netns_exec() {
	ip netns exec "$@"
}

# netns_drop NAME TAP PERCENT: drops PERCENT % of packets both ways on TAP
# (nftables, numgen random), to test recovery from loss.
netns_drop() {
	ip netns exec "$1" nft -f - <<NFT
table inet hzloss {
	chain in { type filter hook input priority 0; iifname "$2" numgen random mod 100 < $3 counter drop; }
	chain out { type filter hook output priority 0; oifname "$2" numgen random mod 100 < $3 counter drop; }
}
NFT
}

# netns_dropped NAME: prints how many packets the drop rules dropped.
netns_dropped() {
	ip netns exec "$1" nft list table inet hzloss 2>/dev/null | awk '
		{ for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		END { print n + 0 }'
}

# netns_nodrop NAME: removes the drop rules.
netns_nodrop() {
	ip netns exec "$1" nft delete table inet hzloss 2>/dev/null
}

# netns_down NAME: removes the namespace and everything in it.
netns_down() {
	ip netns pids "$1" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$1" 2>/dev/null
}
