#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of game modules in ringfleet-worker (issue 12), for one
backend: a standalone worker runs the test module tests/games/echo.c (each
datagram back to its sender only) or the built-in relay, and the test
reads the game area of its slot.

    test_game.py --backend io_uring|mmsg [--only NAME]...
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rftest as rt  # noqa: E402
from test_worker import Worker, clients_for, register  # noqa: E402

LEAVE_KICKED, LEAVE_SESSION_OVER, LEAVE_TIMEOUT = 2, 3, 1


def echo_worker(backend, extra=(), **kw):
    return Worker(backend, extra=["--game", rt.game_path("echo")] + list(extra), **kw)


def wait_game(w, pred, what, timeout=10.0):
    """The slot's game area once pred(game) holds (values move per tick)."""
    ok = rt.wait_until(lambda: pred(w.slot.game()), timeout=timeout)
    g = w.slot.game()
    rt.check(ok, f"{what}: game area {g}")
    return g


def t_echo(backend):
    """Two clients: each gets its own datagrams back, and nobody else's."""
    with echo_worker(backend) as w:
        a, b = clients_for(w, 2)
        register(w, [a, b])
        g = wait_game(w, lambda g: g["values"].get("players") == 2, "two players")
        rt.check(g["name"] == "echo", f"game name {g['name']!r}")
        rt.check(g["status"] == "players 2", f"status {g['status']!r}")
        rt.check(g["exit_reason"] == "", f"exit_reason {g['exit_reason']!r}")
        rt.check(set(g["values"]) == {"players", "joins", "leaves", "last_leave"},
                 f"values {g['values']}")
        for k in range(20):
            a.send(b"a%02d" % k)
            b.send(b"b%02d" % k)
        got = rt.gather([a, b], timeout=10, done=lambda g: len(g[0]) >= 20 and len(g[1]) >= 20)
        rt.gather([a, b], timeout=1, quiet=0.3, got=got)
        rt.check(got[0] == [b"a%02d" % k for k in range(20)], f"a got {got[0]}")
        rt.check(got[1] == [b"b%02d" % k for k in range(20)], f"b got {got[1]}")
        st = w.stats()
        rt.check(st["drop_output"] == 0 and st["drop_send"] == 0, f"drops: {st}")


def t_kick(backend):
    """A kicked client leaves (KICKED), gets nothing more, and must do the
    handshake again; ids differ between clients and are never reused."""
    with echo_worker(backend) as w:
        a, b = clients_for(w, 2)
        register(w, [a, b])
        ids = []
        for c in (a, b, a):
            c.send(b"who")
            got = rt.gather([c], timeout=10, done=lambda g: g[0])[0]
            rt.check(len(got) == 1 and got[0].startswith(b"id "), f"who: {got}")
            ids.append(int(got[0][3:]))
        rt.check(ids[0] == ids[2] and ids[0] != ids[1] and all(ids), f"ids {ids}")
        a.send(b"kick")
        g = wait_game(w, lambda g: g["values"].get("leaves") == 1, "a kicked")
        rt.check(g["values"]["last_leave"] == LEAVE_KICKED, f"leave reason {g['values']}")
        rt.check(g["values"]["players"] == 1, f"players {g['values']}")
        ok = rt.wait_until(lambda: w.stats()["clients"] == 1, timeout=5)
        rt.check(ok, "a still in the table")
        # Game data from a kicked client draws a CHALLENGE, no echo.
        a.send(b"x" * 32)
        got = rt.gather([a], timeout=5, done=lambda g: g[0])[0]
        rt.check(got and all(rt.is_challenge(p) for p in got), f"kicked client got {got}")
        a.admit()
        a.send(b"who")
        got = rt.gather([a], timeout=10, done=lambda g: any(p.startswith(b"id ") for p in g[0]))
        new = [int(p[3:]) for p in got[0] if p.startswith(b"id ")]
        rt.check(new and new[0] not in ids, f"a's new id {new}, old {ids}")


def t_refuse(backend):
    """A join the game refuses: REFUSED reason 3, not in the table."""
    with echo_worker(backend, extra=["--game-args", "max=1"]) as w:
        a, b = clients_for(w, 2)
        a.admit()
        try:
            b.admit()
            rt.check(False, "the game's refusal did not reach the client")
        except rt.Refused as e:
            rt.check(e.reason == 3, f"refused for reason {e.reason}, want 3 (the game)")
        # Counters are published after the tick's replies went out.
        ok = rt.wait_until(lambda: w.stats()["adm_refusals"] >= 1, timeout=5)
        st = w.stats()
        rt.check(ok, "refusal not counted")
        rt.check(st["clients"] == 1, f"clients {st['clients']}")
        g = w.slot.game()
        rt.check(g["values"]["joins"] == 1, f"values {g['values']}")


def t_end_session(backend):
    """rf_end_session(): every client leaves (SESSION_OVER) at the end of the
    tick, after that tick's output; the server plays on."""
    with echo_worker(backend) as w:
        a, b = clients_for(w, 2)
        register(w, [a, b])
        b.send(b"last")
        b.send(b"end")
        got = rt.gather([b], timeout=10, done=lambda g: g[0])[0]
        rt.check(got[:1] == [b"last"], f"b's last echo: {got}")
        g = wait_game(w, lambda g: g["values"].get("leaves") == 2, "session over")
        rt.check(g["values"]["last_leave"] == LEAVE_SESSION_OVER, f"values {g['values']}")
        # The game area moves during the tick, the counters at its end.
        rt.wait_until(lambda: w.stats()["sessions_ended"] >= 1, timeout=5)
        st = w.stats()
        rt.check(st["sessions_ended"] == 1, f"sessions_ended {st['sessions_ended']}")
        rt.check(st["clients"] == 0, f"clients {st['clients']}")
        # A new session: the same client comes back.
        rt.drain([a, b], quiet=0.2)
        a.admit()
        a.send(b"again")
        got = rt.gather([a], timeout=10, done=lambda g: b"again" in g[0])[0]
        rt.check(b"again" in got, f"after the session: {got}")


def t_timeout(backend):
    """A silent client leaves with TIMEOUT."""
    with echo_worker(backend, extra=["--client-timeout-s", 1]) as w:
        a, = clients_for(w, 1)
        register(w, [a])
        g = wait_game(w, lambda g: g["values"].get("leaves") == 1, "expiry", timeout=15)
        rt.check(g["values"]["last_leave"] == LEAVE_TIMEOUT, f"values {g['values']}")
        rt.check(g["values"]["players"] == 0, f"values {g['values']}")


def t_drain(backend):
    """SIGTERM: the module's drain says goodbye and ends the session; the
    worker then exits 0 without waiting for the drain timeout."""
    with echo_worker(backend, extra=["--drain-timeout-ms", 20000]) as w:
        a, b = clients_for(w, 2)
        register(w, [a, b])
        took = w.stop()
        rt.check(took < 10, f"stop took {took:.1f} s: the drain should end it")
        got = rt.gather([a, b], timeout=5, done=lambda g: g[0] and g[1])
        rt.check(got == [[b"bye"], [b"bye"]], f"goodbyes: {got}")
        rt.check(w.slot.stats()["sessions_ended"] == 1, "drain's session end not counted")


def t_drain_deadline(backend):
    """SIGTERM to a module that drains without ending its session: the
    worker ticks on (echoing) until drain_timeout_ms, then exits 0."""
    with echo_worker(backend, extra=["--drain-timeout-ms", 1500,
                                     "--game-args", "linger"]) as w:
        a, = clients_for(w, 1)
        register(w, [a])
        t0 = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        got = rt.gather([a], timeout=5, done=lambda g: b"bye" in g[0])[0]
        rt.check(got == [b"bye"], f"goodbye: {got}")
        a.send(b"still here")
        got = rt.gather([a], timeout=5, done=lambda g: g[0])[0]
        rt.check(got == [b"still here"], f"while draining: {got}")
        rc = w.proc.wait(15)
        took = time.monotonic() - t0
        rt.check(rc == 0, f"exit {rc}:\n{w.proc.output()}")
        rt.check(1.4 <= took < 10, f"stopped {took:.2f} s after SIGTERM, drain timeout 1.5 s")
        rt.check(w.slot.stats()["sessions_ended"] == 0, "no session end was asked")


def t_resume(backend):
    """A new worker on the same slot: the module starts afresh and the
    clients the slot kept join it, then play on."""
    # linger: the drain at stop must not end the session (which would
    # empty the table).
    keep = ["--game-args", "linger", "--drain-timeout-ms", 0]
    with rt.Slot(16) as slot:
        with echo_worker(backend, slot=slot, extra=keep) as w1:
            a, b = clients_for(w1, 2)
            register(w1, [a, b])
            a.send(b"who")
            old = rt.gather([a], timeout=10, done=lambda g: g[0])[0]
            port = w1.port
        rt.drain([a, b], quiet=0.3)  # w1's goodbye
        with echo_worker(backend, slot=slot, port=port, extra=keep) as w2:
            g = wait_game(w2, lambda g: g["values"].get("players") == 2, "resumed joins")
            rt.check(g["values"]["joins"] == 2 and g["values"]["leaves"] == 0,
                     f"values {g['values']}")
            a.send(b"who")
            b.send(b"back")
            got = rt.gather([a, b], timeout=10, done=lambda g: g[0] and g[1])
            rt.check(got[1] == [b"back"], f"b after resume: {got[1]}")
            # Ids are per worker life: the new module's, whatever the old
            # worker's were.
            rt.check(len(got[0]) == 1 and got[0][0].startswith(b"id ") and old,
                     f"a's id after resume {got[0]}, before {old}")


def t_relay(backend):
    """--game relay, the built-in: everyone gets everything."""
    with Worker(backend, extra=["--game", "relay"]) as w:
        a, b = clients_for(w, 2)
        register(w, [a, b])
        g = w.slot.game()
        rt.check(g["name"] == "relay" and g["values"] == {}, f"game area {g}")
        a.send(b"from-a")
        b.send(b"from-b")
        got = rt.gather([a, b], timeout=10, done=lambda g: len(g[0]) >= 2 and len(g[1]) >= 2)
        for r in got:
            rt.check(sorted(r) == [b"from-a", b"from-b"], f"relay: {got}")


def t_bad_module(backend):
    """A module that cannot run: exit 2 with the reason in the slot;
    --check-game says the same on stderr without running anything."""
    worker = rt.bin_path("ringfleet-worker")
    for game, want in (("/nonexistent/game.so", "No such file"),
                       (rt.bin_path("slot_layout"), "")):
        with rt.Slot(16) as slot:
            with rt.Proc([worker, "--port", rt.free_port(), "--bind", rt.HOST,
                          "--backend", backend, "--max-clients", 16, "--slot-fd", slot.fd,
                          "--game", game],
                         pass_fds=[slot.fd]) as p:
                rc = p.wait(20)
                out = p.output()
                rt.check(rc == 2, f"{game}: exit {rc}, want 2:\n{out}")
                reason = slot.game()["exit_reason"]
                rt.check(reason.startswith(f"game {game}: ") and want in reason,
                         f"exit_reason {reason!r}")
                rt.check(reason in out, f"reason not logged:\n{out}")
        with rt.Proc([worker, "--check-game", game]) as p:
            rc = p.wait(20)
            out = p.output()
            rt.check(rc == 2 and out.startswith(f"{game}: ") and out.count("\n") == 1,
                     f"--check-game {game}: exit {rc}, output {out!r}")
    for game in (rt.game_path("echo"), "relay"):
        with rt.Proc([worker, "--check-game", game]) as p:
            rc = p.wait(20)
            rt.check(rc == 0 and p.output() == "",
                     f"--check-game {game}: exit {rc}, output {p.output()!r}")


SCENARIOS = [t_echo, t_kick, t_refuse, t_end_session, t_timeout, t_drain, t_drain_deadline,
             t_resume, t_relay]
# Backend-independent scenarios run once, in the run that can always run.
MMSG_ONLY = [t_bad_module]


def main():
    rt.run_scenarios(SCENARIOS, MMSG_ONLY)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
