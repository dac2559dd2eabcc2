#!/bin/sh
# Haze's TCP/IP against Linux, in a network namespace this test makes:
# the unikernel opens a tap inside the namespace and Linux tools talk to it
# there, so no packet leaves the namespace.
#
#   tests/net/interop.sh [unix|kvm]
#
# ping (1,000 echoes, none lost); 100 MiB through the echo server intact;
# 100 MiB downloaded by the unikernel intact; both again with nftables
# dropping 2 % of packets; an address from dnsmasq's DHCP server; 1,000
# concurrent connections to the echo server; curl and openssl s_client
# complete verified TLS handshakes with the tls-echo unikernel, and echo
# 256 KiB through it in each of its five suites.
set -u
. tests/tap.sh
. tests/net/lib.sh
. tests/tls/suites.sh
. tests/net/interop_lib.sh

O=${O:-build}
TARGET=${1:-unix}
MIB=${INTEROP_MIB:-100}
ns=hzi$$
tap=hzt$$
host=10.77.0.1
guest=10.77.0.2
tmp=$(mktemp -d)
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

# app_path NAME: the program (unix) or image (kvm) of NAME, an example
# (echo, tls-echo) or a test application (fetch).
app_path() {
	case $TARGET:$1 in
	unix:fetch) echo "$O/unix/tests/apps/$1/$1" ;;
	unix:*) echo "$O/unix/examples/$1/$1" ;;
	kvm:fetch) echo "$O/kvm/tests/apps/$1/$1.hz" ;;
	kvm:*) echo "$O/kvm/examples/$1/$1.hz" ;;
	esac
}

# unikernel NAME ARGS...: runs example or test app NAME on the target,
# bound to the tap, in the background; its output goes to $tmp/NAME.out
# and its pid (ip netns exec becomes the program) to $pid.
unikernel() {
	name=$1
	shift
	case $TARGET in
	unix)
		ip netns exec $ns "$(app_path "$name")" --mem 1024 \
			--net service=tap:$tap -- "$@" >"$tmp/$name.out" 2>&1 &
		;;
	kvm)
		ip netns exec $ns "$O/host/tender/haze-kvm" --mem 1024 \
			--net service=tap:$tap "$(app_path "$name")" "$@" \
			>"$tmp/$name.out" 2>&1 &
		;;
	esac
	pid=$!
}

# What `make test` installs is required; only what the machine cannot
# have (root, /dev/net/tun, namespaces, /dev/kvm) may skip.
need ip iproute2
need nft nftables
need ping iputils-ping
need dnsmasq dnsmasq-base
need curl curl
need openssl openssl
need /usr/bin/python3 python3
end_if_missing
if why=$(netns_unusable); then
	skip "interop with Linux over a tap" "$why"
	done_testing
	exit
fi
if [ "$TARGET" = kvm ] && ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
	skip "interop with Linux under haze-kvm" "/dev/kvm is not usable"
	done_testing
	exit
fi
[ "$TARGET" = kvm ] && built "$O/host/tender/haze-kvm"
for name in echo tls-echo fetch; do
	built "$(app_path $name)"
done
built "$O/gen/tls/certs/ca.pem"
end_if_missing
interop_up

# --- the echo server, clean path -------------------------------------------
unikernel echo --stack "$static" --quiet
echo_pid=$pid
if ! wait_for "$tmp/echo.out" serving 10; then
	not_ok "the echo unikernel starts"
	diag "$(cat "$tmp/echo.out")"
else
	ping_1000 0.002
	echo_bulk "clean path" 1000

	# --- 2 % loss both ways ------------------------------------------------
	lossy_path_on
	echo_bulk "2% loss" 10
	lossy_path_off "2% loss (echo)"
fi
stop $echo_pid

# --- TLS on the direct stack: curl and openssl s_client as clients ---------------
certs=$O/gen/tls/certs
unikernel tls-echo --stack "$static" --quiet
tls_pid=$pid
if ! wait_for "$tmp/tls-echo.out" "serving TLS echo" 10; then
	not_ok "the tls-echo unikernel starts"
	diag "$(cat "$tmp/tls-echo.out")"
else
	curl_tls 20
	(
		echo "hello over TLS $$"
		sleep 1
	) | ip netns exec $ns timeout 20 openssl s_client -nocommands \
		-connect $guest:4433 -servername localhost -CAfile "$certs/ca.pem" \
		-verify_return_error >"$tmp/sc.out" 2>&1
	if grep -q "Verify return code: 0 (ok)" "$tmp/sc.out" &&
		grep -qx "hello over TLS $$" "$tmp/sc.out"; then
		ok "openssl s_client: verified TLS 1.2 handshake with the unikernel, line echoed"
	else
		not_ok "openssl s_client against the unikernel"
		diag "$(tail -n 8 "$tmp/sc.out")"
	fi
	# Every suite, 256 KiB echoed: records opened and sealed in place
	# in TCP's buffers (AES-GCM's nonce and ChaCha20's none).
	seq -f "line %g of the suite check, long enough to fill records" \
		1 4500 >"$tmp/lines"
	for spec in $TLS_SUITES; do
		set -- "${spec%%:*}" "${spec#*:}"
		(
			cat "$tmp/lines"
			sleep 2
		) | ip netns exec $ns timeout 20 openssl s_client -quiet \
			-nocommands -connect $guest:4433 -servername "$2" \
			-CAfile "$certs/ca.pem" -verify_return_error -tls1_2 \
			-cipher "$1" >"$tmp/suite.out" 2>"$tmp/suite.err"
		if grep '^line' "$tmp/suite.out" | cmp -s - "$tmp/lines"; then
			ok "openssl s_client: $1 with SNI $2, 256 KiB echoed intact"
		else
			not_ok "openssl s_client: $1 with SNI $2, 256 KiB echoed"
			diag "$(grep -c '^line' "$tmp/suite.out") lines back; $(tail -n 3 "$tmp/suite.err")"
		fi
	done
	# A TCP reset under a TLS session reaches the unikernel's TLS flow
	# as a reset naming both layers.
	reset_msg="connection ended: TLS: TCP 10.77.0.1:[0-9]*: reset by peer"
	if ip netns exec $ns /usr/bin/python3 tests/tls/reset_client.py 4433 \
		"$certs/ca.pem" $guest >"$tmp/reset.out" 2>&1 &&
		wait_for "$tmp/tls-echo.out" "$reset_msg" 10; then
		ok "a TCP reset under TLS: $(grep -m1 "$reset_msg" "$tmp/tls-echo.out" | sed 's/.*connection ended: //')"
	else
		not_ok "a TCP reset under TLS is reported naming both layers"
		diag "$(cat "$tmp/reset.out"; tail -n 3 "$tmp/tls-echo.out")"
	fi
fi
stop $tls_pid

# --- downloads -----------------------------------------------------------------
download "$static" "clean path" 30
lossy_path_on
download "$static" "2% loss" 30
lossy_path_off "2% loss (download)"

# --- DHCP from dnsmasq -----------------------------------------------------------
ip netns exec $ns dnsmasq --no-daemon --interface=$tap --bind-interfaces \
	--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,5m \
	--dhcp-leasefile="$tmp/leases" --port=0 --log-dhcp >"$tmp/dnsmasq" 2>&1 &
dnsmasq=$!
sleep 0.3
download "direct:service" "DHCP" 30
lease=$(awk '{ print $3 }' "$tmp/leases" 2>/dev/null | head -n 1)
case $lease in
10.77.0.5[0-9] | 10.77.0.60) ok "the unikernel's address $lease came from dnsmasq" ;;
*) not_ok "the unikernel got an address from dnsmasq (lease '$lease')"; diag "$(tail -n 5 "$tmp/dnsmasq")" ;;
esac
kill $dnsmasq 2>/dev/null
done_testing
