//! Links auth-core into a `#![no_std]` `#![no_main]` binary with no global allocator and calls
//! every public entry point with real inputs. Any crate in the graph that pulls in `std` fails
//! with a duplicate `panic_impl` lang item; any `alloc` use fails with "no global memory
//! allocator found". Exits 0 only when every result is right.
#![no_std]
#![no_main]

#[cfg(feature = "password")]
use auth_core::PasswordError;
#[cfg(feature = "flow")]
use auth_core::contract::{write_dashboard, write_secure_resource};
#[cfg(feature = "flow")]
use auth_core::flow::{
    Account, AuthError, FlowConfig, LoginError, authorize, check_account, login,
};
#[cfg(feature = "flow")]
use auth_core::form::parse_login_form;
#[cfg(feature = "flow")]
use auth_core::password::StoredHash;
#[cfg(feature = "password")]
use auth_core::password::{Policy, hash_password, verify_dummy, verify_password};
#[cfg(feature = "flow")]
use auth_core::response::write_token;
use auth_core::{Claims, Hs256Key, ParseError, UntrustedToken, Validation};
#[cfg(feature = "sign")]
use auth_core::{DecodeError, KeyRing, VerifyError};

#[link(name = "c")]
unsafe extern "C" {
    fn abort() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe { abort() }
}

// The prebuilt x86_64 `core` references this symbol from its unwind tables.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

const RFC7515_KEY: [u8; 64] = [
    0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
    0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
    0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
    0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3,
];
const RFC7515_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
#[cfg(feature = "sign")]
const NOW: u64 = 1_764_331_200;

/// Each check returns its step number on failure. Verification always runs; the rest runs in
/// the profiles that link it (`--features sign`, `password`, `flow`).
fn run() -> Result<(), i32> {
    verify()?;
    #[cfg(feature = "sign")]
    sign()?;
    #[cfg(feature = "password")]
    passwords()?;
    #[cfg(feature = "bcrypt")]
    bcrypt()?;
    #[cfg(feature = "flow")]
    flow()?;
    #[cfg(feature = "flow")]
    refresh_session()?;
    #[cfg(feature = "eddsa")]
    eddsa()?;
    Ok(())
}

/// EdDSA (#27): RFC 8037 A.4's token verifies with A.1's public key, through compact or
/// (`eddsa-fast`) dalek; a changed payload does not.
#[cfg(feature = "eddsa")]
fn eddsa() -> Result<(), i32> {
    const A1_X: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ];
    const A4_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    const TAMPERED: &str = "eyJhbGciOiJFZERTQSJ9.SXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let key = auth_core::Ed25519PublicKey::new(&A1_X).map_err(|_| 90)?;
    let token = UntrustedToken::parse(A4_JWS).map_err(|_| 91)?;
    key.verify(&token).map_err(|_| 92)?;
    let tampered = UntrustedToken::parse(TAMPERED).map_err(|_| 93)?;
    if key.verify(&tampered).is_ok() {
        return Err(94);
    }
    if auth_core::Ed25519PublicKey::new(&[0; 32]).is_ok() {
        return Err(95);
    }
    Ok(())
}

/// Verification and validation: in every profile.
fn verify() -> Result<(), i32> {
    // RFC 7515 A.1 with a fixed clock, through the typestate.
    let key = Hs256Key::new(&RFC7515_KEY).map_err(|_| 1)?;
    let untrusted = UntrustedToken::parse(RFC7515_TOKEN).map_err(|_| 2)?;
    let verified = key.verify(&untrusted).map_err(|_| 3)?;
    let mut buf = [0u8; 256];
    let claims: Claims<'_> = verified.claims(&mut buf).map_err(|_| 4)?;
    Validation::new()
        .validate(&claims, 1_300_819_379)
        .map_err(|_| 5)?;
    if claims.iss.map(|i| i == "joe") != Some(true) {
        return Err(6);
    }
    if Validation::new().validate(&claims, 1_300_819_380).is_ok() {
        return Err(7);
    }

    if UntrustedToken::parse("a.b").err() != Some(ParseError::Malformed) {
        return Err(19);
    }
    if Hs256Key::new(b"short").is_ok() {
        return Err(20);
    }
    if Hs256Key::with_kid(b"0123456789abcdef0123456789abcdef", "k1").is_err() {
        return Err(24);
    }
    // The pre-MAC bounds: a header nested 5 deep (`{"alg":"HS256","x":[[[[1]]]]}`), a header with
    // invalid JSON in an ignored member (`{"alg":"HS256","x":tru!!e}`), a payload segment that
    // is not base64url.
    let sig = "PLaKy7y_CrBQTUvn8n1Sla_OJaI7qDQrB2_SNAi9g-M";
    for (header, payload, err, step) in [
        (
            "eyJhbGciOiJIUzI1NiIsIngiOltbW1sxXV1dXX0",
            "e30",
            ParseError::HeaderNesting,
            21,
        ),
        (
            "eyJhbGciOiJIUzI1NiIsIngiOnRydSEhZX0",
            "e30",
            ParseError::HeaderJson,
            22,
        ),
        (
            "eyJhbGciOiJIUzI1NiJ9",
            "e3#",
            ParseError::PayloadEncoding,
            23,
        ),
    ] {
        let mut t = [0u8; 160];
        let mut n = 0;
        for part in [header, ".", payload, ".", sig] {
            t[n..n + part.len()].copy_from_slice(part.as_bytes());
            n += part.len();
        }
        let token = core::str::from_utf8(&t[..n]).map_err(|_| step)?;
        if UntrustedToken::parse(token).err() != Some(err) {
            return Err(step);
        }
    }
    Ok(())
}

/// Signing: into a buffer and through embedded-io, then verify, rotate, remove.
#[cfg(feature = "sign")]
fn sign() -> Result<(), i32> {
    let mut ring = KeyRing::<2>::new(
        Hs256Key::with_kid(b"0123456789abcdef0123456789abcdef", "old").map_err(|_| 8)?,
    )
    .map_err(|_| 9)?;
    let c = Claims::new().with_subject("alice").with_lifetime(NOW, 2700);
    let mut out = [0u8; 256];
    let old = ring.sign(&c, &mut out).map_err(|_| 10)?;
    let mut copy = [0u8; 256];
    let mut scratch = [0u8; 128];
    let mut sink: &mut [u8] = &mut copy;
    let n = ring.sign_to(&c, &mut scratch, &mut sink).map_err(|_| 11)?;
    if copy.get(..n) != Some(old.as_bytes()) {
        return Err(12);
    }
    ring.rotate(Hs256Key::with_kid(b"fedcba9876543210fedcba9876543210", "new").map_err(|_| 13)?)
        .map_err(|_| 14)?;
    let mut buf = [0u8; 256];
    let back: Claims<'_> = ring
        .decode(old, &mut buf, &Validation::new(), NOW + 1)
        .map_err(|_| 15)?;
    if back.sub.map(|s| s == "alice") != Some(true) {
        return Err(16);
    }
    ring.remove("old").map_err(|_| 17)?;
    let mut buf = [0u8; 256];
    if ring.decode::<Claims<'_>>(old, &mut buf, &Validation::new(), NOW + 1)
        != Err(DecodeError::Verify(VerifyError::UnknownKid))
    {
        return Err(18);
    }
    Ok(())
}

/// A bcrypt hash (Openwall crypt_blowfish 1.2's `U*U` vector) verifies, a wrong password
/// does not, and it always asks for a rehash: with no heap, in every state the feature links.
#[cfg(feature = "bcrypt")]
fn bcrypt() -> Result<(), i32> {
    let policy = Policy::new().with_rounds(1000);
    let hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    if !verify_password(b"U*U", hash, &policy)
        .map_err(|_| 90)?
        .needs_rehash
    {
        return Err(91);
    }
    if verify_password(b"U*V", hash, &policy) != Err(PasswordError::Mismatch) {
        return Err(92);
    }
    Ok(())
}

/// Hash and verify all three stored formats, with low rounds.
#[cfg(feature = "password")]
fn passwords() -> Result<(), i32> {
    if Policy::new().with_rounds(1000).work() != 1000 {
        return Err(30);
    }
    let policy = Policy::new().with_rounds(1000);
    let mut out = [0u8; 160];
    let phc = hash_password(b"hunter2", b"0123456789abcdef", &policy, &mut out).map_err(|_| 30)?;
    if verify_password(b"hunter2", phc, &policy)
        != Ok(auth_core::password::Verified {
            needs_rehash: false,
        })
    {
        return Err(31);
    }
    if verify_password(b"hunter3", phc, &policy) != Err(PasswordError::Mismatch) {
        return Err(32);
    }
    let passlib = "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE";
    if !verify_password(b"password", passlib, &policy)
        .map_err(|_| 33)?
        .needs_rehash
    {
        return Err(34);
    }
    let django = "pbkdf2_sha256$1000$seasalt1$He4e+fnbbQ20nfKjwYt48i1a0hFwT8YoI5QWRTXk5jI=";
    if !verify_password(b"password", django, &policy)
        .map_err(|_| 35)?
        .needs_rehash
    {
        return Err(36);
    }
    verify_dummy(b"whatever", &policy);
    Ok(())
}

/// A full login -> authorize cycle, with the response bodies.
#[cfg(feature = "flow")]
fn flow() -> Result<(), i32> {
    let ring =
        KeyRing::<1>::new(Hs256Key::new(b"0123456789abcdef0123456789abcdef").map_err(|_| 40)?)
            .map_err(|_| 41)?;
    let config = FlowConfig {
        policy: Policy::new().with_rounds(1000),
        ..FlowConfig::new()
    };
    let mut hbuf = [0u8; 160];
    let hash = hash_password(b"p@ss w&rd", b"0123456789abcdef", &config.policy, &mut hbuf)
        .map_err(|_| 42)?;
    let hash = StoredHash::parse(hash).map_err(|_| 42)?;
    let account = Account {
        stored_hash: &hash,
        active: true,
    };
    let mut fbuf = [0u8; 64];
    let form = parse_login_form(
        b"username=alice&password=p%40ss+w%26rd&grant_type=password",
        &mut fbuf,
    )
    .map_err(|_| 43)?;
    let mut out = [0u8; 256];
    let issued = login(
        form.username,
        form.password.as_bytes(),
        Some(&account),
        &ring,
        &config,
        NOW,
        &mut out,
    )
    .map_err(|_| 44)?;
    let mut body = [0u8; 512];
    let mut w: &mut [u8] = &mut body;
    write_token(issued.token, issued.expires_in, &mut w).map_err(|_| 45)?;
    write_secure_resource(issued.token, &mut w).map_err(|_| 46)?;

    let mut header = [0u8; 300];
    let n = issued.token.len().saturating_add(7);
    header.get_mut(..7).ok_or(47)?.copy_from_slice(b"Bearer ");
    header
        .get_mut(7..n)
        .ok_or(47)?
        .copy_from_slice(issued.token.as_bytes());
    let mut cbuf = [0u8; 512];
    let ok = authorize(header.get(..n), &ring, &config, NOW + 60, &mut cbuf).map_err(|_| 48)?;
    if ok.subject != "alice" {
        return Err(49);
    }
    check_account(Some(&account)).map_err(|_| 50)?;
    write_dashboard("alice", &mut w).map_err(|_| 51)?;
    if check_account(Some(&Account {
        active: false,
        ..account
    })) != Err(AuthError::AccessRestricted)
    {
        return Err(52);
    }
    let mut fbuf = [0u8; 64];
    let wrong = parse_login_form(b"username=alice&password=nope", &mut fbuf).map_err(|_| 53)?;
    let mut out = [0u8; 256];
    if login(
        wrong.username,
        wrong.password.as_bytes(),
        None,
        &ring,
        &config,
        NOW,
        &mut out,
    ) != Err(LoginError::InvalidCredentials)
    {
        return Err(54);
    }
    Ok(())
}

/// A session's refresh: the refresh grant's form, the token's check, auth-core's decision, a
/// rotated token's access token with its `sid`, and the reuse of the old one.
#[cfg(feature = "flow")]
fn refresh_session() -> Result<(), i32> {
    use auth_core::flow::{Grant, issue};
    use auth_core::form::{TokenRequest, parse_token_form};
    use auth_core::response::{write_oauth_error, write_token_with_refresh};
    use auth_core::session::{
        RefreshError, RefreshToken, Session, SessionAccount, SessionLimits, refresh,
    };
    let ring =
        KeyRing::<1>::new(Hs256Key::new(b"0123456789abcdef0123456789abcdef").map_err(|_| 60)?)
            .map_err(|_| 60)?;
    // From the device's hardware RNG in a real device.
    let current = RefreshToken::from_bytes([7; 32]);
    let mut form = [0u8; 96];
    let prefix = b"grant_type=refresh_token&refresh_token=";
    form.get_mut(..prefix.len())
        .ok_or(61)?
        .copy_from_slice(prefix);
    let Ok(text) = current.encode(form.get_mut(prefix.len()..).ok_or(61)?) else {
        return Err(61);
    };
    let n = prefix.len().saturating_add(text.len());
    let mut fbuf = [0u8; 96];
    let Ok(TokenRequest::Refresh(req)) = parse_token_form(form.get(..n).ok_or(61)?, &mut fbuf)
    else {
        return Err(61);
    };
    let Ok(presented) = RefreshToken::parse(req.refresh_token.as_bytes()) else {
        return Err(61);
    };
    let session = Session {
        current: current.hash(),
        created: NOW - 60,
        last_used: NOW - 60,
        revoked: false,
        scope: "",
        presented_rotated_at: None,
        credential_epoch: 1,
    };
    let account = SessionAccount {
        active: true,
        password_changed: 0,
        credential_epoch: 1,
    };
    let limits = SessionLimits::new();
    let Ok(rotate) = refresh(
        &presented,
        req.scope,
        Some(&session),
        Some(&account),
        &limits,
        NOW,
    ) else {
        return Err(61);
    };
    let next = RefreshToken::from_bytes([8; 32]);
    let grant = Grant {
        subject: "alice",
        sid: Some("c2Vzc2lvbi1pZC0xMjM0NQ"),
        scope: Some(rotate.scope),
    };
    let mut out = [0u8; 320];
    let config = FlowConfig::new();
    let Ok(issued) = issue(&grant, &ring, &config, NOW, &mut out) else {
        return Err(61);
    };
    let mut rbuf = [0u8; 43];
    let Ok(next_text) = next.encode(&mut rbuf) else {
        return Err(61);
    };
    let mut body = [0u8; 512];
    let mut w: &mut [u8] = &mut body;
    if write_token_with_refresh(issued.token, issued.expires_in, next_text, &mut w).is_err() {
        return Err(61);
    }
    let mut header = [0u8; 330];
    let n = issued.token.len().saturating_add(7);
    header.get_mut(..7).ok_or(61)?.copy_from_slice(b"Bearer ");
    header
        .get_mut(7..n)
        .ok_or(61)?
        .copy_from_slice(issued.token.as_bytes());
    let mut buf = [0u8; 330];
    let Ok(ok) = authorize(header.get(..n), &ring, &config, NOW + 1, &mut buf) else {
        return Err(61);
    };
    if ok.sid.is_none_or(|s| s != "c2Vzc2lvbi1pZC0xMjM0NQ") {
        return Err(61);
    }
    // The old token again, after the rotation: reuse, which revokes the session.
    let rotated = Session {
        current: next.hash(),
        presented_rotated_at: Some(NOW),
        ..session
    };
    let reuse = refresh(
        &presented,
        None,
        Some(&rotated),
        Some(&account),
        &limits,
        NOW + 5,
    );
    let Err(e) = reuse else { return Err(63) };
    let mut ebuf = [0u8; 128];
    let mut w: &mut [u8] = &mut ebuf;
    if e == RefreshError::Reuse
        && e.revokes_session()
        && write_oauth_error(&e.oauth(), &mut w).is_ok()
    {
        Ok(())
    } else {
        Err(62)
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match run() {
        Ok(()) => 0,
        Err(step) => step,
    }
}
