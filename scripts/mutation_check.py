#!/usr/bin/env python3
"""#22's "each test fails on today's code", checked by mutation: for every finding, its fix is
taken out again (one small edit, in a worktree of HEAD under target/mutation) and its test is
run; the test must fail. Prints one line per mutation. Nothing here runs in CI (it rebuilds
the server once per mutation: about 10 minutes).

  python3 scripts/mutation_check.py [NAME-SUBSTRING ...]
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = os.path.join(ROOT, "target", "mutation", "tree")
if not os.path.exists(TREE):
    subprocess.run(["git", "worktree", "add", "--detach", "-f", TREE, "HEAD"], cwd=ROOT, check=True)
head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                      text=True).stdout.strip()
subprocess.run(["git", "checkout", "-q", "--detach", "-f", head], cwd=TREE, check=True)
os.chdir(TREE)
env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "mutation", "target"))
# (name, file, the fix's text, the text without it, the test to run)
M = [
 ("1 proxies: headers ignored", "auth-std-server/src/http/proxy.rs",
  "        let peer = peer.to_canonical();\n        if !self.contains(peer) {", "        let peer = peer.to_canonical();\n        if true {",
  ["--test", "proxies"]),
 ("1 proxy protocol: source ignored", "auth-std-server/src/http/server.rs",
  "Ok(Some((client, rest))) => Some((client.unwrap_or(self.peer), rest)),", "Ok(Some((_client, rest))) => Some((self.peer, rest)),",
  ["--test", "proxies", "haproxy"]),
 ("1 prefer Forwarded (the hole)", "auth-std-server/src/http/proxy.rs",
  "        match which {", "        let which = if headers.contains_key(axum::http::header::FORWARDED) { ForwardedHeader::Forwarded } else { which };\n        match which {",
  ["--test", "proxies", "nginx"]),
 ("8 default per-client", "auth-std-server/src/http/server.rs",
  "        let n = max_connections / 8;", "        let n = max_connections;",
  ["--test", "round3", "never_send"]),
 ("8 pressure sweep", "auth-std-server/src/http/server.rs",
  "                if c.silent_for(now, ms(PRESSURE_PRE_REQUEST_TIMEOUT)) {", "                if c.silent_for(now, ms(PRESSURE_PRE_REQUEST_TIMEOUT)) && false {",
  ["--test", "round3", "never_send"]),
 ("2 conditional insert", "auth-std-server/src/store/sessions.rs",
  "FROM accounts WHERE name = $2 AND active \\\n     AND password_changed_at = $9 AND credential_epoch = $10\";",
  "FROM accounts WHERE name = $2 AND $9 = $9 AND $10 = $10\";",
  ["--test", "round3", "a_login_in_flight"]),
 ("2 epoch at refresh", "auth-std-server/src/service/refresh.rs",
  "if f.epochs.1.is_some_and(|e| e != f.epochs.0)", "if f.epochs.1.is_some_and(|e| e != e)",
  ["--test", "round3", "credential_epoch"]),
 ("3 method labels", "auth-std-server/src/http/layers.rs",
  "    let method = method_label(req.method());", "    let method: &'static str = Box::leak(req.method().to_string().into_boxed_str());",
  ["--test", "round3", "request_methods"]),
 ("4 login rate", "auth-std-server/src/service/login.rs",
  "        .take(&req.username, now.instant)\n", "        .take(&req.username, now.instant)\n        .or(Ok::<(), Duration>(()))\n",
  ["--test", "round3", "successful_logins"]),
 ("4 per-account floor", "auth-std-server/src/revoked.rs",
  "                if n > 1\n", "                if n > 1 && false\n",
  ["--test", "round3", "filling_the_revoked"]),
 ("4 daaa7f6's global refusal", "auth-std-server/src/revoked.rs",
  "            Some(store) => !matches!(store.session_live(sid).await, Ok(Some(true))),", "            Some(_) => true,",
  ["--test", "round3", "overflow_across_accounts"]),
 ("5 rotated cap", "auth-std-server/migrations/sqlite/0003_hardening.sql",
  "    DELETE FROM rotated_tokens WHERE session_id = OLD.id AND generation < OLD.generation - 7;\n", "",
  ["--test", "round3", "refresh_loop"]),
 ("5 min interval", "auth-std-server/src/service/refresh.rs",
  "if min > 0 && found.rotated_at.is_none()", "if min > 0 && false && found.rotated_at.is_none()",
  ["--test", "round3", "minimum_interval"]),
 ("6 remove revokes + created_at", "auth-std-server/src/auth.rs",
  "if created > 0 && issued_at.is_some_and(|iat| iat < created) {", "if created > u64::MAX - 1 && issued_at.is_some_and(|iat| iat < created) {",
  ["--test", "round3", "re_adding"]),
 ("7 username 422", "auth-core/src/form.rs",
  "            Some(u) if field == Field::Username && u.len() > MAX_USERNAME_LEN => {", "            Some(u) if field == Field::Username && u.len() > usize::MAX - 1 => {",
  ["--test", "round3", "over_long_username"]),
 ("7 log once", "auth-std-server/src/service/mod.rs",
  "    if state.lockout_log.first(key, now.instant) {", "    if state.lockout_log.first(key, now.instant) || true {",
  ["--test", "round3", "throttled_logins_are_logged"]),
 ("7 log once per address (not per name)", "auth-std-server/src/service/login.rs",
  "Some(ip) => log_throttled(state, client_group(ip), now, line),", "Some(ip) => log_throttled(state, (username, ip), now, line),",
  ["--test", "round3", "throttled_logins_are_logged"]),
 ("8 silent eviction", "auth-std-server/src/http/server.rs",
  "                .filter(|c| c.idle_keep_alive() || c.silent_for(now, grace))", "                .filter(|c| c.idle_keep_alive() || (c.silent_for(now, grace) && false))",
  ["--test", "round3", "never_send"]),
 ("9 admin limits", "auth-std-server/src/command/serve.rs",
  "            Limits::ADMIN,\n", "            Limits { max_connections: 100_000, max_connections_per_client: 100_000, header_read_timeout: std::time::Duration::from_secs(3600), ..Limits::ADMIN },\n",
  ["--test", "round3", "admin_listener"]),
 ("10 headers", "auth-std-server/src/http/layers.rs",
  "    h.insert(\n        header::X_CONTENT_TYPE_OPTIONS,", "    let _ = (\n        header::X_CONTENT_TYPE_OPTIONS,",
  ["--test", "round3", "security_headers"]),
 ("11 revoke rate", "auth-std-server/src/service/revoke.rs",
  "            .take(client_group(ip), now.instant)\n", "            .take(client_group(ip), now.instant)\n            .or(Ok::<(), Duration>(()))\n",
  ["--test", "round3", "revocation_is_throttled"]),
 ("11 stale tokens", "auth-std-server/src/service/revoke.rs",
  "    if exp.saturating_add(REVOKE_EXPIRED_GRACE) < now {", "    if exp.saturating_add(REVOKE_EXPIRED_GRACE) < now && false {",
  ["--test", "round3", "revocation_is_throttled"]),
 ("12 case index", "auth-std-server/migrations/sqlite/0003_hardening.sql",
  "CREATE UNIQUE INDEX accounts_name_lower ON accounts (lower(name));", "CREATE INDEX accounts_name_lower ON accounts (lower(name));",
  ["--test", "round3", "case_variants"]),
 ("13 readyz cache", "auth-std-server/src/http/health.rs",
  "        .filter(|(at, _)| at.elapsed() < READY_CACHE);", "        .filter(|(at, _)| at.elapsed() < std::time::Duration::ZERO);",
  ["--test", "round3", "readiness"]),
]
only = sys.argv[1:]
for name, path, old, new, args in M:
    if only and not any(o in name for o in only):
        continue
    src = open(path).read()
    if old not in src:
        print(f"{name}: PATTERN NOT FOUND", flush=True); continue
    open(path, "w").write(src.replace(old, new, 1))
    try:
        r = subprocess.run(["cargo", "test", "-q", "-p", "auth-std-server"] + args[:2] + ["--"] + args[2:],
                           env=env, capture_output=True, text=True, timeout=900)
        out = r.stdout + r.stderr
        res = [l for l in out.splitlines() if l.startswith("test result")]
        verdict = "FAILS without the fix (good)" if r.returncode != 0 and res else ("did not compile" if not res else "PASSES without the fix (BAD)")
        print(f"{name}: {verdict}: {res[-1] if res else out[-300:]}", flush=True)
    finally:
        open(path, "w").write(src)
