#!/usr/bin/env python3
"""A minimal syslog receiver: binds a Unix datagram socket at PATH and appends every message,
with its arrival time, to OUT. Used to collect scanlogd's reports in a private mount namespace.

  syslog_sink.py PATH OUT
"""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(65536).decode(errors="replace").rstrip("\n\0")
        f.write(f"{time.time():.6f} {msg}\n")
