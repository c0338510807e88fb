#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of the worker's side of sessions (issue 13): a
standalone worker whose slot's session area this test writes as
ringfleetd would (rftest.Slot.set_session, the seqlock), running the test
module tests/games/session.c (it shows each allocation in its status) or
the built-in relay (it ends an allocated session with no client for
session_idle_s).

    test_game_session.py [--backend io_uring|mmsg] [--only NAME]...
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rftest as rt  # noqa: E402
from test_worker import Worker, clients_for, register  # noqa: E402


def session_worker(backend, extra=(), **kw):
    # Ticking with no client: the session area is read once per tick,
    # which these scenarios count on (test_idle.py covers the sleep).
    return Worker(backend, extra=["--game", rt.game_path("session"), "--idle-sleep", "off"] +
                  list(extra), **kw)


def wait_game(w, pred, what, timeout=10.0):
    ok = rt.wait_until(lambda: pred(w.slot.game()), timeout=timeout)
    g = w.slot.game()
    rt.check(ok, f"{what}: game area {g}")
    return g


def settle(w, ticks=10):
    """Lets the worker run a few ticks (reads happen once per tick)."""
    t = w.stats()["ticks"]
    ok = rt.wait_until(lambda: w.stats()["ticks"] >= t + ticks, timeout=10)
    rt.check(ok, "the worker does not tick")


def t_allocated(backend):
    """The module is told of each new allocation once, with its meta
    sanitized; not of a ready state, nor of the same allocation again; a
    writer caught mid-write is read on a later tick; the module can end the
    session; a restarted worker tells its fresh module once."""
    with rt.Slot(16) as slot:
        with session_worker(backend, slot=slot, extra=["--session-idle-s", 7]) as w:
            rt.check(slot.game_flags() == rt.GAME_IDLE_SLEEP,
                     f"game flags {slot.game_flags()}")
            g = w.slot.game()
            rt.check(g["values"]["idle_s"] == 7 and g["status"] == "not allocated",
                     f"game area {g}")
            slot.set_session(rt.SESSION_READY, 0)
            settle(w)
            rt.check(w.slot.game()["values"]["allocs"] == 0, "told of a ready state")
            slot.set_session(rt.SESSION_ALLOCATED, 1, "mode=duel\nmap=dust\n")
            g = wait_game(w, lambda g: g["values"]["allocs"] == 1, "first allocation")
            rt.check(g["status"] == "alloc 1: mode=duel;map=dust", f"status {g['status']!r}")
            # The same allocation rewritten (its since, its meta): not new.
            slot.set_session(rt.SESSION_ALLOCATED, 1, "mode=solo\n")
            settle(w)
            rt.check(w.slot.game()["values"]["allocs"] == 1, "told twice of allocation 1")
            # Caught mid-write: nothing until the write is done.
            slot.set_session(rt.SESSION_ALLOCATED, 2, b"k=\x01\xff\n\nz=1", hold=True)
            settle(w)
            rt.check(w.slot.game()["values"]["allocs"] == 1, "read a half-written area")
            slot.session_commit()
            g = wait_game(w, lambda g: g["values"]["allocs"] == 2, "second allocation")
            rt.check(g["status"] == "alloc 2: k=??;z=1", f"sanitized meta {g['status']!r}")
            # The module ends its session.
            a, = clients_for(w, 1)
            register(w, [a])
            a.send(b"END")
            ok = rt.wait_until(lambda: w.stats()["sessions_ended"] == 1, timeout=10)
            rt.check(ok, f"sessions_ended {w.stats()['sessions_ended']}")
            port = w.port
        # A new worker on the same slot, allocation 2 still on: its module
        # is told once.
        with session_worker(backend, slot=slot, port=port) as w2:
            g = wait_game(w2, lambda g: g["values"]["allocs"] == 1, "after a restart")
            rt.check(g["status"] == "alloc 1: k=??;z=1", f"status {g['status']!r}")
            settle(w2)
            rt.check(w2.slot.game()["values"]["allocs"] == 1, "told twice after a restart")


def t_relay_idle(backend):
    """The relay with session_idle_s = 1: not allocated, it never ends a
    session; allocated with no client, it ends it within ~1 s; a client
    that keeps sending keeps it on, and once the client is gone
    (client_timeout_s) the idle second ends it."""
    with Worker(backend, extra=["--game", "relay", "--session-idle-s", 1,
                                "--client-timeout-s", 1]) as w:
        time.sleep(1.5)
        rt.check(w.stats()["sessions_ended"] == 0, "ended a session it was never given")
        t0 = time.monotonic()
        w.slot.set_session(rt.SESSION_ALLOCATED, 1, "mode=duel\n")
        # As ringfleetd does: an idle worker sleeps until told.
        w.proc.send_signal(signal.SIGURG)
        ok = rt.wait_until(lambda: w.stats()["sessions_ended"] == 1, timeout=10)
        took = time.monotonic() - t0
        rt.check(ok, f"idle allocated relay: sessions_ended {w.stats()['sessions_ended']}")
        rt.check(took >= 0.9, f"ended after {took:.2f} s, session_idle_s is 1")
        rt.log(f"relay_idle: idle session ended after {took:.2f} s")
        # Once: the relay does not end what it was not given again.
        time.sleep(1.5)
        rt.check(w.stats()["sessions_ended"] == 1, "ended the same session twice")
        # A new match whose player keeps sending for 3 s.
        a, = clients_for(w, 1)
        register(w, [a])
        w.slot.set_session(rt.SESSION_ALLOCATED, 2, "")
        end = time.monotonic() + 3
        while time.monotonic() < end:
            a.send(b"ping")
            rt.drain([a], quiet=0.05, timeout=0.1)
        rt.check(w.stats()["sessions_ended"] == 1, "ended a session while a client plays")
        t0 = time.monotonic()
        ok = rt.wait_until(lambda: w.stats()["sessions_ended"] == 2, timeout=15)
        took = time.monotonic() - t0
        rt.check(ok, "the player left: the session did not end")
        rt.check(took >= 1.5, f"ended {took:.2f} s after the last datagram: want the "
                 "client's 1 s timeout, then 1 s idle")
        rt.log(f"relay_idle: ended {took:.2f} s after the last datagram")


SCENARIOS = [t_allocated, t_relay_idle]


def main():
    rt.run_scenarios(SCENARIOS, default_backend="mmsg")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
