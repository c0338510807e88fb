# SPDX-License-Identifier: Apache-2.0
"""A large start never starves ringfleetd's event loop: with SERVERS
workers to start at once (RF_PACING_SERVERS, default 400, 100 in a
sanitizer build whose workers cost ten times as much; 2000 by hand),
ringfleetd answers a ping within 1 s (2 s in a sanitizer build) throughout, every server reaches
running, and SIGTERM, both once all run and in the middle of a start,
stops everything within stop_timeout_ms. Pings go straight to the
control socket, so a loaded machine's exec time is not counted; workers
tick at 10 Hz so that the test measures the supervisor, not whether the
CPUs can carry the workers."""
import json
import os
import signal
import socket
import subprocess
import time

import rftest
from fleetlib import Daemon, check, free_port_block, pid_alive, wait_for

SERVERS = int(os.environ.get("RF_PACING_SERVERS", "100" if rftest.sanitized() else "400"))
# 18 s before spawns were paced; a sanitizer build forks and execs several
# times slower, and shares the host with the rest of the suite.
PING_MAX_S = 2.0 if rftest.sanitized() else 1.0
# A sanitized worker's exit runs LeakSanitizer over its heap: a hundred of
# them at once on 2 cores take longer than 5 s, and one killed mid-scan
# leaves a partial report that fails the sanitizer pass.
STOP_TIMEOUT_MS = 15000 if rftest.sanitized() else 5000
# Reaping hundreds of exits on a loaded host; a sanitizer build also runs
# LeakSanitizer in every exiting process.
STOP_SLACK_S = 10.0 if rftest.sanitized() else 3.0


def ask(d, line, timeout=30):
    """One request on a fresh connection; returns (reply, seconds)."""
    t0 = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(d.sock)
        s.sendall(line.encode() + b"\n")
        buf = rftest.read_line(s)
    return json.loads(buf), time.monotonic() - t0


def states(d):
    by, pids = {}, []
    for s in ask(d, "status")[0]["servers"]:
        by[s["state"]] = by.get(s["state"], 0) + 1
        if s["pid"]:
            pids.append(s["pid"])
    return by, pids


def start(base):
    ini = ("[pool big]\nports = %d-%d\nrecv_buffers = 16\ntick_hz = 10\n"
           % (base, base + SERVERS - 1))
    sup = "max_per_cpu = %d\nstop_timeout_ms = %d\n" % (max(SERVERS, 64), STOP_TIMEOUT_MS)
    return Daemon(ini, sup).start()


def sigterm(d, what):
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(STOP_TIMEOUT_MS / 1000 + STOP_SLACK_S)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        check(False, "%s: SIGTERM not obeyed within %.1fs" % (what, time.monotonic() - t0))
    check(rc == 0, "%s: exit code %d" % (what, rc))
    return time.monotonic() - t0


def full_start(base):
    with start(base) as d:
        t0 = time.monotonic()
        worst, n, by = 0.0, 0, {}
        while by.get("running", 0) < SERVERS:
            check(time.monotonic() - t0 < 180, "not all running after 180s: %s" % by)
            reply, lat = ask(d, "ping")
            check(reply.get("pong") is True, "ping: %s" % reply)
            worst, n = max(worst, lat), n + 1
            by, pids = states(d)
            check(not by.get("fatal"), "servers went fatal: %s" % by)
            time.sleep(0.1)
        up = time.monotonic() - t0
        check(worst < PING_MAX_S, "a ping took %.2fs during the start" % worst)
        down = sigterm(d, "all running")
        wait_for(lambda: not any(pid_alive(p) for p in pids), 10, "workers to be gone")
    return up, worst, n, down


def stop_mid_start(base):
    with start(base) as d:
        ask(d, "ping")
        by, pids = states(d)
        check(by.get("running", 0) < SERVERS, "the start was over before the SIGTERM: %s" % by)
        down = sigterm(d, "mid-start (%s)" % by)
        wait_for(lambda: not any(pid_alive(p) for p in pids), 10, "workers to be gone")
    return down, by


def main():
    base = free_port_block(SERVERS)
    up, worst, n, down = full_start(base)
    mid, by = stop_mid_start(base)
    print("ok: %d servers: all running in %.1fs, worst of %d pings %.0f ms, SIGTERM -> exit "
          "%.1fs; SIGTERM mid-start (%s) -> exit %.1fs" % (SERVERS, up, n, worst * 1e3, down,
                                                          by, mid))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
