//! The fuzz harnesses, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`, one line each)
//! and the corpus replay test (`tests/tests/corpus_replay.rs`, plain `cargo test`). Each takes
//! raw bytes, must never panic on its own account, and asserts the invariants of what it
//! exercises: a failed assertion is a finding. They use auth-core's public API only, plus the
//! few accessors its `fuzzing` feature exposes for the checks that are not public.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    missing_docs
)] // reason: harnesses report broken invariants by panicking; that is their job.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

use auth_core::JsonStr;
use auth_core::bearer::parse_bearer;
use auth_core::flow::FlowClaims;
use auth_core::form::{Field, encode_component, parse_login_form};
use auth_core::jwt::{Audience, Claims, UntrustedToken};
use auth_core::password::{
    MAX_OUTPUT_LEN, MIN_OUTPUT_LEN, MIN_SALT_LEN, Policy, StoredHash, verify_parsed,
};
use auth_core::{Algorithm, Ed25519Key, Hs256Key, KeyRing, Validation};

use auth_core::fuzzing::{MAX_CHECK_DEPTH, json_syntax_ok};

/// auth-core checks header JSON itself before serde runs; it must accept exactly what
/// `serde_json` accepts (valid UTF-8 input), except that it refuses, by design, anything nested
/// deeper than [`MAX_CHECK_DEPTH`], which `serde_json` (limit 128) still reads.
pub fn json_syntax(data: &[u8]) {
    if let Ok(text) = core::str::from_utf8(data) {
        let reference = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
            && nesting(data) <= MAX_CHECK_DEPTH as usize;
        assert_eq!(json_syntax_ok(data, MAX_CHECK_DEPTH), reference, "{text:?}");
    }
}

/// How deep arrays and objects nest in valid JSON `text`: 0 for a scalar, 1 for `[]`. Brackets
/// inside strings do not count.
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn fused_agrees<const N: usize>(ring: &KeyRing<N>, token: &str) {
    // A claims buffer long enough for any payload of the token, and one too short for most:
    // the fused decode meets a short buffer while it computes the MAC, and must report it where
    // the step-by-step path would.
    let validation = Validation::new().allow_missing_exp();
    for len in [token.len(), token.len() / 2] {
        let step = (|| -> Result<(), auth_core::DecodeError> {
            let u = UntrustedToken::parse(token)?;
            let v = ring.verify(&u)?;
            let mut buf = vec![0u8; len];
            validation.validate(v.registered(&mut buf)?, NOW)?;
            Ok(())
        })();
        let mut buf = vec![0u8; len];
        let fused = ring
            .decode_registered(token, &mut buf, &validation, NOW)
            .map(|_| ());
        assert_eq!(
            fused, step,
            "fused and step-by-step decode disagree: {token:?}, {len}-byte buffer"
        );
    }
}

/// Fixed clock for harnesses.
pub const NOW: u64 = 1_764_332_000;
/// The shared PyJWT test key: the signing key (kid `k1`) of [`rings`], and the kid-less key.
pub const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// The second key, with kid "k2".
pub const SECRET2: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

/// A ring whose signing key (kid "k1") and second key (kid "k2") the corpus tokens use, and a
/// kid-less ring with the shared test key.
pub fn rings() -> (KeyRing<2>, KeyRing<1>) {
    let mut ring = KeyRing::new(Hs256Key::with_kid(SECRET2, "k2").unwrap()).unwrap();
    ring.rotate(Hs256Key::with_kid(SECRET, "k1").unwrap())
        .unwrap();
    let plain = KeyRing::new(Hs256Key::new(SECRET).unwrap()).unwrap();
    (ring, plain)
}

fn mac_hs256(secret: &[u8], input: &[u8]) -> [u8; 32] {
    let mut m = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret).unwrap();
    m.update(input);
    m.finalize().into_bytes().into()
}

/// Arbitrary bytes as a token against fixed key rings.
///
/// Invariants: a token that verifies carries exactly the MAC an independent HMAC computes over
/// its signing input with the selected key's secret; if its header and claims are in this
/// crate's canonical form, signing the claims again gives back the same token bytes.
pub fn token_verify(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let (ring, plain) = rings();
    // The fused decode (#26, which skips the pre-MAC payload check and lets the strict decode
    // after the MAC do it) gives exactly the step-by-step path's verdict and error.
    fused_agrees(&ring, s);
    fused_agrees(&plain, s);
    let Ok(untrusted) = UntrustedToken::parse(s) else {
        return;
    };
    let candidates = [
        (
            ring.verify(&untrusted),
            untrusted
                .kid()
                .map_or(Some(ring.signing_key()), |k| ring.get(k)),
        ),
        (
            plain.verify(&untrusted),
            untrusted
                .kid()
                .map_or(Some(plain.signing_key()), |k| plain.get(k)),
        ),
    ];
    // The signature as sent (parse checked it is strict base64url of the algorithm's length).
    let sig_b64 = s.rsplit('.').next().unwrap();
    let want = match untrusted.algorithm() {
        Algorithm::EdDsa => 64,
        _ => 32,
    };
    let mut sent = [0u8; 64];
    assert_eq!(
        URL_SAFE_NO_PAD.decode_slice(sig_b64, &mut sent),
        Ok(want),
        "parse accepted a signature of the wrong length for its alg"
    );
    let mut signature = [0u8; 32];
    signature.copy_from_slice(&sent[..32]);
    for (verified, key) in candidates {
        let Ok(verified) = verified else { continue };
        let key = key.expect("a verified token has a key");
        let secret = match key.kid() {
            Some("k2") => SECRET2,
            _ => SECRET,
        };
        let expected = mac_hs256(secret, untrusted.signing_input().as_bytes());
        assert_eq!(signature, expected, "verified token with a wrong MAC");
        let mut buf = [0u8; 8192];
        let Ok(claims) = verified.claims::<Claims<'_>>(&mut buf) else {
            continue;
        };
        let _ = Validation::new().validate(&claims, NOW);
        let mut json = [0u8; 8192];
        let n = serde_json_core::to_slice(&claims, &mut json).unwrap();
        let mut decoded = [0u8; 8192];
        let m = URL_SAFE_NO_PAD
            .decode_slice(verified.payload_b64().as_bytes(), &mut decoded)
            .unwrap();
        let header = s.split('.').next().unwrap();
        // Canonical: the claims as this crate serializes them, under the key's own header.
        if json[..n] == decoded[..m] {
            let mut out = [0u8; 16384];
            let again = key.sign(&claims, &mut out).unwrap();
            if again.split('.').next() != Some(header) {
                continue;
            }
            assert_eq!(
                again, s,
                "canonical token did not re-sign to the same bytes"
            );
        }
    }
}

/// The Ed25519 seed of [`eddsa_ring`]'s key `ed`; RFC 8037 A.1's private key.
pub const ED_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// A ring holding both kinds: the Ed25519 key `ed` (which signs) and the HS256 key `hs`
/// ([`SECRET`]); and a kid-less ring holding only `ed`'s public key.
pub fn eddsa_rings() -> (KeyRing<2>, KeyRing<1>) {
    let ed = Ed25519Key::from_seed_with_kid(&ED_SEED, "ed").unwrap();
    let mut ring = KeyRing::new(ed).unwrap();
    ring.add(Hs256Key::with_kid(SECRET, "hs").unwrap()).unwrap();
    let public = Ed25519Key::from_seed(&ED_SEED)
        .unwrap()
        .public_key()
        .clone();
    let plain = KeyRing::new(public).unwrap();
    (ring, plain)
}

/// Arbitrary bytes as a token against rings that hold an Ed25519 key beside an HS256 one.
///
/// Invariants:
/// * the fused decode and the step-by-step path agree;
/// * a token that verifies is of its key's algorithm, and an `EdDSA` one carries exactly the
///   RFC 8032 signature of its signing input by the ring's only Ed25519 key: the harness holds
///   no other, so any other accepted signature would be a forgery;
/// * an HS256 token carries exactly the MAC of `hs`;
/// * a token naming `ed` with `alg: HS256` (the public key's bytes as a MAC key, or anything
///   else) and one naming `hs` with `alg: EdDSA` never verify.
pub fn eddsa_verify(data: &[u8]) {
    // The raw layer too: any 32-byte key either backend takes, a 64-byte signature, a message;
    // compact and dalek (`eddsa-fast`) must give the one answer.
    if let (Some(pk), Some(sig)) = (data.get(..32), data.get(32..96)) {
        let pk: &[u8; 32] = pk.try_into().unwrap();
        if let Some((compact, dalek)) = auth_core::fuzzing::ed25519_backends(pk, &data[96..], sig) {
            assert_eq!(
                compact, dalek,
                "the Ed25519 backends disagree on a raw signature"
            );
        }
    }
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let (ring, plain) = eddsa_rings();
    fused_agrees(&ring, s);
    fused_agrees(&plain, s);
    let Ok(untrusted) = UntrustedToken::parse(s) else {
        return;
    };
    let sig_b64 = s.rsplit('.').next().unwrap();
    let mut sent = [0u8; 64];
    let n = URL_SAFE_NO_PAD.decode_slice(sig_b64, &mut sent).unwrap();
    let key = Ed25519Key::from_seed(&ED_SEED).unwrap();
    let input = untrusted.signing_input().as_bytes();
    let backends =
        auth_core::fuzzing::ed25519_backends(key.public_key().as_bytes(), input, &sent[..n]);
    assert_eq!(
        backends.map(|(c, d)| c == d),
        Some(true),
        "the Ed25519 backends disagree on a token's signature"
    );
    for (ring_name, verified) in [
        ("ring", ring.verify(&untrusted)),
        ("plain", plain.verify(&untrusted)),
    ] {
        let Ok(verified) = verified else { continue };
        match untrusted.algorithm() {
            Algorithm::EdDsa => {
                assert_ne!(
                    untrusted.kid(),
                    Some("hs"),
                    "EdDSA token verified by an HS256 key"
                );
                assert_eq!(n, 64);
                let expected = auth_core::fuzzing::ed25519_signature(&key, input);
                assert_eq!(
                    &sent[..],
                    &expected[..],
                    "{ring_name}: accepted a signature the key did not make"
                );
            }
            _ => {
                assert_eq!(
                    ring_name, "ring",
                    "the public-key ring verified an HS256 token"
                );
                assert_eq!(
                    untrusted.kid(),
                    Some("hs"),
                    "HS256 token verified by the Ed25519 key"
                );
                assert_eq!(&sent[..32], &mac_hs256(SECRET, input)[..]);
            }
        }
        let mut buf = vec![0u8; verified.payload_len()];
        let _ = verified.registered(&mut buf);
    }
}

/// Arbitrary bytes as payload JSON through claim parsing and validation, as the standard claims
/// and the flow's claims.
///
/// Invariant: whatever parses re-serializes to JSON that parses to equal claims.
pub fn claims(data: &[u8]) {
    let mut scratch = [0u8; 512];
    if let Ok((c, _)) = serde_json_core::from_slice_escaped::<Claims<'_>>(data, &mut scratch) {
        let _ = Validation::new()
            .with_issuer("iss")
            .with_audience("aud")
            .validate(&c, NOW);
        let mut json = [0u8; 8192];
        let n = serde_json_core::to_slice(&c, &mut json).expect("parsed claims must serialize");
        let mut scratch2 = [0u8; 512];
        let (back, _) =
            serde_json_core::from_slice_escaped::<Claims<'_>>(&json[..n], &mut scratch2)
                .expect("serialized claims must parse");
        assert_eq!(back, c, "claims changed across a round trip");
        if let Some(sub) = c.sub {
            let mut buf = [0u8; 8192];
            let decoded = sub
                .decode_into(&mut buf)
                .expect("decoded text fits its raw length");
            assert_eq!(sub, *decoded);
            assert_eq!(decoded.len(), sub.decoded_len());
        }
    }
    let mut scratch = [0u8; 512];
    if let Ok((c, _)) = serde_json_core::from_slice_escaped::<FlowClaims<'_>>(data, &mut scratch) {
        let _ = Validation::new().validate(&c, NOW);
    }
}

/// Arbitrary bytes as an `Authorization` value.
///
/// Invariants: an accepted token is non-empty, is a suffix of the input, uses only the
/// `b64token` alphabet, and parses the same when put behind a fresh `Bearer `.
pub fn bearer(data: &[u8]) {
    let Ok(token) = parse_bearer(Some(data)) else {
        return;
    };
    assert!(!token.is_empty());
    assert!(data.ends_with(token.as_bytes()));
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
    );
    let mut again = [0u8; auth_core::bearer::MAX_AUTHORIZATION_LEN + 16];
    let n = 7 + token.len();
    again[..7].copy_from_slice(b"Bearer ");
    again[7..n].copy_from_slice(token.as_bytes());
    assert_eq!(parse_bearer(Some(&again[..n])), Ok(token));
}

/// Arbitrary bytes as a urlencoded login body.
///
/// Invariant: a form that parses round-trips through the encoder: encoding its fields and
/// parsing again gives the same values.
pub fn login_form(data: &[u8]) {
    let mut buf = [0u8; 4096];
    let Some(buf) = buf.get_mut(..data.len()) else {
        return;
    };
    let form = match parse_login_form(data, buf) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.errors().is_empty(), "an error lists at least one field");
            return;
        }
    };
    assert!(!form.username.is_empty() && !form.password.is_empty());
    let mut body = [0u8; 16384];
    let mut at = 0;
    let fields = [
        (Field::Username, Some(form.username)),
        (Field::Password, Some(form.password)),
        (Field::Scope, Some(form.scope)),
        (Field::ClientId, form.client_id),
        (Field::ClientSecret, form.client_secret),
    ];
    for (field, value) in fields {
        let Some(value) = value else { continue };
        if at > 0 {
            body[at] = b'&';
            at += 1;
        }
        body[at..at + field.name().len()].copy_from_slice(field.name().as_bytes());
        at += field.name().len();
        body[at] = b'=';
        at += 1;
        let enc = encode_component(value.as_bytes(), &mut body[at..])
            .unwrap()
            .len();
        at += enc;
    }
    let mut buf2 = [0u8; 16384];
    let again = parse_login_form(&body[..at], &mut buf2).expect("re-encoded form must parse");
    assert_eq!(again.username, form.username);
    assert_eq!(again.password, form.password);
    assert_eq!(again.scope, form.scope);
    assert_eq!(again.client_id, form.client_id);
    assert_eq!(again.client_secret, form.client_secret);
}

/// Arbitrary bytes as a stored PHC, passlib, Django or bcrypt string. Verification runs only
/// for strings with at most 2,000 rounds (bcrypt: cost 5), to keep runs fast.
///
/// Invariant: whatever parses is within the safety caps: rounds (bcrypt: a cost from 4 whose
/// work is at most `MAX_ROUNDS`'), salt and output lengths.
pub fn password_hash(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    // The PHC parser reads field by field; `phc::PasswordHash::new` is its reference.
    if s.starts_with("$pbkdf2-sha256$") {
        assert!(auth_core::fuzzing::phc_agrees(s), "{s}");
    }
    let Ok(h) = StoredHash::parse(s) else { return };
    assert!(h.work() <= u64::from(auth_core::password::MAX_ROUNDS));
    if h.format() == auth_core::password::Format::Bcrypt {
        assert!(h.rounds() >= 4 && h.output_len() == 23, "{s}");
        assert_eq!(auth_core::fuzzing::stored_salt_len(&h), 16);
        if h.rounds() <= 5 {
            let _ = verify_parsed(b"password", &h, &Policy::new().with_rounds(1000));
            let _ = verify_parsed(b"pass\0word", &h, &Policy::new().with_rounds(1000));
        }
        return;
    }
    assert!((1_000..=10_000_000).contains(&h.rounds()));
    assert!((MIN_OUTPUT_LEN..=MAX_OUTPUT_LEN).contains(&h.output_len()));
    assert!(auth_core::fuzzing::stored_salt_len(&h) >= MIN_SALT_LEN);
    if h.rounds() <= 2_000 {
        let _ = verify_parsed(b"password", &h, &Policy::new());
    }
}

/// Structured input builds claims; sign then verify must give the same claims back, and
/// changing any single byte of the token must make it fail.
pub fn sign_verify_roundtrip(data: &[u8]) {
    use arbitrary::{Arbitrary, Unstructured};
    let mut u = Unstructured::new(data);
    let Ok(sub) = <&str>::arbitrary(&mut u) else {
        return;
    };
    let Ok(iss) = <Option<&str>>::arbitrary(&mut u) else {
        return;
    };
    let Ok(auds) = <[Option<&str>; 3]>::arbitrary(&mut u) else {
        return;
    };
    let Ok(iat) = u64::arbitrary(&mut u) else {
        return;
    };
    let Ok(ttl) = u32::arbitrary(&mut u) else {
        return;
    };
    let Ok(nbf) = <Option<u64>>::arbitrary(&mut u) else {
        return;
    };
    let Ok(jti) = <Option<&str>>::arbitrary(&mut u) else {
        return;
    };
    let Ok(use_kid) = bool::arbitrary(&mut u) else {
        return;
    };
    let Ok(flip_at) = usize::arbitrary(&mut u) else {
        return;
    };
    let Ok(flip_xor) = u8::arbitrary(&mut u) else {
        return;
    };

    let mut aud_list = heapless::Vec::<JsonStr<'_>, 8>::new();
    for a in auds.into_iter().flatten() {
        let _ = aud_list.push(JsonStr::new(a));
    }
    let claims = Claims {
        sub: Some(JsonStr::new(sub)),
        iss: iss.map(JsonStr::new),
        aud: match aud_list.len() {
            0 => None,
            1 => Some(Audience::one(aud_list[0])),
            _ => Audience::many(&aud_list),
        },
        exp: Some(iat.saturating_add(u64::from(ttl))),
        nbf,
        iat: Some(iat),
        jti: jti.map(JsonStr::new),
    };
    let key = if use_kid {
        Hs256Key::with_kid(SECRET, "k1").unwrap()
    } else {
        Hs256Key::new(SECRET).unwrap()
    };
    let ring = KeyRing::<1>::new(key).unwrap();
    let mut out = [0u8; 16384];
    let Ok(token) = ring.sign(&claims, &mut out) else {
        return;
    };
    let token_len = token.len();
    // The purpose-written writer makes the same token, byte for byte (#26).
    let mut out2 = [0u8; 16384];
    assert_eq!(
        ring.sign_claims(&claims, &mut out2).map(str::len),
        Ok(token_len),
        "sign_claims and sign disagree on the length"
    );
    assert_eq!(
        &out2[..token_len],
        token.as_bytes(),
        "sign_claims and sign disagree"
    );

    // Signing has no size cap of its own; verify with a cap that fits (the default is 8 KiB).
    let untrusted = UntrustedToken::parse_with_limit(token, token_len).expect("own token parses");
    let verified = ring.verify(&untrusted).expect("own token verifies");
    let mut buf = [0u8; 32768];
    // The one documented limit: a single escaped `aud` decodes into bounded inline storage.
    let single_escaped_aud_over_limit = match auds.into_iter().flatten().count() {
        1 => auds.into_iter().flatten().any(|a| {
            a.len() > auth_core::jwt::MAX_DECODED_AUDIENCE_LEN
                && a.chars().any(|c| c < ' ' || c == '"' || c == '\\')
        }),
        _ => false,
    };
    let back: Claims<'_> = match verified.claims(&mut buf) {
        Ok(c) => c,
        Err(auth_core::ClaimsError::Shape) if single_escaped_aud_over_limit => return,
        Err(e) => {
            let mut json = [0u8; 16384];
            let n = URL_SAFE_NO_PAD
                .decode_slice(verified.payload_b64().as_bytes(), &mut json)
                .unwrap_or(0);
            panic!(
                "own claims do not parse ({e:?}): {:?}",
                core::str::from_utf8(&json[..n])
            );
        }
    };
    assert_eq!(back, claims, "claims changed across sign/verify");
    // The scanner reads the same claims; re-signed as read (escapes kept raw, an escaped single
    // `aud` decoded), both signers still agree.
    let mut buf2 = [0u8; 32768];
    let scanned = verified
        .registered(&mut buf2)
        .expect("the scanner reads what serde reads");
    assert_eq!(scanned, claims, "the scanner read other claims");
    for read in [&back, &scanned] {
        let (mut a, mut b) = ([0u8; 16384], [0u8; 16384]);
        assert_eq!(
            ring.sign_claims(read, &mut a).ok(),
            ring.sign(read, &mut b).ok(),
            "signers disagree on claims as read"
        );
    }
    if claims.exp > claims.iat && nbf.is_none_or(|n| n <= iat) {
        Validation::new()
            .validate(&back, iat)
            .expect("valid at iat");
    }

    // Any single-byte change is rejected somewhere along the chain.
    let mut tampered = [0u8; 16384];
    tampered[..token_len].copy_from_slice(&out[..token_len]);
    let i = flip_at % token_len;
    tampered[i] ^= flip_xor | 1;
    let Ok(t) = core::str::from_utf8(&tampered[..token_len]) else {
        return;
    };
    let accepted = UntrustedToken::parse_with_limit(t, token_len)
        .ok()
        .and_then(|u| ring.verify(&u).ok().map(|v| (u, v)))
        .and_then(|(_, v)| {
            let mut b = [0u8; 32768];
            v.claims::<Claims<'_>>(&mut b).ok().map(|_| ())
        });
    assert!(
        accepted.is_none(),
        "a token with byte {i} changed was accepted"
    );
}

/// Arbitrary bytes as a token-endpoint body and as a revocation body (#13).
///
/// Invariants: parsing never panics; an error lists a field; a refresh grant's token parses
/// exactly when the `base64` crate decodes it strictly to 32 bytes (a differential against the
/// other implementation), and then re-encodes to the same text; auth-core's refresh decision
/// over it, against a session holding another token, is never a rotation.
pub fn token_request(data: &[u8]) {
    use auth_core::form::{TokenRequest, parse_revoke_form, parse_token_form};
    use auth_core::session::{
        RefreshError, RefreshToken, Session, SessionAccount, SessionLimits, refresh,
    };
    let mut buf = [0u8; 4096];
    let Some(buf) = buf.get_mut(..data.len()) else {
        return;
    };
    match parse_token_form(data, buf) {
        Ok(TokenRequest::Refresh(form)) => {
            let text = form.refresh_token.as_bytes();
            let parsed = RefreshToken::parse(text);
            let mut reference = [0u8; 48];
            let strict =
                text.len() == 43 && URL_SAFE_NO_PAD.decode_slice(text, &mut reference) == Ok(32);
            assert_eq!(parsed.is_ok(), strict, "{:?}", form.refresh_token);
            if let Ok(token) = parsed {
                let mut out = [0u8; 43];
                assert_eq!(token.encode(&mut out).unwrap().as_bytes(), text);
                let other = RefreshToken::from_bytes([0xa5; 32]);
                let session = Session {
                    current: other.hash(),
                    created: NOW - 10,
                    last_used: NOW - 10,
                    revoked: false,
                    scope: "read",
                    presented_rotated_at: None,
                    credential_epoch: 1,
                };
                let account = SessionAccount {
                    active: true,
                    password_changed: 0,
                    credential_epoch: 1,
                };
                let limits = SessionLimits::new();
                let decided = refresh(
                    &token,
                    form.scope,
                    Some(&session),
                    Some(&account),
                    &limits,
                    NOW,
                );
                if token.hash().ct_eq(&other.hash()) {
                    assert!(decided.is_ok() || decided == Err(RefreshError::ScopeWider));
                } else {
                    assert_eq!(decided, Err(RefreshError::Unknown));
                }
            }
        }
        Ok(TokenRequest::Password(form)) => {
            assert!(!form.username.is_empty() && !form.password.is_empty());
        }
        Err(e) => assert!(!e.errors().is_empty(), "an error lists at least one field"),
    }
    let mut buf = [0u8; 4096];
    let Some(buf) = buf.get_mut(..data.len()) else {
        return;
    };
    match parse_revoke_form(data, buf) {
        Ok(form) => assert!(!form.token.is_empty()),
        Err(e) => assert!(!e.errors().is_empty()),
    }
}

/// The token-segment base64url codec, the host's and the device's, against the `base64`
/// crate's `URL_SAFE_NO_PAD` (differential, #26): the same inputs decode, to the same bytes; every input encodes to the
/// same text.
pub fn b64_differential(data: &[u8]) {
    let theirs = URL_SAFE_NO_PAD.decode(data).ok();
    let encoded = URL_SAFE_NO_PAD.encode(data);
    // The host's codec and the device's (what 32-bit targets run), each against the crate.
    type Codec = fn(&[u8], &mut [u8]) -> Option<usize>;
    let codecs: [(&str, Codec, Codec); 2] = [
        (
            "host",
            auth_core::fuzzing::b64_decode,
            auth_core::fuzzing::b64_encode,
        ),
        (
            "device",
            auth_core::fuzzing::b64_decode_narrow,
            auth_core::fuzzing::b64_encode_narrow,
        ),
    ];
    for (which, check) in [
        (
            "host",
            auth_core::fuzzing::b64_is_canonical as fn(&[u8]) -> bool,
        ),
        ("device", auth_core::fuzzing::b64_is_canonical_narrow),
    ] {
        assert_eq!(
            check(data),
            theirs.is_some(),
            "{which} encoding check: {data:?}"
        );
    }
    for (which, decode, encode) in codecs {
        let mut out = vec![0u8; data.len()];
        let ours = decode(data, &mut out);
        assert_eq!(
            ours,
            theirs.as_ref().map(Vec::len),
            "{which} decode verdict: {data:?}"
        );
        if let Some(t) = &theirs {
            assert_eq!(&out[..t.len()], &t[..], "{which} decoded bytes: {data:?}");
        }
        let mut enc = vec![0u8; data.len() / 3 * 4 + 4];
        let n = encode(data, &mut enc).expect("room for the encoding");
        assert_eq!(&enc[..n], encoded.as_bytes(), "{which} encoding: {data:?}");
    }
}

/// The reference reading of the registered claims for [`claims_differential`]: `serde_json`,
/// owned values.
#[derive(serde::Deserialize, Debug, PartialEq)]
struct RefClaims {
    sub: Option<String>,
    iss: Option<String>,
    aud: Option<RefAud>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum RefAud {
    One(String),
    Many(Vec<String>),
}

fn owned(s: Option<JsonStr<'_>>) -> Option<String> {
    s.map(|s| s.chars().collect())
}

/// Whether the text has a `\uD800`–`\uDFFF` escape.
fn has_surrogate_escape(data: &[u8]) -> bool {
    data.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

/// The claims scanner against its two references (differential, #26), and the header
/// scanner against the parser it replaced: the serde path
/// (serde-json-core, what `VerifiedToken::claims` runs) and `serde_json`. Both must accept and
/// refuse the same payloads as the scanner and read the same values. Where a reference is
/// known to be wrong the harness says so and checks the scanner against the other:
///
/// - serde-json-core refuses every surrogate escape (`\ud83d\ude00`) in the strings it
///   unescapes: an escaped single `aud`, and the strings of members it skips. `serde_json`
///   and the scanner accept pairs (and lone surrogates in skipped values, which nobody
///   decodes); there `serde_json` decides alone;
/// - serde's derived `Deserialize` reads a struct from a JSON array by position; the scanner
///   (and the serde path) take only an object, so `serde_json` is asked only about objects;
/// - `serde_json` has no depth or audience-count limit and does not decode into bounded
///   storage: the scanner refuses nesting over `MAX_CLAIMS_DEPTH`, more than `MAX_AUDIENCES`
///   audiences, and an escaped single `aud` over `MAX_DECODED_AUDIENCE_LEN` decoded bytes,
///   exactly as the serde path does.
pub fn claims_differential(data: &[u8]) {
    // The device's object walk (shared out-of-line steps) against the host's (one loop).
    assert!(
        auth_core::fuzzing::walks_agree(data),
        "host and device walks differ: {:?}",
        String::from_utf8_lossy(data)
    );
    // The same bytes as a decoded JOSE header: the scanner-based checked path (and the
    // fixed-header fast path in front of it) against the serde-json-core parser it replaced.
    assert_eq!(
        auth_core::fuzzing::header_ours(data),
        auth_core::fuzzing::header_reference(data),
        "header verdicts differ: {:?}",
        String::from_utf8_lossy(data)
    );
    let mut others: Vec<(String, String)> = Vec::new();
    let ours = auth_core::fuzzing::scan_claims(data, |name, value| {
        others.push((name.chars().collect(), value.raw().to_owned()));
        Ok(())
    });
    // The serde path.
    let mut scratch = vec![0u8; data.len() + 16];
    let serde = auth_core::fuzzing::serde_claims::<Claims<'_>>(data, &mut scratch);
    match (&ours, &serde) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "scanner and serde path read different claims"),
        (Err(_), Err(_)) => {}
        // serde-json-core's unescaper refuses every surrogate escape, pairs included, in the
        // strings it decodes (an escaped single `aud`, and strings it skips). There
        // `serde_json`, below, decides alone.
        (Ok(_), Err(auth_core::ClaimsError::Escape)) if has_surrogate_escape(data) => {}
        _ => panic!(
            "scanner {ours:?} but serde path {serde:?}: {:?}",
            String::from_utf8_lossy(data)
        ),
    }
    // serde_json, on UTF-8 text (the scanner's first rule; serde_json skips ignored strings
    // without checking it) that is an object: serde's derived `Deserialize` also reads a
    // struct from an array, by position (`["alice","joe"]`), which no claims set is.
    let reference = std::str::from_utf8(data)
        .ok()
        .filter(|t| {
            t.trim_start_matches([' ', '\t', '\n', '\r'])
                .starts_with('{')
        })
        .and_then(|t| serde_json::from_str::<RefClaims>(t).ok().map(|r| (t, r)));
    match (&ours, reference) {
        (Err(_), None) => {}
        (Ok(c), Some((_, r))) => {
            assert_eq!(owned(c.sub), r.sub);
            assert_eq!(owned(c.iss), r.iss);
            assert_eq!(owned(c.jti), r.jti);
            assert_eq!((c.exp, c.nbf, c.iat), (r.exp, r.nbf, r.iat));
            let auds: Option<Vec<String>> = c
                .aud
                .as_ref()
                .map(|a| a.iter().map(|s| s.chars().collect()).collect());
            let ref_auds = r.aud.map(|a| match a {
                RefAud::One(s) => vec![s],
                RefAud::Many(v) => v,
            });
            assert_eq!(auds, ref_auds, "aud");
            for (name, raw) in &others {
                assert!(
                    !["sub", "iss", "aud", "exp", "nbf", "iat", "jti"].contains(&name.as_str())
                );
                serde_json::from_str::<serde::de::IgnoredAny>(raw)
                    .expect("a handed-over value is JSON");
            }
        }
        (Err(e), Some((text, r))) => {
            // Depth by auth-core's own syntax check (checked against serde_json by the
            // `json_syntax` target): `serde_json::Value` refuses numbers such as `4e5557555`
            // that the typed read skips.
            let too_deep = !json_syntax_ok(text.as_bytes(), auth_core::jwt::MAX_CLAIMS_DEPTH);
            let too_many =
                matches!(&r.aud, Some(RefAud::Many(v)) if v.len() > auth_core::jwt::MAX_AUDIENCES);
            let too_long = matches!(&r.aud, Some(RefAud::One(s)) if s.len() > auth_core::jwt::MAX_DECODED_AUDIENCE_LEN);
            assert!(
                too_deep || too_many || too_long,
                "scanner refused ({e:?}) what serde_json reads: {text:?}"
            );
        }
        (Ok(c), None) => panic!(
            "scanner read {c:?} from what serde_json refuses: {:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

/// HMAC-SHA256 as auth-core computes it (over `sha2`'s compression function, #26) against the
/// `hmac` crate (differential): every key length (a key over 64 bytes is hashed first), every
/// message, streamed in two pieces at every split. The first byte picks the key length, the
/// second the split; the rest is key then message.
pub fn hmac_differential(data: &[u8]) {
    let [key_len, split, rest @ ..] = data else {
        return;
    };
    let (key, msg) = rest.split_at(usize::from(*key_len).min(rest.len()));
    let ours = auth_core::fuzzing::hmac_sha256(key, msg, usize::from(*split));
    assert_eq!(
        ours,
        mac_hs256(key, msg),
        "key {key:?}, msg {msg:?}, split {split}"
    );
}
