#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What replacing ringfleetd costs a running fleet (issue 14).

One ringfleetd with --servers relay servers on 127.0.0.1 (admission open,
so the load needs no handshake), ringfleet-load keeping --clients clients
on each of them, every client checking that every datagram comes back
from every other client. Then, --rounds times each:

  upgrade  `ringfleetctl upgrade` (re-exec in place, nothing changed on
           disk) while a thread pings the control socket back to back:
           the longest any ping took is how long the socket was away;
  crash    SIGKILL of ringfleetd, 1 s of nothing, a new ringfleetd on the
           same configuration: time from its start until it answers with
           every worker adopted.

Reports per kind the medians and worst cases, datagrams lost over the
whole run, and worker restarts and pid changes (both must be 0). Prints
one markdown table. Standard library only; 127.0.0.1 only.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import run_bench  # the same directory: its port and binary helpers

HERE = os.path.dirname(os.path.abspath(__file__))
BIN_DIRS = [os.path.join(HERE, "..", "build", "bin")]


def binary(name):
    p = run_bench.find_bin(BIN_DIRS, name)
    if not p:
        sys.exit("hitless_bench: %s not found in %s (build first, or --bin-dir)"
                 % (name, BIN_DIRS))
    return p


def ctl(sock, *args, timeout=30):
    p = subprocess.run([binary("ringfleetctl"), "-s", sock] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout


def status(sock):
    rc, out = ctl(sock, "--json", "status")
    return json.loads(out) if rc in (0, 3) and out else None


def ping_once(path):
    """One ping on a fresh connection; its time in ms, or None."""
    t0 = time.monotonic()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b"ping\n")
            if not s.recv(256):
                return None
    except OSError:
        return None
    return (time.monotonic() - t0) * 1e3


class Pinger(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.stop, self.worst, self.failed = path, threading.Event(), 0.0, 0

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            ms = ping_once(self.path)
            if ms is None:  # refused or cut: the gap runs until one answers
                self.failed += 1
                time.sleep(0.001)
                ms = (time.monotonic() - t0) * 1e3
            self.worst = max(self.worst, ms)


def start(argv, log):
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_adopted(sock, n, t0, timeout=10):
    while time.monotonic() - t0 < timeout:
        st = status(sock) if os.path.exists(sock) else None
        if st and st["supervisor"]["adopted_workers"] == n:
            return (time.monotonic() - t0) * 1e3
        time.sleep(0.002)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=20)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--bin-dir", action="append", help="where the binaries are")
    a = ap.parse_args()
    if a.bin_dir:
        BIN_DIRS[:] = a.bin_dir
    tmp = tempfile.mkdtemp(prefix="rf-hitless-")
    sock = os.path.join(tmp, "control.sock")
    cfg = os.path.join(tmp, "ringfleet.ini")
    base = run_bench.free_ports(a.servers)
    with open(cfg, "w") as f:
        f.write("[supervisor]\ncontrol_socket = %s\n[defaults]\nbind = 127.0.0.1\n"
                "admission = open\n[pool p]\nports = %d-%d\n"
                % (sock, base, base + a.servers - 1))
    log = open(os.path.join(tmp, "ringfleetd.log"), "w")
    argv = [binary("ringfleetd"), "-c", cfg]
    sessions = []
    d = start(argv, log)
    sessions.append(d.pid)
    try:
        while not (status(sock) if os.path.exists(sock) else None) or \
                any(s["state"] not in ("running", "idle") for s in status(sock)["servers"]):
            time.sleep(0.05)
        before = {s["name"]: s["pid"] for s in status(sock)["servers"]}
        per_round = 3.0
        duration = int(a.rounds * 2 * per_round + 4)
        load = subprocess.Popen([binary("ringfleet-load"), "--target",
                                 "127.0.0.1:%d-%d" % (base, base + a.servers - 1),
                                 "--clients", str(a.clients), "--interval-ms",
                                 str(a.interval_ms), "--size", "100", "--admission", "open",
                                 "--warmup", "1", "--duration", str(duration), "--json"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        gaps, adopt = [], []
        for _ in range(a.rounds):
            p = Pinger(sock)
            p.start()
            time.sleep(0.5)
            rc, _ = ctl(sock, "upgrade")
            time.sleep(0.5)
            p.stop.set()
            p.join()
            if rc != 0:
                sys.exit("upgrade failed")
            gaps.append(p.worst)
            time.sleep(per_round - 1)
        for _ in range(a.rounds):
            d.kill()
            d.wait()
            time.sleep(1)
            t0 = time.monotonic()
            d = start(argv, log)
            sessions.append(d.pid)
            ms = wait_adopted(sock, a.servers, t0)
            if ms is None:
                sys.exit("the new ringfleetd did not adopt every worker")
            adopt.append(ms)
            time.sleep(per_round - 1)
        r = json.loads(load.communicate(timeout=duration + 60)[0])
        st = status(sock)
        after = {s["name"]: s["pid"] for s in st["servers"]}
        restarts = sum(s["restarts"] for s in st["servers"])
        changed = sum(1 for n in before if after.get(n) != before[n])
        print("%d servers x %d clients every %d ms; %d upgrades, then %d SIGKILL + restart "
              "(1 s later)\n" % (a.servers, a.clients, a.interval_ms, a.rounds, a.rounds))
        print("| | median | worst |")
        print("|---|---|---|")
        print("| upgrade: control socket away (longest ping) | %.1f ms | %.1f ms |"
              % (statistics.median(gaps), max(gaps)))
        print("| crash: new ringfleetd start -> every worker adopted | %.1f ms | %.1f ms |"
              % (statistics.median(adopt), max(adopt)))
        print("\ndatagrams: sent %d, deliveries expected %d, received %d, **lost %d**; "
              "worker restarts %d, worker pids changed %d"
              % (r["sent"], r["expected"], r["received"], r["lost"], restarts, changed))
    finally:
        for sid in sessions:
            try:
                os.killpg(sid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()
