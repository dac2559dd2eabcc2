#!/bin/sh
# The website unikernel (examples/website) judged by Linux clients: curl,
# wrk and Python's socket module.
#
#   tests/website/interop.sh socket|direct|kvm
#
# socket: the unix target on the host's sockets; direct: the unix target
# on Haze's TCP/IP over a tap in a network namespace; kvm: the image
# under haze-kvm on the same tap (tests/website/lib.sh). Each mode checks
# keep-alive, HEAD, Range (206, 416), If-None-Match and If-Modified-Since
# (304), If-Match and If-Unmodified-Since (412), gzip, the 404 page, a directory's redirect and index.html, path
# escapes refused, 405 with Allow, HTTPS verified against the test CA and
# HSTS, one access-log line per request agreeing with the metrics page,
# wrk for 10 s without an error, pipelined requests answered in order,
# 1,000 keep-alive connections at once, and --redirect-https.
# The conditions given to expect are evaluated there, hence in quotes:
# shellcheck disable=SC2016
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
MODE=${1:-socket}
tmp=$(mktemp -d)
. tests/website/lib.sh
trap 'site_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

site_need "$MODE"
need wrk wrk
need gzip gzip
end_if_missing
if why=$(site_unusable "$MODE"); then
	skip "the website on the $MODE stack" "$why"
	done_testing
	exit 0
fi
site_mode "$MODE" || {
	not_ok "$MODE: make the namespace and tap"
	done_testing
	exit 1
}
log=$tmp/site.log
if ! site_start "$log" --metrics /metrics --hsts 31536000; then
	not_ok "$MODE: the website starts"
	diag "$(cat "$log")"
	done_testing
	exit 1
fi
ok "$MODE: the website starts ($(grep "HTTP on port" "$log"))"

# Requests made, each of which must have its access-log line: fetch
# runs in a subshell ($(fetch ...)), so it counts in a file.
reqs=0
: >"$tmp/fetched"

# fetch NAME CURL-ARGS...: one curl request; head in $tmp/NAME.h, body in
# $tmp/NAME.b; prints the status code.
fetch() {
	f=$1
	shift
	echo "$f" >>"$tmp/fetched"
	client curl -sS --max-time 10 -D "$tmp/$f.h" -o "$tmp/$f.b" \
		-w '%{http_code}' "$@" 2>"$tmp/$f.err"
}

# field NAME FIELD: the value of FIELD in response head NAME.
field() {
	tr -d '\r' <"$tmp/$1.h" | awk -v k="$2" '
		BEGIN { k = tolower(k) }
		{ i = index($0, ":") }
		i && tolower(substr($0, 1, i - 1)) == k {
			v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit
		}'
}

# same NAME FILE: the body of NAME is exactly FILE (of the site).
same() {
	cmp -s "$tmp/$1.b" "$SITE_DIR/$2"
}

# expect DESC CODE NAME WANT [CONDITION...]: ok if the status CODE is WANT
# and CONDITION (a command) holds.
expect() {
	e_desc=$1 e_code=$2 e_name=$3 e_want=$4
	shift 4
	if [ "$e_code" = "$e_want" ] && { [ $# -eq 0 ] || "$@"; }; then
		ok "$MODE: $e_desc"
	else
		not_ok "$MODE: $e_desc (status $e_code, want $e_want)"
		diag "$(cat "$tmp/$e_name.h" "$tmp/$e_name.err" 2>/dev/null)"
	fi
}

U=$site_url
index=$SITE_DIR/index.html
size=$(stat -c %s "$index")

code=$(fetch index "$U/")
expect "GET / is index.html, byte for byte, as text/html" "$code" index 200 \
	eval 'same index index.html && field index Content-Type | grep -q "^text/html"'
etag=$(field index ETag)
lastmod=$(field index Last-Modified)

# Keep-alive: two URLs, one connection (curl counts the connects).
reqs=$((reqs + 2))
conns=$(client curl -sS --max-time 10 -o /dev/null -o /dev/null \
	-w '%{num_connects}\n' "$U/" "$U/css/site.css" 2>&1 | tr '\n' ' ')
if [ "$conns" = "1 0 " ]; then
	ok "$MODE: keep-alive: two requests over one connection (connects: $conns)"
else
	not_ok "$MODE: keep-alive: two requests over one connection (connects: $conns)"
fi

reqs=$((reqs + 1))
client curl -sS --max-time 10 -I "$U/" >"$tmp/head.h" 2>"$tmp/head.err"
head_len=$(field head Content-Length)
if head -n 1 "$tmp/head.h" | grep -q "^HTTP/1.1 200" && [ "$head_len" = "$size" ]; then
	ok "$MODE: HEAD / is 200 with GET's Content-Length ($head_len)"
else
	not_ok "$MODE: HEAD / is 200 with GET's Content-Length (got '$head_len', want $size)"
	diag "$(cat "$tmp/head.h" "$tmp/head.err")"
fi

code=$(fetch range -r 10-109 "$U/")
expect "Range: bytes=10-109 is 206 with those 100 bytes" "$code" range 206 \
	eval '[ "$(field range Content-Range)" = "bytes 10-109/$size" ] &&
	tail -c +11 "$index" | head -c 100 | cmp -s - "$tmp/range.b"'
code=$(fetch range416 -H "Range: bytes=$size-" "$U/")
expect "Range past the end is 416 with Content-Range: bytes */$size" \
	"$code" range416 416 eval '[ "$(field range416 Content-Range)" = "bytes */$size" ]'

code=$(fetch inm -H "If-None-Match: $etag" "$U/")
expect "If-None-Match with its ETag ($etag) is 304, no body" "$code" inm 304 \
	eval '[ ! -s "$tmp/inm.b" ]'
code=$(fetch inm2 -H 'If-None-Match: "not-it"' "$U/")
expect "If-None-Match with another ETag is 200" "$code" inm2 200 same inm2 index.html
code=$(fetch ims -H "If-Modified-Since: $lastmod" "$U/")
expect "If-Modified-Since its Last-Modified ($lastmod) is 304" "$code" ims 304 \
	eval '[ ! -s "$tmp/ims.b" ]'
code=$(fetch ims2 -H "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT" "$U/")
expect "If-Modified-Since 1994 is 200" "$code" ims2 200 same ims2 index.html
code=$(fetch im -H "If-Match: $etag" "$U/")
expect "If-Match with its ETag is 200" "$code" im 200 same im index.html
code=$(fetch im2 -H 'If-Match: "not-it"' -r 0-9 "$U/")
expect "If-Match with another ETag is 412, with a Range too (no mixed versions)" \
	"$code" im2 412 eval '[ ! -s "$tmp/im2.b" ]'
code=$(fetch ius -H "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT" "$U/")
expect "If-Unmodified-Since 1994 is 412" "$code" ius 412 eval '[ ! -s "$tmp/ius.b" ]'
code=$(fetch ius2 -H "If-Unmodified-Since: $lastmod" "$U/")
expect "If-Unmodified-Since its Last-Modified is 200" "$code" ius2 200 same ius2 index.html
code=$(fetch rangecase -H "Range: Bytes=0-9" "$U/")
expect "Range: Bytes=0-9 (units are case-insensitive) is 206" "$code" rangecase 206 \
	eval '[ "$(field rangecase Content-Range)" = "bytes 0-9/$size" ]'

code=$(fetch gz -H "Accept-Encoding: gzip" "$U/")
expect "Accept-Encoding: gzip gets Content-Encoding: gzip, smaller, decompressing to index.html" \
	"$code" gz 200 eval '[ "$(field gz Content-Encoding)" = gzip ] &&
	[ "$(stat -c %s "$tmp/gz.b")" -lt "$size" ] &&
	gzip -dc <"$tmp/gz.b" | cmp -s - "$index" &&
	field gz Vary | grep -qi accept-encoding'
code=$(fetch nogz -H "Accept-Encoding: gzip;q=0, identity" "$U/")
expect "gzip;q=0 gets the identity bytes" "$code" nogz 200 \
	eval 'same nogz index.html && [ -z "$(field nogz Content-Encoding)" ]'

code=$(fetch missing "$U/no/such/page.html")
expect "a missing page is 404 with 404.html" "$code" missing 404 same missing 404.html
code=$(fetch dir "$U/docs")
expect "a directory without its / is 301 to /docs/" "$code" dir 301 \
	eval '[ "$(field dir Location)" = /docs/ ]'
code=$(fetch dirq "$U/docs?lang=en")
expect "a directory with a query is 301 to /docs/?lang=en, the query kept" \
	"$code" dirq 301 eval '[ "$(field dirq Location)" = "/docs/?lang=en" ]'
code=$(fetch dirindex "$U/docs/")
expect "/docs/ is docs/index.html" "$code" dirindex 200 same dirindex docs/index.html
code=$(fetch css "$U/css/site.css")
expect "the stylesheet is text/css" "$code" css 200 \
	eval 'same css css/site.css && field css Content-Type | grep -q "^text/css"'
code=$(fetch svg "$U/img/haze.svg")
expect "the image is image/svg+xml" "$code" svg 200 \
	eval 'same svg img/haze.svg && field svg Content-Type | grep -q "^image/svg+xml"'

for p in /../../etc/passwd /docs/../index.html /%2e%2e/etc/passwd \
	/docs/%2E%2E/index.html /docs%2findex.html /docs%5cindex.html /a%00b; do
	code=$(fetch esc --path-as-is "$U$p")
	expect "the path $p is refused with 400" "$code" esc 400
done

code=$(fetch post -X POST -d x "$U/")
expect "POST is 405 with Allow: GET, HEAD" "$code" post 405 \
	eval '[ "$(field post Allow)" = "GET, HEAD" ]'
code=$(fetch delete -X DELETE "$U/index.html")
expect "DELETE is 405 with Allow: GET, HEAD" "$code" delete 405 \
	eval '[ "$(field delete Allow)" = "GET, HEAD" ]'
if [ -z "$(field index Strict-Transport-Security)" ]; then
	ok "$MODE: plain HTTP carries no Strict-Transport-Security"
else
	not_ok "$MODE: plain HTTP carries no Strict-Transport-Security"
fi

# --- HTTPS ---------------------------------------------------------------
code=$(fetch tls --cacert "$SITE_CERTS/ca.pem" --resolve "$site_resolve" \
	"$site_surl/")
expect "HTTPS verified against the test CA: index.html, with HSTS" "$code" \
	tls 200 eval 'same tls index.html &&
	[ "$(field tls Strict-Transport-Security)" = "max-age=31536000" ]'
code=$(fetch tlsgz --cacert "$SITE_CERTS/ca.pem" --resolve "$site_resolve" \
	--compressed "$site_surl/docs/")
expect "HTTPS with gzip (curl --compressed): docs/index.html" "$code" tlsgz 200 \
	eval 'same tlsgz docs/index.html && [ "$(field tlsgz Content-Encoding)" = gzip ]'
# The same server, not trusted: curl must refuse it (the check is real).
client curl -sS --max-time 10 --resolve "$site_resolve" -o /dev/null \
	"$site_surl/" 2>"$tmp/untrusted.err"
rc=$?
if [ "$rc" -eq 60 ]; then
	ok "$MODE: without the test CA curl refuses the certificate (exit 60)"
else
	not_ok "$MODE: without the test CA curl refuses the certificate (exit $rc)"
fi

# --- pipelining (Python's socket module) -----------------------------------
reqs=$((reqs + 5))
client_tap "$MODE" 2 client /usr/bin/python3 tests/website/httpcheck.py \
	pipeline "$site_host" "$site_http" "$SITE_DIR"

# --- a request line that is not HTTP/1.x ----------------------------------
reqs=$((reqs + 1))
client_tap "$MODE" 1 client /usr/bin/python3 tests/website/httpcheck.py \
	badline "$site_host" "$site_http"

# --- the access log and the metrics page -----------------------------------------
sleep 0.2
clf='^- - - \[[0-3][0-9]/[A-Z][a-z][a-z]/20[0-9][0-9]:[0-2][0-9]:[0-5][0-9]:[0-5][0-9] \+0000\] "([A-Z]+ /[^ ]* HTTP/1\.[01]|-)" [1-5][0-9][0-9] [0-9]+ [0-9]+$'
grep -E "$clf" "$log" >"$tmp/access"
lines=$(wc -l <"$tmp/access")
reqs=$((reqs + $(wc -l <"$tmp/fetched")))
if [ "$lines" -eq "$reqs" ]; then
	ok "$MODE: one access-log line per request ($lines), common log format plus microseconds"
else
	not_ok "$MODE: one access-log line per request ($lines, want $reqs)"
	diag "$(grep -v -E "$clf" "$log" | tail -n 5)"
fi
if grep -q '"-" 505 ' "$tmp/access"; then
	ok "$MODE: the request line it could not read is logged as \"-\", not given a version"
else
	not_ok "$MODE: the HTTP/2.0 request line's access-log line"
	diag "$(grep ' 505 ' "$log")"
fi
css_size=$(stat -c %s "$SITE_DIR/css/site.css")
if grep -q "\"GET /css/site.css HTTP/1.1\" 200 $css_size [0-9]*\$" "$tmp/access"; then
	ok "$MODE: the stylesheet's line: status 200, $css_size body bytes, microseconds ($(grep -m1 'GET /css/site.css' "$tmp/access" | awk '{print $NF}') us)"
else
	not_ok "$MODE: the stylesheet's line: status 200, $css_size body bytes"
fi
code=$(fetch metrics "$U/metrics")
m=$tmp/metrics.b
want_ok=true
for k in requests status_2xx status_3xx status_4xx; do
	case $k in
	requests) want=$lines ;;
	*) want=$(awk -v c="${k#status_}" '
		substr($(NF - 2), 1, 1) == substr(c, 1, 1) { n++ }
		END { print n + 0 }' "$tmp/access") ;;
	esac
	[ "$(metric "$m" $k)" = "$want" ] || {
		want_ok=false
		diag "metrics: $k is '$(metric "$m" $k)', the access log says $want"
	}
done
hist=$(awk '$1 ~ /^latency_us_/ { n += $2 } END { print n + 0 }' "$m")
[ "$hist" = "$lines" ] || {
	want_ok=false
	diag "metrics: the latency histogram holds $hist, want $lines"
}
for k in bytes_sent connections_http heap_size heap_peak http.requests; do
	[ -n "$(metric "$m" $k)" ] || {
		want_ok=false
		diag "metrics: no $k"
	}
done
expect "the metrics page agrees with the access log (requests, statuses, latency histogram) and shows bytes, connections, heap, http counters" \
	"$code" metrics 200 $want_ok

# --- wrk ----------------------------------------------------------------------
client wrk -t 2 -c 32 -d 10s --timeout 5s "$U/" >"$tmp/wrk" 2>&1
rc=$?
total=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
if [ "$rc" -eq 0 ] && [ -n "$total" ] && [ "$total" -gt 0 ] &&
	! grep -q -e "Socket errors" -e "Non-2xx" "$tmp/wrk"; then
	ok "$MODE: wrk, 32 connections for 10 s: $total requests, no socket error, no non-2xx ($(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk") req/s)"
else
	not_ok "$MODE: wrk, 32 connections for 10 s without errors (exit $rc)"
	diag "$(cat "$tmp/wrk")"
fi

# --- 1,000 keep-alive connections at once -----------------------------------
# wrk's connections end with it; wait for the server to see them go, so
# that the 1,000 fit under its connection limit (1,024).
for _ in $(seq 50); do
	client curl -sS --max-time 5 -o "$m" "$U/metrics" 2>/dev/null
	[ "$(metric "$m" connections_http)" = 1 ] && break
	sleep 0.1
done
client_tap "$MODE" 2 client /usr/bin/python3 tests/website/httpcheck.py \
	conns "$site_host" "$site_http" "$SITE_DIR" 1000

if kill -0 "$site_pid" 2>/dev/null; then
	ok "$MODE: the website still serves after every client"
else
	not_ok "$MODE: the website still serves after every client"
	diag "$(tail -n 20 "$log")"
fi
site_stop

# --- --redirect-https and --hsts ---------------------------------------------
if site_start "$tmp/redirect.log" --redirect-https --hsts 600 --quiet; then
	# Host: localhost, so that the redirect names the certificate's name.
	loc=https://localhost$([ "$site_https" = 443 ] || echo ":$site_https")/docs/
	code=$(fetch redir --resolve "localhost:$site_http:$site_host" \
		"http://localhost:$site_http/docs/")
	expect "--redirect-https: plain HTTP is 301 to $loc, without HSTS" "$code" \
		redir 301 eval '[ "$(field redir Location)" = "$loc" ] &&
		[ -z "$(field redir Strict-Transport-Security)" ]'
	# An absolute-form target's host stands for Host (RFC 9112, 3.2.2).
	loc2=https://www.example.org$([ "$site_https" = 443 ] || echo ":$site_https")/docs/
	code=$(fetch absform --request-target "http://www.example.org/docs/" \
		-H "Host: other.example" "$site_url/")
	expect "--redirect-https: an absolute-form target's host, not Host, names the redirect ($loc2)" \
		"$code" absform 301 eval '[ "$(field absform Location)" = "$loc2" ]'
	code=$(fetch follow -L --cacert "$SITE_CERTS/ca.pem" \
		--resolve "localhost:$site_http:$site_host" \
		--resolve "$site_resolve" "http://localhost:$site_http/docs/")
	expect "curl -L follows it to HTTPS, verified, with HSTS max-age=600" \
		"$code" follow 200 eval 'same follow docs/index.html &&
		grep -qi "^strict-transport-security: max-age=600" "$tmp/follow.h"'
else
	not_ok "$MODE: the website starts with --redirect-https"
	diag "$(cat "$tmp/redirect.log")"
fi
done_testing
