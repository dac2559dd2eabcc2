#!/usr/bin/python3
"""Slow clients holding a website's heap (tests/website/laggards.sh).

    laggards.py HOST PORT READERS TRICKLERS SECONDS

Opens READERS connections that each ask for /big.bin with a 2 KiB receive
buffer and then read 1 KiB a second, and TRICKLERS that send a request
head a byte a second; keeps them at it for SECONDS (or until stdin
closes), then prints one line: how many of each the server ended.
"""
import select
import socket
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    readers, tricklers, seconds = map(int, sys.argv[3:6])
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000 + b"\r\n\r\n"
    conns = []  # [socket, kind, bytes, ended]
    for i in range(readers + tricklers):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(10)
        try:
            s.connect((host, port))
        except OSError:
            s.close()
            continue
        kind = "reader" if i < readers else "trickler"
        if kind == "reader":
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.setblocking(False)
        conns.append([s, kind, 0, False])
    print("opened %d" % len(conns), flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.read(1):
            break
        for c in conns:
            if c[3]:
                continue
            try:
                if c[1] == "reader":
                    got = c[0].recv(1024)
                    if not got:
                        c[3] = True
                    c[2] += len(got)
                elif c[2] < len(head):
                    c[0].send(head[c[2]:c[2] + 1])
                    c[2] += 1
                    if c[0].recv(1024, socket.MSG_PEEK) == b"":
                        c[3] = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                c[3] = True
        time.sleep(1)
    ended = {k: sum(1 for c in conns if c[1] == k and c[3])
             for k in ("reader", "trickler")}
    print("ended: readers %d of %d, tricklers %d of %d" % (
        ended["reader"], readers, ended["trickler"], tricklers), flush=True)
    for c in conns:
        c[0].close()


if __name__ == "__main__":
    main()
