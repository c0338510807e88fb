#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side benchmark of the article's two designs and ringfleet.

For each load (1 server x 10/30/50 clients, and 20 servers x 10 clients)
every design is started on free 127.0.0.1 ports, loaded with ringfleet-load
(1024 B every 10 ms per client, 50 Hz ticks) while it measures loss,
latency and the CPU of the design's process tree, then stopped. Each cell
is repeated --repeat times; designs are interleaved within each repeat, in
a rotated order, so that machine noise hits them all alike. Medians are
quoted. Designs whose binary is missing are skipped with a note.

  (a)       ref-blocking   recvfrom thread + tick thread, sendto per packet
  (b)       ref-uring-zc   io_uring, one SEND_ZC per packet per client
  ringfleet ringfleet-worker (one server) / ringfleetd with a [pool] (20)

The arena loads (arena10, arena30) run one ringfleetd server with game =
the example module games/arena (arena.so) and ringfleet-load --game arena:
players send inputs at the tick rate and check a snapshot arrives every
tick acknowledging them. They get a table of their own: CPU of the server,
snapshot loss and interval, inputs never acknowledged.

ringfleet runs with its default admission = cookie, so ringfleet-load's
clients complete the handshake before the run (outside the measured
window, as for any real player); (a) and (b) speak no handshake and are
loaded with --admission open.

Standard library only. Only ever sends to 127.0.0.1 (ringfleet-load's
clients use their own loopback addresses, 127.1.0.1 and up).
"""
import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK_HZ = 50
SIZE = 1024
INTERVAL_MS = 10
LOAD_NICE = -10

# (key, label, servers, clients per server)
LOADS = [
    ("10", "10", 1, 10),
    ("30", "30", 1, 30),
    ("50", "50", 1, 50),
    ("20x10", "20 x 10", 20, 10),
    ("arena10", "arena 10", 1, 10),
    ("arena30", "arena 30", 1, 30),
]
ARENA_ARGS = "size=1000 empty_end_s=30"

DESIGNS = ["a", "b", "ringfleet"]
# ringfleet keeps its default (cookie): measured as deployed. The
# reference servers have no handshake.
ADMISSION = {"a": "open", "b": "open", "ringfleet": "cookie", "arena": "cookie"}
LABEL = {
    "a": "(a) blocking recvfrom + sendto",
    "b": "(b) io_uring SEND_ZC per packet",
    "ringfleet": "ringfleet",
}


def find_bin(dirs, name):
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "%s, %d cores, Linux %s%s" % (model, os.cpu_count() or 0,
                                        platform.release(),
                                        ", " + distro if distro else "")


def free_ports(n):
    """n consecutive UDP ports free on 127.0.0.1 (checked by binding)."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d consecutive free UDP ports" % n)


def bound_ports():
    out = set()
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            addr, port = line.split()[1].split(":")
            if addr == "0100007F":
                out.add(int(port, 16))
    return out


def children(pid):
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid:
            n += 1
    return n


def wait_ready(procs, ports, want_children=0, timeout=10.0):
    """Until every port is bound (and the supervisor has its workers)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError("exited early with %d" % p.returncode)
        if set(ports) <= bound_ports() and (
                not want_children or children(procs[0].pid) >= want_children):
            return
        time.sleep(0.05)
    raise RuntimeError("not ready after %.0f s" % timeout)


def stop(procs, timeout=8.0):
    """SIGTERM, then SIGKILL; returns the exit codes."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(0.1, end - time.monotonic())))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def fleet_config(tmp, base, n):
    path = os.path.join(tmp, "bench.ini")
    with open(path, "w") as f:
        f.write("[supervisor]\n"
                "control_socket = %s\n"
                "[defaults]\n"
                "bind = 127.0.0.1\n"
                "user =\n"
                "tick_hz = %d\n"
                "[pool bench]\n"
                "ports = %d-%d\n" % (os.path.join(tmp, "control.sock"),
                                     TICK_HZ, base, base + n - 1))
    return path


def is_arena(load):
    return load[0].startswith("arena")


def arena_config(tmp, port, module):
    path = os.path.join(tmp, "arena.ini")
    with open(path, "w") as f:
        f.write("[supervisor]\n"
                "control_socket = %s\n"
                "[defaults]\n"
                "bind = 127.0.0.1\n"
                "user =\n"
                "tick_hz = %d\n"
                "[server arena]\n"
                "port = %d\n"
                "game = %s\n"
                "game_args = %s\n" % (os.path.join(tmp, "control.sock"),
                                       TICK_HZ, port, module, ARENA_ARGS))
    return path


def start_design(design, bins, servers, base, tmp, log):
    """Starts design on ports base..base+servers-1; returns the processes
    whose trees carry its CPU, and how many workers the first must fork."""
    common = ["--bind", "127.0.0.1", "--tick-hz", str(TICK_HZ)]
    if design == "arena":
        cfg = arena_config(tmp, base, bins["arena.so"])
        p = subprocess.Popen([bins["ringfleetd"], "-c", cfg, "--worker",
                              bins["ringfleet-worker"]], stdout=log,
                             stderr=log, stdin=subprocess.DEVNULL)
        return [p], 1
    if design == "ringfleet" and servers > 1:
        cfg = fleet_config(tmp, base, servers)
        # --worker: the worker found may live in another build directory
        p = subprocess.Popen([bins["ringfleetd"], "-c", cfg, "--worker",
                              bins["ringfleet-worker"]], stdout=log,
                             stderr=log, stdin=subprocess.DEVNULL)
        return [p], servers
    name = {"a": "ref-blocking", "b": "ref-uring-zc",
            "ringfleet": "ringfleet-worker"}[design]
    procs = []
    for i in range(servers):
        procs.append(subprocess.Popen(
            [bins[name], "--port", str(base + i)] + common,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL))
    return procs, 0


def last_error(logpath):
    """The last error-level line ("<3>...") of a design's log, if any."""
    try:
        with open(logpath, errors="replace") as f:
            errs = [l.strip() for l in f if l.startswith("<3>")]
    except OSError:
        return ""
    return errs[-1] if errs else ""


def run_cell(design, load, bins, args, tmp):
    key, _, servers, clients = load
    base = free_ports(servers)
    ports = list(range(base, base + servers))
    logpath = os.path.join(tmp, "%s-%s.log" % (design, key))
    with open(logpath, "a") as log:
        procs, kids = start_design(design, bins, servers, base, tmp, log)
        try:
            wait_ready(procs, ports, kids)
            rep = run_load(procs, base, servers, clients, bins, args,
                           ADMISSION[design], design == "arena")
        except RuntimeError as e:
            err = last_error(logpath)
            raise RuntimeError(str(e) + ("; log: " + err if err else ""))
        finally:
            codes = stop(procs)
    if any(c != 0 for c in codes):
        rep["note"] = "exit codes on SIGTERM: %s" % codes
    if design == "arena" and not rep["arena"]["snapshots_received"]:
        err = last_error(logpath)
        raise RuntimeError("no snapshot received: is the arena module "
                           "running?" + ("; log: " + err if err else ""))
    return rep


def boost():
    """Runs ringfleet-load at nice -10 where permitted. It stands in for the
    network and remote clients: when a 2-core host is busy with 20 servers'
    ticks it must not be starved, or its own delays count against them."""
    try:
        os.nice(LOAD_NICE)
    except OSError:
        pass


def run_load(procs, base, servers, clients, bins, args, admission, arena):
    target = "127.0.0.1:%d" % base
    if servers > 1:
        target += "-%d" % (base + servers - 1)
    if arena:  # inputs at the tick rate, a snapshot expected every tick
        shape = ["--game", "arena", "--tick-hz", str(TICK_HZ)]
    else:
        shape = ["--size", str(SIZE), "--interval-ms", str(INTERVAL_MS)]
    cmd = [bins["ringfleet-load"], "--target", target, "--clients",
           str(clients)] + shape + ["--warmup", str(args.warmup),
                                    "--duration", str(args.duration),
                                    "--admission", admission, "--json"]
    for p in procs:
        cmd += ["--pid", str(p.pid)]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=args.warmup + args.duration + 60,
                       preexec_fn=boost)
    if r.returncode != 0:
        raise RuntimeError("ringfleet-load rc %d: %s" %
                           (r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def fmt_pct(v):
    if v == 0:
        return "0%"
    return "%.2f%%" % v if v < 10 else "%.1f%%" % v


def fmt(v, nd=2):
    return "n/a" if v is None else "%.*f" % (nd, v)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(results, designs, loads):
    """Median of each metric per (design, load) cell."""
    cells = {}
    for d in designs:
        for load in loads:
            reps = results.get((d, load[0]), [])
            ok = [r for r in reps if "error" not in r]
            if not reps:
                continue
            cells[(d, load[0])] = {
                "runs": len(ok), "failed": len(reps) - len(ok),
                "loss": med([r["loss_pct"] for r in ok]),
                "avg": med([r["latency_ms"]["avg"] for r in ok]),
                "p99": med([r["latency_ms"]["p99"] for r in ok]),
                "cpu": med([r["cpu_pct"] for r in ok]),
                "self": med([r["self_cpu_pct"] for r in ok]),
                "late": max([r["late_sends"] / max(1, r["sent"]) for r in ok],
                            default=0),
                "lag": max([r["send_lag_max_ms"] for r in ok], default=0),
            }
            if d == "arena":
                a = [r["arena"] for r in ok]
                cells[(d, load[0])].update({
                    "ivl50": med([x["snapshot_interval_ms"]["p50"] for x in a]),
                    "ivl99": med([x["snapshot_interval_ms"]["p99"] for x in a]),
                    "unacked": med([x["inputs_unacked"] for x in a]),
                    "wrong": max([x["wrong_player_count"] + x["bad_snapshots"]
                                  for x in a], default=0),
                })
    return cells


def print_table(cells, designs, loads):
    print("| design | clients | loss | avg ms | p99 ms | CPU % of a core "
          "| CPU ratio to (a) |")
    print("|---|---|---|---|---|---|---|")
    for load in loads:
        if is_arena(load):
            continue
        base = cells.get(("a", load[0]), {}).get("cpu")
        for d in designs:
            c = cells.get((d, load[0]))
            if not c:
                continue
            label = LABEL[d]
            if d == "ringfleet" and load[2] > 1:
                label = "ringfleet (ringfleetd)"
            if c["runs"] == 0:
                print("| %s | %s | failed | | | | |" % (label, load[1]))
                continue
            ratio = "n/a"
            if base and c["cpu"] is not None:
                ratio = "%.2f" % (c["cpu"] / base)
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                label, load[1], fmt_pct(c["loss"]), fmt(c["avg"]),
                fmt(c["p99"]), fmt(c["cpu"], 1), ratio))


def print_arena_table(cells, loads):
    """The arena rows: ringfleetd running games/arena (arena.so)."""
    print("| game | players | snapshot loss | snapshot interval p50 ms "
          "| p99 ms | inputs never acked | input to ack p99 ms "
          "| CPU % of a core |")
    print("|---|---|---|---|---|---|---|---|")
    for load in loads:
        c = cells.get(("arena", load[0]))
        if not c:
            continue
        if c["runs"] == 0:
            print("| arena | %d | failed | | | | | |" % load[3])
            continue
        print("| arena | %d | %s | %s | %s | %s | %s | %s |" % (
            load[3], fmt_pct(c["loss"]), fmt(c["ivl50"]), fmt(c["ivl99"]),
            fmt(c["unacked"], 0), fmt(c["p99"]), fmt(c["cpu"], 1)))


def print_notes(cells, results, skipped, loads):
    notes = list(skipped)
    selfcpu = []
    for load in loads:
        vals = [c["self"] for (d, k), c in cells.items()
                if k == load[0] and c["self"] is not None]
        if vals:
            selfcpu.append("%s: %.1f%%" % (load[1], max(vals)))
    if selfcpu:
        notes.append("ringfleet-load's own CPU (highest median per load): "
                     + ", ".join(selfcpu))
    for (d, k), c in sorted(cells.items()):
        if c["late"] > 0.01:
            notes.append("%s %s: ringfleet-load sent up to %.1f%% of packets "
                         "> 1 ms after their slot (max %.1f ms late): the "
                         "offered load was burstier than scheduled; send "
                         "times are stamped when sent, so latency is not "
                         "inflated by it" % (d, k, 100 * c["late"], c["lag"]))
    for (d, k), reps in sorted(results.items()):
        for r in reps:
            if "error" in r:
                notes.append("%s %s failed: %s" % (d, k, r["error"]))
            elif "note" in r:
                notes.append("%s %s: %s" % (d, k, r["note"]))
    for n in notes:
        print("- " + n)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5.0,
                    help="measured seconds per cell (default 5)")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds before each window (default 1)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per cell; medians are quoted (default 3)")
    ap.add_argument("--bin-dir", action="append", default=None,
                    help="where the binaries are; repeatable, first match "
                         "wins (default: build/bin)")
    ap.add_argument("--loads", default=",".join(l[0] for l in LOADS),
                    help="subset of %s" % ",".join(l[0] for l in LOADS))
    ap.add_argument("--json-out", help="also write every run's report here")
    ap.add_argument("--arena", help="the arena module (default: "
                    "games/arena.so next to the bin directory)")
    a = ap.parse_args()
    if a.repeat < 1 or a.duration <= 0 or a.warmup < 0:
        ap.error("--repeat >= 1, --duration > 0, --warmup >= 0")
    keys = a.loads.split(",")
    a.loads = [l for l in LOADS if l[0] in keys]
    if len(a.loads) != len(keys):
        ap.error("--loads: unknown load in %r" % keys)
    if not a.bin_dir:
        a.bin_dir = [os.path.join(HERE, "..", "build", "bin")]
    return a


def locate(args):
    names = ["ringfleet-load", "ref-blocking", "ref-uring-zc",
             "ringfleet-worker", "ringfleetd"]
    bins = {n: find_bin(args.bin_dir, n) for n in names}
    bins["arena.so"] = args.arena or next(
        (p for p in (os.path.join(d, "..", "games", "arena.so")
                     for d in args.bin_dir) if os.path.isfile(p)), None)
    if not bins["ringfleet-load"]:
        sys.exit("ringfleet-load not found in %s" % ", ".join(args.bin_dir))
    skipped, plan = [], {}
    for load in args.loads:
        need = {"a": ["ref-blocking"], "b": ["ref-uring-zc"],
                "ringfleet": ["ringfleet-worker"]}
        if load[2] > 1:
            need["ringfleet"] = ["ringfleetd", "ringfleet-worker"]
        need["arena"] = ["ringfleetd", "ringfleet-worker", "arena.so"]
        plan[load[0]] = []
        for d in (["arena"] if is_arena(load) else DESIGNS):
            missing = [n for n in need[d] if not bins[n]]
            if missing:
                skipped.append("%s skipped for %s: %s not found" %
                               (d, load[1], ", ".join(missing)))
            else:
                plan[load[0]].append(d)
    return bins, plan, skipped


def snapshot(bins, tmp):
    """Copies the binaries, so that a rebuild during the run (build
    directories are shared) cannot swap a design between repeats."""
    os.mkdir(os.path.join(tmp, "bin"))
    out = {}
    for name, path in bins.items():
        if name == "arena.so":
            continue
        if path:
            out[name] = os.path.join(tmp, "bin", name)
            shutil.copy2(path, out[name])
        else:
            out[name] = None
    out["arena.so"] = None
    return out


def unsafe(path):
    """Why ringfleetd would refuse a module in path's directory, or None:
    every directory up to / must be owned by root or us and writable by
    no one else (a temporary directory under /tmp is not: /tmp is)."""
    d = os.path.dirname(os.path.abspath(path))
    while True:
        st = os.stat(d)
        if st.st_uid not in (0, os.geteuid()) or st.st_mode & 0o022:
            return "%s is writable by others or not ours" % d
        if d == "/":
            return None
        d = os.path.dirname(d)


def snapshot_module(path, dirs):
    """Copies the module into a new directory under the first of dirs that
    passes ringfleetd's path checks; returns (copy, directory) or
    (None, why not)."""
    why = "no directory to copy it to"
    for parent in dirs:
        probe = os.path.join(parent, "x")
        why = unsafe(probe) if os.path.isdir(parent) else parent + ": missing"
        if why:
            continue
        d = tempfile.mkdtemp(prefix=".rf-bench-", dir=parent)
        os.chmod(d, 0o755)
        copy = os.path.join(d, "arena.so")
        shutil.copy2(path, copy)
        os.chmod(copy, 0o755)
        return copy, d
    return None, why


def run_all(args, plan, bins, tmp, results):
    for rep in range(args.repeat):
        for load in args.loads:
            order = plan[load[0]]
            order = order[rep % len(order):] + order[:rep % len(order)] \
                if order else []
            for d in order:
                print("run %d/%d: %s, %s" % (rep + 1, args.repeat, d, load[1]),
                      file=sys.stderr, flush=True)
                try:
                    r = run_cell(d, load, bins, args, tmp)
                except (RuntimeError, OSError, ValueError,
                        subprocess.TimeoutExpired) as e:
                    r = {"error": str(e)}
                results.setdefault((d, load[0]), []).append(r)
                time.sleep(0.3)


def main():
    args = parse_args()
    bins, plan, skipped = locate(args)
    results = {}
    with tempfile.TemporaryDirectory(prefix="rf-bench-") as tmp:
        module = bins["arena.so"]
        bins = snapshot(bins, tmp)
        mod_dir = None
        if module and any(plan[k] == ["arena"] for k in plan):
            # the module must pass ringfleetd's path checks, which a
            # copy under /tmp (writable by all) would not
            bins["arena.so"], mod_dir = snapshot_module(
                module, [os.path.dirname(os.path.abspath(module)),
                         os.path.expanduser("~")])
            if not bins["arena.so"]:
                skipped.append("arena skipped: %s" % mod_dir)
                mod_dir = None
                for k in plan:
                    if plan[k] == ["arena"]:
                        plan[k] = []
        try:
            run_all(args, plan, bins, tmp, results)
        finally:
            if mod_dir:
                shutil.rmtree(mod_dir, ignore_errors=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"%s/%s" % k: v for k, v in results.items()}, f, indent=1)
    cells = summarize(results, DESIGNS + ["arena"], args.loads)
    print("Machine: %s" % machine_info())
    relay = [l for l in args.loads if not is_arena(l)]
    arena = [l for l in args.loads if is_arena(l)]
    if relay:
        print("Load: %d B every %d ms per client, %d Hz ticks, %g s measured "
              "after %g s warm-up, median of %d runs; ringfleet-load at nice %d "
              "%s; ringfleet with admission = cookie (clients admitted before "
              "the run), (a) and (b) without a handshake.\n" % (
                  SIZE, INTERVAL_MS, TICK_HZ, args.duration, args.warmup,
                  args.repeat, LOAD_NICE,
                  "(granted)" if os.geteuid() == 0 else "(if permitted)"))
        print_table(cells, DESIGNS, relay)
        print()
    if arena:
        print("Arena: ringfleetd with one server running games/arena "
              "(game_args %s), %d Hz ticks; each player sends an input every "
              "tick and gets a snapshot every tick; %g s measured after %g s "
              "warm-up, median of %d runs.\n" % (
                  ARENA_ARGS, TICK_HZ, args.duration, args.warmup,
                  args.repeat))
        print_arena_table(cells, arena)
        print()
    print_notes(cells, results, skipped, args.loads)


if __name__ == "__main__":
    main()
