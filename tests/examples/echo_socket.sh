#!/bin/sh
# The echo example on the socket stack (host sockets, no privileges),
# judged by a Linux client over loopback: bulk echo intact, discard, UDP
# echo, and many concurrent connections; and ports that are not ports
# refused by echo and tls-echo.
set -u
O=${O:-build}
echo_app=$O/unix/examples/echo/echo
out=$(mktemp)
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT

# Ports from the dynamic range, different per run.
base=$((20000 + $$ % 20000))
"$echo_app" --mem 128 -- --stack socket --echo-port $base --discard-port $((base + 1)) \
	>"$out" 2>&1 &
pid=$!
for _ in $(seq 50); do
	grep -q "serving" "$out" && break
	sleep 0.1
done
/usr/bin/python3 tests/examples/echoclient.py 127.0.0.1 $base $((base + 1)) \
	--bytes $((32 << 20)) --conns 1000
rc=$?
if ! kill -0 $pid 2>/dev/null; then
	echo "not ok - the echo server died"
	sed 's/^/# /' "$out"
	rc=1
fi
# refuses N APP ARGS...: APP exits 1 naming the bad port, serving nothing.
refuses() {
	n=$1
	shift
	msg=$("$@" 2>&1)
	if [ $? -eq 1 ] && printf '%s' "$msg" | grep -q "not a port (1..65535)" &&
		! printf '%s' "$msg" | grep -q serving; then
		echo "ok $n - $(basename "$1") refuses a bad port"
	else
		echo "not ok $n - $(basename "$1") refuses a bad port"
		printf '%s\n' "$msg" | sed 's/^/# /'
		rc=1
	fi
}
refuses 5 "$echo_app" -- --stack socket --echo-port 70x
refuses 6 "$O/unix/examples/tls-echo/tls-echo" -- --stack socket --port 65536
echo "1..6"
exit $rc
