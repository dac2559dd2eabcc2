#!/usr/bin/python3
"""Every public function has a comment saying what it is for.

Reads the public headers (include/haze/*.h by default, or the paths
given) and reports, in TAP, each function declaration whose preceding
line (attributes aside) does not end a comment.
"""
import re
import sys
from pathlib import Path

DECL = re.compile(r"^(?:static inline |HZ_NORETURN |HZ_MALLOC |HZ_MUST_CHECK )*"
                  r"[A-Za-z_][\w \*]*?\b(hz_\w+)\s*\(")
ATTR = re.compile(r"^(HZ_MUST_CHECK|HZ_PRINTF\(.*\)|HZ_MALLOC|HZ_NORETURN)\s*$")


def missing_comments(path):
    lines = path.read_text().splitlines()
    depth = 0  # inside a struct, enum or function body
    for i, line in enumerate(lines):
        if depth == 0 and not line.startswith((" ", "\t", "#", "/", "*")):
            m = DECL.match(line)
            if m:
                j = i - 1
                while j >= 0 and ATTR.match(lines[j].strip()):
                    j -= 1
                if j < 0 or not lines[j].rstrip().endswith("*/"):
                    yield i + 1, m.group(1)
        depth += line.count("{") - line.count("}")


def main(argv):
    paths = [Path(p) for p in argv[1:]] or sorted(Path("include/haze").glob("*.h"))
    n = failed = 0
    for path in paths:
        bad = list(missing_comments(path))
        n += 1
        if bad:
            failed += 1
            print(f"not ok {n} - every function in {path} has a comment")
            for line, name in bad:
                print(f"# {path}:{line}: {name} has no comment above it")
        else:
            print(f"ok {n} - every function in {path} has a comment")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
