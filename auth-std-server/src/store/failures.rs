//! The login-failure counters every instance shares (see [`crate::throttle`]).

use sqlx::Row as _;

use super::{Backend, Store, StoreError};

impl Store {
    /// Drops the counters whose last failure is older than `before_ms` (Unix milliseconds).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn prune_failures(&self, before_ms: i64) -> Result<(), StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query("DELETE FROM login_failures WHERE last_failure < $1")
                    .bind(before_ms)
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
        let sql = upsert_sql(&self.inner.backend, keys.len());
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

/// The upsert of `n` counters: the keys are `$3`, `$4`, …; `$1` is now, `$2` the forgetting
/// horizon. On PostgreSQL the same statement turns `synchronous_commit` off for its own
/// transaction.
fn upsert_sql(backend: &Backend, n: usize) -> String {
    let slots = (0..n).map(|i| format!("${}", i + 3));
    let rows = match backend {
        Backend::Sqlite(_) => format!(
            "VALUES {}",
            slots
                .map(|k| format!("({k}, 1, $1)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Backend::Postgres(_) => format!(
            "SELECT k, 1, $1 FROM (VALUES {}) AS v(k), \
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
         failures = CASE WHEN login_failures.last_failure < $2 THEN 1 \
                         ELSE login_failures.failures + 1 END, \
         last_failure = $1"
    )
}
