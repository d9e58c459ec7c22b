//! Status codes, header values and JSON bodies, written through [`embedded_io::Write`].
//! With these and [`crate::flow`], a front-end only moves bytes.

use embedded_io::Write;

use crate::contract::{
    DETAIL_ACCESS_RESTRICTED, DETAIL_AUTHENTICATION_FAILED, DETAIL_INVALID_TOKEN,
    DETAIL_NOT_AUTHENTICATED,
};
use crate::error::EncodeError;
use crate::flow::{AuthError, LoginError};
use crate::form::{FieldErrorKind, FormError};
use crate::json::put;
pub use crate::json::write_json_str;

/// `Content-Type` of every body here.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// `WWW-Authenticate` for a missing credential or a failed login (RFC 6750 §3).
pub const WWW_AUTHENTICATE_BEARER: &str = "Bearer";
/// `WWW-Authenticate` for a bad token (RFC 6750 §3.1).
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";

/// Status line and headers of a reply. Token replies also carry `Cache-Control: no-store` and
/// `Pragma: no-cache` (RFC 6749 §5.1), flagged by `no_store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` value, if any.
    pub www_authenticate: Option<&'static str>,
    /// Send `Cache-Control: no-store` and `Pragma: no-cache`.
    pub no_store: bool,
    /// The `detail` of the JSON error body, for error replies.
    pub detail: Option<&'static str>,
}

impl Reply {
    /// 200 for an issued token.
    pub const TOKEN: Reply = Reply {
        status: 200,
        www_authenticate: None,
        no_store: true,
        detail: None,
    };
    /// 200 for a protected resource.
    pub const OK: Reply = Reply {
        status: 200,
        www_authenticate: None,
        no_store: false,
        detail: None,
    };
    /// 400 for an RFC 6749 §5.2 error ([`write_oauth_error`]).
    pub const OAUTH_ERROR: Reply = Reply {
        status: 400,
        www_authenticate: None,
        no_store: true,
        detail: None,
    };
    /// 422 for a bad login form.
    pub const UNPROCESSABLE: Reply = Reply {
        status: 422,
        www_authenticate: None,
        no_store: false,
        detail: None,
    };

    const fn error(status: u16, www: Option<&'static str>, detail: &'static str) -> Reply {
        Reply {
            status,
            www_authenticate: www,
            no_store: false,
            detail: Some(detail),
        }
    }

    /// Writes `{"detail":"…"}` when this is an error reply.
    ///
    /// # Errors
    /// [`EncodeError::Write`].
    pub fn write_detail<W: Write>(&self, w: &mut W) -> Result<(), EncodeError> {
        match self.detail {
            Some(d) => write_detail(d, w),
            None => Ok(()),
        }
    }
}

impl LoginError {
    /// The outward answer: a corrupt stored hash looks like a wrong password.
    pub const fn reply(&self) -> Reply {
        match self {
            LoginError::AccessRestricted => Reply::error(403, None, DETAIL_ACCESS_RESTRICTED),
            LoginError::Encode(_) => Reply::error(500, None, "Internal Server Error"),
            _ => Reply::error(
                401,
                Some(WWW_AUTHENTICATE_BEARER),
                DETAIL_AUTHENTICATION_FAILED,
            ),
        }
    }
}

impl AuthError {
    /// The outward answer.
    pub const fn reply(&self) -> Reply {
        match self {
            AuthError::NotAuthenticated => {
                Reply::error(401, Some(WWW_AUTHENTICATE_BEARER), DETAIL_NOT_AUTHENTICATED)
            }
            AuthError::InvalidToken => Reply::error(
                401,
                Some(WWW_AUTHENTICATE_INVALID_TOKEN),
                DETAIL_INVALID_TOKEN,
            ),
            AuthError::AccessRestricted => Reply::error(403, None, DETAIL_ACCESS_RESTRICTED),
        }
    }
}

fn write_u64<W: Write>(mut v: u64, w: &mut W) -> Result<(), EncodeError> {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i = i.saturating_sub(1);
        let (q, r) = crate::divide::div_rem(v, 10);
        if let Some(d) = digits.get_mut(i) {
            // `r < 10`: the cast cannot truncate.
            *d = b'0'.saturating_add(r as u8);
        }
        v = q;
        if v == 0 {
            break;
        }
    }
    put(w, digits.get(i..).unwrap_or_default())
}

/// `{"detail":"…"}`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_detail<W: Write>(detail: &str, w: &mut W) -> Result<(), EncodeError> {
    put(w, b"{\"detail\":")?;
    write_json_str(detail, w)?;
    put(w, b"}")
}

/// `{"access_token":"…","token_type":"bearer","expires_in":N}`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_token<W: Write>(token: &str, expires_in: u64, w: &mut W) -> Result<(), EncodeError> {
    put(w, b"{\"access_token\":")?;
    write_json_str(token, w)?;
    put(w, b",\"token_type\":\"bearer\",\"expires_in\":")?;
    write_u64(expires_in, w)?;
    put(w, b"}")
}

/// `{"access_token":"…","token_type":"bearer","expires_in":N,"refresh_token":"…"}`: a token
/// reply that starts or continues a session (RFC 6749 §5.1).
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_token_with_refresh<W: Write>(
    token: &str,
    expires_in: u64,
    refresh_token: &str,
    w: &mut W,
) -> Result<(), EncodeError> {
    write_token_response(token, expires_in, refresh_token, None, w)
}

/// The token response with the granted scope (RFC 6749 §5.1: `scope` is written when it
/// differs from the one requested, and left out otherwise).
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_token_response<W: Write>(
    token: &str,
    expires_in: u64,
    refresh_token: &str,
    scope: Option<&str>,
    w: &mut W,
) -> Result<(), EncodeError> {
    put(w, b"{\"access_token\":")?;
    write_json_str(token, w)?;
    put(w, b",\"token_type\":\"bearer\",\"expires_in\":")?;
    write_u64(expires_in, w)?;
    put(w, b",\"refresh_token\":")?;
    write_json_str(refresh_token, w)?;
    if let Some(scope) = scope {
        put(w, b",\"scope\":")?;
        write_json_str(scope, w)?;
    }
    put(w, b"}")
}

/// An RFC 6749 §5.2 error: status 400, `{"error":…,"error_description":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code.
    pub code: &'static str,
    /// The `error_description`.
    pub description: &'static str,
}

impl OAuthError {
    /// A refresh token that is malformed, unknown, expired, revoked or reused.
    pub const INVALID_GRANT: OAuthError = OAuthError {
        code: "invalid_grant",
        description: "The refresh token is invalid, expired or revoked",
    };
    /// A scope wider than the session's.
    pub const INVALID_SCOPE: OAuthError = OAuthError {
        code: "invalid_scope",
        description: "The requested scope exceeds the scope granted",
    };
    /// A missing or badly encoded parameter.
    pub const INVALID_REQUEST: OAuthError = OAuthError {
        code: "invalid_request",
        description: "A required parameter is missing or malformed",
    };
}

/// `{"error":"…","error_description":"…"}` (RFC 6749 §5.2), sent with status 400 and
/// `Cache-Control: no-store`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_oauth_error<W: Write>(error: &OAuthError, w: &mut W) -> Result<(), EncodeError> {
    put(w, b"{\"error\":")?;
    write_json_str(error.code, w)?;
    put(w, b",\"error_description\":")?;
    write_json_str(error.description, w)?;
    put(w, b"}")
}

/// `msg` of a too-long password; pydantic's wording, in bytes (the limit is on bytes).
const PASSWORD_TOO_LONG_MSG: &str = "String should have at most 4096 bytes";
const MAX_PASSWORD_LEN_TEXT: &str = "4096";
const USERNAME_TOO_LONG_MSG: &str = "String should have at most 64 bytes";
const MAX_USERNAME_LEN_TEXT: &str = "64";
const _: () = assert!(
    crate::form::MAX_USERNAME_LEN == 64,
    "update the username texts above"
);
const _: () = assert!(
    crate::password::MAX_PASSWORD_LEN == 4096,
    "update the texts above"
);

/// The 422 body in FastAPI's shape, one entry per field error:
/// `{"detail":[{"type":"missing","loc":["body","username"],"msg":"Field required","input":null}]}`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_form_errors<W: Write>(errors: &FormError<'_>, w: &mut W) -> Result<(), EncodeError> {
    put(w, b"{\"detail\":[")?;
    for (i, e) in errors.errors().iter().enumerate() {
        if i > 0 {
            put(w, b",")?;
        }
        let (ty, msg) = match e.kind {
            FieldErrorKind::Missing => ("missing", "Field required"),
            FieldErrorKind::PatternMismatch => (
                "string_pattern_mismatch",
                "String should match pattern '^password$'",
            ),
            FieldErrorKind::Repeated => ("repeated_field", "Field must be given only once"),
            FieldErrorKind::InvalidEncoding => {
                ("invalid_encoding", "Invalid percent-encoding or UTF-8")
            }
            FieldErrorKind::TooLarge => ("too_large", "Form is too large"),
            FieldErrorKind::TooLong if e.field == crate::form::Field::Username => {
                ("string_too_long", USERNAME_TOO_LONG_MSG)
            }
            FieldErrorKind::TooLong => ("string_too_long", PASSWORD_TOO_LONG_MSG),
            FieldErrorKind::InvalidScope => (
                "invalid_scope",
                "Scopes are printable ASCII tokens, without quotes or backslashes, separated by spaces",
            ),
            FieldErrorKind::TooManyScopes => {
                ("too_many_scopes", "At most 32 scopes and 1024 bytes")
            }
        };
        put(w, b"{\"type\":\"")?;
        put(w, ty.as_bytes())?;
        put(w, b"\",\"loc\":[\"body\",\"")?;
        put(w, e.field.name().as_bytes())?;
        put(w, b"\"],\"msg\":")?;
        write_json_str(msg, w)?;
        put(w, b",\"input\":")?;
        match errors.grant_type_input() {
            Some(input) if e.kind == FieldErrorKind::PatternMismatch => write_json_str(input, w)?,
            _ => put(w, b"null")?,
        }
        if e.kind == FieldErrorKind::PatternMismatch {
            put(w, b",\"ctx\":{\"pattern\":\"^password$\"}")?;
        }
        if e.kind == FieldErrorKind::TooLong {
            put(w, b",\"ctx\":{\"max_length\":")?;
            let max = if e.field == crate::form::Field::Username {
                MAX_USERNAME_LEN_TEXT
            } else {
                MAX_PASSWORD_LEN_TEXT
            };
            put(w, max.as_bytes())?;
            put(w, b"}")?;
        }
        put(w, b"}")?;
    }
    put(w, b"]}")
}
