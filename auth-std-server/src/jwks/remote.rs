//! Following an issuer's key set at a URL, for a resource server that verifies its tokens.
//!
//! [`RemoteJwks::fetch`] reads the set once (start-up fails if it cannot), then keeps it as the
//! issuer's `Cache-Control: max-age` says. Refreshes happen on requests, never on a timer of
//! their own, and at most once per [`RemoteJwksOptions::min_refresh_interval`], whatever asks:
//! - a request after the set's lifetime is served from the set it has while one refresh runs
//!   in the background (stale while revalidating);
//! - a token refused for naming a `kid` the set lacks (the issuer rotated in a new key) waits
//!   for one refresh, then is checked against the new set. Concurrent ones wait on that same fetch,
//!   and an attacker's random `kid`s cannot make it fetch more often than the interval.
//!
//! A failed refresh (the issuer down, a timeout, a status other than 200, a body over
//! [`super::MAX_JWKS_LEN`], a set [`super::parse_jwks`] refuses) keeps the last good set, logs
//! one warning, and is retried no sooner than the interval. Plain `http` is refused except to a
//! loopback host (or with [`RemoteJwksOptions::allow_http`]); redirects are not followed.

use std::error::Error as _;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use auth_core::UntrustedToken;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::http::{HeaderValue, Request, StatusCode, Uri, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio_rustls::rustls;

use super::{JwksError, MAX_JWKS_LEN, parse_jwks};
use crate::keys::Keys;

/// How a [`RemoteJwks`] fetches and caches.
#[derive(Debug, Clone)]
pub struct RemoteJwksOptions {
    /// Fewest seconds between two fetches, whatever asks (30 s, as `jose`'s cooldown). Also the
    /// shortest lifetime a `Cache-Control` can give the set.
    pub min_refresh_interval: Duration,
    /// The set's lifetime when the issuer sends no `max-age` (5 minutes).
    pub default_max_age: Duration,
    /// The longest lifetime a `max-age` can give the set (1 day).
    pub max_age_ceiling: Duration,
    /// Connect, send and read the whole body within this (5 s).
    pub timeout: Duration,
    /// Allow plain `http` to a host that is not loopback. Off: anyone on the path could hand
    /// the resource server keys of their own.
    pub allow_http: bool,
    /// A TLS client configuration of your own (a private CA). `None`: the system's roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for RemoteJwksOptions {
    fn default() -> Self {
        RemoteJwksOptions {
            min_refresh_interval: Duration::from_secs(30),
            default_max_age: Duration::from_secs(300),
            max_age_ceiling: Duration::from_secs(86_400),
            timeout: Duration::from_secs(5),
            allow_http: false,
            tls: None,
        }
    }
}

/// Why a key set could not be fetched.
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoteJwksError {
    /// The URL is not `https` (or loopback `http`), or carries credentials.
    Url(String),
    /// No TLS roots could be loaded.
    Tls(std::io::Error),
    /// Connecting, sending or reading failed, or took longer than the timeout.
    Fetch(String),
    /// The issuer answered with another status than 200.
    Status(u16),
    /// The body is longer than [`MAX_JWKS_LEN`].
    TooLong,
    /// The set is refused.
    Jwks(JwksError),
}

impl fmt::Display for RemoteJwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteJwksError::Url(why) => write!(f, "key set URL refused: {why}"),
            RemoteJwksError::Tls(e) => write!(f, "no TLS roots: {e}"),
            RemoteJwksError::Fetch(e) => write!(f, "fetching the key set failed: {e}"),
            RemoteJwksError::Status(s) => write!(f, "the issuer answered {s}, not 200"),
            RemoteJwksError::TooLong => write!(f, "the key set is over {MAX_JWKS_LEN} bytes"),
            RemoteJwksError::Jwks(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RemoteJwksError {}

/// The set in use, and when it goes stale.
struct Current {
    keys: Arc<Keys>,
    expires: Instant,
}

/// An issuer's key set, followed. See the module docs.
pub struct RemoteJwks {
    url: Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    options: RemoteJwksOptions,
    current: RwLock<Current>,
    /// When the last fetch started; held across a fetch, so fetches never overlap.
    last_attempt: tokio::sync::Mutex<Instant>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.url)
            .field("keys", &self.keys().len())
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// Fetches the set at `url` once, and follows it from then on.
    ///
    /// # Errors
    /// [`RemoteJwksError`] when the URL is refused or the first fetch fails.
    pub async fn fetch(
        url: &str,
        options: RemoteJwksOptions,
    ) -> Result<Arc<Self>, RemoteJwksError> {
        let url = check_url(url, options.allow_http)?;
        let client = client(&url, options.tls.clone())?;
        let (keys, lifetime) = get(&client, &url, &options).await?;
        let now = Instant::now();
        Ok(Arc::new(RemoteJwks {
            url,
            client,
            current: RwLock::new(Current {
                keys: Arc::new(keys),
                expires: now + lifetime,
            }),
            options,
            last_attempt: tokio::sync::Mutex::new(now),
            fetches: AtomicU64::new(1),
            failures: AtomicU64::new(0),
        }))
    }

    /// The set in use now.
    pub fn keys(&self) -> Arc<Keys> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&current.keys)
    }

    /// Fetches started, the first included.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches that failed (the last good set was kept).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The set to check a token against now. A stale set starts one background refresh and is
    /// still returned: nothing waits.
    pub fn current(self: &Arc<Self>) -> Arc<Keys> {
        self.keys_refreshing_if_stale()
    }

    /// After `token` was refused by `keys`: when it names a `kid` that `keys` lacks, waits for
    /// one refresh (or the one running) and returns the set in use then, to check it again.
    /// `None` when a refresh cannot help. Only refused tokens come here, so a known key costs a
    /// request nothing.
    pub async fn after_refusal(&self, keys: &Keys, token: &str) -> Option<Arc<Keys>> {
        if !names_unknown_kid(keys, token) {
            return None;
        }
        self.refresh().await;
        Some(self.keys())
    }

    fn keys_refreshing_if_stale(self: &Arc<Self>) -> Arc<Keys> {
        let (keys, expires) = {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            (Arc::clone(&current.keys), current.expires)
        };
        let now = Instant::now();
        let due = self
            .last_attempt
            .try_lock()
            .is_ok_and(|last| now.duration_since(*last) >= self.options.min_refresh_interval);
        if now >= expires && due {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.refresh().await });
        }
        keys
    }

    /// One fetch, unless one started less than the interval ago. Whoever waits here while
    /// another fetch runs returns when it ends, without a fetch of its own.
    async fn refresh(&self) {
        let mut last = self.last_attempt.lock().await;
        if last.elapsed() < self.options.min_refresh_interval {
            return;
        }
        *last = Instant::now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match get(&self.client, &self.url, &self.options).await {
            Ok((keys, lifetime)) => {
                let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
                *current = Current {
                    keys: Arc::new(keys),
                    expires: Instant::now() + lifetime,
                };
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %self.url, error = %e, "key set refresh failed; keeping the last good set");
            }
        }
    }
}

/// Whether `token`'s header names a `kid` that `keys` lacks. A token that does not parse, or
/// names no kid, is for the normal checks to refuse: no fetch.
fn names_unknown_kid(keys: &Keys, token: &str) -> bool {
    UntrustedToken::parse(token)
        .ok()
        .and_then(|t| t.kid().map(|kid| keys.get(kid).is_none()))
        .unwrap_or(false)
}

fn check_url(url: &str, allow_http: bool) -> Result<Uri, RemoteJwksError> {
    let refused = |why: &str| RemoteJwksError::Url(why.to_owned());
    let uri: Uri = url.parse().map_err(|_| refused("not a URL"))?;
    let authority = uri.authority().ok_or_else(|| refused("no host"))?;
    if authority.as_str().contains('@') {
        return Err(refused("credentials in the URL"));
    }
    let loopback = match authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
    {
        "localhost" => true,
        host => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
    };
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback || allow_http => Ok(uri),
        Some("http") => Err(refused(
            "plain http to a host that is not loopback (set allow_http to accept it)",
        )),
        _ => Err(refused("the scheme is not https")),
    }
}

fn client(
    url: &Uri,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>, RemoteJwksError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match tls {
        Some(config) => builder.with_tls_config(Arc::unwrap_or_clone(config)),
        None => {
            match builder.with_provider_and_native_roots(rustls::crypto::ring::default_provider()) {
                Ok(b) => b,
                Err(e) if url.scheme_str() == Some("https") => return Err(RemoteJwksError::Tls(e)),
                // Plain http needs no roots: a host without any can still follow a loopback issuer.
                Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder_with_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| RemoteJwksError::Tls(std::io::Error::other(e)))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                ),
            }
        }
    };
    let https = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// One GET of the set, within the timeout: the ring, and how long it may be kept.
async fn get(
    client: &Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: &Uri,
    options: &RemoteJwksOptions,
) -> Result<(Keys, Duration), RemoteJwksError> {
    let request = Request::get(url.clone())
        .header(header::ACCEPT, "application/jwk-set+json, application/json")
        .body(Empty::new())
        .map_err(|e| RemoteJwksError::Fetch(e.to_string()))?;
    let fetch = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| RemoteJwksError::Fetch(with_causes(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(RemoteJwksError::Status(response.status().as_u16()));
        }
        let lifetime = lifetime(response.headers().get(header::CACHE_CONTROL), options);
        let body = Limited::new(response.into_body(), MAX_JWKS_LEN)
            .collect()
            .await
            .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
                Some(_) => RemoteJwksError::TooLong,
                None => RemoteJwksError::Fetch(e.to_string()),
            })?
            .to_bytes();
        let keys = parse_jwks(&body).map_err(RemoteJwksError::Jwks)?;
        Ok((keys, lifetime))
    };
    tokio::time::timeout(options.timeout, fetch)
        .await
        .map_err(|_| RemoteJwksError::Fetch(format!("no answer within {:?}", options.timeout)))?
}

/// An error and its causes on one line (hyper's own `Display` says only "client error").
fn with_causes(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The set's lifetime from the answer's `Cache-Control` (RFC 9111 §5.2.2): `max-age`, or the
/// default without one; `no-store` and `no-cache` mean the shortest. Always within the
/// interval and the ceiling.
fn lifetime(cache_control: Option<&HeaderValue>, options: &RemoteJwksOptions) -> Duration {
    let text = cache_control.and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut seconds = None;
    for directive in text.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        if name == "no-store" || name == "no-cache" {
            seconds = Some(0);
            break;
        }
        if name == "max-age" {
            seconds = value.trim().trim_matches('"').parse::<u64>().ok();
        }
    }
    seconds
        .map_or(options.default_max_age, Duration::from_secs)
        .max(options.min_refresh_interval)
        .min(options.max_age_ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes() {
        let o = RemoteJwksOptions::default();
        let at = |v: &str| lifetime(Some(&HeaderValue::from_str(v).unwrap()), &o).as_secs();
        assert_eq!(lifetime(None, &o).as_secs(), 300);
        assert_eq!(at("public, max-age=600"), 600);
        assert_eq!(at("Max-Age = \"120\""), 120);
        assert_eq!(at("max-age=1"), 30);
        assert_eq!(at("max-age=999999999999"), 86_400);
        assert_eq!(at("max-age=-5"), 300);
        assert_eq!(at("no-store, max-age=600"), 30);
        assert_eq!(at("private"), 300);
        // The interval above the ceiling: no panic, the ceiling wins.
        let odd = RemoteJwksOptions {
            min_refresh_interval: Duration::from_secs(100),
            max_age_ceiling: Duration::from_secs(10),
            ..RemoteJwksOptions::default()
        };
        assert_eq!(lifetime(None, &odd).as_secs(), 10);
    }

    #[test]
    fn urls() {
        for good in [
            "https://auth.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8000/.well-known/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(check_url(good, false).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://auth.example.com/jwks", "plain http"),
            ("https://user:pw@auth.example.com/jwks", "credentials"),
            ("ftp://auth.example.com/jwks", "scheme"),
            ("/jwks", "no host"),
            ("not a url", "not a URL"),
        ] {
            let e = check_url(bad, false).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_url("http://auth.example.com/jwks", true).is_ok());
    }
}
