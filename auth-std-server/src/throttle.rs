//! Brute-force control for the password endpoint (RFC 6749 §4.3.2 asks servers to protect it).
//!
//! Failed logins are counted per username and per client address. Past a threshold, each
//! further failure doubles a lock-out (from `base` up to `max`); while locked, logins for that
//! username or from that address get 429 with `Retry-After`, without any password hashing.
//! Counters are forgotten `window` after their last failure, and a successful login clears the
//! username's counter.
//!
//! **An attempt is counted when it is admitted, not when its hash is done.** [`Throttle::admit`]
//! checks both lock-outs and reserves one failure on both counters under one lock, so N
//! concurrent guesses cannot all pass a check that none of them has recorded yet: once the
//! reservations reach the threshold, the rest get 429 without hashing. A successful login
//! refunds the address's reservation and clears the username; a login the hashing pool refused
//! (503) refunds both. Anything else (a wrong password, a client that hung up while its hash
//! ran) stays counted.
//!
//! The lock-out is always time-bounded: it never exceeds `max`, and attempts made while locked
//! are refused without counting, so an attacker cannot extend it beyond one `max` per failure
//! they are allowed to make. Usernames get a short `max` (default 60 s) because anyone can fail
//! them on purpose; addresses get a long one (default 15 min).
//!
//! Addresses are canonicalized first (`::ffff:a.b.c.d`, as a dual-stack listener reports an
//! IPv4 peer, is `a.b.c.d`), then IPv4 is counted per address and native IPv6 per /64, the
//! smallest block one client usually holds.
//!
//! The refresh grant and revocation (#13) have a table of their own, per address: a refused
//! refresh token (malformed, unknown, rotated out) or an unknown token to revoke is a failure,
//! with the address limits. Guessing a 256-bit token is hopeless, but each guess costs a
//! lookup, so a flood from one address is stopped in memory, before the store.
//!
//! Memory is bounded: each table holds at most `capacity` entries (a keyed 64-bit hash, not the
//! username itself). When full, an expired entry or else the least recently active entry that
//! is *not penalized* makes room. Penalized means locked now or at the threshold within the
//! window: evicting those would hand an attacker a fresh allowance, so they are never evicted.
//! Filling a table with penalized entries takes `capacity × threshold` hashed failures; should
//! it happen, new keys are refused (429) rather than tracked without limits.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use crate::store::{Store, StoreError};

/// Limits for one throttle table (per username or per address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed before the first lock-out.
    pub threshold: u32,
    /// First lock-out.
    pub base: Duration,
    /// Longest lock-out.
    pub max: Duration,
    /// A counter is forgotten this long after its last failure.
    pub window: Duration,
    /// Most tracked keys.
    pub capacity: usize,
}

impl ThrottleLimits {
    /// Per-username defaults: 5 failures, then 1 s doubling up to 60 s; 15 min window.
    pub const USERNAME: ThrottleLimits = ThrottleLimits {
        threshold: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        window: Duration::from_secs(15 * 60),
        capacity: 100_000,
    };
    /// Per-address defaults: 20 failures, then 1 s doubling up to 15 min; 15 min window.
    pub const IP: ThrottleLimits = ThrottleLimits {
        threshold: 20,
        base: Duration::from_secs(1),
        max: Duration::from_secs(15 * 60),
        window: Duration::from_secs(15 * 60),
        capacity: 100_000,
    };

    pub(crate) fn lockout(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.threshold)?;
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
    /// Position in the recency order; `order` items with another `seq` are stale.
    seq: u64,
    /// Changed (to a fresh value) by every failure counted or refunded: a refund restores the
    /// entry only when it is still the one the reservation wrote.
    version: u64,
}

/// One counted failure, as [`Table::refund`] takes it back: the entry's `version` it wrote and
/// the live entry before it.
#[derive(Debug, Clone, Copy)]
struct Undo {
    version: u64,
    before: Option<Entry>,
}

#[derive(Debug)]
struct Table {
    limits: ThrottleLimits,
    entries: HashMap<u64, Entry>,
    /// Keys by last activity, oldest first, with stale items skipped lazily.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

/// How many penalized entries one insertion may step over before it gives up.
const EVICTION_SCAN: usize = 64;

impl Table {
    fn new(limits: ThrottleLimits) -> Self {
        Table {
            limits,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }

    fn live(&self, key: u64, now: Instant) -> Option<&Entry> {
        self.entries
            .get(&key)
            .filter(|e| now.duration_since(e.last) < self.limits.window)
    }

    fn retry_after(&self, key: u64, now: Instant) -> Option<Duration> {
        let until = self.live(key, now)?.locked_until?;
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    fn penalized(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last) < self.limits.window
            && (e.failures >= self.limits.threshold || e.locked_until.is_some_and(|u| u > now))
    }

    /// Counts one failure. `false` when the key is new and the table has no room for it.
    fn fail(&mut self, key: u64, now: Instant) -> bool {
        self.reserve(key, now).is_some()
    }

    /// Counts one failure, and returns what a [`Table::refund`] needs to take exactly it back;
    /// `None` when the key is new and the table has no room for it.
    fn reserve(&mut self, key: u64, now: Instant) -> Option<Undo> {
        let before = self.live(key, now).copied();
        let failures = before.map_or(1, |e| e.failures.saturating_add(1));
        if !self.entries.contains_key(&key) && !self.make_room(now) {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.order.push_back((key, seq));
        let locked_until = self.limits.lockout(failures).map(|d| now + d);
        self.entries.insert(
            key,
            Entry {
                failures,
                last: now,
                locked_until,
                seq,
                version: seq,
            },
        );
        Some(Undo {
            version: seq,
            before,
        })
    }

    /// Takes back the failure [`Table::reserve`] counted. When nothing has been counted on
    /// the key since, the entry is as it was before: its count, its last failure and its
    /// lock-out (a reservation past the threshold had started a longer lock-out from its own
    /// time, which stayed after the refund). When other failures have been counted since, one
    /// failure is taken off the count: a lock-out that leaves the count under the threshold
    /// is lifted, one that the failures before it earned stays.
    fn refund(&mut self, key: u64, undo: Undo) {
        let version = self.next_seq;
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        if e.version == undo.version {
            // Its recency stays the reservation's: `order` holds that `seq`.
            match undo.before {
                Some(before) => {
                    e.failures = before.failures;
                    e.last = before.last;
                    e.locked_until = before.locked_until;
                    e.version = version;
                }
                None => {
                    self.entries.remove(&key);
                }
            }
            return;
        }
        e.failures = e.failures.saturating_sub(1);
        e.version = version;
        if e.failures < self.limits.threshold {
            e.locked_until = None;
        }
        if e.failures == 0 {
            self.entries.remove(&key);
        }
    }

    fn clear(&mut self, key: u64) {
        self.entries.remove(&key);
    }

    /// Evicts until there is room for one more: expired or unpenalized entries, least recently
    /// active first. A penalized entry met on the way is moved to the back (it stays), and after
    /// [`EVICTION_SCAN`] of them the insertion is refused. `order` is compacted when it grows
    /// past twice the capacity, so it stays bounded too.
    fn make_room(&mut self, now: Instant) -> bool {
        let mut stepped_over = 0usize;
        while self.entries.len() >= self.limits.capacity {
            let Some((k, seq)) = self.order.pop_front() else {
                return false;
            };
            let Some(e) = self.entries.get(&k).filter(|e| e.seq == seq) else {
                continue; // stale: the key was touched again or cleared
            };
            if self.penalized(e, now) {
                self.order.push_back((k, seq));
                stepped_over += 1;
                if stepped_over >= EVICTION_SCAN.min(self.entries.len()) {
                    return false;
                }
            } else {
                self.entries.remove(&k);
            }
        }
        if self.order.len() > self.limits.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order
                .retain(|(k, seq)| entries.get(k).is_some_and(|e| e.seq == *seq));
        }
        true
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// How long a shared counter's row, `(failures, last failure in Unix ms)`, locks its key out
/// at `now_ms`: the lock-out its failures earned, less the time since the last one; `None` when
/// there is no row, the row is older than the window, or the lock-out is over.
///
/// `last` and `now_ms` are both the store's clock (see [`Store::failures`]), never an
/// instance's. Should that clock step back, a `last` after `now_ms` counts as a failure made
/// just now, not as no lock-out.
fn shared_wait(row: Option<(i64, i64)>, limits: ThrottleLimits, now_ms: i64) -> Option<Duration> {
    let (failures, last) = row?;
    let since = Duration::from_millis(u64::try_from(now_ms.saturating_sub(last)).unwrap_or(0));
    if since > limits.window {
        return None;
    }
    let lock = limits.lockout(u32::try_from(failures).unwrap_or(u32::MAX))?;
    lock.checked_sub(since).filter(|d| !d.is_zero())
}

/// Per-username and per-address failure counters. See the module docs.
#[derive(Debug)]
pub struct Throttle {
    hasher: RandomState,
    users: Mutex<Table>,
    ips: Mutex<Table>,
    grants: Mutex<Table>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(ThrottleLimits::USERNAME, ThrottleLimits::IP)
    }
}

/// The key a client address is counted under: the canonical address for IPv4 (including
/// IPv4-mapped IPv6, as a dual-stack listener reports IPv4 peers), its /64 for native IPv6.
pub fn client_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// One login's keys in the store's shared counters: SHA-256 in hex of the username and of the
/// address group, so the shared table never holds the names people typed. Made once per login
/// ([`SharedKeys::new`]) and used to check, count and clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKeys {
    user: String,
    ip: Option<String>,
}

impl SharedKeys {
    /// The keys for `username` from `ip`.
    pub fn new(username: &str, ip: Option<IpAddr>) -> Self {
        fn hex(kind: &str, value: &str) -> String {
            let digest = Sha256::new()
                .chain_update(kind.as_bytes())
                .chain_update([0u8])
                .chain_update(value.as_bytes())
                .finalize();
            let mut s = String::with_capacity(2 * digest.len());
            for b in digest.iter() {
                let _ = write!(s, "{b:02x}");
            }
            s
        }
        SharedKeys {
            user: hex("user", username),
            ip: ip.map(|ip| hex("ip", &client_group(ip).to_string())),
        }
    }
}

/// One admitted login attempt, already counted as a failure. Settle it with
/// [`Attempt::succeed`] or [`Attempt::refund`]; dropped unsettled (a wrong password, a client
/// that hung up), it stays counted.
#[derive(Debug)]
#[must_use = "an attempt stays counted as a failure unless it is settled"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    user: (u64, Undo),
    ip: Option<(u64, Undo)>,
}

impl Attempt<'_> {
    /// The password was right: the username's counter is cleared, the address's reservation
    /// refunded.
    pub fn succeed(self) {
        if let Ok(mut t) = self.throttle.users.lock() {
            t.clear(self.user.0);
        }
        if let (Some((ip, undo)), Ok(mut t)) = (self.ip, self.throttle.ips.lock()) {
            t.refund(ip, undo);
        }
    }

    /// The attempt was not evaluated (the hashing pool refused it): both reservations are
    /// refunded.
    pub fn refund(self) {
        if let Ok(mut t) = self.throttle.users.lock() {
            t.refund(self.user.0, self.user.1);
        }
        if let (Some((ip, undo)), Ok(mut t)) = (self.ip, self.throttle.ips.lock()) {
            t.refund(ip, undo);
        }
    }
}

impl Throttle {
    /// With the given limits.
    pub fn new(users: ThrottleLimits, ips: ThrottleLimits) -> Self {
        Throttle {
            hasher: RandomState::new(),
            users: Mutex::new(Table::new(users)),
            ips: Mutex::new(Table::new(ips)),
            grants: Mutex::new(Table::new(ips)),
        }
    }

    fn user_key(&self, username: &str) -> u64 {
        self.hasher.hash_one(("user", username))
    }

    fn ip_key(&self, ip: IpAddr) -> u64 {
        self.hasher.hash_one(("ip", client_group(ip)))
    }

    fn tables(&self) -> Option<(MutexGuard<'_, Table>, MutexGuard<'_, Table>)> {
        // Always users, then addresses: one lock order everywhere.
        let users = self.users.lock().ok()?;
        let ips = self.ips.lock().ok()?;
        Some((users, ips))
    }

    /// Admits a login attempt and counts it as a failure at once, or says how long to wait
    /// when the username or the address is locked out (or, in the rare case a table is full of
    /// penalized entries, the first lock-out's length).
    ///
    /// # Errors
    /// The `Retry-After` duration.
    pub fn admit(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Duration> {
        let user = self.user_key(username);
        let ip = ip.map(|ip| self.ip_key(ip));
        let Some((mut users, mut ips)) = self.tables() else {
            return Err(ThrottleLimits::USERNAME.base);
        };
        let wait = users
            .retry_after(user, now)
            .max(ip.and_then(|k| ips.retry_after(k, now)));
        if let Some(wait) = wait {
            return Err(wait);
        }
        let Some(user_undo) = users.reserve(user, now) else {
            tracing::warn!("throttle: username table full of penalized entries; refusing");
            return Err(users.limits.base);
        };
        let ip = match ip {
            None => None,
            Some(k) => match ips.reserve(k, now) {
                Some(undo) => Some((k, undo)),
                None => {
                    users.refund(user, user_undo);
                    tracing::warn!("throttle: address table full of penalized entries; refusing");
                    return Err(ips.limits.base);
                }
            },
        };
        Ok(Attempt {
            throttle: self,
            user: (user, user_undo),
            ip,
        })
    }

    /// How long this login must wait, if the username or the address is locked out. Counts
    /// nothing; logins use [`Throttle::admit`].
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let (users, ips) = self.tables()?;
        let user = users.retry_after(self.user_key(username), now);
        user.max(ip.and_then(|ip| ips.retry_after(self.ip_key(ip), now)))
    }

    /// Records a failed login that was not admitted through [`Throttle::admit`].
    pub fn fail(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        if let Some((mut users, mut ips)) = self.tables() {
            users.fail(self.user_key(username), now);
            if let Some(ip) = ip {
                ips.fail(self.ip_key(ip), now);
            }
        }
    }

    /// How long a refresh or revocation from `ip` must wait, if the address is locked out by
    /// its refused tokens.
    pub fn check_grant(&self, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let t = self.grants.lock().ok()?;
        t.retry_after(self.ip_key(ip?), now)
    }

    /// Counts a refused refresh token, or an unknown token to revoke, from `ip`.
    pub fn fail_grant(&self, ip: Option<IpAddr>, now: Instant) {
        if let (Some(ip), Ok(mut t)) = (ip, self.grants.lock()) {
            t.fail(self.ip_key(ip), now);
        }
    }

    /// Records a successful login: the username's counter is cleared.
    pub fn succeed(&self, username: &str) {
        if let Ok(mut t) = self.users.lock() {
            t.clear(self.user_key(username));
        }
    }

    fn limits(&self) -> (ThrottleLimits, ThrottleLimits) {
        let u = self
            .users
            .lock()
            .map_or(ThrottleLimits::USERNAME, |t| t.limits);
        let i = self.ips.lock().map_or(ThrottleLimits::IP, |t| t.limits);
        (u, i)
    }

    /// How long this login must wait by the counters every instance shares in the store
    /// (the in-memory tables above hold this instance's own, and its reservations), and
    /// whether the username has a shared counter to clear on success. The counters are
    /// stamped and read by the store's clock, so instances whose clocks disagree agree on
    /// every lock-out.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn check_shared(
        &self,
        store: &Store,
        keys: &SharedKeys,
    ) -> Result<(Option<Duration>, bool), StoreError> {
        let ([user, ip], now_ms) = store
            .failures([&keys.user, keys.ip.as_deref().unwrap_or_default()])
            .await?;
        let (user_limits, ip_limits) = self.limits();
        Ok((
            shared_wait(user, user_limits, now_ms).max(shared_wait(ip, ip_limits, now_ms)),
            user.is_some(),
        ))
    }

    /// Counts a failed login on the shared counters.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn fail_shared(&self, store: &Store, keys: &SharedKeys) -> Result<(), StoreError> {
        let (user_limits, ip_limits) = self.limits();
        let window = user_limits.window.min(ip_limits.window).as_millis();
        let mut list = vec![keys.user.as_str()];
        list.extend(keys.ip.as_deref());
        store
            .record_failure(&list, i64::try_from(window).unwrap_or(i64::MAX))
            .await
    }

    /// A successful login clears its username's shared counter.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn succeed_shared(&self, store: &Store, keys: &SharedKeys) -> Result<(), StoreError> {
        store.clear_failures(&keys.user).await
    }

    /// Tracked (usernames, addresses).
    pub fn tracked(&self) -> (usize, usize) {
        let u = self.users.lock().map_or(0, |t| t.len());
        let i = self.ips.lock().map_or(0, |t| t.len());
        (u, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn threshold_then_doubling_up_to_max_then_expiry() {
        let limits = ThrottleLimits {
            threshold: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(4),
            ..ThrottleLimits::USERNAME
        };
        let t = Throttle::new(limits, ThrottleLimits::IP);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.check("alice", IP, t0), None);
            t.fail("alice", IP, t0);
        }
        // 3 failures = threshold: locked 1 s.
        assert_eq!(t.check("alice", IP, t0), Some(Duration::from_secs(1)));
        assert_eq!(t.check("bob", IP, t0), None, "other users are not affected");
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(t.check("alice", IP, t1), None, "lock-out over");
        t.fail("alice", IP, t1);
        assert_eq!(t.check("alice", IP, t1), Some(Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        t.fail("alice", IP, t2);
        assert_eq!(t.check("alice", IP, t2), Some(Duration::from_secs(4)));
        let t3 = t2 + Duration::from_secs(4);
        t.fail("alice", IP, t3);
        assert_eq!(
            t.check("alice", IP, t3),
            Some(Duration::from_secs(4)),
            "capped at max"
        );
        // Forgotten after the window.
        let later = t3 + limits.window;
        assert_eq!(t.check("alice", IP, later), None);
        t.fail("alice", IP, later);
        assert_eq!(t.check("alice", IP, later), None, "counting starts over");
    }

    #[test]
    fn success_clears_the_username_only() {
        let t = Throttle::new(
            ThrottleLimits {
                threshold: 1,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits {
                threshold: 2,
                ..ThrottleLimits::IP
            },
        );
        let now = Instant::now();
        t.fail("alice", IP, now);
        assert!(t.check("alice", None, now).is_some());
        t.succeed("alice");
        assert_eq!(t.check("alice", None, now), None);
        t.fail("bob", IP, now);
        assert!(
            t.check("carol", IP, now).is_some(),
            "the IP is locked after 2 failures"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new(
            ThrottleLimits {
                capacity: 1000,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits {
                capacity: 10,
                ..ThrottleLimits::IP
            },
        );
        let now = Instant::now();
        for i in 0..100_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            t.fail(&format!("user{i}"), Some(ip), now);
        }
        assert_eq!(t.tracked(), (1000, 10));
        // The newest are kept.
        for _ in 0..10 {
            t.fail("user99999", None, now);
        }
        assert!(t.check("user99999", None, now).is_some());
    }

    #[test]
    fn success_fail_cycles_keep_the_order_queue_bounded() {
        let t = Throttle::new(
            ThrottleLimits {
                capacity: 10,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits::IP,
        );
        let now = Instant::now();
        for i in 0..10_000 {
            t.fail(&format!("u{}", i % 3), None, now);
            t.succeed(&format!("u{}", i % 3));
        }
        assert!(t.users.lock().unwrap().order.len() <= 20);
    }

    #[test]
    fn ipv6_groups_by_64() {
        let t = Throttle::new(
            ThrottleLimits::USERNAME,
            ThrottleLimits {
                threshold: 2,
                ..ThrottleLimits::IP
            },
        );
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        t.fail("x", Some(a), now);
        t.fail("y", Some(b), now);
        assert!(t.check("z", Some(a), now).is_some());
        assert_eq!(t.check("z", Some(c), now), None);
    }

    /// #10 item 2: on a `[::]` listener every IPv4 peer is `::ffff:a.b.c.d`; the /64 grouping
    /// used to put them all in `::/64`, one bucket.
    #[test]
    fn ipv4_mapped_peers_are_counted_per_ipv4_address() {
        let t = Throttle::new(
            ThrottleLimits::USERNAME,
            ThrottleLimits {
                threshold: 2,
                ..ThrottleLimits::IP
            },
        );
        let now = Instant::now();
        let a: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        t.fail("x", Some(a), now);
        t.fail("y", Some(a), now);
        assert!(t.check("z", Some(a), now).is_some());
        assert_eq!(t.check("z", Some(b), now), None, "another IPv4 client");
        assert!(
            t.check("z", Some("127.0.0.1".parse().unwrap()), now)
                .is_some(),
            "mapped and plain IPv4 are one client"
        );
        assert_eq!(client_group(a), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            client_group("2001:db8::5".parse().unwrap()),
            "2001:db8::".parse::<IpAddr>().unwrap()
        );
    }

    /// #10 item 3: admission reserves the attempt, so concurrent guesses cannot all pass a check
    /// that none has recorded yet.
    #[test]
    fn admission_reserves_and_success_refunds() {
        let t = Throttle::new(
            ThrottleLimits {
                threshold: 5,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits {
                threshold: 20,
                ..ThrottleLimits::IP
            },
        );
        let now = Instant::now();
        // 34 guesses in flight at once: five are admitted, the rest wait.
        let admitted: Vec<_> = (0..34)
            .filter_map(|_| t.admit("victim", IP, now).ok())
            .collect();
        assert_eq!(admitted.len(), 5);
        drop(admitted); // all wrong: they stay counted
        assert!(t.check("victim", None, now).is_some());

        // A success clears the username and gives the address its reservation back.
        let t = Throttle::new(
            ThrottleLimits::USERNAME,
            ThrottleLimits {
                threshold: 2,
                ..ThrottleLimits::IP
            },
        );
        t.admit("a", IP, now).unwrap().succeed();
        t.admit("b", IP, now).unwrap().succeed();
        t.admit("c", IP, now).unwrap().refund();
        assert_eq!(t.check("d", IP, now), None, "no failures were kept");
        assert_eq!(t.tracked(), (0, 0));
        drop(t.admit("d", IP, now).unwrap());
        let second = t.admit("e", IP, now).unwrap();
        assert!(
            t.admit("f", IP, now).is_err(),
            "two reservations lock the address"
        );
        second.refund();
        assert!(
            t.admit("f", IP, now).is_ok(),
            "the refund lifts the lock it started"
        );
    }

    /// A refund with nothing counted since puts the entry back as it was: its count, its last
    /// failure and its lock-out. A reservation past the threshold starts a longer lock-out
    /// from its own time, and that used to stay after the refund: a login refused by the
    /// shared counters (429) or the hashing pool (503) locked the username out for the doubled
    /// time although it counted nothing.
    #[test]
    fn a_refund_with_nothing_counted_since_restores_the_entry() {
        let mut table = Table::new(ThrottleLimits {
            threshold: 2,
            ..ThrottleLimits::IP
        });
        let t0 = Instant::now();
        assert!(table.fail(7, t0));
        assert!(table.fail(7, t0));
        let before = *table.live(7, t0).unwrap();
        assert_eq!(table.retry_after(7, t0), Some(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(table.retry_after(7, t1), None, "the earned second is over");
        let undo = table.reserve(7, t1).unwrap();
        assert_eq!(table.retry_after(7, t1), Some(Duration::from_secs(2)));
        table.refund(7, undo);
        let after = *table.live(7, t1).unwrap();
        assert_eq!(
            (after.failures, after.last, after.locked_until),
            (before.failures, before.last, before.locked_until)
        );
        assert_eq!(
            table.retry_after(7, t1),
            None,
            "no lock-out from the refund"
        );
        // Past the window the entry is not live: a reservation starts from one, and its refund
        // leaves nothing.
        let late = t0 + ThrottleLimits::IP.window;
        let undo = table.reserve(7, late).unwrap();
        assert_eq!(table.live(7, late).map(|e| e.failures), Some(1));
        table.refund(7, undo);
        assert!(!table.entries.contains_key(&7), "forgotten");
        // A new key likewise.
        let undo = table.reserve(8, t0).unwrap();
        table.refund(8, undo);
        assert_eq!(table.len(), 0);
    }

    /// With other failures counted since, a refund takes back one failure: the lock-out it
    /// started is lifted, one that the failures before it earned stays (at the threshold, the
    /// count still locks). A later reservation's exact undo does not bring back what an earlier
    /// refund took off.
    #[test]
    fn a_refund_lifts_only_the_lock_out_its_failure_started() {
        let mut table = Table::new(ThrottleLimits {
            threshold: 2,
            ..ThrottleLimits::IP
        });
        let now = Instant::now();
        let undos: Vec<_> = (0..3).map(|_| table.reserve(7, now).unwrap()).collect();
        table.refund(7, undos[0]);
        assert_eq!(table.live(7, now).map(|e| e.failures), Some(2));
        assert!(
            table.retry_after(7, now).is_some(),
            "two failures reach the threshold: still locked"
        );
        table.refund(7, undos[1]);
        assert_eq!(table.retry_after(7, now), None, "one failure: not locked");
        assert_eq!(table.live(7, now).map(|e| e.failures), Some(1));
        table.refund(7, undos[2]);
        assert!(table.live(7, now).is_none(), "no failures: forgotten");
    }

    /// #10 item 4: throwaway usernames used to evict a locked victim (oldest first).
    #[test]
    fn penalized_entries_are_never_evicted() {
        let limits = ThrottleLimits {
            threshold: 3,
            capacity: 100,
            ..ThrottleLimits::USERNAME
        };
        let t = Throttle::new(limits, ThrottleLimits::IP);
        let now = Instant::now();
        for _ in 0..3 {
            t.fail("victim", None, now);
        }
        let later = now + Duration::from_secs(1);
        assert!(
            t.check("victim", None, later).is_none(),
            "lock-out of 1 s over"
        );
        for i in 0..10_000 {
            t.fail(&format!("throwaway{i}"), None, later);
        }
        assert_eq!(t.tracked().0, 100, "memory stays bounded");
        t.fail("victim", None, later);
        assert_eq!(
            t.check("victim", None, later),
            Some(Duration::from_secs(2)),
            "the victim's count survived: the next lock-out doubles"
        );
    }

    #[test]
    fn eviction_picks_the_least_recently_active() {
        let t = Throttle::new(
            ThrottleLimits {
                capacity: 2,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits::IP,
        );
        let now = Instant::now();
        t.fail("a", None, now);
        t.fail("b", None, now);
        t.fail("a", None, now); // a is active again: b is now the least recent
        t.fail("c", None, now);
        let users = t.users.lock().unwrap();
        assert!(users.entries.contains_key(&t.user_key("a")));
        assert!(!users.entries.contains_key(&t.user_key("b")));
        assert_eq!(users.entries[&t.user_key("a")].failures, 2);
    }

    /// The shared counters' lock-out, from a store row: what the in-memory table would say for
    /// the same failures, less the time since the last one.
    #[test]
    fn a_shared_row_locks_for_what_its_failures_earned_less_the_time_since() {
        // A window shorter than the longest lock-out, so that the window's end shows.
        let limits = ThrottleLimits {
            threshold: 3,
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
            window: Duration::from_secs(30),
            capacity: 10,
        };
        let at = |failures: i64, ms_ago: i64| {
            shared_wait(Some((failures, 1_000_000)), limits, 1_000_000 + ms_ago)
        };
        assert_eq!(shared_wait(None, limits, 5), None, "no row");
        assert_eq!(at(2, 0), None, "under the threshold");
        assert_eq!(at(3, 0), Some(Duration::from_secs(2)));
        assert_eq!(at(3, 500), Some(Duration::from_millis(1_500)));
        assert_eq!(at(4, 500), Some(Duration::from_millis(3_500)), "doubled");
        assert_eq!(at(3, 2_000), None, "over, not a zero wait");
        assert_eq!(at(3, 2_001), None);
        assert_eq!(
            at(i64::MAX, 1_000),
            Some(Duration::from_secs(59)),
            "capped at max"
        );
        assert_eq!(at(i64::MAX, 29_000), Some(Duration::from_secs(31)));
        assert_eq!(
            at(i64::MAX, 30_000),
            Some(Duration::from_secs(30)),
            "the window's last moment"
        );
        assert_eq!(at(i64::MAX, 30_001), None, "past the window: forgotten");
        assert_eq!(
            at(3, -5),
            Some(Duration::from_secs(2)),
            "a last failure after now (another instance's clock is ahead): just made"
        );
    }

    /// A penalized entry at the head of the recency order is stepped over, not a reason to
    /// refuse: the unpenalized entry behind it makes the room.
    #[test]
    fn eviction_steps_over_a_penalized_entry_to_an_unpenalized_one() {
        let mut table = Table::new(ThrottleLimits {
            threshold: 2,
            capacity: 2,
            ..ThrottleLimits::USERNAME
        });
        let now = Instant::now();
        assert!(table.fail(1, now) && table.fail(1, now), "1 is penalized");
        assert!(table.fail(2, now), "2 has one failure");
        assert!(table.fail(3, now), "3 takes 2's place");
        assert!(table.live(1, now).is_some());
        assert!(table.live(2, now).is_none());
        assert!(table.live(3, now).is_some());
    }

    /// Compacting the recency order drops its stale items and keeps every live one, so
    /// eviction still finds the least recently active entry afterwards.
    #[test]
    fn compaction_keeps_the_recency_order_of_live_entries() {
        let mut table = Table::new(ThrottleLimits {
            threshold: 100,
            capacity: 2,
            ..ThrottleLimits::USERNAME
        });
        let now = Instant::now();
        assert!(table.fail(1, now) && table.fail(2, now));
        for _ in 0..6 {
            assert!(table.fail(1, now), "1 again: stale items pile up");
        }
        // 3 evicts 2; the order (six items past twice the capacity) is compacted to 1's
        // newest item, then 3's.
        assert!(table.fail(3, now));
        assert_eq!(table.order.len(), 2);
        // 1 is now the least recently active: 4 takes its place, not 3's.
        assert!(table.fail(4, now));
        assert!(table.live(1, now).is_none());
        assert!(table.live(3, now).is_some() && table.live(4, now).is_some());
    }

    #[test]
    fn a_table_full_of_penalized_entries_refuses_new_keys() {
        let t = Throttle::new(
            ThrottleLimits {
                threshold: 1,
                capacity: 4,
                ..ThrottleLimits::USERNAME
            },
            ThrottleLimits::IP,
        );
        let now = Instant::now();
        for i in 0..4 {
            drop(t.admit(&format!("u{i}"), None, now).unwrap());
        }
        assert!(t.admit("new", None, now).is_err());
        assert_eq!(t.tracked().0, 4);
        // Once the window has passed they are expired and make room again.
        let later = now + ThrottleLimits::USERNAME.window;
        assert!(t.admit("new", None, later).is_ok());
    }
}

/// A token bucket's rate: `per_minute` requests a minute on average, up to `per_minute` in a
/// burst (round 3 items 4, 5 and 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a minute, and the burst.
    pub per_minute: u32,
}

impl RateLimit {
    /// Successful logins one account may make a minute (item 4: each login past the session
    /// cap evicts a session and revokes its id; unlimited, one account flooded every
    /// instance's revoked-id set).
    pub const USER_LOGINS: RateLimit = RateLimit { per_minute: 30 };
    /// Refreshes one account may make a minute (item 5).
    pub const USER_REFRESHES: RateLimit = RateLimit { per_minute: 120 };
    /// Revocation requests one client address may make a minute (item 11).
    pub const CLIENT_REVOKES: RateLimit = RateLimit { per_minute: 60 };

    /// `n` a minute (at least 1).
    pub fn per_minute(n: u32) -> Self {
        RateLimit {
            per_minute: n.max(1),
        }
    }
}

/// The rates [`Rates`] bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Successful logins per account.
    pub user_logins: RateLimit,
    /// Refreshes per account.
    pub user_refreshes: RateLimit,
    /// `/auth/revoke` requests per client address.
    pub client_revokes: RateLimit,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            user_logins: RateLimit::USER_LOGINS,
            user_refreshes: RateLimit::USER_REFRESHES,
            client_revokes: RateLimit::CLIENT_REVOKES,
        }
    }
}

/// Most keys one [`Buckets`] table tracks. A full bucket holds no state and makes room; past
/// this with every bucket in use, new keys are refused (429), never tracked without bound.
pub const BUCKET_CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by key (a keyed hash of an account name or an address group), bounded by
/// [`BUCKET_CAPACITY`].
#[derive(Debug)]
pub struct Buckets {
    rate: RateLimit,
    hasher: RandomState,
    table: Mutex<Swept<Bucket>>,
    capacity: usize,
}

impl Buckets {
    /// Buckets of `rate`.
    pub fn new(rate: RateLimit) -> Self {
        Self::with_capacity(rate, BUCKET_CAPACITY)
    }

    /// Buckets of `rate`, at most `capacity` keys.
    pub fn with_capacity(rate: RateLimit, capacity: usize) -> Self {
        Buckets {
            rate,
            hasher: RandomState::new(),
            table: Mutex::new(Swept::new()),
            capacity: capacity.max(1),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let burst = f64::from(self.rate.per_minute);
        let per_sec = burst / 60.0;
        let dt = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + dt * per_sec).min(burst);
        b.last = now;
    }

    /// Takes one token for `key`.
    ///
    /// # Errors
    /// How long until the next token, when there is none now (or the table is full of
    /// buckets in use).
    pub fn take<K: std::hash::Hash>(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.take_hashed(self.hasher.hash_one(key), now)
    }

    /// Takes one token for `key` that is given back when the [`Reserved`] guard drops, unless
    /// [`Reserved::keep`] is called: a login or refresh the store could not complete (a 503)
    /// issued nothing, so it must not spend the account's rate. Without this, a client
    /// retrying through an outage exhausted the account's logins for a minute after it.
    ///
    /// # Errors
    /// As [`Buckets::take`].
    pub fn reserve<K: std::hash::Hash>(
        &self,
        key: K,
        now: Instant,
    ) -> Result<Reserved<'_>, Duration> {
        let key = self.hasher.hash_one(key);
        self.take_hashed(key, now).map(|()| Reserved {
            buckets: self,
            key,
            kept: false,
        })
    }

    /// Gives one token back to `key`'s bucket, up to its burst.
    fn give_back(&self, key: u64) {
        let burst = f64::from(self.rate.per_minute);
        if let Ok(mut t) = self.table.lock()
            && let Some(b) = t.map.get_mut(&key)
        {
            b.tokens = (b.tokens + 1.0).min(burst);
        }
    }

    fn take_hashed(&self, k: u64, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.per_minute);
        let Ok(mut t) = self.table.lock() else {
            return Err(Duration::from_secs(1));
        };
        // A bucket untouched for a minute is full again, and holds no state: those go first.
        if !t.map.contains_key(&k)
            && !t.room(self.capacity, now, |b| {
                now.saturating_duration_since(b.last) >= Duration::from_secs(60)
            })
        {
            return Err(Duration::from_secs(1));
        }
        let b = t.map.entry(k).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let per_sec = burst / 60.0;
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.table.lock().map_or(0, |t| t.map.len())
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token taken by [`Buckets::reserve`]: given back on drop unless kept.
#[derive(Debug)]
#[must_use = "dropping it gives the token back at once"]
pub struct Reserved<'a> {
    buckets: &'a Buckets,
    key: u64,
    kept: bool,
}

impl Reserved<'_> {
    /// The operation completed: the token stays spent.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.buckets.give_back(self.key);
        }
    }
}

/// Whether a line about `key` may be logged now: once per key and `period` (round 3 item 7:
/// every throttled login logged a line, so cheap 429s filled disks). At most
/// [`LOG_ONCE_CAPACITY`] keys are remembered; when that many are fresh, new keys log nothing
/// until a sweep (at most one a second) frees room, so a flood of new keys logs at most that
/// many lines a period and costs O(1) a request.
#[derive(Debug)]
pub struct LogOnce {
    period: Duration,
    hasher: RandomState,
    seen: Mutex<Swept<Instant>>,
}

/// Keys [`LogOnce`] remembers.
pub const LOG_ONCE_CAPACITY: usize = 10_000;

/// How often a full [`Swept`] table may be swept: a sweep is O(n), and a flood of new keys must
/// not pay it on every request (it did: a flood of 429s with fresh usernames ran at 0.6x).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A keyed table whose expired entries are swept only when it is full, and then at most once
/// per [`SWEEP_EVERY`].
#[derive(Debug)]
struct Swept<V> {
    map: HashMap<u64, V>,
    last_sweep: Option<Instant>,
}

impl<V> Swept<V> {
    fn new() -> Self {
        Swept {
            map: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Room for a new key: `true` when the table is below `capacity`, after a sweep of the
    /// entries `expired` says are done if it is full and none ran within [`SWEEP_EVERY`].
    fn room(&mut self, capacity: usize, now: Instant, expired: impl Fn(&V) -> bool) -> bool {
        if self.map.len() < capacity {
            return true;
        }
        if self
            .last_sweep
            .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
        {
            return false;
        }
        self.last_sweep = Some(now);
        self.map.retain(|_, v| !expired(v));
        self.map.len() < capacity
    }
}

impl LogOnce {
    /// Once per key and `period`.
    pub fn new(period: Duration) -> Self {
        LogOnce {
            period,
            hasher: RandomState::new(),
            seen: Mutex::new(Swept::new()),
        }
    }

    /// `true` the first time for `key` in a period.
    pub fn first<K: std::hash::Hash>(&self, key: K, now: Instant) -> bool {
        let k = self.hasher.hash_one(key);
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if let Some(at) = seen.map.get(&k)
            && now.saturating_duration_since(*at) < self.period
        {
            return false;
        }
        let period = self.period;
        if !seen.map.contains_key(&k)
            && !seen.room(LOG_ONCE_CAPACITY, now, |at| {
                now.saturating_duration_since(*at) >= period
            })
        {
            return false;
        }
        seen.map.insert(k, now);
        true
    }
}

/// At most `max` characters of untrusted text for a log line, `…` marking a cut; the caller
/// logs it with `?` (Debug escapes control characters).
pub fn log_prefix(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..i])),
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::new(RateLimit::per_minute(6));
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(b.take("alice", t0).is_ok());
        }
        let wait = b.take("alice", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9));
        assert!(b.take("bob", t0).is_ok(), "another key has its own bucket");
        assert!(
            b.take("alice", t0 + Duration::from_secs(10)).is_ok(),
            "one more after 10 s"
        );
        assert!(b.take("alice", t0 + Duration::from_secs(10)).is_err());
        // Four seconds on, four tenths of a token have come back: the wait is for the rest.
        let wait = b.take("alice", t0 + Duration::from_secs(14)).unwrap_err();
        assert!(
            wait > Duration::from_millis(5_990) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
    }

    #[test]
    fn a_reservation_not_kept_is_given_back() {
        let b = Buckets::new(RateLimit::per_minute(2));
        let t0 = Instant::now();
        for _ in 0..5 {
            drop(b.reserve("alice", t0).unwrap());
        }
        b.reserve("alice", t0).unwrap().keep();
        b.reserve("alice", t0).unwrap().keep();
        assert!(
            b.reserve("alice", t0).is_err(),
            "two kept: the burst is spent"
        );
        // Giving back never fills a bucket past its burst.
        let c = Buckets::new(RateLimit::per_minute(1));
        let r = c.reserve("bob", t0).unwrap();
        assert!(c.take("bob", t0).is_err());
        drop(r);
        assert!(c.take("bob", t0).is_ok());
        assert!(c.take("bob", t0).is_err());
    }

    #[test]
    fn a_full_table_forgets_full_buckets_and_refuses_otherwise() {
        let b = Buckets::with_capacity(RateLimit::per_minute(1), 2);
        let t0 = Instant::now();
        assert!(b.take(1, t0).is_ok());
        assert!(b.take(2, t0).is_ok());
        assert!(b.take(3, t0).is_err(), "full of buckets in use: refused");
        assert!(
            b.take(3, t0 + Duration::from_secs(61)).is_ok(),
            "refilled ones made room"
        );
        assert!(b.len() <= 2);
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_a_second() {
        let l = LogOnce::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..LOG_ONCE_CAPACITY {
            assert!(l.first(i, t0));
        }
        // Full of fresh keys: new ones log nothing, and only the first of them sweeps.
        assert!(!l.first("new", t0));
        assert_eq!(l.seen.lock().unwrap().last_sweep, Some(t0));
        assert!(!l.first("newer", t0 + Duration::from_millis(500)));
        assert_eq!(
            l.seen.lock().unwrap().last_sweep,
            Some(t0),
            "swept again within a second"
        );
        let t1 = t0 + SWEEP_EVERY;
        assert!(!l.first("newest", t1));
        assert_eq!(
            l.seen.lock().unwrap().last_sweep,
            Some(t1),
            "a second on, it sweeps again"
        );
        // A period later the old keys are expired, and the next sweep frees them.
        assert!(l.first("later", t0 + Duration::from_secs(61)));
        assert_eq!(l.seen.lock().unwrap().map.len(), 1);
    }

    #[test]
    fn log_once_per_key_and_period() {
        let l = LogOnce::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(l.first("k", t0));
        assert!(!l.first("k", t0 + Duration::from_secs(59)));
        assert!(l.first("other", t0));
        assert!(l.first("k", t0 + Duration::from_secs(60)));
        assert_eq!(log_prefix("abc", 5), "abc");
        assert_eq!(log_prefix(&"x".repeat(100), 5), "xxxxx…");
    }
}
