# SPDX-License-Identifier: Apache-2.0
"""Helpers for end-to-end tests of ringfleetd: a temporary configuration,
the daemon as a child process, and ringfleetctl calls. Loopback only."""
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile

import rftest

# The harness lives in rftest; these names are re-exported for the tests
# that import them from here.
from rftest import (BIN, SKIP, binary, check, fail, free_port_block,  # noqa: E402,F401
                    free_tcp_port, free_udp_ports, skip, wait_for)


def send_udp(port, n, tag=b"p", admit=True):
    """n datagrams tag000.. from one fresh loopback client (an address of
    its own) to port, after the admission handshake unless admit is false
    (admission = open). Returns how many datagrams reached the server's
    socket in all, handshake included: its pkts_in counts every one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((rftest.loopback_source(), 0))
        sent = rftest.handshake(s, ("127.0.0.1", port)) if admit else 0
        for i in range(n):
            s.sendto(tag + b"%04d" % i, ("127.0.0.1", port))
        return sent + n


def run_load(port, *args, timeout=20):
    """Runs ringfleet-load --json against 127.0.0.1:port with args and
    returns its report. Exits 77 (skip) when io_uring is unavailable to it,
    fails on any other non-zero exit."""
    cmd = [binary("ringfleet-load"), "--target", "127.0.0.1:%d" % port, "--json"]
    r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode == 1 and "io_uring unavailable" in r.stderr:
        skip(r.stderr.strip())
    check(r.returncode == 0, "ringfleet-load rc %d: %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


pid_alive = rftest.pid_alive


def cpus_allowed(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    return None


class Daemon:
    """ringfleetd on a temporary config; use as a context manager."""

    def __init__(self, servers_ini, supervisor_ini="", defaults_ini="bind = 127.0.0.1\n"):
        self.dir = tempfile.mkdtemp(prefix="rf-e2e-")
        self.sock = os.path.join(self.dir, "control.sock")
        self.config = os.path.join(self.dir, "ringfleet.ini")
        self.log = os.path.join(self.dir, "ringfleetd.log")
        self.write_config(servers_ini, supervisor_ini, defaults_ini)
        self.proc = None
        self.sessions = []  # one per start(): see __exit__

    def write_config(self, servers_ini, supervisor_ini="", defaults_ini="bind = 127.0.0.1\n"):
        with open(self.config + ".tmp", "w") as f:
            f.write("[supervisor]\ncontrol_socket = %s\n%s\n" % (self.sock, supervisor_ini))
            f.write("[defaults]\n%s\n%s" % (defaults_ini, servers_ini))
        os.rename(self.config + ".tmp", self.config)

    def start(self, extra_env=None):
        env = dict(os.environ)
        env.update(extra_env or {})
        self.logf = open(self.log, "w")
        # A session of its own: workers outlive a SIGKILLed ringfleetd by
        # design, and its session is how __exit__ finds them.
        self.proc = subprocess.Popen([binary("ringfleetd"), "-c", self.config],
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.sessions.append(self.proc.pid)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None,
                 10, "the control socket")
        if self.proc.poll() is not None:
            fail("ringfleetd exited with %d:\n%s" % (self.proc.returncode, self.log_text()))
        return self

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def ctl(self, *args, user=None, timeout=30):
        """Runs ringfleetctl; returns (exit code, stdout, stderr)."""
        cmd = [binary("ringfleetctl"), "-s", self.sock] + list(args)
        if user:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                   "--clear-groups"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def status(self, *names):
        rc, out, err = self.ctl("--json", "status", *names)
        if rc not in (0, 3):
            fail("status exited %d: %s%s" % (rc, out, err))
        return json.loads(out)

    def servers(self):
        return {s["name"]: s for s in self.status()["servers"]}

    def wait_running(self, timeout=20):
        def all_running():
            rc, out, _ = self.ctl("--json", "status")
            return rc == 0 and json.loads(out)
        return wait_for(all_running, timeout, "every server running")

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("ringfleetd did not exit within %ds of SIGTERM:\n%s" % (timeout, self.log_text()))

    def __enter__(self):
        return self if self.proc else self.start()

    def adopt(self, proc):
        """Takes a ringfleetd the test started itself (which must use
        start_new_session=True) as this daemon's, for status, stop and
        the teardown."""
        self.proc = proc
        self.sessions.append(proc.pid)
        return self

    def kill_all(self):
        """SIGKILLs ringfleetd if still running, then every process left in
        the sessions it ran in: workers do not die with it, and a test
        must not leave them serving for orphan_timeout_s. Returns the
        pids of the workers it had to kill."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        left = []
        for sid in self.sessions:
            left += rftest.kill_session(sid)
        return left

    def __exit__(self, *exc):
        self.kill_all()
        if exc[0] is not None:
            print(self.log_text(), file=sys.stderr)
