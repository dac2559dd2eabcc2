"""What the Python suites that run guests share: tests/kvm/run.py,
tests/virtio/run.py and tests/gdb/run.py.

TAP lines numbered as they are printed, the plan last (tests/run reads
them strictly, docs/testing.md); a guest runner (haze-kvm, haze-qemu)
started with a timeout and judged by its status and output; where make
test-build puts the guest images ($O); the checks and reports the kvm
and virtio targets make alike (faults, entropy sources); and what may
make a test skip: no usable /dev/kvm, no root or /dev/net/tun for a tap.

A suite imports it from tests/lib (sys.path) without writing bytecode
into the tree.
"""
import os
import re
import socket
import subprocess
import tempfile

O = os.environ.get("O", "build")
TREE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
HAZE_KVM = os.path.join(O, "host/tender/haze-kvm")
HAZE_QEMU = os.path.join(TREE, "platform/virtio/haze-qemu")

# The runners' own exit statuses, above the guest's (docs/kvm.md "Exit
# statuses"; haze-qemu keeps them, docs/virtio.md).
EXIT_CLAMPED = 251  # a guest status above the largest passed through
EXIT_USAGE = 252  # refused before boot
EXIT_BADCALL = 253  # the guest was stopped: malformed hypercall, ...
EXIT_ABORT = 254  # the guest aborted
EXIT_FAULT = 255  # a CPU exception, with the fault report


def guest_image(target, name):
    """The image of tests/kvm/guests/NAME built for TARGET, kvm or
    virtio."""
    ext = "hz" if target == "kvm" else "virtio"
    return os.path.join(O, target, "tests/kvm/guests", name,
                        "%s.%s" % (name, ext))


class Tap:
    """Numbers the test lines of one suite; plan() prints the plan after
    the last."""

    def __init__(self):
        self.n = 0

    def report(self, ok, what, skip=None):
        """Prints the next test line: ok N - WHAT, or not ok N - WHAT;
        with @skip, the reason, only for what the machine cannot have,
        ok N # SKIP SKIP (without WHAT). Returns @ok."""
        self.n += 1
        if skip:
            print("ok %d # SKIP %s" % (self.n, skip))
        else:
            print("%s %d - %s" % ("ok" if ok else "not ok", self.n, what))
        return ok

    def guard(self, name, test, *args):
        """Runs TEST(*ARGS): one that raises is a failure named NAME, not
        a crash that would leave the plan unmet."""
        try:
            test(*args)
        except Exception as e:
            self.report(False, "%s raised %r" % (name, e))

    def plan(self):
        print("1..%d" % self.n)


def show(text):
    """TEXT as TAP comments, indented under the line it explains."""
    for line in text.splitlines():
        print("#   " + line)


def run(argv, timeout):
    """Runs ARGV; (status, stdout + stderr). Past TIMEOUT seconds the
    program is killed: status -1, and its output ends in "(timeout)"."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return -1, (e.output or b"").decode(errors="replace") + "\n(timeout)"
    return p.returncode, p.stdout.decode(errors="replace")


BACKTRACE_FRAME1 = re.compile(r"#1 +0x[0-9a-f]+ [A-Za-z_]\w*\+0x[0-9a-f]+")


class Runner:
    """A guest runner, haze-kvm or haze-qemu, and the images of its
    target: each run judged by status and output, as one line of @tap."""

    def __init__(self, tap, program, target, timeout):
        self.tap = tap
        self.program = program
        self.target = target
        self.timeout = timeout

    def image(self, name):
        return guest_image(self.target, name)

    def run(self, args):
        """Runs the runner with ARGS; (status, stdout + stderr)."""
        return run([self.program] + args, self.timeout)

    def expect(self, what, args, status, *needles):
        """Reports WHAT: ARGS end in STATUS, every needle in the output.
        Returns the output."""
        rc, out = self.run(args)
        ok = rc == status and all(s in out for s in needles)
        if not self.tap.report(ok, what):
            print("# expected status %d and %r; got %d:"
                  % (status, needles, rc))
            show(out)
        return out

    def expect_fault(self, what, guest, *needles):
        """A CPU exception in GUEST: the fault line, registers and a
        symbolized backtrace whose frame #0 is the faulting rip of the
        register dump. Returns (status, output)."""
        rc, out = self.run([self.image(guest)])
        regs = re.search(r"rip ([0-9a-f]{16}) rsp [0-9a-f]{16} "
                         r"rbp [0-9a-f]{16} rflags [0-9a-f]+", out)
        frame0 = re.search(r"#0 +0x([0-9a-f]+) \S+\+0x", out)
        ok = (rc == EXIT_FAULT and all(s in out for s in needles)
              and "backtrace:" in out and BACKTRACE_FRAME1.search(out)
              and regs and frame0
              and int(regs.group(1), 16) == int(frame0.group(1), 16))
        if not self.tap.report(ok, what):
            print("# expected status %d, %r, registers and a symbolized "
                  "backtrace; got %d:" % (EXIT_FAULT, needles, rc))
            show(out)
        return rc, out

    def expect_guard_named(self, rc, out):
        """The overflow guest's status RC and output OUT: the fiber is
        named, with its guard page, before the fault report, and the
        fault's address is in that page."""
        named = re.search(r"^fiber deep overflowed its stack "
                          r"\(guard page at 0x([0-9a-f]+)\)$", out, re.M)
        fault = re.search(r"guest fault: .*, cr2 0x([0-9a-f]+)", out)
        ok = (rc == EXIT_FAULT and named and fault
              and named.start() < fault.start()
              and int(fault.group(1), 16) >> 12
              == int(named.group(1), 16) >> 12
              and "went unnoticed" not in out)
        if not self.tap.report(ok, "the fiber is named before the report, "
                               "with the guard page the fault hit"):
            show(out)


def entropy_sources(out):
    """From the guest's entropy log line in OUT: (the set of sources that
    work, the absent ones, the failed ones), the last two as printed; or
    None."""
    m = re.search(r"entropy: sources: (.*) \(absent: ([^;]*); failed: "
                  r"([^)]*)\); seeded", out)
    if not m:
        return None
    return ({s.strip() for s in m.group(1).split(",")}, m.group(2),
            m.group(3))


def kvm_error():
    """Why /dev/kvm cannot be opened (its strerror), or None."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return e.strerror
    return None


def tap_skip_reason():
    """Why this machine cannot make a tap (the reason to skip), or
    None."""
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    return None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def disk(size):
    """A temporary file of SIZE zero bytes, to bind as a block device;
    removed when closed."""
    f = tempfile.NamedTemporaryFile(suffix=".img")
    f.truncate(size)
    f.flush()
    return f


def write_temp(data, suffix):
    """DATA in a new temporary file; its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.write(fd, bytes(data))
    os.close(fd)
    return path
