//! The accept loop: hyper's HTTP/1 connection handling with the limits `axum::serve` does not
//! expose: a header-read timeout (slowloris), header count and size caps, a connection cap
//! overall and per client, and a graceful shutdown that refuses new connections, lets in-flight
//! requests finish, and gives up after a bounded grace period.
//!
//! **Connection slots.** A client (an IPv4 address, or an IPv6 /64: the throttle's grouping)
//! holds at most `max_connections_per_client` connections; more are closed at accept, so one
//! client cannot take every slot. When all `max_connections` slots are taken, an *idle
//! keep-alive* connection (one that has served a request and is waiting for the next), or one
//! that has not sent a request within [`PRE_REQUEST_GRACE`] of opening, is closed to make
//! room, taken from the client holding the most connections, oldest first. Under pressure (at
//! least three quarters of the slots taken) the pre-request timeout shrinks from the
//! header-read timeout to [`PRESSURE_PRE_REQUEST_TIMEOUT`]: sockets that never send a request
//! cannot hold the table (round 3 item 8). Each slot is a guard released by `Drop` when its
//! connection task ends, whatever ends it.
//!
//! **Behind proxies** ([`crate::http::proxy`]): with `--proxy-protocol`, a trusted peer's PROXY
//! header is read first, within the header-read timeout; each request's client address is
//! then resolved from it and the forwarding headers, and handed to the routes as
//! `ConnectInfo`. A trusted proxy is not held to the per-client cap.

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

use crate::http::proxy::{ProxyHeader, TrustedProxies};
use crate::throttle::client_group;

/// A connection that has not sent a request this long after opening may be closed to make
/// room for another when every slot is taken.
pub const PRE_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// The pre-request timeout under pressure (three quarters of the slots or more taken): a
/// connection that has sent no request this long after opening is closed.
pub const PRESSURE_PRE_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Who is trusted to say where a request came from, and whether they speak the PROXY protocol.
#[derive(Debug, Clone, Default)]
pub struct Front {
    /// The trusted proxy ranges (`--trusted-proxy`).
    pub trusted: TrustedProxies,
    /// Trusted peers open every connection with a PROXY v1 or v2 header (`--proxy-protocol`).
    pub proxy_protocol: bool,
    /// The header the trusted proxies maintain (`--proxy-headers`).
    pub header: crate::http::proxy::ForwardedHeader,
}
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
    /// Headers hyper accepts at all (a bare 431 beyond); the JSON 431 limit is lower. At most
    /// 100: hyper parses up to 100 headers in place, and any higher cap makes it allocate two
    /// arrays of that many entries on the heap for every request it reads.
    pub hard_max_headers: usize,
    /// Read buffer size, bounding the header block hyper accepts at all.
    pub hard_max_header_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The per-client cap when none is given: an eighth of the global one (round 3 item 8: a
    /// cap equal to the global one let one client take every slot).
    pub const fn default_per_client(max_connections: usize) -> usize {
        let n = max_connections / 8;
        if n == 0 { 1 } else { n }
    }

    /// The admin listener's: a few operators' scrapers, not the public (round 3 item 9).
    pub const ADMIN: Limits = Limits {
        max_connections: 32,
        max_connections_per_client: 8,
        header_read_timeout: Duration::from_secs(5),
        hard_max_headers: 64,
        hard_max_header_bytes: 16 * 1024,
        shutdown_grace: Duration::from_secs(1),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_connections_per_client: Limits::default_per_client(4096),
            header_read_timeout: Duration::from_secs(10),
            hard_max_headers: 100,
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
    /// When the last request finished (or, before the first, when it opened), as ms since
    /// the table's epoch.
    idle_since_ms: AtomicU64,
}

impl Conn {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.closing.load(Ordering::Acquire)
    }

    fn idle_keep_alive(&self) -> bool {
        self.idle() && self.served.load(Ordering::Acquire) > 0
    }

    /// Open at least `age` ms and never asked anything.
    fn silent_for(&self, now_ms: u64, age: u64) -> bool {
        self.idle()
            && self.served.load(Ordering::Acquire) == 0
            && now_ms.saturating_sub(self.idle_since_ms.load(Ordering::Acquire)) >= age
    }

    fn ask_to_close(&self) {
        self.closing.store(true, Ordering::Release);
        self.close.notify_one();
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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

    /// Under pressure (three quarters full), asks connections silent for
    /// [`PRESSURE_PRE_REQUEST_TIMEOUT`] to close; when full, closes one idle keep-alive
    /// connection or one silent for [`PRE_REQUEST_GRACE`], of the client holding most.
    fn make_room(&self, t: &Table, now: u64) -> Result<(), Refused> {
        let mut open = t
            .conns
            .values()
            .filter(|c| !c.closing.load(Ordering::Acquire))
            .count();
        if open.saturating_mul(4) >= self.limits.max_connections.saturating_mul(3) {
            for c in t.conns.values() {
                if c.silent_for(now, ms(PRESSURE_PRE_REQUEST_TIMEOUT)) {
                    c.ask_to_close();
                    open = open.saturating_sub(1);
                }
            }
        }
        if open >= self.limits.max_connections {
            let grace = ms(PRE_REQUEST_GRACE);
            let victim = t
                .conns
                .values()
                .filter(|c| c.idle_keep_alive() || c.silent_for(now, grace))
                .max_by_key(|c| {
                    let held = t.per_client.get(&c.client).copied().unwrap_or(0);
                    // The client with most connections first, then the longest idle.
                    (held, u64::MAX - c.idle_since_ms.load(Ordering::Acquire))
                })
                .ok_or(Refused::Full)?;
            victim.ask_to_close();
        }
        Ok(())
    }

    /// A slot for a new connection from `peer`, closing an idle keep-alive connection, or one
    /// that has sent nothing within [`PRE_REQUEST_GRACE`], when all slots are taken. A trusted
    /// proxy (`exempt`) is not held to the per-client cap.
    fn admit(self: &Arc<Self>, peer: IpAddr, exempt: bool) -> Result<Slot, Refused> {
        let client = client_group(peer);
        let mut t = self.table.lock().map_err(|_| Refused::Full)?;
        let held = t.per_client.get(&client).copied().unwrap_or(0);
        if !exempt && held >= self.limits.max_connections_per_client {
            return Err(Refused::PerClient);
        }
        let now = self.now_ms();
        self.make_room(&t, now)?;
        let id = t.next_id;
        t.next_id = t.next_id.wrapping_add(1);
        let conn = Arc::new(Conn {
            client,
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            close: Notify::new(),
            idle_since_ms: AtomicU64::new(now),
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
                // Never asked anything: nothing to finish, close it now.
                if slot.conn.served.load(Ordering::Acquire) == 0
                    && slot.conn.in_flight.load(Ordering::Acquire) == 0
                {
                    break Ok(());
                }
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

/// One accepted connection, before its first byte is read.
struct Connection {
    http: hyper::server::conn::http1::Builder,
    app: Router,
    slots: Arc<Slots>,
    slot: Slot,
    stop: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
    front: Arc<Front>,
    peer: SocketAddr,
    trusted_peer: bool,
    /// Bounds the PROXY header and the TLS handshake, as it bounds request headers.
    timeout: Duration,
}

impl Connection {
    /// The PROXY header (from a trusted peer, with `--proxy-protocol`), then TLS, then HTTP.
    async fn run(self, mut stream: tokio::net::TcpStream) {
        let Some((source, prefix)) = self.source(&mut stream).await else {
            return;
        };
        let io = Prefixed::new(prefix, stream);
        let (conn_state, slots, front) = (
            Arc::clone(&self.slot.conn),
            Arc::clone(&self.slots),
            Arc::clone(&self.front),
        );
        let app = self.app.clone();
        let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let mut req: Request = req.map(axum::body::Body::new);
            let client = front
                .trusted
                .client(source.ip(), req.headers(), front.header);
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(SocketAddr::new(
                    client,
                    source.port(),
                )));
            let busy = Busy::enter(&conn_state, &slots);
            let app = app.clone();
            async move {
                let res = app.oneshot(req).await;
                drop(busy);
                res
            }
        });
        match self.tls.clone() {
            None => drive(self.http, TokioIo::new(io), svc, self.slot, self.stop).await,
            // Boxed: a TLS connection's state (the handshake, the rustls stream) is several KiB,
            // and inline it would be reserved in every plain connection's task too (1,000 idle
            // keep-alive connections took 39 MB instead of 34).
            Some(acceptor) => {
                let (http, slot, stop, timeout) = (self.http, self.slot, self.stop, self.timeout);
                Box::pin(async move {
                    match tokio::time::timeout(timeout, acceptor.accept(io)).await {
                        Ok(Ok(tls)) => drive(http, TokioIo::new(tls), svc, slot, stop).await,
                        // A failed or slow handshake: nothing was asked, nothing to answer.
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                })
                .await;
            }
        }
    }

    /// Where the connection comes from, and the bytes read past a PROXY header: the header's
    /// client from a trusted peer with `--proxy-protocol`, else the peer. `None`: close it (a
    /// trusted peer without a valid header, or an untrusted one that sends one).
    async fn source(&self, stream: &mut tokio::net::TcpStream) -> Option<(SocketAddr, Vec<u8>)> {
        if !self.front.proxy_protocol {
            return Some((self.peer, Vec::new()));
        }
        if !self.trusted_peer {
            if starts_with_proxy_header(stream, self.timeout).await {
                tracing::warn!(peer = %self.peer, "PROXY header from an untrusted peer; closed");
                return None;
            }
            return Some((self.peer, Vec::new()));
        }
        // Boxed, like TLS: its buffer is only for connections that send one.
        let header = Box::pin(read_proxy_header(stream));
        match tokio::time::timeout(self.timeout, header).await {
            Ok(Some((client, rest))) => Some((client.unwrap_or(self.peer), rest)),
            Ok(None) => {
                tracing::debug!(peer = %self.peer, "no valid PROXY header from a trusted peer; closed");
                None
            }
            Err(_) => {
                tracing::debug!("PROXY header timed out");
                None
            }
        }
    }
}

/// Reads a PROXY v1 or v2 header: the client it names (`None`: the peer itself, e.g. a
/// health check) and the bytes read past it. `None` when the connection does not start with
/// a valid one, or closes first.
async fn read_proxy_header(
    stream: &mut tokio::net::TcpStream,
) -> Option<(Option<SocketAddr>, Vec<u8>)> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::with_capacity(crate::http::proxy::MAX_PROXY_HEADER);
    let mut chunk = [0u8; crate::http::proxy::MAX_PROXY_HEADER];
    loop {
        let room = crate::http::proxy::MAX_PROXY_HEADER - buf.len();
        let n = stream.read(&mut chunk[..room.max(1)]).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        match crate::http::proxy::parse_proxy_header(&buf) {
            ProxyHeader::Complete { len, source } => {
                return Some((source, buf.split_off(len.min(buf.len()))));
            }
            ProxyHeader::Incomplete if buf.len() < crate::http::proxy::MAX_PROXY_HEADER => continue,
            _ => return None,
        }
    }
}

/// Whether an untrusted peer opens with a PROXY signature (it is closed unanswered). Waits
/// for its first bytes at most `timeout`, without consuming them.
async fn starts_with_proxy_header(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    let mut first = [0u8; 12];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) => crate::http::proxy::starts_with_proxy_signature(&first[..n]),
        _ => false,
    }
}

/// A stream whose first bytes were already read (past a PROXY header): they are replayed
/// before the rest.
struct Prefixed {
    prefix: Vec<u8>,
    at: usize,
    inner: tokio::net::TcpStream,
}

impl Prefixed {
    fn new(prefix: Vec<u8>, inner: tokio::net::TcpStream) -> Self {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl tokio::io::AsyncRead for Prefixed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.prefix.get(this.at..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.at += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Prefixed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
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
    front: Front,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Slots {
        table: Mutex::new(Table::default()),
        limits,
        epoch: Instant::now(),
        drained: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.hard_max_headers)
        .max_buf_size(limits.hard_max_header_bytes);
    let accept = Accept {
        http,
        app,
        slots: Arc::clone(&slots),
        tls,
        front: Arc::new(front),
        stop: stop_rx,
        refused: AtomicU64::new(0),
    };
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
        accept.start(stream, peer);
    }
    // New connections are refused from here on: the listener is closed.
    drop(listener);
    drain(&slots, &stop_tx).await;
    Ok(())
}

/// What every accepted connection starts with.
struct Accept {
    http: hyper::server::conn::http1::Builder,
    app: Router,
    slots: Arc<Slots>,
    tls: Option<TlsAcceptor>,
    front: Arc<Front>,
    stop: watch::Receiver<bool>,
    /// Connections refused for want of a slot, for the log.
    refused: AtomicU64,
}

impl Accept {
    /// Gives the connection a slot and a task of its own, or closes it (logged at powers of
    /// two, so a flood is a few lines).
    fn start(&self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let limits = self.slots.limits;
        let trusted_peer = self.front.trusted.contains(peer.ip());
        let slot = match self.slots.admit(peer.ip(), trusted_peer) {
            Ok(slot) => slot,
            Err(why) => {
                let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        refused = n,
                        reason = ?why,
                        max = limits.max_connections,
                        per_client = limits.max_connections_per_client,
                        "connection limit reached; closing new connections"
                    );
                }
                return drop(stream);
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            http: self.http.clone(),
            app: self.app.clone(),
            slots: Arc::clone(&self.slots),
            slot,
            stop: self.stop.clone(),
            tls: self.tls.clone(),
            front: Arc::clone(&self.front),
            peer,
            trusted_peer,
            timeout: limits.header_read_timeout,
        };
        tokio::spawn(conn.run(stream));
    }
}

/// Asks every connection to finish and waits for them, at most the shutdown grace.
async fn drain(slots: &Slots, stop: &watch::Sender<bool>) {
    tracing::info!("shutting down: waiting for in-flight requests");
    let grace = slots.limits.shutdown_grace;
    let drained = slots.drained.notified();
    let _ = stop.send(true);
    let empty = slots.table.lock().map_or(true, |t| t.conns.is_empty());
    if !empty {
        tokio::select! {
            () = drained => tracing::info!("all connections closed"),
            () = tokio::time::sleep(grace) => {
                tracing::warn!(grace = ?grace, "grace period over; exiting with requests in flight");
            }
        }
    }
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

    impl Slots {
        fn admit_test(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refused> {
            self.admit(peer, false)
        }
    }

    #[test]
    fn per_client_cap_and_release_on_drop() {
        let s = slots(100, 2);
        let a1 = s.admit_test(ip("10.0.0.1")).unwrap();
        let _a2 = s.admit_test(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(s.admit_test(ip("10.0.0.1")).err(), Some(Refused::PerClient));
        assert!(s.admit_test(ip("10.0.0.2")).is_ok(), "another client");
        // IPv6 clients are grouped by /64.
        let _b1 = s.admit_test(ip("2001:db8::1")).unwrap();
        let _b2 = s.admit_test(ip("2001:db8::2")).unwrap();
        assert_eq!(
            s.admit_test(ip("2001:db8::3")).err(),
            Some(Refused::PerClient)
        );
        drop(a1);
        assert!(
            s.admit_test(ip("10.0.0.1")).is_ok(),
            "the dropped slot came back"
        );
    }

    #[test]
    fn a_full_table_closes_an_idle_keep_alive_connection_of_the_biggest_client() {
        let s = slots(4, 3);
        let hog: Vec<_> = (0..3)
            .map(|_| s.admit_test(ip("10.0.0.1")).unwrap())
            .collect();
        let other = s.admit_test(ip("10.0.0.2")).unwrap();
        // Nothing idle yet (no request served): a fifth connection is refused.
        assert_eq!(s.admit_test(ip("10.0.0.3")).err(), Some(Refused::Full));
        // The other client's connection and one of the hog's have served a request.
        for c in [&other.conn, &hog[1].conn] {
            drop(Busy::enter(c, &s));
        }
        let _new = s.admit_test(ip("10.0.0.3")).unwrap();
        assert!(
            hog[1].conn.closing.load(Ordering::Acquire),
            "the hog's idle one closes"
        );
        assert!(!other.conn.closing.load(Ordering::Acquire));
        // A busy connection is never chosen.
        let _busy = Busy::enter(&other.conn, &s);
        assert_eq!(s.admit_test(ip("10.0.0.4")).err(), Some(Refused::Full));
    }
}
