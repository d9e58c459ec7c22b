//! What the server's test suites share: the store they run against, and a throwaway
//! PostgreSQL cluster.
//!
//! `AUTH_TEST_STORE=postgres` runs a suite against PostgreSQL instead of SQLite: a fresh
//! database per test on a cluster started once per test process (`initdb` in a temp dir, as the
//! `postgres` user when the tests run as root, on a free loopback port, stopped and removed when
//! the process exits). `AUTH_TEST_DATABASE_URL` names an existing server to use instead. Without
//! PostgreSQL installed, [`postgres`] prints SKIP and returns `None`, which fails under
//! `CI=true`.
#![allow(dead_code)] // reason: each suite uses its own part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use auth_std_server::store::{PoolLimits, Store, StoreUrl};

/// Which engine the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// From `AUTH_TEST_STORE` (`sqlite`, the default, or `postgres`).
pub fn engine() -> Engine {
    match std::env::var("AUTH_TEST_STORE").as_deref() {
        Ok("postgres") => Engine::Postgres,
        _ => Engine::Sqlite,
    }
}

/// A store URL for one test: `dir/auth-data/auth.db`, or a fresh PostgreSQL database.
pub fn store_url(dir: &Path) -> StoreUrl {
    match engine() {
        Engine::Sqlite => StoreUrl::Sqlite(dir.join("auth-data/auth.db")),
        Engine::Postgres => StoreUrl::Postgres(
            postgres()
                .expect("AUTH_TEST_STORE=postgres needs PostgreSQL")
                .fresh_database(),
        ),
    }
}

/// Opens a store for one test and fills it from users-file text.
pub async fn store_with(dir: &Path, users: &str) -> Store {
    let url = store_url(dir);
    if let StoreUrl::Sqlite(path) = &url {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    }
    let store = Store::open(&url, PoolLimits::default()).await.unwrap();
    let parsed: Vec<_> = auth_std_server::users::parse(users)
        .unwrap()
        .into_iter()
        .collect();
    store.import(&parsed, 1_764_331_200).await.unwrap();
    store
}

/// The key the in-process suites sign with.
pub const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// A PHC hash of `password` at 1,000 rounds (fast), with a fixed salt.
pub fn phc(password: &str) -> String {
    let mut out = [0u8; 160];
    auth_core::password::hash_password(
        password.as_bytes(),
        b"0123456789abcdef",
        &auth_core::password::Policy::new().with_rounds(1000),
        &mut out,
    )
    .unwrap()
    .to_owned()
}

/// In-process server state over a fresh store holding `users` (users-file text), keyed with
/// [`SECRET`] (kid `k1`), hashing at 1,000 rounds with 2 workers.
pub async fn state_with(
    dir: &Path,
    users: &str,
    settings: auth_std_server::Settings,
) -> auth_std_server::AppState {
    let store = store_with(dir, users).await;
    let keys =
        auth_core::KeyRing::new(auth_core::Hs256Key::with_kid(SECRET, "k1").unwrap()).unwrap();
    std::sync::Arc::new(auth_std_server::State::new(
        keys,
        auth_std_server::Settings {
            policy: auth_core::password::Policy::new().with_rounds(1000),
            ..settings
        },
        store,
        auth_std_server::HashPool::new(2, 8),
        auth_std_server::throttle::Throttle::default(),
    ))
}

/// `url` as a child process's `AUTH_STORE` needs it: with its password (`Display` hides it).
pub fn url_text(url: &StoreUrl) -> String {
    match url {
        StoreUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
        StoreUrl::Postgres(u) => u.clone(),
    }
}

/// A running throwaway cluster.
pub struct Cluster {
    /// `postgres://postgres@127.0.0.1:PORT`, without a database.
    base: String,
    /// The directory of its Unix socket.
    pub socket_dir: PathBuf,
    pub port: u16,
    counter: AtomicU32,
    /// `pg_ctl` and the data directory, when this process started it.
    control: Option<(PathBuf, PathBuf, bool)>,
}

impl Cluster {
    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        psql(self, &format!("CREATE DATABASE {name}"));
        format!("{}/{name}", self.base)
    }

    /// The URL of database `name` over the Unix socket.
    pub fn socket_url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@localhost/{name}?host={}&port={}",
            self.socket_dir.display(),
            self.port
        )
    }

    /// Runs SQL as the superuser on database `postgres`.
    pub fn sql(&self, sql: &str) -> String {
        psql(self, sql)
    }

    /// Stops the server (fast shutdown: sessions are cut).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts it again, on the same port and data.
    pub fn start(&self) {
        self.pg_ctl(&["start", "-w", "-l"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let (pg_ctl, data, root) = self
            .control
            .as_ref()
            .expect("a cluster this process started");
        let mut c = as_postgres(pg_ctl, *root);
        c.args(args);
        if args.contains(&"-l") {
            c.arg(data.with_file_name("log"));
        }
        c.arg("-D")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        assert!(c.status().unwrap().success(), "pg_ctl {args:?}");
    }
}

fn as_postgres(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn psql(c: &Cluster, sql: &str) -> String {
    let out = Command::new(bin("psql").unwrap_or_else(|| PathBuf::from("psql")))
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &c.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-d", "postgres", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A PostgreSQL binary: on PATH, or in Debian's versioned directory.
fn bin(name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The shared cluster, started on first use; `None` (after printing SKIP) when PostgreSQL is
/// not installed. Under `CI=true` that is a failure.
pub fn postgres() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("AUTH_TEST_DATABASE_URL") {
                let base = url
                    .rsplit_once('/')
                    .map_or(url.clone(), |(b, _)| b.to_owned());
                let port = base
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse().ok())
                    .unwrap_or(5432);
                return Some(Cluster {
                    base,
                    socket_dir: PathBuf::from("/var/run/postgresql"),
                    port,
                    counter: AtomicU32::new(0),
                    control: None,
                });
            }
            private_cluster()
        })
        .as_ref()
}

/// Says a test is skipped because `why` (a tool or service it needs is missing): prints
/// `SKIP: <why>`, and fails the test under `CI=true`, where everything it needs is installed.
pub fn skip(why: &str) {
    println!("SKIP: {why}");
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "SKIP is a failure under CI=true: {why}"
    );
}

/// A cluster of this test's own, which it may stop and start; `None` as for [`postgres`].
pub fn private_cluster() -> Option<Cluster> {
    private_cluster_with(|_| String::new())
}

/// [`private_cluster`], with `setup` run on the new data directory before the server starts:
/// it writes what it needs there (certificates, `pg_hba.conf` lines) and returns lines for
/// `postgresql.conf`. What it writes is handed to the `postgres` user when this runs as root.
pub fn private_cluster_with(setup: impl FnOnce(&Path) -> String) -> Option<Cluster> {
    let (Some(initdb), Some(pg_ctl)) = (bin("initdb"), bin("pg_ctl")) else {
        skip("PostgreSQL is not installed (initdb/pg_ctl not found; apt-get install postgresql)");
        return None;
    };
    let root = is_root();
    let port = free_port();
    let tmp = std::env::temp_dir().join(format!("auth-pg-{}-{port}", std::process::id()));
    let data = tmp.join("data");
    let sock = tmp.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    if root {
        give_to_postgres(&tmp);
    }
    let out = as_postgres(&initdb, root)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conf = format!(
        "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         fsync = off\nmax_connections = 200\n",
        sock.display()
    );
    conf.push_str(&setup(&data));
    if root {
        give_to_postgres(&data);
    }
    let auto = data.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    text.push_str(&conf);
    std::fs::write(&auto, text).unwrap();
    let cluster = Cluster {
        base: format!("postgres://postgres@127.0.0.1:{port}"),
        socket_dir: sock,
        port,
        counter: AtomicU32::new(0),
        control: Some((pg_ctl.clone(), data.clone(), root)),
    };
    cluster.start();
    // A watchdog stops the server and removes its directory once this test process is gone
    // (passed, failed or killed).
    let stop = as_postgres(&pg_ctl, root);
    let mut words: Vec<String> = std::iter::once(stop.get_program())
        .chain(stop.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    words.extend(["stop", "-m", "immediate", "-D"].map(String::from));
    words.push(shell_quote(&data.to_string_lossy()));
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done\n{} >/dev/null 2>&1\nrm -rf {}\n",
        words.join(" "),
        shell_quote(&tmp.to_string_lossy()),
        parent = std::process::id(),
    );
    // Never waited for, on purpose: it outlives this process to clean up after it.
    #[allow(clippy::zombie_processes)] // reason: see above
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !Command::new(bin("pg_isready").unwrap_or_else(|| PathBuf::from("pg_isready")))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "PostgreSQL did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(cluster)
}

/// `chown -R postgres:postgres path`.
fn give_to_postgres(path: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown {} to postgres", path.display());
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Holds the store's write lock from another connection until dropped: on SQLite an
/// `IMMEDIATE` transaction, on PostgreSQL `LOCK TABLE accounts IN EXCLUSIVE MODE` (reads go on,
/// writes to accounts wait).
pub async fn hold_write_lock(url: &StoreUrl) -> Box<dyn std::any::Any + Send> {
    use sqlx::Connection as _;
    match url {
        StoreUrl::Sqlite(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            Box::new(c)
        }
        StoreUrl::Postgres(u) => {
            let mut c = sqlx::PgConnection::connect(u).await.unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE accounts IN EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            Box::new(c)
        }
    }
}

/// The environment a spawned server or CLI run in `dir` needs: nothing on SQLite (the default
/// store, `auth-data/auth.db` under `dir`), or `AUTH_STORE` naming this directory's own
/// PostgreSQL database, the same one every time.
pub fn dir_env(dir: &Path) -> Vec<(String, String)> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static URLS: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    match engine() {
        Engine::Sqlite => Vec::new(),
        Engine::Postgres => {
            let mut urls = URLS.get_or_init(Default::default).lock().unwrap();
            let url = urls
                .entry(dir.to_owned())
                .or_insert_with(|| postgres().expect("PostgreSQL").fresh_database())
                .clone();
            vec![("AUTH_STORE".to_owned(), url)]
        }
    }
}

/// Runs one statement on `store`'s database from a connection of its own, as another writer
/// (an operator's own SQL) would.
pub async fn raw_sql(store: &Store, sql: &str) {
    match store.url() {
        StoreUrl::Sqlite(path) => {
            use sqlx::Connection as _;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        StoreUrl::Postgres(url) => {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// `POST /auth/session` with `username`/`password` as a form, on a new blocking connection:
/// the raw response.
pub fn login_raw(addr: std::net::SocketAddr, user: &str, pw: &str) -> String {
    use std::io::{Read as _, Write as _};
    let body = format!("username={user}&password={pw}");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /auth/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

/// A blocking connection to `to` from the local address `from` (127.0.0.2 and up stand for
/// other clients on one machine).
pub fn connect_from(to: std::net::SocketAddr, from: std::net::IpAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::new(from, 0).into())
        .unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// An in-process answer: status, headers and the body as text.
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends `req` to `router` as if from `ip`, and reads the whole answer.
pub async fn call(
    router: axum::Router,
    mut req: axum::http::Request<axum::body::Body>,
    ip: [u8; 4],
) -> Reply {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            ip, 40000,
        ))));
    let res = router.oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = String::from_utf8_lossy(&body.collect().await.unwrap().to_bytes()).into_owned();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// The server binary, running in `dir` until dropped (then [`stop`]ped).
pub struct Running {
    pub child: std::process::Child,
    /// The public listener.
    pub addr: std::net::SocketAddr,
    /// The admin listener, with `--admin-listen`.
    pub admin: Option<std::net::SocketAddr>,
    /// Standard output after the "Listening on" line, a line at a time.
    pub stdout: std::sync::mpsc::Receiver<String>,
    /// Standard error, a line at a time.
    pub stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Kills a server the test started and waits for it. Under cargo-llvm-cov it is sent SIGTERM
/// first (and given 10 s), because an instrumented binary writes its coverage profile only
/// when it exits normally; otherwise the kill is immediate, as a test wants.
pub fn stop(child: &mut std::process::Child) {
    if std::env::var_os("LLVM_PROFILE_FILE").is_some() {
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn lines_of(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    rx
}

/// Starts the binary in `dir` on a free loopback port (1,000 PBKDF2 rounds, logs at
/// `rust_log`, the suite's store through [`dir_env`]) with `args`, and waits until it listens.
pub fn run_server(dir: &Path, args: &[&str], rust_log: &str) -> Running {
    run_server_with_nofile(dir, args, rust_log, None)
}

/// [`run_server`], with the process's file-descriptor limit (soft and hard) set to `nofile`
/// first, through the shell's `ulimit`.
#[allow(clippy::zombie_processes)] // reason: the child moves into `Running`, whose Drop kills and waits.
pub fn run_server_with_nofile(
    dir: &Path,
    args: &[&str],
    rust_log: &str,
    nofile: Option<u32>,
) -> Running {
    let bin = env!("CARGO_BIN_EXE_auth-std-server");
    let mut cmd = match nofile {
        None => Command::new(bin),
        Some(n) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin]);
            c
        }
    };
    let mut child = cmd
        .current_dir(dir)
        .args(["--listen", "127.0.0.1:0", "--pbkdf2-rounds", "1000"])
        .args(args)
        .env("RUST_LOG", rust_log)
        .env_remove("AUTH_SECRET")
        .envs(dir_env(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines_of(child.stderr.take().unwrap());
    let stdout = lines_of(child.stdout.take().unwrap());
    let mut admin = None;
    loop {
        let line = stdout
            .recv_timeout(Duration::from_secs(30))
            .expect("the server exited or never listened");
        if let Some(a) = line.strip_prefix("Metrics on http://") {
            admin = Some(a.trim_end_matches("/metrics").parse().unwrap());
        }
        let listening = line
            .strip_prefix("Listening on http://")
            .or_else(|| line.strip_prefix("Listening on https://"));
        if let Some(a) = listening {
            return Running {
                addr: a.parse().unwrap(),
                child,
                admin,
                stdout,
                stderr,
            };
        }
    }
}

/// Sends SIGHUP to `server`, then reads its standard output until a line containing one of
/// `outcomes` (every line read is kept in `said`): that line.
pub fn hangup(server: &Running, said: &mut Vec<String>, outcomes: &[&str]) -> String {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = server.stdout.recv_timeout(left) else {
            panic!("none of {outcomes:?} within 20 s: {said:?}");
        };
        said.push(line.clone());
        if outcomes.iter().any(|o| line.contains(o)) {
            return line;
        }
    }
}

/// Whether the server closes `stream` within `limit` (what it sends first, a 408 say, is read
/// past).
pub fn closed_within(stream: &mut std::net::TcpStream, limit: Duration) -> bool {
    use std::io::Read as _;
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Holds one of the hashing pool's workers until the returned sender sends (or drops); the
/// handle finishes when the worker is free again. Returns once the worker is taken.
pub async fn hold_a_hash_worker(
    s: &auth_std_server::AppState,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), auth_std_server::hash_pool::Busy>>,
) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let s = std::sync::Arc::clone(s);
    let holder = tokio::spawn(async move {
        s.hashing
            .run(move || {
                let _ = started_tx.send(());
                let _ = held.recv();
            })
            .await
    });
    started.await.unwrap();
    (release, holder)
}

/// The first-run admin password the server wrote into `dir`.
pub fn admin_password(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("auth-data/admin.password"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The `access_token` of a raw login response.
pub fn access_token(raw: &str) -> String {
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"));
    v["access_token"].as_str().unwrap().to_owned()
}
