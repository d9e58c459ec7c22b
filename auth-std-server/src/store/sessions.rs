//! Sessions in the store (#13): one row per login with the hash of its current refresh token,
//! the hashes it rotated out, and the revocation feed the instances follow. The decisions are
//! auth-core's ([`auth_core::session`]); this moves rows.

use auth_core::session::{SessionAccount, TokenHash};
use sqlx::Row as _;

use super::{Backend, Store, StoreError, secs};

/// A session to store at login.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// The id, as access tokens carry it.
    pub id: &'a str,
    /// The account.
    pub account: &'a str,
    /// The hash of its first refresh token.
    pub hash: &'a TokenHash,
    /// The scope granted.
    pub scope: &'a str,
    /// The login time, Unix seconds.
    pub now: u64,
    /// The login time, Unix milliseconds: orders an account's sessions for eviction.
    pub now_ms: i64,
    /// Where the login came from.
    pub address: &'a str,
    /// The client's `User-Agent`, shortened.
    pub user_agent: &'a str,
    /// The account as its password was verified: the session is stored only if the account
    /// is still active with this password time and credential epoch (round 3 item 2).
    pub verified: Verified,
}

/// What a login verified of its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The account's `password_changed_at` when it was read.
    pub password_changed_at: i64,
    /// Its credential epoch when it was read.
    pub credential_epoch: i64,
}

/// What the store has for a presented refresh token's hash.
#[derive(Debug, Clone)]
pub struct FoundSession {
    /// The session id.
    pub id: String,
    /// Its account.
    pub account: String,
    /// The hash of its current refresh token.
    pub current: TokenHash,
    /// The scope granted at login.
    pub scope: String,
    /// When it started.
    pub created: u64,
    /// Its last login or refresh.
    pub last_used: u64,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When the presented token was rotated out, if it is an earlier one.
    pub rotated_at: Option<u64>,
    /// The credential epoch the session was made under: auth-core's decision refuses the
    /// session once the account's differs, after a password change or a disable, even in the
    /// login's own second (round 3 item 2).
    pub credential_epoch: u64,
    /// The account now, with its credential epoch; `None` if it is gone.
    pub account_state: Option<SessionAccount>,
    /// The scopes the account may be granted now (#24): a refresh drops the others.
    pub account_scopes: String,
}

/// A live session, as `session list` shows it: never a token or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The id.
    pub id: String,
    /// When it started, Unix seconds.
    pub created: u64,
    /// Its last login or refresh, Unix seconds.
    pub last_used: u64,
    /// The address of its last login or refresh.
    pub address: String,
    /// The `User-Agent` at login.
    pub user_agent: String,
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its position.
    pub seq: i64,
    /// The revoked session.
    pub sid: String,
    /// When, Unix seconds.
    pub at: u64,
    /// Its account (empty for revocations written before round 3).
    pub account: String,
}

/// On PostgreSQL, a session write waits at most 3 s for a lock another transaction holds, as
/// SQLite's busy timeout bounds it there: the login or refresh then answers 503, instead of
/// hanging until the request timeout.
const PG_LOCK_TIMEOUT: &str = "SELECT set_config('lock_timeout', '3s', true)";

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const FOUND_COLUMNS: &str = "s.id, s.account, s.token_hash, s.scope, s.created_at, \
     s.last_used_at, s.revoked_at, a.active, a.password_changed_at, s.credential_epoch, \
     a.credential_epoch, a.scopes";

/// A [`FoundSession`] from a row of [`FOUND_COLUMNS`]. A macro, not a function: each engine's
/// row is its own type.
macro_rules! found_from {
    ($r:expr, $rotated_at:expr) => {{
        let r = $r;
        let hash: Vec<u8> = r.try_get(2)?;
        let active: Option<bool> = r.try_get(7)?;
        let changed: Option<i64> = r.try_get(8)?;
        let account_epoch: Option<i64> = r.try_get(10)?;
        FoundSession {
            id: r.try_get(0)?,
            account: r.try_get(1)?,
            current: TokenHash::from_slice(&hash)
                .ok_or_else(|| sqlx::Error::Decode("token_hash is not 32 bytes".into()))?,
            scope: r.try_get(3)?,
            created: unsigned(r.try_get(4)?),
            last_used: unsigned(r.try_get(5)?),
            revoked: r.try_get::<Option<i64>, _>(6)?.is_some(),
            rotated_at: $rotated_at.map(unsigned),
            credential_epoch: r.try_get::<i64, _>(9)?.cast_unsigned(),
            account_state: active.map(|active| SessionAccount {
                active,
                password_changed: unsigned(changed.unwrap_or(0)),
                credential_epoch: account_epoch.unwrap_or(0).cast_unsigned(),
            }),
            account_scopes: r.try_get::<Option<String>, _>(11)?.unwrap_or_default(),
        }
    }};
}

/// A login's session, inserted only if the account is active and its credentials are the ones
/// the password was verified against (round 3 item 2).
const INSERT_SESSION: &str = "INSERT INTO sessions (id, account, token_hash, scope, created_at, \
     created_ms, last_used_at, address, user_agent, credential_epoch) \
     SELECT $1, name, $3, $4, $5, $8, $5, $6, $7, credential_epoch \
     FROM accounts WHERE name = $2 AND active \
     AND password_changed_at = $9 AND credential_epoch = $10";

/// Revokes account `$1`'s live sessions beyond the newest `$2`, other than `$4`, at `$3`.
const EVICT_SESSIONS: &str = "UPDATE sessions SET revoked_at = $3 WHERE id IN (\
     SELECT id FROM sessions WHERE account = $1 AND revoked_at IS NULL \
     AND id <> $4 \
     ORDER BY created_ms DESC, id DESC LIMIT 1000000 OFFSET $2) RETURNING id";

impl Store {
    /// On SQLite, this process's turn to write (see `Inner::write_gate`), waited for at most as
    /// long as SQLite's own busy timeout: a writer outside this process holding the lock makes
    /// every queued write fail within that time (503), not one after the other. Nothing on
    /// PostgreSQL, whose writers do not block each other on different rows.
    async fn write_turn(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, StoreError> {
        match self.inner.backend {
            Backend::Sqlite(_) => {
                match tokio::time::timeout(super::SQLITE_BUSY, self.inner.write_gate.lock()).await {
                    Ok(turn) => Ok(Some(turn)),
                    Err(_) => {
                        let e = StoreError::Unavailable(sqlx::Error::PoolTimedOut);
                        self.inner.health.failed(&e);
                        Err(e)
                    }
                }
            }
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// Stores a new session and revokes the account's oldest live sessions beyond `max`, in
    /// one transaction, only if the account is still as `s.verified` says (active, same
    /// password time and credential epoch): a login whose password was verified against a
    /// hash that `user passwd` or `user disable` has since replaced stores nothing (round 3
    /// item 2). Returns the ids it revoked.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`] if the account is gone or changed since it was verified, or
    /// [`StoreError::Unavailable`].
    pub async fn create_session(
        &self,
        s: &NewSession<'_>,
        max: u32,
    ) -> Result<Vec<String>, StoreError> {
        let sqlite = self.is_sqlite();
        let _turn = self.write_turn().await?;
        self.tracked(async {
            on_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                if !sqlite {
                    sqlx::query(PG_LOCK_TIMEOUT).execute(&mut *tx).await?;
                }
                let inserted = sqlx::query(INSERT_SESSION)
                .bind(s.id)
                .bind(s.account)
                .bind(&s.hash.as_bytes()[..])
                .bind(s.scope)
                .bind(secs(s.now))
                .bind(s.address)
                .bind(s.user_agent)
                .bind(s.now_ms)
                .bind(s.verified.password_changed_at)
                .bind(s.verified.credential_epoch)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err(StoreError::NoSuchUser(s.account.to_owned()));
                }
                // The new session always stays; of the others, the newest `max - 1` do.
                let evicted: Vec<String> = sqlx::query(EVICT_SESSIONS)
                .bind(s.account)
                .bind(i64::from(max.saturating_sub(1)))
                .bind(secs(s.now))
                .bind(s.id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
                tx.commit().await?;
                Ok(evicted)
            })
        })
        .await
    }

    /// The session a refresh token's hash belongs to, as its current token or as one it
    /// rotated out, with its account's state now.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn find_session(&self, hash: &TokenHash) -> Result<Option<FoundSession>, StoreError> {
        let current = format!(
            "SELECT {FOUND_COLUMNS} FROM sessions s LEFT JOIN accounts a ON a.name = s.account \
             WHERE s.token_hash = $1"
        );
        let rotated = format!(
            "SELECT {FOUND_COLUMNS}, r.rotated_at FROM rotated_tokens r \
             JOIN sessions s ON s.id = r.session_id \
             LEFT JOIN accounts a ON a.name = s.account WHERE r.token_hash = $1"
        );
        self.tracked(async {
            on_pool!(self, pool => {
                if let Some(r) = sqlx::query(&current)
                    .bind(&hash.as_bytes()[..])
                    .fetch_optional(pool)
                    .await?
                {
                    return Ok(Some(found_from!(&r, None::<i64>)));
                }
                match sqlx::query(&rotated)
                    .bind(&hash.as_bytes()[..])
                    .fetch_optional(pool)
                    .await?
                {
                    Some(r) => {
                        let at: i64 = r.try_get(12)?;
                        Ok(Some(found_from!(&r, Some(at))))
                    }
                    None => Ok(None),
                }
            })
        })
        .await
    }

    /// Rotates a session's refresh token from `old` to `new`, only if `old` is still its
    /// current one and it is not revoked; a trigger keeps `old` as rotated out, for reuse
    /// detection, in the same statement. `false` when another refresh won (or the session was
    /// revoked) meanwhile. One statement: on SQLite it commits alone; on PostgreSQL it runs in a
    /// transaction that bounds its lock wait.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn rotate(
        &self,
        id: &str,
        old: &TokenHash,
        new: &TokenHash,
        now: u64,
        address: &str,
        scope: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE sessions SET token_hash = $3, last_used_at = $4, address = $5, \
             generation = generation + 1, scope = $6 \
             WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL";
        let _turn = self.write_turn().await?;
        self.tracked(async {
            macro_rules! update {
                () => {
                    sqlx::query(SQL)
                        .bind(id)
                        .bind(&old.as_bytes()[..])
                        .bind(&new.as_bytes()[..])
                        .bind(secs(now))
                        .bind(address)
                        .bind(scope)
                };
            }
            let n = match &self.inner.backend {
                Backend::Sqlite(pool) => update!().execute(pool).await?.rows_affected(),
                Backend::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(PG_LOCK_TIMEOUT).execute(&mut *tx).await?;
                    let n = update!().execute(&mut *tx).await?.rows_affected();
                    tx.commit().await?;
                    n
                }
            };
            Ok(n == 1)
        })
        .await
    }

    /// Revokes one session (of `account`, when given). `true` if it was live.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn revoke_session(
        &self,
        id: &str,
        account: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await?;
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                 AND ($3 IS NULL OR account = $3)",
            )
            .bind(id)
            .bind(secs(now))
            .bind(account)
            .execute(pool)
            .await?
            .rows_affected())
                == 1)
        })
        .await
    }

    /// Revokes every live session of `account` ("log out everywhere"); returns their ids.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn revoke_sessions_of(
        &self,
        account: &str,
        now: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE account = $1 AND revoked_at IS NULL \
                 RETURNING id",
            )
            .bind(account)
            .bind(secs(now))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<String>, _>>()?))
        })
        .await
    }

    /// The live sessions of `account`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn sessions_of(&self, account: &str) -> Result<Vec<SessionInfo>, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT id, created_at, last_used_at, address, user_agent FROM sessions \
                 WHERE account = $1 AND revoked_at IS NULL ORDER BY created_ms, id",
            )
            .bind(account)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.try_get(0)?,
                    created: unsigned(r.try_get(1)?),
                    last_used: unsigned(r.try_get(2)?),
                    address: r.try_get(3)?,
                    user_agent: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?))
        })
        .await
    }

    /// Revocations made at or after `since` (Unix seconds), oldest first: what a starting
    /// instance must know, since their access tokens may still be unexpired.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn revocations_since(&self, since: u64) -> Result<Vec<Revocation>, StoreError> {
        self.revocations_where("at >= $1 ORDER BY seq", secs(since), 0)
            .await
    }

    /// Revocations after position `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn revocations(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        self.revocations_where("seq > $1 ORDER BY seq LIMIT $2", after, i64::from(limit))
            .await
    }

    /// Revocations at positions `lo..=hi` (at most 10,000).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn revocations_between(
        &self,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        self.revocations_where("seq >= $1 AND seq <= $2 ORDER BY seq LIMIT 10000", lo, hi)
            .await
    }

    /// The newest revocation's position (0 for none).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn last_revocation(&self) -> Result<i64, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT COALESCE(MAX(seq), 0) FROM session_revocations",
            )
            .fetch_one(pool)
            .await?
            .try_get::<i64, _>(0)?))
        })
        .await
    }

    async fn revocations_where(
        &self,
        condition: &str,
        a: i64,
        b: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        let sql = format!(
            "SELECT seq, session_id, at, account FROM session_revocations WHERE {condition}"
        );
        // PostgreSQL wants every bound parameter used; `$2` is bound only when the text has it.
        let two = condition.contains("$2");
        self.tracked(async {
            Ok(on_pool!(self, pool => {
                let q = sqlx::query(&sql).bind(a);
                let q = if two { q.bind(b) } else { q };
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(Revocation {
                            seq: r.try_get(0)?,
                            sid: r.try_get(1)?,
                            at: unsigned(r.try_get(2)?),
                            account: r.try_get(3)?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }))
        })
        .await
    }

    /// Deletes sessions past their lifetime or idle timeout, revoked ones whose access tokens
    /// have all expired (revoked before `revoked_before`), and revocation-feed rows from
    /// before `revoked_before`. Their rotated-out hashes go with them.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn sweep_sessions(
        &self,
        created_before: u64,
        used_before: u64,
        revoked_before: u64,
    ) -> Result<u64, StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                let n = sqlx::query(
                    "DELETE FROM sessions WHERE created_at < $1 OR last_used_at < $2 \
                     OR revoked_at < $3",
                )
                .bind(secs(created_before))
                .bind(secs(used_before))
                .bind(secs(revoked_before))
                .execute(pool)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM session_revocations WHERE at < $1")
                    .bind(secs(revoked_before))
                    .execute(pool)
                    .await?;
                Ok(n)
            })
        })
        .await
    }

    /// Whether session `id` is live: `Some(false)` when revoked, `None` when the store has no
    /// such session (swept, or never made). For tokens the in-memory set can no longer vouch
    /// for (see [`crate::revoked::RevokedSessions`]).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn session_live(&self, id: &str) -> Result<Option<bool>, StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => sqlx::query(
                "SELECT revoked_at IS NULL FROM sessions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<bool, _>(0))
            .transpose()?))
        })
        .await
    }

    /// Rows the store keeps for `account`'s sessions: sessions and rotated-out hashes. For
    /// tests of the per-account bound (round 3 item 5).
    #[doc(hidden)]
    pub async fn session_rows_of(&self, account: &str) -> Result<(i64, i64), StoreError> {
        self.tracked(async {
            Ok(on_pool!(self, pool => {
                let s: i64 = sqlx::query("SELECT count(*) FROM sessions WHERE account = $1")
                    .bind(account)
                    .fetch_one(pool)
                    .await?
                    .try_get(0)?;
                let r: i64 = sqlx::query(
                    "SELECT count(*) FROM rotated_tokens r JOIN sessions s \
                     ON s.id = r.session_id WHERE s.account = $1",
                )
                .bind(account)
                .fetch_one(pool)
                .await?
                .try_get(0)?;
                (s, r)
            }))
        })
        .await
    }

    /// Whether this is SQLite, for tests that need to know.
    #[doc(hidden)]
    pub fn is_sqlite(&self) -> bool {
        matches!(self.inner.backend, Backend::Sqlite(_))
    }
}
