//! The HTTP layer: the router, its layers and the accept loop. Handlers parse, call one
//! service, and answer; every error answer is an [`ApiError`].

pub mod admin;
mod body;
pub mod discovery;
pub mod error;
mod health;
mod layers;
pub mod openapi;
mod protected;
pub mod proxy;
mod revoke;
pub mod server;
pub mod tls;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::header::AUTHORIZATION;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::BearerAuth;
use crate::state::AppState;

pub use error::ApiError;

/// Largest request body accepted (16 KiB); larger ones get 413.
pub const MAX_BODY: usize = 16 * 1024;

/// The router's state: [`AppState`] in a local type, so that the extractors find what they
/// need in it by `FromRef` (the handlers take `State<AppState>`, the protected routes
/// [`crate::auth::Authenticated`], which needs the [`BearerAuth`]).
#[derive(Debug, Clone)]
struct RouterState(AppState);

impl FromRef<RouterState> for AppState {
    fn from_ref(state: &RouterState) -> Self {
        Arc::clone(&state.0)
    }
}

impl FromRef<RouterState> for Arc<BearerAuth> {
    fn from_ref(state: &RouterState) -> Self {
        Arc::clone(&state.0.auth)
    }
}

/// The router with every layer, outermost first: the edge (header limits, JSON error bodies,
/// the latency metrics and access log, timing and the security headers, so 404, 405, 408, 413,
/// 422 and 500 all carry `X-Duration-MS`), panic catching, tracing, the request timeout and
/// the body limit. The routes and the OpenAPI document (`/openapi.json`, shown at `/docs`) are
/// built from the same declarations (`api`).
pub fn app(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    let (router, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    openapi::with_scopes(&mut doc, &state.settings.scopes);
    let router = if state.settings.docs {
        router.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", doc))
    } else {
        router
    };
    // One `layer` call with the whole stack: each `Router::layer` boxes every route again, and
    // a request clones its route's boxes (nine calls cost about 80 allocations a request).
    // `ServiceBuilder` lists the outermost layer first.
    let layers = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            layers::edge,
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(layers::make_span)
                .on_request(())
                .on_response(())
                .on_failure(()),
        )
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        // Innermost: it changes the body's type, which only the route takes as it comes.
        .layer(RequestBodyLimitLayer::new(MAX_BODY));
    router
        .fallback(health::not_found)
        .with_state(RouterState(state))
        .layer(layers)
}

/// Every API route with its documentation: a route is added here only through its handler's
/// `#[utoipa::path]`, so the document and the router cannot drift apart.
fn api() -> utoipa_axum::router::OpenApiRouter<RouterState> {
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(token::token))
        .routes(routes!(revoke::revoke))
        .routes(routes!(protected::secure_resource))
        .routes(routes!(protected::dashboard))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(discovery::jwks_json))
        .routes(routes!(discovery::server_metadata))
}

/// The OpenAPI document the server serves at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    openapi::finish(&mut doc);
    doc
}
