#!/bin/sh
# Interop with Linux on the virtio target: the images of examples/echo,
# examples/tls-echo and tests/apps/fetch under QEMU (platform/virtio/
# haze-qemu, KVM where /dev/kvm is usable, TCG otherwise), their
# virtio-net device on a tap inside a network namespace this test makes,
# Linux's tools on the other side, as tests/net/interop.sh does for the
# unix and kvm targets:
#
# ping (1,000 echoes, none lost, answered within 10 ms on average, which
# the guest's halt until its next timer tick, up to 55 ms, would not be:
# a frame's interrupt wakes it); bulk echo intact, 1,000 concurrent
# connections; bulk echo again with nftables dropping 2 % of the packets
# both ways; a download by the unikernel intact, clean and with 2 % loss;
# curl completing a verified TLS handshake with tls-echo. Under TCG
# (software emulation) the transfers are 32 MiB instead of 100 and the
# output says so; INTEROP_MIB sets them.
#
# Its own namespace, tap and subnet (10.78.41.0/24), so it runs beside the
# other interop suites.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
HAZE_QEMU=platform/virtio/haze-qemu
ns=hzvi$$
tap=hzvt$$
host=10.78.41.1
guest=10.78.41.2
tmp=$(mktemp -d)
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	accel=kvm
	MIB=${INTEROP_MIB:-100}
else
	accel=tcg
	MIB=${INTEROP_MIB:-32}
fi

# image NAME: the virtio image of example or test application NAME.
image() {
	case $1 in
	fetch) echo "$O/virtio/tests/apps/$1/$1.virtio" ;;
	*) echo "$O/virtio/examples/$1/$1.virtio" ;;
	esac
}

# unikernel NAME ARGS...: runs image NAME under QEMU inside the namespace,
# its NIC on the tap, in the background; output in $tmp/NAME.out, the
# pid of haze-qemu in $pid.
unikernel() {
	name=$1
	shift
	ip netns exec $ns "$HAZE_QEMU" --mem 256 --net service=tap:$tap \
		"$(image "$name")" "$@" >"$tmp/$name.out" 2>&1 &
	pid=$!
}

# stop PID: ends haze-qemu (which passes the signal to QEMU) and waits.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# lossy_path_off LABEL: removes the drop rules, checking they dropped.
lossy_path_off() {
	dropped=$(netns_dropped $ns)
	if [ "$dropped" -gt 0 ]; then
		ok "$1: nftables dropped $dropped packets on the path"
	else
		not_ok "$1: nftables dropped packets on the path"
	fi
	netns_nodrop $ns
}

# download LABEL: the unikernel fetches $MIB MiB from a Linux server in
# the namespace; length and CRC-32 compared.
download() {
	ip netns exec $ns /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4); s.settimeout(60)
data = open(sys.argv[2], "rb").read()
c, _ = s.accept(); c.sendall(data); c.close()
' 5001 "$tmp/data" &
	server=$!
	sleep 0.3
	unikernel fetch --stack "$static" $host 5001
	wait $pid
	rc=$?
	wait $server 2>/dev/null
	got=$(sed -n 's/^fetch: \([0-9]*\) bytes crc32 \([0-9a-f]*\).*/\1 \2/p' "$tmp/fetch.out")
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
		ok "$1: the unikernel downloads $MIB MiB intact ($(sed -n 's/.* in \([0-9]*\) ms/\1 ms/p' "$tmp/fetch.out"))"
	else
		not_ok "$1: the unikernel downloads $MIB MiB intact (exit $rc, got '$got', want '$want')"
		diag "$(tail -n 5 "$tmp/fetch.out")"
	fi
}

need ip iproute2
need nft nftables
need ping iputils-ping
need curl curl
need qemu-system-x86_64 qemu-system-x86
need /usr/bin/python3 python3
end_if_missing
if why=$(netns_unusable); then
	skip "interop with Linux over a tap on the virtio target" "$why"
	done_testing
	exit
fi
for name in echo tls-echo fetch; do
	built "$(image $name)"
done
built "$O/gen/tls/certs/ca.pem"
end_if_missing
netns_up $ns $tap $host/24 || { not_ok "make namespace and tap"; done_testing; exit; }
head -c $((MIB << 20)) /dev/urandom >"$tmp/data"
want="$(($(stat -c %s "$tmp/data"))) $(/usr/bin/python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$tmp/data")"
static="direct:service,ip=$guest/24,gw=$host"
if [ $accel = tcg ]; then
	diag "QEMU with TCG (no usable /dev/kvm): transfers of $MIB MiB, not the 100 MiB of interop_kvm"
else
	diag "QEMU with KVM: transfers of $MIB MiB"
fi

# --- the echo server ---------------------------------------------------------
unikernel echo --stack "$static" --quiet
echo_pid=$pid
if ! wait_for "$tmp/echo.out" serving 30; then
	not_ok "the echo unikernel starts under QEMU ($accel)"
	diag "$(cat "$tmp/echo.out")"
else
	ok "the echo unikernel starts under QEMU ($accel), its virtio-net on the tap"
	if netns_exec $ns ping -q -c 1000 -i 0.005 -W 2 $guest >"$tmp/ping" 2>&1 &&
		grep -q " 1000 received" "$tmp/ping"; then
		ok "ping: 1000 echoes, none lost ($(grep -o 'rtt.*' "$tmp/ping"))"
	else
		not_ok "ping: 1000 echoes, none lost"
		diag "$(tail -n 3 "$tmp/ping")"
	fi
	avg=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$tmp/ping")
	if [ -n "$avg" ] && [ "${avg%%.*}" -lt 10 ]; then
		ok "ping answered in $avg ms on average: the frame's interrupt wakes the halted guest"
	else
		not_ok "ping answered within 10 ms on average (got '${avg:-none}' ms): the frame's interrupt wakes the halted guest"
	fi
	client_tap "clean path ($MIB MiB, $accel)" 4 netns_exec $ns \
		/usr/bin/python3 tests/examples/echoclient.py $guest 7 9 \
		--bytes $((MIB << 20)) --conns 1000

	netns_drop $ns $tap 2 || not_ok "nftables drop rules installed"
	client_tap "2% loss ($MIB MiB, $accel)" 4 netns_exec $ns \
		/usr/bin/python3 tests/examples/echoclient.py $guest 7 9 \
		--bytes $((MIB << 20)) --conns 10
	lossy_path_off "2% loss (echo)"
fi
stop $echo_pid

# --- TLS: curl against tls-echo ---------------------------------------------
certs=$O/gen/tls/certs
unikernel tls-echo --stack "$static" --quiet
tls_pid=$pid
if ! wait_for "$tmp/tls-echo.out" "serving TLS echo" 30; then
	not_ok "the tls-echo unikernel starts under QEMU"
	diag "$(cat "$tmp/tls-echo.out")"
else
	ip netns exec $ns curl -sS --max-time 60 --cacert "$certs/ca.pem" \
		--resolve localhost:4433:$guest "https://localhost:4433/haze-$$" \
		>"$tmp/curl.out" 2>"$tmp/curl.err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "^GET /haze-$$ HTTP/1.1" "$tmp/curl.out"; then
		ok "curl --cacert: verified TLS handshake with the unikernel, request echoed"
	else
		not_ok "curl --cacert against the unikernel (exit $rc)"
		diag "$(tail -n 5 "$tmp/curl.err")"
	fi
fi
stop $tls_pid

# --- downloads -----------------------------------------------------------------
download "clean path ($accel)"
netns_drop $ns $tap 2 || not_ok "nftables drop rules installed"
download "2% loss ($accel)"
lossy_path_off "2% loss (download)"
done_testing
