#!/bin/sh
# bench/tcp: Haze's TCP against Linux's, in the same run.
#
#   bench/tcp/run.sh [unix|kvm]     (root: namespaces, veth, tap)
#
# The same echo application (examples/echo: discard, chargen, echo) serves
# both sides: once on Haze's direct stack behind a tap, once on the host
# kernel's stack (its socket stack) behind a veth pair. A Linux client in
# a namespace measures bulk MB/s into discard and out of chargen, and
# connections per second to echo. Each figure is the median of RUNS runs;
# ratios are Haze / Linux. iperf3 over the veth pair gives the kernel's
# own ceiling for reference.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
TARGET=${1:-unix}
RUNS=${RUNS:-5}
MIB=${MIB:-512}
SECS=${SECS:-3}
tmp=$(mktemp -d)
nsl=hzbl$$ nsr=hzbr$$ nsh=hzbh$$ tap=hzbt$$
cleanup() {
	netns_down $nsl
	netns_down $nsr
	netns_down $nsh
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! netns_usable; then
	echo "bench/tcp: needs root, /dev/net/tun and network namespaces" >&2
	exit 1
fi

# measure NS HOST: medians of send, recv and rate against HOST from NS.
# The client's namespace reuses TIME_WAIT ports, or after a few thousand
# connections finding a free port would cost the client milliseconds.
measure() {
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65000"
	for test in rate send recv; do
		case $test in
		send) port=9 amount=$MIB ;;
		recv) port=19 amount=$MIB ;;
		rate) port=7 amount=$SECS ;;
		esac
		for _ in $(seq "$RUNS"); do
			ip netns exec "$1" /usr/bin/python3 bench/tcp/client.py $test "$2" $port $amount ||
				{ echo "bench/tcp: a $3 $test run failed" >&2; exit 1; }
		done >"$tmp/$3.$test.runs" || exit 1
		median <"$tmp/$3.$test.runs" >"$tmp/$3.$test"
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
measure $nsl 10.88.0.2 linux
iperf=n/a
if command -v iperf3 >/dev/null 2>&1; then
	ip netns exec $nsr iperf3 -s -1 -D >/dev/null 2>&1
	sleep 0.3
	iperf=$(ip netns exec $nsl iperf3 -c 10.88.0.2 -t 3 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))' 2>/dev/null || echo n/a)
fi

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
	# shellcheck disable=SC2086
	ip netns exec $nsh "$O/host/tender/haze-kvm" --mem 512 \
		--net service=tap:$tap "$O/kvm/examples/echo/echo.hz" $spec \
		>"$tmp/haze.out" 2>&1 &
	;;
esac
serving "$tmp/haze.out"
measure $nsh 10.77.0.2 haze

ratio() {
	awk -v h="$(cat "$tmp/haze.$1")" -v l="$(cat "$tmp/linux.$1")" \
		'BEGIN { if (l > 0) printf "%.2f", h / l; else print "n/a" }'
}
echo "bench/tcp ($TARGET target, median of $RUNS, $MIB MiB bulk, $SECS s rate)"
printf '%-34s %12s %12s %8s\n' "" "Haze" "Linux" "ratio"
printf '%-34s %12s %12s %8s\n' "Linux client -> discard (MB/s)" \
	"$(cat "$tmp/haze.send")" "$(cat "$tmp/linux.send")" "$(ratio send)"
printf '%-34s %12s %12s %8s\n' "chargen -> Linux client (MB/s)" \
	"$(cat "$tmp/haze.recv")" "$(cat "$tmp/linux.recv")" "$(ratio recv)"
printf '%-34s %12s %12s %8s\n' "connections per second" \
	"$(cat "$tmp/haze.rate")" "$(cat "$tmp/linux.rate")" "$(ratio rate)"
echo "iperf3 Linux -> Linux over the veth pair: $iperf MB/s"
