#!/usr/bin/python3
"""The client side of bench/jitsu: what a browser does when it meets a
name haze-jitsu serves, timed on the host's monotonic clock.

  client.py cold DNS JITSU CONFIG NAME...   each NAME summoned once
  client.py warm DNS NAME COUNT             COUNT times, NAME running
  client.py direct WEBSITE TAP ADDR COUNT   the website run by hand

One sample is a UDP DNS query for the name (built here, timed from just
before sendto), its A answer, a TCP connect to that address, `GET /` and
the first byte of the response. Each sample prints one line,
"NAME TOTAL DNS CONNECT" in ms from the query: when the answer came,
when the connection was up, when the first byte came. The response is
then read whole and must be a 200, outside the timing: a broken service
must not look like a fast one.

`cold` asks `haze-jitsu --status CONFIG` before each summon that the
service is stopped, so no sample is warm by mistake, and waits after it
until the service has stopped again. `direct` is the
baseline: the website started without haze-jitsu, on the tap TAP with
ADDR, `--notify` giving its ready the way haze-jitsu gets it; a sample is
then from just before the exec to the first byte ("direct TOTAL READY
CONNECT START", START being its own notice that its main began). Anything wrong ends the run with a line on stderr and status
1: a bench with a broken setup has no figures.
"""

import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT = 15.0  # s; haze-jitsu's boot-timeout is 10 s by default


def fail(msg):
    print("bench/jitsu: " + msg, file=sys.stderr)
    sys.exit(1)


def now_ms():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e6


def query(qid, name):
    """A standard query for NAME's A record, without recursion desired:
    the server is authoritative."""
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode("ascii")
    return q + b"\0" + struct.pack("!HH", 1, 1)


def skip_name(msg, off):
    """The offset after the (possibly compressed) name at OFF."""
    while True:
        if off >= len(msg):
            raise ValueError("name runs off the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += 1 + n


def answer_a(msg, qid):
    """The first A record's address in response MSG, or a ValueError."""
    if len(msg) < 12:
        raise ValueError("%d-byte response" % len(msg))
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid:
        raise ValueError("id %d, not %d" % (rid, qid))
    if flags & 0xF:
        raise ValueError("rcode %d" % (flags & 0xF))
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            return socket.inet_ntoa(msg[off:off + 4])
        off += rdlen
    raise ValueError("no A record in the answer")


def fetch(addr, host, t0):
    """Connects to ADDR:80, asks for /, and returns (connected, first
    byte) in ms from T0; reads the rest and checks it is a 200."""
    s = socket.create_connection((addr, 80), timeout=TIMEOUT)
    try:
        t_conn = now_ms()
        s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() +
                  b"\r\nConnection: close\r\n\r\n")
        first = s.recv(1)
        t_first = now_ms()
        if not first:
            raise OSError("closed before any response")
        rest = [first]
        while True:
            b = s.recv(65536)
            if not b:
                break
            rest.append(b)
    finally:
        s.close()
    head = b"".join(rest).split(b"\r\n", 1)[0]
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("response %r" % head[:60])
    return t_conn - t0, t_first - t0


def summon(dns, name):
    """One sample through the DNS server DNS (host, port)."""
    qid = random.randrange(65536)
    msg = query(qid, name)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    u.connect(dns)
    try:
        t0 = now_ms()
        u.send(msg)
        resp = u.recv(4096)
        t_dns = now_ms() - t0
    except socket.timeout:
        fail("%s: no DNS answer in %.0f s" % (name, TIMEOUT))
    finally:
        u.close()
    try:
        addr = answer_a(resp, qid)
    except ValueError as e:
        fail("%s: bad DNS answer: %s" % (name, e))
    try:
        t_conn, t_first = fetch(addr, name, t0)
    except OSError as e:
        fail("%s: http://%s/: %s" % (name, addr, e))
    print("%s %.3f %.3f %.3f" % (name, t_first, t_dns, t_conn), flush=True)


def state_of(jitsu, config, name):
    """The state --status gives NAME. Before the daemon's first summon,
    --status fails for want of STATE/services (the daemon writes it only
    then): no service has run, so NAME is stopped, and said so once."""
    global NOTED
    r = subprocess.run([jitsu, "--status", config], capture_output=True,
                       text=True, check=False)
    if r.returncode != 0 and "services: No such file" in r.stderr:
        if not NOTED:
            print("bench/jitsu: note: haze-jitsu --status fails before any "
                  "summon: %s" % r.stderr.strip(), file=sys.stderr)
            NOTED = True
        return "stopped"
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) >= 2 and w[0] == name.rstrip("."):
            return w[1]
    return "absent"


NOTED = False


def parse_dns(arg):
    host, port = arg.rsplit(":", 1)
    return host, int(port)


def cold(dns, jitsu, config, names):
    """Each of NAMES summoned once; the next only once this one has
    stopped again (its idle timeout), so no boot shares the machine with
    another service's boot or exit."""
    for name in names:
        st = state_of(jitsu, config, name)
        if st != "stopped":
            fail("%s is %s before its cold summon, not stopped" % (name, st))
        summon(dns, name)
        deadline = time.monotonic() + 30
        while state_of(jitsu, config, name) != "stopped":
            if time.monotonic() > deadline:
                fail("%s not stopped 30 s after its summon (idle 1 s): %s"
                     % (name, state_of(jitsu, config, name)))
            time.sleep(0.05)


def warm(dns, name, count):
    for _ in range(count):
        summon(dns, name)


def direct(website, tap, addr, count):
    """The website started by hand COUNT times, one sample each."""
    argv_tail = ["--stack", "direct:service,ip=%s/24" % addr, "--http", "80"]
    for _ in range(count):
        # A new MAC each start: forget the last one outside the timing,
        # as its gratuitous ARP may come within the kernel's locktime.
        subprocess.run(["ip", "neigh", "flush", "dev", tap], check=False)
        r, w = os.pipe()
        argv = [website, "--mem", "32", "--net", "service=tap:" + tap,
                "--notify", str(w), "--"] + argv_tail
        t0 = now_ms()
        err = tempfile.TemporaryFile()
        p = subprocess.Popen(argv, pass_fds=(w,), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        os.close(w)
        buf = b""
        with os.fdopen(r, "rb") as notices:
            for line in notices:
                buf += line
                if line.startswith(b"ready "):
                    break
        t_ready = now_ms() - t0
        # Its own stamp of when its main began, on the same clock.
        t_start = float("nan")
        for note in buf.splitlines():
            w = note.split()
            if len(w) == 2 and w[0] == b"start":
                t_start = int(w[1]) / 1e6 - t0
        if b"ready " not in buf:
            p.kill()
            p.wait()
            err.seek(0)
            fail("the website never said ready: %s" %
                 err.read().decode(errors="replace")[-400:])
        try:
            t_conn, t_first = fetch(addr, addr, t0)
        except OSError as e:
            p.kill()
            p.wait()
            fail("http://%s/ direct: %s" % (addr, e))
        p.terminate()
        p.wait()
        err.close()
        print("direct %.3f %.3f %.3f %.3f" % (t_first, t_ready, t_conn,
                                              t_start), flush=True)


def main():
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "cold":
        cold(parse_dns(a[1]), a[2], a[3], a[4:])
    elif len(a) == 4 and a[0] == "warm":
        warm(parse_dns(a[1]), a[2], int(a[3]))
    elif len(a) == 5 and a[0] == "direct":
        direct(a[1], a[2], a[3], int(a[4]))
    else:
        fail("usage: client.py cold DNS JITSU CONFIG NAME... | "
             "warm DNS NAME COUNT | direct WEBSITE TAP ADDR COUNT")


if __name__ == "__main__":
    main()
