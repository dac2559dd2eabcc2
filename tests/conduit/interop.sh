#!/bin/sh
# Conduit interop, TAP on stdout.
#
# On the socket stack, over loopback: conduitcheck (a Haze unikernel,
# tests/apps/conduitcheck) resolves www.haze.test through a dnsmasq on
# 127.0.0.1 at a high port and connects with tls: to `openssl s_server`
# serving a certificate for *.haze.test; a name dnsmasq says does not
# exist fails naming NXDOMAIN; a DNS server that never answers fails
# naming the tries.
#
# Then, where namespaces and taps are allowed (root), on Haze's direct
# stack over a tap in a namespace of its own: the address and the DNS
# server both come from dnsmasq's DHCP, and names are resolved through
# that server.
#
# The certificates are the build's ($O/gen/tls/certs, tests/tls/mkcerts.sh),
# the very ones compiled into conduitcheck.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
app=$O/unix/tests/apps/conduitcheck/conduitcheck
certs=$O/gen/tls/certs
tmp=$(mktemp -d)
pids=
ns=hzc$$
tap=hzc$$
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	netns_down $ns
	rm -rf "$tmp"
}
trap cleanup EXIT

# finish: ends the suite early, after a failure to set up.
finish() {
	done_testing
	exit 1
}

# What `make test` installs and builds is required (missing: a failure).
need dnsmasq dnsmasq-base
need openssl openssl
need ip iproute2
built "$app"
built "$certs/ec.pem"
end_if_missing
dnsmasq=$(command -v dnsmasq)

# Ports from the dynamic range, different per run, away from the TLS
# suite's.
base=$((20000 + $$ % 9000))
dns_port=$base
tls_port=$((base + 1))
mute_port=$((base + 2))

"$dnsmasq" --no-daemon --port="$dns_port" --listen-address=127.0.0.1 \
	--bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
	--pid-file= --user="$(id -un)" --log-queries \
	--address=/haze.test/127.0.0.1 --address=/nx.test/ \
	>"$tmp/dnsmasq.out" 2>&1 &
pids="$pids $!"
if ! wait_for "$tmp/dnsmasq.out" "started"; then
	not_ok "dnsmasq starts on 127.0.0.1:$dns_port"
	diag "$(cat "$tmp/dnsmasq.out")"
	finish
fi

openssl s_server -accept "127.0.0.1:$tls_port" -cert "$certs/ec.pem" \
	-key "$certs/ec.key" -tls1_2 -www >"$tmp/ss.out" 2>&1 &
pids="$pids $!"
if ! wait_for "$tmp/ss.out" "ACCEPT"; then
	not_ok "openssl s_server starts on 127.0.0.1:$tls_port"
	diag "$(cat "$tmp/ss.out")"
	finish
fi

# run_app OUT ARGS...: runs conduitcheck with ARGS, its output in OUT.
run_app() {
	out=$1
	shift
	timeout 30 "$app" --mem 64 -- "$@" >"$out" 2>&1
}

# --- a name resolved by dnsmasq, a verified TLS session ---------------------

ep="tls:www.haze.test:$tls_port"
run_app "$tmp/ok.out" --dns "127.0.0.1:$dns_port" "$ep"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "conduitcheck: connected $ep TLS_ECDHE" "$tmp/ok.out" &&
	grep -q "HTTP/1.0 200 ok" "$tmp/ok.out" &&
	grep -q "conduitcheck: done" "$tmp/ok.out"; then
	ok "conduit $ep: www.haze.test resolved by dnsmasq, verified TLS with openssl s_server, page read"
else
	not_ok "conduit $ep through dnsmasq to openssl s_server (exit $rc)"
	diag "$(tail -n 20 "$tmp/ok.out")"
fi
if grep -qi "query\[A\] www.haze.test from 127.0.0.1" "$tmp/dnsmasq.out"; then
	ok "dnsmasq saw the A query for www.haze.test"
else
	not_ok "dnsmasq saw the A query for www.haze.test"
	diag "$(tail -n 10 "$tmp/dnsmasq.out")"
fi

# --- NXDOMAIN, named ---------------------------------------------------------

ep="tls:host.nx.test:$tls_port"
want="conduit $ep: DNS host.nx.test: NXDOMAIN from 127.0.0.1"
run_app "$tmp/nx.out" --dns "127.0.0.1:$dns_port" "$ep"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF "conduitcheck: error: $want" "$tmp/nx.out"; then
	ok "NXDOMAIN refused: $want"
else
	not_ok "NXDOMAIN refused with '$want' (exit $rc)"
	diag "$(tail -n 10 "$tmp/nx.out")"
fi

# --- a server that never answers ---------------------------------------------

ep="tcp:www.haze.test:$tls_port"
want="conduit $ep: DNS www.haze.test: no answer from 127.0.0.1 after 2 tries"
run_app "$tmp/mute.out" --dns "127.0.0.1:$mute_port" --timeout-ms 100 \
	--tries 2 "$ep"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF "conduitcheck: error: $want" "$tmp/mute.out"; then
	ok "silence refused: $want"
else
	not_ok "silence refused with '$want' (exit $rc)"
	diag "$(tail -n 10 "$tmp/mute.out")"
fi

# --- the direct stack: address and DNS server from DHCP ---------------------

if why=$(netns_unusable); then
	skip "conduit on the direct stack with DNS servers from DHCP" "$why"
	done_testing
	exit $?
fi
host=10.78.0.1
if ! netns_up $ns $tap $host/24; then
	not_ok "namespace $ns with tap $tap"
	finish
fi
ip netns exec $ns "$dnsmasq" --no-daemon --interface=$tap --bind-interfaces \
	--no-resolv --no-hosts --conf-file=/dev/null --pid-file= \
	--user="$(id -un)" --log-queries \
	--dhcp-range=10.78.0.50,10.78.0.60,255.255.255.0,5m \
	--dhcp-leasefile="$tmp/leases" \
	--address=/haze.test/$host --address=/nx.test/ \
	>"$tmp/dnsmasq-ns.out" 2>&1 &
pids="$pids $!"
ip netns exec $ns openssl s_server -accept "$host:443" \
	-cert "$certs/ec.pem" -key "$certs/ec.key" -tls1_2 -www \
	>"$tmp/ss-ns.out" 2>&1 &
pids="$pids $!"
if ! wait_for "$tmp/dnsmasq-ns.out" "started" ||
	! wait_for "$tmp/ss-ns.out" "ACCEPT"; then
	not_ok "dnsmasq and openssl s_server start in namespace $ns"
	diag "$(cat "$tmp/dnsmasq-ns.out" "$tmp/ss-ns.out")"
	finish
fi

# run_direct OUT ENDPOINT: conduitcheck on the direct stack, by DHCP.
run_direct() {
	timeout 60 ip netns exec $ns "$app" --mem 256 \
		--net service=tap:$tap -- --dhcp service "$2" >"$1" 2>&1
}

ep="tls:www.haze.test:443"
run_direct "$tmp/direct.out" "$ep"
rc=$?
if [ "$rc" -eq 0 ] &&
	grep -q "conduitcheck: DHCP gave 10.78.0.[56][0-9], DNS server $host" "$tmp/direct.out" &&
	grep -q "conduitcheck: connected $ep TLS_ECDHE" "$tmp/direct.out" &&
	grep -q "HTTP/1.0 200 ok" "$tmp/direct.out"; then
	ok "direct stack: DNS server $host from the DHCP lease resolves www.haze.test; $ep verified, page read"
else
	not_ok "direct stack: $ep through the DHCP lease's DNS server (exit $rc)"
	diag "$(tail -n 20 "$tmp/direct.out")"
	diag "$(tail -n 10 "$tmp/dnsmasq-ns.out")"
fi

ep="tls:host.nx.test:443"
want="conduit $ep: DNS host.nx.test: NXDOMAIN from $host"
run_direct "$tmp/direct-nx.out" "$ep"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF "conduitcheck: error: $want" "$tmp/direct-nx.out"; then
	ok "direct stack: NXDOMAIN refused: $want"
else
	not_ok "direct stack: NXDOMAIN refused with '$want' (exit $rc)"
	diag "$(tail -n 10 "$tmp/direct-nx.out")"
fi

done_testing
