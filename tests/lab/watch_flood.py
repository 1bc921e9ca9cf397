#!/usr/bin/env python3
"""Sends TCP SYNs from spoofed sources through a raw socket, for the watch flood test; run it
inside the scanner namespace. Sources are consecutive addresses from 198.18.2.1 on (the lab range
198.18.0.0/15, past the lab's own 198.18.0.0/24 and 198.18.1.0/24), which no host owns.

  watch_flood.py DST N [SEED] [--repeat R] [--ports P,P,...]

N sources send one SYN each; with --repeat R, the first N // 50 of them send R SYNs each (enough
to be detected as scanners, hence challenged). Destination ports are random below 1024, or drawn
from --ports (mix closed and open ones).
"""
import argparse
import random
import socket
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dst")
    ap.add_argument("n", type=int)
    ap.add_argument("seed", type=int, nargs="?", default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ports", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ports = [int(p) for p in a.ports.split(",") if p]
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst_b = socket.inet_aton(a.dst)
    base = struct.unpack("!I", socket.inet_aton("198.18.2.0"))[0]
    limit = struct.unpack("!I", socket.inet_aton("198.19.255.254"))[0] - base
    assert a.n <= limit
    sent = 0
    heavy = a.n // 50 if a.repeat > 1 else 0
    for i in range(a.n):
        src_b = struct.pack("!I", base + 1 + i)
        for _ in range(a.repeat if i < heavy else 1):
            sport = rng.randrange(1024, 65535)
            dport = rng.choice(ports) if ports else rng.randrange(1, 1024)
            tcp = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 1024, 0, 0)
            pseudo = src_b + dst_b + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sent & 0xFFFF, 0, 64, 6, 0, src_b, dst_b)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            sock.sendto(ip + tcp, (a.dst, 0))
            sent += 1
    print(f"sent {sent} SYNs from {a.n} spoofed sources ({heavy} of them sent {a.repeat})")


if __name__ == "__main__":
    main()
