//! The accept loop: hyper's HTTP/1 connection handling with the limits `axum::serve` does not
//! expose: a header-read timeout (slowloris), header count and size caps, a connection cap
//! overall and per client, and a graceful shutdown that refuses new connections, lets in-flight
//! requests finish, and gives up after a bounded grace period.
//!
//! **Connection slots.** A client (an IPv4 address, or an IPv6 /64: the throttle's grouping)
//! holds at most `max_connections_per_client` connections; more are closed at accept, so one
//! client cannot take every slot. When all `max_connections` slots are taken, an *idle
//! keep-alive* connection (one that has served a request and is waiting for the next) is closed
//! to make room, taken from the client holding the most connections. A connection that never
//! sent a request is not idle in this sense: the header-read timeout bounds it. Each slot is a
//! guard released by `Drop` when its connection task ends, whatever ends it.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::throttle::client_group;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; past this, an idle keep-alive connection is closed to make
    /// room, or the new one is closed when there is none.
    pub max_connections: usize,
    /// Open connections one client (IPv4 address, IPv6 /64) may hold; further ones are closed.
    pub max_connections_per_client: usize,
    /// Time allowed to send a request's headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// Headers hyper accepts at all (a bare 431 beyond); the JSON 431 limit is lower.
    pub hard_max_headers: usize,
    /// Read buffer size, bounding the header block hyper accepts at all.
    pub hard_max_header_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_connections_per_client: 64,
            header_read_timeout: Duration::from_secs(10),
            hard_max_headers: 128,
            hard_max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What the accept loop knows of one open connection.
#[derive(Debug)]
struct Conn {
    client: IpAddr,
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// Requests answered so far.
    served: AtomicU64,
    /// Set once the connection was asked to close.
    closing: AtomicBool,
    close: Notify,
    /// When the last request finished, as ms since the table's epoch.
    idle_since_ms: AtomicU64,
}

impl Conn {
    fn idle_keep_alive(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.served.load(Ordering::Acquire) > 0
            && !self.closing.load(Ordering::Acquire)
    }
}

/// The open connections, by id and by client.
#[derive(Debug, Default)]
struct Table {
    conns: HashMap<u64, Arc<Conn>>,
    per_client: HashMap<IpAddr, usize>,
    next_id: u64,
}

#[derive(Debug)]
struct Slots {
    table: Mutex<Table>,
    limits: Limits,
    epoch: Instant,
    /// Signalled when the last connection closes.
    drained: Notify,
}

/// Why a connection was not given a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    PerClient,
    Full,
}

/// A connection's slot: released when dropped.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    conn: Arc<Conn>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Ok(mut t) = self.slots.table.lock() else {
            return;
        };
        t.conns.remove(&self.id);
        if let Some(n) = t.per_client.get_mut(&self.conn.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.per_client.remove(&self.conn.client);
            }
        }
        if t.conns.is_empty() {
            self.slots.drained.notify_waiters();
        }
    }
}

impl Slots {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A slot for a new connection from `peer`, closing an idle keep-alive connection when all
    /// slots are taken.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refused> {
        let client = client_group(peer);
        let mut t = self.table.lock().map_err(|_| Refused::Full)?;
        let held = t.per_client.get(&client).copied().unwrap_or(0);
        if held >= self.limits.max_connections_per_client {
            return Err(Refused::PerClient);
        }
        let open = t
            .conns
            .values()
            .filter(|c| !c.closing.load(Ordering::Acquire))
            .count();
        if open >= self.limits.max_connections {
            let victim = t
                .conns
                .values()
                .filter(|c| c.idle_keep_alive())
                .max_by_key(|c| {
                    let held = t.per_client.get(&c.client).copied().unwrap_or(0);
                    // The client with most connections first, then the longest idle.
                    (held, u64::MAX - c.idle_since_ms.load(Ordering::Acquire))
                })
                .ok_or(Refused::Full)?;
            victim.closing.store(true, Ordering::Release);
            victim.close.notify_one();
        }
        let id = t.next_id;
        t.next_id = t.next_id.wrapping_add(1);
        let conn = Arc::new(Conn {
            client,
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            close: Notify::new(),
            idle_since_ms: AtomicU64::new(self.now_ms()),
        });
        t.conns.insert(id, Arc::clone(&conn));
        *t.per_client.entry(client).or_insert(0) += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            id,
            conn,
        })
    }
}

/// Marks a connection busy for one request: released by `Drop`, so a request whose future is
/// dropped (the client hung up) leaves the connection idle again.
struct Busy {
    conn: Arc<Conn>,
    slots: Arc<Slots>,
}

impl Busy {
    fn enter(conn: &Arc<Conn>, slots: &Arc<Slots>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy {
            conn: Arc::clone(conn),
            slots: Arc::clone(slots),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn
            .idle_since_ms
            .store(self.slots.now_ms(), Ordering::Release);
        self.conn.served.fetch_add(1, Ordering::AcqRel);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one connection until it ends, closing it gracefully when its slot is wanted for
/// another or the server stops; the slot is released (`Drop`) whatever ends it.
async fn drive<I, S>(
    http: hyper::server::conn::http1::Builder,
    io: I,
    svc: S,
    slot: Slot,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming> + Send + 'static,
    S::Future: Send,
    S::ResBody: Send,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut asked = false;
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            () = slot.conn.close.notified(), if !asked => {
                asked = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = stop.changed(), if !asked => {
                asked = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(slot);
}

/// Serves `app` on `listener` until `shutdown` completes, then drains. With `tls`, every
/// connection is HTTPS: the handshake runs in the connection's own task, within the header-read
/// timeout, so a slow handshake holds one slot and no more.
///
/// # Errors
/// None in practice: accept errors are logged and retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Slots {
        table: Mutex::new(Table::default()),
        limits,
        epoch: Instant::now(),
        drained: Notify::new(),
    });
    let refused = AtomicU64::new(0);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.hard_max_headers)
        .max_buf_size(limits.hard_max_header_bytes);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        refused = n,
                        reason = ?why,
                        max = limits.max_connections,
                        per_client = limits.max_connections_per_client,
                        "connection limit reached; closing new connections"
                    );
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (conn_state, slots_for_req) = (Arc::clone(&slot.conn), Arc::clone(&slots));
        let app = app.clone();
        let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let mut req: Request = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let busy = Busy::enter(&conn_state, &slots_for_req);
            let app = app.clone();
            async move {
                let res = app.oneshot(req).await;
                drop(busy);
                res
            }
        });
        let stop = stop_rx.clone();
        let http = http.clone();
        match &tls {
            None => {
                tokio::spawn(drive(http, TokioIo::new(stream), svc, slot, stop));
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                let timeout = limits.header_read_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(tls)) => drive(http, TokioIo::new(tls), svc, slot, stop).await,
                        // A failed or slow handshake: nothing was asked, nothing to answer.
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        }
    }
    // New connections are refused from here on: the listener is closed.
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let drained = slots.drained.notified();
    let _ = stop_tx.send(true);
    let empty = slots.table.lock().map_or(true, |t| t.conns.is_empty());
    if !empty {
        tokio::select! {
            () = drained => tracing::info!("all connections closed"),
            () = tokio::time::sleep(limits.shutdown_grace) => {
                tracing::warn!(grace = ?limits.shutdown_grace, "grace period over; exiting with requests in flight");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max: usize, per_client: usize) -> Arc<Slots> {
        Arc::new(Slots {
            table: Mutex::new(Table::default()),
            limits: Limits {
                max_connections: max,
                max_connections_per_client: per_client,
                ..Limits::default()
            },
            epoch: Instant::now(),
            drained: Notify::new(),
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_client_cap_and_release_on_drop() {
        let s = slots(100, 2);
        let a1 = s.admit(ip("10.0.0.1")).unwrap();
        let _a2 = s.admit(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(s.admit(ip("10.0.0.1")).err(), Some(Refused::PerClient));
        assert!(s.admit(ip("10.0.0.2")).is_ok(), "another client");
        // IPv6 clients are grouped by /64.
        let _b1 = s.admit(ip("2001:db8::1")).unwrap();
        let _b2 = s.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(s.admit(ip("2001:db8::3")).err(), Some(Refused::PerClient));
        drop(a1);
        assert!(
            s.admit(ip("10.0.0.1")).is_ok(),
            "the dropped slot came back"
        );
    }

    #[test]
    fn a_full_table_closes_an_idle_keep_alive_connection_of_the_biggest_client() {
        let s = slots(4, 3);
        let hog: Vec<_> = (0..3).map(|_| s.admit(ip("10.0.0.1")).unwrap()).collect();
        let other = s.admit(ip("10.0.0.2")).unwrap();
        // Nothing idle yet (no request served): a fifth connection is refused.
        assert_eq!(s.admit(ip("10.0.0.3")).err(), Some(Refused::Full));
        // The other client's connection and one of the hog's have served a request.
        for c in [&other.conn, &hog[1].conn] {
            drop(Busy::enter(c, &s));
        }
        let _new = s.admit(ip("10.0.0.3")).unwrap();
        assert!(
            hog[1].conn.closing.load(Ordering::Acquire),
            "the hog's idle one closes"
        );
        assert!(!other.conn.closing.load(Ordering::Acquire));
        // A busy connection is never chosen.
        let _busy = Busy::enter(&other.conn, &s);
        assert_eq!(s.admit(ip("10.0.0.4")).err(), Some(Refused::Full));
    }
}
