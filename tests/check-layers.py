#!/usr/bin/python3
"""The layer rule, checked on every #include of the tree.

Reads the rule from mk/layers.mk (the only place it is written: which
library or platform USES which, and which public headers belong to which
library) and checks every #include in src/, include/, platform/, tender/
and examples/ against it:

  - a library or platform may include its own headers and the interface
    of the layers it uses: a library's public headers (include/haze/),
    the headers in a platform's directory; <bearssl*.h> only if it uses
    `bearssl`, <nettle/*.h> and <gmp.h> only if it uses `nettle`;
  - a library's headers in src/NAME/ are private to it;
  - an application (examples/) may include any public header, nothing
    private;
  - tests, fuzz harnesses and benchmarks are white-box and not checked.

It also checks the rule itself (every layer named exists, no library uses
one above it, every public header has a library) and that the table in
docs/architecture.md says what mk/layers.mk says.

  tests/check-layers.py [ROOT]

Prints one line per violation, FILE:LINE: what, and the rule it breaks;
exits 1 if there is any.
"""
import os
import re
import sys

RULE = "mk/layers.mk"
CHECKED = ("src", "include", "platform", "tender", "examples")
EXEMPT = "tests, fuzz harnesses and benchmarks"
ASSIGN = re.compile(r"^(HZ_LIBS|HZ_CODE|USES_\S+|HEADERS_\S+)\s*(:=|\+=|=)(.*)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
DOC_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|([^|]*)\|")


def read_rule(root):
    """The variables of the rule: name -> list of words."""
    var = {}
    text = open(os.path.join(root, RULE)).read().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("\t") or line.lstrip().startswith("#"):
            continue
        m = ASSIGN.match(line.strip())
        if m:
            words = m.group(3).split("#")[0].split()
            if m.group(2) == "+=":
                var[m.group(1)] = var.get(m.group(1), []) + words
            else:
                var[m.group(1)] = words
    return var


class Rule:
    def __init__(self, root):
        var = read_rule(root)
        self.libs = var.get("HZ_LIBS", [])
        self.code = var.get("HZ_CODE", [])
        self.uses = {x: var.get("USES_" + x, [])
                     for x in self.libs + self.code}
        self.owner = {}  # public header name -> library
        for lib in self.libs:
            for h in var.get("HEADERS_" + lib) or [lib]:
                self.owner[h + ".h"] = lib

    def dir_of(self, layer):
        return layer if layer in self.code else "src/" + layer

    def describe(self, layer):
        """What @layer may include, in words."""
        uses = [u for u in self.uses.get(layer, []) if u != layer]
        libs = [u for u in uses if u in self.libs]
        other = [u for u in uses if u not in self.libs]
        own = "its own headers (%s/)" % self.dir_of(layer)
        if layer in self.libs:
            libs = [layer] + libs
        parts = [own]
        if libs:
            parts.append("the public headers of " + ", ".join(libs))
        if other:
            parts.append(", ".join(other))
        return "%s uses %s: it may include %s" % (
            layer, " ".join(uses) or "nothing", "; ".join(parts))


def layer_of(rule, path):
    """(kind, layer) of a tree path: kind is lib, code, public, app,
    white-box, or stray (in src/ but no layer)."""
    parts = path.split("/")
    for c in sorted(rule.code, key=len, reverse=True):
        if path == c or path.startswith(c + "/"):
            return "code", c
    if parts[0] == "src" and len(parts) > 2:
        if parts[1] in rule.libs:
            return "lib", parts[1]
        return "stray", "src/" + parts[1]
    if parts[0] == "include" and len(parts) == 3 and parts[1] == "haze":
        return "public", rule.owner.get(parts[2])
    if parts[0] == "examples":
        return "app", None
    return "white-box", None


def resolve(root, path, quote, name):
    """The tree path @name names when included from @path, or None."""
    cands = []
    if quote == '"':
        cands.append(os.path.join(os.path.dirname(path), name))
    cands += [os.path.join("include", name)]
    if quote == '"':
        cands += [os.path.join("src", name), name]
    for c in cands:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(root, c)):
            return c
    return None


# Libraries from Debian a layer may use: name -> (whose, owns(include)).
EXTERNAL = {
    "bearssl": ("BearSSL", lambda n: re.match(
        r"bearssl(_\w+)?\.h$", os.path.basename(n)) is not None),
    "nettle": ("Nettle", lambda n: n.startswith("nettle/") or n == "gmp.h"),
}


def check_include(rule, path, kind, layer, quote, name, target):
    """The reason the include breaks the rule, or None."""
    for lib, (what, owns) in EXTERNAL.items():
        if not owns(name):
            continue
        if kind in ("app", "white-box"):
            return None
        if lib in rule.uses.get(layer, []):
            return None
        return "<%s> is %s's; %s" % (name, what, rule.describe(layer))
    if target is None:
        return None  # a system header, or one the build generates
    tkind, tlayer = layer_of(rule, target)
    if kind == "app":
        if tkind in ("public", "app"):
            return None
        return ("%s is not a public header; an application may include "
                "public headers (include/haze/) only" % target)
    who = layer
    if tkind == "public":
        if tlayer is None:
            return None  # reported once, as a header with no library
        if tlayer == who or tlayer in rule.uses.get(who, []):
            return None
        return "%s is %s's; %s" % (target, tlayer, rule.describe(who))
    if tkind == "lib":
        if tlayer == who:
            if kind == "public":
                return ("%s is private to %s; a public header may "
                        "include public headers only" % (target, tlayer))
            return None
        return "%s is private to %s; %s" % (target, tlayer,
                                            rule.describe(who))
    if tkind == "code":
        if kind != "public" and (tlayer == who
                                 or tlayer in rule.uses.get(who, [])):
            return None
        return "%s is %s's; %s" % (target, tlayer, rule.describe(who))
    return "%s is not part of any layer (%s may not be included by the " \
        "library OS); %s" % (target, EXEMPT, rule.describe(who))


def check_rule(rule, root):
    """Problems of the rule itself, as (where, what)."""
    out = []
    known = set(rule.libs) | set(rule.code) | set(EXTERNAL)
    for x, uses in rule.uses.items():
        for u in uses:
            if u not in known:
                out.append((RULE, "USES_%s names %s, which is no layer"
                            % (x, u)))
    for i, lib in enumerate(rule.libs):
        above = set(rule.libs[i:])
        for u in rule.uses[lib]:
            if u in above:
                out.append((RULE, "%s uses %s, which is not below it in "
                            "HZ_LIBS (layers go one way)" % (lib, u)))
    pub = os.path.join(root, "include", "haze")
    for h in sorted(os.listdir(pub)) if os.path.isdir(pub) else []:
        if h.endswith(".h") and h not in rule.owner:
            out.append(("include/haze/" + h, "belongs to no library: "
                        "add its library to HZ_LIBS (NAME.h is NAME's) or "
                        "name it in a HEADERS_ list of " + RULE))
    src = os.path.join(root, "src")
    for d in sorted(os.listdir(src)) if os.path.isdir(src) else []:
        if (os.path.isdir(os.path.join(src, d)) and d not in rule.libs
                and "src/" + d not in rule.code):
            out.append(("src/" + d, "is in no layer: add it to HZ_LIBS "
                        "with a USES_%s line in %s" % (d, RULE)))
    return out


def check_doc(rule, root):
    """Where docs/architecture.md's rule table differs from the rule."""
    path = os.path.join(root, "docs", "architecture.md")
    if not os.path.isfile(path):
        return []
    rows, section = {}, False
    for line in open(path):
        if line.startswith("## "):
            section = line.strip() == "## The layer rule"
        m = DOC_ROW.match(line) if section else None
        if m:
            rows[m.group(1)] = set(re.findall(r"`([^`]+)`", m.group(2)))
    out = []
    for x, uses in rule.uses.items():
        if x not in rows:
            out.append(("docs/architecture.md", "the layer rule's table "
                        "has no row for %s (%s has)" % (x, RULE)))
        elif rows[x] != set(uses):
            out.append(("docs/architecture.md", "the table says %s uses "
                        "%s; %s says %s" % (x, " ".join(sorted(rows[x]))
                                            or "nothing", RULE,
                                            " ".join(uses) or "nothing")))
    for x in rows:
        if x not in rule.uses:
            out.append(("docs/architecture.md", "the layer rule's table "
                        "names %s, which %s does not" % (x, RULE)))
    return out


def files(root):
    for top in CHECKED:
        for d, subdirs, names in os.walk(os.path.join(root, top)):
            subdirs.sort()
            for n in sorted(names):
                if n.endswith((".c", ".h", ".S")):
                    yield os.path.relpath(os.path.join(d, n), root)


def main(argv):
    root = argv[1] if len(argv) > 1 else "."
    rule = Rule(root)
    bad = [("%s" % w, what) for w, what in check_rule(rule, root)]
    bad += check_doc(rule, root)
    for path in files(root):
        kind, layer = layer_of(rule, path)
        if kind == "white-box":
            continue
        if kind == "stray":
            continue  # reported by check_rule, once per directory
        if kind == "public" and layer is None:
            continue  # likewise
        with open(os.path.join(root, path), errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                quote, name = m.group(1), m.group(2)
                target = resolve(root, path, quote, name)
                why = check_include(rule, path, kind, layer, quote, name,
                                    target)
                if why:
                    inc = '"%s"' % name if quote == '"' else "<%s>" % name
                    bad.append(("%s:%d" % (path, n), "#include %s crosses "
                                "layers: %s (%s)" % (inc, why, RULE)))
    for where, what in bad:
        print("%s: %s" % (where, what))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
