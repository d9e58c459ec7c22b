#!/usr/bin/env python3
"""#13's benchmarks: refresh throughput and p99 on SQLite and PostgreSQL, the token route with
sessions beside the last commit before them, and how soon a revocation on one instance is
refused by another. Prints a markdown section (scripts/bench.sh puts it into BENCHMARKS.md).
Nothing here runs in CI; no test asserts a timing.

  python3 scripts/session_bench.py        # LOAD_SECONDS=8 REPEATS=3 CHAINS=8

Refresh: CHAINS sessions, each refreshed in a loop on its own connection (wrk -tN -cN with
scripts/refresh_chain.lua): every request rotates the session's token, so each is one lookup
and one conditional UPDATE (whose trigger keeps the old hash), committed (SQLite WAL with synchronous=FULL; PostgreSQL
with default durability). Every run is checked to have answered 200 only.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_bench as sb  # noqa: E402  (the server, PostgreSQL and HTTP helpers)

ROOT = sb.ROOT
BEFORE = os.environ.get("BEFORE", "3a6e93b")  # the last commit before sessions
CHAINS = int(os.environ.get("CHAINS", "8"))
LUA = os.path.join(ROOT, "scripts", "refresh_chain.lua")


def build_before():
    tree = os.path.join(ROOT, "target", "session-bench", "before")
    if not os.path.exists(tree):
        sb.run(["git", "worktree", "add", "--detach", "-f", tree, BEFORE], cwd=ROOT)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "session-bench", "before-target"))
    sb.run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=tree, env=env)
    return os.path.join(env["CARGO_TARGET_DIR"], "release", "auth-std-server")


def login_pair(port, user):
    c = sb.http.client.HTTPConnection("127.0.0.1", port)
    status, data = sb.post_login(c, user, sb.PW)
    assert status == 200, (status, data)
    j = json.loads(data)
    return j["access_token"], j.get("refresh_token")


def refresh_run(port, tokens):
    env = dict(os.environ, WRK_TOKENS=",".join(tokens))
    n = len(tokens)
    out = sb.run(["wrk", f"-t{n}", f"-c{n}", f"-d{sb.SECONDS}s", "--latency", "-s", LUA,
                  f"http://127.0.0.1:{port}/auth/session"], env=env).stdout
    status = next(l for l in out.splitlines() if l.startswith("STATUS"))
    assert status.split()[1:] and all(p.startswith("200=") for p in status.split()[1:]), status
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    f = dict(kv.split("=") for kv in line.split()[1:])
    return float(f["rps"]), float(f["p99_ms"])


def revoke(port, token):
    c = sb.http.client.HTTPConnection("127.0.0.1", port)
    body = f"token={token}"
    c.request("POST", "/auth/revoke", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    assert r.status == 200


def visibility(a, b, user, n=10):
    """Seconds from a revocation answered by A until B refuses the session's access token."""
    times = []
    for _ in range(n):
        access, refresh = login_pair(a.port, user)
        assert sb.status(b.port, access) == 200
        t0 = time.monotonic()
        revoke(a.port, refresh)
        while sb.status(b.port, access) != 401:
            if time.monotonic() - t0 > 10:
                raise SystemExit("revocation never seen")
        times.append(time.monotonic() - t0)
    return times


def main():
    sb.run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=ROOT)
    new = os.path.join(ROOT, "target", "release", "auth-std-server")
    before = build_before()
    tmp = tempfile.mkdtemp(prefix="session-bench-hash-")
    sb.run([new, "user", "add", "h", "--password-stdin", "--pbkdf2-rounds", str(sb.ROUNDS), "--store",
            f"sqlite:{tmp}/h.db"], input=sb.PW)
    sb.HASH = sb.run([new, "user", "export", "--store", f"sqlite:{tmp}/h.db"]).stdout.splitlines()[1].split("\t")[2]
    users = sb.users_text(100)
    pg = sb.Postgres()
    med = statistics.median
    refresh = {"SQLite": [], "PostgreSQL": []}
    route = {"before sessions": [], "with sessions": []}
    seen = {}
    try:
        stores = [sb.Backend("SQLite", new, "sqlite"), sb.Backend("PostgreSQL", new, "postgres", pg)]
        for rep in range(sb.REPEATS):
            for b in stores:
                b.prepare(100, users)
                s = b.start()
                tokens = [login_pair(s.port, f"u{i:07d}")[1] for i in range(1, CHAINS + 1)]
                refresh[b.name].append(refresh_run(s.port, tokens))
                s.stop()
                b.done()
                sb.log(f"round {rep + 1} {b.name}: refresh {refresh[b.name][-1]}")
            # The token route on SQLite, the binary before sessions and now, interleaved.
            for name, binary in (("before sessions", before), ("with sessions", new)):
                b = sb.Backend(name, binary, "sqlite")
                b.prepare(100, users)
                s = b.start()
                access, _ = login_pair(s.port, "u0000001")
                route[name].append(sb.wrk_rps(s.port, access))
                s.stop()
                b.done()
                sb.log(f"round {rep + 1} token route {name}: {route[name][-1]:.0f}")
        for b in stores:
            b.prepare(100, users)
            a, c = b.start(), b.start()
            seen[b.name] = visibility(a, c, "u0000002")
            a.stop()
            c.stop()
            b.done()
            sb.log(f"{b.name} revocation visible: {seen[b.name]}")
    finally:
        pg.stop()

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print("### Sessions (#13): refresh, the token route, revocation across instances\n")
    print(f"`scripts/session_bench.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), shared. "
          f"Refresh: {CHAINS} sessions refreshed in a loop, one connection each (`wrk -t{CHAINS} -c{CHAINS}`, "
          f"`scripts/refresh_chain.lua`), {sb.SECONDS} s per run, {sb.REPEATS} runs per store interleaved; every "
          f"answer was a 200 with a new refresh token. A refresh does no PBKDF2: it is one lookup and one "
          f"conditional UPDATE (a trigger keeps the old hash), committed (SQLite WAL with `synchronous=FULL`, PostgreSQL "
          f"{os.path.basename(os.path.dirname(pg.bin))} with default durability). Medians, spread = lowest–highest run.\n")
    print("| store | refreshes/s (min–max) | p99 ms (min–max) |")
    print("|---|---|---|")
    for n, runs in refresh.items():
        r = [x[0] for x in runs]
        p = [x[1] for x in runs]
        print(f"| {n} | {med(r):,.0f} ({min(r):,.0f}–{max(r):,.0f}) | {med(p):.2f} ({min(p):.2f}–{max(p):.2f}) |")
    b, w = route["before sessions"], route["with sessions"]
    print(f"\nThe token route (`GET /dashboard/metrics`, `wrk -t2 -c64`, SQLite), the last commit before "
          f"sessions (`{BEFORE}`) and now, {sb.REPEATS} interleaved runs each: the revocation check is an "
          f"in-memory set lookup.\n")
    print("| build | req/s (min–max) |")
    print("|---|---|")
    print(f"| before sessions | {med(b):,.0f} ({min(b):,.0f}–{max(b):,.0f}) |")
    print(f"| with sessions | {med(w):,.0f} ({min(w):,.0f}–{max(w):,.0f}) |")
    print("\nA revocation (`POST /auth/revoke` on instance A) until instance B refuses the session's access "
          "token, two instances on one store, 10 times:\n")
    print("| store | median ms | max ms |")
    print("|---|---|---|")
    for n, t in seen.items():
        print(f"| {n} | {med(t) * 1000:.1f} | {max(t) * 1000:.1f} |")
    print("\nAgainst #13's goals (computed from the tables above):\n")
    print("| goal | measured | |")
    print("|---|---|---|")
    sq = med([x[0] for x in refresh["SQLite"]])
    print(f"| ≥ 2,000 refreshes/s on SQLite | {sq:,.0f}/s | {'met' if sq >= 2000 else 'missed'} |")
    ratio = med(w) / med(b)
    print(f"| token route with sessions ≥ 90% of before | {ratio:.2f}× | {'met' if ratio >= 0.9 else 'missed'} |")
    worst = max(max(t) for t in seen.values())
    print(f"| revocation visible on another instance ≤ 1 s | worst {worst * 1000:.0f} ms | {'met' if worst <= 1 else 'missed'} |")
    print()


if __name__ == "__main__":
    main()
