#!/usr/bin/python3
"""Judges a unikernel's --notify notices (platform/host/notify.h).

usage: notify.py HOST PORT COMMAND...

Runs COMMAND, in which the word NOTIFY_FD stands for the write end of a
pipe it inherits, and prints one TAP line for each check:
  - exactly the lines start, guest, main, ready arrive, in that order;
  - each is "EVENT NS" with NS the host's CLOCK_MONOTONIC, within the
    run, never decreasing;
  - when "ready" arrives, HOST:PORT already takes a connection (connected
    right after reading it: refused or timed out fails);
  - nothing follows "ready" (it is written once).
Then runs COMMAND again and closes the pipe's read end after "start":
  - the unikernel lives on and serves (SIGPIPE does not kill it).
"""
import os
import select
import socket
import subprocess
import sys
import time

EVENTS = ["start", "guest", "main", "ready"]
results = []


def report(ok, what):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}", flush=True)


def spawn(cmd):
    r, w = os.pipe()
    argv = [a.replace("NOTIFY_FD", str(w)) for a in cmd]
    p = subprocess.Popen(argv, pass_fds=[w], stdin=subprocess.DEVNULL,
                         stdout=sys.stderr, stderr=sys.stderr)
    os.close(w)
    return p, r


def read_line(fd, buf, deadline):
    """The next line of @fd (bytes, without the newline), or None."""
    while b"\n" not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return line


def try_connect(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "connected"
    except OSError as e:
        return f"{type(e).__name__}: {e}"


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main():
    host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    t0 = time.monotonic_ns()
    p, r = spawn(cmd)
    buf = [b""]
    lines, conn = [], None
    deadline = time.monotonic() + 20
    while len(lines) < 4:
        line = read_line(r, buf, deadline)
        if line is None:
            break
        lines.append(line.decode(errors="replace"))
        if line.startswith(b"ready "):
            conn = try_connect(host, port)  # at once, before anything
            break
    t1 = time.monotonic_ns()
    events = [ln.split(" ")[0] for ln in lines]
    report(events == EVENTS, f"the notices are {' '.join(EVENTS)}, in order "
           f"(got {lines})")
    times = []
    for ln in lines:
        parts = ln.split(" ")
        if len(parts) == 2 and parts[1].isdigit():
            times.append(int(parts[1]))
    report(len(times) == 4 and times == sorted(times) and
           t0 <= times[0] and times[-1] <= t1,
           "each is EVENT NS, CLOCK_MONOTONIC within the run, never "
           f"decreasing (run {t0}..{t1})")
    report(conn == "connected",
           f"port {port} takes a connection as soon as ready arrives "
           f"({conn})")
    extra = read_line(r, buf, time.monotonic() + 0.5)
    report(extra is None, f"nothing follows ready (got {extra!r})")
    stop(p)
    os.close(r)

    # A reader that goes away after "start" must not kill the unikernel.
    p, r = spawn(cmd)
    first = read_line(r, [b""], time.monotonic() + 20)
    os.close(r)
    served = "no connection"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and p.poll() is None:
        served = try_connect(host, port, 0.5)
        if served == "connected":
            break
        time.sleep(0.05)
    time.sleep(0.2)
    alive = p.poll() is None
    report(first is not None and first.startswith(b"start ") and
           served == "connected" and alive,
           "with the reader gone after start, the unikernel lives and "
           f"serves (first line {first!r}, {served}, "
           f"{'running' if alive else f'ended with {p.returncode}'})")
    stop(p)
    return 0 if all(results) else 1


sys.exit(main())
