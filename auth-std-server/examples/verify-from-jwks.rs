//! A resource server that verifies the auth server's EdDSA tokens from its JWKS URL, and holds
//! no key that could mint one. Start the auth server with `--signing-alg EdDSA`, then
//! `cargo run -p auth-std-server --example verify-from-jwks` (`AUTH_JWKS_URL` names another
//! issuer than `http://127.0.0.1:8000/.well-known/jwks.json`), log in at the auth server and
//! `curl -H "Authorization: Bearer <access_token>" http://127.0.0.1:3001/hello`.
//!
//! The key set is fetched at start, kept per its `Cache-Control`, and fetched again when a token
//! names a key it lacks (at most every 30 s). This app sees no accounts: the issuer checked the
//! account at login, and a token here is good until it expires or its key leaves the set.
use std::sync::Arc;

use auth_std_server::auth::{AccountStatus, Authenticated, BearerAuth};
use auth_std_server::jwks::{RemoteJwks, RemoteJwksError, RemoteJwksOptions};
use axum::{Router, routing::get};

/// The issuer's key set, followed, and no account store of its own.
///
/// # Errors
/// [`RemoteJwksError`] when the first fetch fails.
pub async fn bearer_auth(
    jwks_url: &str,
    options: RemoteJwksOptions,
) -> Result<Arc<BearerAuth>, RemoteJwksError> {
    let jwks = RemoteJwks::fetch(jwks_url, options).await?;
    Ok(Arc::new(BearerAuth::remote(jwks, |_: &str| {
        AccountStatus::Active
    })))
}

/// Every handler that takes `Authenticated` is protected.
pub fn app(auth: Arc<BearerAuth>) -> Router {
    Router::new().route("/hello", get(hello)).with_state(auth)
}

async fn hello(user: Authenticated) -> String {
    format!("hello, {}\n", user.subject())
}

#[tokio::main]
async fn main() {
    let url = std::env::var("AUTH_JWKS_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8000/.well-known/jwks.json".to_owned());
    let auth = match bearer_auth(&url, RemoteJwksOptions::default()).await {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {url}: {e}");
            std::process::exit(1);
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001")
        .await
        .unwrap();
    println!("Verifying tokens from {url} on http://127.0.0.1:3001/hello");
    axum::serve(listener, app(auth)).await.unwrap();
}
