//! The protected routes: `GET /secure-resource` and `GET /dashboard/metrics`. The
//! [`Authenticated`] extractor has checked the token and the account before they run.

use auth_core::contract;
use auth_core::response::Reply;
use axum::response::Response;

use super::error::json;
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use super::openapi::{Dashboard, ProtectedErrors, SecureResource};
use crate::auth::Authenticated;

/// `GET /secure-resource`
#[utoipa::path(
    get,
    path = "/secure-resource",
    tag = "protected",
    summary = "Echo the token's first characters",
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The token is valid", body = SecureResource),
        ProtectedErrors,
    )
)]
pub async fn secure_resource(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_secure_resource(auth.token(), &mut out);
    json(Reply::OK, out)
}

/// `GET /dashboard/metrics`
#[utoipa::path(
    get,
    path = "/dashboard/metrics",
    tag = "protected",
    summary = "The token's owner",
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The token is valid", body = Dashboard),
        ProtectedErrors,
    )
)]
pub async fn dashboard(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_dashboard(auth.subject(), &mut out);
    json(Reply::OK, out)
}
