#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/alloc_bench.py, shrunk to a smoke run (20 servers, 10 load
clients, 60 allocations per front end, 1 s of idle status probing)
against this build: both front ends allocate without a failure, the
status probe (a process of its own) reports samples for both windows,
and the tmp directory is removed after a good run."""
import glob
import os
import re
import subprocess
import sys
import tempfile

from fleetlib import BIN, check

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/alloc_bench.py")


def main():
    tmp = tempfile.mkdtemp(prefix="rf-alloc-smoke-")
    p = subprocess.run([sys.executable, SCRIPT, "--servers", "20", "--per-round", "15",
                        "--samples", "60", "--load-clients", "10", "--idle-s", "1",
                        "--status-ms", "20", "--bin-dir", BIN, "--tmp-dir", tmp],
                       capture_output=True, text=True, timeout=150)
    check(p.returncode == 0, "alloc_bench.py exited %d:\n%s%s" % (p.returncode, p.stdout, p.stderr))
    print(p.stdout)
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^\| (ctl|http) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| (\d+)% \|$", p.stdout, re.M)}
    check(sorted(rows) == ["ctl", "http"], "front-end rows: %s" % sorted(rows))
    for front, (p50, p99, mx, failed, _cpu) in rows.items():
        check(failed == "0", "%s: %s allocations failed" % (front, failed))
        check(0 < float(p50) <= float(p99) <= float(mx), "%s: p50 %s p99 %s max %s"
              % (front, p50, p99, mx))
    probe = dict(re.findall(r"^\| (idle|during allocations) \| (\d+) \|", p.stdout, re.M))
    check(sorted(probe) == ["during allocations", "idle"] and all(int(n) > 0 for n in probe.values()),
          "status probe samples: %s" % probe)
    check(re.search(r"^status p99 during / idle: [\d.]+x$", p.stdout, re.M), "no ratio line")
    check(not glob.glob(os.path.join(tmp, "rf-alloc-bench-*")), "run directory left behind")
    os.rmdir(tmp)
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
