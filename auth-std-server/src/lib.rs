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
pub mod metrics;
pub mod openapi;
pub mod password;
pub mod pool;
pub mod proxy;
mod routes;
pub mod server;
pub mod sessions;
pub mod startup;
mod state;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod users;

use axum::Router;
use axum::http::header::AUTHORIZATION;
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
/// the body limit. The routes and the OpenAPI document (`/openapi.json`, shown at `/docs`) are
/// built from the same declarations (`api`).
pub fn app(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    let (router, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    let observed = std::sync::Arc::clone(&state);
    let hsts = state.settings.hsts;
    let router = if state.settings.docs {
        router.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", doc))
    } else {
        router
    };
    router
        .fallback(routes::not_found)
        .with_state(RouterState(state))
        // After routing: the route template is known here.
        .layer(axum::middleware::from_fn_with_state(
            observed,
            layers::observe,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(layers::make_span)
                .on_request(())
                .on_response(())
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(layers::header_limits))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(layers::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            hsts,
            layers::response_headers,
        ))
}

/// Every API route with its documentation: a route is added here only through its handler's
/// `#[utoipa::path]`, so the document and the router cannot drift apart.
pub(crate) fn api() -> utoipa_axum::router::OpenApiRouter<RouterState> {
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::token))
        .routes(routes!(routes::revoke))
        .routes(routes!(routes::secure_resource))
        .routes(routes!(routes::dashboard))
        .routes(routes!(routes::healthz))
        .routes(routes!(routes::readyz))
}

/// The OpenAPI document the server serves at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    openapi::finish(&mut doc);
    doc
}
