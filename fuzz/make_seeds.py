#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/ (run from anywhere; rewrites only seed-*).

Seeds are small valid inputs of every shape each parser knows, so that fuzzing starts deep.
Crash inputs found later are added beside them by hand (named crash-<what>), never generated.
The resume file seed (corpus/resume/seed-scan.resume) comes from a real -sT run instead; see
fuzz/README.md.
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


V4S, V4D = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
V6S = bytes.fromhex("20010db8000000000000000000000001")
V6D = bytes.fromhex("20010db8000000000000000000000002")
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def ipv4(proto, payload, frag=0x4000, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, frag, ttl, proto, 0, V4S, V4D)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(nh, payload, hop=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hop, V6S, V6D) + payload


def tcp(flags, opts=b"", sport=40000, dport=80, seq=0x11223344, ack=0):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 64240, 0, 0) + opts


def udp(payload, sport=40000, dport=53):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t, c, rest=b"\0\0\0\0", data=b""):
    return struct.pack("!BBH", t, c, 0) + rest + data


def eth(ethertype, payload, dst=MAC_B, src=MAC_A):
    return dst + src + struct.pack("!H", ethertype) + payload


SYN_OPTS = bytes.fromhex("020405b4") + bytes.fromhex("0402") + bytes.fromhex("080a0000000100000000") + bytes.fromhex("01030307")


def packets():
    syn = ipv4(6, tcp(0x02, SYN_OPTS))
    synack = ipv4(6, tcp(0x12, bytes.fromhex("020405b401010402"), sport=80, dport=40000, ack=0x11223345))
    rst = ipv4(6, tcp(0x14, sport=80, dport=40000))
    udp4 = ipv4(17, udp(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
    echo = ipv4(1, icmp(8, 0, b"\x00\x01\x00\x01", b"ping"))
    unreach = ipv4(1, icmp(3, 3, b"\0\0\0\0", ipv4(17, udp(b""))[:28]))
    ttl_exc = ipv4(1, icmp(11, 0, b"\0\0\0\0", syn[:28]))
    frag = ipv4(6, tcp(0x02)[:8], frag=0x2000)
    later_frag = ipv4(6, b"\0" * 16, frag=0x0002)
    syn6 = ipv6(6, tcp(0x02, SYN_OPTS))
    hbh = bytes([6, 0]) + b"\x01\x04\0\0\0\0"  # hop-by-hop (PadN) then TCP
    syn6_ext = ipv6(0, hbh + tcp(0x02))
    udp6 = ipv6(17, udp(b"x" * 4))
    echo6 = ipv6(58, icmp(128, 0, b"\x00\x01\x00\x01"))
    unreach6 = ipv6(58, icmp(1, 4, b"\0\0\0\0", syn6[:48]))
    ns = ipv6(58, icmp(135, 0, b"\0\0\0\0", V6D + b"\x01\x01" + MAC_A), hop=255)
    na = ipv6(58, icmp(136, 0, b"\x60\0\0\0", V6D + b"\x02\x01" + MAC_B), hop=255)
    arp_req = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A, V4S, b"\0" * 6, V4D)
    arp_rep = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, MAC_B, V4D, MAC_A, V4S)
    frames = {
        "eth-v4-syn": eth(0x0800, syn),
        "eth-v4-synack": eth(0x0800, synack),
        "eth-v4-rst": eth(0x0800, rst),
        "eth-v4-udp-dns": eth(0x0800, udp4),
        "eth-v4-icmp-echo": eth(0x0800, echo),
        "eth-v4-icmp-unreach": eth(0x0800, unreach),
        "eth-v4-icmp-ttl": eth(0x0800, ttl_exc),
        "eth-v4-frag-first": eth(0x0800, frag),
        "eth-v4-frag-later": eth(0x0800, later_frag),
        "eth-vlan-v4-syn": MAC_B + MAC_A + b"\x81\x00\x00\x0a\x08\x00" + syn,
        "eth-v6-syn": eth(0x86DD, syn6),
        "eth-v6-hbh-syn": eth(0x86DD, syn6_ext),
        "eth-v6-udp": eth(0x86DD, udp6),
        "eth-v6-echo": eth(0x86DD, echo6),
        "eth-v6-unreach": eth(0x86DD, unreach6),
        "eth-v6-ndp-ns": eth(0x86DD, ns, dst=bytes.fromhex("3333ff000002")),
        "eth-v6-ndp-na": eth(0x86DD, na),
        "eth-arp-request": eth(0x0806, arp_req, dst=b"\xff" * 6),
        "eth-arp-reply": eth(0x0806, arp_rep),
        "raw-v4-syn": syn,
        "raw-v6-syn": syn6,
        "sll-v4-syn": struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", 0x0800) + syn,
        "sll2-v6-syn": struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, MAC_A + b"\0\0") + syn6,
        "null-v4-syn": struct.pack("<I", 2) + syn,
        "null-v6-syn": struct.pack("<I", 24) + syn6,
    }
    return frames


def pcap(frames, linktype=1):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, i * 1000, len(f), len(f)) + f
    return out


def pcapng(frames):
    def block(t, body):
        pad = (-len(body)) % 4
        n = 12 + len(body) + pad
        return struct.pack("<II", t, n) + body + b"\0" * pad + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 65535))
    for i, f in enumerate(frames):
        ts = (1700000000 + i) * 1000000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f + b"\0" * ((-len(f)) % 4))
    return out


def main():
    frames = packets()
    for name, f in frames.items():
        put("packet", name, f)
    # A scan and its replies as the detector sees them: SYNs to many ports, RSTs back.
    scan = []
    for port in range(20, 30):
        scan.append(eth(0x0800, ipv4(6, tcp(0x02, sport=40000, dport=port))))
    put("pcap", "syn-scan.pcap", pcap(scan))
    put("pcap", "mixed.pcap", pcap([f for n, f in frames.items() if n.startswith("eth")]))
    put("pcap", "raw.pcap", pcap([frames["raw-v4-syn"], frames["raw-v6-syn"]], linktype=101))
    put("pcap", "sll.pcap", pcap([frames["sll-v4-syn"]], linktype=113))
    put("pcap", "mixed.pcapng", pcapng([f for n, f in frames.items() if n.startswith("eth")]))

    targets = {
        "single-v4": "198.18.0.1\n",
        "single-v6": "2001:db8::1\n",
        "cidr": "198.18.0.0/24\n2001:db8::/120\n",
        "octets": "10.0.0-3.1-254\n10.0.*.1,3,5\n",
        "dash": "198.18.0.1-198.18.0.50\n2001:db8::1-2001:db8::ff\n",
        "names": "host.example\nhost.example/28\nabc\n",
        "iL": "# targets\n198.18.0.1 198.18.0.2  # two\n\t198.19.0.0/30\n10.0.0.1-5\n",
        "bad": "198.18.0.256\n198.18.0.0/33\n2001:db8::/129\n198.18.0.9-198.18.0.1\n",
    }
    for name, t in targets.items():
        put("targets", name, t)

    ports = {
        "list": "22,80,443", "range": "1-1024", "all": "-", "open-end": "1024-", "open-start": "-100",
        "names": "http,ssh,http*", "proto": "T:22,80,U:53,161", "worms": "worms", "zero": "0",
        "bad": "70000,5-1,T:,x",
    }
    for name, p in ports.items():
        put("ports", name, p)

    scope = """[engagement]
id = "ACME-2026-11"
authorized_by = "Jane Roe, CISO, ACME Corp"
contact = "secops@acme.example"
not_before = 2026-11-01T00:00:00Z
not_after  = 2026-12-31T23:59:59Z
[targets]
include = ["198.19.0.0/24", "2001:db8::/64"]
exclude = ["198.19.0.128/25"]
ports = "1-1024,8080"
[limits]
max_rate = 10000
max_host_rate = 500
"""
    put("scope", "toml-full", "\0" + scope)
    put("scope", "toml-min", '\0[engagement]\nid = "E"\nauthorized_by = "A"\n[targets]\ninclude = ["198.18.0.1"]\n')
    put("scope", "toml-bad", '\0[engagement]\nid = "E"\nauthorized_by = \n')
    put("scope", "exclude", "\x01# never probe these\n198.18.0.3\n198.19.0.1  # the router\n10.0.0.0/8 2001:db8::/32\n10.1.0-3.*\n")
    put("scope", "exclude-bad", "\x01198.18.0.256\nhost.example\n")

    line = ('{"seq":1,"prev":"' + "0" * 64 + '","event":"start","user":"nobody","run":"r1",'
            '"command":"glasshouse scan -sT 198.18.0.2","hash":"' + "a" * 64 + '"}')
    put("audit", "line", line + "\n")
    put("audit", "json", '{"a":[1,2.5e3,-0,true,false,null,"\\u00e9\\n"],"b":{"c":{}}}')
    put("audit", "bad", '{"seq":1,"prev":"x"\n[1,2\n"\\ud800"\n')

    put("services", "tsv", "\0# name\tport/proto\tfrequency\nhttp\t80/tcp\t0.48\nssh\t22/tcp\t0.18\ndomain\t53/udp\t0.21\n")
    put("services", "nmap", "\x01# nmap-services\nhttp\t80/tcp\t0.484143\t# World Wide Web HTTP\nssh\t22/tcp\t0.182286\nsnmp\t161/udp\t0.433467\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
