#!/bin/sh
# bench/client/client.c, the load generator of bench/tcp and bench/tls,
# reports what it measures and fails loudly: each mode prints one positive
# figure against examples/echo and examples/tls-echo on the host's socket
# stack (in a namespace of its own, root), and a refused connection, a bad
# command line, echoed data that differ, an untrusted certificate or a TLS
# client talking to a plain server each end it non-zero with one line on
# stderr. Not a benchmark: the figures are not judged.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
bin=$O/bench/bench/client/client
echo_bin=$O/unix/examples/echo/echo
tls_bin=$O/unix/examples/tls-echo/tls-echo
certs=$O/gen/tls/certs
built "$bin"
built "$echo_bin"
built "$tls_bin"
built "$certs/ca.pem"
end_if_missing

tmp=$(mktemp -d)
ns=hzcl$$
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

# refused WHAT STATUS TEXT ARGS...: client ARGS exits STATUS, saying TEXT on
# one line of stderr and nothing on stdout. ($run may prefix the command.)
run=
refused() {
	what=$1 want=$2 text=$3
	shift 3
	$run "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$want" ] && [ ! -s "$tmp/out" ] &&
		[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF "$text" "$tmp/err"; then
		ok "client refuses $what"
	else
		not_ok "client refuses $what (exit $rc, want $want)"
		diag "$(cat "$tmp/out" "$tmp/err")"
	fi
}

# figure WHAT ARGS...: client ARGS exits 0 printing one positive number.
figure() {
	what=$1
	shift
	$run "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] &&
		grep -qxE '[0-9]+\.[0-9]' "$tmp/out" &&
		[ "$(wc -l <"$tmp/out")" -eq 1 ] &&
		awk '$1 <= 0 { exit 1 }' "$tmp/out"; then
		ok "client $what prints one figure ($(cat "$tmp/out"))"
	else
		not_ok "client $what prints one figure (exit $rc)"
		diag "$(cat "$tmp/out" "$tmp/err")"
	fi
}

refused "no arguments" 2 "usage: client"
refused "an unknown mode" 2 "usage: client" fetch 127.0.0.1 7 1
refused "an extra argument" 2 "usage: client" recv 127.0.0.1 19 1 x
refused "zero MiB" 1 "not a positive number of MiB" recv 127.0.0.1 19 0
refused "a count that is not a number" 1 "not a positive number of seconds" \
	rate 127.0.0.1 7 3s
refused "a host it cannot resolve" 1 "no.such.host.invalid port 7" \
	rate no.such.host.invalid 7 1
port=$(free_port)
refused "a closed port" 1 "connect to 127.0.0.1 port $port: Connection refused" \
	recv 127.0.0.1 "$port" 1
refused "a missing CA file" 1 "$tmp/none.pem: No such file" \
	echo 127.0.0.1 "$port" 1 "$tmp/none.pem"

if why=$(netns_unusable); then
	skip "client against examples/echo and tls-echo" "$why"
	done_testing
	exit
fi
if ! ip netns add $ns || ! ip -n $ns link set lo up; then
	not_ok "a namespace for the servers"
	done_testing
	exit 1
fi
ip netns exec $ns "$echo_bin" --mem 256 -- --stack socket --quiet \
	>"$tmp/echo.out" 2>&1 &
ip netns exec $ns "$tls_bin" --mem 256 -- --stack socket --quiet \
	>"$tmp/tls.out" 2>&1 &
if wait_for "$tmp/echo.out" serving 10 && wait_for "$tmp/tls.out" serving 10
then
	ok "examples/echo and tls-echo serve on the socket stack"
else
	not_ok "examples/echo and tls-echo serve on the socket stack"
	diag "$(cat "$tmp/echo.out" "$tmp/tls.out")"
	done_testing
	exit 1
fi

run="ip netns exec $ns"
figure "send (into discard)" send 127.0.0.1 9 16
figure "recv (from chargen)" recv 127.0.0.1 19 16
figure "rate (to echo)" rate 127.0.0.1 7 1
figure "echo, plain" echo 127.0.0.1 7 16
figure "echo over TLS" echo 127.0.0.1 4433 16 "$certs/ca.pem"
refused "echoed data that differ (chargen's)" 1 "echo returned" \
	echo 127.0.0.1 19 1
refused "a certificate no anchor signed" 1 \
	"the server's certificate is not trusted" \
	echo 127.0.0.1 4433 1 "$certs/rogue-ca.pem"
refused "a plain server where TLS was asked for" 1 "TLS failed after 0" \
	echo 127.0.0.1 7 1 "$certs/ca.pem"
refused "a file with no certificate as CA file" 1 "no CERTIFICATE in it" \
	echo 127.0.0.1 4433 1 "$certs/ca.key"
done_testing
