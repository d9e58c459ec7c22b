//! auth-core on a Cortex-M3 with **no global allocator**: every buffer is on the stack.
//!
//! Runs the RFC 7515 A.1 verification, a sign/verify of the server's claim shape, a tampered
//! token's rejection, the deepest token the verifier accepts and a 237-level header it refuses
//! (the worst-case stack over any input), a PHC verification at 1,000 rounds, a login -> authorize cycle through
//! the flow module and a session refresh with rotation and reuse detection (#13); with `eddsa`
//! (#27), RFC 8037 A.4, an EdDSA token, a tampered one and the deepest EdDSA token accepted. See
//! `harness.rs` for the output and the measurements.
#![no_std]
#![no_main]

use auth_core::Claims;
#[cfg(feature = "flow")]
use auth_core::flow::{Account, FlowConfig, authorize, check_account, login};
#[cfg(feature = "flow")]
use auth_core::form::parse_login_form;
#[cfg(feature = "flow")]
use auth_core::password::StoredHash;
#[cfg(feature = "password")]
use auth_core::password::{Policy, verify_password};
use auth_core::{Hs256Key, KeyRing, ParseError, UntrustedToken, Validation};

#[path = "../harness.rs"]
mod harness;

const RFC7515_KEY: [u8; 64] = [
    0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
    0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
    0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
    0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3,
];
const RFC7515_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// `hunter2` at 1,000 rounds (derived on the host with Python's hashlib).
#[cfg(feature = "password")]
const PHC_1000: &str =
    "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g";
const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// The deepest input the verifier accepts, signed with `SECRET` (by Python's `hmac`): a header
/// nested `MAX_HEADER_DEPTH` (4) deep with escaped member names and strings, claims nested
/// `MAX_CLAIMS_DEPTH` (8) deep with a full `aud` array of `MAX_AUDIENCES` (8), escapes included.
/// Header `{"\u0061lg":"HS256","typ":"JWT","x":[[["\u00e9"]]]}`, payload
/// `{"sub":"\u0061lice","exp":1764334000,"aud":["\u0061","b",…,"h"],"x":[[[[[[[1]]]]]]]}`.
const WORST_CASE_TOKEN: &str = "eyJcdTAwNjFsZyI6IkhTMjU2IiwidHlwIjoiSldUIiwieCI6W1tbIlx1MDBlOSJdXV19.eyJzdWIiOiJcdTAwNjFsaWNlIiwiZXhwIjoxNzY0MzM0MDAwLCJhdWQiOlsiXHUwMDYxIiwiYiIsImMiLCJkIiwiZSIsImYiLCJnIiwiaCJdLCJ4IjpbW1tbW1tbMV1dXV1dXV19.gdhFluGyufygliucw_4GZho5813xZOMlaQqtCYA7pAs";
/// `WORST_CASE_TOKEN` with its signature's second-to-last character changed: a forgery as
/// deep as the deepest valid token, read from flash as the valid one is.
const FORGED_WORST_CASE_TOKEN: &str = "eyJcdTAwNjFsZyI6IkhTMjU2IiwidHlwIjoiSldUIiwieCI6W1tbIlx1MDBlOSJdXV19.eyJzdWIiOiJcdTAwNjFsaWNlIiwiZXhwIjoxNzY0MzM0MDAwLCJhdWQiOlsiXHUwMDYxIiwiYiIsImMiLCJkIiwiZSIsImYiLCJnIiwiaCJdLCJ4IjpbW1tbW1tbMV1dXV1dXV19.gdhFluGyufygliucw_4GZho5813xZOMlaQqtCYA7pBs";
/// The adversarial review's header: 237 levels of nesting in 256 bytes, before any MAC. It used
/// to cost about 12 KiB of stack; it is now refused before serde sees it.
const NESTED_HEADER_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsIngiOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tdXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dfQ.e30.PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M";
/// The session id the refresh step's access tokens carry.
#[cfg(feature = "flow")]
const SID: &str = "c2Vzc2lvbi1pZC0xMjM0NQ";
/// The caller supplies the clock: from an RTC, GNSS or the network in a real device.
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
const NOW: u64 = 1_764_331_200;

fn rfc7515() -> bool {
    let Ok(key) = Hs256Key::new(&RFC7515_KEY) else {
        return false;
    };
    let Ok(u) = UntrustedToken::parse(RFC7515_TOKEN) else {
        return false;
    };
    let Ok(v) = key.verify(&u) else { return false };
    let mut buf = [0u8; 256];
    let Ok(c) = v.registered(&mut buf) else {
        return false;
    };
    Validation::new().validate(&c, 1_300_819_379).is_ok() && c.iss.is_some_and(|i| i == "joe")
}

fn ring() -> Option<KeyRing<1>> {
    KeyRing::new(Hs256Key::new(SECRET).ok()?).ok()
}

#[cfg(feature = "sign")]
fn sign_verify() -> bool {
    let ring = ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    let claims = Claims::new().with_subject("alice").with_lifetime(NOW, 2700);
    let mut out = [0u8; 256];
    let Ok(token) = ring.sign_claims(&claims, &mut out) else {
        return false;
    };
    let mut buf = [0u8; 256];
    ring.decode_registered(token, &mut buf, &Validation::new(), NOW + 60)
        .is_ok_and(|c| c.sub.is_some_and(|s| s == "alice"))
}

/// RFC 7515 A.1 with one payload character changed: the MAC check refuses it. Needs no signing,
/// so it runs in every profile.
fn tampered() -> bool {
    let Ok(key) = Hs256Key::new(&RFC7515_KEY) else {
        return false;
    };
    let len = RFC7515_TOKEN.len();
    let mut t = [0u8; 256];
    t[..len].copy_from_slice(RFC7515_TOKEN.as_bytes());
    t[60] = if t[60] == b'A' { b'B' } else { b'A' };
    let Ok(s) = core::str::from_utf8(&t[..len]) else {
        return false;
    };
    let Ok(u) = UntrustedToken::parse(s) else {
        return false;
    };
    key.verify(&u).is_err()
}

fn verify_worst_case() -> bool {
    let ring = ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    let mut buf = [0u8; 256];
    // In place: the device's way, one claims value on its stack.
    let mut c = Claims::new();
    ring.decode_registered_into(
        WORST_CASE_TOKEN,
        &mut buf,
        &Validation::new().with_audience("a"),
        NOW,
        &mut c,
    )
    .is_ok()
        && c.sub.is_some_and(|s| s == "alice")
}

/// The worst-case token with its signature changed, through the fused decode: the deepest
/// refusal (a full parse, the MAC, then the step-by-step path run again for the exact error).
fn refuse_worst_case_forgery() -> bool {
    let ring = ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    let mut buf = [0u8; 256];
    let mut c = Claims::new();
    ring.decode_registered_into(
        FORGED_WORST_CASE_TOKEN,
        &mut buf,
        &Validation::new(),
        NOW,
        &mut c,
    )
    .err()
        == Some(auth_core::DecodeError::Verify(
            auth_core::VerifyError::InvalidSignature,
        ))
}

fn refuse_nested_header() -> bool {
    UntrustedToken::parse(NESTED_HEADER_TOKEN).err() == Some(ParseError::HeaderNesting)
}

#[cfg(feature = "password")]
fn password() -> bool {
    let policy = Policy::new().with_rounds(1000);
    verify_password(b"hunter2", PHC_1000, &policy).is_ok()
        && verify_password(b"hunter3", PHC_1000, &policy).is_err()
}

/// Openwall crypt_blowfish 1.2's `U*U` vector at cost 5 (bcrypt's state, over 4 KiB, is on the
/// stack), and a wrong password.
#[cfg(feature = "bcrypt")]
fn bcrypt_verify() -> bool {
    let policy = Policy::new().with_rounds(1000);
    let hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    verify_password(b"U*U", hash, &policy).is_ok_and(|v| v.needs_rehash)
        && verify_password(b"U*V", hash, &policy).is_err()
}

#[cfg(feature = "flow")]
fn login_authorize() -> bool {
    let ring = ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    let config = FlowConfig {
        policy: Policy::new().with_rounds(1000),
        ..FlowConfig::new()
    };
    let Ok(hash) = StoredHash::parse(PHC_1000) else {
        return false;
    };
    let account = Account {
        stored_hash: &hash,
        active: true,
    };
    let mut fbuf = [0u8; 64];
    let Ok(form) = parse_login_form(b"username=alice&password=hunter2", &mut fbuf) else {
        return false;
    };
    let mut out = [0u8; 256];
    let Ok(issued) = login(
        form.username,
        form.password.as_bytes(),
        Some(&account),
        ring,
        &config,
        NOW,
        &mut out,
    ) else {
        return false;
    };
    let mut header = [0u8; 264];
    let n = issued.token.len() + 7;
    header[..7].copy_from_slice(b"Bearer ");
    header[7..n].copy_from_slice(issued.token.as_bytes());
    let mut buf = [0u8; 256];
    let Ok(ok) = authorize(Some(&header[..n]), ring, &config, NOW + 1, &mut buf) else {
        return false;
    };
    ok.subject == "alice" && check_account(Some(&account)).is_ok()
}

/// A session's refresh, as a device serves it: three requests one after another, each with its
/// own buffers (freed before the next, as a server frees a request's), sharing only the session
/// record and the token the client holds.
/// 1. The refresh grant: its form, the token's check, auth-core's decision, a rotated access
///    token with its `sid`, the response body.
/// 2. That access token on a protected request, and the deepest token the verifier accepts on
///    the same request (the step's worst case).
/// 3. The old refresh token again, after the rotation: reuse, which revokes the session.
#[cfg(feature = "flow")]
fn refresh_session() -> bool {
    use auth_core::session::{RefreshToken, Session};
    let ring = ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    // From the device's hardware RNG in a real device.
    let current = RefreshToken::from_bytes([7; 32]);
    let next = RefreshToken::from_bytes([8; 32]);
    let session = Session {
        current: current.hash(),
        created: NOW - 60,
        last_used: NOW - 60,
        revoked: false,
        scope: "",
        presented_rotated_at: None,
        credential_epoch: 1,
    };
    // `Bearer <access token>`: what the client sends back.
    let mut bearer = [0u8; 330];
    let Some(n) = refresh_grant(ring, &current, &next, &session, &mut bearer) else {
        return false;
    };
    let rotated_ok = protected_request(ring, &bearer[..n], Some(SID));
    // The deepest token the verifier accepts, on the same request: the step's worst case.
    let m = 7 + WORST_CASE_TOKEN.len();
    bearer[7..m].copy_from_slice(WORST_CASE_TOKEN.as_bytes());
    rotated_ok
        && protected_request(ring, &bearer[..m], None)
        && refresh_reuse(&current, &next, &session)
}

/// The refresh grant's request: writes `Bearer <access token>` into `bearer`; its length.
#[cfg(feature = "flow")]
#[inline(never)]
fn refresh_grant(
    ring: &KeyRing<1>,
    current: &auth_core::session::RefreshToken,
    next: &auth_core::session::RefreshToken,
    session: &auth_core::session::Session<'_>,
    bearer: &mut [u8; 330],
) -> Option<usize> {
    use auth_core::flow::{Grant, issue};
    use auth_core::form::{TokenRequest, parse_token_form};
    use auth_core::response::write_token_with_refresh;
    use auth_core::session::{RefreshToken, SessionAccount, SessionLimits, refresh};
    let mut form = [0u8; 96];
    let prefix = b"grant_type=refresh_token&refresh_token=";
    form[..prefix.len()].copy_from_slice(prefix);
    let text = current.encode(&mut form[prefix.len()..]).ok()?;
    let n = prefix.len() + text.len();
    let mut fbuf = [0u8; 96];
    let Ok(TokenRequest::Refresh(req)) = parse_token_form(&form[..n], &mut fbuf) else {
        return None;
    };
    let presented = RefreshToken::parse(req.refresh_token.as_bytes()).ok()?;
    let account = SessionAccount {
        active: true,
        password_changed: 0,
        credential_epoch: 1,
    };
    let rotate = refresh(
        &presented,
        req.scope,
        Some(session),
        Some(&account),
        &SessionLimits::new(),
        NOW,
    )
    .ok()?;
    let grant = Grant {
        subject: "alice",
        sid: Some(SID),
        scope: Some(rotate.scope),
    };
    // The access token straight after `Bearer `, where the client will send it from.
    let (scheme, out) = bearer.split_at_mut(7);
    scheme.copy_from_slice(b"Bearer ");
    let issued = issue(&grant, ring, &FlowConfig::new(), NOW, out).ok()?;
    let mut rbuf = [0u8; 43];
    let next_text = next.encode(&mut rbuf).ok()?;
    let mut body = [0u8; 512];
    let mut w: &mut [u8] = &mut body;
    write_token_with_refresh(issued.token, issued.expires_in, next_text, &mut w).ok()?;
    Some(7 + issued.token.len())
}

/// An access token on a protected request: authorized as `alice`, with session `sid`.
#[cfg(feature = "flow")]
#[inline(never)]
fn protected_request(ring: &KeyRing<1>, header: &[u8], sid: Option<&str>) -> bool {
    let mut buf = [0u8; 256];
    let Ok(ok) = authorize(Some(header), ring, &FlowConfig::new(), NOW + 1, &mut buf) else {
        return false;
    };
    ok.subject == "alice"
        && match (ok.sid, sid) {
            (Some(got), Some(want)) => got == want,
            (got, want) => got.is_none() && want.is_none(),
        }
}

/// The old refresh token presented again after the grant rotated `session` to `next`: reuse, which revokes the session,
/// answered with the RFC 6749 error body.
#[cfg(feature = "flow")]
#[inline(never)]
fn refresh_reuse(
    old: &auth_core::session::RefreshToken,
    next: &auth_core::session::RefreshToken,
    session: &auth_core::session::Session<'_>,
) -> bool {
    use auth_core::response::write_oauth_error;
    use auth_core::session::{
        RefreshError, RefreshToken, Session, SessionAccount, SessionLimits, refresh,
    };
    // The session after the grant rotated it.
    let rotated = Session {
        current: next.hash(),
        presented_rotated_at: Some(NOW),
        ..*session
    };
    let mut text = [0u8; 43];
    let Some(presented) = old
        .encode(&mut text)
        .ok()
        .and_then(|t| RefreshToken::parse(t.as_bytes()).ok())
    else {
        return false;
    };
    let account = SessionAccount {
        active: true,
        password_changed: 0,
        credential_epoch: 1,
    };
    let reuse = refresh(
        &presented,
        None,
        Some(&rotated),
        Some(&account),
        &SessionLimits::new(),
        NOW + 5,
    );
    let Err(e) = reuse else { return false };
    let mut ebuf = [0u8; 128];
    let mut w: &mut [u8] = &mut ebuf;
    e == RefreshError::Reuse && e.revokes_session() && write_oauth_error(&e.oauth(), &mut w).is_ok()
}

/// RFC 8037 A.1's public key `x` (`11qYAYKx…HURo`), which verifies the EdDSA steps' tokens.
#[cfg(feature = "eddsa")]
const ED25519_X: [u8; 32] = [
    215, 90, 152, 1, 130, 177, 10, 183, 213, 75, 254, 211, 201, 100, 7, 58, 14, 225, 114, 243, 218,
    166, 35, 37, 175, 2, 26, 104, 247, 7, 81, 26,
];
/// RFC 8037 A.4: `{"alg":"EdDSA"}` over "Example of Ed25519 signing", signed with A.1's key.
#[cfg(feature = "eddsa")]
const RFC8037_A4: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
/// `{"sub":"alice"}` with a 45-minute lifetime from `NOW`, signed on the host by
/// `Ed25519Key::from_seed_with_kid(A.1's d, "ed-1")`: the header `{"alg":"EdDSA","kid":"ed-1",
/// "typ":"JWT"}` takes the fixed-header fast path.
#[cfg(feature = "eddsa")]
const EDDSA_TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMCwiaWF0IjoxNzY0MzMxMjAwfQ.naGChKZIIf3TxQ_tDjsNRYaeWu0NFnjRdH1Sn1rV2VE9XvDRyqvwQ1zPcHhSPPtlYjkealAgTBOIAn3G_P0oDA";
/// `WORST_CASE_TOKEN`'s header and claims with `"EdDSA"` for `alg`, signed on the host with
/// A.1's key: the deepest EdDSA token the verifier accepts.
#[cfg(feature = "eddsa")]
const EDDSA_WORST_CASE_TOKEN: &str = "eyJcdTAwNjFsZyI6IkVkRFNBIiwidHlwIjoiSldUIiwieCI6W1tbIlx1MDBlOSJdXV19.eyJzdWIiOiJcdTAwNjFsaWNlIiwiZXhwIjoxNzY0MzM0MDAwLCJhdWQiOlsiXHUwMDYxIiwiYiIsImMiLCJkIiwiZSIsImYiLCJnIiwiaCJdLCJ4IjpbW1tbW1tbMV1dXV1dXV19.3hf6J6z-mjk7xFJpSKfTFGMQxLzxQ_4jVhxdHCniOlijWW63GIWs2XOiYJ-oCA22Ng-C3_7xzlDvOO_GZQJ0CQ";

/// RFC 8032 §7.1 TEST 1: the empty message's signature, checked with no token around it (the
/// signature layer alone: what the Ed25519 crate itself costs on this device).
#[cfg(feature = "eddsa")]
fn eddsa_rfc8032_signature() -> bool {
    const A: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ];
    const SIG: [u8; 64] = [
        0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2, 0xcc, 0x80, 0x6e, 0x82,
        0x8a, 0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5, 0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65, 0x22, 0x49,
        0x01, 0x55, 0x5f, 0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e, 0x39, 0x70, 0x1c,
        0xf9, 0xb4, 0x6b, 0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe, 0x24, 0x65, 0x51, 0x41, 0x43,
        0x8e, 0x7a, 0x10, 0x0b,
    ];
    auth_core::Ed25519PublicKey::new(&A).is_ok_and(|k| {
        let sig = core::hint::black_box(SIG);
        k.verify_signature(b"", &sig).is_ok()
    })
}

#[cfg(feature = "eddsa")]
fn eddsa_ring() -> Option<KeyRing<1>> {
    KeyRing::new(auth_core::Ed25519PublicKey::with_kid(&ED25519_X, "ed-1").ok()?).ok()
}

/// RFC 8037 A.4 verifies with A.1's public key (its payload is text, not claims).
#[cfg(feature = "eddsa")]
fn eddsa_rfc8037() -> bool {
    let ring = eddsa_ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    UntrustedToken::parse(RFC8037_A4).is_ok_and(|u| ring.verify(&u).is_ok())
}

/// An EdDSA token through the fused decode, in place, as a device checks a bearer token.
#[cfg(feature = "eddsa")]
fn eddsa_verify() -> bool {
    eddsa_decode(EDDSA_TOKEN, &Validation::new())
}

#[cfg(feature = "eddsa")]
fn eddsa_decode(token: &str, validation: &Validation<'_>) -> bool {
    let ring = eddsa_ring();
    let Some(ring) = ring.as_ref() else {
        return false;
    };
    let mut buf = [0u8; 256];
    let mut c = Claims::new();
    ring.decode_registered_into(token, &mut buf, validation, NOW + 60, &mut c)
        .is_ok()
        && c.sub.is_some_and(|s| s == "alice")
}

/// `EDDSA_TOKEN` with one signature character changed: refused.
#[cfg(feature = "eddsa")]
fn eddsa_tampered() -> bool {
    let len = EDDSA_TOKEN.len();
    let mut t = [0u8; 256];
    t[..len].copy_from_slice(EDDSA_TOKEN.as_bytes());
    t[len - 10] = if t[len - 10] == b'A' { b'B' } else { b'A' };
    core::str::from_utf8(&t[..len]).is_ok_and(|s| !eddsa_decode(s, &Validation::new()))
}

/// The deepest EdDSA token the verifier accepts: the checked header path, the signature and the
/// scanner at their worst.
#[cfg(feature = "eddsa")]
fn eddsa_worst_case() -> bool {
    eddsa_decode(
        EDDSA_WORST_CASE_TOKEN,
        &Validation::new().with_audience("a"),
    )
}

#[cortex_m_rt::entry]
fn main() -> ! {
    // One harness for every profile: each step runs in the profiles that link what it calls.
    let mut steps: [harness::Step<'_>; 15] = [("", || false); 15];
    let mut n = 0;
    let mut add = |name, step| {
        steps[n] = (name, step);
        n += 1;
    };
    add("rfc7515_a1_verify", rfc7515);
    #[cfg(feature = "sign")]
    add("sign_then_verify", sign_verify);
    add("tampered_token_rejected", tampered);
    add("verify_worst_case_token", verify_worst_case);
    add("refuse_worst_case_forgery", refuse_worst_case_forgery);
    add("refuse_237_level_header", refuse_nested_header);
    #[cfg(feature = "password")]
    add("phc_verify_1000_rounds", password);
    #[cfg(feature = "bcrypt")]
    add("bcrypt_verify_cost_5", bcrypt_verify);
    #[cfg(feature = "flow")]
    add("login_then_authorize", login_authorize);
    #[cfg(feature = "flow")]
    add("refresh_rotate_reuse", refresh_session);
    #[cfg(feature = "eddsa")]
    add("eddsa_rfc8032_signature_only", eddsa_rfc8032_signature);
    #[cfg(feature = "eddsa")]
    add("eddsa_rfc8037_a4_verify", eddsa_rfc8037);
    #[cfg(feature = "eddsa")]
    add("eddsa_verify_token", eddsa_verify);
    #[cfg(feature = "eddsa")]
    add("eddsa_tampered_rejected", eddsa_tampered);
    #[cfg(feature = "eddsa")]
    add("eddsa_verify_worst_case_token", eddsa_worst_case);
    harness::run(&steps[..n])
}
