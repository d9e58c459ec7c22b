//! The OAuth2 password-flow HTTP server: a thin tokio/axum adapter over `auth-core`.
//!
//! Every auth decision comes from [`auth_core::flow`]; this crate moves bytes, keeps the
//! accounts in the store (SQLite or PostgreSQL) and the keys, and bounds the PBKDF2 work. See the workspace README for the HTTP
//! contract and the configuration.
#![forbid(unsafe_code)]

pub mod accounts;
mod admin;
pub mod auth;
pub mod cli;
pub mod fs;
pub mod keys;
mod layers;
pub mod password;
pub mod pool;
mod routes;
pub mod server;
pub mod sessions;
pub mod startup;
mod state;
pub mod store;
pub mod throttle;
pub mod users;

use axum::Router;
use axum::http::header::AUTHORIZATION;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{Authenticated, BearerAuth};
pub use keys::Keys;
pub use pool::HashPool;
pub(crate) use state::RouterState;
pub use state::{AppState, Settings, State, now};
pub use store::{Store, StoreUrl};

/// Largest request body accepted (16 KiB); larger ones get 413.
pub const MAX_BODY: usize = 16 * 1024;

/// The router with every layer: timing outermost (so 404, 405, 413, 422 and 500 all carry
/// `X-Duration-MS`), then JSON error bodies, panic catching, tracing, the request timeout and
/// the body limit.
pub fn app(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    Router::new()
        .route("/auth/session", post(routes::token))
        .route("/auth/revoke", post(routes::revoke))
        .route("/secure-resource", get(routes::secure_resource))
        .route("/dashboard/metrics", get(routes::dashboard))
        .fallback(routes::not_found)
        .with_state(RouterState(state))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(layers::make_span)
                .on_response(layers::on_response),
        )
        .layer(axum::middleware::from_fn(layers::header_limits))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(layers::json_errors))
        .layer(axum::middleware::from_fn(layers::duration_header))
}
