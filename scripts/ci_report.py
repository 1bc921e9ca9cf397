#!/usr/bin/env python3
"""Counts the tests of a CI run and enforces the skip policy (scripts/test.sh calls it last).

    ci_report.py [--strict] [--allow FILE] [--failed-stage NAME ...] STAGE=JUNIT.xml ...

Each STAGE=JUNIT.xml is the JUnit file of one ctest run (`ctest --output-junit`). A test counts
as passed, failed or skipped; a test that passed but printed `SKIP-PART: reason` (a lab test
whose part could not run, tests/lab/lib.sh) adds one skip. A skip's reason is the GoogleTest
GTEST_SKIP() message or the lab test's `SKIP: reason` line.

With --strict (CI=true), every skip fails the run unless it matches an entry of the allow file
(.ci/allowed-skips.txt): `TEST-GLOB | REASON-SUBSTRING | why CI accepts it`. The entries are
printed at the end of every run, so the list stays in sight. A skip off the list counts as
skipped and as failed. A JUnit file that is missing (a
stage that crashed before writing it) and every --failed-stage count as failures.

The last line printed is `N passed, N failed, N skipped`. Exit status 0 when nothing failed
(and, with --strict, no skip is off the list), 1 otherwise.
"""
import argparse
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET

GTEST_SKIP = re.compile(r"^\S+:\d+: Skipped\n(.*)$", re.M)
LAB_SKIP = re.compile(r"^SKIP: (.*)$", re.M)
PART_SKIP = re.compile(r"^SKIP-PART: (.*)$", re.M)


def load_allow(path):
    entries = []
    if not path:
        return entries
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 3 or not all(parts):
                sys.exit(f"{path}:{n}: expected 'TEST-GLOB | REASON | why', got: {line}")
            entries.append(tuple(parts))
    return entries


def skip_reason(output):
    for pattern in (GTEST_SKIP, LAB_SKIP):
        m = pattern.search(output)
        if m:
            return m.group(1).strip()
    return "(no reason given)"


def allowed(entries, name, reason):
    for glob, text, why in entries:
        if fnmatch.fnmatchcase(name, glob) and text in reason:
            return why
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strict", action="store_true", help="skips off the allow list fail")
    ap.add_argument("--allow", help="the allow list (.ci/allowed-skips.txt)")
    ap.add_argument("--failed-stage", action="append", default=[], help="a stage that failed")
    ap.add_argument("stages", nargs="*", metavar="STAGE=JUNIT")
    args = ap.parse_args()
    entries = load_allow(args.allow)

    passed = failed = 0
    failures = [f"stage {s}" for s in args.failed_stage]
    skips = []  # (stage, test, reason)
    rows = []
    for item in args.stages:
        stage, _, path = item.partition("=")
        try:
            cases = ET.parse(path).getroot().iter("testcase")
        except (OSError, ET.ParseError) as e:
            failures.append(f"stage {stage}: no test results ({e})")
            rows.append((stage, 0, 1, 0))
            failed += 1
            continue
        p = f = s = 0
        for case in cases:
            name = case.get("name", "?")
            status = case.get("status", "")
            out = case.findtext("system-out") or ""
            if status == "run":
                p += 1
                for reason in PART_SKIP.findall(out):
                    s += 1
                    skips.append((stage, name, reason.strip()))
            elif status in ("notrun", "skipped", "disabled"):
                s += 1
                skips.append((stage, name, skip_reason(out)))
            else:
                f += 1
                failures.append(f"{stage}: {name}")
        rows.append((stage, p, f, s))
        passed += p
        failed += f
    failed += len(args.failed_stage)

    print("== test counts ==")
    print(f"  {'stage':<24} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for stage, p, f, s in rows:
        print(f"  {stage:<24} {p:>7} {f:>7} {s:>8}")
    refused = []
    if skips:
        print("== skipped ==")
        for stage, name, reason in skips:
            why = allowed(entries, name, reason)
            if why is None:
                refused.append((stage, name, reason))
            mark = f"allowed: {why}" if why else ("NOT ALLOWED" if args.strict else "not allowed")
            print(f"  {stage}: {name}: {reason}  [{mark}]")
    print(f"== skip reasons CI accepts ({args.allow or 'none'}) ==")
    for glob, text, why in entries:
        print(f"  {glob} | {text} | {why}")
    if not entries:
        print("  (none)")
    if failures:
        print("== failed ==")
        for x in failures:
            print(f"  {x}")
    if args.strict and refused:
        print(f"CI=true: {len(refused)} skip(s) not on the list: a skip hides a test; make it run "
              "here or add its reason, with why, to the allow list")
        failed += len(refused)
    print(f"{passed} passed, {failed} failed, {len(skips)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
