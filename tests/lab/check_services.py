#!/usr/bin/env python3
"""Checks a -sV JSON Lines file against the expected services of the lab daemons, and compares it
with nmap -sV's XML on the same ports.

expect.tsv: port, service, product, version ("-": the daemon does not disclose one). A port is
right when its service name, product and version (the package's upstream version as a prefix of
what was reported) are those expected. Also checked: TLS on the TLS ports and STARTTLS ports, HTTP
title and redirect, the SSH host key fingerprint. Exit 1 when any port is wrong, or when nmap got
a port right that Glasshouse did not."""
import argparse
import json
import sys
import xml.etree.ElementTree as ET

TLS_PORTS = {443: None, 4433: None, 993: None, 995: None, 21: "ftp", 25: "smtp", 110: "pop3",
             143: "imap"}


def right(exp, name, product, version):
    svc, prod, ver = exp
    if name != svc or product != prod:
        return False
    if ver == "-":
        return True
    return version.startswith(ver)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("expect")
    ap.add_argument("jsonl")
    ap.add_argument("nmap_xml")
    ap.add_argument("--ssh-fingerprint", default="")
    ap.add_argument("--addr", required=True)
    a = ap.parse_args()
    expect = {}
    for line in open(a.expect):
        port, svc, prod, ver = line.rstrip("\n").split("\t")
        expect[int(port)] = (svc, prod, ver)
    ours = {}
    for line in open(a.jsonl):
        rec = json.loads(line)
        if rec.get("type") == "service" and rec["ip"] == a.addr:
            ours[rec["port"]] = rec
    theirs = {}
    try:
        root = ET.parse(a.nmap_xml).getroot()
        for port in root.iter("port"):
            s = port.find("service")
            if s is None:
                continue
            theirs[int(port.get("portid"))] = (s.get("name", ""), s.get("product", ""),
                                                s.get("version", ""))
    except (ET.ParseError, FileNotFoundError) as e:
        print(f"nmap XML unreadable: {e}")
    errors = []
    ours_right = nmap_right = 0
    print(f"{'port':>5} {'expected':40} {'glasshouse':45} nmap")
    for port, exp in sorted(expect.items()):
        rec = ours.get(port)
        got = (rec["name"], rec["product"], rec["version"]) if rec else ("-", "", "")
        ok = rec is not None and right(exp, *got)
        n = theirs.get(port, ("-", "", ""))
        nok = right(exp, *n)
        ours_right += ok
        nmap_right += nok
        print(f"{port:>5} {'/'.join(exp):40} {'/'.join(got):45} {'/'.join(n)}"
              f"  {'ok' if ok else 'WRONG'} {'ok' if nok else 'wrong'}")
        if not ok:
            errors.append(f"port {port}: expected {exp}, got {got}")
        elif nok and not ok:
            errors.append(f"port {port}: nmap right, Glasshouse not")
        if rec is None:
            continue
        if port in TLS_PORTS:
            tls = rec.get("tls")
            if not tls:
                errors.append(f"port {port}: no TLS details")
            else:
                if "CN=lab.glasshouse.test" not in tls["subject"] or not tls["self_signed"]:
                    errors.append(f"port {port}: certificate {tls['subject']} self_signed={tls['self_signed']}")
                if "DNS:lab.glasshouse.test" not in tls["sans"]:
                    errors.append(f"port {port}: SANs {tls['sans']}")
                want = TLS_PORTS[port]
                if want and tls.get("starttls") != want:
                    errors.append(f"port {port}: starttls {tls.get('starttls')}, expected {want}")
                if not want and not rec["tunnel_tls"]:
                    errors.append(f"port {port}: service not identified inside TLS")
        if port in (443, 4433) and (rec.get("http") or {}).get("title") != "Glasshouse lab":
            errors.append(f"port {port}: http title {rec.get('http')}")
        if port == 80 and (rec.get("http") or {}).get("location") != "https://lab.glasshouse.test/":
            errors.append(f"port 80: redirect {rec.get('http')}")
        if port == 22 and a.ssh_fingerprint:
            fp = (rec.get("ssh") or {}).get("fingerprint")
            if fp != a.ssh_fingerprint:
                errors.append(f"port 22: host key fingerprint {fp}, ssh-keygen says {a.ssh_fingerprint}")
    print(f"right: glasshouse {ours_right}/{len(expect)}, nmap {nmap_right}/{len(expect)}")
    if ours_right < nmap_right:
        errors.append("nmap got more right than Glasshouse")
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
