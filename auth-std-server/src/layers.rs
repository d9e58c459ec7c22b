//! Cross-cutting layers: the `X-Duration-MS` header, JSON bodies for framework errors, the
//! JSON 431 below hyper's hard header limits, and the request span and response log.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, header};
use axum::middleware::Next;
use tracing::Span;

/// Adds `X-Duration-MS: <ms, 2 decimals>` measured around everything inside.
pub async fn duration_header(req: Request, next: Next) -> Response<Body> {
    let start = Instant::now();
    let mut res = next.run(req).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("{ms:.2}")) {
        res.headers_mut().insert("x-duration-ms", v);
    }
    res
}

/// Gives every error response without a JSON body (404 and 405 from routing, 413 from the
/// body limit, 408 from the timeout, 500 from a caught panic) a `{"detail":"<reason>"}` body.
/// Other headers, such as `Allow` on 405, are kept.
pub async fn json_errors(req: Request, next: Next) -> Response<Body> {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let (mut parts, _) = res.into_parts();
    let body = crate::auth::detail_body(reason);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Most request headers answered normally; more get a JSON 431.
pub const MAX_HEADERS: usize = 64;
/// Largest total of header names and values answered normally; more get a JSON 431. Room for
/// an `Authorization` header at its cap plus ordinary headers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// 431 with a JSON body for requests with too many or too large headers (below hyper's own,
/// higher, hard limits, past which hyper answers a bare 431 itself).
pub async fn header_limits(req: Request, next: Next) -> Response<Body> {
    let h = req.headers();
    let bytes: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if h.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return crate::auth::detail(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request header fields too large",
        );
    }
    next.run(req).await
}

/// Request span: method and path only (no query, no headers).
pub fn make_span(req: &Request) -> Span {
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
}

/// One log line per response: status and duration.
pub fn on_response(res: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = res.status().as_u16(),
        ms = latency.as_secs_f64() * 1000.0,
        "response"
    );
}
