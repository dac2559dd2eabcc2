# What the two suites of Haze's TCP/IP against Linux share:
# tests/net/interop.sh (unix and kvm targets) and
# tests/net/interop_virtio.sh (virtio, under QEMU). Source this file
# after tests/tap.sh and tests/net/lib.sh.
#
#   interop_up             makes the namespace and tap, $MIB MiB of test
#                          data in $tmp/data; sets want and static
#   ping_1000 INTERVAL     1,000 pings of the guest, none lost
#   echo_bulk LABEL CONNS  the echo client: $MIB MiB echoed and
#                          discarded, UDP echo, CONNS connections
#   lossy_path_on          nftables drops 2 % of the packets both ways
#   lossy_path_off LABEL   removes the rules, checking they dropped some
#   curl_tls SECONDS       curl's verified handshake with tls-echo
#   download STACK LABEL SECONDS
#                          the unikernel fetches $tmp/data over STACK
#   stop PID               ends a unikernel and waits for it
#
# The callers set ns, tap, host, guest, tmp, MIB and O, and define
# unikernel NAME ARGS..., which starts example or test application NAME
# on their target in the namespace, bound to the tap, in the background:
# its output in $tmp/NAME.out, its pid in $pid.
# shellcheck shell=sh
# Its variables are for the suites that source it.
# shellcheck disable=SC2034,SC2154

# interop_up: the namespace $ns with tap $tap at $host/24 (ending the suite
# as failed if it cannot be made), the data to download and want, its
# length and CRC-32 as fetch prints them; static, the guest's direct stack
# at $guest.
interop_up() {
	netns_up $ns $tap $host/24 || {
		not_ok "make namespace and tap"
		done_testing
		exit
	}
	head -c $((MIB << 20)) /dev/urandom >"$tmp/data"
	want="$(($(stat -c %s "$tmp/data"))) $(/usr/bin/python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$tmp/data")"
	static="direct:service,ip=$guest/24,gw=$host"
}

# ping_1000 INTERVAL: 1,000 pings of the guest, INTERVAL seconds apart;
# the output in $tmp/ping.
ping_1000() {
	if netns_exec $ns ping -q -c 1000 -i "$1" -W 2 $guest >"$tmp/ping" 2>&1 &&
		grep -q " 1000 received" "$tmp/ping"; then
		ok "ping: 1000 echoes, none lost ($(grep -o 'rtt.*' "$tmp/ping"))"
	else
		not_ok "ping: 1000 echoes, none lost"
		diag "$(tail -n 3 "$tmp/ping")"
	fi
}

# echo_bulk LABEL CONNS: tests/examples/echoclient.py against the echo
# server; it reports 4 results, each prefixed here by LABEL, and exits
# non-zero on a failure.
echo_bulk() {
	client_tap "$1" 4 netns_exec $ns /usr/bin/python3 \
		tests/examples/echoclient.py $guest 7 9 \
		--bytes $((MIB << 20)) --conns "$2"
}

# lossy_path_on: nftables drops 2 % of the packets on the path both ways.
lossy_path_on() {
	netns_drop $ns $tap 2 || not_ok "nftables drop rules installed"
}

# lossy_path_off LABEL: removes the rules, checking they really dropped.
lossy_path_off() {
	dropped=$(netns_dropped $ns)
	if [ "$dropped" -gt 0 ]; then
		ok "$1: nftables dropped $dropped packets on the path"
	else
		not_ok "$1: nftables dropped packets on the path"
	fi
	netns_nodrop $ns
}

# curl_tls SECONDS: curl, verifying against the test CA, sends a request
# to tls-echo at $guest:4433 and gets it back within SECONDS.
curl_tls() {
	ip netns exec $ns curl -sS --max-time "$1" \
		--cacert "$O/gen/tls/certs/ca.pem" \
		--resolve localhost:4433:$guest "https://localhost:4433/haze-$$" \
		>"$tmp/curl.out" 2>"$tmp/curl.err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "^GET /haze-$$ HTTP/1.1" "$tmp/curl.out"; then
		ok "curl --cacert: verified TLS handshake with the unikernel, request echoed"
	else
		not_ok "curl --cacert against the unikernel (exit $rc)"
		diag "$(tail -n 5 "$tmp/curl.err")"
	fi
}

# serve_file PORT FILE SECONDS: a Linux server in the namespace that sends
# FILE to the first client to connect within SECONDS, and closes; its pid
# in $server. Returns once it listens (up to 10 s: Python starts slowly on
# an emulated CPU).
serve_file() {
	ip netns exec $ns /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4); s.settimeout(int(sys.argv[3]))
data = open(sys.argv[2], "rb").read()
c, _ = s.accept(); c.sendall(data); c.close()
' "$1" "$2" "$3" &
	server=$!
	for _ in $(seq 100); do
		ip netns exec $ns ss -Hltn "sport = :$1" | grep -q . && return
		sleep 0.1
	done
}

# download STACK LABEL SECONDS: the unikernel (tests/apps/fetch, on STACK)
# fetches $tmp/data from a Linux server that waits SECONDS for it; length
# and CRC-32 compared with want.
download() {
	serve_file 5001 "$tmp/data" "$3"
	unikernel fetch --stack "$1" $host 5001
	wait $pid
	rc=$?
	wait $server 2>/dev/null
	got=$(sed -n 's/^fetch: \([0-9]*\) bytes crc32 \([0-9a-f]*\).*/\1 \2/p' "$tmp/fetch.out")
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
		ok "$2: the unikernel downloads $MIB MiB intact ($(sed -n 's/.* in \([0-9]*\) ms/\1 ms/p' "$tmp/fetch.out"))"
	else
		not_ok "$2: the unikernel downloads $MIB MiB intact (exit $rc, got '$got', want '$want')"
		diag "$(tail -n 5 "$tmp/fetch.out")"
	fi
}

# stop PID: ends a unikernel (haze-qemu passes the signal on to QEMU) and
# waits for it.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
