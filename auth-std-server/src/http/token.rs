//! `POST /auth/session`: the password grant and the refresh grant.

use auth_core::form::{
    Field, FieldErrorKind, FormError, TokenRequest, parse_token_form, token_request_from_fields,
};
use auth_core::response::{self, Reply};
use auth_core::session::OAuthError;
use axum::extract::{Request, State};
use axum::response::Response;

use super::body::{FormBody, client_of};
use super::error::{ApiError, json};
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use super::openapi::{Detail, OAuthErrorBody, TokenForm, TokenResponse, Unprocessable};
use crate::clock::Now;
use crate::metrics::Metrics;
use crate::service::{self, Issued, LoginFailure, LoginRequest, RefreshFailure};
use crate::state::AppState;

/// `POST /auth/session`: the password grant (FastAPI's contract, now with a refresh token) and
/// the refresh grant (RFC 6749 §6).
#[utoipa::path(
    post,
    path = "/auth/session",
    tag = "auth",
    summary = "Log in (password grant) or refresh (refresh grant)",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "multipart/form-data")
    )),
    responses(
        (status = 200, description = "An access token and the session's new refresh token",
            body = TokenResponse,
            headers(("Cache-Control" = String, description = "no-store"),
                    ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Refresh grant: invalid_grant (the token is malformed, \
            unknown, expired, revoked or reused; reuse revokes its session), invalid_scope or \
            invalid_request", body = OAuthErrorBody),
        (status = 401, description = "Wrong password or unknown user", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "Right password, disabled account", body = Detail),
        (status = 408, description = "The request did not finish in time", body = Detail),
        (status = 413, description = "Body over 16 KiB", body = Detail),
        (status = 422, description = "A missing, repeated or malformed field, a grant_type \
            other than password or refresh_token, or a body that is not a form",
            body = Unprocessable),
        (status = 429, description = "Too many failed logins, or refused refresh tokens, for \
            the username or from the address", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "The store is unavailable, or every PBKDF2 worker is \
            busy and the queue is full", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn token(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let now = Now::read();
    let client = client_of(&req);
    let body = FormBody::read(req).await?;
    let mut buf = Vec::new();
    let issued = match body.parse(&mut buf, parse_token_form, token_request_from_fields) {
        Ok(TokenRequest::Password(form)) => {
            let req = LoginRequest {
                username: form.username.to_owned(),
                password: form.password.to_owned(),
                scope: form.scope.to_owned(),
            };
            service::login(&state, req, &client, now).await?
        }
        Ok(TokenRequest::Refresh(form)) => service::refresh(&state, &form, &client, now).await?,
        Err(errors) => return Err(form_error(&state, &errors)),
    };
    Ok(token_reply(&issued))
}

/// A bad form, counted: the refresh grant's missing or undecodable token is RFC 6749 §5.2's
/// `invalid_request`, its bad scope `invalid_scope`; everything else (a repeated field,
/// whatever the grant) is the password grant's 422.
fn form_error(state: &AppState, errors: &FormError<'_>) -> ApiError {
    let refresh_problem = errors.is_refresh_grant()
        || errors
            .errors()
            .iter()
            .any(|e| e.field == Field::RefreshToken && e.kind != FieldErrorKind::Repeated);
    if !refresh_problem {
        Metrics::count(&state.metrics.logins, "bad_form");
        return ApiError::form(errors);
    }
    // A refresh grant's over-long or malformed scope is RFC 6749 §5.2's invalid_scope (#24).
    if errors.errors().iter().any(|e| e.field == Field::Scope) {
        Metrics::count(&state.metrics.refreshes, "invalid_scope");
        return ApiError::OAuth(OAuthError::INVALID_SCOPE);
    }
    Metrics::count(&state.metrics.refreshes, "invalid_request");
    ApiError::OAuth(OAuthError::INVALID_REQUEST)
}

/// 200 with the access token and the session's refresh token, `no-store`.
fn token_reply(issued: &Issued) -> Response {
    let mut out = Vec::new();
    let _ = response::write_token_response(
        &issued.access,
        issued.expires_in,
        &issued.refresh,
        issued.scope.as_deref(),
        &mut out,
    );
    json(Reply::TOKEN, out)
}

impl From<LoginFailure> for ApiError {
    fn from(e: LoginFailure) -> Self {
        match e {
            LoginFailure::Throttled(wait) => {
                ApiError::TooMany("Too many failed login attempts; retry later", wait)
            }
            LoginFailure::AccountRate(wait) => {
                ApiError::TooMany("Too many logins for this account; retry later", wait)
            }
            LoginFailure::Refused { error, .. } => ApiError::Refused(error.reply()),
            LoginFailure::Changed => {
                ApiError::Refused(auth_core::flow::LoginError::InvalidCredentials.reply())
            }
            LoginFailure::Unavailable => ApiError::Unavailable,
            LoginFailure::Busy => ApiError::Busy,
            LoginFailure::Internal => ApiError::Internal,
        }
    }
}

impl From<RefreshFailure> for ApiError {
    fn from(e: RefreshFailure) -> Self {
        match e {
            RefreshFailure::Throttled(wait) => {
                ApiError::TooMany("Too many refused tokens; retry later", wait)
            }
            RefreshFailure::AccountRate(wait) => {
                ApiError::TooMany("Too many refreshes for this account; retry later", wait)
            }
            RefreshFailure::Refused(e) => ApiError::OAuth(e.oauth()),
            RefreshFailure::Unavailable => ApiError::Unavailable,
            RefreshFailure::Internal => ApiError::Internal,
        }
    }
}
