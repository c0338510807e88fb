# SPDX-License-Identifier: Apache-2.0
"""Scale: a 10,000-server configuration validates quickly and an error at
its very end is still reported with file:line; 200 servers run under one
ringfleetd on this machine, each relaying, with status and shutdown
working at that size."""
import json
import os
import selectors
import socket
import subprocess
import tempfile
import time

import rftest
from fleetlib import Daemon, binary, check, free_port_block, pid_alive, wait_for

FLEET = 200


def check_big_config():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.ini")
        with open(path, "w") as f:
            f.write("[supervisor]\nmax_per_cpu = 4096\n[defaults]\nbind = 127.0.0.1\n")
            for i in range(100):
                f.write("[pool p%d]\nports = %d-%d\n" % (i, 20000 + i * 100, 20099 + i * 100))
        t0 = time.monotonic()
        p = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        check(p.returncode == 0 and "10000 servers" in p.stdout, "10,000 servers: %s%s" % (p.stdout, p.stderr))
        with open(path, "a") as f:
            f.write("[server late]\nport = 20000\n")
        p = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and "%s:205:" % path in p.stderr and "20000" in p.stderr,
              "collision at the end: " + p.stderr)
        print("10,000-server config checked in %.2fs" % took)


def run_fleet():
    base = free_port_block(FLEET)
    ini = "[pool big]\nports = %d-%d\nrecv_buffers = 64\n" % (base, base + FLEET - 1)
    # Sanitized workers starting 200 at once on 2 cores can take longer
    # than the 5 s start timeout (max(hang_timeout_ms, 5 s)) to be ready.
    sup = "max_per_cpu = %d\n" % FLEET
    if rftest.sanitized():
        sup += "hang_timeout_ms = 15000\n"
    with Daemon(ini, sup) as d:
        t0 = time.monotonic()
        st = d.wait_running(timeout=120)
        up = time.monotonic() - t0
        check(len(st["servers"]) == FLEET, "%d servers" % len(st["servers"]))
        pids = [s["pid"] for s in st["servers"]]
        # one client per server, all admitted at once (admission = cookie)
        cs, servers = [], [("127.0.0.1", p) for p in range(base, base + FLEET)]
        for _ in servers:
            cs.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            cs[-1].bind((rftest.loopback_source(), 0))
        res = rftest.admit_all(cs, servers, timeout=20)
        check(res == ["welcome"] * FLEET, "%d of %d servers admitted their client: %s"
              % (res.count("welcome"), FLEET, [r for r in res if r != "welcome"][:3]))
        for c, srv in zip(cs, servers):
            c.sendto(b"%d" % srv[1], srv)
        got = set()
        sel = selectors.DefaultSelector()
        for c in cs:
            sel.register(c, selectors.EVENT_READ)
        end = time.monotonic() + 5
        while len(got) < FLEET and time.monotonic() < end:
            for key, _ in sel.select(0.1):
                data, src = key.fileobj.recvfrom(64)
                if not base <= src[1] < base + FLEET or rftest.is_handshake(data):
                    continue  # a stale peer of another test that had our port
                check(data == b"%d" % src[1], "server %d relayed %r" % (src[1], data))
                got.add(src[1])
        sel.close()
        for c in cs:
            c.close()
        check(len(got) == FLEET, "%d of %d servers relayed" % (len(got), FLEET))
        # Several 1 Hz health rounds over 200 ticking workers: none may be
        # taken for hung (a worker ticking mid-round once looked 2^64 ns old).
        time.sleep(3.5)
        t1 = time.monotonic()
        rc, out, _ = d.ctl("--json", "status")
        status_ms = (time.monotonic() - t1) * 1e3
        check(rc == 0 and len(json.loads(out)["servers"]) == FLEET, "status at scale")
        restarted = [s["name"] for s in json.loads(out)["servers"] if s["restarts"]]
        check(not restarted, "healthy workers restarted: %s" % restarted[:5])
        with open("/proc/%d/status" % d.proc.pid) as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        t2 = time.monotonic()
        check(d.stop(timeout=60) == 0, "exit code")
        down = time.monotonic() - t2
        wait_for(lambda: not any(pid_alive(p) for p in pids), 10, "workers to be gone")
        print("%d servers: all running in %.1fs, status in %.0f ms, ringfleetd RSS %d kB, "
              "stopped in %.1fs" % (FLEET, up, status_ms, rss, down))


def main():
    check_big_config()
    run_fleet()
    print("ok")


if __name__ == "__main__":
    main()
