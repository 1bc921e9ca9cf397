#!/usr/bin/env python3
"""Time stamps on a scanner's stderr, and where masscan's --wait ended.

    stamp.py T0 < STDERR > STAMPED     each line (split at \\n and \\r: status lines redraw
                                       with \\r) as "SECONDS<TAB>LINE", SECONDS since T0 (epoch)
    stamp.py --masscan-wait-end STAMPED
                                       seconds from T0 to the status line where masscan's
                                       --wait countdown reached 0, or NA

masscan 1.3.2 does not exit when its --wait is over: its transmit thread checks the "done" flag
only after 1,000 sleeps of 100 us (src/main.c, transmit_thread), which on a loaded machine takes
from a fraction of a second to tens of seconds. The countdown ("waiting N-secs") is drawn every
250 ms by the main thread, so the first line with N <= 0 after one with N >= 1 marks (to within
~0.25 s) the moment masscan itself considers the scan over. Stdlib only.
"""
import re
import sys
import time

WAITING = re.compile(r"waiting (-?\d+)-secs")


def stamp(t0):
    buf = b""
    out = sys.stdout
    stdin = sys.stdin.buffer
    while True:
        chunk = stdin.read1(65536) if hasattr(stdin, "read1") else stdin.read(65536)
        now = time.time() - t0
        if not chunk:
            break
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for p in parts:
            if p.strip():
                out.write(f"{now:.3f}\t{p.decode(errors='replace').rstrip()}\n")
        out.flush()
    if buf.strip():
        out.write(f"{time.time() - t0:.3f}\t{buf.decode(errors='replace').rstrip()}\n")


def masscan_wait_end(path):
    counting = False
    try:
        with open(path, errors="replace") as f:
            for line in f:
                t, _, text = line.rstrip("\n").partition("\t")
                m = WAITING.search(text)
                if not m:
                    continue
                n = int(m.group(1))
                if n >= 1:
                    counting = True
                elif counting:
                    return t
    except FileNotFoundError:
        pass
    return "NA"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--masscan-wait-end":
        print(masscan_wait_end(sys.argv[2]))
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    stamp(float(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
