#!/usr/bin/env python3
"""#22's attacks, run against the release binary of the commit before hardening round 3
(BEFORE, default daaa7f6) and of this tree, one after the other, on loopback. Prints a markdown
section with what each attack did to memory, `/metrics`, the log, the store and other clients.
Every attack is bounded in requests and seconds. Nothing here runs in CI; no test asserts a
timing.

  python3 scripts/attack_bench.py        # BEFORE=daaa7f6 ATTACK_SECONDS=10

The attacks, as the review ran them (#22):
- item 3: 1,500 requests with distinct 40 KB methods, then RSS and the size of `/metrics`;
- item 7: 4 clients sending throttled logins for ATTACK_SECONDS, with usernames of 5,000 control
  characters (`%01`, a 15 KB body; Debug-escaped, about 30 KB a log line, the review's 27 KB) and
  with 60-byte ones: bytes written to the log;
- item 5: one session refreshed in a loop for ATTACK_SECONDS: rows the store keeps for it;
- item 4: successful logins of one account for ATTACK_SECONDS: how many were answered 200;
- item 8: `--max-connections 64`, 4 addresses x 18 sockets that never send a request, then 20
  requests from a fifth address: how many are answered;
- item 9: with 1,024 descriptors, 1,100 idle sockets to the admin listener, then public
  `/healthz`.
"""
import json
import resource
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEFORE = os.environ.get("BEFORE", "daaa7f6")
SECONDS = int(os.environ.get("ATTACK_SECONDS", "10"))
SECRET = "attack-bench-secret-attack-bench-secret-0"
PW = "attack-pass"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def build_new():
    run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=ROOT)
    return os.path.join(ROOT, "target", "release", "auth-std-server")


def build_before():
    tree = os.path.join(ROOT, "target", "attack-bench", "before")
    if not os.path.exists(tree):
        run(["git", "worktree", "add", "--detach", "-f", tree, BEFORE], cwd=ROOT)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "attack-bench", "before-target"))
    run(["cargo", "build", "--release", "--locked", "-p", "auth-std-server"], cwd=tree, env=env)
    return os.path.join(env["CARGO_TARGET_DIR"], "release", "auth-std-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """The binary in a fresh directory with user `alice`, its stdout counted into a file."""

    def __init__(self, binary, args=(), env=None, nofile=None):
        self.dir = tempfile.mkdtemp(prefix="attack-bench-")
        self.db = os.path.join(self.dir, "auth.db")
        store = f"sqlite:{self.db}"
        subprocess.run([binary, "user", "add", "alice", "--password-stdin", "--pbkdf2-rounds", "1000",
                        "--store", store], input=PW, text=True, check=True, capture_output=True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "stdout.log")
        self.log = open(self.log_path, "w")
        e = dict(os.environ, AUTH_SECRET=SECRET, **(env or {}))
        e.setdefault("RUST_LOG", "info")
        self.p = subprocess.Popen([binary, "--listen", f"127.0.0.1:{self.port}", "--pbkdf2-rounds", "1000",
                                   "--store", store] + list(args),
                                  cwd=self.dir, env=e, stdout=self.log, stderr=subprocess.DEVNULL,
                                  preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))
                                  if nofile else None)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("server did not start")

    def log_bytes(self):
        self.log.flush()
        return os.path.getsize(self.log_path)

    def stop(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


def request(port, raw, src="127.0.0.1", timeout=5.0):
    """Sends raw bytes from `src`; returns the status code, or 0 for no answer."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(raw)
        data = b""
        while len(data) < 12:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
    except (OSError, ValueError):
        return 0
    finally:
        s.close()


def form(path, body, extra=b""):
    body = body.encode() if isinstance(body, str) else body
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra +
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n\r\n" + body)


def get(path, extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + b"\r\n"


def body_of(port, raw, keep=True):
    """The answer's body (`keep=False`: only its length, for answers of hundreds of MB)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(raw)
    data = bytearray()
    total = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        if keep or len(data) < 4096:
            data += chunk
    s.close()
    head = data.find(b"\r\n\r\n")
    if not keep:
        return total - (head + 4)
    return bytes(data[head + 4:]) if head >= 0 else b""


def login_json(port):
    return json.loads(body_of(port, form("/auth/session", f"username=alice&password={PW}")))


def metrics_labels(binary):
    admin = free_port()
    s = Server(binary, ["--admin-listen", f"127.0.0.1:{admin}"])
    try:
        before = rss_mib(s.p.pid)
        for i in range(1500):
            method = f"X{i:05d}" + "A" * 40_000
            request(s.port, f"{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        after = rss_mib(s.p.pid)
        size = body_of(admin, get("/metrics"), keep=False)
        return before, after, size, rss_mib(s.p.pid)
    finally:
        s.stop()


def log_flood(binary, name):
    s = Server(binary, ["--user-failures", "2"])
    try:
        start = s.log_bytes()
        raw = form("/auth/session", f"username={name}&password=x")
        stop = time.monotonic() + SECONDS
        counts = []

        def client():
            n = 0
            while time.monotonic() < stop:
                request(s.port, raw)
                n += 1
            counts.append(n)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.5)
        return sum(counts), s.log_bytes() - start
    finally:
        s.stop()


def refresh_loop(binary, extra):
    s = Server(binary, extra)
    try:
        token = login_json(s.port)["refresh_token"]
        stop = time.monotonic() + SECONDS
        n = ok = 0
        while time.monotonic() < stop:
            raw = form("/auth/session", f"grant_type=refresh_token&refresh_token={token}")
            data = body_of(s.port, raw)
            n += 1
            try:
                j = json.loads(data)
            except ValueError:
                continue
            if "refresh_token" in j:
                ok += 1
                token = j["refresh_token"]
        db = sqlite3.connect(s.db)
        rows = db.execute("SELECT count(*) FROM rotated_tokens").fetchone()[0]
        db.close()
        return n, ok, rows
    finally:
        s.stop()


def login_loop(binary):
    s = Server(binary)
    try:
        stop = time.monotonic() + SECONDS
        codes = {}
        raw = form("/auth/session", f"username=alice&password={PW}")
        while time.monotonic() < stop:
            c = request(s.port, raw)
            codes[c] = codes.get(c, 0) + 1
        return codes
    finally:
        s.stop()


def silent_sockets(binary):
    s = Server(binary, ["--max-connections", "64"])
    held = []
    try:
        for last in range(2, 6):
            for _ in range(18):
                c = socket.socket()
                c.bind((f"127.0.0.{last}", 0))
                try:
                    c.connect(("127.0.0.1", s.port))
                    held.append(c)
                except OSError:
                    c.close()
        time.sleep(1.5)
        return sum(request(s.port, get("/healthz"), src="127.0.0.9", timeout=3) == 200 for _ in range(20))
    finally:
        for c in held:
            c.close()
        s.stop()


def admin_idle(binary):
    """As the review ran it: the process limited to 1,024 descriptors."""
    admin = free_port()
    s = Server(binary, ["--admin-listen", f"127.0.0.1:{admin}"], nofile=1024)
    held = []
    try:
        for _ in range(1100):
            c = socket.socket()
            try:
                c.connect(("127.0.0.1", admin))
                held.append(c)
            except OSError:
                c.close()
        time.sleep(1.5)
        t0 = time.monotonic()
        code = request(s.port, get("/healthz"), timeout=5)
        return code, time.monotonic() - t0
    finally:
        for c in held:
            c.close()
        s.stop()


def main():
    new = build_new()
    old = build_before()
    lifts = ["--refresh-min-interval", "0", "--user-refresh-rate", "1000000000"]
    rows = []
    for name, binary, new_flags in (("before (" + BEFORE + ")", old, False), ("now", new, True)):
        log(f"{name}: metric labels")
        m = metrics_labels(binary)
        log(f"{name}: log flood")
        big = log_flood(binary, "%01" * 5000)
        small = log_flood(binary, "m" * 60)
        log(f"{name}: refresh loop")
        ref_default = refresh_loop(binary, [])
        ref_lifted = refresh_loop(binary, lifts) if new_flags else ref_default
        log(f"{name}: login loop")
        logins = login_loop(binary)
        log(f"{name}: silent sockets")
        silent = silent_sockets(binary)
        log(f"{name}: admin idle sockets")
        adm = admin_idle(binary)
        rows.append((name, m, big, small, ref_default, ref_lifted, logins, silent, adm))

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print("### Hardening round 3 (#22): the review's attacks, before and now\n")
    print(f"`scripts/attack_bench.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), shared; "
          f"SQLite store, logs at info into a file, {SECONDS} s per timed attack. One run of each binary.\n")
    print("| attack | " + " | ".join(r[0] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    print("| item 3: RSS before → after 1,500 distinct 40 KB methods (MiB) | " +
          " | ".join(f"{r[1][0]:.1f} → {r[1][1]:.1f}" for r in rows) + " |")
    print("| item 3: `/metrics` size after it (bytes) | " + " | ".join(f"{r[1][2]:,}" for r in rows) + " |")
    print("| item 3: RSS after one scrape of it (MiB) | " + " | ".join(f"{r[1][3]:.1f}" for r in rows) + " |")
    print("| item 7: log bytes, 4 clients of throttled logins with 5,000-control-character names (requests) | " +
          " | ".join(f"{r[2][1]:,} ({r[2][0]:,})" for r in rows) + " |")
    print("| item 7: the same with 60-byte names | " +
          " | ".join(f"{r[3][1]:,} ({r[3][0]:,})" for r in rows) + " |")
    print("| item 5: one session's refresh loop (one client), defaults: requests, 200s, rows kept | " +
          " | ".join(f"{r[4][0]:,}, {r[4][1]:,}, {r[4][2]:,}" for r in rows) + " |")
    print("| item 5: the same with the rate and interval lifted | " +
          " | ".join(f"{r[5][0]:,}, {r[5][1]:,}, {r[5][2]:,}" for r in rows) + " |")
    print("| item 4: one account's successful logins in the run (status=count) | " +
          " | ".join(" ".join(f"{k}={v}" for k, v in sorted(r[6].items())) for r in rows) + " |")
    print("| item 8: answers to a fifth address while 4 x 18 silent sockets are open (of 20) | " +
          " | ".join(str(r[7]) for r in rows) + " |")
    print("| item 9: public `/healthz` with 1,100 idle admin sockets, 1,024 descriptors (status, seconds; 0: no answer in 5 s) | " +
          " | ".join(f"{r[8][0]}, {r[8][1]:.2f}" for r in rows) + " |")


if __name__ == "__main__":
    main()
