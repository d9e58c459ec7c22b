#!/usr/bin/env python3
"""#23's "within noise of before": the token route's throughput (`wrk -t2 -c64` on GET
/dashboard/metrics) and login latency (the median of LOGINS sequential logins on one
keep-alive connection, PBKDF2 at 1,000 rounds so what is measured is the server's own path),
for the commit before the reshape (BEFORE, default f0d7f6a) and this tree, interleaved: the
order alternates round by round (ABBA), and each ratio is taken within its round. Prints a
markdown section. Nothing here runs in CI; no test asserts a timing.

  python3 scripts/reshape_bench.py     # BEFORE=f0d7f6a LOAD_SECONDS=8 REPEATS=6 LOGINS=400
"""
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_bench as sb  # noqa: E402

ROOT = sb.ROOT
BEFORE = os.environ.get("BEFORE", "f0d7f6a")
LOGINS = int(os.environ.get("LOGINS", "400"))


def build(tree, target):
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"],
                   cwd=tree, env=env, check=True, capture_output=True)
    return os.path.join(target, "release", "auth-std-server")


def build_before():
    tree = os.path.join(ROOT, "target", "reshape-bench", "before")
    if not os.path.exists(tree):
        subprocess.run(["git", "worktree", "add", "--detach", "-f", tree, BEFORE], cwd=ROOT,
                       check=True, capture_output=True)
    else:  # left by an earlier run, perhaps at another BEFORE
        subprocess.run(["git", "checkout", "-q", "--detach", BEFORE], cwd=tree, check=True,
                       capture_output=True)
    return build(tree, os.path.join(ROOT, "target", "reshape-bench", "before-target"))


def spread(xs, fmt="{:,.0f}"):
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def main():
    sb.need_wrk()
    new = build(ROOT, os.path.join(ROOT, "target"))
    old = build_before()
    tmp = tempfile.mkdtemp(prefix="reshape-bench-hash-")
    sb.run([new, "user", "add", "h", "--password-stdin", "--pbkdf2-rounds", str(sb.ROUNDS),
            "--store", f"sqlite:{tmp}/h.db"], input=sb.PW)
    sb.HASH = sb.run([new, "user", "export", "--store", f"sqlite:{tmp}/h.db"]).stdout.splitlines()[1].split("\t")[2]
    users = sb.users_text(100)
    names = (("before", old), ("now", new))
    rps = {n: [] for n, _ in names}
    p50 = {n: [] for n, _ in names}
    rps_ratio, p50_ratio = [], []
    for rep in range(sb.REPEATS):
        order = names if rep % 2 == 0 else names[::-1]
        got = {}
        for name, binary in order:
            b = sb.Backend(name, binary, "sqlite")
            b.prepare(100, users)
            s = b.start()
            tok = sb.token(s.port, "u0000001")
            r = sb.wrk_rps(s.port, tok)
            lat = sb.login_p50(s.port, "u0000002", sb.PW, LOGINS)
            s.stop()
            b.done()
            got[name] = (r, lat)
            rps[name].append(r)
            p50[name].append(lat)
            sb.log(f"round {rep + 1} {name}: {r:,.0f} req/s, login p50 {lat:.3f} ms")
        rps_ratio.append(got["now"][0] / got["before"][0])
        p50_ratio.append(got["now"][1] / got["before"][1])
    print(f"### Server, round 2 (#23): before ({BEFORE}) and now, interleaved\n")
    print(f"{sb.REPEATS} rounds, the order alternating; medians with the range over rounds. The "
          f"token route is `wrk -t2 -c64 -d{sb.SECONDS}s` on `GET /dashboard/metrics`; the login "
          f"is the median of {LOGINS} sequential logins on one connection at {sb.ROUNDS:,} PBKDF2 "
          "rounds (the server's own path, not the hash).\n")
    print("| | before | now | now / before, per round |")
    print("|---|---|---|---|")
    print(f"| token route, req/s | {spread(rps['before'])} | {spread(rps['now'])} | "
          f"{spread(rps_ratio, '{:.3f}')} |")
    print(f"| login p50, ms | {spread(p50['before'], '{:.3f}')} | {spread(p50['now'], '{:.3f}')} | "
          f"{spread(p50_ratio, '{:.3f}')} |")


if __name__ == "__main__":
    main()
