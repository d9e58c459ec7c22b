//! #12 item 6: several instances, one PostgreSQL. Two real server processes against a
//! throwaway cluster: tokens cross instances, a CLI disable shows everywhere within a second,
//! failed logins count across instances, a killed instance loses nothing, a database outage is
//! answered with 503 and recovers without a restart, and keys rotate one instance at a time.
//!
//! Needs PostgreSQL (`initdb`, `pg_ctl`); without it every test prints SKIP (a failure under
//! `CI=true`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_auth-std-server");
const SECRET: &str = "several-instances-share-this-secret-0123";

struct Instance {
    child: Child,
    addr: SocketAddr,
    /// Its output after "Listening on" (the log), and its stderr.
    log: std::path::PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

#[allow(clippy::zombie_processes)] // reason: the child moves into `Instance`, whose Drop kills and waits.
fn instance(dir: &Path, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Instance {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let log = dir.join(format!(
        "instance-{}.log",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(["--listen", "127.0.0.1:0", "--pbkdf2-rounds", "1000"])
        // Every refresh rotates: these tests follow rotations across instances.
        .args(["--refresh-min-interval", "0"])
        .args(["--store", url])
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("AUTH_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("exited before listening").unwrap();
        if let Some(addr) = line.strip_prefix("Listening on http://") {
            let mut file = std::fs::File::options().append(true).open(&log).unwrap();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    let _ = writeln!(file, "{line}");
                }
            });
            return Instance {
                child,
                addr: addr.parse().unwrap(),
                log,
            };
        }
    }
}

struct Http {
    status: u16,
    head: String,
    body: String,
}

fn request(addr: SocketAddr, raw: &str) -> Http {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    Http {
        status: head[9..12].parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn login(addr: SocketAddr, user: &str, pw: &str) -> Http {
    let body = format!("username={user}&password={pw}");
    request(
        addr,
        &format!(
            "POST /auth/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn token(r: &Http) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

fn dashboard(addr: SocketAddr, token: &str) -> Http {
    request(
        addr,
        &format!(
            "GET /dashboard/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        ),
    )
}

fn cli(dir: &Path, url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .arg("user")
        .args(args)
        .args(["--store", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn add_user(dir: &Path, url: &str, name: &str, pw: &str) {
    let (ok, out) = cli(
        dir,
        url,
        &["add", name, "--password-stdin", "--pbkdf2-rounds", "1000"],
        Some(pw),
    );
    assert!(ok, "{out}");
}

/// Polls `f` until it answers `want`, for at most `limit`; how long it took.
fn until(limit: Duration, want: u16, f: impl Fn() -> Http) -> Duration {
    let t0 = Instant::now();
    loop {
        let r = f();
        if r.status == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "still {} after {limit:?}: {}",
            r.status,
            r.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_instances_share_tokens_disables_and_failure_counts() {
    let Some(pg) = common::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    // Started together on an empty database: the migration runs once, one admin is made.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| instance(dir.path(), &url, &["--user-failures", "3"], &[]));
        let b = s.spawn(|| instance(dir.path(), &url, &["--user-failures", "3"], &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    add_user(dir.path(), &url, "carol", "c4rol");

    // A token issued by A is accepted by B.
    let t = token(&login(a.addr, "carol", "c4rol"));
    assert_eq!(dashboard(b.addr, &t).status, 200);

    // `user disable` through the CLI shows on both within a second.
    let (ok, out) = cli(dir.path(), &url, &["disable", "carol"], None);
    assert!(ok, "{out}");
    let t0 = Instant::now();
    for inst in [&a, &b] {
        until(Duration::from_secs(1), 403, || dashboard(inst.addr, &t));
    }
    eprintln!("disable visible on both instances after {:?}", t0.elapsed());
    let (ok, out) = cli(dir.path(), &url, &["enable", "carol"], None);
    assert!(ok, "{out}");
    // Disabling revoked carol's sessions (#13): enabled again, the old token stays refused
    // (401) on both, and a new login's token works on both.
    for inst in [&a, &b] {
        until(Duration::from_secs(1), 401, || dashboard(inst.addr, &t));
    }
    let t = token(&login(b.addr, "carol", "c4rol"));
    for inst in [&a, &b] {
        until(Duration::from_secs(1), 200, || dashboard(inst.addr, &t));
    }

    // Failed logins on A count on B: three wrong passwords on A, and B locks carol out.
    for _ in 0..3 {
        assert_eq!(login(a.addr, "carol", "wrong").status, 401);
    }
    let r = login(b.addr, "carol", "c4rol");
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.head.to_ascii_lowercase().contains("retry-after:"),
        "{}",
        r.head
    );
    // And the lock-out ends: 1 s base.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(login(b.addr, "carol", "c4rol").status, 200);
    // That success cleared the shared count: one more wrong password (on A) is the first
    // again, and B lets carol in.
    assert_eq!(login(a.addr, "carol", "wrong").status, 401);
    assert_eq!(login(b.addr, "carol", "c4rol").status, 200);
}

/// PostgreSQL's `NOTIFY` reaches the follower: `Store::on_change` calls its `wake` for an account
/// change made on another connection (the CLI's, another instance's), without waiting for the
/// poll, and its task ends once `wake` says nobody follows. SQLite has no notifications and
/// never calls it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_change_notifies_the_follower() {
    use auth_std_server::store::{PoolLimits, Store, StoreUrl};
    let Some(pg) = common::postgres() else { return };
    let url = pg.fresh_database();
    let store = Store::open(&StoreUrl::Postgres(url.clone()), PoolLimits::default())
        .await
        .unwrap();
    let other = Store::open(&StoreUrl::Postgres(url), PoolLimits::default())
        .await
        .unwrap();
    let user = auth_std_server::users::User::new(&common::phc("pw"), true).unwrap();
    other.add("dave", &user, 1).await.unwrap();

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    store.on_change(move || {
        // Two wakes, then nobody follows any more.
        let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let _ = tx.send(n);
        n < 2
    });
    // The LISTEN is in place once a change made after it wakes the follower; changes are
    // repeated until one does (the task may not be listening yet).
    let mut active = false;
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            other.set_active("dave", active, 2).await.unwrap();
            active = !active;
            if let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                return n;
            }
        }
    })
    .await
    .expect("no notification within 10 s");
    assert_eq!(first, 1);
    other.set_active("dave", active, 3).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no second notification");
    assert_eq!(second, Some(2));
    // `wake` said false: the task has ended and dropped it (and the sender in it).
    other.set_active("dave", !active, 4).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the listener kept running");
    assert_eq!(end, None, "no call after wake returned false");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    // SQLite: `wake` is dropped uncalled.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let lite = Store::open(&StoreUrl::Sqlite(path), PoolLimits::default())
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    lite.on_change(move || tx.send(()).is_ok());
    lite.add("erin", &user, 1).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got, Ok(None), "SQLite has no notifications");
}

/// Through a database outage the listener keeps trying (calling `wake` after each failed
/// connection, so the follower polls), and once the database is back a change wakes the
/// follower again: the fast path resumes without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_listener_resumes_after_an_outage() {
    use auth_std_server::store::{PoolLimits, Store, StoreUrl};
    let Some(pg) = common::private_cluster() else {
        return;
    };
    let url = StoreUrl::Postgres(pg.fresh_database());
    // The listener's connection attempts fail fast while the database is down.
    let quick = PoolLimits {
        acquire_timeout: Duration::from_millis(500),
        ..PoolLimits::default()
    };
    let store = Store::open(&url, quick).await.unwrap();
    let other = Store::open(&url, PoolLimits::default()).await.unwrap();
    let user = auth_std_server::users::User::new(&common::phc("pw"), true).unwrap();
    other.add("dave", &user, 1).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    store.on_change(move || tx.send(()).is_ok());
    woken(&other, &mut rx).await;

    tokio::task::spawn_blocking(move || {
        pg.stop();
        std::thread::sleep(Duration::from_secs(4));
        pg.start();
        pg
    })
    .await
    .unwrap();
    // A wake after each failed attempt to connect (one a second and a half here).
    let mut during = 0;
    while rx.try_recv().is_ok() {
        during += 1;
    }
    assert!(during >= 1, "no wake while the database was down");
    woken(&other, &mut rx).await;
}

/// Changes `dave` through `other` until one wakes the follower behind `rx`; each change's error
/// (the store recovering from an outage) is ignored.
async fn woken(
    other: &auth_std_server::store::Store,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let mut active = false;
    for _ in 0..100 {
        let _ = other.set_active("dave", active, 2).await;
        active = !active;
        match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            Ok(Some(())) => return,
            Ok(None) => panic!("the listener ended"),
            Err(_) => {}
        }
    }
    panic!("no notification within 100 changes");
}

/// libfaketime, which shifts the wall clock of the process it is preloaded into; `None` after
/// printing SKIP (a failure under `CI=true`) when Debian's `faketime` is not installed.
fn faketime() -> Option<&'static str> {
    const LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    if Path::new(LIB).exists() {
        return Some(LIB);
    }
    common::skip("libfaketime is not installed (apt-get install faketime)");
    None
}

/// The shared failure counts are stamped and read by the database's clock, not the instances':
/// B's wall clock runs 40 s behind A's (libfaketime), and neither clock changes what the counts
/// lock out. Three wrong passwords through the lagging B lock carol out on A (read by A's clock,
/// B's stamps were 40 s old and locked nothing out: an attacker's guesses through B escaped
/// the shared count), and the other way round the lock-out on B ends after its 1 s. (That last
/// step also needs B's refused login, whose reservation took B's own count past its threshold,
/// to leave no lock-out behind when refunded.)
#[test]
fn the_shared_failure_counts_ignore_the_instances_clocks() {
    let Some(pg) = common::postgres() else { return };
    let Some(lib) = faketime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let args = ["--user-failures", "3", "--clock-leeway", "60"];
    let a = instance(dir.path(), &url, &args, &[]);
    let lagging = [
        ("LD_PRELOAD", lib),
        ("FAKETIME", "-40s"),
        // The throttle's own windows run on the monotonic clock: leave it alone.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    let b = instance(dir.path(), &url, &args, &lagging);
    add_user(dir.path(), &url, "carol", "c4rol");
    // B's clock really lags: its token's `iat` is 40 s before A's.
    let iat = |r: &Http| {
        let t = token(r);
        let claims = t.split('.').nth(1).unwrap();
        let json =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                .unwrap();
        serde_json::from_slice::<serde_json::Value>(&json).unwrap()["iat"]
            .as_i64()
            .unwrap()
    };
    let lag = iat(&login(a.addr, "carol", "c4rol")) - iat(&login(b.addr, "carol", "c4rol"));
    assert!((39..=41).contains(&lag), "B lags by {lag} s");

    // Counted through B, locked out on A.
    for _ in 0..3 {
        assert_eq!(login(b.addr, "carol", "wrong").status, 401);
    }
    let r = login(a.addr, "carol", "c4rol");
    assert_eq!(r.status, 429, "{}", r.body);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(login(a.addr, "carol", "c4rol").status, 200);

    // Counted through A, locked out on B, and over on B when it is over on A.
    for _ in 0..3 {
        assert_eq!(login(a.addr, "carol", "wrong").status, 401);
    }
    let r = login(b.addr, "carol", "c4rol");
    assert_eq!(r.status, 429, "{}", r.body);
    std::thread::sleep(Duration::from_millis(1100));
    let r = login(b.addr, "carol", "c4rol");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_killed_instance_loses_nothing_and_the_other_keeps_serving() {
    let Some(pg) = common::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let mut a = instance(dir.path(), &url, &[], &[]);
    let b = instance(dir.path(), &url, &[], &[]);
    // An account whose hash is below the policy: every login writes (a rehash) on A.
    let passlib =
        "$pbkdf2-sha256$29000$ABEiM0RVZneImaq7zN3u/w$t.ewNkTwQ38Rdza3x3Vlsk6UGpwPiXMhh77TbhLEvBA";
    let (ok, out) = cli(
        dir.path(),
        &url,
        &["add", "legacy", "--hash", passlib],
        None,
    );
    assert!(ok, "{out}");
    add_user(dir.path(), &url, "dave", "d4ve");
    let addr_a = a.addr;
    let logins = std::thread::spawn(move || {
        let mut answered = 0;
        for _ in 0..40 {
            match std::panic::catch_unwind(|| login(addr_a, "legacy", "wonderland-42").status) {
                Ok(200) => answered += 1,
                _ => break, // A is gone
            }
        }
        answered
    });
    std::thread::sleep(Duration::from_millis(150));
    a.child.kill().unwrap(); // SIGKILL, mid-logins
    a.child.wait().unwrap();
    let answered = logins.join().unwrap();
    eprintln!("{answered} logins answered by A before SIGKILL");
    // B serves, and everything committed is there: both accounts, and the rehash if A
    // answered its first login (a half-written hash would not parse and would fail here).
    let t = token(&login(b.addr, "legacy", "wonderland-42"));
    assert_eq!(dashboard(b.addr, &t).status, 200);
    assert_eq!(login(b.addr, "dave", "d4ve").status, 200);
    let (ok, list) = cli(dir.path(), &url, &["list"], None);
    assert!(
        ok && list.contains("legacy\tactive") && list.contains("dave\tactive"),
        "{list}"
    );
}

#[test]
fn a_database_outage_gets_503_then_recovers_without_a_restart() {
    let Some(pg) = common::private_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let a = instance(
        dir.path(),
        &url,
        &["--store-staleness", "3", "--db-acquire-timeout", "1"],
        &[],
    );
    add_user(dir.path(), &url, "erin", "3rin");
    let t = token(&login(a.addr, "erin", "3rin"));
    assert_eq!(dashboard(a.addr, &t).status, 200); // now cached
    let readyz = |addr| {
        request(
            addr,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    };
    assert_eq!(readyz(a.addr).status, 200);

    pg.stop();
    let down = Instant::now();
    // Not ready, with the reason, once the cached answer (1 s, #22 item 13) is stale; alive
    // all along.
    let mut r = readyz(a.addr);
    while r.status == 200 && down.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100));
        r = readyz(a.addr);
    }
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body, r#"{"detail":"store unreachable"}"#);
    let live = request(
        a.addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(live.status, 200);
    // Logins: 503 with a JSON detail and Retry-After.
    let r = login(a.addr, "erin", "3rin");
    assert_eq!(r.status, 503, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["detail"].is_string(), "{}", r.body);
    assert!(
        r.head.to_ascii_lowercase().contains("retry-after:"),
        "{}",
        r.head
    );
    // Protected requests: answered from the cache within the staleness bound...
    if down.elapsed() < Duration::from_secs(2) {
        assert_eq!(dashboard(a.addr, &t).status, 200);
    }
    // ...then 503.
    until(Duration::from_secs(8), 503, || dashboard(a.addr, &t));
    let r = dashboard(a.addr, &t);
    assert!(r.body.contains("detail"), "{}", r.body);
    std::thread::sleep(Duration::from_secs(5).saturating_sub(down.elapsed()));

    pg.start();
    // Everything recovers without a restart.
    until(Duration::from_secs(15), 200, || {
        login(a.addr, "erin", "3rin")
    });
    until(Duration::from_secs(5), 200, || dashboard(a.addr, &t));
    until(Duration::from_secs(5), 200, || readyz(a.addr));
    // Nothing was lost: a write after recovery works, and the account is still there.
    add_user(dir.path(), &url, "frank", "fr4nk");
    assert_eq!(login(a.addr, "frank", "fr4nk").status, 200);
    // The outage was logged once, not per request or per poll, and so was its end.
    let log = std::fs::read_to_string(&a.log).unwrap();
    let count = |s: &str| log.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("store unavailable"), 1, "{log}");
    assert_eq!(count("store available again"), 1, "{log}");
    // The account listener's reconnects (one a second through the outage) likewise.
    assert_eq!(count("cannot LISTEN for account changes"), 1, "{log}");
    assert_eq!(count("panicked"), 0, "{log}");
}

/// #25 item 4: while the database is known to be down, a login is answered 503 with
/// `Retry-After` at once, not after `--db-acquire-timeout` (3 s here) each; a probe in the
/// background closes the circuit when the database is back, without a restart.
#[test]
fn a_known_outage_is_answered_at_once_and_the_probe_recovers() {
    let Some(pg) = common::private_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let a = instance(dir.path(), &url, &["--db-acquire-timeout", "3"], &[]);
    add_user(dir.path(), &url, "gail", "g4il");
    assert_eq!(login(a.addr, "gail", "g4il").status, 200);
    pg.stop();
    // The first call finds out (within the acquire timeout); the next ones know.
    let r = login(a.addr, "gail", "g4il");
    assert_eq!(r.status, 503, "{}", r.body);
    for _ in 0..5 {
        let t0 = Instant::now();
        let r = login(a.addr, "gail", "g4il");
        let took = t0.elapsed();
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            r.head.to_ascii_lowercase().contains("retry-after:"),
            "{}",
            r.head
        );
        // Well under the 3 s acquire timeout each call used to wait.
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
    pg.start();
    until(Duration::from_secs(15), 200, || {
        login(a.addr, "gail", "g4il")
    });
    let log = std::fs::read_to_string(&a.log).unwrap();
    let count = |s: &str| log.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("store unavailable"), 1, "{log}");
    assert_eq!(count("store available again"), 1, "{log}");
}

/// Writes a key file (mode 0600) in `dir`; its path.
fn key_file(dir: &Path, name: &str, lines: &[&str]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.to_str().unwrap().to_owned()
}

/// An instance keyed by the key file `file` alone (no `AUTH_SECRET`).
fn keyed_instance(dir: &Path, url: &str, file: &str) -> Instance {
    instance(dir, url, &["--key-file", file], &[("AUTH_SECRET", "")])
}

#[test]
fn rolling_key_rotation_across_two_instances() {
    use base64::Engine;
    let Some(pg) = common::postgres() else { return };
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    add_user(dir.path(), &url, "gail", "g4il");
    let old = format!("old {}", e.encode([1u8; 32]));
    let new = format!("new {}", e.encode([2u8; 32]));
    let keys = |name: &str, lines: &[&str]| key_file(dir.path(), name, lines);
    // The key file: every line verifies, the last one signs. No AUTH_SECRET here.
    let start = |file: &str| keyed_instance(dir.path(), &url, file);
    let k0 = keys("k0", &[&old]);
    let (a, b) = (start(&k0), start(&k0));
    let t_old = token(&login(a.addr, "gail", "g4il"));

    // 1. The new key, verify-only, everywhere (it is not last), one instance at a time.
    let k1 = keys("k1", &[&new, &old]);
    drop(a);
    let a = start(&k1);
    drop(b);
    let b = start(&k1);
    assert_eq!(dashboard(b.addr, &t_old).status, 200);
    // 2. The new key signs, one instance at a time: B still only verifies with it, and
    //    accepts what A now signs.
    let k2 = keys("k2", &[&old, &new]);
    drop(a);
    let a = start(&k2);
    let t_new = token(&login(a.addr, "gail", "g4il"));
    assert!(
        t_new.starts_with("eyJhbGciOiJIUzI1NiIsImtpZCI6Im5ldyIs"),
        "{t_new}"
    );
    assert_eq!(dashboard(b.addr, &t_new).status, 200);
    assert_eq!(dashboard(a.addr, &t_old).status, 200);
    drop(b);
    let b = start(&k2);
    // 3. After one token lifetime, the old key goes.
    let k3 = keys("k3", &[&new]);
    drop(a);
    drop(b);
    let (a, b) = (start(&k3), start(&k3));
    for inst in [&a, &b] {
        assert_eq!(dashboard(inst.addr, &t_old).status, 401);
        assert_eq!(dashboard(inst.addr, &t_new).status, 200);
    }
}

/// #27: HS256 to EdDSA, one instance at a time. The Ed25519 key is staged (`next`) on every
/// instance first, so every JWKS lists it before anything signs with it; then it signs on one
/// instance while the other, still staging it, verifies what it signs.
#[test]
fn rolling_rotation_to_eddsa_publishes_the_key_before_it_signs() {
    use base64::Engine;
    let Some(pg) = common::postgres() else { return };
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    add_user(dir.path(), &url, "gail", "g4il");
    let hs = format!("hs HS256 {}", e.encode([1u8; 32]));
    let ed_next = format!("ed EdDSA {} next", e.encode([9u8; 32]));
    let ed = format!("ed EdDSA {}", e.encode([9u8; 32]));
    let keys = |name: &str, lines: &[&str]| key_file(dir.path(), name, lines);
    let start = |file: &str| keyed_instance(dir.path(), &url, file);
    let kids = |addr: SocketAddr| -> Vec<String> {
        let r = request(
            addr,
            "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let header =
        |t: &str| String::from_utf8(e.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
    let k0 = keys("k0", &[&hs]);
    let (a, b) = (start(&k0), start(&k0));
    assert!(kids(a.addr).is_empty());
    let t_hs = token(&login(a.addr, "gail", "g4il"));

    // 1. Stage the Ed25519 key everywhere: published, not signing.
    let k1 = keys("k1", &[&hs, &ed_next]);
    drop(a);
    let a = start(&k1);
    drop(b);
    let b = start(&k1);
    for inst in [&a, &b] {
        assert_eq!(kids(inst.addr), ["ed"]);
        assert!(header(&token(&login(inst.addr, "gail", "g4il"))).contains("HS256"));
    }
    // 2. It signs on A; B, still staging it, verifies A's tokens, and A verifies the old ones.
    let k2 = keys("k2", &[&hs, &ed]);
    drop(a);
    let a = start(&k2);
    let t_ed = token(&login(a.addr, "gail", "g4il"));
    assert!(
        header(&t_ed).contains(r#""alg":"EdDSA","kid":"ed""#),
        "{}",
        header(&t_ed)
    );
    assert_eq!(dashboard(b.addr, &t_ed).status, 200);
    assert_eq!(dashboard(a.addr, &t_hs).status, 200);
    drop(b);
    let b = start(&k2);
    // 3. The HS256 key goes once its tokens have expired.
    let k3 = keys("k3", &[&ed]);
    drop(a);
    drop(b);
    let (a, b) = (start(&k3), start(&k3));
    for inst in [&a, &b] {
        assert_eq!(dashboard(inst.addr, &t_hs).status, 401);
        assert_eq!(dashboard(inst.addr, &t_ed).status, 200);
    }
}

#[test]
fn unix_socket_urls_work() {
    let Some(pg) = common::postgres() else { return };
    let url = pg.fresh_database();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let socket = pg.socket_url(&name);
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), &socket, "hank", "h4nk");
    let a = instance(dir.path(), &socket, &[], &[]);
    assert_eq!(login(a.addr, "hank", "h4nk").status, 200);
}

/// #12 item 9: a database that turns read-only at run time. Protected requests go on (they
/// only read), a failed login is still answered (its counter write fails, logged once), a
/// login that would start a session (#13) gets 503 with `Retry-After` since the session cannot
/// be stored, and a CLI write fails with one line and exit code 2. Writable again, all is back.
/// The 503s spend none of the account's logins a minute: a client retrying through the outage
/// logs in at once when it ends (this test once met a 429 there, the rate spent by its polls).
#[test]
fn a_read_only_database_keeps_serving_reads_and_refuses_writes_in_one_line() {
    const RATE: usize = 3;
    let Some(pg) = common::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let db = url.rsplit('/').next().unwrap().to_owned();
    add_user(dir.path(), &url, "ivy", "1vy");
    let rate = RATE.to_string();
    let a = instance(dir.path(), &url, &["--user-login-rate", &rate], &[]);
    let t = token(&login(a.addr, "ivy", "1vy"));
    pg.sql(&format!(
        "ALTER DATABASE {db} SET default_transaction_read_only = on"
    ));
    // Existing sessions keep their setting: end them, so the pool reconnects read-only.
    pg.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));
    until(Duration::from_secs(5), 503, || login(a.addr, "ivy", "1vy"));
    // A pooled connection the termination broke fails its one query (503) and is replaced.
    until(Duration::from_secs(5), 200, || dashboard(a.addr, &t));
    // Past the breaker's probe (the termination opened it), logins reach the session write.
    std::thread::sleep(Duration::from_millis(600));
    for _ in 0..2 * RATE {
        let r = login(a.addr, "ivy", "1vy");
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            r.head.to_ascii_lowercase().contains("retry-after:"),
            "{}",
            r.head
        );
    }
    assert_eq!(login(a.addr, "ivy", "wrong").status, 401);
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["user", "disable", "ivy", "--store", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    pg.sql(&format!(
        "ALTER DATABASE {db} SET default_transaction_read_only = off"
    ));
    // Pooled sessions keep the read-only default they began with (as after a failover): each
    // one that refuses a write is closed as it comes back, so a login soon lands on a new one,
    // not after the pool's 10-minute idle timeout.
    let statuses: Vec<u16> = (0..10)
        .map(|_| login(a.addr, "ivy", "1vy").status)
        .take_while(|s| *s != 200)
        .collect();
    assert!(statuses.len() < 10, "{statuses:?}");
    let (ok, out) = cli(dir.path(), &url, &["disable", "ivy"], None);
    assert!(ok, "{out}");
    until(Duration::from_secs(1), 403, || dashboard(a.addr, &t));
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Http {
    request(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn refresh_token(r: &Http) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["refresh_token"].as_str().unwrap().to_owned()
}

fn refresh(addr: SocketAddr, token: &str) -> Http {
    post(
        addr,
        "/auth/session",
        &format!("grant_type=refresh_token&refresh_token={token}"),
    )
}

/// #13 on two instances: a session started on A refreshes on B; a revocation on A (RFC 7009)
/// refuses the session's access tokens on B within a second, without a query per request
/// (the revocation feed's NOTIFY); reuse detected on B revokes on A; `session revoke --all`
/// through the CLI reaches both.
#[test]
fn sessions_work_across_instances_and_revocations_reach_both_within_a_second() {
    let Some(pg) = common::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let a = instance(dir.path(), &url, &[], &[]);
    let b = instance(dir.path(), &url, &[], &[]);
    add_user(dir.path(), &url, "erin", "3rin");

    // Login on A, refresh on B, use on both.
    let first = login(a.addr, "erin", "3rin");
    let r = refresh(b.addr, &refresh_token(&first));
    let (access, next) = (token(&r), refresh_token(&r));
    for inst in [&a, &b] {
        assert_eq!(dashboard(inst.addr, &access).status, 200);
    }
    // Revoked on A: B refuses the access token within a second.
    assert_eq!(
        post(a.addr, "/auth/revoke", &format!("token={next}")).status,
        200
    );
    let took = until(Duration::from_secs(1), 401, || dashboard(b.addr, &access));
    eprintln!("revocation visible on the other instance after {took:?}");
    assert_eq!(dashboard(a.addr, &access).status, 401);
    assert_eq!(refresh(b.addr, &next).status, 400);

    // Reuse detected on B revokes the session A serves.
    let s = login(a.addr, "erin", "3rin");
    let old = refresh_token(&s);
    let r = refresh(a.addr, &old);
    let access = token(&r);
    assert_eq!(refresh(b.addr, &old).status, 400);
    until(Duration::from_secs(1), 401, || dashboard(a.addr, &access));

    // "Log out everywhere" from the CLI.
    let s1 = token(&login(a.addr, "erin", "3rin"));
    let s2 = token(&login(b.addr, "erin", "3rin"));
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["session", "list", "erin", "--store", &url])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(!list.contains(&s1) && !list.contains(&s2));
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["session", "revoke", "erin", "--all", "--store", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    for t in [&s1, &s2] {
        for inst in [&a, &b] {
            until(Duration::from_secs(1), 401, || dashboard(inst.addr, t));
        }
    }
}
