#!/usr/bin/env python3
"""Checks for test_report_chromium.sh: the DOM Chromium dumped after the report's script ran, and
the screenshot it took (a PNG decoded here, no imaging library needed).

  report_check.py dom FILE --rows N [--shown N] [--order port:asc|port:desc] [--state S]
                           [--service NAME] [--no-markup TEXT]
  report_check.py png FILE
"""
import argparse
import html.parser
import struct
import sys
import zlib


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ready = False
        self.rows = []  # (attrs, hidden)
        self.shown_text = ""
        self._in_shown = False
        self.sorted = {}
        self.tags = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "html" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "tr" and "data-order" in a:
            self.rows.append((a, "hidden" in a))
        if tag == "span" and a.get("id") == "shown":
            self._in_shown = True
        if tag == "th" and "aria-sort" in a:
            self.sorted[a.get("data-col")] = a["aria-sort"]

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_shown = False

    def handle_data(self, data):
        if self._in_shown:
            self.shown_text += data


def check_dom(args):
    dom = Dom()
    dom.feed(open(args.file, encoding="utf-8").read())
    problems = []
    if not dom.ready:
        problems.append("the report's script did not run (no data-ready on <html>)")
    if len(dom.rows) != args.rows:
        problems.append(f"{len(dom.rows)} rows, want {args.rows}")
    visible = [a for a, hidden in dom.rows if not hidden]
    if args.shown is not None:
        if len(visible) != args.shown:
            problems.append(f"{len(visible)} rows visible, want {args.shown}")
        want = f"{args.shown} of {args.rows} shown"
        if dom.shown_text.strip() != want:
            problems.append(f"counter says '{dom.shown_text.strip()}', want '{want}'")
    if args.state:
        bad = [a for a in visible if a["data-state"] != args.state]
        if bad:
            problems.append(f"{len(bad)} visible rows not {args.state}")
    if args.service:
        bad = [a for a in visible if args.service not in a["data-service"]]
        if bad:
            problems.append(f"{len(bad)} visible rows without service {args.service}")
    if args.order:
        col, direction = args.order.split(":")
        ports = [int(a["data-port"]) for a, _ in dom.rows]
        want = sorted(ports, reverse=direction == "desc")
        if ports != want:
            problems.append(f"rows not in {args.order} order: {ports[:10]}...")
        want_aria = "descending" if direction == "desc" else "ascending"
        if dom.sorted.get(col) != want_aria:
            problems.append(f"header {col} aria-sort={dom.sorted.get(col)}, want {want_aria}")
    if args.no_markup and args.no_markup in dom.tags:
        problems.append(f"a <{args.no_markup}> element made it into the page")
    for p in problems:
        print(f"{args.file}: {p}", file=sys.stderr)
    if not problems:
        print(f"OK: {args.file}: {len(dom.rows)} rows, {len(visible)} visible")
    return 1 if problems else 0


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color not in (2, 6):
                raise ValueError(f"unsupported PNG (depth {depth}, color type {color})")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def check_png(args):
    width, height, bpp, rows = png_pixels(args.file)
    colors, counts = set(), {}
    for y in range(0, height, 2):
        row = rows[y]
        for x in range(0, width, 2):
            px = row[x * bpp:x * bpp + 3]
            colors.add(px)
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    top = max(counts.values())
    print(f"{args.file}: {width}x{height}, {len(colors)} colors, most common {100 * top / total:.1f}%")
    # A blank (or error) page is one colour, or nearly: a rendered report has text, the dark
    # header, the chart's bars and coloured states.
    if len(colors) < 20 or top / total > 0.97:
        print(f"{args.file}: looks blank", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dom")
    d.add_argument("file")
    d.add_argument("--rows", type=int, required=True)
    d.add_argument("--shown", type=int)
    d.add_argument("--order")
    d.add_argument("--state")
    d.add_argument("--service")
    d.add_argument("--no-markup")
    p = sub.add_parser("png")
    p.add_argument("file")
    args = ap.parse_args()
    return check_dom(args) if args.cmd == "dom" else check_png(args)


if __name__ == "__main__":
    sys.exit(main())
