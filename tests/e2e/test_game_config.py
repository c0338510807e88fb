# SPDX-License-Identifier: Apache-2.0
"""Game modules in the configuration, end to end (issue 12, item 2).

- Path safety: ringfleetd --check refuses a module path that is missing,
  group-writable or in a world-writable directory, with file:line: game:.
- The module probe: --check runs `WORKER --check-game PATH` once per
  distinct module in a child and reports a refusal at the line game was
  set on; a probe that hangs is killed after 5 s ("timed out loading").
  A stand-in worker (a shell script, --worker) plays the verdicts, so
  this part needs no module.
- A reload naming a module that does not load (here: an empty file) is
  refused whole: servers and pids unchanged.
- drain_timeout_ms at or above stop_timeout_ms is refused, naming both.

Module files live in rftest.safe_dir() (under the build tree, home or
/run): /tmp, world-writable, is exactly what the path check refuses.
"""
import os
import shutil
import subprocess
import tempfile
import time

import rftest
from fleetlib import Daemon, binary, check, free_udp_ports

FAKE_WORKER = """#!/bin/sh
# $1 = --check-game, $2 = PATH
case "$2" in
*good.so) exit 0 ;;
*noentry.so) echo "$2: undefined symbol ringfleet_game" >&2; exit 2 ;;
*abi.so) echo "$2: ABI version 99, expected 1" >&2; exit 2 ;;
*hang.so) exec sleep 60 ;;
esac
echo "$2: unexpected" >&2
exit 2
"""


def check_cmd(path, worker=None, timeout=30):
    cmd = [binary("ringfleetd"), "--check"]
    if worker:
        cmd += ["--worker", worker]
    p = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def ini(servers):
    """servers: (name, port, game or None); returns (text, {name: line of its game})."""
    lines, where = ["[defaults]", "bind = 127.0.0.1"], {}
    for name, port, game in servers:
        lines += ["[server %s]" % name, "port = %d" % port]
        if game:
            lines.append("game = %s" % game)
            where[name] = len(lines)
    return "\n".join(lines) + "\n", where


def path_safety(tmp, ports):
    mod = os.path.join(tmp, "good.so")
    write(mod, "")
    cfg = os.path.join(tmp, "t.ini")
    text, where = ini([("a", ports[0], None), ("b", ports[1], mod)])
    write(cfg, text)
    # A worker that says yes: only the file checks are under test here.
    yes = os.path.join(tmp, "yes.sh")
    write(yes, "#!/bin/sh\nexit 0\n", 0o755)
    rc, out = check_cmd(cfg, yes)
    check(rc == 0 and "OK (2 servers)" in out, "safe module refused: %d %r" % (rc, out))

    os.chmod(mod, 0o664)
    rc, out = check_cmd(cfg, yes)
    want = "%s:%d: game: %s is writable by group %d (chmod g-w %s)\n" % (
        cfg, where["b"], mod, os.stat(mod).st_gid, mod)
    check(rc == 1 and out == want, "group-writable module: %d %r, want %r" % (rc, out, want))
    os.chmod(mod, 0o644)

    os.chmod(tmp, 0o1777)
    rc, out = check_cmd(cfg, yes)
    want = "%s:%d: game: %s: directory %s is writable by anyone (chmod o-w %s)\n" % (
        cfg, where["b"], mod, tmp, tmp)
    check(rc == 1 and out == want, "module in a world-writable dir: %d %r" % (rc, out))
    os.chmod(tmp, 0o755)

    missing = os.path.join(tmp, "missing.so")
    text, where = ini([("a", ports[0], missing)])
    write(cfg, text)
    rc, out = check_cmd(cfg, yes)
    want = "%s:%d: game: %s: No such file or directory\n" % (cfg, where["a"], missing)
    check(rc == 1 and out == want, "missing module: %d %r" % (rc, out))


def probe(tmp, ports):
    worker = os.path.join(tmp, "fake-worker.sh")
    write(worker, FAKE_WORKER, 0o755)
    mods = {}
    for m in ("good", "noentry", "abi", "hang"):
        mods[m] = os.path.join(tmp, m + ".so")
        write(mods[m], "")
    cfg = os.path.join(tmp, "p.ini")
    # Three servers share good.so (probed once); the first failure in file
    # order is reported, at the line its game was set on.
    for bad in ("noentry", "abi"):
        text, where = ini([("a", ports[0], mods["good"]), ("b", ports[1], mods["good"]),
                           ("c", ports[2], mods[bad]), ("d", ports[3], mods["good"])])
        write(cfg, text)
        rc, out = check_cmd(cfg, worker)
        reason = "undefined symbol ringfleet_game" if bad == "noentry" else "ABI version 99, expected 1"
        want = "%s:%d: game: %s: %s\n" % (cfg, where["c"], mods[bad], reason)
        check(rc == 1 and out == want, "%s: %d %r, want %r" % (bad, rc, out, want))
    text, where = ini([("a", ports[0], mods["hang"])])
    write(cfg, text)
    t0 = time.monotonic()
    rc, out = check_cmd(cfg, worker)
    took = time.monotonic() - t0
    want = "%s:%d: game: %s: timed out loading (5000 ms)\n" % (cfg, where["a"], mods["hang"])
    check(rc == 1 and out == want and took < 25, "hang: %d %r after %.1fs" % (rc, out, took))
    # Relay only: no probe at all (a worker that cannot run is not asked).
    text, _ = ini([("a", ports[0], None), ("b", ports[1], "relay")])
    write(cfg, text)
    rc, out = check_cmd(cfg, os.path.join(tmp, "no-such-worker"))
    check(rc == 0, "relay-only config probed: %d %r" % (rc, out))


def reload_refused(tmp, ports):
    empty = os.path.join(tmp, "empty.so")
    write(empty, "")
    servers = "[server a]\nport = %d\n" % ports[0]
    with Daemon(servers) as d:
        d.wait_running()
        before = {n: s["pid"] for n, s in d.servers().items()}
        d.write_config(servers + "[server b]\nport = %d\ngame = %s\n" % (ports[1], empty))
        line = open(d.config).read().splitlines().index("game = %s" % empty) + 1
        rc, out, err = d.ctl("reload")
        check(rc == 1 and ("%s:%d: game: %s" % (d.config, line, empty)) in err,
              "reload with an unloadable module: %d %r" % (rc, err))
        check({n: s["pid"] for n, s in d.servers().items()} == before, "failed reload changed servers")
        check(d.stop() == 0, "ringfleetd exit code")


def drain_vs_stop(tmp, ports):
    cfg = os.path.join(tmp, "d.ini")
    write(cfg, "[supervisor]\nstop_timeout_ms = 2000\n[server a]\nport = %d\nbind = 127.0.0.1\n"
          "drain_timeout_ms = 2000\n" % ports[0])
    rc, out = check_cmd(cfg)
    want = '%s:6: drain_timeout_ms: expected less than stop_timeout_ms (2000), got "2000"\n' % cfg
    check(rc == 1 and out == want, "drain >= stop: %d %r" % (rc, out))


def main():
    tmp = tempfile.mkdtemp(prefix="rf-game-config-", dir=rftest.safe_dir())
    os.chmod(tmp, 0o755)
    try:
        ports = free_udp_ports(4)
        path_safety(tmp, ports)
        probe(tmp, ports)
        reload_refused(tmp, ports)
        drain_vs_stop(tmp, ports)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
