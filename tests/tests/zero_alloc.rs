//! Sign, verify and validate make zero heap allocations.

use auth_core::{Claims, Hs256Key, KeyRing, UntrustedToken, Validation};
use auth_tests::{CountingAlloc, allocations};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const NOW: u64 = 1_764_331_200;

#[test]
fn the_counter_counts() {
    // Guard against a counter that never moves, which would make every check below vacuous.
    let (n, v) = allocations(|| vec![1u8; 10]);
    assert!(n >= 1);
    drop(v);
}

#[test]
fn jwt_sign_verify_validate_allocate_nothing() {
    let (n, ()) = allocations(|| {
        let mut ring = KeyRing::<2>::new(
            Hs256Key::with_kid(b"0123456789abcdef0123456789abcdef", "a").unwrap(),
        )
        .unwrap();
        ring.rotate(Hs256Key::with_kid(b"fedcba9876543210fedcba9876543210", "b").unwrap())
            .unwrap();
        let claims = Claims::new()
            .with_subject("alice")
            .with_issuer("iss")
            .with_audience("aud")
            .with_lifetime(NOW, 2700);
        let mut out = [0u8; 512];
        let token = ring.sign(&claims, &mut out).unwrap();
        let untrusted = UntrustedToken::parse(token).unwrap();
        let verified = ring.verify(&untrusted).unwrap();
        let mut buf = [0u8; 512];
        let back: Claims<'_> = verified.claims(&mut buf).unwrap();
        Validation::new()
            .with_issuer("iss")
            .with_audience("aud")
            .validate(&back, NOW + 1)
            .unwrap();
        assert_eq!(back, claims);
        // The fast path (#26): the claims writer, the scanner, the fused decode.
        let mut out2 = [0u8; 512];
        let fast = ring.sign_claims(&claims, &mut out2).unwrap();
        let mut buf2 = [0u8; 512];
        assert_eq!(verified.registered(&mut buf2).unwrap(), claims);
        let mut buf3 = [0u8; 512];
        let fused = ring
            .decode_registered(fast, &mut buf3, &Validation::new(), NOW + 1)
            .unwrap();
        assert_eq!(fused, claims);
        // Rejections allocate nothing either.
        assert!(UntrustedToken::parse("x.y.z").is_err());
        let mut scratch = [0u8; 256];
        let mut sink = [0u8; 512];
        let mut w: &mut [u8] = &mut sink;
        ring.sign_to(&claims, &mut scratch, &mut w).unwrap();
    });
    assert_eq!(n, 0, "heap allocations in sign/verify/validate");
}

#[test]
fn eddsa_sign_verify_validate_allocate_nothing() {
    use auth_core::Ed25519Key;
    let (n, ()) = allocations(|| {
        let key = Ed25519Key::from_seed_with_kid(&[7; 32], "ed").unwrap();
        let mut ring = KeyRing::<2>::new(key.public_key().clone()).unwrap();
        ring.add(Hs256Key::with_kid(b"0123456789abcdef0123456789abcdef", "hs").unwrap())
            .unwrap();
        let claims = Claims::new().with_subject("alice").with_lifetime(NOW, 2700);
        let mut out = [0u8; 512];
        let token = key.sign_claims(&claims, &mut out).unwrap();
        let mut buf = [0u8; 512];
        let fused = ring
            .decode_registered(token, &mut buf, &Validation::new(), NOW + 1)
            .unwrap();
        assert_eq!(fused, claims);
        let mut out2 = [0u8; 512];
        assert_eq!(key.sign(&claims, &mut out2).unwrap(), token);
        let mut sink = [0u8; 512];
        let mut w: &mut [u8] = &mut sink;
        let mut scratch = [0u8; 512];
        key.sign_to(&claims, &mut scratch, &mut w).unwrap();
        // A refused signature allocates nothing either.
        let other = Ed25519Key::from_seed_with_kid(&[8; 32], "ed").unwrap();
        let mut out3 = [0u8; 512];
        let forged = other.sign_claims(&claims, &mut out3).unwrap();
        let mut buf2 = [0u8; 512];
        assert!(
            ring.decode_registered(forged, &mut buf2, &Validation::new(), NOW + 1)
                .is_err()
        );
    });
    assert_eq!(n, 0, "heap allocations in EdDSA sign/verify/validate");
}

#[test]
fn passwords_allocate_nothing() {
    use auth_core::password::{Policy, hash_password, verify_dummy, verify_password};
    let (n, ()) = allocations(|| {
        let policy = Policy::new().with_rounds(1000);
        let mut out = [0u8; 160];
        let phc = hash_password(b"hunter2", b"0123456789abcdef", &policy, &mut out).unwrap();
        assert!(
            !verify_password(b"hunter2", phc, &policy)
                .unwrap()
                .needs_rehash
        );
        assert!(verify_password(b"nope", phc, &policy).is_err());
        let passlib =
            "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE";
        assert!(
            verify_password(b"password", passlib, &policy)
                .unwrap()
                .needs_rehash
        );
        let django = "pbkdf2_sha256$1000$seasalt1$He4e+fnbbQ20nfKjwYt48i1a0hFwT8YoI5QWRTXk5jI=";
        assert!(
            verify_password(b"password", django, &policy)
                .unwrap()
                .needs_rehash
        );
        assert!(verify_password(b"x", "garbage", &policy).is_err());
        verify_dummy(b"x", &policy);
    });
    assert_eq!(n, 0, "heap allocations in password hashing");
}

#[test]
fn the_flow_allocates_nothing() {
    use auth_core::contract::write_dashboard;
    use auth_core::flow::{Account, FlowConfig, authorize, check_account, login};
    use auth_core::form::parse_login_form;
    use auth_core::password::{Policy, StoredHash, hash_password};
    use auth_core::response::{write_form_errors, write_token};
    let (n, ()) = allocations(|| {
        let ring =
            KeyRing::<1>::new(Hs256Key::new(b"0123456789abcdef0123456789abcdef").unwrap()).unwrap();
        let config = FlowConfig {
            policy: Policy::new().with_rounds(1000),
            ..FlowConfig::new()
        };
        let mut hbuf = [0u8; 160];
        let hash = hash_password(b"pw", b"0123456789abcdef", &config.policy, &mut hbuf).unwrap();
        let hash = StoredHash::parse(hash).unwrap();
        let account = Account {
            stored_hash: &hash,
            active: true,
        };
        let mut fbuf = [0u8; 64];
        let form = parse_login_form(b"username=alice&password=pw", &mut fbuf).unwrap();
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
        .unwrap();
        let mut body = [0u8; 1024];
        let mut w: &mut [u8] = &mut body;
        write_token(issued.token, issued.expires_in, &mut w).unwrap();
        let mut header = [0u8; 300];
        header[..7].copy_from_slice(b"Bearer ");
        header[7..7 + issued.token.len()].copy_from_slice(issued.token.as_bytes());
        let mut cbuf = [0u8; 512];
        let ok = authorize(
            Some(&header[..7 + issued.token.len()]),
            &ring,
            &config,
            NOW,
            &mut cbuf,
        )
        .unwrap();
        assert!(ok.subject == "alice");
        check_account(Some(&account)).unwrap();
        write_dashboard("alice", &mut w).unwrap();
        let mut fbuf = [0u8; 64];
        let err = parse_login_form(b"grant_type=x", &mut fbuf).unwrap_err();
        write_form_errors(&err, &mut w).unwrap();
    });
    assert_eq!(n, 0, "heap allocations in the flow");
}
