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
. tests/net/interop_lib.sh

O=${O:-build}
HAZE_QEMU=platform/virtio/haze-qemu
ns=hzvi$$
tap=hzvt$$
host=10.78.41.1
guest=10.78.41.2
tmp=$(mktemp -d)
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

# haze-qemu's own choice: /dev/kvm without VMX or SVM (PVM) means TCG.
if [ "$("$HAZE_QEMU" --which-accel)" = kvm ]; then
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
interop_up
if [ $accel = tcg ]; then
	diag "QEMU with TCG ($("$HAZE_QEMU" --which-accel)): transfers of $MIB MiB, not the 100 MiB of interop_kvm"
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
	ping_1000 0.005
	avg=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$tmp/ping")
	if [ -n "$avg" ] && [ "${avg%%.*}" -lt 10 ]; then
		ok "ping answered in $avg ms on average: the frame's interrupt wakes the halted guest"
	else
		not_ok "ping answered within 10 ms on average (got '${avg:-none}' ms): the frame's interrupt wakes the halted guest"
	fi
	echo_bulk "clean path ($MIB MiB, $accel)" 1000

	lossy_path_on
	echo_bulk "2% loss ($MIB MiB, $accel)" 10
	lossy_path_off "2% loss (echo)"
fi
stop $echo_pid

# --- TLS: curl against tls-echo ---------------------------------------------
unikernel tls-echo --stack "$static" --quiet
tls_pid=$pid
if ! wait_for "$tmp/tls-echo.out" "serving TLS echo" 30; then
	not_ok "the tls-echo unikernel starts under QEMU"
	diag "$(cat "$tmp/tls-echo.out")"
else
	curl_tls 60
fi
stop $tls_pid

# --- downloads -----------------------------------------------------------------
download "$static" "clean path ($accel)" 60
lossy_path_on
download "$static" "2% loss ($accel)" 60
lossy_path_off "2% loss (download)"
done_testing
