# SPDX-License-Identifier: Apache-2.0
"""`ringfleetctl roll` (issue 14, part 4) end to end, one scenario per
argument:

  basic   4 servers with clients (ringfleet-load: the handshake, every
          datagram checked), one of them allocated. `roll --wait` restarts
          the 3 ready ones one at a time in table order (status sampled
          every 50 ms over the control socket: never two servers restarting
          at once), each gets a new worker pid, the clients lose 0
          datagrams; the allocated one keeps its pid, shows roll_pending and
          waiting_for_match (status JSON, the table's summary line,
          /metrics ringfleet_roll_pending) until `release` ends its match,
          whose recycle rolls it; then `roll --wait` exits 0 with one line
          per server, and ringfleetd logged the start, each server, the end.
  self_reset  a game that resets itself: restarted once its match ended
          and it is ready again (same worker until then).
  glob    a roll of a glob touches only the servers it matches; another
          roll while it runs is refused; `roll --wait --timeout` exits 5
          while an allocated server holds the roll up (which goes on); a
          reload that removes that server drops it and ends the roll; a
          stopped server is skipped; no match is an error.
"""
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from fleetlib import Daemon, binary, check, free_tcp_port, free_udp_ports, skip, wait_for
import rftest


def status_raw(d):
    """status over the control socket itself: cheap enough to sample every
    50 ms without starting a process each time."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(d.sock)
        s.sendall(b"status\n")
        buf = rftest.read_line(s)
    return json.loads(buf)


class Sampler(threading.Thread):
    """Every 50 ms: which servers are neither running nor stopped (a worker
    being replaced), and each server's pid."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.stop, self.samples, self.error = d, threading.Event(), [], None

    def run(self):
        try:
            while not self.stop.is_set():
                st = status_raw(self.d)
                busy = [s["name"] for s in st["servers"] if s["state"] in ("starting", "stopping")]
                self.samples.append((time.monotonic(), busy,
                                     {s["name"]: s["pid"] for s in st["servers"]}))
                time.sleep(0.05)
        except Exception as e:  # reported by the main thread
            self.error = e


class Events(threading.Thread):
    """`ringfleetctl events --json`: every process state change, exactly,
    which the 50 ms samples may miss when a restart is quick."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.proc = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "--json", "events"],
                                     stdout=subprocess.PIPE, text=True)
        self.lines = []

    def run(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def finish(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.join(10)

    def most_restarting(self):
        """The most servers between leaving running and running again at
        once, over the stream; and the order in which they left."""
        away, most, order = set(), 0, []
        for ev in self.lines:
            if ev.get("kind") != "process":
                continue
            if ev["from"] == "running":
                away.add(ev["server"])
                order.append(ev["server"])
            elif ev["to"] == "running":
                away.discard(ev["server"])
            most = max(most, len(away))
        return most, order


def roll_lines(out):
    """{name: (old pid, new pid)} from roll --wait's "rolled" lines."""
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^rolled (\S+) \(pid (\d+) -> (\d+)\)$", out, re.M)}


def basic():
    ports = free_udp_ports(4)
    mport = free_tcp_port()
    names = ["g0", "g1", "g2", "g3"]
    servers = "".join("[server %s]\nport = %d\n%s" % (n, p, "labels = role=match\n" if n == "g1" else "")
                      for n, p in zip(names, ports))
    sup = "metrics_listen = 127.0.0.1:%d\n" % mport
    duration = 14
    with Daemon(servers, sup) as d:
        d.wait_running()
        wait_for(lambda: all(s["session"]["state"] == "ready" for s in d.servers().values()),
                 20, "every session ready")
        rc, out, err = d.ctl("--json", "allocate", "--selector", "role=match")
        check(rc == 0 and json.loads(out)["name"] == "g1", "allocate: %d %s %s" % (rc, out, err))
        before = {n: s["pid"] for n, s in d.servers().items()}
        check(d.status()["roll"]["state"] == "idle", "no roll yet")

        load = subprocess.Popen(
            [binary("ringfleet-load"), "--clients", "2", "--interval-ms", "20", "--size", "200",
             "--warmup", "1", "--duration", str(duration), "--json"] +
            sum((["--target", "127.0.0.1:%d" % p] for p in ports), []),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        if load.poll() is not None:
            out, err = load.communicate()
            if "io_uring unavailable" in err:
                skip(err.strip())
            sys.exit("ringfleet-load exited early (%d): %s" % (load.returncode, err))
        sampler = Sampler(d)
        sampler.start()
        events = Events(d)
        events.start()
        wait_for(lambda: d.status()["event_subscribers"] == 1, 10, "the event subscriber")
        t_roll = time.monotonic()
        roll = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "roll", "--wait",
                                 "--timeout", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def idle_rolled():
            st = d.status()
            cur = {s["name"]: s for s in st["servers"]}
            done = all(cur[n]["pid"] != before[n] and cur[n]["state"] == "running" and
                       not cur[n]["roll_pending"] for n in ("g0", "g2", "g3"))
            return done and st
        st = wait_for(idle_rolled, 60, "the 3 ready servers rolled")
        t_idle = time.monotonic() - t_roll
        r = st["roll"]
        cur = {s["name"]: s for s in st["servers"]}
        check(r["state"] == "rolling" and r["id"] == 1 and r["total"] == 4 and r["done"] == 3 and
              r["pending"] == 1 and r["waiting_for_match"] == 1 and r["current"] is None and
              r["started_at"].endswith("Z"), "roll while g1 plays: %s" % r)
        check(cur["g1"]["pid"] == before["g1"] and cur["g1"]["roll_pending"] and
              cur["g1"]["session"]["state"] == "allocated", "g1 untouched: %s" % cur["g1"])
        rc, out, _ = d.ctl("status")
        check(any(l.startswith("roll 1 of \"all\": 3 of 4 rolled, 1 left (1 waiting for a match)")
                  for l in out.splitlines()), "status summary line:\n" + out)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
        check("ringfleet_roll_pending 1\n" in text, "metrics: roll pending 1")
        rc, out, err = d.ctl("roll", "g0")
        check(rc == 1 and "already under way" in err, "second roll: %d %s %s" % (rc, out, err))
        check(roll.poll() is None, "roll --wait returned while g1 plays")

        out, err = load.communicate(timeout=duration + 60)
        check(load.returncode == 0, "ringfleet-load rc %d: %s" % (load.returncode, err))
        lr = json.loads(out)
        print("roll of 3 ready servers: %.1f s; load: sent %d, expected %d, received %d, lost %d"
              % (t_idle, lr["sent"], lr["expected"], lr["received"], lr["lost"]))
        check(t_idle < duration, "the roll (%.1f s) outlasted the load (%d s)" % (t_idle, duration))
        check(lr["lost"] == 0, "%d deliveries lost during the roll" % lr["lost"])
        check(d.servers()["g1"]["pid"] == before["g1"], "g1 kept its worker")

        # The match ends: the recycle is g1's roll.
        rc, out, err = d.ctl("release", "g1")
        check(rc == 0, "release: %d %s" % (rc, err))
        out, err = roll.communicate(timeout=60)
        sampler.stop.set()
        sampler.join(10)
        check(sampler.error is None, "sampler: %r" % sampler.error)
        events.finish()
        most, order = events.most_restarting()
        check(most == 1 and order == ["g0", "g2", "g3", "g1"],
              "events: %d at once, order %s" % (most, order))
        print(out, end="")
        check(roll.returncode == 0, "roll --wait rc %d: %s%s" % (roll.returncode, out, err))
        rolled = roll_lines(out)
        after = {n: s["pid"] for n, s in d.servers().items()}
        check(sorted(rolled) == names, "one rolled line per server: %s" % out)
        for n in names:
            check(rolled[n] == (before[n], after[n]) and after[n] != before[n],
                  "%s: %s, pids %d -> %d" % (n, rolled[n], before[n], after[n]))
        check(out.splitlines()[0].startswith("roll 1: 4 servers queued, 0 skipped"), out)
        check("roll 1 done: 4 rolled, 0 failed, 0 skipped, 0 dropped of 4" in out, out)
        st = d.status()
        check(st["roll"]["state"] == "idle" and st["roll"]["done"] == 4 and
              st["roll"]["finished_at"].endswith("Z"), "roll over: %s" % st["roll"])

        # One at a time, in table order, each only after the last was up.
        worst = max(len(b) for _, b, _ in sampler.samples)
        check(worst <= 1, "two servers restarting at once: %s" %
              [b for _, b, _ in sampler.samples if len(b) > 1][:3])
        changed_at = {}
        for t, _, pids in sampler.samples:
            for n in names:
                if pids.get(n) not in (before[n], 0) and n not in changed_at:
                    changed_at[n] = t
        order = sorted(changed_at, key=changed_at.get)
        check(order == ["g0", "g2", "g3", "g1"], "roll order %s" % order)
        print("%d status samples, at most %d server restarting at once" %
              (len(sampler.samples), worst))
        log = d.log_text()
        for want in ('roll 1 of "all" started', "roll 1: g0 rolled (pid %d -> %d)" %
                     (before["g0"], after["g0"]), "roll 1: g1 rolled", "roll 1 done"):
            check(want in log, "log lacks %r" % want)
        check(d.stop() == 0, "exit code")


def glob():
    ports = free_udp_ports(4)
    names = ["a-1", "a-2", "b-1", "b-2"]

    def config(which):
        return "".join("[server %s]\nport = %d\n%s" % (n, p, "labels = role=m\n" if n == "a-1" else "")
                       for n, p in zip(names, ports) if n in which)
    with Daemon(config(names)) as d:
        d.wait_running()
        wait_for(lambda: all(s["session"]["state"] == "ready" for s in d.servers().values()),
                 20, "every session ready")
        rc, out, err = d.ctl("roll", "nope-*")
        check(rc == 1 and "no server matches" in err, "no match: %d %s" % (rc, err))
        rc, out, err = d.ctl("allocate", "--selector", "role=m")
        check(rc == 0, "allocate: %d %s" % (rc, err))
        before = {n: s["pid"] for n, s in d.servers().items()}

        # a-1 plays: the wait runs out, the roll goes on.
        t0 = time.monotonic()
        rc, out, err = d.ctl("roll", "--wait", "--timeout", "8", "a-*", timeout=60)
        check(rc == 5 and "not done within 8 s" in err, "wait timeout: %d %s %s" % (rc, out, err))
        check(time.monotonic() - t0 < 40, "the timeout was kept")
        check(re.search(r"^rolled a-2 \(pid %d -> \d+\)$" % before["a-2"], out, re.M),
              "a-2 rolled: %s" % out)
        st = d.status()
        cur = {s["name"]: s for s in st["servers"]}
        check(st["roll"]["state"] == "rolling" and st["roll"]["pattern"] == "a-*" and
              st["roll"]["total"] == 2 and st["roll"]["waiting_for_match"] == 1,
              "roll goes on: %s" % st["roll"])
        check(cur["a-1"]["roll_pending"] and cur["a-1"]["pid"] == before["a-1"], "a-1 waits")
        for n in ("b-1", "b-2"):
            check(not cur[n]["roll_pending"] and cur[n]["pid"] == before[n], "%s untouched" % n)
        rc, out, err = d.ctl("roll", "b-*")
        check(rc == 1 and "already under way" in err and "a-*" in err,
              "roll while rolling: %d %s %s" % (rc, out, err))
        rc, out, err = d.ctl("--json", "roll")
        check(rc == 1 and json.loads(out)["code"] == "busy", "busy code: %s" % out)

        # A reload that removes a-1 drops it, and the roll is over.
        d.write_config(config(["a-2", "b-1", "b-2"]))
        rc, out, err = d.ctl("reload")
        check(rc == 0, "reload: %d %s" % (rc, err))
        r = wait_for(lambda: (lambda r: r["state"] == "idle" and r)(d.status()["roll"]), 20,
                     "the roll to end")
        check(r["done"] == 1 and r["dropped"] == 1 and r["total"] == 2, "after reload: %s" % r)

        # A stopped server is skipped.
        rc, out, err = d.ctl("stop", "b-2")
        check(rc == 0, "stop b-2: %d %s" % (rc, err))
        rc, out, err = d.ctl("roll", "--wait", "--timeout", "60", "b-*", timeout=90)
        check(rc == 0, "roll b-*: %d %s %s" % (rc, out, err))
        check("skipped b-2 (stopped)" in out and
              re.search(r"^rolled b-1 \(pid %d -> \d+\)$" % before["b-1"], out, re.M) and
              "1 rolled, 0 failed, 1 skipped, 0 dropped of 2" in out, "roll b-*:\n" + out)
        check(d.servers()["a-2"]["roll_pending"] is False, "a-2 not in the second roll")
        check(d.stop() == 0, "exit code")


def self_reset():
    """A game that resets itself (tests/games session_reset): its match's
    end brings it back to ready with the same worker, so the roll restarts
    it then, not before."""
    port, = free_udp_ports(1)
    game = rftest.game_path("session_reset")
    with Daemon("[server r]\nport = %d\ngame = %s\n" % (port, game)) as d:
        d.wait_running()
        wait_for(lambda: d.servers()["r"]["session"]["state"] == "ready", 20, "r ready")
        rc, out, err = d.ctl("allocate")
        check(rc == 0, "allocate: %d %s" % (rc, err))
        first = d.servers()["r"]["pid"]
        roll = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "roll", "--wait",
                                 "--timeout", "60", "r"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        s = d.servers()["r"]
        check(roll.poll() is None and s["pid"] == first and s["roll_pending"] and
              s["session"]["state"] == "allocated", "r plays on: %s" % s["session"])
        rc, out, err = d.ctl("release", "r")
        check(rc == 0, "release: %d %s" % (rc, err))
        out, err = roll.communicate(timeout=60)
        check(roll.returncode == 0, "roll --wait: %d %s %s" % (roll.returncode, out, err))
        rolled = roll_lines(out)
        s = d.servers()["r"]
        check(rolled.get("r") == (first, s["pid"]) and s["pid"] != first and
              s["session"]["state"] == "ready", "rolled after its match: %s %s" % (out, s))
        log = d.log_text()
        check("r: session allocated -> ready" in log and
              log.index("r: session allocated -> ready") < log.index("roll 1: restarting r"),
              "restarted only once ready again")
        check(d.stop() == 0, "exit code")


if __name__ == "__main__":
    scenarios = {"basic": basic, "glob": glob, "self_reset": self_reset}
    if len(sys.argv) != 2 or sys.argv[1] not in scenarios:
        sys.exit("usage: test_roll.py basic|glob|self_reset")
    scenarios[sys.argv[1]]()
    print("ok")
