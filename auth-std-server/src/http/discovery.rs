//! Discovery: `GET /.well-known/jwks.json` (RFC 7517, OKP keys per RFC 8037) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414).
//!
//! The key set lists the public key of every Ed25519 key in the ring, the ones marked `next`
//! included, so a key is published before it signs. An HS256 secret is never in it: with HS256
//! keys only, the set is empty.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::detail;
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use super::openapi::Detail;
use crate::state::AppState;

/// How long a client may cache the key set (`Cache-Control: max-age`). A staged (`next`) key
/// must be published at least this long before it signs.
pub const JWKS_MAX_AGE: u64 = 300;

/// How long a client may cache the metadata when `--public-url` fixes its URLs.
pub const METADATA_MAX_AGE: u64 = 3600;

/// Longest Host header the metadata is built from (RFC 1035 name plus a port).
const MAX_HOST_LEN: usize = 260;

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    /// The public keys that verify this server's tokens.
    pub keys: Vec<Jwk>,
}

/// An Ed25519 public key as a JWK (RFC 8037 §2).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// The public key, unpadded base64url.
    pub x: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    #[schema(rename = "use")]
    pub use_: &'static str,
}

/// The authorization server's metadata (RFC 8414 §2).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    /// `--issuer` when it is a URL, else this server's URL.
    pub issuer: String,
    /// The password and refresh grants: `/auth/session`.
    pub token_endpoint: String,
    /// RFC 7009 revocation: `/auth/revoke`.
    pub revocation_endpoint: String,
    /// `/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// `password` and `refresh_token`.
    pub grant_types_supported: [&'static str; 2],
    /// `none`: clients do not authenticate at the token endpoint.
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    /// `none`, as at the token endpoint.
    pub revocation_endpoint_auth_methods_supported: [&'static str; 1],
    /// The scopes `--scope` defines.
    pub scopes_supported: Vec<String>,
    /// Empty: the password grant has no authorization endpoint, so no response type.
    pub response_types_supported: [&'static str; 0],
    /// `/docs`, when served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
}

/// The key set of a key ring: every Ed25519 key's public half, none of its HS256 secrets.
pub fn jwks(keys: &crate::keys::Keys) -> Jwks {
    let keys = keys
        .keys()
        .filter_map(|k| Some((k.kid()?, k.public_key()?)))
        .map(|(kid, public)| Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            kid: kid.to_owned(),
            alg: "EdDSA",
            use_: "sig",
        })
        .collect();
    Jwks { keys }
}

fn json_with_cache<T: Serialize>(value: &T, cache: &str) -> Response {
    let mut res = axum::Json(value).into_response();
    if let Ok(v) = HeaderValue::from_str(cache) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    res
}

/// `GET /.well-known/jwks.json`: the public keys that verify this server's EdDSA tokens.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    summary = "The public keys that verify tokens (RFC 7517; HS256 secrets never appear)",
    responses((status = 200, description = "The key set; cacheable for five minutes",
        body = Jwks, headers(("Cache-Control" = String, description = "public, max-age=300"))))
)]
pub async fn jwks_json(State(state): State<AppState>) -> Response {
    json_with_cache(
        &jwks(&state.auth.keys()),
        &format!("public, max-age={JWKS_MAX_AGE}"),
    )
}

/// `GET /.well-known/oauth-authorization-server`: where the endpoints are, and what they take.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    summary = "Authorization server metadata (RFC 8414)",
    responses(
        (status = 200, description = "The metadata; cacheable when `--public-url` is set",
            body = ServerMetadata),
        (status = 400, description = "No `--public-url` and no usable Host header", body = Detail),
    )
)]
pub async fn server_metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let settings = &state.settings;
    let Some((base, cache)) = base_url(settings, &headers) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "no --public-url is set and the Host header is not a host name",
        );
    };
    let issuer = settings
        .issuer
        .clone()
        .filter(|i| i.starts_with("https://") || i.starts_with("http://"))
        .unwrap_or_else(|| base.clone());
    let metadata = ServerMetadata {
        issuer,
        token_endpoint: format!("{base}/auth/session"),
        revocation_endpoint: format!("{base}/auth/revoke"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        grant_types_supported: ["password", "refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        revocation_endpoint_auth_methods_supported: ["none"],
        scopes_supported: settings.scopes.iter().map(|s| s.name.clone()).collect(),
        response_types_supported: [],
        service_documentation: settings.docs.then(|| format!("{base}/docs")),
    };
    json_with_cache(&metadata, &cache)
}

/// The URL the metadata's endpoints start with, and the answer's `Cache-Control`: from
/// `--public-url`, else from the Host header (which the client chooses, so the answer goes to
/// that client alone and is not cached). `None` for a Host that is not a host name.
fn base_url(settings: &crate::settings::Settings, headers: &HeaderMap) -> Option<(String, String)> {
    if let Some(url) = &settings.public_url {
        return Some((url.clone(), format!("public, max-age={METADATA_MAX_AGE}")));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_host(h))?;
    let scheme = if settings.hsts { "https" } else { "http" };
    Some((format!("{scheme}://{host}"), "no-store".to_owned()))
}

/// A host name or address with an optional port: letters, digits, `.`, `-`, `:`, `[`, `]`.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= MAX_HOST_LEN
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for good in ["auth.example.com", "127.0.0.1:8000", "[::1]:8443", "a-b"] {
            assert!(is_host(good), "{good}");
        }
        for bad in ["", "a b", "evil.com/x", "a\"b", "x@y", &"a".repeat(261)] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
