#!/usr/bin/env python3
"""Open ports a scanner reported, scored against the lab's truth.

    found.py FORMAT TRUTH FILE...

FORMAT is the output format of the scanner:
  gh       glasshouse -oJ (JSON Lines: {"type":"port","ip":..,"port":..,"state":"open"})
  nmap     nmap -oG (grepable: "Host: 198.19.0.7 ()  Ports: 80/open/tcp//http///")
  masscan  masscan -oL (list: "open tcp 80 198.19.0.7 1700000000")
  zmap     zmap -O csv -f saddr,sport (a header line, then "198.19.0.7,80")
TRUTH is a file of "ADDRESS PORT" lines: the open ports the lab has. Missing FILEs count as empty
(a scanner that crashed or timed out before writing). Prints one line:

    found=N true=N truth=N false=N

found: distinct (address, port) pairs reported open; true: of them, open in the lab; truth: open
ports in the lab; false: reported open but not open in the lab. Stdlib only.
"""
import ipaddress
import json
import re
import sys


def norm(addr):
    return str(ipaddress.ip_address(addr.strip()))


def parse_gh(lines):
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if rec.get("type") == "port" and rec.get("state") == "open":
            yield norm(rec["ip"]), int(rec["port"])


NMAP_HOST = re.compile(r"^Host:\s+(\S+).*?\tPorts:\s+(.*)$")


def parse_nmap(lines):
    for line in lines:
        m = NMAP_HOST.match(line.rstrip("\n"))
        if not m:
            continue
        addr = norm(m.group(1))
        ports = m.group(2).split("\t")[0]
        for item in ports.split(","):
            fields = item.strip().split("/")
            if len(fields) >= 3 and fields[1] == "open" and fields[2] == "tcp":
                yield addr, int(fields[0])


def parse_masscan(lines):
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "open" and fields[1] == "tcp":
            yield norm(fields[3]), int(fields[2])


def parse_zmap(lines):
    for line in lines:
        fields = line.strip().split(",")
        if len(fields) < 2 or fields[0] == "saddr":
            continue
        try:
            yield norm(fields[0]), int(fields[1])
        except ValueError:
            continue


PARSERS = {"gh": parse_gh, "nmap": parse_nmap, "masscan": parse_masscan, "zmap": parse_zmap}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in PARSERS:
        print(__doc__, file=sys.stderr)
        return 2
    parser = PARSERS[sys.argv[1]]
    truth = set()
    with open(sys.argv[2]) as f:
        for line in f:
            if line.strip():
                addr, port = line.split()
                truth.add((norm(addr), int(port)))
    found = set()
    for path in sys.argv[3:]:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    try:
                        found.update(parser([line]))
                    except (ValueError, KeyError, IndexError):
                        pass  # a line cut short when a run was killed
        except FileNotFoundError:
            pass
    true = len(found & truth)
    print(f"found={len(found)} true={true} truth={len(truth)} false={len(found) - true}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
