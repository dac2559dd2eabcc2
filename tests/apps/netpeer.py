#!/usr/bin/python3
"""The host side of the netecho test: sends COUNT raw frames of EtherType
0x88b5 into interface IFACE, each with a distinct payload, and checks that
every one comes back turned around (addresses swapped, payload intact).

usage: netpeer.py IFACE COUNT   (needs CAP_NET_RAW)
"""
import os
import socket
import sys
import time

ETHERTYPE = 0x88B5


def main():
    iface, count = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
    s.bind((iface, 0))
    s.settimeout(0.2)
    ours = s.getsockname()[4]
    peer = b"\xff" * 6
    pending = {}
    for i in range(count):
        payload = i.to_bytes(4, "big") + os.urandom(60 + i % 1400)
        pending[payload] = i
        s.send(peer + ours + ETHERTYPE.to_bytes(2, "big") + payload)
    deadline = time.monotonic() + 10
    bad = 0
    while pending and time.monotonic() < deadline:
        try:
            frame = s.recv(4096)
        except socket.timeout:
            continue
        if frame[:6] != ours:
            continue  # our own frame, seen on the way out
        if frame[6:12] != peer:
            bad += 1
        pending.pop(frame[14:], None)
    print(f"netpeer: {count - len(pending)} of {count} frames came back, "
          f"{bad} with wrong addresses")
    return 0 if not pending and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
