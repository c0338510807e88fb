# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes DaemonSet, the Nomad system job and the image they run
(packaging/deploy/) against what the package really installs.

The paths are not written down twice: the build tree is installed into a
staging directory (`cmake --install` with DESTDIR, the rules cpack uses),
and the installed unit's ExecStart/ExecReload name the daemon, the
control tool and the configuration. The manifests must run exactly that
command, probe with that tool and mount their configuration where it
reads it; the configuration they carry must pass `ringfleetd --check`
and be the same in both.

Needs python3-yaml; touches nothing outside a temporary directory.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import textwrap

from rftest import check, skip

try:
    import yaml
except ImportError:
    skip("python3-yaml is not installed")

DEPLOY = "packaging/deploy"


# ---- a light HCL reader: blocks, attributes, heredocs ------------------------

def parse_hcl(text):
    """The job file as nested dicts: {"attrs": {k: v}, "blocks": [...]},
    each block {"type", "labels", "attrs", "blocks"}. Line-oriented, which
    is how the file is written; any line it cannot place is an error, so a
    typo does not slip through as an ignored line."""
    root = {"type": None, "labels": [], "attrs": {}, "blocks": []}
    stack = [root]
    lines = iter(enumerate(text.splitlines(), 1))
    for n, line in lines:
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        m = re.fullmatch(r'([A-Za-z_][\w-]*)((?:\s+"[^"]*")*)\s*\{', s)
        if m:
            block = {"type": m.group(1), "labels": re.findall(r'"([^"]*)"', m.group(2)),
                     "attrs": {}, "blocks": []}
            stack[-1]["blocks"].append(block)
            stack.append(block)
            continue
        if s == "}":
            check(len(stack) > 1, "line %d: unbalanced }" % n)
            stack.pop()
            continue
        m = re.fullmatch(r'([A-Za-z_][\w-]*)\s*=\s*(.+)', s)
        check(m, "line %d: not HCL this reader knows: %r" % (n, s))
        key, raw = m.group(1), m.group(2)
        hd = re.fullmatch(r'<<(-?)([A-Z]+)', raw)
        if hd:
            body = []
            for n2, l2 in lines:
                if l2.strip() == hd.group(2):
                    break
                body.append(l2)
            else:
                raise AssertionError("line %d: heredoc %s never ends" % (n, hd.group(2)))
            value = "\n".join(body) + "\n"
            if hd.group(1):          # <<-: strip the common indentation
                value = textwrap.dedent(value)
        else:
            try:
                value = json.loads(raw)   # strings, numbers, lists, booleans
            except ValueError:
                raise AssertionError("line %d: cannot read the value %r" % (n, raw))
        check(key not in stack[-1]["attrs"], "line %d: %s set twice" % (n, key))
        stack[-1]["attrs"][key] = value
    check(len(stack) == 1, "unclosed block %r" % stack[-1]["type"])
    return root


def blocks(node, type_):
    return [b for b in node["blocks"] if b["type"] == type_]


def one(node, type_):
    found = blocks(node, type_)
    check(len(found) == 1, "expected one %s block in %s, got %d" % (type_, node["type"], len(found)))
    return found[0]


# ---- what the package installs ---------------------------------------------

def stage_install(build_dir, dest):
    env = dict(os.environ, DESTDIR=dest)
    p = subprocess.run(["cmake", "--install", build_dir, "--prefix", "/usr"], env=env,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "cmake --install failed:\n%s%s" % (p.stdout, p.stderr))


def unit_values(path):
    vals = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;[" and "=" in line:
                k, _, v = line.partition("=")
                vals.setdefault(k, []).append(v)
    return vals


def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s)?", v)
    check(m, "time span %r" % v)
    return int(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)


def ini_values(text):
    """[section] -> {key: value} of ringfleetd's INI (inline ; comments)."""
    out, sect = {}, None
    for line in text.splitlines():
        line = re.split(r"(?:^|\s)[;#]", line, maxsplit=1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sect = line.strip("[]")
            out[sect] = {}
        else:
            k, _, v = line.partition("=")
            out[sect][k.strip()] = v.strip()
    return out


def ports_of(ini):
    ports = []
    for sect, kv in ini.items():
        if sect.startswith("server "):
            ports.append(int(kv["port"]))
        elif sect.startswith("pool "):
            lo, hi = kv["ports"].split("-")
            ports.extend(range(int(lo), int(hi) + 1))
    return ports


def cpulist_count(s):
    n = 0
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def main():
    bin_dir = os.environ.get("RF_BIN_DIR")
    src = os.environ.get("RF_SRC_DIR")
    check(bin_dir and src, "RF_BIN_DIR/RF_SRC_DIR unset: run through ctest")
    build_dir = os.path.dirname(os.path.abspath(bin_dir))
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        version = re.search(r"^CMAKE_PROJECT_VERSION:\w+=(\S+)$", f.read(), re.M).group(1)

    stage = tempfile.mkdtemp(prefix="rf-deploy-")
    try:
        stage_install(build_dir, stage)
        unit = unit_values(os.path.join(stage, "lib/systemd/system/ringfleet.service"))
        exec_start = shlex.split(unit["ExecStart"][0])
        exec_reload = shlex.split(unit["ExecReload"][0])
        exec_stop = shlex.split(unit["ExecStop"][0].lstrip("-"))
        daemon, ctl = exec_start[0], exec_reload[0]
        config = exec_start[exec_start.index("-c") + 1]
        conf_dir = os.path.dirname(config)
        stop_budget = seconds(unit["TimeoutStopSec"][0])
        for path in (daemon, ctl, config):
            check(os.path.isfile(stage + path), "the package installs no %s" % path)
        with open(os.path.join(stage, "usr/lib/tmpfiles.d/ringfleet.conf")) as f:
            run_dir = [l.split()[1] for l in f if l.startswith("d ")][0]
        print("package: daemon %s, ctl %s, config %s, runtime dir %s"
              % (daemon, ctl, config, run_dir))
    finally:
        shutil.rmtree(stage, ignore_errors=True)

    probe_status = [ctl, "-c", config, "status"]
    probe_ping = [ctl, "-c", config, "ping"]
    image = "ringfleet:%s" % version

    # ---- Kubernetes ----------------------------------------------------------
    with open(os.path.join(src, DEPLOY, "ringfleet-daemonset.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = {d["kind"]: d for d in docs}
    check(set(kinds) == {"Namespace", "ConfigMap", "DaemonSet"}, "kinds: %r" % sorted(kinds))
    ds, cm = kinds["DaemonSet"], kinds["ConfigMap"]
    check(ds["apiVersion"] == "apps/v1" and cm["apiVersion"] == "v1", "apiVersions")
    ns = kinds["Namespace"]["metadata"]["name"]
    check(ds["metadata"]["namespace"] == ns and cm["metadata"]["namespace"] == ns, "namespaces")
    tmpl = ds["spec"]["template"]
    check(ds["spec"]["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(),
          "the selector does not match the pod labels")
    pod = tmpl["spec"]
    check(pod.get("hostNetwork") is True, "hostNetwork must be true: clients reach the node's ports")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy with hostNetwork")
    (c,) = pod["containers"]
    check(c["image"] == image, "image %s, the package is %s" % (c["image"], image))
    check(c["command"] == exec_start, "command %r is not the unit's ExecStart %r"
          % (c["command"], exec_start))
    check(c["readinessProbe"]["exec"]["command"] == probe_status,
          "readiness probe %r, want %r" % (c["readinessProbe"]["exec"]["command"], probe_status))
    check(c["livenessProbe"]["exec"]["command"] == probe_ping,
          "liveness probe %r, want %r" % (c["livenessProbe"]["exec"]["command"], probe_ping))

    # The config reaches ringfleetd at the path the probes and the command
    # name, from the ConfigMap in this file.
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    check(conf_dir in mounts, "nothing mounted at %s" % conf_dir)
    conf_vol = vols[mounts[conf_dir]["name"]]
    check(conf_vol["configMap"]["name"] == cm["metadata"]["name"], "config volume")
    check(mounts[conf_dir].get("readOnly") is True, "config mount must be read-only")
    k8s_ini = cm["data"][os.path.basename(config)]

    # The control socket's directory is writable on a read-only root.
    ini = ini_values(k8s_ini)
    sock = ini.get("supervisor", {}).get("control_socket", run_dir + "/control.sock")
    check(os.path.dirname(sock) == run_dir,
          "control_socket %s is not in the package's runtime dir %s" % (sock, run_dir))
    check(run_dir in mounts and "emptyDir" in vols[mounts[run_dir]["name"]],
          "no emptyDir at %s for the control socket" % run_dir)

    sc, psc = c["securityContext"], pod["securityContext"]
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) > 0, "run as non-root")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"),
          "capabilities: drop ALL, add none (like the unit)")
    check(min(ports_of(ini)) >= 1024, "a port below 1024 needs CAP_NET_BIND_SERVICE")

    res = c["resources"]
    check(res["requests"] == res["limits"], "requests != limits: not Guaranteed QoS")
    cpu = res["requests"]["cpu"]
    check(re.fullmatch(r"[1-9]\d*", str(cpu)), "cpu %r: whole CPUs for exclusive cores" % cpu)
    if "cpus" in ini.get("supervisor", {}):
        check(cpulist_count(ini["supervisor"]["cpus"]) == int(cpu),
              "cpus = %s is not the %s CPUs requested" % (ini["supervisor"]["cpus"], cpu))
    for sect, kv in ini.items():
        check("cpu" not in kv, "[%s] pins cpu = %s, which the kubelet's cpuset may not "
              "contain" % (sect, kv.get("cpu")))

    stop_ms = int(ini.get("supervisor", {}).get("stop_timeout_ms", "5000"))
    grace = pod["terminationGracePeriodSeconds"]
    # preStop drains like the unit's ExecStop; the grace period covers the
    # drain and then the workers' stop.
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    check(pre_stop == exec_stop, "preStop %r is not the unit's ExecStop %r" % (pre_stop, exec_stop))
    drain_s = float(pre_stop[pre_stop.index("--timeout") + 1])
    check(grace > drain_s + stop_ms / 1000.0 and grace == stop_budget,
          "terminationGracePeriodSeconds %s: want the unit's TimeoutStopSec %s, above "
          "the drain's %g s plus stop_timeout_ms %d" % (grace, stop_budget, drain_s, stop_ms))

    # ---- Nomad -----------------------------------------------------------------
    with open(os.path.join(src, DEPLOY, "ringfleet.nomad.hcl")) as f:
        hcl = parse_hcl(f.read())
    job = one(hcl, "job")
    check(job["labels"] == ["ringfleet"] and job["attrs"].get("type") == "system",
          "job: %r %r" % (job["labels"], job["attrs"]))
    task = one(one(job, "group"), "task")
    check(task["attrs"]["driver"] == "docker", "driver")
    cfg = one(task, "config")
    check(cfg["attrs"]["image"] == image, "nomad image %s, want %s" % (cfg["attrs"]["image"], image))
    check(cfg["attrs"]["network_mode"] == "host", "network_mode must be host")
    check([cfg["attrs"]["command"]] + cfg["attrs"]["args"] == exec_start,
          "nomad command %r is not ExecStart %r"
          % ([cfg["attrs"]["command"]] + cfg["attrs"]["args"], exec_start))
    check(cfg["attrs"].get("cap_drop") == ["all"] and "cap_add" not in cfg["attrs"], "cap_drop")
    nmounts = {m["attrs"]["target"]: m["attrs"] for m in blocks(cfg, "mount")}
    tpl = one(task, "template")["attrs"]
    check(conf_dir in nmounts and nmounts[conf_dir]["type"] == "bind"
          and nmounts[conf_dir].get("readonly") is True,
          "no read-only bind mount at %s" % conf_dir)
    check(os.path.join(nmounts[conf_dir]["source"], os.path.basename(config)) == tpl["destination"],
          "the template renders to %s, the mount shows %s/"
          % (tpl["destination"], nmounts[conf_dir]["source"]))
    check(tpl.get("change_mode") == "signal" and tpl.get("change_signal") == "SIGHUP",
          "template changes should reload ringfleetd with SIGHUP")
    check(run_dir in nmounts, "no writable mount at %s with readonly_rootfs" % run_dir)
    nomad_ini = tpl["data"]
    check("{{" not in nomad_ini, "the config must not contain template actions")
    check(nomad_ini.strip() == k8s_ini.strip(), "the Nomad and Kubernetes configs differ")

    checks = {tuple([ck["attrs"]["command"]] + ck["attrs"]["args"]): ck
              for ck in blocks(one(task, "service"), "check")}
    check(set(checks) == {tuple(probe_status), tuple(probe_ping)},
          "nomad checks %r, want %r and %r" % (sorted(checks), probe_status, probe_ping))
    check(all(ck["attrs"]["type"] == "script" for ck in checks.values()), "script checks")
    check(blocks(checks[tuple(probe_ping)], "check_restart")
          and not blocks(checks[tuple(probe_status)], "check_restart"),
          "only the supervisor-alive check may restart the task")
    check(one(task, "service")["attrs"].get("provider") == "consul",
          "script checks need the consul provider")
    check(task["attrs"].get("kill_signal") in ("SIGTERM", "SIGINT"), "kill_signal")
    check(seconds(task["attrs"]["kill_timeout"]) == stop_budget, "kill_timeout != TimeoutStopSec")
    check(one(task, "resources")["attrs"]["cores"] == int(cpu),
          "nomad cores %r, kubernetes cpu %r" % (one(task, "resources")["attrs"]["cores"], cpu))

    # ---- the image ---------------------------------------------------------------
    with open(os.path.join(src, DEPLOY, "Dockerfile")) as f:
        docker = f.read()
    entry = json.loads(re.search(r"^ENTRYPOINT\s+(\[.*\])$", docker, re.M).group(1))
    check(entry == exec_start, "ENTRYPOINT %r is not ExecStart" % entry)
    user = re.search(r"^USER\s+(\d+):(\d+)$", docker, re.M)
    check(user and (int(user.group(1)), int(user.group(2))) == (psc["runAsUser"], psc["runAsGroup"]),
          "USER %s, pod runs as %s:%s" % (user and user.group(0), psc["runAsUser"], psc["runAsGroup"]))
    check(re.search(r"useradd\b[^\n]*(?:\\\n[^\n]*)*--uid %s\b" % user.group(1), docker),
          "the image does not create uid %s" % user.group(1))
    check(re.search(r"^FROM debian:12", docker, re.M), "the .deb is built for Debian 12")

    # ---- the configuration itself ----------------------------------------------------
    with tempfile.NamedTemporaryFile("w", suffix=".ini") as f:
        f.write(k8s_ini)
        f.flush()
        p = subprocess.run([os.path.join(bin_dir, "ringfleetd"), "--check", f.name],
                           capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "ringfleetd --check rejects the deployed config: %s" % p.stderr)
    n = int(re.search(r"OK \((\d+) servers\)", p.stdout).group(1))
    check(n == len(ports_of(ini)), "--check counts %d servers, the config lists %d"
          % (n, len(ports_of(ini))))
    print("ok: DaemonSet, Nomad job and image agree with the package (%d servers)" % n)


if __name__ == "__main__":
    main()
