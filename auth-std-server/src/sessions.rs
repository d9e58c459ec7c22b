//! Sessions on the server (#13): their settings, the in-memory set of revoked session ids that
//! every protected request is checked against, and the sweeper.
//!
//! A revocation is a row in the store's revocation feed, which every instance follows (with
//! the account feed, in [`crate::accounts::follow`]: a `NOTIFY` on PostgreSQL, a 250 ms poll
//! otherwise). The set keeps an id only while that session's access tokens can still be
//! unexpired: the token lifetime plus the clock leeway after the revocation. Memory is
//! bounded: when the set is full, the oldest revocation is dropped and its time becomes a
//! floor; every session token issued at or before the floor is refused. So overflow fails
//! closed (clients refresh), never open.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::session::SessionLimits;

use crate::store::Store;

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Lifetime, idle timeout and reuse grace.
    pub limits: SessionLimits,
    /// Most live sessions per account; a new login revokes the oldest beyond it.
    pub max_per_user: u32,
    /// Most revoked session ids held in memory.
    pub revoked_capacity: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            limits: SessionLimits::new(),
            max_per_user: 10,
            revoked_capacity: 262_144,
        }
    }
}

/// The revoked session ids whose access tokens may still be unexpired. See the module docs.
#[derive(Debug)]
pub struct RevokedSessions {
    /// Session id → revocation time (Unix seconds).
    entries: RwLock<HashMap<String, u64>>,
    /// How long after its revocation an id is kept: the access-token lifetime plus leeway.
    keep: u64,
    capacity: usize,
    /// Session tokens issued at or before this are refused (0: none). Raised on overflow.
    floor: AtomicU64,
}

impl RevokedSessions {
    /// A set that keeps each id `keep` seconds after its revocation, and at most `capacity`.
    pub fn new(keep: u64, capacity: usize) -> Self {
        RevokedSessions {
            entries: RwLock::new(HashMap::new()),
            keep,
            capacity: capacity.max(1),
            floor: AtomicU64::new(0),
        }
    }

    /// Records that `sid` was revoked at `at`.
    pub fn insert(&self, sid: &str, at: u64, now: u64) {
        if at.saturating_add(self.keep) < now {
            return; // every token of it has expired
        }
        let Ok(mut e) = self.entries.write() else {
            return;
        };
        if e.len() >= self.capacity && !e.contains_key(sid) {
            e.retain(|_, t| t.saturating_add(self.keep) >= now);
            if e.len() >= self.capacity {
                let oldest = e
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, t)| (k.clone(), *t));
                if let Some((k, t)) = oldest {
                    e.remove(&k);
                    self.floor.fetch_max(t, Ordering::AcqRel);
                    tracing::warn!(
                        capacity = self.capacity,
                        "revoked-session set full: session tokens issued before the oldest \
                         revocation are refused until they expire"
                    );
                }
            }
        }
        let t = e.entry(sid.to_owned()).or_insert(at);
        *t = (*t).max(at);
    }

    /// Whether a token of session `sid`, issued at `issued_at`, must be refused.
    pub fn is_revoked(&self, sid: &str, issued_at: Option<u64>) -> bool {
        let floor = self.floor.load(Ordering::Acquire);
        if floor > 0 && issued_at.is_none_or(|i| i <= floor) {
            return true;
        }
        self.entries.read().map_or(true, |e| e.contains_key(sid))
    }

    /// Forgets ids whose tokens have all expired.
    pub fn prune(&self, now: u64) {
        if let Ok(mut e) = self.entries.write() {
            e.retain(|_, t| t.saturating_add(self.keep) >= now);
        }
        if self.floor.load(Ordering::Acquire).saturating_add(self.keep) < now {
            self.floor.store(0, Ordering::Release);
        }
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long ids are kept, in seconds.
    pub fn keep(&self) -> u64 {
        self.keep
    }
}

/// Deletes expired, idle and long-revoked sessions, and forgets revoked ids whose tokens have
/// expired. The account follower calls it every minute ([`crate::accounts::follow`]); every
/// instance sweeps, and the deletes are idempotent.
pub(crate) async fn sweep(store: &Store, settings: &SessionSettings, revoked: &RevokedSessions) {
    let now = crate::now();
    revoked.prune(now);
    let l = settings.limits;
    if let Ok(n) = store
        .sweep_sessions(
            now.saturating_sub(l.lifetime),
            now.saturating_sub(l.idle),
            now.saturating_sub(revoked.keep()),
        )
        .await
        && n > 0
    {
        tracing::info!(sessions = n, "expired sessions swept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_one_token_lifetime_then_forgotten() {
        let set = RevokedSessions::new(100, 10);
        set.insert("a", 1_000, 1_000);
        assert!(set.is_revoked("a", Some(990)));
        assert!(!set.is_revoked("b", Some(990)));
        // Already past its keep time when it arrives: nothing of it can still be valid.
        set.insert("old", 800, 1_000);
        assert!(!set.is_revoked("old", Some(700)));
        set.prune(1_100);
        assert!(
            set.is_revoked("a", Some(990)),
            "kept up to revocation + keep"
        );
        set.prune(1_101);
        assert!(set.is_empty());
    }

    #[test]
    fn a_full_set_fails_closed_through_a_floor() {
        let set = RevokedSessions::new(100, 2);
        set.insert("s1", 1_000, 1_000);
        set.insert("s2", 1_010, 1_010);
        // Full: s1 (the oldest revocation) makes room and its time becomes the floor.
        set.insert("s3", 1_020, 1_020);
        assert_eq!(set.len(), 2);
        assert!(
            set.is_revoked("s1", Some(999)),
            "s1's tokens are still refused"
        );
        assert!(
            set.is_revoked("any", Some(1_000)),
            "so is every session token before it"
        );
        assert!(set.is_revoked("any", None), "and any without iat");
        assert!(!set.is_revoked("any", Some(1_001)), "newer tokens are not");
        assert!(set.is_revoked("s3", Some(1_015)));
        // Once the floor's tokens have expired, it goes.
        set.prune(1_101);
        assert!(!set.is_revoked("any", Some(1_000)));
    }
}
