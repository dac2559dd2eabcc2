#!/usr/bin/env python3
"""crunch: turns a directory into a KV store compiled into a Haze image.

    crunch.py [-n NAME] [-o OUT] DIR

Writes C (to OUT, or standard output) defining

    static const struct hz_kv_image NAME_kv;

for one source file of the application to #include and open with
hz_kv_static_open(&NAME_kv, &kv) (include/haze/kv.h, docs/kv.md). NAME
defaults to DIR's last component, made a C identifier.

For every regular file under DIR, at any depth, the store holds its
bytes, size, modification time, content type (by extension, from
src/kv/content_types.def, the table the C library uses), a strong ETag
(the first 128 bits of the SHA-256 of its bytes, quoted), and a gzip
variant with its own ETag when that is smaller. Keys are paths relative
to DIR ("css/site.css"), sorted bytewise, so the output depends only on
the files: names, bytes and times. SOURCE_DATE_EPOCH, when set, caps the
times, for reproducible images.

Refused, each with a line naming the file: a symbolic link that leads
outside DIR (or is broken, or loops), a name with a control character, a
key longer than 255 bytes, anything but regular files and directories.
Symbolic links inside DIR are followed. With OUT, the file is replaced
only when its content changes, so make rebuilds only what depends on a
real change. Standard library only; exit status 1 on any refusal.
"""
import argparse
import gzip
import hashlib
import os
import re
import stat
import sys
from pathlib import Path

KEY_MAX = 255
EXT_MAX = 16  # as in src/kv/kv.c
TYPES_DEF = (Path(__file__).resolve().parents[2] / "src" / "kv"
             / "content_types.def")
LINE = 72  # bytes of a string literal per line of output


class Refused(Exception):
    pass


def load_types(path):
    """Reads the content-type table shared with the C library."""
    types, default = {}, None
    for line in path.read_text().splitlines():
        m = re.match(r'^HZ_KV_TYPE\("([^"]+)", "([^"]+)"\)$', line)
        if m:
            types[m.group(1).encode()] = m.group(2)
        m = re.match(r'^HZ_KV_TYPE_DEFAULT\("([^"]+)"\)$', line)
        if m:
            default = m.group(1)
    if not types or default is None:
        raise SystemExit(f"crunch: no content types in {path}")
    return types, default


def content_type(key, types, default):
    """The type of @key by extension, exactly as hz_kv_content_type."""
    base = key.rsplit(b"/", 1)[-1]
    dot = base.rfind(b".")
    if dot <= 0:
        return default
    ext = base[dot + 1:]
    if not ext or len(ext) > EXT_MAX:
        return default
    ext = bytes(c + 32 if 65 <= c <= 90 else c for c in ext)
    return types.get(ext, default)


def shown(path):
    return os.fsdecode(path).encode("unicode_escape").decode("ascii")


def walk(root, rel, ancestors, out, errors):
    """Collects (key, path) of the files under root/rel into @out."""
    try:
        names = sorted(os.listdir(os.path.join(root, rel) if rel else root))
    except OSError as e:
        errors.append(f"{shown(os.path.join(root, rel))}: {e.strerror}")
        return
    for name in names:
        path = os.path.join(root, rel, name) if rel else \
            os.path.join(root, name)
        key = (os.path.join(rel, name) if rel else name)
        bkey = os.fsencode(key)
        if any(c < 0x20 or c == 0x7F for c in os.fsencode(name)):
            errors.append(f"{shown(path)}: name has a control character")
            continue
        try:
            st = os.lstat(path)
        except OSError as e:
            errors.append(f"{shown(path)}: {e.strerror}")
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if os.path.commonpath([target, ancestors[0]]) != ancestors[0]:
                errors.append(f"{shown(path)}: symbolic link to "
                              f"{shown(os.readlink(path))} leads outside "
                              f"{shown(root)}")
                continue
            try:
                st = os.stat(path)
            except OSError:
                errors.append(f"{shown(path)}: broken symbolic link")
                continue
            if stat.S_ISDIR(st.st_mode) and target in ancestors:
                errors.append(f"{shown(path)}: symbolic link loop")
                continue
        if stat.S_ISDIR(st.st_mode):
            real = os.path.realpath(path)
            walk(root, key, ancestors + [real], out, errors)
        elif stat.S_ISREG(st.st_mode):
            if len(bkey) > KEY_MAX:
                errors.append(f"{shown(path)}: key of {len(bkey)} bytes "
                              f"(at most {KEY_MAX})")
                continue
            out.append((bkey, path, st))
        else:
            errors.append(f"{shown(path)}: not a regular file or directory")


def c_string(data, indent):
    """@data as C string literals, one per line, escaped for any compiler."""
    parts, cur = [], []
    width = 0
    for b in data:
        if b == 0x0A:
            s = "\\n"
        elif 0x20 <= b < 0x7F and b not in (0x22, 0x5C, 0x3F):
            s = chr(b)  # '?' is escaped: -std=c11 has trigraphs
        else:
            s = "\\%03o" % b
        cur.append(s)
        width += len(s)
        if width >= LINE or b == 0x0A:
            parts.append("".join(cur))
            cur, width = [], 0
    if cur or not parts:
        parts.append("".join(cur))
    return ("\n" + indent).join(f'"{p}"' for p in parts)


def etag(data):
    return '"\\"' + hashlib.sha256(data).hexdigest()[:32] + '\\""'


def crunch(root, name, types, default):
    errors, files = [], []
    if not os.path.isdir(root):
        raise Refused(f"{shown(root)}: not a directory")
    real_root = os.path.realpath(root)
    walk(root, "", [real_root], files, errors)
    if errors:
        raise Refused("\n".join(f"crunch: {e}" for e in errors))
    files.sort(key=lambda f: f[0])
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    sym = f"{name}_kv"
    out = [
        "/*",
        f" * Generated by tools/crunch/crunch.py: the KV store '{name}', "
        f"{len(files)} files.",
        " * Do not edit. Include it in one source file and open it with",
        f" * hz_kv_static_open(&{sym}, &kv) (include/haze/kv.h).",
        " */",
        '#include "haze/kv.h"',
        "",
    ]
    entries = []
    for i, (key, path, st) in enumerate(files):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise Refused(f"crunch: {shown(path)}: {e.strerror}")
        mtime = st.st_mtime_ns // 1_000_000_000
        if epoch is not None:
            mtime = min(mtime, int(epoch))
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        has_gz = len(gz) < len(data)
        out.append(f"static const uint8_t {sym}_{i}[] =\n\t"
                   + c_string(data, "\t") + ";")
        if has_gz:
            out.append(f"static const uint8_t {sym}_{i}_gz[] =\n\t"
                       + c_string(gz, "\t") + ";")
        e = [
            "\t{",
            f"\t\t.key = {c_string(key, '')},",
            f'\t\t.content_type = "{content_type(key, types, default)}",',
            f"\t\t.mtime = {mtime},",
            f"\t\t.data = {sym}_{i},",
            f"\t\t.size = {len(data)},",
            f"\t\t.etag = {etag(data)},",
        ]
        if has_gz:
            e += [
                f"\t\t.gzip = {sym}_{i}_gz,",
                f"\t\t.gzip_size = {len(gz)},",
                f"\t\t.gzip_etag = {etag(gz)},",
            ]
        entries.append("\n".join(e + ["\t},"]))
    if files:
        out.append(f"static const struct hz_kv_file {sym}_files[] = {{")
        out += entries
        out.append("};")
    out += [
        f"static const struct hz_kv_image {sym} = {{",
        f'\t.name = "{name}",',
        f"\t.files = {sym + '_files' if files else 'NULL'},",
        f"\t.count = {len(files)},",
        "};",
        "",
    ]
    return "\n".join(out).encode()


def write_if_changed(path, data):
    try:
        if Path(path).read_bytes() == data:
            return
    except OSError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    Path(tmp).write_bytes(data)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="crunch", description="Turns a directory into a KV store "
        "compiled into a Haze image (docs/kv.md).")
    ap.add_argument("-n", "--name", help="store name (a C identifier); "
                    "default: the directory's name")
    ap.add_argument("-o", "--output", help="C file to write; default stdout")
    ap.add_argument("dir")
    args = ap.parse_args(argv[1:])
    name = args.name
    if name is None:
        name = re.sub(r"[^A-Za-z0-9_]", "_",
                      os.path.basename(os.path.abspath(args.dir)))
        if not name or name[0].isdigit():
            name = "_" + name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        print(f"crunch: store name '{name}' is not a C identifier",
              file=sys.stderr)
        return 1
    types, default = load_types(TYPES_DEF)
    try:
        data = crunch(args.dir, name, types, default)
    except Refused as e:
        print(e if str(e).startswith("crunch: ") else f"crunch: {e}",
              file=sys.stderr)
        return 1
    if args.output:
        write_if_changed(args.output, data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
