#!/usr/bin/env python3
"""Check a glasshouse JSON Lines file (-oJ) against an exact expectation.

Every line must be valid JSON. A line is a port result when it is an object with both "ip" and
"port" and no "type" other than "port"; every other line (header, summary) is ignored except by
--summary / --interrupted. For every expected address and every port of --ports, the expected
state is the one given by --open / --filtered / --closed / --expect, else --default (closed).

Fails (exit 1) and prints a precise diff when:
  * a line is not valid JSON, or a port result lacks a required field or has a bad ip/port;
  * an (ip, proto, port) appears more than once;
  * a result names an address, protocol or port that was not scanned;
  * a port that should be written (its expected state is in --shown) has no result
    (unless --allow-missing), or a port that should not be written has one;
  * a result's state differs from the expected one.
Exit 0 when everything matches, 2 on bad usage or an unreadable file.

Examples:
  check_results.py out.jsonl --addr 198.18.0.2 --open 22,80 --filtered 81
  check_results.py out.jsonl --addr 198.19.0.0/24 --ports 22,80,443 --open 22,80
  check_results.py out.jsonl --addr 198.18.0.2 --ports 1-1000 --open 22 --shown open
"""
import argparse
import ipaddress
import json
import re
import sys
from collections import defaultdict

STATES = ("open", "closed", "filtered", "unfiltered", "open|filtered", "closed|filtered")
DEFAULT_FIELDS = "ip,port,proto,state,reason,service,time"
NO_RECORD = "(no record)"


def parse_ports(spec):
    """'22,80-82 443' -> {22, 80, 81, 82, 443}. '', '-' alone means empty; 'all' is 1-65535."""
    ports = set()
    for item in re.split(r"[,\s]+", spec.strip()):
        if item in ("", "none"):
            continue
        if item == "all":
            item = "1-65535"
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", item)
        if not m:
            raise ValueError(f"bad port item {item!r} in {spec!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if not (0 <= lo <= hi <= 65535):
            raise ValueError(f"bad port range {item!r} in {spec!r}")
        ports.update(range(lo, hi + 1))
    return ports


def parse_addrs(items):
    """Addresses and CIDR blocks (every address of the block, network and broadcast included)."""
    out = []
    for item in items:
        for part in re.split(r"[,\s]+", item.strip()):
            if not part:
                continue
            if "/" in part:
                out.extend(ipaddress.ip_network(part, strict=False))
            else:
                out.append(ipaddress.ip_address(part))
    return out


def compress(ports, limit=400):
    """{1,2,3,7} -> '1-3,7', cut at about `limit` characters."""
    parts = []
    ports = sorted(ports)
    i = 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        parts.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
        i = j + 1
    text = ",".join(parts)
    if len(text) > limit:
        cut = text.rfind(",", 0, limit)
        text = text[: cut if cut > 0 else limit] + ",..."
    return text


def fmt_set(ports):
    return f"[{compress(ports)}] ({len(ports)} port{'s' if len(ports) != 1 else ''})"


def is_port_record(obj):
    return isinstance(obj, dict) and "ip" in obj and "port" in obj and obj.get("type", "port") == "port"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="the -oJ file")
    ap.add_argument("--addr", action="append", required=True,
                    help="scanned address or CIDR block (all of its addresses); repeatable, comma lists ok")
    ap.add_argument("--ports", default="1-65535", help="scanned ports (default 1-65535)")
    ap.add_argument("--proto", default="tcp", help="scanned protocol (default tcp)")
    ap.add_argument("--open", default="", help="ports expected open (on every --addr)")
    ap.add_argument("--filtered", default="", help="ports expected filtered")
    ap.add_argument("--closed", default="", help="ports expected closed")
    ap.add_argument("--expect", action="append", default=[], metavar="STATE=PORTS",
                    help="ports expected in any state, e.g. 'open|filtered=53'; repeatable")
    ap.add_argument("--default", default="closed", help="state of every other scanned port (default closed)")
    ap.add_argument("--shown", default="all",
                    help="states the file must contain (--show): 'all' or a comma list, e.g. 'open'; "
                         "ports expected in other states must have no record")
    ap.add_argument("--allow-missing", action="store_true",
                    help="a port with no record is fine (interrupted scan); the records present must still match")
    ap.add_argument("--required-fields", default=DEFAULT_FIELDS,
                    help=f"fields every port record must have (default {DEFAULT_FIELDS}); '' for none")
    ap.add_argument("--summary", choices=("any", "required"), default="any",
                    help="required: the last line must be a non-port record (summary)")
    ap.add_argument("--interrupted", choices=("any", "true", "false"), default="any",
                    help="if the summary record has an 'interrupted' field, it must be this")
    ap.add_argument("--max-lines", type=int, default=60, help="cap on diff lines printed (default 60)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)

    try:
        scanned_ports = parse_ports(args.ports)
        addrs = parse_addrs(args.addr)
        expected_state = {}  # port -> state (ports not listed: args.default)
        for state, spec in [("open", args.open), ("filtered", args.filtered), ("closed", args.closed)] + [
            tuple(e.split("=", 1)) if "=" in e else (e, None) for e in args.expect
        ]:
            if spec is None:
                raise ValueError(f"--expect needs STATE=PORTS, got {state!r}")
            for p in parse_ports(spec):
                if p in expected_state and expected_state[p] != state:
                    raise ValueError(f"port {p} expected both {expected_state[p]} and {state}")
                if p not in scanned_ports:
                    raise ValueError(f"port {p} expected {state} but is not in --ports {args.ports}")
                expected_state[p] = state
        shown = set(STATES) if args.shown == "all" else {s for s in args.shown.split(",") if s}
        required = [f for f in args.required_fields.split(",") if f]
    except ValueError as e:
        print(f"check_results.py: {e}", file=sys.stderr)
        return 2
    proto = args.proto.lower()
    addr_set = set(addrs)

    try:
        with open(args.file, encoding="utf-8") as f:
            raw_lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        print(f"FAIL: cannot read {args.file}: {e}")
        return 2
    problems = []       # structural problems, one line each
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    else:
        problems.append(f"line {len(raw_lines)}: the file does not end with a newline (cut short?)")
    got = {}            # (addr, port) -> state
    first_line = {}     # (addr, port) -> line number of the first record
    dups = defaultdict(list)
    foreign = []        # records for things not scanned
    n_records = 0
    last_obj = None
    for lineno, line in enumerate(raw_lines, 1):
        if not line.strip():
            problems.append(f"line {lineno}: empty line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {lineno}: not valid JSON ({e.msg} at column {e.colno}): {line[:120]!r}")
            last_obj = None
            continue
        last_obj = obj
        if not is_port_record(obj):
            continue
        n_records += 1
        missing = [k for k in required if k not in obj]
        if missing:
            problems.append(f"line {lineno}: port record lacks {', '.join(missing)}: {line[:160]}")
        try:
            addr = ipaddress.ip_address(str(obj["ip"]))
        except ValueError:
            problems.append(f"line {lineno}: bad ip {obj['ip']!r}")
            continue
        port = obj["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            problems.append(f"line {lineno}: bad port {port!r} (want an integer 0-65535)")
            continue
        rproto = str(obj.get("proto", proto)).lower()
        state = obj.get("state")
        if not isinstance(state, str):
            problems.append(f"line {lineno}: bad state {state!r}")
            continue
        key = (addr, rproto, port)
        if key in first_line:
            dups[key].append(lineno)
            continue
        first_line[key] = lineno
        if addr not in addr_set or rproto != proto or port not in scanned_ports:
            foreign.append(f"line {lineno}: {addr} {rproto}/{port} {state} was not scanned")
            continue
        got[(addr, port)] = state

    for key, lines in sorted(dups.items(), key=lambda kv: first_line[kv[0]]):
        addr, rproto, port = key
        problems.append(f"duplicate {addr} {rproto}/{port}: lines {first_line[key]}, {', '.join(map(str, lines))}")
    problems.extend(foreign)

    if args.summary == "required":
        if last_obj is None or is_port_record(last_obj):
            problems.append("last line is not a summary record (a JSON object that is not a port result)")
    if args.interrupted != "any" and isinstance(last_obj, dict) and not is_port_record(last_obj):
        if "interrupted" in last_obj and last_obj["interrupted"] is not (args.interrupted == "true"):
            problems.append(f"summary record has interrupted={json.dumps(last_obj['interrupted'])}, "
                            f"expected {args.interrupted}")

    # Per address: (expected, got) -> ports, and per state: expected set vs got set.
    diff_by_addr = {}
    totals = defaultdict(int)
    for addr in addrs:
        transitions = defaultdict(set)
        exp_sets = defaultdict(set)
        got_sets = defaultdict(set)
        for port in scanned_ports:
            exp = expected_state.get(port, args.default)
            must_show = exp in shown
            g = got.get((addr, port), NO_RECORD)
            if g != NO_RECORD:
                totals[g] += 1
                got_sets[g].add(port)
            if must_show:
                exp_sets[exp].add(port)
                if g == NO_RECORD and args.allow_missing:
                    continue
                if g != exp:
                    transitions[(exp, g)].add(port)
            elif g != NO_RECORD:
                transitions[(f"{exp} (not shown)", g)].add(port)
        lines = []
        for (exp, g), ports in sorted(transitions.items()):
            lines.append(f"expected {exp}, got {g}: {fmt_set(ports)}")
            if addr.is_loopback and exp == "closed" and g == "open":
                lines.append("  hint: a spurious open port on loopback in the ephemeral range "
                             "(net.ipv4.ip_local_port_range) is likely a TCP self-connect "
                             "(source port == destination port); a connect scan must treat "
                             "getsockname() == getpeername() as closed")
        if transitions:
            for state in sorted(set(exp_sets) | set(got_sets)):
                e, g = exp_sets.get(state, set()), got_sets.get(state, set())
                if args.allow_missing:
                    e = e & {p for p in scanned_ports if (addr, p) in got}
                if e != g and len(e) <= 200 and len(g) <= 200:
                    lines.append(f"state {state}: expected {fmt_set(e)}, got {fmt_set(g)}")
        if lines:
            diff_by_addr[addr] = tuple(lines)

    ok = not problems and not diff_by_addr
    summary = (f"{args.file}: {n_records} port records, {len(addrs)} address(es) x {len(scanned_ports)} "
               f"{proto} port(s); states seen: "
               + (", ".join(f"{s} {n}" for s, n in sorted(totals.items())) or "none"))
    if ok:
        if not args.quiet:
            print(f"OK: {summary}")
        return 0

    out = [f"FAIL: {summary}"]
    if problems:
        out.append(f"  {len(problems)} problem(s) in the file:")
        out.extend(f"    {p}" for p in problems)
    # Group addresses whose diff is identical (a /24 sweep that is wrong everywhere in the same way).
    groups = defaultdict(list)
    for addr, lines in diff_by_addr.items():
        groups[lines].append(addr)
    if groups:
        out.append(f"  {len(diff_by_addr)} of {len(addrs)} address(es) differ from the expectation:")
    for lines, group in groups.items():
        names = ", ".join(map(str, group[:6])) + (f", ... ({len(group)} addresses)" if len(group) > 6 else "")
        out.append(f"    {names}:")
        out.extend(f"      {line}" for line in lines)
    if len(out) > args.max_lines:
        dropped = len(out) - args.max_lines
        out = out[: args.max_lines] + [f"  ... {dropped} more line(s) cut (--max-lines)"]
    print("\n".join(out))
    return 1


if __name__ == "__main__":
    sys.exit(main())
