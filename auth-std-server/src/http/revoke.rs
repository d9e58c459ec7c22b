//! `POST /auth/revoke` (RFC 7009).

use auth_core::form::{FieldErrorKind, parse_revoke_form, revoke_form_from_fields};
use auth_core::session::OAuthError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::body::{FormBody, client_of};
use super::error::ApiError;
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use super::openapi::{Detail, OAuthErrorBody, RevokeForm, Unprocessable};
use crate::clock::Now;
use crate::service::{self, RevokeFailure};
use crate::state::AppState;

/// `POST /auth/revoke` (RFC 7009): revokes the session of a refresh token or an access token.
/// 200 for every well-formed request, known token or not, so it tells nobody anything.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    summary = "Log out: revoke the session of a refresh or access token (RFC 7009)",
    request_body(content(
        (RevokeForm = "application/x-www-form-urlencoded"),
        (RevokeForm = "multipart/form-data")
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke: the same answer",
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "No token: invalid_request", body = OAuthErrorBody),
        (status = 408, description = "The request did not finish in time", body = Detail),
        (status = 413, description = "Body over 16 KiB", body = Detail),
        (status = 422, description = "A repeated field, or a malformed multipart body",
            body = Unprocessable),
        (status = 429, description = "Too many unknown tokens from the address", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "The store is unavailable", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn revoke(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let now = Now::read();
    let client = client_of(&req);
    let body = FormBody::read(req).await?;
    let mut buf = Vec::new();
    let form = match body.parse(&mut buf, parse_revoke_form, revoke_form_from_fields) {
        Ok(f) => f,
        Err(errors)
            if errors
                .errors()
                .iter()
                .any(|e| e.kind == FieldErrorKind::Repeated) =>
        {
            return Err(ApiError::form(&errors));
        }
        Err(_) => return Err(ApiError::OAuth(OAuthError::INVALID_REQUEST)),
    };
    service::revoke(&state, form.token, &client, now).await?;
    let mut res = Response::new(axum::body::Body::empty());
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

impl From<RevokeFailure> for ApiError {
    fn from(e: RevokeFailure) -> Self {
        match e {
            RevokeFailure::Throttled(wait) => {
                ApiError::TooMany("Too many refused tokens; retry later", wait)
            }
            RevokeFailure::Rate(wait) => {
                ApiError::TooMany("Too many revocation requests; retry later", wait)
            }
            RevokeFailure::Unavailable => ApiError::Unavailable,
        }
    }
}
