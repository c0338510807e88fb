# SPDX-License-Identifier: Apache-2.0
"""`events` end to end: two subscribers (and ringfleetctl events) see a
restart's process events and an allocation's session events; a subscriber
that never reads is dropped once its buffer is full (a flood of pipelined
drain/undrain host events) while status stays quick and the other
subscriber keeps receiving; the 17th subscriber is refused with a clear
error; the stream ends when ringfleetd exits."""
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from fleetlib import Daemon, binary, check, free_port_block, wait_for

N_SERVERS = 8
SUBS_MAX = 16


class Sub:
    """A raw subscriber on the control socket. Reading ones collect their
    lines in a thread; a stalled one never reads after connecting."""

    def __init__(self, path, read=True, rcvbuf=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(path)
        self.s.sendall(b"events\n")
        self.lines = []
        self.eof = False
        self.lock = threading.Lock()
        if read:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self):
        buf = b""
        self.s.settimeout(None)
        while True:
            try:
                chunk = self.s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.lock:
                    self.eof = True
                return
            buf += chunk
            *done, buf = buf.split(b"\n")
            with self.lock:
                self.lines += [json.loads(l) for l in done]

    def ack(self, timeout=10):
        wait_for(lambda: self.lines or self.eof, timeout, "the reply to events")
        return self.lines[0] if self.lines else None

    def events(self):
        with self.lock:
            return [e for e in self.lines[1:] if "kind" in e]

    def saw(self, server, pairs):
        got = [(e["from"], e["to"]) for e in self.events()
               if e["server"] == server and e["kind"] == "process"]
        return all(p in got for p in pairs)

    def saw_session(self, server, pairs):
        got = [(e["from"], e["to"]) for e in self.events()
               if e["server"] == server and e["kind"] == "session"]
        return all(p in got for p in pairs)

    def close(self):
        # shutdown first: a thread blocked in recv keeps a closed fd open.
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def _read_into(path, out):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s, open(out, "ab", 0) as f:
        s.connect(path)
        s.sendall(b"events\n")
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return
            f.write(chunk)


class ProcSub(Sub):
    """A reading subscriber in a process of its own, appending the raw
    stream to a file (parsed when asked): a thread sharing the GIL with
    the flood's own reader and the status probe, and parsing every line,
    fell behind a flood on a loaded 2-core host and was dropped too."""

    def __init__(self, path):  # pylint: disable=super-init-not-called
        fd, self.file = tempfile.mkstemp(prefix="rf-events-")
        os.close(fd)
        self.lock = threading.Lock()
        self.proc = multiprocessing.get_context("fork").Process(
            target=_read_into, args=(path, self.file), daemon=True)
        self.proc.start()

    @property
    def eof(self):
        return not self.proc.is_alive()

    @property
    def lines(self):
        with open(self.file, "rb") as f:
            done = f.read().split(b"\n")[:-1]
        return [json.loads(l) for l in done]

    def events(self):
        return [e for e in self.lines[1:] if "kind" in e]

    def close(self):
        self.proc.terminate()
        self.proc.join(5)
        os.unlink(self.file)


RESTART = [("running", "stopping"), ("stopping", "starting"), ("starting", "running")]


def subscribers(d):
    return d.status()["event_subscribers"]


def two_subscribers(d, names):
    a, b = Sub(d.sock), Sub(d.sock)
    for s in (a, b):
        ack = s.ack()
        check(ack and ack.get("ok") is True and ack.get("subscribed") is True,
              "events ack: %r" % ack)
    cli = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "events"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cli_json = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "--json", "events"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: subscribers(d) == 4, 10, "4 subscribers")
    target = names[0]
    rc, out, err = d.ctl("restart", target, timeout=60)
    check(rc == 0, "restart: %d %s%s" % (rc, out, err))
    for s in (a, b):
        wait_for(lambda: s.saw(target, RESTART), 10, "the restart's events on both subscribers")
    ev = [e for e in a.events() if e["server"] == target][0]
    check(set(ev) == {"time", "server", "kind", "from", "to", "reason"}, "fields: %r" % ev)
    check(ev["time"].endswith("Z") and len(ev["time"]) == len("2026-01-01T00:00:00.000Z"),
          "time %r is not RFC 3339 UTC with ms" % ev["time"])
    _, _, err = d.ctl("release", "no-such-server")
    if "unknown verb" not in err:
        rc, out, err = d.ctl("--json", "allocate")
        check(rc == 0, "allocate: %d %r %r" % (rc, out, err))
        held = json.loads(out)["name"]
        rc, _, err = d.ctl("release", held)
        check(rc == 0, "release: %r" % err)
        for s in (a, b):
            wait_for(lambda: s.saw_session(held, [("ready", "allocated"),
                                                  ("allocated", "recycling")]),
                     10, "allocate and release as session events on both subscribers")
        d.wait_running(60)
        print("both subscribers saw the allocation and its release")
    time.sleep(0.5)
    outs = []
    for p in (cli, cli_json):
        p.send_signal(signal.SIGINT)
        o, e = p.communicate(timeout=10)
        check(p.returncode == 0, "ringfleetctl events after SIGINT: exit %d %s" % (p.returncode, e))
        outs.append(o)
    check("%s process  running -> stopping" % target.ljust(16) in outs[0],
          "table lines: %r" % outs[0][:400])
    js = [json.loads(l) for l in outs[1].splitlines()]
    check(("running", "stopping") in [(e["from"], e["to"]) for e in js if e["server"] == target],
          "--json lines: %r" % outs[1][:400])
    a.close()
    b.close()
    wait_for(lambda: subscribers(d) == 0, 10, "subscribers gone after close")
    print("two subscribers and ringfleetctl events saw the restart")


def toggle_drain(path, pairs):
    """Pipelines `drain 0` + `undrain` pairs on one connection, reading the
    replies meanwhile: two host events per pair, no process spawned (every
    server is stopped), so the events come as fast as the loop answers.
    Returns how many replies came back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    got = [0]

    def reader():
        while got[0] < 2 * pairs:
            try:
                chunk = s.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            got[0] += chunk.count(b"\n")

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    s.sendall(b"drain 0\nundrain\n" * pairs)
    t.join(60)
    s.close()
    return got[0]


def stalled_subscriber(d, names):
    stalled = Sub(d.sock, read=False, rcvbuf=4096)
    active = ProcSub(d.sock)
    check(active.ack().get("ok") is True, "active subscriber refused")
    wait_for(lambda: subscribers(d) == 2, 10, "2 subscribers")
    # Process events of every server, then a flood of host events.
    rc, out, err = d.ctl("restart", "all", timeout=120)
    check(rc in (0, 1), "restart all: %d %s%s" % (rc, out, err))
    d.wait_running(120)
    rc, out, err = d.ctl("stop", "all", timeout=120)
    check(rc == 0, "stop all: %d %s%s" % (rc, out, err))
    lat = []
    flooding = threading.Event()

    def probe():
        while flooding.is_set():
            t0 = time.monotonic()
            d.status()
            lat.append(time.monotonic() - t0)
            time.sleep(0.05)

    rounds = 0
    while "dropped" not in d.log_text() and rounds < 20:
        flooding.set()
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        n = toggle_drain(d.sock, 500)
        flooding.clear()
        prober.join(30)
        check(n == 1000, "drain/undrain replies: %d of 1000" % n)
        rounds += 1
    worst = max(lat) if lat else 0.0
    check("dropped" in d.log_text(), "the stalled subscriber was never dropped in %d rounds"
          % rounds)
    # A loaded 2-core machine: loose, but a loop blocked on the stalled
    # reader would hang status for good.
    check(lat and worst < 2.0, "status took %.2fs while events flowed" % worst)
    wait_for(lambda: subscribers(d) == 1, 10, "the stalled subscriber gone")
    rc, out, err = d.ctl("start", "all", timeout=120)
    check(rc in (0, 1), "start all: %d %s%s" % (rc, out, err))
    d.wait_running(120)
    # What the stalled one gets when it finally reads: whole lines, then
    # the end of the stream (the last line is {"dropped":true} when its
    # socket had room for it).
    data = b""
    stalled.s.settimeout(10)
    while True:
        chunk = stalled.s.recv(65536)
        if not chunk:
            break
        data += chunk
    lines = data.split(b"\n")
    check(lines[-1] == b"", "the stalled subscriber's stream ends mid-line")
    parsed = [json.loads(l) for l in lines[:-1]]
    check(parsed[0].get("ok") is True, "no ack first")
    if parsed[-1] == {"dropped": True}:
        print("the stalled subscriber got its {\"dropped\":true} line")
    stalled.close()
    # The other subscriber is unaffected and still receiving.
    check(not active.eof and not any(e.get("dropped") for e in active.lines),
          "the reading subscriber was dropped too")
    n_before = len(active.events())
    rc, _, _ = d.ctl("restart", names[1], timeout=60)
    check(rc == 0, "restart after the drop")
    wait_for(lambda: len(active.events()) >= n_before + 3, 10, "events after the drop")
    active.close()
    wait_for(lambda: subscribers(d) == 0, 10, "subscribers gone")
    print("stalled subscriber dropped after %d rounds of 1000 host events; status worst "
          "%.0f ms of %d; the other kept up" % (rounds, worst * 1000, len(lat)))


def subscriber_limit(d):
    subs = [Sub(d.sock) for _ in range(SUBS_MAX)]
    for s in subs:
        check(s.ack().get("ok") is True, "subscriber within the limit refused")
    extra = Sub(d.sock)
    ack = extra.ack()
    check(ack and ack.get("ok") is False and "too many event subscribers" in ack.get("error", ""),
          "17th subscriber: %r" % ack)
    extra.close()
    rc, out, err = d.ctl("events", timeout=10)
    check(rc == 1 and "too many event subscribers" in err,
          "ringfleetctl events over the limit: %d %r %r" % (rc, out, err))
    rc, _, _ = d.ctl("ping")
    check(rc == 0, "ping with 16 subscribers")
    for s in subs:
        s.close()
    wait_for(lambda: subscribers(d) == 0, 10, "subscribers gone")
    again = Sub(d.sock)
    check(again.ack().get("ok") is True, "a subscriber after the others left")
    again.close()
    print("subscriber limit: 16 accepted, the 17th refused")


def talker_closed(d):
    """A subscriber only listens: a request after `events` closes it."""
    s = Sub(d.sock)
    check(s.ack().get("ok") is True, "subscriber refused")
    s.s.sendall(b"status\n")
    wait_for(lambda: s.eof, 10, "a subscriber that sent a request closed")
    s.close()
    wait_for(lambda: subscribers(d) == 0, 10, "subscribers gone")
    print("a subscriber that sends a request is closed")


def closes_at_exit(d):
    s = Sub(d.sock)
    check(s.ack().get("ok") is True, "subscriber refused")
    cli = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "events"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: subscribers(d) == 2, 10, "2 subscribers")
    check(d.stop() == 0, "ringfleetd exit")
    wait_for(lambda: s.eof, 10, "end of stream at shutdown")
    _, e = cli.communicate(timeout=10)
    check(cli.returncode == 1 and "closed" in e, "ringfleetctl events at shutdown: %d %r"
          % (cli.returncode, e))
    got = [(e["from"], e["to"]) for e in s.events()]
    check(("stopping", "stopped") in got, "no stop events before the end: %r" % got[-5:])
    print("supervisor exit: the stream ends, ringfleetctl events exits 1")


def main():
    base = free_port_block(N_SERVERS)
    ini = "[pool p]\nports = %d-%d\ntick_hz = 20\nadmission = open\n" % (
        base, base + N_SERVERS - 1)
    with Daemon(ini) as d:
        d.wait_running(60)
        names = sorted(d.servers())
        two_subscribers(d, names)
        subscriber_limit(d)
        talker_closed(d)
        stalled_subscriber(d, names)
        closes_at_exit(d)


if __name__ == "__main__":
    main()
