#!/usr/bin/env python3
"""Self-test of check_results.py on hand-made JSON Lines files (no network, no root)."""
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("check_results", os.path.join(HERE, "check_results.py"))
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)


def rec(ip, port, state, **extra):
    r = {"type": "port", "ip": ip, "port": port, "proto": "tcp", "state": state, "reason": "x",
         "service": "", "time": "2025-01-01T00:00:00Z"}
    r.update(extra)
    return json.dumps(r)


def full(ip, ports, open_=(), filtered=()):
    out = []
    for p in ports:
        st = "open" if p in open_ else "filtered" if p in filtered else "closed"
        out.append(rec(ip, p, st))
    return out


class CheckResults(unittest.TestCase):
    def run_check(self, lines, *args, raw=None):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(raw if raw is not None else "".join(l + "\n" for l in lines))
            name = f.name
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                rc = cr.main([name, *args])
        finally:
            os.unlink(name)
        return rc, buf.getvalue()

    def ok(self, lines, *args, **kw):
        rc, out = self.run_check(lines, *args, **kw)
        self.assertEqual(rc, 0, out)
        return out

    def fails(self, lines, *args, want=(), **kw):
        rc, out = self.run_check(lines, *args, **kw)
        self.assertEqual(rc, 1, out)
        for w in want:
            self.assertIn(w, out)
        return out

    BASE = ("--addr", "198.18.0.2", "--ports", "1-10", "--open", "3,5", "--filtered", "8")

    def test_exact_match_with_header_and_summary(self):
        lines = ['{"type":"header","version":"0.1"}'] + full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [
            '{"type":"summary","interrupted":false,"open_ports":2}']
        out = self.ok(lines, *self.BASE, "--summary", "required", "--interrupted", "false")
        self.assertIn("closed 7, filtered 1, open 2", out)

    def test_order_does_not_matter(self):
        self.ok(list(reversed(full("198.18.0.2", range(1, 11), {3, 5}, {8}))), *self.BASE)

    def test_wrong_state(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5, 7}, {8})
        self.fails(lines, *self.BASE, want=("expected closed, got open: [7] (1 port)",
                                            "state open: expected [3,5] (2 ports), got [3,5,7] (3 ports)"))

    def test_open_reported_closed_and_filtered_reported_closed(self):
        lines = full("198.18.0.2", range(1, 11), {3}, ())
        self.fails(lines, *self.BASE, want=("expected open, got closed: [5]", "expected filtered, got closed: [8]"))

    def test_missing_record(self):
        lines = [l for l in full("198.18.0.2", range(1, 11), {3, 5}, {8}) if '"port": 9,' not in l]
        self.assertEqual(len(lines), 9)
        self.fails(lines, *self.BASE, want=("expected closed, got (no record): [9]",))

    def test_missing_allowed(self):
        lines = full("198.18.0.2", [3, 4], {3, 5}, {8})
        self.ok(lines, *self.BASE, "--allow-missing")
        lines = full("198.18.0.2", [3, 4, 5], {3}, {8})  # present but wrong is still wrong
        self.fails(lines, *self.BASE, "--allow-missing", want=("expected open, got closed: [5]",))

    def test_duplicate(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [rec("198.18.0.2", 5, "open")]
        self.fails(lines, *self.BASE, want=("duplicate 198.18.0.2 tcp/5: lines 5, 11",))

    def test_duplicate_with_other_spelling_of_address(self):
        lines = full("2001:db8::2", range(1, 11), {3, 5}, {8}) + [rec("2001:0db8:0:0::2", 5, "open")]
        self.fails(lines, "--addr", "2001:db8::2", *self.BASE[2:], want=("duplicate 2001:db8::2 tcp/5",))

    def test_ipv6_spelling_normalised(self):
        lines = full("2001:0db8:0000::0002", range(1, 11), {3, 5}, {8})
        self.ok(lines, "--addr", "2001:db8::2", *self.BASE[2:])

    def test_bad_json_line(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8})
        lines.insert(4, '{"ip": "198.18.0.2", "port": 11')
        self.fails(lines, *self.BASE, want=("line 5: not valid JSON",))

    def test_empty_line(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8})
        lines.insert(2, "")
        self.fails(lines, *self.BASE, want=("line 3: empty line",))

    def test_no_final_newline(self):
        raw = "\n".join(full("198.18.0.2", range(1, 11), {3, 5}, {8}))
        self.fails([], *self.BASE, raw=raw, want=("does not end with a newline",))

    def test_required_fields(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8})
        r = json.loads(lines[0])
        del r["service"], r["time"]
        lines[0] = json.dumps(r)
        self.fails(lines, *self.BASE, want=("line 1: port record lacks service, time",))
        self.ok(lines, *self.BASE, "--required-fields", "ip,port,state")

    def test_bad_port_and_ip(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [rec("198.18.0.2", "11", "closed"),
                                                                rec("198.18.0.300", 1, "closed")]
        self.fails(lines, *self.BASE, want=("bad port '11'", "bad ip '198.18.0.300'"))

    def test_not_scanned(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [rec("198.18.0.3", 1, "closed"),
                                                                rec("198.18.0.2", 11, "closed")]
        self.fails(lines, *self.BASE, want=("198.18.0.3 tcp/1 closed was not scanned",
                                            "198.18.0.2 tcp/11 closed was not scanned"))

    def test_other_proto_is_not_scanned(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [rec("198.18.0.2", 3, "open", proto="udp")]
        self.fails(lines, *self.BASE, want=("198.18.0.2 udp/3 open was not scanned",))

    def test_lines_without_ip_or_port_ignored(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8}) + [
            '{"type":"host","ip":"198.18.0.2","state":"up"}', '{"type":"summary","ip":"198.18.0.2","port":0}',
            '[1,2]', '"x"']
        self.ok(lines, *self.BASE)

    def test_cidr_includes_network_and_broadcast(self):
        lines = []
        for a in ("198.19.0.1", "198.19.0.2"):
            lines += full(a, [22, 80], {22})
        self.fails(lines, "--addr", "198.19.0.0/30", "--ports", "22,80", "--open", "22",
                   want=("198.19.0.0, 198.19.0.3:", "expected open, got (no record): [22]"))
        for a in ("198.19.0.0", "198.19.0.3"):
            lines += full(a, [22, 80], {22})
        self.ok(lines, "--addr", "198.19.0.0/30", "--ports", "22,80", "--open", "22")

    def test_identical_diffs_grouped(self):
        lines = []
        for i in range(256):
            lines += full(f"198.19.0.{i}", [22, 80, 443], {22} if i % 2 else {22, 80})
        out = self.fails(lines, "--addr", "198.19.0.0/24", "--ports", "22,80,443", "--open", "22")
        self.assertIn("... (128 addresses):", out)
        self.assertLess(len(out.splitlines()), 12, out)

    def test_shown_open_only(self):
        lines = full("198.18.0.2", [3, 5], {3, 5})
        self.ok(lines, *self.BASE, "--shown", "open")
        self.fails(lines + [rec("198.18.0.2", 1, "closed")], *self.BASE, "--shown", "open",
                   want=("expected closed (not shown), got closed: [1]",))
        self.fails(lines[:1], *self.BASE, "--shown", "open", want=("expected open, got (no record): [5]",))

    def test_summary_required(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8})
        self.fails(lines, *self.BASE, "--summary", "required", want=("last line is not a summary record",))
        self.ok(lines + ['{"type":"summary"}'], *self.BASE, "--summary", "required", "--interrupted", "true")
        self.fails(lines + ['{"type":"summary","interrupted":false}'], *self.BASE, "--interrupted", "true",
                   want=("summary record has interrupted=false, expected true",))
        self.fails(lines + ['{"type":"summary"'], *self.BASE, "--summary", "required",
                   want=("not valid JSON", "last line is not a summary record"))

    def test_expect_other_states(self):
        lines = full("198.18.0.2", range(1, 11), {3, 5}, {8})
        lines[0] = rec("198.18.0.2", 1, "unfiltered")
        self.ok(lines, *self.BASE, "--expect", "unfiltered=1")

    def test_default_range_is_all_ports(self):
        lines = full("198.18.0.2", range(1, 65536), {80})
        self.ok(lines, "--addr", "198.18.0.2", "--open", "80", "-q")
        self.fails(lines[1:], "--addr", "198.18.0.2", "--open", "80", want=("expected closed, got (no record): [1]",))

    def test_loopback_self_connect_hint(self):
        lines = full("127.0.0.1", range(1, 11), {3, 7})
        self.fails(lines, "--addr", "127.0.0.1", "--ports", "1-10", "--open", "3", want=("self-connect",))

    def test_bad_usage(self):
        rc, out = self.run_check([], "--addr", "198.18.0.2", "--ports", "1-10", "--open", "11")
        self.assertEqual(rc, 2, out)
        rc, out = self.run_check([], "--addr", "198.18.0.2", "--open", "3", "--filtered", "3")
        self.assertEqual(rc, 2, out)
        rc, out = self.run_check([], "--addr", "198.18.0.2", "--ports", "10-1")
        self.assertEqual(rc, 2, out)

    def test_parse_and_compress(self):
        self.assertEqual(cr.parse_ports("22, 80-82 443"), {22, 80, 81, 82, 443})
        self.assertEqual(cr.parse_ports(""), set())
        self.assertEqual(len(cr.parse_ports("all")), 65535)
        self.assertEqual(cr.compress({1, 2, 3, 7, 9, 10}), "1-3,7,9-10")
        self.assertTrue(cr.compress(set(range(1, 65536, 2))).endswith(",..."))


class RandomPorts(unittest.TestCase):
    def random_ports(self, *args):
        cmd = f'. "{HERE}/lib.sh"; random_ports ' + " ".join(f"'{a}'" for a in args)
        out = subprocess.run(["bash", "-c", cmd], check=True, capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def test_distinct_sorted_in_range_and_repeatable(self):
        a = self.random_ports(300, 42)
        self.assertEqual(len(a), 300)
        self.assertEqual(a, sorted(set(a)))
        self.assertTrue(all(1 <= p <= 65535 for p in a))
        self.assertEqual(a, self.random_ports(300, 42))
        self.assertNotEqual(a, self.random_ports(300, 43))

    def test_exclusions(self):
        excl = self.random_ports(50, 1)
        b = self.random_ports(1000, 2, " ".join(map(str, excl)), "1-30000")
        self.assertFalse(set(b) & set(excl))
        self.assertTrue(all(p > 30000 for p in b))
        self.assertEqual(self.random_ports(3, 5, "1-65532"), [65533, 65534, 65535])


if __name__ == "__main__":
    unittest.main(verbosity=1)
