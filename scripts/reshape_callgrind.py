#!/usr/bin/env python3
"""#23's login path in instructions, which the noisy machine cannot blur: each server (BEFORE,
default f0d7f6a, and this tree) runs under callgrind, once answering FEW and once MANY
requests; instructions per request = the difference of the two totals / (MANY -
FEW), so start-up and shutdown cancel. Logins use a 1,000-round PBKDF2 hash (the same code in
both: what differs is the server's path); the token route (GET /dashboard/metrics) is the
control. ROWS=login or ROWS=token runs one. Each run is repeated to show the spread. Prints a markdown table. Nothing here runs in CI. (Collecting inside
the token handler alone was tried first: inlining makes the two binaries' scopes differ.)

  python3 scripts/reshape_callgrind.py    # BEFORE=f0d7f6a FEW=50 MANY=350
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reshape_bench as rb  # noqa: E402
import store_bench as sb  # noqa: E402

FEW = int(os.environ.get("FEW", "50"))
# A function to collect inside (callgrind's --toggle-collect), if set. Unset: the whole
# process, whose account follower polls on a timer and so moves a request's count by about
# ±5k instructions from run to run (`*server::drive*` collected nothing: inlined away).
TOGGLE = os.environ.get("TOGGLE", "")
MANY = int(os.environ.get("MANY", "350"))


def collected(binary, requests, n):
    """The process's instructions, start to exit, answering `requests(port, n)`."""
    d = tempfile.mkdtemp(prefix="reshape-cg-")
    b = sb.Backend("cg", binary, "sqlite")
    b.prepare(10, sb.users_text(10))
    port = sb.free_port()
    out = os.path.join(d, "cg.out")
    env = dict(os.environ, RUST_LOG="error", AUTH_SECRET=sb.SECRET)
    p = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        + ([f"--toggle-collect={TOGGLE}"] if TOGGLE else []) + [
         binary, "--listen", f"127.0.0.1:{port}", "--pbkdf2-rounds", str(sb.ROUNDS),
         "--user-failures", "1000000000", "--ip-failures", "1000000000", "--login-workers", "1"]
        + sb.lifts(binary) + b.args,
        cwd=b.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("Listening on"):
            break
    requests(port, n)
    p.terminate()
    p.wait()
    b.done()
    text = open(out).read()
    m = re.search(r"^summary: (\d+)", text, re.M) or re.search(r"^totals: (\d+)", text, re.M)
    return int(m.group(1))


def logins(port, n):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(n):
        status, _ = sb.post_login(c, "u0000001", sb.PW)
        assert status == 200, status


def dashboards(port, n):
    import http.client
    tok = sb.token(port, "u0000002")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(n):
        c.request("GET", "/dashboard/metrics", headers={"Authorization": f"Bearer {tok}"})
        r = c.getresponse()
        r.read()
        assert r.status == 200


def main():
    new = rb.build(rb.ROOT, os.path.join(rb.ROOT, "target"))
    old = rb.build_before()
    tmp = tempfile.mkdtemp(prefix="reshape-cg-hash-")
    sb.run([new, "user", "add", "h", "--password-stdin", "--pbkdf2-rounds", str(sb.ROUNDS),
            "--store", f"sqlite:{tmp}/h.db"], input=sb.PW)
    sb.HASH = sb.run([new, "user", "export", "--store", f"sqlite:{tmp}/h.db"]).stdout.splitlines()[1].split("\t")[2]
    rows = []
    only = os.environ.get("ROWS", "login,token").split(",")
    for what, drive in (("login", logins), ("token route", dashboards)):
        if what.split()[0] not in only:
            continue
        per = {}
        for name, binary in (("before", old), ("now", new), ("before", old), ("now", new)):
            d = collected(binary, drive, MANY) - collected(binary, drive, FEW)
            per.setdefault(name, []).append(d / (MANY - FEW))
            sb.log(f"{what} {name}: {per[name][-1]:,.0f} instructions per request")
        rows.append((what, per["before"], per["now"]))
    print(f"| instructions per request (callgrind, ({MANY} - {FEW}) requests, two runs each) "
          f"| before ({rb.BEFORE}) | now | now / before |")
    print("|---|---|---|---|")
    for what, before, now in rows:
        b, n = sum(before) / 2, sum(now) / 2
        print(f"| {what} | {b:,.0f} ({before[0]:,.0f}, {before[1]:,.0f}) | "
              f"{n:,.0f} ({now[0]:,.0f}, {now[1]:,.0f}) | {n / b:.3f} |")


if __name__ == "__main__":
    main()
