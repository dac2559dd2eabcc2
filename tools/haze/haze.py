#!/usr/bin/python3
"""haze: makes, builds, runs and inspects Haze unikernels.

    haze new NAME [--template hello|echo|website]
    haze build [-t TARGET]
    haze run [-t TARGET] [-n] [-p HOST:GUEST]... [--net NAME=SPEC]...
             [--block NAME=PATH]... [--mem MIB] [--gdb PORT] [--log=SPEC]
             [-- ARGS...]
    haze inspect IMAGE
    haze crunch [-n NAME] [-o FILE] DIR

The application's directory holds a small Makefile that builds it through
pkg-config (haze-unix, haze-kvm, haze-virtio); `haze build` runs make
there and `haze run` starts the image with what its target needs. Targets
are the entries of TARGETS: a new one is one entry here and one stanza in
the templates' Makefile. The manual page is haze(1), the
tutorial docs/using.md.

Every refusal is one line on stderr naming the command and what is wrong,
and a non-zero status: 2 for bad input, 1 for a failure.
"""
import difflib
import errno
import hashlib
import os
import re
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Target:
    """What haze knows of one target; the rest is in the app's Makefile."""
    name: str
    pkg: str          # the pkg-config package its Makefile stanza uses
    image_var: str    # the Makefile variable naming its image
    runner: str       # the program that runs an image; "" runs it directly
    needs_kvm: bool   # refuse to run without a usable /dev/kvm
    about: str


TARGETS = {
    "unix": Target("unix", "haze-unix", "UNIX_IMAGE", "", False,
                   "a Linux process; networking on the host's sockets"),
    "kvm": Target("kvm", "haze-kvm", "KVM_IMAGE", "haze-kvm", True,
                  "a KVM guest under haze-kvm; user networking"),
    "virtio": Target("virtio", "haze-virtio", "VIRTIO_IMAGE", "haze-qemu",
                     False, "a PVH guest under QEMU (haze-qemu), with KVM "
                     "or software emulation; user networking"),
}
DEFAULT_TARGET = "unix"
TEMPLATES = ("hello", "echo", "website")
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

# The Haze notes (include/haze/manifest.h, platform/kvm/abi.h).
NOTE_OWNER = b"HAZE\0"
NOTE_MANIFEST = 0x485A4D31  # "HZM1"
NOTE_KVM_ABI = 0x485A4B31   # "HZK1"
NOTE_KVM_TRAPS = 0x485A4B54  # "HZKT"
GNU_BUILD_ID = 3
XEN_PVH_ENTRY = 18  # XEN_ELFNOTE_PHYS32_ENTRY: the virtio target's entry
MANIFEST_VERSION = 1
# Haze's version, written in by make install (mk/install.mk).
VERSION = "@HZ_VERSION@"
MANIFEST_MAX = 16
DEVICE_NAME_MAX = 32
MANIFEST_DESC_SIZE = 8 + MANIFEST_MAX * (8 + DEVICE_NAME_MAX)
DEVICE_KINDS = {1: "net", 2: "block"}
DEVICE_OPTIONAL = 1
# Symbols whose presence says which parts of Haze an image links.
MARKERS = (
    ("hz_main", "the application's entry"),
    ("hz_ipstack_create", "Haze's TCP/IP (the direct stack)"),
    ("hz_tls_config_new", "TLS"),
    ("br_sha256_init", "BearSSL"),
    ("hz_entropy_random", "the entropy pool (Fortuna)"),
    ("hz_http_server_init", "the HTTP server"),
    ("hz_kv_static_open", "compiled KV stores"),
)


class Refused(Exception):
    """Bad input: the message, and exit status 2."""


class Failed(Exception):
    """A failure that is not the user's input: exit status 1."""


def data_dir():
    """Where the templates and crunch are: the tree, or PREFIX/share."""
    if (HERE / "templates").is_dir():
        return HERE, HERE.parent / "crunch" / "crunch.py"
    share = HERE.parent / "share" / "haze"
    return share, share / "tools" / "crunch" / "crunch.py"


def find_program(name):
    """@name beside this haze (an install's bin/), else on PATH."""
    beside = HERE / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def target_of(value, cmd):
    if value not in TARGETS:
        raise Refused(f"{cmd}: -t {value}: unknown target "
                      f"(known: {', '.join(TARGETS)})")
    return TARGETS[value]


# --- haze new ---------------------------------------------------------------

def cmd_new(args):
    template, path = "hello", None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--template", "-T"):
            if i + 1 == len(args):
                raise Refused("haze new: --template needs a name "
                              f"({', '.join(TEMPLATES)})")
            template = args[i + 1]
            i += 2
            continue
        if a.startswith("--template="):
            template = a.split("=", 1)[1]
        elif a.startswith("-"):
            raise Refused(f"haze new: {a}: unknown option")
        elif path is None:
            path = a
        else:
            raise Refused(f"haze new: {a}: one NAME only")
        i += 1
    if path is None:
        raise Refused("haze new: no NAME (haze new NAME "
                      "[--template hello|echo|website])")
    if template not in TEMPLATES:
        raise Refused(f"haze new: --template {template}: no such template "
                      f"(known: {', '.join(TEMPLATES)})")
    dest = Path(path)
    name = dest.name
    if not NAME_RE.fullmatch(name):
        raise Refused(f"haze new: {path}: a name is a letter, then up to 63 "
                      "letters, digits, '-' or '_'")
    if dest.exists() or dest.is_symlink():
        raise Refused(f"haze new: {path}: already exists")
    if not dest.parent.is_dir():
        raise Refused(f"haze new: {dest.parent}: no such directory")
    root, _ = data_dir()
    src = root / "templates"
    if not (src / template).is_dir():
        raise Failed(f"haze new: {src / template}: template missing "
                     "(is Haze installed whole?)")
    tmp = dest.parent / f".{name}.new{os.getpid()}"
    try:
        copy_template(src / "common", tmp, name)
        copy_template(src / template, tmp, name)
        os.rename(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise Failed(f"haze new: {path}: {e.strerror or e}") from e
    print(f"haze: made {path} from the {template} template; next:")
    print(f"  cd {path} && haze build && haze run")
    return 0


def copy_template(src, dest, name):
    """Copies the tree @src into @dest, @NAME@ replaced in text files."""
    for d, _, files in os.walk(src):
        rel = Path(d).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            data = (Path(d) / f).read_bytes()
            if f.endswith((".c", ".h", ".html")) or f == "Makefile":
                data = data.replace(b"@NAME@", name.encode())
            (dest / rel / f).write_bytes(data)


# --- haze build ---------------------------------------------------------------

def parse_target_only(args, cmd):
    target = TARGETS[DEFAULT_TARGET]
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-t", "--target"):
            if i + 1 == len(args):
                raise Refused(f"{cmd}: -t needs a target "
                              f"({', '.join(TARGETS)})")
            target = target_of(args[i + 1], cmd)
            i += 2
            continue
        if a.startswith("--target="):
            target = target_of(a.split("=", 1)[1], cmd)
        else:
            rest.append(a)
        i += 1
    return target, rest


def need_app_dir(cmd):
    if not Path("Makefile").is_file():
        raise Refused(f"{cmd}: no Makefile in {os.getcwd()}: run it in an "
                      "application's directory (haze new NAME makes one)")


def need_tool(tool, package, cmd):
    """Refuses @cmd when @tool is not on PATH, naming its Debian package."""
    if shutil.which(tool) is None:
        raise Failed(f"{cmd}: {tool} is not installed (install the Debian "
                     f"package {package})")


def make_var(var, cmd):
    """The value of Makefile variable @var, asked of make itself."""
    need_tool("make", "make", cmd)
    r = subprocess.run(["make", "--no-print-directory", "-s",
                        f"print-{var}"], capture_output=True, text=True)
    value = r.stdout.strip()
    if r.returncode != 0 or not value:
        raise Failed(f"{cmd}: the Makefile here does not name its image "
                     f"({var}; make print-{var} failed)")
    return value


def need_sources(cmd):
    """Refuses @cmd where the Makefile's SRCS (every C file beside it, in
    the templates' Makefile) is empty: make would compile nothing and
    fail in the linker, naming a file it could not write."""
    r = subprocess.run(["make", "--no-print-directory", "-s",
                        "print-SRCS"], capture_output=True, text=True)
    if r.returncode == 0 and not r.stdout.strip():
        raise Refused(f"{cmd}: no C sources in {os.getcwd()}: an "
                      "application is the .c files beside its Makefile "
                      "(one of them defines hz_main)")


def pkg_config_has(pkg, cmd):
    need_tool("pkg-config", "pkg-config", cmd)
    return subprocess.run(["pkg-config", "--exists", pkg]).returncode == 0


def cmd_build(args):
    target, rest = parse_target_only(args, "haze build")
    if rest:
        raise Refused(f"haze build: {rest[0]}: unknown argument")
    need_app_dir("haze build")
    need_tool("make", "make", "haze build")
    if not pkg_config_has(target.pkg, "haze build"):
        raise Failed(f"haze build: -t {target.name}: pkg-config knows no "
                     f"{target.pkg} (set PKG_CONFIG_PATH to "
                     "PREFIX/lib/pkgconfig of Haze's make install)")
    image = make_var(target.image_var, "haze build")
    need_sources("haze build")
    before = image_stamp(image)
    r = subprocess.run(["make", "--no-print-directory", target.name])
    if r.returncode != 0:
        raise Failed(f"haze build: -t {target.name}: make failed "
                     f"(status {r.returncode})")
    # What the compiler cannot see of HZ_MANIFEST (a name twice, a
    # character a binding cannot carry) is refused here, not at run.
    try:
        inspect_image(image)
    except BadManifest as e:
        raise Refused(f"haze build: {image}: invalid device manifest: {e} "
                     "(HZ_MANIFEST in the application's source)") from e
    except NotHaze:
        pass  # what haze run would say of it, it says then
    if before is not None and image_stamp(image) == before:
        print(f"haze: {image} is up to date ({target.name})")
    else:
        print(f"haze: built {image} ({target.name})")
    return 0


def image_stamp(path):
    """What tells a rebuilt @path from the same one: its modification
    time, inode and size; None when there is none yet."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


# --- haze run -------------------------------------------------------------------

@dataclass
class RunOptions:
    target: Target
    ports: list
    nets: list
    blocks: list
    mem: str
    app_args: list
    dry_run: bool = False
    gdb: int = 0      # --gdb PORT: the runner waits for gdb there
    runtime: list = field(default_factory=list)  # --log=SPEC: the runtime's


# Options of Haze's runtime (src/core/runtime.c): they must come first
# among the application's arguments, where the runtime takes them.
RUNTIME_OPTIONS = ("--log=",)


def split_runtime(args):
    """The runtime's options leading @args, and the rest."""
    n = 0
    while n < len(args) and args[n].startswith(RUNTIME_OPTIONS):
        n += 1
    return args[:n], args[n:]


def parse_run(args):
    o = RunOptions(TARGETS[DEFAULT_TARGET], [], [], [], "", [])
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            # Runtime options given first after -- stay first.
            given, o.app_args = split_runtime(args[i + 1:])
            o.runtime += given
            break
        if a in ("-n", "--dry-run"):
            o.dry_run = True
            i += 1
            continue
        opt, value = a, None
        if a.startswith("--") and "=" in a and a.split("=")[0] in (
                "--target", "--net", "--block", "--mem", "--gdb", "--log"):
            opt, value = a.split("=", 1)
        if opt not in ("-t", "--target", "-p", "--net", "--block", "--mem",
                       "--gdb", "--log"):
            raise Refused(f"haze run: {a}: unknown option (the "
                          "application's arguments go after --)")
        if value is None:
            if i + 1 == len(args):
                raise Refused(f"haze run: {opt} needs a value")
            value = args[i + 1]
            i += 1
        i += 1
        if opt in ("-t", "--target"):
            o.target = target_of(value, "haze run")
        elif opt == "--log":
            if not value:
                raise Refused("haze run: --log needs a value (--log=debug, "
                              "--log=tcp:debug,arp:warn)")
            o.runtime.append(f"--log={value}")
        elif opt == "-p":
            o.ports.append(parse_port_pair(value))
        elif opt == "--gdb":
            o.gdb = parse_port(value)
            if o.gdb is None:
                raise Refused(f"haze run: --gdb {value}: expected a TCP "
                              "port (1..65535)")
        elif opt == "--net":
            o.nets.append(parse_binding("--net", value))
        elif opt == "--block":
            name, path = parse_binding("--block", value)
            if not Path(path).exists():
                raise Refused(f"haze run: --block {value}: no such file")
            o.blocks.append((name, path))
        else:
            if not re.fullmatch(r"[1-9][0-9]{0,5}", value):
                raise Refused(f"haze run: --mem {value}: a size in MiB")
            o.mem = value
    return o


def parse_port(s):
    if not re.fullmatch(r"[1-9][0-9]{0,4}", s) or int(s) > 65535:
        return None
    return int(s)


def parse_port_pair(value):
    host, sep, guest = value.partition(":")
    hp, gp = parse_port(host), parse_port(guest)
    if not sep or hp is None or gp is None:
        raise Refused(f"haze run: -p {value}: expected HOST:GUEST, two "
                      "ports (1..65535)")
    return hp, gp


def parse_binding(opt, value):
    name, sep, spec = value.partition("=")
    if not sep or not name or not spec:
        raise Refused(f"haze run: {opt} {value}: expected NAME=SPEC")
    return name, spec


def port_busy(port):
    """Why 127.0.0.1:@port cannot be listened on (where slirp binds), or
    None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return "is in use"
        if e.errno == errno.EACCES:
            return "needs root (a port below 1024)"
        raise
    finally:
        s.close()


def newer_sources(image):
    """A source of the application here (C files, headers, the Makefile,
    site/) newer than @image, or None."""
    built = os.stat(image).st_mtime
    paths = [p for p in Path(".").glob("*.[ch]")] + [Path("Makefile")]
    if Path("site").is_dir():
        paths += [p for p in Path("site").rglob("*") if p.is_file()]
    for p in paths:
        if p.stat().st_mtime > built:
            return str(p)
    return None


def kvm_unusable():
    """Why /dev/kvm cannot be used here, or None."""
    if not os.path.exists("/dev/kvm"):
        return "there is no /dev/kvm on this machine"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"/dev/kvm cannot be opened ({e.strerror})"
    os.close(fd)
    return None


def cmd_run(args):
    o = parse_run(args)
    need_app_dir("haze run")
    t = o.target
    image = make_var(t.image_var, "haze run")
    if not Path(image).is_file():
        raise Refused(f"haze run: {image}: no such image: build it with "
                      f"haze build -t {t.name}")
    newer = newer_sources(image)
    if newer:
        print(f"haze run: warning: {newer} is newer than {image} (haze "
              f"build -t {t.name} rebuilds it)", file=sys.stderr)
    try:
        info = inspect_image(image)
    except BadManifest as e:
        raise Refused(f"haze run: {image}: invalid device manifest: {e} "
                      "(HZ_MANIFEST in the application's source)") from e
    except NotHaze as e:
        raise Refused(f"haze run: {image}: not a Haze image: {e}") from e
    if info.target != t.name:
        raise Refused(f"haze run: {image}: a {info.target} image, not "
                      f"{t.name}")
    nics = [e[0] for e in info.devices if e[1] == "net"]
    for name, spec in o.nets:
        if name not in nics:
            raise Refused(f"haze run: --net {name}={spec}: the unikernel "
                          f"declares no net device '{name}'")
    blocks = [e[0] for e in info.devices if e[1] == "block"]
    for name, path in o.blocks:
        if name not in blocks:
            raise Refused(f"haze run: --block {name}={path}: the unikernel "
                          f"declares no block device '{name}'")
    if o.ports and not nics:
        raise Refused(f"haze run: -p {o.ports[0][0]}:{o.ports[0][1]}: the "
                      "unikernel declares no net device to forward to")
    for hp, gp in o.ports:
        if t.name == "unix" and hp != gp:
            raise Refused(f"haze run: -p {hp}:{gp}: on the unix target the "
                          "application listens on the host's own ports: "
                          f"use -p {gp}:{gp} or have it listen on {hp}")
        if [p[0] for p in o.ports].count(hp) > 1:
            raise Refused(f"haze run: -p {hp}:{gp}: host port {hp} is "
                          "forwarded twice")
        why = port_busy(hp)
        if why:
            raise Refused(f"haze run: -p {hp}:{gp}: port {hp} on 127.0.0.1 "
                          f"{why}")
    if o.ports and o.nets:
        raise Refused(f"haze run: -p {o.ports[0][0]}:{o.ports[0][1]}: with "
                      "--net, forwards are the network's business (kvm: "
                      "NAME=user,hostfwd=tcp:HOST-:GUEST)")
    if o.gdb and not t.runner:
        raise Refused(f"haze run: --gdb {o.gdb}: the unix target is a "
                      "Linux process: run it under gdb itself (gdb --args "
                      f"{image} ...), see docs/using.md")
    why = port_busy(o.gdb) if o.gdb else None
    if why:
        raise Refused(f"haze run: --gdb {o.gdb}: port {o.gdb} on 127.0.0.1 "
                      f"{why}")
    if t.needs_kvm and not o.dry_run:
        why = kvm_unusable()
        if why:
            raise Failed(f"haze run: -t {t.name}: {why} (-t virtio runs "
                         "the same application under QEMU without KVM)")
    argv = run_argv_unix(o, image, nics) if not t.runner else \
        run_argv_tender(o, image, nics)
    if o.dry_run:
        print(" ".join(shlex.quote(a) for a in argv))
        return 0
    sys.stdout.flush()
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        raise Failed(f"haze run: {argv[0]}: {e.strerror}") from e


def run_argv_unix(o, image, nics):
    """The unix image's own options, then the runtime's and app's args.

    Without --net, an application with a NIC is given `--stack socket`
    first among its own arguments (the convention of Haze's examples and
    templates): TCP/UDP on the host's sockets, no tap, no root. The
    runtime's options (--log=SPEC) come before it, where the runtime
    takes them; after it, the application would.
    """
    argv = [os.path.abspath(image)]
    if o.mem:
        argv += ["--mem", o.mem]
    for name, spec in o.nets:
        argv += ["--net", f"{name}={spec}"]
    for name, path in o.blocks:
        argv += ["--block", f"{name}={path}"]
    argv.append("--")
    argv += o.runtime
    if nics and not o.nets:
        argv += ["--stack", "socket"]
    return argv + o.app_args


def run_argv_tender(o, image, nics):
    """The runner's options (haze-kvm's, or haze-qemu's, which takes the
    same), the image, then the app's arguments.

    Without --net, the first NIC of the manifest is given user networking
    (no root), with the -p forwards.
    """
    tender = find_program(o.target.runner)
    if tender is None:
        raise Failed(f"haze run: -t {o.target.name}: {o.target.runner} "
                     "not found beside haze or on PATH")
    argv = [tender]
    if o.mem:
        argv += ["--mem", o.mem]
    if o.gdb:
        argv += ["--gdb", str(o.gdb)]
    nets = list(o.nets)
    # haze-qemu spells a forward as QEMU does, haze-kvm takes either.
    sep = "::" if o.target.name == "virtio" else ":"
    if not nets and nics:
        spec = "user" + "".join(f",hostfwd=tcp{sep}{hp}-:{gp}"
                                for hp, gp in o.ports)
        nets = [(nics[0], spec)]
    for name, spec in nets:
        argv += ["--net", f"{name}={spec}"]
    for name, path in o.blocks:
        argv += ["--block", f"{name}={path}"]
    return argv + [image] + o.runtime + o.app_args


# --- haze inspect ---------------------------------------------------------------

@dataclass
class ImageInfo:
    target: str
    abi: int          # the kvm ABI version; the PVH entry on virtio
    devices: list     # (name, kind, optional)
    size: int
    memory: int       # bytes of loadable segments in memory
    build_id: str
    sha256: str
    symbols: int      # entries of .symtab; 0 if stripped
    present: list     # MARKERS found
    entry: int


class NotHaze(Exception):
    pass


class BadManifest(NotHaze):
    """A Haze image whose device manifest (HZ_MANIFEST) is invalid."""


def u(fmt, data, off):
    if off < 0 or off + struct.calcsize(fmt) > len(data):
        raise NotHaze("truncated")
    return struct.unpack_from(fmt, data, off)


def parse_notes(data, off, size, align, notes):
    """Appends (owner, type, desc) of the notes in [off, off + size)."""
    end = off + size

    def pad(n):  # offsets within a note, from its start
        return (n + align - 1) & ~(align - 1)
    while end - off >= 12:
        namesz, descsz, ntype = u("<III", data, off)
        name_off = off + 12
        desc_off = off + pad(12 + namesz)
        nxt = off + pad(desc_off - off + descsz)
        if nxt > end:
            raise NotHaze("a note runs past its segment")
        notes.append((data[name_off:name_off + namesz], ntype,
                      data[desc_off:desc_off + descsz]))
        off = nxt


def parse_manifest(desc):
    if len(desc) != MANIFEST_DESC_SIZE:
        raise NotHaze("the manifest note has the wrong size")
    version, count = struct.unpack_from("<II", desc, 0)
    if version != MANIFEST_VERSION:
        raise NotHaze(f"manifest version {version}, not "
                      f"{MANIFEST_VERSION}")
    if count > MANIFEST_MAX:
        raise NotHaze(f"the manifest names {count} devices, more than "
                      f"{MANIFEST_MAX}")
    devices = []
    for i in range(count):
        base = 8 + i * (8 + DEVICE_NAME_MAX)
        kind, flags = struct.unpack_from("<II", desc, base)
        raw = desc[base + 8:base + 8 + DEVICE_NAME_MAX]
        if kind not in DEVICE_KINDS:
            raise NotHaze(f"manifest device {i} is of unknown kind {kind}")
        if flags & ~DEVICE_OPTIONAL:
            raise NotHaze(f"manifest device {i} has unknown flags")
        if b"\0" not in raw or raw[0] == 0:
            raise BadManifest(f"device {i} has an empty or "
                              "unterminated name")
        name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise BadManifest(f"device name '{name}' has a character other "
                              "than a letter, a digit, '-', '_' or '.'")
        if any(d[0] == name for d in devices):
            raise BadManifest(f"it names device '{name}' twice")
        devices.append((name, DEVICE_KINDS[kind],
                        bool(flags & DEVICE_OPTIONAL)))
    return devices


def read_symbols(data, e_shoff, e_shnum, e_shentsize):
    """Names in .symtab (empty if stripped or unreadable)."""
    if e_shoff == 0 or e_shnum == 0 or e_shentsize != 64 or \
            e_shoff + e_shnum * 64 > len(data):
        return []
    shdrs = [u("<IIQQQQIIQQ", data, e_shoff + i * 64) for i in range(e_shnum)]
    for sh in shdrs:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        off, size, link = sh[4], sh[5], sh[6]
        if link >= e_shnum or off + size > len(data):
            return []
        str_off, str_size = shdrs[link][4], shdrs[link][5]
        if str_off + str_size > len(data):
            return []
        strtab = data[str_off:str_off + str_size]
        names = []
        for j in range(size // 24):
            st_name = u("<I", data, off + j * 24)[0]
            if st_name < len(strtab):
                names.append(strtab[st_name:strtab.find(b"\0", st_name)])
        return names
    return []


def inspect_image(path):
    """Reads @path as a Haze image; NotHaze(why) if it is not one."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise Refused(f"haze inspect: {path}: {e.strerror}") from e
    if not stat.S_ISREG(st.st_mode):
        raise NotHaze("not a regular file")
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise Refused(f"haze inspect: {path}: {e.strerror}") from e
    if data[:4] != b"\x7fELF":
        raise NotHaze("not an ELF file")
    if len(data) < 64:
        raise NotHaze("truncated ELF header")
    if data[4] != 2 or data[5] != 1 or u("<H", data, 18)[0] != 62:
        raise NotHaze("not a little-endian x86_64 ELF64 file")
    (e_type, _, _, e_entry, e_phoff, e_shoff, _, _, e_phentsize, e_phnum,
     e_shentsize, e_shnum, _) = u("<HHIQQQIHHHHHH", data, 16)
    if e_phentsize != 56 or e_phnum == 0:
        raise NotHaze("no program headers")
    if e_phoff + e_phnum * 56 > len(data):
        raise NotHaze("program headers beyond the end of the file")
    notes, memory, interp = [], 0, False
    for i in range(e_phnum):
        p_type, _, p_off, _, _, p_filesz, p_memsz, p_align = \
            u("<IIQQQQQQ", data, e_phoff + i * 56)
        if p_type == 1:  # PT_LOAD
            if p_off + p_filesz > len(data) or p_filesz > p_memsz:
                raise NotHaze("a segment lies beyond the end of the file")
            memory += p_memsz
        elif p_type == 3:  # PT_INTERP
            interp = True
        elif p_type == 4:  # PT_NOTE
            if p_off + p_filesz > len(data):
                raise NotHaze("a note lies beyond the end of the file")
            parse_notes(data, p_off, p_filesz, 8 if p_align == 8 else 4,
                        notes)
    haze = [(t, d) for o, t, d in notes if o == NOTE_OWNER]
    abi = [d for t, d in haze if t == NOTE_KVM_ABI]
    manifests = [d for t, d in haze if t == NOTE_MANIFEST]
    pvh = [d for o, t, d in notes if o == b"Xen\0" and t == XEN_PVH_ENTRY]
    if not abi and not manifests:
        raise NotHaze("no Haze notes (no kvm ABI note, no device manifest)")
    if len(manifests) > 1 or len(abi) > 1 or len(pvh) > 1:
        raise NotHaze("two Haze notes of one kind")
    if pvh:
        if len(pvh[0]) != 4:
            raise NotHaze("the PVH entry note has the wrong size")
        if abi or e_type != 2 or interp:
            raise NotHaze("a PVH entry note in an image not built for "
                          "the virtio target")
        if not any(t == NOTE_KVM_TRAPS for t, _ in haze):
            raise NotHaze("no trap note: exception entries unknown")
        target, abi_version = "virtio", struct.unpack("<I", pvh[0])[0]
    elif abi:
        if len(abi[0]) != 4:
            raise NotHaze("the kvm ABI note has the wrong size")
        if e_type != 2 or interp:
            raise NotHaze("a kvm ABI note in a dynamic executable")
        if not any(t == NOTE_KVM_TRAPS for t, _ in haze):
            raise NotHaze("no trap note: exception entries unknown")
        target, abi_version = "kvm", struct.unpack("<I", abi[0])[0]
    else:
        target, abi_version = "unix", 0
    devices = parse_manifest(manifests[0]) if manifests else []
    build_ids = [d for o, t, d in notes if o == b"GNU\0" and
                 t == GNU_BUILD_ID]
    names = set(read_symbols(data, e_shoff, e_shnum, e_shentsize))
    return ImageInfo(
        target=target, abi=abi_version, devices=devices, size=len(data),
        memory=memory, build_id=build_ids[0].hex() if build_ids else "",
        sha256=hashlib.sha256(data).hexdigest(), symbols=len(names),
        present=[m for m in MARKERS if m[0].encode() in names],
        entry=e_entry)


def cmd_inspect(args):
    if len(args) != 1 or args[0].startswith("-"):
        raise Refused("haze inspect: expected one IMAGE")
    path = args[0]
    try:
        i = inspect_image(path)
    except BadManifest as e:
        raise Failed(f"haze inspect: {path}: invalid device manifest: "
                     f"{e}") from e
    except NotHaze as e:
        raise Failed(f"haze inspect: {path}: not a Haze image: {e}") from e
    except OSError as e:
        raise Failed(f"haze inspect: {path}: {e.strerror or e}") from e
    print(f"image:    {path}")
    if i.target == "kvm":
        print(f"target:   kvm (a static guest for haze-kvm), ABI version "
              f"{i.abi}")
    elif i.target == "virtio":
        print(f"target:   virtio (a PVH guest for haze-qemu), PVH entry "
              f"{i.abi:#x}")
    else:
        print("target:   unix (a Linux executable), ABI: none (it runs "
              "on the host's libc)")
    print(f"manifest: version {MANIFEST_VERSION}, {len(i.devices)} "
          f"device{'s' if len(i.devices) != 1 else ''}")
    for name, kind, optional in i.devices:
        print(f"  {name:<20} {kind}{' (optional)' if optional else ''}")
    print(f"size:     {i.size} bytes in the file, {i.memory} bytes "
          "loaded")
    print(f"build id: {i.build_id or 'none'}")
    print(f"sha256:   {i.sha256}")
    print(f"entry:    {i.entry:#x}")
    if i.symbols:
        print(f"symbols:  {i.symbols} in .symtab")
    else:
        print("symbols:  none (stripped: no names in fault reports or gdb)")
    for sym, what in MARKERS:
        have = any(m[0] == sym for m in i.present)
        if i.symbols:
            print(f"  {sym:<22} {'yes' if have else 'no ':<4}{what}")
    return 0


# --- haze crunch -------------------------------------------------------------

def cmd_crunch(args):
    _, crunch = data_dir()
    if not crunch.is_file():
        raise Failed(f"haze crunch: {crunch}: missing (is Haze installed "
                     "whole?)")
    os.execv(sys.executable, [sys.executable, str(crunch)] + args)


# --- the command ----------------------------------------------------------------

USAGE = """\
usage: haze new NAME [--template hello|echo|website]
       haze build [-t TARGET]
       haze run [-t TARGET] [-n] [-p HOST:GUEST]... [--net NAME=SPEC]...
                [--block NAME=PATH]... [--mem MIB] [--gdb PORT]
                [--log=SPEC] [-- ARGS...]
       haze inspect IMAGE
       haze crunch [-n NAME] [-o FILE] DIR
targets: {targets}
See haze(1) and docs/using.md."""

COMMANDS = {
    "new": cmd_new,
    "build": cmd_build,
    "run": cmd_run,
    "inspect": cmd_inspect,
    "crunch": cmd_crunch,
}


def main(argv):
    if len(argv) < 2:
        print("haze: no command (new, build, run, inspect, crunch; haze "
              "--help)", file=sys.stderr)
        return 2
    cmd = argv[1]
    own = argv[2:argv.index("--")] if "--" in argv else argv[2:]
    if cmd in ("--version", "-V"):
        print("haze " + (VERSION if not VERSION.startswith("@") else
                         "(run from Haze's source tree, not installed)"))
        return 0
    if cmd not in COMMANDS and cmd not in ("-h", "--help", "help"):
        close = difflib.get_close_matches(cmd, COMMANDS, 1)
        print(f"haze: {cmd}: unknown command (new, build, run, inspect, "
              "crunch)" + (f"; did you mean {close[0]}?" if close else ""),
              file=sys.stderr)
        return 2
    try:
        if cmd in ("-h", "--help", "help") or "-h" in own or "--help" in own:
            print(USAGE.format(targets="\n         ".join(
                f"{t.name}: {t.about}" for t in TARGETS.values())))
            return 0
        return COMMANDS[cmd](argv[2:])
    except Refused as e:
        print(e, file=sys.stderr)
        return 2
    except Failed as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (haze inspect | head): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
