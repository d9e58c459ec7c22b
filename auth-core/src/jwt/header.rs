use super::key::{Algorithm, Kid, kid_from_chars, make_kid};
use super::scan;
use crate::b64;
use crate::error::{ParseError, VerifyError};
use crate::json::JsonStr;
use crate::json_check::{self, JsonCheckError};

use super::{CANONICAL_HEADER_B64, SIGNATURE_B64_LEN};

/// The longest signature a token of this build carries: 32 bytes (HS256), or 64 (EdDSA).
#[cfg(not(feature = "eddsa"))]
pub(crate) const MAX_SIGNATURE_LEN: usize = 32;
/// The longest signature a token of this build carries: 32 bytes (HS256), or 64 (EdDSA).
#[cfg(feature = "eddsa")]
pub(crate) const MAX_SIGNATURE_LEN: usize = 64;

/// What a header says, once checked: its algorithm and its key id.
pub(crate) type HeaderVerdict = (Algorithm, Option<Kid>);

/// Default cap on a token's length in bytes (8 KiB), checked before anything else.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest decoded header accepted, in bytes. Headers are decoded on the stack.
pub(crate) const MAX_HEADER_LEN: usize = 256;

/// A token whose structure and header were checked, but whose MAC was not.
///
/// Nothing of the payload has been read. Get a [`super::VerifiedToken`] from
/// [`crate::KeyRing::verify`] or [`crate::Hs256Key::verify`].
#[derive(Debug, Clone)]
pub struct UntrustedToken<'t> {
    pub(crate) signing_input: &'t str,
    pub(crate) payload: &'t str,
    /// The signature's bytes; the first `alg.signature_len()` of them count.
    pub(crate) signature: [u8; MAX_SIGNATURE_LEN],
    pub(crate) alg: Algorithm,
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
    /// non-empty header and payload, the header (strict base64url; valid JSON nested at most
    /// [`MAX_HEADER_DEPTH`] deep; member names compared decoded, none read twice; `alg` exactly
    /// `"HS256"`, or `"EdDSA"` with the `eddsa` feature; `typ`, when present, `JWT` in any case;
    /// no `crit`; a valid `kid`), the payload's encoding (strict base64url, not decoded yet),
    /// then the signature segment (strict base64url of exactly 32 bytes for HS256, 64 for
    /// EdDSA).
    ///
    /// # Errors
    /// The first [`ParseError`] met.
    pub fn parse_with_limit(token: &'t str, max_len: usize) -> Result<Self, ParseError> {
        Self::parse_checking(token, max_len, true)
    }

    /// [`UntrustedToken::parse`] without the payload's encoding check, for the fused decode,
    /// whose strict decode after the MAC checks it (`KeyRing::decode_into`). Never handed out:
    /// a `VerifiedToken` from it is scanned at once.
    pub(crate) fn parse_deferred(token: &'t str) -> Result<Self, ParseError> {
        Self::parse_checking(token, MAX_TOKEN_LEN, false)
    }

    fn parse_checking(
        token: &'t str,
        max_len: usize,
        check_payload: bool,
    ) -> Result<Self, ParseError> {
        if token.len() > max_len {
            return Err(ParseError::TooLong);
        }
        if let Some(t) = Self::issued_shape(token, check_payload) {
            return Ok(t);
        }
        let (header, rest) = token.split_once('.').ok_or(ParseError::Malformed)?;
        let (payload, signature) = rest.split_once('.').ok_or(ParseError::Malformed)?;
        if header.is_empty() || payload.is_empty() || signature.contains('.') {
            return Err(ParseError::Malformed);
        }
        let (alg, kid) = if header == CANONICAL_HEADER_B64 {
            (Algorithm::Hs256, None)
        } else {
            parse_header(header.as_bytes())?
        };
        // The payload is read only after the MAC, but its encoding is checked now, so that a
        // `VerifiedToken` always names a well-formed token (Wycheproof JWS: a MAC over spaces,
        // `#` or non-zero unused bits must not verify).
        if check_payload && !b64::is_canonical(payload.as_bytes()) {
            return Err(ParseError::PayloadEncoding);
        }
        let signature = decode_signature(signature.as_bytes(), alg)?;
        let signing_len = token
            .len()
            .saturating_sub(rest.len().saturating_sub(payload.len()));
        let signing_input = token.get(..signing_len).ok_or(ParseError::Malformed)?;
        Ok(UntrustedToken {
            signing_input,
            payload,
            signature,
            alg,
            kid,
        })
    }

    /// The fast path for the common token: the canonical kid-less header, a canonical payload
    /// and a 43-character signature, found by position instead of by searching for dots.
    /// Anything else (or any error here) goes the general way, so every verdict and error is
    /// the general path's.
    fn issued_shape(token: &'t str, check_payload: bool) -> Option<Self> {
        let rest = token
            .strip_prefix(CANONICAL_HEADER_B64)?
            .strip_prefix('.')?;
        let dot = rest.len().checked_sub(SIGNATURE_B64_LEN + 1)?;
        let (payload, signature) = (rest.get(..dot)?, rest.get(dot..)?.strip_prefix('.')?);
        if payload.is_empty() || (check_payload && !b64::is_canonical(payload.as_bytes())) {
            return None;
        }
        let signature = decode_signature(signature.as_bytes(), Algorithm::Hs256).ok()?;
        let signing_input = token.get(..token.len().checked_sub(SIGNATURE_B64_LEN + 1)?)?;
        Some(UntrustedToken {
            signing_input,
            payload,
            signature,
            alg: Algorithm::Hs256,
            kid: None,
        })
    }

    /// The checks every key makes before its signature check: the token names the key's id
    /// (or none) and the key's algorithm.
    pub(crate) fn check_key(&self, kid: Option<&str>, alg: Algorithm) -> Result<(), VerifyError> {
        if let Some(want) = self.kid()
            && kid != Some(want)
        {
            return Err(VerifyError::UnknownKid);
        }
        if self.alg != alg {
            return Err(VerifyError::WrongAlgorithm);
        }
        Ok(())
    }

    /// The header's `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
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

fn decode_signature(seg: &[u8], alg: Algorithm) -> Result<[u8; MAX_SIGNATURE_LEN], ParseError> {
    if seg.len() != alg.signature_b64_len() {
        return Err(ParseError::SignatureEncoding);
    }
    // The length check fixes how many bytes come out (32 or 64), and the decoder writes
    // only those: straight into the returned array.
    let mut out = [0u8; MAX_SIGNATURE_LEN];
    b64::decode(seg, &mut out).ok_or(ParseError::SignatureEncoding)?;
    Ok(out)
}

/// Deepest nesting of arrays and objects a header may have. A header needs 2 (`crit` is an
/// array); 4 leaves room for registered members such as `jwk`. Checked before serde runs, so a
/// 256-byte header cannot nest 237 levels deep and cost 12 KiB of stack before the MAC.
pub const MAX_HEADER_DEPTH: u32 = 4;

// Out of line: its decode buffer is on the stack only for a header that is not the canonical
// one, not in every parse's frame.
#[inline(never)]
fn parse_header(seg: &[u8]) -> Result<HeaderVerdict, ParseError> {
    // `{"alg":"EdDSA","typ":"JWT"}`, which no JSON needs to be parsed for either.
    #[cfg(feature = "eddsa")]
    if seg == super::EDDSA_CANONICAL_HEADER_B64.as_bytes() {
        return Ok((Algorithm::EdDsa, None));
    }
    if b64::decoded_len_max(seg.len()) > MAX_HEADER_LEN {
        return Err(ParseError::HeaderTooLong);
    }
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = b64::decode(seg, &mut buf).ok_or(ParseError::HeaderEncoding)?;
    parse_decoded_header(buf.get(..n).ok_or(ParseError::HeaderEncoding)?)
}

/// A decoded header: the fast path, else the checked path.
pub(crate) fn parse_decoded_header(json: &[u8]) -> Result<HeaderVerdict, ParseError> {
    match fixed_header(json) {
        Some(verdict) => Ok(verdict),
        None => checked_header(json),
    }
}

/// The fast path for a header with a `kid`: exactly the bytes this crate (and PyJWT) writes,
/// `{"alg":"HS256","kid":"<kid>","typ":"JWT"}` (or `"EdDSA"`), with a valid key id. No JSON is
/// parsed; any other header (another order, spacing, escapes, members) takes
/// [`checked_header`], which gives the same verdict for this one (tested in
/// `fixed_header_agrees_with_the_checked_path`).
fn fixed_header(json: &[u8]) -> Option<HeaderVerdict> {
    let rest = json.strip_prefix(br#"{"alg":""#)?;
    let (alg, rest) = if let Some(rest) = rest.strip_prefix(br#"HS256","kid":""#) {
        (Algorithm::Hs256, rest)
    } else {
        #[cfg(not(feature = "eddsa"))]
        return None;
        #[cfg(feature = "eddsa")]
        (Algorithm::EdDsa, rest.strip_prefix(br#"EdDSA","kid":""#)?)
    };
    let kid = rest.strip_suffix(br#"","typ":"JWT"}"#)?;
    Some((alg, Some(make_kid(core::str::from_utf8(kid).ok()?)?)))
}

/// The checked path: any header, by the rules of [`UntrustedToken::parse_with_limit`].
pub(crate) fn checked_header(json: &[u8]) -> Result<HeaderVerdict, ParseError> {
    // Before anything reads a member: valid UTF-8 and RFC 8259 JSON throughout (ignored members
    // included), nested at most MAX_HEADER_DEPTH deep. Iterative, fixed stack.
    core::str::from_utf8(json).map_err(|_| ParseError::HeaderJson)?;
    json_check::check_syntax(json, MAX_HEADER_DEPTH).map_err(|e| match e {
        JsonCheckError::TooDeep => ParseError::HeaderNesting,
        JsonCheckError::Syntax => ParseError::HeaderJson,
    })?;
    // Every string member is a borrowed `JsonStr`; no unescape buffer, no serde.
    let h = scan::header(json).map_err(|_| ParseError::HeaderJson)?;
    judge(h.alg, h.typ, h.kid, h.crit)
}

/// The header rules, once its members are read: `alg` present and exactly `HS256` (or `EdDSA`
/// with the `eddsa` feature); `typ`, when present, `JWT` in any case; no `crit`; a valid `kid`.
pub(crate) fn judge(
    alg: Option<JsonStr<'_>>,
    typ: Option<JsonStr<'_>>,
    kid: Option<JsonStr<'_>>,
    crit: bool,
) -> Result<HeaderVerdict, ParseError> {
    let alg = alg.ok_or(ParseError::HeaderJson)?;
    let alg = if alg == "HS256" {
        Algorithm::Hs256
    } else {
        #[cfg(not(feature = "eddsa"))]
        return Err(ParseError::UnsupportedAlgorithm);
        #[cfg(feature = "eddsa")]
        if alg == "EdDSA" {
            Algorithm::EdDsa
        } else {
            return Err(ParseError::UnsupportedAlgorithm);
        }
    };
    // RFC 7515 §4.1.9: compared case-insensitively; "application/" may be omitted.
    if let Some(typ) = typ
        && !typ.eq_ignore_ascii_case("JWT")
        && !typ.eq_ignore_ascii_case("application/jwt")
    {
        return Err(ParseError::UnsupportedType);
    }
    if crit {
        return Err(ParseError::CriticalHeader);
    }
    match kid {
        None => Ok((alg, None)),
        // Decoded straight into the `Kid`, with no decode buffer.
        Some(kid) => kid_from_chars(kid.chars())
            .map(|kid| (alg, Some(kid)))
            .ok_or(ParseError::InvalidKid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn fixed_header_agrees_with_the_checked_path() {
        for json in [
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"0123456789012345678901234567890123456789012345678901234567890123","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"a!#$%&'()*+,-./:;<=>?@[]^_`{|}~","typ":"JWT"}"#,
        ] {
            let fast = fixed_header(json.as_bytes()).expect(json);
            assert_eq!(checked_header(json.as_bytes()), Ok(fast.clone()), "{json}");
            assert_eq!(fast.0, Algorithm::Hs256);
        }
        // The EdDSA template, with the feature; without it, `EdDSA` is refused either way.
        for json in [
            r#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#,
            r#"{"alg":"EdDSA","kid":"a!#$%&'()*+,-./:;<=>?@[]^_`{|}~","typ":"JWT"}"#,
        ] {
            #[cfg(feature = "eddsa")]
            {
                let fast = fixed_header(json.as_bytes()).expect(json);
                assert_eq!(checked_header(json.as_bytes()), Ok(fast.clone()), "{json}");
                assert_eq!(fast.0, Algorithm::EdDsa);
            }
            #[cfg(not(feature = "eddsa"))]
            {
                assert_eq!(fixed_header(json.as_bytes()), None);
                assert_eq!(
                    checked_header(json.as_bytes()),
                    Err(ParseError::UnsupportedAlgorithm)
                );
            }
        }
        for json in [
            r#"{"alg":"EDDSA","kid":"k1","typ":"JWT"}"#,
            r#"{"alg":"EdDSA","kid":"","typ":"JWT"}"#,
            r#"{"alg":"EdDSA","kid":"k1","typ":"JWT","x":1}"#,
        ] {
            assert_eq!(fixed_header(json.as_bytes()), None, "{json}");
        }
        // Not the template: the checked path decides (escapes, a bad kid, other spellings).
        for json in [
            r#"{"alg":"HS256","kid":"k\u0031","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"a b","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"k","typ":"JWT"} "#,
            r#"{"alg":"HS256","kid":"k","typ":"jwt"}"#,
            r#"{"alg":"HS256","kid":"k","kid":"k","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"k","","typ":"JWT"}"#,
            r#"{"alg":"HS256","kid":"0123456789012345678901234567890123456789012345678901234567890123x","typ":"JWT"}"#,
        ] {
            assert_eq!(fixed_header(json.as_bytes()), None, "{json}");
        }
        assert_eq!(
            checked_header(br#"{"alg":"HS256","kid":"k","","typ":"JWT"}"#),
            Err(ParseError::HeaderJson)
        );
        assert_eq!(
            checked_header(br#"{"alg":"HS256","kid":"k","kid":"k","typ":"JWT"}"#),
            Err(ParseError::HeaderJson)
        );
        // `typ` in any case, but only `JWT` or `application/jwt`.
        let ok = Ok((Algorithm::Hs256, None));
        let refused = Err(ParseError::UnsupportedType);
        for (typ, want) in [
            ("jwt", &ok),
            ("Application/JWT", &ok),
            ("JWS", &refused),
            ("JWTX", &refused),
            ("application/jws", &refused),
            ("JOSE", &refused),
        ] {
            let mut h = heapless::String::<64>::new();
            let _ = write!(h, r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            assert_eq!(&checked_header(h.as_bytes()), want, "{typ}");
        }
    }
}
