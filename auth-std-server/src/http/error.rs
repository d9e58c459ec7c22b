//! [`ApiError`]: every 4xx and 5xx the server answers, with its status, its JSON body and its
//! `Retry-After` or `WWW-Authenticate`, written here and nowhere else. Handlers return
//! `Result<_, ApiError>` and use `?`; the services' typed failures convert with `From`.

use std::time::Duration;

use auth_core::response::{self, Reply};
use auth_core::session::OAuthError;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer. See the module docs.
#[derive(Debug)]
pub enum ApiError {
    /// 404 `Not Found`.
    NotFound,
    /// auth-core's refusal of a login or a bearer token (401 or 403, with
    /// `WWW-Authenticate` when the reply has one).
    Refused(Reply),
    /// 422 with FastAPI's validation body, as auth-core wrote it.
    Unprocessable(Vec<u8>),
    /// A body that could not be read: 413 or 422, with the reason.
    Body(StatusCode, String),
    /// 400 with an RFC 6749 §5.2 body (the refresh grant and revocation).
    OAuth(OAuthError),
    /// 429 with `Retry-After`: the reason, and how long to wait.
    TooMany(&'static str, Duration),
    /// 503 with `Retry-After: 2`: the store cannot answer.
    Unavailable,
    /// 503 with `Retry-After: 1`: every PBKDF2 worker and queue place is taken.
    Busy,
    /// 503 with `Retry-After: 1`: not ready, and why.
    NotReady(&'static str),
    /// 500: the OS random generator or the token encoder failed (logged where it happened).
    Internal,
    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (RFC 6750
    /// §3.1): the token lacks a scope the route requires.
    InsufficientScope(&'static [&'static str]),
}

impl ApiError {
    /// 422 for the form errors auth-core found.
    pub fn form(errors: &auth_core::form::FormError<'_>) -> Self {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = response::write_form_errors(errors, &mut out);
        ApiError::Unprocessable(out)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not Found"),
            ApiError::Refused(reply) => {
                let mut body = Vec::new();
                let _ = reply.write_detail(&mut body);
                json(reply, body)
            }
            ApiError::Unprocessable(body) => json(Reply::UNPROCESSABLE, body),
            ApiError::Body(status, text) => detail(status, &text),
            ApiError::OAuth(error) => {
                let mut body = Vec::new();
                let _ = response::write_oauth_error(&error, &mut body);
                json(Reply::OAUTH_ERROR, body)
            }
            ApiError::TooMany(why, wait) => {
                retry_later(StatusCode::TOO_MANY_REQUESTS, why, secs_up(wait))
            }
            ApiError::Unavailable => retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable; retry shortly",
                2,
            ),
            ApiError::Busy => retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many logins in progress; retry shortly",
                1,
            ),
            ApiError::NotReady(why) => retry_later(StatusCode::SERVICE_UNAVAILABLE, why, 1),
            ApiError::Internal => {
                detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            ApiError::InsufficientScope(required) => {
                let mut res = detail(StatusCode::FORBIDDEN, "Not enough permissions");
                // Scope names are RFC 6749 §3.3 tokens: no quote or backslash to escape.
                let www = format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                    required.join(" ")
                );
                if let Ok(v) = HeaderValue::from_str(&www) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                res
            }
        }
    }
}

/// Whole seconds of `wait`, rounded up.
fn secs_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// `{"detail": …}` with `status` and `Retry-After: secs`.
fn retry_later(status: StatusCode, message: &str, secs: u64) -> Response {
    let mut res = detail(status, message);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// A JSON response from bytes auth-core wrote, with the reply's status and headers: the one
/// writer of JSON answers, success or not.
pub(crate) fn json(reply: Reply, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response::CONTENT_TYPE_JSON),
    );
    if let Some(www) = reply.www_authenticate {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(www));
    }
    if reply.no_store {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    res
}

/// `{"detail": …}` with `status` (auth-core's `response::write_detail`).
pub(crate) fn detail(status: StatusCode, detail: &str) -> Response {
    let mut res = Response::new(Body::from(detail_body(detail)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response::CONTENT_TYPE_JSON),
    );
    res
}

/// The bytes of `{"detail": …}`.
pub(crate) fn detail_body(detail: &str) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = response::write_detail(detail, &mut body);
    body
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::secs_up;

    /// `Retry-After` is whole seconds rounded up: a client that waits exactly that long is
    /// never early, and a whole number of seconds is not stretched by one.
    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (wait, want) in [
            (Duration::ZERO, 0),
            (Duration::from_nanos(1), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_millis(1_500), 2),
            (Duration::from_secs(2), 2),
            (Duration::from_secs(900), 900),
            (Duration::from_secs(900) + Duration::from_nanos(1), 901),
        ] {
            assert_eq!(secs_up(wait), want, "{wait:?}");
        }
    }
}
