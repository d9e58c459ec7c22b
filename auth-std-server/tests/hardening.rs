//! Issue #8: every limit and response code, faults in the users file, graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::password::{Policy, hash_password};
use auth_core::{Hs256Key, KeyRing};
use auth_std_server::throttle::{Throttle, ThrottleLimits};
use auth_std_server::{HashPool, Settings, State, UserStore, app};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_auth-std-server");

fn phc(password: &str, rounds: u32) -> String {
    let mut out = [0u8; 160];
    hash_password(
        password.as_bytes(),
        b"0123456789abcdef",
        &Policy::new().with_rounds(rounds),
        &mut out,
    )
    .unwrap()
    .to_owned()
}

fn state(dir: &Path, users: &str, hashing: HashPool, throttle: Throttle) -> Arc<State> {
    let path = dir.join("users");
    std::fs::write(&path, users).unwrap();
    Arc::new(State::new(
        KeyRing::new(Hs256Key::new(b"0123456789abcdef0123456789abcdef").unwrap()).unwrap(),
        Settings {
            policy: Policy::new().with_rounds(1000),
            ..Settings::default()
        },
        UserStore::open(&path).unwrap(),
        hashing,
        throttle,
    ))
}

fn login_req(user: &str, pw: &str, ip: [u8; 4]) -> Request<Body> {
    let mut req = Request::post("/auth/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("username={user}&password={pw}")))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

async fn call(
    state: &Arc<State>,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = app(Arc::clone(state)).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn brute_force_gets_429_with_retry_after_and_success_resets() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!("alice\tactive\t{}\n", phc("right", 1000));
    let throttle = Throttle::new(
        ThrottleLimits {
            threshold: 3,
            ..ThrottleLimits::USERNAME
        },
        ThrottleLimits {
            threshold: 6,
            ..ThrottleLimits::IP
        },
    );
    let s = state(dir.path(), &users, HashPool::new(2, 8), throttle);
    for _ in 0..3 {
        assert_eq!(
            call(&s, login_req("alice", "wrong", [10, 0, 0, 1])).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers, body) = call(&s, login_req("alice", "right", [10, 0, 0, 2])).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits out the lock-out"
    );
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["content-type"], "application/json");
    assert!(body.contains("Too many failed login attempts"));
    assert!(headers.contains_key("x-duration-ms"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        call(&s, login_req("alice", "right", [10, 0, 0, 2])).await.0,
        StatusCode::OK
    );
    // The success cleared alice's counter: the next failure does not lock her out.
    assert_eq!(
        call(&s, login_req("alice", "wrong", [10, 0, 0, 3])).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&s, login_req("alice", "right", [10, 0, 0, 3])).await.0,
        StatusCode::OK
    );

    // Per IP: random usernames from one address trip the IP counter (6), not a user's.
    for i in 0..6 {
        call(&s, login_req(&format!("nobody{i}"), "x", [10, 9, 9, 9])).await;
    }
    let (status, headers, _) = call(&s, login_req("alice", "right", [10, 9, 9, 9])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        call(&s, login_req("alice", "right", [10, 9, 9, 10]))
            .await
            .0,
        StatusCode::OK,
        "other IPs unaffected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_hashing_queue_gets_503_at_once_and_token_routes_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    // ~0.2-0.5 s per verify: enough to hold the single worker.
    let users = format!(
        "slow\tactive\t{}\nalice\tactive\t{}\n",
        phc("pw", 3_000_000),
        phc("pw", 1000)
    );
    let s = state(dir.path(), &users, HashPool::new(1, 0), Throttle::default());
    let token = {
        let (status, _, body) = call(&s, login_req("alice", "pw", [127, 0, 0, 1])).await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let s2 = Arc::clone(&s);
    let slow =
        tokio::spawn(async move { call(&s2, login_req("slow", "pw", [127, 0, 0, 1])).await.0 });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = Instant::now();
    let (status, headers, body) = call(&s, login_req("slow", "pw", [127, 0, 0, 1])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(body.contains("detail"));
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "503 is immediate"
    );
    // The token route answers while the worker is busy hashing.
    let t0 = Instant::now();
    let req = Request::get("/dashboard/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&s, req).await.0, StatusCode::OK);
    assert!(t0.elapsed() < Duration::from_millis(100));
    assert!(!slow.is_finished(), "the slow login was still hashing");
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
}

/// #10 item 1: with one worker and a queue of four, four queued logins that hang up used to
/// leave the queue counted as full until restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_logins_that_hang_up_give_their_place_back() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!(
        "slow\tactive\t{}\nalice\tactive\t{}\n",
        phc("pw", 10_000_000),
        phc("pw", 1000)
    );
    // Hung-up attempts stay counted (item 3): a high username limit keeps that out of the way.
    let lenient = ThrottleLimits {
        threshold: 100,
        ..ThrottleLimits::USERNAME
    };
    let throttle = Throttle::new(lenient, ThrottleLimits::IP);
    let s = state(dir.path(), &users, HashPool::new(1, 4), throttle);
    let spawn = |user: &'static str, last: u8| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { call(&s, login_req(user, "pw", [10, 0, 1, last])).await.0 })
    };
    let wait_for = |n: usize| {
        let s = Arc::clone(&s);
        async move {
            let t0 = Instant::now();
            while s.hashing.in_use() != n {
                assert!(t0.elapsed() < Duration::from_secs(5), "never reached {n}");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let slow = spawn("slow", 1);
    wait_for(1).await;
    let hung_up: Vec<_> = (0..4).map(|i| spawn("alice", 10 + i)).collect();
    wait_for(5).await;
    for h in &hung_up {
        h.abort(); // what hyper does with the handler when the client hangs up
    }
    for h in hung_up {
        assert!(h.await.unwrap_err().is_cancelled());
    }
    assert!(!slow.is_finished(), "the worker is still busy");
    // The whole queue is usable again: four wait and succeed, a fifth gets 503 at once.
    let queued: Vec<_> = (0..4).map(|i| spawn("alice", 20 + i)).collect();
    wait_for(5).await;
    assert_eq!(
        call(&s, login_req("alice", "pw", [10, 0, 1, 30])).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for q in queued {
        assert_eq!(q.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    // Every place comes back (the slow hash is above the policy: its rehash runs, then ends).
    wait_for(0).await;
}

/// #10 item 3: the check and the record used to race: 34 concurrent guesses for one username
/// were all hashed against a limit of 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_beyond_the_limit_are_not_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!("victim\tactive\t{}\n", phc("right", 200_000));
    let throttle = Throttle::new(
        ThrottleLimits {
            threshold: 5,
            ..ThrottleLimits::USERNAME
        },
        ThrottleLimits {
            threshold: 20,
            ..ThrottleLimits::IP
        },
    );
    let s = state(dir.path(), &users, HashPool::new(2, 64), throttle);
    let guesses: Vec<_> = (0..34u8)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                call(&s, login_req("victim", &format!("guess{i}"), [10, 0, 2, i]))
                    .await
                    .0
            })
        })
        .collect();
    let mut evaluated = 0;
    let mut throttled = 0;
    for g in guesses {
        match g.await.unwrap() {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(evaluated <= 5, "{evaluated} guesses were hashed");
    assert_eq!(evaluated + throttled, 34);
}

/// #10 item 4: an over-long password is a form error, answered before the throttle, so it
/// neither costs a hash nor counts a failure (cheap failures used to fill the tables).
#[tokio::test]
async fn an_over_long_password_is_a_422_that_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!("alice\tactive\t{}\n", phc("right", 1000));
    let s = state(dir.path(), &users, HashPool::new(1, 4), Throttle::default());
    let long = "x".repeat(4097);
    for _ in 0..30 {
        let (status, headers, body) = call(&s, login_req("alice", &long, [10, 0, 3, 1])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(headers["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["detail"][0]["type"], "string_too_long");
        assert_eq!(
            v["detail"][0]["loc"],
            serde_json::json!(["body", "password"])
        );
        assert_eq!(v["detail"][0]["ctx"]["max_length"], 4096);
    }
    assert_eq!(s.throttle.tracked(), (0, 0), "nothing was counted");
    let exact = "x".repeat(4096);
    assert_eq!(
        call(&s, login_req("alice", &exact, [10, 0, 3, 1])).await.0,
        StatusCode::UNAUTHORIZED,
        "4096 bytes is still a password"
    );
    assert_eq!(
        call(&s, login_req("alice", "right", [10, 0, 3, 1])).await.0,
        StatusCode::OK
    );
}

/// #10 item 7: a process holding the users file's lock (anyone can `flock` a file they can
/// open) used to park the rehash inside a hashing worker, and then every login waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_users_lock_never_parks_logins() {
    let dir = tempfile::tempdir().unwrap();
    // `old` is above the test policy (1000 rounds): its login asks for a rehash.
    let users = format!(
        "old\tactive\t{}\nalice\tactive\t{}\n",
        phc("pw", 2000),
        phc("pw", 1000)
    );
    let s = state(dir.path(), &users, HashPool::new(1, 4), Throttle::default());
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.path().join("users.lock"))
        .unwrap();
    lock.lock().unwrap();
    let login = |user: &'static str, last: u8| {
        let s = Arc::clone(&s);
        async move {
            tokio::time::timeout(
                Duration::from_secs(3),
                call(&s, login_req(user, "pw", [10, 0, 4, last])),
            )
            .await
            .expect("login hung")
            .0
        }
    };
    assert_eq!(login("old", 1).await, StatusCode::OK);
    for i in 0..10 {
        assert_eq!(login("alice", 10 + i).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_disk = std::fs::read_to_string(dir.path().join("users")).unwrap();
    assert!(
        on_disk.contains("i=2000"),
        "not upgraded while the lock was held"
    );
    lock.unlock().unwrap();
    // The next login retries the upgrade.
    assert_eq!(login("old", 2).await, StatusCode::OK);
    let t0 = Instant::now();
    while std::fs::read_to_string(dir.path().join("users"))
        .unwrap()
        .contains("i=2000")
    {
        assert!(t0.elapsed() < Duration::from_secs(5), "never upgraded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), "", HashPool::new(1, 1), Throttle::default());
    let mut many = Request::get("/dashboard/metrics");
    for i in 0..70 {
        many = many.header(format!("x-h{i}"), "v");
    }
    let (status, headers, body) = call(&s, many.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body, r#"{"detail":"Request header fields too large"}"#);
    assert!(headers.contains_key("x-duration-ms"));
    let big = Request::get("/dashboard/metrics")
        .header("x-big", "a".repeat(17 * 1024))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        call(&s, big).await.0,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Just under the limits is served normally (401: no credentials).
    let ok = Request::get("/dashboard/metrics")
        .header("x-big", "a".repeat(8 * 1024))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&s, ok).await.0, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_corrupt_users_file_at_start_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("auth-data")).unwrap();
    let good = phc("pw", 1000);
    std::fs::write(
        dir.path().join("auth-data/users"),
        format!("alice\tactive\t{good}\nbob\tactive\tnot-a-hash\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("AUTH_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users file auth-data/users: line 2:"), "{err}");
    // Nothing was rewritten.
    let text = std::fs::read_to_string(dir.path().join("auth-data/users")).unwrap();
    assert!(text.contains("not-a-hash"));
}

#[tokio::test]
async fn a_corrupt_file_while_running_keeps_the_last_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let users = format!("alice\tactive\t{}\n", phc("pw", 1000));
    let s = state(dir.path(), &users, HashPool::new(1, 4), Throttle::default());
    assert_eq!(
        call(&s, login_req("alice", "pw", [1, 1, 1, 1])).await.0,
        StatusCode::OK
    );
    // Replace the file with garbage (as a broken editor would): logins keep working.
    std::fs::write(dir.path().join("users.new"), "garbage without tabs\n").unwrap();
    std::fs::rename(dir.path().join("users.new"), dir.path().join("users")).unwrap();
    assert_eq!(
        call(&s, login_req("alice", "pw", [1, 1, 1, 1])).await.0,
        StatusCode::OK
    );
    assert!(s.users.get("alice").is_some());
    // A good file later is picked up again.
    std::fs::write(
        dir.path().join("users.new"),
        format!("bob\tactive\t{}\n", phc("pw2", 1000)),
    )
    .unwrap();
    std::fs::rename(dir.path().join("users.new"), dir.path().join("users")).unwrap();
    assert_eq!(
        call(&s, login_req("bob", "pw2", [1, 1, 1, 1])).await.0,
        StatusCode::OK
    );
    assert!(s.users.get("alice").is_none());
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::zombie_processes)] // reason: the child moves into `Server`, whose Drop kills and waits.
fn start(dir: &Path, args: &[&str]) -> Server {
    let listen: &[&str] = if args.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(listen)
        .args(["--pbkdf2-rounds", "1000"])
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("AUTH_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(a) = line.strip_prefix("Listening on http://") {
            let addr = a.parse().unwrap();
            std::thread::spawn(move || for _ in lines {});
            return Server { child, addr };
        }
    }
}

fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slowloris_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--header-read-timeout", "1"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /dashboard/metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let t0 = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(5)),
        "a half-sent request was not cut off"
    );
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[test]
fn connection_limit_closes_extra_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--max-connections", "2"]);
    let a = TcpStream::connect(server.addr).unwrap();
    let b = TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = TcpStream::connect(server.addr).unwrap();
    assert!(
        closed_within(&mut c, Duration::from_secs(2)),
        "third connection was kept"
    );
    drop((a, b));
    std::thread::sleep(Duration::from_millis(200));
    let mut d = TcpStream::connect(server.addr).unwrap();
    d.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    d.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("auth-data")).unwrap();
    std::fs::write(
        dir.path().join("auth-data/users"),
        format!("slow\tactive\t{}\n", phc("pw", 5_000_000)),
    )
    .unwrap();
    let mut server = start(dir.path(), &["--shutdown-grace", "20"]);
    let addr = server.addr;
    let inflight = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let body = "username=slow&password=pw";
        write!(s, "POST /auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    });
    std::thread::sleep(Duration::from_millis(150));
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        TcpStream::connect(addr).is_err(),
        "new connections are refused during shutdown"
    );
    let resp = inflight.join().unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200"),
        "in-flight login did not finish: {resp}"
    );
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn sigkill_during_writes_never_loses_a_committed_change() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let p = users.to_str().unwrap();
    // Start from a file with one user, then add/disable/enable in a loop, SIGKILLing each
    // writer at a different moment.
    assert!(
        Command::new(BIN)
            .args([
                "user",
                "add",
                "seed",
                "--hash",
                &phc("x", 1000),
                "--users",
                p
            ])
            .status()
            .unwrap()
            .success()
    );
    let mut expect: std::collections::BTreeMap<String, bool> = [("seed".to_owned(), true)].into();
    let mut completed = 0;
    for i in 0..200u64 {
        let (args, name, effect): (Vec<String>, String, Option<bool>) = match i % 3 {
            0 => (
                vec![
                    "add".into(),
                    format!("u{i}"),
                    "--hash".into(),
                    phc("x", 1000),
                ],
                format!("u{i}"),
                Some(true),
            ),
            1 => (
                vec!["disable".into(), "seed".into()],
                "seed".into(),
                Some(false),
            ),
            _ => (
                vec!["enable".into(), "seed".into()],
                "seed".into(),
                Some(true),
            ),
        };
        let mut child = Command::new(BIN)
            .arg("user")
            .args(&args)
            .args(["--users", p])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros((i * 613) % 9000));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            completed += 1;
            if let Some(active) = effect {
                expect.insert(name, active);
            }
        }
        let store = UserStore::open(&users).unwrap_or_else(|e| panic!("iteration {i}: {e}"));
        let snap = store.snapshot();
        for (name, active) in &expect {
            if name.starts_with('u') {
                assert!(
                    snap.contains_key(name),
                    "iteration {i}: committed add of {name} lost"
                );
            }
            let _ = active;
        }
        // The last committed enable/disable of `seed` holds unless a later, killed writer
        // got as far as its rename (then its change is there, whole).
        assert!(snap.contains_key("seed"));
    }
    eprintln!("{completed} of 200 writes completed before SIGKILL; the file parsed every time");
    assert!(
        completed > 0 && completed < 200,
        "kills should straddle the writes ({completed})"
    );
}

#[test]
fn concurrent_writers_never_lose_an_update() {
    // Twelve CLI writers at once, plus a server-style modify from this process, all on one
    // file: the lock serializes them, so every add is there at the end.
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let p = users.to_str().unwrap().to_owned();
    let hash = phc("x", 1000);
    let children: Vec<Child> = (0..12)
        .map(|i| {
            Command::new(BIN)
                .args([
                    "user",
                    "add",
                    &format!("c{i}"),
                    "--hash",
                    &hash,
                    "--users",
                    &p,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    auth_std_server::users::modify_file(&users, |all| {
        all.insert(
            "server".into(),
            auth_std_server::users::User::new(&hash, true).unwrap(),
        );
        Ok(())
    })
    .unwrap();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let snap = UserStore::open(&users).unwrap().snapshot();
    assert_eq!(snap.len(), 13, "{:?}", snap.keys().collect::<Vec<_>>());
}

/// A blocking connection to `to` from the local address `from`.
async fn connect_from(to: SocketAddr, from: std::net::IpAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    // Blocking I/O from here on: the server is another process.
    let s = socket.connect(to).await.unwrap().into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s
}

/// Sends one login from the local address `from` and returns the status code.
async fn login_from(to: SocketAddr, from: std::net::IpAddr, user: &str, pw: &str) -> u16 {
    let mut s = connect_from(to, from).await;
    let body = format!("username={user}&password={pw}");
    let req = format!(
        "POST /auth/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp[9..12].parse().unwrap()
}

fn users_file(dir: &Path, users: &str) {
    std::fs::create_dir_all(dir.join("auth-data")).unwrap();
    std::fs::write(dir.join("auth-data/users"), users).unwrap();
}

/// #10 item 2: on a dual-stack `[::]` listener, failures from 127.0.0.1 used to lock out every
/// IPv4 client (all were `::ffff:…`, grouped into `::/64`).
#[tokio::test]
async fn dual_stack_listener_counts_ipv4_clients_apart() {
    let dir = tempfile::tempdir().unwrap();
    users_file(
        dir.path(),
        &format!("alice\tactive\t{}\n", phc("right", 1000)),
    );
    let server = start(
        dir.path(),
        &[
            "--listen",
            "[::]:0",
            "--ip-failures",
            "3",
            "--user-failures",
            "100",
        ],
    );
    let to = SocketAddr::from(([127, 0, 0, 1], server.addr.port()));
    let attacker = "127.0.0.1".parse().unwrap();
    for i in 0..4 {
        login_from(to, attacker, &format!("nobody{i}"), "x").await;
    }
    assert_eq!(
        login_from(to, attacker, "alice", "right").await,
        429,
        "the attacker is locked"
    );
    for other in ["127.0.0.2", "127.0.0.3"] {
        assert_eq!(
            login_from(to, other.parse().unwrap(), "alice", "right").await,
            200,
            "{other} is another client"
        );
    }
}

/// One keep-alive request on `s`; returns the status line's code.
fn request_on(s: &mut TcpStream) -> Option<u16> {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).ok()?;
    std::str::from_utf8(buf.get(9..12)?)
        .ok()?
        .parse()
        .ok()
        .filter(|_| n > 0)
}

/// #10 item 8: one client reopening sockets used to hold every slot (no per-client cap), and
/// at the global cap new clients were refused while idle keep-alive connections sat there.
#[tokio::test]
async fn one_client_at_its_cap_cannot_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            "--max-connections",
            "8",
            "--max-connections-per-client",
            "4",
        ],
    );
    let to = server.addr;
    let hog: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut hogs = Vec::new();
    for _ in 0..12 {
        hogs.push(connect_from(to, hog).await);
    }
    std::thread::sleep(Duration::from_millis(200));
    let kept = hogs
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_millis(100)))
        .filter(|closed| !closed)
        .count();
    assert_eq!(kept, 4, "the per-client cap");
    let mut other = connect_from(to, "127.0.0.2".parse().unwrap()).await;
    assert_eq!(
        request_on(&mut other),
        Some(404),
        "another client is served"
    );
    drop((hogs, other));
    std::thread::sleep(Duration::from_millis(200));

    // Global cap: two clients fill all 8 slots with keep-alive connections that have served a
    // request. A third client is served: an idle keep-alive connection makes room.
    let mut idle = Vec::new();
    for last in [3u8, 4] {
        for _ in 0..4 {
            let mut s = connect_from(to, std::net::IpAddr::from([127, 0, 0, last])).await;
            assert_eq!(request_on(&mut s), Some(404));
            idle.push(s);
        }
    }
    let mut third = connect_from(to, "127.0.0.5".parse().unwrap()).await;
    assert_eq!(
        request_on(&mut third),
        Some(404),
        "the third client was refused"
    );
    std::thread::sleep(Duration::from_millis(100));
    let closed = idle
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_millis(100)))
        .filter(|closed| *closed)
        .count();
    assert_eq!(closed, 1, "exactly one idle connection made room");
}

/// #10 item 1, as the review ran it: with one worker and a queue of four, four queued clients
/// that hang up (or time out: 408) used to leave the idle server answering `[401, 503, 503]`
/// to three concurrent logins, until restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_up_clients_leave_the_login_queue_whole() {
    let dir = tempfile::tempdir().unwrap();
    // `slow` verifies in about 1-2 s (10,000,000 rounds, 64-byte output): it holds the worker.
    let slow = {
        use base64::Engine;
        let salt = b"0123456789abcdef";
        let mut dk = [0u8; 64];
        auth_core::password::pbkdf2_hmac_sha256(b"pw", salt, 10_000_000, &mut dk);
        let e = base64::engine::general_purpose::STANDARD_NO_PAD;
        format!(
            "$pbkdf2-sha256$i=10000000,l=64${}${}",
            e.encode(salt),
            e.encode(dk)
        )
    };
    users_file(
        dir.path(),
        &format!(
            "slow\tactive\t{slow}\nalice\tactive\t{}\n",
            phc("right", 1000)
        ),
    );
    let server = start(
        dir.path(),
        &[
            "--login-workers",
            "1",
            "--login-queue",
            "4",
            "--request-timeout",
            "1",
            "--user-failures",
            "1000",
            "--ip-failures",
            "1000",
        ],
    );
    let to = server.addr;
    let send = |user: &'static str| {
        let mut s = TcpStream::connect(to).unwrap();
        let body = format!("username={user}&password=wrong");
        let req = format!(
            "POST /auth/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        s
    };
    let status = |mut s: TcpStream| {
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp[9..12].parse::<u16>().unwrap()
    };
    let holder = send("slow");
    std::thread::sleep(Duration::from_millis(100));
    let queued: Vec<_> = (0..4).map(|_| send("alice")).collect();
    std::thread::sleep(Duration::from_millis(100));
    drop(queued); // they hang up
    assert_eq!(
        status(holder),
        408,
        "the slow login outlived the 1 s request timeout"
    );
    // Wait until the slow hash is done and the server is idle again: one login at a time is
    // answered (401) as soon as the worker is free.
    let t0 = Instant::now();
    while status(send("alice")) != 401 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the worker never came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let three: Vec<_> = (0..3).map(|_| send("alice")).collect();
    let got: Vec<u16> = three.into_iter().map(status).collect();
    assert_eq!(got, [401, 401, 401]);
}
