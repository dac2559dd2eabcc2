#!/bin/sh
# Where examples/dns takes its zone: compiled into the image, or the
# master-file text on a block device (--zone DEVICE), ending at the first
# NUL or the device's end. A zone that does not load is one line naming
# the zone and the line at fault, and exit status 1 before anything is
# served (the port must not answer).
set -u
. tests/dns/lib.sh

built "$DNS_BIN"
need dig bind9-dnsutils
end_if_missing

# q NAME TYPE: the short answer of the server on $dns_port (dig's
# complaints, which it prints on stdout too, left out).
q() {
	dig @127.0.0.1 -p "$dns_port" +norec +time=1 +tries=1 +short "$1" "$2" |
		grep -v '^;'
}

# pad FILE: pads FILE with NULs to whole 512-byte sectors (the unix
# target's block devices are whole sectors).
pad() {
	truncate -s %512 "$1"
}

# serves WHAT BLOCK-ARGS -- APP-ARGS: the server starts and answers.
serves() {
	what=$1
	shift
	if dns_start "$tmp/dns.log" "$@" --stack socket --port "$dns_port" &&
		[ -n "$(q host.example.net A)$(q host.haze.test A)" ]; then
		ok "$what: $(grep "UDP and TCP" "$tmp/dns.log")"
	else
		not_ok "$what"
		diag "$(cat "$tmp/dns.log")"
	fi
}

serves "the compiled zone" --
check "it answers from it" [ "$(q www.haze.test A | tail -n 1)" = 192.0.2.80 ]
dns_stop

cat >"$tmp/good.zone" <<'ZEOF'
$ORIGIN example.net.
$TTL 60
@	SOA	ns hostmaster 1 3600 600 86400 60
	NS	ns
ns	A	203.0.113.1
host	A	203.0.113.80
ZEOF
pad "$tmp/good.zone"
serves "a zone from a block device" --block "zone=$tmp/good.zone" -- \
	--zone zone
check "it answers from it" [ "$(q host.example.net A)" = 203.0.113.80 ]
check "and no longer from the compiled one" \
	sh -c "dig @127.0.0.1 -p $dns_port +norec host.haze.test A |
		grep -q 'status: REFUSED'"
dns_stop

# Text ends at the first NUL: what follows it is never read.
{
	cat "$tmp/good.zone" | tr -d '\000'
	printf '\000this is not a record\n'
} >"$tmp/nul.zone"
pad "$tmp/nul.zone"
serves "text ending at a NUL, junk after it" --block "zone=$tmp/nul.zone" \
	-- --zone zone
dns_stop

# refused WHAT NEEDLE UNIX-ARGS -- APP-ARGS: exit 1, one line with
# NEEDLE, and the port never answered.
refused() {
	what=$1
	needle=$2
	shift 2
	timeout 20 "$DNS_BIN" "$@" --stack socket --port "$dns_port" \
		>"$tmp/out" 2>&1 &
	pid=$!
	answered=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ -n "$(q host.haze.test A 2>/dev/null)" ]; then
			answered=1
			kill "$pid"
		fi
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$answered" -eq 0 ] &&
		[ "$(grep -c "^dns:" "$tmp/out")" -eq 1 ] &&
		grep -q -- "$needle" "$tmp/out"; then
		ok "$what: refused, exit 1: $(grep -- "$needle" "$tmp/out")"
	else
		not_ok "$what: expected exit 1 and one line with '$needle'" \
			"(exit $rc, answered $answered)"
		diag "$(cat "$tmp/out")"
	fi
}

bad() {
	printf '%s' "$2" >"$tmp/$1.zone"
	pad "$tmp/$1.zone"
}
bad badip '$ORIGIN example.net.
$TTL 60
@	SOA	ns hostmaster 1 3600 600 86400 60
ns	A	10.0.0
'
refused "a bad address" "--zone zone: zone line 4: bad IPv4 address" \
	--block "zone=$tmp/badip.zone" -- --zone zone
bad nosoa '$ORIGIN example.net.
$TTL 60
ns	A	10.0.0.1
'
refused "a zone without an SOA" "--zone zone: .*SOA" \
	--block "zone=$tmp/nosoa.zone" -- --zone zone
bad cname '$ORIGIN example.net.
$TTL 60
@	SOA	ns hostmaster 1 3600 600 86400 60
x	CNAME	ns
x	A	10.0.0.1
'
refused "a CNAME beside other data" "--zone zone: zone line [45]" \
	--block "zone=$tmp/cname.zone" -- --zone zone
# Not padded, the last line cut by the sector boundary: refused, not
# served in part.
head -c 700 examples/dns/haze.test.zone >"$tmp/cut.zone"
refused "text cut in mid-line at the device's end" "in mid-line" \
	--block "zone=$tmp/cut.zone" -- --zone zone
refused "--zone naming no bound device" "--zone zone: no such block device" \
	-- --zone zone
refused "--port 0" "--port 0: not a valid value" -- --port 0
refused "--rrl junk" "--rrl 5/x: not a valid value" -- --rrl 5/x
done_testing
