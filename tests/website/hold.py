#!/usr/bin/python3
"""Holds connections open to a server that says nothing, as a client
trying to exhaust its memory would: N plain TCP connections that never
send, and T TLS connections that finish the handshake and then send
nothing. Prints "held N T" once they are open, then holds them until
stdin closes (or SECONDS pass), and prints how many the server closed.

    hold.py HOST HTTP_PORT HTTPS_PORT N T SECONDS
"""
import select
import socket
import ssl
import sys
import time


def main():
    host, http, https = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n, t, seconds = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    held = []
    for _ in range(n):
        try:
            held.append(socket.create_connection((host, http), timeout=5))
        except OSError:
            break
    plain = len(held)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = 0
    for _ in range(t):
        try:
            s = socket.create_connection((host, https), timeout=5)
            held.append(ctx.wrap_socket(s, server_hostname="localhost"))
            tls += 1
        except (OSError, ssl.SSLError):
            pass
    print("held %d %d" % (plain, tls), flush=True)
    select.select([sys.stdin], [], [], seconds)
    closed = 0
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError:
            closed += 1
        s.close()
    print("closed by the server %d of %d" % (closed, len(held)), flush=True)


if __name__ == "__main__":
    main()
