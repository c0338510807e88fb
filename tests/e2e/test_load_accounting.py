#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ringfleet-load's own accounting, against targets whose behaviour is
known: a socket that never answers (100% loss, still exit 0), a closed port
(100% loss), a relay that drops every 4th sequence number (25% loss), a relay that
holds every datagram 30 ms (latency reads 30 ms and a little more), CPU
of a busy process tree versus an idle one, and its exit codes."""
import collections
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from fleetlib import binary, run_load

LOAD = binary("ringfleet-load")
DELAY_MS = 30


def load(port, *extra, clients=3, duration=1.0):
    return run_load(port, "--clients", clients, "--duration", duration,
                    "--warmup", 0.3, *extra)


def bound_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def all_lost(rep, clients):
    assert rep["sent"] > 0, rep
    assert rep["expected"] == rep["sent"] * clients, rep
    assert rep["received"] == 0 and rep["lost"] == rep["expected"], rep
    assert rep["loss_pct"] == 100.0, rep
    assert rep["latency_ms"]["avg"] is None, rep


def test_silent_target():
    s, port = bound_socket()  # bound, never read: no ICMP, no answer
    try:
        rep = load(port)
        all_lost(rep, 3)
        # every scheduled send went out or was knowingly skipped (a loaded
        # machine can starve the sender), with no errors to hide behind
        assert rep["send_errors"] == 0, rep
        assert abs(rep["sent"] + rep["send_skipped"] - 300) <= 15, rep
    finally:
        s.close()


def test_closed_port():
    s, port = bound_socket()
    s.close()  # now nothing listens: ICMP port unreachable
    all_lost(load(port), 3)


def relay(sock, stop, drop_every=0, delay=0.0):
    """Relays each datagram to every source seen, delay seconds after it
    arrived, except those whose sequence number (header offset 8) is a
    multiple of drop_every."""
    peers = set()
    held = collections.deque()  # (due, data); a fixed delay keeps it sorted
    while not stop.is_set():
        now = time.monotonic()
        while held and held[0][0] <= now:
            data = held.popleft()[1]
            for p in peers:
                sock.sendto(data, p)
        sock.settimeout(max(0.0005, held[0][0] - now) if held else 0.1)
        try:
            data, src = sock.recvfrom(4096)
        except socket.timeout:
            continue
        peers.add(src)
        if drop_every and struct.unpack_from("<Q", data, 8)[0] % drop_every == 0:
            continue
        held.append((time.monotonic() + delay, data))


def via_relay(duration, **kw):
    """ringfleet-load's report for 3 clients of a relay(**kw)."""
    s, port = bound_socket()
    stop = threading.Event()
    t = threading.Thread(target=relay, args=(s, stop), kwargs=kw)
    t.start()
    try:
        return load(port, clients=3, duration=duration)
    finally:
        stop.set()
        t.join()
        s.close()


def test_partial_loss():
    rep = via_relay(1.5, drop_every=4)
    assert rep["expected"] == rep["sent"] * 3, rep
    assert 22.0 <= rep["loss_pct"] <= 28.0, "loss %.2f%%, want ~25%%" % rep["loss_pct"]
    assert rep["bad_packets"] == 0, rep


def test_known_delay():
    """Every datagram held DELAY_MS by the relay: the latencies must read
    DELAY_MS plus loopback and Python's scheduling, never less (the
    histogram's quantiles are within 0.4%; the average is exact)."""
    rep = via_relay(1.0, delay=DELAY_MS / 1000)
    lat = rep["latency_ms"]
    assert rep["received"] > 0 and rep["loss_pct"] < 5, rep
    assert DELAY_MS <= lat["avg"] < DELAY_MS + 15, lat
    assert DELAY_MS * 0.996 <= lat["p50"] < DELAY_MS + 10, lat
    assert lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert lat["max"] < DELAY_MS + 240, lat  # later would be lost (drain)


def test_cpu():
    s, port = bound_socket()
    # The root only waits; the CPU is burnt by its child, which --pid must
    # find through the process tree. Its own session, so that killing the
    # group also ends the child (which would otherwise hold ctest's pipe).
    busy = subprocess.Popen([sys.executable, "-c",
                             "import subprocess, sys; subprocess.run("
                             "[sys.executable, '-c', 'while True: pass'])"],
                            start_new_session=True)
    idle = subprocess.Popen(["sleep", "30"])
    try:
        # let the busy child start before the window opens
        rep = load(port, "--pid", str(busy.pid), duration=1.5)
        assert rep["cpu_procs"] == 2, rep["cpu_procs"]
        assert rep["cpu_pct"] > 30, "busy tree: cpu %.1f%%" % rep["cpu_pct"]
        assert rep["cpu_pct"] < 210, rep["cpu_pct"]
        rep = load(port, "--pid", str(idle.pid), duration=1.0)
        assert rep["cpu_procs"] == 1 and rep["cpu_pct"] < 5, rep["cpu_pct"]
    finally:
        os.killpg(busy.pid, signal.SIGKILL)
        busy.wait()
        idle.kill()
        idle.wait()
        s.close()


def test_exit_codes():
    def rc(*args):
        return subprocess.run([LOAD] + list(args), capture_output=True,
                              timeout=10).returncode
    assert rc() == 2
    assert rc("--target", "127.0.0.1:0") == 2
    assert rc("--target", "localhost:7000") == 2
    assert rc("--target", "127.0.0.1:7000", "--size", "23") == 2
    assert rc("--target", "127.0.0.1:7000", "--bogus") == 2
    assert rc("--help") == 0
    # a --pid that does not exist: cannot measure, so cannot run
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert rc("--target", "127.0.0.1:7000", "--duration", "0.1",
              "--pid", str(dead.pid)) == 1


def main():
    for t in (test_exit_codes, test_silent_target, test_closed_port,
              test_partial_loss, test_known_delay, test_cpu):
        t()
        print(t.__name__ + ": ok")


if __name__ == "__main__":
    main()
