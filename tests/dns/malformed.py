#!/usr/bin/env python3
"""Hand-made bad DNS messages against a running examples/dns.

    malformed.py PORT IDLE

The server listens on 127.0.0.1:PORT (UDP and TCP), closing a TCP
connection that sends no whole query for IDLE seconds. Each case sends
one bad message and checks what comes back against docs/dns.md: nothing
for what is not a query (shorter than a header, or a response), FORMERR
with the same ID for a query that cannot be read; then a good query must
still be answered, correctly. TCP cases check framing that lies, a
client that stalls halfway while others are served, many clients at
once and pipelined queries. One TAP line per case, no plan.
"""

import socket
import struct
import sys
import threading
import time

PORT, IDLE = int(sys.argv[1]), int(sys.argv[2])
ADDR = ("127.0.0.1", PORT)
NOERROR, FORMERR = 0, 1
results = []


def tap(good, desc):
    results.append(bool(good))
    print("%s %d - %s" % ("ok" if good else "not ok", len(results), desc))
    sys.stdout.flush()


def header(qid, qd=1, an=0, ns=0, ar=0, flags=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def name(text):
    out = b""
    for label in text.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def question(text="host.haze.test", qtype=1):
    return name(text) + struct.pack(">HH", qtype, 1)


def good_query(qid):
    return header(qid) + question()


def udp(msg, wait=1.0):
    """Sends @msg, returns the reply or None after @wait seconds."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    try:
        s.sendto(msg, ADDR)
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def rcode(r):
    return struct.unpack(">H", r[2:4])[0] & 0xF


def answered_well(r, qid):
    """Whether @r answers good_query(qid): host.haze.test A 192.0.2.80."""
    if r is None or len(r) < 12:
        return False
    rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
    return (rid == qid and flags & 0x8000 and flags & 0x0400 and
            rcode(r) == NOERROR and qd == 1 and an == 1 and
            r.endswith(bytes([192, 0, 2, 80])))


def still_serves(label, qid):
    r = udp(good_query(qid), 2.0)
    tap(answered_well(r, qid), "%s: then a good query is answered" % label)


def expect_udp(label, msg, want, qid=None):
    """@want: None (no reply) or an RCODE, with ID @qid."""
    r = udp(msg)
    if want is None:
        good = r is None
        got = "nothing" if r is None else "%d bytes" % len(r)
    else:
        good = (r is not None and len(r) >= 12 and
                struct.unpack(">H", r[:2])[0] == qid and
                struct.unpack(">H", r[2:4])[0] & 0x8000 and
                rcode(r) == want and len(r) <= max(len(msg), 12) + 11)
        got = "nothing" if r is None else "rcode %d, %d bytes" % (
            rcode(r) if len(r) >= 4 else -1, len(r))
    tap(good, "%s: %s (want %s)" % (label, got,
                                    "nothing" if want is None else
                                    "rcode %d, small" % want))
    still_serves(label, 0x5000 + len(results))


# --- UDP -------------------------------------------------------------------

expect_udp("empty datagram", b"", None)
expect_udp("5 bytes", b"\x12\x34\x00\x00\x00", None)
expect_udp("a header and no question", header(0x101), FORMERR, 0x101)
expect_udp("a question cut in its name",
           header(0x102) + question()[:7], FORMERR, 0x102)
expect_udp("a question cut before its class",
           header(0x103) + question()[:-2], FORMERR, 0x103)
expect_udp("a response, not a query",
           header(0x104, flags=0x8000) + question(), None)
expect_udp("a compression loop (a pointer to itself)",
           header(0x105) + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
           FORMERR, 0x105)
expect_udp("a two-pointer loop",
           header(0x106) + b"\x01a\xc0\x0e\xc0\x0c" +
           struct.pack(">HH", 1, 1), FORMERR, 0x106)
expect_udp("a pointer past the end",
           header(0x107) + b"\x01a\xc0\xff" + struct.pack(">HH", 1, 1),
           FORMERR, 0x107)
expect_udp("a label of 64 bytes",
           header(0x108) + b"\x40" + b"a" * 64 + b"\x04haze\x04test\x00" +
           struct.pack(">HH", 1, 1), FORMERR, 0x108)
expect_udp("a label type 10 (0x80)",
           header(0x109) + b"\x80abc\x00" + struct.pack(">HH", 1, 1),
           FORMERR, 0x109)
expect_udp("a name of 320 bytes",
           header(0x10a) + (b"\x3f" + b"a" * 63) * 5 + b"\x00" +
           struct.pack(">HH", 1, 1), FORMERR, 0x10a)
expect_udp("QDCOUNT 0 with a question", header(0x10b, qd=0) + question(),
           FORMERR, 0x10b)
expect_udp("QDCOUNT 2 with one question", header(0x10c, qd=2) + question(),
           FORMERR, 0x10c)
expect_udp("QDCOUNT 2 with two questions",
           header(0x10d, qd=2) + question() + question(), FORMERR, 0x10d)
expect_udp("QDCOUNT 65535", header(0x10e, qd=65535) + question(),
           FORMERR, 0x10e)
expect_udp("ARCOUNT 1 and no record", header(0x10f, ar=1) + question(),
           FORMERR, 0x10f)
expect_udp("an OPT whose RDLENGTH runs off the end",
           header(0x110, ar=1) + question() + b"\x00\x00\x29\x04\xd0" +
           b"\x00\x00\x00\x00\x00\x40", FORMERR, 0x110)
expect_udp("ANCOUNT 65535 in a query", header(0x111, an=65535) +
           question(), FORMERR, 0x111)
# Bytes after the question that no count announces: RFC 1035 does not
# say; Haze reads what the counts announce and answers the question.
r = udp(header(0x112) + question() + b"\xde\xad\xbe\xef" * 8)
tap(r is not None and struct.unpack(">H", r[:2])[0] == 0x112 and
    rcode(r) in (NOERROR, FORMERR),
    "garbage after the question: %s" % (
        "nothing" if r is None else "rcode %d" % rcode(r)))
still_serves("garbage after the question", 0x6001)
expect_udp("64 KiB of zeros", b"\x00" * 65000, FORMERR, 0)

# --- TCP -------------------------------------------------------------------


def tcp_connect():
    s = socket.create_connection(ADDR, timeout=5)
    s.settimeout(5)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def tcp_reply(s):
    h = recv_exact(s, 2)
    if h is None:
        return None
    return recv_exact(s, struct.unpack(">H", h)[0])


def framed(msg, length=None):
    return struct.pack(">H", len(msg) if length is None else length) + msg


def tcp_good(label, qid):
    try:
        s = tcp_connect()
        s.sendall(framed(good_query(qid)))
        r = tcp_reply(s)
        s.close()
    except OSError as e:
        r = None
        label += " (%s)" % e
    tap(answered_well(r, qid), label)


def closed_by_server(s, within):
    """Whether the server closes @s (EOF or reset) within @within s."""
    s.settimeout(within)
    try:
        while True:
            c = s.recv(4096)
            if not c:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# A length that promises more than is sent, then the client closes.
s = tcp_connect()
s.sendall(framed(good_query(0x201), 100)[:20])
s.close()
tcp_good("TCP: a length prefix of 100 with 18 bytes, then close: "
         "the next client is served", 0x202)

# A length of zero: nothing to frame; the server ends the connection.
s = tcp_connect()
s.sendall(b"\x00\x00")
tap(closed_by_server(s, IDLE + 3), "TCP: a length prefix of 0 ends the "
    "connection")
s.close()

# A length shorter than the message: the first 5 bytes are a message too
# short to answer, the rest is read as the next frame and answered or not;
# then a good query on a new connection is answered.
s = tcp_connect()
msg = good_query(0x203)
s.sendall(framed(msg, 5) + msg[5:])
s.close()
tcp_good("TCP: a length prefix shorter than its message: the next client "
         "is served", 0x204)

# A message that cannot be read gets FORMERR over TCP too, and the
# connection goes on.
s = tcp_connect()
s.sendall(framed(header(0x205) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)))
r = tcp_reply(s)
tap(r is not None and struct.unpack(">H", r[:2])[0] == 0x205 and
    rcode(r) == FORMERR, "TCP: a compression loop gets FORMERR")
s.sendall(framed(good_query(0x206)))
tap(answered_well(tcp_reply(s), 0x206), "TCP: the same connection then "
    "answers a good query")
s.close()

# Pipelined queries, in one write: answered, in order (RFC 7766 6.2.1).
s = tcp_connect()
s.sendall(b"".join(framed(good_query(0x300 + i)) for i in range(10)))
ids = []
for _ in range(10):
    r = tcp_reply(s)
    ids.append(struct.unpack(">H", r[:2])[0] if r else None)
s.close()
tap(ids == [0x300 + i for i in range(10)],
    "TCP: 10 pipelined queries in one write, answered in order")

# A query sent a byte at a time is answered (one read per byte).
s = tcp_connect()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for b in framed(good_query(0x301)):
    s.sendall(bytes([b]))
    time.sleep(0.002)
tap(answered_well(tcp_reply(s), 0x301), "TCP: a query sent byte by byte "
    "is answered")
s.close()

# Half a message, then a stall: others are served meanwhile, over UDP and
# TCP, and the server closes the stalled connection after IDLE seconds.
stalled = tcp_connect()
m = framed(good_query(0x400))
stalled.sendall(m[:len(m) // 2])
t0 = time.monotonic()
tcp_good("TCP: while a client stalls halfway, another is served", 0x401)
still_serves("TCP: while a client stalls halfway, UDP", 0x402)
tap(closed_by_server(stalled, IDLE + 5), "TCP: the stalled client is "
    "closed after the idle time (%.1f s, idle %d s)" %
    (time.monotonic() - t0, IDLE))
stalled.close()

# 200 clients at once, with 20 stalled ones among them: every one of the
# others is answered.
stalls = []
for i in range(20):
    c = tcp_connect()
    c.sendall(b"\x00\x40\x00")
    stalls.append(c)
oks = []


def client(i):
    try:
        c = tcp_connect()
        c.sendall(framed(good_query(0x1000 + i)))
        oks.append(answered_well(tcp_reply(c), 0x1000 + i))
        c.close()
    except OSError:
        oks.append(False)


threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for c in stalls:
    c.close()
tap(sum(oks) == 200, "TCP: 200 clients at once beside 20 stalled ones: "
    "%d answered" % sum(oks))
still_serves("after everything", 0x7fff)
sys.exit(0 if all(results) else 1)
