//! #27 item 4: apps that verify but cannot mint. A `BearerAuth` built from public keys only (a
//! key set document, or one followed at a URL) accepts the issuer's EdDSA tokens and cannot
//! sign; a followed set is fetched again on an unknown `kid` at most once per interval, however
//! many random `kid`s arrive at once; it follows `Cache-Control`; it keeps the last good set
//! while the issuer is down or serves a bad one. The issuer is a local axum server whose
//! answer each test sets; the last test runs the example app against the real server binary.

mod common;

#[path = "../examples/verify-from-jwks.rs"]
#[allow(dead_code)] // reason: the example's `main` serves forever; the test uses its router.
mod example;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::{Ed25519Key, KeyRing};
use auth_std_server::BearerAuth;
use auth_std_server::auth::{AccountStatus, Rejection};
use auth_std_server::jwks::{RemoteJwks, RemoteJwksError, RemoteJwksOptions};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What the local issuer answers, and how often it was asked.
#[derive(Default)]
struct Issuer {
    answer: Mutex<(u16, String, String)>,
    delay: Mutex<Duration>,
    hits: AtomicU64,
}

impl Issuer {
    fn set(&self, status: u16, cache_control: &str, body: String) {
        *self.answer.lock().unwrap() = (status, cache_control.to_owned(), body);
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn serve(issuer: Arc<Issuer>) -> String {
    async fn answer(axum::extract::State(i): axum::extract::State<Arc<Issuer>>) -> Response {
        i.hits.fetch_add(1, Ordering::SeqCst);
        let delay = *i.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        let (status, cache, body) = i.answer.lock().unwrap().clone();
        let mut res = (StatusCode::from_u16(status).unwrap(), body).into_response();
        if !cache.is_empty() {
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_str(&cache).unwrap(),
            );
        }
        res
    }
    let router = axum::Router::new()
        .route("/jwks", axum::routing::get(answer))
        .with_state(issuer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/jwks")
}

fn signer(seed: u8, kid: &str) -> Ed25519Key {
    Ed25519Key::from_seed_with_kid(&[seed; 32], kid).unwrap()
}

fn jwk(key: &Ed25519Key) -> String {
    format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"{}","alg":"EdDSA","use":"sig"}}"#,
        URL_SAFE_NO_PAD.encode(key.public_key().as_bytes()),
        key.public_key().kid().unwrap()
    )
}

fn set(keys: &[&Ed25519Key]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| jwk(k)).collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

/// A token for `alice` signed by `key`.
fn token(key: &Ed25519Key) -> HeaderValue {
    let minter = BearerAuth::new(KeyRing::new(key.clone()).unwrap(), |_: &str| {
        AccountStatus::Active
    });
    let t = minter.issue("alice", auth_std_server::now()).unwrap();
    HeaderValue::from_str(&format!("Bearer {t}")).unwrap()
}

fn quick() -> RemoteJwksOptions {
    RemoteJwksOptions {
        min_refresh_interval: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        ..RemoteJwksOptions::default()
    }
}

async fn check(auth: &BearerAuth, token: &HeaderValue) -> Result<String, Rejection> {
    auth.authenticate::<()>(Some(token), auth_std_server::now())
        .await
        .map(|a| a.subject().to_owned())
}

fn refused(r: Result<String, Rejection>) -> bool {
    matches!(
        r,
        Err(Rejection::Auth(auth_core::flow::AuthError::InvalidToken))
    )
}

#[tokio::test]
async fn a_key_set_document_verifies_and_cannot_mint() {
    let a = signer(1, "a");
    let auth =
        BearerAuth::from_jwks(set(&[&a]).as_bytes(), |_: &str| AccountStatus::Active).unwrap();
    assert_eq!(check(&auth, &token(&a)).await.unwrap(), "alice");
    assert!(refused(check(&auth, &token(&signer(2, "a"))).await));
    assert_eq!(
        auth.issue("alice", 1).unwrap_err(),
        auth_core::EncodeError::CannotSign
    );
    // A private key handed to a verifier is refused, naming it.
    let private = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}","d":"{}","kid":"a"}}]}}"#,
        URL_SAFE_NO_PAD.encode(a.public_key().as_bytes()),
        URL_SAFE_NO_PAD.encode([1u8; 32])
    );
    let e = BearerAuth::from_jwks(private.as_bytes(), |_: &str| AccountStatus::Active)
        .unwrap_err()
        .to_string();
    assert!(e.contains("key 1 (kid \"a\"): a private key"), "{e}");
}

#[tokio::test]
async fn a_new_kid_fetches_once_and_then_verifies() {
    let issuer = Arc::new(Issuer::default());
    let (a, b) = (signer(1, "a"), signer(2, "b"));
    issuer.set(200, "max-age=3600", set(&[&a]));
    let url = serve(Arc::clone(&issuer)).await;
    let jwks = RemoteJwks::fetch(&url, quick()).await.unwrap();
    let auth = BearerAuth::remote(Arc::clone(&jwks), |_: &str| AccountStatus::Active);
    assert_eq!(check(&auth, &token(&a)).await.unwrap(), "alice");
    assert_eq!(issuer.hits(), 1);
    // The issuer rotates `b` in; the first `b` token waits for one fetch and passes.
    issuer.set(200, "max-age=3600", set(&[&a, &b]));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(check(&auth, &token(&b)).await.unwrap(), "alice");
    assert_eq!(issuer.hits(), 2);
    assert_eq!(check(&auth, &token(&b)).await.unwrap(), "alice");
    assert_eq!(check(&auth, &token(&a)).await.unwrap(), "alice");
    assert_eq!(issuer.hits(), 2, "known kids fetch nothing");
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn random_kids_cannot_make_it_hammer_the_issuer() {
    let issuer = Arc::new(Issuer::default());
    let a = signer(1, "a");
    issuer.set(200, "max-age=3600", set(&[&a]));
    let url = serve(Arc::clone(&issuer)).await;
    let jwks = RemoteJwks::fetch(&url, quick()).await.unwrap();
    let auth = Arc::new(BearerAuth::remote(jwks, |_: &str| AccountStatus::Active));
    tokio::time::sleep(Duration::from_millis(350)).await;
    // 64 tokens at once, each naming a kid of its own that no set holds.
    let tokens: Vec<HeaderValue> = (0..64)
        .map(|i| token(&signer(9, &format!("r{i}"))))
        .collect();
    // Fetches from here on are at least the interval apart: the first is the one these
    // tokens cause, then at most one per interval elapsed. On a machine that keeps this
    // test from running for longer than an interval, that is what can be asserted.
    let began = Instant::now();
    let most = || 2 + (began.elapsed().as_millis() / quick().min_refresh_interval.as_millis());
    let mut tasks = Vec::new();
    for t in tokens.clone() {
        let auth = Arc::clone(&auth);
        tasks.push(tokio::spawn(async move { check(&auth, &t).await }));
    }
    for t in tasks {
        assert!(refused(t.await.unwrap()));
    }
    assert!(
        (2..=most()).contains(&u128::from(issuer.hits())),
        "one fetch for all 64"
    );
    for t in &tokens {
        assert!(refused(check(&auth, t).await));
    }
    assert!(
        (2..=most()).contains(&u128::from(issuer.hits())),
        "none within the interval"
    );
    let hits = issuer.hits();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(refused(check(&auth, &tokens[0]).await));
    assert_eq!(issuer.hits(), hits + 1, "one more after it");
}

#[tokio::test]
async fn follows_cache_control_and_keeps_the_last_good_set() {
    let issuer = Arc::new(Issuer::default());
    let (a, b) = (signer(1, "a"), signer(2, "b"));
    // max-age=0 is held to the interval (300 ms): then the set is stale.
    issuer.set(200, "max-age=0", set(&[&a]));
    let url = serve(Arc::clone(&issuer)).await;
    let jwks = RemoteJwks::fetch(&url, quick()).await.unwrap();
    let auth = BearerAuth::remote(Arc::clone(&jwks), |_: &str| AccountStatus::Active);
    let (ta, tb) = (token(&a), token(&b));

    // The issuer is down: a stale set is still served, and the failed refresh counted.
    issuer.set(503, "", "down".into());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(check(&auth, &ta).await.unwrap(), "alice");
    wait_for(|| jwks.failures() == 1).await;
    assert_eq!(check(&auth, &ta).await.unwrap(), "alice");

    // Then it serves a set this verifier refuses (a private key): kept, again.
    let bad = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}","d":"AAAA","kid":"b"}}]}}"#,
        URL_SAFE_NO_PAD.encode(b.public_key().as_bytes())
    );
    issuer.set(200, "max-age=0", bad);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(refused(check(&auth, &tb).await));
    assert_eq!(jwks.failures(), 2);
    assert_eq!(check(&auth, &ta).await.unwrap(), "alice");

    // Back up with `b` only: the stale set is refreshed in the background, and `a` is gone.
    issuer.set(200, "max-age=3600", set(&[&b]));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let _ = check(&auth, &ta).await;
    wait_for(|| jwks.keys().get("a").is_none()).await;
    assert!(refused(check(&auth, &ta).await));
    assert_eq!(check(&auth, &tb).await.unwrap(), "alice");
    let hits = issuer.hits();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(check(&auth, &tb).await.unwrap(), "alice");
    // A refresh would run in the background: give it the time to reach the issuer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(issuer.hits(), hits, "max-age=3600: no fetch");
}

/// The first fetch's max-age counts too: a set inside it is not fetched again, however many
/// tokens are checked after the refresh interval.
#[tokio::test]
async fn a_fresh_first_set_is_not_fetched_again() {
    let issuer = Arc::new(Issuer::default());
    let a = signer(1, "a");
    issuer.set(200, "max-age=3600", set(&[&a]));
    let url = serve(Arc::clone(&issuer)).await;
    let jwks = RemoteJwks::fetch(&url, quick()).await.unwrap();
    let auth = BearerAuth::remote(Arc::clone(&jwks), |_: &str| AccountStatus::Active);
    let ta = token(&a);
    tokio::time::sleep(Duration::from_millis(350)).await;
    for _ in 0..3 {
        assert_eq!(check(&auth, &ta).await.unwrap(), "alice");
    }
    // A refused token whose `kid` the set has (here, signed by another key): a fetch cannot
    // help, so none is made.
    let forged = token(&signer(9, "a"));
    assert!(refused(check(&auth, &forged).await));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((issuer.hits(), jwks.fetches()), (1, 1));
    assert!(format!("{jwks:?}").contains(&url), "{jwks:?}");
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 2 s");
}

#[tokio::test]
async fn a_first_fetch_that_fails_says_why() {
    let issuer = Arc::new(Issuer::default());
    let url = serve(Arc::clone(&issuer)).await;
    let cases = [
        (404, String::new(), "answered 404"),
        (302, String::new(), "answered 302"),
        (200, "{".repeat(10), "not a key set"),
        (
            200,
            format!(r#"{{"keys":[],"p":"{}"}}"#, "a".repeat(70_000)),
            "over 65536",
        ),
        (
            200,
            r#"{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}"#.to_owned(),
            "key 1 (kid \"r\"): kty is \"RSA\"",
        ),
    ];
    for (status, body, want) in cases {
        issuer.set(status, "", body);
        let e = RemoteJwks::fetch(&url, quick())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{status}: {e}");
    }
    // An issuer slower than the timeout.
    issuer.set(200, "", set(&[&signer(1, "a")]));
    *issuer.delay.lock().unwrap() = Duration::from_secs(3);
    let e = RemoteJwks::fetch(&url, quick()).await.unwrap_err();
    assert!(matches!(e, RemoteJwksError::Fetch(_)), "{e}");
    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = RemoteJwks::fetch(&format!("http://127.0.0.1:{port}/jwks"), quick())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("fetching the key set failed"), "{e}");
    // With its cause: hyper's own text says only "client error (Connect)".
    assert!(e.to_lowercase().contains("connection refused"), "{e}");
    let e = RemoteJwks::fetch("http://auth.example.com/jwks", quick())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain http"), "{e}");
}

/// The example app, verifying the real server's EdDSA tokens from its JWKS URL.
#[test]
fn the_example_verifies_the_servers_eddsa_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::run_server(dir.path(), &["--signing-alg", "EdDSA"], "warn");
    let pw = common::admin_password(dir.path());
    let token = common::access_token(&common::login_raw(server.addr, "admin", &pw));
    let url = format!("http://{}/.well-known/jwks.json", server.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let auth = example::bearer_auth(&url, RemoteJwksOptions::default())
            .await
            .unwrap();
        assert!(!auth.keys().signing_key().can_sign());
        let call = |token: String| {
            let app = example::app(Arc::clone(&auth));
            async move {
                let req = axum::http::Request::get("/hello")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                common::call(app, req, [127, 0, 0, 1]).await
            }
        };
        let r = call(token.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, "hello, admin\n");
        // A token the issuer did not sign: 401 invalid_token.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        let r = call(forged).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    });
}
