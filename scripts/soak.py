#!/usr/bin/env python3
"""#25 item 6: a soak of three instances on one PostgreSQL behind a real haproxy.

  python3 scripts/soak.py            # 5 minutes; prints a markdown report (BENCHMARKS.md)
  python3 scripts/soak.py --short    # 30 s, the same rules (CI)

Three release binaries share a throwaway PostgreSQL cluster (initdb in a temp dir, as the
`postgres` user when run as root) and sit behind haproxy from Debian's package, configured as
docs/deploying.md shows: TCP mode, round robin, `send-proxy-v2`, `/healthz` health checks with
`check-send-proxy`, and the instances started with `--trusted-proxy 127.0.0.1 --proxy-protocol`.

The workload, each client from its own loopback address (so the instances tell them apart
through the PROXY header):
- a victim (127.0.0.1) logs in, uses its token on both protected routes, refreshes, and now and
  then revokes its session (RFC 7009), then checks that every instance refuses the revoked
  session's access token;
- a token checker (127.0.0.3) calls GET /secure-resource in a loop;
- an attacker (127.0.0.2) sends wrong passwords for made-up names without pause;
- an operator runs `user disable`/`user enable` and `user passwd` from the CLI, and times how
  long each takes to be refused on every instance (asked directly, with a PROXY header).

Faults mid-run: kill -9 of one instance and its restart; a PostgreSQL restart; a PostgreSQL
outage (10 s; 4 s in --short). Afterwards every revoked refresh token must still be refused and
the last live one must still work, and the CLI's last writes must show: no committed write lost.

With `--bin PATH` (CI: the debug binary `cargo test` built, `--short`) it runs that binary and
gates on the correctness goals only, reporting RSS and p99 without gating on them.

Goals (exit code 1 when one is missed): no unexpected status (only 200/401/403/429 anywhere, and
503 with Retry-After while the database is down or coming back), no lost write, the victim never
gets 429, a disable or revoke refused everywhere within 1 s outside the database faults, RSS
growth under 10% after warm-up, and the token route's p99 under 20 ms.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "auth-std-server")
SECRET = "soak-instances-share-this-one-secret-0123"
VICTIM, CHECKER, ATTACKER, PROBE = "127.0.0.1", "127.0.0.3", "127.0.0.2", "127.0.0.9"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postgres:
    """A throwaway cluster, stopped and removed at the end."""

    def __init__(self):
        version = sorted(os.listdir("/usr/lib/postgresql"))[-1]
        self.bin = f"/usr/lib/postgresql/{version}/bin"
        self.tmp = tempfile.mkdtemp(prefix="soak-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.port = free_port()
        self.root = os.geteuid() == 0
        if self.root:
            run(["chown", "-R", "postgres:postgres", self.tmp])
        self.pg([f"{self.bin}/initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D", self.data])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.tmp}'\nmax_connections = 200\n")
        self.start()
        run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-c", "CREATE DATABASE soak"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/soak"

    def pg(self, cmd):
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        run(cmd)

    def start(self):
        self.pg([f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.tmp, "log"), "-w", "start"])

    def stop(self):
        self.pg([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class Instance:
    def __init__(self, name, url, workdir):
        self.name, self.url, self.port = name, url, free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "log"), "a")
        self.p = subprocess.Popen(
            [BIN, "--listen", f"127.0.0.1:{self.port}", "--store", self.url,
             "--pbkdf2-rounds", "1000", "--trusted-proxy", "127.0.0.1", "--proxy-protocol",
             "--log-format", "json"],
            cwd=self.dir, env=dict(os.environ, AUTH_SECRET=SECRET, RUST_LOG="warn"),
            stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                if probe(self.port, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"instance {self.name} did not become ready")

    def kill9(self):
        self.p.kill()
        self.p.wait()

    def rss_kib(self):
        try:
            with open(f"/proc/{self.p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


def request(port, method, path, body=None, headers=None, src=VICTIM, proxy_from=None):
    """One request on a new connection: (status, headers, body). With `proxy_from`, a PROXY v1
    header naming that client opens the connection, as haproxy's does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(src, 0))
    try:
        conn.connect()
        if proxy_from:
            conn.sock.sendall(f"PROXY TCP4 {proxy_from} 127.0.0.1 5000 {port}\r\n".encode())
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body, h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def probe(port, method, path, headers=None):
    return request(port, method, path, headers=headers, src="127.0.0.1", proxy_from=PROBE)


def haproxy_conf(front, instances, path):
    servers = "\n".join(
        f"  server {i.name} 127.0.0.1:{i.port} send-proxy-v2 check check-send-proxy inter 500ms fall 2 rise 2"
        for i in instances)
    with open(path, "w") as f:
        f.write(
            "global\n  maxconn 2048\n"
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
            "  retries 3\n  option redispatch\n"
            f"frontend auth\n  bind 127.0.0.1:{front}\n  default_backend auth\n"
            "backend auth\n  balance roundrobin\n  option httpchk GET /healthz\n"
            f"  http-check expect status 200\n{servers}\n")


class Run:
    """What the clients saw, and the fault schedule."""

    def __init__(self, duration, outage):
        self.t0 = time.monotonic()
        self.duration = duration
        d = duration
        self.kill_at, self.restart_at = 0.25 * d, 0.30 * d
        self.pg_restart_at = 0.45 * d
        self.outage_at, self.outage_end = 0.60 * d, 0.60 * d + outage
        self.warm = 0.1 * d
        self.lock = threading.Lock()
        self.events = []  # (t, route, status or None, ms, retry_after, client)
        self.unexpected = []
        self.propagation = {"disable": [], "revoke": [], "passwd": []}
        self.revoked_refresh = []
        self.live_refresh = None
        self.cli_results = []
        self.rss = {}
        self.stop = threading.Event()
        self.db_down = []  # (start, end) of database faults, end None while down

    def now(self):
        return time.monotonic() - self.t0

    def phase(self, t):
        if t < self.warm:
            return "warm-up"
        if self.kill_at <= t < self.restart_at + 5:
            return "kill -9"
        if self.pg_restart_at <= t < self.pg_restart_at + 8:
            return "pg restart"
        if self.outage_at <= t < self.outage_end + 8:
            return "pg outage"
        return "steady"

    def in_db_fault(self, t, slack=6.0):
        with self.lock:
            return any(s - 0.5 <= t <= (e if e is not None else 1e9) + slack for s, e in self.db_down)

    def record(self, route, client, status, ms, headers, at=None):
        t = self.now() if at is None else at
        retry = headers is not None and "retry-after" in headers
        with self.lock:
            self.events.append((t, route, status, ms, retry, client))
        ok = status in (200, 401, 403, 429) or (status == 503 and retry and self.in_db_fault(t))
        if route.startswith("refresh") and status == 400:
            ok = False
        if status is not None and not ok:
            with self.lock:
                self.unexpected.append((round(t, 2), self.phase(t), route, client, status))

    def call(self, route, client, *args, **kw):
        start = time.monotonic()
        try:
            status, headers, body = request(*args, **kw)
        except (OSError, http.client.HTTPException):
            self.record(route, client, None, (time.monotonic() - start) * 1000, None)
            return None, {}, b""
        self.record(route, client, status, (time.monotonic() - start) * 1000, headers)
        return status, headers, body


def login_body(user, pw):
    return urllib.parse.urlencode({"username": user, "password": pw})


def refused_everywhere(run, instances, token, route, limit=15.0):
    """Seconds until every instance refuses `token` (asked directly); None past `limit`."""
    start = time.monotonic()
    pending = list(instances)
    while pending and time.monotonic() - start < limit:
        still = []
        for i in pending:
            try:
                s = probe(i.port, "GET", route, {"Authorization": f"Bearer {token}"})[0]
            except OSError:
                s = 0  # killed: it serves nothing, and refuses the token once it is back
            if s not in (0, 401, 403):
                still.append(i)
        pending = still
        if pending:
            time.sleep(0.02)
    return None if pending else time.monotonic() - start


def victim(run, front, instances):
    n = 0
    while not run.stop.is_set():
        status, _, body = run.call("login", "victim", front, "POST", "/auth/session",
                                   login_body("alice", "al1ce"), src=VICTIM)
        if status != 200:
            time.sleep(0.2)
            continue
        tok = json.loads(body)
        # A person's pace: a login every 2.5 s or so (the account may make 30 a minute on
        # each instance), its token used in between.
        until = time.monotonic() + 2.5
        while time.monotonic() < until and not run.stop.is_set():
            for route in ("/secure-resource", "/dashboard/metrics"):
                run.call("token", "victim", front, "GET", route,
                         headers={"Authorization": f"Bearer {tok['access_token']}"}, src=VICTIM)
            time.sleep(0.1)
        status, _, body = run.call("refresh", "victim", front, "POST", "/auth/session",
                                   urllib.parse.urlencode({"grant_type": "refresh_token",
                                                           "refresh_token": tok["refresh_token"]}),
                                   src=VICTIM)
        if status == 200:
            tok = json.loads(body)
        n += 1
        if n % 4 == 0:
            t = run.now()
            status, _, _ = run.call("revoke", "victim", front, "POST", "/auth/revoke",
                                    urllib.parse.urlencode({"token": tok["refresh_token"]}), src=VICTIM)
            if status == 200:
                with run.lock:
                    run.revoked_refresh.append(tok["refresh_token"])
                took = refused_everywhere(run, instances, tok["access_token"], "/secure-resource")
                run.propagation["revoke"].append((t, took))
        else:
            with run.lock:
                run.live_refresh = tok["refresh_token"]
        time.sleep(0.05)


def checker(front, t0, duration, pipe):
    """The token checker, in a process of its own so its timings are not the other clients'
    GIL waits: (t, route, status, ms, retry_after) per request, sent back at the end."""
    events, token = [], None
    while time.monotonic() - t0 < duration:
        start = time.monotonic()
        try:
            if token is None:
                status, headers, body = request(front, "POST", "/auth/session", login_body("bob", "b0b"), src=CHECKER)
                route = "login"
                token = json.loads(body)["access_token"] if status == 200 else None
            else:
                status, headers, _ = request(front, "GET", "/secure-resource",
                                             headers={"Authorization": f"Bearer {token}"}, src=CHECKER)
                route = "token"
                if status == 401:
                    token = None
        except (OSError, http.client.HTTPException):
            status, headers, route = None, None, "token"
        events.append((start, route, status, (time.monotonic() - start) * 1000, headers))
        time.sleep(0.005)
    pipe.send(events)
    pipe.close()


def attacker(run, front):
    while not run.stop.is_set():
        run.call("login", "attacker", front, "POST", "/auth/session",
                 login_body(f"ghost{random.randrange(1000)}", "wrong"), src=ATTACKER)
        time.sleep(0.01)


def cli(run, args, stdin=None):
    """`user …` against the store: its exit code (retried while the database is down)."""
    for _ in range(40):
        rounds = ["--pbkdf2-rounds", "1000"] if args[0] in ("add", "passwd") else []
        p = subprocess.run([BIN, "user"] + args + ["--store", run.url] + rounds,
                           input=stdin, capture_output=True, text=True, cwd=run.workdir)
        t = run.now()
        if p.returncode == 0:
            run.cli_results.append((round(t, 2), args[0], "ok"))
            return True
        run.cli_results.append((round(t, 2), args[0], "failed (database down)" if run.in_db_fault(t)
                                else f"FAILED: {p.stderr.strip()}"))
        time.sleep(0.5)
    return False


def operator(run, front, instances, every):
    passwords = ["d4ve", "d4ve-2"]
    k = 0
    while not run.stop.wait(every):
        status, _, body = request(front, "POST", "/auth/session", login_body("carol", "c4rol"), src="127.0.0.4")
        if status == 200:
            token = json.loads(body)["access_token"]
            t = run.now()
            if cli(run, ["disable", "carol"]):
                run.propagation["disable"].append((t, refused_everywhere(run, instances, token, "/dashboard/metrics")))
            cli(run, ["enable", "carol"])
        old, new = passwords[k % 2], passwords[(k + 1) % 2]
        status, _, body = request(front, "POST", "/auth/session", login_body("dave", old), src="127.0.0.5")
        if status == 200:
            token = json.loads(body)["access_token"]
            t = run.now()
            if cli(run, ["passwd", "dave", "--password-stdin"], stdin=new + "\n"):
                k += 1
                run.propagation["passwd"].append((t, refused_everywhere(run, instances, token, "/secure-resource")))


def sampler(run, instances):
    while not run.stop.wait(2.0):
        for i in instances:
            kib = i.rss_kib()
            if kib is not None:
                run.rss.setdefault((i.name, i.p.pid), []).append((run.now(), kib))


def faults(run, instances, pg):
    victim_instance = instances[1]
    plan = [
        (run.kill_at, lambda: victim_instance.kill9()),
        (run.restart_at, lambda: victim_instance.start()),
        (run.pg_restart_at, lambda: pg_fault(run, pg, 0.0)),
        (run.outage_at, lambda: pg_fault(run, pg, run.outage_end - run.outage_at)),
    ]
    for at, action in plan:
        while run.now() < at and not run.stop.is_set():
            time.sleep(0.05)
        action()


def pg_fault(run, pg, down_for):
    with run.lock:
        run.db_down.append([run.now(), None])
    pg.stop()
    time.sleep(down_for)
    pg.start()
    with run.lock:
        run.db_down[-1][1] = run.now()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def report(run, lost, short, timing=True):
    phases = ["warm-up", "steady", "kill -9", "pg restart", "pg outage"]
    out = [f"### Soak: 3 instances behind haproxy ({'30 s, --short' if short else f'{run.duration:.0f} s'})", ""]
    out.append(f"{len(run.events)} requests; faults: kill -9 of instance b at {run.kill_at:.0f} s, restarted at "
               f"{run.restart_at:.0f} s; PostgreSQL restarted at {run.pg_restart_at:.0f} s; down "
               f"{run.outage_at:.0f}–{run.outage_end:.0f} s.")
    out.append("")
    out.append("| phase | route | " + " | ".join(["200", "401", "403", "429", "503", "other", "no answer"]) + " |")
    out.append("|---|---|" + "---|" * 7)
    for ph in phases:
        for route in ("login", "token", "refresh", "revoke"):
            evs = [e for e in run.events if run.phase(e[0]) == ph and e[1] == route]
            if not evs:
                continue
            c = lambda s: sum(1 for e in evs if e[2] == s)
            other = sum(1 for e in evs if e[2] not in (200, 401, 403, 429, 503, None))
            out.append(f"| {ph} | {route} | " + " | ".join(str(c(s)) for s in (200, 401, 403, 429, 503))
                       + f" | {other} | {c(None)} |")
    out.append("")
    out.append("| route | p50 ms | p99 ms | p99 ms outside the database faults | 503 p50 / p99 ms |")
    out.append("|---|---|---|---|---|")
    p99_token = None
    for route in ("login", "token", "refresh", "revoke"):
        ms = [e[3] for e in run.events if e[1] == route and e[2] is not None]
        calm = [e[3] for e in run.events if e[1] == route and e[2] is not None and not run.in_db_fault(e[0], 8)]
        unavailable = [e[3] for e in run.events if e[1] == route and e[2] == 503]
        if route == "token":
            p99_token = pct(ms, 99)
        u = f"{pct(unavailable, 50):.1f} / {pct(unavailable, 99):.1f}" if unavailable else "—"
        out.append(f"| {route} | {pct(ms, 50):.2f} | {pct(ms, 99):.2f} | {pct(calm, 99):.2f} | {u} |")
    out.append("")
    growths = []
    # RSS over time: a column per tenth of the run, each the process's last sample in it.
    step = run.duration / 10
    cols = [step * (k + 1) for k in range(10)]
    out.append("| instance (pid) | " + " | ".join(f"{c:.0f} s" for c in cols)
               + " | growth after warm-up |")
    out.append("|---|" + "---|" * (len(cols) + 1))
    for (name, pid), samples in sorted(run.rss.items()):
        start = samples[0][0]
        warm = [kib for t, kib in samples if t >= start + run.warm]
        if len(warm) < 3:
            continue
        g = (warm[-1] - warm[0]) / warm[0] * 100
        growths.append(g)
        cells = []
        for c in cols:
            inside = [kib for t, kib in samples if c - step <= t < c]
            cells.append(f"{inside[-1] / 1024:.1f}" if inside else "")
        out.append(f"| {name} ({pid}) | " + " | ".join(cells) + f" | {g:+.1f}% |")
    out.append("")
    out.append("(RSS in MiB, from /proc/PID/status every 2 s; b's first process was killed at the kill.)")
    out.append("")
    worst = {}
    for kind, xs in run.propagation.items():
        calm = [took for t, took in xs if not run.in_db_fault(t, 8)]
        worst[kind] = (max((x for x in calm if x is not None), default=None), sum(1 for x in calm if x is None), len(xs))
        w = worst[kind]
        out.append(f"- {kind}: {w[2]} done; refused on every instance within "
                   f"{'—' if w[0] is None else f'{w[0] * 1000:.0f} ms'} at worst outside the database faults"
                   f"{f', {w[1]} not within 15 s' if w[1] else ''}.")
    failed_cli = [r for r in run.cli_results if r[2].startswith("FAILED")]
    out.append(f"- CLI writes: {sum(1 for r in run.cli_results if r[2] == 'ok')} ok, "
               f"{sum(1 for r in run.cli_results if 'database down' in r[2])} refused while the database was down "
               f"(retried), {len(failed_cli)} failed otherwise.")
    victim_429 = sum(1 for e in run.events if e[5] == "victim" and e[2] == 429)
    no_answer = [e for e in run.events if e[2] is None]
    out.append(f"- Unexpected statuses: {len(run.unexpected)}{': ' + str(run.unexpected[:10]) if run.unexpected else ''}.")
    out.append(f"- No answer (connection closed): {len(no_answer)}, by phase: "
               f"{ {ph: sum(1 for e in no_answer if run.phase(e[0]) == ph) for ph in phases} }.")
    out.append(f"- Lost writes: {len(lost)}{': ' + str(lost[:10]) if lost else ''}.")
    goals = [
        ("0 unexpected statuses", not run.unexpected),
        ("0 lost committed writes", not lost and not failed_cli),
        ("the victim never gets 429", victim_429 == 0),
        ("disable/revoke refused everywhere within 1 s outside the database faults",
         all(w[0] is not None and w[0] <= 1.0 and w[1] == 0 for k, w in worst.items() if k != "passwd" and w[2])),
    ]
    # Speed and memory are a benchmark's to claim: with --bin (CI's debug build on a shared
    # machine) they are reported, not gated.
    measured = [
        ("RSS growth < 10% after warm-up", bool(growths) and max(growths) < 10.0),
        ("token route p99 < 20 ms", p99_token is not None and p99_token < 20.0),
    ]
    out.append("")
    for name, ok in goals + measured:
        gated = (name, ok) in goals or timing
        mark = ("met" if ok else "MISSED") if gated else ("met" if ok else "missed") + ", not gated with --bin"
        out.append(f"- **{mark}**: {name}")
    return "\n".join(out), all(ok for _, ok in goals) and (not timing or all(ok for _, ok in measured))


def check_writes(run, front):
    """Every revoked refresh token is still refused, the last live one still works, and the
    CLI's last writes show."""
    lost = []
    for token in run.revoked_refresh:
        s = request(front, "POST", "/auth/session",
                    urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": token}))[0]
        if s != 400:
            lost.append(("revoked refresh token answered", s))
    if run.live_refresh:
        s = request(front, "POST", "/auth/session",
                    urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": run.live_refresh}))[0]
        if s != 200:
            lost.append(("live refresh token refused", s))
    listed = subprocess.run([BIN, "user", "list", "--store", run.url], capture_output=True, text=True).stdout
    carol = next((l for l in listed.splitlines() if l.split() and l.split()[0] == "carol"), "")
    if "disabled" in carol:
        lost.append(("carol's last enable", carol))
    return lost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="30 s instead of 5 minutes (CI)")
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--bin", default=None,
                    help="the server binary (default: build and use target/release/auth-std-server)")
    a = ap.parse_args()
    global BIN
    if a.bin:
        BIN = os.path.abspath(a.bin)
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(haproxy) or not os.path.exists("/usr/lib/postgresql"):
        print("SKIP: soak needs haproxy and postgresql")
        sys.exit(1 if os.environ.get("CI") == "true" else 0)
    if not a.bin:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"],
                       cwd=ROOT, check=True)
    duration = a.duration or (30.0 if a.short else 300.0)
    r = Run(duration, 4.0 if a.short else 10.0)
    pg = Postgres()
    r.url = pg.url
    r.workdir = tempfile.mkdtemp(prefix="soak-")
    procs = []
    try:
        for name, pw in [("alice", "al1ce"), ("bob", "b0b"), ("carol", "c4rol"), ("dave", "d4ve")]:
            cli(r, ["add", name, "--password-stdin"], stdin=pw + "\n")
        instances = [Instance(n, pg.url, r.workdir) for n in ("a", "b", "c")]
        front = free_port()
        conf = os.path.join(r.workdir, "haproxy.cfg")
        haproxy_conf(front, instances, conf)
        hp = subprocess.Popen([haproxy, "-db", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(hp)
        time.sleep(1.5)
        r.t0 = time.monotonic()
        import multiprocessing
        ours, theirs = multiprocessing.Pipe()
        checking = multiprocessing.get_context("fork").Process(
            target=checker, args=(front, r.t0, duration, theirs), daemon=True)
        checking.start()
        threads = [threading.Thread(target=f, args=args, daemon=True) for f, args in [
            (victim, (r, front, instances)), (attacker, (r, front)),
            (operator, (r, front, instances, 5.0 if a.short else 15.0)), (sampler, (r, instances)),
            (faults, (r, instances, pg))]]
        for t in threads:
            t.start()
        while r.now() < duration:
            time.sleep(0.2)
        r.stop.set()
        for t in threads:
            t.join(timeout=30)
        for start, route, status, ms, headers in ours.recv():
            r.record(route, "checker", status, ms, headers, at=start - r.t0)
        checking.join(timeout=10)
        time.sleep(1.0)
        lost = check_writes(r, front)
        text, ok = report(r, lost, a.short, timing=not a.bin)
        print(text)
        sys.exit(0 if ok else 1)
    finally:
        r.stop.set()
        for p in procs:
            p.kill()
        for i in locals().get("instances", []):
            i.p.kill()
        pg.remove()
        shutil.rmtree(r.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
