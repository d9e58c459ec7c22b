//! EdDSA tokens (RFC 8037, Ed25519): the RFC's JWS example, Wycheproof's Ed25519 suite for the
//! signature layer, round trips through every signing call, and the algorithm-confusion cases
//! a key ring holding both kinds must refuse.
//!
//! `vectors/wycheproof_ed25519.json` is copied from C2SP/wycheproof
//! (`testvectors_v1/ed25519_test.json`, commit 061657f1, Apache-2.0); its added `source` and
//! `license` fields say so and stay with it. RFC 8037 Appendix A's key and JWS are quoted from
//! the RFC.
#![cfg(all(feature = "eddsa", feature = "sign"))]

use auth_core::{
    Algorithm, Claims, DecodeError, Ed25519Key, Ed25519PublicKey, EncodeError, Hs256Key, Key,
    KeyError, KeyRing, ParseError, UntrustedToken, Validation, VerifyError,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SUITE: &str = include_str!("vectors/wycheproof_ed25519.json");

/// RFC 8037 A.1: the private key `d` and public key `x`.
const A1_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const A1_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 A.4: `{"alg":"EdDSA"}` over "Example of Ed25519 signing".
const A4_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_764_332_000;

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn arr32(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn a1_key(kid: Option<&str>) -> Ed25519Key {
    let seed = arr32(&b64(A1_D));
    match kid {
        Some(kid) => Ed25519Key::from_seed_with_kid(&seed, kid).unwrap(),
        None => Ed25519Key::from_seed(&seed).unwrap(),
    }
}

fn claims() -> Claims<'static> {
    Claims::new()
        .with_subject("alice")
        .with_issuer("https://issuer.example")
        .with_lifetime(NOW, 900)
}

/// Decodes with the fused scanner path and the step-by-step serde path; asserts they agree.
fn decode<const N: usize>(ring: &KeyRing<N>, token: &str) -> Result<(), DecodeError> {
    let mut buf = [0u8; 1024];
    let fused = ring
        .decode_registered(token, &mut buf, &Validation::new(), NOW)
        .map(|c| c.sub.map(|s| s.to_string()));
    let mut buf2 = [0u8; 1024];
    let steps = ring
        .decode::<Claims<'_>>(token, &mut buf2, &Validation::new(), NOW)
        .map(|c| c.sub.map(|s| s.to_string()));
    match (&fused, &steps) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{token}"),
        (Err(DecodeError::Claims(_)), Err(DecodeError::Claims(_))) => {}
        (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "{token}"),
    }
    fused.map(|_| ())
}

#[test]
fn rfc8037_a4_verifies_and_a_tampered_copy_does_not() {
    let public = Ed25519PublicKey::new(&arr32(&b64(A1_X))).unwrap();
    let token = UntrustedToken::parse(A4_JWS).unwrap();
    assert_eq!(token.algorithm(), Algorithm::EdDsa);
    assert_eq!(token.kid(), None);
    let verified = public.verify(&token).unwrap();
    assert_eq!(
        b64(verified.payload_b64()),
        b"Example of Ed25519 signing".to_vec()
    );
    // The private key derives the same public key.
    assert_eq!(a1_key(None).public_key().as_bytes(), public.as_bytes());
    // Through a ring, too.
    let ring = KeyRing::<1>::new(public.clone()).unwrap();
    assert!(ring.verify(&token).is_ok());

    // One bit of the payload, then of the signature.
    let tampered = A4_JWS.replacen(".RXhh", ".SXhh", 1);
    let t = UntrustedToken::parse(&tampered).unwrap();
    assert_eq!(
        public.verify(&t).unwrap_err(),
        VerifyError::InvalidSignature
    );
    let mut sig = b64(A4_JWS.rsplit('.').next().unwrap());
    sig[5] ^= 0x20;
    let forged = format!(
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.{}",
        URL_SAFE_NO_PAD.encode(&sig)
    );
    let t = UntrustedToken::parse(&forged).unwrap();
    assert_eq!(
        public.verify(&t).unwrap_err(),
        VerifyError::InvalidSignature
    );
}

#[test]
fn wycheproof_ed25519_signature_layer() {
    let suite: serde_json::Value = serde_json::from_str(SUITE).unwrap();
    assert_eq!(suite["license"], "Apache-2.0 (Wycheproof)");
    let (mut accepted, mut refused, mut total) = (0, 0, 0);
    for group in suite["testGroups"].as_array().unwrap() {
        let pk = hex(group["publicKey"]["pk"].as_str().unwrap());
        let key = Ed25519PublicKey::from_slice(&pk, None);
        for t in group["tests"].as_array().unwrap() {
            total += 1;
            let id = t["tcId"].as_u64().unwrap();
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let valid = t["result"] == "valid";
            let ours = key
                .as_ref()
                .map(|k| k.verify_signature(&msg, &sig).is_ok())
                .unwrap_or(false);
            assert_eq!(ours, valid, "tcId {id}: {}", t["comment"]);
            if ours { accepted += 1 } else { refused += 1 }
        }
    }
    assert_eq!(total, 151);
    assert_eq!((accepted, refused), (88, 63));
}

#[test]
fn every_signing_call_round_trips() {
    for kid in [None, Some("ed-1")] {
        let key = a1_key(kid);
        let mut out = [0u8; 1024];
        let fast = key.sign_claims(&claims(), &mut out).unwrap().to_owned();
        let mut out2 = [0u8; 1024];
        let serde = key.sign(&claims(), &mut out2).unwrap().to_owned();
        // The writer and serde make the same JSON, and Ed25519 (RFC 8032) is deterministic.
        assert_eq!(fast, serde);
        let mut sink = heapless::Vec::<u8, 1024>::new();
        let mut scratch = [0u8; 1024];
        let n = key.sign_to(&claims(), &mut scratch, &mut sink).unwrap();
        assert_eq!(n, sink.len());
        assert_eq!(core::str::from_utf8(&sink).unwrap(), fast);

        let header = fast.split('.').next().unwrap();
        let expect = match kid {
            None => r#"{"alg":"EdDSA","typ":"JWT"}"#.to_owned(),
            Some(k) => format!(r#"{{"alg":"EdDSA","kid":"{k}","typ":"JWT"}}"#),
        };
        assert_eq!(b64(header), expect.as_bytes());
        assert_eq!(fast.rsplit('.').next().unwrap().len(), 86);

        let ring = KeyRing::<1>::new(key.public_key().clone()).unwrap();
        assert_eq!(decode(&ring, &fast), Ok(()));
        let ring = KeyRing::<1>::new(key.clone()).unwrap();
        assert_eq!(decode(&ring, &fast), Ok(()));
        // Too small a buffer is an error, never a panic, for every length.
        for len in 0..fast.len() {
            let mut small = vec![0u8; len];
            assert_eq!(
                key.sign_claims(&claims(), &mut small),
                Err(EncodeError::BufferTooSmall)
            );
            assert_eq!(
                key.sign(&claims(), &mut small),
                Err(EncodeError::BufferTooSmall)
            );
        }
    }
}

#[test]
fn a_ring_holds_both_kinds_and_selects_by_kid_and_alg() {
    let hs = Hs256Key::with_kid(SECRET, "hs").unwrap();
    let ed = a1_key(Some("ed"));
    let mut ring = KeyRing::<3>::new(hs.clone()).unwrap();
    ring.add(ed.clone()).unwrap();
    let mut out = [0u8; 1024];
    let hs_token = hs.sign_claims(&claims(), &mut out).unwrap().to_owned();
    let ed_token = ed.sign_claims(&claims(), &mut out).unwrap().to_owned();
    assert_eq!(decode(&ring, &hs_token), Ok(()));
    assert_eq!(decode(&ring, &ed_token), Ok(()));
    // Rotation to EdDSA: the HS256 tokens keep verifying until their key is removed.
    ring.set_signing("ed").unwrap();
    let next = ring.sign_claims(&claims(), &mut out).unwrap().to_owned();
    assert_eq!(next, ed_token);
    assert_eq!(decode(&ring, &hs_token), Ok(()));
    assert!(matches!(ring.remove("hs").unwrap(), Key::Hs256(_)));
    assert_eq!(
        decode(&ring, &hs_token),
        Err(DecodeError::Verify(VerifyError::UnknownKid))
    );
    // A JWKS-side view: only the Ed25519 key has a public half.
    assert!(Key::from(hs).public_key().is_none());
    assert_eq!(
        Key::from(ed.clone()).public_key().unwrap().as_bytes(),
        ed.public_key().as_bytes()
    );
}

/// An attacker who knows the Ed25519 public key MACs an HS256 token with its bytes, naming the
/// Ed25519 key's `kid` or none: a MAC-only verifier that took the key bytes as a secret would
/// accept it. No key type here verifies a token of another algorithm.
#[test]
fn an_hs256_token_macd_with_the_public_key_is_refused() {
    let ed = a1_key(Some("ed"));
    let public = ed.public_key().clone();
    let pk = *public.as_bytes();
    // What the attacker can make: a valid HS256 token under the public key's bytes.
    let forger = Hs256Key::with_kid(&pk, "ed").unwrap();
    let plain_forger = Hs256Key::new(&pk).unwrap();
    let mut out = [0u8; 1024];
    let forged = forger.sign_claims(&claims(), &mut out).unwrap().to_owned();
    let forged_plain = plain_forger
        .sign_claims(&claims(), &mut out)
        .unwrap()
        .to_owned();
    for ring in [
        KeyRing::<2>::new(public.clone()).unwrap(),
        KeyRing::<2>::new(ed.clone()).unwrap(),
    ] {
        assert_eq!(
            decode(&ring, &forged),
            Err(DecodeError::Verify(VerifyError::WrongAlgorithm))
        );
        assert_eq!(
            decode(&ring, &forged_plain),
            Err(DecodeError::Verify(VerifyError::WrongAlgorithm))
        );
    }
    let t = UntrustedToken::parse(&forged).unwrap();
    assert_eq!(public.verify(&t).unwrap_err(), VerifyError::WrongAlgorithm);
    assert_eq!(ed.verify(&t).unwrap_err(), VerifyError::WrongAlgorithm);
    assert_eq!(
        Key::from(public).verify(&t).unwrap_err(),
        VerifyError::WrongAlgorithm
    );
}

/// An `EdDSA` header naming an HS256 key's `kid` (or no `kid`, with an HS256 signing key): the
/// HS256 key never checks it, whatever the signature.
#[test]
fn an_eddsa_header_naming_an_hs256_key_is_refused() {
    let hs = Hs256Key::with_kid(SECRET, "hs").unwrap();
    let mut ring = KeyRing::<2>::new(hs.clone()).unwrap();
    ring.add(a1_key(Some("ed")).public_key().clone()).unwrap();
    // An Ed25519 signature made with some other key, under the HS256 key's kid.
    let other = Ed25519Key::from_seed_with_kid(&[3; 32], "hs").unwrap();
    let mut out = [0u8; 1024];
    let token = other.sign_claims(&claims(), &mut out).unwrap().to_owned();
    assert_eq!(
        decode(&ring, &token),
        Err(DecodeError::Verify(VerifyError::WrongAlgorithm))
    );
    let t = UntrustedToken::parse(&token).unwrap();
    assert_eq!(hs.verify(&t).unwrap_err(), VerifyError::WrongAlgorithm);
    // A 64-byte "signature" that is an HMAC twice over, for good measure.
    let input = token.rsplit_once('.').unwrap().0;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    let tag = mac.finalize().into_bytes();
    let doubled = [tag.as_slice(), tag.as_slice()].concat();
    let mac_token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(doubled));
    assert_eq!(
        decode(&ring, &mac_token),
        Err(DecodeError::Verify(VerifyError::WrongAlgorithm))
    );
    // No kid: the HS256 signing key is the only candidate, and it is of the wrong kind.
    let plain = KeyRing::<1>::new(Hs256Key::new(SECRET).unwrap()).unwrap();
    let anon = Ed25519Key::from_seed(&[3; 32]).unwrap();
    let token = anon.sign_claims(&claims(), &mut out).unwrap().to_owned();
    assert_eq!(
        decode(&plain, &token),
        Err(DecodeError::Verify(VerifyError::WrongAlgorithm))
    );
}

#[test]
fn other_algorithms_and_bad_signature_lengths_are_refused() {
    let sig86 = URL_SAFE_NO_PAD.encode([7u8; 64]);
    let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#);
    for alg in [
        "none", "None", "eddsa", "EDDSA", "Ed25519", "EdDSA ", "ES256", "HS512",
    ] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
        for sig in [sig86.as_str(), "", "AAAA"] {
            let token = format!("{header}.{body}.{sig}");
            assert_eq!(
                UntrustedToken::parse(&token).unwrap_err(),
                ParseError::UnsupportedAlgorithm,
                "{token}"
            );
        }
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    for len in [0usize, 32, 63, 65, 96] {
        let sig = URL_SAFE_NO_PAD.encode(vec![7u8; len]);
        let token = format!("{header}.{body}.{sig}");
        assert_eq!(
            UntrustedToken::parse(&token).unwrap_err(),
            ParseError::SignatureEncoding,
            "{len}"
        );
    }
    // 86 characters that are not canonical base64url of 64 bytes (non-zero unused bits).
    let mut bad = sig86.clone().into_bytes();
    *bad.last_mut().unwrap() = b'x';
    let token = format!("{header}.{body}.{}", String::from_utf8(bad).unwrap());
    assert_eq!(
        UntrustedToken::parse(&token).unwrap_err(),
        ParseError::SignatureEncoding
    );
    // The HS256 length with an EdDSA header, and the EdDSA length with an HS256 header.
    let hs_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let sig43 = URL_SAFE_NO_PAD.encode([7u8; 32]);
    for token in [
        format!("{header}.{body}.{sig43}"),
        format!("{hs_header}.{body}.{sig86}"),
    ] {
        assert_eq!(
            UntrustedToken::parse(&token).unwrap_err(),
            ParseError::SignatureEncoding
        );
    }
}

#[test]
fn a_public_key_ring_verifies_but_cannot_sign() {
    let ring = KeyRing::<1>::new(a1_key(None).public_key().clone()).unwrap();
    let mut out = [0u8; 512];
    assert_eq!(
        ring.sign_claims(&claims(), &mut out),
        Err(EncodeError::CannotSign)
    );
    assert_eq!(ring.sign(&claims(), &mut out), Err(EncodeError::CannotSign));
    let mut sink = heapless::Vec::<u8, 1024>::new();
    assert_eq!(
        ring.sign_to(&claims(), &mut out, &mut sink),
        Err(EncodeError::CannotSign)
    );
    assert!(sink.is_empty());
    assert!(!ring.signing_key().can_sign());
    assert_eq!(ring.signing_key().algorithm(), Algorithm::EdDsa);
    // The keys that hold a secret can.
    assert!(
        KeyRing::<1>::new(a1_key(None))
            .unwrap()
            .signing_key()
            .can_sign()
    );
    let hs = KeyRing::<1>::new(Hs256Key::new(&[7; 32]).unwrap()).unwrap();
    assert!(hs.signing_key().can_sign());
    assert!(!hs.is_empty() && !ring.is_empty());
}

#[test]
fn public_keys_are_checked_when_built() {
    assert_eq!(
        Ed25519PublicKey::from_slice(&[0u8; 32], None).unwrap_err(),
        KeyError::InvalidPublicKey
    );
    assert_eq!(
        Ed25519PublicKey::from_slice(&b64(A1_X)[..31], None).unwrap_err(),
        KeyError::InvalidPublicKey
    );
    assert!(Ed25519PublicKey::from_slice(&b64(A1_X), Some("k")).is_ok());
    let debug = format!("{:?}", a1_key(Some("k")));
    assert!(!debug.contains(&format!("{:?}", b64(A1_D))), "{debug}");
    assert!(debug.contains("<redacted>"));
}

#[test]
fn algorithm_names_round_trip_exactly() {
    for alg in [Algorithm::Hs256, Algorithm::EdDsa] {
        assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
    }
    assert_eq!(Algorithm::from_name("HS256"), Some(Algorithm::Hs256));
    assert_eq!(Algorithm::from_name("EdDSA"), Some(Algorithm::EdDsa));
    for other in ["hs256", "EDDSA", "none", "HS512", "ES256", "", " HS256"] {
        assert_eq!(Algorithm::from_name(other), None, "{other}");
    }
}
