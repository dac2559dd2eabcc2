#!/usr/bin/env python3
"""Abuse of the website unikernel, all at once: slowloris connections in
a thread while the main thread sends a 1 MiB header line, request
smuggling attempts and connections of garbage. Prints one TAP line per
check (numbered from 1, no plan: tests/tap.sh's client_tap reports them)
and exits 1 if any failed.

    abuse.py HOST PORT [SLOW GARBAGE HEADER_TIMEOUT]     (13 results)

SLOW (200) connections each send a byte of a request head a second;
with the server's header timeout of HEADER_TIMEOUT (10) seconds each
must get 408 or be closed then: not before (it is not cut short), and
a few seconds late at most (trickling bytes do not extend it). A 1 MiB header line
gets 431 (or 400) and the close. Each smuggling shape gets one 400 with
Connection: close, then the close, and nothing smuggled is answered.
GARBAGE (10,000) connections of random bytes, 200 at a time, are each
ended by the server, answered with nothing but a 4xx.
"""
import collections
import os
import random
import resource
import selectors
import socket
import sys
import threading
import time

results = []
lock = threading.Lock()


def report(ok, what):
    with lock:
        results.append(ok)
        print("%sok %d - %s" % ("" if ok else "not ", len(results), what),
              flush=True)


def status_of(data):
    """The status of the response at the start of data, or None."""
    if not data.startswith(b"HTTP/1.") or b"\r\n" not in data:
        return None
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


# --- slowloris ---------------------------------------------------------------

def slowloris(host, port, n, timeout, out):
    """n connections trickling a head a byte a second; out gets, per
    connection, (seconds from its first byte to its end, status or
    None, error text or None)."""
    head = (b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n"
            b"X-Slow: " + b"a" * 200)
    sel = selectors.DefaultSelector()
    conns = {}
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.setblocking(False)
        conns[s] = {"sent": 0, "first": None, "got": b""}
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout + 20
    next_tick = time.monotonic()
    while conns and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_tick:
            for s, c in list(conns.items()):
                try:
                    s.send(head[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                    if c["first"] is None:
                        c["first"] = now
                except BlockingIOError:
                    pass
                except OSError as e:
                    # The server closed first; the read below sees it.
                    c["err"] = str(e)
            next_tick += 1.0
        for key, _ in sel.select(max(0.0, next_tick - time.monotonic())):
            s = key.fileobj
            c = conns[s]
            try:
                data = s.recv(4096)
            except OSError as e:
                data, c["err"] = b"", str(e)
            c["got"] += data
            if not data or status_of(c["got"]) is not None:
                out.append((time.monotonic() - (c["first"] or now),
                            status_of(c["got"]), c.get("err")))
                sel.unregister(s)
                s.close()
                del conns[s]
    for s, c in conns.items():
        out.append((None, None, "still open after %d s" % (timeout + 20)))
        s.close()


# --- one request, its answer ------------------------------------------------------

def exchange(host, port, data, wait=10.0):
    """Sends data (as the server takes it), reads until the close: (all
    bytes received, closed, bytes sent)."""
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    got, sent, closed = b"", 0, False
    end = time.monotonic() + wait
    try:
        while time.monotonic() < end:
            for key, ev in sel.select(max(0.0, end - time.monotonic())):
                if ev & selectors.EVENT_WRITE:
                    try:
                        sent += s.send(data[sent:sent + 65536])
                    except OSError:
                        sent = len(data)  # the server stopped reading
                    if sent >= len(data) or b"\r\n\r\n" in got:
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        more = s.recv(65536)
                    except OSError:
                        more = b""  # a reset after the answer: closed
                    if not more:
                        closed = True
                        return got, closed, sent
                    got += more
                    if b"\r\n\r\n" in got and sent < len(data):
                        sel.modify(s, selectors.EVENT_READ)
        return got, closed, sent
    finally:
        sel.close()
        s.close()


SMUGGLING = [
    ("Transfer-Encoding with Content-Length",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
     b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ("two different Content-Lengths",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
     b"Content-Length: 45\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n"
     b"Host: localhost\r\n\r\n"),
    ("a Content-Length list that differs",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 6\r\n\r\n"
     b"hello!"),
    ("a chunk size that is not hexadecimal",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("a chunk size past 64 bits",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("obs-fold (a field line starting with a space)",
     b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n"
     b" Transfer-Encoding: chunked\r\n\r\n"),
    ("an unknown transfer coding",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n"
     b"\r\n"),
    ("whitespace between a field name and its colon",
     b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\n"
     b"hello"),
    ("Transfer-Encoding in HTTP/1.0",
     b"POST / HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n"),
    ("bare LF line ends",
     b"GET / HTTP/1.1\nHost: localhost\n\n"),
]


def smuggling(host, port):
    for what, data in SMUGGLING:
        got, closed, _ = exchange(host, port, data)
        st = status_of(got)
        head, _, rest = got.partition(b"\r\n\r\n")
        length = 0
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        extra = len(rest) - length
        report(st == 400 and extra == 0 and closed and
               b"connection: close" in head.lower(),
               "smuggling, %s: 400 with Connection: close, then the close, "
               "nothing more answered (status %s, %d bytes more, closed %s)"
               % (what, st, extra, closed))


def big_header(host, port):
    data = (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " +
            b"a" * (1 << 20) + b"\r\n\r\n")
    got, closed, sent = exchange(host, port, data, 15)
    st = status_of(got)
    report(st in (431, 400) and closed,
           "a 1 MiB header line: %s and the close (closed %s; %d of its "
           "bytes sent when the answer came)" % (st, closed, sent))


# --- garbage -------------------------------------------------------------------

def garbage(host, port, total, at_once):
    """total connections of random bytes, at_once at a time: half send
    binary noise and shut their side, half a printable line and an empty
    one and wait. Returns (ended, statuses Counter, failures list)."""
    rng = random.Random(0x4a7e)
    printable = bytes(range(0x21, 0x7f)) + b" "
    sel = selectors.DefaultSelector()
    started = ended = 0
    statuses = collections.Counter()
    failures = []
    live = {}

    def start():
        nonlocal started
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        if started % 2:
            data = os.urandom(rng.randint(1, 2048))
        else:
            data = bytes(rng.choice(printable)
                         for _ in range(rng.randint(1, 1000))) + b"\r\n\r\n"
        live[s] = {"data": data, "shut": started % 2 == 1, "got": b"",
                   "end": time.monotonic() + 15}
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
        started += 1

    def finish(s, why=None):
        nonlocal ended
        c = live.pop(s)
        st = status_of(c["got"])
        if st is not None:
            statuses[st] += 1
        if why:
            failures.append(why)
        sel.unregister(s)
        s.close()
        ended += 1

    while started < total or live:
        while started < total and len(live) < at_once:
            start()
        for key, ev in sel.select(0.5):
            s = key.fileobj
            c = live[s]
            try:
                if ev & selectors.EVENT_WRITE and c["data"]:
                    c["data"] = c["data"][s.send(c["data"]):]
                    if not c["data"]:
                        if c["shut"]:
                            s.shutdown(socket.SHUT_WR)
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    more = s.recv(65536)
                    if not more:
                        finish(s)
                        continue
                    c["got"] += more
            except (ConnectionResetError, BrokenPipeError):
                finish(s)  # the server ended it
            except OSError as e:
                finish(s, "connection error %s" % e)
        now = time.monotonic()
        for s, c in list(live.items()):
            if now > c["end"]:
                finish(s, "not ended by the server in 15 s")
    return ended, statuses, failures


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    host, port = sys.argv[1], int(sys.argv[2])
    n_slow = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    n_garbage = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    slow = []
    t = threading.Thread(target=slowloris,
                         args=(host, port, n_slow, timeout, slow))
    t0 = time.monotonic()
    t.start()
    time.sleep(0.5)  # the slow connections open first
    big_header(host, port)
    smuggling(host, port)
    g0 = time.monotonic()
    ended, statuses, failures = garbage(host, port, n_garbage, 200)
    g1 = time.monotonic()
    bad_status = {s: n for s, n in statuses.items() if not 400 <= s < 500}
    report(ended == n_garbage and not failures and not bad_status,
           "%d connections of garbage, 200 at a time, each ended by the "
           "server in %.1f s, answered only with 4xx (%s)%s" % (
               n_garbage, g1 - g0,
               ", ".join("%d: %d" % kv for kv in sorted(statuses.items())),
               "" if not failures and not bad_status else
               ": %d failed, e.g. %s; statuses %s" % (
                   len(failures), failures[:3], bad_status)))
    t.join()
    times = [x[0] for x in slow if x[0] is not None]
    got408 = sum(1 for x in slow if x[1] == 408)
    late = [x for x in slow
            if x[0] is None or not timeout - 0.5 <= x[0] <= timeout + 5]
    other = [x for x in slow if x[1] not in (408, None)]
    report(len(slow) == n_slow and not late and not other,
           "%d slowloris connections, a byte a second: each got 408 (%d) "
           "or was closed, %.1f to %.1f s after its first byte "
           "(header timeout %g s; %.0f s in all)%s" % (
               n_slow, got408, min(times or [0]), max(times or [0]),
               timeout, time.monotonic() - t0,
               "" if not late and not other else
               ": late %s, other %s" % (late[:3], other[:3])))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
