#!/usr/bin/env python3
"""Hostile services for the -sV lab test, on ADDR, one behaviour per port:

  BASE+0 endless banner   an SMTP-like greeting that never ends
  BASE+1 binary junk      random bytes at once and after every read
  BASE+2 slow drip        one byte every 100 ms, forever
  BASE+3 stalled TLS      accepts, reads the ClientHello, never answers, never closes
  BASE+4 huge certificate a TLS server whose certificate is larger than 256 KiB (CERT, KEY)
  BASE+5 silent           accepts and never reads nor writes

Usage: hostile_server.py ADDR BASE CERT KEY. Runs until killed."""
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

ADDR, BASE, CERT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def handler(fn):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                fn(self.request)
            except OSError:
                pass
    return H


def endless(s):
    s.sendall(b"220 ")
    chunk = b"A" * 65536
    while True:
        s.sendall(chunk)


def junk(s):
    s.settimeout(10)
    while True:
        s.sendall(os.urandom(4096))
        if not s.recv(4096):
            return


def drip(s):
    while True:
        s.sendall(b"\x00")
        time.sleep(0.1)


def stalled(s):
    s.settimeout(60)
    while s.recv(4096):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)


def huge(s):
    t = ctx.wrap_socket(s, server_side=True)
    t.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
    time.sleep(5)


def silent(s):
    time.sleep(60)


servers = []
for i, fn in enumerate([endless, junk, drip, stalled, huge, silent]):
    srv = Server((ADDR, BASE + i), handler(fn))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    servers.append(srv)
print("ready", flush=True)
while True:
    time.sleep(3600)
