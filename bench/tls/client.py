#!/usr/bin/python3
"""Load generator for bench/tls: one figure per run, on stdout.

  client.py echo HOST PORT MIB [CAFILE]   MB/s through an echo server,
                                          over TLS when CAFILE is given
                                          (SNI and name "localhost")
"""
import socket
import ssl
import sys
import threading
import time

CHUNK = 1 << 16


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
    buf = b"\0" * CHUNK
    got = 0

    def reader():
        nonlocal got
        while got < total:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)

    t = threading.Thread(target=reader)
    t0 = time.monotonic()
    t.start()
    for _ in range(total // CHUNK):
        s.sendall(buf)
    t.join()
    dt = time.monotonic() - t0
    if got != total:
        raise SystemExit(f"echo returned {got} of {total} bytes")
    print(f"{total / dt / 1e6:.1f}")


if __name__ == "__main__":
    main()
