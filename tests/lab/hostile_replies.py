#!/usr/bin/env python3
"""Sends malformed and truncated packets at the scanner as fast as it can, for SECONDS: what a
hostile network answers a scan with. Run it inside the target namespace; frames leave through
IFACE (the lab veth) only, addressed to the scanner's MAC and address (the lab's own ranges).

  hostile_replies.py IFACE DST_MAC SRC_MAC SCANNER_V4 TARGET_V4 SECONDS SEED

Shapes, chosen at random per frame: SYN-ACK / RST / ICMP unreachable quoting a SYN, each cut at
a random length, with random bytes flipped, bad IHL / data offsets / lengths / options, IPv4
fragments, a random ethertype, and pure noise. Prints how many frames it sent.
"""
import random
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, rng):
    ihl = 5
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(payload), rng.randrange(65536),
                    rng.choice([0, 0x4000, 0x2000, 0x0001]), 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def tcp(sport, dport, flags, rng):
    opts = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 12, 40])))
    off = rng.choice([5, (20 + len(opts)) // 4, 15, 0, 3])
    return struct.pack("!HHIIBBHHH", sport, dport, rng.randrange(2**32), rng.randrange(2**32),
                       (off & 15) << 4, flags, 1024, rng.randrange(65536), 0) + opts


def frame(rng, dst_mac, src_mac, us, them):
    shape = rng.randrange(6)
    if shape == 0:
        ip = ipv4(them, us, 6, tcp(rng.randrange(1, 65536), rng.randrange(40000, 60000), 0x12, rng), rng)
    elif shape == 1:
        ip = ipv4(them, us, 6, tcp(rng.randrange(1, 65536), rng.randrange(40000, 60000), 0x14, rng), rng)
    elif shape == 2:
        quoted = ipv4(us, them, 6, tcp(rng.randrange(40000, 60000), rng.randrange(1, 65536), 0x02, rng), rng)
        quoted = quoted[: rng.randrange(0, len(quoted) + 1)]
        icmp = struct.pack("!BBHI", 3, rng.choice([0, 1, 3, 13, 255]), 0, 0) + quoted
        ip = ipv4(them, us, 1, icmp, rng)
    elif shape == 3:
        ip = bytearray(ipv4(them, us, 6, tcp(80, 40000, 0x12, rng), rng))
        for _ in range(rng.randrange(1, 6)):
            ip[rng.randrange(len(ip))] = rng.randrange(256)
        ip = bytes(ip)
    elif shape == 4:
        ip = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
    else:
        ip = ipv4(them, us, rng.choice([6, 17, 1, 58, 41, 0]), bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))), rng)
    ip = ip[: rng.randrange(0, len(ip) + 1)] if rng.random() < 0.5 else ip
    ethertype = 0x0800 if rng.random() < 0.9 else rng.choice([0x86DD, 0x0806, 0x8100, rng.randrange(65536)])
    return dst_mac + src_mac + struct.pack("!H", ethertype) + ip


def main():
    iface, dst_mac, src_mac, us, them, seconds, seed = sys.argv[1:8]
    rng = random.Random(int(seed))
    dst_mac = bytes.fromhex(dst_mac.replace(":", ""))
    src_mac = bytes.fromhex(src_mac.replace(":", ""))
    us, them = socket.inet_aton(us), socket.inet_aton(them)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frames = [frame(rng, dst_mac, src_mac, us, them) for _ in range(4096)]
    end = time.monotonic() + float(seconds)
    sent = 0
    while time.monotonic() < end:
        for f in frames[:512]:
            try:
                s.send(f if len(f) >= 14 else f + b"\0" * (14 - len(f)))
                sent += 1
            except OSError:
                pass
        rng.shuffle(frames)
    print(sent)


if __name__ == "__main__":
    main()
