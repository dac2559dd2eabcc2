#!/bin/sh
# examples/dns against NSD: both serve examples/dns/haze.test.zone on
# 127.0.0.1 (the unikernel on the unix target's socket stack, NSD from a
# config of its own in a temp dir), and dig asks both the same questions;
# tests/dns/compare.py compares the answers section by section (RCODE,
# AA, TC, answer, authority, additional, OPT) and says where they differ
# as the RFCs allow. Then the rate limiter: a burst from one /24 over
# UDP gets answers, then TC=1 slips, then silence, while TCP is served.
set -u
. tests/dns/lib.sh

built "$DNS_BIN"
need dig bind9-dnsutils
need nsd nsd
need /usr/bin/python3 python3
end_if_missing

# The limit is on, high enough for the comparison's queries from 127.0.0.1.
if dns_start "$tmp/dns.log" -- --stack socket --port "$dns_port" \
	--rrl 1000/1000; then
	ok "the unikernel starts: $(grep "UDP and TCP" "$tmp/dns.log")"
else
	not_ok "the unikernel starts"
	diag "$(cat "$tmp/dns.log")"
	done_testing
	exit 1
fi
if nsd_start examples/dns/haze.test.zone; then
	ok "NSD starts: $(nsd -v 2>&1 | head -n 1)"
else
	not_ok "NSD starts"
	diag "$(cat "$tmp/nsd/out" "$tmp/nsd/nsd.log" 2>/dev/null)"
	done_testing
	exit 1
fi

client_tap "vs NSD" 32 /usr/bin/python3 tests/dns/compare.py dig \
	"$dns_port" "$nsd_port"
check "the unikernel still runs after the comparison" kill -0 "$dns_pid"
dns_stop

# The rate limiter at its defaults: 20 responses a second per /24, bursts
# of 40, every 2nd limited query slipped (TC=1, the bare question).
dns_start "$tmp/rrl.log" -- --stack socket --port "$dns_port" --stats 1 || {
	not_ok "the unikernel starts with the default rate limit"
	done_testing
	exit 1
}
/usr/bin/python3 - "$dns_port" >"$tmp/rrl.out" 2>&1 <<'PYEOF'
import socket, struct, sys, time
port = int(sys.argv[1])
q = lambda i: struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + \
    b"\x04host\x04haze\x04test\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(200):
    s.sendto(q(i), ("127.0.0.1", port))
full = slip = 0
while True:
    try:
        r = s.recv(2048)
    except socket.timeout:
        break
    flags, an = struct.unpack(">H", r[2:4])[0], struct.unpack(">H", r[6:8])[0]
    if flags & 0x200 and an == 0:
        slip += 1
    elif an == 1:
        full += 1
print(full, slip)
PYEOF
read -r full slip <"$tmp/rrl.out"
case "$full $slip" in
*[!0-9\ ]* | " " | "") full=-1 slip=-1 ;;
esac
check "200 queries at once from 127.0.0.1: about the burst (40) answered ($full)" \
	[ "$full" -ge 35 ] && [ "$full" -le 50 ]
check "about half the rest slipped as TC=1 ($slip of 160)" \
	[ "$slip" -ge 60 ] && [ "$slip" -le 100 ]
tcp=$(dig @127.0.0.1 -p "$dns_port" +norec +tcp +short host.haze.test A)
check "TCP meanwhile is not limited: $tcp" [ "$tcp" = 192.0.2.80 ]
sleep 2
udp=$(dig @127.0.0.1 -p "$dns_port" +norec +ignore +short host.haze.test A)
check "the bucket refills: UDP answered again after 2 s: $udp" \
	[ "$udp" = 192.0.2.80 ]
check "the counters say so: $(grep -o 'dns_server.rrl_[a-z]*=[0-9]*' \
	"$tmp/rrl.log" | tail -n 2 | tr '\n' ' ')" \
	grep -q "dns_server.rrl_drop=" "$tmp/rrl.log"
done_testing
