"""HTTP client for test_fragile_target.sh: one new TCP connection per request, paced.

    fragile_client.py ADDR OUT STOPFILE [RATE]

Sends "GET /" to ADDR:80 about RATE times a second (default 200) until STOPFILE exists, and
writes one line per request to OUT: start time (epoch seconds), latency (seconds), ok (1/0).
A request fails when it does not get a "200" status line within 5 s. The kernel retransmits a
dropped SYN after 1 s, so a request whose SYN was dropped once still succeeds, 1 s late.
"""
import os
import socket
import sys
import time

addr, out_path, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
rate = float(sys.argv[4]) if len(sys.argv) > 4 else 200.0
gap = 1.0 / rate

with open(out_path, "w") as out:
    next_at = time.monotonic()
    while not os.path.exists(stop_file):
        start_wall, start = time.time(), time.monotonic()
        ok = 0
        try:
            with socket.create_connection((addr, 80), timeout=5) as s:
                s.settimeout(5)
                s.sendall(b"GET / HTTP/1.0\r\nHost: fragile\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                ok = 1 if data.startswith(b"HTTP/1.1 200") else 0
        except OSError:
            ok = 0
        out.write(f"{start_wall:.6f} {time.monotonic() - start:.6f} {ok}\n")
        out.flush()
        next_at += gap
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()
