# SPDX-License-Identifier: Apache-2.0
"""Soak: N servers under load for M minutes while workers are SIGKILLed at
random and the configuration is reloaded. At the end RSS and fd counts of
ringfleetd and of the workers must be flat, no packet lost (restarts are
lossless by design, so there is no kill-window allowance), no zombie left.

Not part of the default run: ctest skips it unless RF_SOAK_MINUTES is set,
e.g. `RF_SOAK_MINUTES=10 ctest -L soak --output-on-failure`.
Options via environment: RF_SOAK_MINUTES (duration), RF_SOAK_SERVERS (10),
RF_SOAK_KILL_S (mean seconds between kills, 5), RF_SOAK_RELOAD_S (20)."""
import json
import os
import random
import signal
import subprocess
import sys
import time

from fleetlib import Daemon, binary, check, free_udp_ports, pid_alive, SKIP


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def zombies(ppid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == ppid:
            out.append(int(p))
    return out


def sample(d):
    st = d.servers()
    workers = [s["pid"] for s in st.values() if s["pid"]]
    return {"d_rss": rss_kb(d.proc.pid), "d_fds": fds(d.proc.pid),
            "w_rss": max(rss_kb(p) for p in workers if pid_alive(p)),
            "w_fds": max(fds(p) for p in workers if pid_alive(p))}


def main():
    minutes = float(os.environ.get("RF_SOAK_MINUTES", "0"))
    if minutes <= 0:
        print("soak: set RF_SOAK_MINUTES to run")
        return SKIP
    n = int(os.environ.get("RF_SOAK_SERVERS", "10"))
    kill_s = float(os.environ.get("RF_SOAK_KILL_S", "5"))
    reload_s = float(os.environ.get("RF_SOAK_RELOAD_S", "20"))
    ports = free_udp_ports(n + 1)
    loaded = "".join("[server s%d]\nport = %d\n" % (i, p) for i, p in enumerate(ports[:n]))
    extra = "[server spare]\nport = %d\n" % ports[n]
    duration = int(minutes * 60)
    rng = random.Random(int(os.environ.get("RF_SOAK_SEED", "1")))
    with Daemon(loaded, "stable_after_s = 1\n") as d:
        d.wait_running()
        targets = sum((["--target", "127.0.0.1:%d" % p] for p in ports[:n]), [])
        load = subprocess.Popen([binary("ringfleet-load")] + targets +
                                ["--clients", "10", "--size", "256", "--warmup", "2",
                                 "--duration", str(duration), "--json"], stdout=subprocess.PIPE, text=True)
        time.sleep(5)
        first = sample(d)
        kills = reloads = 0
        end = time.monotonic() + duration - 5
        next_kill = time.monotonic() + rng.expovariate(1 / kill_s)
        next_reload = time.monotonic() + reload_s
        with_spare = False
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_kill:
                victim = d.servers()["s%d" % rng.randrange(n)]
                if victim["pid"]:
                    os.kill(victim["pid"], signal.SIGKILL)
                    kills += 1
                next_kill = now + rng.expovariate(1 / kill_s)
            if now >= next_reload:
                with_spare = not with_spare
                d.write_config(loaded + (extra if with_spare else ""), "stable_after_s = 1\n")
                rc, out, err = d.ctl("reload")
                check(rc == 0, "reload %d failed: %s%s" % (reloads, out, err))
                reloads += 1
                next_reload = now + reload_s
            time.sleep(0.1)
        if with_spare:  # compare like with like: the same servers as at first
            d.write_config(loaded, "stable_after_s = 1\n")
            check(d.ctl("reload")[0] == 0, "final reload")
        time.sleep(2)
        last = sample(d)
        out, _ = load.communicate(timeout=duration + 60)
        r = json.loads(out)
        print("soak: %d servers, %.1f min, %d kills, %d reloads" % (n, minutes, kills, reloads))
        print("load: sent %d, received %d of %d, lost %d, p99 %.1f ms" % (
            r["sent"], r["received"], r["expected"], r["lost"], r["latency_ms"]["p99"]))
        print("ringfleetd RSS %d -> %d kB, fds %d -> %d; worker RSS max %d -> %d kB, fds %d -> %d" % (
            first["d_rss"], last["d_rss"], first["d_fds"], last["d_fds"],
            first["w_rss"], last["w_rss"], first["w_fds"], last["w_fds"]))
        check(r["lost"] == 0, "%d deliveries lost" % r["lost"])
        check(last["d_fds"] == first["d_fds"], "ringfleetd fds grew")
        check(last["w_fds"] <= first["w_fds"], "worker fds grew")
        check(last["d_rss"] <= first["d_rss"] * 1.2 + 1024, "ringfleetd RSS grew")
        check(last["w_rss"] <= first["w_rss"] * 1.2 + 1024, "worker RSS grew")
        check(not zombies(d.proc.pid), "zombies: %s" % zombies(d.proc.pid))
        check(all(s["state"] == "running" for s in d.servers().values()), "not all running at the end")
        check(d.stop(timeout=60) == 0, "exit code")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
