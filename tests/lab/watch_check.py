#!/usr/bin/env python3
"""Checks the JSON Lines alerts of `glasshouse watch` (tests/lab/test_watch_*.sh).

  watch_check.py ALERTS [--expect SPEC]... [--absent SRC]... [--max-records N]

SPEC is comma-separated key=value: src (required), type, shape, tool, rule (a detector rule that
must be in detected_by; repeatable), norule (one that must not be), verified (true/false),
blocked (true/false), minprobes. It is checked against the last record of the source's alert
(the "end" record after a clean stop). Every record must be valid JSON with the required fields,
and all records of one id must share src and first_seen.
"""
import argparse
import json
import sys

REQUIRED = ["id", "event", "src", "type", "shape", "first_seen", "last_seen", "probes", "ports",
            "hosts", "sample_ports", "sample_hosts", "score", "detected_by", "verified", "blocked"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("alerts")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--absent", action="append", default=[])
    args = ap.parse_args()
    errors = []
    records = []
    with open(args.alerts) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError as e:
                errors.append(f"line {n}: not JSON: {e}")
                continue
            missing = [k for k in REQUIRED if k not in r]
            if missing:
                errors.append(f"line {n}: missing {missing}")
            records.append(r)
    by_id = {}
    for r in records:
        first = by_id.setdefault(r["id"], r)
        if (first["src"], first["first_seen"]) != (r["src"], r["first_seen"]):
            errors.append(f"id {r['id']}: records disagree on src/first_seen")
    last_by_src = {}
    news_by_src = {}
    for r in records:
        last_by_src[r["src"]] = r
        if r["event"] == "new":
            news_by_src[r["src"]] = news_by_src.get(r["src"], 0) + 1
    for src in args.absent:
        if src in last_by_src:
            r = last_by_src[src]
            errors.append(f"{src}: unexpected alert ({r['type']} {r['shape']}, {r['probes']} probes, "
                          f"by {r['detected_by']})")
    for spec in args.expect:
        want = {}
        rules, norules = [], []
        for item in spec.split(","):
            k, _, v = item.partition("=")
            if k == "rule":
                rules.append(v)
            elif k == "norule":
                norules.append(v)
            else:
                want[k] = v
        src = want.pop("src")
        r = last_by_src.get(src)
        if r is None:
            errors.append(f"{src}: no alert (expected {spec})")
            continue
        if news_by_src.get(src, 0) != 1:
            errors.append(f"{src}: {news_by_src.get(src, 0)} 'new' records, expected one alert")
        for k, v in want.items():
            if k == "tool":
                got = (r.get("tool") or {}).get("name")
            elif k == "minprobes":
                if r["probes"] < int(v):
                    errors.append(f"{src}: {r['probes']} probes, expected at least {v}")
                continue
            elif k in ("verified", "blocked"):
                got = str(r[k]).lower()
            else:
                got = r.get(k)
            if str(got) != v:
                errors.append(f"{src}: {k} is {got!r}, expected {v!r} (record: {json.dumps(r)})")
        for rule in rules:
            if rule not in r["detected_by"]:
                errors.append(f"{src}: rule {rule} not in {r['detected_by']}")
        for rule in norules:
            if rule in r["detected_by"]:
                errors.append(f"{src}: rule {rule} unexpectedly in {r['detected_by']}")
        print(f"ok {src}: {r['type']} {r['shape']} probes={r['probes']} ports={r['ports']} "
              f"hosts={r['hosts']} by={'+'.join(r['detected_by'])} tool={(r.get('tool') or {}).get('name')}")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
