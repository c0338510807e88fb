# SPDX-License-Identifier: Apache-2.0
"""ringfleetd end to end: three servers on loopback, ten clients each.
Every client must receive every packet of its own server and nothing of
another; status must show live, pinned workers whose counters match the
traffic; SIGTERM must leave no process behind."""
import os
import selectors
import socket
import time

import rftest
from fleetlib import Daemon, check, cpus_allowed, fail, free_udp_ports, pid_alive, wait_for

CLIENTS = 10
PACKETS = 40          # per client, over ~2 s
INTERVAL = 0.05


def make_clients(port):
    out = []
    for _ in range(CLIENTS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((rftest.loopback_source(), 0))  # players have an address each
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        out.append(s)
    return out


def drain(sel, received, until):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        for key, _ in sel.select(left):
            s = key.fileobj
            while True:
                try:
                    received[key.data].append(s.recv(2048))
                except BlockingIOError:
                    break


def main():
    ports = free_udp_ports(3)
    names = ["alpha", "beta", "gamma"]
    ini = "".join("[server %s]\nport = %d\ntick_hz = 50\n" % (n, p) for n, p in zip(names, ports))
    with Daemon(ini) as d:
        d.wait_running()
        clients = {n: make_clients(p) for n, p in zip(names, ports)}
        sel = selectors.DefaultSelector()
        received = {}
        for n in names:
            for i, s in enumerate(clients[n]):
                received[(n, i)] = []
                sel.register(s, selectors.EVENT_READ, (n, i))
        # Admission (the handshake), then a join, so that every client is
        # known before the counted traffic. pkts_in counts the handshake's
        # datagrams too: as many as each client sent.
        sent = {}
        for n, p in zip(names, ports):
            adms = rftest.admissions(clients[n], ("127.0.0.1", p))
            check(all(a.result == "welcome" for a in adms),
                  "%s admitted %s" % (n, [a.result for a in adms]))
            sent[n] = CLIENTS + sum(a.sent for a in adms)
        for n in names:
            for i, s in enumerate(clients[n]):
                s.send(b"join %s %d" % (n.encode(), i))
        drain(sel, received, time.monotonic() + 0.5)
        for seq in range(PACKETS):
            for n in names:
                for i, s in enumerate(clients[n]):
                    s.send(b"%s %d %d " % (n.encode(), i, seq) + b"x" * 100)
                    sent[n] += 1
            drain(sel, received, time.monotonic() + INTERVAL)
        drain(sel, received, time.monotonic() + 1.0)

        total_rx = {n: 0 for n in names}
        for (n, i), pkts in received.items():
            total_rx[n] += len(pkts)
            data = [p for p in pkts if not p.startswith(b"join")]
            for p in data:
                check(p.split()[0] == n.encode(), "%s client %d got %r from another server" % (n, i, p[:30]))
            want = {(j, seq) for j in range(CLIENTS) for seq in range(PACKETS)}
            got = [(int(p.split()[1]), int(p.split()[2])) for p in data]
            check(len(got) == len(set(got)), "%s client %d got duplicates" % (n, i))
            missing = want - set(got)
            check(not missing, "%s client %d lost %d of %d packets" % (n, i, len(missing), len(want)))

        def counters_settled():
            st = d.servers()
            ok = all(st[n]["pkts_in"] == sent[n] and st[n]["pkts_out"] == total_rx[n] for n in names)
            return st if ok else None
        try:
            st = wait_for(counters_settled, 5, "pkts_in/pkts_out to match the traffic")
        except rftest.CheckFailed:
            st = d.servers()
            fail("counters: %s; sent %s, received %s" % (
                {n: (st[n]["pkts_in"], st[n]["pkts_out"]) for n in names}, sent, total_rx))
        pids = []
        for n, p in zip(names, ports):
            s = st[n]
            check(s["state"] == "running", "%s is %s" % (n, s["state"]))
            check(s["port"] == p, "%s port %d" % (n, s["port"]))
            check(pid_alive(s["pid"]), "%s pid %d is not alive" % (n, s["pid"]))
            check(cpus_allowed(s["pid"]) == str(s["cpu"]),
                  "%s pinned to %s, status says cpu %d" % (n, cpus_allowed(s["pid"]), s["cpu"]))
            check(s["clients"] == CLIENTS, "%s has %d clients" % (n, s["clients"]))
            check(s["bytes_in"] > 0 and s["bytes_out"] >= s["bytes_in"], "%s byte counters" % n)
            check(s["ticks"] > 0 and s["last_tick_age_ms"] < 2000, "%s heartbeat" % n)
            for k in ("uptime_s", "cpu_pct", "rss_kb", "restarts", "tick_hz", "tick_overruns", "drops"):
                check(k in s, "status lacks %s" % k)
            check(set(s["drops"]) >= {"truncated", "max_clients", "no_buffer", "send"}, "drops keys")
            check(s["restarts"] == 0, "%s restarted" % n)
            pids.append(s["pid"])
        sup = d.status()["supervisor"]
        for k in ("pid", "version", "uptime_s", "config", "backend"):
            check(k in sup, "supervisor lacks %s" % k)
        check(sup["pid"] == d.proc.pid, "supervisor pid")
        check(sup["config"] == d.config, "supervisor config path")

        rc, out, _ = d.ctl("status")
        check(rc == 0 and all(n in out for n in names) and "running" in out, "table output:\n" + out)

        check(d.stop() == 0, "ringfleetd exit code on SIGTERM")
        wait_for(lambda: not any(pid_alive(p) for p in pids), 5, "workers to be gone")
        check(not os.path.exists(d.sock), "control socket left behind")
    print("ok: 3 servers x %d clients, %d packets each, 0 loss" % (CLIENTS, PACKETS))


if __name__ == "__main__":
    main()
