#!/usr/bin/env python3
"""#12's benchmarks: the store on SQLite and on PostgreSQL, side by side with the 0.1 users file,
in one run, on this machine. Prints a markdown section (scripts/bench.sh puts it into
BENCHMARKS.md). Nothing here runs in CI; no test asserts a timing.

  python3 scripts/store_bench.py            # LOAD_SECONDS=8 REPEATS=3 ACCOUNTS=1000000

The users-file figures come from the last commit before the store (BASELINE, built into
target/store-bench/). PostgreSQL is a throwaway cluster this script starts (initdb in a temp
dir, as the postgres user when run as root, default fsync and synchronous_commit) and removes.
Every figure is a median; the token route is measured REPEATS times per backend, interleaved.
"""
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.environ.get("BASELINE", "a235d5a")
SECONDS = int(os.environ.get("LOAD_SECONDS", "8"))
REPEATS = int(os.environ.get("REPEATS", "3"))
ACCOUNTS = int(os.environ.get("ACCOUNTS", "1000000"))
LUA = os.path.join(ROOT, "scripts", "status_counts.lua")
SECRET = "store-bench-secret-store-bench-secret-01"
ROUNDS = 1000  # PBKDF2 at 1,000 rounds is about 0.1 ms here: what remains is overhead.
HASH = None  # one PHC hash at ROUNDS, for every generated account
PW = "bench-pass"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def build():
    run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=ROOT)
    new = os.path.join(ROOT, "target", "release", "auth-std-server")
    tree = os.path.join(ROOT, "target", "store-bench", "baseline")
    if not os.path.exists(tree):
        run(["git", "worktree", "add", "--detach", "-f", tree, BASELINE], cwd=ROOT)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "store-bench", "baseline-target"))
    run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=tree, env=env)
    old = os.path.join(env["CARGO_TARGET_DIR"], "release", "auth-std-server")
    return new, old


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postgres:
    def __init__(self):
        bindir = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
        self.bin = f"/usr/lib/postgresql/{bindir}/bin"
        self.tmp = tempfile.mkdtemp(prefix="store-bench-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.port = free_port()
        self.root = os.geteuid() == 0
        if self.root:
            run(["chown", "-R", "postgres:postgres", self.tmp])
        self.pg([f"{self.bin}/initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D", self.data])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.tmp}'\nmax_connections = 200\n")
        self.pg([f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.tmp, "log"), "-w", "start"])
        self.n = 0

    def pg(self, cmd):
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        run(cmd)

    def fresh(self):
        self.n += 1
        name = f"bench{self.n}"
        run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-c", f"CREATE DATABASE {name}"])
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        try:
            self.pg([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


_LIFTS = {}


def lifts(binary):
    """The per-account rate and rotation-interval flags (#22) lifted, for a binary that has them:
    the benches load one account from one address, as no real client does."""
    if binary not in _LIFTS:
        help_text = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
        _LIFTS[binary] = (["--user-login-rate", "1000000000", "--user-refresh-rate", "1000000000",
                           "--client-revoke-rate", "1000000000", "--refresh-min-interval", "0"]
                          if "--user-refresh-rate" in help_text else [])
    return _LIFTS[binary]


class Server:
    def __init__(self, binary, cwd, args):
        args = lifts(binary) + args
        self.port = free_port()
        env = dict(os.environ, RUST_LOG="error", AUTH_SECRET=SECRET)
        t0 = time.monotonic()
        self.p = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--pbkdf2-rounds", str(ROUNDS),
             "--user-failures", "1000000000", "--ip-failures", "1000000000"] + args,
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in self.p.stdout:
            if line.startswith("Listening on"):
                break
        else:
            raise SystemExit(f"server did not start: {self.p.stderr.read()}")
        self.start_s = time.monotonic() - t0
        self.rss_mib = rss_mib(self.p.pid)

    def stop(self):
        self.p.terminate()
        self.p.wait()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def post_login(conn, user, pw):
    body = f"username={user}&password={pw}"
    conn.request("POST", "/auth/session", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def token(port, user):
    c = http.client.HTTPConnection("127.0.0.1", port)
    status, data = post_login(c, user, PW)
    assert status == 200, (status, data)
    import json
    return json.loads(data)["access_token"]


def login_p50(port, user, pw, n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        post_login(c, user, pw)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def wrk_rps(port, tok):
    env = dict(os.environ, WRK_AUTH=f"Bearer {tok}")
    out = run(["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--latency", "-s", LUA,
               f"http://127.0.0.1:{port}/dashboard/metrics"], env=env).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    return float(line.split("rps=")[1].split()[0])


def status(port, tok):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/dashboard/metrics", headers={"Authorization": f"Bearer {tok}"})
    r = c.getresponse()
    r.read()
    return r.status


def users_text(n):
    return "".join(f"u{i:07d}\tactive\t{HASH}\n" for i in range(n))


class Backend:
    """One store kind: how to fill it and how to start a server on it."""

    def __init__(self, name, binary, kind, pg=None):
        self.name, self.binary, self.kind, self.pg = name, binary, kind, pg

    def prepare(self, n, text):
        """A fresh directory holding `n` accounts; returns the seconds an import took (or None)."""
        self.dir = tempfile.mkdtemp(prefix="store-bench-")
        data = os.path.join(self.dir, "auth-data")
        os.makedirs(data, mode=0o700)
        if self.kind == "file":
            path = os.path.join(data, "users")
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
            self.args = []
            return None
        url = f"sqlite:{self.dir}/auth-data/auth.db" if self.kind == "sqlite" else self.pg.fresh()
        self.args = ["--store", url]
        src = os.path.join(self.dir, "import.txt")
        with open(src, "w") as f:
            f.write(text)
        t0 = time.monotonic()
        run([self.binary, "user", "import", src] + self.args, cwd=self.dir)
        return time.monotonic() - t0

    def cli(self, args):
        extra = [] if self.kind == "file" else self.args
        t0 = time.monotonic()
        run([self.binary, "user"] + args + extra, cwd=self.dir, input="")
        return time.monotonic() - t0

    def start(self):
        return Server(self.binary, self.dir, self.args)

    def done(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def need_wrk():
    """wrk from Debian's package when it is missing, before any build: a clear stop otherwise."""
    if shutil.which("wrk"):
        return
    log("wrk is missing; installing it with apt-get")
    ok = subprocess.run("apt-get update -qq && apt-get install -y -qq wrk", shell=True,
                        capture_output=True).returncode == 0
    if not ok or not shutil.which("wrk"):
        sys.exit("wrk is needed for the load runs and could not be installed (apt-get install wrk)")


def main():
    global HASH
    need_wrk()
    new, old = build()
    log(f"built {new} and the users-file baseline {BASELINE}")
    # One PHC hash of PW at ROUNDS, made by the server's own CLI and read back with export.
    tmp = tempfile.mkdtemp(prefix="store-bench-hash-")
    run([new, "user", "add", "h", "--password-stdin", "--pbkdf2-rounds", str(ROUNDS), "--store", f"sqlite:{tmp}/h.db"],
        input=PW)
    HASH = run([new, "user", "export", "--store", f"sqlite:{tmp}/h.db"]).stdout.splitlines()[1].split("\t")[2]
    shutil.rmtree(tmp)
    pg = Postgres()
    try:
        backends = [Backend("users file (0.1)", old, "file"), Backend("SQLite", new, "sqlite"),
                    Backend("PostgreSQL", new, "postgres", pg)]
        small = users_text(100)
        rps = {b.name: [] for b in backends}
        login = {b.name: [] for b in backends}
        fail = {b.name: [] for b in backends}
        for rep in range(REPEATS):
            for b in backends:
                b.prepare(100, small)
                s = b.start()
                tok = token(s.port, "u0000001")
                rps[b.name].append(wrk_rps(s.port, tok))
                login[b.name].append(login_p50(s.port, "u0000002", PW, 200))
                fail[b.name].append(login_p50(s.port, "u0000003", "wrong", 200))
                s.stop()
                b.done()
                log(f"round {rep + 1} {b.name}: {rps[b.name][-1]:.0f} req/s, login p50 {login[b.name][-1]:.2f} ms, "
                    f"failed login p50 {fail[b.name][-1]:.2f} ms")

        big = users_text(ACCOUNTS)
        large = {}
        for b in backends:
            imported = b.prepare(ACCOUNTS, big)
            s = b.start()
            start_s, rss0 = s.start_s, s.rss_mib
            who = f"u{ACCOUNTS // 2:07d}"
            lp50 = login_p50(s.port, who, PW, 50)
            adds = [b.cli(["add", f"new{i}", "--hash", HASH]) for i in range(5)]
            rss1 = rss_mib(s.p.pid)
            # A disable, through the CLI, seen by a second instance on the same store.
            s2 = b.start()
            victim = f"u{ACCOUNTS // 3:07d}"
            tok = token(s.port, victim)
            assert status(s2.port, tok) == 200
            t0 = time.monotonic()
            b.cli(["disable", victim])
            while status(s2.port, tok) != 403:
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"{b.name}: disable never seen")
                time.sleep(0.005)
            visible = time.monotonic() - t0
            s2.stop()
            s.stop()
            b.done()
            large[b.name] = (imported, start_s, rss0, rss1, lp50, statistics.median(adds), visible)
            log(f"{b.name} with {ACCOUNTS:,} accounts: {large[b.name]}")
    finally:
        pg.stop()

    med = statistics.median
    base = backends[0].name
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"### The store (#12): SQLite and PostgreSQL beside the 0.1 users file\n")
    print(f"`scripts/store_bench.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), shared; "
          f"the users-file binary is `{BASELINE}`, the last commit before the store. PostgreSQL "
          f"{os.path.basename(os.path.dirname(pg.bin))} on loopback with default durability; SQLite in WAL mode with "
          f"`synchronous=FULL`. PBKDF2 at {ROUNDS:,} rounds (about 0.1 ms), so what a login costs beyond it is the "
          f"overhead. Medians; the token route ran {REPEATS} times per store, interleaved, {SECONDS} s each "
          f"(`wrk -t2 -c64`), and the spread is the lowest and highest run.\n")
    print("| store | token route req/s (min–max) | × users file | login p50 ms | failed login p50 ms | failed − successful (throttle write) |")
    print("|---|---|---|---|---|---|")
    for b in backends:
        r, l, f = rps[b.name], login[b.name], fail[b.name]
        print(f"| {b.name} | {med(r):,.0f} ({min(r):,.0f}–{max(r):,.0f}) | {med(r) / med(rps[base]):.2f} | "
              f"{med(l):.2f} | {med(f):.2f} | {med(f) - med(l):+.2f} ms |")
    print(f"\nWith **{ACCOUNTS:,} accounts** (one server, then a second on the same store for the disable):\n")
    print("| store | import s | start s | RSS at start MiB | RSS after 5 adds MiB | login p50 ms | `user add` s | disable seen by another instance s |")
    print("|---|---|---|---|---|---|---|---|")
    for b in backends:
        imp, st, r0, r1, lp, add, vis = large[b.name]
        imp_s = "—" if imp is None else f"{imp:.1f}"
        print(f"| {b.name} | {imp_s} | {st:.2f} | {r0:.0f} | {r1:.0f} | {lp:.2f} | {add:.3f} | {vis:.3f} |")
    print("\nAgainst #12's goals (computed from the tables above; PBKDF2 at 1,000 rounds counted as 0.1 ms):\n")
    print("| goal | SQLite | PostgreSQL |")
    print("|---|---|---|")
    stores = [b.name for b in backends[1:]]
    def row(goal, value, ok):
        cells = " | ".join(f"{value(n)} ({'met' if ok(n) else 'missed'})" for n in stores)
        print(f"| {goal} | {cells} |")
    ratio = lambda n: med(rps[n]) / med(rps[base])
    row("token route ≥ 0.9× the users file", lambda n: f"{ratio(n):.2f}×", lambda n: ratio(n) >= 0.9)
    row("login overhead above PBKDF2 ≤ 2 ms (p50)", lambda n: f"{med(login[n]) - 0.1:.2f} ms", lambda n: med(login[n]) - 0.1 <= 2)
    row("failed login's throttle write ≤ 1 ms", lambda n: f"{med(fail[n]) - med(login[n]):.2f} ms", lambda n: med(fail[n]) - med(login[n]) <= 1)
    row(f"{ACCOUNTS:,} accounts: start ≤ 2 s", lambda n: f"{large[n][1]:.2f} s", lambda n: large[n][1] <= 2)
    row(f"{ACCOUNTS:,} accounts: RSS ≤ 64 MiB", lambda n: f"{max(large[n][2], large[n][3]):.0f} MiB", lambda n: max(large[n][2], large[n][3]) <= 64)
    row(f"{ACCOUNTS:,} accounts: login p50 unchanged (within 0.5 ms of 100 accounts)", lambda n: f"{large[n][4]:.2f} vs {med(login[n]):.2f} ms", lambda n: large[n][4] - med(login[n]) <= 0.5)
    row(f"{ACCOUNTS:,} accounts: `user add` ≤ 50 ms", lambda n: f"{large[n][5] * 1000:.0f} ms", lambda n: large[n][5] <= 0.05)
    row(f"{ACCOUNTS:,} accounts: a disable seen by another instance ≤ 1 s", lambda n: f"{large[n][6]:.2f} s", lambda n: large[n][6] <= 1)
    print()


if __name__ == "__main__":
    main()
