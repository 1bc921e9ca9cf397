#!/usr/bin/env python3
"""A worm-like sweep for the watch lab: TCP connects from SRC to PORT on PREFIX+1 .. PREFIX+N, one
after another, each given up after 20 ms (refused at once when the address answers with a RST;
once the sweeper is blocked nothing answers, so the sweep does not wait long for each).

  watch_sweep.py SRC PREFIX N PORT     e.g. 198.18.0.20 198.18.1. 254 445
                                             2001:db8::20 2001:db8:1:: 254 445
Prints how many were refused, connected, or got no answer.
"""
import socket
import sys


def main():
    src, prefix, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    counts = {"refused": 0, "connected": 0, "silent": 0}
    for i in range(1, n + 1):
        addr = prefix + (format(i, "x") if fam == socket.AF_INET6 else str(i))
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(0.02)
        try:
            s.bind((src, 0))
            s.connect((addr, port))
            counts["connected"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
        except OSError:
            counts["silent"] += 1
        finally:
            s.close()
    print(" ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
