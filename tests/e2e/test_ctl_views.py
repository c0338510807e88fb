# SPDX-License-Identifier: Apache-2.0
"""ringfleetctl's views end to end: `status NAME` prints every field of that
server's JSON as `key: value` lines while globs and `all` keep the table;
state is coloured on a terminal only; every verb has its own help (`help
VERB` and `VERB --help`, exit 0, no daemon needed); -c CONFIG finds the
socket; --watch refreshes."""
import os
import pty
import subprocess
import sys

from fleetlib import Daemon, binary, check, free_udp_ports, send_udp, wait_for

VERBS = ("status", "start", "stop", "restart", "reload", "allocate", "release", "roll", "shutdown",
         "ping", "version", "help")


def flatten(obj, prefix=""):
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def parse_detail(text):
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        check(sep and " " not in key, "detail line not `key: value`: %r" % line)
        check(key not in fields, "detail key %s twice" % key)
        fields[key] = value.strip()
    return fields


def detail_view(d, port):
    n_in = send_udp(port, 7)  # 7 after the handshake's 2 (or more, on a resend)
    wait_for(lambda: d.servers()["v1"]["pkts_in"] == n_in, 10, "v1 to count %d datagrams" % n_in)
    rc, out, err = d.ctl("status", "v1")
    check(rc == 0, "status v1: exit %d %s" % (rc, err))
    check("NAME" not in out and "\033" not in out, "status v1 printed a table or colour:\n" + out)
    fields = parse_detail(out)
    want = flatten(d.servers()["v1"])
    check(set(fields) == set(want), "detail keys differ from JSON: missing %s, extra %s"
          % (sorted(set(want) - set(fields)), sorted(set(fields) - set(want))))
    for key in ("name", "port", "state", "pid", "cpu", "pkts_in", "bytes_in", "tick_hz",
                "restarts", "drops.truncated", "drops.flood"):
        check(fields[key] == str(want[key]), "detail %s = %r, JSON says %r" % (key, fields[key], want[key]))
    check(fields["pkts_in"] == str(n_in), "detail pkts_in %r" % fields["pkts_in"])
    for key in ("tick_ms.p50", "tick_ms.p99", "tick_ms.max", "cpu_pct", "uptime_s", "cpu_seconds"):
        float(fields[key].split()[0])
    for key in ("last_exit", "reason"):
        check(fields[key], "detail %s empty" % key)

    for args in (["status"], ["status", "all"], ["status", "v*"], ["status", "v[1]"]):
        rc, out, _ = d.ctl(*args)
        check(rc == 0 and out.splitlines()[1].startswith("NAME"),
              "%s: wanted the table, got exit %d:\n%s" % (" ".join(args), rc, out))

    rc, _, _ = d.ctl("stop", "v2")
    check(rc == 0, "stop v2")
    rc, out, _ = d.ctl("status", "v2")
    fields = parse_detail(out)
    check(rc == 3 and fields["state"] == "stopped" and fields["pid"] == "0",
          "status of stopped v2: exit %d\n%s" % (rc, out))
    check(fields["last_exit"] != "-", "stopped v2 has no last_exit:\n" + out)
    rc, out, err = d.ctl("status", "nope")
    check(rc == 1 and "no server" in err, "status nope: %d %s" % (rc, err))
    rc, _, _ = d.ctl("start", "v2")
    check(rc == 0, "start v2")


def on_tty(d, *args):
    """Runs ringfleetctl with stdout on a pseudo-terminal; returns (rc, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock] + list(args), stdout=slave,
                         stderr=subprocess.DEVNULL)
    os.close(slave)
    buf = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the child closed its end
            break
        if not chunk:
            break
        buf += chunk
    os.close(master)
    return p.wait(10), buf.decode()


def colours(d):
    rc, out = on_tty(d, "status")
    check(rc == 0 and "\033[32mrunning" in out, "no green state on a terminal: %r" % out)
    rc, out = on_tty(d, "status", "v1")
    check(rc == 0 and "\033[32mrunning" in out, "no green state in the detail view: %r" % out)
    rc, out, _ = d.ctl("status")
    check("\033" not in out, "escape codes into a pipe: %r" % out)


def per_verb_help(d):
    absent = os.path.join(d.dir, "absent.sock")
    rc, overview, _ = d.ctl("--help")
    check(rc == 0, "--help exit %d" % rc)
    for verb in VERBS:
        check("\n  %s" % verb in overview, "--help does not list %s" % verb)
        rc1, out1, err1 = d.ctl("-s", absent, "help", verb)
        rc2, out2, err2 = d.ctl("-s", absent, verb, "--help")
        check(rc1 == 0 and rc2 == 0, "help %s: exit %d / %d (%s%s)" % (verb, rc1, rc2, err1, err2))
        check(out1 == out2, "help %s and %s --help differ" % (verb, verb))
        check(out1.startswith("Usage: ringfleetctl") and (" %s" % verb) in out1.splitlines()[0],
              "help %s: %r" % (verb, out1))
        check(out1 != overview, "help %s printed the overview" % verb)
    rc, out, _ = d.ctl("help")
    check(rc == 0 and out == overview, "plain help differs from --help")
    rc, _, err = d.ctl("help", "frobnicate")
    check(rc == 2 and "frobnicate" in err, "help of an unknown verb: %d %s" % (rc, err))
    rc, _, err = d.ctl("stop")
    check(rc == 2 and "Usage: ringfleetctl" in err and " stop " in err,
          "stop without a name should show stop's usage: %d %s" % (rc, err))


def config_option(d):
    """-c takes the socket from a configuration, over -s; a file that does
    not parse is a usage error (2) with its file:line, and nothing is sent."""
    absent = os.path.join(d.dir, "absent.sock")
    rc, out, err = d.ctl("-s", absent, "-c", d.config, "status")
    check(rc == 0 and "v1 " in out, "-c CONFIG over -s: exit %d %s" % (rc, err))
    bad = os.path.join(d.dir, "bad.ini")
    with open(bad, "w") as f:
        f.write("[supervisor]\ncontrol_mode = rw\n")
    rc, out, err = d.ctl("-c", bad, "ping")
    check(rc == 2 and "%s:2: control_mode" % bad in err and "cannot reach" not in err,
          "-c with a bad file: exit %d %s" % (rc, err))


def watch(d, *args):
    """Runs `-w 0.3 ARGS` for 2.5 s; returns how many times it printed."""
    cmd = ["timeout", "2.5", binary("ringfleetctl"), "-s", d.sock, "-w", "0.3"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    check(p.returncode == 124, "watch ended by itself: %d %s" % (p.returncode, p.stderr))
    check("\033" not in p.stdout, "watch wrote escape codes into a pipe")
    return p.stdout


def watching(d, port):
    out = watch(d, "status")
    n = out.count("ringfleetd pid ")
    check(n >= 3, "watch printed the table %d times in 2.5 s at 0.3 s" % n)
    check(out.count("\nv1 ") == n and out.count("\nv2 ") == n, "a refresh lost rows:\n" + out)

    sender = subprocess.Popen([sys.executable, "-c", "import socket,time\n"
                               "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                               "for i in range(400):\n"
                               " s.sendto(b'x',('127.0.0.1',%d)); time.sleep(0.01)\n" % port])
    try:
        out = watch(d, "status", "v1")
    finally:
        sender.kill()
        sender.wait()
    seen = [int(l.split(":")[1]) for l in out.splitlines() if l.startswith("pkts_in:")]
    check(len(seen) >= 3, "detail watch printed %d times" % len(seen))
    check(seen[-1] > seen[0], "watch did not refresh the numbers: %s" % seen)
    rc, _, err = d.ctl("-w", "1", "stop", "v1")
    check(rc == 2, "--watch with a mutating verb: exit %d %s" % (rc, err))
    rc, _, _ = d.ctl("-w", "0", "status")
    check(rc == 2, "--watch 0 accepted")


def main():
    ports = free_udp_ports(2)
    ini = "".join("[server v%d]\nport = %d\n" % (i + 1, p) for i, p in enumerate(ports))
    with Daemon(ini) as d:
        d.wait_running()
        detail_view(d, ports[0])
        d.wait_running()
        colours(d)
        per_verb_help(d)
        config_option(d)
        watching(d, ports[0])
        check(d.stop() == 0, "ringfleetd exit code")
    print("ok")


if __name__ == "__main__":
    main()
