//! The login-failure counters every instance shares (see [`crate::throttle`]).

use sqlx::Row as _;

use super::{Backend, Store, StoreError};

impl Store {
    /// Drops the counters whose last failure is more than `older_than_ms` before the store's
    /// clock.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn prune_failures(&self, older_than_ms: i64) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM login_failures WHERE last_failure < {} - $1",
            now_ms_sql(&self.inner.backend)
        );
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query(&sql).bind(older_than_ms).execute(pool).await?;
            });
            Ok(())
        })
        .await
    }

    /// The shared failure counters for `keys`, `(failures, last failure in Unix ms)` each or
    /// `None` for a key with no row, and the store's clock in Unix ms, read in the same
    /// statement: every instance stamps and reads the counters by that one clock.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn failures(
        &self,
        keys: [&str; 2],
    ) -> Result<([Option<(i64, i64)>; 2], i64), StoreError> {
        let sql = format!(
            "WITH k(n, key) AS (VALUES (0, CAST($1 AS TEXT)), (1, CAST($2 AS TEXT))) \
             SELECT f.failures, f.last_failure, {} FROM k \
             LEFT JOIN login_failures f ON f.key = k.key ORDER BY k.n",
            now_ms_sql(&self.inner.backend)
        );
        self.tracked(async {
            let rows: Vec<(Option<i64>, Option<i64>, i64)> = on_pool!(self, pool => sqlx::query(&sql)
            .bind(keys[0])
            .bind(keys[1])
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?);
            let row = |i: usize| {
                rows.get(i)
                    .and_then(|r| Some((r.0?, r.1?)))
            };
            let now = rows.first().map_or(0, |r| r.2);
            Ok(([row(0), row(1)], now))
        })
        .await
    }

    /// Counts one failure on each key, stamped with the store's clock; a counter whose last
    /// failure is more than `window_ms` before it starts again from one. The write runs in a
    /// task of its own, so it completes even when the caller is dropped (a client that hangs up
    /// still counts).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn record_failure(&self, keys: &[&str], window_ms: i64) -> Result<(), StoreError> {
        let store = self.clone();
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let task = tokio::spawn(async move { store.write_failures(&keys, window_ms).await });
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
    async fn write_failures(&self, keys: &[String], window_ms: i64) -> Result<(), StoreError> {
        let sql = upsert_sql(&self.inner.backend, keys.len());
        // A macro, not a closure: each engine's arm needs its own query type.
        macro_rules! query {
            () => {
                keys.iter()
                    .fold(sqlx::query(&sql).bind(window_ms), |q, k| q.bind(k.as_str()))
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

/// The store's clock in Unix milliseconds, as SQL. The shared counters are stamped and read
/// by it alone, so instances whose clocks disagree still agree on every lock-out (an instance
/// whose clock lagged once read the others' fresh failures as long past, and an attacker's
/// guesses through it as no lock-out on the rest).
fn now_ms_sql(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Backend::Postgres(_) => {
            "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)"
        }
    }
}

/// The upsert of `n` counters: the keys are `$2`, `$3`, …; `$1` is the window after which a
/// counter starts again. On PostgreSQL the same statement turns `synchronous_commit` off for
/// its own transaction.
fn upsert_sql(backend: &Backend, n: usize) -> String {
    let now = now_ms_sql(backend);
    let slots = (0..n).map(|i| format!("${}", i + 2));
    let rows = match backend {
        Backend::Sqlite(_) => format!(
            "VALUES {}",
            slots
                .map(|k| format!("({k}, 1, {now})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Backend::Postgres(_) => format!(
            "SELECT k, 1, {now} FROM (VALUES {}) AS v(k), \
             (SELECT set_config('synchronous_commit', 'off', true)) AS s",
            slots
                .map(|k| format!("({k}::text)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "INSERT INTO login_failures (key, failures, last_failure) {rows} \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_failures.last_failure < {now} - $1 THEN 1 \
                         ELSE login_failures.failures + 1 END, \
         last_failure = excluded.last_failure"
    )
}
