#!/usr/bin/env python3
"""Tagged SYNs for the announce lab (tests/lab/test_auth_announce.sh): an independent Python
implementation of the announce tag (docs/AUTHORIZATION.md), used to play a scanner that holds a
signed scope but strays from it, a forger, and a replayer.

  announce_probe.py SCOPE SRC DST PORT... [--mode valid|forged|replay-from=PORT] [--udp]

  valid            the tag for (SRC, DST, PORT, this minute) under SCOPE's key
  forged           a tag under a random key (another handle)
  replay-from=S:P  on every PORT, the tag that is valid for source S, port P (a captured tag,
                   replayed from another address and to other ports)

Sends one SYN per PORT through a raw socket (IP_HDRINCL) from SRC; with --udp, one UDP datagram
per PORT whose payload is the 18-byte tag block (the trailer of an empty probe). Exits 0 when all
were sent.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MASK = (1 << 64) - 1
BEGIN = b"# -----BEGIN GLASSHOUSE SCOPE SIGNATURE-----"


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(k0, k1, words):
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)

    for m in words + [(len(words) * 8) << 56]:
        v3 ^= m
        rnd(); rnd()
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        rnd()
    return v0 ^ v1 ^ v2 ^ v3


def scope_key(path):
    text = open(path, "rb").read()
    at = text.find(BEGIN)
    body = text[:at] if at >= 0 else text
    secret = None
    for line in body.decode().splitlines():
        if line.strip().startswith("secret"):
            secret = bytes.fromhex(line.split('"')[1])
    k = hmac.new(secret, b"glasshouse announce v1" + hashlib.sha256(body).digest(), hashlib.sha256).digest()
    return int.from_bytes(k[0:8], "little"), int.from_bytes(k[8:16], "little"), struct.unpack(">I", k[16:20])[0]


def tag(key, src, dst, port, epoch, proto=6):
    # The probe MAC (top 48 bits: target, protocol, port, minute; not the source, which NAT may
    # rewrite), then 16 bits of source check (auth/announce.h).
    k0, k1, _ = key
    s = int.from_bytes(socket.inet_aton(src), "big")
    d = int.from_bytes(socket.inet_aton(dst), "big")
    mac = siphash24(k0, k1, [d, 0, (proto << 56) | (port << 32) | epoch]) & ~0xFFFF & MASK  # IPv4: family bit 0
    check = siphash24(k0, k1, [s, 0, mac | 0x5C]) & 0xFFFF
    return mac | check


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, option):
    opts = bytes([2, 4, 0x05, 0xB4]) + option
    opts += b"\0" * (-len(opts) % 4)
    hl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, int.from_bytes(os.urandom(4), "big"), 0, (hl // 4) << 4, 0x02, 1024, 0, 0) + opts
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp


def udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(u))
    c = csum(pseudo + u) or 0xFFFF
    u = u[:6] + struct.pack("!H", c) + u[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return ip + u


def main():
    use_udp = "--udp" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if not a.startswith("--mode") and a != "--udp"]
    mode = ([a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--mode=")] or ["valid"])[0]
    scope, src, dst, ports = args[0], args[1], args[2], [int(p) for p in args[3:]]
    key = scope_key(scope)
    if mode == "forged":
        r = os.urandom(20)
        key = (int.from_bytes(r[:8], "little"), int.from_bytes(r[8:16], "little"), struct.unpack(">I", r[16:20])[0])
    epoch = int(time.time()) // 60
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i, port in enumerate(ports):
        tag_src, tag_port = src, port
        if mode.startswith("replay-from="):
            tag_src, p = mode.split("=", 1)[1].split(":")
            tag_port = int(p)
        t = tag(key, tag_src, dst, tag_port, epoch, 17 if use_udp else 6)
        option = bytes([253, 18, 0x47, 0x48, 1, epoch & 0xFF]) + struct.pack(">IQ", key[2], t)
        pkt = udp(src, dst, 41000 + i, port, option) if use_udp else syn(src, dst, 41000 + i, port, option)
        s.sendto(pkt, (dst, 0))
        time.sleep(0.002)
    return 0


if __name__ == "__main__":
    sys.exit(main())
