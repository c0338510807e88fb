# SPDX-License-Identifier: Apache-2.0
"""Game modules under ringfleetd (issue 12), with real modules from
tests/games:

- status: the relay shows game "relay"; a server running the echo module
  shows its name, values (players=1 ...) and status text in the JSON, in
  the ringfleetctl table's GAME column and in /metrics
  (ringfleet_game_value, ringfleet_drop_output_total,
  ringfleet_sessions_ended_total); a session the module ends is counted;
  a reload switching one server from the relay to the module restarts
  that server only.
- ringfleetd --check loads each module in a child with the real worker
  and refuses one without the entry point (noentry.so) and one with the
  wrong ABI (badabi.so) at the line naming it; a reload adding such a
  server is refused whole.
- Started anyway (start does not probe), a server whose module does not
  load is fatal with the worker's reason, not restarted; the rest run.
"""
import json
import os
import socket
import subprocess
import urllib.request

import rftest
from fleetlib import Daemon, binary, check, free_tcp_port, free_udp_ports, wait_for


def client(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((rftest.loopback_source(), 0))
    s.connect(("127.0.0.1", port))
    rftest.handshake(s, ("127.0.0.1", port))
    s.settimeout(5)
    return s


def recv_data(s):
    while True:
        data = s.recv(2048)
        if not rftest.is_handshake(data):
            return data


def metrics(port):
    return urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()


def line_of(path, text):
    with open(path) as f:
        return next(i + 1 for i, line in enumerate(f) if line.rstrip("\n") == text)


def status_shows_game(echo):
    pr, pe = free_udp_ports(2)
    mport = free_tcp_port()
    servers = "[server r]\nport = %d\n[server e]\nport = %d\ngame = %s\n" % (pr, pe, echo)
    with Daemon(servers, "metrics_listen = 127.0.0.1:%d\n" % mport) as d:
        d.wait_running()
        s = d.servers()
        check(s["r"]["game"]["name"] == "relay" and s["r"]["game"]["module"] == "relay",
              "relay's game: %s" % s["r"]["game"])
        check(s["e"]["game"]["name"] == "echo" and
              s["e"]["game"]["module"] == os.path.realpath(echo), "echo's game: %s" % s["e"]["game"])
        c = client(pe)
        c.send(b"hello")
        check(recv_data(c) == b"hello", "echo did not echo")
        wait_for(lambda: d.servers()["e"]["game"]["values"].get("players") == 1, 10, "players=1")
        g = d.servers()["e"]["game"]
        check(g["status"] == "players 1" and g["values"]["joins"] == 1, "echo's game: %s" % g)

        rc, out, err = d.ctl("status")
        check(rc == 0 and out.splitlines()[1].rstrip().endswith("GAME"), "table header: %r" % out)
        row = next((ln for ln in out.splitlines() if ln.startswith("e ")), "")
        check(row.endswith("echo players=1 joins=1 leaves=0 last_leave=0 (players 1)"),
              "echo's row: %r" % row)
        row = next((ln for ln in out.splitlines() if ln.startswith("r ")), "")
        check(row.rstrip().endswith(" relay"), "relay's row: %r" % row)
        rc, out, err = d.ctl("status", "e")
        check("game.values.players:" in out and "game.status:" in out, "detail view:\n" + out)

        text = metrics(mport)
        for want in ('ringfleet_game_value{server="e",name="players"} 1',
                     'ringfleet_game_value{server="e",name="joins"} 1',
                     'ringfleet_drop_output_total{server="e"} 0',
                     'ringfleet_sessions_ended_total{server="e"} 0',
                     "# TYPE ringfleet_game_value gauge"):
            check(want in text.splitlines(), "/metrics lacks %r" % want)
        check('ringfleet_game_value{server="r"' not in text, "the relay has no values")

        c.send(b"end")  # the echo module ends the session
        wait_for(lambda: d.servers()["e"]["sessions_ended"] == 1, 10, "sessions_ended = 1")
        check('ringfleet_sessions_ended_total{server="e"} 1' in metrics(mport).splitlines(),
              "sessions_ended not in /metrics")
        check(d.servers()["e"]["drop_output"] == 0, "drop_output")
        c.close()

        # Reload with r switched to the echo module: r alone restarts.
        before = {n: s["pid"] for n, s in d.servers().items()}
        d.write_config("[server r]\nport = %d\ngame = %s\n[server e]\nport = %d\ngame = %s\n"
                       % (pr, echo, pe, echo), "metrics_listen = 127.0.0.1:%d\n" % mport)
        rc, out, err = d.ctl("--json", "reload")
        check(rc == 0 and json.loads(out)["changed"] == ["r"], "game reload: %d %s %s" % (rc, out, err))
        wait_for(lambda: d.servers()["r"]["game"]["name"] == "echo", 10, "r running echo")
        after = d.servers()
        check(after["e"]["pid"] == before["e"] and after["r"]["pid"] != before["r"],
              "game change restarted the wrong servers: %s -> %s"
              % (before, {n: s["pid"] for n, s in after.items()}))
        check(d.stop() == 0, "ringfleetd exit code")


def check_refuses(bad):
    """--check with the real worker, each bad module at its line."""
    ports = free_udp_ports(3)
    for name, path in bad.items():
        servers = ("[server a]\nport = %d\n[server b]\nport = %d\ngame = %s\n" % (ports[0], ports[1], path))
        d = Daemon(servers)
        p = subprocess.run([binary("ringfleetd"), "--check", d.config], capture_output=True,
                           text=True, timeout=30)
        want = "%s:%d: game: %s: " % (d.config, line_of(d.config, "game = %s" % path), path)
        out = p.stdout + p.stderr
        check(p.returncode == 1 and out.startswith(want) and out.count("\n") == 1,
              "--check with %s: %d %r, want %r..." % (name, p.returncode, out, want))
        key = "ringfleet_game" if name == "noentry" else "abi"
        check(key in out.lower(), "%s: reason %r lacks %r" % (name, out, key))
    # Reload: refused whole, nothing changes.
    with Daemon("[server a]\nport = %d\n" % ports[0]) as d:
        d.wait_running()
        before = {n: s["pid"] for n, s in d.servers().items()}
        d.write_config("[server a]\nport = %d\n[server b]\nport = %d\ngame = %s\n"
                       % (ports[0], ports[1], bad["badabi"]))
        rc, out, err = d.ctl("reload")
        want = "%s:%d: game: %s: " % (d.config, line_of(d.config, "game = %s" % bad["badabi"]),
                                      bad["badabi"])
        check(rc == 1 and want in err, "reload with a bad module: %d %r" % (rc, err))
        check({n: s["pid"] for n, s in d.servers().items()} == before, "failed reload changed servers")
        check(d.stop() == 0, "ringfleetd exit code")


def start_fatal(bad):
    """Start does not probe: the worker exits 2 and says why in its slot."""
    pa, px = free_udp_ports(2)
    path = bad["noentry"]
    with Daemon("[server a]\nport = %d\n[server x]\nport = %d\ngame = %s\n" % (pa, px, path)) as d:
        wait_for(lambda: d.servers()["x"]["state"] == "fatal", 20, "x fatal")
        x = d.servers()["x"]
        check("configuration error: game %s" % path in x["reason"] and "not restarting" in x["reason"]
              and x["restarts"] == 0, "x: %s (%d restarts)" % (x["reason"], x["restarts"]))
        wait_for(lambda: d.servers()["a"]["state"] == "running", 20, "a running")
        check(x["reason"] in d.log_text(), "fatal reason not logged")
        check(d.stop() == 0, "ringfleetd exit code")


def main():
    echo = rftest.game_path("echo")
    bad = {n: rftest.game_path(n) for n in ("noentry", "badabi")}
    status_shows_game(echo)
    check_refuses(bad)
    start_fatal(bad)
    print("ok")


if __name__ == "__main__":
    main()
