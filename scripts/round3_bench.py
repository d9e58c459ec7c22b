#!/usr/bin/env python3
"""#22's cost, interleaved against the commit before it (BEFORE, default daaa7f6): refresh
throughput on SQLite and PostgreSQL (8 sessions refreshed in a loop, `wrk -t8 -c8`, every
answer a 200 with a new refresh token), and the token route (`wrk -t2 -c64`). The new binary
runs with the per-account rates and the rotation interval lifted, so that every refresh
rotates, as before. Prints a markdown section. Nothing here runs in CI; no test asserts a
timing.

  python3 scripts/round3_bench.py        # LOAD_SECONDS=8 REPEATS=3
"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack_bench as ab  # noqa: E402  (builds the commit before #22 and this tree)
import session_bench as ss  # noqa: E402
import store_bench as sb  # noqa: E402


def spread(xs):
    return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}–{max(xs):,.0f})"


def main():
    new = ab.build_new()
    old = ab.build_before()
    tmp = tempfile.mkdtemp(prefix="round3-bench-hash-")
    sb.run([new, "user", "add", "h", "--password-stdin", "--pbkdf2-rounds", str(sb.ROUNDS), "--store",
            f"sqlite:{tmp}/h.db"], input=sb.PW)
    sb.HASH = sb.run([new, "user", "export", "--store", f"sqlite:{tmp}/h.db"]).stdout.splitlines()[1].split("\t")[2]
    users = sb.users_text(100)
    pg = sb.Postgres()
    names = (("before", old), ("now", new))
    refresh = {(s, n): [] for s in ("SQLite", "PostgreSQL") for n, _ in names}
    route = {n: [] for n, _ in names}
    try:
        for rep in range(sb.REPEATS):
            # The order alternates round by round: always running one first biased the ratios
            # (PostgreSQL refresh read 0.86 that way, and 1.07 with the order rotated).
            order = names if rep % 2 == 0 else names[::-1]
            for store, kind in (("SQLite", "sqlite"), ("PostgreSQL", "postgres")):
                for name, binary in order:
                    b = sb.Backend(name, binary, kind, pg if kind == "postgres" else None)
                    b.prepare(100, users)
                    s = b.start()
                    tokens = [ss.login_pair(s.port, f"u{i:07d}")[1] for i in range(1, ss.CHAINS + 1)]
                    refresh[(store, name)].append(ss.refresh_run(s.port, tokens)[0])
                    s.stop()
                    b.done()
                    sb.log(f"round {rep + 1} {store} {name}: {refresh[(store, name)][-1]:.0f} refreshes/s")
            for name, binary in order:
                b = sb.Backend(name, binary, "sqlite")
                b.prepare(100, users)
                s = b.start()
                access, _ = ss.login_pair(s.port, "u0000001")
                route[name].append(sb.wrk_rps(s.port, access))
                s.stop()
                b.done()
                sb.log(f"round {rep + 1} token route {name}: {route[name][-1]:.0f}")
    finally:
        pg.stop()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print("### Hardening round 3 (#22): what it costs\n")
    print(f"`scripts/round3_bench.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), shared; "
          f"{sb.REPEATS} rounds, each running {ab.BEFORE} and now one after the other (the order alternating), "
          f"{sb.SECONDS} s a run. "
          f"Medians (lowest–highest).\n")
    print(f"| run | {ab.BEFORE} | now | now ÷ before (each round) |")
    print("|---|---|---|---|")
    for store in ("SQLite", "PostgreSQL"):
        b, n = refresh[(store, "before")], refresh[(store, "now")]
        ratios = ", ".join(f"{y / x:.2f}" for x, y in zip(b, n))
        print(f"| refreshes/s, {store}, {ss.CHAINS} sessions | {spread(b)} | {spread(n)} | {ratios} |")
    b, n = route["before"], route["now"]
    ratios = ", ".join(f"{y / x:.2f}" for x, y in zip(b, n))
    print(f"| token route req/s, 64 connections | {spread(b)} | {spread(n)} | {ratios} |")


if __name__ == "__main__":
    main()
