//! Sessions (#13) over HTTP, in process: refresh with rotation, reuse detection, revocation,
//! limits, bad input and floods. On SQLite, or on PostgreSQL with `AUTH_TEST_STORE=postgres`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::FlowClaims;
use auth_core::session::SessionLimits;
use auth_core::{Hs256Key, JsonStr};
use auth_std_server::settings::SessionSettings;
use auth_std_server::{AppState, Settings, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use common::{Reply, SECRET, phc};

const INVALID_GRANT: &str = r#"{"error":"invalid_grant","error_description":"The refresh token is invalid, expired or revoked"}"#;

struct Server {
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn server_with(sessions: SessionSettings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    // Since #24 a login is granted only scopes the server defines and the account may have:
    // alice may have `read` and `write` (the scope tests ask for them).
    let users = format!(
        "alice\tactive\t{}\tread write\nbob\tactive\t{}\n",
        phc("wonderland"),
        phc("builder")
    );
    // Every refresh rotates here: these tests are about rotation (the minimum interval
    // between rotations has its own, in round3.rs).
    let settings = Settings {
        sessions: SessionSettings {
            min_rotation_interval: 0,
            ..sessions
        },
        scopes: vec!["read=Read".parse().unwrap(), "write=Write".parse().unwrap()],
        ..Settings::default()
    };
    let state = common::state_with(dir.path(), &users, settings).await;
    Server { state, _dir: dir }
}

async fn server() -> Server {
    server_with(SessionSettings::default()).await
}

async fn send(s: &Server, req: Request<Body>, ip: [u8; 4]) -> Reply {
    common::call(app(Arc::clone(&s.state)), req, ip).await
}

fn post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::USER_AGENT, "sessions-test/1")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

const IP: [u8; 4] = [10, 1, 0, 1];

struct Tokens {
    access: String,
    refresh: String,
}

fn tokens(r: &Reply) -> Tokens {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    Tokens {
        access: j["access_token"].as_str().unwrap().to_owned(),
        refresh: j["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn login(s: &Server, user: &str, pw: &str) -> Tokens {
    tokens(
        &send(
            s,
            post("/auth/session", &format!("username={user}&password={pw}")),
            IP,
        )
        .await,
    )
}

async fn refresh(s: &Server, token: &str) -> Reply {
    send(
        s,
        post(
            "/auth/session",
            &format!("grant_type=refresh_token&refresh_token={token}"),
        ),
        IP,
    )
    .await
}

async fn revoke(s: &Server, body: &str) -> Reply {
    send(s, post("/auth/revoke", body), IP).await
}

async fn dashboard(s: &Server, access: &str) -> StatusCode {
    let req = Request::get("/dashboard/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    send(s, req, IP).await.status
}

fn claims(access: &str) -> serde_json::Value {
    let payload = access.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An access token of session `sid` for alice that expired at `exp`, signed with `key`.
fn sign_with_sid(key: &Hs256Key, sid: &str, exp: u64) -> String {
    let claims = FlowClaims {
        sub: Some(JsonStr::new("alice")),
        sid: Some(JsonStr::new(sid)),
        iat: Some(exp - 60),
        exp: Some(exp),
        ..Default::default()
    };
    let mut out = [0u8; 1024];
    key.sign(&claims, &mut out).unwrap().to_owned()
}

fn assert_invalid_grant(r: &Reply) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body, INVALID_GRANT);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["content-type"], "application/json");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let s = server().await;
    let first = login(&s, "alice", "wonderland").await;
    let sid = claims(&first.access)["sid"].as_str().unwrap().to_owned();
    assert_eq!(sid.len(), 22);
    assert_eq!(dashboard(&s, &first.access).await, StatusCode::OK);

    let r = refresh(&s, &first.refresh).await;
    let j = r.json();
    assert_eq!(j["token_type"], "bearer");
    assert_eq!(j["expires_in"], 2700);
    assert_eq!(j.as_object().unwrap().len(), 4);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["pragma"], "no-cache");
    let second = tokens(&r);
    assert_ne!(
        second.refresh, first.refresh,
        "a new refresh token every time"
    );
    assert_eq!(claims(&second.access)["sid"], sid, "same session");
    assert_eq!(claims(&second.access)["sub"], "alice");
    assert_eq!(dashboard(&s, &second.access).await, StatusCode::OK);
    let third = tokens(&refresh(&s, &second.refresh).await);

    // The rotated-out token is reuse: refused, and the session is gone with it.
    assert_invalid_grant(&refresh(&s, &first.refresh).await);
    assert_invalid_grant(&refresh(&s, &third.refresh).await);
    for access in [&first.access, &second.access, &third.access] {
        assert_eq!(dashboard(&s, access).await, StatusCode::UNAUTHORIZED);
    }
    let req = Request::get("/secure-resource")
        .header(header::AUTHORIZATION, format!("Bearer {}", third.access))
        .body(Body::empty())
        .unwrap();
    let r = send(&s, req, IP).await;
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    // Another session of the same user is untouched.
    let other = login(&s, "alice", "wonderland").await;
    assert_eq!(dashboard(&s, &other.access).await, StatusCode::OK);
    assert_eq!(refresh(&s, &other.refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_refresh_tokens_get_invalid_grant_and_write_nothing() {
    let s = server().await;
    let t = login(&s, "alice", "wonderland").await;
    let before = s.state.store.sessions_of("alice").await.unwrap();
    let feed = s.state.store.last_revocation().await.unwrap();
    let canonical_last = {
        // 43 characters whose last one has non-zero unused bits: not canonical base64url.
        let mut x = "A".repeat(42);
        x.push('B');
        x
    };
    for bad in [
        "x".to_owned(),
        "A".repeat(42),
        "A".repeat(44),
        "A".repeat(10_000),
        canonical_last,
        "%00%01%02".to_owned(),
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!".to_owned(),
        // Well-formed but unknown.
        "A".repeat(43),
        // Its own access token.
        t.access.clone(),
    ] {
        assert_invalid_grant(&refresh(&s, &bad).await);
    }
    assert_eq!(s.state.store.sessions_of("alice").await.unwrap(), before);
    assert_eq!(s.state.store.last_revocation().await.unwrap(), feed);
    // Still the current token: nothing was revoked by the garbage.
    assert_eq!(refresh(&s, &t.refresh).await.status, StatusCode::OK);

    // No refresh token: invalid_request; repeated fields: 422, as for the password grant.
    let r = send(&s, post("/auth/session", "grant_type=refresh_token"), IP).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_request");
    for body in [
        "grant_type=refresh_token&refresh_token=a&refresh_token=b",
        "grant_type=refresh_token&grant_type=refresh_token&refresh_token=a",
        "grant_type=refresh_token&refresh_token=a&scope=x&scope=y",
    ] {
        let r = send(&s, post("/auth/session", body), IP).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.json()["detail"][0]["type"], "repeated_field", "{body}");
    }
    // An unknown grant type keeps the seed's 422.
    let r = send(
        &s,
        post("/auth/session", "grant_type=client_credentials"),
        IP,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn multipart_refresh_works_too() {
    let s = server().await;
    let t = login(&s, "alice", "wonderland").await;
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nrefresh_token\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"refresh_token\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        t.refresh
    );
    let req = Request::post("/auth/session")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let r = send(&s, req, IP).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn scope_may_narrow_but_not_widen() {
    let s = server().await;
    let t = tokens(
        &send(
            &s,
            post(
                "/auth/session",
                "username=alice&password=wonderland&scope=read+write",
            ),
            IP,
        )
        .await,
    );
    assert_eq!(claims(&t.access)["scope"], "read write");
    let r = send(
        &s,
        post(
            "/auth/session",
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=admin",
                t.refresh
            ),
        ),
        IP,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_scope");
    // Not rotated, not revoked: the same token still refreshes, narrower.
    let r = send(
        &s,
        post(
            "/auth/session",
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=read",
                t.refresh
            ),
        ),
        IP,
    )
    .await;
    let narrow = tokens(&r);
    assert_eq!(claims(&narrow.access)["scope"], "read");
    // Without a scope, the session's own.
    let again = tokens(&refresh(&s, &narrow.refresh).await);
    assert_eq!(claims(&again.access)["scope"], "read write");
}

#[tokio::test]
async fn disabled_removed_or_password_changed_accounts_cannot_refresh() {
    let s = server().await;
    let store = &s.state.store;
    let now = auth_std_server::now();

    let t = login(&s, "alice", "wonderland").await;
    store.set_active("alice", false, now).await.unwrap();
    assert_invalid_grant(&refresh(&s, &t.refresh).await);
    store.set_active("alice", true, now).await.unwrap();
    // Enabled again, the session stays revoked.
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    let t = login(&s, "alice", "wonderland").await;
    let user = auth_std_server::users::User::new(&phc("new-password"), true).unwrap();
    store.set_password("alice", &user, now).await.unwrap();
    assert_invalid_grant(&refresh(&s, &t.refresh).await);
    // Revoked in the store behind the server's back: the feed brings it within a second.
    let t0 = std::time::Instant::now();
    while dashboard(&s, &t.access).await != StatusCode::UNAUTHORIZED {
        // The feed polls every 250 ms; 5 s leaves room for a loaded machine.
        assert!(t0.elapsed() < Duration::from_secs(5), "still accepted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let t = login(&s, "bob", "builder").await;
    store.remove("bob", auth_std_server::now()).await.unwrap();
    assert_invalid_grant(&refresh(&s, &t.refresh).await);
}

#[tokio::test]
async fn revoke_accepts_either_token_and_answers_200_for_anything_well_formed() {
    let s = server().await;
    // By refresh token.
    let t = login(&s, "alice", "wonderland").await;
    let r = revoke(
        &s,
        &format!("token={}&token_type_hint=refresh_token", t.refresh),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(dashboard(&s, &t.access).await, StatusCode::UNAUTHORIZED);
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    // By access token (the hint is only a hint).
    let t = login(&s, "alice", "wonderland").await;
    let r = revoke(
        &s,
        &format!("token={}&token_type_hint=refresh_token", t.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(dashboard(&s, &t.access).await, StatusCode::UNAUTHORIZED);
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    // By an access token that expired long ago: not a logout any more (#22 item 11).
    let t = login(&s, "alice", "wonderland").await;
    let sid = claims(&t.access)["sid"].as_str().unwrap().to_owned();
    let key = Hs256Key::with_kid(SECRET, "k1").unwrap();
    let stale = sign_with_sid(&key, &sid, 1_060);
    assert_eq!(
        revoke(&s, &format!("token={stale}")).await.status,
        StatusCode::OK
    );
    assert_eq!(dashboard(&s, &t.access).await, StatusCode::OK);
    // By one that expired a minute ago: still a logout.
    let expired = sign_with_sid(&key, &sid, auth_std_server::now() - 60);
    assert_eq!(
        revoke(&s, &format!("token={expired}")).await.status,
        StatusCode::OK
    );
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    // Unknown, forged or junk: 200 all the same, and nothing else is touched.
    let keep = login(&s, "bob", "builder").await;
    let forged = {
        let other = Hs256Key::with_kid(b"another-key-another-key-another-k", "k1").unwrap();
        sign_with_sid(&other, claims(&keep.access)["sid"].as_str().unwrap(), 1_060)
    };
    for body in [
        format!("token={}", "A".repeat(43)),
        "token=junk".to_owned(),
        format!("token={forged}"),
        "token=junk&token_type_hint=something_else".to_owned(),
    ] {
        let r = revoke(&s, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{body}");
    }
    assert_eq!(dashboard(&s, &keep.access).await, StatusCode::OK);
    // Not well-formed: no token, a repeated field.
    let r = revoke(&s, "token_type_hint=refresh_token").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_request");
    let r = revoke(&s, "token=a&token=b").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_new_login_beyond_the_limit_revokes_the_oldest_session() {
    let s = server_with(SessionSettings {
        max_per_user: 3,
        ..SessionSettings::default()
    })
    .await;
    let mut all = Vec::new();
    for _ in 0..4 {
        all.push(login(&s, "alice", "wonderland").await);
    }
    let live = s.state.store.sessions_of("alice").await.unwrap();
    assert_eq!(live.len(), 3);
    let sid = |t: &Tokens| claims(&t.access)["sid"].as_str().unwrap().to_owned();
    assert!(live.iter().all(|x| x.id != sid(&all[0])), "the oldest went");
    assert!(
        live.iter().any(|x| x.id == sid(&all[3])),
        "the newest stays"
    );
    assert_eq!(live[0].address, "10.1.0.1");
    assert_eq!(live[0].user_agent, "sessions-test/1");
    assert_eq!(
        dashboard(&s, &all[0].access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_invalid_grant(&refresh(&s, &all[0].refresh).await);
    for t in &all[1..] {
        assert_eq!(dashboard(&s, &t.access).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn lifetime_and_idle_timeout_end_sessions_and_the_sweep_deletes_them() {
    // Idle: 2 s without a refresh. (It was 1 s, and times are whole seconds: a login and its
    // first refresh more than 1 s apart on a loaded CI machine met the idle limit.)
    let s = server_with(SessionSettings {
        limits: SessionLimits {
            idle: 2,
            ..SessionLimits::new()
        },
        ..SessionSettings::default()
    })
    .await;
    let t = login(&s, "alice", "wonderland").await;
    let t = tokens(&refresh(&s, &t.refresh).await);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    // Lifetime: 2 s from login, refreshed or not.
    let s = server_with(SessionSettings {
        limits: SessionLimits {
            lifetime: 2,
            ..SessionLimits::new()
        },
        ..SessionSettings::default()
    })
    .await;
    let mut t = login(&s, "alice", "wonderland").await;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_millis(900) {
        t = tokens(&refresh(&s, &t.refresh).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_invalid_grant(&refresh(&s, &t.refresh).await);

    // The sweep deletes the expired session and its rotated-out hashes.
    let now = auth_std_server::now();
    assert_eq!(s.state.store.sessions_of("alice").await.unwrap().len(), 1);
    let n = s
        .state
        .store
        .sweep_sessions(now - 2, now - 7 * 86_400, now - 3600)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(s.state.store.sessions_of("alice").await.unwrap().is_empty());
}

/// Two truly concurrent refreshes of one token, with no grace: the conditional rotation lets
/// exactly one win; the other finds the token rotated out, which is reuse, so the session is
/// revoked and the winner's new token dies too (SECURITY.md argues why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_refreshes_of_one_token() {
    let s = server().await;
    for _ in 0..5 {
        let t = login(&s, "alice", "wonderland").await;
        let (a, b) = tokio::join!(refresh(&s, &t.refresh), refresh(&s, &t.refresh));
        let oks: Vec<&Reply> = [&a, &b]
            .into_iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert!(oks.len() <= 1, "both rotated: {} / {}", a.body, b.body);
        for r in [&a, &b] {
            if r.status != StatusCode::OK {
                assert_invalid_grant(r);
            }
        }
        if let Some(winner) = oks.first() {
            assert_invalid_grant(&refresh(&s, &tokens(winner).refresh).await);
        }
        assert_eq!(dashboard(&s, &t.access).await, StatusCode::UNAUTHORIZED);
    }
}

/// With a grace period, the loser of the race is refused without revoking: the winner's
/// new token lives on. After the grace, the old token is reuse again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_period_spares_the_session_from_a_racing_twin() {
    let s = server_with(SessionSettings {
        limits: SessionLimits {
            reuse_grace: 2,
            ..SessionLimits::new()
        },
        ..SessionSettings::default()
    })
    .await;
    let t = login(&s, "alice", "wonderland").await;
    let (a, b) = tokio::join!(refresh(&s, &t.refresh), refresh(&s, &t.refresh));
    let (win, lose) = if a.status == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_invalid_grant(&lose);
    let next = tokens(&win);
    assert_eq!(dashboard(&s, &next.access).await, StatusCode::OK);
    let next = tokens(&refresh(&s, &next.refresh).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_invalid_grant(&refresh(&s, &t.refresh).await);
    assert_invalid_grant(&refresh(&s, &next.refresh).await);
}

#[tokio::test]
async fn refresh_floods_from_one_address_get_429_in_memory() {
    let s = server().await;
    let t = login(&s, "alice", "wonderland").await;
    let mut last = None;
    for i in 0..40 {
        let r = refresh(&s, &format!("{:A<43}", i)).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
            assert!(r.json()["detail"].is_string());
            last = Some(i);
            break;
        }
        assert_invalid_grant(&r);
    }
    assert!(last.is_some_and(|i| i >= 20), "throttled at {last:?}");
    // Another address is not.
    let r = send(
        &s,
        post(
            "/auth/session",
            &format!("grant_type=refresh_token&refresh_token={}", t.refresh),
        ),
        [10, 2, 0, 1],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_revocation_reaches_the_set_without_a_query_per_request() {
    let s = server().await;
    let t = login(&s, "alice", "wonderland").await;
    let sid = claims(&t.access)["sid"].as_str().unwrap().to_owned();
    assert!(
        !s.state
            .revoked
            .is_revoked(&sid, "alice", Some(auth_std_server::now()))
            .await
    );
    // Revoked behind this instance's back (as another instance or the CLI would): the feed
    // brings it into the in-memory set within a second.
    s.state
        .store
        .revoke_session(&sid, None, auth_std_server::now())
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    while dashboard(&s, &t.access).await != StatusCode::UNAUTHORIZED {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "not seen within 5 s: {:?}, {} ids held, feed {:?}",
            dashboard(&s, &t.access).await,
            s.state.revoked.len(),
            s.state.store.revocations(0, 10).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        s.state
            .revoked
            .is_revoked(&sid, "alice", Some(auth_std_server::now()))
            .await
    );
}
