#!/usr/bin/python3
"""haze-jitsu judged from outside: its configuration checks, then a daemon
with 50 website services on the unix target (and one on kvm where /dev/kvm
is usable), asked with dig, curl and hand-made DNS.

Prints TAP. The checks of the configuration run everywhere; the daemon
needs root and /dev/net/tun (it makes a bridge and taps), and says so
when they are missing. Programs are taken from $O (make test builds them).
"""
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

O = os.environ.get("O", "build")
JITSU = os.path.abspath(os.path.join(O, "host/jitsu/haze-jitsu"))
WEBSITE = os.path.abspath(os.path.join(O, "unix/examples/website/website"))
TENDER = os.path.abspath(os.path.join(O, "host/tender/haze-kvm"))
WEBSITE_KVM = os.path.abspath(os.path.join(O, "kvm/examples/website/website.hz"))
ZONE = "jitsu.test"
NET = "10.199.7"
BRIDGE = "hzjt0"
PAGE = b"<title>Haze"
N = 50

n = 0
failed = 0


def report(ok, what, skip=None):
    global n, failed
    n += 1
    if skip:
        print("ok %d - %s # SKIP %s" % (n, what, skip))
    else:
        print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
        failed += 0 if ok else 1
    sys.stdout.flush()
    return ok


def diag(text):
    for line in str(text).splitlines():
        print("#   " + line)


def free_port(kind=socket.SOCK_DGRAM):
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


# --- DNS by hand ----------------------------------------------------------


def qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=1, qid=0x4242, edns=False):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    q += qname(name) + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return q


def skip_name(m, off):
    while True:
        ln = m[off]
        if ln & 0xC0 == 0xC0:
            return off + 2
        off += 1 + ln
        if ln == 0:
            return off


def parse(m):
    """(id, flags, rcode, [A addresses in the answer])."""
    qid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    off = 12
    for _ in range(qd):
        off = skip_name(m, off) + 4
    addrs = []
    for _ in range(an):
        off = skip_name(m, off)
        typ, _cls, _ttl, rdlen = struct.unpack(">HHIH", m[off:off + 10])
        off += 10
        if typ == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(m[off:off + 4]))
        off += rdlen
    return qid, flags, flags & 15, addrs


def udp_ask(port, msg, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, ("127.0.0.1", port))
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def resolve(port, name, timeout=15.0):
    r = udp_ask(port, query(name), timeout)
    return parse(r)[3] if r else []


def http_get(addr, timeout=10.0):
    """The status line and body of GET / from ADDR:80, or the error."""
    try:
        with socket.create_connection((addr, 80), timeout=timeout) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
        return data
    except OSError as e:
        return ("error: %s" % e).encode()


# --- the configuration ----------------------------------------------------


def config(path, services, extra="", dns_port=53, state=None, upstream=None):
    lines = ["# written by tests/jitsu/jitsu.py", "zone %s" % ZONE,
             "dns 127.0.0.1:%d" % dns_port, "bridge %s %s.1/24" % (BRIDGE, NET),
             "state %s" % (state or os.path.dirname(path) + "/state")]
    # Each setting once (a second is refused): @extra's win.
    for k, v in (("user", "nobody"), ("rate-limit", "100000"),
                 ("boot-timeout", "20000")):
        if not re.search(r"^%s " % k, extra, re.M):
            lines.append("%s %s" % (k, v))
    if upstream:
        lines.append("upstream 127.0.0.1:%d" % upstream)
    if os.path.exists(TENDER):
        lines.append("tender %s" % TENDER)
    lines.append(extra)
    for s in services:
        lines.append("service %s" % s["name"])
        for k in ("target", "image", "address", "mem", "idle", "args"):
            if k in s:
                lines.append("\t%s %s" % (k, s[k]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# Seconds a service may idle: longer on an emulated CPU (tests/kvm/
# nested.sh), where the checks between two queries to one service take
# longer than 4 s and it would be stopped under them.
IDLE = 20 if os.environ.get("HAZE_KVM_EMULATED") else 4


def website(i, idle=IDLE, target="unix"):
    return {"name": "www%d" % i, "target": target,
            "image": WEBSITE if target == "unix" else WEBSITE_KVM,
            "address": "%s.%d" % (NET, 10 + i), "mem": 32, "idle": idle,
            "args": "--stack direct:service,ip={address}/{prefix},"
                    "gw={gateway} --http 80 --quiet"}


def check_not_root():
    """The daemon refuses to run as another user than root, saying so."""
    if os.getuid() != 0:
        r = subprocess.run([JITSU, "/nonexistent/x.conf"],
                           capture_output=True)
    else:
        # A copy nobody can reach: the build tree may lie under a
        # directory only root may enter.
        pub = tempfile.mkdtemp()
        os.chmod(pub, 0o755)
        exe = shutil.copy(JITSU, os.path.join(pub, "haze-jitsu"))

        def drop():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        r = subprocess.run([exe, "/nonexistent/x.conf"], capture_output=True,
                           preexec_fn=drop)
        shutil.rmtree(pub)
    err = r.stderr.decode(errors="replace")
    if not report(r.returncode == 1 and err.startswith(
            "haze-jitsu: must run as root: it makes a bridge"),
            "run by another user than root, it says root is needed"):
        diag("status %d, stderr: %s" % (r.returncode, err))


def check_refusals(tmp):
    check_not_root()
    ok = subprocess.run([JITSU, "--check", "/nonexistent/x.conf"],
                        capture_output=True)
    report(ok.returncode == 2 and b"/nonexistent/x.conf" in ok.stderr,
           "a missing configuration is refused, naming it")
    path = os.path.join(tmp, "good.conf")
    config(path, [website(0), website(1)])
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 0 and b"www0.jitsu.test. IN A 10.199.7.10" in r.stdout
           and b"IN SOA" in r.stdout,
           "--check prints the zone: SOA and one A per service")
    cases = [
        ("a name outside the zone", [dict(website(0), name="www.other.")],
         r"good\.conf:\d+: service www\.other\.?: outside the zone jitsu\.test"),
        ("a duplicate name", [website(0), dict(website(1), name="www0")],
         r":\d+: service www0\.jitsu\.test: named twice \(line \d+\)"),
        ("a duplicate address", [website(0), dict(website(1),
                                                   address="%s.10" % NET)],
         r":\d+: service www1\.jitsu\.test: address 10\.199\.7\.10 also given "
         r"to www0\.jitsu\.test"),
        ("a missing image", [dict(website(0), image="/nonexistent/site")],
         r":\d+: service www0\.jitsu\.test: image /nonexistent/site: No such"),
        ("an address outside the bridge", [dict(website(0),
                                                address="10.1.2.3")],
         r":\d+: service www0\.jitsu\.test: address 10\.1\.2\.3: not a free"),
        ("a kvm service without a tender", None, None),
    ]
    for what, services, pattern in cases:
        if services is None:
            with open(path, "w") as f:
                f.write("zone %s\ndns 127.0.0.1:53\nbridge %s %s.1/24\n"
                        "state /tmp\nservice k\n\ttarget kvm\n\timage %s\n"
                        "\taddress %s.9\n" % (ZONE, BRIDGE, NET, WEBSITE, NET))
            pattern = r":\d+: service k\.jitsu\.test: target kvm needs a tender"
        else:
            config(path, services)
        r = subprocess.run([JITSU, "--check", path], capture_output=True)
        err = r.stderr.decode(errors="replace")
        good = (r.returncode == 2 and len(err.splitlines()) == 1 and
                re.search(pattern, err) is not None)
        if not report(good, "refused with one line naming it: " + what):
            diag("status %d, stderr: %s" % (r.returncode, err))
    # Refusals that need more than a service's settings: each one line,
    # status 2, the file named once.
    texts = [
        ("a service named as the zone's name server",
         [dict(website(0), name="ns")], "",
         r":\d+: service ns\.jitsu\.test: the zone's name server has that "
         r"name"),
        ("the network's own address", [dict(website(0), address=NET + ".0")],
         "", r"address 10\.199\.7\.0: not a free host address"),
        ("the broadcast address", [dict(website(0), address=NET + ".255")],
         "", r"address 10\.199\.7\.255: not a free host address"),
        ("a record giving a service a second address, at the record's "
         "line", [website(0)],
         "record txt IN TXT x\nrecord www0 IN A %s.99" % NET,
         r"good\.conf:{record}: service www0\.jitsu\.test \(line \d+\): "
         r"a record line gives it a second address"),
        ("a bad record line, at its line in the file, the parser's message "
         "whole", [website(0)],
         "record x IN A 10.0.0",
         r"^haze-jitsu: [^ ]*good\.conf:{record}: record: bad IPv4 address "
         r"'10\.0\.0'$"),
        ("a record aliasing a service (it would answer the address without "
         "booting it), at the record's line", [website(0)],
         "record alias IN CNAME www0",
         r"good\.conf:{record}: record: a CNAME to service www0\.jitsu\.test "
         r"\(line \d+\) does not boot it: name the service directly$"),
        ("a wildcard record aliasing a service by its full name",
         [website(0)], "record *.wild 60 IN CNAME WWW0.jitsu.test.",
         r"good\.conf:{record}: record: a CNAME to service www0\.jitsu\.test "
         r"\(line \d+\)"),
    ]
    for what, services, extra, pattern in texts:
        config(path, services, extra=extra)
        pattern = pattern.replace("{record}", str(line_of(
            path, "record www0 IN A", "record x", "record alias",
            "record *.wild")))
        r = subprocess.run([JITSU, "--check", path], capture_output=True)
        err = r.stderr.decode(errors="replace").strip()
        good = (r.returncode == 2 and len(err.splitlines()) == 1 and
                err.count("good.conf") == 1 and
                re.search(pattern, err) is not None)
        if not report(good, "refused with one line naming it: " + what):
            diag("status %d, stderr: %s" % (r.returncode, err))
    config(path, [website(0)], extra="record alias IN CNAME www.example.org.")
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 0 and b"alias IN CNAME www.example.org." in r.stdout,
           "a CNAME to a name that is not a service is allowed")
    config(path, [website(0)], extra="dns 127.0.0.1:5353")
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 2 and re.search(rb"good\.conf:\d+: dns given twice "
                                           rb"\(line 3\)", r.stderr),
           "a setting given twice is refused, naming both lines")
    config(path, [website(0)], extra="user no-such-user-here")
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    want = "good.conf:%d: user no-such-user-here: no such user" % line_of(
        path, "user no-such")
    if not report(r.returncode == 2 and want.encode() in r.stderr,
                  "a user that does not exist is refused by --check, at "
                  "its line"):
        diag("want %r, stderr: %s" % (want, r.stderr.decode()))
    with open(path, "w") as f:
        f.write("dns 127.0.0.1:53\n")
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 2 and r.stderr.endswith(b"good.conf: no zone\n"),
           "a setting missing from the whole file names no line (%s)"
           % r.stderr.decode().strip())
    check_comments(tmp, path)
    with open(path, "wb") as f:
        f.write(b"zone %s\nbridge a\0b 10.0.0.1/24\n" % ZONE.encode())
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 2 and b"good.conf:2: a NUL byte in the line"
           in r.stderr, "a NUL byte is refused as such, with its line")
    # 4 labels of 60: a name, but hostmaster.ZONE, which its SOA names,
    # would not be.
    long_zone = ".".join(["a" * 60] * 4)
    with open(path, "w") as f:
        f.write("zone %s\ndns 127.0.0.1:53\nbridge %s %s.1/24\nstate /tmp\n"
                % (long_zone, BRIDGE, NET))
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 2 and b"good.conf:1: zone: 243 characters, at "
           b"most 242 (its SOA names hostmaster.ZONE)" in r.stderr,
           "a zone too long for its SOA's hostmaster name is refused")
    with open(path, "w") as f:
        f.write("zone %s\nbogus 1\n" % ZONE)
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    report(r.returncode == 2 and b"good.conf:2: unknown setting bogus" in r.stderr,
           "an unknown setting is refused with its line")


def line_of(path, *starts):
    """The number of the first line of @path starting with one of @starts."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(starts):
                return i
    return 0


def check_comments(tmp, path):
    """'#' comments end record lines as they end every other line, but a
    '#' in a quoted TXT string or inside a word is the record's; the
    example configuration of docs/jitsu.md passes --check as written."""
    config(path, [website(0)], extra="\n".join([
        'record txt IN TXT "hello"  # a note',
        'record txt2 IN TXT "a # b" c#d # a note',
        'record txt3 IN TXT "say \\"#\\" #" # a note',
        "record mail IN MX 10 mx        # any master-file line"]))
    r = subprocess.run([JITSU, "--check", path], capture_output=True)
    out = r.stdout.decode()
    want = ['txt IN TXT "hello"', 'txt2 IN TXT "a # b" c#d',
            'txt3 IN TXT "say \\"#\\" #"', "mail IN MX 10 mx"]
    lines = out.splitlines()
    if not report(r.returncode == 0 and all(w in lines for w in want) and
                  "note" not in out,
                  "a '#' comment ends a record line, not a '#' in a quoted "
                  "string or inside a word"):
        diag("status %d: %s%s" % (r.returncode, r.stderr.decode(), out))
    # The example of docs/jitsu.md, its image where its relative path
    # says (next to a directory holding the configuration).
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "../../docs/jitsu.md")
    text = open(docs).read()
    m = re.search(r"## The configuration.*?```\n(.*?)```", text, re.S)
    conf_dir = os.path.join(tmp, "docs-example", "etc")
    image = os.path.join(tmp, "docs-example", "build/unix/examples/website")
    os.makedirs(conf_dir, exist_ok=True)
    os.makedirs(image, exist_ok=True)
    shutil.copy(WEBSITE, os.path.join(image, "website"))
    example = os.path.join(conf_dir, "jitsu.conf")
    with open(example, "w") as f:
        f.write(m.group(1) if m else "")
    r = subprocess.run([JITSU, "--check", example], capture_output=True)
    if not report(m is not None and r.returncode == 0 and
                  b"mail IN MX 10 mx\n" in r.stdout,
                  "the example configuration of docs/jitsu.md passes "
                  "--check"):
        diag("status %d: %s" % (r.returncode, r.stderr.decode()))


# --- the daemon -----------------------------------------------------------


class Daemon:
    def __init__(self, path):
        self.path = path
        self.log = open(path + ".log", "ab")
        self.p = subprocess.Popen([JITSU, path], stdout=self.log,
                                  stderr=subprocess.STDOUT)

    def wait_serving(self, port, timeout=60):
        # Returns as soon as it answers: the bound is for slow machines
        # (an emulated CPU under tests/kvm/nested.sh takes over 10 s).
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                return False
            r = udp_ask(port, query("ns." + ZONE), 0.2)
            if r:
                return True
        return False

    def status(self):
        r = subprocess.run([JITSU, "--status", self.path], capture_output=True)
        rows = {}
        for line in r.stdout.decode().splitlines()[1:]:
            f = line.split()
            if len(f) == 5 and f[0].endswith(ZONE):
                rows[f[0]] = {"state": f[1], "pid": int(f[2]),
                              "rss": int(f[3]), "crashes": int(f[4])}
        return rows

    def text(self):
        with open(self.path + ".log", "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def alive(pid):
    """Whether PID runs (a zombie left for init to reap does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_for(cond, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Upstream(threading.Thread):
    """A resolver, over UDP and TCP, that answers every query with A
    192.0.2.1, but a name starting "many." with MANY addresses: too many
    for 512 bytes, so over UDP without EDNS that answer is TC=1 and
    empty, as a real server's would be."""
    MANY = 60

    def __init__(self):
        super().__init__(daemon=True)
        self.port = free_port()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", self.port))
        self.t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.t.bind(("127.0.0.1", self.port))
        self.t.listen(16)
        threading.Thread(target=self.run_tcp, daemon=True).start()
        self.start()

    def answer(self, m, tcp):
        end = skip_name(m, 12) + 4
        many = m[13:18].lower() == b"many\x03" or m[12:17].lower() == b"\x04many"
        addrs = (["198.51.100.%d" % (i + 1) for i in range(self.MANY)]
                 if many else ["192.0.2.1"])
        rrs = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) +
                       socket.inet_aton(a) for a in addrs)
        if not tcp and end + len(rrs) > 512 and m[10:12] == b"\0\0":
            return m[:2] + b"\x83\x80" + b"\0\x01\0\0\0\0\0\0" + m[12:end]
        return (m[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, len(addrs), 0, 0)
                + m[12:end] + rrs)

    def run(self):
        while True:
            m, peer = self.s.recvfrom(4096)
            self.s.sendto(self.answer(m, False), peer)

    def run_tcp(self):
        while True:
            c, _ = self.t.accept()
            try:
                c.settimeout(5)
                buf = b""
                while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                    b = c.recv(4096)
                    if not b:
                        break
                    buf += b
                r = self.answer(buf[2:], True)
                c.sendall(struct.pack(">H", len(r)) + r)
            except OSError:
                pass
            finally:
                c.close()


def check_not_a_bridge(tmp):
    """An interface named as the bridge that is not one (a veth here) is
    left alone."""
    path = os.path.join(tmp, "dummy.conf")
    config(path, [website(0)], dns_port=free_port())
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "veth", "peer",
                    "name", BRIDGE + "p"], check=True)
    try:
        r = subprocess.run([JITSU, path], capture_output=True, timeout=20)
        err = r.stderr.decode(errors="replace")
        report(r.returncode != 0 and
               ("bridge %s: an interface of that name exists and is not a "
                "bridge" % BRIDGE) in err,
               "an existing interface named as the bridge that is not one "
               "is refused, naming it")
        subprocess.run([JITSU, "--teardown", path], capture_output=True)
        show = subprocess.run(["ip", "-d", "link", "show", BRIDGE],
                              capture_output=True, text=True)
        report(show.returncode == 0 and "veth" in show.stdout,
               "neither the daemon nor --teardown deletes that interface")
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


def check_unreachable(tmp):
    """An image the services' user (nobody) cannot reach is refused when
    the daemon starts, naming the service and the path, before any set-up;
    at the first summon it would only fail to start."""
    private = os.path.join(tmp, "private")
    os.mkdir(private, 0o700)
    image = os.path.join(private, "website")
    shutil.copy(WEBSITE, image)
    os.chmod(image, 0o755)
    path = os.path.join(tmp, "private.conf")
    config(path, [dict(website(0), image=image)], dns_port=free_port())
    d = subprocess.Popen([JITSU, path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        err = d.communicate(timeout=10)[1].decode(errors="replace")
    except subprocess.TimeoutExpired:  # it started: not refused
        d.kill()
        err = d.communicate()[1].decode(errors="replace")
    link = subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True)
    if not report(d.returncode not in (0, -9) and link.returncode != 0 and
                  ("service www0.%s: image %s: not executable by user "
                   "nobody" % (ZONE, image)) in err,
                  "an image the services' user cannot execute is refused "
                  "at start, naming it"):
        diag(err)
    subprocess.run([JITSU, "--teardown", path], capture_output=True)


def check_daemon(tmp):
    port = free_port()
    up = Upstream()
    path = os.path.join(tmp, "jitsu.conf")
    services = [website(i) for i in range(N)]
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK) and os.path.exists(WEBSITE_KVM)
    if kvm:
        services.append(dict(website(N, target="kvm"), name="kvm"))
    config(path, services, dns_port=port, upstream=up.port,
           extra="max-running 64")
    d = Daemon(path)
    if not report(d.wait_serving(port), "the daemon starts and answers"):
        diag(d.text())
        d.stop()
        return
    try:
        daemon_checks(d, port, kvm)
    finally:
        rc = d.stop()
        if d.p.returncode is None:
            report(False, "SIGTERM ends the daemon")
        diag("daemon log (last lines):\n" + "\n".join(d.text().splitlines()[-8:]))


def daemon_checks(d, port, kvm):
    status = open("/proc/%d/status" % d.p.pid).read()
    uid = pwd.getpwnam("nobody").pw_uid
    report(re.search(r"^Uid:\s+%d\s+%d" % (uid, uid), status, re.M) and
           re.search(r"^CapEff:\s+0+$", status, re.M) and
           re.search(r"^NoNewPrivs:\s+1$", status, re.M),
           "after set-up the daemon runs as nobody with no capabilities")

    # A cold name through dig, then the page through curl.
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+norec",
                          "www0." + ZONE], capture_output=True, text=True,
                         timeout=30).stdout
    report("status: NOERROR" in out and " aa" in out.split("flags:")[1].split(";")[0]
           and re.search(r"www0\.jitsu\.test\.\s+0\s+IN\s+A\s+10\.199\.7\.10", out),
           "dig for a cold name: AA answer with its address")
    page = subprocess.run(["curl", "-s", "--max-time", "10",
                           "http://%s.10/" % NET], capture_output=True).stdout
    report(PAGE in page, "curl at the answered address gets the page")
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tcp",
                          "+short", "www0." + ZONE], capture_output=True,
                         text=True, timeout=30).stdout
    report(out.strip() == "%s.10" % NET, "the same over TCP")
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short",
                          "example.org"], capture_output=True, text=True,
                         timeout=30).stdout
    report(out.strip() == "192.0.2.1",
           "a name outside the zone is answered by the upstream")
    # Too large for UDP: over TCP, relayed over TCP, whole.
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tcp",
                          "+noedns", "many.example.org"], capture_output=True,
                         text=True, timeout=30).stdout
    flags = re.search(r"flags: ([a-z ]*);", out)
    got = re.findall(r"^many\.example\.org\.\s+\d+\s+IN\s+A\s+198\.51\.100\.",
                     out, re.M)
    if not report(flags and "tc" not in flags.group(1).split() and
                  len(got) == Upstream.MANY,
                  "over TCP, an upstream answer too large for UDP is relayed "
                  "whole, without TC (%d records of %d)"
                  % (len(got), Upstream.MANY)):
        diag(out)
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+noedns",
                          "+ignore", "many.example.org"], capture_output=True,
                         text=True, timeout=30).stdout
    flags = re.search(r"flags: ([a-z ]*);", out)
    report(flags and "tc" in flags.group(1).split(),
           "... and over UDP without EDNS it is relayed truncated (TC=1)")
    report(re.search(r"serving jitsu\.test on .*, %d services, bridge"
                     % (N + (1 if kvm else 0)), d.text()),
           "the start line counts the services")
    r = udp_ask(port, query("nothere." + ZONE))
    report(r is not None and parse(r)[2] == 3, "an unknown name: NXDOMAIN")

    # A client that connects before its service is ready.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(query("www1." + ZONE), ("127.0.0.1", port))
    page = http_get("%s.11" % NET)
    s.close()
    report(page.startswith(b"HTTP/1.1 200") and PAGE in page,
           "a client connecting while its service boots gets the page")
    if not page.startswith(b"HTTP/1.1 200"):
        diag(page[:200])

    # 50 names at once.
    answers, pages = {}, {}

    def one(i):
        answers[i] = resolve(port, "www%d.%s" % (i, ZONE), 30)
        if answers[i]:
            pages[i] = http_get(answers[i][0], 20)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    good = [i for i in range(N) if answers.get(i) == ["%s.%d" % (NET, 10 + i)]]
    served = [i for i in good if PAGE in pages.get(i, b"")]
    report(len(good) == N, "%d names summoned at once: all answered (%d)"
           % (N, len(good)))
    report(len(served) == N, "... and all serve their page (%d)" % len(served))
    st = d.status()
    ready = [k for k, v in st.items() if v["state"] == "ready"]
    mem = [v["rss"] for v in st.values() if v["state"] == "ready"]
    report(len(ready) >= N and all(m > 0 for m in mem),
           "--status reports each running unikernel's memory (%d ready, "
           "%s KiB median)" % (len(ready), sorted(mem)[len(mem) // 2]
                               if mem else "-"))

    # Hand-made malformed DNS, each followed by a good question.
    malformed(port)

    # A crash is restarted.
    pid = st["www2." + ZONE]["pid"]
    os.kill(pid, signal.SIGKILL)
    again = wait_for(lambda: d.status().get("www2." + ZONE, {}).get("state")
                     == "ready" and d.status()["www2." + ZONE]["pid"] != pid, 10)
    report(again and PAGE in http_get("%s.12" % NET),
           "a killed service is restarted and serves again")
    report("www2.jitsu.test: killed by signal 9 unasked (crash 1); "
           "restarting in 100 ms" in d.text(), "... with its backoff logged")

    # Restarting the daemon loses no service.
    before = {k: v["pid"] for k, v in d.status().items() if v["state"] == "ready"}
    d.stop(signal.SIGQUIT)
    report(d.p.returncode == 0 and all(alive(p) for p in before.values()),
           "SIGQUIT ends the daemon and leaves its %d services running"
           % len(before))
    d2 = Daemon(d.path)
    d.p = d2.p
    d.wait_serving(port)
    after = {k: v["pid"] for k, v in d.status().items() if v["state"] == "ready"}
    report(after == before and len(before) > 0,
           "a new daemon adopts every one of them")
    t0 = time.time()
    addrs = resolve(port, "www3." + ZONE)
    report(addrs == ["%s.13" % NET] and PAGE in http_get(addrs[0])
           and d.status()["www3." + ZONE]["pid"] == before.get("www3." + ZONE),
           "an adopted service answers at once without a new start (%.1f ms)"
           % ((time.time() - t0) * 1000))

    if kvm:
        addrs = resolve(port, "kvm." + ZONE, 30)
        page = http_get(addrs[0]) if addrs else b"no address"
        if not report(PAGE in page, "a kvm service summoned under haze-kvm "
                      "serves the page"):
            diag("answer %r, GET: %r" % (addrs, page[:200]))
            diag(d.status().get("kvm." + ZONE))
            log = os.path.join(os.path.dirname(d.path), "state",
                               "kvm.%s.log" % ZONE)
            diag("service log: " + (open(log, errors="replace").read()[-2000:]
                                    if os.path.exists(log) else "none"))
    else:
        report(True, "a kvm service under haze-kvm",
               skip="/dev/kvm is not usable here")

    # Idle services stop.
    stopped = wait_for(lambda: all(v["state"] == "stopped"
                                   for v in d.status().values()),
                       IDLE + 16, 0.5)
    if not report(stopped and not any(alive(p) for p in after.values()),
                  "after their idle timeout every service is stopped"):
        diag(d.status())
        diag([p for p in after.values() if alive(p)])

    # Summoned again after stopping, then SIGTERM stops them all.
    addrs = resolve(port, "www4." + ZONE)
    report(addrs and PAGE in http_get(addrs[0]), "a stopped service is summoned again")
    pid = d.status()["www4." + ZONE]["pid"]
    rc = d.stop()
    report(rc == 0 and not alive(pid) and
           wait_for(lambda: not alive(pid), 3),
           "SIGTERM stops every service, then the daemon (status 0)")


def script(tmp, name, body):
    """An executable shell script @name in @tmp: a service's image."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%s\n" % body)
    os.chmod(path, 0o755)
    return path


def cpu_seconds(pid):
    """User and system CPU time of process @pid, in seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def tcp_frame(m):
    return struct.pack(">H", len(m)) + m


def tcp_answers(sock, n, timeout):
    """Up to @n framed answers from @sock within @timeout s: their rcodes."""
    sock.settimeout(0.1)
    buf, out, end = b"", [], time.time() + timeout
    while len(out) < n and time.time() < end:
        try:
            b = sock.recv(65535)
        except socket.timeout:
            continue
        except OSError:
            break
        if not b:
            break
        buf += b
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            ln = struct.unpack(">H", buf[:2])[0]
            out.append(parse(buf[2:2 + ln])[2])
            buf = buf[2 + ln:]
    return out


def check_hostile(tmp):
    """Clients and services that misbehave: queries the server refuses,
    a half-closed TCP client, every slot booting, services that never get
    ready or crash at once, a client parking a thousand queries, a long
    query, a daemon restarted while a service boots."""
    port = free_port()
    hang = script(tmp, "hang.sh", "exec sleep 600")
    crash = script(tmp, "crash.sh", "exit 1")
    svc = [website(0, idle=0)]
    for i, (name, image) in enumerate((("hang1", hang), ("hang2", hang),
                                       ("crash", crash))):
        svc.append({"name": name, "target": "unix", "image": image,
                    "address": "%s.%d" % (NET, 31 + i), "idle": 0})
    path = os.path.join(tmp, "hostile.conf")
    config(path, svc, dns_port=port, state=os.path.join(tmp, "hostile-state"),
           extra="max-running 2\nboot-timeout 1500")
    d = Daemon(path)
    st = lambda name: d.status().get("%s.%s" % (name, ZONE), {})
    try:
        if not report(d.wait_serving(port), "a daemon for hostile clients "
                      "starts"):
            diag(d.text())
            return
        # Meanwhile a TCP client trickles a frame a byte a second: bytes
        # that never make a query must not keep it open past 10 s.
        trickle = {"closed_after": None}

        def trickler():
            t0 = time.time()
            k = socket.create_connection(("127.0.0.1", port))
            k.settimeout(1.0)
            try:
                k.sendall(b"\xff\xff")
                while time.time() - t0 < 20:
                    try:
                        if k.recv(1) == b"":
                            break
                    except socket.timeout:
                        k.sendall(b"x")
            except OSError:
                pass
            trickle["closed_after"] = time.time() - t0
            k.close()
        tr = threading.Thread(target=trickler, daemon=True)
        tr.start()
        # Queries the server refuses boot nothing.
        ch = bytearray(query("www0." + ZONE))
        ch[-1] = 3  # class CH
        notify = bytearray(query("www0." + ZONE))
        notify[2] = 0x20  # opcode NOTIFY
        codes = [parse(udp_ask(port, bytes(m)) or b"\0" * 12)[2]
                 for m in (ch, notify)]
        time.sleep(0.3)
        report(codes == [5, 4] and st("www0").get("state") == "stopped",
               "class CH (REFUSED) and NOTIFY (NOTIMP) for a service boot "
               "nothing (%s, %s)" % (codes, st("www0").get("state")))

        # A TCP client half-closes after a query for a service that never
        # gets ready; a second such service takes the other slot.
        t = socket.create_connection(("127.0.0.1", port))
        t.sendall(tcp_frame(query("hang1." + ZONE)))
        t.shutdown(socket.SHUT_WR)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(query("hang2." + ZONE), ("127.0.0.1", port))
        time.sleep(0.2)
        t0 = time.time()
        r = udp_ask(port, query("www0." + ZONE), 1.0)
        report(r is not None and parse(r)[2] == 2 and time.time() - t0 < 0.5
               and st("www0").get("state") == "stopped",
               "max-running 2 with both slots booting: a third service gets "
               "SERVFAIL at once and is not started")
        c0 = cpu_seconds(d.p.pid)
        time.sleep(1.0)
        cpu = cpu_seconds(d.p.pid) - c0
        report(cpu < 0.3, "a half-closed TCP client waiting for its answer "
               "costs the daemon no busy loop (%.2f s of CPU in 1 s)" % cpu)
        got = tcp_answers(t, 1, 3.0)
        t.close()
        report(got == [2], "... and gets its SERVFAIL at the boot timeout "
               "(%s)" % got)
        stopped = wait_for(lambda: st("hang1").get("state") == "stopped" and
                           st("hang2").get("state") == "stopped", 8)
        report(stopped and "hang1.jitsu.test: stopping (not ready in "
               "boot-timeout)" in d.text(),
               "services not ready in the boot timeout are stopped, their "
               "slots free (%s, %s)" % (st("hang1").get("state"),
                                        st("hang2").get("state")))
        u.close()

        # A query with 500 bytes of EDNS padding waits like any other.
        pad = struct.pack(">HH", 12, 500) + b"\0" * 500
        q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 1)
        q += qname("www0." + ZONE) + struct.pack(">HH", 1, 1)
        q += b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(pad)) + pad
        r = udp_ask(port, q, 20)
        report(r is not None and parse(r)[3] == ["%s.10" % NET],
               "a %d-byte query (EDNS padding) waits for its service and "
               "gets the address" % len(q))

        # A service that crashes at start: SERVFAIL, and no restart that
        # nobody asked for.
        r = udp_ask(port, query("crash." + ZONE), 5)
        time.sleep(1.5)
        report(r is not None and parse(r)[2] == 2 and
               st("crash").get("state") == "failed" and
               st("crash").get("crashes") == 1,
               "a service crashing at start: SERVFAIL, then failed, not "
               "restarted unasked (%s, %s crashes)"
               % (st("crash").get("state"), st("crash").get("crashes")))

        # One TCP client parking a thousand queries gets 16 parked.
        t = socket.create_connection(("127.0.0.1", port))
        t.sendall(b"".join(tcp_frame(query("hang1." + ZONE, qid=i))
                           for i in range(1000)))
        got = tcp_answers(t, 1000 - 16, 3.0)
        report(len(got) == 1000 - 16 and set(got) == {2},
               "one TCP client sending 1,000 queries for a booting service: "
               "16 wait, the rest get SERVFAIL at once (%d)" % len(got))
        r = udp_ask(port, query("www0." + ZONE), 5)
        report(r is not None and parse(r)[3] == ["%s.10" % NET],
               "... and another client is still answered")
        t.close()

        tr.join(25)
        after = trickle["closed_after"]
        report(after is not None and 9 < after < 13,
               "a TCP client trickling a byte a second is closed after the "
               "10 s idle time (%s s)" % ("%.1f" % after if after else "-"))

        # A daemon restarted while a service boots stops that service.
        wait_for(lambda: st("hang1").get("state") == "stopped", 5)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(query("hang2." + ZONE), ("127.0.0.1", port))
        wait_for(lambda: st("hang2").get("state") == "booting", 3)
        pid = st("hang2").get("pid")
        d.stop(signal.SIGQUIT)
        d2 = Daemon(path)
        d.p = d2.p
        d.wait_serving(port)
        report(pid and wait_for(lambda: not alive(pid), 8) and
               "it was booting: its readiness is unknown" in d.text(),
               "a new daemon stops a service it adopts while booting, "
               "rather than send clients to it")
        u.close()
    finally:
        d.stop()


def check_failing(tmp):
    """Services that cannot start or keep crashing: the website with a bad
    --stack (its hz_main returns at once, and the runtime then says ready
    all the same), one that says ready and ends 0.3 s later, every time;
    then SIGTERM while a service waits in its backoff."""
    port = free_port()
    flap = script(tmp, "flap.sh",
                  "python3 -c 'import os, time; os.write(4, b\"ready %d\\n\" "
                  "% time.monotonic_ns())'\nsleep 0.3\nexit 1")
    svc = [dict(website(0), name="badstack", args="--stack bogus"),
           {"name": "flap", "target": "unix", "image": flap,
            "address": "%s.41" % NET, "idle": 0},
           {"name": "flap2", "target": "unix", "image": flap,
            "address": "%s.42" % NET, "idle": 0}]
    path = os.path.join(tmp, "failing.conf")
    config(path, svc, dns_port=port, state=os.path.join(tmp, "failing-state"))
    d = Daemon(path)
    st = lambda name: d.status().get("%s.%s" % (name, ZONE), {})
    try:
        if not report(d.wait_serving(port), "a daemon of failing services "
                      "starts"):
            diag(d.text())
            return
        # Each query after the backoff starts it again, and each fails:
        # five tries of the race between its ready notice and its end.
        codes, crashes = [], []
        for k in range(5):
            r = udp_ask(port, query("badstack." + ZONE), 5)
            codes.append(parse(r)[2] if r else None)
            if k == 4:
                # Within its backoff (now 1.6 s) a query gets SERVFAIL at
                # once and starts nothing.
                t0 = time.time()
                r = udp_ask(port, query("badstack." + ZONE), 5)
                quick = (r is not None and parse(r)[2] == 2 and
                         time.time() - t0 < 0.5)
            time.sleep(0.1 * 2 ** k + 0.3)
            crashes.append(st("badstack").get("crashes"))
        ok = (codes == [2] * 5 and crashes == [1, 2, 3, 4, 5] and
              st("badstack").get("state") == "failed")
        if not report(ok, "a service that ends at start although it said "
                      "ready: SERVFAIL each time it is asked for, never an "
                      "address (%s), one start a query (%s crashes)"
                      % (codes, crashes)):
            diag(d.text())
        log = open(os.path.join(tmp, "failing-state",
                                "badstack.%s.log" % ZONE)).read()
        report("badstack.jitsu.test: failed to start: exited with status 1 "
               "before it was ready" in d.text() and "unknown stack 'bogus'"
               in log and "badstack.jitsu.test: ready" not in d.text(),
               "... its failure logged, naming its log, which says why")
        report(quick and crashes[-1] == 5,
               "... a query within its backoff gets SERVFAIL at once and "
               "starts nothing")
        time.sleep(2.0)
        report(st("badstack").get("state") == "failed" and
               st("badstack").get("crashes") == 5,
               "... and nothing restarts it unasked (%s, %s crashes)"
               % (st("badstack").get("state"), st("badstack").get("crashes")))

        # Ready, then a crash 0.3 s later, again and again: restarted four
        # times, then failed.
        addrs = resolve(port, "flap." + ZONE, 5)
        failed = wait_for(lambda: st("flap").get("state") == "failed", 12,
                          0.2)
        time.sleep(1.5)
        report(addrs == ["%s.41" % NET] and failed and
               st("flap").get("crashes") == 5 and
               "flap.jitsu.test: exited with status 1 unasked (crash 5): 5 "
               "crashes in a row" in d.text(),
               "a service crashing soon after each start is restarted four "
               "times, then failed, not restarted (%s, %s crashes)"
               % (st("flap").get("state"), st("flap").get("crashes")))

        # SIGTERM while a service waits in its backoff.
        resolve(port, "flap2." + ZONE, 5)
        backoff = wait_for(lambda: st("flap2").get("state") == "backoff", 5,
                           0.01)
        rc = d.stop()
        states = {k: v["state"] for k, v in d.status().items()}
        if not report(backoff and rc == 0 and
                      set(states.values()) == {"stopped"} and
                      d.text().rstrip().endswith("every service stopped"),
                      "SIGTERM with a service in backoff: every service "
                      "stopped, so says the state file"):
            diag(states)
            diag("\n".join(d.text().splitlines()[-6:]))
    finally:
        d.stop()


def check_forward_limit(tmp):
    """Queries relayed upstream are held to the rate limit."""
    port = free_port()
    up = Upstream()
    path = os.path.join(tmp, "rrl.conf")
    config(path, [website(0)], dns_port=port, upstream=up.port,
           state=os.path.join(tmp, "rrl-state"), extra="rate-limit 5")
    d = Daemon(path)
    try:
        if not report(d.wait_serving(port, 10), "a daemon with rate-limit 5 "
                      "and an upstream starts"):
            diag(d.text())
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        for i in range(60):
            s.sendto(query("n%d.example.org" % i, qid=i), ("127.0.0.1", port))
        answered = truncated = 0
        try:
            while True:
                m = s.recv(4096)
                if parse(m)[3]:
                    answered += 1
                elif parse(m)[1] & 0x200:
                    truncated += 1
        except socket.timeout:
            pass
        s.close()
        report(answered <= 15 and answered + truncated < 60,
               "60 queries relayed upstream from one source at once: %d "
               "relayed, %d answered TC=1, the rest dropped"
               % (answered, truncated))
        report(", 1 service, bridge" in d.text(),
               "the start line says 1 service, in the singular")
    finally:
        d.stop()


class ForgingUpstream(Upstream):
    """An upstream whose every answer is preceded by two forgeries, as an
    off-path attacker who guessed the relay's port and id would send
    them: one from the upstream's port with another question (A
    203.0.113.66), one from another port with the right question (A
    203.0.113.77). Its real answer spells the question in upper case
    (the name's case does not matter). Notes each query's source port."""

    def __init__(self):
        self.ports = []
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        super().__init__()

    def forged(self, m, name, addr):
        end = skip_name(m, 12) + 4
        return (m[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) +
                qname(name) + m[end - 4:end] + b"\xc0\x0c" +
                struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr))

    def run(self):
        while True:
            m, peer = self.s.recvfrom(4096)
            self.ports.append(peer[1])
            end = skip_name(m, 12) + 4
            name = m[12:end - 4]
            self.s.sendto(self.forged(m, "evil.example.org", "203.0.113.66"),
                          peer)
            wire = self.forged(m, "x", "203.0.113.77")
            wire = wire[:12] + name + wire[15:]
            self.other.sendto(wire, peer)
            time.sleep(0.05)
            real = bytearray(self.answer(m, False))
            real[12:end - 4] = bytes(name).upper()
            self.s.sendto(bytes(real), peer)


def check_forward_forged(tmp):
    """Answers relayed over UDP are taken only from the upstream's port,
    to the relay's own socket, with the relay's id and the query's
    question: forgeries are dropped, the client gets the real answer."""
    port = free_port()
    up = ForgingUpstream()
    path = os.path.join(tmp, "forge.conf")
    config(path, [website(0)], dns_port=port, upstream=up.port,
           state=os.path.join(tmp, "forge-state"))
    d = Daemon(path)
    try:
        if not report(d.wait_serving(port, 10), "a daemon relaying to a "
                      "forging upstream starts"):
            diag(d.text())
            return
        got = []
        for i in range(5):
            r = udp_ask(port, query("bank%d.example.org" % i, qid=100 + i), 3)
            got.append(parse(r)[3] if r and parse(r)[0] == 100 + i else None)
        ok = got == [["192.0.2.1"]] * 5
        if not report(ok, "a forged answer with another question, or from "
                      "another port, is dropped: the client gets the real "
                      "one (%s)" % got):
            diag(d.text())
        report(len(set(up.ports)) == len(up.ports) == 5,
               "each query relayed over UDP leaves from a port of its own "
               "(%s)" % up.ports)
        # A query with two questions: FORMERR, counted. --status shows
        # the counters that moved, this one and the forgeries dropped.
        hdr = struct.pack(">HHHHHH", 9, 0x0100, 2, 0, 0, 0)
        udp_ask(port, hdr + qname("www0." + ZONE) + b"\0\1\0\1", 2)

        def counters():
            out = subprocess.run([JITSU, "--status", path],
                                 capture_output=True).stdout.decode()
            tail = out.split("\ncounters (those that moved):\n", 1)
            return dict(l.split() for l in tail[1].split("\n\n")[0]
                        .splitlines()) if len(tail) == 2 else {}
        wait_for(lambda: "dns_server.formerr" in counters(), 3)
        c = counters()
        if not report(int(c.get("dns_server.formerr", 0)) >= 1 and
                      int(c.get("jitsu.drop_upstream_mismatch", 0)) >= 5,
                      "--status shows the counters that moved: a FORMERR "
                      "query, the forged answers dropped (%s)"
                      % {k: v for k, v in c.items()
                         if k in ("dns_server.formerr",
                                  "jitsu.drop_upstream_mismatch")}):
            diag(c)
    finally:
        d.stop()


def check_summon_limit(tmp):
    """A UDP query for a service that is not running is charged its
    rate-limit token first: one the limiter drops or slips starts
    nothing, and SERVFAIL (no room) is rate-limited like any answer."""
    port = free_port()
    hang = script(tmp, "hang.sh", "exec sleep 600")
    svc = [{"name": "h%d" % i, "target": "unix", "image": hang,
            "address": "%s.%d" % (NET, 61 + i), "idle": 0} for i in range(12)]
    path = os.path.join(tmp, "summon-rrl.conf")
    for room in (32, 1):
        config(path, svc, dns_port=port,
               state=os.path.join(tmp, "summon-rrl-state"),
               extra="rate-limit 1\nmax-running %d\nboot-timeout 10000"
               % room)
        d = Daemon(path)
        try:
            if not report(d.wait_serving(port, 10), "a daemon with rate-limit "
                          "1 (burst 2) and max-running %d starts" % room):
                diag(d.text())
                return
            time.sleep(2.2)  # the bucket full again after wait_serving
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(0.5)
            if room == 32:
                for i in range(12):
                    u.sendto(query("h%d.%s" % (i, ZONE)), ("127.0.0.1", port))
                time.sleep(0.5)
                booting = [k for k, v in d.status().items()
                           if v["state"] == "booting"]
                report(len(booting) <= 2, "12 queries for 12 services from "
                       "one source at once, burst 2: at most 2 start (%d)"
                       % len(booting))
            else:
                u.sendto(query("h0." + ZONE), ("127.0.0.1", port))
                wait_for(lambda: d.status().get("h0." + ZONE, {})
                         .get("state") == "booting", 3)
                time.sleep(2.2)
                for i in range(100):
                    u.sendto(query("h1." + ZONE, qid=i), ("127.0.0.1", port))
                codes = []
                try:
                    while True:
                        codes.append(parse(u.recv(4096))[2])
                except socket.timeout:
                    pass
                report(codes.count(2) <= 3, "100 queries for a service with "
                       "no room (max-running 1, the slot booting): SERVFAIL "
                       "to at most the burst, not to each (%d SERVFAIL, %d "
                       "other)" % (codes.count(2), len(codes) - codes.count(2)))
            u.close()
        finally:
            d.stop()


def check_room(tmp):
    """max-running 2 with three services: the least recently used stops."""
    port = free_port()
    path = os.path.join(tmp, "room.conf")
    config(path, [website(i, idle=0) for i in range(3)], dns_port=port,
           state=os.path.join(tmp, "room-state"), extra="max-running 2")
    d = Daemon(path)
    try:
        if not report(d.wait_serving(port), "a daemon with max-running 2 starts"):
            diag(d.text())
            return
        for i in (0, 1):
            resolve(port, "www%d.%s" % (i, ZONE))
        # The daemon looks at its taps' counters four times a second.
        time.sleep(0.6)
        http_get("%s.10" % NET)  # www0 is now the most recently used
        time.sleep(0.6)
        addrs = resolve(port, "www2." + ZONE)
        st = d.status()
        states = [st["www%d.%s" % (i, ZONE)]["state"] for i in range(3)]
        ok = (addrs == ["%s.12" % NET] and states[0] == "ready" and
              states[1] in ("stopping", "stopped") and states[2] == "ready")
        if not report(ok, "a third summon stops the least recently used of "
                      "two running services"):
            diag(states)
    finally:
        d.stop()


def check_room_stopping(tmp):
    """max-running 1 and services slow to stop (SIGTERM ignored: 2 s until
    SIGKILL): a query for one that is stopping starts it only once there
    is room, like any start a query asks for."""
    port = free_port()
    stubborn = script(tmp, "stubborn.sh",
                      "trap '' TERM\npython3 -c 'import os, time; "
                      "os.write(4, b\"ready %d\\n\" % time.monotonic_ns())'"
                      "\nexec sleep 600")
    svc = [{"name": "slow%d" % i, "target": "unix", "image": stubborn,
            "address": "%s.%d" % (NET, 51 + i), "idle": 0} for i in range(3)]
    path = os.path.join(tmp, "stopping.conf")
    config(path, svc, dns_port=port, state=os.path.join(tmp, "stopping-state"),
           extra="max-running 1\nboot-timeout 6000")
    d = Daemon(path)
    running = lambda: [k for k, v in d.status().items()
                       if v["state"] in ("booting", "ready")]
    try:
        if not report(d.wait_serving(port), "a daemon with max-running 1 "
                      "and services slow to stop starts"):
            diag(d.text())
            return
        resolve(port, "slow0." + ZONE, 5)
        most = []
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Each round asks for a new service (the running one stops to
        # make room) and, in the same burst, for those stopping.
        for k in (1, 2):
            for name in ["slow%d" % k] + ["slow%d" % i for i in range(k)]:
                u.sendto(query("%s.%s" % (name, ZONE)), ("127.0.0.1", port))
            end = time.time() + 3.5
            while time.time() < end:
                most.append(len(running()))
                time.sleep(0.1)
        u.close()
        if not report(most and max(most) <= 1,
                      "bursts of queries for services stopping and new ones "
                      "never have more than max-running 1 booting or ready "
                      "(at most %d)" % max(most or [0])):
            diag("\n".join(d.text().splitlines()[-12:]))
    finally:
        d.stop(timeout=20)


def malformed(port):
    good = query("www0." + ZONE)

    def still_fine():
        r = udp_ask(port, good, 3)
        return r is not None and parse(r)[3] == ["%s.10" % NET]

    hdr = lambda qd, an=0: struct.pack(">HHHHHH", 7, 0x0100, qd, an, 0, 0)
    cases = [
        ("a 5-byte packet", b"\x00\x01\x01\x00\x00"),
        ("a header alone", hdr(1)),
        ("QDCOUNT 0", hdr(0)),
        ("QDCOUNT 2 with one question", hdr(2) + qname("www0." + ZONE) + b"\0\1\0\1"),
        ("QDCOUNT 65535", hdr(65535) + qname("www0." + ZONE) + b"\0\1\0\1"),
        ("a compression loop", hdr(1) + b"\xc0\x0c\0\1\0\1"),
        ("a pointer past the end", hdr(1) + b"\xc3\xff\0\1\0\1"),
        ("a label of 64 bytes", hdr(1) + b"\x40" + b"a" * 64 + b"\0\0\1\0\1"),
        ("a name over 255 bytes", hdr(1) + (b"\x3f" + b"b" * 63) * 5 + b"\0\0\1\0\1"),
        ("a question cut short", hdr(1) + b"\x04www0"),
        ("garbage after the question", query("www0." + ZONE) + os.urandom(300)),
        ("ANCOUNT that lies", hdr(1, 400) + qname("www0." + ZONE) + b"\0\1\0\1"),
        ("a response, not a query", b"\0\7\x81\x80" + hdr(1)[4:] + qname("x") + b"\0\1\0\1"),
    ]
    bad = []
    for what, pkt in cases:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(pkt, ("127.0.0.1", port))
        s.close()
        if not still_fine():
            bad.append(what)
    report(not bad, "%d malformed UDP queries: each followed by a good answer%s"
           % (len(cases), " (failed after: %s)" % ", ".join(bad) if bad else ""))

    # Mutations of good queries (seeded, so a failure can be replayed):
    # flipped bytes, cuts, splices and random tails, over UDP and TCP.
    import random
    rng = random.Random(11)
    seeds = [good, query("www1." + ZONE, 255), query("x.example.org", 1),
             query("www0." + ZONE, 1, edns=True)]
    sent = 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for k in range(3000):
        m = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            op = rng.randint(0, 3)
            if op == 0 and m:
                m[rng.randrange(len(m))] = rng.randrange(256)
            elif op == 1 and m:
                del m[rng.randrange(len(m)):]
            elif op == 2:
                m += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            else:
                m[2:4] = bytes([rng.randrange(256), rng.randrange(256)])
        u.sendto(bytes(m), ("127.0.0.1", port))
        sent += 1
        if k % 500 == 499:
            time.sleep(0.05)
    u.close()
    tcp_ok = True
    for k in range(30):
        try:
            t = socket.create_connection(("127.0.0.1", port), timeout=2)
            m = bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
            t.sendall(m)
            t.close()
        except OSError:
            tcp_ok = False
    report(still_fine() and tcp_ok,
           "%d mutated queries over UDP and 30 random TCP streams: the "
           "daemon still answers" % sent)

    # TCP: a stalled half message must not hold up another client.
    stall = socket.create_connection(("127.0.0.1", port))
    stall.sendall(struct.pack(">H", len(good)) + good[:5])
    liar = socket.create_connection(("127.0.0.1", port))
    liar.sendall(struct.pack(">H", 500) + good)
    liar.shutdown(socket.SHUT_WR)
    zero = socket.create_connection(("127.0.0.1", port))
    zero.sendall(b"\0\0")
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(struct.pack(">H", len(good)) + good + struct.pack(">H", len(good)) + good)
    got = b""
    try:
        while len(got) < 4 or len(got) < 2 + struct.unpack(">H", got[:2])[0] + 2:
            b = c.recv(4096)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    n1 = struct.unpack(">H", got[:2])[0] if len(got) >= 2 else 0
    two = (len(got) >= 4 + n1 and
           parse(got[2:2 + n1])[3] == ["%s.10" % NET])
    report(two and still_fine(),
           "TCP: two pipelined queries answered while a client stalls mid-"
           "message, one lies about its length and one sends an empty frame")
    for s in (stall, liar, zero, c):
        s.close()


def main():
    missing = [p for p in (JITSU, WEBSITE) if not os.path.exists(p)]
    for p in missing:
        report(False, "%s is missing: build it with make O=%s test-build" % (p, O))
    for tool, pkg in (("dig", "bind9-dnsutils"), ("curl", "curl"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            missing.append(tool)
            report(False, "%s is missing: install the Debian package %s "
                   "(make deps does)" % (tool, pkg))
    if missing:
        print("1..%d" % n)
        return 1
    tmp = tempfile.mkdtemp(prefix="jitsu-test-")
    os.chmod(tmp, 0o755)
    # The services run as nobody, who may not reach into the build tree
    # (a fresh clone sits in a private temporary directory): neither the
    # images nor the tender that runs the kvm one.
    for name in ("WEBSITE", "WEBSITE_KVM", "TENDER"):
        src = globals()[name]
        if os.path.exists(src):
            dst = os.path.join(tmp, os.path.basename(src))
            shutil.copy(src, dst)
            os.chmod(dst, 0o755)
            globals()[name] = dst
    try:
        check_refusals(tmp)
        if os.geteuid() != 0:
            report(True, "haze-jitsu's daemon", skip="needs root (a bridge and taps)")
        elif not os.path.exists("/dev/net/tun"):
            report(True, "haze-jitsu's daemon", skip="no /dev/net/tun")
        else:
            try:
                check_not_a_bridge(tmp)
                check_unreachable(tmp)
                check_daemon(tmp)
                check_room(tmp)
                check_room_stopping(tmp)
                check_hostile(tmp)
                check_failing(tmp)
                check_forward_limit(tmp)
                check_forward_forged(tmp)
                check_summon_limit(tmp)
            finally:
                subprocess.run([JITSU, "--teardown", os.path.join(tmp, "jitsu.conf")],
                               capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
