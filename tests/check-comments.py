#!/usr/bin/python3
"""Every public function has a comment saying what it is for.

Reads the public headers (include/haze/*.h by default, or the paths
given) and reports, in TAP, each function declaration whose preceding
line (attributes aside) does not end a comment.
"""
import re
import sys
from pathlib import Path

# Attributes are HZ_ macros, some with arguments: HZ_PRINTF(3, 4).
ATTRS = r"(?:HZ_[A-Z_]+(?:\([^)]*\))?\s+)*"
# A declaration on one line: attributes, storage, return type, name.
DECL = re.compile(r"^" + ATTRS + r"(?:static\s+|inline\s+|extern\s+)*"
                  r"[A-Za-z_][\w \*]*?[\s\*](hz_\w+)\s*\(")
# The name of a declaration whose return type is on the line before.
NAME_ALONE = re.compile(r"^\**(hz_\w+)\s*\(")
# A line of attributes only, or of attributes and a return type only.
ATTR = re.compile(r"^" + ATTRS.replace(r"\s+)*", r"\s*)+") + r"$")
RETURN_TYPE = re.compile(r"^" + ATTRS + r"(?:static\s+|inline\s+|extern\s+)*"
                         r"(?:const\s+|struct\s+|enum\s+|unsigned\s+)*"
                         r"[A-Za-z_]\w*[\s\*]*$")


def missing_comments(path):
    lines = path.read_text().splitlines()
    depth = 0  # inside a struct, enum or function body
    for i, line in enumerate(lines):
        if depth == 0 and not line.startswith((" ", "\t", "#", "/", "*")):
            m = DECL.match(line)
            j = i - 1
            if not m:
                m = NAME_ALONE.match(line)
                if m and not (j >= 0 and RETURN_TYPE.match(lines[j])):
                    m = None
                j -= 1  # the comment goes above the return type
            if m:
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
