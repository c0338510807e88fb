# SPDX-License-Identifier: Apache-2.0
"""The .deb, end to end: cpack builds it from the finished build tree,
dpkg installs it, and the INSTALLED ringfleetd runs exactly as
ringfleet.service would run it (ExecStartPre, ExecStart as User=, a
NOTIFY_SOCKET owned by this test, the runtime directory, the unit's
NoNewPrivileges / CapabilityBoundingSet / LimitNOFILE), on the installed
configuration. Then reload, a broken configuration, SIGTERM, and a purge
that must leave nothing behind.

Runs as root only (it installs into the system) and never alongside
another test (RUN_SERIAL, plus a lock against other build trees). Test
traffic goes to 127.0.0.1 only; the shipped configuration may bind
0.0.0.0, which is local to this machine.
"""
import configparser
import fcntl
import fnmatch
import grp
import gzip
import json
import os
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import rftest
from rftest import check, log, skip

PKG = "ringfleet"
UNIT = "/lib/systemd/system/ringfleet.service"
LOCK = "/run/lock/ringfleet-package-test.lock"
# Addresses the shipped configuration may bind: every local address or
# loopback. Anything else would be a specific interface of this host that
# the test has no business opening ports on.
SAFE_BINDS = {"0.0.0.0", "127.0.0.1", "::", "::1"}


def run(cmd, **kw):
    """Runs cmd; returns CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


def must(cmd, what, **kw):
    p = run(cmd, **kw)
    check(p.returncode == 0, "%s: %s exited %d\n%s%s"
          % (what, shlex.join(cmd), p.returncode, p.stdout, p.stderr))
    return p


# ---- the unit file, read the way systemd reads it (the parts used here) --

def parse_unit(path):
    """{key: [values]} of [Service], comments and blank lines dropped."""
    keys, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            keys.setdefault((section, k.strip()), []).append(v.strip())
    return keys


def unit_one(unit, key, section="Service"):
    vals = unit.get((section, key))
    check(vals and len(vals) == 1, "%s: expected one %s=, got %r" % (UNIT, key, vals))
    return vals[0]


def exec_stop(unit):
    """ExecStop= as argv: ringfleetctl ... drain --timeout S, its '-'
    prefix (failure ignored: ringfleetd may be gone) dropped."""
    argv = shlex.split(unit_one(unit, "ExecStop"))
    check(argv[0].startswith("-"), "ExecStop= should ignore a failure: %r" % argv)
    argv[0] = argv[0][1:]
    check(argv[0] == "/usr/bin/ringfleetctl" and argv[-3:-1] == ["drain", "--timeout"],
          "ExecStop: %r" % argv)
    return argv


def seconds(v):
    """systemd time span as used in this unit: '10s', '500ms', '2min', '10'."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min)?", v)
    check(m, "cannot read time span %r" % v)
    return float(m.group(1)) * {"ms": 0.001, "min": 60.0}.get(m.group(2), 1.0)


# ---- the installed configuration ------------------------------------------

def read_config(path):
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"),
                                   comment_prefixes=(";", "#"), interpolation=None,
                                   strict=True, empty_lines_in_values=False)
    cp.read(path)
    return cp


def config_ports(cp):
    ports = []
    for sect in cp.sections():
        if sect.startswith("server "):
            ports.append(int(cp[sect]["port"]))
        elif sect.startswith("pool "):
            lo, hi = cp[sect]["ports"].split("-")
            ports.extend(range(int(lo), int(hi) + 1))
    return ports


def config_server_names(cp):
    names = []
    for sect in cp.sections():
        kind, _, name = sect.partition(" ")
        if kind == "server":
            names.append(name)
        elif kind == "pool":
            lo, hi = cp[sect]["ports"].split("-")
            names.extend("%s-%d" % (name, p) for p in range(int(lo), int(hi) + 1))
    return names


def check_config_is_safe(cp):
    """Binds only local wildcards or loopback; metrics, if on, on loopback."""
    for sect in cp.sections():
        if sect == "supervisor":
            m = cp[sect].get("metrics_listen", "").strip()
            if m:
                host = m.rsplit(":", 1)[0].strip("[]")
                check(host in ("127.0.0.1", "::1"),
                      "installed config serves metrics on %s, not loopback" % m)
            continue
        b = cp[sect].get("bind", None)
        if b is not None:
            check(b in SAFE_BINDS, "installed config: [%s] binds %s" % (sect, b))
    return cp["defaults"].get("bind", "0.0.0.0") if cp.has_section("defaults") else "0.0.0.0"


def port_free(port, bind):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((bind, port))
            return True
        except OSError:
            return False


# ---- sd_notify, from the test's side --------------------------------------

class NotifySocket:
    """A NOTIFY_SOCKET as systemd provides it: a datagram socket that
    records each message with the sender's pid (SCM_CREDENTIALS), so a
    message from anyone but the main process can be told apart
    (NotifyAccess=main)."""

    def __init__(self, directory, uid, gid):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        os.chown(self.path, uid, gid)
        self.msgs = []          # (monotonic time, pid, text)
        self.cv = threading.Condition()
        self.closed = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        ucred = struct.calcsize("3i")
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except OSError:
                return
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:ucred])[0]
            with self.cv:
                self.msgs.append((time.monotonic(), pid, data.decode(errors="replace")))
                self.cv.notify_all()

    def wait(self, pred, timeout, what, since=0.0):
        """Waits for a message m (sent after `since`) with pred(pid, text)."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, pid, text in self.msgs:
                    if t >= since and pred(pid, text):
                        return pid, text
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s on NOTIFY_SOCKET within %.0fs; got %r"
                                         % (what, timeout, self.msgs))
                self.cv.wait(left)

    def close(self):
        self.sock.close()


# ---- dpkg's path filters ----------------------------------------------------

def dpkg_excluded(path):
    """True if dpkg's path-exclude (minimal images drop /usr/share/man and
    /usr/share/doc) keeps path from being unpacked. Last match wins."""
    rules = []
    d = "/etc/dpkg/dpkg.cfg.d"
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        try:
            with open(os.path.join(d, name)) as f:
                for line in f:
                    m = re.match(r"\s*path-(exclude|include)[ =](\S+)", line)
                    if m:
                        rules.append(m.groups())
        except OSError:
            pass
    excluded = False
    for kind, pattern in rules:
        if fnmatch.fnmatchcase(path, pattern):
            excluded = kind == "exclude"
    return excluded


# ---- processes of the service user ------------------------------------------

def pids_of_uid(uid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            out.append(int(d))
                        break
        except OSError:
            pass
    return out


def wait_gone(pids, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = [p for p in pids if os.path.exists("/proc/%d" % p)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


# ---- the test ----------------------------------------------------------------

class PackageTest:
    def __init__(self):
        self.bin_dir = os.environ.get("RF_BIN_DIR")
        self.src_dir = os.environ.get("RF_SRC_DIR")
        check(self.bin_dir and self.src_dir, "RF_BIN_DIR/RF_SRC_DIR unset: run through ctest")
        self.build_dir = os.path.dirname(os.path.abspath(self.bin_dir))
        self.tmp = tempfile.mkdtemp(prefix="rf-pkg-")
        os.chmod(self.tmp, 0o755)     # the service user reaches the notify socket
        self.daemon = None
        self.notify = None
        self.conf_backup = None
        self.files = []
        self.deb_files = set()
        self.uid = self.gid = None

    # -- build ----------------------------------------------------------------

    def version(self):
        with open(os.path.join(self.build_dir, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_PROJECT_VERSION:\w+=(\S+)$", f.read(), re.M)
        check(m, "no project version in %s/CMakeCache.txt" % self.build_dir)
        return m.group(1)

    def build_deb(self, version=None):
        """The .deb of this build tree; with version, the same contents
        labelled as another version (an upgrade to install over it)."""
        for b in ("ringfleetd", "ringfleet-worker", "ringfleetctl", "ringfleet-load"):
            check(os.access(os.path.join(self.bin_dir, b), os.X_OK),
                  "%s/%s is not built: build the tree before running ctest" % (self.bin_dir, b))
        out = os.path.join(self.tmp, "cpack-%s" % (version or "build"))
        # -B keeps cpack's staging and the .deb out of the build tree.
        cmd = ["cpack", "-G", "DEB", "-B", out]
        if version:
            cmd += ["-D", "CPACK_PACKAGE_VERSION=" + version]
        p = must(cmd, "cpack", cwd=self.build_dir, timeout=240)
        arch = must(["dpkg", "--print-architecture"], "dpkg").stdout.strip()
        deb = os.path.join(out, "%s_%s_%s.deb" % (PKG, version or self.version(), arch))
        check(os.path.isfile(deb), "cpack did not make %s:\n%s" % (deb, p.stdout))
        log("built " + os.path.basename(deb))
        return deb

    def check_control(self, deb):
        fields = {}
        for k in ("Package", "Version", "Depends", "Maintainer", "Section", "Description"):
            fields[k] = must(["dpkg-deb", "-f", deb, k], "dpkg-deb -f").stdout.strip()
        check(fields["Package"] == PKG and fields["Version"] == self.version(),
              "control: %r" % fields)
        # dpkg-shlibdeps ran: the libraries the binaries link are named.
        for lib in ("libc6", "liburing2", "libsystemd0", "libjansson4", "libinih1"):
            check(re.search(r"\b%s\b" % lib, fields["Depends"]),
                  "Depends lacks %s: %s" % (lib, fields["Depends"]))
        check(fields["Maintainer"] and fields["Section"] and fields["Description"],
              "control: %r" % fields)
        listing = must(["dpkg-deb", "--contents", deb], "dpkg-deb --contents").stdout
        self.deb_files = {"/" + l.split()[-1].lstrip("./") for l in listing.splitlines()
                          if l.startswith("-")}
        ctrl = os.path.join(self.tmp, "control")
        must(["dpkg-deb", "--control", deb, ctrl], "dpkg-deb --control")
        with open(os.path.join(ctrl, "conffiles")) as f:
            check(f.read().split() == ["/etc/ringfleet/ringfleet.ini"], "conffiles")
        for s in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctrl, s)
            check(os.stat(path).st_mode & 0o777 == 0o755, "%s mode" % s)
            must(["sh", "-n", path], "%s syntax" % s)

    def check_copyright(self, deb):
        """Debian's machine-readable copyright file names the license, no
        file is world-writable, and lintian (when installed) reports no
        error but the ones a cpack-built native package always has."""
        path = "/usr/share/doc/ringfleet/copyright"
        check(path in self.deb_files, "%s is not in the .deb" % path)
        tree = os.path.join(self.tmp, "copyright-tree")
        must(["dpkg-deb", "--extract", deb, tree], "dpkg-deb --extract")
        with open(tree + path) as f:
            text = f.read()
        paras = [dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", p, re.M))
                 for p in text.split("\n\n") if p.strip()]
        check(paras[0].get("Format", "").startswith(
            "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0"),
            "copyright: no copyright-format 1.0 Format line: %r" % paras[0])
        files = [p for p in paras if p.get("Files") == "*"]
        check(files and files[0].get("License") == "Apache-2.0" and files[0].get("Copyright"),
              "copyright: no 'Files: *' paragraph with Copyright and License Apache-2.0")
        check(any(p.get("License") == "Apache-2.0" and "Files" not in p for p in paras[1:]),
              "copyright: no standalone License: Apache-2.0 paragraph")
        listing = must(["dpkg-deb", "--contents", deb], "dpkg-deb --contents").stdout
        writable = [l for l in listing.splitlines() if l[:1] in "-d" and l[8] == "w"]
        check(not writable, "world-writable in the .deb: %r" % writable)
        if not shutil.which("lintian"):
            log("NOTE: lintian is not installed; copyright and permissions checked by hand only")
            return
        p = run(["lintian", "--tag-display-limit", "0", deb], timeout=300)
        # A native package that cpack builds has no Debian changelog.
        accepted = {"no-changelog"}
        errors = [l for l in p.stdout.splitlines()
                  if l.startswith("E:") and l.split()[2] not in accepted]
        check(not errors, "lintian errors:\n" + "\n".join(errors))
        log("copyright file, permissions and lintian (%d warnings) clean"
            % sum(l.startswith("W:") for l in p.stdout.splitlines()))

    # -- install --------------------------------------------------------------

    def install(self, deb):
        p = run(["dpkg", "-i", deb], timeout=180)
        if p.returncode != 0:
            # Only missing runtime libraries justify the archive; they are
            # the ones the build linked, so normally already here.
            log("dpkg -i failed, resolving dependencies with apt-get:\n" + p.stdout + p.stderr)
            must(["apt-get", "install", "-y", "-q", "-f", "--no-install-recommends"],
                 "apt-get -f install", timeout=600,
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        st = must(["dpkg-query", "-W", "-f=${Status}", PKG], "dpkg-query").stdout
        check(st == "install ok installed", "package state after install: %r" % st)
        paths = must(["dpkg", "-L", PKG], "dpkg -L").stdout.split()
        # Files only: directories such as /usr/bin, or /lib (a symlink to
        # usr/lib on merged-/usr systems), are shared with other packages.
        self.files = [p for p in paths if os.path.isfile(p)]
        log("installed %d files" % len(self.files))

    def check_files(self):
        want = {
            "/usr/bin/ringfleetd": 0o755, "/usr/bin/ringfleet-worker": 0o755,
            "/usr/bin/ringfleetctl": 0o755, "/usr/bin/ringfleet-load": 0o755,
            "/etc/ringfleet/ringfleet.ini": 0o644,
            UNIT: 0o644,
            "/usr/lib/sysusers.d/ringfleet.conf": 0o644,
            "/usr/lib/tmpfiles.d/ringfleet.conf": 0o644,
            "/usr/lib/sysctl.d/30-ringfleet.conf": 0o644,
            "/usr/share/man/man1/ringfleetctl.1.gz": 0o644,
            "/usr/share/man/man8/ringfleetd.8.gz": 0o644,
            "/usr/share/man/man8/ringfleet-worker.8.gz": 0o644,
            "/usr/share/man/man3/ringfleet-game.3.gz": 0o644,
            "/usr/share/bash-completion/completions/ringfleetctl": 0o644,
            # What a game module is built against (package_game builds one).
            "/usr/include/ringfleet/game.h": 0o644,
            "/usr/share/pkgconfig/ringfleet-game.pc": 0o644,
        }
        for path, mode in want.items():
            check(path in self.deb_files, "%s is not in the .deb" % path)
            if dpkg_excluded(path):
                log("NOTE: dpkg path-exclude drops %s on this host; checked in the .deb only"
                    % path)
                continue
            check(path in self.files, "%s was not installed" % path)
            st = os.stat(path)
            check(st.st_uid == 0 and st.st_mode & 0o777 == mode,
                  "%s: owner %d mode %o" % (path, st.st_uid, st.st_mode & 0o777))
        conf = must(["dpkg-query", "-W", "-f=${Conffiles}", PKG], "conffiles").stdout
        check("/etc/ringfleet/ringfleet.ini" in conf, "not a conffile: %r" % conf)
        # The installed config is the shipped example, byte for byte.
        with open(os.path.join(self.src_dir, "config/examples/ringfleet.ini"), "rb") as a, \
                open("/etc/ringfleet/ringfleet.ini", "rb") as b:
            check(a.read() == b.read(), "installed config differs from the example")
        # The user and /run/ringfleet the maintainer scripts made.
        pw = pwd.getpwnam("ringfleet")
        check(pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin"),
              "ringfleet user: %r" % (pw,))
        check(grp.getgrgid(pw.pw_gid).gr_name == "ringfleet", "primary group")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        st = os.stat("/run/ringfleet")
        check((st.st_uid, st.st_gid, st.st_mode & 0o777) == (self.uid, self.gid, 0o755),
              "/run/ringfleet: %d:%d %o" % (st.st_uid, st.st_gid, st.st_mode & 0o777))
        log("files, user and runtime directory in place")

    def upgrade(self):
        """dpkg -i of a newer version over the installed one: an edited
        conffile stays as the admin left it (dpkg asks only when the
        package's own copy changed too, which it did not), and the user and
        runtime directory survive the maintainer scripts' upgrade path."""
        conf = "/etc/ringfleet/ringfleet.ini"
        with open(conf, "rb") as f:
            self.conf_backup = f.read()
        edited = self.conf_backup + b"; edited by the package test\n"
        with open(conf, "wb") as f:
            f.write(edited)
        newer = self.version() + "+pkgtest1"
        deb = self.build_deb(newer)
        must(["dpkg", "-i", deb], "dpkg -i (upgrade)", timeout=180)
        got = must(["dpkg-query", "-W", "-f=${Status} ${Version}", PKG], "dpkg-query").stdout
        check(got == "install ok installed " + newer, "after the upgrade: %r" % got)
        with open(conf, "rb") as f:
            check(f.read() == edited, "the upgrade replaced the edited conffile")
        left = [n for n in os.listdir("/etc/ringfleet") if n != "ringfleet.ini"]
        check(not left, "the upgrade left %r in /etc/ringfleet" % left)
        pw = pwd.getpwnam("ringfleet")
        check((pw.pw_uid, pw.pw_gid) == (self.uid, self.gid), "the upgrade changed the user")
        check(os.path.isdir("/run/ringfleet"), "the upgrade lost /run/ringfleet")
        self.restore_conf()
        p = run(["dpkg", "--verify", PKG])
        check(p.returncode == 0 and not p.stdout.strip(), "dpkg --verify after the upgrade: %s"
              % p.stdout)
        log("upgrade to %s: edited conffile kept, user and runtime directory intact" % newer)

    def check_man_pages(self, deb):
        version = self.version()
        tree = os.path.join(self.tmp, "deb-tree")
        must(["dpkg-deb", "--extract", deb, tree], "dpkg-deb --extract")
        for page in ("/usr/share/man/man1/ringfleetctl.1.gz", "/usr/share/man/man8/ringfleetd.8.gz",
                     "/usr/share/man/man8/ringfleet-worker.8.gz",
                     "/usr/share/man/man3/ringfleet-game.3.gz"):
            # The page as packaged: the host may drop man pages on install.
            with gzip.open(tree + page, "rt") as f:
                text = f.read()
            th = re.search(r'^\.TH \S+ \d \S+ "ringfleet ([^"]+)"', text, re.M)
            check(th and th.group(1) == version,
                  "%s: .TH names version %r, the package is %s"
                  % (page, th and th.group(1), version))
            # groff -ww: every warning; -z: no output. A clean page is silent.
            p = run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=text,
                    env=dict(os.environ, LC_ALL="C.UTF-8"))
            check(p.returncode == 0 and not p.stderr.strip(),
                  "%s: groff warnings:\n%s" % (page, p.stderr))
        # man finds them by name, as the unit's Documentation= expects.
        for name, page in (("ringfleetctl", "/usr/share/man/man1/ringfleetctl.1.gz"),
                           ("ringfleetd", "/usr/share/man/man8/ringfleetd.8.gz"),
                           ("ringfleet-worker", "/usr/share/man/man8/ringfleet-worker.8.gz"),
                           ("ringfleet-game", "/usr/share/man/man3/ringfleet-game.3.gz")):
            if dpkg_excluded(page):
                continue
            p = run(["man", "-w", name])
            check(p.returncode == 0 and "/usr/share/man/" in p.stdout, "man -w %s: %s%s"
                  % (name, p.stdout, p.stderr))
        log("man pages: version %s, no groff warnings, found by man" % version)

    def verify_unit(self):
        if not shutil.which("systemd-analyze"):
            log("NOTE: systemd-analyze is not installed; skipping unit verification")
            return
        cmd = ["systemd-analyze", "verify", UNIT]
        if dpkg_excluded("/usr/share/man/man8/ringfleetd.8.gz"):
            # Documentation= would point at pages dpkg did not unpack.
            cmd.insert(2, "--man=no")
        p = run(cmd)
        out = p.stdout + p.stderr
        # verify exits 0 on unknown keys and bad values and only warns;
        # any line about this unit is a mistake in it.
        bad = [l for l in out.splitlines() if "ringfleet.service" in l]
        check(p.returncode == 0 and not bad,
              "systemd-analyze verify exited %d:\n%s" % (p.returncode, out))
        if out.strip():
            log("systemd-analyze verify (not about the unit):\n" + out)
        log("systemd-analyze verify: ok")

    # -- run as the unit would ------------------------------------------------

    def service_cmd(self, unit, argv):
        """argv wrapped to run as User=/Group= with the unit's privileges
        (NoNewPrivileges=, an empty CapabilityBoundingSet=)."""
        user, group = unit_one(unit, "User"), unit_one(unit, "Group")
        check(user == "ringfleet" and group == "ringfleet", "User=%s Group=%s" % (user, group))
        cmd = ["setpriv", "--reuid=%s" % user, "--regid=%s" % group, "--init-groups"]
        if unit_one(unit, "NoNewPrivileges") == "yes":
            cmd.append("--no-new-privs")
        if unit_one(unit, "CapabilityBoundingSet") == "":
            cmd += ["--bounding-set=-all", "--inh-caps=-all"]
        return cmd + argv

    def service_env(self, extra=None):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        env.update(extra or {})
        return env

    def ctl(self, *args, timeout=60):
        """The installed ringfleetctl as an admin (root) would run it."""
        return run(["/usr/bin/ringfleetctl"] + list(args), timeout=timeout)

    def status(self):
        p = self.ctl("--json", "status")
        check(p.returncode in (0, 3), "status exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        return p.returncode, json.loads(p.stdout)

    def udp_roundtrip(self, port):
        """Clients a and b complete the admission handshake (the shipped
        configuration keeps admission = cookie), a sends; b must get a's
        packet back from the server. Loopback only."""
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            res = rftest.admit_all([a, b], ("127.0.0.1", port), timeout=10)
            check(res == ["welcome", "welcome"], "127.0.0.1:%d admitted %s" % (port, res))
            b.settimeout(0.2)
            payload = b"rf-package-test-%d" % os.getpid()
            end = time.monotonic() + 10
            while time.monotonic() < end:
                a.sendto(payload, ("127.0.0.1", port))
                try:
                    while True:
                        data, _ = b.recvfrom(2048)
                        if data == payload:
                            return
                except socket.timeout:
                    pass
            raise AssertionError("no relay on 127.0.0.1:%d within 10s" % port)
        finally:
            a.close()
            b.close()

    def completion(self, words):
        """COMPREPLY of the installed completion for `words` (the last one
        being completed), with bash-completion loaded as a shell does."""
        main = "/usr/share/bash-completion/bash_completion"
        script = ('source %s; source /usr/share/bash-completion/completions/ringfleetctl; '
                  'COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE="${COMP_WORDS[*]}"; '
                  'COMP_POINT=${#COMP_LINE}; _ringfleetctl; printf "%%s\\n" "${COMPREPLY[@]}"'
                  % (main, " ".join(shlex.quote(w) for w in words), len(words) - 1))
        p = run(["bash", "-c", script], timeout=30)
        check(p.returncode == 0, "completion of %r: %s" % (words, p.stderr))
        return sorted(l for l in p.stdout.splitlines() if l)

    def check_completion(self, names):
        if not os.path.exists("/usr/share/bash-completion/bash_completion"):
            log("NOTE: bash-completion is not installed; skipping the completion check")
            return
        got = self.completion(["ringfleetctl", "re"])
        check(got == ["release", "reload", "restart"], "verbs for 're': %r" % got)
        got = self.completion(["ringfleetctl", "d"])
        check(got == ["drain"], "verbs for 'd': %r" % got)
        got = self.completion(["ringfleetctl", "--js"])
        check(got == ["--json"], "options for '--js': %r" % got)
        # Server names come from the running supervisor.
        got = self.completion(["ringfleetctl", "-c", "/etc/ringfleet/ringfleet.ini", "restart", ""])
        check(got == sorted(["all"] + names), "server names: %r" % got[:10])
        got = self.completion(["ringfleetctl", "status", "eu-"])
        check(got == sorted(n for n in names if n.startswith("eu-")), "names for 'eu-': %r" % got)
        # Unreachable supervisor: no names, no error, no hang.
        got = self.completion(["ringfleetctl", "-s", "/nonexistent.sock", "stop", ""])
        check(got == ["all"], "names without a supervisor: %r" % got)
        log("bash completion: verbs, options and %d live server names" % len(names))

    def start_service(self, unit):
        ex_pre = shlex.split(unit_one(unit, "ExecStartPre"))
        ex_start = shlex.split(unit_one(unit, "ExecStart"))
        check(unit_one(unit, "Type") == "notify", "Type=")
        check(unit_one(unit, "KillMode") == "process", "KillMode=")
        check(unit_one(unit, "RuntimeDirectory") == "ringfleet", "RuntimeDirectory=")
        check(ex_start[0] == "/usr/bin/ringfleetd" and ex_pre[0] == ex_start[0],
              "ExecStart/ExecStartPre: %r %r" % (ex_start, ex_pre))
        config = ex_start[ex_start.index("-c") + 1]
        check(config == "/etc/ringfleet/ringfleet.ini" and config in ex_pre,
              "ExecStart/ExecStartPre config: %r %r" % (ex_start, ex_pre))

        cp = read_config(config)
        bind = check_config_is_safe(cp)
        ports = config_ports(cp)
        busy = [p for p in ports if not port_free(p, bind)]
        if busy:
            skip("ports %s of the shipped configuration are in use on this host" % busy[:5])
        stop_ms = int(cp["supervisor"].get("stop_timeout_ms", "5000"))
        check(seconds(unit_one(unit, "TimeoutStopSec")) > stop_ms / 1000.0,
              "TimeoutStopSec must exceed stop_timeout_ms=%d" % stop_ms)
        # systemd gives each ExecStop= command TimeoutStopSec: the drain's
        # own deadline must fit in it.
        drain_s = float(exec_stop(unit)[-1])
        check(seconds(unit_one(unit, "TimeoutStopSec")) > drain_s,
              "TimeoutStopSec must exceed the drain timeout %g s" % drain_s)

        p = run(self.service_cmd(unit, ex_pre), env=self.service_env())
        check(p.returncode == 0, "ExecStartPre exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        n_servers = int(re.search(r"OK \((\d+) servers\)", p.stdout).group(1))
        check(n_servers == len(ports), "--check counts %d servers, the config has %d"
              % (n_servers, len(ports)))

        # RuntimeDirectory=ringfleet: created owned by User= before start.
        os.makedirs("/run/ringfleet", exist_ok=True)
        os.chown("/run/ringfleet", self.uid, self.gid)
        os.chmod("/run/ringfleet", 0o755)

        self.notify = NotifySocket(self.tmp, self.uid, self.gid)
        watchdog = seconds(unit_one(unit, "WatchdogSec"))
        nofile = int(unit_one(unit, "LimitNOFILE"))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and hard < nofile:
            # Raising the hard limit takes CAP_SYS_RESOURCE, which
            # containers often withhold; systemd would have it.
            log("NOTE: hard RLIMIT_NOFILE here is %d; running with that, not LimitNOFILE=%d"
                % (hard, nofile))
            nofile = hard

        def limits():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.daemon_log = open(os.path.join(self.tmp, "ringfleetd.log"), "w")
        env = self.service_env({"NOTIFY_SOCKET": self.notify.path,
                                "WATCHDOG_USEC": str(int(watchdog * 1e6))})
        # setpriv execs in place: the pid is ringfleetd's, the MAINPID.
        self.daemon = subprocess.Popen(self.service_cmd(unit, ex_start), env=env,
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT,
                                       preexec_fn=limits, start_new_session=True)
        t0 = time.monotonic()
        pid, text = self.notify.wait(lambda pid, t: "READY=1" in t.split("\n"), 60, "READY=1")
        check(pid == self.daemon.pid, "READY=1 from pid %s, not the main process %d"
              % (pid, self.daemon.pid))
        log("READY=1 after %.1fs: %s" % (time.monotonic() - t0, text.replace("\n", " ")))
        with open("/proc/%d/limits" % self.daemon.pid) as f:
            check(re.search(r"Max open files\s+%d\s+%d" % (nofile, nofile), f.read()),
                  "LimitNOFILE not in effect")
        return cp, config, watchdog

    def check_running(self, names):
        rc, st = self.status()
        check(rc == 0, "status exited %d with every server supposed to run" % rc)
        servers = {s["name"]: s for s in st["servers"]}
        check(sorted(servers) == sorted(names), "servers: %r" % sorted(servers))
        check(all(s["state"] == "running" for s in servers.values()), "not all running")
        check(st["supervisor"]["config"] == "/etc/ringfleet/ringfleet.ini", "config path")
        check(st["supervisor"]["pid"] == self.daemon.pid, "supervisor pid")
        for s in servers.values():
            with open("/proc/%d/status" % s["pid"]) as f:
                uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
            check(uid == self.uid, "%s runs as uid %d" % (s["name"], uid))
        return {n: s["pid"] for n, s in servers.items()}

    def write_conf(self, text):
        with open("/etc/ringfleet/ringfleet.ini", "w") as f:
            f.write(text)

    def restore_conf(self):
        if self.conf_backup is not None:
            with open("/etc/ringfleet/ringfleet.ini", "wb") as f:
                f.write(self.conf_backup)
            self.conf_backup = None

    def reloads(self, unit, names):
        ex_reload = shlex.split(unit_one(unit, "ExecReload"))
        check(ex_reload[0] == "/usr/bin/ringfleetctl" and ex_reload[-1] == "reload",
              "ExecReload: %r" % ex_reload)
        reload_cmd = self.service_cmd(unit, ex_reload)
        pids = self.check_running(names)

        since = time.monotonic()
        p = run(reload_cmd, env=self.service_env())
        check(p.returncode == 0, "ExecReload exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        self.notify.wait(lambda pid, t: "RELOADING=1" in t, 10, "RELOADING=1", since)
        self.notify.wait(lambda pid, t: "READY=1" in t.split("\n"), 10, "READY=1 after reload", since)
        check(self.check_running(names) == pids, "an unchanged reload restarted workers")
        log("ExecReload of the unchanged config: exit 0, workers untouched")

        with open("/etc/ringfleet/ringfleet.ini", "rb") as f:
            self.conf_backup = f.read()
        original = self.conf_backup.decode()

        # 1. A configuration that does not parse: ringfleetctl -c cannot
        #    even read it, so systemctl reload fails with the parse error.
        self.write_conf(original + "\n[server pkg-broken]\nport = fast\n")
        p = run(reload_cmd, env=self.service_env())
        check(p.returncode != 0, "ExecReload of an invalid config exited 0")
        check("port" in p.stderr and "fast" in p.stderr,
              "ExecReload did not say what is wrong: %r" % p.stderr)
        reload_rc = p.returncode
        p = run(self.service_cmd(unit, shlex.split(unit_one(unit, "ExecStartPre"))),
                env=self.service_env())
        check(p.returncode == 1, "--check of an invalid config exited %d" % p.returncode)
        check(self.check_running(names) == pids, "servers changed after a rejected reload")
        log("ExecReload of an unparsable config: exit %d, servers untouched" % reload_rc)

        # 2. A valid configuration the supervisor cannot apply: a port
        #    held by this test. Only ringfleetd finds out, and says so.
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            holder.bind(("127.0.0.1", 0))
            held = holder.getsockname()[1]
            self.write_conf(original + "\n[server pkg-held]\nport = %d\nbind = 127.0.0.1\n" % held)
            p = run(self.service_cmd(unit, shlex.split(unit_one(unit, "ExecStartPre"))),
                    env=self.service_env())
            check(p.returncode == 0, "--check rejected a valid config: %s" % p.stderr)
            p = run(reload_cmd, env=self.service_env())
            check(p.returncode == 1, "ExecReload with a taken port exited %d (want 1): %s%s"
                  % (p.returncode, p.stdout, p.stderr))
            check(self.check_running(names) == pids, "servers changed after a failed apply")
            log("ExecReload the supervisor rejects: exit 1 (%s)" % p.stderr.strip())
        finally:
            holder.close()

        self.restore_conf()
        p = run(["dpkg", "--verify", PKG])
        check(p.returncode == 0 and not p.stdout.strip(), "restored config fails dpkg --verify: %s"
              % p.stdout)
        p = run(reload_cmd, env=self.service_env())
        check(p.returncode == 0, "ExecReload after restoring exited %d" % p.returncode)
        check(self.check_running(names) == pids, "restored reload restarted workers")
        return pids

    def stop_service(self, unit, pids):
        # ExecStop= first, as the service user: drain (no match on: at once).
        t0 = time.monotonic()
        p = run(self.service_cmd(unit, exec_stop(unit)), env=self.service_env())
        check(p.returncode == 0 and "drained" in p.stdout,
              "ExecStop (drain) exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        check(time.monotonic() - t0 < 10, "drain without matches took %.1fs"
              % (time.monotonic() - t0))
        deadline = time.monotonic() + 20
        while True:
            _, st = self.status()
            left = [s["name"] for s in st["servers"] if s["state"] != "stopped"]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(not left, "servers still up after drain: %r" % left)
        check(st.get("draining") is True, "status does not show draining")
        log("ExecStop: drain exit 0, every server stopped")
        since = time.monotonic()
        self.daemon.send_signal(signal.SIGTERM)   # KillMode=process: the main process only
        try:
            rc = self.daemon.wait(seconds(unit_one(unit, "TimeoutStopSec")))
        except subprocess.TimeoutExpired:
            raise AssertionError("ringfleetd still running after TimeoutStopSec")
        self.notify.wait(lambda pid, t: "STOPPING=1" in t, 1, "STOPPING=1", since)
        check(rc == 0, "ringfleetd exited %d after SIGTERM" % rc)
        left = wait_gone(list(pids.values()), 2) + pids_of_uid(self.uid)
        check(not left, "processes left after stop: %r" % left)
        self.daemon = None
        log("SIGTERM: exit 0, no process left")

    # -- purge ----------------------------------------------------------------

    def purge(self):
        p = run(["dpkg", "--purge", PKG], timeout=180)
        check(p.returncode == 0, "dpkg --purge exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))

    def check_purged(self):
        p = run(["dpkg-query", "-W", "-f=${Status}", PKG])
        check(p.returncode != 0 or "not-installed" in p.stdout, "still known to dpkg: %r" % p.stdout)
        # Every file the package had, and what the maintainer scripts made.
        left = [f for f in self.files if os.path.lexists(f)]
        for path in ("/etc/ringfleet", "/run/ringfleet", UNIT,
                     "/etc/systemd/system/multi-user.target.wants/ringfleet.service",
                     "/usr/share/doc/ringfleet"):
            if os.path.lexists(path):
                left.append(path)
        check(not left, "left after purge: %r" % left)
        for db, name in ((pwd.getpwnam, "user"), (grp.getgrnam, "group")):
            try:
                db("ringfleet")
                raise AssertionError("the ringfleet %s is left after purge" % name)
            except KeyError:
                pass
        log("purged: no file, user or group left")

    def cleanup_processes(self):
        if self.daemon and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait()
        if self.daemon:
            # Workers have process groups of their own and outlive
            # ringfleetd: its session finds them.
            rftest.kill_session(self.daemon.pid)
        if self.uid is not None:
            for pid in pids_of_uid(self.uid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_gone(pids_of_uid(self.uid), 5)

    def main(self):
        installed = False
        try:
            deb = self.build_deb()
            self.check_control(deb)
            self.check_copyright(deb)
            installed = True
            self.install(deb)
            self.check_files()
            self.check_man_pages(deb)
            self.verify_unit()
            self.upgrade()
            unit = parse_unit(UNIT)
            cp, _, watchdog = self.start_service(unit)
            names = config_server_names(cp)
            self.check_running(names)
            rc, st = self.status()
            port = st["servers"][0]["port"]
            self.udp_roundtrip(port)
            log("packets relayed by %s on 127.0.0.1:%d" % (st["servers"][0]["name"], port))
            p = self.ctl("status")
            check(p.returncode == 0 and "running" in p.stdout, "table status: %s" % p.stderr)
            self.check_completion(names)
            # A fresh ping within one WatchdogSec, whatever came before.
            self.notify.wait(lambda pid, t: pid == self.daemon.pid and "WATCHDOG=1" in t,
                             watchdog, "WATCHDOG=1 within WatchdogSec", time.monotonic())
            pids = self.reloads(unit, names)
            self.stop_service(unit, pids)
        except BaseException:
            log_path = os.path.join(self.tmp, "ringfleetd.log")
            if os.path.exists(log_path):
                with open(log_path) as f:
                    tail = f.read()[-4000:]
                print("---- ringfleetd output (tail) ----\n" + tail, file=sys.stderr)
            raise
        finally:
            self.cleanup_processes()
            self.restore_conf()
            if self.notify:
                self.notify.close()
            if installed:
                self.purge()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.check_purged()
        print("ok")


def main():
    if os.geteuid() != 0:
        skip("installs a package: needs root")
    for tool in ("dpkg", "dpkg-deb", "cpack", "setpriv", "groff"):
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
        # Nobody ships instrumented binaries; the sanitizer run of the
        # other tests covers them.
        skip("a sanitizer build (SANITIZE=%s) is not packaged" % sanitize.group(1))
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    lock = open(LOCK, "w")
    # Another build tree's run of this test would install the same package.
    fcntl.flock(lock, fcntl.LOCK_EX)
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG])
    if p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout:
        skip("ringfleet is already installed here (%s); not replacing it" % p.stdout)
    for what, probe in (("user", pwd.getpwnam), ("group", grp.getgrnam)):
        try:
            probe("ringfleet")
            skip("a ringfleet %s exists that this test did not create" % what)
        except KeyError:
            pass
    if os.path.exists("/etc/ringfleet") or os.path.exists("/run/ringfleet"):
        skip("/etc/ringfleet or /run/ringfleet exists: something else uses them")
    PackageTest().main()


if __name__ == "__main__":
    main()
