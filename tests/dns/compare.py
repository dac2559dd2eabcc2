#!/usr/bin/env python3
"""Compares examples/dns with NSD, serving the same zone, through dig.

    compare.py DIG HAZE_PORT NSD_PORT

Both listen on 127.0.0.1. Each case asks both the same question with the
same dig options (+norec always) and compares what the RFCs fix, section
by section: RCODE, the AA and TC flags, the answer section as a set (RRs
in any order, TTLs included), the authority and additional sections as
described below, and the OPT pseudo-section's presence and version (its
UDP size is each server's own choice). Prints one TAP line per case, no
plan (tests/tap.sh's client_tap counts them).

Where the two may differ by the RFCs, the comparison is of what the RFCs
require, and the difference is said in the line:
  - NSD adds the zone's NS RRset to the authority section of a positive
    answer; Haze does not. RFC 1034 4.3.2 step 3a and RFC 2181 6.1 make
    those records optional (they are "may be" data), so Haze's authority
    section must be NSD's less, at most, that whole NS RRset of the apex.
  - NSD adds A and AAAA records of the names an answer's or authority's
    NS, MX and SRV records point to ("additional section processing",
    RFC 1035 3.3.9, 3.3.11, RFC 2782); Haze adds none (docs/dns.md). Such
    records are optional (RFC 2181 9: a response may drop additional data
    without TC), so Haze's additional section must be NSD's less, at
    most, address records of exactly those names, each also in the zone.
  - Negative answers (NXDOMAIN, NODATA) must match exactly: the SOA in
    authority with the negative TTL of RFC 2308, nothing else.
"""

import re
import subprocess
import sys

DIG, HAZE, NSD = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
APEX = "haze.test."

results = []


def tap(good, desc):
    results.append(good)
    print("%s %d - %s" % ("ok" if good else "not ok", len(results), desc))


class Reply:
    """One dig reply, parsed from dig's text output."""

    def __init__(self, text):
        self.text = text
        self.status = None
        self.flags = set()
        self.edns = None  # (version, flags, udp) or None
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        self.tcp_retry = "Truncated, retrying in TCP mode" in text
        cur = None
        for line in text.splitlines():
            m = re.search(r"status: (\w+),", line)
            if m:
                # dig prints the header of each reply it gets; the last
                # one (the TCP retry's, if any) is what is kept.
                self.status = m.group(1)
                self.sections = {k: [] for k in self.sections}
                self.edns = None
                cur = None
                continue
            m = re.match(r";; flags: ([a-z ]*);", line)
            if m:
                self.flags = set(m.group(1).split())
                continue
            m = re.match(r"; EDNS: version: (\d+), flags:([a-z ]*); udp: (\d+)",
                         line)
            if m:
                self.edns = (int(m.group(1)), m.group(2).strip(),
                             int(m.group(3)))
                continue
            m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                cur = m.group(1)
                continue
            if line.startswith(";") or not line.strip():
                if not line.strip():
                    cur = None
                continue
            if cur is not None:
                self.sections[cur].append(normal(line))

    def rrs(self, sec):
        return set(self.sections[sec])


def normal(line):
    """An RR line with its fields single-spaced and the owner in lower
    case, so that two servers' spellings compare."""
    f = line.split()
    f[0] = f[0].lower()
    return " ".join(f)


def ask(port, name, qtype, opts):
    cmd = [DIG, "@127.0.0.1", "-p", str(port), "+norec", "+time=3",
           "+tries=2", "+nocmd", "+nostats"] + opts + [name, qtype]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return Reply(p.stdout)


def rr_owner(rr):
    return rr.split()[0]


def rr_type(rr):
    return rr.split()[3]


def targets(rrs):
    """Names that NS, MX and SRV records in @rrs point to."""
    out = set()
    for rr in rrs:
        f = rr.split()
        if f[3] in ("NS", "MX", "SRV"):
            out.add(f[-1].lower())
    return out


def compare(label, name, qtype, opts, expect):
    """Asks both; @expect(h) checks what Haze's reply must hold on its own
    (so that two servers agreeing on a wrong answer still fail)."""
    h = ask(HAZE, name, qtype, opts)
    n = ask(NSD, name, qtype, opts)
    why = []
    notes = []
    if h.status is None:
        tap(False, "%s: Haze did not answer" % label)
        sys.stderr.write(h.text)
        return
    if n.status is None:
        tap(False, "%s: NSD did not answer" % label)
        sys.stderr.write(n.text)
        return
    if h.status != n.status:
        why.append("rcode %s vs NSD %s" % (h.status, n.status))
    for flag in ("aa", "tc"):
        if (flag in h.flags) != (flag in n.flags):
            why.append("%s %s vs NSD %s" % (flag, flag in h.flags,
                                             flag in n.flags))
    if h.rrs("ANSWER") != n.rrs("ANSWER"):
        why.append("answer %s vs NSD %s" % (sorted(h.rrs("ANSWER")),
                                            sorted(n.rrs("ANSWER"))))
    # Authority: equal, or NSD's with the apex NS RRset added (optional).
    ha, na = h.rrs("AUTHORITY"), n.rrs("AUTHORITY")
    extra = na - ha
    apex_ns = {rr for rr in na if rr_owner(rr) == APEX and
               rr_type(rr) == "NS"}
    if not ha <= na:
        why.append("authority has %s, NSD not" % sorted(ha - na))
    elif extra and (extra != apex_ns or n.status != "NOERROR" or
                    not n.rrs("ANSWER")):
        why.append("NSD's authority adds %s" % sorted(extra))
    elif extra:
        notes.append("NSD adds the apex NS RRset to authority (optional)")
    # Additional: Haze's within NSD's; NSD's extras only addresses of
    # names the NS, MX and SRV records point to.
    hx, nx = h.rrs("ADDITIONAL"), n.rrs("ADDITIONAL")
    pointed = targets(n.rrs("ANSWER") | n.rrs("AUTHORITY"))
    bad = {rr for rr in nx - hx
           if rr_type(rr) not in ("A", "AAAA") or rr_owner(rr) not in pointed}
    if not hx <= nx:
        why.append("additional has %s, NSD not" % sorted(hx - nx))
    elif bad:
        why.append("NSD's additional adds %s" % sorted(bad))
    elif nx - hx:
        notes.append("NSD adds %d address records of targets to additional"
                     " (optional)" % len(nx - hx))
    # OPT: present alike, version alike; the UDP size is each server's.
    if (h.edns is None) != (n.edns is None):
        why.append("OPT %s vs NSD %s" % (h.edns, n.edns))
    elif h.edns is not None and h.edns[0:2] != n.edns[0:2]:
        why.append("OPT version/flags %s vs NSD %s" % (h.edns[0:2],
                                                        n.edns[0:2]))
    own = expect(h)
    if own:
        why.append(own)
    if why:
        tap(False, "%s: %s" % (label, "; ".join(why)))
        sys.stderr.write("== Haze\n%s== NSD\n%s" % (h.text, n.text))
    else:
        tap(True, "%s: same as NSD%s" % (label, "".join(
            " (" + x + ")" for x in notes)))


def want(status, answers=None, aa=True, tc=False, auth_soa=None,
         edns=True, min_answers=None):
    """The checks of one Haze reply on its own."""

    def check(h):
        if h.status != status:
            return "Haze's rcode is %s, not %s" % (h.status, status)
        if ("aa" in h.flags) != aa:
            return "Haze's AA is %s" % ("aa" in h.flags)
        if ("tc" in h.flags) != tc:
            return "Haze's TC is %s" % ("tc" in h.flags)
        if answers is not None and len(h.rrs("ANSWER")) != answers:
            return "Haze gave %d answers, not %d" % (len(h.rrs("ANSWER")),
                                                    answers)
        if auth_soa is not None:
            soa = [rr for rr in h.rrs("AUTHORITY") if rr_type(rr) == "SOA"]
            if (len(soa) == 1) != auth_soa:
                return "Haze's authority has %d SOA" % len(soa)
        if (h.edns is not None) != edns:
            return "Haze's OPT is %s" % (h.edns,)
        return None

    return check


Z = APEX
compare("A", "host." + Z, "A", [], want("NOERROR", 1))
compare("A at the apex", Z, "A", [], want("NOERROR", 1))
compare("AAAA", "host." + Z, "AAAA", [], want("NOERROR", 1))
compare("A, mixed case kept", "HoSt.HaZe.TeSt.", "A", [], want("NOERROR", 1))
compare("CNAME chain ftp -> www -> web -> host, A", "ftp." + Z, "A", [],
        want("NOERROR", 4))
compare("CNAME chain, AAAA", "www." + Z, "AAAA", [], want("NOERROR", 3))
compare("CNAME asked for itself", "www." + Z, "CNAME", [],
        want("NOERROR", 1))
compare("CNAME out of the zone", "ext." + Z, "A", [], want("NOERROR", 1))
compare("CNAME into a missing name: NXDOMAIN with the CNAME",
        "dangling." + Z, "A", [], want("NXDOMAIN", 1, auth_soa=True))
compare("MX", Z, "MX", [], want("NOERROR", 2))
compare("NS", Z, "NS", [], want("NOERROR", 2))
compare("SOA", Z, "SOA", [], want("NOERROR", 1))
compare("SRV", "_http._tcp." + Z, "SRV", [], want("NOERROR", 1))
compare("TXT", Z, "TXT", [], want("NOERROR", 1))
compare("NXDOMAIN", "nothere." + Z, "A", [],
        want("NXDOMAIN", 0, auth_soa=True))
compare("NXDOMAIN below an existing name", "x.host." + Z, "A", [],
        want("NXDOMAIN", 0, auth_soa=True))
compare("NODATA (a name without that type)", "ns1." + Z, "AAAA", [],
        want("NOERROR", 0, auth_soa=True))
compare("NODATA (an empty non-terminal, RFC 8020)", "b.c.deep." + Z, "A",
        [], want("NOERROR", 0, auth_soa=True))
compare("NODATA for MX at a CNAME's target", "web." + Z, "MX", [],
        want("NOERROR", 1, auth_soa=True))
compare("REFUSED out of the zone", "example.org.", "A", [],
        want("REFUSED", 0, aa=False))
# 40 A records: 670 bytes. Without EDNS (512) TC=1; +ignore keeps dig
# from retrying, so the truncated reply itself is compared.
compare("TC over UDP without EDNS (670-byte answer)", "many." + Z, "A",
        ["+noedns", "+ignore"], want("NOERROR", tc=True, edns=False))
compare("the TCP retry gives the whole answer", "many." + Z, "A",
        ["+noedns"], want("NOERROR", 40, edns=False))
compare("the same over TCP from the start", "many." + Z, "A",
        ["+tcp"], want("NOERROR", 40))
compare("EDNS bufsize 1232 honoured: no TC", "many." + Z, "A",
        ["+bufsize=1232", "+ignore"], want("NOERROR", 40))
compare("EDNS bufsize 600 honoured: TC", "many." + Z, "A",
        ["+bufsize=600", "+ignore"], want("NOERROR", tc=True))
compare("EDNS bufsize below 512 counts as 512: TC", "many." + Z, "A",
        ["+bufsize=100", "+ignore"], want("NOERROR", tc=True))
compare("TC at every UDP size (1.7 KB of TXT)", "big." + Z, "TXT",
        ["+bufsize=4096", "+ignore"], want("NOERROR", tc=True))
compare("the TCP retry of that", "big." + Z, "TXT", ["+bufsize=4096"],
        want("NOERROR", 8))
compare("EDNS: an OPT in the reply, DO copied", "host." + Z, "A",
        ["+dnssec"], want("NOERROR", 1))
compare("no EDNS: no OPT in the reply", "host." + Z, "A", ["+noedns"],
        want("NOERROR", 1, edns=False))
compare("EDNS version 1: BADVERS", "host." + Z, "A",
        ["+edns=1", "+noednsneg", "+ignore"],
        want("BADVERS", 0, aa=False))

# EDNS's UDP size offered is each server's own: said, not compared.
h = ask(HAZE, "host." + Z, "A", [])
n = ask(NSD, "host." + Z, "A", [])
tap(h.edns is not None and h.edns[2] == 1232,
    "Haze offers a UDP size of 1232 (NSD offers %s)" % (
        n.edns[2] if n.edns else "none"))
sys.exit(0 if all(results) else 1)
