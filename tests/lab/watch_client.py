#!/usr/bin/env python3
"""Ordinary TCP clients for the watch lab: N connections from SRC to ADDR on the given open ports,
each one completed, used (a few bytes sent) and closed normally.

  watch_client.py SRC ADDR N PORT... [--expect-fail]

Exit 0 when every connection succeeded (or, with --expect-fail, when none did within 1 s each).
"""
import socket
import sys


def main():
    expect_fail = "--expect-fail" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--expect-fail"]
    src, addr, n, ports = args[0], args[1], int(args[2]), [int(p) for p in args[3:]]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ok = 0
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.bind((src, 0))
            s.connect((addr, ports[i % len(ports)]))
            s.sendall(b"hello\r\n")
            ok += 1
        except OSError:
            pass
        finally:
            s.close()
    print(f"{ok}/{n} connections succeeded")
    if expect_fail:
        sys.exit(0 if ok == 0 else 1)
    sys.exit(0 if ok == n else 1)


if __name__ == "__main__":
    main()
