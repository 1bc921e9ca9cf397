#!/usr/bin/env python3
"""Compare the port states of two nmap-format XML files (ours and nmap's) for one address, and
both with the states the lab built.

  flag_states.py OURS.xml NMAP.xml ADDR EXPECTED [--reason PORT=REASON ...]

EXPECTED: "80=open|filtered,81=closed,..." (every port scanned), or "-": compare the two files
only, over every port either lists. OURS may be our -oJ (.jsonl, written with --show all). Ports collapsed into
<extraports> count only when their <extrareasons> list the ports (nmap 7.9x); with few ports both
tools list every port. Exit 0 when all three agree, else 1 with one line per difference.
"""
import json
import sys
import xml.etree.ElementTree as ET


def states(path, addr):
    if path.endswith(".jsonl"):
        out = {}
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("type") == "port" and r.get("ip") == addr and r.get("proto") == "tcp":
                    out[int(r["port"])] = (r["state"], r["reason"])
        return out
    root = ET.parse(path).getroot()
    out = {}
    for host in root.iter("host"):
        addrs = [a.get("addr") for a in host.iter("address")]
        if addr not in addrs:
            continue
        for port in host.iter("port"):
            st = port.find("state")
            out[int(port.get("portid"))] = (st.get("state"), st.get("reason"))
        for extra in host.iter("extraports"):
            for er in extra.iter("extrareasons"):
                for spec in (er.get("ports") or "").split(","):
                    if not spec:
                        continue
                    lo, _, hi = spec.partition("-")
                    for p in range(int(lo), int(hi or lo) + 1):
                        out[p] = (extra.get("state"), er.get("reason"))
    return out


def main():
    ours_path, nmap_path, addr, expected = sys.argv[1:5]
    reasons = dict(a.split("=", 1) for a in sys.argv[5:])
    want = {}
    ours, theirs = states(ours_path, addr), states(nmap_path, addr)
    if expected == "-":  # no lab truth: every port either reports, compared between the two
        expected = ",".join(f"{p}={(ours.get(p) or theirs.get(p))[0]}" for p in set(ours) | set(theirs))
    for item in expected.split(","):
        port, state = item.split("=", 1)
        want[int(port)] = state
    bad = []
    for port, state in sorted(want.items()):
        o = ours.get(port, ("missing", ""))
        n = theirs.get(port, ("missing", ""))
        if o[0] != n[0]:
            bad.append(f"port {port}: ours {o[0]} ({o[1]}), nmap {n[0]} ({n[1]})")
        if o[0] != state:
            bad.append(f"port {port}: ours {o[0]} ({o[1]}), the lab built {state}")
        if str(port) in reasons and o[1] != reasons[str(port)]:
            bad.append(f"port {port}: our reason {o[1]}, expected {reasons[str(port)]}")
        if str(port) in reasons and n[1] != reasons[str(port)]:
            bad.append(f"port {port}: nmap's reason {n[1]}, expected {reasons[str(port)]}")
    for port in sorted(set(ours) - set(want)):
        bad.append(f"port {port}: ours has it ({ours[port][0]}), it was not scanned")
    if sys.argv[4] == "-":
        print(len(want))
    for line in bad:
        print(f"{addr}: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
