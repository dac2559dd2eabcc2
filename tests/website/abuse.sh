#!/bin/sh
# Abuse of the website unikernel, with other clients served meanwhile:
# on Haze's own TCP/IP over a tap in a namespace (the socket stack where
# namespaces cannot be made), tests/website/abuse.py runs 200 slowloris
# connections, a 1 MiB header line, request smuggling shapes and 10,000
# connections of garbage, all at once, while a loop of curl requests
# (HTTP and HTTPS in turn) must all succeed. Afterwards the unikernel's
# heap high-water mark (its metrics page) is printed and must stay
# within the memory budget, with no allocation refused, and its
# connections and fibers must be back to their idle count.
#
# The budget is 64 MiB, the memory `make run` gives the site under
# haze-kvm; the unikernel runs here with a heap of 256 MiB, so that
# a peak past the budget is seen rather than refused.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
BUDGET_MIB=64
tmp=$(mktemp -d)
loop_pid=
SITE_MEM=${SITE_MEM:-256}
. tests/website/lib.sh
trap '[ -n "$loop_pid" ] && kill $loop_pid 2>/dev/null; site_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

mode=direct
netns_unusable >/dev/null && mode=socket
site_need $mode
end_if_missing
log=$tmp/site.log
site_up $mode "$log" --metrics /metrics --quiet
ok "the website starts on the $mode stack, heap $SITE_MEM MiB"

# metrics FILE: the metrics page into FILE.
metrics() {
	client curl -sS --max-time 5 -o "$1" "$site_url/metrics"
}

# idle FILE: waits (30 s) for no connection but the one asking, then
# leaves the metrics page in FILE.
idle() {
	for _ in $(seq 150); do
		metrics "$1" 2>/dev/null &&
			[ "$(metric "$1" connections_http)" = 1 ] &&
			[ "$(metric "$1" connections_https)" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# Warm up both servers (TLS's first handshake allocates), then idle.
client curl -sS -o /dev/null "$site_url/" &&
	client curl -sS -o /dev/null --cacert "$SITE_CERTS/ca.pem" \
		--resolve "$site_resolve" "$site_surl/"
idle "$tmp/before"

# Other clients, served all along: a request every 0.1 s, HTTP and HTTPS
# in turn, each on a new connection; every status goes to $tmp/loop.
(
	i=0
	while [ ! -e "$tmp/stop" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			client curl -sS --max-time 5 -o /dev/null -w '%{http_code}\n' \
				"$site_url/css/site.css" 2>&1
		else
			client curl -sS --max-time 5 -o /dev/null -w '%{http_code}\n' \
				--cacert "$SITE_CERTS/ca.pem" --resolve "$site_resolve" \
				"$site_surl/img/haze.svg" 2>&1
		fi
		i=$((i + 1))
		sleep 0.1
	done
) >"$tmp/loop" &
loop_pid=$!

# abuse.py reports 13 results and exits non-zero on a failure.
client_tap "$mode" 13 client /usr/bin/python3 tests/website/abuse.py \
	"$site_host" "$site_http" 200 10000 10
touch "$tmp/stop"
wait $loop_pid
loop_pid=
n=$(wc -l <"$tmp/loop")
good=$(grep -c '^200$' "$tmp/loop")
if [ "$n" -ge 20 ] && [ "$good" -eq "$n" ]; then
	ok "meanwhile $n requests of other clients (HTTP and HTTPS, a new connection each) all answered 200"
else
	not_ok "meanwhile requests of other clients all answered 200 ($good of $n)"
	diag "$(grep -v '^200$' "$tmp/loop" | sort | uniq -c | head)"
fi

if ! idle "$tmp/after"; then
	not_ok "connections back to idle after the abuse (http $(metric "$tmp/after" connections_http), https $(metric "$tmp/after" connections_https))"
else
	ok "connections back to idle after the abuse"
fi
peak=$(metric "$tmp/after" heap_peak)
size=$(metric "$tmp/after" heap_size)
fail=$(metric "$tmp/after" heap_alloc_failures)
diag "heap: high-water $((peak >> 10)) KiB of $((size >> 20)) MiB; in use idle $(($(metric "$tmp/before" heap_used) >> 10)) KiB before, $(($(metric "$tmp/after" heap_used) >> 10)) KiB after; objects $(metric "$tmp/before" heap_objects) before, $(metric "$tmp/after" heap_objects) after (TCP's TIME_WAIT holds some for 60 s)"
if [ -n "$peak" ] && [ "$peak" -le $((BUDGET_MIB << 20)) ] && [ "$fail" = 0 ]; then
	ok "the heap's high-water mark, $((peak >> 10)) KiB, is within the budget of $BUDGET_MIB MiB, no allocation refused"
else
	not_ok "the heap's high-water mark within $BUDGET_MIB MiB, no allocation refused (peak '$peak', refused '$fail')"
fi
fb=$(metric "$tmp/before" fibers)
fa=$(metric "$tmp/after" fibers)
if [ -n "$fb" ] && [ "$fa" = "$fb" ]; then
	ok "fibers back to their idle count ($fa)"
else
	not_ok "fibers back to their idle count ($fb before, $fa after)"
fi
# On the direct stack: what Haze's TCP holds after, TIME_WAIT included
# (the connections the server closed first stay there for 2 MSL, 60 s).
[ -n "$(metric "$tmp/after" tcp_conns)" ] &&
	diag "TCP after: $(metric "$tmp/after" tcp_conns) connections (TIME_WAIT and the one asking) holding $(($(metric "$tmp/after" tcp_bytes) >> 10)) KiB"
for k in conn_header_timeout err_smuggling err_header_too_large err_bad_request; do
	diag "http.$k $(metric "$tmp/after" http.$k)"
done
if kill -0 "$site_pid" 2>/dev/null; then
	ok "the website still serves"
else
	not_ok "the website still serves"
	diag "$(tail -n 20 "$log")"
fi
done_testing
