#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end: the example game games/arena (arena.so) under a standalone
ringfleet-worker on 127.0.0.1, played by Python clients that complete the
admission handshake.

    test_arena.py [--only NAME]...

play     3 players send inputs; each gets a snapshot every tick listing all
         3, acknowledging its last input, positions clamped to the arena;
         one goes silent and leaves the snapshots after client_timeout_s;
         all leave, and the session ends after empty_end_s
         (stats.sessions_ended == 1)
drain    SIGTERM: every player gets BYE, the worker exits 0
badargs  game_args with an unknown key: the worker exits 2 (config) and
         says why
"""

import argparse
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rftest as rt  # noqa: E402

TICK_HZ = 50
SIZE = 200
SPEED = 25
INPUT = struct.Struct("<BBIbb")    # version, type, seq, dx, dy
SNAP = struct.Struct("<BBHIQI")    # version, type, n, your_last_seq, tick, your_id
PLAYER = struct.Struct("<Ihh")     # id, x, y
BYE = b"\x01\x03\x01\x00"
RF_EXIT_CONFIG = 2


def module():
    path = os.path.normpath(os.path.join(rt.BIN, "..", "games", "arena.so"))
    rt.check(os.path.isfile(path), f"{path}: not built")
    return path


def decode(data):
    """A SNAPSHOT as a dict, or None for anything else."""
    if len(data) < SNAP.size or data[:2] != b"\x01\x02":
        return None
    _, _, n, ack, tick, you = SNAP.unpack_from(data)
    rt.check(len(data) == SNAP.size + n * PLAYER.size, f"snapshot of {len(data)} B for {n}")
    players = {}
    for i in range(n):
        pid, x, y = PLAYER.unpack_from(data, SNAP.size + i * PLAYER.size)
        players[pid] = (x, y)
    rt.check(len(players) == n, f"duplicate player ids: {players}")
    return {"n": n, "ack": ack, "tick": tick, "you": you, "players": players}


class Arena:
    """A standalone worker running arena.so with a test-owned slot."""

    def __init__(self, args, client_timeout_s=1, max_clients=8, extra=()):
        self.slot = rt.Slot(max_clients)
        self.proc = None
        for _ in range(5):
            self.port = rt.free_port()
            rfd, wfd = rt.ready_pipe()
            self.proc = rt.Proc([rt.bin_path("ringfleet-worker"), "--name", "arena-e2e",
                                 "--port", self.port, "--bind", rt.HOST, "--tick-hz", TICK_HZ,
                                 "--max-clients", max_clients, "--slot-fd", self.slot.fd,
                                 "--client-timeout-s", client_timeout_s, "--game", module(),
                                 "--game-args", args, "--ready-fd", wfd] + list(extra),
                                pass_fds=[self.slot.fd, wfd])
            os.close(wfd)
            self.ready = self.proc.wait_ready(rfd, timeout=20)
            if self.ready == "ready\n" or "Address already in use" not in self.proc.output():
                return
            self.proc.stop(signal.SIGKILL)

    def stats(self):
        return self.slot.stats()

    def game(self):
        """name, values by name and status, from the slot's game area."""
        if hasattr(self.slot, "game"):
            return self.slot.game()
        lay = rt.slot_layout()["game"]
        m = self.slot.map

        def text(off, size):
            return bytes(m[off:off + size]).split(b"\0")[0].decode(errors="replace")
        noff, nsize = lay["value_name"]
        voff, nval = lay["value"]
        values = {}
        for i in range(nval):
            name = text(noff + i * nsize, nsize)
            if name:
                values[name] = struct.unpack_from("=q", m, voff + 8 * i)[0]
        return {"name": text(*lay["name"]), "values": values,
                "status": text(*lay["status"]), "exit_reason": text(*lay["exit_reason"])}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.proc.kill()
        if exc_type is not None:
            print(f"--- worker output ---\n{self.proc.output()}", flush=True)
        self.slot.close()


class Player:
    def __init__(self, port):
        self.c = rt.UdpClient(port)
        self.seq = 0
        self.snaps = []

    def send(self, dx, dy):
        self.seq += 1
        self.c.send(INPUT.pack(1, 1, self.seq, dx, dy))

    def receive(self):
        for data, _ in self.c.recv_ready():
            s = decode(data)
            if s:
                rt.check(s["ack"] <= self.seq, f"ack {s['ack']} of an input never sent "
                         f"(last {self.seq})")
                self.snaps.append(s)


def play(players, moves, seconds):
    """Each active player sends its move every tick's worth of time for
    seconds, while everyone receives."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for p, mv in zip(players, moves):
            if mv is not None:
                p.send(*mv)
        time.sleep(1.0 / TICK_HZ)
        for p in players:
            p.receive()


def wait_snapshots(players, pred, timeout, what):
    def ok():
        for p in players:
            p.receive()
        return all(p.snaps and pred(p, p.snaps[-1]) for p in players)
    rt.wait_for(ok, timeout, what, interval=0.02)


def check_every_tick(p, name):
    ticks = [s["tick"] for s in p.snaps]
    rt.check(all(b > a for a, b in zip(ticks, ticks[1:])), f"{name}: ticks not increasing")
    span = ticks[-1] - ticks[0] + 1
    # a snapshot per tick; a loaded machine may make the worker skip a tick
    rt.check(len(ticks) >= 0.9 * span, f"{name}: {len(ticks)} snapshots over {span} ticks")


def s_play():
    """3 players, inputs, acks, clamping; one silent; empty arena ends the session"""
    # The empty arena's timer runs on ticks: an idle worker would sleep
    # through it (arena starts the next session on the next join; not
    # allocated, nothing else waits for it). This scenario checks the timer.
    with Arena(f"size={SIZE} speed={SPEED} empty_end_s=1",
               extra=["--idle-sleep", "off"]) as w:
        rt.check(w.ready == "ready\n", f"not ready: {w.ready!r}\n{w.proc.output()}")
        ps = [Player(w.port) for _ in range(3)]
        res = rt.admit_all([p.c.sock for p in ps], ps[0].c.server, timeout=10)
        rt.check(res == ["welcome"] * 3, f"admission: {res}")
        # everyone moves; (1, 1) and (-1, 0) run into the walls
        moves = [(1, 1), (-1, 0), (0, 1)]
        play(ps, moves, 1.5)
        wait_snapshots(ps, lambda p, s: s["ack"] == p.seq and s["n"] == 3, 5,
                       "snapshots acknowledging the last input")
        for i, p in enumerate(ps):
            p.snaps = [s for s in p.snaps if s["n"] == 3]
            rt.check(len(p.snaps) >= TICK_HZ // 2, f"player {i}: {len(p.snaps)} snapshots")
            check_every_tick(p, f"player {i}")
            for s in p.snaps:
                rt.check(s["you"] in s["players"], f"player {i}: not in its snapshot {s}")
                rt.check(all(0 <= x <= SIZE and 0 <= y <= SIZE
                             for x, y in s["players"].values()), f"outside the arena: {s}")
        last = [p.snaps[-1] for p in ps]
        ids = [s["you"] for s in last]
        rt.check(sorted(ids) == [1, 2, 3], f"player ids {ids}")
        rt.check(all(s["players"] == last[0]["players"] for s in last),
                 f"players see different worlds: {last}")
        pos = [last[0]["players"][i] for i in ids]
        rt.check(pos[0] == (SIZE, SIZE), f"(1, 1) ends in the corner: {pos[0]}")
        rt.check(pos[1] == (0, SIZE // 2), f"(-1, 0) ends at the left wall: {pos[1]}")
        rt.check(pos[2] == (SIZE // 2, SIZE), f"(0, 1) ends at the top wall: {pos[2]}")
        g = w.game()
        rt.log(f"game area: {g}")
        rt.check(g["name"] == "arena", f"game name {g['name']!r}")
        rt.check(g["values"].get("players") == 3, f"values {g['values']}")
        rt.check(g["status"] == "3 players", f"status {g['status']!r}")

        # player 3 goes silent: after client_timeout_s it leaves the others'
        # snapshots
        gone = ids[2]
        t0 = time.monotonic()
        end = t0 + 10
        while time.monotonic() < end:
            play(ps, moves[:2] + [None], 0.2)
            if all(p.snaps[-1]["n"] == 2 for p in ps[:2]):
                break
        took = time.monotonic() - t0
        rt.check(all(p.snaps[-1]["n"] == 2 and gone not in p.snaps[-1]["players"]
                     for p in ps[:2]), f"silent player still there after {took:.1f} s")
        rt.check(took >= 0.8, f"silent player removed after {took:.1f} s, before the timeout")
        rt.log(f"silent player left after {took:.1f} s")
        rt.check(w.game()["values"].get("players") == 2, f"values {w.game()['values']}")
        rt.check(w.stats()["sessions_ended"] == 0, "a session ended with players in it")

        # everyone silent: they time out, the arena is empty, and after
        # empty_end_s the session is over
        t0 = time.monotonic()
        ok = rt.wait_until(lambda: w.stats()["sessions_ended"] == 1, timeout=15, interval=0.1)
        rt.check(ok, f"sessions_ended {w.stats()['sessions_ended']} after 15 s, "
                 f"clients {w.stats()['clients']}, game {w.game()}")
        took = time.monotonic() - t0
        rt.log(f"session ended {took:.1f} s after the last input")
        rt.check(took >= 1.5, f"session ended after {took:.1f} s: before timeout + empty_end_s")
        rt.check(w.stats()["clients"] == 0, f"clients {w.stats()['clients']}")
        rt.check(w.game()["values"].get("sessions") == 1, f"values {w.game()['values']}")
        time.sleep(0.5)
        rt.check(w.stats()["sessions_ended"] == 1, "more than one session ended")
        rc = w.proc.stop(timeout=15)
        rt.check(rc == 0, f"worker exit code {rc}")


def s_drain():
    """SIGTERM: every player gets BYE, the worker exits 0"""
    with Arena("empty_end_s=30") as w:
        rt.check(w.ready == "ready\n", f"not ready: {w.ready!r}\n{w.proc.output()}")
        ps = [Player(w.port) for _ in range(2)]
        res = rt.admit_all([p.c.sock for p in ps], ps[0].c.server, timeout=10)
        rt.check(res == ["welcome"] * 2, f"admission: {res}")
        play(ps, [(1, 0), (0, 1)], 0.3)
        w.proc.send_signal(signal.SIGTERM)
        got = rt.gather([p.c for p in ps], timeout=10,
                        done=lambda g: all(BYE in x for x in g))
        rt.check(all(BYE in x for x in got), "no BYE for every player")
        rc = w.proc.wait(15)
        rt.check(rc == 0, f"worker exit code {rc}:\n{w.proc.output()}")


def s_badargs():
    """game_args with an unknown key: exit 2 and the reason"""
    with Arena("size=100 colour=red") as w:
        rc = w.proc.wait(15)
        out = w.proc.output()
        rt.check(rc == RF_EXIT_CONFIG, f"exit code {rc}, want {RF_EXIT_CONFIG}:\n{out}")
        rt.check("game_args" in out and "colour" in out, f"no reason in the log:\n{out}")
        reason = w.game()["exit_reason"]
        rt.check("colour" in reason, f"slot exit_reason {reason!r}")


SCENARIOS = [s_play, s_drain, s_badargs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = ap.parse_args()
    module()
    for s in SCENARIOS:
        if args.only and s.__name__[2:] not in args.only:
            continue
        t0 = time.monotonic()
        rt.log(f"{s.__name__[2:]}: {s.__doc__.splitlines()[0]}")
        s()
        rt.log(f"{s.__name__[2:]}: ok ({time.monotonic() - t0:.1f} s)")


if __name__ == "__main__":
    main()
