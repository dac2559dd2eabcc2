#!/bin/sh
# The echo example on the socket stack (host sockets, no privileges),
# judged by a Linux client over loopback: bulk echo intact, discard, UDP
# echo, and many concurrent connections.
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
echo "1..4"
exit $rc
