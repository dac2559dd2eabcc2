#!/bin/sh
# bench/tcp: Haze's TCP against Linux's, in the same run.
#
#   bench/tcp/run.sh [unix|kvm]     (root: namespaces, veth, tap)
#   KVM_FLAGS=--no-net-rings bench/tcp/run.sh kvm   (haze-kvm's flags)
#
# The same echo application (examples/echo: discard, chargen, echo) serves
# both sides: once on Haze's direct stack behind a tap, once on the host
# kernel's stack (its socket stack) behind a veth pair. A Linux client in
# a namespace (bench/client/client.c, built here by `make bench-client`)
# measures bulk MB/s into discard and out of chargen, and connections per
# second to echo. Each figure is the median of RUNS runs, the sides' runs
# alternating so that load from elsewhere falls on all alike; ratios are
# Haze / Linux. iperf3 over the veth pair (installed from Debian if
# missing) gives the kernel's own ceiling for reference.
#
# The client is C because the Python one it replaced took 56-86 % of a
# core pulling from Haze's chargen (most of it in the kernel: a fresh
# 1 MiB buffer mapped and faulted in per read), which bounded that figure;
# the C client takes 28-33 % there (docs/perf.md, "The load generator").
#
# A third column is lwIP, the C TCP/IP stack one would embed instead:
# bench/tcp/lwip/lwip-echo serves the same echo, discard and chargen on
# Debian's liblwip behind a tap like Haze's, measured by the same client
# in the same run (built here by `make bench-lwip`; docs/tcp.md). Its
# ratio is Haze / lwIP.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
TARGET=${1:-unix}
RUNS=${RUNS:-5}
MIB=${MIB:-512}
SECS=${SECS:-3}
tmp=$(mktemp -d)
nsl=hzbl$$ nsr=hzbr$$ nsh=hzbh$$ tap=hzbt$$ nsp=hzbp$$ ltap=hzbq$$
cleanup() {
	netns_down $nsl
	netns_down $nsr
	netns_down $nsh
	netns_down $nsp
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! netns_usable; then
	echo "bench/tcp: needs root, /dev/net/tun and network namespaces" >&2
	exit 1
fi
make --no-print-directory O="$O" bench-lwip bench-client \
	>"$tmp/build" 2>&1 || {
	echo "bench/tcp: cannot build the lwIP server or the client:" >&2
	cat "$tmp/build" >&2
	exit 1
}
client=$O/bench/bench/client/client

# The sides: the client's namespace, the server's address, the name.
sides="$nsl,10.88.0.2,linux $nsh,10.77.0.2,haze $nsp,10.89.0.2,lwip"

# measure: medians of send, recv and rate for each side. The runs of the
# sides alternate (run 1 of each, then run 2 ...), so load from elsewhere
# on the machine falls on all three alike. The client's namespaces reuse
# TIME_WAIT ports, or after a few thousand connections finding a free
# port would cost the client milliseconds.
measure() {
	for side in $sides; do
		ip netns exec "${side%%,*}" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
			net.ipv4.ip_local_port_range="1024 65000"
	done
	for test in rate send recv; do
		case $test in
		send) port=9 amount=$MIB ;;
		recv) port=19 amount=$MIB ;;
		rate) port=7 amount=$SECS ;;
		esac
		for _ in $(seq "$RUNS"); do
			for side in $sides; do
				ns=${side%%,*} rest=${side#*,}
				ip netns exec "$ns" "$client" $test "${rest%,*}" \
					"$port" "$amount" >>"$tmp/${rest#*,}.$test.runs" || {
					echo "bench/tcp: a ${rest#*,} $test run failed" >&2
					exit 1
				}
			done
		done
		for side in $sides; do
			name=${side##*,}
			median <"$tmp/$name.$test.runs" >"$tmp/$name.$test"
		done
	done
}

# serving FILE: waits until the echo app logging to FILE serves.
serving() {
	wait_for "$1" serving 10 && return 0
	echo "bench/tcp: the echo app did not start: $(cat "$1")" >&2
	exit 1
}

# --- Linux: the echo app on the kernel's stack, across a veth pair -----------
ip netns add $nsl && ip netns add $nsr &&
	ip link add hzbv$$ netns $nsl type veth peer name hzbw$$ netns $nsr &&
	ip -n $nsl addr add 10.88.0.1/24 dev hzbv$$ && ip -n $nsl link set hzbv$$ up &&
	ip -n $nsr addr add 10.88.0.2/24 dev hzbw$$ && ip -n $nsr link set hzbw$$ up &&
	ip -n $nsl link set lo up && ip -n $nsr link set lo up || exit 1
ip netns exec $nsr "$O/unix/examples/echo/echo" --mem 256 -- --stack socket \
	--quiet >"$tmp/linux.out" 2>&1 &
serving "$tmp/linux.out"

# --- Haze: the echo app on the direct stack, behind a tap ---------------------
netns_up $nsh $tap 10.77.0.1/24 || exit 1
spec="--stack direct:service,ip=10.77.0.2/24 --quiet"
case $TARGET in
unix)
	# shellcheck disable=SC2086
	ip netns exec $nsh "$O/unix/examples/echo/echo" --mem 512 \
		--net service=tap:$tap -- $spec >"$tmp/haze.out" 2>&1 &
	;;
kvm)
	# KVM_FLAGS: more haze-kvm flags (--no-net-rings: ABI 7's calls).
	# shellcheck disable=SC2086
	ip netns exec $nsh "$O/host/tender/haze-kvm" --mem 512 ${KVM_FLAGS:-} \
		--net service=tap:$tap "$O/kvm/examples/echo/echo.hz" $spec \
		>"$tmp/haze.out" 2>&1 &
	;;
esac
serving "$tmp/haze.out"

# --- lwIP: the same servers on Debian's lwIP, behind a tap ---------------------
netns_up $nsp $ltap 10.89.0.1/24 || exit 1
ip netns exec $nsp "$O/bench/bench/tcp/lwip/lwip-echo" --tap $ltap \
	--ip 10.89.0.2/24 >"$tmp/lwip.out" 2>&1 &
serving "$tmp/lwip.out"

measure
iperf=n/a
command -v iperf3 >/dev/null 2>&1 ||
	debian_install "$tmp/apt.log" iperf3 ||
	echo "bench/tcp: cannot install iperf3: $(tail -n 3 "$tmp/apt.log")" >&2
if command -v iperf3 >/dev/null 2>&1; then
	ip netns exec $nsr iperf3 -s -1 -D >/dev/null 2>&1
	sleep 0.3
	iperf=$(ip netns exec $nsl iperf3 -c 10.88.0.2 -t 3 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))' 2>/dev/null || echo n/a)
fi

# ratio A B FIGURE: A's FIGURE over B's.
ratio() {
	awk -v a="$(cat "$tmp/$1.$3")" -v b="$(cat "$tmp/$2.$3")" \
		'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
# line LABEL FIGURE: one line of the table.
line() {
	printf '%-31s %9s %9s %6s %9s %6s\n' "$1" "$(cat "$tmp/haze.$2")" \
		"$(cat "$tmp/linux.$2")" "$(ratio haze linux "$2")" \
		"$(cat "$tmp/lwip.$2")" "$(ratio haze lwip "$2")"
}
echo "bench/tcp ($TARGET target, median of $RUNS, $MIB MiB bulk, $SECS s rate)"
printf '%-31s %9s %9s %6s %9s %6s\n' "" "Haze" "Linux" "H/L" "lwIP" "H/lwIP"
line "Linux client -> discard (MB/s)" send
line "chargen -> Linux client (MB/s)" recv
line "connections per second" rate
echo "iperf3 Linux -> Linux over the veth pair: $iperf MB/s"
