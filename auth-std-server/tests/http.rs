//! One `oneshot` test per row of the HTTP contract (issue #5), on SQLite, or on PostgreSQL
//! with `AUTH_TEST_STORE=postgres`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::{FlowClaims, SubjectClaim};
use auth_core::password::{Policy, hash_password};
use auth_core::{Claims, Hs256Key, JsonStr, KeyRing};
use auth_std_server::{AppState, HashPool, Settings, State, app};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const PASSLIB_WONDERLAND: &str =
    "$pbkdf2-sha256$29000$ABEiM0RVZneImaq7zN3u/w$t.ewNkTwQ38Rdza3x3Vlsk6UGpwPiXMhh77TbhLEvBA";

struct Server {
    state: AppState,
    _dir: tempfile::TempDir,
}

fn phc(password: &str) -> String {
    let mut out = [0u8; 160];
    hash_password(
        password.as_bytes(),
        b"0123456789abcdef",
        &Policy::new().with_rounds(1000),
        &mut out,
    )
    .unwrap()
    .to_owned()
}

async fn server_with(settings: Settings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "alice\tactive\t{}\nbob\tdisabled\t{}\nlegacy\tactive\t{PASSLIB_WONDERLAND}\n",
        phc("wonderland"),
        phc("builder")
    );
    let store = common::store_with(dir.path(), &text).await;
    let keys = KeyRing::new(Hs256Key::with_kid(SECRET, "k1").unwrap()).unwrap();
    let state = Arc::new(State::new(
        keys,
        settings,
        store,
        HashPool::new(2, 8),
        auth_std_server::throttle::Throttle::default(),
    ));
    Server { state, _dir: dir }
}

fn settings() -> Settings {
    Settings {
        policy: Policy::new().with_rounds(1000),
        ..Settings::default()
    }
}

async fn server() -> Server {
    server_with(settings()).await
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(s: &Server, req: Request<Body>) -> Reply {
    let res: Response<Body> = app(Arc::clone(&s.state)).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let r = Reply {
        status,
        headers,
        body,
    };
    // Every response, whatever it is, carries the timing header with exactly two decimals.
    let ms = r
        .header("x-duration-ms")
        .unwrap_or_else(|| panic!("no X-Duration-MS on {status}"));
    let (int, frac) = ms.split_once('.').unwrap();
    assert!(
        int.bytes().all(|b| b.is_ascii_digit()) && !int.is_empty() && frac.len() == 2,
        "{ms}"
    );
    r
}

fn form(body: &str) -> Request<Body> {
    Request::post("/auth/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn get(path: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::empty()).unwrap()
}

async fn login(s: &Server, user: &str, pw: &str) -> String {
    let r = send(s, form(&format!("username={user}&password={pw}"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_ok() {
    let s = server().await;
    let r = send(&s, form("grant_type=password&username=alice&password=wonderland&scope=a+b&client_id=c&client_secret=d")).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    assert_eq!(j["token_type"], "bearer");
    assert_eq!(j["expires_in"], 2700);
    // The seed's three fields, and the refresh token sessions add (#13).
    assert_eq!(j.as_object().unwrap().len(), 4);
    assert_eq!(j["refresh_token"].as_str().unwrap().len(), 43);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

/// A `multipart/form-data` login request with the given fields, in order.
fn multipart(fields: &[(&str, &str)]) -> Request<Body> {
    let boundary = "XyZ";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Request::post("/auth/session")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn login_multipart() {
    let s = server().await;
    let r = send(
        &s,
        multipart(&[("username", "alice"), ("password", "wonderland")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["access_token"].is_string());
    // A repeated multipart field is refused like a repeated urlencoded one.
    let r = send(
        &s,
        multipart(&[
            ("username", "alice"),
            ("username", "bob"),
            ("password", "x"),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["type"], "repeated_field");
}

#[tokio::test]
async fn wrong_password_and_unknown_user() {
    let s = server().await;
    for body in [
        "username=alice&password=nope",
        "username=nobody&password=wonderland",
    ] {
        let r = send(&s, form(body)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, r#"{"detail":"Authentication failed"}"#);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn disabled_account_with_right_password() {
    let s = server().await;
    let r = send(&s, form("username=bob&password=builder")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, r#"{"detail":"Access restricted"}"#);
    assert_eq!(r.header("www-authenticate"), None);
    // Wrong password on a disabled account reveals nothing.
    let r = send(&s, form("username=bob&password=nope")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unprocessable_forms() {
    let s = server().await;
    let missing_both = serde_json::json!({"detail": [
        {"type":"missing","loc":["body","username"],"msg":"Field required","input":null},
        {"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]});
    let cases: Vec<(Request<Body>, serde_json::Value)> = vec![
        (form(""), missing_both.clone()),
        (form("username=&password="), missing_both.clone()),
        (
            form("username=alice"),
            serde_json::json!({"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]}),
        ),
        (
            Request::post("/auth/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    r#"{"username":"alice","password":"wonderland"}"#,
                ))
                .unwrap(),
            missing_both.clone(),
        ),
        (
            Request::post("/auth/session")
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("username=alice&password=wonderland"))
                .unwrap(),
            missing_both.clone(),
        ),
        (
            Request::post("/auth/session").body(Body::empty()).unwrap(),
            missing_both.clone(),
        ),
        (
            form("grant_type=client_credentials&username=alice&password=wonderland"),
            serde_json::json!({"detail":[{"type":"string_pattern_mismatch","loc":["body","grant_type"],
                "msg":"String should match pattern '^password$'","input":"client_credentials","ctx":{"pattern":"^password$"}}]}),
        ),
        (
            form("username=alice&password=wonderland&password=other"),
            serde_json::json!({"detail":[{"type":"repeated_field","loc":["body","password"],"msg":"Field must be given only once","input":null}]}),
        ),
    ];
    for (req, expected) in cases {
        let r = send(&s, req).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json(), expected);
    }
}

#[tokio::test]
async fn protected_routes_with_a_valid_token() {
    let s = server().await;
    let token = login(&s, "alice", "wonderland").await;
    let r = send(
        &s,
        get("/secure-resource", Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        serde_json::json!({"status":"success","received_token_prefix": format!("{}...", &token[..8])})
    );
    let r = send(
        &s,
        get("/dashboard/metrics", Some(&format!("bearer {token}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, r#"{"owner":"alice","view":"allowed"}"#);
}

#[tokio::test]
async fn not_authenticated() {
    let s = server().await;
    for auth in [
        None,
        Some("Basic YWxpY2U6d29uZGVybGFuZA=="),
        Some("Token abc"),
        Some("Bearerabc"),
    ] {
        for path in ["/secure-resource", "/dashboard/metrics"] {
            let r = send(&s, get(path, auth)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(r.body, r#"{"detail":"Not authenticated"}"#);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
}

fn sign(key: &Hs256Key, claims: &impl serde::Serialize) -> String {
    let mut out = [0u8; 1024];
    key.sign(claims, &mut out).unwrap().to_owned()
}

#[tokio::test]
async fn invalid_tokens() {
    let s = server().await;
    let now = auth_std_server::now();
    let key = Hs256Key::with_kid(SECRET, "k1").unwrap();
    let good = login(&s, "alice", "wonderland").await;
    let mut tampered = good.clone().into_bytes();
    let i = good.find('.').unwrap() + 3;
    tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let expired = sign(
        &key,
        &Claims::new()
            .with_subject("alice")
            .with_lifetime(now - 3000, 2700),
    );
    let other_key = sign(
        &Hs256Key::with_kid(b"another-secret-another-secret-!!", "k1").unwrap(),
        &Claims::new().with_subject("alice").with_lifetime(now, 2700),
    );
    let unknown_kid = sign(
        &Hs256Key::with_kid(SECRET, "k2").unwrap(),
        &Claims::new().with_subject("alice").with_lifetime(now, 2700),
    );
    let no_subject = sign(&key, &Claims::new().with_lifetime(now, 2700));
    let uid_only = sign(
        &key,
        &FlowClaims {
            uid: Some(JsonStr::new("alice")),
            iat: Some(now),
            exp: Some(now + 60),
            ..Default::default()
        },
    );
    let alg_none =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    let hs512 = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.waxiMdLmcEEujsO2XH7x05youzWcXbeYDvSQicfHr1OEhoqBsNSUyVFT4AAfu3N9fRIr4Z_fGTc7HZm3Sh31EA";
    let long = "a".repeat(9000);
    for token in [
        "",
        "   ",
        "abc",
        "a.b.c",
        &tampered,
        &expired,
        &other_key,
        &unknown_kid,
        &no_subject,
        &uid_only,
        alg_none,
        hs512,
        &long,
    ] {
        let r = send(
            &s,
            get("/dashboard/metrics", Some(&format!("Bearer {token}"))),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(r.body, r#"{"detail":"Invalid or malformed signature"}"#);
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
    }
}

#[tokio::test]
async fn valid_token_for_disabled_removed_or_unknown_account() {
    let s = server().await;
    let now = auth_std_server::now();
    let key = Hs256Key::with_kid(SECRET, "k1").unwrap();
    let token = login(&s, "alice", "wonderland").await;
    for name in ["bob", "nobody"] {
        let t = sign(
            &key,
            &Claims::new().with_subject(name).with_lifetime(now, 60),
        );
        let r = send(&s, get("/secure-resource", Some(&format!("Bearer {t}")))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(r.body, r#"{"detail":"Access restricted"}"#);
    }
    let dashboard = || get("/dashboard/metrics", Some(&format!("Bearer {token}")));
    assert_eq!(send(&s, dashboard()).await.status, StatusCode::OK);
    // Disable alice in the store (as the CLI would): refused within a second.
    let now = auth_std_server::now();
    s.state.store.set_active("alice", false, now).await.unwrap();
    let forbidden = StatusCode::FORBIDDEN;
    assert_eq!(within_a_second(&s, dashboard, forbidden).await, forbidden);
    s.state.store.set_active("alice", true, now).await.unwrap();
    // Disabling revoked the token's session (#13): enabled again, the old token gets 401, a
    // new login's works.
    let unauthorized = StatusCode::UNAUTHORIZED;
    assert_eq!(
        within_a_second(&s, dashboard, unauthorized).await,
        unauthorized
    );
    let token = login(&s, "alice", "wonderland").await;
    let dashboard = || get("/dashboard/metrics", Some(&format!("Bearer {token}")));
    assert_eq!(send(&s, dashboard()).await.status, StatusCode::OK);
    s.state
        .store
        .remove("alice", auth_std_server::now())
        .await
        .unwrap();
    let forbidden = StatusCode::FORBIDDEN;
    assert_eq!(within_a_second(&s, dashboard, forbidden).await, forbidden);
}

/// Sends `req()` until it gets `want`, for at most one second; the last status.
async fn within_a_second(
    s: &Server,
    req: impl Fn() -> Request<Body>,
    want: StatusCode,
) -> StatusCode {
    let t0 = std::time::Instant::now();
    loop {
        let got = send(s, req()).await.status;
        if got == want || t0.elapsed() > Duration::from_secs(1) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn not_found_method_not_allowed_and_too_large() {
    let s = server().await;
    let r = send(&s, get("/nope", None)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#)
    );
    let r = send(&s, get("/auth/session", None)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"detail":"Method Not Allowed"}"#
        )
    );
    assert_eq!(r.header("allow"), Some("POST"));
    let r = send(
        &s,
        Request::post("/dashboard/metrics")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = send(&s, form(&"a".repeat(16 * 1024 + 1))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["detail"], "Payload Too Large");
    // Exactly at the limit is processed (and fails as a form).
    let r = send(&s, form(&"a".repeat(16 * 1024))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn uid_subject_claim() {
    let s = server_with(Settings {
        subject_claim: SubjectClaim::Uid,
        ..settings()
    })
    .await;
    let token = login(&s, "alice", "wonderland").await;
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["uid"], "alice");
    assert!(claims.get("sub").is_none());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        2700
    );
    let r = send(
        &s,
        get("/dashboard/metrics", Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(r.body, r#"{"owner":"alice","view":"allowed"}"#);
}

#[tokio::test]
async fn legacy_hash_is_upgraded_after_login() {
    let s = server().await;
    let stored = |s: &Server| {
        let store = s.state.store.clone();
        async move {
            let row = store.account("legacy").await.unwrap().unwrap();
            row.user.hash().to_owned()
        }
    };
    let before = stored(&s).await;
    assert!(before.starts_with("$pbkdf2-sha256$29000$"));
    login(&s, "legacy", "wonderland-42").await;
    let mut after = before.clone();
    for _ in 0..200 {
        after = stored(&s).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(after.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{after}");
    // The upgraded hash still logs in, and the store has it.
    login(&s, "legacy", "wonderland-42").await;
    assert_eq!(stored(&s).await, after);
}

/// The cache follows the change feed past any number of changes: a follower that looked back
/// over a fixed window once stopped seeing new changes after about a thousand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_after_thousands_of_changes_is_still_seen() {
    let s = server().await;
    let token = login(&s, "alice", "wonderland").await;
    let dashboard = || get("/dashboard/metrics", Some(&format!("Bearer {token}")));
    let ok = StatusCode::OK;
    assert_eq!(within_a_second(&s, dashboard, ok).await, ok);
    let now = auth_std_server::now();
    for i in 0..2_500 {
        s.state
            .store
            .set_active("bob", i % 2 == 0, now)
            .await
            .unwrap();
    }
    s.state.store.set_active("alice", false, now).await.unwrap();
    let forbidden = StatusCode::FORBIDDEN;
    assert_eq!(within_a_second(&s, dashboard, forbidden).await, forbidden);
}

/// A change committed after an account was cached but before the follower read its starting
/// position was never seen: the follower now starts from an empty cache.
#[tokio::test]
async fn a_change_made_before_the_follower_starts_is_not_missed() {
    use auth_std_server::account_cache::{AccountCache, follow};
    use auth_std_server::auth::{AccountStatus, Accounts};
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_with(
        dir.path(),
        &format!("alice\tactive\t{}\n", phc("wonderland")),
    )
    .await;
    let cache = std::sync::Arc::new(AccountCache::new(
        store.clone(),
        16,
        Duration::from_secs(30),
    ));
    assert_eq!(cache.load("alice").await, AccountStatus::Active);
    assert_eq!(cache.cached("alice"), Some(AccountStatus::Active));
    store
        .set_active("alice", false, auth_std_server::now())
        .await
        .unwrap();
    let _follower = follow(std::sync::Arc::clone(&cache), None);
    let t0 = std::time::Instant::now();
    while cache.cached("alice") == Some(AccountStatus::Active) {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "the disable was missed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = match cache.cached("alice") {
        Some(s) => s,
        None => cache.load("alice").await,
    };
    assert_eq!(status, AccountStatus::Disabled);
}
