//! RFC 7914 §11 PBKDF2-HMAC-SHA256, stored hashes from passlib, Django and RustCrypto, the
//! rehash policy, every malformed field, the caps, and a cross-check against the `pbkdf2` crate.

use auth_core::PasswordError as E;
use auth_core::password::{
    Format, MAX_PASSWORD_LEN, MAX_PHC_LEN, Policy, StoredHash, Verified, hash_password,
    hash_password_with_rng, pbkdf2_hmac_sha256, verify_dummy, verify_password,
};
use auth_core::{HashError as H, StoredHashError as S};

fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64Unpadded, Encoding};
    let mut buf = [0u8; 128];
    Base64Unpadded::encode(bytes, &mut buf).unwrap().to_owned()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rfc7914_section_11() {
    let cases = [
        (
            "passwd",
            "salt",
            1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
        ),
        (
            "Password",
            "NaCl",
            80000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
        ),
    ];
    for (pw, salt, rounds, dk) in cases {
        let mut out = vec![0u8; 64];
        pbkdf2_hmac_sha256(pw.as_bytes(), salt.as_bytes(), rounds, &mut out);
        assert_eq!(out, hex(dk));
    }
}

#[test]
fn matches_the_pbkdf2_crate_on_odd_shapes() {
    // Long passwords (hashed key), empty ones, odd output lengths crossing block boundaries.
    let passwords: [&[u8]; 5] = [b"", b"p", &[0xffu8; 64], &[7u8; 65], &[b'x'; 300]];
    for pw in passwords {
        for len in [1usize, 16, 31, 32, 33, 64] {
            for rounds in [1u32, 2, 3, 1000] {
                let mut ours = vec![0u8; len];
                let mut theirs = vec![0u8; len];
                pbkdf2_hmac_sha256(pw, b"some salt", rounds, &mut ours);
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, b"some salt", rounds, &mut theirs);
                assert_eq!(
                    ours,
                    theirs,
                    "pw len {} len {len} rounds {rounds}",
                    pw.len()
                );
            }
        }
    }
}

const STORED: [(&str, &str, Format); 6] = [
    (
        "password",
        "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
        Format::Passlib,
    ),
    (
        "wonderland-42",
        "$pbkdf2-sha256$29000$ABEiM0RVZneImaq7zN3u/w$t.ewNkTwQ38Rdza3x3Vlsk6UGpwPiXMhh77TbhLEvBA",
        Format::Passlib,
    ),
    // Same shape as the shared Django vector, with an 8-byte salt (derived with Python hashlib).
    (
        "password",
        "pbkdf2_sha256$1000$seasalt1$He4e+fnbbQ20nfKjwYt48i1a0hFwT8YoI5QWRTXk5jI=",
        Format::Django,
    ),
    (
        "p@ss w&rd=ü+1",
        "pbkdf2_sha256$600000$Zm9vYmFyYmF6$jYqOANgTyBPP2k21MMaUKxfOqNTOIuzsMPo5WpE0BeM=",
        Format::Django,
    ),
    (
        "wonderland-42",
        "$pbkdf2-sha256$i=600000,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58",
        Format::Phc,
    ),
    (
        "passwordPASSWORDpassword",
        "$pbkdf2-sha256$i=4096,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q",
        Format::Phc,
    ),
];

#[test]
fn stored_vectors_verify_and_reject_wrong_passwords() {
    let policy = Policy::new();
    for (pw, stored, format) in STORED {
        assert_eq!(StoredHash::parse(stored).unwrap().format(), format);
        let v = verify_password(pw.as_bytes(), stored, &policy).unwrap();
        // passlib and Django always need a rehash; PHC ones below 600k rounds too.
        let expect_rehash = format != Format::Phc || !stored.contains("i=600000");
        assert_eq!(
            v,
            Verified {
                needs_rehash: expect_rehash
            },
            "{stored}"
        );
        assert_eq!(
            verify_password(b"wrong", stored, &policy),
            Err(E::Mismatch),
            "{stored}"
        );
        let mut longer = pw.as_bytes().to_vec();
        longer.push(b'!');
        assert_eq!(verify_password(&longer, stored, &policy), Err(E::Mismatch));
    }
}

#[test]
fn rehash_policy() {
    let phc = "$pbkdf2-sha256$i=600000,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58";
    let p = StoredHash::parse(phc).unwrap();
    assert!(!Policy::new().needs_rehash(&p));
    assert!(Policy::new().with_rounds(600_001).needs_rehash(&p));
    // Above the policy is rewritten down to it (#10 item 5: a longer verify reveals the account).
    assert!(Policy::new().with_rounds(1000).needs_rehash(&p));
    assert_eq!(Policy::new().work(), 600_000);
    assert_eq!(Policy::new().with_rounds(1000).work(), 1000);
    // Short output (16 bytes) at full rounds still needs a rehash.
    let mut out = [0u8; 16];
    pbkdf2_hmac_sha256(b"pw", b"saltsalt", 1000, &mut out);
    let short = format!("$pbkdf2-sha256$i=1000,l=16$c2FsdHNhbHQ${}", b64(&out));
    assert_eq!(
        verify_password(b"pw", &short, &Policy::new().with_rounds(1000)),
        Ok(Verified { needs_rehash: true })
    );
    // Policy rounds are clamped to what verification accepts.
    assert_eq!(Policy::new().with_rounds(1).rounds(), 1000);
    assert_eq!(Policy::new().with_rounds(u32::MAX).rounds(), 10_000_000);
}

#[test]
fn phc_round_trip_and_rng_salt() {
    let policy = Policy::new().with_rounds(1000);
    let mut out = [0u8; MAX_PHC_LEN];
    let s = hash_password(b"hunter2", b"0123456789abcdef", &policy, &mut out)
        .unwrap()
        .to_owned();
    assert_eq!(
        s,
        "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$".to_owned()
            + &s[s.rfind('$').unwrap() + 1..]
    );
    let parsed = StoredHash::parse(&s).unwrap();
    assert_eq!(
        (parsed.format(), parsed.rounds(), parsed.output_len()),
        (Format::Phc, 1000, 32)
    );
    assert_eq!(
        verify_password(b"hunter2", &s, &policy),
        Ok(Verified {
            needs_rehash: false
        })
    );
    assert_eq!(verify_password(b"hunter3", &s, &policy), Err(E::Mismatch));
    // The `pbkdf2` crate derives the same key.
    let mut dk = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"hunter2", b"0123456789abcdef", 1000, &mut dk);
    assert!(s.ends_with(&b64(&dk)));

    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Counter {}
    let mut out2 = [0u8; MAX_PHC_LEN];
    let s2 = hash_password_with_rng(b"hunter2", &mut Counter(0), &policy, &mut out2).unwrap();
    assert!(
        s2.starts_with("$pbkdf2-sha256$i=1000,l=32$AQIDBAUGBwgJCgsMDQ4PEA$"),
        "{s2}"
    );
    assert!(verify_password(b"hunter2", s2, &policy).is_ok());
    // Too-small buffer and bad salts.
    assert_eq!(
        hash_password(b"x", b"0123456789abcdef", &policy, &mut [0u8; 40]),
        Err(H::BufferTooSmall)
    );
    assert_eq!(
        hash_password(b"x", b"short", &policy, &mut out),
        Err(H::SaltTooShort)
    );
    assert_eq!(
        hash_password(b"x", &[0u8; 65], &policy, &mut out),
        Err(H::InvalidSalt)
    );
}

#[test]
fn password_length_cap() {
    let long = vec![b'a'; MAX_PASSWORD_LEN + 1];
    let (_, stored, _) = STORED[0];
    assert_eq!(
        verify_password(&long, stored, &Policy::new()),
        Err(E::PasswordTooLong)
    );
    // Both entry points, at the cap (checked: a wrong password), one past it and far past it.
    let parsed = StoredHash::parse(stored).unwrap();
    for (len, want) in [
        (MAX_PASSWORD_LEN, E::Mismatch),
        (MAX_PASSWORD_LEN + 1, E::PasswordTooLong),
        (2 * MAX_PASSWORD_LEN, E::PasswordTooLong),
    ] {
        let password = vec![b'a'; len];
        assert_eq!(
            verify_password(&password, stored, &Policy::new()),
            Err(want),
            "{len}"
        );
        assert_eq!(
            auth_core::password::verify_parsed(&password, &parsed, &Policy::new()),
            Err(want),
            "{len}"
        );
    }
    let mut out = [0u8; MAX_PHC_LEN];
    assert_eq!(
        hash_password(&long, b"0123456789abcdef", &Policy::new(), &mut out),
        Err(H::PasswordTooLong)
    );
    let ok = vec![b'a'; MAX_PASSWORD_LEN];
    assert!(
        hash_password(
            &ok,
            b"0123456789abcdef",
            &Policy::new().with_rounds(1000),
            &mut out
        )
        .is_ok()
    );
    // Passwords are bytes: non-UTF-8 works.
    let s = hash_password(
        &[0xff, 0xfe, 0x00],
        b"0123456789abcdef",
        &Policy::new().with_rounds(1000),
        &mut out,
    )
    .unwrap()
    .to_owned();
    assert!(verify_password(&[0xff, 0xfe, 0x00], &s, &Policy::new()).is_ok());
    verify_dummy(&long, &Policy::new());
}

macro_rules! malformed {
    ($($name:ident: $s:expr => $err:expr;)+) => {$(
        #[test]
        fn $name() {
            assert_eq!(StoredHash::parse($s).map(|_| ()), Err($err), "{}", $s);
            assert_eq!(verify_password(b"password", $s, &Policy::new()).map(|_| ()), Err(E::StoredHash($err)));
        }
    )+};
}

const H32: &str = "tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE";

malformed! {
    unknown_format: "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA" => S::UnknownFormat;
    unknown_django: "pbkdf2_sha1$1000$salt$aGFzaA==" => S::UnknownFormat;
    empty: "" => S::UnknownFormat;
    // PHC
    phc_rounds_low: "$pbkdf2-sha256$i=999,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::RoundsTooLow;
    phc_rounds_high: "$pbkdf2-sha256$i=10000001,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::RoundsTooHigh;
    phc_no_rounds: "$pbkdf2-sha256$l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::InvalidRounds;
    phc_unknown_param: "$pbkdf2-sha256$i=1000,p=1$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::InvalidParams;
    phc_rounds_not_decimal: "$pbkdf2-sha256$i=abc$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::InvalidParams;
    phc_length_disagrees: "$pbkdf2-sha256$i=1000,l=16$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::OutputLength;
    phc_salt_short: "$pbkdf2-sha256$i=1000$c2FsdA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58" => S::SaltTooShort;
    phc_no_hash: "$pbkdf2-sha256$i=1000$obLD1OX2BxgpOktcbX6PkA" => S::InvalidHash;
    phc_hash_bad_b64: "$pbkdf2-sha256$i=1000$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj5!" => S::InvalidEncoding;
    phc_hash_short: "$pbkdf2-sha256$i=1000$obLD1OX2BxgpOktcbX6PkA$aGFzaGhhc2hoYXNo" => S::OutputLength;
    phc_trailing: "$pbkdf2-sha256$i=1000$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58$x" => S::TrailingData;
    // passlib
    passlib_rounds_low: "$pbkdf2-sha256$999$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE" => S::RoundsTooLow;
    passlib_rounds_high: "$pbkdf2-sha256$99999999$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE" => S::RoundsTooHigh;
    passlib_rounds_leading_zero: "$pbkdf2-sha256$08000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE" => S::InvalidRounds;
    passlib_salt_bad: "$pbkdf2-sha256$8000$XAuB+IYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE" => S::InvalidSalt;
    passlib_salt_short: "$pbkdf2-sha256$8000$XAuBMIY$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE" => S::SaltTooShort;
    passlib_hash_bad: "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeR=" => S::InvalidHash;
    passlib_no_hash: "$pbkdf2-sha256$8000$XAuBMIYQQogxRg" => S::InvalidHash;
    passlib_trailing: "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE$" => S::TrailingData;
    // Django
    django_rounds_low: "pbkdf2_sha256$999$seasalt1$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=" => S::RoundsTooLow;
    django_rounds_high: "pbkdf2_sha256$10000001$seasalt1$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=" => S::RoundsTooHigh;
    django_rounds_sign: "pbkdf2_sha256$+1000$seasalt1$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=" => S::InvalidRounds;
    django_salt_short: "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=" => S::SaltTooShort;
    django_salt_space: "pbkdf2_sha256$1000$sea salt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=" => S::InvalidSalt;
    django_hash_unpadded: "pbkdf2_sha256$1000$seasalt1$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c" => S::InvalidHash;
    django_hash_short: "pbkdf2_sha256$1000$seasalt1$aGFzaA==" => S::OutputLength;
    django_no_salt: "pbkdf2_sha256$1000" => S::InvalidSalt;
    django_trailing: "pbkdf2_sha256$1000$seasalt1$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=$" => S::TrailingData;
}

#[test]
fn the_seven_byte_django_salt_vector_is_refused() {
    // The shared Django vector uses the 7-byte salt "seasalt", below the 8-byte floor every
    // stored hash must meet. Real Django salts are 12 (before 3.1) or 22+ characters.
    let shared = "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=";
    assert_eq!(StoredHash::parse(shared).map(|_| ()), Err(S::SaltTooShort));
    // Its hash is right, though: the same derivation with the salt check bypassed matches.
    let mut dk = [0u8; 32];
    pbkdf2_hmac_sha256(b"password", b"seasalt", 1000, &mut dk);
    let mut enc = [0u8; 64];
    use base64ct::Encoding;
    assert_eq!(
        base64ct::Base64::encode(&dk, &mut enc).unwrap(),
        "YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="
    );
    assert!(H32.len() == 43);
}

#[test]
fn output_longer_than_64_bytes_is_refused() {
    let long = b64(&[0xAB; 65]).replace('+', ".");
    let passlib = format!("$pbkdf2-sha256$8000$XAuBMIYQQogxRg${long}");
    assert_eq!(
        StoredHash::parse(&passlib).map(|_| ()),
        Err(S::OutputLength)
    );
    let phc = format!(
        "$pbkdf2-sha256$i=1000$obLD1OX2BxgpOktcbX6PkA${}",
        b64(&[0xAB; 65])
    );
    assert_eq!(StoredHash::parse(&phc).map(|_| ()), Err(S::OutputLength));
}

#[test]
fn debug_never_shows_hash_bytes() {
    let (_, stored, _) = STORED[4];
    let dbg = format!("{:?}", StoredHash::parse(stored).unwrap());
    assert_eq!(
        dbg,
        "StoredHash { format: Phc, rounds: 600000, salt_len: 16, hash_len: 32 }"
    );
}

#[test]
fn trailing_nul_is_insignificant_as_in_every_pbkdf2_hmac() {
    // RFC 2104 zero-pads HMAC keys shorter than the block: a property of PBKDF2-HMAC itself,
    // documented in SECURITY.md. Python: pbkdf2_hmac('sha256', b'pw', s, n) ==
    // pbkdf2_hmac('sha256', b'pw\0', s, n).
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    pbkdf2_hmac_sha256(b"pw", b"saltsalt", 1000, &mut a);
    pbkdf2_hmac_sha256(b"pw\0", b"saltsalt", 1000, &mut b);
    assert_eq!(a, b);
}

/// #10 item 5: a 64-byte output is checked on its first 32-byte PBKDF2 block, which is
/// independent of the second (RFC 8018 §5.2): a 256-bit check at the work of any hash at those
/// rounds, so its logins take as long as everyone else's.
#[test]
fn long_outputs_are_checked_on_their_first_block() {
    let mut dk = [0u8; 64];
    pbkdf2_hmac_sha256(b"pw", b"saltsalt", 1000, &mut dk);
    let mut reference = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pw", b"saltsalt", 1000, &mut reference);
    assert_eq!(
        dk, reference,
        "our 64-byte derivation is the RustCrypto crate's"
    );
    let stored = format!("$pbkdf2-sha256$i=1000,l=64$c2FsdHNhbHQ${}", b64(&dk));
    let policy = Policy::new().with_rounds(1000);
    assert_eq!(
        verify_password(b"pw", &stored, &policy),
        Ok(Verified { needs_rehash: true })
    );
    assert_eq!(verify_password(b"pX", &stored, &policy), Err(E::Mismatch));
    // The first block decides; the second is not derived.
    let mut first_block_only = dk;
    first_block_only[32..].fill(0);
    let stored = format!(
        "$pbkdf2-sha256$i=1000,l=64$c2FsdHNhbHQ${}",
        b64(&first_block_only)
    );
    assert!(verify_password(b"pw", &stored, &policy).is_ok());
    let mut wrong_first = dk;
    wrong_first[31] ^= 1;
    let stored = format!(
        "$pbkdf2-sha256$i=1000,l=64$c2FsdHNhbHQ${}",
        b64(&wrong_first)
    );
    assert_eq!(verify_password(b"pw", &stored, &policy), Err(E::Mismatch));
    assert_eq!(StoredHash::parse(&stored).unwrap().work(), policy.work());
}

/// The edges of every format's output and rounds checks, found by a mutation run: each row
/// failed to tell `>` from `>=` (or a buffer's `+ 1` from `- 1`) before.
#[test]
fn output_and_rounds_edges_in_every_format() {
    use auth_core::password::MAX_ROUNDS;
    let out = |n: usize| vec![0xAB; n];
    let passlib = |rounds: &str, hash: &[u8]| {
        format!(
            "$pbkdf2-sha256${rounds}$XAuBMIYQQogxRg${}",
            b64(hash).replace('+', ".")
        )
    };
    let django = |rounds: &str, hash: &[u8]| {
        use base64ct::Encoding;
        let mut buf = [0u8; 128];
        let hash = base64ct::Base64::encode(hash, &mut buf).unwrap();
        format!("pbkdf2_sha256${rounds}$seasalt1${hash}")
    };
    let phc = |rounds: &str, hash: &[u8]| {
        format!(
            "$pbkdf2-sha256$i={rounds}$obLD1OX2BxgpOktcbX6PkA${}",
            b64(hash)
        )
    };
    let parse = |s: &str| StoredHash::parse(s).map(|h| (h.rounds(), h.output_len()));
    let max = MAX_ROUNDS.to_string();
    for (name, make) in [
        ("passlib", &passlib as &dyn Fn(&str, &[u8]) -> String),
        ("django", &django),
        ("phc", &phc),
    ] {
        // 64 bytes is the longest output: 86 passlib characters, 88 Django ones.
        assert_eq!(parse(&make("8000", &out(64))), Ok((8000, 64)), "{name}");
        for n in [65, 66, 67, 68, 96] {
            assert_eq!(
                parse(&make("8000", &out(n))),
                Err(S::OutputLength),
                "{name} {n}"
            );
        }
        // The most rounds allowed, one more, and the ten- and eleven-digit counts.
        assert_eq!(parse(&make(&max, &out(32))), Ok((MAX_ROUNDS, 32)), "{name}");
        let over = (MAX_ROUNDS + 1).to_string();
        assert_eq!(
            parse(&make(&over, &out(32))),
            Err(S::RoundsTooHigh),
            "{name}"
        );
        assert_eq!(
            parse(&make("4294967295", &out(32))),
            Err(S::RoundsTooHigh),
            "{name}"
        );
    }
    // Eleven digits: past u32 in the formats with their own decimal reader.
    for make in [&passlib as &dyn Fn(&str, &[u8]) -> String, &django] {
        assert_eq!(parse(&make("10000000000", &out(32))), Err(S::InvalidRounds));
    }
}

/// PHC's own errors, each mapped to the reason the stored hash is refused for.
#[test]
fn phc_errors_keep_their_reason() {
    let salt = "obLD1OX2BxgpOktcbX6PkA";
    let h32 = b64(&[0xAB; 32]);
    for (s, want) in [
        // Each parameter at most once.
        (
            format!("$pbkdf2-sha256$i=1000,i=2000${salt}${h32}"),
            S::InvalidParams,
        ),
        (
            format!("$pbkdf2-sha256$i=1000,l=32,l=32${salt}${h32}"),
            S::InvalidParams,
        ),
        // An output shorter than the `phc` crate's floor (10 bytes).
        (
            format!("$pbkdf2-sha256$i=1000${salt}${}", b64(&[1; 8])),
            S::OutputLength,
        ),
        // A salt longer than the `phc` crate's cap (64 characters).
        (
            format!("$pbkdf2-sha256$i=1000${}${h32}", "c".repeat(65)),
            S::InvalidSalt,
        ),
        // An empty hash field: an output of no bytes.
        (format!("$pbkdf2-sha256$i=1000${salt}$"), S::OutputLength),
    ] {
        assert_eq!(StoredHash::parse(&s).map(|_| ()), Err(want), "{s}");
    }
}
