#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ringfleet-load --game arena's accounting, against a stand-in arena whose
behaviour is known (Python, no handshake: --admission open): it skips the
snapshots of every 10th tick (10% snapshot loss, intervals of two ticks
at the p99) and never acknowledges the inputs of its first player (a
third of the inputs unacknowledged). The real arena under ringfleetd is
run by test_run_bench.py's arena row."""
import socket
import struct
import subprocess
import threading
import time

from fleetlib import binary, run_load

TICK_HZ = 50
SNAP = struct.Struct("<BBHIQI")
INPUT = struct.Struct("<BBIbb")


class FakeArena(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.players = {}   # address -> [id, last seq]
        self.stop = False

    def run(self):
        tick, nxt = 0, time.monotonic()
        while not self.stop:
            while True:
                try:
                    data, src = self.sock.recvfrom(2048)
                except BlockingIOError:
                    break
                p = self.players.setdefault(src, [len(self.players) + 1, 0])
                if len(data) == INPUT.size and data[:2] == b"\x01\x01":
                    p[1] = max(p[1], INPUT.unpack(data)[2])
            tick += 1
            if tick % 10:
                body = b"".join(struct.pack("<Ihh", p[0], 0, 0)
                                for p in self.players.values())
                for src, p in self.players.items():
                    ack = 0 if p[0] == 1 else p[1]
                    self.sock.sendto(SNAP.pack(1, 2, len(self.players), ack, tick, p[0])
                                     + body, src)
            nxt += 1.0 / TICK_HZ
            time.sleep(max(0.0, nxt - time.monotonic()))


def test_accounting():
    srv = FakeArena()
    srv.start()
    try:
        rep = run_load(srv.port, "--game", "arena", "--clients", 3, "--warmup", 0.5,
                       "--duration", 2, "--admission", "open", timeout=30)
    finally:
        srv.stop = True
        srv.join(5)
    a = rep["arena"]
    print(a)
    assert rep["game"] == "arena" and a["rate"] == TICK_HZ, rep
    # a tick in ten has no snapshot
    assert a["snapshots_expected"] >= 3 * 1.5 * TICK_HZ, a
    assert 7.0 <= rep["loss_pct"] <= 13.0, "loss %.2f%%, want ~10%%" % rep["loss_pct"]
    assert rep["expected"] == a["snapshots_expected"], rep
    assert rep["received"] == a["snapshots_received"], rep
    ivl = a["snapshot_interval_ms"]
    assert 12 <= ivl["p50"] <= 28, ivl
    assert ivl["p99"] >= 35, ivl
    # one player in three is never acknowledged
    assert rep["sent"] == a["inputs_sent"] > 0, rep
    third = a["inputs_sent"] / 3
    assert 0.8 * third <= a["inputs_unacked"] <= 1.2 * third, a
    assert a["bad_snapshots"] == 0 and a["wrong_player_count"] == 0, a
    assert rep["latency_ms"]["p50"] is not None and rep["latency_ms"]["p50"] < 100, rep


def test_usage():
    def rc(*args):
        return subprocess.run([binary("ringfleet-load"), "--target", "127.0.0.1:7000"]
                              + list(args), capture_output=True, timeout=10).returncode
    assert rc("--game", "chess") == 2
    assert rc("--game", "arena", "--rate", "0") == 2
    assert rc("--game", "arena", "--tick-hz", "0") == 2


def main():
    for t in (test_usage, test_accounting):
        t()
        print(t.__name__ + ": ok")


if __name__ == "__main__":
    main()
