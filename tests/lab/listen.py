#!/usr/bin/env python3
"""TCP listeners for the namespace lab: one process, many ports, accept and close.

    listen.py [--host ADDR] [--log FILE] PORT...

Binds every PORT on a dual-stack socket (:: with IPV6_V6ONLY=0, so 0.0.0.0 is covered too), or
on --host when given (an IPv4 host gets an AF_INET socket). Accepts each connection and closes it
at once. With --log, writes one line "<unix time> <port> <peer>" per accepted connection.
Prints "ready" on stdout once every port is listening. Exits on SIGTERM/SIGINT. Stdlib only.
"""
import argparse
import selectors
import signal
import socket
import sys
import time


def bind_listener(host, port):
    if host is None or ":" in host:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        if host is None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr = (host or "::", port)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(4096)
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=None, help="bind this address instead of dual-stack ::")
    ap.add_argument("--log", default=None, help="append one line per accepted connection")
    ap.add_argument("ports", nargs="+", type=int)
    args = ap.parse_args()

    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    for port in sorted(set(args.ports)):
        try:
            s = bind_listener(args.host, port)
        except OSError as e:
            print(f"listen.py: cannot listen on port {port}: {e}", file=sys.stderr)
            return 1
        sel.register(s, selectors.EVENT_READ, port)
    log = open(args.log, "a", buffering=1) if args.log else None
    print("ready", flush=True)

    while not stop:
        for key, _ in sel.select(timeout=0.2):
            while True:
                try:
                    conn, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                conn.close()
                if log:
                    log.write(f"{time.time():.6f} {key.data} {peer[0]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
