#!/usr/bin/env python3
"""Writes a synthetic Ethernet pcap for the `glasshouse watch -r` throughput benchmark.

  gen_pcap.py OUT.pcap [PACKETS] [SEED]

The mix, over protected hosts 198.18.1.1-198.18.1.16 (pass --local 198.18.1.0/24):
  ~74%  ordinary TCP connections from 16,384 clients in 198.18.64.0/18: SYN, SYN-ACK, ACK,
        request, response, FIN, FIN (every packet, as a full capture has them)
  ~16%  DNS-like UDP: local queries out, answers in
  ~10%  scans: 64 scanners in 198.18.200.0/24 sending SYNs to random ports, answered by RST
Timestamps advance 2 us per packet (500,000 packets per second of capture time).
"""
import random
import struct
import sys

ETH = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"


def ip4(a):
    return struct.pack("!I", a)


def addr(s):
    p = [int(x) for x in s.split(".")]
    return p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]


def tcp_frame(src, dst, sport, dport, flags, seq, ack, win=64240, opts=b"", payload=0, ipid=0):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      ((20 + len(opts)) // 4) << 4, flags, win, 0, 0) + opts + b"\0" * payload
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), ipid, 0x4000, 64, 6, 0) + ip4(src) + ip4(dst)
    return ETH + ip + tcp


def udp_frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + payload, 0) + b"\0" * payload
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0) + ip4(src) + ip4(dst)
    return ETH + ip + udp


LINUX_OPTS = bytes([2, 4, 5, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])
MSS_ONLY = bytes([2, 4, 5, 0xB4])


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    servers = [addr("198.18.1.1") + i for i in range(16)]
    clients = addr("198.18.64.0")
    scanners = [addr("198.18.200.1") + i for i in range(64)]
    resolver = addr("198.18.0.53")
    ts = 1_700_000_000 * 1_000_000
    count = 0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

        def emit(frame):
            nonlocal ts, count
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
            f.write(frame)
            ts += 2
            count += 1

        while count < n:
            r = rng.random()
            if r < 0.45:  # a whole connection (7 packets)
                c = clients + rng.randrange(16384)
                s = rng.choice(servers)
                port = rng.choice((80, 443, 22))
                sp = rng.randrange(32768, 60999)
                cs, ss = rng.getrandbits(32), rng.getrandbits(32)
                emit(tcp_frame(c, s, sp, port, 0x02, cs, 0, opts=LINUX_OPTS))
                emit(tcp_frame(s, c, port, sp, 0x12, ss, cs + 1, opts=LINUX_OPTS))
                emit(tcp_frame(c, s, sp, port, 0x10, cs + 1, ss + 1))
                emit(tcp_frame(c, s, sp, port, 0x18, cs + 1, ss + 1, payload=200))
                emit(tcp_frame(s, c, port, sp, 0x18, ss + 1, cs + 201, payload=1200))
                emit(tcp_frame(c, s, sp, port, 0x11, cs + 201, ss + 1201))
                emit(tcp_frame(s, c, port, sp, 0x11, ss + 1201, cs + 202))
            elif r < 0.80:
                s = rng.choice(servers)
                sp = rng.randrange(32768, 60999)
                emit(udp_frame(s, resolver, sp, 53, 40))
                emit(udp_frame(resolver, s, 53, sp, 120))
            else:
                sc = rng.choice(scanners)
                s = rng.choice(servers)
                port = rng.randrange(1, 65536)
                seq = rng.getrandbits(32)
                emit(tcp_frame(sc, s, 61000, port, 0x02, seq, 0, win=1024, opts=MSS_ONLY,
                               ipid=rng.getrandbits(16)))
                emit(tcp_frame(s, sc, port, 61000, 0x14, 0, seq + 1, win=0))
    print(f"wrote {count} packets to {out}")


if __name__ == "__main__":
    main()
