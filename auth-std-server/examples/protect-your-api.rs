//! Protect your own axum routes with the server's bearer-token checks, and issue tokens with
//! the same keys. `cargo run -p auth-std-server --example protect-your-api`, then
//! `curl -H "Authorization: Bearer <printed token>" http://127.0.0.1:3000/hello` (and `/items`,
//! which needs the `items` scope).
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use auth_core::{Hs256Key, KeyRing};
use auth_std_server::auth::{AccountStatus, Authenticated, BearerAuth, Rejection};
use axum::{Router, routing::get};
use utoipa::OpenApi as _;

/// Your account store: name -> active. Any `Fn(&str) -> AccountStatus` (or an `Accounts`
/// implementation) will do; it is asked on every request, so keep it in memory.
pub type Users = Arc<RwLock<HashMap<String, bool>>>;

/// The keys and the account check, built once.
pub fn bearer_auth(secret: &[u8], users: Users) -> Arc<BearerAuth> {
    let keys = KeyRing::new(Hs256Key::new(secret).expect("32 bytes or more")).expect("one key");
    Arc::new(BearerAuth::new(keys, move |name: &str| {
        match users.read().map(|u| u.get(name).copied()) {
            Ok(Some(true)) => AccountStatus::Active,
            Ok(Some(false)) => AccountStatus::Disabled,
            _ => AccountStatus::Unknown,
        }
    }))
}

/// Your router: every handler that takes `Authenticated` is protected.
pub fn app(auth: Arc<BearerAuth>) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/items", get(items))
        .with_state(auth)
}

/// No token: 401. A bad one: 401 `invalid_token`. A disabled account: 403.
async fn hello(user: Authenticated) -> String {
    format!("hello, {}\n", user.subject())
}

/// Needs the `items` scope, like FastAPI's `Security(get_current_user, scopes=["items"])`: a
/// token without it gets 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`.
#[utoipa::path(get, path = "/items", security(("OAuth2PasswordBearer" = ["items"])),
    responses((status = 200, description = "The caller's items"),
              (status = 403, description = "The token lacks the `items` scope")))]
async fn items(user: Authenticated) -> Result<String, Rejection> {
    user.require_scopes(&["items"])?;
    Ok(format!("items of {}\n", user.subject()))
}

/// The scoped route's OpenAPI document: its security requirement names the scope.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(items))]
    struct Doc;
    Doc::openapi()
}

#[tokio::main]
async fn main() {
    let users = Users::default();
    users.write().unwrap().insert("alice".into(), true);
    let auth = bearer_auth(b"use-a-random-32-byte-secret-here!", users);
    let now = auth_std_server::now();
    println!("token for alice: {}", auth.issue("alice", now).unwrap());
    let scoped = auth_core::flow::Grant {
        subject: "alice",
        sid: None,
        scope: Some("items"),
    };
    println!(
        "token with the items scope: {}",
        auth.issue_grant(&scoped, now).unwrap()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
        .await
        .unwrap();
    axum::serve(listener, app(auth)).await.unwrap();
}
