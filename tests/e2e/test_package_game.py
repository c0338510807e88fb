# SPDX-License-Identifier: Apache-2.0
"""Issue 12's acceptance: someone with only the .deb and its docs writes,
builds and runs a game module.

cpack builds the .deb from the finished build tree; dpkg-deb unpacks it
into a private root (nothing is installed on the host, no root needed).
tests/package/mygame.c is then built OUT OF TREE, in a directory of its
own, with the command the docs give and the unpacked package's pkg-config
file and header only:

    cc -shared -fPIC mygame.c $(pkg-config --define-prefix --cflags ringfleet-game) -o mygame.so

The unpacked ringfleetd (with its ringfleet-worker next to it) runs it as
`game = /a/safe/dir/mygame.so` on a loopback port, and two Python
clients play: the first hears of the second's join, its own datagram
comes back to it alone, and `ringfleetctl status` shows the module's name,
value and status text.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import rftest
from rftest import check, log, skip

PKG = "ringfleet"


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


def must(cmd, what, **kw):
    p = run(cmd, **kw)
    check(p.returncode == 0, "%s: %s exited %d\n%s%s"
          % (what, " ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


class GameTest:
    def __init__(self):
        self.bin_dir = os.environ.get("RF_BIN_DIR")
        self.src_dir = os.environ.get("RF_SRC_DIR")
        check(self.bin_dir and self.src_dir, "RF_BIN_DIR/RF_SRC_DIR unset: run through ctest")
        self.build_dir = os.path.dirname(os.path.abspath(self.bin_dir))
        self.tmp = tempfile.mkdtemp(prefix="rf-pkg-game-")
        self.safe = None
        self.daemon = None
        self.logf = None

    def version(self):
        with open(os.path.join(self.build_dir, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_PROJECT_VERSION:\w+=(\S+)$", f.read(), re.M)
        check(m, "no project version in %s/CMakeCache.txt" % self.build_dir)
        return m.group(1)

    def unpack(self):
        """The .deb of this build tree, unpacked into self.root."""
        for b in ("ringfleetd", "ringfleet-worker", "ringfleetctl"):
            check(os.access(os.path.join(self.bin_dir, b), os.X_OK),
                  "%s/%s is not built: build the tree before running ctest" % (self.bin_dir, b))
        out = os.path.join(self.tmp, "cpack")
        p = must(["cpack", "-G", "DEB", "-B", out], "cpack", cwd=self.build_dir, timeout=240)
        arch = must(["dpkg", "--print-architecture"], "dpkg").stdout.strip()
        deb = os.path.join(out, "%s_%s_%s.deb" % (PKG, self.version(), arch))
        check(os.path.isfile(deb), "cpack did not make %s:\n%s" % (deb, p.stdout))
        self.root = os.path.join(self.tmp, "root")
        must(["dpkg-deb", "--extract", deb, self.root], "dpkg-deb --extract")
        log("unpacked " + os.path.basename(deb))

    def check_files(self):
        hdr = self.root + "/usr/include/ringfleet/game.h"
        with open(hdr, "rb") as a, \
                open(os.path.join(self.src_dir, "include/ringfleet/game.h"), "rb") as b:
            check(a.read() == b.read(), "%s differs from include/ringfleet/game.h" % hdr)
        for path in ("/usr/share/pkgconfig/ringfleet-game.pc",
                     "/usr/share/man/man3/ringfleet-game.3.gz"):
            check(os.path.isfile(self.root + path), "%s is not in the .deb" % path)
            st = os.stat(self.root + path)
            check(st.st_mode & 0o777 == 0o644, "%s: mode %o" % (path, st.st_mode & 0o777))

    def pkg_config(self, *args):
        # Only the package's pkg-config directory: a ringfleet-game.pc
        # installed on this host must not stand in for it.
        env = dict(os.environ, PKG_CONFIG_LIBDIR=self.root + "/usr/share/pkgconfig",
                   PKG_CONFIG_PATH="")
        return must(["pkg-config", "--define-prefix"] + list(args) + ["ringfleet-game"],
                    "pkg-config", env=env).stdout.strip()

    def build_module(self):
        """mygame.c alone in a directory of its own, compiled with the
        package's flags only: no include path into the source tree."""
        check(self.pkg_config("--modversion") == self.version(), "ringfleet-game.pc: Version")
        check(self.pkg_config("--libs") == "", "ringfleet-game.pc has Libs: a module links nothing")
        cflags = self.pkg_config("--cflags")
        check(cflags == "-I%s/usr/include" % self.root, "pkg-config --cflags: %r" % cflags)
        src = os.path.join(self.tmp, "mygame")
        os.mkdir(src)
        shutil.copy(os.path.join(self.src_dir, "tests/package/mygame.c"), src)
        self.safe = tempfile.mkdtemp(prefix="rf-game-", dir=rftest.safe_dir())
        os.chmod(self.safe, 0o755)
        self.module = os.path.join(self.safe, "mygame.so")
        cc = os.environ.get("CC", "cc")
        env = {k: v for k, v in os.environ.items()
               if k not in ("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH")}
        # The docs' command, plus warnings as errors: the header must not
        # warn in a studio's strict build either.
        cmd = [cc, "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "mygame.c"]
        cmd += cflags.split() + ["-o", self.module]
        must(cmd, "building the module", cwd=src, env=env)
        os.chmod(self.module, 0o644)
        why = rftest.path_unsafe(self.module)
        check(why is None, "the module path fails the path rule: %s" % why)
        log("built %s with %s" % (self.module, cflags))

    def start(self):
        self.port = rftest.free_port()
        sock = os.path.join(self.tmp, "control.sock")
        self.ctl_base = [self.root + "/usr/bin/ringfleetctl", "-s", sock]
        self.config = os.path.join(self.tmp, "ringfleet.ini")
        with open(self.config, "w") as f:
            f.write("[supervisor]\ncontrol_socket = %s\n\n[defaults]\nbind = 127.0.0.1\n\n"
                    "[server mygame]\nport = %d\ngame = %s\ngame_args = pkgtest\n"
                    % (sock, self.port, self.module))
        ringfleetd = self.root + "/usr/bin/ringfleetd"
        p = run([ringfleetd, "--check", self.config])
        check(p.returncode == 0, "ringfleetd --check exited %d: %s%s"
              % (p.returncode, p.stdout, p.stderr))
        self.log_path = os.path.join(self.tmp, "ringfleetd.log")
        self.logf = open(self.log_path, "w")
        self.daemon = subprocess.Popen([ringfleetd, "-c", self.config], stdout=self.logf,
                                       stderr=subprocess.STDOUT, start_new_session=True)

        def running():
            if self.daemon.poll() is not None:
                rftest.fail("ringfleetd exited %d" % self.daemon.returncode)
            p = run(self.ctl_base + ["--json", "status"], timeout=30)
            return p.returncode == 0
        rftest.wait_for(running, 30, "the mygame server running")
        log("ringfleetd from the .deb runs %s on 127.0.0.1:%d" % (self.module, self.port))

    def play(self):
        with rftest.UdpClient(self.port) as a, rftest.UdpClient(self.port) as b:
            a.admit(timeout=10)
            b.admit(timeout=10)
            # b's join is told to the players already there: a, not b.
            want = b"join 2 pkgtest"
            got = rftest.gather([a, b], timeout=10, done=lambda g: want in g[0])
            check(want in got[0], "a never heard of b's join; a got %r" % got[0][:5])
            log("join notice: %r" % want)
            ping = b"ping from a %d" % os.getpid()
            end = time.monotonic() + 10
            while ping not in got[0] and time.monotonic() < end:
                a.send(ping)
                rftest.gather([a, b], timeout=0.5, done=lambda g: ping in g[0], got=got)
            check(ping in got[0], "no echo of a's datagram within 10 s; a got %r" % got[0][:5])
            rftest.gather([a, b], timeout=0.3, got=got)
            check(not got[1], "b got what was not meant for it: %r" % got[1][:5])
            log("echo to the sender only")
            self.check_status()

    def check_status(self):
        """The module's name, value and status text reach ringfleetctl."""
        def shown():
            p = run(self.ctl_base + ["--json", "status", "mygame"], timeout=30)
            if p.returncode != 0:
                return None
            game = json.loads(p.stdout)["servers"][0].get("game", {})
            ok = (game.get("name") == "mygame"
                  and game.get("module") == os.path.realpath(self.module)
                  and game.get("values") == {"players": 2}
                  and game.get("status") == "2 playing")
            return game if ok else None
        try:
            game = rftest.wait_for(shown, 10, "the game in status", interval=0.2)
        except AssertionError:
            p = run(self.ctl_base + ["--json", "status", "mygame"], timeout=30)
            rftest.fail("status does not show the game as the module set it: %s" % p.stdout)
        log("status shows the game: %r" % game)

    def stop(self):
        self.daemon.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            rftest.fail("ringfleetd did not exit within 30 s of SIGTERM")
        check(rc == 0, "ringfleetd exited %d after SIGTERM" % rc)
        self.daemon = None
        with open(self.log_path) as f:
            text = f.read()
        check("mygame ready on mygame at 50 Hz" in text,
              "the module's init log line is not in ringfleetd's log")

    def main(self):
        try:
            self.unpack()
            self.check_files()
            self.build_module()
            self.start()
            self.play()
            self.stop()
        except BaseException:
            if self.logf:
                with open(self.log_path) as f:
                    print("---- ringfleetd output (tail) ----\n" + f.read()[-4000:],
                          file=sys.stderr)
            raise
        finally:
            if self.daemon and self.daemon.poll() is None:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
            if self.daemon:
                # Workers have process groups of their own and outlive
                # ringfleetd: its session finds them.
                rftest.kill_session(self.daemon.pid)
            if self.logf:
                self.logf.close()
            if self.safe:
                shutil.rmtree(self.safe, ignore_errors=True)
            shutil.rmtree(self.tmp, ignore_errors=True)
        print("ok")


def main():
    for tool in ("cpack", "dpkg", "dpkg-deb", "pkg-config", os.environ.get("CC", "cc")):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    if not shutil.which("dpkg-shlibdeps"):
        skip("dpkg-shlibdeps (dpkg-dev) is not installed; cpack needs it")
    build_dir = os.path.dirname(os.path.abspath(os.environ.get("RF_BIN_DIR", ".")))
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            sanitize = re.search(r"^SANITIZE:\w+=(.*)$", f.read(), re.M)
    except OSError:
        sanitize = None
    if sanitize and sanitize.group(1).strip():
        skip("a sanitizer build (SANITIZE=%s) is not packaged" % sanitize.group(1))
    GameTest().main()


if __name__ == "__main__":
    main()
