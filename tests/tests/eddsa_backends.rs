//! #27: the two Ed25519 verifiers auth-core can link, held to one answer. `eddsa-fast` (the
//! server's, the benches') verifies through ed25519-dalek; firmware verifies through
//! ed25519-compact. On Wycheproof's 151 signature cases, on signatures built to sit on every
//! edge (each small-order `R`, non-canonical `S`, non-canonical `R`), and on thousands of
//! mutated signatures, they agree, except on the one case the module docs name: an `R` off by
//! a small-order point from `[S]B - [k]A`, which only the private key's holder can build, and
//! which compact accepts and dalek refuses.

use auth_core::fuzzing::{ed25519_backends, ed25519_signatures};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

const SUITE: &str = include_str!("../../auth-core/tests/vectors/wycheproof_ed25519.json");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn wycheproof_both_backends_answer_as_marked() {
    let suite: serde_json::Value = serde_json::from_str(SUITE).unwrap();
    let mut compared = 0;
    for group in suite["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex(group["publicKey"]["pk"].as_str().unwrap())
            .try_into()
            .unwrap();
        for t in group["tests"].as_array().unwrap() {
            let (msg, sig) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["sig"].as_str().unwrap()),
            );
            let valid = t["result"] == "valid";
            let (compact, dalek) = ed25519_backends(&pk, &msg, &sig).unwrap_or((false, false));
            assert_eq!((compact, dalek), (valid, valid), "tcId {}", t["tcId"]);
            compared += 1;
        }
    }
    assert_eq!(compared, 151);
}

/// A signer working from the expanded secret: what RFC 8032 §5.1.6 does, with the nonce point
/// `R` chosen by the test.
struct Signer {
    a: Scalar,
    public: [u8; 32],
}

impl Signer {
    fn new(seed: [u8; 32]) -> Self {
        let h = Sha512::digest(seed);
        let mut lower: [u8; 32] = h[..32].try_into().unwrap();
        lower[0] &= 248;
        lower[31] &= 127;
        lower[31] |= 64;
        let a = Scalar::from_bytes_mod_order(lower);
        let public = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
        Signer { a, public }
    }

    /// `(R, S)` with `S = r + H(R || A || M) a`: valid by the cofactorless equation exactly
    /// when `R == [r]B`.
    fn sign_with(&self, r_point: [u8; 32], r: Scalar, msg: &[u8]) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update(r_point);
        h.update(self.public);
        h.update(msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let s = r + k * self.a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_point);
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    }
}

#[test]
fn the_edges_and_the_one_documented_difference() {
    let signer = Signer::new([7; 32]);
    let msg = b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9";
    let r = Scalar::from_bytes_mod_order([42; 32]);
    let honest_r = ED25519_BASEPOINT_POINT * r;
    let answer = |sig: &[u8]| ed25519_backends(&signer.public, msg, sig).unwrap();

    let honest = signer.sign_with(honest_r.compress().to_bytes(), r, msg);
    assert_eq!(answer(&honest), (true, true));

    for (i, t) in EIGHT_TORSION.iter().enumerate().skip(1) {
        // R off by a small-order point: compact's equation allows it; dalek's does not.
        let shifted = signer.sign_with((honest_r + t).compress().to_bytes(), r, msg);
        assert_eq!(answer(&shifted), (true, false), "torsion point {i}");
        // A small-order R with a zero nonce: both refuse it.
        let small = signer.sign_with(t.compress().to_bytes(), Scalar::ZERO, msg);
        assert_eq!(answer(&small), (false, false), "small-order R {i}");
    }
    let identity_r = signer.sign_with(EIGHT_TORSION[0].compress().to_bytes(), Scalar::ZERO, msg);
    assert_eq!(answer(&identity_r), (false, false));

    // S + L (non-canonical S) and the top bits of S set: both refuse.
    let l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut plus_l = honest;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(plus_l[32 + i]) + u16::from(l[i]) + carry;
        plus_l[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(answer(&plus_l), (false, false));
    let mut high = honest;
    high[63] |= 0xe0;
    assert_eq!(answer(&high), (false, false));

    // A non-canonical R: y + p for the small y that have one (y = 1 is the identity).
    let mut noncanonical = [0xffu8; 32];
    noncanonical[0] = 0xee;
    noncanonical[31] = 0x7f;
    let sig = signer.sign_with(noncanonical, Scalar::ZERO, msg);
    assert_eq!(answer(&sig), (false, false));

    // Wrong lengths: both refuse, nothing panics.
    for len in [0, 32, 63, 65, 96] {
        assert_eq!(answer(&vec![1u8; len]), (false, false), "{len} bytes");
    }
}

#[test]
fn mutated_signatures_get_one_answer() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..64u8 {
        let signer = Signer::new([round; 32]);
        let msg: Vec<u8> = (0..(next() % 300)).map(|_| next() as u8).collect();
        let r = Scalar::from_bytes_mod_order([round ^ 0x5a; 32]);
        let good = signer.sign_with((ED25519_BASEPOINT_POINT * r).compress().to_bytes(), r, &msg);
        assert_eq!(
            ed25519_backends(&signer.public, &msg, &good),
            Some((true, true))
        );
        for _ in 0..32 {
            let mut sig = good;
            let bit = (next() % 512) as usize;
            sig[bit / 8] ^= 1 << (bit % 8);
            let (c, d) = ed25519_backends(&signer.public, &msg, &sig).unwrap();
            assert_eq!((c, d), (false, false), "round {round}, bit {bit}");
            let mut m = msg.clone();
            m.push(next() as u8);
            assert_eq!(
                ed25519_backends(&signer.public, &m, &good),
                Some((false, false))
            );
        }
    }
}

/// `eddsa-fast` signs through dalek: the same RFC 8032 bytes as compact, for any seed and
/// message (deterministic signatures leave no room for a difference).
#[test]
fn both_backends_sign_the_same_bytes() {
    for round in 0..128u32 {
        let seed: [u8; 32] = core::array::from_fn(|i| (round.wrapping_mul(31) as u8) ^ i as u8);
        let msg: Vec<u8> = (0..round * 7).map(|i| (i * 13 + round) as u8).collect();
        let (compact, dalek) = ed25519_signatures(&seed, &msg);
        assert_eq!(compact, dalek, "round {round}");
    }
}
