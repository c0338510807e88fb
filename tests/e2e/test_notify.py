# SPDX-License-Identifier: Apache-2.0
"""systemd integration against a test-owned NOTIFY_SOCKET: READY=1 with a
STATUS once all workers run, RELOADING=1 then READY=1 around a reload,
WATCHDOG=1 pings when WATCHDOG_USEC is set, STOPPING=1 on SIGTERM."""
import os
import signal
import socket
import time

from fleetlib import Daemon, check, free_udp_ports


def messages(sock, until_pred, timeout):
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until_pred(got):
            break
    return got


def main():
    p1, p2 = free_udp_ports(2)
    d = Daemon("[server n1]\nport = %d\n[server n2]\nport = %d\n" % (p1, p2))
    path = os.path.join(d.dir, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    with d.start({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}):
        got = messages(ns, lambda g: any("READY=1" in m for m in g), 15)
        ready = [m for m in got if "READY=1" in m]
        check(ready, "no READY=1: %r" % got)
        check("STATUS=2 servers: 2 running" in ready[0], "READY without status: %r" % ready[0])
        check(all(s["state"] == "running" for s in d.servers().values()), "READY before all running")

        got = messages(ns, lambda g: sum("WATCHDOG=1" in m for m in g) >= 3, 5)
        check(sum("WATCHDOG=1" in m for m in got) >= 3, "watchdog pings: %r" % got)

        d.proc.send_signal(signal.SIGHUP)
        got = messages(ns, lambda g: any("READY=1" in m for m in g), 10)
        seq = [m for m in got if "RELOADING=1" in m or "READY=1" in m]
        check(len(seq) >= 2 and "RELOADING=1" in seq[0] and "READY=1" in seq[-1],
              "reload sequence: %r" % got)

        d.proc.send_signal(signal.SIGTERM)
        got = messages(ns, lambda g: any("STOPPING=1" in m for m in g), 10)
        check(any("STOPPING=1" in m for m in got), "no STOPPING=1: %r" % got)
        check(d.proc.wait(20) == 0, "exit code")
    print("ok")


if __name__ == "__main__":
    main()
