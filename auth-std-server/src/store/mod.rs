//! The store: accounts, the account change feed, and the shared login-failure counters, in
//! SQLite (the embedded default, one file) or PostgreSQL (several instances, one database).
//!
//! One seam, [`Store`], over both engines with sqlx: the SQL is written once, in the dialect
//! both accept (`$N` parameters, `INSERT … ON CONFLICT`, `RETURNING`), and run on whichever pool
//! the [`StoreUrl`] opened. Schema migrations are embedded in the binary (`migrations/`) and run
//! at open; on PostgreSQL sqlx's migrator holds an advisory lock while it migrates, so instances
//! starting together migrate once.
//!
//! Every change to an account (from any instance, the CLI, or an operator's own SQL) adds a row
//! to `account_changes` through a trigger; on PostgreSQL the trigger also sends `NOTIFY
//! auth_accounts`. [`crate::account_cache::AccountCache`] follows that feed, so protected requests
//! are answered from memory.
//!
//! Errors at run time are [`StoreError::Unavailable`]: the handlers answer 503 with a JSON
//! `detail` and `Retry-After`, and log the incident once ([`Health`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use auth_core::StoredHashError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite write waits for another writer's lock before it fails (and the request
/// gets 503).
const SQLITE_BUSY: Duration = Duration::from_secs(5);

/// The default store: one SQLite file in the data directory.
pub const DEFAULT_STORE: &str = "sqlite:auth-data/auth.db";

/// Where the store is: `sqlite:PATH`, or a `postgres://` / `postgresql://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite database file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (TCP, or a Unix socket with `?host=/run/postgresql`).
    Postgres(String),
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Shows the URL without its password.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// `postgres://user:secret@host/db?password=secret` → `postgres://user:***@host/db?password=***`:
/// libpq takes the password in the userinfo or as a query parameter, and neither is shown.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{user}{hidden}@{host}")
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<&str> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => "password=***",
                    _ => pair,
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Url(
                    "sqlite: needs a file path, as in sqlite:auth-data/auth.db".into(),
                ));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(s.to_owned()));
        }
        Err(StoreError::Url(format!(
            "{:?} is not a store; use sqlite:PATH or a postgres:// URL",
            redact(s)
        )))
    }
}

impl StoreUrl {
    /// The directory for the key file and the first-run password: the SQLite file's own
    /// directory, or `auth-data` beside a PostgreSQL store.
    pub fn data_dir(&self) -> PathBuf {
        match self {
            StoreUrl::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned(),
            StoreUrl::Postgres(_) => PathBuf::from("auth-data"),
        }
    }
}

/// A store problem. `Display` is one line that names the store and the problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The `--store` value is not a store URL.
    Url(String),
    /// The store's other settings (`--store-file`, `--db-password-file`, `DATABASE_URL_FILE`)
    /// are unusable: the one-line message names the option and the file, never a secret.
    Setting(String),
    /// The store could not be opened at start: unreachable, refused, wrong credentials.
    Open {
        /// The store, without its password.
        store: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// The SQLite file exists but is not a database, or is damaged. It is never re-created.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    Migrate {
        /// The store, without its password.
        store: String,
        /// The cause.
        source: sqlx::migrate::MigrateError,
    },
    /// The database failed at run time: down, full, read-only, disconnected.
    Unavailable(sqlx::Error),
    /// `user add` of a name that exists (or differs from one only in case: the second name).
    Exists(String, Option<String>),
    /// The store holds names that differ only in case (round 3 item 12), which the schema no
    /// longer allows: the pairs, so an operator can remove or rename one of each.
    CaseVariants {
        /// The store, without its password.
        store: String,
        /// Pairs of names that differ only in case (at most 20).
        pairs: Vec<(String, String)>,
    },
    /// No such account.
    NoSuchUser(String),
    /// A stored row's hash does not parse (changed outside this server).
    BadRow {
        /// The account.
        name: String,
        /// What is wrong with its hash.
        source: StoredHashError,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url(msg) => write!(f, "--store: {msg}"),
            StoreError::Setting(msg) => f.write_str(msg),
            StoreError::Open { store, source } => write!(f, "cannot open store {store}: {source}"),
            StoreError::Corrupt { path, source } => write!(
                f,
                "store {} is not a usable SQLite database ({source}); it was left as it is: \
                 restore it from a backup or move it away",
                path.display()
            ),
            StoreError::Migrate { store, source } => {
                write!(f, "cannot migrate store {store}: {source}")
            }
            StoreError::Unavailable(e) => write!(f, "store unavailable: {e}"),
            StoreError::Exists(name, None) => write!(f, "user {name:?} already exists"),
            StoreError::Exists(name, Some(other)) => write!(
                f,
                "user {other:?} already exists, and {name:?} differs from it only in case: \
                 usernames are unique regardless of case"
            ),
            StoreError::CaseVariants { store, pairs } => {
                write!(
                    f,
                    "store {store} holds usernames that differ only in case, which this \
                     version refuses (each name must be unique regardless of case): "
                )?;
                for (i, (a, b)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a:?} and {b:?}")?;
                }
                f.write_str(
                    "; remove one of each pair with the previous version (`user remove NAME`), \
                     then start this one",
                )
            }
            StoreError::NoSuchUser(name) => write!(f, "no user {name:?}"),
            StoreError::BadRow { name, source } => {
                write!(f, "stored hash of user {name:?} is unusable: {source}")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Open { source, .. }
            | StoreError::Corrupt { source, .. }
            | StoreError::Unavailable(source) => Some(source),
            StoreError::Migrate { source, .. } => Some(source),
            StoreError::BadRow { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Unavailable(e)
    }
}

/// Pool bounds and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Most connections per instance.
    pub max_connections: u32,
    /// How long a query waits for a connection before it fails (and the request gets 503).
    pub acquire_timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has: the SQL is the same text
/// for both engines.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod accounts;
mod failures;
mod listener;
mod sessions;
pub use accounts::{AccountRow, Change};
pub use sessions::{FoundSession, NewSession, Revocation, SessionInfo, Verified};

/// Whether the store is failing now, so that an outage is logged once, not per request; and the
/// circuit breaker (#25 item 4): while the database cannot be reached, calls fail at once
/// instead of each waiting `--db-acquire-timeout`, and a background probe closes the circuit
/// when it answers again.
#[derive(Debug, Default)]
pub struct Health {
    failing: AtomicBool,
    /// The database is unreachable (a connection-level error): calls fail at once.
    open: AtomicBool,
    /// A probe task is running.
    probing: AtomicBool,
}

/// How often the probe tries the database while the circuit is open.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Whether `e` means the database cannot be reached (not a statement it refused): the pool
/// timed out or was closed, the connection failed, or PostgreSQL is shutting down or not yet
/// accepting connections (SQLSTATE class 08, and 57P01-57P03: a stopped server first answers
/// the open connections with `admin_shutdown`). A lock timeout, a full disk or a constraint is
/// a statement the database refused, and leaves the circuit closed.
/// How long after a read-only refusal released connections are closed: long enough for every
/// pooled connection in use to come back once.
const RECYCLE_FOR_MS: i64 = 2_000;

/// PostgreSQL's `read_only_sql_transaction`: this session cannot write.
fn is_read_only(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("25006"))
}

fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

impl Health {
    /// Records a run-time failure; logs only the first of an incident.
    pub fn failed(&self, e: &StoreError) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %e, "store unavailable; answering 503 until it is back");
        }
    }

    /// Records a success; logs the end of an incident.
    pub fn ok(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::warn!("store available again");
        }
    }

    /// Whether the last store call failed.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Whether calls fail at once because the database is unreachable.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

#[derive(Debug)]
struct Inner {
    url: StoreUrl,
    backend: Backend,
    health: Health,
    /// Until this time (ms since the epoch), a PostgreSQL connection given back to the pool is
    /// closed instead of kept. Set by a read-only refusal (SQLSTATE 25006): a session keeps the
    /// `default_transaction_read_only` it started with, so after a failover (a pooled connection
    /// to a server that became a standby) or a database made writable again, only new
    /// connections see the change. Without this, logins answered 503 until the pool's idle
    /// timeout (10 minutes) recycled them.
    recycle_until: Arc<AtomicI64>,
    /// SQLite has one writer at a time; session writes from this process queue here, in
    /// order, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms
    /// (8 concurrent refreshes had a p99 of 181 ms that way). Other processes (the CLI) still
    /// meet the busy timeout.
    write_gate: tokio::sync::Mutex<()>,
    /// Failed calls, for the metrics.
    errors: prometheus_client::metrics::counter::Counter,
}

/// The store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Seconds since the Unix epoch, as the store keeps them.
fn secs(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// The pool's bounds, the same on both engines. No ping before each query (a round trip saved
/// per query): a broken connection fails its query (503) and is dropped, and the next is new.
fn pool_options<DB: sqlx::Database>(limits: PoolLimits) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .test_before_acquire(false)
        .max_connections(limits.max_connections)
        .acquire_timeout(limits.acquire_timeout)
}

/// Whether `name` could be an account name in the store at all. PostgreSQL text cannot hold a
/// NUL character, and a query with one fails (which used to answer a login 503: schemathesis
/// found it). No account has one, so such a name is unknown without a query.
fn storable(name: &str) -> bool {
    !name.contains('\0')
}

/// SQLite's "file is not a database" and "database disk image is malformed".
fn is_corrupt(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("26" | "11")))
}

/// After a failed migration: the names that differ only in case, if any (then they are why).
async fn case_variants(backend: &Backend, store: &str) -> Option<StoreError> {
    const SQL: &str = "SELECT a.name, b.name FROM accounts a JOIN accounts b \
         ON lower(a.name) = lower(b.name) AND a.name < b.name ORDER BY a.name LIMIT 20";
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await.ok()?,
        Backend::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await.ok()?,
    };
    (!rows.is_empty()).then(|| StoreError::CaseVariants {
        store: store.to_owned(),
        pairs: rows,
    })
}

/// Creates a missing SQLite file (and its directory, 0700) empty and private before SQLite
/// opens it: SQLite gives its -wal and -shm files the database file's mode.
fn create_if_missing(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    if !path.exists() {
        crate::fs::create_private(path, b"")?;
    }
    Ok(())
}

/// Opens (creating it, private, if missing) and checks a SQLite file, then migrates it.
async fn open_sqlite(path: &Path, limits: PoolLimits, store: &str) -> Result<Backend, StoreError> {
    let open_err = |e: std::io::Error| StoreError::Open {
        store: store.to_owned(),
        source: sqlx::Error::Io(e),
    };
    create_if_missing(path).map_err(open_err)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        // Every commit is on disk before it is acknowledged: kill -9 or a power cut loses
        // nothing that was answered as done.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY)
        .foreign_keys(true);
    let corrupt = |source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    };
    let pool = pool_options::<sqlx::Sqlite>(limits)
        .connect_with(options)
        .await
        .map_err(|source| {
            if is_corrupt(&source) {
                corrupt(source)
            } else {
                StoreError::Open {
                    store: store.to_owned(),
                    source,
                }
            }
        })?;
    // A damaged file can open and fail only when read: check it now.
    sqlx::query("SELECT count(*) FROM sqlite_master")
        .fetch_one(&pool)
        .await
        .map_err(corrupt)?;
    migrate(Backend::Sqlite(pool), store).await
}

/// Brings the schema up to date. A failed migration names the case-variant account pairs
/// when they are why (round 3 item 12).
async fn migrate(backend: Backend, store: &str) -> Result<Backend, StoreError> {
    let result = match &backend {
        Backend::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
        Backend::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
    };
    match result {
        Ok(()) => Ok(backend),
        Err(source) => {
            Err(case_variants(&backend, store)
                .await
                .unwrap_or_else(|| StoreError::Migrate {
                    store: store.to_owned(),
                    source,
                }))
        }
    }
}

impl Store {
    /// Opens the store and brings its schema up to date. A missing SQLite file is created
    /// (mode 0600, in WAL mode); an existing one that is not a database is an error, never
    /// re-created.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::Corrupt`] or [`StoreError::Migrate`].
    pub async fn open(url: &StoreUrl, limits: PoolLimits) -> Result<Store, StoreError> {
        let store = url.to_string();
        let recycle_until = Arc::new(AtomicI64::new(0));
        let backend = match url {
            StoreUrl::Sqlite(path) => open_sqlite(path, limits, &store).await?,
            StoreUrl::Postgres(text) => {
                let opening = |source| StoreError::Open {
                    store: store.clone(),
                    source,
                };
                let options = PgConnectOptions::from_str(text).map_err(opening)?;
                let until = Arc::clone(&recycle_until);
                let pool = pool_options::<sqlx::Postgres>(limits)
                    .after_release(move |_, _| {
                        let keep = crate::clock::now_ms() >= until.load(Ordering::Relaxed);
                        Box::pin(async move { Ok(keep) })
                    })
                    .connect_with(options)
                    .await
                    .map_err(opening)?;
                migrate(Backend::Postgres(pool), &store).await?
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                url: url.clone(),
                backend,
                health: Health::default(),
                recycle_until,
                write_gate: tokio::sync::Mutex::new(()),
                errors: prometheus_client::metrics::counter::Counter::default(),
            }),
        })
    }

    /// Closes the pool: every later query fails. For tests of an unreachable store.
    #[doc(hidden)]
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// Where the store is.
    pub fn url(&self) -> &StoreUrl {
        &self.inner.url
    }

    /// The count of failed store calls (shared: the metrics read the same counter).
    pub fn error_counter(&self) -> prometheus_client::metrics::counter::Counter {
        self.inner.errors.clone()
    }

    /// Whether the store is failing now.
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// Runs a store call and notes its result in [`Store::health`].
    async fn tracked<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let health = &self.inner.health;
        if health.is_open() {
            // Known down: fail now, not after the acquire timeout; the probe closes it.
            self.inner.errors.inc();
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        let r = call.await;
        match &r {
            Ok(_) => health.ok(),
            Err(e @ StoreError::Unavailable(source)) => {
                self.inner.errors.inc();
                health.failed(e);
                if is_read_only(source) {
                    self.inner
                        .recycle_until
                        .store(crate::clock::now_ms() + RECYCLE_FOR_MS, Ordering::Relaxed);
                }
                if unreachable(source) {
                    self.open_circuit();
                }
            }
            Err(_) => {}
        }
        r
    }

    /// Opens the circuit and starts the probe (one at a time), which closes it once a
    /// `SELECT 1` answers.
    fn open_circuit(&self) {
        let health = &self.inner.health;
        health.open.store(true, Ordering::Release);
        if health.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let answered =
                    on_pool!(store, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok());
                if answered {
                    let health = &store.inner.health;
                    health.open.store(false, Ordering::Release);
                    health.probing.store(false, Ordering::Release);
                    health.ok();
                    return;
                }
            }
        });
    }

    /// One round trip (`SELECT 1`), for readiness.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query("SELECT 1").execute(pool).await?;
            });
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod url_tests {
    use crate::store::redact;

    #[test]
    fn a_password_is_hidden_wherever_libpq_takes_it() {
        for (url, shown) in [
            ("postgres://u:s3cret@h/db", "postgres://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h:5432/db", "postgres://h:5432/db"),
            (
                "postgres://u@h/db?sslmode=verify-full&password=s3cret&x=1",
                "postgres://u@h/db?sslmode=verify-full&password=***&x=1",
            ),
            (
                "postgresql://u:a@b@h?PASSWORD=s3cret",
                "postgresql://u:***@h?password=***",
            ),
        ] {
            assert_eq!(redact(url), shown);
        }
    }
}
