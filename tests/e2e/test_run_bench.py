#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/run_bench.py, shrunk to a smoke run (1 s windows, one repeat, one
server x 10 clients and 20 servers x 10 under ringfleetd) against this
build: every cell must run, ringfleet's with the admission handshake, and
the table must hold the three designs and a CPU ratio to (a) for each
load. Then the arena row (games/arena.so under ringfleetd, 10 players)."""
import json
import os
import re
import subprocess
import sys
import tempfile

from fleetlib import BIN, check, fail, skip

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/run_bench.py")
LOADS = {"10": "10", "20x10": "20 x 10"}
DESIGNS = ["(a) blocking recvfrom + sendto", "(b) io_uring SEND_ZC per packet", "ringfleet"]


def main():
    with tempfile.TemporaryDirectory(prefix="rf-bench-smoke-") as tmp:
        out = os.path.join(tmp, "runs.json")
        p = subprocess.run([sys.executable, SCRIPT, "--loads", ",".join(LOADS), "--repeat", "1",
                            "--duration", "1", "--warmup", "0.5", "--bin-dir", BIN,
                            "--json-out", out], capture_output=True, text=True, timeout=80)
        check(p.returncode == 0, "run_bench.py exited %d:\n%s" % (p.returncode, p.stderr))
        with open(out) as f:
            runs = json.load(f)
    errors = ["%s: %s" % (k, r["error"]) for k, reps in runs.items() for r in reps if "error" in r]
    if any("io_uring unavailable" in e for e in errors):
        skip(errors[0])
    check(not errors, "failed cells: %s" % errors)
    check(len(runs) == len(LOADS) * len(DESIGNS), "cells run: %s" % sorted(runs))
    # ringfleet as deployed (admission = cookie); the references have no handshake
    for k, reps in runs.items():
        want = "cookie" if k.startswith("ringfleet/") else "open"
        check(all(r["admission"]["mode"] == want for r in reps), "%s: admission %s, want %s"
              % (k, [r["admission"] for r in reps], want))

    lines = p.stdout.splitlines()
    check("| design | clients | loss | avg ms | p99 ms | CPU % of a core | CPU ratio to (a) |"
          in lines, "no table header:\n" + p.stdout)
    rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines
            if l.startswith("| (") or l.startswith("| ringfleet")]
    for key, label in LOADS.items():
        got = {r[0]: r for r in rows if r[1] == label}
        want = DESIGNS[:2] + ["ringfleet (ringfleetd)" if "x" in key else "ringfleet"]
        check(sorted(got) == sorted(want), "load %s: rows %s" % (label, sorted(got)))
        check(got[DESIGNS[0]][6] == "1.00", "(a)'s ratio to itself: %s" % got[DESIGNS[0]])
        for r in got.values():
            check(re.fullmatch(r"\d+\.\d\d", r[6]) and re.fullmatch(r"\d+\.\d", r[5]),
                  "row without a CPU figure and ratio: %s" % r)
            check(re.fullmatch(r"\d+\.\d\d", r[3]) and re.fullmatch(r"\d+\.\d\d", r[4]),
                  "row without latencies: %s" % r)
    print(p.stdout)
    arena()
    print("ok")


def arena():
    """The arena row: ringfleetd running games/arena.so, played by
    ringfleet-load --game arena; every snapshot must arrive, acknowledging
    the inputs."""
    p = subprocess.run([sys.executable, SCRIPT, "--loads", "arena10", "--repeat", "1",
                        "--duration", "1", "--warmup", "0.5", "--bin-dir", BIN],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "run_bench.py exited %d:\n%s" % (p.returncode, p.stderr))
    lines = p.stdout.splitlines()
    check("| game | players | snapshot loss | snapshot interval p50 ms | p99 ms "
          "| inputs never acked | input to ack p99 ms | CPU % of a core |" in lines,
          "no arena table:\n" + p.stdout)
    rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines
            if l.startswith("| arena |")]
    check(len(rows) == 1 and rows[0][1] == "10", "arena rows: %s\n%s" % (rows, p.stdout))
    r = rows[0]
    check(r[2] != "failed", "the arena cell failed:\n" + p.stdout)
    check(all(re.fullmatch(r"\d+\.\d\d", x) for x in (r[3], r[4], r[6])),
          "arena row without intervals or ack latency: %s" % r)
    check(re.fullmatch(r"\d+\.\d", r[7]), "arena row without CPU: %s" % r)
    print(p.stdout)


if __name__ == "__main__":
    try:
        main()
    except subprocess.TimeoutExpired as e:
        fail("run_bench.py did not finish in %.0f s" % e.timeout)
