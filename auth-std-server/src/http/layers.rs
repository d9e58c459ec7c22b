//! Cross-cutting layers: the edge (the JSON 431 below hyper's hard header limits, JSON bodies
//! for framework errors, the latency metrics and access log, the `X-Duration-MS` and security
//! headers), and the request span.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, header};
use axum::middleware::Next;
use tracing::Span;

/// The outermost layer, one boxed future per request for every job around the handler. It
/// runs after routing, as every layer of [`super::app`] does, so the route template is known.
/// - Requests with too many or too large headers get a JSON 431 ([`MAX_HEADERS`],
///   [`MAX_HEADER_BYTES`]), below hyper's own, higher, hard limits.
/// - Every error answer without a JSON body (404 and 405 from routing, 413 from the body
///   limit, 408 from the timeout, 500 from a caught panic) gets `{"detail":"<reason>"}`;
///   other headers, such as `Allow` on 405, are kept.
/// - Every answer is recorded: the latency histogram by route and method, and the access
///   log ([`record`]), timeouts and caught panics included.
/// - Every answer gets `X-Duration-MS: <ms, 2 decimals>` measured around everything inside,
///   and the security headers of round 3 item 10: `X-Content-Type-Options: nosniff`
///   everywhere; on `/docs`, a content security policy that forbids framing,
///   `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`; `Strict-Transport-Security`
///   when serving HTTPS.
///
/// One layer, not four: each `from_fn` layer costs about five allocations a request.
pub async fn edge(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let start = Instant::now();
    let labels = (route_label(&req), method_label(req.method()));
    let docs = req.uri().path().starts_with("/docs");
    let mut res = match header_limits(&req) {
        Some(refused) => refused,
        None => json_errors(next.run(req).await),
    };
    let elapsed = start.elapsed();
    record(&state, labels, res.status(), elapsed);
    let h = res.headers_mut();
    if let Some(v) = duration_ms(elapsed) {
        h.insert("x-duration-ms", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if docs {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    if state.settings.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// `X-Duration-MS`'s value: milliseconds with two decimals, rounded half up, written on the
/// stack (no `String`, no float formatting).
fn duration_ms(elapsed: std::time::Duration) -> Option<HeaderValue> {
    use std::io::Write as _;
    let hundredths = elapsed.as_nanos().saturating_add(5_000) / 10_000;
    let mut buf = [0u8; 48];
    let mut out = &mut buf[..];
    write!(out, "{}.{:02}", hundredths / 100, hundredths % 100).ok()?;
    let len = 48 - out.len();
    HeaderValue::from_bytes(buf.get(..len)?).ok()
}

/// An error response without a JSON body, given `{"detail":"<reason>"}`; any other response
/// as it is.
fn json_errors(res: Response<Body>) -> Response<Body> {
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
    let body = super::error::detail_body(reason);
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

/// The JSON 431 for a request with too many or too large headers, if it has them.
fn header_limits(req: &Request) -> Option<Response<Body>> {
    let h = req.headers();
    let bytes: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    (h.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES).then(|| {
        super::error::detail(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request header fields too large",
        )
    })
}

/// Request span: method (from the closed set) and route only (no query, no headers, no
/// attacker-chosen path). At debug level: at info, making and recording a span per request
/// cost about a third of the token route's throughput.
pub fn make_span(req: &Request) -> Span {
    tracing::debug_span!(
        "request",
        method = method_label(req.method()),
        route = route_label(req)
    )
}

/// A request method as a metric label or log field: one of a closed set, never request data
/// (round 3 item 3: hyper accepts any token as a method, and a metric family never forgets a
/// label set, so 1,500 distinct 40 KB methods grew memory from 16 to 75 MiB for good).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Every route template the router has: the API's and the Swagger UI's (a request no route
/// matched is `unmatched`). A label is one of these `'static` strings, so recording a request
/// allocates no label. Kept in step with the router by `every_route_is_its_own_metric_label`.
pub const ROUTE_LABELS: &[&str] = &[
    "/auth/session",
    "/auth/revoke",
    "/secure-resource",
    "/dashboard/metrics",
    "/healthz",
    "/readyz",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/openapi.json",
    "/docs",
    "/docs/",
    "/docs/{*rest}",
];

/// The route of a request as a label: its template when one matched, `unmatched` when none
/// did, and `other` for a template missing from [`ROUTE_LABELS`] (a test keeps that from
/// happening). The set is closed either way.
fn route_label(req: &Request) -> &'static str {
    let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() else {
        return "unmatched";
    };
    ROUTE_LABELS
        .iter()
        .find(|r| **r == path.as_str())
        .map_or("other", |r| r)
}

/// The policy of the Swagger UI pages: everything from this origin only, no framing. Swagger
/// UI's own stylesheet sets inline styles, and its images are data URLs.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// The latency histogram, and the access log line when `--access-log` is on. Without it, only
/// 5xx answers are logged (at warn). Health probes are never logged at info. Milliseconds are
/// rounded to two decimals.
fn record(
    state: &crate::state::AppState,
    (route, method): (&'static str, &'static str),
    status: axum::http::StatusCode,
    elapsed: std::time::Duration,
) {
    state
        .metrics
        .latency
        .get_or_create(&crate::metrics::Route { route, method })
        .observe(elapsed.as_secs_f64());
    let ms = (elapsed.as_secs_f64() * 100_000.0).round() / 100.0;
    let code = status.as_u16();
    if status.is_server_error() {
        tracing::warn!(method, route, status = code, ms, "server error");
    } else if state.settings.access_log && !matches!(route, "/healthz" | "/readyz") {
        tracing::info!(method, route, status = code, ms, "request");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::duration_ms;

    /// Every method hyper knows by name keeps it as a label; any other (`CONNECT`, `TRACE`, a
    /// made-up token) is `other`.
    #[test]
    fn methods_are_labelled_from_a_closed_set() {
        use axum::http::Method;
        for (m, want) in [
            (Method::GET, "GET"),
            (Method::HEAD, "HEAD"),
            (Method::POST, "POST"),
            (Method::PUT, "PUT"),
            (Method::DELETE, "DELETE"),
            (Method::PATCH, "PATCH"),
            (Method::OPTIONS, "OPTIONS"),
            (Method::CONNECT, "other"),
            (Method::TRACE, "other"),
            (Method::from_bytes(b"BREW").unwrap(), "other"),
        ] {
            assert_eq!(super::method_label(&m), want, "{m}");
        }
    }

    /// The JSON 431's bounds are inclusive: `MAX_HEADERS` headers of `MAX_HEADER_BYTES` in all
    /// are answered normally; one header or one byte more is refused.
    #[test]
    fn header_limits_are_inclusive() {
        use super::{MAX_HEADER_BYTES, MAX_HEADERS, header_limits};
        let request = |count: usize, bytes: usize| {
            // `count` headers `h0`, `h1`, … whose names and values total `bytes`.
            let mut b = axum::http::Request::builder();
            let mut left = bytes;
            for i in 0..count {
                let name = format!("h{i}");
                let share = if i + 1 == count {
                    left - name.len()
                } else {
                    (bytes / count) - name.len()
                };
                left -= name.len() + share;
                b = b.header(name, "v".repeat(share));
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        let total = |r: &axum::extract::Request| -> usize {
            r.headers()
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len())
                .sum()
        };
        let ok = request(MAX_HEADERS, MAX_HEADER_BYTES);
        assert_eq!(
            (ok.headers().len(), total(&ok)),
            (MAX_HEADERS, MAX_HEADER_BYTES)
        );
        assert!(header_limits(&ok).is_none());
        let big = request(MAX_HEADERS, MAX_HEADER_BYTES + 1);
        assert_eq!(total(&big), MAX_HEADER_BYTES + 1);
        let many = request(MAX_HEADERS + 1, 1_000);
        for refused in [big, many] {
            let r = header_limits(&refused).expect("refused");
            assert_eq!(r.status(), 431);
        }
    }

    #[test]
    fn duration_ms_has_two_decimals_rounded_half_up() {
        for (nanos, want) in [
            (0, "0.00"),
            (4_999, "0.00"),
            (5_000, "0.01"),
            (1_234_567, "1.23"),
            (1_235_000, "1.24"),
            (999_995_000, "1000.00"),
            (12_345_600_000, "12345.60"),
        ] {
            let v = duration_ms(Duration::from_nanos(nanos)).unwrap();
            assert_eq!(v.to_str().unwrap(), want, "{nanos} ns");
        }
        // The longest a `Duration` can be still fits the buffer.
        let most = duration_ms(Duration::MAX).unwrap();
        assert_eq!(most.to_str().unwrap(), "18446744073709551616000.00");
    }
}
