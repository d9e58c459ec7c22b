//! PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) at the floor of two SHA-256 compressions per iteration.
//!
//! The HMAC inner and outer pad states are computed once per password. Each iteration then
//! hashes exactly one pre-padded 64-byte block with each state: the 32-byte previous `U`
//! followed by the fixed SHA-256 padding for a 96-byte message. No per-iteration buffering,
//! length bookkeeping or finalization, which is where generic `Mac` loops lose ~40%.

use hmac::{KeyInit, Mac};
use sha2::Digest;
use sha2::block_api::compress256;

use crate::mac::HmacSha256;

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Inner and outer HMAC states for one password.
struct Pads {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Pads {
    fn new(password: &[u8]) -> Self {
        let mut key = [0u8; 64];
        if password.len() > key.len() {
            let digest = sha2::Sha256::digest(password);
            for (k, d) in key.iter_mut().zip(digest.iter()) {
                *k = *d;
            }
        } else {
            for (k, p) in key.iter_mut().zip(password) {
                *k = *p;
            }
        }
        let pad = |x: u8| {
            let mut block = [0u8; 64];
            for (b, k) in block.iter_mut().zip(key.iter()) {
                *b = k ^ x;
            }
            let mut state = IV;
            compress256(&mut state, core::slice::from_ref(&block));
            state
        };
        Pads {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }
}

/// Writes the 8 state words big-endian into the first 32 bytes of `block`.
#[inline(always)]
fn store(words: &[u32; 8], block: &mut [u8; 64]) {
    for (w, d) in words.iter().zip(block.chunks_exact_mut(4)) {
        d.copy_from_slice(&w.to_be_bytes());
    }
}

/// A 64-byte block holding a 32-byte message after a 64-byte key block: 0x80, zeros, and the
/// bit length 768 (= (64 + 32) * 8) in the last 8 bytes.
const fn padded_block() -> [u8; 64] {
    let mut b = [0u8; 64];
    b[32] = 0x80;
    b[62] = 0x03;
    b
}

/// Derives `out.len()` bytes from `password` and `salt` with `rounds` iterations.
///
/// `rounds == 0` is treated as 1. The output length is not limited here; callers bound it.
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    let pads = Pads::new(password);
    // HMAC keyed the same way for U_1 (salt || INT(i) has arbitrary length).
    let first = HmacSha256::new_from_slice(password).ok();
    let mut block = padded_block();
    for (index, chunk) in out.chunks_mut(32).enumerate() {
        let i = u32::try_from(index).unwrap_or(u32::MAX).wrapping_add(1);
        let Some(mut mac) = first.clone() else { return };
        mac.update(salt);
        mac.update(&i.to_be_bytes());
        let u1 = mac.finalize().into_bytes();
        let mut u = [0u32; 8];
        for (w, b) in u.iter_mut().zip(u1.chunks_exact(4)) {
            let mut be = [0u8; 4];
            be.copy_from_slice(b);
            *w = u32::from_be_bytes(be);
        }
        let mut acc = u;
        for _ in 1..rounds {
            store(&u, &mut block);
            let mut s = pads.inner;
            compress256(&mut s, core::slice::from_ref(&block));
            store(&s, &mut block);
            u = pads.outer;
            compress256(&mut u, core::slice::from_ref(&block));
            for (a, x) in acc.iter_mut().zip(u.iter()) {
                *a ^= x;
            }
        }
        let mut bytes = [0u8; 64];
        store(&acc, &mut bytes);
        for (o, b) in chunk.iter_mut().zip(bytes.iter()) {
            *o = *b;
        }
    }
}
