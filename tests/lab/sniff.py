#!/usr/bin/env python3
"""Log the TCP and UDP packets an interface sends, with the time: what a scanner can have seen.

    sniff.py [--synack] IFACE

Prints "ready" once the packet socket is bound, then one line per outgoing IPv4/IPv6 TCP or UDP
packet on IFACE (only TCP SYN-ACKs with --synack):
    <unix time> <tcp|udp> <source ip> <source port> <destination ip> <destination port> <tcp flags>
Run it on the target's end of the lab veth to see which ports answered SYN-ACK and when, or on
a sink device to prove that nothing was sent. ICMP (neighbour discovery, MLD) is not logged.
Exits on SIGTERM/SIGINT. Stdlib only; needs CAP_NET_RAW.
"""
import argparse
import ipaddress
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FLAG_NAMES = "FSRPAUEC"  # FIN SYN RST PSH ACK URG ECE CWR, bit 0 first


def parse(frame, ethernet=True):
    """(proto, src, sport, dst, dport, flags) for an IPv4/IPv6 TCP or UDP frame, else None."""
    off = 0
    if ethernet:
        if len(frame) < 14:
            return None
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        off = 14
        if ethertype == 0x8100 and len(frame) >= 18:  # one VLAN tag
            ethertype = struct.unpack_from("!H", frame, 16)[0]
            off = 18
    else:  # no link header (dummy, tun): tell by the IP version nibble
        if not frame:
            return None
        ethertype = {4: 0x0800, 6: 0x86DD}.get(frame[0] >> 4)
    if ethertype == 0x0800:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        src = ipaddress.IPv4Address(frame[off + 12:off + 16])
        dst = ipaddress.IPv4Address(frame[off + 16:off + 20])
        l4 = off + ihl
    elif ethertype == 0x86DD:
        if len(frame) < off + 40:
            return None
        proto = frame[off + 6]  # no extension headers expected in the lab
        src = ipaddress.IPv6Address(frame[off + 8:off + 24])
        dst = ipaddress.IPv6Address(frame[off + 24:off + 40])
        l4 = off + 40
    else:
        return None
    if proto not in (6, 17) or len(frame) < l4 + 8:
        return None
    sport, dport = struct.unpack_from("!HH", frame, l4)
    flags = ""
    if proto == 6 and len(frame) >= l4 + 14:
        bits = frame[l4 + 13]
        flags = "".join(n for i, n in enumerate(FLAG_NAMES) if bits & (1 << i))
    return ("tcp" if proto == 6 else "udp"), src, sport, dst, dport, flags or "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synack", action="store_true", help="log only TCP segments with SYN and ACK set")
    ap.add_argument("iface")
    args = ap.parse_args()
    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    s.settimeout(0.2)
    print("ready", flush=True)
    while not stop:
        try:
            frame, addr = s.recvfrom(65535)
        except (socket.timeout, InterruptedError):
            continue
        if addr[2] != PACKET_OUTGOING:
            continue
        # addr[3] is the ARPHRD type: Ethernet (veth, dummy) and loopback frames carry a 14-byte
        # Ethernet header; anything else (tun, ...) is taken as bare IP.
        hit = parse(frame, ethernet=addr[3] in (1, 772))
        if not hit:
            continue
        if args.synack and not (hit[0] == "tcp" and "S" in hit[5] and "A" in hit[5]):
            continue
        print(f"{time.time():.6f} " + " ".join(map(str, hit)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
