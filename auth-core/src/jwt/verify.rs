use serde::Deserialize;

use super::key::{Algorithm, Hs256Key};
use super::ring::{Key, KeyRing};
use super::validate::Validation;
use crate::b64;
use crate::error::{ClaimsError, DecodeError, ParseError, VerifyError};
use crate::json_check;

use super::scan::{self, MAX_CLAIMS_DEPTH, Target, Value};
use super::{Claims, RegisteredClaims, UntrustedToken};
use crate::json::JsonStr;

/// A token whose MAC checked out. Its claims are read with [`VerifiedToken::claims`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedToken<'t> {
    payload: &'t str,
}

impl<'t> VerifiedToken<'t> {
    /// The payload segment, still base64url.
    pub fn payload_b64(&self) -> &'t str {
        self.payload
    }

    /// Decoded payload length in bytes: the least `buf` length [`VerifiedToken::claims`]
    /// needs. Add room for the longest escaped string your claims type decodes into owned
    /// storage (such as `heapless::String`); twice this length is always enough.
    pub fn payload_len(&self) -> usize {
        b64::decoded_len_max(self.payload.len())
    }

    /// Decodes the payload and reads the registered claims with the purpose-written scanner
    /// (no serde): the fast path, and the one a verify-only device links. Every other member
    /// is checked as JSON and skipped. `buf` needs [`VerifiedToken::payload_len`] bytes; the
    /// claims borrow from it.
    ///
    /// The verdicts are [`VerifiedToken::claims`]'s for [`Claims`]: the same payloads are
    /// accepted and refused, and the same values read (the `claims_differential` fuzz target
    /// checks it, against serde-json-core and `serde_json`).
    ///
    /// # Errors
    /// [`ClaimsError`], as for [`VerifiedToken::claims`].
    pub fn registered<'b>(&self, buf: &'b mut [u8]) -> Result<Claims<'b>, ClaimsError> {
        self.registered_with(buf, |_, _| Ok(()))
    }

    /// [`VerifiedToken::registered`], handing each other member (its name decoded, its value
    /// checked) to `other`, which may refuse it: custom claims without serde.
    ///
    /// # Errors
    /// As [`VerifiedToken::registered`], or what `other` returns.
    pub fn registered_with<'b, F>(
        &self,
        buf: &'b mut [u8],
        other: F,
    ) -> Result<Claims<'b>, ClaimsError>
    where
        F: FnMut(JsonStr<'b>, Value<'b>) -> Result<(), ClaimsError>,
    {
        let mut claims = Claims::new();
        self.scan(buf, &mut claims, other)?;
        Ok(claims)
    }

    /// Decodes the payload into `buf` and scans it into `target`.
    pub(crate) fn scan<'b, T, F>(
        &self,
        buf: &'b mut [u8],
        target: &mut T,
        other: F,
    ) -> Result<(), ClaimsError>
    where
        T: Target<'b>,
        F: FnMut(JsonStr<'b>, Value<'b>) -> Result<(), ClaimsError>,
    {
        let json = self.decode_payload(buf)?;
        scan::scan(json, target, other)
    }

    fn decode_payload<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], ClaimsError> {
        decode_payload(self.payload, buf)
    }

    /// Decodes the payload into the front of `buf` and deserializes `C` from it with serde. The
    /// rest of `buf` is scratch space for unescaping strings that `C` stores owned. For the
    /// registered claims alone, [`VerifiedToken::registered`] is faster and links no serde.
    ///
    /// Claim strings should be [`crate::JsonStr`]: it borrows, and compares decoded. A `&str`
    /// member rejects escaped input instead of exposing raw escape text.
    ///
    /// Before serde runs, the payload must be UTF-8 and RFC 8259 JSON throughout, nested at
    /// most [`MAX_CLAIMS_DEPTH`] deep: the scanner's rules, so both paths refuse the same
    /// texts (`"x":tru!!e`, which serde-json-core alone would skip, included).
    ///
    /// # Errors
    /// [`ClaimsError`] for bad base64url, a short buffer, nesting deeper than
    /// [`MAX_CLAIMS_DEPTH`], invalid JSON, a wrong claim type, a duplicate member or a bad
    /// escape.
    pub fn claims<'b, C: Deserialize<'b>>(&self, buf: &'b mut [u8]) -> Result<C, ClaimsError> {
        let n = self.decode_payload(buf)?.len();
        let (json, scratch) = buf.split_at_mut(n);
        serde_claims(json, scratch)
    }
}

/// Decodes a payload segment into the front of `buf` (base64url only: nothing is parsed).
fn decode_payload<'b>(payload: &str, buf: &'b mut [u8]) -> Result<&'b mut [u8], ClaimsError> {
    if buf.len() < b64::decoded_len_max(payload.len()) {
        return Err(ClaimsError::BufferTooSmall);
    }
    let n = b64::decode(payload.as_bytes(), buf).ok_or(ClaimsError::Encoding)?;
    buf.get_mut(..n).ok_or(ClaimsError::Encoding)
}

/// The serde path over decoded payload JSON: [`VerifiedToken::claims`] after base64url.
pub(crate) fn serde_claims<'b, C: Deserialize<'b>>(
    json: &'b [u8],
    scratch: &'b mut [u8],
) -> Result<C, ClaimsError> {
    // serde's own verdicts (and error kinds) first, within a depth bound that holds even where
    // serde-json-core skips text the syntax check stops at; then the scanner's stricter rules
    // refuse what serde-json-core alone lets through.
    let strict = match json_check::check_syntax(json, MAX_CLAIMS_DEPTH) {
        Ok(()) => true,
        Err(json_check::JsonCheckError::TooDeep) => return Err(ClaimsError::Nesting),
        Err(json_check::JsonCheckError::Syntax) => {
            json_check::check_depth(json, MAX_CLAIMS_DEPTH).map_err(|_| ClaimsError::Nesting)?;
            false
        }
    };
    let (claims, _) =
        serde_json_core::from_slice_escaped::<C>(json, scratch).map_err(map_json_error)?;
    if !strict || core::str::from_utf8(json).is_err() {
        return Err(ClaimsError::Json);
    }
    Ok(claims)
}

/// The full parse's first error, for a token whose signature segment the deferred parse
/// refused. The deferred parse skips only the payload's encoding check, which comes just before
/// the signature's, and it refuses a signature only after finding exactly three segments (the
/// fast shape falls back to the general path): so the first error is the payload's encoding if
/// that is bad, else the signature's. Costs no second parse and no second `UntrustedToken` on
/// the stack; the `token_verify` fuzz target compares every error with the full parse's.
fn first_parse_error(token: &str) -> ParseError {
    let payload = token
        .split_once('.')
        .and_then(|(_, rest)| rest.split_once('.'))
        .map_or("", |(payload, _)| payload);
    if b64::is_canonical(payload.as_bytes()) {
        ParseError::SignatureEncoding
    } else {
        ParseError::PayloadEncoding
    }
}

fn map_json_error(e: serde_json_core::de::Error) -> ClaimsError {
    use serde_json_core::de::Error as E;
    match e {
        E::InvalidType | E::InvalidNumber => ClaimsError::WrongType,
        E::CustomError => ClaimsError::Shape,
        E::EscapedStringIsTooLong | E::InvalidEscapeSequence => ClaimsError::Escape,
        _ => ClaimsError::Json,
    }
}

impl<'t> VerifiedToken<'t> {
    /// A token whose signature the caller has just checked.
    pub(crate) fn checked(token: &UntrustedToken<'t>) -> Self {
        VerifiedToken {
            payload: token.payload,
        }
    }
}

impl Hs256Key {
    /// Checks the token's MAC with this key, in constant time. A token whose header names a
    /// different `kid`, or another `alg` than `HS256`, is refused without computing the MAC.
    ///
    /// # Errors
    /// [`VerifyError::UnknownKid`], [`VerifyError::WrongAlgorithm`] or
    /// [`VerifyError::InvalidSignature`].
    pub fn verify<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        token.check_key(self.kid(), Algorithm::Hs256)?;
        self.check_mac(token)
    }

    /// The MAC check alone; the caller has matched the token's `alg` to this key.
    fn check_mac<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        self.check_mac_while(token, || {})
    }

    /// [`Hs256Key::check_mac`], running `meanwhile` between the signing input's whole blocks
    /// and the MAC's last ones (see `Key::check_while`).
    fn check_mac_while<'t>(
        &self,
        token: &UntrustedToken<'t>,
        meanwhile: impl FnOnce(),
    ) -> Result<VerifiedToken<'t>, VerifyError> {
        let tag = token
            .signature
            .first_chunk::<32>()
            .ok_or(VerifyError::InvalidSignature)?;
        if !self
            .pads()
            .verify_while(token.signing_input.as_bytes(), tag, meanwhile)
        {
            return Err(VerifyError::InvalidSignature);
        }
        Ok(VerifiedToken::checked(token))
    }
}

impl Key {
    /// Checks the token's signature with this key. A token whose header names a different
    /// `kid`, or another algorithm than this key's, is refused before any signature check.
    ///
    /// # Errors
    /// [`VerifyError::UnknownKid`], [`VerifyError::WrongAlgorithm`] or
    /// [`VerifyError::InvalidSignature`].
    pub fn verify<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        token.check_key(self.kid(), self.algorithm())?;
        self.check(token)
    }

    /// The signature check alone; the caller has matched the token's `alg` to this key
    /// (`KeyRing::select`). Each arm checks its algorithm again, so no key type ever checks a
    /// token of another.
    fn check<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        self.check_while(token, || {})
    }

    /// [`Key::check`], running `meanwhile` (work on public data that does not depend on the
    /// verdict) while the MAC's blocks are still being compressed: SHA-256 is a chain of
    /// dependent rounds, and the processor runs `meanwhile` beside it.
    fn check_while<'t>(
        &self,
        token: &UntrustedToken<'t>,
        meanwhile: impl FnOnce(),
    ) -> Result<VerifiedToken<'t>, VerifyError> {
        match self {
            Key::Hs256(k) => {
                if token.alg != Algorithm::Hs256 {
                    return Err(VerifyError::WrongAlgorithm);
                }
                k.check_mac_while(token, meanwhile)
            }
            #[cfg(feature = "eddsa")]
            Key::Ed25519(k) => {
                meanwhile();
                k.check_signature(token)
            }
            #[cfg(all(feature = "eddsa", feature = "sign"))]
            Key::Ed25519Signing(k) => {
                meanwhile();
                k.public_key().check_signature(token)
            }
        }
    }
}

impl<const N: usize> KeyRing<N> {
    /// Checks the token's signature with the key its `kid` names, or with the signing key when
    /// it names none. That key must be of the token's `alg`.
    ///
    /// # Errors
    /// [`VerifyError::UnknownKid`], [`VerifyError::WrongAlgorithm`] or
    /// [`VerifyError::InvalidSignature`].
    pub fn verify<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        self.select(token.kid(), token.alg)?.check(token)
    }

    /// Parses, verifies, reads the registered claims with the scanner
    /// ([`VerifiedToken::registered`]) and validates them, in one call: the fast path.
    ///
    /// The payload's base64url is decoded into `buf` while the MAC is computed; no claim is read
    /// before the MAC checks out. After an error, `buf`'s content is unspecified (and not
    /// authenticated).
    ///
    /// # Errors
    /// The first failing phase's error, wrapped in [`DecodeError`]: exactly what the three
    /// steps taken one by one return.
    pub fn decode_registered<'b>(
        &self,
        token: &str,
        buf: &'b mut [u8],
        validation: &Validation<'_>,
        now: u64,
    ) -> Result<Claims<'b>, DecodeError> {
        self.decode_registered_with(token, buf, validation, now, |_, _| Ok(()))
    }

    /// [`KeyRing::decode_registered`], handing each other member to `other` as
    /// [`VerifiedToken::registered_with`] does.
    ///
    /// # Errors
    /// As [`KeyRing::decode_registered`], or what `other` returns.
    pub fn decode_registered_with<'b, F>(
        &self,
        token: &str,
        buf: &'b mut [u8],
        validation: &Validation<'_>,
        now: u64,
        other: F,
    ) -> Result<Claims<'b>, DecodeError>
    where
        F: FnMut(JsonStr<'b>, Value<'b>) -> Result<(), ClaimsError>,
    {
        // Built in the return slot and filled there: a `Claims` (about 420 bytes on the host)
        // is not copied out of a local.
        let mut result = Ok(Claims::new());
        if let Ok(claims) = &mut result
            && let Err(e) = self.decode_into(token, buf, validation, now, claims, other)
        {
            result = Err(e);
        }
        result
    }

    /// [`KeyRing::decode_registered`] into `claims`, in place: for a device, one claims value on
    /// the stack (a `Claims` is about 400 bytes on a 32-bit target) instead of one in each
    /// call's return slot. `claims` is overwritten member by member; after an error its content
    /// is unspecified.
    ///
    /// # Errors
    /// As [`KeyRing::decode_registered`].
    pub fn decode_registered_into<'b>(
        &self,
        token: &str,
        buf: &'b mut [u8],
        validation: &Validation<'_>,
        now: u64,
        claims: &mut Claims<'b>,
    ) -> Result<(), DecodeError> {
        *claims = Claims::new();
        self.decode_into(token, buf, validation, now, claims, |_, _| Ok(()))
    }

    /// The fused decode, into `target` in place. One pass over the payload's base64url: the
    /// strict decode after the MAC is its encoding check too, where the step-by-step path
    /// checks it before the MAC as well. Every error is still exactly the step-by-step path's:
    /// where that path would have stopped at the payload's encoding first (a refused MAC or
    /// `kid`, a short buffer, a failed decode), the payload is checked then, and a bad
    /// signature segment is answered by the full parse.
    pub(crate) fn decode_into<'b, T, F>(
        &self,
        token: &str,
        buf: &'b mut [u8],
        validation: &Validation<'_>,
        now: u64,
        target: &mut T,
        other: F,
    ) -> Result<(), DecodeError>
    where
        T: Target<'b> + RegisteredClaims,
        F: FnMut(JsonStr<'b>, Value<'b>) -> Result<(), ClaimsError>,
    {
        let untrusted = match UntrustedToken::parse_deferred(token) {
            Ok(u) => u,
            // The signature segment is checked after the payload: the full parse says which
            // error comes first.
            Err(ParseError::SignatureEncoding) => return Err(first_parse_error(token).into()),
            Err(e) => return Err(e.into()),
        };
        let payload = untrusted.payload;
        let encoding_first = |e: DecodeError| {
            if b64::is_canonical(payload.as_bytes()) {
                e
            } else if payload.contains('.') {
                // More than three segments (the fast shape found the signature by position).
                ParseError::Malformed.into()
            } else {
                ParseError::PayloadEncoding.into()
            }
        };
        // The payload is decoded while the MAC is computed (base64url of public data; no JSON
        // is read before the MAC checks out), and scanned only after.
        let mut decoded = Err(ClaimsError::Encoding);
        self.select(untrusted.kid(), untrusted.alg)
            .and_then(|key| key.check_while(&untrusted, || decoded = decode_payload(payload, buf)))
            .map_err(|e| encoding_first(e.into()))?;
        // The signature checked out: only now is the JSON read.
        let scanned = decoded.and_then(|json| scan::scan(json, target, other));
        match scanned {
            Err(e @ (ClaimsError::Encoding | ClaimsError::BufferTooSmall)) => {
                return Err(encoding_first(e.into()));
            }
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        validation.check(target, now)?;
        Ok(())
    }

    /// Parses, verifies, decodes and validates in one call, with the default length cap.
    ///
    /// # Errors
    /// The first failing phase's error, wrapped in [`DecodeError`].
    pub fn decode<'b, C>(
        &self,
        token: &str,
        buf: &'b mut [u8],
        validation: &Validation<'_>,
        now: u64,
    ) -> Result<C, DecodeError>
    where
        C: Deserialize<'b> + RegisteredClaims,
    {
        let untrusted = UntrustedToken::parse(token)?;
        let verified = self.verify(&untrusted)?;
        let claims: C = verified.claims(buf)?;
        validation.check(&claims, now)?;
        Ok(claims)
    }
}

/// The claims scanner's verdicts, row by row, each also asked of the serde path
/// ([`VerifiedToken::claims`]): the two readers this module offers must accept and refuse the
/// same texts and read the same claims.
#[cfg(test)]
mod tests {
    use super::*;

    use super::super::claims::MAX_DECODED_AUDIENCE_LEN;
    use super::scan::scan;

    /// The scanner's claims, which the serde path (`VerifiedToken::claims`) reads too.
    fn ok(json: &str) -> Claims<'_> {
        let mut c = Claims::new();
        scan(json.as_bytes(), &mut c, |_, _| Ok(())).unwrap_or_else(|e| panic!("{json}: {e:?}"));
        let mut scratch = [0u8; 1024];
        let serde = serde_claims::<Claims<'_>>(json.as_bytes(), &mut scratch);
        assert_eq!(
            serde.as_ref(),
            Ok(&c),
            "the serde path reads {json} otherwise"
        );
        c
    }

    /// The scanner's error, for a text the serde path refuses too.
    fn err(json: &str) -> ClaimsError {
        let mut scratch = [0u8; 1024];
        let serde = serde_claims::<Claims<'_>>(json.as_bytes(), &mut scratch);
        assert!(serde.is_err(), "the serde path accepts {json}");
        scan(json.as_bytes(), &mut Claims::new(), |_, _| Ok(())).unwrap_err()
    }

    #[test]
    fn reads_the_registered_claims() {
        let f = ok(
            r#" {"sub":"al\u0069ce","iss":"me","aud":["a","b"],"exp":18446744073709551615,
            "nbf":0,"iat":null,"jti":"j","x":{"y":[1,2,{"z":null}]},"sid":5} "#,
        );
        assert_eq!(f.sub.unwrap(), "alice");
        assert_eq!(f.iss.unwrap(), "me");
        assert!(f.aud.as_ref().unwrap().contains("b"));
        assert_eq!((f.exp, f.nbf, f.iat), (Some(u64::MAX), Some(0), None));
        assert_eq!(ok(r#"{"\u0065xp":7}"#).exp, Some(7));
        assert_eq!(ok("{}").exp, None);
        assert!(ok(r#"{"aud":[]}"#).aud.unwrap().iter().next().is_none());
        assert!(ok(r#"{"aud":null}"#).aud.is_none());
        assert!(
            ok(r#"{ "aud" : [ "a" , "b" ] }"#)
                .aud
                .unwrap()
                .contains("b")
        );
        // An escaped single audience up to its inline storage; unescaped ones borrow.
        let full = audience_of(r"\u0061", MAX_DECODED_AUDIENCE_LEN - 1);
        let want = audience_of("", MAX_DECODED_AUDIENCE_LEN);
        let want = want
            .trim_start_matches(r#"{"aud":""#)
            .trim_end_matches(r#""}"#);
        assert!(ok(&full).aud.unwrap().contains(want));
        assert!(
            ok(&audience_of("", 2 * MAX_DECODED_AUDIENCE_LEN))
                .aud
                .is_some()
        );
    }

    /// `{"aud":"<head><n times a>"}`.
    fn audience_of(head: &str, n: usize) -> heapless::String<1024> {
        let mut s = heapless::String::new();
        s.push_str(r#"{"aud":""#).unwrap();
        s.push_str(head).unwrap();
        for _ in 0..n {
            s.push('a').unwrap();
        }
        s.push_str(r#""}"#).unwrap();
        s
    }

    #[test]
    fn refuses_what_the_serde_path_refuses() {
        use ClaimsError::*;
        for (json, want) in [
            ("", Json),
            ("[]", Json),
            (r#"{"exp":1} x"#, Json),
            (r#"{"exp":1,}"#, Json),
            (r#"{"x":tru!!e}"#, Json),
            (r#"{"exp":"1"}"#, WrongType),
            (r#"{"exp":-1}"#, WrongType),
            (r#"{"exp":-0}"#, WrongType),
            (r#"{"exp":1.0}"#, WrongType),
            (r#"{"exp":1e3}"#, WrongType),
            (r#"{"exp":18446744073709551616}"#, WrongType),
            // A leading zero is bad JSON, not a wrong type.
            (r#"{"exp":01}"#, Json),
            (r#"{"exp":00}"#, Json),
            (r#"{"nbf":0123}"#, Json),
            (r#"{"iat":00000000001}"#, Json),
            (r#"{"exp":1,"\u0065xp":2}"#, Shape),
            (r#"{"sub":null,"sub":"a"}"#, Shape),
            (r#"{"sub":"\ud800"}"#, Shape),
            (r#"{"aud":[1]}"#, WrongType),
            (r#"{"aud":["a","b","c","d","e","f","g","h","i"]}"#, Shape),
            (r#"{"aud":null,"aud":"a"}"#, Shape),
            (r#"{"aud":["a" "b"]}"#, Json),
            (r#"{"aud":["a",]}"#, WrongType),
            (r#"{"aud":["a"}"#, Json),
            (r#"{"aud":["a""#, Json),
            (r#"{"x":[[[[[[[[1]]]]]]]]}"#, Nesting),
        ] {
            assert_eq!(err(json), want, "{json}");
        }
        assert!(
            ok(r#"{"x":[[[[[[[1]]]]]]]}"#).exp.is_none(),
            "depth 8 is allowed"
        );
        assert_eq!(
            err(&audience_of(r"\u0061", MAX_DECODED_AUDIENCE_LEN)),
            Shape
        );
        assert_eq!(err("{\"sub\":\"\u{1}\"}"), Json);
        assert_eq!(
            scan(b"{\"x\":\"\xff\"}", &mut Claims::new(), |_, _| Ok(())),
            Err(Json)
        );
    }
}
