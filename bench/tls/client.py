#!/usr/bin/python3
"""Load generator for bench/tls: one figure per run, on stdout.

  client.py echo HOST PORT MIB [CAFILE]   MB/s through an echo server,
                                          over TLS when CAFILE is given
                                          (SNI and name "localhost")
"""
import selectors
import socket
import ssl
import sys
import time

CHUNK = 1 << 16


def pump(s, total):
    """Sends TOTAL bytes and reads TOTAL back, in one thread: an SSL
    object must not be read and written from two threads at once."""
    buf = memoryview(b"\0" * CHUNK)
    sent = got = 0
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    deadline = time.monotonic() + 120
    while got < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"echo stalled at {got} of {total} bytes")
        want = selectors.EVENT_READ
        if sent < total:
            want |= selectors.EVENT_WRITE
        sel.modify(s, want)
        for _, ev in sel.select(timeout=1):
            if ev & selectors.EVENT_WRITE and sent < total:
                try:
                    sent += s.send(buf[:min(CHUNK, total - sent)])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError):
                    pass
            # Read what the socket (and the SSL object) holds.
            while True:
                try:
                    b = s.recv(1 << 20)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError):
                    break
                if not b:
                    raise SystemExit(f"echo ended at {got} of {total}")
                got += len(b)
    return got


def main():
    host, port, mib = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.create_connection((host, port))
    if len(sys.argv) > 5:
        ctx = ssl.create_default_context(cafile=sys.argv[5])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE+AESGCM")
        s = ctx.wrap_socket(s, server_hostname="localhost")
    total = mib << 20
    t0 = time.monotonic()
    got = pump(s, total)
    dt = time.monotonic() - t0
    if got != total:
        raise SystemExit(f"echo returned {got} of {total} bytes")
    print(f"{total / dt / 1e6:.1f}")


if __name__ == "__main__":
    main()
