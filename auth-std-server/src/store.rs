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
//! auth_accounts`. [`crate::accounts::AccountCache`] follows that feed, so protected requests
//! are answered from memory.
//!
//! Errors at run time are [`StoreError::Unavailable`]: the handlers answer 503 with a JSON
//! `detail` and `Retry-After`, and log the incident once ([`Health`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::StoredHashError;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{Row as _, migrate::Migrator};

use crate::users::User;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Accounts per statement when importing (6 parameters each: within both engines' limits).
const IMPORT_BATCH: usize = 500;

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

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
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

mod sessions;
pub use sessions::{FoundSession, NewSession, Revocation, SessionInfo, Verified};

/// Whether the store is failing now, so that an outage is logged once, not per request.
#[derive(Debug, Default)]
pub struct Health {
    failing: AtomicBool,
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
}

#[derive(Debug)]
struct Inner {
    url: StoreUrl,
    backend: Backend,
    health: Health,
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

/// One account row.
#[derive(Debug, Clone)]
pub struct AccountRow {
    /// The account's hash and status.
    pub user: User,
    /// When the password was last set (Unix seconds).
    pub password_changed_at: i64,
    /// Bumped by every password change and disable: a login stores its session only if it
    /// is still the one its password was verified against (round 3 item 2).
    pub credential_epoch: i64,
}

/// One change from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its position.
    pub seq: i64,
    /// The account that changed.
    pub name: String,
}

/// Seconds since the Unix epoch, as the store keeps them.
fn secs(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}

fn user_from(name: &str, hash: &str, active: bool) -> Result<User, StoreError> {
    User::new(hash, active).map_err(|source| StoreError::BadRow {
        name: name.to_owned(),
        source,
    })
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

/// Revokes every live session of account `$1` at `$2`: with a password change or a disable
/// (in its transaction), and before a removal (round 3 item 6).
const REVOKE_ACCOUNT_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE account = $1 AND revoked_at IS NULL";

/// An update or delete of `name` that touched no row names no account.
fn one_row(rows: u64, name: &str) -> Result<(), StoreError> {
    match rows {
        0 => Err(StoreError::NoSuchUser(name.to_owned())),
        _ => Ok(()),
    }
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

impl Store {
    /// Opens the store and brings its schema up to date. A missing SQLite file is created
    /// (mode 0600, in WAL mode); an existing one that is not a database is an error, never
    /// re-created.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::Corrupt`] or [`StoreError::Migrate`].
    pub async fn open(url: &StoreUrl, limits: PoolLimits) -> Result<Store, StoreError> {
        let store = url.to_string();
        let opening = |source| StoreError::Open {
            store: store.clone(),
            source,
        };
        let migrating = |source| StoreError::Migrate {
            store: store.clone(),
            source,
        };
        let backend = match url {
            StoreUrl::Sqlite(path) => {
                let open_err = |e: std::io::Error| opening(sqlx::Error::Io(e));
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                    && !dir.exists()
                {
                    let mut b = std::fs::DirBuilder::new();
                    b.recursive(true);
                    #[cfg(unix)]
                    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                    b.create(dir).map_err(open_err)?;
                }
                if !path.exists() {
                    // Created empty and private before SQLite opens it: SQLite gives its -wal
                    // and -shm files the database file's mode.
                    crate::fs::create_private(path, b"").map_err(open_err)?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(false)
                    .journal_mode(SqliteJournalMode::Wal)
                    // Every commit is on disk before it is acknowledged: kill -9 or a power cut
                    // loses nothing that was answered as done.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY)
                    .foreign_keys(true);
                let pool = pool_options::<sqlx::Sqlite>(limits)
                    .connect_with(options)
                    .await
                    .map_err(|source| {
                        if is_corrupt(&source) {
                            StoreError::Corrupt {
                                path: path.clone(),
                                source,
                            }
                        } else {
                            opening(source)
                        }
                    })?;
                // A damaged file can open and fail only when read: check it now.
                sqlx::query("SELECT count(*) FROM sqlite_master")
                    .fetch_one(&pool)
                    .await
                    .map_err(|source| StoreError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                if let Err(e) = SQLITE_MIGRATIONS.run(&pool).await {
                    return Err(case_variants(&Backend::Sqlite(pool), &store)
                        .await
                        .unwrap_or_else(|| migrating(e)));
                }
                Backend::Sqlite(pool)
            }
            StoreUrl::Postgres(text) => {
                let options = PgConnectOptions::from_str(text).map_err(opening)?;
                let pool = pool_options::<sqlx::Postgres>(limits)
                    .connect_with(options)
                    .await
                    .map_err(opening)?;
                if let Err(e) = POSTGRES_MIGRATIONS.run(&pool).await {
                    return Err(case_variants(&Backend::Postgres(pool), &store)
                        .await
                        .unwrap_or_else(|| migrating(e)));
                }
                Backend::Postgres(pool)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                url: url.clone(),
                backend,
                health: Health::default(),
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

    /// The PostgreSQL pool, for LISTEN.
    pub(crate) fn postgres(&self) -> Option<&PgPool> {
        match &self.inner.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }

    /// Runs a store call and notes its result in [`Store::health`].
    async fn tracked<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let r = call.await;
        match &r {
            Ok(_) => self.inner.health.ok(),
            Err(e @ StoreError::Unavailable(_)) => {
                self.inner.errors.inc();
                self.inner.health.failed(e);
            }
            Err(_) => {}
        }
        r
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

    /// One account.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], or [`StoreError::BadRow`] for a hash that does not parse.
    pub async fn account(&self, name: &str) -> Result<Option<AccountRow>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.tracked(async {
            let row = on_pool!(self, pool => sqlx::query(
                "SELECT hash, active, password_changed_at, credential_epoch FROM accounts \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<bool, _>(1)?,
                    r.try_get::<i64, _>(2)?,
                    r.try_get::<i64, _>(3)?,
                ))
            })
            .transpose()?);
            let Some((hash, active, password_changed_at, credential_epoch)) = row else {
                return Ok(None);
            };
            Ok(Some(AccountRow {
                user: user_from(name, &hash, active)?,
                password_changed_at,
                credential_epoch,
            }))
        })
        .await
    }

    /// Whether the account exists and is active, and when it was created (Unix seconds),
    /// without parsing its hash.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn status(&self, name: &str) -> Result<Option<(bool, u64)>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT active, created_at FROM accounts WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get::<bool, _>(0)?, u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0)))
            })
            .transpose()?))
        })
        .await
    }

    /// Adds an account.
    ///
    /// # Errors
    /// [`StoreError::Exists`], or [`StoreError::Unavailable`].
    pub async fn add(&self, name: &str, user: &User, now: u64) -> Result<(), StoreError> {
        if !self.insert(name, user, now).await? {
            let other = self.name_like(name).await?.filter(|o| o != name);
            return Err(StoreError::Exists(name.to_owned(), other));
        }
        Ok(())
    }

    /// The account whose name is `name` regardless of case, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn name_like(&self, name: &str) -> Result<Option<String>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT name FROM accounts WHERE lower(name) = lower($1)",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?))
        })
        .await
    }

    /// Adds an account unless one of that name exists; `true` when added.
    async fn insert(&self, name: &str, user: &User, now: u64) -> Result<bool, StoreError> {
        self.insert_with(
            "INSERT INTO accounts (name, active, hash, created_at, updated_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $4, $4) ON CONFLICT DO NOTHING",
            name,
            user,
            now,
        )
        .await
    }

    /// Adds `name` only when the store holds no account at all (the first run); `true` when
    /// added. Safe when several instances start at once: one of them adds it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn add_first(&self, name: &str, user: &User, now: u64) -> Result<bool, StoreError> {
        self.insert_with(
            "INSERT INTO accounts (name, active, hash, created_at, updated_at, password_changed_at) \
             SELECT $1, $2, $3, $4, $4, $4 WHERE NOT EXISTS (SELECT 1 FROM accounts) \
             ON CONFLICT DO NOTHING",
            name,
            user,
            now,
        )
        .await
    }

    /// Runs an insert of one account whose parameters are name, active, hash and time.
    async fn insert_with(
        &self,
        sql: &'static str,
        name: &str,
        user: &User,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.tracked(async {
            let done = on_pool!(self, pool => sqlx::query(sql)
                .bind(name)
                .bind(user.active())
                .bind(user.hash())
                .bind(secs(now))
                .execute(pool)
                .await?
                .rows_affected());
            Ok(done == 1)
        })
        .await
    }

    /// Enables or disables an account. Disabling revokes all its sessions in the same
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`], or [`StoreError::Unavailable`].
    pub async fn set_active(&self, name: &str, active: bool, now: u64) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        self.update_account(
            "UPDATE accounts SET active = $2, updated_at = $3, \
             credential_epoch = credential_epoch + 1 WHERE name = $1",
            name,
            Some(active),
            None,
            !active,
            now,
        )
        .await
    }

    /// Sets a new password hash: a password change (its time is recorded), which revokes all
    /// the account's sessions in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`], or [`StoreError::Unavailable`].
    pub async fn set_password(&self, name: &str, user: &User, now: u64) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        self.update_account(
            "UPDATE accounts SET hash = $2, updated_at = $3, password_changed_at = $3, \
             credential_epoch = credential_epoch + 1 WHERE name = $1",
            name,
            None,
            Some(user.hash()),
            true,
            now,
        )
        .await
    }

    /// One account update (`$1` name, `$2` the flag or the hash, `$3` now), and, when
    /// `revoke`, the revocation of the account's sessions, in one transaction.
    async fn update_account(
        &self,
        sql: &str,
        name: &str,
        flag: Option<bool>,
        hash: Option<&str>,
        revoke: bool,
        now: u64,
    ) -> Result<(), StoreError> {
        let r = self
            .tracked(async {
                on_pool!(self, pool => {
                    let mut tx = pool.begin().await?;
                    let q = sqlx::query(sql).bind(name);
                    let q = match (flag, hash) {
                        (Some(f), _) => q.bind(f),
                        (None, h) => q.bind(h),
                    };
                    let n = q.bind(secs(now)).execute(&mut *tx).await?.rows_affected();
                    if revoke && n > 0 {
                        sqlx::query(REVOKE_ACCOUNT_SESSIONS)
                        .bind(name)
                        .bind(secs(now))
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(n)
                })
            })
            .await;
        one_row(r?, name)
    }

    /// Replaces the stored hash with one of the same password at the current policy, only if
    /// it is still `old` (a concurrent password change wins). Not a password change. `true`
    /// when replaced.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn rehash(
        &self,
        name: &str,
        old: &str,
        new: &User,
        now: u64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .tracked(async {
                Ok(on_pool!(self, pool => sqlx::query(
                "UPDATE accounts SET hash = $3, updated_at = $4 WHERE name = $1 AND hash = $2",
            )
            .bind(name)
            .bind(old)
            .bind(new.hash())
            .bind(secs(now))
            .execute(pool)
            .await?
            .rows_affected()))
            })
            .await?
            == 1)
    }

    /// Removes an account, revoking its sessions first in the same transaction: the
    /// revocation feed then names them, so an access token of the old account stays refused
    /// even if the name is added again (round 3 item 6: the cascade delete wrote no
    /// revocation, and a re-added name revived the old tokens).
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`], or [`StoreError::Unavailable`].
    pub async fn remove(&self, name: &str, now: u64) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        let r = self
            .tracked(async {
                on_pool!(self, pool => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(REVOKE_ACCOUNT_SESSIONS)
                    .bind(name)
                    .bind(secs(now))
                    .execute(&mut *tx)
                    .await?;
                    let n = sqlx::query("DELETE FROM accounts WHERE name = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    Ok(n)
                })
            })
            .await;
        one_row(r?, name)
    }

    /// How many accounts there are.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.tracked(async {
            let n: i64 = on_pool!(self, pool => sqlx::query("SELECT count(*) FROM accounts")
                .fetch_one(pool)
                .await?
                .try_get(0)?);
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Up to `limit` accounts after `after` (by name), for listing and export a page at a time.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], or [`StoreError::BadRow`].
    pub async fn page(&self, after: &str, limit: u32) -> Result<Vec<(String, User)>, StoreError> {
        self.tracked(async {
            let rows = on_pool!(self, pool => sqlx::query(
                "SELECT name, hash, active FROM accounts WHERE name > $1 ORDER BY name LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<bool, _>(2)?))
            })
            .collect::<Result<Vec<_>, _>>()?);
            rows.into_iter()
                .map(|(name, hash, active)| {
                    let user = user_from(&name, &hash, active)?;
                    Ok((name, user))
                })
                .collect()
        })
        .await
    }

    /// Adds accounts in one transaction, skipping names that exist; returns how many were
    /// added. Re-running an import adds nothing twice.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; nothing is added then.
    pub async fn import(&self, users: &[(String, User)], now: u64) -> Result<u64, StoreError> {
        self.tracked(async {
            let added = on_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                let mut added = 0u64;
                // Multi-row inserts: a million accounts are 2,000 statements, not a million
                // round trips.
                for chunk in users.chunks(IMPORT_BATCH) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO accounts \
                         (name, active, hash, created_at, updated_at, password_changed_at) ",
                    );
                    q.push_values(chunk, |mut row, (name, user)| {
                        row.push_bind(name)
                            .push_bind(user.active())
                            .push_bind(user.hash())
                            .push_bind(secs(now))
                            .push_bind(secs(now))
                            .push_bind(secs(now));
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    added += q.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                added
            });
            Ok(added)
        })
        .await
    }

    /// The newest position in the change feed (0 when empty).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM account_changes")
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>(0)?))
        })
        .await
    }

    /// Changes after position `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn changes(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT seq, name FROM account_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok(Change { seq: r.try_get(0)?, name: r.try_get(1)? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?))
        })
        .await
    }

    /// Changes at positions `lo..=hi` (at most 10,000).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn changes_between(&self, lo: i64, hi: i64) -> Result<Vec<Change>, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT seq, name FROM account_changes WHERE seq >= $1 AND seq <= $2 \
                 ORDER BY seq LIMIT 10000",
            )
            .bind(lo)
            .bind(hi)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok(Change { seq: r.try_get(0)?, name: r.try_get(1)? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?))
        })
        .await
    }

    /// Drops change-feed rows older than `before` (Unix seconds) and login-failure counters
    /// whose last failure is older than `failures_before` (Unix milliseconds).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn prune(&self, before: u64, failures_before: i64) -> Result<(), StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query("DELETE FROM account_changes WHERE at < $1")
                    .bind(secs(before))
                    .execute(pool)
                    .await?;
                sqlx::query("DELETE FROM login_failures WHERE last_failure < $1")
                    .bind(failures_before)
                    .execute(pool)
                    .await?;
            });
            Ok(())
        })
        .await
    }

    /// The shared failure counters for `keys`: `(failures, last failure in Unix ms)` each,
    /// `None` for a key with no row.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn failures(&self, keys: [&str; 2]) -> Result<[Option<(i64, i64)>; 2], StoreError> {
        self.tracked(async {
            let rows: Vec<(String, i64, i64)> = on_pool!(self, pool => sqlx::query(
                "SELECT key, failures, last_failure FROM login_failures WHERE key = $1 OR key = $2",
            )
            .bind(keys[0])
            .bind(keys[1])
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?);
            let find = |k: &str| rows.iter().find(|r| r.0 == k).map(|r| (r.1, r.2));
            Ok([find(keys[0]), find(keys[1])])
        })
        .await
    }

    /// Counts one failure on each key at `now_ms`; a counter whose last failure is older than
    /// `forget_before_ms` starts again from one. The write runs in a task of its own, so it
    /// completes even when the caller is dropped (a client that hangs up still counts).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn record_failure(
        &self,
        keys: &[&str],
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<(), StoreError> {
        let store = self.clone();
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let task =
            tokio::spawn(
                async move { store.write_failures(&keys, now_ms, forget_before_ms).await },
            );
        match task.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other(e),
            ))),
        }
    }

    /// One upsert for every key. Counters are not accounts: their commit does not wait for the
    /// disk flush (on SQLite, synchronous=NORMAL for this statement: durable against a killed
    /// process, not a power cut; on PostgreSQL, synchronous_commit off for this statement's
    /// transaction, in the same round trip). A crash can lose the last moments of counts,
    /// never an account change.
    async fn write_failures(
        &self,
        keys: &[String],
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<(), StoreError> {
        // The keys are $3, $4, …; $1 is now, $2 the forgetting horizon.
        let slots: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 3)).collect();
        let rows = match &self.inner.backend {
            Backend::Sqlite(_) => format!(
                "VALUES {}",
                slots
                    .iter()
                    .map(|k| format!("({k}, 1, $1)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Backend::Postgres(_) => format!(
                "SELECT k, 1, $1 FROM (VALUES {}) AS v(k), \
                 (SELECT set_config('synchronous_commit', 'off', true)) AS s",
                slots
                    .iter()
                    .map(|k| format!("({k}::text)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let sql = format!(
            "INSERT INTO login_failures (key, failures, last_failure) {rows} \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure < $2 THEN 1 \
                             ELSE login_failures.failures + 1 END, \
             last_failure = $1"
        );
        // A macro, not a closure: each engine's arm needs its own query type.
        macro_rules! query {
            () => {
                keys.iter().fold(
                    sqlx::query(&sql).bind(now_ms).bind(forget_before_ms),
                    |q, k| q.bind(k.as_str()),
                )
            };
        }
        self.tracked(async {
            match &self.inner.backend {
                Backend::Sqlite(pool) => {
                    let mut conn = pool.acquire().await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    let r = query!().execute(&mut *conn).await;
                    // Back to FULL before the connection serves anything else; a connection
                    // that cannot be reset is closed rather than returned to the pool.
                    if sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await
                        .is_err()
                    {
                        let _ = conn.detach();
                    }
                    r?;
                }
                Backend::Postgres(pool) => {
                    query!().execute(pool).await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Forgets a counter (a successful login clears its username's).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query("DELETE FROM login_failures WHERE key = $1")
                    .bind(key)
                    .execute(pool)
                    .await?;
            });
            Ok(())
        })
        .await
    }
}
