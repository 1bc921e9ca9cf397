#!/usr/bin/env python3
"""Compare a glasshouse -sU scan (-oJ) with the expected states and with nmap -sU's -oX.

  udp_compare.py OURS.jsonl --addr A --expect open=53,69 --expect closed=137 ... [--nmap X.xml]
                 [--proto udp|tcp]

--proto tcp checks the TCP ports of the same files instead (a -sS -sU scan: each protocol is
checked on its own, with its own --expect lists).

Every (addr, udp port) of the --expect lists must appear once in OURS with that state (or twice
when the later record has "previous_state", the earlier one's: -sV promoted it). With
--nmap, nmap's state for each port must be the same, except that nmap may say open|filtered where
we say open with a udp-response, closed with a port-unreach or filtered with an admin-prohibited
(a validated reply is proof; nmap's payload got none, or nmap gave up under the target's ICMP
limit, which holds back nft's reject unreachables as much as the kernel's own): such ports are
listed, not failed. Exit 1 with a diff on any mismatch, 2 on bad usage.
"""
import argparse
import json
import sys
import xml.etree.ElementTree as ET


def parse_ports(spec):
    out = set()
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        lo, _, hi = item.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def ours(path, proto):
    got = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            obj = json.loads(line)
            if not isinstance(obj, dict) or "port" not in obj or "ip" not in obj:
                continue
            if obj.get("type", "port") != "port" or obj.get("proto") != proto:
                continue
            key = (obj["ip"], int(obj["port"]))
            # -sV may report an open|filtered UDP port again, open, with the state it had.
            prev = obj.get("previous_state")
            if key in got and (prev is None or got[key][0] != prev):
                raise SystemExit(f"{path}:{n}: {key} reported twice")
            if prev is not None and key not in got and obj.get("state") == prev:
                raise SystemExit(f"{path}:{n}: {key}: previous_state is its state")
            got[key] = (obj["state"], obj.get("reason", ""))
    return got


def nmap(path, proto):
    got = {}
    for host in ET.parse(path).getroot().iter("host"):
        addrs = [a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")]
        for port in host.iter("port"):
            if port.get("protocol") != proto:
                continue
            st = port.find("state")
            got[(addrs[0], int(port.get("portid")))] = (st.get("state"), st.get("reason"))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--expect", action="append", default=[], metavar="STATE=PORTS")
    ap.add_argument("--nmap")
    ap.add_argument("--name", default="udp")
    ap.add_argument("--proto", default="udp", choices=("udp", "tcp"))
    args = ap.parse_args()
    expect = {}
    for e in args.expect:
        state, _, ports = e.partition("=")
        for p in parse_ports(ports):
            expect[p] = state
    mine = ours(args.ours, args.proto)
    P = args.proto
    theirs = nmap(args.nmap, args.proto) if args.nmap else None
    bad, better = [], []
    for addr in args.addr:
        for port, state in sorted(expect.items()):
            got = mine.get((addr, port))
            if got is None:
                bad.append(f"{addr} {P}/{port}: no record (expected {state})")
                continue
            if got[0] != state:
                bad.append(f"{addr} {P}/{port}: {got[0]} ({got[1]}), expected {state}")
            if theirs is not None:
                t = theirs.get((addr, port))
                if t is None:
                    bad.append(f"{addr} {P}/{port}: nmap has no record")
                elif t[0] != got[0]:
                    if P == "udp" and t[0] == "open|filtered" and got in (("open", "udp-response"),
                                                           ("closed", "port-unreach"),
                                                           ("filtered", "admin-prohibited")):
                        # Our answer is a validated reply (checked against --expect above);
                        # nmap's is silence: its payload got no answer, or it gave up on a
                        # port whose unreachable (port or admin-prohibited) the target's ICMP
                        # limit held back.
                        better.append(f"{addr} {P}/{port} ({got[0]})")
                    else:
                        bad.append(f"{addr} {P}/{port}: ours {got[0]} ({got[1]}), nmap {t[0]} ({t[1]})")
        extra = [k for k in mine if k[0] == addr and k[1] not in expect]
        for k in extra:
            bad.append(f"{addr} {P}/{k[1]}: reported but not scanned")
    if better:
        print(f"{args.name}: answered here, open|filtered for nmap (no reply to its payload, or "
              "it gave up under the ICMP limit): "
              + ", ".join(better))
    if bad:
        print(f"{args.name}: {len(bad)} mismatch(es):", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    print(f"{args.name}: {len(expect) * len(args.addr)} port states as expected"
          + (", and as nmap's" if theirs is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
