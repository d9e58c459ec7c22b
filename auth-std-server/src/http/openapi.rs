//! The OpenAPI 3.1 document (`GET /openapi.json`) and Swagger UI (`GET /docs`), with utoipa.
//!
//! The document is generated from the handlers' `#[utoipa::path]` attributes, and the router is
//! built from the same declarations (`utoipa_axum::routes!` in [`crate::app`]), so a route
//! cannot be served without being documented. The types here only describe bodies the routes
//! write with auth-core; a test (`tests/openapi.rs`) checks the document against the router and
//! against real answers.

#![allow(dead_code)] // reason: the body types are descriptions for the document, never built.

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Ref, Schema, Type};
use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::settings::ScopeDef;

/// The security scheme's name in the document.
pub const OAUTH2: &str = "OAuth2PasswordBearer";

/// The last touches, once the router has added every path and its schemas.
///
/// A multipart part is named in a header, and a header cannot hold control characters: such a
/// body is not form data, and the server answers 422. The multipart bodies get copies of the
/// form schemas that say so (`propertyNames`); urlencoded bodies can name fields anything
/// (unknown names are ignored). schemathesis found the difference.
pub(crate) fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let printable = || {
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[^\\u0000-\\u001f\\u007f]*$"))
                .build(),
        )
    };
    for name in ["PasswordGrant", "RefreshGrant", "RevokeForm"] {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(name) {
            let mut copy = object.clone();
            copy.property_names = Some(Box::new(printable()));
            components
                .schemas
                .insert(format!("{name}Multipart"), RefOr::T(Schema::Object(copy)));
        }
    }
    let token_form = OneOfBuilder::new()
        .item(Ref::from_schema_name("PasswordGrantMultipart"))
        .item(Ref::from_schema_name("RefreshGrantMultipart"))
        .build();
    components.schemas.insert(
        "TokenFormMultipart".to_owned(),
        RefOr::T(Schema::OneOf(token_form)),
    );
    for (path, schema) in [
        ("/auth/session", "TokenFormMultipart"),
        ("/auth/revoke", "RevokeFormMultipart"),
    ] {
        let body = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
            .and_then(|body| body.content.get_mut("multipart/form-data"));
        if let Some(content) = body {
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(schema)));
        }
    }
}

/// The document's fixed part: title, the security scheme; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "auth-std-server",
        description = "The OAuth2 password flow of the FastAPI tutorial, with sessions: \
                       refresh tokens with rotation and reuse detection (RFC 6749 §6, RFC 9700 \
                       §4.14) and revocation (RFC 7009).",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&SecurityAddon),
    components(schemas(
        TokenForm, PasswordGrant, RefreshGrant, RevokeForm, TokenResponse, Detail, ValidationErrors, FieldIssue,
        Unprocessable, OAuthErrorBody, SecureResource, Dashboard, Health
    ))
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        with_scopes(openapi, &[]);
    }
}

/// The password flow as the security scheme, listing the server's scopes (#24: Swagger UI's
/// Authorize dialog shows a checkbox for each).
pub(crate) fn with_scopes(doc: &mut utoipa::openapi::OpenApi, scopes: &[ScopeDef]) {
    let components = doc.components.get_or_insert_with(Default::default);
    let scopes = Scopes::from_iter(
        scopes
            .iter()
            .map(|d| (d.name.as_str(), d.description.as_str())),
    );
    components.add_security_scheme(
        OAUTH2,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::Password(Password::with_refresh_url(
                "/auth/session",
                scopes,
                "/auth/session",
            ))],
            "The password grant at /auth/session; its refresh token renews the access token \
             at the same URL (grant_type=refresh_token).",
        )),
    );
}

/// The token endpoint's form: the password grant or the refresh grant. Each field at most
/// once; unknown fields are ignored.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum TokenForm {
    /// `grant_type=password` (or absent), `username`, `password`.
    Password(PasswordGrant),
    /// `grant_type=refresh_token`, `refresh_token`.
    Refresh(RefreshGrant),
}

/// The password grant (RFC 6749 §4.3.2), as FastAPI's `OAuth2PasswordRequestForm`.
#[derive(ToSchema, Serialize)]
pub struct PasswordGrant {
    /// `password`, or absent.
    #[schema(pattern = "^password$", example = "password")]
    grant_type: Option<String>,
    /// The account.
    #[schema(min_length = 1)]
    username: String,
    /// At most 4,096 bytes (1,024 characters always fit).
    #[schema(format = Password, min_length = 1, max_length = 1024)]
    password: String,
    /// Space-separated scopes (RFC 6749 §3.3 tokens), kept with the session.
    #[schema(pattern = "^[\\x21\\x23-\\x5b\\x5d-\\x7e ]*$")]
    scope: Option<String>,
    /// Accepted and ignored: clients are public.
    client_id: Option<String>,
    /// Accepted and ignored: clients are public.
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// The refresh grant (RFC 6749 §6).
#[derive(ToSchema, Serialize)]
pub struct RefreshGrant {
    /// `refresh_token`.
    #[schema(pattern = "^refresh_token$", example = "refresh_token")]
    grant_type: String,
    /// The session's current refresh token: 43 characters of base64url. Anything else,
    /// unknown, rotated out, expired or revoked gets 400 `invalid_grant`.
    #[schema(min_length = 1)]
    refresh_token: String,
    /// Space-separated scopes, no wider than the login's; absent for the same.
    scope: Option<String>,
    /// Accepted and ignored: clients are public.
    client_id: Option<String>,
}

/// RFC 7009's revocation request.
#[derive(ToSchema)]
pub struct RevokeForm {
    /// A refresh token or an access token of the session to end.
    #[schema(min_length = 1)]
    token: String,
    /// `refresh_token` or `access_token`; only a hint.
    token_type_hint: Option<String>,
}

/// A token reply (RFC 6749 §5.1).
#[derive(ToSchema)]
pub struct TokenResponse {
    /// The access token (HS256 JWT).
    access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 2700)]
    expires_in: u64,
    /// The session's new refresh token; the previous one no longer works.
    refresh_token: String,
}

/// An error with a message.
#[derive(ToSchema, Serialize)]
pub struct Detail {
    /// What went wrong.
    detail: String,
}

/// FastAPI's validation error body.
#[derive(ToSchema, Serialize)]
pub struct ValidationErrors {
    /// One entry per bad field.
    detail: Vec<FieldIssue>,
}

/// One bad field, in pydantic's shape.
#[derive(ToSchema, Serialize)]
pub struct FieldIssue {
    /// `missing`, `repeated_field`, `string_pattern_mismatch`, `string_too_long`, …
    #[serde(rename = "type")]
    kind: String,
    /// `["body", "<field>"]`.
    loc: Vec<String>,
    /// A human-readable message.
    msg: String,
    /// The rejected value for a wrong `grant_type`, else null. Credentials are never echoed.
    input: Option<String>,
    /// The pattern or the length limit, when there is one.
    #[schema(value_type = Option<Object>)]
    ctx: Option<()>,
}

/// A 422: FastAPI's field list, or one message (a malformed multipart body).
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub enum Unprocessable {
    /// The field errors.
    Fields(ValidationErrors),
    /// One message.
    Message(Detail),
}

/// An RFC 6749 §5.2 error.
#[derive(ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_grant`, `invalid_scope` or `invalid_request`.
    #[schema(example = "invalid_grant")]
    error: String,
    /// The same text for every refused token, so it tells nobody why.
    error_description: String,
}

/// `GET /secure-resource`'s reply.
#[derive(ToSchema)]
pub struct SecureResource {
    /// `success`.
    status: String,
    /// The token's first 8 characters and `...`.
    received_token_prefix: String,
}

/// `GET /dashboard/metrics`'s reply.
#[derive(ToSchema)]
pub struct Dashboard {
    /// The token's subject.
    owner: String,
    /// `allowed`.
    view: String,
}

/// A health reply.
#[derive(ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    status: String,
}

/// The answers every protected route has besides its 200: one set, shared (as Kanidm shares
/// its response sets), so the routes cannot document them differently.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // reason: a document type; never built.
pub enum ProtectedErrors {
    /// 401 (the description is one line in the document).
    #[response(status = 401, description = "No bearer token (Not authenticated), or a bad, \
        expired or revoked one (Invalid or malformed signature)", headers(("WWW-Authenticate" = String,
            description = "Bearer, or Bearer error=\"invalid_token\"")))]
    Unauthorized(Detail),
    /// The account is disabled or gone
    #[response(status = 403)]
    Forbidden(Detail),
    /// Too many or too large headers
    #[response(status = 431)]
    HeadersTooLarge(Detail),
    /// The account store cannot answer
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds")))]
    Unavailable(Detail),
}
