//! PostgreSQL's change notifications: the account trigger sends `NOTIFY auth_accounts`, and a
//! listener wakes the feed's follower at once instead of at its next poll. SQLite has none;
//! the follower's poll is all it needs.

use std::time::Duration;

use super::{Backend, Store};

/// The channel the account trigger notifies.
const CHANNEL: &str = "auth_accounts";

impl Store {
    /// On PostgreSQL, starts a task that `LISTEN`s for account changes and calls `wake` on each
    /// notification. A lost connection is made again a second later, and `wake` is called
    /// after each attempt that fails (while the database is down, the poll covers the gap).
    /// The task ends when `wake` returns `false` (nobody is following any more). Does nothing
    /// on SQLite (`wake` is dropped uncalled). Call inside a tokio runtime.
    pub fn on_change(&self, wake: impl Fn() -> bool + Send + 'static) {
        if let Backend::Postgres(pool) = &self.inner.backend {
            tokio::spawn(listen(pool.clone(), wake));
        }
    }
}

async fn listen(pool: sqlx::PgPool, wake: impl Fn() -> bool) {
    let mut logged = false;
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                if !logged {
                    logged = true;
                    tracing::warn!(error = %e, "cannot LISTEN for account changes; polling only");
                }
                if !wake() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // `Ok(None)`: the connection was lost; notifications in the gap are covered by the
        // poll, which the wake starts now.
        while let Ok(_notification) = listener.try_recv().await {
            if !wake() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
