#!/bin/sh
# examples/dns against hand-made bad messages (tests/dns/malformed.py):
# truncated packets, compression loops, a pointer past the end, labels
# over 63 bytes, names over 255, QDCOUNTs that lie (0, 2, 65535), other
# counts that lie, garbage after the question; over TCP, length prefixes
# that lie, a client stalled halfway while others are served, 200 clients
# at once, pipelining. After each the server answers a good query
# correctly; at the end it still runs and has leaked no connection.
set -u
. tests/dns/lib.sh

built "$DNS_BIN"
need /usr/bin/python3 python3
end_if_missing

IDLE=2
if dns_start "$tmp/dns.log" -- --stack socket --port "$dns_port" \
	--rrl 10000/10000 --tcp-idle $IDLE --stats 1; then
	ok "the unikernel starts: $(grep "UDP and TCP" "$tmp/dns.log")"
else
	not_ok "the unikernel starts"
	diag "$(cat "$tmp/dns.log")"
	done_testing
	exit 1
fi
client_tap "malformed" 54 /usr/bin/python3 tests/dns/malformed.py \
	"$dns_port" $IDLE
check "the unikernel still runs" kill -0 "$dns_pid"
# Every connection has ended once the idle time has passed: none leaked.
sleep $((IDLE + 2))
last=$(grep "dns: stats:" "$tmp/dns.log" | tail -n 1)
check "no TCP connection left open: ${last%%;*}" \
	sh -c "echo '$last' | grep -q 'tcp_open 0 '"
check "the server counted what it refused: $(echo "$last" |
	grep -o 'dns_server.formerr=[0-9]*')" \
	sh -c "echo '$last' | grep -q 'dns_server.formerr=[1-9]'"
done_testing
