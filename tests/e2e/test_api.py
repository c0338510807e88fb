# SPDX-License-Identifier: Apache-2.0
"""The HTTP allocation API (api_listen) end to end, against 100 relay
servers of one ringfleetd:
- --check refuses a token file of mode 0644, a token file that is a
  symbolic link, and a non-loopback api_listen without TLS (unless
  api_insecure = yes), each naming file:line;
- allocate / list / release over HTTP with the bearer token; 401 with
  WWW-Authenticate for no token, a wrong one, another scheme; 400 naming
  the member for bad JSON and wrong types; 404, 405; 413 for a 20 KiB
  body, declared or chunked;
- a client trickling its headers is dropped at the request deadline while
  other requests are served at once; 64 clients that never read their
  answers hold every connection, and the next one gets 429 (and the
  control socket keeps answering); an allocation on a connection accepted
  with a newcomer beside 32 busy ones is answered, or closed with nothing
  allocated (never allocated with its answer lost);
- exactly once: 200 simultaneous allocations, half `ringfleetctl allocate`
  and half POST /v1/allocate, against 100 ready servers: exactly 100
  succeed, on 100 distinct servers; the rest get 409 / exit status 6;
- reload: TLS switched on (a Python https client trusting the test's
  self-signed certificate), the token file replaced (old token refused,
  new one taken), a token file made unsafe (the reload fails and the
  running token stays)."""
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

from fleetlib import Daemon, binary, check, fail, free_port_block, free_tcp_port, skip, wait_for

SERVERS = 100
REQUEST_DEADLINE = 5   # HTTPD_REQUEST_TIMEOUT_S
BUSY_CONNS = 32        # HTTPD_BUSY_CONNS: past it, a new connection evicts an idle one
HANG_MS = 60000
START_S = 300          # 100 workers ready (sanitized, loaded: minutes)
NO_MATCH_EXIT = 6      # ringfleetctl allocate: no ready server matches


class Api:
    """Requests to the API at port (https with cafile), with token."""

    def __init__(self, port, token, cafile=None):
        self.port, self.token, self.cafile = port, token, cafile

    def conn(self, timeout=10):
        if self.cafile:
            ctx = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, token=None, auth=None, headers=None, timeout=10):
        """(status, headers, parsed JSON body)."""
        h = dict(headers or {})
        if auth is None:
            auth = "Bearer " + (token if token is not None else self.token)
        if auth:
            h["Authorization"] = auth
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            fail("%s %s: %d with a body that is not JSON: %r" % (method, path, r.status, data))
        return r.status, r.headers, parsed

    def servers(self):
        status, _, body = self.call("GET", "/v1/servers")
        check(status == 200, "GET /v1/servers: %d %s" % (status, body))
        return {s["name"]: s for s in body}


def write_token(path, text, mode=0o600):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", mode)
    os.rename(path + ".tmp", path)


def sup_ini(port, token_file, extra=""):
    # 100 workers on a loaded 2-core machine (sanitized: several times
    # slower) can go seconds without a tick, and take over 15 s to start
    # (seen at load 300-600): the default hang_timeout_ms (2 s, also the
    # start timeout's floor) would kill ready ones, during the burst too,
    # and a server being restarted is rightly not ready (the diagnostic of
    # check_exactly_once prints such kills). Hang detection is not what
    # this test is about.
    return ("max_per_cpu = %d\nhang_timeout_ms = %d\napi_listen = 127.0.0.1:%d\n"
            "api_token_file = %s\n%s" % (SERVERS, HANG_MS, port, token_file, extra))


def all_ready(api):
    """Every server listed and ready (the API listens a moment after the
    control socket)."""
    try:
        listed = api.servers()
    except ConnectionRefusedError:
        return False
    return len(listed) == SERVERS and all(s["state"] == "ready" for s in listed.values())


def check_refusals(d, tmp, port):
    """--check on variants of the daemon's own file."""
    base = open(d.config).read()

    def refused(name, text, want):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode != 0, "--check accepted %s" % name)
        check(want in r.stderr and path + ":" in r.stderr,
              "--check %s: want %r with file:line, got %r" % (name, want, r.stderr))

    loose = os.path.join(tmp, "loose.token")
    write_token(loose, "0123456789abcdef0123\n", 0o644)
    refused("loose.ini", base.replace(d.token_file, loose), "has mode 0644")
    link = os.path.join(tmp, "link.token")
    os.symlink(d.token_file, link)
    refused("link.ini", base.replace(d.token_file, link), "is a symbolic link")
    open_ini = base.replace("api_listen = 127.0.0.1:%d" % port, "api_listen = 0.0.0.0:%d" % port)
    refused("open.ini", open_ini, "is not a loopback address and the API has no TLS")
    path = os.path.join(tmp, "insecure.ini")
    with open(path, "w") as f:
        f.write(open_ini.replace("api_listen =", "api_insecure = yes\napi_listen =", 1))
    r = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "--check with api_insecure = yes: %s" % r.stderr)
    print("--check: 0644, symlink and non-loopback plain HTTP refused; api_insecure accepted")


def check_auth(api):
    for what, kw in (("no token", {"auth": ""}), ("a wrong token", {"token": "x" * 40}),
                     ("another scheme", {"auth": "Basic dXNlcjpwYXNz"}),
                     ("a token with a tail", {"token": api.token + "x"}),
                     ("a prefix of the token", {"token": api.token[:-1]})):
        status, headers, body = api.call("GET", "/v1/servers", **kw)
        check(status == 401, "%s: %d" % (what, status))
        check((headers.get("WWW-Authenticate") or "").startswith("Bearer"),
              "%s: WWW-Authenticate %r" % (what, headers.get("WWW-Authenticate")))
        check(isinstance(body, dict) and body.get("error"), "%s: body %r" % (what, body))
    status, _, _ = api.call("POST", "/v1/allocate", auth="Bearer " + "y" * 40, body={})
    check(status == 401, "allocate with a wrong token: %d" % status)
    status, _, _ = api.call("GET", "/v1/servers", auth="bearer  %s " % api.token)
    check(status == 200, "scheme in lower case, extra blanks: %d" % status)
    print("auth: none, wrong, another scheme, tail, prefix -> 401")


def check_endpoints(api, d):
    status, _, s = api.call("POST", "/v1/allocate", body={"meta": {"match": "m-1"}})
    check(status == 200, "allocate: %d %s" % (status, s))
    name = s["name"]
    check(s["port"] in d.ports and s["address"] == "127.0.0.1", "allocate reply %s" % s)
    check(s["state"] == "allocated", "allocate reply state %s" % s)
    check(api.servers()[name]["state"] == "allocated", "list after allocate")
    status, _, r = api.call("POST", "/v1/servers/%s/release" % name)
    check(status == 200 and r["name"] == name, "release: %d %s" % (status, r))
    status, _, r = api.call("POST", "/v1/servers/%s/release" % name)
    check(status == 409, "second release: %d %s" % (status, r))
    status, _, r = api.call("POST", "/v1/servers/nosuch/release")
    check(status == 404 and "nosuch" in r["error"], "release nosuch: %d %s" % (status, r))
    status, headers, _ = api.call("GET", "/v1/allocate")
    check(status == 405 and headers.get("Allow") == "POST", "GET /v1/allocate: %d" % status)
    status, headers, _ = api.call("DELETE", "/v1/servers")
    check(status == 405 and headers.get("Allow") == "GET", "DELETE /v1/servers: %d" % status)
    status, _, _ = api.call("GET", "/v2/servers")
    check(status == 404, "GET /v2/servers: %d" % status)
    print("allocate %s, list, release, release again (409), unknown (404), 405, 404" % name)


def check_bad_requests(api):
    for body, want in (('{"policy":', "bad JSON"), ("[1, 2]", "object"),
                       ('{"policy": 3}', "policy"), ('{"selectors": ["a"]}', "selector"),
                       ('{"meta": {"k": 1}}', "meta"), ('{"players": "alice"}', "players"),
                       ('{"players": [1]}', "player"), ('{"bogus": 1}', "bogus"),
                       ('{"meta": {"k": "v", "k": "w"}}', "duplicate"),
                       ('{"selectors": {"Bad Key!": "v"}}', "selector")):
        status, _, r = api.call("POST", "/v1/allocate", body=body)
        check(status == 400, "%s: %d %s" % (body, status, r))
        check(want in r["error"], "%s: error %r does not name %r" % (body, r["error"], want))
    big = b'{"meta": {"k": "' + b"a" * 20000 + b'"}}'
    status, headers, r = api.call("POST", "/v1/allocate", body=big)
    check(status == 413 and "16384" in r["error"], "20 KiB body: %d %s" % (status, r))
    # Chunked: no length to refuse up front; refused once over the limit.
    c = api.conn()
    c.putrequest("POST", "/v1/allocate")
    c.putheader("Authorization", "Bearer " + api.token)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for _ in range(5):
        c.send(b"1000\r\n" + b" " * 0x1000 + b"\r\n")
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    check(r.status == 413, "20 KiB chunked body: %d" % r.status)
    c.close()
    print("400 naming the member for 10 bad bodies; 413 for 20 KiB, declared or chunked")


class Trickler(threading.Thread):
    """Sends head at once, then piece every half second until cut."""

    def __init__(self, port, head, piece):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.sendall(head)
        self.piece = piece
        self.t0 = time.monotonic()
        self.lived = None

    def run(self):
        try:
            while time.monotonic() - self.t0 < 20:
                self.s.send(self.piece)
                time.sleep(0.5)
        except OSError:
            pass
        self.lived = time.monotonic() - self.t0
        self.s.close()


def check_slow_client(api, d):
    """A client trickling its headers, and one with the token trickling
    its body: both cut at the request deadline, others served meanwhile."""
    heads = Trickler(api.port, b"POST /v1/allocate HTTP/1.1\r\nHost: x\r\n", b"X-Slow: a\r\n")
    body = Trickler(api.port, ("POST /v1/allocate HTTP/1.1\r\nHost: x\r\nAuthorization: "
                               "Bearer %s\r\nContent-Length: 1000\r\n\r\n{"
                               % api.token).encode(), b" ")
    heads.start()
    body.start()
    time.sleep(1)
    for _ in range(3):
        q0 = time.monotonic()
        status, _, _ = api.call("GET", "/v1/servers")
        took = time.monotonic() - q0
        check(status == 200 and took < 3, "request beside tricklers: %d in %.2f s" % (status, took))
    rc, _, err = d.ctl("ping", timeout=10)
    check(rc == 0, "ping beside tricklers: %s" % err)
    heads.join(25)
    body.join(25)
    for what, t in (("headers", heads), ("body", body)):
        check(t.lived is not None and t.lived < REQUEST_DEADLINE + 5,
              "client trickling its %s lived %s s" % (what, t.lived))
    print("clients trickling headers / body dropped after %.1f / %.1f s; 3 requests served "
          "meanwhile" % (heads.lived, body.lived))


def check_too_many(api, d):
    """Clients that ask for the list and never read the answer stay busy
    for the response deadline: 64 of them fill the table, and the next
    connection is told 429 (or refused outright past the spare ones)."""
    hogs = busy_connections(api, 64)
    alive = sum(1 for s in hogs if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    check(alive == 64, "%d of 64 unread connections still open" % alive)
    got = None
    for _ in range(10):
        try:
            status, headers, body = api.call("GET", "/v1/servers")
        except (ConnectionError, http.client.HTTPException) as e:
            got = "closed (%s)" % e.__class__.__name__
            continue
        got = status
        if status == 429:
            check(headers.get("Connection") == "close", "429 without Connection: close")
            check("connections" in body["error"], "429 body %r" % body)
            break
        time.sleep(0.2)
    check(got == 429, "65th connection next to 64 unread answers: %s" % got)
    rc, _, err = d.ctl("ping", timeout=10)
    check(rc == 0, "ping with 64 unread HTTP answers: %s" % err)
    for s in hogs:
        s.close()
    wait_for(lambda: api.call("GET", "/v1/servers")[0] == 200, 15, "served after the hogs left",
             0.5)
    print("64 unread answers: the next connection got 429; served again once they left")


def read_answer(s):
    """The status of the HTTP answer on s, or None if it closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(4096)
        except (ConnectionError, socket.timeout):
            chunk = b""
        if not chunk:
            return None
        data += chunk
    return int(data.split(b" ", 2)[1])


def busy_connections(api, n):
    """n connections busy taking answers they never read (pipelined GETs
    of the list, a small receive buffer): none of them can be evicted."""
    hogs = []
    req = ("GET /v1/servers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % api.token).encode() * 100
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.connect(("127.0.0.1", api.port))
        s.sendall(req)
        # Its first answer is coming: busy now, so the next connection
        # cannot evict it as idle.
        check(select.select([s], [], [], 10)[0], "no answer to a pipelined GET")
        hogs.append(s)
    return hogs


def check_evicted_request(api, d):
    """The race behind 98 of 100. With every other connection busy, a
    matchmaker connects and sends an allocation, and a newcomer connects,
    both while ringfleetd is stopped: once it runs, it accepts both in
    one run of its loop, the newcomer evicting the matchmaker's
    connection (the only idle one), whose request MHD then still read
    and ran, the answer lost with the socket. Now the answer comes, or
    the connection closes with nothing allocated to it."""
    hogs = busy_connections(api, BUSY_CONNS)
    body = json.dumps({"meta": {"evict": "victim"}})
    req = ("POST /v1/allocate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
           % (api.token, len(body), body)).encode()
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        victim = socket.create_connection(("127.0.0.1", api.port), timeout=10)
        victim.sendall(req)
        newcomer = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    status = read_answer(victim)
    for s in hogs + [victim, newcomer]:
        s.close()
    wait_for(lambda: api.call("GET", "/v1/servers")[0] == 200, 15, "served after the hogs left",
             0.5)
    holders = [n for n, s in api.servers().items()
               if s["state"] == "allocated" and (s.get("meta") or {}).get("evict") == "victim"]
    check(status == 200 or not holders,
          "the connection closed without an answer (%s) but %s holds its allocation"
          % (status, holders))
    check(status in (200, None), "allocation beside 32 busy connections: %s" % status)
    check(len(holders) == (status == 200), "%s answered, allocated to %s" % (status, holders))
    for name in holders:
        api.call("POST", "/v1/servers/%s/release" % name)
    print("allocation accepted with a newcomer beside 32 busy connections: %s"
          % ("answered 200 (%s)" % holders[0] if holders else "closed, nothing allocated"))


# A loaded machine (sanitized: 100 workers and 100 ringfleetctl at once on
# 2 shared cores) can take tens of seconds to answer: a client that gave
# up earlier could not tell whether its allocation was made.
BURST_ANSWER_S = 120


def http_allocate(api, out, i, barrier):
    """out[i] = (kind, server, attempts, history): kind ok / none / bad,
    history every attempt's outcome (the diagnostic on failure)."""
    barrier.wait()
    history = []
    for attempt in range(50):
        try:
            status, _, body = api.call("POST", "/v1/allocate", body={"meta": {"n": str(i)}},
                                       timeout=BURST_ANSWER_S)
        except ConnectionError as e:
            # Refused, or closed before any answer: ringfleetd runs no
            # request on a connection it cut (httpd.h), so a retry is safe.
            history.append("closed (%s: %s)" % (e.__class__.__name__, e))
            time.sleep(0.05)
            continue
        except (http.client.HTTPException, socket.timeout) as e:
            # No answer in time, or half of one: whether it allocated is
            # unknown, so it cannot be counted either way.
            history.append("%s: %s" % (e.__class__.__name__, e))
            out[i] = ("bad", "%s: %s" % (e.__class__.__name__, e), attempt, history)
            return
        history.append("%s %s" % (status, json.dumps(body)))
        if status == 200:
            out[i] = ("ok", body["name"], attempt, history)
            return
        if status == 409:
            out[i] = ("none", None, attempt, history)
            return
        if status != 429:
            out[i] = ("bad", "%s %s" % (status, body), attempt, history)
            return
        time.sleep(0.05)
    out[i] = ("bad", "no answer in 50 attempts", 50, history)


def ctl_allocate(d, out, i, barrier):
    cmd = [binary("ringfleetctl"), "-s", d.sock, "--timeout", str(BURST_ANSWER_S), "--json",
           "allocate", "--meta", "n=%d" % i]
    barrier.wait()
    history = []
    # The control socket takes 16 connections per uid (control.h): the
    # rest are refused before any request is read, so they retry, as the
    # HTTP side does on 429. A refused connection never allocates.
    for attempt in range(50):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=BURST_ANSWER_S + 30)
        except subprocess.TimeoutExpired:
            history.append("did not exit in %d s" % (BURST_ANSWER_S + 30))
            out[i] = ("bad", history[-1], attempt, history)
            return
        history.append("exit %d: %s%s" % (p.returncode, p.stdout.strip(), p.stderr.strip()[:300]))
        if "too many connections" not in p.stdout + p.stderr:
            break
        time.sleep(0.05)
    if p.returncode == 0:
        body = json.loads(p.stdout)
        out[i] = ("ok", body.get("name") or body["server"]["name"], attempt, history)
    elif p.returncode == NO_MATCH_EXIT:
        out[i] = ("none", None, attempt, history)
    else:
        out[i] = ("bad", "exit %d: %s%s" % (p.returncode, p.stdout, p.stderr[:200]), attempt,
                  history)


def explain_exactly_once(d, out, listed):
    """Everything needed to tell why a burst did not come to 100 ok: the
    failed requests' every reply, and each server's final session with
    the request (meta n) that holds it."""
    holder = {}
    print("final sessions of the %d servers:" % len(listed))
    for name in sorted(listed):
        s = listed[name]
        n = (s.get("meta") or {}).get("n")
        if n is not None:
            holder[int(n)] = name
        print("  %s state=%s since=%s allocation=%s meta=%s" % (
            name, s["state"], s["since"], s.get("allocation_id"), s.get("meta")))
    for i, o in enumerate(out):
        if o is None:
            print("request %d (%s): no result" % (i, "ctl" if i % 2 else "http"))
            continue
        kind, name, attempts, history = o
        lost = i in holder and name != holder[i]
        if kind == "ok" and not lost and len(history) == 1:
            continue
        if kind == "none" and i not in holder and len(history) == 1:
            continue
        print("request %d (%s): %s %s after %d attempts%s" % (
            i, "ctl" if i % 2 else "http", kind, name or "", attempts + 1,
            "; SERVER %s HOLDS ITS ALLOCATION BUT IT WAS NOT TOLD" % holder[i] if lost else ""))
        for h in history:
            print("    %s" % h)
    rc, text, err = d.ctl("--json", "status", timeout=30)
    try:
        servers = json.loads(text)["servers"] if rc in (0, 3) else []
    except (ValueError, KeyError, TypeError):
        servers = []
        print("status --json: exit %d %s%s" % (rc, text[:200], err[:200]))
    for srv in servers:
        if srv.get("state") != "running" or srv.get("restarts") or \
                (srv.get("session") or {}).get("state") != "allocated":
            print("  status: %s state=%s restarts=%s reason=%s session=%s" % (
                srv.get("name"), srv.get("state"), srv.get("restarts"), srv.get("reason"),
                json.dumps(srv.get("session"))))
    log = d.log_text()
    for line in log.splitlines():
        if ("session" in line and "allocated" not in line) or "hang" in line or "hung" in line or \
                "restart" in line or "exited" in line:
            print("  log: %s" % line[:300])


def check_exactly_once(api, d):
    for name, s in api.servers().items():
        if s["state"] == "allocated":
            api.call("POST", "/v1/servers/%s/release" % name)
    wait_for(lambda: all_ready(api), START_S, "every server ready again", 0.5)
    n = 2 * SERVERS
    out = [None] * n
    barrier = threading.Barrier(n)
    threads = [threading.Thread(target=(ctl_allocate if i % 2 else http_allocate),
                                args=((d if i % 2 else api), out, i, barrier))
               for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, t0 + 2 * BURST_ANSWER_S + 60 - time.monotonic()))
    took = time.monotonic() - t0
    listed = api.servers()
    bad = [(i, o and o[:2]) for i, o in enumerate(out) if o is None or o[0] == "bad"]
    names = [o[1] for o in out if o and o[0] == "ok"]
    allocated = sorted(n for n, s in listed.items() if s["state"] == "allocated")
    if bad or len(names) != SERVERS or len(set(names)) != SERVERS or allocated != sorted(names):
        explain_exactly_once(d, out, listed)
    check(not bad, "allocations that neither succeeded nor got 'none ready': %s" % bad[:5])
    check(len(names) == SERVERS, "%d allocations succeeded, want %d (%d servers allocated)"
          % (len(names), SERVERS, len(allocated)))
    check(len(set(names)) == SERVERS, "%d distinct servers in %d allocations"
          % (len(set(names)), len(names)))
    check(allocated == sorted(names), "the allocated servers listed differ from those handed out")
    by_http = sum(1 for i, o in enumerate(out) if o[0] == "ok" and i % 2 == 0)
    retries = sum(o[2] for o in out)
    print("exactly once: 200 at once (100 HTTP, 100 ringfleetctl) -> 100 distinct servers "
          "(%d over HTTP), 100 'none ready', in %.1f s, %d retries" % (by_http, took, retries))


def check_reload(api, d, tmp, port):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    if not shutil.which("openssl"):
        skip("openssl not found (apt-get install openssl) for the TLS part")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "openssl req: %s" % r.stderr)
    os.chmod(key, 0o600)
    d.write_config(d.servers_ini, sup_ini(port, d.token_file, "api_tls_cert = %s\n"
                                          "api_tls_key = %s\n" % (cert, key)))
    rc, out, err = d.ctl("reload", timeout=60)
    check(rc == 0, "reload to TLS: %s%s" % (out, err))
    tls = Api(port, api.token, cert)
    wait_for(lambda: tls.call("GET", "/v1/servers")[0] == 200, 10, "the API over TLS")
    status, _, s = tls.call("POST", "/v1/allocate", body={})
    check(status in (200, 409), "allocate over TLS: %d %s" % (status, s))
    status, _, _ = tls.call("GET", "/v1/servers", token="z" * 32)
    check(status == 401, "wrong token over TLS: %d" % status)
    try:
        api.call("GET", "/v1/servers")
        fail("plain HTTP answered on the TLS port")
    except (ConnectionError, http.client.HTTPException, socket.timeout):
        pass
    print("TLS: reload switched it on; https client trusting the test's certificate served")

    new = "fedcba9876543210" * 3
    write_token(d.token_file, new + "\n")
    rc, out, err = d.ctl("reload", timeout=60)
    check(rc == 0, "reload with a new token: %s%s" % (out, err))
    check(tls.call("GET", "/v1/servers")[0] == 401, "old token still taken after reload")
    tls.token = new
    check(tls.call("GET", "/v1/servers")[0] == 200, "new token refused after reload")
    os.chmod(d.token_file, 0o644)
    rc, out, err = d.ctl("reload", timeout=60)
    check(rc != 0 and "api_token_file" in out + err, "reload with a 0644 token file: %d %s%s"
          % (rc, out, err))
    check(tls.call("GET", "/v1/servers")[0] == 200, "running token lost by a failed reload")
    print("reload: new token taken, old refused; a 0644 token file fails the reload, "
          "the running token stays")


def main():
    base = free_port_block(SERVERS)
    port = free_tcp_port()
    # session_idle_s: a burst that takes minutes (sanitized, loaded) must
    # not see its first matches end for want of clients, their servers
    # ready again for its last requests.
    servers_ini = ("[pool p]\nports = %d-%d\ntick_hz = 10\nrecv_buffers = 16\n"
                   "max_clients = 4\nsession_idle_s = 3600\n" % (base, base + SERVERS - 1))
    d = Daemon(servers_ini)
    tmp = d.dir
    d.token_file = os.path.join(tmp, "api.token")
    d.servers_ini = servers_ini
    d.ports = range(base, base + SERVERS)
    token = "0123456789abcdef" * 2
    write_token(d.token_file, token + "\n")
    d.write_config(servers_ini, sup_ini(port, d.token_file))
    check_refusals(d, tmp, port)
    api = Api(port, token)
    with d:
        wait_for(lambda: all_ready(api), START_S, "%d servers ready" % SERVERS, 0.5)
        check_auth(api)
        check_endpoints(api, d)
        check_bad_requests(api)
        check_slow_client(api, d)
        check_too_many(api, d)
        check_evicted_request(api, d)
        check_exactly_once(api, d)
        check_reload(api, d, tmp, port)
        check(d.stop() == 0, "exit code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
