#!/usr/bin/python3
"""Boot benchmark of haze-kvm and of the virtio target under QEMU, and
the size of the example images.

First the sizes of hello, echo and tls-echo on every target (unix, kvm,
virtio): text, data and bss as `size` counts them, their sum, the file
and the file stripped. Then, where /dev/kvm can be opened, it runs a
hello guest under haze-kvm N times and prints

  - the whole-process wall time (spawn to exit) median and spread,
    next to the cost of spawning /bin/true the same way, for scale;
  - the guest boot times reported by --trace (from the tender's main():
    first KVM_RUN, guest's first instruction, main, exit);
  - the stripped size of the image.

Then the virtio rows: the same hello guest, built for the virtio target,
under haze-qemu on QEMU's `microvm`, with KVM (where /dev/kvm can be
opened; otherwise the row says it was skipped and why) and with TCG. For
each, N runs of

  - the whole process, haze-qemu spawned to its exit;
  - haze-qemu --trace's figures: from haze-qemu's main() to QEMU
    spawned and to QEMU's end; the guest's own, from its first
    instruction (its TSC at the PVH entry) to the clock started (the
    TSC calibrated against the PIT), to main and to its exit; and the
    TSC at that first instruction, which hypervisors start near 0 with
    the vCPU (KVM) or the VM's run (TCG): an estimate of the time from
    there to the first instruction;
  - two baselines, so QEMU's own share shows: a PVH image of a few
    bytes that exits at once (made here), booted by QEMU alone with
    haze-qemu's arguments, and booted through haze-qemu.

The default image is the guest test hello (prints a line and exits):
examples/hello sleeps 300 ms by design, which would measure its sleeps.

  bench/boot/run.py [-n N] [--mem MIB] [--sizes] [--no-virtio] [IMAGE]

--sizes prints the sizes only; --no-virtio leaves out the virtio rows.
docs/virtio.md ("Boot figures") holds the latest figures and how to read
them.

A benchmark, never a test: it prints figures and judges nothing.
"""
import argparse
import os
import statistics
import struct
import subprocess
import tempfile
import time

O = os.environ.get("O", "build")
HAZE_QEMU = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "../../platform/virtio/haze-qemu")


def spread(xs):
    xs = sorted(xs)
    q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))]
    return "median %8.1f  min %8.1f  p10 %8.1f  p90 %8.1f  max %8.1f" % (
        statistics.median(xs), xs[0], q(0.1), q(0.9), xs[-1])


def wall_us(argv):
    t0 = time.perf_counter_ns()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e3, p.returncode, p.stderr.decode(errors="replace")


def stripped_size(path):
    with tempfile.NamedTemporaryFile() as f:
        subprocess.run(["strip", "-o", f.name, path], check=True)
        return os.path.getsize(f.name)


def print_sizes():
    """The example images' sizes, in bytes, one line each."""
    print("image sizes in bytes (text, data, bss as size(1) counts them)")
    print("%-34s %8s %7s %7s %8s %8s %9s" % (
        "image", "text", "data", "bss", "total", "file", "stripped"))
    for target, suffix in (("unix", ""), ("kvm", ".hz"),
                           ("virtio", ".virtio")):
        for name in ("hello", "echo", "tls-echo"):
            path = os.path.join(O, target, "examples", name, name + suffix)
            if not os.path.exists(path):
                print("%-34s not built (make %s)" % (path, target))
                continue
            out = subprocess.run(["size", path], check=True,
                                 capture_output=True, text=True).stdout
            text, data, bss, total = (int(x) for x in
                                      out.splitlines()[1].split()[:4])
            print("%-34s %8d %7d %7d %8d %8d %9d" % (
                "%s/%s" % (target, name), text, data, bss, total,
                os.path.getsize(path), stripped_size(path)))


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


def qemu_kvm_why():
    """Why QEMU cannot use KVM here, or None: haze-qemu's own answer
    (/dev/kvm must open, and the CPU must virtualise in hardware)."""
    out = subprocess.run([HAZE_QEMU, "--which-accel"], capture_output=True,
                         text=True).stdout.strip()
    if out == "kvm":
        return None
    return out[len("tcg ("):-1] if out.startswith("tcg (") else out


def null_pvh_image(path):
    """Writes a PVH image that does nothing but exit: an x86-64 ELF whose
    Xen note (PHYS32_ENTRY) points at `out` of 1 to isa-debug-exit (QEMU
    status 3, the guest's status 0 for haze-qemu), then `hlt`. It
    measures QEMU's own start-up and end, with no guest work."""
    base, ehdr, phdr = 0x100000, 64, 56
    note_off = ehdr + 2 * phdr
    code_off = note_off + 20
    code = bytes([0x66, 0xba, 0xf4, 0x00,        # mov $0xf4, %dx
                  0xb8, 0x01, 0x00, 0x00, 0x00,  # mov $1, %eax
                  0xef,                          # out %eax, (%dx)
                  0xf4, 0xeb, 0xfd])             # 1: hlt; jmp 1b
    size = code_off + len(code)
    elf = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0,
                      2, 62, 1, base + code_off, ehdr, 0, 0, ehdr, phdr, 2,
                      0, 0, 0)
    elf += struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size,
                       0x1000)                    # PT_LOAD, R+X
    elf += struct.pack("<IIQQQQQQ", 4, 4, note_off, base + note_off,
                       base + note_off, 20, 20, 4)  # PT_NOTE
    elf += struct.pack("<III4sI", 4, 4, 18, b"Xen\0", base + code_off)
    elf += code
    with open(path, "wb") as f:
        f.write(elf)


def qemu_argv(image, accel, mem):
    """QEMU's command line as haze-qemu makes it for an image without
    devices (platform/virtio/haze-qemu), the virtio-rng included."""
    return ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", accel,
            "-cpu", "host" if accel == "kvm" else "max", "-m", mem,
            "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", image,
            "-global", "virtio-mmio.force-legacy=false", "-device",
            "virtio-rng-device", "-append", "null"]


def virtio_rows(n, mem, image, accel):
    """The virtio rows for @accel: @n runs of @image under haze-qemu
    --trace, and of the baselines. Returns 1 when a run failed."""
    whole, trace = [], {}
    for _ in range(n):
        us, rc, err = wall_us([HAZE_QEMU, "--accel", accel, "--mem", mem,
                               "--trace", image])
        if rc != 0:
            print("haze-qemu failed (status %d):\n%s" % (rc, err))
            return 1
        whole.append(us)
        for line in err.splitlines():
            if "haze-qemu: trace:" not in line:
                continue
            for kv in line.split("trace:")[1].split():
                k, v = kv.split("=")
                trace.setdefault(k, []).append(float(v))
    base_qemu, base_runner = [], []
    with tempfile.TemporaryDirectory() as d:
        null = os.path.join(d, "null.virtio")
        null_pvh_image(null)
        for _ in range(n):
            us, rc, err = wall_us(qemu_argv(null, accel, mem))
            if rc != 3:
                print("QEMU on the null image: status %d (3 expected):\n%s"
                      % (rc, err))
                return 1
            base_qemu.append(us)
            us, rc, err = wall_us([HAZE_QEMU, "--accel", accel, "--mem",
                                   mem, null])
            if rc != 0:
                print("haze-qemu on the null image: status %d:\n%s"
                      % (rc, err))
                return 1
            base_runner.append(us)
    print("virtio, QEMU microvm, %s: %s, %d runs, --mem %s MiB" % (
        accel.upper(), image, n, mem))
    print("all figures in microseconds")
    print("%-34s %s" % ("whole process (haze-qemu)", spread(whole)))
    print("%-34s %s" % ("null image, QEMU alone", spread(base_qemu)))
    print("%-34s %s" % ("null image, through haze-qemu", spread(base_runner)))
    for k, what in (("spawn_us", "haze-qemu main -> QEMU spawned"),
                    ("qemu_exit_us", "haze-qemu main -> QEMU ended"),
                    ("guest_tsc_entry_us", "guest TSC at first instruction"),
                    ("guest_clock_us", "guest first instr. -> clock"),
                    ("guest_main_us", "guest first instr. -> main"),
                    ("guest_exit_us", "guest first instr. -> exit")):
        if k in trace:
            print("%-34s %s" % (what, spread(trace[k])))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--mem", default="32")
    ap.add_argument("--sizes", action="store_true",
                    help="print the images' sizes only")
    ap.add_argument("--no-virtio", action="store_true",
                    help="leave out the virtio rows")
    ap.add_argument("image", nargs="?",
                    default=os.path.join(O, "kvm/tests/kvm/guests/hello/"
                                         "hello.hz"))
    a = ap.parse_args()
    tender = os.path.join(O, "host/tender/haze-kvm")

    print_sizes()
    if a.sizes:
        return 0
    print()
    rc = kvm_rows(a, tender)
    if a.no_virtio:
        return rc
    image = a.image
    if image.endswith(".hz"):
        image = image.replace("/kvm/", "/virtio/", 1)[:-3] + ".virtio"
    for accel in ("kvm", "tcg"):
        print()
        why = qemu_kvm_why() if accel == "kvm" else None
        if why:
            print("virtio, QEMU microvm, KVM: skipped (%s); runs where "
                  "QEMU can use KVM" % why)
            continue
        rc |= virtio_rows(a.n, a.mem, image, accel)
    if os.path.exists(image):
        stripped = stripped_size(image)
        print("\nstripped virtio image size      %d bytes (%.1f KiB)" %
              (stripped, stripped / 1024))
    return rc


def kvm_rows(a, tender):
    """The haze-kvm rows, where /dev/kvm is usable; 1 when a run failed."""
    if not kvm_usable():
        print("haze-kvm: skipped (%s): no haze-kvm boot figures"
              % kvm_why())
        return 0

    base = [wall_us(["/bin/true"])[0] for _ in range(a.n)]
    whole, trace = [], {}
    for _ in range(a.n):
        us, rc, err = wall_us([tender, "--mem", a.mem, "--trace", a.image])
        if rc != 0:
            print("haze-kvm failed (status %d):\n%s" % (rc, err))
            return 1
        whole.append(us)
        for line in err.splitlines():
            if "trace:" not in line:
                continue
            for kv in line.split("trace:")[1].split():
                k, v = kv.split("=")
                trace.setdefault(k, []).append(float(v))
    stripped = stripped_size(a.image)

    print("haze-kvm boot benchmark: %s, %d runs, --mem %s MiB" %
          (a.image, a.n, a.mem))
    print("all figures in microseconds")
    print("whole process (spawn to exit)  %s" % spread(whole))
    print("spawn of /bin/true, for scale  %s" % spread(base))
    for k in ("vm_run_us", "first_instruction_us", "main_us", "exit_us"):
        if k in trace:
            print("%-30s %s" % ("trace " + k[:-3], spread(trace[k])))
    print("stripped image size            %d bytes (%.1f KiB)" %
          (stripped, stripped / 1024))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
