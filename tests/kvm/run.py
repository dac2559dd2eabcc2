#!/usr/bin/python3
"""Guest tests under haze-kvm, judged by what the guests and the tender do.

Prints TAP. Every test skips (with the reason) only when /dev/kvm is not
usable; the tap test also needs root, /dev/net/tun and the right to make a
tap. Anything make test installs or builds is a failure when missing.
Images come from $O/kvm/tests/kvm/guests/NAME/NAME.hz, the tender from
$O/host/tender/.
"""
import ctypes
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ left in tests/lib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../lib"))
from haze_test import (EXIT_ABORT, EXIT_BADCALL, EXIT_USAGE, HAZE_KVM, O,
                       Runner, Tap, disk, entropy_sources, free_port,
                       kvm_error, show, tap_skip_reason, write_temp)
from haze_test import run as run_argv

SANDBOX_PROBE = os.path.join(O, "host/tests/kvm/sandbox-probe")

# The suite's TAP lines and its runner, under the names the tests call.
TAP = Tap()
KVM = Runner(TAP, HAZE_KVM, "kvm", timeout=20)
report, image, run, expect = TAP.report, KVM.image, KVM.run, KVM.expect
expect_fault = KVM.expect_fault


# --- ELF surgery for the corrupt-image tests ----------------------------

def phdrs(data):
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [phoff + i * phentsize for i in range(phnum)]


def loads(data):
    return [o for o in phdrs(data) if struct.unpack_from("<I", data, o)[0] == 1]


def notes(data):
    """(offset of the note header, owner, type) of every note."""
    found = []
    for o in phdrs(data):
        ptype, = struct.unpack_from("<I", data, o)
        if ptype != 4:  # PT_NOTE
            continue
        off, size = struct.unpack_from("<Q", data, o + 0x08)[0], \
            struct.unpack_from("<Q", data, o + 0x20)[0]
        pos = 0
        while pos + 12 <= size:
            namesz, descsz, ntype = struct.unpack_from("<III", data, off + pos)
            owner = bytes(data[off + pos + 12:off + pos + 12 + namesz])
            found.append((off + pos, owner.rstrip(b"\0"), ntype))
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return found


def corrupt(src, kind):
    data = bytearray(open(src, "rb").read())
    text, rodata = loads(data)[0], loads(data)[1]
    if kind == "truncated header":
        data = data[:30]
    elif kind == "truncated":
        data = data[:100]
    elif kind == "overlap":
        # rodata moves onto text's first page
        vaddr, = struct.unpack_from("<Q", data, text + 0x10)
        off, = struct.unpack_from("<Q", data, rodata + 0x08)
        struct.pack_into("<QQ", data, rodata + 0x10,
                         vaddr + off % 4096, vaddr + off % 4096)
    elif kind == "wx":
        struct.pack_into("<I", data, text + 4, 7)  # R|W|X
    elif kind == "huge p_filesz":
        struct.pack_into("<Q", data, text + 0x20, 0xfffffffffffff000)
    elif kind == "huge p_filesz and p_memsz":
        struct.pack_into("<QQ", data, text + 0x20,
                         0xfffffffffffff000, 0xfffffffffffff000)
    elif kind == "huge p_offset":
        struct.pack_into("<Q", data, text + 0x08, 0xfffffffffffff000)
    elif kind == "entry":
        struct.pack_into("<Q", data, 0x18, 0x10)
    elif kind == "vaddr wraparound":
        vaddr, = struct.unpack_from("<Q", data, text + 0x10)
        struct.pack_into("<Q", data, text + 0x10,
                         0xfffffffffffff000 | vaddr % 4096)
    elif kind == "vaddr below 1 MiB":
        vaddr, = struct.unpack_from("<Q", data, text + 0x10)
        struct.pack_into("<Q", data, text + 0x10, 0x80000 | vaddr % 4096)
    elif kind == "too many phdrs":
        struct.pack_into("<H", data, 0x38, 65)
    elif kind == "huge note namesz":
        struct.pack_into("<I", data, notes(data)[0][0], 0xfffffff0)
    elif kind == "no ABI note":
        for off, owner, ntype in notes(data):
            if owner == b"HAZE" and ntype == 0x485a4b31:
                struct.pack_into("<I", data, off + 8, 0x485a4b30)
    elif kind == "ABI version":
        for off, owner, ntype in notes(data):
            if owner == b"HAZE" and ntype == 0x485a4b31:
                struct.pack_into("<I", data, off + 12 + 8, 99)
    elif kind == "text not executable":
        struct.pack_into("<I", data, text + 4, 4)  # R
    return write_temp(data, ".hz")


# --- tests -----------------------------------------------------------------

def test_hello():
    expect("hello runs and exits 0", [image("hello"), "one", "two"], 0,
           "hello from haze-kvm", "arg 1: one", "arg 2: two")
    expect("the guest's exit status is the process's",
           [image("hello"), "exit=7"], 7, "hello from haze-kvm")
    expect("a guest status above 251 becomes 251",
           [image("hello"), "platform-exit=300"], 251, "hello from haze-kvm")
    rc, out = run(["--trace", image("hello")])
    m = re.search(r"trace: vm_run_us=([\d.-]+) first_instruction_us=([\d.-]+)"
                  r" main_us=([\d.-]+) exit_us=([\d.-]+)", out)
    t = [float(v) for v in m.groups()] if m else []
    ok = (rc == 0 and len(t) == 4 and all(v > 0 for v in t)
          and t[1] <= t[2] <= t[3])
    if not report(ok, "--trace times are positive and ordered: first "
                  "instruction <= main <= exit"):
        show(out)


def test_sleep():
    if os.environ.get("HAZE_KVM_EMULATED"):
        # tests/kvm/nested.sh: the guest's time is emulated, its TSC
        # read a hundred times slower than on hardware.
        report(True, "", skip="the CPU is emulated (tests/kvm/nested.sh): "
               "the guest's sleep is not timed")
        return
    start = time.monotonic()
    rc, out = run([image("sleep")])
    took = time.monotonic() - start
    m = re.search(r"slept (\d+) us", out)
    slept = int(m.group(1)) if m else -1
    ok = rc == 0 and 48000 <= slept <= 52000 and took >= 0.050
    if not report(ok, "a 50 ms sleep measures 50 ms +- 2 ms in the guest "
                  "and takes at least 50 ms of host time"):
        print("# guest measured %d us, the process took %.1f ms"
              % (slept, took * 1e3))
        show(out)


def cpu_features():
    """The host CPU's features that Haze asks CPUID for, which haze-kvm
    passes on to the guest (KVM's CPUID), as /proc/cpuinfo names them."""
    flags = open("/proc/cpuinfo").read().split()
    return {f for f in ("aes", "rdrand", "rdseed", "avx", "avx2", "xsave",
                        "vaes", "vpclmulqdq", "vmx", "svm") if f in flags}


def test_crypto():
    # The tender hands the guest KVM's CPUID, so BearSSL's AES-NI code runs
    # exactly where KVM offers AES-NI.
    aes = "aes" in cpu_features()
    expect("BearSSL in a guest: SHA-256 and AES-GCM known answers, AES-NI "
           + ("used" if aes else "absent as on the host"),
           [image("crypto")], 0,
           "sha256 ok, aes-gcm (ct) ok, aes-gcm (aes-ni) "
           + ("ok" if aes else "absent"))
    # haze-kvm turns the guest's AVX state on where KVM's CPUID offers
    # XSAVE and AVX, so TLS's vector AES-GCM runs where the host's would.
    # PVM (KVM without VMX or SVM) may refuse the state: there either
    # answer but a wrong one passes.
    cpu = cpu_features()
    avx = {"avx", "xsave"} <= cpu  # the tender turns the state on
    pvm = not ({"vmx", "svm"} & cpu)
    rc, out = run(["--trace", image("crypto")])
    m = re.search(r"avx state (\w+), aes-ctr \(vaes\) (\w+), "
                  r"ghash \(vpclmulqdq\) (\w+)", out)
    x = re.search(r"guest_xcr0=(\w+)", out)
    want = ["on" if avx else "off"] + [
        "ok" if avx and {"avx2", f} <= cpu else "absent"
        for f in ("vaes", "vpclmulqdq")]
    got = list(m.groups()) if m else []
    ok = (rc == 0 and m is not None and x is not None
          and "WRONG" not in got
          and (pvm or (got == want
                       and int(x.group(1), 16) == (7 if avx else 0))))
    if not report(ok, "the guest's AVX state is on where the host has "
                  "XSAVE and AVX, and TLS's VAES and VPCLMULQDQ pieces "
                  "give BearSSL's answers there (%s)"
                  % ", ".join(got or ["no line"])):
        show(out)


def test_entropy():
    cpu = cpu_features()
    rc, out = run([image("crypto")])
    src = entropy_sources(out)
    if not report(rc == 0 and src is not None and "host" in src[0]
                  and "random ok" in out,
                  "the guest's entropy names its sources, the host's "
                  "among them"):
        show(out)
    rc, out = run(["--no-host-entropy", image("crypto")])
    src = entropy_sources(out)
    ok = (rc == 0 and "random ok" in out and src is not None
          and "host" not in src[0] and "host" in src[1]
          and src[2] == "none" and "jitter" in src[0]
          and all((f in cpu) == (f in src[0]) for f in ("rdrand", "rdseed")))
    if not report(ok, "without the host's entropy the guest seeds from "
                  "the CPU and jitter and draws random bytes"):
        show(out)


def test_block():
    with disk(64 * 1024) as f:
        rc, out = run(["--block", "disk=" + f.name, image("block")])
        data = open(f.name, "rb").read()
        ok = (rc == 0 and "write-read-verify ok" in out
              and data[512:527] == b"HAZE-BLOCK-TEST")
        if not report(ok, "block write-read-verify of a file"):
            show(out)
    expect("a missing block binding is refused before boot",
           [image("block")], EXIT_USAGE, "block device 'disk' is not bound")


def test_net2():
    with tempfile.TemporaryDirectory() as d:
        p0, p1 = os.path.join(d, "n0.pcap"), os.path.join(d, "n1.pcap")
        rc, out = run(["--net", "net0=user", "--net", "net1=user",
                       "--pcap", "net0=" + p0, "--pcap", "net1=" + p1,
                       image("net2")])
        caps = [open(p, "rb").read() for p in (p0, p1)]
        ok = (rc == 0 and "two NICs ok" in out
              and all(len(c) == 24 + 16 + 60 for c in caps))
        if not report(ok, "two NICs (user networking), each captured "
                      "to pcap"):
            show(out)
            print("# pcap sizes %r" % [len(c) for c in caps])


def test_user_hostfwd():
    """A running guest: the hostfwd port listens on the host (libslirp's
    own listener: the connection goes no further than slirp, so this does
    not reach the guest; test_echo_user does); seccomp is on."""
    port = free_port()
    p = subprocess.Popen([HAZE_KVM, "--net",
                          "service=user,hostfwd=tcp:%d-:7" % port,
                          image("nettap")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        connected = False
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                connected = True
                break
            except OSError:
                time.sleep(0.02)
        # The forward listens from setup on, before the sandbox: poll.
        for _ in range(100):
            status = open("/proc/%d/status" % p.pid).read()
            seccomp = [l for l in status.splitlines()
                       if l.startswith("Seccomp:")]
            if seccomp == ["Seccomp:\t2"]:
                break
            time.sleep(0.02)
    finally:
        p.kill()
        err = p.communicate()[1].decode(errors="replace")
    report(connected, "user networking listens on the hostfwd port on the "
           "host (slirp's listener, not the guest)")
    if not report(seccomp == ["Seccomp:\t2"],
                  "the running tender is under a seccomp filter"):
        print("# %r" % seccomp)
        show(err)


def test_echo_user():
    """examples/echo: Haze's own TCP/IP in the guest, slirp on the host."""
    what = "TCP echo through the guest's stack over user networking"
    echo = os.path.join(O, "kvm/examples/echo/echo.hz")
    if not os.path.exists(echo):
        # Built by make test itself: missing is a failure, not a skip.
        return report(False, "%s: %s is missing: build it with make O=%s "
                      "test-build" % (what, echo, O))
    port = free_port()
    p = subprocess.Popen([HAZE_KVM, "--net",
                          "service=user,hostfwd=tcp:%d-:7" % port, echo],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reply = b""
    try:
        for _ in range(100):
            try:
                c = socket.create_connection(("127.0.0.1", port), 1)
                c.settimeout(2)
                c.sendall(b"haze echo test\n")
                reply = c.recv(100)
                c.close()
                if reply:
                    break
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        p.kill()
        out = p.communicate()[0].decode(errors="replace")
    if not report(reply == b"haze echo test\n", what):
        print("# reply %r" % reply)
        show(out)


def pong_sender(iface, stop, seen):
    """Answers the guest over AF_PACKET on the host side of the tap."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
    s.bind((iface, 0))
    s.settimeout(0.1)
    while not stop.is_set():
        try:
            frame = s.recv(2048)
        except socket.timeout:
            continue
        if frame[14:23] == b"haze-ping":
            seen.append(frame)
            src = frame[6:12]
            pong = src + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + \
                b"host-pong" + bytes(60 - 23)
            for _ in range(3):
                s.send(pong)
    s.close()


SOL_PACKET = 263  # linux/socket.h
PACKET_VNET_HDR = 15  # linux/if_packet.h
CLONE_NEWNET = 0x40000000
ETH_P_IP = 0x0800


def inet_sum(data, s=0):
    """One's-complement sum of DATA added to S, folded to 16 bits."""
    if len(data) % 2:
        data += b"\0"
    for i in range(0, len(data), 2):
        s += data[i] << 8 | data[i + 1]
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def coalesced_frame(guest_mac):
    """8000 bytes of TCP/IPv4 for the guest's port 7777 as one frame,
    behind the virtio-net header a coalescing tap gives it: GSO TCPV4,
    segments of 1448, the checksum partial (NEEDS_CSUM)."""
    payload = b"host-gro" * 1000
    src, dst = bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload),
                               0, 0, 64, 6, 0, src, dst))
    struct.pack_into("!H", ip, 10, ~inet_sum(bytes(ip)) & 0xffff)
    tcp = bytearray(struct.pack("!HHIIBBHHH", 7778, 7777, 1, 0, 5 << 4,
                                0x18, 65535, 0, 0))
    pseudo = src + dst + struct.pack("!BBH", 0, 6, 20 + len(payload))
    struct.pack_into("!H", tcp, 16, inet_sum(pseudo))
    eth = guest_mac + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    hdr = struct.pack("<BBHHHH", 1, 1, 54, 1448, 34, 16)  # virtio_net_hdr
    return hdr + eth + bytes(ip) + bytes(tcp) + payload


def offload_peer(iface, stop, seen):
    """The host's side of the offloads: records the guest's segmented
    TCP frames (with the virtio-net header the kernel keeps on them) in
    SEEN as (gso_type, gso_size, payload bytes), and answers each with a
    coalesced frame (coalesced_frame)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_IP))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((iface, ETH_P_IP))
    s.settimeout(0.1)
    while not stop.is_set():
        try:
            data = s.recv(1 << 17)
        except socket.timeout:
            continue
        hdr, frame = data[:10], data[10:]
        if len(frame) < 54 or frame[23] != 6 or \
                struct.unpack_from("!H", frame, 36)[0] != 7778:
            continue
        _, gso_type, _, gso_size, _, _ = struct.unpack("<BBHHHH", hdr)
        ihl = (frame[14] & 15) * 4
        total = struct.unpack_from("!H", frame, 16)[0]
        doff = (frame[14 + ihl + 12] >> 4) * 4
        seen.append((gso_type, gso_size, total - ihl - doff))
        s.send(coalesced_frame(frame[6:12]))
    s.close()


def enter_netns(ns):
    """Moves the calling thread (only it) into network namespace NS."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    finally:
        os.close(fd)


def in_netns(ns, fn, *args):
    """FN(*ARGS) in a thread of its own inside namespace NS."""
    def body():
        enter_netns(ns)
        fn(*args)
    return threading.Thread(target=body)


def tap_netns(what):
    """Makes a namespace with a tap in it, up; (ns, iface), or None after
    reporting WHAT skipped (what the machine cannot have) or failed. The
    caller deletes the namespace (ip netns del NS)."""
    # Only what the machine cannot have skips; ip (iproute2) is installed
    # by make test, so a missing one is a failure.
    why = tap_skip_reason()
    if why:
        report(True, what, skip=why)
        return None
    ns = "hzkvmn%d" % os.getpid()
    iface = "hzkvmt%d" % (os.getpid() % 10000)
    try:
        made = subprocess.run(["ip", "netns", "add", ns],
                              stderr=subprocess.PIPE)
    except OSError as e:
        report(False, "%s: cannot run ip (%s): install the Debian "
               "package iproute2" % (what, e.strerror))
        return None
    err = made.stderr.decode(errors="replace").strip()
    if made.returncode != 0 and "not permitted" in err:
        report(True, what, skip="cannot make a namespace: " + err)
        return None
    if made.returncode != 0:
        report(False, "%s: cannot make a namespace: %s" % (what, err))
        return None
    try:
        subprocess.run(["ip", "-n", ns, "tuntap", "add", "dev", iface,
                        "mode", "tap"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", iface, "up"],
                       check=True)
    except subprocess.CalledProcessError:
        subprocess.run(["ip", "netns", "del", ns])
        raise
    return ns, iface


def tap_exchange(what, command):
    """Runs the nettap guest, COMMAND(IFACE) being its argv bound to tap
    IFACE, against the host's peers on a new tap in a namespace of its own
    (the guest's TCP frames stay there): pongs for its pings, and both
    offloads. One TAP result."""
    made = tap_netns(what)
    if not made:
        return
    ns, iface = made
    try:
        stop, seen, gso = threading.Event(), [], []
        peers = [in_netns(ns, pong_sender, iface, stop, seen),
                 in_netns(ns, offload_peer, iface, stop, gso)]
        for t in peers:
            t.start()
        try:
            rc, out = run_argv(["ip", "netns", "exec", ns] + command(iface),
                               20)
        finally:
            stop.set()
            for t in peers:
                t.join()
        # The guest's 3000 bytes reach the host as one frame for the
        # kernel to segment in 1000s (GSO TCPV4 = 1), as the tender or the
        # unix target handed it over.
        gso_ok = (1, 1000, 3000) in gso
        ok = rc == 0 and "received" in out and len(seen) >= 1 and gso_ok
        if not report(ok, what):
            show(out)
            print("# host saw %d ping frames; TCP frames (gso_type, "
                  "gso_size, payload): %s" % (len(seen), gso[:5]))
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_tap():
    tap_exchange("net frames exchanged with the host over a tap, "
                 "segmented and coalesced",
                 lambda iface: [HAZE_KVM, "--net", "service=tap:" + iface,
                                image("nettap")])


def test_tap_no_rings():
    """The same exchange without net rings (--no-net-rings): the NIC's
    frames move through NET_READ, NET_WRITE and the yield (ABI 7's
    calls), which a user NIC and a tender that offers no rings use."""
    tap_exchange("net frames exchanged over a tap without net rings",
                 lambda iface: [HAZE_KVM, "--no-net-rings",
                                "--net", "service=tap:" + iface,
                                image("nettap")])


def test_tap_unix():
    """The same guest on the unix target, whose taps offer the same
    offloads: runs without /dev/kvm, so the test's two sides are checked
    on every machine that can make a tap."""
    binary = os.path.join(O, "unix/tests/kvm/guests/nettap/nettap")

    tap_exchange("nettap on the unix target: frames, segmented and "
                 "coalesced, over a tap",
                 lambda iface: [binary, "--net", "service=tap:" + iface])


# Each malformed call badcall can make: its case name, the devices it
# needs bound, and what the tender must say.
BADCALLS = [
    ("console-overflow", [], "console: buffer 0xfffffffffffff000+8192 "
     "outside guest memory"),
    ("net-read-text", ["net"], "net: frame 0 at 0x"),
    ("net-frames-range", ["net"], "net: frame array"),
    ("net-frames-rodata", ["net"], "net: frame array"),
    ("yield-tx-range", ["net"], "net: frame array"),
    ("yield-rx-text", ["net"], "net: frame 0 at 0x"),
    ("block-read-bootpage", ["block"], "block: buffer 0x1000+512 outside "
     "writable guest memory"),
    ("block-read-pagetables", ["block"], "block: buffer 0x3000+512 outside "
     "writable guest memory"),
    ("entropy-text", [], "entropy: buffer 0x"),
    ("yield-arg-rodata", [], "yield: argument at 0x"),
    ("unknown-call", [], "unknown call 15"),
    ("misaligned-arg", [], "exit: argument at 0x"),
    ("hypercall-load", [], "load of 4 bytes from the hypercall page"),
    ("hypercall-store64", [], "store of 8 bytes at hypercall offset 0x40"),
]


# Broken net rings badcall makes on a tap NIC: the I/O thread (or, for
# rings-overlap, the set-up call) ends the VM, under the real sandbox.
RING_BADCALLS = [
    ("rings-overlap", "net rings: tx 0x"),
    ("ring-rx-text", "net net0: rx descriptor 0: buffer at 0x"),
    ("ring-tx-range", "net net0: tx descriptor 0: buffer at 0x"),
    ("ring-posted-ahead", "net net0: tx ring posted 65 with 0 done, more "
     "than its 64 entries"),
]


def rings_sandboxed(ns, iface):
    """examples/echo on tap IFACE (in namespace NS) runs two threads, the
    vCPU's and the net rings' I/O thread, and the seccomp filter covers
    both (the thread starts before the filter, which is synced to it)."""
    what = "net rings' I/O thread and the vCPU are both under seccomp"
    echo = os.path.join(O, "kvm/examples/echo/echo.hz")
    p = subprocess.Popen(["ip", "netns", "exec", ns, HAZE_KVM, "--net",
                          "service=tap:" + iface, echo, "--stack",
                          "direct:service,ip=10.78.0.2/24"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    modes = {}
    try:
        # ip netns exec execs haze-kvm: the same process.
        for _ in range(250):
            modes = {}
            try:
                for t in os.listdir("/proc/%d/task" % p.pid):
                    status = open("/proc/%d/task/%s/status"
                                  % (p.pid, t)).read()
                    modes[t] = [l for l in status.splitlines()
                                if l.startswith("Seccomp:")]
            except OSError:
                pass
            if len(modes) == 2 and all(m == ["Seccomp:\t2"]
                                       for m in modes.values()):
                break
            time.sleep(0.02)
    finally:
        p.kill()
        err = p.communicate()[1].decode(errors="replace")
    if not report(len(modes) == 2 and all(m == ["Seccomp:\t2"]
                                          for m in modes.values()), what):
        print("# threads and their Seccomp lines: %r" % modes)
        show(err)


def test_ring_badcalls():
    made = tap_netns("a broken net ring stops the VM")
    if not made:
        return
    ns, iface = made
    try:
        rings_sandboxed(ns, iface)
        for case, needle in RING_BADCALLS:
            rc, out = run_argv(["ip", "netns", "exec", ns, HAZE_KVM,
                                "--net", "net0=tap:" + iface,
                                image("badcall"), case], 20)
            ok = (rc == EXIT_BADCALL
                  and "guest stopped: bad hypercall: " + needle in out
                  and "bad hypercall was accepted" not in out)
            if not report(ok, "a broken net ring (%s) stops the VM" % case):
                print("# expected status %d and %r; got %d:"
                      % (EXIT_BADCALL, needle, rc))
                show(out)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_badcalls():
    with disk(4096) as f:
        for case, devices, needle in BADCALLS:
            args = []
            if "net" in devices:
                args += ["--net", "net0=user"]
            if "block" in devices:
                args += ["--block", "disk=" + f.name]
            rc, out = run(args + [image("badcall"), case])
            ok = (rc == EXIT_BADCALL
                  and "guest stopped: bad hypercall: " + needle in out
                  and "bad hypercall was accepted" not in out)
            if not report(ok, "a malformed hypercall (%s) stops the VM"
                          % case):
                print("# expected status %d and %r; got %d:"
                      % (EXIT_BADCALL, needle, rc))
                show(out)


def test_faults():
    expect("a smashed stack is detected and aborts",
           [image("smash")], EXIT_ABORT, "stack smashing detected",
           "guest aborted")
    expect_fault("a NULL dereference is reported with registers and a "
                 "symbolized backtrace", "nullptr",
                 "guest fault: exception 14 (#PF page fault), error code "
                 "0x6, cr2 0x0", "NULL dereference",
                 "#0  0x", "hz_test_null_write+")
    expect_fault("a division by zero is reported with registers and a "
                 "symbolized backtrace", "divzero",
                 "guest fault: exception 0 (#DE divide error), error code "
                 "0x0", "hz_test_divide+")
    expect_fault("a write to read-only memory is reported with registers "
                 "and a symbolized backtrace", "rowrite",
                 "error code 0x7, cr2 0x",
                 "write of a protected page", "hz_test_rodata_write+")
    test_overflow()


def test_overflow():
    """A fiber that recurses off its stack hits the guard page below it:
    the guest names the fiber, then the tender reports the page fault, at
    an address inside that page, with the recursion in the backtrace."""
    what = "a fiber's stack overflow faults in its guard page, named"
    expect_fault(what, "overflow",
                 "exception 14 (#PF page fault), error code 0x6",
                 "write of an unmapped page", "hz_test_recurse+")
    KVM.expect_guard_named(*run([image("overflow")]))


# (user networking?, call, x86_64 system call number if refused, else
# None): what the seccomp filter must refuse, and allowed calls alongside
# so a filter refusing everything fails too.
SANDBOX_CASES = [
    (False, "write-stderr", None),
    (False, "open", 257),
    (False, "execve", 59),
    (False, "mmap-rw", 9),
    (False, "socket-inet", 41),
    (True, "mmap-rw", None),
    (True, "mmap-exec", 9),
    (True, "mprotect", 10),
    (True, "socket-inet", None),
    (True, "socket-inet6", None),
    (True, "socket-unix", 41),
    (True, "socket-netlink", 41),
    (True, "fcntl-setfl", None),
    (True, "fcntl-setfl-fd0", 72),
    (True, "fcntl-dupfd", 72),
    (True, "close-fd0", 3),
    (True, "socket-raw", None),
    (True, "mmap-shared", 9),
    (True, "open", 257),
]


def test_sandbox():
    """tests/kvm/sandbox_probe.c: the tender's filter, one call each."""
    for user_net, call, nr in SANDBOX_CASES:
        args = [SANDBOX_PROBE] + (["--user-net"] if user_net else []) + [call]
        p = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        out = p.stdout.decode(errors="replace")
        if nr is None:
            ok = p.returncode == 0 and "%s: allowed" % call in out
        else:
            ok = (p.returncode == EXIT_BADCALL
                  and "sandbox: blocked system call %d\n" % nr in out)
        what = "the sandbox%s %s %s" % (
            " with user networking" if user_net else "",
            "allows" if nr is None else "refuses", call)
        if not report(ok, what):
            print("# status %d:" % p.returncode)
            show(out)


def test_refusals():
    hello = image("hello")
    for kind, needle in [("truncated header", "truncated ELF header"),
                         ("truncated", "beyond the end of the file"),
                         ("overlap", "segments overlap"),
                         ("wx", "W^X"),
                         ("huge p_filesz", "file size exceeds"),
                         ("huge p_filesz and p_memsz", "larger than"),
                         ("huge p_offset", "beyond the end of the file"),
                         ("entry", "entry point"),
                         ("vaddr wraparound", "beyond the image area"),
                         ("vaddr below 1 MiB", "below the image base"),
                         ("too many phdrs", "more than 64 program headers"),
                         ("huge note namesz", "note runs past its segment"),
                         ("no ABI note", "no Haze kvm ABI note"),
                         ("ABI version", "built for kvm ABI 99"),
                         ("text not executable",
                          "entry point outside executable segments")]:
        path = corrupt(hello, kind)
        try:
            expect("a corrupt ELF (%s) is refused" % kind, [path],
                   EXIT_USAGE, "refused", needle)
        finally:
            os.unlink(path)
    expect("an unknown binding is refused",
           ["--net", "nosuch=user", hello], EXIT_USAGE,
           "declares no net device 'nosuch'")
    expect("a duplicate binding is refused",
           ["--block", "disk=/dev/null", "--block", "disk=/dev/null",
            image("block")], EXIT_USAGE, "bound twice")
    expect("an unknown option is refused", ["--frobnicate", "x", hello],
           EXIT_USAGE, "unknown option")
    expect("a non-ELF file is refused", ["/etc/hostname"], EXIT_USAGE,
           "refused")


def test_kvm_fd():
    """--kvm-fd: a parent's open /dev/kvm serves a tender that could not
    open the node itself (run as nobody); a descriptor that is not KVM's
    is refused before boot."""
    hello = image("hello")
    # nobody may not reach the build tree (a checkout in a directory of
    # mode 0700): the tender and the image run from a copy it can reach.
    reach = tempfile.mkdtemp()
    os.chmod(reach, 0o755)
    tender = shutil.copy(HAZE_KVM, reach)
    guest = shutil.copy(hello, reach)
    kvm = os.open("/dev/kvm", os.O_RDWR)
    try:
        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        p = subprocess.run([tender, "--kvm-fd", str(kvm), guest],
                           pass_fds=[kvm], capture_output=True, timeout=20,
                           preexec_fn=as_nobody if os.geteuid() == 0
                           else None)
        out = (p.stdout + p.stderr).decode(errors="replace")
        if not report(p.returncode == 0 and "hello from haze-kvm" in out,
                      "--kvm-fd: a tender running as nobody boots the "
                      "guest on its parent's open /dev/kvm"):
            show(out)
    finally:
        os.close(kvm)
        shutil.rmtree(reach)
    expect("--kvm-fd naming a descriptor that is not /dev/kvm is refused",
           ["--kvm-fd", "1", hello], EXIT_USAGE, "--kvm-fd 1: not /dev/kvm")
    expect("--kvm-fd that is no number is refused",
           ["--kvm-fd", "x", hello], EXIT_USAGE,
           "--kvm-fd x: expected a descriptor number")


def main():
    why = kvm_error()
    TAP.guard("test_tap_unix", test_tap_unix)
    tests = [test_hello, test_sleep, test_crypto, test_entropy, test_block,
             test_net2, test_user_hostfwd, test_echo_user, test_tap,
             test_tap_no_rings, test_faults, test_badcalls,
             test_ring_badcalls, test_sandbox, test_refusals,
             test_kvm_fd]
    if why:
        for t in tests:  # one skip per group of tests
            report(True, t.__name__, skip="/dev/kvm not usable: " + why)
        TAP.plan()
        return
    for t in tests:
        TAP.guard(t.__name__, t)
    TAP.plan()


if __name__ == "__main__":
    main()
