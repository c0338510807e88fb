# SPDX-License-Identifier: Apache-2.0
"""The .deb's maintainer scripts (postinst, prerm, postrm as generated in
the build tree), on both sides of `[ -d /run/systemd/system ]`.

package_deb runs them for real, but on a host without systemd as PID 1,
so their systemd half (enable, restart on upgrade, stop on remove,
sysctl) never runs there. Here every command they may call is a stub
that records its arguments, PATH holds nothing else (an unexpected
command fails the script), and a private mount namespace with its own
/run decides whether systemd "runs". Nothing on the host is changed.
"""
import os
import shutil
import stat
import subprocess
import tempfile

from rftest import check, skip

UNIT = "ringfleet.service"
STUBS = ["systemctl", "ringfleetctl", "systemd-sysctl", "systemd-sysusers", "systemd-tmpfiles", "getent",
         "useradd", "groupadd", "userdel", "groupdel", "rm", "mkdir", "chown", "chmod"]
# A stub logs "name args..." and exits with $RF_RC_<name> (0 by default);
# getent answers per database, systemctl per verb.
# Absolute paths inside: PATH holds the stubs only.
STUB = """#!/bin/sh
echo "${0##*/} $*" >> "$RF_STUB_LOG"
name=$(echo "${0##*/}" | /usr/bin/tr - _)
case "$name" in
getent) eval "rc=\\${RF_RC_getent_$1:-0}" ;;
systemctl) v=$(echo "$1" | /usr/bin/tr - _); eval "rc=\\${RF_RC_systemctl_$v:-0}" ;;
*) eval "rc=\\${RF_RC_$name:-0}" ;;
esac
exit "$rc"
"""


class Scripts:
    def __init__(self, build_dir):
        self.dir = os.path.join(build_dir, "packaging", "debian")
        self.tmp = tempfile.mkdtemp(prefix="rf-scripts-")
        self.log = os.path.join(self.tmp, "calls")
        # Two stub sets: a host with systemd's tools, and one without
        # (a minimal container image: useradd and mkdir instead).
        self.full = os.path.join(self.tmp, "full")
        self.bare = os.path.join(self.tmp, "bare")
        for d, names in ((self.full, STUBS),
                         (self.bare, [n for n in STUBS if not n.startswith("systemd-")])):
            os.mkdir(d)
            for n in names:
                p = os.path.join(d, n)
                with open(p, "w") as f:
                    f.write(STUB)
                os.chmod(p, stat.S_IRWXU)

    def run(self, script, args, systemd, stubs=None, rc=None):
        """Runs script with args; returns (exit code, [calls], stderr)."""
        open(self.log, "w").close()
        env = {"PATH": stubs or self.full, "RF_STUB_LOG": self.log}
        env.update({"RF_RC_" + k: str(v) for k, v in (rc or {}).items()})
        # A private /run: with or without /run/systemd/system, whatever the
        # host has. The stubs never touch it.
        setup = "mount -t tmpfs rf-test /run && %s" % (
            "mkdir -p /run/systemd/system" if systemd else "true")
        cmd = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
               setup + ' && exec /usr/bin/env -i "$@"', "sh"]
        cmd += ["%s=%s" % kv for kv in env.items()]
        cmd += ["/bin/sh", os.path.join(self.dir, script)] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        with open(self.log) as f:
            calls = [l.rstrip("\n") for l in f]
        return p.returncode, calls, p.stderr

    def expect(self, what, script, args, systemd, want_calls, want_rc=0, **kw):
        rc, calls, err = self.run(script, args, systemd, **kw)
        check(rc == want_rc, "%s: %s %s exited %d (want %d): %s"
              % (what, script, " ".join(args), rc, want_rc, err))
        check(calls == want_calls, "%s: %s %s called\n  %s\nwant\n  %s"
              % (what, script, " ".join(args), "\n  ".join(calls), "\n  ".join(want_calls)))
        print("ok: " + what)
        return err


def main():
    if os.geteuid() != 0:
        skip("needs root for a private mount namespace")
    if not shutil.which("unshare"):
        skip("unshare (util-linux) is not installed")
    bin_dir = os.environ.get("RF_BIN_DIR")
    check(bin_dir, "RF_BIN_DIR unset: run through ctest")
    s = Scripts(os.path.dirname(os.path.abspath(bin_dir)))
    try:
        sysusers = "systemd-sysusers /usr/lib/sysusers.d/ringfleet.conf"
        tmpfiles = "systemd-tmpfiles --create /usr/lib/tmpfiles.d/ringfleet.conf"
        sysctl = "systemd-sysctl --prefix=/net/core/rmem_max --prefix=/net/core/wmem_max"
        reload_ = "systemctl daemon-reload"

        # ---- postinst ----
        s.expect("first install under systemd: user, run dir, sysctl, enable, start",
                 "postinst", ["configure", ""], True,
                 [sysusers, tmpfiles, sysctl, reload_, "systemctl enable " + UNIT,
                  "systemctl is-enabled --quiet " + UNIT, "systemctl restart " + UNIT])
        active = "systemctl is-active --quiet " + UNIT
        upgrade = "ringfleetctl -c /etc/ringfleet/ringfleet.ini upgrade"
        s.expect("upgrade of a running service: ringfleetd upgraded in place, no restart",
                 "postinst", ["configure", "0.1.0"], True,
                 [sysusers, tmpfiles, sysctl, reload_, active, upgrade])
        err = s.expect("upgrade that cannot hand over: a warning, then a restart",
                       "postinst", ["configure", "0.1.0"], True,
                       [sysusers, tmpfiles, sysctl, reload_, active, upgrade,
                        "systemctl restart " + UNIT], rc={"ringfleetctl": 1})
        check("cannot hand over in place" in err and "every game server restarts" in err,
              "no warning before the restart: %r" % err)
        s.expect("upgrade of an enabled, stopped service: started on the new binaries",
                 "postinst", ["configure", "0.1.0"], True,
                 [sysusers, tmpfiles, sysctl, reload_, active,
                  "systemctl is-enabled --quiet " + UNIT, "systemctl restart " + UNIT],
                 rc={"systemctl_is_active": 3})
        s.expect("upgrade of a disabled service: left stopped",
                 "postinst", ["configure", "0.1.0"], True,
                 [sysusers, tmpfiles, sysctl, reload_, active,
                  "systemctl is-enabled --quiet " + UNIT],
                 rc={"systemctl_is_active": 3, "systemctl_is_enabled": 1})
        err = s.expect("a service that fails to start does not fail the install",
                       "postinst", ["configure", ""], True,
                       [sysusers, tmpfiles, sysctl, reload_, "systemctl enable " + UNIT,
                        "systemctl is-enabled --quiet " + UNIT, "systemctl restart " + UNIT],
                       rc={"systemctl_restart": 1})
        check("journalctl -u " + UNIT in err, "no hint where to look: %r" % err)
        s.expect("no systemd running: no systemctl, no sysctl",
                 "postinst", ["configure", ""], False, [sysusers, tmpfiles])
        s.expect("no systemd tools: groupadd/useradd, mkdir/chown",
                 "postinst", ["configure", ""], False,
                 ["getent passwd ringfleet", "getent group ringfleet",
                  "groupadd --system ringfleet",
                  "useradd --system --gid ringfleet --no-create-home --home-dir / "
                  "--shell /usr/sbin/nologin --comment ringfleet game server supervisor ringfleet",
                  "mkdir -p /run/ringfleet", "chown ringfleet:ringfleet /run/ringfleet",
                  "chmod 0755 /run/ringfleet"],
                 stubs=s.bare, rc={"getent_passwd": 2, "getent_group": 2})
        s.expect("no systemd tools, user already there: left alone",
                 "postinst", ["configure", "0.1.0"], False,
                 ["getent passwd ringfleet", "mkdir -p /run/ringfleet",
                  "chown ringfleet:ringfleet /run/ringfleet", "chmod 0755 /run/ringfleet"],
                 stubs=s.bare)
        s.expect("postinst abort-upgrade: nothing", "postinst", ["abort-upgrade", "0.1.0"], True, [])
        s.expect("postinst with an unknown action fails", "postinst", ["bogus"], True, [], want_rc=1)

        # ---- prerm ----
        s.expect("remove under systemd: stop", "prerm", ["remove"], True, ["systemctl stop " + UNIT])
        s.expect("remove without systemd: nothing to stop", "prerm", ["remove"], False, [])
        s.expect("upgrade: keep running until postinst restarts it", "prerm",
                 ["upgrade", "0.1.1"], True, [])
        s.expect("a failing stop does not block removal", "prerm", ["remove"], True,
                 ["systemctl stop " + UNIT], rc={"systemctl_stop": 1})
        s.expect("prerm with an unknown action fails", "prerm", ["bogus"], True, [], want_rc=1)

        # ---- postrm ----
        purge_files = ["rm -f /etc/systemd/system/multi-user.target.wants/" + UNIT,
                       "rm -rf /etc/ringfleet", "rm -rf /run/ringfleet"]
        s.expect("purge under systemd: links, config dir, run dir, user, group",
                 "postrm", ["purge"], True,
                 purge_files + ["getent passwd ringfleet", "userdel ringfleet",
                                "getent group ringfleet", "groupdel ringfleet", reload_])
        s.expect("purge after userdel took the group along",
                 "postrm", ["purge"], False,
                 purge_files + ["getent passwd ringfleet", "userdel ringfleet",
                                "getent group ringfleet"],
                 rc={"getent_group": 2})
        err = s.expect("purge with the user still busy: reported, not fatal",
                       "postrm", ["purge"], False,
                       purge_files + ["getent passwd ringfleet", "userdel ringfleet",
                                      "getent group ringfleet", "groupdel ringfleet"],
                       rc={"userdel": 8})
        check("could not remove user" in err, "userdel failure not reported: %r" % err)
        s.expect("remove under systemd: daemon-reload only", "postrm", ["remove"], True, [reload_])
        s.expect("postrm upgrade: nothing", "postrm", ["upgrade", "0.1.1"], True, [])
        s.expect("postrm with an unknown action fails", "postrm", ["bogus"], True, [], want_rc=1)
    finally:
        shutil.rmtree(s.tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
