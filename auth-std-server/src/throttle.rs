//! Brute-force control for the password endpoint (RFC 6749 §4.3.2 asks servers to protect it).
//!
//! Failed logins are counted per username and per client IP. Past a threshold, each further
//! failure doubles a lock-out (from `base` up to `max`); while locked, logins for that username
//! or from that IP get 429 with `Retry-After`, without any password hashing. Counters are
//! forgotten `window` after their last failure, and a successful login clears the username's
//! counter.
//!
//! The lock-out is always time-bounded: it never exceeds `max`, and attempts made while locked
//! are refused without counting, so an attacker cannot extend it beyond one `max` per failure
//! they are allowed to make. Usernames get a short `max` (default 60 s) because anyone can fail
//! them on purpose; IPs get a long one (default 15 min).
//!
//! Memory is bounded: each table holds at most `capacity` entries (a keyed 64-bit hash, not the
//! username itself); when full, expired entries go first, then the oldest.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
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

impl Limits {
    /// Per-username defaults: 5 failures, then 1 s doubling up to 60 s; 15 min window.
    pub const USERNAME: Limits = Limits {
        threshold: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        window: Duration::from_secs(15 * 60),
        capacity: 100_000,
    };
    /// Per-IP defaults: 20 failures, then 1 s doubling up to 15 min; 15 min window.
    pub const IP: Limits = Limits {
        threshold: 20,
        base: Duration::from_secs(1),
        max: Duration::from_secs(15 * 60),
        window: Duration::from_secs(15 * 60),
        capacity: 100_000,
    };

    fn lockout(&self, failures: u32) -> Option<Duration> {
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
}

#[derive(Debug)]
struct Table {
    limits: Limits,
    entries: HashMap<u64, Entry>,
    order: VecDeque<u64>,
}

impl Table {
    fn new(limits: Limits) -> Self {
        Table {
            limits,
            entries: HashMap::new(),
            order: VecDeque::new(),
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

    fn fail(&mut self, key: u64, now: Instant) {
        let window = self.limits.window;
        let failures = match self.entries.get(&key) {
            Some(e) if now.duration_since(e.last) < window => e.failures.saturating_add(1),
            _ => 1,
        };
        if !self.entries.contains_key(&key) {
            self.make_room();
            self.order.push_back(key);
        }
        let locked_until = self.limits.lockout(failures).map(|d| now + d);
        self.entries.insert(
            key,
            Entry {
                failures,
                last: now,
                locked_until,
            },
        );
    }

    fn clear(&mut self, key: u64) {
        self.entries.remove(&key);
    }

    /// Evicts the oldest keys until there is room for one more: amortized O(1). `order` may
    /// hold keys already cleared (or twice, if cleared and failed again); it is compacted when
    /// it grows past twice the capacity, so it stays bounded too.
    fn make_room(&mut self) {
        while self.entries.len() >= self.limits.capacity {
            match self.order.pop_front() {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
        if self.order.len() > self.limits.capacity.saturating_mul(2) {
            let entries = &self.entries;
            let mut seen = std::collections::HashSet::new();
            self.order
                .retain(|k| entries.contains_key(k) && seen.insert(*k));
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Per-username and per-IP failure counters. See the module docs.
#[derive(Debug)]
pub struct Throttle {
    hasher: RandomState,
    users: Mutex<Table>,
    ips: Mutex<Table>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(Limits::USERNAME, Limits::IP)
    }
}

impl Throttle {
    /// With the given limits.
    pub fn new(users: Limits, ips: Limits) -> Self {
        Throttle {
            hasher: RandomState::new(),
            users: Mutex::new(Table::new(users)),
            ips: Mutex::new(Table::new(ips)),
        }
    }

    fn user_key(&self, username: &str) -> u64 {
        self.hasher.hash_one(("user", username))
    }

    fn ip_key(&self, ip: IpAddr) -> u64 {
        // IPv6 clients are grouped by /64, the smallest block one client usually holds.
        let ip = match ip {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        };
        self.hasher.hash_one(("ip", ip))
    }

    /// How long this login must wait, if the username or the IP is locked out.
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let user = self
            .users
            .lock()
            .ok()?
            .retry_after(self.user_key(username), now);
        let ip = ip.and_then(|ip| self.ips.lock().ok()?.retry_after(self.ip_key(ip), now));
        user.max(ip)
    }

    /// Records a failed login.
    pub fn fail(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        if let Ok(mut t) = self.users.lock() {
            t.fail(self.user_key(username), now);
        }
        if let (Some(ip), Ok(mut t)) = (ip, self.ips.lock()) {
            t.fail(self.ip_key(ip), now);
        }
    }

    /// Records a successful login: the username's counter is cleared.
    pub fn succeed(&self, username: &str) {
        if let Ok(mut t) = self.users.lock() {
            t.clear(self.user_key(username));
        }
    }

    /// Tracked (usernames, IPs).
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
        let limits = Limits {
            threshold: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(4),
            ..Limits::USERNAME
        };
        let t = Throttle::new(limits, Limits::IP);
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
            Limits {
                threshold: 1,
                ..Limits::USERNAME
            },
            Limits {
                threshold: 2,
                ..Limits::IP
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
            Limits {
                capacity: 1000,
                ..Limits::USERNAME
            },
            Limits {
                capacity: 10,
                ..Limits::IP
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
            Limits {
                capacity: 10,
                ..Limits::USERNAME
            },
            Limits::IP,
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
            Limits::USERNAME,
            Limits {
                threshold: 2,
                ..Limits::IP
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
}
