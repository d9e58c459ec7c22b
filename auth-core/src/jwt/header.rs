use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::key::{Kid, MAX_KID_LEN, make_kid};
use crate::b64;
use crate::error::ParseError;
use crate::json::JsonStr;
use crate::json_check::{self, JsonCheckError};

use super::SIGNATURE_B64_LEN;

/// Default cap on a token's length in bytes (8 KiB), checked before anything else.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest decoded header accepted, in bytes. Headers are decoded on the stack.
pub(crate) const MAX_HEADER_LEN: usize = 256;

/// base64url of `{"alg":"HS256","typ":"JWT"}`: the header this crate (and PyJWT) writes for a
/// key without a `kid`. A token with exactly this header skips header decoding.
pub(crate) const CANONICAL_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

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
    /// non-empty header and payload, the header (strict base64url; valid JSON nested at most
    /// [`MAX_HEADER_DEPTH`] deep; member names compared decoded, none read twice; `alg` exactly
    /// `"HS256"`; `typ`, when present, `JWT` in any case; no `crit`; a valid `kid`), the
    /// payload's encoding (strict base64url, not decoded yet), then the signature segment
    /// (exactly 32 bytes of strict base64url).
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
        // The payload is read only after the MAC, but its encoding is checked now, so that a
        // `VerifiedToken` always names a well-formed token (Wycheproof JWS: a MAC over spaces,
        // `#` or non-zero unused bits must not verify).
        if !b64::is_canonical(payload.as_bytes()) {
            return Err(ParseError::PayloadEncoding);
        }
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

/// Deepest nesting of arrays and objects a header may have. A header needs 2 (`crit` is an
/// array); 4 leaves room for registered members such as `jwk`. Checked before serde runs, so a
/// 256-byte header cannot nest 237 levels deep and cost 12 KiB of stack before the MAC.
pub const MAX_HEADER_DEPTH: u32 = 4;

/// A member name as written, escapes included: map keys are read with `deserialize_str`, the
/// one way `serde-json-core` supports for them.
struct RawName<'a>(&'a str);

impl<'de> Deserialize<'de> for RawName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawName<'de>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawName(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// The members the verifier reads. Names are compared *decoded* (`"\u0061lg"` is `alg`), and a
/// member read twice is refused, so no spelling of a name can hide from these checks. Other
/// members are ignored, however often they appear: ignoring them is the same whichever copy
/// would win.
struct RawHeader<'a> {
    alg: JsonStr<'a>,
    typ: Option<JsonStr<'a>>,
    kid: Option<JsonStr<'a>>,
    crit: bool,
}

impl<'de> Deserialize<'de> for RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader<'de>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a jose header")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                fn once<'de, A: MapAccess<'de>>(
                    map: &mut A,
                    slot: &mut Option<JsonStr<'de>>,
                ) -> Result<(), A::Error> {
                    if slot.is_some() {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }
                let (mut alg, mut typ, mut kid, mut crit) = (None, None, None, false);
                while let Some(RawName(raw)) = map.next_key()? {
                    let name = JsonStr::from_raw_json(raw)
                        .ok_or_else(|| de::Error::custom("invalid member name"))?;
                    if name == "alg" {
                        once(&mut map, &mut alg)?;
                    } else if name == "typ" {
                        once(&mut map, &mut typ)?;
                    } else if name == "kid" {
                        once(&mut map, &mut kid)?;
                    } else {
                        if name == "crit" {
                            if crit {
                                return Err(de::Error::custom("duplicate member"));
                            }
                            crit = true;
                        }
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                let alg = alg.ok_or_else(|| de::Error::missing_field("alg"))?;
                Ok(RawHeader {
                    alg,
                    typ,
                    kid,
                    crit,
                })
            }
        }
        d.deserialize_map(V)
    }
}

fn parse_header(seg: &[u8]) -> Result<Option<Kid>, ParseError> {
    if b64::decoded_len_max(seg.len()) > MAX_HEADER_LEN {
        return Err(ParseError::HeaderTooLong);
    }
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = b64::decode(seg, &mut buf).ok_or(ParseError::HeaderEncoding)?;
    let json = buf.get(..n).ok_or(ParseError::HeaderEncoding)?;
    // Before serde: valid UTF-8 and RFC 8259 JSON throughout (ignored members included), nested
    // at most MAX_HEADER_DEPTH deep. Iterative, fixed stack.
    core::str::from_utf8(json).map_err(|_| ParseError::HeaderJson)?;
    json_check::check_syntax(json, MAX_HEADER_DEPTH).map_err(|e| match e {
        JsonCheckError::TooDeep => ParseError::HeaderNesting,
        JsonCheckError::Syntax => ParseError::HeaderJson,
    })?;
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
    if h.crit {
        return Err(ParseError::CriticalHeader);
    }
    match h.kid {
        None => Ok(None),
        Some(kid) => {
            let mut tmp = [0u8; MAX_KID_LEN];
            let kid = kid.decode_into(&mut tmp).ok_or(ParseError::InvalidKid)?;
            make_kid(kid).map(Some).ok_or(ParseError::InvalidKid)
        }
    }
}
