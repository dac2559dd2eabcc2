#!/bin/sh
# The website on Haze's own TCP/IP when slow clients hold its heap (32
# MiB): 150 connections that each fetch an 8 MiB file reading 1 KiB a
# second (TCP keeps up to 256 KiB unsent for each), and 100 that send a
# request head a byte a second. They once shut every other client out
# for as long as they kept their pace. Now, short of memory, the server
# aborts the slowest of them (a head still coming 2 s after its first
# byte, a response going out at under 64 KiB/s after 5 s), and every
# other client must be answered meanwhile; afterwards the website serves
# as before. Needs root (a namespace and a tap).
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
tmp=$(mktemp -d)
lag_pid=
SITE_MEM=32
. tests/website/lib.sh
trap '[ -n "$lag_pid" ] && kill $lag_pid 2>/dev/null; site_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

site_need direct
end_if_missing
if why=$(site_unusable direct); then
	skip "the website's heap held by slow clients" "$why"
	done_testing
	exit 0
fi
# The site: a page and an 8 MiB file, on a block device (not in memory).
mkdir "$tmp/site"
echo '<h1>here</h1>' >"$tmp/site/index.html"
head -c $((8 << 20)) /dev/urandom >"$tmp/site/big.bin"
tar -C "$tmp/site" -cf "$tmp/site.tar" index.html big.bin
site_target_args="--block site=$tmp/site.tar"
log=$tmp/site.log
site_up direct "$log" --site site --site-memory 0 --metrics /metrics --quiet
ok "the website starts on the direct stack, heap $SITE_MEM MiB, an 8 MiB file on its device"

mkfifo "$tmp/lag.in"
client /usr/bin/python3 tests/website/laggards.py "$site_host" \
	"$site_http" 150 100 60 <"$tmp/lag.in" >"$tmp/lag.out" 2>&1 &
lag_pid=$!
exec 3>"$tmp/lag.in"
wait_for "$tmp/lag.out" "^opened" 60
diag "laggards.py: $(head -n 1 "$tmp/lag.out")"
sleep 8 # past the 5 s a response may crawl

good=0 slow=""
for i in $(seq 10); do
	r=$(client curl -sS --max-time 10 -o /dev/null \
		-w '%{http_code} %{time_total}' "$site_url/" 2>>"$tmp/curl.err")
	case $r in
	"200 "*) good=$((good + 1)) ;;
	*) slow="$slow [$r]" ;;
	esac
	sleep 1
done
if [ "$good" -eq 10 ]; then
	ok "with the heap held by slow readers and trickled heads, 10 requests of another client all answered 200"
else
	not_ok "with the heap held by slow clients, another client answered ($good of 10:$slow)"
	diag "$(sort "$tmp/curl.err" | uniq -c | head)"
fi
client curl -sS --max-time 5 -o "$tmp/during" "$site_url/metrics"
slowed=$(metric "$tmp/during" http.conn_reclaimed_slow)
if [ "${slowed:-0}" -gt 0 ]; then
	ok "slow connections were aborted to make room (http.conn_reclaimed_slow $slowed)"
else
	not_ok "slow connections were aborted to make room (http.conn_reclaimed_slow '$slowed')"
fi
diag "http.conn_memory_waits $(metric "$tmp/during" http.conn_memory_waits), http.conn_no_memory $(metric "$tmp/during" http.conn_no_memory), heap_alloc_failures $(metric "$tmp/during" heap_alloc_failures), tcp.aborted_by_application $(metric "$tmp/during" tcp.aborted_by_application)"

exec 3>&-
wait $lag_pid
lag_pid=
diag "laggards.py: $(tail -n 1 "$tmp/lag.out")"
body=$(client curl -sS --max-time 10 "$site_url/")
if kill -0 "$site_pid" 2>/dev/null && [ "$body" = "<h1>here</h1>" ]; then
	ok "the website still serves"
else
	not_ok "the website still serves"
	diag "$(tail -n 20 "$log")"
fi
done_testing
