#!/usr/bin/python3
"""Completes a TLS handshake with a server, then resets the TCP
connection (SO_LINGER 0), for tests/tls/interop.sh: the server must report
the reset through its TLS flow, naming both layers.

    reset_client.py PORT CAFILE [HOST]
"""
import socket
import ssl
import struct
import sys

port, cafile = int(sys.argv[1]), sys.argv[2]
host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
ctx = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection((host, port), timeout=10)
tls = ctx.wrap_socket(raw, server_hostname="localhost")
tls.sendall(b"ping\n")
assert tls.recv(16) == b"ping\n"
tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
tls.close()
