# SPDX-License-Identifier: Apache-2.0
"""Workers die with ringfleetd in every privilege mode: SIGKILL of
ringfleetd leaves no worker behind within about a second, whether the
worker kept root or switched to `user = nobody`, and a new ringfleetd on
the same configuration binds the same ports and serves at once."""
import os
import signal
import socket
import time

import rftest
from fleetlib import Daemon, check, free_udp_ports, pid_alive

# Typically 20-50 ms; a sanitizer build on a loaded host needs longer.
GONE_WITHIN_S = 5.0


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


def main():
    root = os.geteuid() == 0
    ports = free_udp_ports(4)
    ini = "".join("[server s%d]\nport = %d\n%s" % (i, p, "user = nobody\n" if root and i % 2 else "")
                  for i, p in enumerate(ports))
    d = Daemon(ini)
    with d:
        st = d.wait_running()
        pids = [s["pid"] for s in st["servers"]]
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        t0 = time.monotonic()
        while any(pid_alive(p) for p in pids) and time.monotonic() - t0 < GONE_WITHIN_S:
            time.sleep(0.02)
        left = [p for p in pids if pid_alive(p)]
        took = time.monotonic() - t0
        for p in left:
            os.kill(p, signal.SIGKILL)
        check(not left, "workers %s outlived ringfleetd (root=%s)" % (left, root))
        d.start()
        d.wait_running()
        for p in ports:
            check(relays(p), "port %d serves after the restart" % p)
        check(d.stop() == 0, "exit code")
    print("ok: %d workers gone %.0f ms after SIGKILL of ringfleetd (%s)"
          % (len(pids), took * 1e3, "half as nobody" if root else "unprivileged"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
