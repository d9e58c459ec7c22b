//! The `Authorization: Bearer <token>` header (RFC 6750 §2.1), as FastAPI's
//! `OAuth2PasswordBearer` reads it.

use crate::jwt::MAX_TOKEN_LEN;

pub use crate::error::BearerError;

/// Longest `Authorization` value considered: `Bearer ` plus [`MAX_TOKEN_LEN`].
pub const MAX_AUTHORIZATION_LEN: usize = MAX_TOKEN_LEN + 7;

/// Extracts the token from an `Authorization` header value.
///
/// The scheme is matched case-insensitively and followed by one or more spaces; the token must
/// be an RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// # Errors
/// [`BearerError::NotAuthenticated`] for `None` or another scheme,
/// [`BearerError::InvalidToken`] for a bearer value that is empty, malformed or longer than
/// [`MAX_AUTHORIZATION_LEN`].
pub fn parse_bearer(value: Option<&[u8]>) -> Result<&str, BearerError> {
    let value = value.ok_or(BearerError::NotAuthenticated)?;
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(at) => value.split_at(at),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(BearerError::NotAuthenticated);
    }
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(BearerError::InvalidToken);
    }
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let token = rest.get(start..).unwrap_or_default();
    let body_end = token
        .iter()
        .position(|&b| !is_b64token_char(b))
        .unwrap_or(token.len());
    let (body, pad) = token.split_at(body_end);
    if body.is_empty() || !pad.iter().all(|&b| b == b'=') {
        return Err(BearerError::InvalidToken);
    }
    core::str::from_utf8(token).map_err(|_| BearerError::InvalidToken)
}

const fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_spaces() {
        for ok in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "BeArEr    abc",
            "Bearer a.b-c_d~e+f/g===",
        ] {
            assert!(parse_bearer(Some(ok.as_bytes())).is_ok(), "{ok}");
        }
        assert_eq!(parse_bearer(Some(b"Bearer   abc")), Ok("abc"));
        for not_auth in [
            "Basic dXNlcjpwYXNz",
            "Token abc",
            "Bearerabc",
            "",
            " Bearer abc",
            "Bearer\tabc",
        ] {
            assert_eq!(
                parse_bearer(Some(not_auth.as_bytes())),
                Err(BearerError::NotAuthenticated),
                "{not_auth:?}"
            );
        }
        assert_eq!(parse_bearer(None), Err(BearerError::NotAuthenticated));
        for invalid in [
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Bearer a b",
            "Bearer ===",
            "Bearer a=b",
            "Bearer é",
            "Bearer a\tb",
        ] {
            assert_eq!(
                parse_bearer(Some(invalid.as_bytes())),
                Err(BearerError::InvalidToken),
                "{invalid:?}"
            );
        }
        assert_eq!(
            parse_bearer(Some(b"Bearer \xff")),
            Err(BearerError::InvalidToken)
        );
    }

    #[test]
    fn length_cap() {
        let mut long = [b'a'; MAX_AUTHORIZATION_LEN + 1];
        long[..7].copy_from_slice(b"Bearer ");
        assert_eq!(parse_bearer(Some(&long)), Err(BearerError::InvalidToken));
        assert!(parse_bearer(Some(&long[..MAX_AUTHORIZATION_LEN])).is_ok());
        // The cap is the verifier's: its longest token fits behind `Bearer `, one byte more not.
        let mut value = [b'a'; 7 + MAX_TOKEN_LEN + 1];
        value[..7].copy_from_slice(b"Bearer ");
        let longest = value.get(..7 + MAX_TOKEN_LEN);
        assert_eq!(parse_bearer(longest).map(str::len), Ok(MAX_TOKEN_LEN));
        assert_eq!(parse_bearer(Some(&value)), Err(BearerError::InvalidToken));
    }
}
