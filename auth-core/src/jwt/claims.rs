use core::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::json::JsonStr;

/// Seconds since the Unix epoch (RFC 7519 NumericDate).
///
/// Only non-negative integers are accepted. A fractional value such as `1764333900.5`, which
/// RFC 7519 permits, is rejected as [`crate::ClaimsError::Json`]: every mainstream issuer
/// (PyJWT included) writes integers, and rejecting is safer than silently rounding.
pub type NumericDate = u64;

/// Most audiences an `aud` array may list.
pub const MAX_AUDIENCES: usize = 8;

/// Longest single `aud` string, in decoded bytes, accepted when it is written with JSON escapes.
///
/// serde-json-core hands an escaped string over only decoded (in scratch space it reuses), so
/// such an audience is copied into inline storage of this size; a longer one fails with
/// [`crate::ClaimsError::Shape`]. Unescaped audiences, and every member of an `aud` array, are
/// borrowed and have no limit of their own.
pub const MAX_DECODED_AUDIENCE_LEN: usize = 256;
const MAX_DECODED_AUD: usize = MAX_DECODED_AUDIENCE_LEN;

/// The `aud` claim: one string or an array of strings.
///
/// Equality compares the decoded audiences in order, however they were written: `"aud":"a"`,
/// `"aud":"\u0061"` and `"aud":["a"]` are all equal.
#[derive(Clone, Debug)]
pub struct Audience<'a>(Aud<'a>);

/// How the audience was written; private, so callers see only the decoded audiences.
#[derive(Clone, Debug)]
enum Aud<'a> {
    /// A single audience.
    One(JsonStr<'a>),
    /// A single audience written with JSON escapes, decoded while parsing.
    OneDecoded(heapless::String<MAX_DECODED_AUD>),
    /// An array of audiences.
    Many(heapless::Vec<JsonStr<'a>, MAX_AUDIENCES>),
}

impl<'a> Audience<'a> {
    /// An empty array of audiences, for the scanner to fill in place.
    pub(crate) const fn none_yet() -> Self {
        Audience(Aud::Many(heapless::Vec::new()))
    }

    /// Appends to an array of audiences; `Err` when it is full or not an array.
    pub(crate) fn push(&mut self, aud: JsonStr<'a>) -> Result<(), ()> {
        match &mut self.0 {
            Aud::Many(v) => v.push(aud).map_err(|_| ()),
            _ => Err(()),
        }
    }

    /// A single audience (serialized as a string).
    pub const fn one(aud: JsonStr<'a>) -> Self {
        Audience(Aud::One(aud))
    }

    /// Several audiences, in order (serialized as an array); `None` for more than
    /// [`MAX_AUDIENCES`].
    pub fn many(auds: &[JsonStr<'a>]) -> Option<Self> {
        heapless::Vec::from_slice(auds)
            .ok()
            .map(|v| Audience(Aud::Many(v)))
    }
}

impl Audience<'_> {
    /// Whether `aud` is (one of) the audience(s), compared decoded.
    pub fn contains(&self, aud: &str) -> bool {
        self.iter().any(|s| s == *aud)
    }

    /// Whether it is written as an array.
    #[cfg(feature = "sign")]
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn is_array(&self) -> bool {
        matches!(self.0, Aud::Many(_))
    }

    /// The audiences, in order.
    // Inline, so that the iterator is not returned through memory from another crate's
    // generic writer or reader (a store-forwarding stall per signed token, #26).
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub fn iter(&self) -> impl Iterator<Item = JsonStr<'_>> {
        let (one, many): (Option<JsonStr<'_>>, &[JsonStr<'_>]) = match &self.0 {
            Aud::One(s) => (Some(*s), &[]),
            Aud::OneDecoded(s) => (Some(JsonStr::new(s.as_str())), &[]),
            Aud::Many(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

impl PartialEq for Audience<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Serialize for Audience<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Aud::One(v) => v.serialize(s),
            Aud::OneDecoded(v) => s.serialize_str(v),
            Aud::Many(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for a in v {
                    seq.serialize_element(a)?;
                }
                seq.end()
            }
        }
    }
}

struct AudienceVisitor;

impl<'de> Visitor<'de> for AudienceVisitor {
    type Value = Audience<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        JsonStr::from_raw_json(v)
            .map(Audience::one)
            .ok_or_else(|| E::custom("invalid escape"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // serde-json-core hands over an escaped string already decoded, in scratch space.
        let mut s = heapless::String::new();
        s.push_str(v).map_err(|_| E::custom("audience too long"))?;
        Ok(Audience(Aud::OneDecoded(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = heapless::Vec::new();
        while let Some(a) = seq.next_element::<JsonStr<'de>>()? {
            v.push(a)
                .map_err(|_| de::Error::invalid_length(MAX_AUDIENCES.saturating_add(1), &self))?;
        }
        Ok(Audience(Aud::Many(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde-json-core has no `deserialize_any`, but its `deserialize_ignored_any` dispatches
        // on the next token: a string goes to `visit_*str`, an array to `visit_seq`, anything
        // else (numbers, objects, literals) to `visit_unit`/`visit_map`, which this visitor
        // rejects as a wrong type.
        d.deserialize_ignored_any(AudienceVisitor)
    }
}

/// The registered claims a [`crate::Validation`] checks.
///
/// Implement it for your own claims type (every method defaults to "absent") to validate that
/// type directly, as the crate's [`Claims`] and the flow module's claims do.
pub trait RegisteredClaims {
    /// `exp`.
    fn exp(&self) -> Option<NumericDate> {
        None
    }
    /// `nbf`.
    fn nbf(&self) -> Option<NumericDate> {
        None
    }
    /// `iat`.
    fn iat(&self) -> Option<NumericDate> {
        None
    }
    /// `iss`.
    fn iss(&self) -> Option<JsonStr<'_>> {
        None
    }
    /// `aud`.
    fn aud(&self) -> Option<&Audience<'_>> {
        None
    }
}

impl<T: RegisteredClaims + ?Sized> RegisteredClaims for &T {
    fn exp(&self) -> Option<NumericDate> {
        (**self).exp()
    }
    fn nbf(&self) -> Option<NumericDate> {
        (**self).nbf()
    }
    fn iat(&self) -> Option<NumericDate> {
        (**self).iat()
    }
    fn iss(&self) -> Option<JsonStr<'_>> {
        (**self).iss()
    }
    fn aud(&self) -> Option<&Audience<'_>> {
        (**self).aud()
    }
}

/// The RFC 7519 registered claims. Strings are [`JsonStr`]: zero-copy, compared decoded.
///
/// Members other than these are ignored; a member given twice, or of the wrong JSON type
/// (`"exp":"123"`), is an error.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Claims<'a> {
    /// Subject.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<JsonStr<'a>>,
    /// Issuer.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<JsonStr<'a>>,
    /// Audience.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience<'a>>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// Token id.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<JsonStr<'a>>,
}

impl<'a> Claims<'a> {
    /// No claims.
    pub const fn new() -> Self {
        Claims {
            sub: None,
            iss: None,
            aud: None,
            exp: None,
            nbf: None,
            iat: None,
            jti: None,
        }
    }

    /// Sets `sub`.
    pub const fn with_subject(mut self, sub: &'a str) -> Self {
        self.sub = Some(JsonStr::new(sub));
        self
    }

    /// Sets `iss`.
    pub const fn with_issuer(mut self, iss: &'a str) -> Self {
        self.iss = Some(JsonStr::new(iss));
        self
    }

    /// Sets a single `aud`.
    pub fn with_audience(mut self, aud: &'a str) -> Self {
        self.aud = Some(Audience::one(JsonStr::new(aud)));
        self
    }

    /// Sets `iat` to `now` and `exp` to `now + ttl` (saturating).
    pub const fn with_lifetime(mut self, now: NumericDate, ttl: u64) -> Self {
        self.iat = Some(now);
        self.exp = Some(now.saturating_add(ttl));
        self
    }

    /// Sets `nbf`.
    pub const fn with_not_before(mut self, nbf: NumericDate) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Sets `jti`.
    pub const fn with_id(mut self, jti: &'a str) -> Self {
        self.jti = Some(JsonStr::new(jti));
        self
    }
}

/// Implements [`RegisteredClaims`] for a struct whose `exp`, `nbf`, `iat`, `iss` and `aud`
/// members have the types [`Claims`] uses.
macro_rules! registered_claims_from_fields {
    ($ty:ident) => {
        impl $crate::jwt::RegisteredClaims for $ty<'_> {
            fn exp(&self) -> Option<$crate::jwt::NumericDate> {
                self.exp
            }
            fn nbf(&self) -> Option<$crate::jwt::NumericDate> {
                self.nbf
            }
            fn iat(&self) -> Option<$crate::jwt::NumericDate> {
                self.iat
            }
            fn iss(&self) -> Option<$crate::JsonStr<'_>> {
                self.iss
            }
            fn aud(&self) -> Option<&$crate::jwt::Audience<'_>> {
                self.aud.as_ref()
            }
        }
    };
}
#[cfg(feature = "flow")]
pub(crate) use registered_claims_from_fields;

registered_claims_from_fields!(Claims);
