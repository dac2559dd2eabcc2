#!/bin/sh
# 10,000 concurrent TCP connections to the echo unikernel on the direct
# stack (Haze's TCP/IP over a tap, unix target), each echoing its own
# bytes, with what a connection costs in heap measured and printed.
#
#   tests/net/conn10k.sh            (CONNS=N to try another count)
#
# The unikernel prints its heap and connection figures every second
# (echo --stats 1); tests/net/conn10k.py opens every connection, checks
# each echo, and holds them all open until told to close. Memory per
# connection = (heap in use with CONNS open - heap in use idle) / CONNS,
# where idle is after one warm-up connection has come and gone. Once all
# have closed, the heap's objects and pbufs must be back where idle had
# them: nothing leaked. First, echo must refuse a --stats or --keepalive
# that is not a number of seconds. Takes about 10 s (30 s on a loaded
# machine); docs/testing.md ("Load").
set -u
. tests/tap.sh
. tests/net/lib.sh
. tests/net/echostats.sh

O=${O:-build}
CONNS=${CONNS:-10000}
ns=hzc$$
tap=hzct$$
host=10.79.0.1
guest=10.79.0.2
tmp=$(mktemp -d)
echo_pid=
client_pid=
cleanup() {
	exec 3>&-
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
	netns_down $ns
	rm -rf "$tmp"
}
trap cleanup EXIT

need ip iproute2
need /usr/bin/python3 python3
echo=$O/unix/examples/echo/echo
built "$echo"
end_if_missing
# --stats and --keepalive take whole seconds; anything else is refused.
for bad in "--stats 0" "--keepalive 5s"; do
	# shellcheck disable=SC2086
	msg=$("$echo" -- --stack socket $bad 2>&1)
	if [ $? -eq 1 ] && printf '%s' "$msg" | grep -q "not a number of seconds"; then
		ok "echo refuses $bad"
	else
		not_ok "echo refuses $bad (got: $msg)"
	fi
done
if why=$(netns_unusable); then
	skip "$CONNS concurrent connections to the echo unikernel" "$why"
	done_testing
	exit
fi
netns_up $ns $tap $host/24 || {
	not_ok "make namespace and tap"
	done_testing
	exit
}
# The client's namespace: ports enough for every connection.
ip netns exec $ns sysctl -qw net.ipv4.ip_local_port_range="1024 65000"

# 1 GiB of heap: a connection costs about 50 KiB (a 32 KiB fiber stack
# and a 16 KiB send ring, mostly), so 10,000 need about 500 MiB.
ip netns exec $ns "$echo" --mem 1024 --net service=tap:$tap -- \
	--stack "direct:service,ip=$guest/24,gw=$host" --stats 1 --quiet \
	>"$tmp/echo.out" 2>&1 &
echo_pid=$!
out=$tmp/echo.out
if ! wait_for "$out" serving 10; then
	not_ok "the echo unikernel starts"
	diag "$(cat "$out")"
	done_testing
	exit
fi

# Warm up (ARP, the first connection's allocations), then take the idle
# figures from a line printed after the warm-up connection closed.
if ! ip netns exec $ns /usr/bin/python3 tests/net/conn10k.py $guest 7 1 \
	</dev/null >"$tmp/warm" 2>&1; then
	not_ok "a warm-up connection is echoed"
	diag "$(cat "$tmp/warm")"
	done_testing
	exit
fi
mark=$(stats_mark "$out")
if ! idle=$(stats_wait "$out" "$mark" 10 \
	'f["open"] == 0 && f["tcp_conns"] == 0'); then
	not_ok "the echo unikernel reports its figures idle"
	diag "$(tail -n 5 "$out")"
	done_testing
	exit
fi

# CONNS connections, held open until we have the figures.
mkfifo "$tmp/go"
ip netns exec $ns /usr/bin/python3 tests/net/conn10k.py $guest 7 "$CONNS" \
	<"$tmp/go" >"$tmp/client" 2>"$tmp/client.err" &
client_pid=$!
exec 3>"$tmp/go"
for _ in $(seq 1200); do
	grep -q "^# holding" "$tmp/client" && break
	kill -0 $client_pid 2>/dev/null || break
	sleep 0.1
done
held=
if grep -q "^# holding $CONNS\$" "$tmp/client"; then
	mark=$(stats_mark "$out")
	held=$(stats_wait "$out" "$mark" 10 \
		"f[\"open\"] == $CONNS && f[\"tcp_conns\"] == $CONNS")
fi
echo close >&3
exec 3>&-
wait $client_pid
client_rc=$?
client_pid=

# The client's own three verdicts: established, echoed, closed cleanly.
client_tap "$CONNS connections" 3 sh -c 'cat "$1"; cat "$2" >&2; exit "$3"' \
	_ "$tmp/client" "$tmp/client.err" "$client_rc"

mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}
if [ -n "$held" ]; then
	idle_used=$(stats_field "$idle" heap_used)
	held_used=$(stats_field "$held" heap_used)
	per_conn=$(awk -v h="$held_used" -v i="$idle_used" -v n="$CONNS" \
		'BEGIN { printf "%.1f", (h - i) / n / 1024 }')
	ok "with $CONNS connections open the unikernel holds $CONNS, heap in" \
		"use $(mib "$held_used") (idle $(mib "$idle_used")): $per_conn KiB" \
		"per connection (TCP's share $(awk -v b="$(stats_field "$held" tcp_bytes)" \
			-v n="$CONNS" 'BEGIN { printf "%.1f", b / n / 1024 }') KiB)"
else
	not_ok "the unikernel reports $CONNS connections open while the client holds them"
	diag "$(tail -n 4 "$out")"
fi

# Every connection closed: back to the idle objects and pbufs.
mark=$(stats_mark "$out")
if after=$(stats_wait "$out" "$mark" 60 \
	'f["open"] == 0 && f["tcp_conns"] == 0'); then
	leaked_objects=$(($(stats_field "$after" objects) - $(stats_field "$idle" objects)))
	leaked_pbufs=$(($(stats_field "$after" pbufs) - $(stats_field "$idle" pbufs)))
	what="every connection closed: $leaked_objects objects and"
	what="$what $leaked_pbufs pbufs more than idle (heap high-water"
	what="$what $(mib "$(stats_field "$after" heap_peak)"))"
	if [ "$leaked_objects" -eq 0 ] && [ "$leaked_pbufs" -eq 0 ]; then
		ok "$what, none leaked"
	else
		not_ok "$what: leaked"
		diag "idle:  $idle
after: $after"
	fi
	failures=$(stats_field "$after" alloc_failures)
	check "no allocation was refused ($failures)" [ "$failures" -eq 0 ]
else
	not_ok "every connection closes on the unikernel's side"
	not_ok "no allocation was refused"
	diag "$(tail -n 4 "$out")"
fi
diag "$(grep '^echo: counters:' "$out" | tail -n 1)"
done_testing
