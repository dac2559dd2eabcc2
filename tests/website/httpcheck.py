#!/usr/bin/env python3
"""HTTP checks on the website unikernel that curl cannot make, with
nothing but the socket module. Prints one TAP line per check (numbered
from 1, no plan: tests/tap.sh's client_tap reports them) and exits 1 if
any failed.

    httpcheck.py pipeline HOST PORT SITE_DIR     (2 results)
    httpcheck.py conns HOST PORT SITE_DIR N      (2 results)

pipeline: five requests in one write (GET, HEAD, GET, a 404, then GET
with Connection: close) answered in order, each body the file's bytes,
HEAD with the GET's length and no body, then the connection closed.

conns: N connections open at once, each sending a keep-alive GET and
reading its answer; then, with all N still open, a second GET on each,
answered on the same connection.
"""
import resource
import selectors
import socket
import sys
import time

results = []


def report(ok, what):
    results.append(ok)
    print("%sok %d - %s" % ("" if ok else "not ", len(results), what),
          flush=True)


class Response:
    """One parsed response: status, fields (lower-case names), body."""

    def __init__(self, status, fields, body):
        self.status, self.fields, self.body = status, fields, body

    def __repr__(self):
        return "%d %r (%d body bytes)" % (self.status, self.fields,
                                          len(self.body))


def parse_head(head):
    """Status and fields of a head (bytes up to the empty line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError("bad status line %r" % lines[0])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(parts[1]), fields


def take_response(buf, head_only):
    """Parses one response at the start of bytearray buf: (Response,
    bytes used), or None if it is not all there yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    status, fields = parse_head(bytes(buf[:end]))
    at = end + 4
    if head_only or status in (204, 304) or status < 200:
        return Response(status, fields, b""), at
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            eol = buf.find(b"\r\n", at)
            if eol < 0:
                return None
            size = int(bytes(buf[at:eol]).split(b";")[0], 16)
            if len(buf) < eol + 2 + size + 2:
                return None
            body += bytes(buf[eol + 2:eol + 2 + size])
            at = eol + 2 + size + 2
            if size == 0:
                return Response(status, fields, body), at
    n = int(fields.get("content-length", "0"))
    if len(buf) < at + n:
        return None
    return Response(status, fields, bytes(buf[at:at + n])), at + n


def read_responses(sock, heads, timeout=10):
    """Reads len(heads) responses (heads[i]: the i-th answers a HEAD),
    then whatever follows until the peer closes or timeout: (responses,
    extra bytes, closed)."""
    buf = bytearray()
    out = []
    sock.settimeout(timeout)
    closed = False
    while len(out) < len(heads):
        got = take_response(buf, heads[len(out)])
        if got is not None:
            out.append(got[0])
            del buf[:got[1]]
            continue
        data = sock.recv(65536)
        if not data:
            closed = True
            break
        buf += data
    return out, bytes(buf), closed


def site_file(site, path):
    """The bytes a path of the site serves."""
    if path.endswith("/"):
        path += "index.html"
    with open(site + path, "rb") as f:
        return f.read()


def pipeline(host, port, site):
    reqs = [("GET", "/"), ("HEAD", "/css/site.css"),
            ("GET", "/img/haze.svg"), ("GET", "/no-such-page"),
            ("GET", "/docs/")]
    want = [(200, site_file(site, "/")),
            (200, b""),
            (200, site_file(site, "/img/haze.svg")),
            (404, site_file(site, "/404.html")),
            (200, site_file(site, "/docs/"))]
    data = b""
    for i, (method, path) in enumerate(reqs):
        last = i == len(reqs) - 1
        data += ("%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (
            method, path, "Connection: close\r\n" if last else "")).encode()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(data)
        got, extra, _ = read_responses(s, [m == "HEAD" for m, _ in reqs])
        # After the last response: the close, and nothing else.
        try:
            while True:
                more = s.recv(65536)
                if not more:
                    closed = True
                    break
                extra += more
        except OSError:
            closed = False
    bad = []
    for i, (r, (status, body)) in enumerate(zip(got, want)):
        if r.status != status or r.body != body:
            bad.append("%s %s: got %d with %d bytes, want %d with %d" % (
                reqs[i][0], reqs[i][1], r.status, len(r.body), status,
                len(body)))
    css = len(site_file(site, "/css/site.css"))
    if len(got) > 1 and got[1].fields.get("content-length") != str(css):
        bad.append("HEAD's Content-Length %r, want %d" % (
            got[1].fields.get("content-length"), css))
    if len(got) < len(reqs):
        bad.append("only %d responses" % len(got))
    report(not bad, "5 pipelined requests in one write answered in order, "
           "bodies and HEAD's length right" +
           ("" if not bad else ": " + "; ".join(bad)))
    report(closed and not extra and len(got) == len(reqs) and
           got[-1].fields.get("connection", "").lower() == "close",
           "the connection closes after the request saying close, "
           "nothing more sent (extra %d bytes, closed %s)" % (
               len(extra), closed))


def badline(host, port):
    """A request line of another HTTP version: 505, then the close."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n")
        got, _, _ = read_responses(s, [False])
    report(len(got) == 1 and got[0].status == 505,
           "a request line of HTTP/2.0 is answered 505 (%s)" % (
               got[0].status if got else "no response"))


def conns(host, port, site, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    body = site_file(site, "/css/site.css")
    req = b"GET /css/site.css HTTP/1.1\r\nHost: localhost\r\n\r\n"
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks.append(s)

    def round_trip():
        """Sends req on every socket, reads one response on each."""
        state = {}
        for s in socks:
            state[s] = [req, bytearray(), None]
            sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
        done = 0
        failed = []
        deadline = time.monotonic() + 60
        while done < len(socks) and time.monotonic() < deadline:
            for key, ev in sel.select(1):
                s = key.fileobj
                st = state[s]
                try:
                    if ev & selectors.EVENT_WRITE and st[0]:
                        st[0] = st[0][s.send(st[0]):]
                        if not st[0]:
                            sel.modify(s, selectors.EVENT_READ)
                    if ev & selectors.EVENT_READ:
                        data = s.recv(65536)
                        if not data:
                            raise ConnectionError("closed")
                        st[1] += data
                        got = take_response(st[1], False)
                        if got is not None:
                            st[2] = got[0]
                            del st[1][:got[1]]
                            sel.unregister(s)
                            done += 1
                except (OSError, ValueError) as e:
                    failed.append(str(e))
                    sel.unregister(s)
                    done += 1
        ok = [s for s in socks if state[s][2] is not None and
              state[s][2].status == 200 and state[s][2].body == body and
              not state[s][1]]
        for s in socks:
            if s in sel.get_map():
                sel.unregister(s)
        return len(ok), failed

    first, f1 = round_trip()
    t1 = time.monotonic()
    report(first == n, "%d connections at once, each answered 200 with the "
           "stylesheet (%d were, in %.1f s)%s" % (
               n, first, t1 - t0, "" if not f1 else ": " + f1[0]))
    second, f2 = round_trip()
    report(second == n, "with all %d still open, each answered again on "
           "the same connection (keep-alive; %d were)%s" % (
               n, second, "" if not f2 else ": " + f2[0]))
    for s in socks:
        s.close()


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "pipeline":
        pipeline(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "badline":
        badline(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "conns":
        conns(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(__doc__)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
