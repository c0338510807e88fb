# SPDX-License-Identifier: Apache-2.0
"""Reload end to end. An invalid file changes nothing (same pids, traffic
flows) and ringfleetctl reports file:line. A valid one adding, removing
and changing one server each changes exactly those (a changed game_args
restarts its server only), while a client of an unchanged server keeps
receiving every packet, and SIGHUP does the same."""
import json
import signal
import socket
import threading
import time
import urllib.request

import rftest
from fleetlib import Daemon, check, free_tcp_port, free_udp_ports, pid_alive, wait_for


def ini(servers):
    return "".join("[server %s]\nport = %d\n%s" % (n, p, extra) for n, p, extra in servers)


class Echo(threading.Thread):
    """One client sending a numbered packet every 10 ms, counting what
    comes back (its own packets, as the only client of its server)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((rftest.loopback_source(), 0))
        self.s.connect(("127.0.0.1", port))
        rftest.handshake(self.s, ("127.0.0.1", port))
        self.s.settimeout(0.01)
        self.sent, self.got, self.stop = 0, set(), False

    def run(self):
        next_t = time.monotonic()
        while not self.stop:
            if time.monotonic() >= next_t:
                self.s.send(b"%d" % self.sent)
                self.sent += 1
                next_t += 0.01
            try:
                self.take(self.s.recv(64))
            except socket.timeout:
                pass

    def take(self, data):
        if not rftest.is_handshake(data):  # a WELCOME repeated for a resend
            self.got.add(int(data))

    def finish(self):
        self.stop = True
        self.join()
        end = time.monotonic() + 1.0
        self.s.settimeout(0.1)
        while time.monotonic() < end:
            try:
                self.take(self.s.recv(64))
            except socket.timeout:
                break
        return self.sent, len(self.got)


def main():
    pa, pb, pc, pe = free_udp_ports(4)
    base = [("a", pa, ""), ("b", pb, ""), ("c", pc, "")]
    with Daemon(ini(base)) as d:
        d.wait_running()
        before = {n: s["pid"] for n, s in d.servers().items()}
        echo = Echo(pa)
        echo.start()
        time.sleep(0.3)

        # Invalid: nothing changes.
        d.write_config(ini(base) + "[server e]\nport = %d\ntick_hz = fast\n" % pe)
        rc, out, err = d.ctl("reload")
        check(rc == 1, "invalid reload exit code %d" % rc)
        line = open(d.config).read().splitlines().index("tick_hz = fast") + 1
        check("%s:%d: tick_hz" % (d.config, line) in err, "reload error lacks file:line: key: " + err)
        check({n: s["pid"] for n, s in d.servers().items()} == before, "pids changed on a failed reload")
        check("keeping the running configuration" in d.log_text(), "failed reload not logged")

        # Valid: add e, remove b, change c.
        d.write_config(ini([("a", pa, ""), ("c", pc, "tick_hz = 30\n"), ("e", pe, "")]))
        time.sleep(0.5)
        rc, out, err = d.ctl("--json", "reload")
        check(rc == 0, "reload failed: %s %s" % (out, err))
        time.sleep(0.5)
        r = json.loads(out)
        check(r["added"] == ["e"] and r["removed"] == ["b"] and r["changed"] == ["c"]
              and r["unchanged"] == 1, "reload reply: " + out)
        after = d.servers()
        check(set(after) == {"a", "c", "e"}, "servers after reload: %s" % sorted(after))
        check(all(s["state"] == "running" for s in after.values()), "not all running after reload")
        check(after["a"]["pid"] == before["a"], "unchanged server a was restarted")
        check(after["c"]["pid"] != before["c"] and after["c"]["tick_hz"] == 30, "changed server c")
        check(not pid_alive(before["b"]), "removed server b still has a worker")
        check(not pid_alive(before["c"]), "old worker of c still alive")

        # SIGHUP: remove e again.
        d.write_config(ini([("a", pa, ""), ("c", pc, "tick_hz = 30\n")]))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: set(d.servers()) == {"a", "c"}, 10, "SIGHUP reload to remove e")
        check(d.servers()["a"]["pid"] == before["a"], "a restarted by SIGHUP reload")

        # Rename c to r on the same port, and move e (re-added) to b's old
        # port: the sockets the old servers hold are handed over, not
        # rebound (which would fail with EADDRINUSE while they are open).
        mport = free_tcp_port()
        d.write_config(ini([("a", pa, ""), ("r", pc, "tick_hz = 30\n"), ("e", pb, "")]),
                       "metrics_listen = 127.0.0.1:%d\n" % mport)
        rc, out, err = d.ctl("--json", "reload")
        check(rc == 0, "rename/port reload failed: %s %s" % (out, err))
        r = json.loads(out)
        check(sorted(r["added"]) == ["e", "r"] and r["removed"] == ["c"], "rename reply: " + out)
        check(set(d.servers()) == {"a", "r", "e"}, "servers after rename: %s" % sorted(d.servers()))
        for port, name in ((pc, "r"), (pb, "e")):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.bind((rftest.loopback_source(), 0))
                rftest.handshake(c, ("127.0.0.1", port))
                c.settimeout(3)
                c.sendto(name.encode(), ("127.0.0.1", port))
                check(c.recv(64) == name.encode(), "%s does not relay on port %d" % (name, port))
        # metrics_listen added by a reload starts serving.
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read()
        check(b'ringfleet_server_up{server="r"} 1' in body, "metrics after reload")

        # game_args (a worker key like game): only the server whose value
        # changed restarts; the status shows the game's name and module.
        r_pid = d.servers()["r"]["pid"]
        d.write_config(ini([("a", pa, ""), ("r", pc, "tick_hz = 30\ngame_args = round=2\n"),
                            ("e", pb, "")]), "metrics_listen = 127.0.0.1:%d\n" % mport)
        rc, out, err = d.ctl("--json", "reload")
        check(rc == 0, "game_args reload failed: %s %s" % (out, err))
        r = json.loads(out)
        check(r["changed"] == ["r"] and not r["added"] and not r["removed"] and r["unchanged"] == 2,
              "game_args reload reply: " + out)
        wait_for(lambda: d.servers()["r"]["state"] == "running", 10, "r running again")
        after = d.servers()
        check(after["r"]["pid"] != r_pid and after["a"]["pid"] == before["a"],
              "game_args restarted the wrong servers: %s" % {n: s["pid"] for n, s in after.items()})
        for n, s in after.items():
            g = s["game"]
            check(g["module"] == "relay" and g["values"] == {} and g["name"] == "relay",
                  "%s: game %s" % (n, g))
            check(s["drop_output"] == 0 and s["sessions_ended"] == 0, "%s: game counters" % n)

        sent, got = echo.finish()
        print("client of unchanged server: sent %d, received %d through 5 reloads" % (sent, got))
        check(got == sent, "unchanged server lost %d packets during reloads" % (sent - got))
        check(d.stop() == 0, "exit code")
    print("ok")


if __name__ == "__main__":
    main()
