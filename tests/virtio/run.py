#!/usr/bin/python3
"""The guest test programs of tests/kvm/guests on the virtio target.

Runs each image $O/virtio/tests/kvm/guests/NAME/NAME.virtio under QEMU
through platform/virtio/haze-qemu, with KVM where /dev/kvm is usable and
TCG (software emulation) otherwise, so these guest tests never skip for
lack of KVM. Prints TAP, and which accelerator ran. QEMU comes with make
deps and the images with make test-build: either missing is a failure.
The block guests (block, disks) run on `microvm` (virtio-mmio) and on
`q35` (virtio-pci) with files as disks, checked from the host afterwards;
entropy comes from virtio-rng on both. net2 runs with two NICs on
QEMU's user networking, examples/echo behind a hostfwd port, and
tests/virtio/guests/rxfull under a flood of frames from a tap (root);
haze-qemu's refusals of bad --net bindings, and the guest's own of a
missing NIC; a guest stopped by SIGTERM (to haze-qemu or to QEMU)
reported as such; haze-qemu --trace's boot times; the libvirt domain
and Firecracker configuration of docs/virtio/ (schema, bindings). Left
out: badcall, which tests haze-kvm itself; nettap's exchange is
tests/net/interop_virtio.sh's (docs/virtio.md).
"""
import os
import re
import importlib.machinery
import importlib.util
import json
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ left in tests/lib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../lib"))
from haze_test import (EXIT_ABORT, EXIT_BADCALL, EXIT_CLAMPED, EXIT_USAGE,
                       HAZE_QEMU, O, Runner, Tap, disk, entropy_sources,
                       free_port, show, tap_skip_reason, write_temp)

EXIT_ABORT_V = 126  # what the guest writes to isa-debug-exit to abort


class AccelTap(Tap):
    """Every line names the accelerator that ran it (? until test_hello
    has asked haze-qemu); a skipped line keeps its description."""
    accel = "?"

    def report(self, ok, what, skip=None):
        return super().report(ok, "%s [%s]%s" % (
            what, self.accel, " # SKIP " + skip if skip else ""))


# The suite's TAP lines and its runner, under the names the tests call.
TAP = AccelTap()
QEMU = Runner(TAP, HAZE_QEMU, "virtio", timeout=60)
report, image, run, expect = TAP.report, QEMU.image, QEMU.run, QEMU.expect
expect_fault = QEMU.expect_fault


def test_hello():
    rc, out = run([image("hello"), "one", "two words", 'q"uote\\'])
    m = re.search(r"haze-qemu: accelerator: (kvm|tcg).*", out)
    TAP.accel = m.group(1) if m else "?"
    print("# %s" % (m.group(0) if m else "haze-qemu named no accelerator"))
    ok = (rc == 0 and m is not None and "hello from haze-kvm" in out
          and "arg 1: one\n" in out and "arg 2: two words\n" in out
          and 'arg 3: q"uote\\\n' in out and "arg 4" not in out)
    if not report(ok, "hello boots through PVH, prints on the serial "
                  "console and gets its arguments, quoted ones whole"):
        show(out)
    expect("the guest's exit status is haze-qemu's",
           [image("hello"), "exit=7"], 7, "hello from haze-kvm")
    expect("exit status 123, the largest passed through exactly",
           [image("hello"), "exit=123"], 123)
    expect("a guest status above 123 becomes 251",
           [image("hello"), "platform-exit=300"], EXIT_CLAMPED,
           "hello from haze-kvm")


def test_accel():
    """Where /dev/kvm opens but the CPU has neither VMX nor SVM (PVM), KVM
    cannot run a ring-0 guest: haze-qemu picks TCG on its own and says
    why, and --accel kvm ends with QEMU's failure instead of waiting."""
    what = ("on KVM without hardware virtualisation --accel kvm ends with "
            "status 253 and a reason, not a stopped QEMU")
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        report(True, what, skip="/dev/kvm: %s" % e.strerror)
        return
    flags = open("/proc/cpuinfo").read().split()
    if "vmx" in flags or "svm" in flags:
        report(True, what, skip="this CPU virtualises in hardware")
        return
    expect("without hardware virtualisation haze-qemu chooses TCG and "
           "says why", [image("hello")], 0,
           "accelerator: tcg (software emulation, /dev/kvm has no hardware "
           "virtualisation", "hello from haze-kvm")
    expect(what, ["--accel", "kvm", image("hello")], EXIT_BADCALL,
           "KVM internal error", "KVM could not run the guest")


def test_sleep():
    start = time.monotonic()
    rc, out = run([image("sleep")])
    took = time.monotonic() - start
    m = re.search(r"slept (\d+) us, wall clock (\d+) s", out)
    slept = int(m.group(1)) if m else -1
    wall = int(m.group(2)) if m else -1
    # The guest itself wants 50 ms +- 2 ms (status 0); under TCG on a
    # busy machine a wake-up may come late, so the bound here is wider.
    ok = rc in (0, 1) and 48000 <= slept <= 60000 and took >= 0.050
    if not report(ok, "a 50 ms sleep (PIT interrupt, TSC clock) measures "
                  "48 to 60 ms in the guest, at least 50 ms on the host"):
        print("# guest measured %d us (status %d), the run took %.1f ms"
              % (slept, rc, took * 1e3))
        show(out)
    else:
        print("# guest measured %d us" % slept)
    if not report(abs(wall - time.time()) < 5,
                  "the wall clock (CMOS RTC) agrees with the host's"):
        print("# guest %d, host %d" % (wall, time.time()))


def test_idle():
    """examples/hello sleeps 3 x 100 ms: an idle guest halts, so QEMU's
    CPU time stays well below the time the sleeps take."""
    hello = os.path.join(O, "virtio/examples/hello/hello.virtio")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    rc, out = run([hello])
    took = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + \
        (after.ru_stime - before.ru_stime)
    ok = rc == 0 and "Goodbye." in out and took >= 0.3 and cpu < took - 0.2
    if not report(ok, "an idle guest halts: QEMU's CPU time stays 0.2 s "
                  "below the run's 0.3 s of sleeps"):
        show(out)
    print("# %.2f s of CPU in a %.2f s run" % (cpu, took))


def test_crypto():
    rc, out = run([image("crypto")])
    if not report(rc == 0 and "sha256 ok, aes-gcm (ct) ok" in out,
                  "BearSSL in a guest: SHA-256 and AES-GCM known answers"):
        show(out)
    # The guest turns its AVX state on where CPUID offers it, and TLS's
    # vector pieces run only once they give BearSSL's answers: QEMU 7.2's
    # TCG offers VAES and computes 256-bit VAESENC's upper lane wrong, so
    # there the CTR must be refused ("absent"), never used.
    # QEMU's `max` CPU under TCG offers XSAVE and AVX, so there the guest
    # must have turned the AVX state on.
    m = re.search(r"avx state (\w+), aes-ctr \(vaes\) (\w+), "
                  r"ghash \(vpclmulqdq\) (\w+)", out)
    got = list(m.groups()) if m else []
    if not report(rc == 0 and m is not None
                  and (TAP.accel != "tcg" or got[0] == "on")
                  and all(v in ("ok", "absent") for v in got[1:]),
                  "the guest's AVX state is on where CPUID offers it; "
                  "TLS's vector AES-CTR and GHASH used only where they "
                  "give BearSSL's answers (%s)"
                  % (", ".join(got) or "no line")):
        show(out)
    # haze-qemu always attaches a virtio-rng: the host source.
    for machine, where in [("microvm", "mmio@"), ("q35", "pci ")]:
        if machine != "microvm":
            rc, out = run(["--machine", machine, image("crypto")])
        src = entropy_sources(out)
        # The guest's CPU: QEMU's `max` model under TCG has RDRAND.
        ok = (rc == 0 and "random ok" in out and src is not None
              and "jitter" in src[0] and "host" in src[0]
              and src[2] == "none"
              and "virtio-rng: entropy from " + where in out
              and (TAP.accel != "tcg" or "rdrand" in src[0]))
        if not report(ok, "%s: entropy seeds from virtio-rng (the host "
                      "source), RDRAND and jitter, and gives random "
                      "bytes" % machine):
            show(out)


def test_faults():
    expect("a smashed stack is detected and aborts",
           [image("smash")], EXIT_ABORT, "stack smashing detected",
           "guest aborted")
    # The guest runs at CPL 0: no user bit in the error codes.
    expect_fault("a NULL dereference is reported with registers and a "
                 "symbolized backtrace", "nullptr",
                 "guest fault: exception 14 (#PF page fault), error code "
                 "0x2, cr2 0x0", "NULL dereference",
                 "#0  0x", "hz_test_null_write+")
    expect_fault("a division by zero is reported with registers and a "
                 "symbolized backtrace", "divzero",
                 "guest fault: exception 0 (#DE divide error), error code "
                 "0x0", "hz_test_divide+")
    expect_fault("a write to read-only memory is reported with registers "
                 "and a symbolized backtrace", "rowrite",
                 "error code 0x3, cr2 0x",
                 "write of a protected page", "hz_test_rodata_write+")
    rc, out = expect_fault("a fiber's stack overflow faults in its guard "
                           "page", "overflow",
                           "exception 14 (#PF page fault), error code 0x2",
                           "write of an unmapped page", "hz_test_recurse+")
    QEMU.expect_guard_named(rc, out)


def block_pattern():
    """What tests/kvm/guests/block writes at byte 512."""
    data = bytearray((i * 7 + i // 512) & 0xff for i in range(8 * 512))
    data[:15] = b"HAZE-BLOCK-TEST"
    return bytes(data)


def test_block():
    """The block guests with files as disks, over virtio-mmio (microvm)
    and virtio-pci (q35; pc for the first guest only)."""
    for machine, where in [("microvm", "mmio@"), ("q35", "pci "),
                           ("pc", "pci ")]:
        with disk(64 * 1024) as f:
            rc, out = run(["--machine", machine, "--block",
                           "disk=" + f.name, image("block")])
            data = open(f.name, "rb").read()
        ok = (rc == 0 and "write-read-verify ok" in out
              and "virtio-blk: block disk: " + where in out
              and ", flush" in out
              and data[512:512 + 4096] == block_pattern()
              and data[:512] == bytes(512)
              and data[4608:] == bytes(len(data) - 4608))
        if not report(ok, "%s: 8 sectors written in one call, flushed, read "
                      "back; the file holds them; a misaligned and an "
                      "out-of-range read are refused" % machine):
            show(out)
        if machine == "pc":
            continue
        # The command line binds second before first, and spare is
        # optional: the manifest's order decides, gaps and all.
        files = [disk(2 << 20) for _ in range(3)]
        try:
            for args, labelled in [
                    (["--block", "second=" + files[1].name,
                      "--block", "first=" + files[0].name],
                     ["first", "second", None]),
                    (["--block", "spare=" + files[2].name,
                      "--block", "second=" + files[1].name,
                      "--block", "first=" + files[0].name],
                     ["first", "second", "spare"])]:
                for f in files:
                    f.truncate(0)
                    f.truncate(2 << 20)
                rc, out = run(["--machine", machine] + args
                              + [image("disks")])
                heads = [open(f.name, "rb").read(32) for f in files]
                irqs = re.search(r"device interrupts: (\d+)", out)
                # A request the device has not completed when the guest
                # would halt ends with its interrupt (MSI-X on q35, the
                # I/O APIC on microvm); one at least does so.
                ok = (rc == 0 and "disks ok" in out
                      and irqs is not None and int(irqs.group(1)) >= 1
                      and "big: 1572864 bytes" in out
                      and ("spare: unbound" in out) == (labelled[2] is None)
                      and all(h == (b"haze disk %s" % n.encode()).ljust(
                          32, b"\0") if n else h == bytes(32)
                              for h, n in zip(heads, labelled)))
                if not report(ok, "%s: %d disks each bound to its name "
                              "(manifest order%s), 1.5 MiB in one call "
                              "each way, bad writes refused, requests "
                              "completed by interrupt"
                              % (machine, len(args) // 2,
                                 ", the optional one unbound"
                                 if labelled[2] is None else "")):
                    print("# first sectors: %r" % heads)
                    show(out)
        finally:
            for f in files:
                f.close()


def refused(what, args, needle):
    """haze-qemu refuses ARGS in one line with NEEDLE, before QEMU."""
    rc, out = run(args)
    lines = out.strip().splitlines()
    ok = (rc == EXIT_USAGE and len(lines) == 1 and needle in lines[0]
          and "accelerator" not in out)
    if not report(ok, what):
        print("# expected status %d and one line with %r; got %d:"
              % (EXIT_USAGE, needle, rc))
        show(out)


def test_block_refusals():
    with disk(64 * 1024) as f, disk(100) as small:
        refused("a required block device left unbound is refused",
                [image("block")],
                "block device 'disk' is not bound (use --block disk=...)")
        refused("a --block file that does not exist is refused",
                ["--block", "disk=/nonexistent/disk.img", image("block")],
                "--block disk=/nonexistent/disk.img: No such file or "
                "directory")
        refused("a --block file smaller than a sector is refused",
                ["--block", "disk=" + small.name, image("block")],
                "not a regular file of at least one 512-byte sector")
        refused("a --block name the manifest does not declare is refused",
                ["--block", "disk=" + f.name, "--block", "other=" + f.name,
                 image("block")],
                "--block other: the unikernel declares no block device "
                "'other'")
        refused("a block device bound twice is refused",
                ["--block", "disk=" + f.name, "--block", "disk=" + f.name,
                 image("block")], "device 'disk' is bound twice")
        refused("an unknown machine is refused",
                ["--machine", "isapc", image("hello")],
                "--machine isapc: microvm, q35 or pc")
        # Started without haze-qemu, the guest binds and refuses itself.
        rc, out = qemu_direct("block", [])
        lines = out.strip().splitlines()
        ok = (rc == (EXIT_ABORT_V << 1 | 1) and len(lines) == 1
              and "haze: block device 'disk' is not bound: no virtio-blk "
              "device for it" in lines[0])
        if not report(ok, "without haze-qemu, the guest refuses a required "
                      "block device left unbound, in one line"):
            show(out)
        drive = ["-drive", "file=%s,format=raw,if=none,id=d0" % f.name,
                 "-device", "virtio-blk-device,drive=d0"]
        rc, out = qemu_direct("block", drive, " haze.block=other")
        lines = out.strip().splitlines()
        ok = (rc == (EXIT_ABORT_V << 1 | 1) and len(lines) == 1
              and "haze: haze.block= names 'other' which is no device of "
              "the manifest" in lines[0])
        if not report(ok, "the guest refuses a haze.block= name that is no "
                      "block device of its manifest, in one line"):
            show(out)
        rc, out = qemu_direct("block", drive)
        if not report(rc == (1 << 1 | 1) and "write-read-verify ok" in out,
                      "without haze.block=, the manifest's block device "
                      "gets the first virtio-blk device"):
            show(out)


def test_block_errors():
    """The device's own refusals reach the caller as -HZ_EIO with a line
    naming the device: a read-only disk (the device offers RO) and a
    write error QEMU's blkdebug injects. QEMU alone: haze-qemu has no
    option for either."""
    with disk(64 * 1024) as f, tempfile.NamedTemporaryFile(
            "w", suffix=".conf") as conf:
        rc, out = qemu_direct("block", [
            "-drive", "file=%s,format=raw,if=none,id=d0,readonly=on"
            % f.name, "-device", "virtio-blk-device,drive=d0"])
        ok = (rc == (2 << 1 | 1) and "512-byte sectors, read-only" in out
              and "block disk: the device is read-only" in out
              and "block I/O: I/O error" in out
              and open(f.name, "rb").read() == bytes(64 * 1024))
        if not report(ok, "a write to a read-only device gives -HZ_EIO "
                      "with a line, and the file is untouched"):
            show(out)
        conf.write('[inject-error]\nevent = "write_aio"\nerrno = "5"\n')
        conf.flush()
        rc, out = qemu_direct("block", [
            "-drive", "file=blkdebug:%s:%s,format=raw,if=none,id=d0"
            % (conf.name, f.name), "-device", "virtio-blk-device,drive=d0"])
        ok = (rc == (2 << 1 | 1)
              and "block disk: write at byte 512: I/O error" in out
              and "block I/O: I/O error" in out)
        if not report(ok, "a write the host fails (blkdebug) gives -HZ_EIO "
                      "with a line naming the device and the offset"):
            show(out)


def qemu_direct(guest, extra, append=""):
    """Runs GUEST on microvm with QEMU alone (no haze-qemu), with EXTRA
    arguments; (QEMU's status, console)."""
    qemu = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel",
            "tcg", "-m", "32", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04", "-global",
            "virtio-mmio.force-legacy=false", "-kernel", image(guest),
            "-append", guest + append] + extra
    try:
        p = subprocess.run(qemu, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        return p.returncode, p.stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)


def test_net():
    """virtio-net over virtio-mmio: two NICs bound in manifest order
    whatever the command line's, then examples/echo's TCP/IP through
    QEMU's user networking and a hostfwd port."""
    rc, out = run(["--net", "net1=user", "--net", "net0=user",
                   image("net2")])
    ok = (rc == 0 and "two NICs ok" in out
          and "net0: handle 0 mac 52:54:00:12:34:56 mtu 1500" in out
          and "net1: handle 1 mac 52:54:00:12:34:57 mtu 1500" in out)
    if not report(ok, "two virtio-net devices, each bound to its name "
                  "(manifest order), a frame sent on each"):
        show(out)
    echo_bulk("microvm")


def echo_bulk(machine):
    """examples/echo on @machine, 1 MiB through QEMU's user networking
    and a hostfwd port."""
    port = free_port()
    echo = os.path.join(O, "virtio/examples/echo/echo.virtio")
    p = subprocess.Popen([HAZE_QEMU, "--machine", machine, "--net",
                          "service=user,hostfwd=tcp::%d-:7" % port, echo,
                          "--stack",
                          "direct:service,ip=10.0.2.15/24,gw=10.0.2.2",
                          "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    data, back = os.urandom(1 << 20), b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(back) < len(data):
            try:
                with socket.create_connection(("127.0.0.1", port), 5) as c:
                    c.settimeout(20)
                    t = threading.Thread(target=c.sendall, args=(data,))
                    t.start()
                    while len(back) < len(data):
                        chunk = c.recv(1 << 16)
                        if not chunk:
                            break
                        back += chunk
                    t.join()
            except OSError:
                back = b""
                time.sleep(0.2)
    finally:
        p.terminate()  # haze-qemu ends QEMU too
        out = p.communicate()[0].decode(errors="replace")
    if not report(back == data, "%s: examples/echo over QEMU's user "
                  "networking: 1 MiB through a hostfwd port comes back "
                  "intact" % machine):
        print("# got %d bytes back of %d" % (len(back), len(data)))
        show(out)


def test_net_pci():
    """virtio-net over virtio-pci (q35): the same two NICs and echo as
    test_net, through MSI-X and the PCI transport."""
    rc, out = run(["--machine", "q35", "--net", "net1=user", "--net",
                   "net0=user", image("net2")])
    ok = (rc == 0 and "two NICs ok" in out
          and re.search(r"virtio-net: net0: pci 00:0\d\.0", out)
          and "net0: handle 0 mac 52:54:00:12:34:56 mtu 1500" in out
          and "net1: handle 1 mac 52:54:00:12:34:57 mtu 1500" in out)
    if not report(ok, "q35: two virtio-net devices over virtio-pci, each "
                  "bound to its name (manifest order), a frame sent on "
                  "each"):
        show(out)
    echo_bulk("q35")


FLOOD_FRAMES = 600  # the receive queue holds 256


def flood(iface):
    """Sends FLOOD_FRAMES numbered frames to the guest on @iface; every
    tenth is 1400 bytes, too large for rxfull's 1000-byte buffers."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for seq in range(FLOOD_FRAMES):
        head = (bytes.fromhex("525400123456020000000001") + b"\x88\xb5"
                + b"haze-flood" + struct.pack("<I", seq))
        size = 1400 if seq % 10 == 9 else 60
        s.send(head + bytes(size - len(head)))
    s.close()


def test_rx_flood():
    """More frames than the receive queue holds arrive while the guest
    reads nothing: those the queue cannot take wait in the tap (QEMU
    stops reading it), none is lost, and the ones too large for the
    reader's buffers are dropped and counted."""
    what = ("a flood of %d frames while the guest does not read: none "
            "lost past the 256-entry receive queue, in order, the too "
            "large ones dropped and counted" % FLOOD_FRAMES)
    why = tap_skip_reason()
    if why:
        return report(True, what, skip=why)
    iface = "hzvf%d" % (os.getpid() % 10000)
    made = subprocess.run(["ip", "tuntap", "add", "dev", iface, "mode",
                           "tap"], stderr=subprocess.PIPE)
    if made.returncode != 0:
        return report(False, "%s: cannot create a tap: %s" % (
            what, made.stderr.decode(errors="replace").strip()))
    out = ""
    try:
        subprocess.run(["ip", "link", "set", iface, "up"], check=True)
        rxfull = os.path.join(O, "virtio/tests/virtio/guests/rxfull",
                              "rxfull.virtio")
        p = subprocess.Popen([HAZE_QEMU, "--net", "service=tap:" + iface,
                              rxfull], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        timer = threading.Timer(60, p.terminate)
        timer.start()
        try:
            for line in p.stdout:
                out += line.decode(errors="replace")
                if line.startswith(b"rxfull: ready"):
                    flood(iface)
            rc = p.wait()
        finally:
            timer.cancel()
    finally:
        # Retried: the tap cannot be deleted while QEMU still holds it.
        for _ in range(50):
            subprocess.run(["ip", "tuntap", "del", "dev", iface, "mode",
                            "tap"], stderr=subprocess.DEVNULL)
            if subprocess.run(["ip", "link", "show", iface],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                break
            time.sleep(0.1)
    big = FLOOD_FRAMES // 10
    m = re.search(r"rxfull: received (\d+) frames, (\d+) out of order", out)
    dropped = re.search(r"virtio-net\.rx_drop_too_big (\d+)", out)
    ok = (rc == 0 and m is not None
          and int(m.group(1)) == FLOOD_FRAMES - big
          and int(m.group(2)) == 0
          and dropped is not None and int(dropped.group(1)) == big)
    if not report(ok, what):
        show(out)
    elif m:
        print("# %s frames read, %s dropped as too large"
              % (m.group(1), dropped.group(1)))


def test_net_refusals():
    refused("a required net device left unbound is refused",
            [image("nettap")],
            "net device 'service' is not bound (use --net service=...)")
    refused("a --net name the manifest does not declare is refused",
            ["--net", "service=user", "--net", "other=user",
             image("nettap")],
            "--net other: the unikernel declares no net device 'other'")
    refused("an unknown --net backend is refused",
            ["--net", "service=vde:/tmp/x", image("nettap")],
            "--net service: unknown backend 'vde:/tmp/x' (tap:IFACE or "
            "user)")
    refused("a malformed hostfwd is refused",
            ["--net", "service=user,hostfwd=tcp::70000-:7",
             image("nettap")],
            "--net service: cannot parse 'user,hostfwd=tcp::70000-:7'")
    refused("--net without a backend is refused",
            ["--net", "service", image("nettap")],
            "--net service: give NAME=tap:IFACE or NAME=user")
    # Started without haze-qemu and without a NIC, the guest itself
    # refuses, in one line, before the application runs.
    qemu = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel",
            "tcg", "-m", "32", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", image("nettap"), "-append", "nettap"]
    try:
        p = subprocess.run(qemu, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        rc, out = p.returncode, p.stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        rc, out = -1, str(e)
    lines = out.strip().splitlines()
    ok = (rc == (EXIT_ABORT_V << 1 | 1) and len(lines) == 1
          and "haze: net device 'service' is not bound" in lines[0])
    if not report(ok, "without haze-qemu, the guest refuses a required "
                  "net device left unbound, in one line"):
        show(out)


def serving_echo():
    """haze-qemu running examples/echo, which serves until stopped, once
    it says it serves: the Popen, and its output so far (None if it never
    said so)."""
    echo = os.path.join(O, "virtio/examples/echo/echo.virtio")
    p = subprocess.Popen([HAZE_QEMU, "--net", "service=user", echo,
                          "--stack",
                          "direct:service,ip=10.0.2.15/24,gw=10.0.2.2"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, deadline = b"", time.monotonic() + 30
    os.set_blocking(p.stdout.fileno(), False)
    while b"echo: serving" not in out and time.monotonic() < deadline:
        chunk = p.stdout.read()
        if chunk:
            out += chunk
        elif p.poll() is not None:
            break
        else:
            time.sleep(0.05)
    os.set_blocking(p.stdout.fileno(), True)
    return p, (out.decode(errors="replace") if b"echo: serving" in out
               else None)


def qemu_child(pid):
    """The pid of haze-qemu @pid's QEMU, or None."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def test_signals():
    """A guest stopped by a signal is reported as that, not as a reset:
    SIGTERM to haze-qemu (forwarded to QEMU, which then exits 0 as it
    does when the guest resets), and SIGTERM to QEMU itself."""
    for to_qemu in (False, True):
        p, out = serving_echo()
        target = qemu_child(p.pid) if to_qemu else p.pid
        if out is not None and target is not None:
            os.kill(target, signal.SIGTERM)
        try:
            rest = p.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            p.kill()
            rest = p.communicate()[0].decode(errors="replace") + "(timeout)"
        whole = (out or "") + rest
        said = ("haze-qemu: QEMU ended on SIGTERM, forwarded by haze-qemu"
                if not to_qemu else "haze-qemu: QEMU ended on SIGTERM, "
                "before the guest's exit")
        ok = (out is not None and target is not None
              and p.returncode == 128 + signal.SIGTERM and said in whole
              and "reset" not in whole)
        if not report(ok, "SIGTERM to %s while the guest runs: status 143 "
                      "and '%s', not a reset"
                      % ("QEMU" if to_qemu else "haze-qemu", said)):
            print("# status %s" % p.returncode)
            show(whole)


def test_trace():
    """haze-qemu --trace: the guest's boot times from its first
    instruction, in order, moved from the console to haze-qemu's trace
    line on stderr; without --trace, no trace."""
    p = subprocess.run([HAZE_QEMU, "--trace", image("hello"), "x"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    m = re.search(r"haze-qemu: trace: spawn_us=(\d+) qemu_exit_us=(\d+) "
                  r"guest_clock_us=(\d+) guest_main_us=(\d+) "
                  r"guest_exit_us=(\d+) guest_tsc_entry_us=(\d+) "
                  r"guest_tsc_khz=(\d+)$", err, re.M)
    t = [int(x) for x in m.groups()] if m else []
    # The clock waits 20 ms for its calibration; the exit follows main.
    ok = (p.returncode == 0 and "arg 1: x" in out and "trace" not in out
          and m is not None and t[0] < t[1] and 20000 <= t[2] <= t[3]
          <= t[4] and t[4] < t[1] - t[0] and t[6] > 0)
    if not report(ok, "--trace: the guest's clock, main and exit times "
                  "from its first instruction, in order, on stderr"):
        show(out + err)
    rc, out = run([image("hello")])
    if not report(rc == 0 and "trace" not in out,
                  "without --trace the guest prints no trace"):
        show(out)


def haze_qemu_module():
    """platform/virtio/haze-qemu as a module, for its image checks."""
    loader = importlib.machinery.SourceFileLoader("haze_qemu", HAZE_QEMU)
    spec = importlib.util.spec_from_loader("haze_qemu", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_doc_configs():
    """The libvirt domain and the Firecracker configuration of
    docs/virtio.md: the XML valid for libvirt's schema (virt-xml-validate,
    from make deps), both parsed, and their command lines binding exactly
    the net devices examples/echo's manifest declares, one per NIC."""
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "../../docs/virtio")
    xml = os.path.join(docs, "haze-echo.xml")
    try:
        p = subprocess.run(["virt-xml-validate", xml, "domain"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except OSError as e:
        out, rc = "virt-xml-validate: %s (make deps installs " \
            "libvirt-clients)" % e, -1
    if not report(rc == 0 and "validates" in out,
                  "docs/virtio/haze-echo.xml is a valid libvirt domain"):
        show(out)
    hq = haze_qemu_module()
    echo = os.path.join(O, "virtio/examples/echo/echo.virtio")
    nets = [name for kind, name, _ in
            hq.check_image(open(echo, "rb").read()) if kind == "net"]

    def bound(cmdline):
        words = cmdline.split()
        return [n for w in words if w.startswith("haze.net=")
                for n in w[len("haze.net="):].split(",")], words[0]

    dom = ET.parse(xml).getroot()
    names, argv0 = bound(dom.find("os/cmdline").text)
    nics = dom.findall("devices/interface")
    ok = (names == nets and len(nics) == len(nets) and argv0 == "echo"
          and dom.find("os/kernel").text.endswith("/echo.virtio")
          and all(n.find("model").get("type") == "virtio-non-transitional"
                  for n in nics))
    if not report(ok, "the libvirt domain boots echo.virtio with haze.net= "
                  "naming its manifest's net devices %s, one virtio NIC "
                  "each" % nets):
        print("# haze.net= %s, %d NICs" % (names, len(nics)))
    fc = json.load(open(os.path.join(docs, "haze-echo.firecracker.json")))
    names, argv0 = bound(fc["boot-source"]["boot_args"])
    ok = (names == nets and argv0 == "echo"
          and [i["iface_id"] for i in fc["network-interfaces"]] == nets
          and fc["boot-source"]["kernel_image_path"].endswith(
              "/echo.virtio") and "entropy" in fc
          and fc["machine-config"]["vcpu_count"] == 1)
    if not report(ok, "the Firecracker configuration (untested: no "
                  "Firecracker here) parses and binds the same devices"):
        print("# haze.net= %s" % names)


def corrupt(kind):
    data = bytearray(open(image("hello"), "rb").read())
    if kind == "truncated":
        data = data[:100]
    elif kind == "no PVH note":
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phnum, = struct.unpack_from("<H", data, 0x38)
        for i in range(phnum):
            o = phoff + i * 56
            if struct.unpack_from("<I", data, o)[0] == 4:
                off, = struct.unpack_from("<Q", data, o + 8)
                # the first note is Xen's: change its type
                struct.pack_into("<I", data, off + 8, 17)
    return write_temp(data, ".virtio")


def test_refusals():
    for kind, needle in [("truncated", "program headers outside the file"),
                         ("no PVH note", "no PVH entry note")]:
        path = corrupt(kind)
        try:
            rc, out = run([path])
        finally:
            os.unlink(path)
        lines = out.strip().splitlines()
        ok = (rc == EXIT_USAGE and len(lines) == 1 and needle in lines[0]
              and "accelerator" not in out)
        if not report(ok, "an image %s is refused in one line before QEMU "
                      "starts" % ("truncated" if kind == "truncated"
                                  else "without the PVH note")):
            show(out)
    expect("a kvm-only option is refused", ["--pcap", "n=x.pcap",
                                            image("hello")],
           EXIT_USAGE, "usage: haze-qemu")


def main():
    for t in (test_hello, test_accel, test_sleep, test_idle, test_crypto, test_faults,
              test_block, test_block_refusals, test_block_errors,
              test_net, test_net_pci, test_rx_flood, test_net_refusals,
              test_refusals, test_signals, test_trace, test_doc_configs):
        TAP.guard(t.__name__, t)
    TAP.plan()


if __name__ == "__main__":
    main()
