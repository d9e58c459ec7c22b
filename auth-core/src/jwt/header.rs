use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use crate::b64;
use crate::error::ParseError;
use crate::json::JsonStr;
use crate::key::{Kid, make_kid};

use super::SIGNATURE_B64_LEN;

/// Default cap on a token's length in bytes (8 KiB), checked before anything else.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest decoded header accepted, in bytes. Headers are decoded on the stack.
pub const MAX_HEADER_LEN: usize = 256;

/// base64url of `{"alg":"HS256","typ":"JWT"}`: the header this crate (and PyJWT) writes for a
/// key without a `kid`. A token with exactly this header skips header decoding.
pub const CANONICAL_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A token whose structure and header were checked, but whose MAC was not.
///
/// Nothing of the payload has been read. Get a [`super::VerifiedToken`] from
/// [`crate::KeyRing::verify`] or [`crate::Hs256Key::verify`].
#[derive(Debug, Clone)]
pub struct UntrustedToken<'t> {
    pub(crate) signing_input: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: [u8; 32],
    pub(crate) kid: Option<Kid>,
}

impl<'t> UntrustedToken<'t> {
    /// Parses with the default length cap, [`MAX_TOKEN_LEN`].
    ///
    /// # Errors
    /// See [`UntrustedToken::parse_with_limit`].
    pub fn parse(token: &'t str) -> Result<Self, ParseError> {
        Self::parse_with_limit(token, MAX_TOKEN_LEN)
    }

    /// Parses a compact JWS, checking in this order: the length cap, three segments with a
    /// non-empty header and payload, the header (strict base64url; `alg` exactly `"HS256"`;
    /// `typ`, when present, `JWT` in any case; no `crit`; a valid `kid`), then the signature
    /// segment (exactly 32 bytes of strict base64url).
    ///
    /// # Errors
    /// The first [`ParseError`] met.
    pub fn parse_with_limit(token: &'t str, max_len: usize) -> Result<Self, ParseError> {
        if token.len() > max_len {
            return Err(ParseError::TooLong);
        }
        let (header, rest) = token.split_once('.').ok_or(ParseError::Malformed)?;
        let (payload, signature) = rest.split_once('.').ok_or(ParseError::Malformed)?;
        if header.is_empty() || payload.is_empty() || signature.contains('.') {
            return Err(ParseError::Malformed);
        }
        let kid = if header == CANONICAL_HEADER_B64 {
            None
        } else {
            parse_header(header.as_bytes())?
        };
        let signature = decode_signature(signature.as_bytes())?;
        let signing_len = token
            .len()
            .saturating_sub(rest.len().saturating_sub(payload.len()));
        let signing_input = token.get(..signing_len).ok_or(ParseError::Malformed)?;
        Ok(UntrustedToken {
            signing_input,
            payload,
            signature,
            kid,
        })
    }

    /// The header's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The raw `header.payload` text the MAC covers.
    pub fn signing_input(&self) -> &'t str {
        self.signing_input
    }
}

fn decode_signature(seg: &[u8]) -> Result<[u8; 32], ParseError> {
    if seg.len() != SIGNATURE_B64_LEN {
        return Err(ParseError::SignatureEncoding);
    }
    let mut buf = [0u8; 33];
    match b64::decode(seg, &mut buf) {
        Some(32) => {}
        _ => return Err(ParseError::SignatureEncoding),
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(buf.get(..32).ok_or(ParseError::SignatureEncoding)?);
    Ok(out)
}

/// `true` whenever the member is present, whatever its value (even `null`).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(Present(true))
    }
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: JsonStr<'a>,
    #[serde(borrow, default)]
    typ: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    kid: Option<JsonStr<'a>>,
    #[serde(default)]
    crit: Present,
}

fn parse_header(seg: &[u8]) -> Result<Option<Kid>, ParseError> {
    if b64::decoded_len_max(seg.len()) > MAX_HEADER_LEN {
        return Err(ParseError::HeaderTooLong);
    }
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = b64::decode(seg, &mut buf).ok_or(ParseError::HeaderEncoding)?;
    let json = buf.get(..n).ok_or(ParseError::HeaderEncoding)?;
    // No unescape buffer: every string member is a borrowed `JsonStr`.
    let (h, _) =
        serde_json_core::from_slice::<RawHeader<'_>>(json).map_err(|_| ParseError::HeaderJson)?;
    if h.alg != "HS256" {
        return Err(ParseError::UnsupportedAlgorithm);
    }
    if let Some(typ) = h.typ {
        // RFC 7515 §4.1.9: compared case-insensitively; "application/" may be omitted.
        if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("application/jwt") {
            return Err(ParseError::UnsupportedType);
        }
    }
    if h.crit.0 {
        return Err(ParseError::CriticalHeader);
    }
    match h.kid {
        None => Ok(None),
        Some(kid) => {
            let mut tmp = [0u8; crate::key::MAX_KID_LEN];
            let kid = kid.decode_into(&mut tmp).ok_or(ParseError::InvalidKid)?;
            make_kid(kid).map(Some).ok_or(ParseError::InvalidKid)
        }
    }
}
