#!/bin/sh
# bench/soak: the echo unikernel on the direct stack under an hour of
# connections opened and closed at random, with packets lost both ways.
#
#   bench/soak/run.sh [--duration SECONDS] [--loss PERCENT] [--conns N]
#                     [--seed N]                   (root: namespace, tap)
#
# Defaults: 3600 s, 1 % loss, at most 256 connections at once. The echo
# unikernel (unix target, Haze's TCP/IP over a tap) serves a Linux client
# in a network namespace, bench/soak/client.py; nftables drops PERCENT %
# of the packets on the tap each way (numgen random, as tests/net/lib.sh
# does). At the end the client stops opening connections and finishes
# those it has; the unikernel must then come back to its idle figures.
#
# Prints: connections made and how they ended, bytes echoed, errors
# (connections that failed, stalled or echoed a wrong byte: must be 0),
# the heap's high-water mark, and leaked objects and pbufs (outstanding
# after every connection closed, beyond the idle figures: must be 0).
# Exits non-zero if there was an error or a leak. Never part of `make
# test`; its figures are recorded in docs/testing.md ("Load").
set -u
. tests/net/lib.sh
. tests/net/echostats.sh

O=${O:-build}
DURATION=3600
LOSS=1
CONNS=256
SEED=
while [ $# -gt 0 ]; do
	case $1 in --*) [ $# -ge 2 ] || set -- "$1" "" ;; esac
	case $1 in
	--duration) DURATION=$2 ;;
	--loss) LOSS=$2 ;;
	--conns) CONNS=$2 ;;
	--seed) SEED=$2 ;;
	*)
		echo "usage: bench/soak/run.sh [--duration SECONDS]" \
			"[--loss PERCENT] [--conns N] [--seed N]" >&2
		exit 2
		;;
	esac
	shift 2
done
for v in "$DURATION" "$LOSS" "$CONNS" ${SEED:+"$SEED"}; do
	case $v in
	'' | *[!0-9]*) echo "bench/soak: '$v' is not a whole number" >&2; exit 2 ;;
	esac
done

# The unikernel's stats period, and its keepalive: a connection whose
# client's reset was lost is probed after KEEPALIVE idle seconds, answered
# with a reset, and ends, so the last figures wait for it.
STATS_S=10
KEEPALIVE_S=30
ns=hzs$$
tap=hzst$$
host=10.80.0.1
guest=10.80.0.2
tmp=$(mktemp -d)
echo_pid=
cleanup() {
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
	netns_down $ns
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "bench/soak: $*" >&2
	exit 1
}

if ! netns_usable; then
	fail "needs root, /dev/net/tun and network namespaces"
fi
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] ||
	fail "nft is missing (Debian package nftables)"
PATH=$PATH:/usr/sbin:/sbin
echo_app=$O/unix/examples/echo/echo
[ -x "$echo_app" ] || fail "$echo_app is missing: make O=$O unix"
netns_up $ns $tap $host/24 || fail "cannot make the namespace and tap"
# The client closes first, so its side holds TIME_WAIT: reuse those
# ports rather than run out of them.
ip netns exec $ns sysctl -qw net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_port_range="1024 65000"

out=$tmp/echo.out
ip netns exec $ns "$echo_app" --mem 512 --net service=tap:$tap -- \
	--log=echo:warn --stack "direct:service,ip=$guest/24,gw=$host" \
	--stats $STATS_S --keepalive $KEEPALIVE_S --quiet >"$out" 2>&1 &
echo_pid=$!
wait_for "$out" serving 10 || fail "the echo unikernel did not start: $(cat "$out")"

# Idle figures after one warm-up connection (ARP and first allocations).
ip netns exec $ns /usr/bin/python3 tests/net/conn10k.py $guest 7 1 \
	</dev/null >"$tmp/warm" 2>&1 ||
	fail "the warm-up connection failed: $(cat "$tmp/warm")"
mark=$(stats_mark "$out")
idle=$(stats_wait "$out" "$mark" $((STATS_S * 3)) \
	'f["open"] == 0 && f["tcp_conns"] == 0') ||
	fail "no idle figures from the unikernel: $(tail -n 3 "$out")"

netns_drop $ns $tap "$LOSS" || fail "cannot install the nftables drop rules"
echo "bench/soak: ${DURATION} s, $LOSS % loss both ways, at most $CONNS" \
	"connections at once (unix target, direct stack)" >&2
start=$(date +%s)
ip netns exec $ns /usr/bin/python3 bench/soak/client.py $guest 7 \
	--duration "$DURATION" --conns "$CONNS" ${SEED:+--seed "$SEED"} \
	>"$tmp/client" 2>&1
client_rc=$?
client_s=$(($(date +%s) - start))
dropped=$(netns_dropped $ns)
kill -0 "$echo_pid" 2>/dev/null ||
	fail "the echo unikernel ended during the soak: $(tail -n 20 "$out")"

# Every connection ended on the client's side; the unikernel's must end
# too (a lost reset is found by keepalive), then objects and pbufs must
# be back to idle.
mark=$(stats_mark "$out")
settle=$((KEEPALIVE_S + 9 * 75 + STATS_S * 2))
after=$(stats_wait "$out" "$mark" $settle \
	'f["open"] == 0 && f["tcp_conns"] == 0')
settled=$?
[ $settled -eq 0 ] || after=$(grep '^echo: stats:' "$out" | tail -n 1)
netns_nodrop $ns
counters=$(grep '^echo: counters:' "$out" | tail -n 1)

client_line=$(head -n 1 "$tmp/client")
cf() { # cf KEY: a figure of the client's line
	printf '%s\n' "$client_line" | awk -v k="$1" \
		'{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'
}
counter() { # counter NAME: a counter of the unikernel's, 0 if it never moved
	printf '%s\n' "$counters" | tr ' ' '\n' | awk -F= -v k="$1" \
		'$1 == k { v = $2 } END { print v + 0 }'
}
mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}
errors=$(cf errors)
[ -n "$errors" ] || errors="client failed (exit $client_rc)"
leaked_objects=$(($(stats_field "$after" objects) - $(stats_field "$idle" objects)))
leaked_pbufs=$(($(stats_field "$after" pbufs) - $(stats_field "$idle" pbufs)))
[ $settled -eq 0 ] || leaked_objects=unknown leaked_pbufs=unknown

row() { # row LABEL TEXT...: one line of the report
	label=$1
	shift
	printf '%-28s %s\n' "$label" "$*"
}
echo "bench/soak (unix target, direct stack; ${client_s} s, $LOSS % loss" \
	"both ways, at most $CONNS connections at once)"
row "connections" "$(cf connections) ($(cf closed) closed, $(cf reset)" \
	"reset after their echoes, $(cf aborted) reset mid-message)"
row "messages echoed" "$(cf messages) ($(mib "$(cf bytes)"))"
row "errors" "$errors"
row "heap high-water" "$(mib "$(stats_field "$after" heap_peak)") of" \
	"$(mib "$(stats_field "$after" heap_size)") (idle" \
	"$(mib "$(stats_field "$idle" heap_used)"))"
if [ $settled -eq 0 ]; then
	row "leaked after all closed" \
		"$leaked_objects objects, $leaked_pbufs pbufs"
else
	row "leaked after all closed" "not settled:" \
		"$(stats_field "$after" open) open," \
		"$(stats_field "$after" tcp_conns) TCP connections after $settle s"
fi
row "allocations refused" "$(stats_field "$after" alloc_failures)"
row "packets dropped (nftables)" "$dropped"
row "TCP segments in / out" \
	"$(counter tcp.in_segments) / $(counter tcp.out_segments)"
row "TCP retransmissions" "$(counter tcp.out_retransmits)" \
	"($(counter tcp.rexmt_timeouts) timeouts," \
	"$(counter tcp.fast_recoveries) fast recoveries)"
row "resets received" "$(counter tcp.resets_received)"
row "keepalive probes / drops" \
	"$(counter tcp.keepalive_probes) / $(counter tcp.keepalive_drops)"
row "client seed" "$(cf seed)"
sed -n 's/^error: /  error: /p' "$tmp/client"
[ "$errors" = 0 ] && [ "$leaked_objects" = 0 ] && [ "$leaked_pbufs" = 0 ]
