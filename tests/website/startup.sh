#!/bin/sh
# The website refuses bad input at start: a missing or corrupt archive, a
# certificate that does not parse or does not match its key, a port that
# is not a port, a session count out of range, HTTPS options without
# --tls. Each gets one line naming
# the thing and exit status 1, before anything is served (the HTTP port
# must not answer). A good start is the control: the same command with
# good input serves (from memory; with --site-memory 0, from the device).
# Then --tls-sessions: resumed by default, never with 0.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
WEB=$O/unix/examples/website/website
CERTS=$O/gen/tls/certs # TLS_CERTS of mk/tls.mk
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

built "$WEB" website
built "$CERTS/ec.pem" "test certificates"
need curl curl
need tar tar
need openssl openssl
end_if_missing

# Ports nothing listens on: a refused start must leave them unanswered,
# and the control must find them free.
PORT=$(free_port)
SPORT=$(free_port)

# tls_tar NAME CERT KEY: a TLS archive holding CERT as cert.pem, KEY as key.pem.
tls_tar() {
	mkdir -p "$tmp/$1"
	cp "$2" "$tmp/$1/cert.pem"
	cp "$3" "$tmp/$1/key.pem"
	tar -C "$tmp/$1" -cf "$tmp/$1.tar" cert.pem key.pem
}
tls_tar good "$CERTS/ec.pem" "$CERTS/ec.key"
tls_tar mismatch "$CERTS/ec.pem" "$CERTS/rsa.key"
tls_tar otherkey "$CERTS/ec.pem" "$CERTS/expired.key"
printf 'not a certificate\n' >"$tmp/junk.pem"
tls_tar garbled "$tmp/junk.pem" "$CERTS/ec.key"
head -c 4096 /dev/urandom >"$tmp/corrupt.tar"
mkdir -p "$tmp/site" && echo hi >"$tmp/site/index.html"
: >"$tmp/site/404.html" # an empty 404 page is still a page
tar -C "$tmp/site" -cf "$tmp/site.tar" index.html 404.html
tar -C "$tmp/good" -cf "$tmp/certonly.tar" cert.pem

# refused WHAT NEEDLE TARGET-ARGS -- APP-ARGS: the website exits 1 with
# one line holding NEEDLE, and never answered on the port meanwhile.
refused() {
	what=$1
	needle=$2
	shift 2
	timeout 20 "$WEB" "$@" >"$tmp/out" 2>&1 &
	pid=$!
	answered=0
	while kill -0 "$pid" 2>/dev/null; do
		if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/"; then
			answered=1
			kill "$pid"
		fi
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$answered" -eq 0 ] &&
		grep -q -- "$needle" "$tmp/out" &&
		[ "$(grep -c . "$tmp/out")" -le 3 ]; then
		ok "$what: refused, exit 1: $(grep -- "$needle" "$tmp/out")"
	else
		not_ok "$what: expected exit 1 and '$needle' (exit $rc, answered $answered)"
		diag "$(cat "$tmp/out")"
	fi
}

refused "--site naming no bound device" "--site site" \
	-- --stack socket --http "$PORT" --site site
refused "a corrupt site archive" "--site site" \
	--block "site=$tmp/corrupt.tar" -- --stack socket --http "$PORT" \
	--site site
refused "a TLS archive whose certificate does not parse" "--tls tls" \
	--block "tls=$tmp/garbled.tar" -- --stack socket --http "$PORT" \
	--https "$SPORT" --tls tls
refused "a certificate that does not match its key" "--tls tls" \
	--block "tls=$tmp/mismatch.tar" -- --stack socket --http "$PORT" \
	--https "$SPORT" --tls tls
refused "a certificate given another key of its type and curve" \
	"the private key does not match the certificate" \
	--block "tls=$tmp/otherkey.tar" -- --stack socket --http "$PORT" \
	--https "$SPORT" --tls tls
refused "--redirect-https without --tls" \
	"--redirect-https needs --tls DEVICE" \
	-- --stack socket --http "$PORT" --redirect-https
refused "--hsts without --tls" "--hsts needs --tls DEVICE" \
	-- --stack socket --http "$PORT" --hsts 600
refused "a TLS archive without key.pem" "no key.pem" \
	--block "tls=$tmp/certonly.tar" -- --stack socket --http "$PORT" \
	--https "$SPORT" --tls tls
refused "a direct stack on a NIC nothing is bound to" \
	"stack direct:service: no NIC 'service' is bound to the unikernel (bind one where it starts: --net service=tap:IF)" \
	-- --stack direct:service --http "$PORT"
refused "a stack of no known kind" "unknown stack 'bogus' (socket, direct:NET" \
	-- --stack bogus --http "$PORT"
refused "--http 0" "--http 0: not a port" -- --stack socket --http 0
refused "--http 70000" "--http 70000: not a port" -- --stack socket \
	--http 70000
refused "--https x" "--https x: not a port" -- --stack socket --https x
refused "--tls-sessions -1" "--tls-sessions -1: not a number of sessions" \
	-- --stack socket --http "$PORT" --tls-sessions -1
refused "--tls-sessions past the most" \
	"--tls-sessions 1048577: not a number of sessions" \
	-- --stack socket --http "$PORT" --tls-sessions 1048577
refused "--site-memory x" "--site-memory x: not a number of MiB" \
	-- --stack socket --http "$PORT" --site-memory x
refused "--site-memory past the most" \
	"--site-memory 4097: not a number of MiB (0..4096)" \
	-- --stack socket --http "$PORT" --site-memory 4097

# The control: good input serves, from the archive, over both ports.
"$WEB" --block "site=$tmp/site.tar" --block "tls=$tmp/good.tar" -- \
	--stack socket --http "$PORT" --https "$SPORT" --site site \
	--tls tls >"$tmp/out" 2>&1 &
pid=$!
body=""
missing=""
if wait_for "$tmp/out" "HTTP on port" 20; then
	body=$(curl -s --max-time 5 "http://127.0.0.1:$PORT/")
	missing=$(curl -s -o /dev/null --max-time 5 \
		-w '%{http_code} %{size_download}' \
		"http://127.0.0.1:$PORT/nothere")
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "good input serves the archive's index page" [ "$body" = hi ]
check "a missing page gets the archive's (empty) 404 page: $missing" \
	[ "$missing" = "404 0" ]
[ "$body" = hi ] || diag "the website said: $(cat "$tmp/out")"
check "a small archive is served from memory by default" \
	grep -q "website: --site site: 2 files, served from memory" "$tmp/out"

# --site-memory 0: the same archive, read from the device per request.
"$WEB" --block "site=$tmp/site.tar" -- --stack socket --http "$PORT" \
	--site site --site-memory 0 >"$tmp/out" 2>&1 &
pid=$!
body=""
if wait_for "$tmp/out" "HTTP on port" 20; then
	body=$(curl -s --max-time 5 "http://127.0.0.1:$PORT/")
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
from_device=no
grep -q "website: --site site: 2 files, served from the device" "$tmp/out" &&
	from_device=yes
check "--site-memory 0: served from the device, the same page" \
	[ "$body,$from_device" = "hi,yes" ]

# resumed SESSIONS-OPTION...: how many of openssl s_client -reconnect's six
# handshakes with a website started with the options were resumed.
resumed() {
	"$WEB" --block "tls=$tmp/good.tar" -- --stack socket --http "$PORT" \
		--https "$SPORT" --tls tls --quiet "$@" >"$tmp/out" 2>&1 &
	pid=$!
	n=-1
	if wait_for "$tmp/out" "HTTP on port" 20; then
		n=$(openssl s_client -connect "127.0.0.1:$SPORT" -reconnect \
			-servername localhost </dev/null 2>/dev/null |
			grep -c '^Reused')
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$n"
}
n=$(resumed)
check "sessions are resumed by default ($n of the 5 reconnections)" \
	[ "$n" -eq 5 ]
n=$(resumed --tls-sessions 0)
check "--tls-sessions 0: every handshake full ($n resumed)" [ "$n" -eq 0 ]
done_testing
