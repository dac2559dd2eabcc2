#!/bin/sh
# bench/tcp's lwIP column serves what examples/echo serves: its server,
# bench/tcp/lwip/lwip-echo on Debian's lwIP, judged by a Linux client
# through a tap in a namespace (root), so that the column measures a
# working echo, discard and chargen. Bad command lines are refused with a
# one-line error, everywhere. Not a benchmark: nothing here is timed.
set -u
. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
bin=$O/bench/bench/tcp/lwip/lwip-echo
built "$bin"
end_if_missing

# refused WHAT STATUS TEXT ARGS...: lwip-echo ARGS exits STATUS, saying
# TEXT on one line of stderr and nothing else.
refused() {
	what=$1 want=$2 text=$3
	shift 3
	"$bin" "$@" >/dev/null 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -qF "$text" "$tmp/err"; then
		ok "lwip-echo refuses $what"
	else
		not_ok "lwip-echo refuses $what (exit $rc, want $want)"
		diag "$(cat "$tmp/err")"
	fi
}

tmp=$(mktemp -d)
ns=hzlw$$ tap=hzlwt$$
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

refused "no arguments" 2 "usage: lwip-echo"
refused "an address without a prefix" 1 "not A.B.C.D/PREFIX" \
	--tap x --ip 10.94.0.2
refused "an address out of range" 1 "not A.B.C.D/PREFIX" \
	--tap x --ip 10.94.0.300/24
refused "a prefix of 31" 1 "not A.B.C.D/PREFIX" --tap x --ip 10.94.0.2/31
refused "an unknown option" 2 "usage: lwip-echo" --tap x --ip 10.94.0.2/24 -v
refused "a tap name too long" 1 "name too long" \
	--tap hzlwverylongtapname0 --ip 10.94.0.2/24

if why=$(netns_unusable); then
	skip "lwip-echo serves echo, discard and chargen through a tap" "$why"
	done_testing
	exit
fi

netns_up $ns $tap 10.94.0.1/24 || {
	not_ok "a namespace with a tap"
	done_testing
	exit 1
}
ip netns exec $ns "$bin" --tap $tap --ip 10.94.0.2/24 >"$tmp/out" 2>&1 &
pid=$!
if wait_for "$tmp/out" serving 10; then
	ok "lwip-echo starts on a tap"
else
	not_ok "lwip-echo starts on a tap"
	diag "$(cat "$tmp/out")"
	done_testing
	exit 1
fi

# The client: one TAP line per check, numbered from 1, no plan.
client_tap "lwip-echo" 6 ip netns exec $ns /usr/bin/python3 - <<'PY'
import socket, sys, threading

HOST = "10.94.0.2"
n = 0
failed = 0

def report(good, what):
    global n, failed
    n += 1
    failed += not good
    print(("ok %d - " if good else "not ok %d - ") % n + what, flush=True)

def connect(port):
    s = socket.create_connection((HOST, port), timeout=10)
    return s

def drain(s, into):
    while True:
        b = s.recv(1 << 16)
        if not b:
            return
        into.extend(b)

# examples/echo's chargen pattern.
PATTERN = bytes(10 if i % 74 == 73 else 33 + (i // 74 + i % 74) % 94
                for i in range(65536))

s = connect(7)
s.sendall(b"x")
report(s.recv(1) == b"x", "echo answers one byte")
s.close()

data = bytes((i * 7 + i // 251) & 0xff for i in range(4 << 20))
s = connect(7)
got = bytearray()
t = threading.Thread(target=drain, args=(s, got))
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join(30)
report(not t.is_alive() and bytes(got) == data,
       "echo sends back 4 MiB intact (written while reading), then its FIN "
       "(%d bytes back)" % len(got))
s.close()

s = connect(9)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
back = bytearray()
drain(s, back)
report(len(back) == 0, "discard takes 4 MiB, sends nothing back, then its FIN")
s.close()

s = connect(19)
got = bytearray()
while len(got) < 4 * len(PATTERN):
    b = s.recv(1 << 16)
    if not b:
        break
    got.extend(b)
s.close()
report(bytes(got[:4 * len(PATTERN)]) == PATTERN * 4,
       "chargen sends examples/echo's pattern, 256 KiB of it in order")

answered = 0
for _ in range(200):
    s = connect(7)
    s.sendall(b"y")
    answered += s.recv(1) == b"y"
    s.close()
report(answered == 200, "echo answers 200 connections in a row (%d)" % answered)

s = connect(19)
s.recv(1000)
s.close()  # unread data: Linux resets the connection
s = connect(7)
s.sendall(b"z")
report(s.recv(1) == b"z", "echo answers after a chargen client reset")
s.close()
sys.exit(1 if failed else 0)
PY

kill -TERM $pid
wait $pid
rc=$?
counters=$(grep "lwip-echo: counters:" "$tmp/out")
# field NAME: the counter NAME of the last line.
field() {
	printf '%s\n' "$counters" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
if [ "$rc" -eq 0 ] && [ -n "$counters" ] && [ "$(field rx_frames)" -gt 0 ] &&
	[ "$(field accepted)" -ge 206 ] && [ "$(field tx_dropped)" -eq 0 ] &&
	[ "$(field rx_nomem)" -eq 0 ] && [ "$(field write_errors)" -eq 0 ]; then
	ok "on SIGTERM it prints its counters and exits 0 (nothing dropped)"
else
	not_ok "on SIGTERM it prints its counters and exits 0 (nothing dropped)"
	diag "exit $rc: $(cat "$tmp/out")"
fi
done_testing
