#!/usr/bin/env bash
# Server load and flood measurements on loopback (issues #7 and #8). Starts and stops the
# server itself; every load run is bounded in time. Usage: scripts/load.sh [seconds per run]
# Prints a Markdown report on stdout (BENCHMARKS.md takes it as is).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || { echo "SKIP load: wrk not installable"; exit 0; }
fi
cargo build --release --locked -q -p auth-std-server
BIN=$PWD/target/release/auth-std-server
LUA=$PWD/scripts/status_counts.lua
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
export AUTH_SECRET=load-test-secret-load-test-secret-0123
printf 'load-pass\n' | "$BIN" user add alice --password-stdin --store "sqlite:$WORK/auth.db" >/dev/null
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
start() { # extra serve args
  RUST_LOG=error "$BIN" --listen 127.0.0.1:$PORT --store "sqlite:$WORK/auth.db" "$@" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$URL/x" && return 0; sleep 0.1; done
  echo "server did not start"; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
wrk_run() { # conns url [env...]
  local c=$1 u=$2; shift 2
  env "$@" wrk -t2 -c"$c" -d"${DUR}s" --timeout 10s --latency -s "$LUA" "$u" 2>&1 | grep -E '^(RESULT|STATUS)'
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }

# All load comes from 127.0.0.1: lift the per-client connection cap (#10 item 8) and the
# per-account login and refresh rates (#22 items 4-5) for it.
start --max-connections 8192 --max-connections-per-client 4096 --user-login-rate 1000000000 --user-refresh-rate 1000000000
TOKEN=$(curl -s -X POST "$URL/auth/session" -d 'username=alice&password=load-pass' | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
RSS_IDLE=$(rss_kib)
TOK=$(wrk_run 64 "$URL/dashboard/metrics" WRK_AUTH="Bearer $TOKEN")
LOGIN=$(wrk_run 8 "$URL/auth/session" WRK_METHOD=POST WRK_CT=application/x-www-form-urlencoded WRK_BODY='username=alice&password=load-pass')
RSS_AFTER=$(rss_kib)
# 1k idle keep-alive connections, each after one request.
RSS_1K=$(python3 - "$PORT" "$PID" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /x HTTP/1.1\r\nHost: l\r\n\r\n")
    s.recv(4096)
    socks.append(s)
time.sleep(1)
print(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")))
PY
)
stop

# Login flood: 16 connections of wrong passwords with random usernames, throttling off so
# every one of them costs a PBKDF2 verify, while 8 connections use the token route.
flood() { # serve args...: sets FLOOD_OUT, DURING_OUT, RSS_BEFORE, RSS_AFTER_FLOOD
  start "$@"
  RSS_BEFORE=$(rss_kib)
  wrk_run 16 "$URL/auth/session" WRK_METHOD=POST WRK_CT=application/x-www-form-urlencoded WRK_ROTATE_USER=1 > "$WORK/flood" &
  local flooder=$!
  sleep 1
  DURING_OUT=$(wrk_run 8 "$URL/dashboard/metrics" WRK_AUTH="Bearer $TOKEN")
  wait $flooder
  FLOOD_OUT=$(cat "$WORK/flood")
  RSS_AFTER_FLOOD=$(rss_kib)
  stop
}
flood --user-failures 1000000000 --ip-failures 1000000000 --max-connections 8192 --max-connections-per-client 4096 --user-login-rate 1000000000 --user-refresh-rate 1000000000
FLOOD=$FLOOD_OUT DURING=$DURING_OUT RSS_F0=$RSS_BEFORE RSS_F1=$RSS_AFTER_FLOOD
# The same flood with the default brute-force limits: it is answered with 429s.
flood --max-connections 8192 --max-connections-per-client 4096 --user-login-rate 1000000000 --user-refresh-rate 1000000000
FLOOD2=$FLOOD_OUT DURING2=$DURING_OUT

non_ok() { # count statuses other than the allowed ones in a STATUS line
  local line allowed n=0; line=$(grep STATUS <<<"$1"); allowed=" $2 "
  for kv in ${line#STATUS }; do s=${kv%%=*}; c=${kv#*=}; [[ "$allowed" == *" $s "* ]] || n=$((n+c)); done
  echo $n
}
cat <<MD
### Server under load ($(date -u +%Y-%m-%d), $(nproc) cores, ${DUR}s per run, wrk -t2, loopback)

| run | req/s | p50 ms | p99 ms | responses |
|---|---|---|---|---|
| \`GET /dashboard/metrics\`, 64 connections | $(field rps "$TOK") | $(field p50_ms "$TOK") | $(field p99_ms "$TOK") | $(grep STATUS <<<"$TOK" | cut -d' ' -f2-) |
| logins (600,000 rounds), 8 connections | $(field rps "$LOGIN") | $(field p50_ms "$LOGIN") | $(field p99_ms "$LOGIN") | $(grep STATUS <<<"$LOGIN" | cut -d' ' -f2-) |
| token route, 8 connections, **during** a 16-connection wrong-password flood (throttle off) | $(field rps "$DURING") | $(field p50_ms "$DURING") | $(field p99_ms "$DURING") | $(grep STATUS <<<"$DURING" | cut -d' ' -f2-) |
| … the flood itself | $(field rps "$FLOOD") | $(field p50_ms "$FLOOD") | $(field p99_ms "$FLOOD") | $(grep STATUS <<<"$FLOOD" | cut -d' ' -f2-) |
| token route during the same flood, default brute-force limits | $(field rps "$DURING2") | $(field p50_ms "$DURING2") | $(field p99_ms "$DURING2") | $(grep STATUS <<<"$DURING2" | cut -d' ' -f2-) |
| … the flood itself | $(field rps "$FLOOD2") | $(field p50_ms "$FLOOD2") | $(field p99_ms "$FLOOD2") | $(grep STATUS <<<"$FLOOD2" | cut -d' ' -f2-) |

Flood errors (responses other than 401/429/503, plus socket errors): $(( $(non_ok "$FLOOD" "401 429 503") + $(field errors_timeout "$FLOOD") + $(field errors_connect "$FLOOD") )) (throttle off), $(( $(non_ok "$FLOOD2" "401 429 503") + $(field errors_timeout "$FLOOD2") + $(field errors_connect "$FLOOD2") )) (default limits).

| RSS | KiB |
|---|---|
| idle, after start | $RSS_IDLE |
| after the token and login runs | $RSS_AFTER |
| with 1,000 idle keep-alive connections | $RSS_1K |
| flood: before | $RSS_F0 |
| flood: after | $RSS_F1 |
MD
