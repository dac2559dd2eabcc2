#!/bin/sh
# TLS interop on loopback, on the socket stack: OpenSSL's s_client and
# curl complete handshakes with examples/tls-echo and exchange data; Haze's
# TLS client (tests/tls/tlsclient) talks to `openssl s_server`; an expired
# certificate, a wrong host name and an untrusted issuer are each refused
# with a message naming the reason. TAP on stdout.
#
# The certificates are the build's ($O/gen/tls/certs, tests/tls/mkcerts.sh),
# the very ones compiled into tls-echo and tlsclient.
set -u
. tests/tap.sh
. tests/net/lib.sh
. tests/tls/suites.sh

O=${O:-build}
echo_app=$O/unix/examples/tls-echo/tls-echo
client=$O/unix/tests/tls/tlsclient/tlsclient
certs=$O/gen/tls/certs
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# What `make test` installs and builds is required (missing: a failure).
need openssl openssl
need curl curl
need /usr/bin/python3 python3
built "$echo_app"
built "$client"
built "$certs/ca.pem"
end_if_missing

echo_port=$(free_port)

# feed TEXT_FILE OUT_FILE: prints TEXT_FILE, then lingers (up to 15 s) until
# OUT_FILE holds its echo: a client's stdin that ends only once the echo
# is back, however slow the machine. (One-line texts are looked for as a
# line; longer ones as the end of OUT_FILE.)
feed() {
	cat "$1"
	want=$(wc -c <"$1")
	for _ in $(seq 150); do
		if [ "$want" -lt 200 ]; then
			grep -qxF -f "$1" "$2" 2>/dev/null && break
		else
			tail -c "$want" "$2" | cmp -s - "$1" && break
		fi
		sleep 0.1
	done
}

"$echo_app" --mem 64 -- --stack socket --port "$echo_port" >"$tmp/echo.out" 2>&1 &
pids="$pids $!"
echo_pid=$!
if ! wait_for "$tmp/echo.out" "serving TLS echo"; then
	not_ok "tls-echo starts on port $echo_port"
	diag "$(cat "$tmp/echo.out")"
	done_testing
	exit 1
fi

# --- openssl s_client -> tls-echo -------------------------------------------

line="hello from s_client $$"
printf '%s\n' "$line" >"$tmp/line"
feed "$tmp/line" "$tmp/sc.out" | timeout 20 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
	-servername localhost -CAfile "$certs/ca.pem" -verify_return_error \
	>"$tmp/sc.out" 2>&1
if grep -q "Verify return code: 0 (ok)" "$tmp/sc.out" &&
	grep -q "Protocol  *: TLSv1.2" "$tmp/sc.out" &&
	grep -qx "$line" "$tmp/sc.out"; then
	ok "openssl s_client: verified TLS 1.2 handshake, line echoed"
else
	not_ok "openssl s_client: verified TLS 1.2 handshake, line echoed"
	diag "$(tail -n 30 "$tmp/sc.out")"
fi
diag "s_client: $(grep -m1 'Cipher is' "$tmp/sc.out")"

# 1 MiB through s_client and back, compared byte for byte.
head -c 1048576 /dev/urandom >"$tmp/bulk.in"
base64 -w 76 "$tmp/bulk.in" >"$tmp/bulk.b64"
feed "$tmp/bulk.b64" "$tmp/bulk.out" | timeout 30 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
	-servername localhost -CAfile "$certs/ca.pem" -verify_return_error \
	>"$tmp/bulk.out" 2>"$tmp/bulk.err"
if tail -c "$(wc -c <"$tmp/bulk.b64")" "$tmp/bulk.out" | cmp -s - "$tmp/bulk.b64"; then
	ok "openssl s_client: $(wc -c <"$tmp/bulk.b64") bytes echoed intact"
else
	not_ok "openssl s_client: bulk echo intact ($(wc -c <"$tmp/bulk.out") of $(wc -c <"$tmp/bulk.b64") bytes back)"
	diag "$(tail -n 5 "$tmp/bulk.err")"
fi

# Each AEAD suite and both certificate types (SNI picks the RSA chain).
for spec in $TLS_SUITES; do
	set -- "${spec%%:*}" "${spec#*:}"
	echo ping >"$tmp/ping"
	: >"$tmp/suite.out"
	feed "$tmp/ping" "$tmp/suite.out" | timeout 20 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
		-servername "$2" -CAfile "$certs/ca.pem" -verify_return_error \
		-tls1_2 -cipher "$1" >"$tmp/suite.out" 2>&1
	if grep -q "Cipher is $1" "$tmp/suite.out" &&
		grep -q "Verify return code: 0 (ok)" "$tmp/suite.out" &&
		grep -qx ping "$tmp/suite.out"; then
		ok "openssl s_client: $1 with SNI $2"
	else
		not_ok "openssl s_client: $1 with SNI $2"
		diag "$(tail -n 20 "$tmp/suite.out")"
	fi
done

# Session resumption: s_client -reconnect resumes the first session five
# times; with another SNI name it gets a session of its own.
for name in localhost rsa.haze.test; do
	timeout 20 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
		-servername "$name" -CAfile "$certs/ca.pem" -verify_return_error \
		-tls1_2 -reconnect </dev/null >"$tmp/reuse.out" 2>&1
	new=$(grep -c "^New, TLSv1.2" "$tmp/reuse.out")
	reused=$(grep -c "^Reused, TLSv1.2" "$tmp/reuse.out")
	check "openssl s_client -reconnect with SNI $name: 1 new session, then $reused of 5 resumed" \
		test "$new" -eq 1 -a "$reused" -eq 5
	[ "$reused" -eq 5 ] || diag "$(grep -E '^(New|Reused)|error' "$tmp/reuse.out" | head)"
done

# The key exchange is X25519 whenever the client offers it, even last;
# P-256 before P-384 otherwise.
for spec in "X25519:P-256 X25519" "P-256:X25519 X25519" \
	"P-384:P-256 ECDH,_prime256v1"; do
	set -- $spec
	set -- "$1" "$(echo "$2" | tr _ ' ')"
	timeout 20 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
		-servername localhost -CAfile "$certs/ca.pem" -tls1_2 \
		-groups "$1" </dev/null >"$tmp/group.out" 2>&1
	got=$(sed -n 's/^Server Temp Key: \(.*\), [0-9]* bits$/\1/p' "$tmp/group.out")
	check "client groups $1: key exchange on $2 ($got)" [ "$got" = "$2" ]
done

# Anything but TLS 1.2 ECDHE+AEAD is refused.
timeout 10 openssl s_client -nocommands -connect 127.0.0.1:"$echo_port" \
	-servername localhost -CAfile "$certs/ca.pem" -tls1_2 \
	-cipher AES128-SHA </dev/null >"$tmp/weak.out" 2>&1
if grep -q "Cipher is (NONE)\|handshake failure\|alert" "$tmp/weak.out" &&
	! grep -q "Cipher is AES128-SHA" "$tmp/weak.out"; then
	ok "a client offering only RSA key exchange with CBC is refused"
else
	not_ok "a client offering only RSA key exchange with CBC is refused"
	diag "$(tail -n 10 "$tmp/weak.out")"
fi

# --- curl -> tls-echo (HTTP over ALPN http/1.1) -----------------------------

curl -sS -v --max-time 20 --cacert "$certs/ca.pem" \
	"https://localhost:$echo_port/haze-$$" >"$tmp/curl.out" \
	2>"$tmp/curl.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^GET /haze-$$ HTTP/1.1" "$tmp/curl.out" &&
	grep -q "ALPN: server accepted http/1.1" "$tmp/curl.err"; then
	ok "curl --cacert: verified handshake, ALPN http/1.1, request echoed"
else
	not_ok "curl --cacert: handshake and HTTP exchange (exit $rc)"
	diag "$(tail -n 20 "$tmp/curl.err")"
fi
diag "curl: $(grep -m1 'SSL connection using' "$tmp/curl.err")"
# Without the test CA, curl refuses the server and says so by alert.
curl -sS --max-time 20 "https://localhost:$echo_port/" >/dev/null 2>"$tmp/curl2.err"
rc=$?
if [ "$rc" -eq 60 ] && wait_for "$tmp/echo.out" "peer sent alert unknown_ca"; then
	ok "curl without the CA refuses; tls-echo logs 'TLS: peer sent alert unknown_ca'"
else
	not_ok "curl without the CA refuses, named by tls-echo (exit $rc)"
	diag "$(tail -n 5 "$tmp/echo.out")"
fi

# A TCP reset under a TLS session reaches the server as a reset, naming
# both layers.
if /usr/bin/python3 tests/tls/reset_client.py "$echo_port" "$certs/ca.pem" \
	>"$tmp/reset.out" 2>&1 &&
	wait_for "$tmp/echo.out" "connection ended: TLS: TCP 127.0.0.1:[0-9]*: .*reset"; then
	ok "a TCP reset under TLS: $(grep -m1 'connection ended: TLS: TCP' "$tmp/echo.out" | sed 's/.*connection ended: //')"
else
	not_ok "a TCP reset under TLS is reported naming both layers"
	diag "$(cat "$tmp/reset.out")"
	diag "$(tail -n 5 "$tmp/echo.out")"
fi

# Many sessions at once, each its own fiber.
curls=
for i in $(seq 50); do
	curl -sS --max-time 20 --cacert "$certs/ca.pem" \
		"https://localhost:$echo_port/c$i" >"$tmp/par.$i" 2>&1 &
	curls="$curls $!"
done
# shellcheck disable=SC2086
wait $curls
good=0
for i in $(seq 50); do
	grep -q "^GET /c$i HTTP/1.1" "$tmp/par.$i" && good=$((good + 1))
done
check "50 concurrent curl sessions each get their own request back ($good)" \
	[ "$good" -eq 50 ]

if kill -0 "$echo_pid" 2>/dev/null; then
	ok "tls-echo is still serving after every client"
else
	not_ok "tls-echo is still serving after every client"
	diag "$(tail -n 20 "$tmp/echo.out")"
fi

# --- Haze's client -> openssl s_server ----------------------------------------

# s_server NAME PORT: serves chain NAME with -www on PORT, in the background.
s_server() {
	openssl s_server -accept "127.0.0.1:$2" -cert "$certs/$1.pem" \
		-key "$certs/$1.key" -tls1_2 -www -alpn http/1.1 \
		>"$tmp/ss-$1.out" 2>&1 &
	pids="$pids $!"
	wait_for "$tmp/ss-$1.out" "ACCEPT"
}

port=$(free_port)
if s_server ec "$port"; then
	timeout 20 "$client" --mem 64 -- --connect 127.0.0.1:"$port" \
		--name localhost --alpn http/1.1 \
		--send "GET / HTTP/1.0
" >"$tmp/cl.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "tlsclient: handshake ok: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 http/1.1" "$tmp/cl.out" &&
		grep -q "HTTP/1.0 200 ok" "$tmp/cl.out" &&
		grep -q "tlsclient: done" "$tmp/cl.out"; then
		ok "Haze's TLS client gets a page from openssl s_server (ALPN http/1.1)"
	else
		not_ok "Haze's TLS client gets a page from openssl s_server (exit $rc)"
		diag "$(tail -n 20 "$tmp/cl.out")"
	fi
else
	not_ok "openssl s_server starts on port $port"
fi

# refused NAME SNI WHY: the client must refuse s_server's chain NAME.
refused() {
	port=$(free_port)
	if ! s_server "$1" "$port"; then
		not_ok "openssl s_server starts with $1.pem"
		return
	fi
	timeout 20 "$client" --mem 64 -- --connect 127.0.0.1:"$port" \
		--name "$2" >"$tmp/cl-$1.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "tlsclient: error: $3" "$tmp/cl-$1.out"; then
		ok "$1 certificate refused: $(grep -m1 'tlsclient: error' "$tmp/cl-$1.out" | sed 's/^tlsclient: error: //')"
	else
		not_ok "$1 certificate refused with '$3' (exit $rc)"
		diag "$(tail -n 10 "$tmp/cl-$1.out")"
	fi
}
refused expired localhost "TLS: certificate rejected: expired"
refused wrongname localhost "TLS: certificate rejected: wrong host name"
refused rogue localhost "TLS: certificate rejected: untrusted issuer"

done_testing
