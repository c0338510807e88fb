#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ringfleet-load's own accounting, against targets whose behaviour is
known: a socket that never answers (100% loss, still exit 0), a closed port
(100% loss), a relay that drops every 4th sequence number (25% loss), a relay that
holds every datagram 30 ms (latency reads 30 ms and a little more), CPU
of a busy process tree versus an idle one, and its exit codes. These
targets speak no handshake: ringfleet-load runs with --admission open.

Its admission handshake (--admission cookie, the default) against a relay
that speaks it: a slow handshake (lost HELLOs and RESPONSEs) counts as
neither loss nor latency, a CHALLENGE in the middle of the run re-admits
every client, a REFUSED and a target that never challenges end the run
with exit 1 and an error that says why."""
import collections
import hashlib
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


def load(port, *extra, clients=3, duration=1.0, admission="open", warmup=0.3):
    return run_load(port, "--clients", clients, "--duration", duration,
                    "--warmup", warmup, "--admission", admission, *extra)


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


class Cookie:
    """The server side of the handshake, as docs/protocol.md has it, with
    a stand-in MAC: enough to drive ringfleet-load's client side.
    lose_hellos/lose_responses: how many of each source's first HELLOs and
    RESPONSEs to ignore (each costs the client a 250 ms resend); refuse: a
    REFUSED reason for every RESPONSE; forget_after: seconds after the
    first WELCOME at which every admitted client is forgotten once (their
    next datagrams draw CHALLENGEs)."""

    def __init__(self, lose_hellos=0, lose_responses=0, refuse=0, forget_after=None):
        self.key = os.urandom(16)
        self.lose = {"hello": lose_hellos, "response": lose_responses}
        self.lost = collections.Counter()
        self.refuse = refuse
        self.forget_after = forget_after
        self.forget_at = None
        self.challenges = 0

    def mac(self, src):
        return hashlib.blake2b(repr(src).encode(), key=self.key, digest_size=16).digest()

    def _lose(self, kind, src):
        if self.lost[(kind, src)] < self.lose[kind]:
            self.lost[(kind, src)] += 1
            return True
        return False

    def handle(self, sock, data, src, peers):
        """True when data is game data of an admitted peer, to relay."""
        if self.forget_at is not None and time.monotonic() >= self.forget_at:
            peers.clear()
            self.forget_at = None
        if src in peers:
            if data[:4] == b"RFR1" and len(data) == 24:
                sock.sendto(b"RFW1" + bytes(4), src)
                return False
            if data[:4] == b"RFH1" and len(data) >= 32:
                sock.sendto(b"RFC1" + bytes(4) + self.mac(src), src)
                return False
            return True
        if data[:4] == b"RFR1" and len(data) == 24 and data[8:] == self.mac(src):
            if not self._lose("response", src):
                if self.refuse:
                    sock.sendto(b"RFX1" + struct.pack("!I", self.refuse), src)
                else:
                    peers.add(src)
                    sock.sendto(b"RFW1" + bytes(4), src)
                    if self.forget_after is not None and self.forget_at is None:
                        self.forget_at = time.monotonic() + self.forget_after
                        self.forget_after = None
        elif len(data) >= 24 and not (data[:4] == b"RFH1" and self._lose("hello", src)):
            self.challenges += 1
            sock.sendto(b"RFC1" + bytes(4) + self.mac(src), src)
        return False


def relay(sock, stop, drop_every=0, delay=0.0, cookie=None):
    """Relays each datagram to every source seen (with a Cookie: every
    admitted source), delay seconds after it arrived, except those whose
    sequence number (header offset 8) is a multiple of drop_every."""
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
        if cookie is not None:
            if not cookie.handle(sock, data, src, peers):
                continue
        else:
            peers.add(src)
        if drop_every and struct.unpack_from("<Q", data, 8)[0] % drop_every == 0:
            continue
        held.append((time.monotonic() + delay, data))


def via_relay(duration, admission="open", warmup=0.3, **kw):
    """ringfleet-load's report for 3 clients of a relay(**kw)."""
    s, port = bound_socket()
    stop = threading.Event()
    t = threading.Thread(target=relay, args=(s, stop), kwargs=kw)
    t.start()
    try:
        return load(port, clients=3, duration=duration, admission=admission,
                    warmup=warmup)
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


def test_slow_handshake():
    """Each client loses 2 HELLOs and 1 RESPONSE (>= 750 ms of resends).
    With no warm-up at all, the run must still see 0% loss and a latency
    of the relay's, not the handshake's: the schedule starts after
    admission."""
    cookie = Cookie(lose_hellos=2, lose_responses=1)
    rep = via_relay(1.0, admission="cookie", warmup=0, cookie=cookie)
    adm = rep["admission"]
    assert adm["mode"] == "cookie" and adm["admit_ms"] >= 700, adm
    assert adm["hellos"] == 9 and adm["responses"] == 6, adm  # 3 clients
    assert rep["sent"] > 0 and rep["loss_pct"] == 0, rep
    assert rep["latency_ms"]["max"] < 200, rep["latency_ms"]
    assert rep["bad_packets"] == 0 and adm["challenges_in_run"] == 0, rep


def test_readmission():
    """The server forgets every client 1 s after the first WELCOME (0.7 s
    into the measured window): each answers the CHALLENGE its next
    datagram draws, is welcomed back, and the run goes on; what was sent
    meanwhile is honest loss."""
    cookie = Cookie(forget_after=1.0)
    rep = via_relay(1.5, admission="cookie", cookie=cookie)
    adm = rep["admission"]
    assert adm["challenges_in_run"] >= 3 and adm["welcomes_in_run"] >= 3, adm
    assert adm["response_errors"] == 0, adm
    assert 0 < rep["loss_pct"] < 20, rep
    assert rep["bad_packets"] == 0, rep


def load_fails(port, *extra, timeout=20):
    r = subprocess.run([LOAD, "--target", "127.0.0.1:%d" % port, "--clients", "3",
                        "--duration", "0.5", "--json"] + list(extra),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    return r.stderr


def test_refused():
    """A REFUSED ends the run before it starts, naming the reason."""
    s, port = bound_socket()
    stop = threading.Event()
    t = threading.Thread(target=relay, args=(s, stop), kwargs={"cookie": Cookie(refuse=2)})
    t.start()
    try:
        err = load_fails(port)
        assert "refused client" in err and "max_clients_per_ip" in err, err
    finally:
        stop.set()
        t.join()
        s.close()


def test_no_handshake():
    """A target that never sends a CHALLENGE (a server with admission =
    open, a reference server, or none at all) is given up on after
    --admission-timeout with a hint at --admission open; open mode then
    runs against it."""
    s, port = bound_socket()
    try:
        t0 = time.monotonic()
        err = load_fails(port, "--admission-timeout", "1")
        took = time.monotonic() - t0
        assert "sent no CHALLENGE" in err and "--admission open" in err, err
        assert 1.0 <= took < 5, took
        s.close()  # now ICMP port unreachable: the error says so
        err = load_fails(port, "--admission-timeout", "0.6")
        assert "nothing listens there" in err, err
    finally:
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
    assert rc("--target", "127.0.0.1:7000", "--admission", "token") == 2
    assert rc("--target", "127.0.0.1:7000", "--admission-timeout", "0") == 2
    assert rc("--help") == 0
    # a --pid that does not exist: cannot measure, so cannot run
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert rc("--target", "127.0.0.1:7000", "--duration", "0.1",
              "--admission", "open", "--pid", str(dead.pid)) == 1


def main():
    for t in (test_exit_codes, test_silent_target, test_closed_port,
              test_partial_loss, test_known_delay, test_cpu,
              test_slow_handshake, test_readmission, test_refused,
              test_no_handshake):
        t()
        print(t.__name__ + ": ok")


if __name__ == "__main__":
    main()
