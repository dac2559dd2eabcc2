#!/usr/bin/python3
"""Boot benchmark of haze-kvm, and the size of the example images.

First the sizes of hello, echo and tls-echo on both targets (unix and
kvm): text, data and bss as `size` counts them, their sum, the file and
the file stripped. Then, where /dev/kvm can be opened, it runs a hello
guest N times and prints

  - the whole-process wall time (spawn to exit) median and spread,
    next to the cost of spawning /bin/true the same way, for scale;
  - the guest boot times reported by --trace (from the tender's main():
    first KVM_RUN, guest's first instruction, main, exit);
  - the stripped size of the image.

The default image is the guest test hello (prints a line and exits):
examples/hello sleeps 300 ms by design, which would measure its sleeps.

  bench/boot/run.py [-n N] [--mem MIB] [--sizes] [IMAGE]

--sizes prints the sizes only.

A benchmark, never a test: it prints figures and judges nothing.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time

O = os.environ.get("O", "build")


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
    for target, suffix in (("unix", ""), ("kvm", ".hz")):
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--mem", default="32")
    ap.add_argument("--sizes", action="store_true",
                    help="print the images' sizes only")
    ap.add_argument("image", nargs="?",
                    default=os.path.join(O, "kvm/tests/kvm/guests/hello/"
                                         "hello.hz"))
    a = ap.parse_args()
    tender = os.path.join(O, "host/tender/haze-kvm")

    print_sizes()
    if a.sizes:
        return 0
    print()
    if not kvm_usable():
        print("no usable /dev/kvm here: no boot figures")
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
