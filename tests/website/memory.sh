#!/bin/sh
# The website when its heap, not its connection limit, runs out: on the
# socket stack with the unix target's default heap (32 MiB), 400 TCP
# connections that never send and 100 TLS connections that never ask
# (tests/website/hold.py) fill it. They once shut out every other
# client: each new connection was accepted and dropped for want of
# memory. Now the servers close the longest-idle connection that has
# been served or has said nothing for a second, keeping a sixteenth of
# the heap free, and every other client must be answered, over HTTP and
# HTTPS; afterwards the connections go back to idle.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
tmp=$(mktemp -d)
hold_pid=
SITE_MEM=32
. tests/website/lib.sh
trap '[ -n "$hold_pid" ] && kill $hold_pid 2>/dev/null; site_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

site_need socket
end_if_missing
log=$tmp/site.log
site_up socket "$log" --metrics /metrics --quiet
ok "the website starts on the socket stack, heap $SITE_MEM MiB"

mkfifo "$tmp/hold.in"
/usr/bin/python3 tests/website/hold.py "$site_host" "$site_http" \
	"$site_https" 400 100 60 <"$tmp/hold.in" >"$tmp/hold.out" 2>&1 &
hold_pid=$!
exec 3>"$tmp/hold.in"
wait_for "$tmp/hold.out" "^held" 60
diag "hold.py: $(head -n 1 "$tmp/hold.out")"
sleep 1.5 # past a second of silence

good=0
for i in $(seq 10); do
	code=$(client curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
		"$site_url/css/site.css" 2>>"$tmp/curl.err")
	[ "$code" = 200 ] && good=$((good + 1))
	code=$(client curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
		--cacert "$SITE_CERTS/ca.pem" --resolve "$site_resolve" \
		"$site_surl/img/haze.svg" 2>>"$tmp/curl.err")
	[ "$code" = 200 ] && good=$((good + 1))
done
if [ "$good" -eq 20 ]; then
	ok "with the heap held by silent connections, 20 requests of other clients (HTTP and HTTPS, a new connection each) all answered 200"
else
	not_ok "with the heap held by silent connections, other clients answered ($good of 20)"
	diag "$(sort "$tmp/curl.err" | uniq -c | head)"
fi
client curl -sS --max-time 5 -o "$tmp/during" "$site_url/metrics"
reclaimed=$(metric "$tmp/during" http.conn_reclaimed_idle)
if [ "${reclaimed:-0}" -gt 0 ]; then
	ok "silent connections were closed to make room (http.conn_reclaimed_idle $reclaimed)"
else
	not_ok "silent connections were closed to make room (http.conn_reclaimed_idle '$reclaimed')"
fi
diag "http.conn_memory_waits $(metric "$tmp/during" http.conn_memory_waits), http.conn_no_memory $(metric "$tmp/during" http.conn_no_memory), heap_alloc_failures $(metric "$tmp/during" heap_alloc_failures)"

exec 3>&-
wait $hold_pid
hold_pid=
diag "hold.py: $(tail -n 1 "$tmp/hold.out")"
idle=0
for _ in $(seq 100); do
	client curl -sS --max-time 5 -o "$tmp/after" "$site_url/metrics" 2>/dev/null &&
		[ "$(metric "$tmp/after" connections_http)" = 1 ] &&
		[ "$(metric "$tmp/after" connections_https)" = 0 ] && idle=1 && break
	sleep 0.2
done
if [ "$idle" = 1 ]; then
	ok "connections back to idle once the holder lets go"
else
	not_ok "connections back to idle (http $(metric "$tmp/after" connections_http), https $(metric "$tmp/after" connections_https))"
fi
if kill -0 "$site_pid" 2>/dev/null &&
	[ "$(client curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$site_url/")" = 200 ]; then
	ok "the website still serves"
else
	not_ok "the website still serves"
	diag "$(tail -n 20 "$log")"
fi
done_testing
