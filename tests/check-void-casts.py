#!/usr/bin/python3
"""No must-check result is thrown away with a bare (void) cast.

A fallible Haze function is declared HZ_MUST_CHECK (warn_unused_result)
and the tree builds with -Werror, so a dropped error does not compile. But
clang accepts `(void)f()` as a deliberate discard (gcc 12 does not, other
gcc versions differ), and `(void)!f()` passes both. So this check refuses
a (void) cast applied to a call of a must-check function, unless the same
line or the one above carries a comment saying why the result may go.

Must-check functions are those declared with HZ_MUST_CHECK, HZ_MALLOC or
warn_unused_result: in any header of the tree (wherever it is called), or
in the file itself (its static functions).

  tests/check-void-casts.py [FILE...]

Without FILEs, checks every C file of the tree but tests/compile/ (whose
files are wrong on purpose). Prints FILE:LINE: what, for each; exits 1 if
there is any.
"""
import os
import re
import sys

TOPS = ("src", "include", "platform", "tender", "tests", "fuzz", "examples",
        "bench", "tools")
MARKER = re.compile(r"\b(HZ_MUST_CHECK|HZ_MALLOC|warn_unused_result)\b")
ATTRIBUTE = re.compile(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)|"
                       r"\bHZ_[A-Z_]+\b(?:\s*\([^()]*\))?")
# The first parenthesis of a declaration: after the function's name, or
# around a function pointer's, int (*read)(...).
FUNC = re.compile(r"(\w+)?\s*\(\s*(?:\*\s*(\w+)\s*\))?")
# (void), then any of ! ( * and spaces, then a callee: an identifier, maybe
# through members (a->b.c, (*p)->f), then its argument list.
CAST = re.compile(r"\(\s*void\s*\)[\s!(*]*(\w+)((?:\s*\)?\s*(?:->|\.)\s*\w+)*)"
                  r"\s*\(")


def strip_comments(text):
    """@text with comments and strings blanked, line breaks kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        two = text[i:i + 2]
        if two == "/*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif two == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i] + " " * (j - i - 2) + text[j - 1])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def must_check(code):
    """{name: line} of the functions @code declares must-check."""
    found = {}
    for line_start in re.finditer(r"^[ \t]*#\s*define\b.*$", code, re.M):
        code = (code[:line_start.start()]
                + " " * (line_start.end() - line_start.start())
                + code[line_start.end():])
    for m in MARKER.finditer(code):
        end = len(code)
        for stop in ";{":
            k = code.find(stop, m.end())
            if 0 <= k < end:
                end = k
        decl = ATTRIBUTE.sub(" ", code[m.start():end])
        f = FUNC.search(decl)
        name = f and (f.group(2) or f.group(1))
        if name:
            found.setdefault(name, code.count("\n", 0, m.start()) + 1)
    return found


def tree_files(root):
    for top in TOPS:
        for d, subdirs, names in os.walk(os.path.join(root, top)):
            subdirs.sort()
            rel = os.path.relpath(d, root)
            if rel == "tests/compile" or rel.startswith("tests/compile/"):
                continue
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, n), root)


def has_comment(line):
    return "/*" in line or "//" in line or "*/" in line


def main(argv):
    root = "."
    paths = argv[1:] or list(tree_files(root))
    code_of = {}
    declared = {}  # name -> "file:line", from headers
    for p in sorted(set(list(tree_files(root)) + paths)):
        try:
            code_of[p] = strip_comments(open(p, errors="replace").read())
        except OSError:
            continue
        if p.endswith(".h"):
            for name, line in must_check(code_of[p]).items():
                declared.setdefault(name, "%s:%d" % (p, line))
    bad = []
    for p in paths:
        if p not in code_of:
            continue
        own = {n: "%s:%d" % (p, l) for n, l in must_check(code_of[p]).items()}
        lines = open(p, errors="replace").read().split("\n")
        for n, code in enumerate(code_of[p].split("\n")):
            for m in CAST.finditer(code):
                members = re.findall(r"\w+", m.group(2))
                name = members[-1] if members else m.group(1)
                where = own.get(name) or declared.get(name)
                if where is None:
                    continue
                if has_comment(lines[n]) or (n > 0
                                             and has_comment(lines[n - 1])):
                    continue
                bad.append("%s:%d: (void) throws away the result of %s(), "
                           "which is must-check (%s): check it, or say on "
                           "this line or the one above why it may go"
                           % (p, n + 1, name, where))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
