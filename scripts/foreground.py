#!/usr/bin/env python3
"""Runs a unikernel in the foreground for `make run`, until Ctrl-C.

    foreground.py PORT -- COMMAND [ARGS...]

The unikernel gets a process group of its own and, when there is a
terminal, becomes the terminal's foreground group: Ctrl-C then reaches it
alone, not make, so `make run` ends with status 0. Once PORT answers HTTP
on 127.0.0.1 it prints the URLs and the time from start to that first
answer. Without a terminal, SIGINT or SIGTERM to this process is passed
on to the unikernel. Exits 0 when the unikernel stopped on an interrupt,
its own status otherwise.
"""
import os
import signal
import socket
import subprocess
import sys
import time


def answers(port):
    """Whether an HTTP server answers a HEAD on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: foreground.py PORT -- COMMAND [ARGS...]")
    port, cmd = int(sys.argv[1]), sys.argv[3:]
    if answers(port):
        sys.exit("haze: port %d already answers: is a site already "
                 "running? (HAZE_HTTP_PORT moves it)" % port)
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        tty = None
    start = time.monotonic()
    child = subprocess.Popen(cmd, process_group=0)
    interrupted = []

    def forward(sig, frame):
        interrupted.append(sig)
        try:
            os.kill(child.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    if tty is not None:
        try:
            os.tcsetpgrp(tty, child.pid)
        except OSError:
            pass  # not our terminal: signals are forwarded instead
    while child.poll() is None:
        if answers(port):
            ms = (time.monotonic() - start) * 1000
            urls = ["http://localhost:%d/" % port]
            urls += os.environ.get("HAZE_URLS", "").split()
            # One write: the unikernel's log lines share the terminal
            # and must not land inside these.
            sys.stdout.write(
                "haze: serving in %.0f ms (start to first answer)\n" % ms +
                "".join("haze:   %s\n" % u for u in urls) +
                "haze: Ctrl-C stops it.\n")
            sys.stdout.flush()
            break
        time.sleep(0.02)
    rc = child.wait()
    if tty is not None:
        try:
            os.tcsetpgrp(tty, os.getpgrp())
        except OSError:
            pass
    if rc in (-signal.SIGINT, -signal.SIGTERM, 130) or interrupted:
        print("haze: stopped")
        sys.exit(0)
    sys.exit("haze: the unikernel exited with status %d" % rc)


if __name__ == "__main__":
    main()
