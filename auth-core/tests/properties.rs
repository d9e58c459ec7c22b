//! Property tests (proptest). The case count comes from `PROPTEST_CASES` (CI sets it);
//! failures are persisted in `properties.proptest-regressions` next to this file.

use auth_core::form::{encode_component, parse_login_form};
use auth_core::jwt::Audience;
use auth_core::password::{Policy, hash_password, verify_password};
use auth_core::{
    Claims, ClaimsError, DecodeError, Hs256Key, JsonStr, KeyRing, PasswordError, UntrustedToken,
};
use proptest::prelude::*;

mod common;
use common::fused_agrees_with;

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn ring(kid: bool) -> KeyRing<1> {
    let key = if kid {
        Hs256Key::with_kid(SECRET, "k1")
    } else {
        Hs256Key::new(SECRET)
    };
    KeyRing::new(key.unwrap()).unwrap()
}

/// Parse + verify + decode; `Ok` only when every step accepts.
fn accept(ring: &KeyRing<1>, token: &str) -> bool {
    let Ok(u) = UntrustedToken::parse(token) else {
        return false;
    };
    let Ok(v) = ring.verify(&u) else { return false };
    let mut buf = vec![0u8; 2 * token.len() + 64];
    let serde = v.claims::<Claims<'_>>(&mut buf).is_ok();
    let mut buf = vec![0u8; 2 * token.len() + 64];
    assert_eq!(
        v.registered(&mut buf).is_ok(),
        serde,
        "the scanner and serde disagree"
    );
    serde
}

/// The fused decode (`decode_registered`) gives exactly the step-by-step path's verdict and
/// error for any token: parse, MAC, scanner, validation, one by one.
fn fused_agrees(ring: &KeyRing<1>, token: &str) {
    // The verdict itself is the caller's to check (`accept`).
    let _ = fused_agrees_with(ring, token, 2 * token.len() + 64);
}

/// The bytes `n` characters of unpadded base64 decode to (a trailing character that cannot
/// hold a byte counts for none).
fn decoded_len(n: usize) -> usize {
    n / 4 * 3 + n % 4 * 3 / 4
}

/// `header.payload` and its HS256 MAC under [`SECRET`], computed by the `hmac` crate: a token
/// whose MAC is right whatever its segments hold.
fn mac_token(signing_input: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{tag}")
}

#[derive(Debug, Clone)]
struct Input {
    sub: String,
    iss: Option<String>,
    aud: Vec<String>,
    iat: u64,
    ttl: u64,
    nbf: Option<u64>,
    jti: Option<String>,
    kid: bool,
}

fn input() -> impl Strategy<Value = Input> {
    (
        any::<String>(),
        proptest::option::of(any::<String>()),
        proptest::collection::vec(any::<String>(), 0..5),
        0..u64::MAX / 2,
        0..100_000u64,
        proptest::option::of(any::<u64>()),
        proptest::option::of("[a-z0-9]{0,12}"),
        any::<bool>(),
    )
        .prop_map(|(sub, iss, aud, iat, ttl, nbf, jti, kid)| Input {
            sub,
            iss,
            aud,
            iat,
            ttl,
            nbf,
            jti,
            kid,
        })
}

fn claims(i: &Input) -> Claims<'_> {
    let aud = match i.aud.len() {
        0 => None,
        1 => Some(Audience::one(JsonStr::new(&i.aud[0]))),
        _ => Audience::many(&i.aud.iter().map(|a| JsonStr::new(a)).collect::<Vec<_>>()),
    };
    Claims {
        sub: Some(JsonStr::new(&i.sub)),
        iss: i.iss.as_deref().map(JsonStr::new),
        aud,
        exp: Some(i.iat + i.ttl),
        nbf: i.nbf,
        iat: Some(i.iat),
        jti: i.jti.as_deref().map(JsonStr::new),
    }
}

fn sign(i: &Input) -> String {
    let mut out = vec![0u8; 64 * 1024];
    ring(i.kid).sign(&claims(i), &mut out).unwrap().to_owned()
}

proptest! {
    #[test]
    fn the_claims_writer_signs_what_serde_signs(i in input()) {
        // `sign_claims` (the purpose-written writer) and `sign` (serde-json-core) must make the
        // same token, byte for byte: the same member order and the same escapes.
        let ring = ring(i.kid);
        let (mut a, mut b) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
        let c = claims(&i);
        prop_assert_eq!(ring.sign_claims(&c, &mut a).unwrap(), ring.sign(&c, &mut b).unwrap());
        // Too small a buffer is an error for both, never a panic or a partial token.
        let n = ring.sign(&c, &mut b).unwrap().len();
        for cut in [0, 1, n / 2, n - 1] {
            prop_assert!(ring.sign_claims(&c, &mut a[..cut]).is_err());
        }
    }

    #[test]
    fn sign_then_verify_gives_the_claims_back(i in input()) {
        let token = sign(&i);
        let ring = ring(i.kid);
        let u = UntrustedToken::parse(&token).unwrap();
        let v = ring.verify(&u).unwrap();
        let mut buf = vec![0u8; 2 * token.len()];
        let back: Claims<'_> = v.claims(&mut buf).unwrap();
        prop_assert_eq!(back, claims(&i));
        let mut buf = vec![0u8; 2 * token.len()];
        prop_assert_eq!(v.registered(&mut buf).unwrap(), claims(&i));
        // `payload_len` is the least buffer the scanner needs: exactly that many bytes do.
        let mut exact = vec![0u8; v.payload_len()];
        prop_assert_eq!(v.registered(&mut exact).unwrap(), claims(&i));
        let mut short = vec![0u8; v.payload_len() - 1];
        prop_assert_eq!(v.registered(&mut short), Err(ClaimsError::BufferTooSmall));
    }

    #[test]
    fn every_single_byte_change_is_rejected(i in input(), delta in 1u8..=255) {
        let token = sign(&i);
        let ring = ring(i.kid);
        prop_assert!(accept(&ring, &token));
        let bytes = token.as_bytes();
        for at in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[at] = t[at].wrapping_add(delta);
            if let Ok(s) = std::str::from_utf8(&t) {
                fused_agrees(&ring, s);
                prop_assert!(!accept(&ring, s), "byte {} changed by {} was accepted", at, delta);
            }
        }
    }

    #[test]
    fn the_fused_decode_agrees_at_every_buffer_length(i in input()) {
        let token = sign(&i);
        let ring = ring(i.kid);
        let payload = token.split('.').nth(1).unwrap().len();
        // Every length up to the decoded payload's and one past it: exactly that many bytes
        // suffice.
        let needed = decoded_len(payload);
        let full = fused_agrees_with(&ring, &token, 2 * token.len() + 64);
        for len in 0..=needed + 1 {
            let verdict = fused_agrees_with(&ring, &token, len);
            if len < needed {
                prop_assert_eq!(verdict, Err(DecodeError::Claims(ClaimsError::BufferTooSmall)));
            } else {
                prop_assert_eq!(&verdict, &full, "{} of {}", len, needed);
            }
        }
    }

    /// A payload segment that is not strict base64url (non-zero unused bits, a character
    /// outside the alphabet, padding, a dot) under a MAC that is right for it: the fused
    /// decode finds it only after the MAC, in its strict decode, and must refuse it with the
    /// step-by-step path's error (which finds it at parse), at any buffer length.
    #[test]
    fn a_correctly_macd_non_canonical_payload_is_refused_as_before(
        i in input(),
        at in any::<prop::sample::Index>(),
        insert in prop::sample::select(vec!['#', ' ', '=', '.', '+', '/', '%']),
    ) {
        let token = sign(&i);
        let ring = ring(i.kid);
        let mut parts = token.split('.');
        let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
        let mut bad = Vec::new();
        // The last character with its unused bits set, where the length leaves some.
        if payload.len() % 4 != 0 {
            let mut p = payload.as_bytes().to_vec();
            let last = p.last_mut().unwrap();
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let v = alphabet.iter().position(|c| c == last).unwrap();
            *last = alphabet[v | 1];
            if *last != *payload.as_bytes().last().unwrap() {
                bad.push(String::from_utf8(p).unwrap());
            }
        }
        let mut p = payload.to_owned();
        p.insert(at.index(payload.len() + 1), insert);
        bad.push(p);
        for p in bad {
            let t = mac_token(&format!("{header}.{p}"));
            let needed = decoded_len(p.len());
            for len in [0, needed / 2, needed, 2 * needed + 64] {
                let verdict = fused_agrees_with(&ring, &t, len);
                prop_assert!(verdict.is_err(), "{} accepted", t);
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected(i in input()) {
        let token = sign(&i);
        let ring = ring(i.kid);
        for len in 0..token.len() {
            if let Some(prefix) = token.get(..len) {
                prop_assert!(!accept(&ring, prefix), "prefix of {} bytes accepted", len);
            }
        }
    }

    #[test]
    fn form_encode_then_parse(user in ".{1,16}", pass in ".+", scope in "[!#-\\[\\]-~ ]*", client in proptest::option::of(".+")) {
        let enc = |s: &str| {
            let mut b = vec![0u8; 3 * s.len()];
            encode_component(s.as_bytes(), &mut b).unwrap().to_owned()
        };
        let mut body = format!("password={}&scope={}&username={}", enc(&pass), enc(&scope), enc(&user));
        if let Some(c) = &client {
            body.push_str(&format!("&client_id={}", enc(c)));
        }
        let mut buf = vec![0u8; body.len()];
        let form = parse_login_form(body.as_bytes(), &mut buf).unwrap();
        prop_assert_eq!(form.username, user.as_str());
        prop_assert_eq!(form.password, pass.as_str());
        prop_assert_eq!(form.scope, scope.as_str());
        prop_assert_eq!(form.client_id, client.as_deref());
    }

    /// A username longer than any account's name is a 422 field error before anything else
    /// looks at it (#22 item 7), and one at the limit is accepted.
    #[test]
    fn an_over_long_username_is_a_field_error(extra in 1usize..20_000, fill in "[a-z]") {
        let limit = auth_core::form::MAX_USERNAME_LEN;
        let at_limit = fill.repeat(limit);
        let body = format!("username={at_limit}&password=x");
        let mut buf = vec![0u8; body.len()];
        prop_assert!(parse_login_form(body.as_bytes(), &mut buf).is_ok());
        let long = fill.repeat(limit + extra);
        let body = format!("username={long}&password=x");
        let mut buf = vec![0u8; body.len()];
        let err = parse_login_form(body.as_bytes(), &mut buf).unwrap_err();
        prop_assert_eq!(err.errors().len(), 1);
        prop_assert_eq!(err.errors()[0].field, auth_core::form::Field::Username);
        prop_assert_eq!(err.errors()[0].kind, auth_core::form::FieldErrorKind::TooLong);
    }

    /// A scope with anything but RFC 6749 §3.3 tokens and spaces is a field error (#14:
    /// schemathesis found a NUL in a scope reaching the store).
    #[test]
    fn malformed_scopes_are_field_errors(scope in ".*[^!#-\\[\\]-~ ].*") {
        let enc = |s: &str| {
            let mut b = vec![0u8; 3 * s.len()];
            encode_component(s.as_bytes(), &mut b).unwrap().to_owned()
        };
        let body = format!("username=a&password=b&scope={}", enc(&scope));
        let mut buf = vec![0u8; body.len()];
        let err = parse_login_form(body.as_bytes(), &mut buf).unwrap_err();
        prop_assert_eq!(err.errors().len(), 1);
        prop_assert_eq!(err.errors()[0].field, auth_core::form::Field::Scope);
        prop_assert_eq!(err.errors()[0].kind, auth_core::form::FieldErrorKind::InvalidScope);
    }

    #[test]
    fn hash_then_verify(password in proptest::collection::vec(any::<u8>(), 0..300),
                        salt in proptest::collection::vec(any::<u8>(), 8..=48),
                        rounds in 1000u32..1100) {
        let policy = Policy::new().with_rounds(rounds);
        let mut out = [0u8; 256];
        let stored = hash_password(&password, &salt, &policy, &mut out).unwrap().to_owned();
        prop_assert_eq!(verify_password(&password, &stored, &policy).map(|v| v.needs_rehash), Ok(false));
        // (Appending a NUL would not do: HMAC zero-pads keys under 64 bytes, so "pw" and
        // "pw\0" derive the same key in every PBKDF2-HMAC implementation.)
        let mut other = password.clone();
        other.push(b'x');
        prop_assert_eq!(verify_password(&other, &stored, &policy), Err(PasswordError::Mismatch));
    }
}

proptest! {
    #[test]
    fn issue_signs_what_serde_signs_for_its_flow_claims(
        subject in any::<String>(),
        uid in any::<bool>(),
        issuer in proptest::option::of(any::<String>()),
        audience in proptest::option::of(any::<String>()),
        now in 0..u64::MAX / 2,
        ttl in 0..100_000u64,
        sid in proptest::option::of("[A-Za-z0-9_-]{0,22}"),
        scope in proptest::option::of("[a-z: ]{0,20}"),
        kid in any::<bool>(),
    ) {
        // `flow::issue` writes its claims without building a `FlowClaims`; the token must be the
        // one serde-json-core makes from the `FlowClaims` it stands for, byte for byte.
        use auth_core::flow::{FlowClaims, FlowConfig, Grant, SubjectClaim, issue};
        let ring = ring(kid);
        let config = FlowConfig {
            subject_claim: if uid { SubjectClaim::Uid } else { SubjectClaim::Sub },
            issuer: issuer.as_deref(),
            audience: audience.as_deref(),
            ttl,
            ..FlowConfig::new()
        };
        let grant = Grant { subject: &subject, sid: sid.as_deref(), scope: scope.as_deref() };
        let s = Some(JsonStr::new(&subject));
        let expected = FlowClaims {
            sub: s.filter(|_| !uid),
            uid: s.filter(|_| uid),
            iss: issuer.as_deref().map(JsonStr::new),
            aud: audience.as_deref().map(|a| Audience::one(JsonStr::new(a))),
            iat: Some(now),
            exp: Some(now + ttl),
            nbf: None,
            sid: sid.as_deref().map(JsonStr::new),
            scope: scope.as_deref().filter(|s| !s.is_empty()).map(JsonStr::new),
        };
        let (mut a, mut b) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
        let issued = issue(&grant, &ring, &config, now, &mut a).unwrap();
        prop_assert_eq!(issued.token, ring.sign(&expected, &mut b).unwrap());
        // The purpose-written writer makes the same token from the `FlowClaims` itself, and the
        // scanner (`flow_claims`, the server's revoke path) reads back what serde reads.
        let mut c = vec![0u8; 64 * 1024];
        prop_assert_eq!(ring.sign_claims(&expected, &mut c).unwrap(), issued.token);
        let v = ring.verify(&UntrustedToken::parse(issued.token).unwrap()).unwrap();
        let (mut d, mut e) = (vec![0u8; 2 * issued.token.len()], vec![0u8; 2 * issued.token.len()]);
        prop_assert_eq!(&v.flow_claims(&mut d).unwrap(), &expected);
        prop_assert_eq!(&v.claims::<FlowClaims<'_>>(&mut e).unwrap(), &expected);
    }
}

#[test]
fn the_claims_writer_writes_every_digit_count_as_serde_does() {
    // 0, each power of ten and its predecessor, and u64::MAX: one and two digits per division
    // in every position.
    let ring = ring(false);
    let mut dates = vec![0u64, u64::MAX];
    for k in 1..20 {
        dates.extend([10u64.pow(k) - 1, 10u64.pow(k), 10u64.pow(k) + 1]);
    }
    // Ten digits (NumericDates from 2001 to 2286): zeros and non-zeros in every pair position.
    dates.extend([
        1_234_567_890,
        4_102_444_800,
        9_876_504_321,
        1_000_000_009,
        1_090_909_090,
    ]);
    for d in dates {
        let c = Claims {
            exp: Some(d),
            iat: Some(d / 3),
            ..Claims::new()
        };
        let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
        assert_eq!(
            ring.sign_claims(&c, &mut a).unwrap(),
            ring.sign(&c, &mut b).unwrap(),
            "{d}"
        );
    }
}
