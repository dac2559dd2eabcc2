#!/usr/bin/python3
"""Many concurrent connections to an echo server, held open, then closed.

usage: conn10k.py HOST PORT CONNS [--window N] [--timeout SECONDS]

Opens CONNS connections (at most --window connects in flight at once,
256 by default),
sends each its own message and checks it comes back intact, then prints
"# holding CONNS" and keeps every connection open until a line (or end
of file) arrives on stdin, so that the caller can measure the server
with all of them open. Then it half-closes each (our FIN) and waits for
the server's FIN: an echo server that ends its side after ours is
closing cleanly. One TAP line per step (numbered from 1, no plan):

  1 - CONNS connections established
  2 - CONNS echoes intact
  3 - CONNS connections closed by the server after our FIN

Exits 0 exactly when all three passed. Runs as root where CONNS needs
more descriptors than the soft limit: it raises RLIMIT_NOFILE itself.
"""
import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time

results = []


def report(ok, what):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}", flush=True)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        hard = want  # only root may raise the hard limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Conn:
    __slots__ = ("sock", "msg", "got", "state")

    def __init__(self, sock, msg):
        self.sock, self.msg, self.got, self.state = sock, msg, b"", "connect"


def message(i):
    # Distinct per connection and long enough that a mix-up between two
    # connections cannot go unnoticed.
    return (f"{i:05d}:" + os.urandom(24).hex() + "\n").encode()


def open_all(host, port, conns, window, deadline):
    """Connects and echoes; returns (established, echoed, Conn list)."""
    sel = selectors.DefaultSelector()
    all_conns = []
    started = established = echoed = failed = 0
    in_flight = 0
    first_error = None
    while (echoed + failed < conns) and time.monotonic() < deadline:
        while started < conns and in_flight < window:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                first_error = first_error or os.strerror(err)
                failed += 1
                started += 1
                s.close()
                continue
            c = Conn(s, message(started))
            all_conns.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
            started += 1
            in_flight += 1
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            if c.state == "connect":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    first_error = first_error or os.strerror(err)
                    failed += 1
                    in_flight -= 1
                    sel.unregister(c.sock)
                    c.state = "failed"
                    continue
                established += 1
                c.sock.send(c.msg)  # a few dozen bytes: always taken whole
                c.state = "echo"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                b = c.sock.recv(4096)
            except OSError as e:
                b = None
                first_error = first_error or str(e)
            if b:
                c.got += b
                if len(c.got) < len(c.msg):
                    continue
            in_flight -= 1
            sel.unregister(c.sock)
            if b and c.got == c.msg:
                echoed += 1
                c.state = "held"
            else:
                failed += 1
                c.state = "failed"
                first_error = first_error or f"connection {c.msg[:5].decode()} echoed {c.got[:40]!r}"
    sel.close()
    return established, echoed, all_conns, first_error


def close_all(all_conns, window, deadline):
    """Our FIN on each held connection, at most `window` awaiting the
    server's at once (10,000 FINs in one burst would overflow the tap's
    queue on the Linux side, a loss that is not the server's doing);
    counts those the server closes."""
    sel = selectors.DefaultSelector()
    held = [c for c in all_conns if c.state == "held"]
    pending = 0
    closed = 0
    while (held or pending) and time.monotonic() < deadline:
        while held and pending < window:
            c = held.pop()
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                continue
            sel.register(c.sock, selectors.EVENT_READ, c)
            pending += 1
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            try:
                b = c.sock.recv(4096)
            except OSError:
                b = b"x"
            sel.unregister(c.sock)
            pending -= 1
            closed += b == b""
    sel.close()
    for c in all_conns:
        c.sock.close()
    return closed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("conns", type=int)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    raise_nofile(a.conns + 256)
    t0 = time.monotonic()
    est, echoed, conns, why = open_all(a.host, a.port, a.conns, a.window,
                                       t0 + a.timeout)
    secs = time.monotonic() - t0
    report(est == a.conns,
           f"{a.conns} connections established ({est} in {secs:.1f} s)"
           + (f"; first failure: {why}" if why and est != a.conns else ""))
    report(echoed == a.conns, f"{a.conns} echoes intact ({echoed} right)"
           + (f"; first failure: {why}" if why and echoed != a.conns else ""))
    print(f"# holding {echoed}", flush=True)
    sys.stdin.readline()
    t1 = time.monotonic()
    closed = close_all(conns, a.window, t1 + a.timeout)
    report(closed == a.conns,
           f"{a.conns} connections closed by the server after our FIN "
           f"({closed} in {time.monotonic() - t1:.1f} s)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
