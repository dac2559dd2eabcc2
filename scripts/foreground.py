#!/usr/bin/env python3
"""Runs a unikernel in the foreground for `make run`, until Ctrl-C.

    foreground.py PORT -- COMMAND [ARGS...]

The unikernel gets a process group of its own and, when there is a
terminal, becomes the terminal's foreground group: Ctrl-C then reaches it
alone, not make, so `make run` ends with status 0. Once PORT answers HTTP
on 127.0.0.1 it prints the URLs and the time from start to that first
answer. Without a terminal, SIGINT or SIGTERM to this process is passed
on to the unikernel as the same signal; one that has not stopped it
within GRACE_S seconds is followed by SIGKILL. The unikernel starts with
SIGINT and SIGTERM at their defaults, even where this process inherited
them ignored (`make run &` from a script: a background job's SIGINT is
ignored). Exits 0 when the unikernel stopped on an interrupt, its own
status otherwise.
"""
import os
import signal
import socket
import subprocess
import sys
import time

GRACE_S = 5  # from a forwarded signal to SIGKILL


def answers(port):
    """Whether an HTTP server answers a HEAD on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def wait_bounded(child, interrupted):
    """Waits for @child; SIGKILL once GRACE_S have passed since the first
    signal passed on (@interrupted) did not stop it. Its status."""
    while True:
        try:
            return child.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass
        if interrupted and time.monotonic() - interrupted[0][1] > GRACE_S:
            print("haze: the unikernel did not stop within %d s of the "
                  "signal: killed" % GRACE_S, file=sys.stderr)
            child.kill()
            return child.wait()


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
    child = None
    interrupted = []  # (signal, when) of each one to pass on

    def forward(sig, frame):
        interrupted.append((sig, time.monotonic()))
        if child is not None:
            try:
                os.kill(child.pid, sig)
            except ProcessLookupError:
                pass

    # Caught before the child starts: exec resets a caught signal to its
    # default, where an ignored one (inherited SIG_IGN) would stay
    # ignored in the unikernel, and the interrupt passed on would be lost.
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    child = subprocess.Popen(cmd, process_group=0)
    for sig, _ in interrupted:  # arrived while it started
        os.kill(child.pid, sig)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    if tty is not None:
        try:
            os.tcsetpgrp(tty, child.pid)
        except OSError:
            pass  # not our terminal: signals are forwarded instead
    # Until it answers, or is told to stop: then the wait is bounded.
    while child.poll() is None and not interrupted:
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
    rc = wait_bounded(child, interrupted)
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
