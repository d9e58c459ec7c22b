//! PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) at the floor of two SHA-256 compressions per iteration.
//!
//! The HMAC inner and outer pad states are computed once per password. Each iteration then
//! hashes exactly one pre-padded 64-byte block with each state: the 32-byte previous `U`
//! followed by the fixed SHA-256 padding for a 96-byte message. No per-iteration buffering,
//! length bookkeeping or finalization, which is where generic `Mac` loops lose ~40%.

use sha2::block_api::compress256;

use crate::mac::{Pads, store};

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
    let mut block = padded_block();
    for (index, chunk) in out.chunks_mut(32).enumerate() {
        let i = u32::try_from(index).unwrap_or(u32::MAX).wrapping_add(1);
        // U_1: the HMAC of salt || INT(i), which has arbitrary length.
        let mut mac = pads.begin();
        mac.update(salt);
        mac.update(&i.to_be_bytes());
        let mut u = mac.finalize_words();
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
