# SPDX-License-Identifier: Apache-2.0
"""Placement on a configured CPU list, checked against /proc affinity:
balance spreads, pack fills a CPU up to max_per_cpu, explicit pins count,
and a fleet that cannot fit is refused with a clear error."""
import os
import subprocess

from fleetlib import Daemon, binary, check, cpus_allowed, free_udp_ports, SKIP


def placed(sup, servers):
    with Daemon(servers, sup) as d:
        st = d.wait_running()
        out = {}
        for s in st["servers"]:
            check(cpus_allowed(s["pid"]) == str(s["cpu"]), "%s affinity %s != cpu %d" % (
                s["name"], cpus_allowed(s["pid"]), s["cpu"]))
            out[s["name"]] = s["cpu"]
        check(d.stop() == 0, "exit code")
    return out


def main():
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        print("needs CPUs 0 and 1")
        return SKIP
    ports = free_udp_ports(4)
    four = "".join("[server s%d]\nport = %d\n" % (i, p) for i, p in enumerate(ports))

    got = placed("cpus = 0-1\nplacement = balance\n", four)
    check(got == {"s0": 0, "s1": 1, "s2": 0, "s3": 1}, "balance: %s" % got)

    got = placed("cpus = 0-1\nplacement = pack\nmax_per_cpu = 3\n", four)
    check(got == {"s0": 0, "s1": 0, "s2": 0, "s3": 1}, "pack: %s" % got)

    pinned = four.replace("[server s0]\n", "[server s0]\ncpu = 1\n")
    got = placed("cpus = 0-1\nplacement = balance\n", pinned)
    check(got == {"s0": 1, "s1": 0, "s2": 0, "s3": 1}, "balance with a pin: %s" % got)

    got = placed("cpus = 1\n", four)
    check(set(got.values()) == {1}, "cpus = 1: %s" % got)

    d = Daemon(four, "cpus = 0\nplacement = pack\nmax_per_cpu = 2\n")
    p = subprocess.run([binary("ringfleetd"), "-c", d.config], capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "cannot place 4 servers" in p.stderr, "overfull: %d %s" % (p.returncode, p.stderr))
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
