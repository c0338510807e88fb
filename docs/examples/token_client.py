#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Connects to a ringfleet server with admission = token, using the
connect token a matchmaker got for this player at allocation:

    ringfleetctl allocate --players alice --json > alloc.json
    token_client.py --alloc alloc.json --player alice
    token_client.py HOST PORT TOKEN

Sends the TOKEN message ("RFT1" | token bytes, docs/protocol.md "Connect
tokens") every 250 ms until the server answers WELCOME ("RFW1") or
REFUSED ("RFX1" | u32 reason), then sends one game datagram at once (a
client admitted but silent may lose its place) and prints what comes
back. Python 3 standard library only.
"""

import argparse
import base64
import json
import select
import socket
import struct
import sys
import time

REASONS = {1: "server full", 2: "too many clients from this address",
           3: "refused by the game", 4: "bad token (forged, or for another server)",
           5: "token expired: ask the matchmaker for a new one",
           6: "this player is already in the match"}


def token_bytes(text):
    """The token's text form is base64url without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def connect(sock, server, token, timeout=5.0):
    """Returns None once admitted, else the REFUSED reason (or 0: no answer)."""
    msg = b"RFT1" + token
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.sendto(msg, server)
        ready, _, _ = select.select([sock], [], [], 0.25)
        if not ready:
            continue
        data, src = sock.recvfrom(2048)
        if src[:2] != server[:2] or len(data) != 8:
            continue
        if data[:4] == b"RFW1":
            return None
        if data[:4] == b"RFX1":
            return struct.unpack_from("!I", data, 4)[0]
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host", nargs="?")
    ap.add_argument("port", nargs="?", type=int)
    ap.add_argument("token", nargs="?")
    ap.add_argument("--alloc", help="the JSON reply of ringfleetctl allocate --json")
    ap.add_argument("--player", help="whose token to use from --alloc")
    args = ap.parse_args()
    if args.alloc:
        with open(args.alloc) as f:
            alloc = json.load(f)
        host, port = alloc["address"], int(alloc["port"])
        text = alloc["tokens"][args.player]
    else:
        host, port, text = args.host, args.port, args.token
    if not (host and port and text):
        ap.error("give HOST PORT TOKEN, or --alloc FILE --player ID")
    server = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4]
    sock = socket.socket(socket.AF_INET6 if ":" in server[0] else socket.AF_INET,
                         socket.SOCK_DGRAM)
    why = connect(sock, server, token_bytes(text))
    if why is not None:
        print("refused: " + REASONS.get(why, "no answer" if why == 0 else str(why)),
              file=sys.stderr)
        return 1
    print(f"admitted by {host}:{port}")
    sock.sendto(b"hello", server)
    ready, _, _ = select.select([sock], [], [], 1.0)
    if ready:
        print("got %r" % sock.recv(2048)[:64])
    return 0


if __name__ == "__main__":
    sys.exit(main())
