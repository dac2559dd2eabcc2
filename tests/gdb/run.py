#!/usr/bin/python3
"""gdb on the guest targets: a `gdb -batch` session on the debuggee guest
(tests/kvm/guests/debuggee) through each runner's --gdb PORT.

- virtio, under QEMU (TCG without /dev/kvm, so it runs on every machine):
  haze-qemu --gdb relays gdb to QEMU's gdbstub. gdb breaks at hz_main,
  continues to it, prints a global and rip, steps one instruction (rip
  moves), continues, and is told "exited with code 07", the guest's own
  status, which haze-qemu also exits with.
- kvm, under haze-kvm --gdb (its own stub, tender/gdb.c), where /dev/kvm
  is usable: the same session; a fault stops gdb with SIGSEGV.
- Refusals on both runners, before anything starts: a port in use, a
  port that is not one.

Prints TAP. The images come from make test-build ($O).
"""
import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ left in tests/lib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../lib"))
from haze_test import (EXIT_USAGE, HAZE_KVM, HAZE_QEMU, O, Tap, free_port,
                       guest_image, kvm_error, run, show)

STATUS = 7  # the debuggee's exit status
ANSWER = "709720648"  # debuggee_answer, 0x2a4d7a48

TAP = Tap()
report = TAP.report


def image(target, name="debuggee"):
    return guest_image(target, name)


def session(runner, img, commands, args=(), timeout=120):
    """Starts RUNNER --gdb on IMG, runs gdb -batch with COMMANDS against
    it; (gdb's output, the runner's status, the runner's output)."""
    port = free_port()
    # The runner's check of the port connects once before gdb does:
    # neither runner takes that for gdb (QEMU's stub and haze-kvm wait for
    # a connection that speaks), so wait on its message instead.
    proc = subprocess.Popen([runner, "--gdb", str(port), img] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    waited = b""
    end = time.monotonic() + 30
    while b"waiting for gdb" not in waited and time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        waited += line
    cmd = ["gdb", "-q", "-nx", "-batch",
           "-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        cmd += ["-ex", c]
    cmd.append(img)
    gdb_out = run(cmd, timeout)[1]
    try:
        rest = proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        rest = proc.communicate()[0]
    return gdb_out, proc.returncode, (waited + rest).decode(errors="replace")


BATCH = ["break hz_main", "continue", "print debuggee_answer",
         "info registers rip", "stepi", "info registers rip", "continue"]


def check_batch(target, runner):
    gdb_out, status, out = session(runner, image(target), BATCH)
    rips = re.findall(r"^rip +(0x[0-9a-f]+) ", gdb_out, re.M)
    ok = (re.search(r"Breakpoint 1, hz_main \(", gdb_out)
          and "$1 = %s" % ANSWER in gdb_out
          and len(rips) == 2 and rips[0] != rips[1]
          and re.search(r"^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <hz_main>$",
                        gdb_out, re.M)
          and "exited with code %02d]" % STATUS in gdb_out
          and status == STATUS and "debuggee: %s" % ANSWER in out)
    if not report(ok, "%s: gdb breaks at hz_main, prints a global and rip, "
                  "steps (rip %s), continues to \"exited with code %02d\" "
                  "(the runner exits %d)" % (target, " -> ".join(rips),
                                             STATUS, status)):
        show(gdb_out)
        print("# runner (status %s):" % status)
        show(out)


def check_steps(target, runner):
    """25 stepi from the console write: each stops one instruction on,
    across the store that makes the hypercall (haze-kvm finishes it and
    ends the step there; KVM itself would run on) and the return."""
    gdb_out, status, out = session(
        runner, image(target), ["break hz_platform_console_write",
                                "continue", "display/i $pc"]
        + ["stepi"] * 25 + ["continue"])
    # display prints the pc after the steps (and where it was set)
    pcs = re.findall(r"^=> (0x[0-9a-f]+) <", gdb_out, re.M)
    moved = sum(1 for a, b in zip(pcs, pcs[1:]) if a != b)
    ok = (len(pcs) >= 24 and moved == len(pcs) - 1
          and "=> %s <hz_main+" % pcs[-1] in gdb_out
          and "exited with code %02d]" % STATUS in gdb_out
          and status == STATUS)
    if not report(ok, "%s: 25 stepi from the console write each move one "
                  "instruction, over the hypercall and back into hz_main "
                  "(%d of %d moved)" % (target, moved, max(len(pcs) - 1, 0))):
        show(gdb_out)


def check_kill(target, runner):
    gdb_out, status, out = session(runner, image(target),
                                   ["break hz_main", "continue", "kill"])
    ok = ("Breakpoint 1, hz_main" in gdb_out and status == 253
          and "killed by gdb" in out and "debuggee:" not in out)
    if not report(ok, "%s: gdb's kill ends the guest before it prints "
                  "(status %s)" % (target, status)):
        show(gdb_out)
        show(out)


def check_fault(target, runner):
    """kvm: haze-kvm's stub stops gdb at the fault (SIGSEGV, the fault's
    registers). virtio: QEMU's stub does not stop at guest exceptions (the
    guest's own handler takes them), so gdb learns of the fault when the
    guest ends: terminated with SIGSEGV."""
    gdb_out, status, out = session(runner, image(target, "nullptr"),
                                   ["continue", "info registers rip",
                                    "continue"])
    stopped = "received signal SIGSEGV" in gdb_out
    ok = ("terminated with signal SIGSEGV" in gdb_out and status == 255
          and stopped == (target == "kvm"))
    what = ("stops gdb with SIGSEGV, then the guest is over"
            if target == "kvm" else "ends gdb's guest with SIGSEGV")
    if not report(ok, "%s: a NULL dereference %s (status %s)"
                  % (target, what, status)):
        show(gdb_out)
        show(out)


def check_refusals(target, runner):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    name = os.path.basename(runner)
    p = subprocess.run([runner, "--gdb", str(port), image(target)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    busy.close()
    out = p.stdout.decode(errors="replace")
    want = "%s: --gdb %d: 127.0.0.1:%d is in use" % (name, port, port)
    if not report(p.returncode == EXIT_USAGE and out.strip() == want,
                  "%s: a port in use is refused in one line, status 252, "
                  "before the guest starts" % target):
        print("# expected %r, status 252; got status %d:" % (want,
                                                              p.returncode))
        show(out)
    p = subprocess.run([runner, "--gdb", "0x10", image(target)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = p.stdout.decode(errors="replace")
    if not report(p.returncode == EXIT_USAGE and
                  "--gdb 0x10: expected a TCP port, 1 to 65535" in out,
                  "%s: a port that is not one is refused" % target):
        show(out)


def main():
    for path in (image("virtio"), image("kvm"), HAZE_KVM):
        if not os.path.exists(path):
            report(False, "%s is missing: make O=%s test-build" % (path, O))
    tests = [(check_batch, "virtio", HAZE_QEMU),
             (check_kill, "virtio", HAZE_QEMU),
             (check_fault, "virtio", HAZE_QEMU),
             (check_refusals, "virtio", HAZE_QEMU),
             (check_refusals, "kvm", HAZE_KVM)]
    why = kvm_error()
    for t in (check_batch, check_steps, check_kill, check_fault):
        if why:
            what = "kvm: %s" % t.__name__
            report(True, what, skip="%s: /dev/kvm: %s" % (what, why))
        else:
            tests.append((t, "kvm", HAZE_KVM))
    for t, target, runner in tests:
        TAP.guard("%s %s" % (t.__name__, target), t, target, runner)
    TAP.plan()


if __name__ == "__main__":
    sys.exit(main())
