# SPDX-License-Identifier: Apache-2.0
"""The control socket end to end: every verb and ringfleetctl exit code;
mutating verbs refused to an unprivileged peer while read-only ones and
root succeed; an overlong line, 100 simultaneous connections, an idle
connection and random bytes all leave the daemon serving everyone else."""
import json
import os
import socket
import time

from fleetlib import Daemon, check, free_udp_ports


def raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def ask(s, line):
    if line:
        s.sendall(line if isinstance(line, bytes) else line.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf) if buf else None


def still_serving(d):
    rc, out, err = d.ctl("--json", "ping")
    check(rc == 0 and json.loads(out)["pong"] is True, "daemon stopped serving: %d %s%s" % (rc, out, err))


def verbs_and_exit_codes(d):
    for args, want in ((["ping"], 0), (["version"], 0), (["status"], 0), (["status", "c1"], 0),
                       (["status", "c*"], 0), (["status", "nope"], 1), (["stop", "c2"], 0),
                       (["status"], 3), (["start", "c2"], 0), (["restart", "all"], 0),
                       (["reload"], 0), (["frobnicate"], 2), (["start"], 2), ([], 2)):
        rc, out, err = d.ctl(*args)
        check(rc == want, "ringfleetctl %s: exit %d, wanted %d (%s%s)" % (" ".join(args), rc, want, out, err))
    rc, out, _ = d.ctl("version")
    check(out.strip() == "0.1.0", "version: " + out)
    rc, out, _ = d.ctl("--json", "status", "c1")
    st = json.loads(out)
    check([s["name"] for s in st["servers"]] == ["c1"], "status NAME filter")
    rc, _, err = d.ctl("-s", os.path.join(d.dir, "absent.sock"), "ping")
    check(rc == 4 and "cannot reach" in err, "unreachable: %d %s" % (rc, err))
    rc, out, _ = d.ctl("--help")
    check(rc == 0 and "Exit codes" in out, "--help")


def permissions(d):
    os.chmod(d.dir, 0o755)
    rc, out, err = d.ctl("--json", "status", user="nobody")
    check(rc == 0, "nobody may read status: %d %s %s" % (rc, out, err))
    for verb in (["stop", "c1"], ["reload"], ["shutdown"], ["restart", "all"]):
        rc, out, err = d.ctl("--json", *verb, user="nobody")
        check(rc == 1 and json.loads(out)["error"] == "permission denied",
              "nobody %s: %d %s %s" % (verb, rc, out, err))
    check(all(s["state"] == "running" for s in d.servers().values()), "a refused verb had an effect")
    rc, _, _ = d.ctl("restart", "c1")
    check(rc == 0, "root restart")


def abuse(d):
    s = raw(d.sock)
    s.sendall(b"x" * 5000)
    reply = ask(s, b"")
    check(reply and reply["ok"] is False and "longer than" in reply["error"], "long line: %r" % reply)
    try:
        rest = s.recv(10)
    except ConnectionResetError:  # closed with our excess bytes unread
        rest = b""
    check(rest == b"", "connection kept after an overlong line")
    still_serving(d)

    s = raw(d.sock)
    r = ask(s, os.urandom(3000).replace(b"\n", b"") + b"\n")
    check(r and r["ok"] is False, "junk reply: %r" % r)
    r = ask(s, b"\x00\xff\xfe status\n")
    check(r and r["ok"] is False and "printable" in r["error"], "binary junk: %r" % r)
    check(ask(s, "ping")["ok"] is True, "same connection after junk")
    s.sendall(b"ping\nversion\n")
    buf = b""
    while buf.count(b"\n") < 2:
        buf += s.recv(4096)
    replies = [json.loads(l) for l in buf.splitlines()]
    check(replies[0].get("pong") and replies[1].get("version"), "pipelined requests: %r" % buf)
    s.close()

    conns, refused = [], 0
    for _ in range(100):
        c = raw(d.sock)
        conns.append(c)
    time.sleep(0.3)
    for c in conns:
        c.settimeout(0.05)
        try:
            data = c.recv(200)
            if b"too many connections" in data:
                refused += 1
        except socket.timeout:
            pass
    check(refused == 100 - 64, "refused %d of 100 connections, wanted 36" % refused)
    for c in conns:
        c.close()
    time.sleep(0.2)
    still_serving(d)

    idle = raw(d.sock)
    idle.settimeout(15)
    t0 = time.monotonic()
    check(idle.recv(10) == b"", "idle connection not closed")
    took = time.monotonic() - t0
    check(9.5 <= took <= 12.5, "idle connection closed after %.1fs, wanted ~10s" % took)
    still_serving(d)


def main():
    ports = free_udp_ports(3)
    ini = "".join("[server c%d]\nport = %d\n" % (i + 1, p) for i, p in enumerate(ports))
    with Daemon(ini, "control_mode = 0666\n") as d:
        d.wait_running()
        verbs_and_exit_codes(d)
        d.wait_running()
        permissions(d)
        abuse(d)
        check(all(s["state"] == "running" for s in d.servers().values()), "servers disturbed")
        rc, out, _ = d.ctl("shutdown")
        check(rc == 0, "shutdown verb")
        check(d.proc.wait(20) == 0, "exit code after shutdown")
    print("ok")


if __name__ == "__main__":
    main()
