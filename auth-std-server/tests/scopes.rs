//! OAuth2 scopes (#24), as FastAPI's "OAuth2 scopes" tutorial uses them, done properly: the
//! server defines them, each account may be granted some, a login gets the requested ones its
//! account may have (RFC 6749 §3.3) and says so when that differs, a refresh narrows and never
//! widens and drops what the account lost, and a route can require scopes (RFC 6750 §3.1). In
//! process, on SQLite, or on PostgreSQL with `AUTH_TEST_STORE=postgres`.

mod common;

use std::sync::Arc;

use auth_std_server::auth::{Authenticated, BearerAuth, Rejection};
use auth_std_server::settings::{ScopeDef, SessionSettings};
use auth_std_server::{AppState, Settings, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use common::{Reply, phc};

async fn post(s: &AppState, body: &str) -> Reply {
    let req = Request::post("/auth/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    common::call(app(Arc::clone(s)), req, [10, 0, 0, 3]).await
}

async fn login(s: &AppState, user: &str, pw: &str, scope: Option<&str>) -> Reply {
    let scope = scope.map(|s| format!("&scope={}", s.replace(' ', "+")));
    post(
        s,
        &format!("username={user}&password={pw}{}", scope.unwrap_or_default()),
    )
    .await
}

async fn refresh(s: &AppState, token: &str, scope: Option<&str>) -> Reply {
    let scope = scope.map(|s| format!("&scope={}", s.replace(' ', "+")));
    let body = format!(
        "grant_type=refresh_token&refresh_token={token}{}",
        scope.unwrap_or_default()
    );
    post(s, &body).await
}

/// The access token's `scope` claim (`None` when it has none).
fn token_scope(r: &Reply) -> Option<String> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let payload = access.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["scope"].as_str().map(str::to_owned)
}

/// The response's `scope` member (`None` when left out: the grant is what was asked).
fn shown_scope(r: &Reply) -> Option<String> {
    r.json()["scope"].as_str().map(str::to_owned)
}

fn defined() -> Vec<ScopeDef> {
    ["read=Read items", "write=Write items", "admin=Everything"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

async fn state(dir: &std::path::Path) -> AppState {
    let users = format!(
        "alice\tactive\t{}\tread\nbob\tactive\t{}\tread write\ncarol\tactive\t{}\tadmin undefined\n",
        phc("wonderland"),
        phc("builder"),
        phc("c4rol")
    );
    let settings = Settings {
        scopes: defined(),
        sessions: SessionSettings {
            min_rotation_interval: 0,
            ..SessionSettings::default()
        },
        ..Settings::default()
    };
    common::state_with(dir, &users, settings).await
}

#[tokio::test]
async fn a_login_is_granted_the_requested_scopes_its_account_may_have() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    // Asked for more than allowed: granted less, and the response says what.
    let r = login(&s, "alice", "wonderland", Some("read write")).await;
    assert_eq!(token_scope(&r).as_deref(), Some("read"));
    assert_eq!(shown_scope(&r).as_deref(), Some("read"));
    // Granted what was asked: the response leaves `scope` out (RFC 6749 §5.1).
    let r = login(&s, "bob", "builder", Some("write read")).await;
    assert_eq!(token_scope(&r).as_deref(), Some("write read"));
    assert_eq!(shown_scope(&r), None);
    // No scope asked: none granted (the documented default), none signed.
    let r = login(&s, "bob", "builder", None).await;
    assert_eq!((token_scope(&r), shown_scope(&r)), (None, None));
    // A scope the account has but the server does not define is never granted.
    let r = login(&s, "carol", "c4rol", Some("admin undefined")).await;
    assert_eq!(token_scope(&r).as_deref(), Some("admin"));
    assert_eq!(shown_scope(&r).as_deref(), Some("admin"));
    // Nothing allowed of what was asked: an empty grant, stored and signed as none.
    let r = login(&s, "alice", "wonderland", Some("admin")).await;
    assert_eq!(
        (token_scope(&r), shown_scope(&r).as_deref()),
        (None, Some(""))
    );
    let stored: Vec<String> = s
        .store
        .sessions_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(stored.len(), 2);
}

#[tokio::test]
async fn an_over_long_scope_is_refused_and_never_stored_or_signed() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let many = vec!["read"; 33].join(" ");
    let long = "r".repeat(1025);
    for scope in [many.as_str(), long.as_str()] {
        let r = login(&s, "alice", "wonderland", Some(scope)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json()["detail"][0]["type"], "too_many_scopes");
        assert_eq!(r.json()["detail"][0]["loc"][1], "scope");
    }
    assert!(s.store.sessions_of("alice").await.unwrap().is_empty());
    // 32 names are fine.
    let r = login(&s, "alice", "wonderland", Some(&vec!["read"; 32].join(" "))).await;
    assert_eq!(token_scope(&r).as_deref(), Some("read"));
    // At the refresh grant it is RFC 6749 §5.2's invalid_scope.
    let token = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(&s, &token, Some(&many)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn a_refresh_narrows_never_widens_and_drops_what_the_account_lost() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let r = login(&s, "bob", "builder", Some("read write")).await;
    let mut token = r.json()["refresh_token"].as_str().unwrap().to_owned();
    // Narrowed on request.
    let r = refresh(&s, &token, Some("read")).await;
    assert_eq!(
        (token_scope(&r).as_deref(), shown_scope(&r)),
        (Some("read"), None)
    );
    token = r.json()["refresh_token"].as_str().unwrap().to_owned();
    // The session keeps its own scope; asking for more than it is invalid_scope.
    let r = refresh(&s, &token, Some("read write admin")).await;
    assert_eq!(r.json()["error"], "invalid_scope", "{}", r.body);
    // The account loses `write`: the next refresh of a session that had it drops it.
    let r = login(&s, "bob", "builder", Some("read write")).await;
    let other = r.json()["refresh_token"].as_str().unwrap().to_owned();
    s.store
        .set_scopes("bob", "read", auth_std_server::now())
        .await
        .unwrap();
    let r = refresh(&s, &other, None).await;
    assert_eq!(token_scope(&r).as_deref(), Some("read"));
    assert_eq!(shown_scope(&r).as_deref(), Some("read"));
    // Dropped for good: given `write` back, the session does not regain it.
    let other = r.json()["refresh_token"].as_str().unwrap().to_owned();
    s.store
        .set_scopes("bob", "read write", auth_std_server::now())
        .await
        .unwrap();
    let r = refresh(&s, &other, Some("read write")).await;
    assert_eq!(r.json()["error"], "invalid_scope", "{}", r.body);
}

async fn items(user: Authenticated) -> Result<String, Rejection> {
    user.require_scopes(&["items", "read"])?;
    Ok(format!("items for {}", user.subject()))
}

#[tokio::test]
async fn a_route_can_require_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let auth: Arc<BearerAuth> = Arc::clone(&s.auth);
    let router = axum::Router::new()
        .route("/items", axum::routing::get(items))
        .with_state(Arc::clone(&auth));
    let now = auth_std_server::now();
    let grant = |scope| auth_core::flow::Grant {
        subject: "alice",
        sid: None,
        scope,
    };
    for (scope, want) in [
        (Some("items read"), StatusCode::OK),
        (Some("read write items"), StatusCode::OK),
        (Some("read"), StatusCode::FORBIDDEN),
        (None, StatusCode::FORBIDDEN),
    ] {
        let token = auth.issue_grant(&grant(scope), now).unwrap();
        let req = Request::get("/items")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let r = common::call(router.clone(), req, [10, 0, 0, 4]).await;
        assert_eq!(r.status, want, "{scope:?}: {}", r.body);
        if want == StatusCode::FORBIDDEN {
            assert_eq!(
                r.header("www-authenticate"),
                Some(r#"Bearer error="insufficient_scope", scope="items read""#)
            );
            assert_eq!(r.json()["detail"], "Not enough permissions");
        }
    }
}

#[tokio::test]
async fn the_openapi_password_flow_lists_the_servers_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let req = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let r = common::call(app(Arc::clone(&s)), req, [127, 0, 0, 1]).await;
    let doc = r.json();
    let scopes = &doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
        ["scopes"];
    assert_eq!(
        scopes,
        &serde_json::json!({"read": "Read items", "write": "Write items", "admin": "Everything"})
    );
}
