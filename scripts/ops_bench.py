#!/usr/bin/env python3
"""#14's load numbers: the token route over TLS (kept-alive and new connections) beside plain
HTTP, and with the access log on and off. Prints a markdown section (scripts/bench.sh puts it
into BENCHMARKS.md). Nothing here runs in CI; no test asserts a timing.

  python3 scripts/ops_bench.py        # LOAD_SECONDS=8 REPEATS=3

Every configuration runs REPEATS times, interleaved, `wrk -t2 -c64` on GET /dashboard/metrics
with a valid token, the server's stdout going to a file (logs at the default level, info).
"New connections" sends `Connection: close`, so every request pays a TCP (and TLS) handshake.
The certificate is a self-signed P-256 one made with openssl for the run.
"""
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(os.environ.get("LOAD_SECONDS", "8"))
REPEATS = int(os.environ.get("REPEATS", "3"))
LUA = os.path.join(ROOT, "scripts", "status_counts.lua")
BIN = os.path.join(ROOT, "target", "release", "auth-std-server")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, args, tls=None):
        self.dir = tempfile.mkdtemp(prefix="ops-bench-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        extra = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else []
        self.p = subprocess.Popen(
            [BIN, "--listen", f"127.0.0.1:{self.port}", "--pbkdf2-rounds", "1000"] + extra + args,
            cwd=self.dir, env=dict(os.environ, RUST_LOG="info"), stdout=self.log,
            stderr=subprocess.DEVNULL)
        self.scheme = "https" if tls else "http"
        for _ in range(200):
            if os.path.exists(os.path.join(self.dir, "auth-data", "admin.password")):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        pw = open(os.path.join(self.dir, "auth-data", "admin.password")).read().strip()
        ctx = ssl._create_unverified_context()
        c = (http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx) if tls
             else http.client.HTTPConnection("127.0.0.1", self.port))
        c.request("POST", "/auth/session", f"username=admin&password={pw}",
                  {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        self.token = json.loads(r.read())["access_token"]

    def log_bytes(self):
        self.log.flush()
        return os.path.getsize(os.path.join(self.dir, "stdout.log"))

    def stop(self):
        self.p.terminate()
        self.p.wait()
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir])


def wrk(server, close):
    env = dict(os.environ, WRK_AUTH=f"Bearer {server.token}")
    cmd = ["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--latency", "-s", LUA]
    if close:
        cmd += ["-H", "Connection: close"]
    out = run(cmd + [f"{server.scheme}://127.0.0.1:{server.port}/dashboard/metrics"], env=env).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    status = next(l for l in out.splitlines() if l.startswith("STATUS"))
    assert all(p.startswith("200=") for p in status.split()[1:]), status
    return float(line.split("rps=")[1].split()[0])


def main():
    run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=ROOT)
    tmp = tempfile.mkdtemp(prefix="ops-bench-cert-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"])
    configs = [
        ("HTTP, kept-alive", [], None, False),
        ("HTTPS, kept-alive", [], (cert, key), False),
        ("HTTP, new connection per request", [], None, True),
        ("HTTPS, new connection per request", [], (cert, key), True),
        ("HTTP, kept-alive, --access-log", ["--access-log"], None, False),
    ]
    rps = {c[0]: [] for c in configs}
    logs = {c[0]: [] for c in configs}
    for rep in range(REPEATS):
        for name, args, tls, close in configs:
            s = Server(args, tls)
            before = s.log_bytes()
            rps[name].append(wrk(s, close))
            logs[name].append(s.log_bytes() - before)
            s.stop()
            print(f"round {rep + 1} {name}: {rps[name][-1]:.0f} req/s, {logs[name][-1]} log bytes",
                  file=sys.stderr, flush=True)
    med = statistics.median
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print("### TLS and the access log (#14)\n")
    print(f"`scripts/ops_bench.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), shared; "
          f"`wrk -t2 -c64` on `GET /dashboard/metrics`, {SECONDS} s per run, {REPEATS} runs per row, interleaved; "
          f"rustls (ring) with a P-256 certificate, TLS 1.3; logs at `info` into a file. Medians, spread = "
          f"lowest–highest run; every answer was a 200.\n")
    print("| configuration | req/s (min–max) | × HTTP kept-alive | log written per run |")
    print("|---|---|---|---|")
    base = med(rps["HTTP, kept-alive"])
    for name, *_ in configs:
        r = rps[name]
        print(f"| {name} | {med(r):,.0f} ({min(r):,.0f}–{max(r):,.0f}) | {med(r) / base:.2f} | "
              f"{med(logs[name]) / 1e6:.1f} MB |")
    print()


if __name__ == "__main__":
    main()
