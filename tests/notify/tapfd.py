#!/usr/bin/python3
"""An inherited tap (--net NAME=tapfd:FD), judged from the parent's side.

usage: tapfd.py TAP ECHO_BINARY   (inside the namespace holding TAP,
        whose Linux side is 10.82.0.1/24)

Opens TAP as a parent such as haze-jitsu would (IFF_TAP | IFF_NO_PI |
IFF_VNET_HDR), then BEFORE the unikernel starts sends one UDP datagram to
its echo port (to the broadcast MAC, so it goes at once, and never again:
no ARP, no retransmission) and starts a TCP connect to it (its ARP request
goes first); both wait in the tap. It
then starts the echo unikernel with --net service=tapfd:FD, and checks,
one TAP line each:
  - nothing answered before the start (nobody was there);
  - the datagram, sent once and never again, is echoed: the frame queued
    in the tap was read by the unikernel;
  - the connect issued before the start completes, and echoes;
  - a tun, and a tap without IFF_VNET_HDR, are refused: exit 2, one line
    naming the binding and why.
"""
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x0002, 0x1000, 0x4000
HOST = "10.82.0.2"
STACK = f"direct:service,ip={HOST}/24,gw=10.82.0.1"
results = []


def report(ok, what):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}", flush=True)


def attach(name, flags):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    return fd


def refused(echo, fd, pattern, what):
    p = subprocess.run([echo, "--net", f"service=tapfd:{fd}", "--",
                        "--stack", STACK], pass_fds=[fd],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    err = p.stderr.decode(errors="replace").strip()
    want = f"--net service=tapfd:{fd}: "
    report(p.returncode == 2 and len(err.splitlines()) == 1 and
           want in err and pattern in err,
           f"{what} is refused in one line (exit {p.returncode}: {err})")


def main():
    tap, echo = sys.argv[1], sys.argv[2]
    fd = attach(tap, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
    neigh = ["ip", "neigh", "replace", HOST, "lladdr", "ff:ff:ff:ff:ff:ff",
             "dev", tap, "nud", "permanent"]
    subprocess.run(neigh, check=True)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.sendto(b"queued before start", (HOST, 7))
    # TCP from a link broadcast is not taken: the connect resolves the
    # unikernel's address itself, by an ARP request that waits too.
    subprocess.run(["ip", "neigh", "del", HOST, "dev", tap], check=True)
    tcp = socket.socket()
    tcp.setblocking(False)
    tcp.connect_ex((HOST, 7))
    time.sleep(0.5)
    early = select.select([udp], [], [], 0)[0]
    report(not early, "nothing answers before the unikernel starts")

    r, w = os.pipe()
    p = subprocess.Popen([echo, "--net", f"service=tapfd:{fd}",
                          "--notify", str(w), "--", "--stack", STACK,
                          "--echo-port", "7"],
                         pass_fds=[fd, w], stdin=subprocess.DEVNULL,
                         stdout=sys.stderr, stderr=sys.stderr)
    os.close(w)
    try:
        got = b""
        if select.select([udp], [], [], 10)[0]:
            got = udp.recv(2048)
        report(got == b"queued before start",
               f"the datagram sent once before the start is echoed ({got!r})")
        ok, why = False, "not connected in 15 s"
        if select.select([], [tcp], [], 15)[1]:
            e = tcp.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e == 0:
                tcp.setblocking(True)
                tcp.settimeout(5)
                tcp.sendall(b"connected before start")
                data = b""
                while len(data) < 22:
                    chunk = tcp.recv(64)
                    if not chunk:
                        break
                    data += chunk
                ok, why = data == b"connected before start", repr(data)
            else:
                why = os.strerror(e)
        report(ok, f"a connect issued before the start completes and "
               f"echoes ({why})")
        notes, end = "", time.monotonic() + 5
        while "ready " not in notes and select.select(
                [r], [], [], max(0, end - time.monotonic()))[0]:
            chunk = os.read(r, 4096).decode()
            if not chunk:
                break
            notes += chunk
        events = " ".join(ln.split(" ")[0] for ln in notes.splitlines())
        report(events == "start guest main ready",
               f"--notify works beside tapfd ({events})")
    finally:
        p.terminate()
        p.wait(10)
        os.close(r)

    pid = os.getpid() % 100000
    tun = attach(f"hzn{pid}", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR)
    refused(echo, tun, f"descriptor {tun} is tun hzn{pid}, not a tap",
            "a tun")
    os.close(tun)
    bare = attach(f"hzb{pid}", IFF_TAP | IFF_NO_PI)
    refused(echo, bare, "without IFF_VNET_HDR", "a tap without IFF_VNET_HDR")
    os.close(bare)
    os.close(fd)
    return 0 if all(results) else 1


sys.exit(main())
