# SPDX-License-Identifier: Apache-2.0
"""Workers outlive ringfleetd in every privilege mode (issue 14), and an
orphan does not serve for ever.

serve:  4 servers (as root, 2 of them switched to `user = nobody`), a
        client on each sending every 20 ms; a reload sets orphan_timeout_s
        from 300 to 7, then ringfleetd is SIGKILLed mid-traffic. For 3 s
        after the SIGKILL every datagram is still relayed (0 lost), by the
        same workers; then every worker stops on its own, exit 0, within
        orphan_timeout_s + 3 s of the SIGKILL: the reload reached the slots
        of running workers.
idle:   the same servers with no client, every worker asleep (idle, a
        30 s beat), and a reload from orphan_timeout_s 300 to 3 just
        before the SIGKILL: ringfleetd wakes the sleepers (SIGURG) so every
        worker exits 0 within 3 + 3 s of the SIGKILL, logging "supervisor
        gone", and a new ringfleetd on the same file binds the same ports
        and serves.

The test makes itself a child subreaper so the orphans are reparented to
it and their exit status can be read; the harness kills whatever is left
in ringfleetd's session at teardown."""
import ctypes
import os
import signal
import socket
import time

import rftest
from fleetlib import Daemon, check, free_udp_ports, pid_alive

PR_SET_CHILD_SUBREAPER = 36
SERVE_AFTER_KILL_S = 3.0
RELOADED_S = 7  # > 1 s beat + SERVE_AFTER_KILL_S, with room for a loaded host
IDLE_S = 3
GONE_SLACK_S = 3.0
SEND_EVERY_S = 0.02


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def servers_ini(ports, root):
    return "".join("[server s%d]\nport = %d\n%s" % (i, p, "user = nobody\n" if root and i % 2 else "")
                   for i, p in enumerate(ports))


def relays(port):
    """A client admitted by the handshake gets its datagram relayed back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.bind(("127.0.0.1", 0))
        try:
            rftest.handshake(c, ("127.0.0.1", port), timeout=2)
        except AssertionError:
            return False
        c.settimeout(2)
        c.sendto(b"hello", ("127.0.0.1", port))
        try:
            return c.recvfrom(64)[0] == b"hello"
        except socket.timeout:
            return False


def wait_exits(pids, since, within, reaper):
    """Waits until every pid is gone (reaped by us, or by init when we are
    not a subreaper), at most until since + within. Returns ({pid: exit
    code or None when unknown}, seconds after since the last one went)."""
    codes, last = {}, 0.0
    while len(codes) < len(pids) and time.monotonic() < since + within:
        for p in pids:
            if p in codes:
                continue
            try:
                got, status = os.waitpid(p, os.WNOHANG) if reaper else (0, 0)
                if got:
                    codes[p] = os.waitstatus_to_exitcode(status)
            except ChildProcessError:  # not reparented to us: init reaps it
                reaper = False
            if not reaper and not pid_alive(p):
                codes[p] = None
            if p in codes:
                last = time.monotonic() - since
        time.sleep(0.02)
    return codes, last


def check_orphans_stopped(d, pids, killed_at, timeout_s, reaper, what):
    codes, last = wait_exits(pids, killed_at, timeout_s + GONE_SLACK_S, reaper)
    left = [p for p in pids if p not in codes]
    check(not left, "%s: workers %s still running %.1f s after the SIGKILL (orphan_timeout_s %d)"
          % (what, left, timeout_s + GONE_SLACK_S, timeout_s))
    bad = {p: c for p, c in codes.items() if c not in (0, None)}
    check(not bad, "%s: workers exited %s, not 0" % (what, bad))
    gone = d.log_text().count("supervisor gone for")
    check(gone >= len(pids), "%s: %d of %d workers logged \"supervisor gone\":\n%s"
          % (what, gone, len(pids), d.log_text()))
    return codes, last


def serve(root, reaper):
    ports = free_udp_ports(4)
    ini = servers_ini(ports, root)
    d = Daemon(ini, "orphan_timeout_s = 300\n")
    with d:
        st = d.wait_running()
        pids = sorted(s["pid"] for s in st["servers"])
        clients = [rftest.UdpClient(p) for p in ports]
        for c in clients:
            c.admit()
        d.write_config(ini, "orphan_timeout_s = %d\n" % RELOADED_S)
        rc, out, err = d.ctl("reload")
        check(rc == 0, "reload: %d %s%s" % (rc, out, err))
        sent = [0] * len(clients)
        got = [set() for _ in clients]
        killed_at = None
        t0 = time.monotonic()
        while True:
            now = time.monotonic()
            if killed_at is None and now - t0 >= 1.0:
                os.kill(d.proc.pid, signal.SIGKILL)
                d.proc.wait()
                killed_at = time.monotonic()
            if killed_at is not None and now - killed_at >= SERVE_AFTER_KILL_S:
                break
            for i, c in enumerate(clients):
                c.send(b"%d:%06d" % (i, sent[i]))
                sent[i] += 1
            for i, c in enumerate(clients):
                got[i].update(p for p, _ in c.recv_ready())
            time.sleep(SEND_EVERY_S)
        served = time.monotonic() - killed_at
        # The last datagrams' echoes, still under way.
        for i, late in enumerate(rftest.gather(clients, timeout=2.0, quiet=0.5)):
            got[i].update(late)
        lost = []
        for i in range(len(clients)):
            want = {b"%d:%06d" % (i, n) for n in range(sent[i])}
            lost.append(len(want - got[i]))
        alive = [p for p in pids if pid_alive(p)]
        check(alive == pids, "workers %s died with ringfleetd (root=%s)"
              % (sorted(set(pids) - set(alive)), root))
        check(sum(lost) == 0, "lost %s of %s datagrams in the %.1f s around the SIGKILL"
              % (lost, sent, served + 1.0))
        codes, last = check_orphans_stopped(d, pids, killed_at, RELOADED_S, reaper,
                                            "after the reload to %d s" % RELOADED_S)
        for c in clients:
            c.close()
    rftest.log("serve: %d workers relayed %d datagrams, 0 lost, for %.1f s after the SIGKILL; "
               "all stopped %.1f s after it (orphan_timeout_s %d by reload), exit %s"
               % (len(pids), sum(sent), served, last, RELOADED_S, sorted(set(codes.values()),
                                                                       key=str)))


def idle(root, reaper):
    ports = free_udp_ports(4)
    ini = servers_ini(ports, root)
    d = Daemon(ini, "orphan_timeout_s = 300\n")
    with d:
        st = d.wait_running()
        pids = sorted(s["pid"] for s in st["servers"])
        rftest.wait_for(lambda: all(s["idle"] for s in d.status()["servers"]), 10,
                        "every worker asleep")
        d.write_config(ini, "orphan_timeout_s = %d\n" % IDLE_S)
        rc, out, err = d.ctl("reload")
        check(rc == 0, "reload: %d %s%s" % (rc, out, err))
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        killed_at = time.monotonic()
        codes, last = check_orphans_stopped(d, pids, killed_at, IDLE_S, reaper,
                                            "idle, after the reload to %d s" % IDLE_S)
        d.start()
        d.wait_running()
        for p in ports:
            check(relays(p), "port %d serves under a new ringfleetd" % p)
        check(d.stop() == 0, "exit code")
    rftest.log("idle: %d idle workers stopped %.1f s after the SIGKILL (orphan_timeout_s %d by "
               "reload), "
               "exit %s; a new ringfleetd serves every port"
               % (len(pids), last, IDLE_S, sorted(set(codes.values()), key=str)))


def main():
    root = os.geteuid() == 0
    reaper = become_subreaper()
    if not reaper:
        rftest.log("not a subreaper: exit codes read from the log only")
    serve(root, reaper)
    idle(root, reaper)
    print("ok: workers outlive ringfleetd and stop on their own (%s)"
          % ("half as nobody" if root else "unprivileged"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
