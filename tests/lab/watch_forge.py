#!/usr/bin/env python3
"""Forges answers to `watch --block` challenges, for test_watch_flood.sh; run it inside the
scanner namespace, through which the target routes the spoofed range (198.18.2.0/23 and up).

  watch_forge.py DST IFACE SRC MODE

SRC (an address no host owns) sends SYNs from one source port to closed ports 1-8 of DST: enough
to be detected, and challenged (at the detection, with the challenge prepared at the second
refusal; or early, with --challenge-early). The challenge, a SYN-ACK to SRC,
reaches the scanner namespace, where no host answers it; this script reads it on IFACE (it is on
the path, so it may learn the cookie: that is what the challenge proves) and answers from SRC:

  guess  20 RSTs with wrong sequence numbers (a forger off the path, who cannot see the cookie)
  late   one RST with a wrong sequence number, then the right one: the kernel's check takes one
         guess per challenge (the source must not become proven there); watch's own check
         allows 8, so watch still proves and blocks it, through its own add
  right  the right RST at once (the kernel proves it)

Prints the challenge's ports and cookie; exit 1 if no challenge came within 5 s.

The sniffing socket takes only frames from DST to SRC (a classic BPF filter, attached in the
kernel): right after the flood, the target's answers and SYN-ACK retransmissions to the spoofed
range cross IFACE in bursts that could fill an unfiltered socket's buffer and drop the challenge.
"""
import ctypes
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def segment(src_b, dst_b, sport, dport, seq, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 1024, 0, 0)
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src_b, dst_b)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


SO_ATTACH_FILTER = 26


def only_from_to(sock, frm, to):
    """Attaches a BPF filter: IPv4 frames from address `frm` to address `to`, nothing else."""
    a, b = struct.unpack("!I", frm)[0], struct.unpack("!I", to)[0]
    prog = [
        (0x28, 0, 0, 12),  # ldh [12]: EtherType
        (0x15, 0, 5, 0x0800),  # IPv4, else drop
        (0x20, 0, 0, 26),  # ld [26]: IP source
        (0x15, 0, 3, a),
        (0x20, 0, 0, 30),  # ld [30]: IP destination
        (0x15, 0, 1, b),
        (0x06, 0, 0, 0x40000),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    insns = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("HL", len(prog), ctypes.addressof(insns)))


def main():
    dst, iface, src, mode = sys.argv[1:5]
    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(dst)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    only_from_to(sniff, dst_b, src_b)
    sniff.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sniff.bind((iface, 0))
    sniff.settimeout(0.2)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sport = 41000
    for port in range(1, 9):
        raw.sendto(segment(src_b, dst_b, sport, port, 1000 + port, 0x02), (dst, 0))
        time.sleep(0.01)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            frame = sniff.recv(2048)
        except socket.timeout:
            continue
        ip = frame[14:]
        if len(ip) < 40 or ip[9] != 6 or ip[12:16] != dst_b or ip[16:20] != src_b:
            continue
        tcp = ip[(ip[0] & 15) * 4:]
        csport, cdport, _, cookie = struct.unpack("!HHII", tcp[:12])
        if tcp[13] != 0x12 or struct.unpack("!H", tcp[14:16])[0] != 65535:
            continue  # the target's own SYN-ACKs are not challenges (their window differs)
        print(f"challenge from port {csport} to {cdport}, cookie {cookie}")
        answer = lambda seq: raw.sendto(segment(src_b, dst_b, cdport, csport, seq, 0x04), (dst, 0))
        if mode == "guess":
            for i in range(1, 21):
                answer((cookie + 7919 * i) & 0xFFFFFFFF)
        elif mode == "late":
            answer(cookie ^ 0x5A5A5A5A)
            time.sleep(0.05)
            answer(cookie)
        else:
            answer(cookie)
        return 0
    print("no challenge seen")
    return 1


if __name__ == "__main__":
    sys.exit(main())
