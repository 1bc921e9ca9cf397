#!/usr/bin/env python3
"""A delay line between two interfaces of one network namespace (the kernel here has no netem).

    delay_link.py IF_A IF_B DELAY_MS

Every frame that arrives on IF_A leaves IF_B DELAY_MS later, and the other way round: a link
with a round trip of 2 x DELAY_MS, first in, first out. Frames are forwarded whole (AF_PACKET),
so the two ends see each other's link addresses as on a wire. Transmit checksum offload is
turned off on both (ETHTOOL_STXCSUM) so that forwarded frames carry complete checksums (the
ends' own interfaces need the same: --no-csum-offload IF ... run in their namespaces).
Runs until killed; reports frames forwarded on SIGTERM.
"""
import array, collections, fcntl, signal, socket, struct, sys, threading, time

SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
PACKET_OUTGOING = 4


def csum_offload_off(ifname):
    val = array.array("I", [ETHTOOL_STXCSUM, 0])
    addr, _ = val.buffer_info()
    ifr = struct.pack("16sP", ifname.encode(), addr)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)


def main():
    if sys.argv[1] == "--no-csum-offload":
        for ifname in sys.argv[2:]:
            csum_offload_off(ifname)
        return
    a, b, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000
    socks = {}
    for name in (a, b):
        csum_offload_off(name)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        socks[name] = s
    count = collections.Counter()

    def pump(src, dst):
        q = collections.deque()
        cv = threading.Condition()

        def sender():
            while True:
                with cv:
                    while not q:
                        cv.wait()
                    due, frame = q.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    socks[dst].send(frame)
                    count[src] += 1
                except OSError:
                    pass

        threading.Thread(target=sender, daemon=True).start()
        while True:
            frame, addr = socks[src].recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            with cv:
                q.append((time.monotonic() + delay, frame))
                cv.notify()

    signal.signal(signal.SIGTERM, lambda *_: (print(dict(count), flush=True), sys.exit(0)))
    threading.Thread(target=pump, args=(a, b), daemon=True).start()
    threading.Thread(target=pump, args=(b, a), daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
