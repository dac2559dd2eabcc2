#!/usr/bin/python3
"""Load generator for bench/tcp: one figure per run, on stdout.

  client.py send HOST PORT MIB    MB/s pushed into a discard server,
                                  counted until it closes after our FIN
  client.py recv HOST PORT MIB    MB/s pulled from a chargen server
  client.py rate HOST PORT SECS   connections per second to an echo
                                  server: connect, 1 byte there and back,
                                  close
"""
import socket
import sys
import time

CHUNK = 1 << 20


def send(host, port, mib):
    s = socket.create_connection((host, port))
    buf = b"\0" * CHUNK
    t0 = time.monotonic()
    for _ in range(mib):
        s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the server's FIN: everything arrived
    dt = time.monotonic() - t0
    s.close()
    return mib * CHUNK / dt / 1e6


def recv(host, port, mib):
    s = socket.create_connection((host, port))
    want, got = mib * CHUNK, 0
    t0 = time.monotonic()
    while got < want:
        b = s.recv(CHUNK)
        if not b:
            raise SystemExit("chargen closed early")
        got += len(b)
    dt = time.monotonic() - t0
    s.close()
    return got / dt / 1e6


def rate(host, port, secs):
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        s = socket.create_connection((host, port))
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit("echo did not answer")
        s.close()
        n += 1
    return n / (time.monotonic() - t0)


def main():
    mode, host, port, amount = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fn = {"send": send, "recv": recv, "rate": rate}[mode]
    print(f"{fn(host, port, int(amount) if mode != 'rate' else float(amount)):.1f}")


if __name__ == "__main__":
    main()
