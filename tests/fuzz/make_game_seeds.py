#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_game: starting points in the input
format fuzz_game.c reads (setup(), fz_init(), act() and the op switch of
LLVMFuzzerTestOneInput()). The module's callbacks read their actions from
the same stream as the engine ops, so a seed is only a plausible start:
libFuzzer finds the rest. Rerun after changing the format:

    python3 tests/fuzz/make_game_seeds.py tests/fuzz/corpus/fuzz_game
"""
import os
import random
import struct
import sys

OP_DELIVER, OP_TICK, OP_SILENCE, OP_DRAIN, OP_OUTSIDE = 0, 4, 5, 6, 7
# act(): op % 13
A_SEND, A_BCAST, A_KICK, A_END, A_VALUE, A_STATUS, A_LOG, A_RUN = 0, 2, 3, 4, 5, 6, 7, 11


def u8(v):
    return struct.pack("<B", v & 0xff)


def u16(v):
    return struct.pack("<H", v & 0xffff)


def header(gso=1, clients=8, packet=200, ppt=4, output=100):
    # setup(): gso, max_clients - 1, max_packet - 1, max_packets_per_tick - 1,
    # max_output_per_tick - 1; fz_init(): 5 value names, no actions, success.
    names = b"".join(u16(len(n) + 0) + n for n in (b"players", b"score", b"BAD-name",
                                                   b"x" * 19, b"extra"))
    return (u8(gso) + u8(clients - 1) + u16(packet - 1) + u8(ppt - 1) + u8(output - 1)
            + names + u8(0) + u8(0))


def deliver(src, payload, actions=b""):
    # deliver(): source, length, up to 16 payload bytes; then join's and
    # input's actions (a count, then each), join's verdict byte (0: keep).
    n = len(payload)
    return u8(OP_DELIVER) + u8(src) + u16(n) + payload[:16] + actions


def send_self(size):
    # A send to the sender (pick_id 0) of size bytes from the scratch
    # buffer (pick_src: an even byte).
    return u8(A_SEND) + u8(0) + u8(3) + u16(size - 1) + u8(0)


def broadcast(size):
    return u8(A_BCAST) + u8(3) + u8(3) + u16(size - 1) + u8(0)


def run(n):
    # n sends of max_packet bytes to the sender, from the scratch buffer.
    return u8(A_RUN) + u8(0) + u8(n) + u8(1) + u8(0) * n


def seeds():
    rnd = random.Random(12)
    out = {}
    # Clients join, each echoes and broadcasts a few times per tick.
    body = header()
    for t in range(6):
        for c in range(5):
            acts = u8(2) + send_self(40 + c) + broadcast(100)
            body += deliver(c, b"hello %d" % c, u8(0) + u8(0) + acts)
        body += u8(OP_TICK) + u8(3) + broadcast(60) + send_self(10) + broadcast(60)
    out["echo_broadcast"] = body
    # GSO runs: many equal sizes to one client, then a short one.
    body = header(gso=1, clients=2, packet=300, output=200)
    body += deliver(0, b"x", u8(0) + u8(0) + u8(6) + send_self(300) * 5 + send_self(7))
    body += u8(OP_TICK) + u8(10) + send_self(300) * 9 + send_self(1)
    body += u8(OP_TICK)
    out["gso_runs"] = body
    # Kicks, a session end, a drain, silence.
    body = header(clients=4, output=20)
    for c in range(4):
        body += deliver(c, b"p", u8(0) + u8(0) + u8(1) + u8(A_KICK) + u8(1) + u8(0))
    body += u8(OP_TICK) + u8(2) + u8(A_END) + broadcast(5)
    body += u8(OP_SILENCE) + u8(2) + u8(OP_TICK) + u8(0) + u8(OP_DRAIN) + u8(0) + u8(OP_TICK)
    out["kick_end_drain"] = body
    # Over budget and odd sizes.
    body = header(clients=12, packet=600, output=3)
    for c in range(12):
        body += deliver(c, bytes(rnd.randrange(256) for _ in range(16)),
                        u8(0) + u8(0) + u8(3) + broadcast(600) + send_self(1) + broadcast(1))
    body += u8(OP_TICK) + u8(OP_OUTSIDE) + u8(OP_TICK)
    out["budget"] = body
    # GSO's caps: 140 datagrams of 1,100 bytes to one client, cut at
    # 65,507 bytes (59 segments); of 1,000 bytes, at 64 segments.
    body = header(gso=1, clients=2, packet=1100, output=200)
    body += deliver(0, b"x", u8(0) + u8(0) + u8(2) + run(70) + run(70))
    body += u8(OP_TICK) + u8(0) + u8(OP_TICK) + u8(0)
    out["gso_caps"] = body
    body = header(gso=1, clients=2, packet=1000, output=200)
    body += deliver(0, b"x", u8(0) + u8(0) + u8(2) + run(70) + run(70))
    body += u8(OP_TICK) + u8(0)
    out["gso_64_segments"] = body
    out["random"] = bytes(rnd.randrange(256) for _ in range(600))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                           "corpus", "fuzz_game")
    os.makedirs(d, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
