#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A minimal arena player: python3 client.py HOST:PORT [SECONDS]

Completes ringfleet's admission handshake (docs/protocol.md), then walks in
a square, sending one INPUT per tick's worth of time, and prints its
position from the snapshots once a second. Standard library only.
"""
import socket
import struct
import sys
import time

INPUT = struct.Struct("<BBIbb")       # version, type, seq, dx, dy
SNAP = struct.Struct("<BBHIQI")       # version, type, n, your_last_seq, tick, your_id
PLAYER = struct.Struct("<Ihh")        # id, x, y


def admit(sock, server):
    """HELLO until a CHALLENGE, RESPONSE until a WELCOME."""
    hello, response = b"RFH1" + bytes(28), None
    sock.settimeout(0.25)
    for _ in range(40):
        sock.sendto(response or hello, server)
        try:
            data = sock.recv(2048)
        except socket.timeout:
            continue
        if len(data) == 24 and data[:4] == b"RFC1":
            response = b"RFR1" + data[4:24]
        elif len(data) == 8 and data[:4] == b"RFW1" and response:
            return
        elif len(data) == 8 and data[:4] == b"RFX1":
            sys.exit("refused by the server")
    sys.exit("no answer from %s:%d" % server)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    server, seconds = (host, int(port)), float(sys.argv[2]) if len(sys.argv) > 2 else 30
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    admit(sock, server)
    sock.settimeout(0.02)
    dirs = [(1, 0), (0, 1), (-1, 0), (0, -1)]
    seq, start, shown = 0, time.monotonic(), 0.0
    while time.monotonic() - start < seconds:
        seq += 1
        dx, dy = dirs[int((time.monotonic() - start) / 2) % 4]
        sock.sendto(INPUT.pack(1, 1, seq, dx, dy), server)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if len(data) >= SNAP.size and data[:2] == b"\x01\x02":
            _, _, n, acked, tick, me = SNAP.unpack_from(data)
            for i in range(n):
                pid, x, y = PLAYER.unpack_from(data, SNAP.size + i * PLAYER.size)
                if pid == me and time.monotonic() - shown >= 1:
                    shown = time.monotonic()
                    print("tick %d: player %d of %d at (%d, %d), input %d of %d applied"
                          % (tick, me, n, x, y, acked, seq))
        elif data[:2] == b"\x01\x03":
            print("the server says goodbye")
            return


if __name__ == "__main__":
    main()
