#!/bin/sh
# The echo example on the socket stack (host sockets, no privileges),
# judged by a Linux client over loopback: bulk echo intact, discard, UDP
# echo, and many concurrent connections; and ports that are not ports
# refused by echo and tls-echo.
set -u
. tests/tap.sh

O=${O:-build}
echo_app=$O/unix/examples/echo/echo
tls_app=$O/unix/examples/tls-echo/tls-echo
out=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -f "$out"' EXIT

need /usr/bin/python3 python3
built "$echo_app"
built "$tls_app"
end_if_missing

# Ports from the dynamic range, different per run.
base=$((20000 + $$ % 20000))
"$echo_app" --mem 128 -- --stack socket --echo-port $base \
	--discard-port $((base + 1)) >"$out" 2>&1 &
pid=$!
for _ in $(seq 50); do
	grep -q "serving" "$out" && break
	sleep 0.1
done
if grep -q "serving" "$out"; then
	# echoclient.py reports 4 results and exits non-zero on a failure.
	client_tap "socket stack" 4 /usr/bin/python3 tests/examples/echoclient.py \
		127.0.0.1 $base $((base + 1)) --bytes $((32 << 20)) --conns 1000
else
	not_ok "the echo example starts on the socket stack"
fi
if kill -0 $pid 2>/dev/null; then
	ok "the echo server is still serving after every client"
else
	not_ok "the echo server is still serving after every client"
	diag "$(cat "$out")"
fi

# refuses APP ARGS...: APP exits 1 naming the bad port, serving nothing.
refuses() {
	msg=$("$@" 2>&1)
	if [ $? -eq 1 ] && printf '%s' "$msg" | grep -q "not a port (1..65535)" &&
		! printf '%s' "$msg" | grep -q serving; then
		ok "$(basename "$1") refuses a bad port"
	else
		not_ok "$(basename "$1") refuses a bad port"
		diag "$msg"
	fi
}
refuses "$echo_app" -- --stack socket --echo-port 70x
refuses "$tls_app" -- --stack socket --port 65536

# A tap this user may not attach: refused (exit 2) saying what to do.
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
	skip "a tap refused to a user without the right says why" \
		"needs root to run echo as nobody"
else
	# A copy nobody can reach: the build tree may lie under a
	# directory only root may enter (mktemp -d's).
	pub=$(mktemp -d)
	chmod 755 "$pub"
	cp "$echo_app" "$pub/echo"
	msg=$(su nobody -s /bin/sh -c \
		"'$pub/echo' --net service=tap:hzdenied0 -- --stack direct:service" 2>&1)
	rc=$?
	rm -rf "$pub"
	if [ "$rc" -eq 2 ] && printf '%s' "$msg" | grep -q \
		-e "not readable and writable by this user: run as root" \
		-e "needs root or CAP_NET_ADMIN, or a tap made for this user"; then
		ok "a tap refused to a user without the right says why: ${msg##*: }"
	else
		not_ok "a tap refused to a user without the right says why (exit $rc)"
		diag "$msg"
	fi
fi
done_testing
