#!/usr/bin/env python3
"""Checks a Glasshouse -oJ file against the expected host set (and port states).

  discovery_check.py hosts FILE EXPECTED_IPS [--reason R ...] [--mac IP=MAC ...]
      The "host" records with state "up" are exactly EXPECTED_IPS (comma-separated); no address
      twice; each up host's reason is one of the --reason values when given (addresses listed
      with --local may also say localhost-response); --mac IP=MAC checks an up host's MAC.
  discovery_check.py ports FILE EXPECTED_IPS OPEN CLOSED
      "port" records exist for exactly EXPECTED_IPS x (OPEN + CLOSED) with OPEN open and CLOSED
      closed (comma-separated port lists), nothing for any other address, nothing twice.
  discovery_check.py nmap-up NMAP_GREPPABLE      prints nmap's up set (-oG), comma-separated.
  discovery_check.py glasshouse-up FILE          prints Glasshouse's up set, comma-separated.
"""
import json
import sys


def records(path, kind):
    out = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") == kind:
                out.append(r)
    return out


def split(s):
    return [x for x in s.split(",") if x]


def up_set(path):
    seen, up = set(), set()
    for r in records(path, "host"):
        if r["ip"] in seen:
            sys.exit(f"{path}: host {r['ip']} reported twice")
        seen.add(r["ip"])
        if r["state"] == "up":
            up.add(r["ip"])
    return up


def main():
    mode = sys.argv[1]
    if mode == "hosts":
        path, want = sys.argv[2], set(split(sys.argv[3]))
        reasons, local, macs = set(), set(), {}
        args = sys.argv[4:]
        while args:
            opt, val = args[0], args[1]
            args = args[2:]
            if opt == "--reason":
                reasons.add(val)
            elif opt == "--local":
                local.update(split(val))
            elif opt == "--mac":
                ip, mac = val.split("=", 1)
                macs[ip] = mac.lower()
        got = up_set(path)
        bad = [f"missing up host {ip}" for ip in sorted(want - got)]
        bad += [f"unexpected up host {ip}" for ip in sorted(got - want)]
        for r in records(path, "host"):
            if r["state"] != "up":
                continue
            ok = {"localhost-response"} if r["ip"] in local else reasons
            if reasons and r["reason"] not in ok:
                bad.append(f"{r['ip']}: reason {r['reason']}, expected one of {sorted(ok)}")
            if r["ip"] in macs and (r.get("mac") or "") != macs[r["ip"]]:
                bad.append(f"{r['ip']}: MAC {r.get('mac')}, expected {macs[r['ip']]}")
        if bad:
            sys.exit(f"{path}:\n  " + "\n  ".join(bad))
        print(f"OK: {path}: exactly the {len(want)} expected hosts up")
    elif mode == "ports":
        path, want = sys.argv[2], set(split(sys.argv[3]))
        open_p, closed_p = {int(p) for p in split(sys.argv[4])}, {int(p) for p in split(sys.argv[5])}
        got = {}
        for r in records(path, "port"):
            key = (r["ip"], r["port"])
            if key in got:
                sys.exit(f"{path}: {key} reported twice")
            got[key] = r["state"]
        bad = []
        for ip in sorted(want):
            for p in sorted(open_p | closed_p):
                exp = "open" if p in open_p else "closed"
                st = got.pop((ip, p), None)
                if st != exp:
                    bad.append(f"{ip}:{p} expected {exp}, got {st}")
        bad += [f"unexpected port record {k} {v}" for k, v in sorted(got.items())]
        if bad:
            sys.exit(f"{path}:\n  " + "\n  ".join(bad[:20]))
        print(f"OK: {path}: {len(want)} hosts x {len(open_p | closed_p)} ports as expected")
    elif mode == "nmap-up":
        up = set()
        with open(sys.argv[2]) as f:
            for line in f:
                if line.startswith("Host:") and "Status: Up" in line:
                    up.add(line.split()[1])
        print(",".join(sorted(up)))
    elif mode == "glasshouse-up":
        print(",".join(sorted(up_set(sys.argv[2]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
