//! Accounts and their change feed: every change to an account adds a row to `account_changes`
//! (a trigger), which [`crate::account_cache`] follows.

use sqlx::Row as _;

use super::{Backend, Store, StoreError, secs, storable};
use crate::users::User;

/// Accounts per statement when importing (6 parameters each: within both engines' limits).
const IMPORT_BATCH: usize = 500;

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
    /// The scopes the account may be granted, space-separated (#24).
    pub scopes: String,
}

/// One change from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its position.
    pub seq: i64,
    /// The account that changed.
    pub name: String,
}

fn user_from(name: &str, hash: &str, active: bool) -> Result<User, StoreError> {
    User::new(hash, active).map_err(|source| StoreError::BadRow {
        name: name.to_owned(),
        source,
    })
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

impl Store {
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
                "SELECT hash, active, password_changed_at, credential_epoch, scopes FROM accounts \
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
                    r.try_get::<String, _>(4)?,
                ))
            })
            .transpose()?);
            let Some((hash, active, password_changed_at, credential_epoch, scopes)) = row else {
                return Ok(None);
            };
            Ok(Some(AccountRow {
                user: user_from(name, &hash, active)?,
                password_changed_at,
                credential_epoch,
                scopes,
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
            "INSERT INTO accounts \
             (name, active, hash, created_at, updated_at, password_changed_at, scopes) \
             VALUES ($1, $2, $3, $4, $4, $4, $5) ON CONFLICT DO NOTHING",
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
            "INSERT INTO accounts \
             (name, active, hash, created_at, updated_at, password_changed_at, scopes) \
             SELECT $1, $2, $3, $4, $4, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM accounts) \
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
                .bind(user.scopes())
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
                "SELECT name, hash, active, scopes FROM accounts WHERE name > $1 \
                 ORDER BY name LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<String, _>(1)?,
                    r.try_get::<bool, _>(2)?,
                    r.try_get::<String, _>(3)?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()?);
            rows.into_iter()
                .map(|(name, hash, active, scopes)| {
                    let user = user_from(&name, &hash, active)?.with_scopes(&scopes);
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
                         (name, active, hash, created_at, updated_at, password_changed_at, \
                         scopes) ",
                    );
                    q.push_values(chunk, |mut row, (name, user)| {
                        row.push_bind(name)
                            .push_bind(user.active())
                            .push_bind(user.hash())
                            .push_bind(secs(now))
                            .push_bind(secs(now))
                            .push_bind(secs(now))
                            .push_bind(user.scopes());
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

    /// Drops change-feed rows older than `before` (Unix seconds).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn prune_changes(&self, before: u64) -> Result<(), StoreError> {
        self.tracked(async {
            on_pool!(self, pool => {
                sqlx::query("DELETE FROM account_changes WHERE at < $1")
                    .bind(secs(before))
                    .execute(pool)
                    .await?;
            });
            Ok(())
        })
        .await
    }

    /// Sets the scopes account `name` may be granted (space-separated, already checked against
    /// the server's). An account UPDATE: the change feed carries it to every instance.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`] or [`StoreError::Unavailable`].
    pub async fn set_scopes(&self, name: &str, scopes: &str, now: u64) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        let r = self
            .tracked(async {
                Ok(on_pool!(self, pool => sqlx::query(
                    "UPDATE accounts SET scopes = $2, updated_at = $3 WHERE name = $1",
                )
                .bind(name)
                .bind(scopes)
                .bind(secs(now))
                .execute(pool)
                .await?
                .rows_affected()))
            })
            .await;
        one_row(r?, name)
    }
}
