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
        // Rejections allocate nothing either.
        assert!(UntrustedToken::parse("x.y.z").is_err());
        let mut scratch = [0u8; 256];
        let mut sink = [0u8; 512];
        let mut w: &mut [u8] = &mut sink;
        ring.sign_to(&claims, &mut scratch, &mut w).unwrap();
    });
    assert_eq!(n, 0, "heap allocations in sign/verify/validate");
}
