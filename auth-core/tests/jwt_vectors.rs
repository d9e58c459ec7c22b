//! RFC 7515 A.1, RFC 4231, PyJWT-issued tokens and crafted reject cases, each asserting its
//! exact outcome. Copied from the project's verified vector set.

use auth_core::error::Claim;
use auth_core::{
    Claims, ClaimsError, DecodeError, EncodeError, Hs256Key, KeyError, KeyRing, ParseError,
    UntrustedToken, Validation, ValidationError, VerifyError,
};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const VALID_AT: u64 = 1_764_332_000;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ring() -> KeyRing<2> {
    KeyRing::new(Hs256Key::new(KEY).unwrap()).unwrap()
}

/// Decodes through both claim readers, serde (`decode::<Claims>`) and the scanner
/// (`decode_registered`), and asserts they agree: the same verdict and the same claims. Every
/// vector in this file runs through both, and through the devices' in-place decode
/// (`decode_registered_into`), which must give the scanner's verdict and error and, into a
/// `Claims` that still holds every member from before, exactly the scanner's claims.
fn decode(ring: &KeyRing<2>, token: &str, now: u64) -> Result<(), DecodeError> {
    let mut buf = [0u8; 1024];
    let serde = ring.decode::<Claims<'_>>(token, &mut buf, &Validation::new(), now);
    let mut buf2 = [0u8; 1024];
    let scanned = ring.decode_registered(token, &mut buf2, &Validation::new(), now);
    match (&serde, &scanned) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{token}"),
        (Err(DecodeError::Claims(_)), Err(DecodeError::Claims(_))) => {}
        (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "{token}"),
    }
    let mut buf3 = [0u8; 1024];
    let mut in_place = left_over();
    let verdict =
        ring.decode_registered_into(token, &mut buf3, &Validation::new(), now, &mut in_place);
    assert_eq!(verdict.err(), scanned.as_ref().err().cloned(), "{token}");
    if let Ok(c) = &scanned {
        assert_eq!(&in_place, c, "{token}: decoded in place");
    }
    serde.map(|_| ())
}

/// A `Claims` with every member set, as a previous request's decode leaves it.
fn left_over() -> Claims<'static> {
    let stale = auth_core::JsonStr::new("left over");
    Claims {
        sub: Some(stale),
        iss: Some(stale),
        aud: Some(auth_core::jwt::Audience::one(stale)),
        exp: Some(1),
        nbf: Some(1),
        iat: Some(1),
        jti: Some(stale),
    }
}

#[test]
fn rfc4231_hmac_sha256() {
    // (key, data, mac) — RFC 4231 cases 1, 2, 3, 4, 6, 7: checks the HMAC the keys are built on.
    let cases = [
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "4869205468657265",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            "4a656665",
            "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &"dd".repeat(50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            "0102030405060708090a0b0c0d0e0f10111213141516171819",
            &"cd".repeat(50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            &"aa".repeat(131),
            "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            &"aa".repeat(131),
            "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, mac) in cases {
        let mut m = Hmac::<Sha256>::new_from_slice(&hex(key)).unwrap();
        m.update(&hex(data));
        assert_eq!(m.finalize().into_bytes().as_slice(), hex(mac).as_slice());
    }
}

#[test]
fn rfc7515_a1_verifies_with_fixed_clock() {
    const KEY_HEX: &str = "0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebfd3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3";
    const TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let ring = KeyRing::<1>::new(Hs256Key::new(&hex(KEY_HEX)).unwrap()).unwrap();
    let mut buf = [0u8; 256];
    let c: Claims<'_> = ring
        .decode(TOKEN, &mut buf, &Validation::new(), 1_300_819_379)
        .unwrap();
    assert_eq!(c.iss.unwrap(), "joe");
    assert_eq!(c.exp, Some(1_300_819_380));
    let mut buf = [0u8; 256];
    assert_eq!(
        ring.decode::<Claims<'_>>(TOKEN, &mut buf, &Validation::new(), 1_300_819_380)
            .unwrap_err(),
        DecodeError::Validation(ValidationError::Expired)
    );
}

const PYJWT_SUB: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M";

#[test]
fn pyjwt_tokens_verify() {
    let ring = ring();
    let mut buf = [0u8; 512];
    let c: Claims<'_> = ring
        .decode(PYJWT_SUB, &mut buf, &Validation::new(), VALID_AT)
        .unwrap();
    assert_eq!(c.sub.unwrap(), "alice");
    assert_eq!((c.iat, c.exp), (Some(1_764_331_200), Some(1_764_333_900)));

    // The FastAPI original's `uid` claim, through the caller's own type.
    #[derive(Deserialize)]
    struct Uid<'a> {
        #[serde(borrow)]
        uid: auth_core::JsonStr<'a>,
        exp: u64,
    }
    impl auth_core::jwt::RegisteredClaims for Uid<'_> {
        fn exp(&self) -> Option<u64> {
            Some(self.exp)
        }
    }
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.RQ4v0m6DFRsRNkFOps6yzp5PEKlyNAhTToNeMfHwUmY";
    let mut buf2 = [0u8; 512];
    let u: Uid<'_> = ring
        .decode(token, &mut buf2, &Validation::new(), VALID_AT)
        .unwrap();
    assert_eq!(u.uid, "alice");

    // kid "2026-11"
    let token = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjIwMjYtMTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.2ELwsweZ_IhQEkGITGfUBzZR4hvK74qcT71RjmWjBbQ";
    let kid_ring = KeyRing::<1>::new(Hs256Key::with_kid(KEY, "2026-11").unwrap()).unwrap();
    let untrusted = UntrustedToken::parse(token).unwrap();
    assert_eq!(untrusted.kid(), Some("2026-11"));
    kid_ring.verify(&untrusted).unwrap();
    // The kid-less ring does not know this kid.
    assert_eq!(
        ring.verify(&untrusted).unwrap_err(),
        VerifyError::UnknownKid
    );

    // iss, aud array, nbf, jti
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlzcyI6ImF1dGguZXhhbXBsZSIsImF1ZCI6WyJkYXNoYm9hcmQiLCJiaWxsaW5nIl0sImlhdCI6MTc2NDMzMTIwMCwibmJmIjoxNzY0MzMxMjAwLCJleHAiOjE3NjQzMzM5MDAsImp0aSI6ImExIn0.XM61OEyOtIGxkPwW0z_gIjKrmDus0xjxAV3D1jKPU5o";
    let v = Validation::new()
        .with_issuer("auth.example")
        .with_audience("billing");
    let mut buf3 = [0u8; 512];
    let c: Claims<'_> = ring.decode(token, &mut buf3, &v, VALID_AT).unwrap();
    assert_eq!(c.jti.unwrap(), "a1");
    let v = Validation::new().with_audience("admin");
    let mut buf4 = [0u8; 512];
    assert_eq!(
        ring.decode::<Claims<'_>>(token, &mut buf4, &v, VALID_AT)
            .unwrap_err(),
        DecodeError::Validation(ValidationError::Audience)
    );
}

#[test]
fn escaped_sub_compares_decoded() {
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbFx1MDA2OWNlIiwiZXhwIjoxNzY0MzMzOTAwfQ.M9DQWMB4C5vi5_yo79Bck0PfyAJJGkyDIctbMms0TFs";
    let mut buf = [0u8; 512];
    let c: Claims<'_> = ring()
        .decode(token, &mut buf, &Validation::new(), VALID_AT)
        .unwrap();
    let sub = c.sub.unwrap();
    // The token really writes the subject escaped: `"al\u0069ce"`.
    let payload = token.split('.').nth(1).unwrap();
    let json = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap()
    };
    assert!(String::from_utf8(json).unwrap().contains(r"al\u0069ce"));
    assert_eq!(sub, "alice");
    assert_ne!(sub, "al\\u0069ce");
    // A caller type with `&str` rejects the escaped form rather than exposing raw escapes.
    #[derive(Deserialize, Debug)]
    struct Raw<'a> {
        #[allow(dead_code)]
        sub: &'a str,
    }
    let v = ring()
        .verify(&UntrustedToken::parse(token).unwrap())
        .unwrap();
    let mut buf2 = [0u8; 512];
    assert!(v.claims::<Raw<'_>>(&mut buf2).is_err());
    // An owned string gets the decoded text.
    #[derive(Deserialize)]
    struct Owned {
        sub: heapless::String<16>,
    }
    let mut buf3 = [0u8; 512];
    let o: Owned = v.claims(&mut buf3).unwrap();
    assert_eq!(o.sub.as_str(), "alice");
}

macro_rules! reject_vectors {
    ($($name:ident: $token:expr, $now:expr => $err:expr;)+) => {$(
        #[test]
        fn $name() {
            assert_eq!(decode(&ring(), $token, $now), Err($err));
        }
    )+};
}

reject_vectors! {
    expired_at_exp: PYJWT_SUB, 1_764_333_900 => DecodeError::Validation(ValidationError::Expired);
    hs512: "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.waxiMdLmcEEujsO2XH7x05youzWcXbeYDvSQicfHr1OEhoqBsNSUyVFT4AAfu3N9fRIr4Z_fGTc7HZm3Sh31EA", VALID_AT => DecodeError::Parse(ParseError::UnsupportedAlgorithm);
    other_key: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.j4RxU25dhplLByJltO_fYbkYpc8qcXDNgGDr28sNVRA", VALID_AT => DecodeError::Verify(VerifyError::InvalidSignature);
    alg_none: "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.", VALID_AT => DecodeError::Parse(ParseError::UnsupportedAlgorithm);
    alg_lowercase: "eyJhbGciOiJoczI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.MWKHb5x0M02ibmMDI5smQ7BZnGy2Hjft-ocsPrnvo2c", VALID_AT => DecodeError::Parse(ParseError::UnsupportedAlgorithm);
    crit: "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.ek9RhogOqAQansFBSbMx0nIKi-eLzmh4KRcVC7PMp2E", VALID_AT => DecodeError::Parse(ParseError::CriticalHeader);
    typ_not_jwt: "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCt4In0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.bFoD_j2PNfFOXpIAxyxUO4EisgQZ576SCvFCZH9GMUE", VALID_AT => DecodeError::Parse(ParseError::UnsupportedType);
    no_exp: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMH0.FNLiO03xsqlnG5s_RjwvZZxA5IJb0bvRlmOa1l1yhmY", VALID_AT => DecodeError::Validation(ValidationError::Missing(Claim::Exp));
    exp_string: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6IjE3NjQzMzM5MDAifQ.hqcjkezvIZHrRqDbXYu5a1NAxy-yv4pmfDxDGJ4fKIc", VALID_AT => DecodeError::Claims(ClaimsError::WrongType);
    nbf_string_cve_2026_25537: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJrcmlzaG5hIiwibmJmIjoiOTk5OTk5OTk5OTkiLCJleHAiOjEwMDAwMDAwMDAwfQ.3pTMW-rihBFYc6ABDRnScZZVUAD4fCY4qQKfc0EE8W8", VALID_AT => DecodeError::Claims(ClaimsError::WrongType);
    duplicate_exp: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MSwiZXhwIjo5OTk5OTk5OTk5fQ.qwXrWPjP2pDqnnOr6jgpyNQ-p6so6dfqIlaVomtBuTA", VALID_AT => DecodeError::Claims(ClaimsError::Shape);
    nbf_future: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsIm5iZiI6MTc2NDMzMjAwMSwiZXhwIjoxNzY0MzMzOTAwfQ.3IuiEcdFznZQR-B2U2Xzbx1PTwb0SWnzKA1o4KOty9Y", VALID_AT => DecodeError::Validation(ValidationError::NotYetValid);
    iat_future: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMjEwMCwiZXhwIjoxNzY0MzMzOTAwfQ.t9NB3I0kXz_Cgk92PZ7EwZqCmZFTMHm4YFq_m3fpggs", VALID_AT => DecodeError::Validation(ValidationError::IssuedInFuture);
    exp_float_is_rejected: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMC41fQ.5CXXoBKh3kiz6yrPte2hLhLZ-A0sxG9MksWc4MtVBHg", VALID_AT => DecodeError::Claims(ClaimsError::Json);
    sig_padding: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M=", VALID_AT => DecodeError::Parse(ParseError::SignatureEncoding);
    two_segments: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ", VALID_AT => DecodeError::Parse(ParseError::Malformed);
    four_segments: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M.e30", VALID_AT => DecodeError::Parse(ParseError::Malformed);
    empty: "", VALID_AT => DecodeError::Parse(ParseError::Malformed);
    noncanonical_sig_last_char: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc2NDMzMTIwMCwiZXhwIjoxNzY0MzMzOTAwfQ.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-N", VALID_AT => DecodeError::Parse(ParseError::SignatureEncoding);
    empty_header: ".eyJzdWIiOiJhIn0.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M", VALID_AT => DecodeError::Parse(ParseError::Malformed);
    empty_payload: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M", VALID_AT => DecodeError::Parse(ParseError::Malformed);
    header_not_base64: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=.eyJzdWIiOiJhIn0.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M", VALID_AT => DecodeError::Parse(ParseError::HeaderEncoding);
    header_not_json: "bm90IGpzb24.eyJzdWIiOiJhIn0.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M", VALID_AT => DecodeError::Parse(ParseError::HeaderJson);
}

#[test]
fn weak_key_is_refused() {
    assert_eq!(
        Hs256Key::new(b"your-256-bit-secret").unwrap_err(),
        KeyError::TooShort
    );
}

#[test]
fn length_cap_is_checked_first_and_configurable() {
    let long = "a".repeat(auth_core::jwt::MAX_TOKEN_LEN + 1);
    assert_eq!(
        UntrustedToken::parse(&long).unwrap_err(),
        ParseError::TooLong
    );
    assert_eq!(
        UntrustedToken::parse_with_limit(PYJWT_SUB, 100).unwrap_err(),
        ParseError::TooLong
    );
    assert!(UntrustedToken::parse_with_limit(PYJWT_SUB, PYJWT_SUB.len()).is_ok());
}

#[test]
fn header_too_long_is_refused_before_decoding() {
    let header = "e".repeat(800);
    let token = format!("{header}.eyJ9.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M");
    assert_eq!(
        UntrustedToken::parse(&token).unwrap_err(),
        ParseError::HeaderTooLong
    );
}

#[test]
fn tampered_payload_fails_the_mac() {
    let mut t = PYJWT_SUB.to_owned();
    // Replace the payload with one claiming bob: the MAC no longer matches.
    let parts: Vec<&str> = PYJWT_SUB.split('.').collect();
    t = t.replace(parts[1], "eyJzdWIiOiJib2IiLCJleHAiOjE3NjQzMzM5MDB9");
    assert_eq!(
        decode(&ring(), &t, VALID_AT),
        Err(DecodeError::Verify(VerifyError::InvalidSignature))
    );
}

#[test]
fn small_output_buffer_is_an_error_never_a_truncated_token() {
    let key = Hs256Key::new(KEY).unwrap();
    let claims = Claims::new()
        .with_subject("alice")
        .with_lifetime(VALID_AT, 2700);
    let mut big = [0u8; 512];
    let full = key.sign(&claims, &mut big).unwrap().to_owned();
    for len in 0..full.len() {
        let mut small = vec![0u8; len];
        assert_eq!(
            key.sign(&claims, &mut small).unwrap_err(),
            EncodeError::BufferTooSmall,
            "len {len}"
        );
    }
    let mut exact = vec![0u8; full.len()];
    assert_eq!(key.sign(&claims, &mut exact).unwrap(), full);
}

#[test]
fn sign_to_writer_matches_sign() {
    let key = Hs256Key::with_kid(KEY, "k1").unwrap();
    let claims = Claims::new()
        .with_subject("a \"quoted\" name\n")
        .with_issuer("https://issuer.example")
        .with_audience("x".repeat(300).leak())
        .with_lifetime(VALID_AT, 2700);
    let mut out = [0u8; 2048];
    let token = key.sign(&claims, &mut out).unwrap().to_owned();
    let mut sink = heapless::Vec::<u8, 2048>::new();
    let mut scratch = [0u8; 1024];
    let n = key.sign_to(&claims, &mut scratch, &mut sink).unwrap();
    assert_eq!(n, sink.len());
    assert_eq!(core::str::from_utf8(&sink).unwrap(), token);
    // And it verifies, with the kid in the header.
    let ring = KeyRing::<1>::new(key).unwrap();
    let mut buf = [0u8; 2048];
    let c: Claims<'_> = ring
        .decode(&token, &mut buf, &Validation::new(), VALID_AT)
        .unwrap();
    assert_eq!(c.sub.unwrap(), "a \"quoted\" name\n");
    // A full sink reports a write error.
    let mut tiny = heapless::Vec::<u8, 16>::new();
    assert!(matches!(
        key_sign_to(&ring, &claims, &mut tiny),
        Err(EncodeError::Write(_))
    ));
}

fn key_sign_to<W: embedded_io::Write>(
    ring: &KeyRing<1>,
    c: &Claims<'_>,
    w: &mut W,
) -> Result<usize, EncodeError> {
    let mut scratch = [0u8; 1024];
    ring.sign_to(c, &mut scratch, w)
}

#[test]
fn rotation() {
    const OLD: &[u8; 32] = b"old-secret-old-secret-old-secret";
    const NEW: &[u8; 32] = b"new-secret-new-secret-new-secret";
    let claims = Claims::new()
        .with_subject("alice")
        .with_lifetime(VALID_AT, 2700);
    let mut ring = KeyRing::<3>::new(Hs256Key::with_kid(OLD, "old").unwrap()).unwrap();
    let mut a = [0u8; 256];
    let old_token = ring.sign(&claims, &mut a).unwrap().to_owned();

    ring.rotate(Hs256Key::with_kid(NEW, "new").unwrap())
        .unwrap();
    let mut b = [0u8; 256];
    let new_token = ring.sign(&claims, &mut b).unwrap().to_owned();
    assert_eq!(
        UntrustedToken::parse(&new_token).unwrap().kid(),
        Some("new")
    );

    let check = |ring: &KeyRing<3>, t: &str| {
        let mut buf = [0u8; 256];
        ring.decode::<Claims<'_>>(t, &mut buf, &Validation::new(), VALID_AT)
            .map(|_| ())
    };
    assert_eq!(check(&ring, &old_token), Ok(()));
    assert_eq!(check(&ring, &new_token), Ok(()));
    ring.remove("old").unwrap();
    assert_eq!(
        check(&ring, &old_token),
        Err(DecodeError::Verify(VerifyError::UnknownKid))
    );
    assert_eq!(check(&ring, &new_token), Ok(()));

    // A token without kid is checked against the signing key only.
    let kidless = Hs256Key::new(NEW).unwrap();
    let mut c = [0u8; 256];
    let t = kidless.sign(&claims, &mut c).unwrap();
    assert_eq!(check(&ring, t), Ok(()));
    let other = Hs256Key::new(OLD).unwrap();
    let mut d = [0u8; 256];
    let t = other.sign(&claims, &mut d).unwrap();
    assert_eq!(
        check(&ring, t),
        Err(DecodeError::Verify(VerifyError::InvalidSignature))
    );
}

#[test]
fn kid_mismatch_on_a_single_key() {
    let key = Hs256Key::with_kid(KEY, "a").unwrap();
    let other = Hs256Key::with_kid(KEY, "b").unwrap();
    let mut out = [0u8; 256];
    let t = other
        .sign(&Claims::new().with_lifetime(1, 10), &mut out)
        .unwrap();
    let u = UntrustedToken::parse(t).unwrap();
    assert_eq!(key.verify(&u).unwrap_err(), VerifyError::UnknownKid);
    assert!(other.verify(&u).is_ok());
}

#[test]
fn claims_buffer_too_small() {
    let ring = ring();
    let u = UntrustedToken::parse(PYJWT_SUB).unwrap();
    let v = ring.verify(&u).unwrap();
    let mut small = [0u8; 8];
    assert_eq!(
        v.claims::<Claims<'_>>(&mut small).unwrap_err(),
        ClaimsError::BufferTooSmall
    );
}

#[test]
fn typ_variants_and_header_escapes() {
    // Accepted typ spellings, and an alg written with escapes (same JSON string).
    for header in [
        r#"{"alg":"HS256","typ":"jwt"}"#,
        r#"{"alg":"HS256","typ":"application/JWT"}"#,
        r#"{"alg":"HS\u0032\u0035\u0036"}"#,
        r#"{"typ":"JWT","alg":"HS256","x5u":"ignored \"member\""}"#,
    ] {
        let t = forge(header, r#"{"exp":1764333900}"#);
        assert_eq!(decode(&ring(), &t, VALID_AT), Ok(()), "{header}");
    }
    for (header, err) in [
        (r#"{"alg":"HS256","alg":"HS256"}"#, ParseError::HeaderJson),
        (r#"{"typ":"JWT"}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","crit":null}"#, ParseError::CriticalHeader),
        (
            r#"{"alg":"HS256","kid":"has space"}"#,
            ParseError::InvalidKid,
        ),
        (r#"{"alg":["HS256"]}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256 "}"#, ParseError::UnsupportedAlgorithm),
        (r#"["HS256"]"#, ParseError::HeaderJson),
    ] {
        let t = forge(header, r#"{"exp":1764333900}"#);
        assert_eq!(
            decode(&ring(), &t, VALID_AT),
            Err(DecodeError::Parse(err)),
            "{header}"
        );
    }
}

/// #10 item 10: member names are compared decoded, a member read twice is refused however it
/// is spelled, and the header is valid JSON throughout. Every case has a valid MAC.
#[test]
fn escaped_member_names_and_invalid_json_in_the_header() {
    for (header, err) in [
        (
            r#"{"alg":"HS256","\u0063rit":["x"]}"#,
            ParseError::CriticalHeader,
        ),
        (
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            ParseError::HeaderJson,
        ),
        (
            r#"{"\u0061lg":"none","alg":"HS256"}"#,
            ParseError::HeaderJson,
        ),
        (
            r#"{"alg":"HS256","typ":"JWT","\u0074yp":"x"}"#,
            ParseError::HeaderJson,
        ),
        (
            r#"{"alg":"HS256","kid":"k","\u006bid":"k"}"#,
            ParseError::HeaderJson,
        ),
        (
            r#"{"alg":"HS256","crit":[],"cr\u0069t":[]}"#,
            ParseError::HeaderJson,
        ),
        (r#"{"alg":"HS256","x":tru!!e}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","x":1,}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","x":01}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","x":"\q"}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","\q":1}"#, ParseError::HeaderJson),
        (r#"{"alg":"HS256","x":[1 2]}"#, ParseError::HeaderJson),
        (
            "{\"alg\":\"HS256\",\"x\":\"\u{1}\"}",
            ParseError::HeaderJson,
        ),
    ] {
        let t = forge(header, r#"{"exp":1764333900}"#);
        assert_eq!(
            decode(&ring(), &t, VALID_AT),
            Err(DecodeError::Parse(err)),
            "{header}"
        );
    }
    // Whitespace around the object and between tokens is JSON, and accepted.
    let t = forge(
        " {\n\"alg\" : \"HS256\" ,\t\"x\" : [ 1 , { } ] }\r\n",
        r#"{"exp":1764333900}"#,
    );
    assert_eq!(decode(&ring(), &t, VALID_AT), Ok(()));
}

/// #10 item 10: an escaped `kid` used to be ignored (the signing key was used instead).
#[test]
fn an_escaped_kid_selects_its_key() {
    let mut ring = KeyRing::<2>::new(Hs256Key::with_kid(KEY, "old").unwrap()).unwrap();
    ring.rotate(Hs256Key::with_kid(b"fedcba9876543210fedcba9876543210", "new").unwrap())
        .unwrap();
    // Signed with the "old" key, whose kid is written with an escape.
    let t = forge(
        r#"{"alg":"HS256","\u006bid":"\u006fld"}"#,
        r#"{"exp":1764333900}"#,
    );
    let untrusted = UntrustedToken::parse(&t).unwrap();
    assert_eq!(untrusted.kid(), Some("old"));
    assert_eq!(decode(&ring, &t, VALID_AT), Ok(()));
}

/// #10 item 11: nesting is bounded before serde runs, in the header (before the MAC) and in the
/// claims.
#[test]
fn nesting_is_bounded_in_header_and_claims() {
    use auth_core::jwt::{MAX_CLAIMS_DEPTH, MAX_HEADER_DEPTH};
    let nest = |n: u32| format!("{}{}", "[".repeat(n as usize), "]".repeat(n as usize));
    // The deepest header accepted: the object plus MAX_HEADER_DEPTH - 1 arrays.
    let ok = format!(r#"{{"alg":"HS256","x":{}}}"#, nest(MAX_HEADER_DEPTH - 1));
    assert_eq!(
        decode(&ring(), &forge(&ok, r#"{"exp":1764333900}"#), VALID_AT),
        Ok(())
    );
    let deep = format!(r#"{{"alg":"HS256","x":{}}}"#, nest(MAX_HEADER_DEPTH));
    assert_eq!(
        decode(&ring(), &forge(&deep, r#"{"exp":1764333900}"#), VALID_AT),
        Err(DecodeError::Parse(ParseError::HeaderNesting))
    );
    // What the review sent: 237 levels in a 256-byte header, refused before the MAC.
    let review = format!(r#"{{"alg":"HS256","x":{}}}"#, nest(118));
    let t = format!("{}.e30.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M", {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&review)
    });
    assert_eq!(
        UntrustedToken::parse(&t).unwrap_err(),
        ParseError::HeaderNesting
    );
    let ok = format!(r#"{{"exp":1764333900,"x":{}}}"#, nest(MAX_CLAIMS_DEPTH - 1));
    assert_eq!(
        decode(&ring(), &forge(r#"{"alg":"HS256"}"#, &ok), VALID_AT),
        Ok(())
    );
    let deep = format!(r#"{{"exp":1764333900,"x":{}}}"#, nest(MAX_CLAIMS_DEPTH));
    assert_eq!(
        decode(&ring(), &forge(r#"{"alg":"HS256"}"#, &deep), VALID_AT),
        Err(DecodeError::Claims(ClaimsError::Nesting))
    );
}

#[test]
fn payload_shapes() {
    for (payload, err) in [
        (r#"{"exp":-1}"#, ClaimsError::WrongType),
        (r#"{"exp":1e12}"#, ClaimsError::Json),
        (r#"{"exp":1764333900,"sub":5}"#, ClaimsError::WrongType),
        (r#"[1764333900]"#, ClaimsError::WrongType),
        (r#"{"exp":1764333900} x"#, ClaimsError::Json),
        (r#"{"exp":1764333900,"sub":"\x"}"#, ClaimsError::Shape),
        (
            r#"{"exp":1764333900,"aud":["a","b","c","d","e","f","g","h","i"]}"#,
            ClaimsError::Shape,
        ),
    ] {
        let t = forge(r#"{"alg":"HS256"}"#, payload);
        assert_eq!(
            decode(&ring(), &t, VALID_AT),
            Err(DecodeError::Claims(err)),
            "{payload}"
        );
    }
    // Non-ASCII written as surrogate pairs (Python's json.dumps default) decodes.
    let t = forge(
        r#"{"alg":"HS256"}"#,
        r#"{"exp":1764333900,"sub":"jos\u00e9 \ud83d\ude00","aud":"\/api"}"#,
    );
    let mut buf = [0u8; 512];
    let c: Claims<'_> = ring()
        .decode(
            &t,
            &mut buf,
            &Validation::new().with_audience("/api"),
            VALID_AT,
        )
        .unwrap();
    assert_eq!(c.sub.unwrap(), "josé 😀");
}

/// Signs arbitrary header and payload JSON with the test key, as an attacker holding the key
/// (or a buggy issuer) could.
fn forge(header: &str, payload: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!("{}.{}", e.encode(header), e.encode(payload));
    let mut m = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    m.update(input.as_bytes());
    format!("{input}.{}", e.encode(m.finalize().into_bytes()))
}

#[test]
fn audience_equality_is_by_decoded_value() {
    // Regression (found by the sign_verify_roundtrip harness): an escaped single `aud` parses
    // into decoded storage and must still equal the plain one.
    use auth_core::jwt::Audience;
    fn check(json: &str, expect_equal: bool) {
        let plain = Audience::one(auth_core::JsonStr::new("api\u{6}"));
        let mut scratch = [0u8; 64];
        let (c, _): (Claims<'_>, usize) =
            serde_json_core::from_slice_escaped(json.as_bytes(), &mut scratch).unwrap();
        let aud = c.aud.unwrap();
        assert_eq!(aud == plain, expect_equal, "{json}");
        assert!(aud.contains("api\u{6}"));
    }
    check(r#"{"aud":"api\u0006"}"#, true);
    check(r#"{"aud":["api\u0006"]}"#, true);
    check(r#"{"aud":["api\u0006","x"]}"#, false);
}

#[test]
fn single_escaped_audience_limit() {
    // Regression (found by fuzzing sign_verify_roundtrip): a single `aud` written with escapes
    // is decoded into MAX_DECODED_AUDIENCE_LEN bytes; up to that it round-trips, beyond it is
    // refused as Shape. Unescaped or array audiences have no such limit.
    use auth_core::jwt::MAX_DECODED_AUDIENCE_LEN;
    let key = Hs256Key::new(KEY).unwrap();
    let check = |aud: &str| {
        let claims = Claims::new().with_audience(aud).with_lifetime(VALID_AT, 60);
        let mut out = vec![0u8; 8192];
        let token = key.sign(&claims, &mut out).unwrap().to_owned();
        let v = key.verify(&UntrustedToken::parse(&token).unwrap()).unwrap();
        let mut buf = vec![0u8; 8192];
        v.claims::<Claims<'_>>(&mut buf)
            .map(|c| c.aud.unwrap().contains(aud))
    };
    let escaped_at_limit = format!("\t{}", "a".repeat(MAX_DECODED_AUDIENCE_LEN - 1));
    assert_eq!(check(&escaped_at_limit), Ok(true));
    let escaped_over = format!("\t{}", "a".repeat(MAX_DECODED_AUDIENCE_LEN));
    assert_eq!(check(&escaped_over), Err(ClaimsError::Shape));
    assert_eq!(check(&"a".repeat(4000)), Ok(true), "unescaped: no limit");
}

/// #11 item 3: every error is built by one macro; `Display` is static and names the phase,
/// `source()` returns the inner error instead of `Display` repeating it.
#[test]
fn errors_name_their_phase_and_chain_to_the_cause() {
    use auth_core::flow::{AuthError, LoginError};
    use core::error::Error as _;
    let e = DecodeError::Parse(ParseError::HeaderJson);
    assert_eq!(e.to_string(), "token structure or header is not acceptable");
    assert_eq!(
        e.source().unwrap().to_string(),
        "token header is not valid json"
    );
    let l = LoginError::Encode(auth_core::EncodeError::BufferTooSmall);
    assert_eq!(l.to_string(), "token could not be written");
    assert_eq!(
        l.source().unwrap().to_string(),
        auth_core::EncodeError::BufferTooSmall.to_string()
    );
    assert!(LoginError::InvalidCredentials.source().is_none());
    assert_eq!(
        AuthError::AccessRestricted.to_string(),
        "account is unknown or disabled"
    );
    assert!(ParseError::HeaderJson.source().is_none());
}

/// An app's own claims through the public writer (`ClaimsWriter::string`, `json_str` and
/// `number`, which auth-core's own claims do not use): the payload is exactly the JSON
/// serde_json writes for the same members, escapes included, and it verifies and reads back.
#[test]
fn an_apps_own_claims_through_the_public_writer() {
    use auth_core::{ClaimsWriter, JsonStr, WriteClaims};
    struct Mine<'a> {
        sub: &'a str,
        note: JsonStr<'a>,
        plain: JsonStr<'a>,
        exp: u64,
        zero: u64,
    }
    impl WriteClaims for Mine<'_> {
        fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError> {
            w.string("sub", self.sub)?;
            w.json_str("note", self.note)?;
            w.json_str("plain", self.plain)?;
            w.number("exp", self.exp)?;
            w.number("zero", self.zero)
        }
    }
    let raw = r#"caf\u00e9 \"q\" \\ \n"#;
    let mine = Mine {
        sub: "al\"ice\\\u{1}\u{7f}é",
        note: JsonStr::from_raw_json(raw).unwrap(),
        plain: JsonStr::new("tab\there"),
        exp: u64::MAX,
        zero: 0,
    };
    let key = Hs256Key::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let mut out = [0u8; 512];
    let token = key.sign_claims(&mine, &mut out).unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let want = format!(
        r#"{{"sub":{},"note":"{raw}","plain":{},"exp":{},"zero":0}}"#,
        serde_json::to_string(mine.sub).unwrap(),
        serde_json::to_string("tab\there").unwrap(),
        u64::MAX
    );
    assert_eq!(String::from_utf8(json.clone()).unwrap(), want);
    let read: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(read["sub"], mine.sub);
    assert_eq!(read["note"], "café \"q\" \\ \n");
    assert_eq!(read["exp"], u64::MAX);
    let untrusted = UntrustedToken::parse(&token).unwrap();
    let ring: KeyRing<1> = KeyRing::new(key.clone()).unwrap();
    assert!(ring.verify(&untrusted).is_ok());

    // Each method reports a full buffer.
    for n in [20, 60, 80, 100, 110] {
        let mut small = vec![0u8; n];
        assert_eq!(
            key.sign_claims(&mine, &mut small),
            Err(EncodeError::BufferTooSmall),
            "{n}"
        );
    }
}

/// `RegisteredClaims`' defaults say "absent" for every member (a type implementing none of
/// them is validated as having none), and `Audience::many` takes up to `MAX_AUDIENCES`.
#[test]
fn registered_claims_defaults_and_audience_many() {
    use auth_core::JsonStr;
    use auth_core::jwt::{Audience, MAX_AUDIENCES, RegisteredClaims};
    struct Bare;
    impl RegisteredClaims for Bare {}
    assert_eq!((Bare.exp(), Bare.nbf(), Bare.iat()), (None, None, None));
    assert!(Bare.iss().is_none() && Bare.aud().is_none());
    // `exp` is required by default: absent, not expired at 0.
    assert_eq!(
        Validation::new().validate(&Bare, 1_000).err(),
        Some(ValidationError::Missing(Claim::Exp))
    );
    // A maximum age needs `iat`: absent, not issued at 0. `nbf` absent: nothing to refuse.
    assert_eq!(
        Validation::new()
            .allow_missing_exp()
            .with_max_age(10)
            .validate(&Bare, 1_000)
            .err(),
        Some(ValidationError::Missing(Claim::Iat))
    );
    assert!(
        Validation::new()
            .allow_missing_exp()
            .validate(&Bare, 1_000)
            .is_ok()
    );

    let names: Vec<JsonStr<'_>> = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        .into_iter()
        .map(JsonStr::new)
        .collect();
    let two = Audience::many(&names[..2]).unwrap();
    assert!(two.contains("a") && two.contains("b") && !two.contains("c"));
    assert!(Audience::many(&names[..MAX_AUDIENCES]).is_some());
    assert!(Audience::many(&names[..MAX_AUDIENCES + 1]).is_none());
}
