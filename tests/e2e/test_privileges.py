# SPDX-License-Identifier: Apache-2.0
"""Privileges, run as root: workers drop to the configured user and group
with no supplementary groups and no_new_privs, while ringfleetd keeps
the sockets it bound; the control socket belongs to control_group, whose
members may use mutating verbs."""
import grp
import os
import pwd
import stat

from fleetlib import Daemon, SKIP, check, free_udp_ports


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def main():
    if os.geteuid() != 0:
        print("needs root")
        return SKIP
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    p1, p2 = free_udp_ports(2)
    ini = ("[server dropped]\nport = %d\nuser = nobody\n"
           "[server kept]\nport = %d\n" % (p1, p2))
    with Daemon(ini, "control_group = %s\n" % group) as d:
        os.chmod(d.dir, 0o755)
        st = d.wait_running()
        by = {s["name"]: s for s in st["servers"]}
        ps = proc_status(by["dropped"]["pid"])
        check(ps["Uid"] == [str(nobody.pw_uid)] * 4, "worker uids %s" % ps["Uid"])
        check(ps["Gid"] == [str(nobody.pw_gid)] * 4, "worker gids %s" % ps["Gid"])
        check(ps["Groups"] == [], "worker supplementary groups %s" % ps["Groups"])
        check(ps["NoNewPrivs"] == ["1"], "no_new_privs not set")
        check(proc_status(by["kept"]["pid"])["Uid"][0] == "0", "server without user switched")
        check(proc_status(d.proc.pid)["Uid"][0] == "0", "ringfleetd itself changed user")

        sb = os.stat(d.sock)
        check(sb.st_gid == nobody.pw_gid and stat.S_IMODE(sb.st_mode) == 0o660,
              "socket group %d mode %o" % (sb.st_gid, stat.S_IMODE(sb.st_mode)))
        rc, out, err = d.ctl("restart", "kept", user="nobody")
        check(rc == 0, "control_group member may restart: %d %s %s" % (rc, out, err))
        rc, out, err = d.ctl("--json", "stop", "kept", user="daemon")
        check(rc == 4, "a non-member cannot even connect to a 0660 socket: %d %s" % (rc, err))
        check(d.stop() == 0, "exit code")
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
