#!/usr/bin/python3
"""Checks Glasshouse's nmap XML with the tools that read nmap's XML (tests/lab/test_xml_output.sh).

  libnmap FILE ADDR OPEN CLOSED FILTERED   python3-libnmap reads exactly these ports (comma lists)
                                           with their states, a service and reason on each, the
                                           host up, and the run's counts
  same FILE NMAPFILE ADDR                  our ports and states equal nmap's
  importers FILE                           the fields DefectDojo's and Metasploit's nmap importers
                                           read are there (docs/XML.md lists them)
  ndiff OUTPUT CHANGED                     ndiff's text output shows exactly the ports CHANGED
  stopped FILE                             a document closed on the stop path: exit="error"

Run with Debian's python3 (/usr/bin/python3), where python3-libnmap is installed.
"""
import re
import sys
import xml.etree.ElementTree as ET


def ports(arg):
    return {int(p) for p in arg.split(",") if p}


def fail(msg):
    print(f"check_nmap_xml: {msg}", file=sys.stderr)
    sys.exit(1)


def check_libnmap(path, addr, open_, closed, filtered):
    from libnmap.parser import NmapParser

    report = NmapParser.parse_fromfile(path)
    hosts = [h for h in report.hosts if h.address == addr]
    if len(hosts) != 1:
        fail(f"libnmap: {len(hosts)} hosts with address {addr} (want 1): {[h.address for h in report.hosts]}")
    h = hosts[0]
    if h.status != "up":
        fail(f"libnmap: host {addr} is {h.status!r}")
    got = {"open": set(), "closed": set(), "filtered": set()}
    for s in h.services:
        if s.protocol != "tcp":
            fail(f"libnmap: unexpected protocol {s.protocol}")
        got.setdefault(s.state, set()).add(s.port)
        if not s.reason:
            fail(f"libnmap: port {s.port} has no reason")
        if s.state == "open" and not s.service:
            fail(f"libnmap: open port {s.port} has no service name")
    want = {"open": ports(open_), "closed": ports(closed), "filtered": ports(filtered)}
    for state in want:
        if got.get(state, set()) != want[state]:
            fail(f"libnmap: {state} ports {sorted(got.get(state, set()))}, want {sorted(want[state])}")
    extra = set(got) - set(want)
    if extra:
        fail(f"libnmap: unexpected states {extra}")
    if report.hosts_up < 1 or report.hosts_total < 1:
        fail(f"libnmap: runstats hosts up={report.hosts_up} total={report.hosts_total}")
    if not report.started or not report.endtime:
        fail("libnmap: no start or end time")
    print(f"libnmap: {addr}: {len(h.services)} ports as scanned, version {report.version}")


def table(path, addr):
    root = ET.parse(path).getroot()
    out = {}
    for host in root.findall("host"):
        if host.find(f"address[@addr='{addr}']") is None:
            continue
        for p in host.findall("ports/port"):
            # States only: service names come from each scanner's own services table.
            out[(p.get("protocol"), int(p.get("portid")))] = p.find("state").get("state")
    return out


def check_same(ours, theirs, addr):
    a, b = table(ours, addr), table(theirs, addr)
    if a != b:
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        fail(f"ours differs from nmap's (ours, nmap): {diff}")
    print(f"same as nmap: {len(a)} ports")


def check_importers(path):
    head = open(path, "rb").read(4096)
    # Metasploit's db_import recognises nmap XML by "<nmaprun" near the top.
    if b"<nmaprun" not in head:
        fail("importers: no <nmaprun in the first 4 KiB (Metasploit's file type detection)")
    root = ET.parse(path).getroot()
    if root.tag != "nmaprun" or root.get("scanner") != "nmap":
        fail("importers: root is not <nmaprun scanner=\"nmap\">")
    int(root.get("start"))  # DefectDojo: the report date
    for attr in ("version", "xmloutputversion", "args"):
        if not root.get(attr):
            fail(f"importers: nmaprun lacks {attr}")
    hosts = root.findall("host")
    if not hosts:
        fail("importers: no <host>")
    for host in hosts:
        st = host.find("status")
        if st is None or st.get("state") not in ("up", "down") or not st.get("reason"):
            fail("importers: <host> without <status state reason> (Metasploit: alive or dead)")
        addrs = host.findall("address")
        if not addrs or addrs[0].get("addrtype") not in ("ipv4", "ipv6"):
            fail("importers: <host> whose first address is not an IP (Metasploit needs one)")
        ip = addrs[0].get("addr")
        if addrs[0].get("addrtype") == "ipv4" and host.find("address[@addrtype='ipv4']") is None:
            fail("importers: DefectDojo reads address[@addrtype='ipv4']")
        if host.find("hostnames") is None:
            fail(f"importers: {ip}: no <hostnames>")
        for p in host.findall("ports/port"):
            if p.get("protocol") not in ("tcp", "udp") or not p.get("portid", "").isdigit():
                fail(f"importers: {ip}: port without protocol/portid")
            s = p.find("state")
            if s is None or not s.get("state") or s.get("reason") is None:
                fail(f"importers: {ip}: port {p.get('portid')} without <state state reason>")
            svc = p.find("service")
            if s.get("state") == "open" and (svc is None or not svc.get("name")):
                fail(f"importers: {ip}: open port {p.get('portid')} without <service name>")
    rs = root.find("runstats")
    if rs is None or rs.find("finished") is None or rs.find("hosts") is None:
        fail("importers: no <runstats> with <finished> and <hosts>")
    print(f"importers: {len(hosts)} hosts with every field DefectDojo and Metasploit read")


def check_ndiff(output_path, changed):
    text = open(output_path).read()
    shown = set()
    for line in text.splitlines():
        m = re.match(r"^[-+](\d+)/(tcp|udp)\s", line)
        if m:
            shown.add(int(m.group(1)))
    if shown != ports(changed):
        fail(f"ndiff shows ports {sorted(shown)} as changed, want {sorted(ports(changed))}:\n{text}")
    print(f"ndiff: exactly ports {sorted(shown)} changed")


def check_stopped(path):
    root = ET.parse(path).getroot()
    fin = root.find("runstats/finished")
    if fin is None or fin.get("exit") != "error" or not fin.get("errormsg"):
        fail("stopped: runstats/finished is not exit=\"error\" with an errormsg")
    print(f"stopped: complete document, {fin.get('errormsg')}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "libnmap" and len(argv) == 7:
        check_libnmap(*argv[2:])
    elif cmd == "same" and len(argv) == 5:
        check_same(*argv[2:])
    elif cmd == "importers" and len(argv) == 3:
        check_importers(argv[2])
    elif cmd == "ndiff" and len(argv) == 4:
        check_ndiff(argv[2], argv[3])
    elif cmd == "stopped" and len(argv) == 3:
        check_stopped(argv[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
