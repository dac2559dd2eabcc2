#!/usr/bin/env python3
"""Loads a page in headless Chromium and judges what the browser saw,
through the DevTools protocol (a WebSocket client written here with the
standard library). Prints one TAP line per check (numbered from 1, no
plan: tests/tap.sh's client_tap reports them) and exits 1 if any failed.

    browser.py CHROMIUM URL TITLE SPKI RULES SCREENSHOT PATH...   (6 results)

URL is loaded; TITLE is the page title it must have; SPKI is the base64
SHA-256 of the server certificate's public key, the one certificate
whose errors Chromium is told to ignore (it does not know the test CA);
RULES are Chromium's --host-resolver-rules; SCREENSHOT is where the PNG
goes; each PATH (/css/site.css, ...) must have been fetched with 200.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

results = []


def report(ok, what):
    results.append(ok)
    print("%sok %d - %s" % ("" if ok else "not ", len(results), what),
          flush=True)


class WebSocket:
    """A WebSocket client (RFC 6455), text frames only, enough for the
    DevTools protocol on loopback."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), 10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (
                u.path, u.hostname, u.port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("DevTools closed during the upgrade")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("no upgrade: %r" % head[:80])

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + body)

    def _read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("DevTools closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next whole text message (fragments joined, pings
        answered)."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            op = b0 & 0x0f
            if op == 8:
                raise ConnectionError("DevTools sent a close")
            if op == 9:
                self.sock.sendall(struct.pack("!BB", 0x8a, 0x80 | n) +
                                  b"\0\0\0\0" + payload)
                continue
            if op in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


class DevTools:
    """Commands and events of one page target."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events = []

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method,
                                 "params": params}))
        self.ws.sock.settimeout(timeout)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=30):
        for e in self.events:
            if e["method"] == method:
                return e
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.ws.sock.settimeout(max(0.1, end - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError("no %s in %d s" % (method, timeout))

    def drain(self, seconds):
        """Collects events for a while (requests that end after load)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ws.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except (socket.timeout, TimeoutError):
                return
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr,
                      returnByValue=True)
        return r.get("result", {}).get("value")


def start_chromium(chromium, profile, spki, rules):
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1280,900",
            "--user-data-dir=" + profile, "--remote-debugging-port=0",
            "--ignore-certificate-errors-spki-list=" + spki,
            "--host-resolver-rules=" + rules, "about:blank"]
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    for _ in range(300):
        if os.path.exists(port_file):
            lines = open(port_file).read().split()
            if len(lines) >= 2:
                return proc, int(lines[0])
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chromium did not open its DevTools port: %s" %
                       open(os.path.join(profile, "chromium.log"),
                            errors="replace").read()[-2000:])


def page_target(port):
    for _ in range(50):
        with urllib.request.urlopen(
                "http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            for t in json.load(r):
                if t.get("type") == "page":
                    return t["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("chromium has no page target")


def judge(dt, url, title, screenshot, paths):
    dt.call("Network.enable")
    dt.call("Page.enable")
    nav = dt.call("Page.navigate", url=url)
    if nav.get("errorText"):
        raise RuntimeError("navigation failed: %s" % nav["errorText"])
    dt.wait_event("Page.loadEventFired", 30)
    dt.drain(1.0)

    urls, status, failed, tls = {}, {}, [], {}
    for e in dt.events:
        p = e.get("params", {})
        if e["method"] == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
        elif e["method"] == "Network.responseReceived":
            urls.setdefault(p["requestId"], p["response"]["url"])
            status[p["requestId"]] = p["response"]["status"]
            tls[p["requestId"]] = p["response"].get("securityDetails")
        elif e["method"] == "Network.loadingFailed":
            failed.append("%s: %s" % (urls.get(p["requestId"], "?"),
                                      p.get("errorText")))
    by_path = {}
    for rid, u in urls.items():
        by_path[urllib.parse.urlparse(u).path] = (status.get(rid),
                                                 tls.get(rid))

    doc = by_path.get(urllib.parse.urlparse(url).path, (None, None))
    details = doc[1] or {}
    report(doc[0] == 200 and details.get("protocol", "").startswith("TLS"),
           "the page loads over HTTPS: status %s, %s %s" % (
               doc[0], details.get("protocol"), details.get("cipher")))
    got = dt.evaluate("document.title")
    report(got == title, "the page title is %r (got %r)" % (title, got))
    applied = dt.evaluate(
        "(() => { const s = [...document.styleSheets].find(s => s.href &&"
        " s.href.endsWith('/css/site.css')); return !!s &&"
        " s.cssRules.length > 0 &&"
        " getComputedStyle(document.body).maxWidth !== 'none'; })()")
    img = dt.evaluate(
        "(() => { const i = document.querySelector('header img');"
        " return i ? [i.complete, i.naturalWidth, i.currentSrc] : null;"
        " })()")
    want = ", ".join("%s %s" % (p, by_path.get(p, ("not fetched",))[0])
                     for p in paths)
    report(all(by_path.get(p, (None,))[0] == 200 for p in paths) and
           applied is True,
           "the stylesheet and the image were fetched with 200 (%s), the "
           "stylesheet applies" % want)
    report(bool(img) and img[0] is True and img[1] > 0,
           "the image is decoded and shown (complete, %s px wide)" % (
               img[1] if img else "no img"))
    bad = failed + ["%s: %s" % (p, s[0]) for p, s in by_path.items()
                    if s[0] is None or not 200 <= s[0] < 300]
    report(not bad, "no request failed (%d requests)%s" % (
        len(by_path), "" if not bad else ": " + "; ".join(bad)))
    shot = dt.call("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot.get("data", ""))
    os.makedirs(os.path.dirname(screenshot) or ".", exist_ok=True)
    with open(screenshot, "wb") as f:
        f.write(png)
    report(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10000,
           "a screenshot saved: %s (%d bytes)" % (screenshot, len(png)))


def main():
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    chromium, url, title, spki, rules, screenshot = sys.argv[1:7]
    paths = sys.argv[7:]
    profile = tempfile.mkdtemp(prefix="hzchrome")
    proc = None
    try:
        proc, port = start_chromium(chromium, profile, spki, rules)
        dt = DevTools(page_target(port))
        judge(dt, url, title, screenshot, paths)
        try:
            dt.call("Browser.close", timeout=5)
        except (OSError, RuntimeError, ConnectionError):
            pass
    except Exception as e:  # a broken browser run fails, with its reason
        report(False, "the browser run: %s: %s" % (type(e).__name__, e))
    finally:
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
