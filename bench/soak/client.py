#!/usr/bin/python3
"""The soak's load: echo connections opened and closed at random.

usage: client.py HOST PORT --duration SECONDS [--conns N] [--seed N]

For SECONDS it keeps a varying number of connections open to an echo
server (a target drawn at random between 1 and N every few seconds).
Each connection sends a random number of messages of random sizes with
random pauses between them, checks that every byte comes back in order,
then ends in one of three ways: a clean close (our FIN, then the
server's, with nothing extra), a reset (SO_LINGER 0) after its last echo,
or a reset in the middle of a message, with bytes still in flight both
ways. After SECONDS no connection starts and the open ones finish.

An error is a connection that could not be made, was reset or closed by
the server, stalled (no progress for STALL seconds), or echoed a wrong
byte. Prints one line of figures ("connections N ... errors N") and the
first errors, and exits 0 exactly when there were none.
"""
import argparse
import errno
import heapq
import os
import random
import resource
import selectors
import socket
import struct
import sys
import time

STALL = 120.0  # seconds without progress before a connection is an error
MAX_MSG = 64 * 1024
READ = 64 * 1024


class Conn:
    __slots__ = ("sock", "state", "msgs", "out", "expect", "ending",
                 "progress", "serial")

    def __init__(self, sock, msgs, ending, serial):
        self.sock = sock
        self.state = "connect"
        self.msgs = msgs  # messages still to send
        self.out = memoryview(b"")  # of the current message, unsent
        self.expect = bytearray()  # sent, not yet echoed
        self.ending = ending  # "close", "reset" or "abort"
        self.progress = time.monotonic()
        self.serial = serial


class Soak:
    def __init__(self, host, port, conns, rng):
        self.addr = (host, port)
        self.max_conns = conns
        self.rng = rng
        self.sel = selectors.DefaultSelector()
        self.live = set()
        self.timers = []  # (when, serial, conn): resume after a pause
        self.serial = 0
        self.errors = []
        self.counts = {"opened": 0, "close": 0, "reset": 0, "abort": 0,
                       "bytes": 0, "messages": 0}
        self.stopping = False

    # --- errors and endings ---------------------------------------------

    def error(self, c, why):
        self.errors.append(f"connection {c.serial}: {why}")
        self.drop(c)

    def drop(self, c):
        if c in self.live:
            self.live.discard(c)
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
        c.sock.close()
        c.state = "done"

    def reset(self, c, kind):
        # SO_LINGER 0: close sends a RST and drops what is queued.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        self.counts[kind] += 1
        self.drop(c)

    # --- the life of a connection ----------------------------------------

    def open_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        self.serial += 1
        r = self.rng.random()
        ending = "close" if r < 0.8 else "reset" if r < 0.9 else "abort"
        c = Conn(s, self.rng.randint(1, 20), ending, self.serial)
        self.counts["opened"] += 1
        err = s.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            self.errors.append(f"connection {c.serial}: connect: "
                               f"{os.strerror(err)}")
            s.close()
            return
        self.live.add(c)
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def next_message(self, c):
        """Starts the next message, or ends the connection."""
        if c.msgs == 0 or self.stopping:
            if c.ending == "close" or c.ending == "abort":
                # An abort that found no message to cut ends cleanly.
                c.state = "closing"
                try:
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError as e:
                    self.error(c, f"shutdown: {e}")
                    return
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
            else:
                self.reset(c, "reset")
            return
        c.msgs -= 1
        # Mostly small, sometimes up to 64 KiB: sizes from a log scale.
        size = int(2 ** self.rng.uniform(0, 16))
        data = self.rng.randbytes(size)
        c.out = memoryview(data)
        c.expect += data
        c.state = "echo"
        if c.ending == "abort" and c.msgs == 0:
            c.state = "aborting"  # cut this one short
        self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                        c)

    def pause(self, c):
        c.state = "pause"
        self.sel.modify(c.sock, selectors.EVENT_READ, c)
        when = time.monotonic() + self.rng.expovariate(1 / 0.05)
        heapq.heappush(self.timers, (when, c.serial, c))

    def on_event(self, c, events):
        now = time.monotonic()
        if c.state == "connect":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self.error(c, f"connect: {os.strerror(err)}")
                return
            c.progress = now
            self.next_message(c)
            return
        if events & selectors.EVENT_WRITE and c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                n = 0
            except OSError as e:
                self.error(c, f"send: {e}")
                return
            c.out = c.out[n:]
            if n:
                c.progress = now
            if c.state == "aborting" and len(c.expect) - len(c.out) > 0 \
                    and self.rng.random() < 0.5:
                self.reset(c, "abort")
                return
            if not c.out:
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
        if events & selectors.EVENT_READ:
            try:
                b = c.sock.recv(READ)
            except BlockingIOError:
                return
            except OSError as e:
                self.error(c, f"recv: {e}")
                return
            if c.state == "closing":
                if b:
                    self.error(c, f"{len(b)} bytes after our FIN")
                else:
                    self.counts["close"] += 1
                    self.drop(c)
                return
            if not b:
                self.error(c, "closed by the server "
                           f"with {len(c.expect)} bytes not echoed")
                return
            if c.expect[:len(b)] != b:
                self.error(c, "echoed a wrong byte")
                return
            del c.expect[:len(b)]
            self.counts["bytes"] += len(b)
            c.progress = now
            if c.state == "pause":
                self.error(c, f"{len(b)} bytes nobody sent")
                return
            if not c.expect and not c.out:
                self.counts["messages"] += 1
                if c.state == "aborting":
                    self.reset(c, "abort")
                elif c.msgs == 0 or self.stopping:
                    self.next_message(c)
                else:
                    self.pause(c)

    # --- the loop ------------------------------------------------------------

    def run(self, duration):
        start = time.monotonic()
        end = start + duration
        target, retarget = 1, start
        last_stall_check = start
        while True:
            now = time.monotonic()
            if not self.stopping and now >= end:
                self.stopping = True
            if self.stopping and not self.live:
                break
            if now >= retarget:
                target = self.rng.randint(1, self.max_conns)
                retarget = now + self.rng.uniform(1, 10)
            while not self.stopping and len(self.live) < target:
                self.open_one()
            while self.timers and self.timers[0][0] <= now:
                _, _, c = heapq.heappop(self.timers)
                if c.state == "pause":
                    self.next_message(c)
            timeout = 0.5
            if self.timers:
                timeout = max(0, min(timeout, self.timers[0][0] - now))
            for key, events in self.sel.select(timeout=timeout):
                if key.data.state != "done":
                    self.on_event(key.data, events)
            if now - last_stall_check >= 1:
                last_stall_check = now
                for c in list(self.live):
                    if c.state != "pause" and now - c.progress > STALL:
                        self.error(c, f"stalled in {c.state} for "
                                   f"{STALL:.0f} s")
        return time.monotonic() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--conns", type=int, default=256)
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4),
                                                              "big")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (a.conns + 64, max(hard, a.conns + 64)))
    soak = Soak(a.host, a.port, a.conns, random.Random(seed))
    secs = soak.run(a.duration)
    k = soak.counts
    print(f"seed {seed} seconds {secs:.0f} connections {k['opened']} "
          f"closed {k['close']} reset {k['reset']} aborted {k['abort']} "
          f"messages {k['messages']} bytes {k['bytes']} "
          f"errors {len(soak.errors)}", flush=True)
    for e in soak.errors[:20]:
        print(f"error: {e}")
    return 0 if not soak.errors else 1


if __name__ == "__main__":
    sys.exit(main())
