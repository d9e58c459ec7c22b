//! HMAC-SHA256 (RFC 2104 over FIPS 180-4), the one MAC both token signatures and PBKDF2 are
//! built on, written over `sha2`'s raw compression function (#26). At the bottom of the module
//! graph: `jwt` and `password` import it, it imports neither.
//!
//! A key's inner and outer pad states are hashed once ([`Pads`]); a MAC then compresses the
//! message's whole blocks straight from the caller's slice, and pads the last one or two on the
//! stack in one call. Against the `hmac` crate's `Hmac<Sha256>` this drops the per-use state
//! clone, block-buffer bookkeeping and generic finalization, lets the verifier run other work
//! between the whole blocks and the last ones ([`Pads::verify_while`]), and takes the
//! `hmac`/`digest` generic code out of a device's flash (536 B of the verify-only firmware).
//! This module's tests, `tests/tests/differential.rs` (a property test) and the
//! `hmac_differential` fuzz target hold it to the `hmac` crate: keys of every length around the
//! 64-byte block (longer ones are hashed first), messages of every length, streamed in pieces.
//! RFC 4231's vectors too.

use ctutils::CtEq;
use sha2::block_api::compress256;

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A SHA-256 block.
type Block = [u8; 64];

/// The inner and outer HMAC states of one key: the key's padded blocks, hashed once. Derived
/// from the secret, so never printed (no `Debug`).
#[derive(Clone)]
pub(crate) struct Pads {
    pub(crate) inner: [u32; 8],
    pub(crate) outer: [u32; 8],
}

impl Pads {
    /// The pad states of `key` (any length: a key over 64 bytes is hashed first, RFC 2104 §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            store(&Partial::new(IV, 0).finish(key), &mut block);
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let pad = |x: u8| {
            let mut state = IV;
            compress256(&mut state, &[block.map(|k| k ^ x)]);
            state
        };
        Pads {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// The inner hash, before any of the message: to absorb whole blocks as they come, and end
    /// with [`Pads::finish`].
    pub(crate) fn partial(&self) -> Partial {
        Partial::new(self.inner, 1)
    }

    /// The MAC of a message whose whole blocks `p` has absorbed and whose rest is `tail`.
    pub(crate) fn finish(&self, p: Partial, tail: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        store(&self.outer_words(&p.finish(tail)), &mut out);
        out
    }

    /// A MAC to feed piece by piece ([`Mac::update`]).
    #[cfg(any(feature = "sign", feature = "password", test))]
    pub(crate) fn begin(&self) -> Mac<'_> {
        Mac {
            pads: self,
            inner: self.partial(),
            buf: [0; 64],
            buffered: 0,
        }
    }

    /// The MAC of `msg`.
    #[cfg(any(feature = "sign", test))]
    pub(crate) fn mac(&self, msg: &[u8]) -> [u8; 32] {
        self.finish(self.partial(), msg)
    }

    /// Whether `tag` is the MAC of `msg`, compared in constant time. `meanwhile` runs after
    /// the message's whole blocks are handed to the compression function and before its last
    /// ones: SHA-256 is a chain of dependent rounds, and the processor runs work that does not
    /// depend on it (decoding the payload, say) beside it.
    pub(crate) fn verify_while(
        &self,
        msg: &[u8],
        tag: &[u8; 32],
        meanwhile: impl FnOnce(),
    ) -> bool {
        let mut p = self.partial();
        let (whole, tail) = msg.as_chunks::<64>();
        p.absorb(whole);
        meanwhile();
        bool::from(self.finish(p, tail).ct_eq(tag))
    }

    /// Whether `tag` is the MAC of `msg`, compared in constant time.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn verify(&self, msg: &[u8], tag: &[u8; 32]) -> bool {
        self.verify_while(msg, tag, || {})
    }

    /// The outer hash over an inner digest, as words: `H(K ^ opad || inner)`.
    fn outer_words(&self, inner: &[u32; 8]) -> [u32; 8] {
        let mut block = [0u8; 64];
        store(inner, &mut block);
        // The padding of a 96-byte message (64 bytes of key block, 32 of digest): 0x80, zeros,
        // and the bit length 768 big-endian.
        if let Some(b) = block.get_mut(32) {
            *b = 0x80;
        }
        if let Some(b) = block.get_mut(62) {
            *b = 0x03;
        }
        let mut state = self.outer;
        compress256(&mut state, &[block]);
        state
    }
}

/// A SHA-256 computation part way: the state after some whole blocks. Copyable and small (40
/// bytes), so a writer can carry it while it writes the message it absorbs.
#[derive(Clone, Copy)]
pub(crate) struct Partial {
    state: [u32; 8],
    /// Blocks compressed so far, the key block included.
    blocks: u64,
}

impl Partial {
    fn new(state: [u32; 8], blocks: u64) -> Self {
        Partial { state, blocks }
    }

    /// Message bytes compressed so far after the key block: for a [`Pads::partial`], how much
    /// of the message [`Pads::finish`] is no longer to be given.
    #[cfg(feature = "sign")]
    pub(crate) fn absorbed_len(&self) -> usize {
        // Exact: the blocks come from a token in memory, so their bytes fit a `usize`.
        (self.blocks as usize).wrapping_sub(1).wrapping_mul(64)
    }

    /// Compresses whole blocks, straight from the caller's memory.
    pub(crate) fn absorb(&mut self, whole: &[Block]) {
        if !whole.is_empty() {
            compress256(&mut self.state, whole);
            self.blocks = self.blocks.wrapping_add(whole.len() as u64);
        }
    }

    /// Absorbs `rest`'s whole blocks, pads the remainder (FIPS 180-4 §5.1.1) and returns the
    /// hash as words. The one or two padded blocks go to the compression function in one call.
    fn finish(mut self, rest: &[u8]) -> [u32; 8] {
        let (whole, tail) = rest.as_chunks::<64>();
        self.absorb(whole);
        let n = tail.len();
        let bits = self
            .blocks
            .wrapping_mul(512)
            .wrapping_add((n as u64).wrapping_mul(8));
        let mut last = [[0u8; 64]; 2];
        let flat = last.as_flattened_mut();
        if let Some(dst) = flat.get_mut(..n) {
            dst.copy_from_slice(tail);
        }
        if let Some(b) = flat.get_mut(n) {
            *b = 0x80;
        }
        let blocks = if n >= 56 {
            &mut last[..]
        } else {
            &mut last[..1]
        };
        if let Some(len) = blocks.as_flattened_mut().last_chunk_mut::<8>() {
            *len = bits.to_be_bytes();
        }
        compress256(&mut self.state, blocks);
        self.state
    }
}

/// An HMAC fed piece by piece, from [`Pads::begin`]: only a partial block is buffered.
#[cfg(any(feature = "sign", feature = "password", test))]
pub(crate) struct Mac<'p> {
    pads: &'p Pads,
    inner: Partial,
    buf: Block,
    /// Bytes in `buf`, always below 64.
    buffered: usize,
}

#[cfg(any(feature = "sign", feature = "password", test))]
impl Mac<'_> {
    /// Feeds `data` to the MAC.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        if self.buffered > 0 {
            let take = data.len().min(64usize.saturating_sub(self.buffered));
            let (now, later) = data.split_at(take);
            let end = self.buffered.saturating_add(take);
            if let Some(dst) = self.buf.get_mut(self.buffered..end) {
                dst.copy_from_slice(now);
            }
            self.buffered = end;
            data = later;
            if self.buffered < 64 {
                return;
            }
            self.inner.absorb(&[self.buf]);
            self.buffered = 0;
        }
        let (whole, rest) = data.as_chunks::<64>();
        self.inner.absorb(whole);
        if let Some(dst) = self.buf.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.buffered = rest.len();
    }

    /// The MAC as the outer hash's state words (PBKDF2 works on them as they are).
    #[cfg(feature = "password")]
    pub(crate) fn finalize_words(self) -> [u32; 8] {
        let tail = self.buf.get(..self.buffered).unwrap_or_default();
        self.pads.outer_words(&self.inner.finish(tail))
    }

    /// The MAC's 32 bytes.
    #[cfg(any(feature = "sign", test))]
    pub(crate) fn finalize(self) -> [u8; 32] {
        let tail = self.buf.get(..self.buffered).unwrap_or_default();
        self.pads.finish(self.inner, tail)
    }
}

/// Writes the 8 state words big-endian into the first 32 bytes of `out` (a digest, or the
/// front of a block).
#[inline(always)]
pub(crate) fn store(words: &[u32; 8], out: &mut [u8]) {
    for (w, d) in words.iter().zip(out.as_chunks_mut::<4>().0) {
        *d = w.to_be_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use hmac::{KeyInit, Mac as _};

    fn reference(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn agrees_with_the_hmac_crate_for_every_length_and_split() {
        let data: [u8; 300] = core::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x3c);
        for key_len in [0, 1, 31, 32, 63, 64, 65, 100, 130] {
            let pads = Pads::new(&data[..key_len]);
            for len in 0..data.len() {
                let msg = &data[7..7 + len.min(data.len() - 7)];
                let want = reference(&data[..key_len], msg);
                assert_eq!(pads.mac(msg), want, "key {key_len}, msg {len}");
                assert!(pads.verify(msg, &want));
                let mut bad = want;
                bad[31] ^= 1;
                assert!(!pads.verify(msg, &bad));
            }
        }
        let pads = Pads::new(&data[..32]);
        let msg = &data[..200];
        for a in 0..msg.len() {
            for b in (a..msg.len()).step_by(13) {
                let mut m = pads.begin();
                m.update(&msg[..a]);
                m.update(&msg[a..b]);
                m.update(&msg[b..]);
                assert_eq!(m.finalize(), reference(&data[..32], msg), "{a} {b}");
            }
        }
    }

    /// RFC 4231 test case 2 ("Jefe") and 6 (a 131-byte key, hashed first).
    #[test]
    fn rfc4231() {
        let hex = |s: &str| -> [u8; 32] {
            core::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        };
        assert_eq!(
            Pads::new(b"Jefe").mac(b"what do ya want for nothing?"),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            Pads::new(&[0xaa; 131]).mac(b"Test Using Larger Than Block-Size Key - Hash Key First"),
            hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
    }
}
