//! The operations routes: `GET /healthz`, `GET /readyz`, and the 404 every other path gets.

use std::time::{Duration, Instant};

use auth_core::response::Reply;
use axum::extract::State;
use axum::response::Response;

use super::error::{ApiError, json};
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use super::openapi::{Detail, Health};
use crate::state::{AppState, READY_CACHE, State as Shared};

/// Every unrouted path: 404 with a JSON `detail`.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// `GET /healthz`: the process is up and answering. Cheap; never logged per request.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> Response {
    json(Reply::OK, br#"{"status":"ok"}"#.to_vec())
}

/// `GET /readyz`: the keys are loaded, the store answers a query within a second, and the
/// account and revocation feeds are current. 503 with the reason otherwise, so a load
/// balancer sends nothing here that would get 503 anyway.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: keys loaded, store reachable, feeds current",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; `detail` says why", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cached = state
        .ready
        .lock()
        .ok()
        .and_then(|c| *c)
        .filter(|(at, _)| at.elapsed() < READY_CACHE);
    let reason = match cached {
        Some((_, reason)) => reason,
        None => {
            let reason = readiness(&state).await;
            if let Ok(mut c) = state.ready.lock() {
                *c = Some((Instant::now(), reason));
            }
            reason
        }
    };
    match reason {
        None => Ok(json(Reply::OK, br#"{"status":"ready"}"#.to_vec())),
        Some(why) => Err(ApiError::NotReady(why)),
    }
}

/// Why this instance is not ready, if it is not: one store query.
async fn readiness(state: &Shared) -> Option<&'static str> {
    if state.auth.keys().is_empty() {
        return Some("no signing key loaded");
    }
    match tokio::time::timeout(Duration::from_secs(1), state.store.ping()).await {
        Ok(Ok(())) if state.accounts.is_stale() => Some("account feed is stale"),
        Ok(Ok(())) => None,
        Ok(Err(_)) | Err(_) => Some("store unreachable"),
    }
}
