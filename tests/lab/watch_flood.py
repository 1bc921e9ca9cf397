#!/usr/bin/env python3
"""Sends N TCP SYNs to DST, each from a different spoofed source in 198.18.128.0/17 (the lab
range), through a raw socket. For the watch flood test; run it inside the scanner namespace.

  watch_flood.py DST N [SEED]
"""
import random
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    dst, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst_b = socket.inet_aton(dst)
    base = struct.unpack("!I", socket.inet_aton("198.18.128.0"))[0]
    sent = 0
    for i in range(n):
        src_b = struct.pack("!I", base + 1 + i % 32766)
        sport, dport = rng.randrange(1024, 65535), rng.randrange(1, 1024)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 1024, 0, 0)
        pseudo = src_b + dst_b + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src_b, dst_b)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        sock.sendto(ip + tcp, (dst, 0))
        sent += 1
    print(f"sent {sent} SYNs from {min(n, 32766)} spoofed sources")


if __name__ == "__main__":
    main()
