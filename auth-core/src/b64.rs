//! Strict unpadded base64url for token segments, written here (#26).
//!
//! Token segments are public data, so nothing here is constant-time; secret-bearing values
//! (password hash salts and outputs) go through `base64ct` in [`crate::password`] instead.
//!
//! One decoder and one encoder serve every profile. On 64-bit targets the decoder takes eight
//! characters per step into a `u64` through 4 KiB of tables (the host's speed); on the others it
//! stays a four-character loop through one 78-byte table (the device's size). The
//! `b64_differential` fuzz target and `tests/tests/differential.rs` check both against the
//! `base64` crate's `URL_SAFE_NO_PAD`: the same inputs accepted, the same bytes out.

/// The URL-safe alphabet (RFC 4648 §5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The device's table (also built on the host for the differential checks): each byte's
/// 6-bit value, or `INVALID`.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
const INVALID: u8 = 0xff;

/// The lowest byte of the alphabet (`-`); [`DECODE`] starts there.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
const FIRST: u8 = b'-';

/// The values of the bytes from `-` to `z`, the alphabet's span: 78 bytes of table instead of
/// 256 (the device's decoder reads every character through it), one subtraction more.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // reason: compile-time table; a bad index fails the build
const DECODE: [u8; 78] = {
    let mut t = [INVALID; 78];
    let mut i = 0;
    while i < 64 {
        t[(ALPHABET[i] - FIRST) as usize] = i as u8;
        i += 1;
    }
    t
};

/// A character's 6-bit value, or `INVALID`. Bytes below `-` wrap past the table's end.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
fn value(b: u8) -> u32 {
    u32::from(
        DECODE
            .get(usize::from(b.wrapping_sub(FIRST)))
            .copied()
            .unwrap_or(INVALID),
    )
}

/// Four characters as 24 bits, with bit 31 set when any of them is outside the alphabet: the
/// device's way, one small table and shifts.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
fn quad_narrow(q: &[u8; 4]) -> u32 {
    let [a, b, c, d] = q.map(value);
    // `INVALID` has bit 7 set; no valid value does.
    let bad = ((a | b | c | d) & 0x80) << 24;
    (a << 18) | (b << 12) | (c << 6) | d | bad
}

/// The host's tables: each character's value already shifted into place for its position in a
/// quad, or `BAD` (4 KiB of tables for one OR per character; the device keeps 78 bytes).
#[cfg(target_pointer_width = "64")]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // reason: compile-time table; a bad index fails the build
const fn shifted(shift: u32) -> [u32; 256] {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    t
}

#[cfg(target_pointer_width = "64")]
static SHIFTED: [[u32; 256]; 4] = [shifted(18), shifted(12), shifted(6), shifted(0)];

/// [`quad_narrow`] through the host's tables.
#[cfg(target_pointer_width = "64")]
fn quad_wide(q: &[u8; 4]) -> u32 {
    let [t0, t1, t2, t3] = &SHIFTED;
    let at = |t: &[u32; 256], b: u8| t.get(usize::from(b)).copied().unwrap_or(BAD);
    at(t0, q[0]) | at(t1, q[1]) | at(t2, q[2]) | at(t3, q[3])
}

const BAD: u32 = 0x8000_0000;

/// Decodes strict unpadded base64url into `out`, returning the decoded length: only the
/// URL-safe alphabet, no padding or whitespace, a length that is not 1 mod 4, and zero unused
/// bits in the last character. `None` for anything else, or when `out` is too small. The
/// host's decoder on 64-bit targets, the device's on the others.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    #[cfg(target_pointer_width = "64")]
    return decode_wide(input, out);
    #[cfg(not(target_pointer_width = "64"))]
    return decode_narrow(input, out);
}

/// The device's decoder: four characters per step. Built on the host for the differential
/// checks.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
pub(crate) fn decode_narrow(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let (quads, tail) = input.as_chunks::<4>();
    let (triples, rest) = out.as_chunks_mut::<3>();
    let mut bad = 0u32;
    for (q, t) in quads.iter().zip(triples.iter_mut()) {
        let v = quad_narrow(q);
        bad |= v;
        let [_, v0, v1, v2] = v.to_be_bytes();
        *t = [v0, v1, v2];
    }
    finish(tail, rest, bad, quad_narrow).then_some(len)
}

/// The host's decoder: eight characters to six bytes per step through [`SHIFTED`].
#[cfg(target_pointer_width = "64")]
pub(crate) fn decode_wide(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let (quads, tail) = input.as_chunks::<4>();
    let (triples, rest) = out.as_chunks_mut::<3>();
    let mut bad = 0u32;
    // Each step stores eight bytes, six of them decoded: the next step overwrites the other
    // two, so it runs while eight bytes of room remain and the four-character loop takes the
    // rest.
    let (octs, _) = input.as_chunks::<8>();
    let steps = octs
        .len()
        .min(triples.len().saturating_mul(3).saturating_sub(2) / 6);
    for (k, o) in octs.iter().take(steps).enumerate() {
        let [a, b, c, d, e, f, g, h] = *o;
        let (hi, lo) = (quad_wide(&[a, b, c, d]), quad_wide(&[e, f, g, h]));
        bad |= hi | lo;
        let v = (u64::from(hi & 0xff_ffff) << 40) | (u64::from(lo & 0xff_ffff) << 16);
        let at = k.wrapping_mul(6);
        if let Some(dst) = triples
            .as_flattened_mut()
            .get_mut(at..at.wrapping_add(8))
            .and_then(|d| <&mut [u8; 8]>::try_from(d).ok())
        {
            *dst = v.to_be_bytes();
        } else {
            bad |= BAD; // unreachable: `steps` leaves room
        }
    }
    let done = steps.saturating_mul(2);
    for (q, t) in quads.iter().zip(triples.iter_mut()).skip(done) {
        let v = quad_wide(q);
        bad |= v;
        let [_, v0, v1, v2] = v.to_be_bytes();
        *t = [v0, v1, v2];
    }
    finish(tail, rest, bad, quad_wide).then_some(len)
}

/// The last two or three characters, whose unused low bits must be zero (RFC 4648 §3.5, as the
/// `base64` crate demands), and the verdict over `bad` (bit 31: a character outside the
/// alphabet). The tail is read as a quad padded with `A` (value 0), through the decoder's own
/// `quad`.
fn finish(tail: &[u8], rest: &mut [u8], bad: u32, quad: impl Fn(&[u8; 4]) -> u32) -> bool {
    let (v, unused) = match (tail, rest) {
        ([], []) => return bad & BAD == 0,
        (&[a, b], [r0]) => {
            let v = quad(&[a, b, b'A', b'A']);
            *r0 = (v >> 16) as u8;
            (v, v & 0x0_f000)
        }
        (&[a, b, c], [r0, r1]) => {
            let v = quad(&[a, b, c, b'A']);
            *r0 = (v >> 16) as u8;
            *r1 = (v >> 8) as u8;
            (v, v & 0x00c0)
        }
        _ => return false,
    };
    unused == 0 && (bad | v) & BAD == 0
}

/// Whether `seg` is strict unpadded base64url, exactly as [`decode`] accepts it. Nothing is
/// decoded. Tested against the `base64` crate in `tests/tests/differential.rs`.
pub(crate) fn is_canonical(seg: &[u8]) -> bool {
    #[cfg(target_pointer_width = "64")]
    return in_alphabet_wide(seg) && tail_is_canonical(seg);
    #[cfg(not(target_pointer_width = "64"))]
    return is_canonical_narrow(seg);
}

/// Whether every byte of `seg` is in the alphabet: the host's way. Branch-free range compares
/// counted in a u8 per 64-byte chunk, which LLVM vectorizes.
#[cfg(target_pointer_width = "64")]
fn in_alphabet_wide(seg: &[u8]) -> bool {
    let bad = seg.chunks(64).fold(0usize, |bad, chunk| {
        let n = chunk.iter().fold(0u8, |n, &b| {
            // `b | 0x20` folds A-Z onto a-z and maps nothing else there.
            let ok = ((b | 0x20).wrapping_sub(b'a') < 26)
                | (b.wrapping_sub(b'0') < 10)
                | (b == b'-')
                | (b == b'_');
            n.wrapping_add(u8::from(!ok))
        });
        bad.wrapping_add(usize::from(n))
    });
    bad == 0
}

/// [`in_alphabet_wide`] through the decoder's table: the device's way (smaller). Built on the
/// host for the differential checks.
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
fn in_alphabet_narrow(seg: &[u8]) -> bool {
    seg.iter().all(|&b| value(b) & 0x80 == 0)
}

/// [`is_canonical`] as a device computes it (and the host, for the differential checks).
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
pub(crate) fn is_canonical_narrow(seg: &[u8]) -> bool {
    in_alphabet_narrow(seg) && tail_is_canonical(seg)
}

/// A length that is not 1 mod 4, and zero unused bits in the last character: [`finish`]'s
/// check, into a scratch buffer.
fn tail_is_canonical(seg: &[u8]) -> bool {
    let (_, tail) = seg.as_chunks::<4>();
    let mut scratch = [0u8; 2];
    // A one-character tail gets no room, which `finish` refuses, as it refuses the length.
    let rest = scratch
        .get_mut(..tail.len().saturating_sub(1))
        .unwrap_or_default();
    finish(tail, rest, 0, quad)
}

#[cfg(not(target_pointer_width = "64"))]
use quad_narrow as quad;
#[cfg(target_pointer_width = "64")]
use quad_wide as quad;

/// Encodes `input` as unpadded base64url into `out`, returning the encoded length; `None` when
/// `out` is too small. The host's encoder on 64-bit targets, the device's on the others.
#[cfg(feature = "sign")]
pub(crate) fn encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    encode_by(input, out, encode_triple)
}

/// The device's encoder, built on the host for the differential checks.
#[cfg(all(feature = "sign", any(test, feature = "fuzzing")))]
pub(crate) fn encode_narrow(input: &[u8], out: &mut [u8]) -> Option<usize> {
    encode_by(input, out, encode_triple_narrow)
}

#[cfg(feature = "sign")]
fn encode_by(input: &[u8], out: &mut [u8], triple: fn([u8; 3]) -> [u8; 4]) -> Option<usize> {
    let len = encoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let (triples, tail) = input.as_chunks::<3>();
    let (quads, rest) = out.as_chunks_mut::<4>();
    for (t, q) in triples.iter().zip(quads.iter_mut()) {
        *q = triple(*t);
    }
    let [a, b, c, _] = triple(match *tail {
        [a] => [a, 0, 0],
        [a, b] => [a, b, 0],
        _ => [0, 0, 0],
    });
    match rest {
        [r0, r1] => (*r0, *r1) = (a, b),
        [r0, r1, r2] => (*r0, *r1, *r2) = (a, b, c),
        _ => {}
    }
    Some(len)
}

#[cfg(all(
    feature = "sign",
    any(not(target_pointer_width = "64"), test, feature = "fuzzing")
))]
fn symbol(v: u32) -> u8 {
    ALPHABET.get((v & 0x3f) as usize).copied().unwrap_or(b'A')
}

/// Three bytes as four characters: the device's way, through the 64-byte alphabet.
#[cfg(all(
    feature = "sign",
    any(not(target_pointer_width = "64"), test, feature = "fuzzing")
))]
fn encode_triple_narrow([a, b, c]: [u8; 3]) -> [u8; 4] {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    [symbol(v >> 18), symbol(v >> 12), symbol(v >> 6), symbol(v)]
}

#[cfg(all(feature = "sign", not(target_pointer_width = "64")))]
use encode_triple_narrow as encode_triple;

/// The host's table: every 12 bits as its two characters (8 KiB, two loads per three bytes).
#[cfg(all(feature = "sign", target_pointer_width = "64"))]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // reason: compile-time table; a bad index fails the build
static PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [ALPHABET[i >> 6], ALPHABET[i & 0x3f]];
        i += 1;
    }
    t
};

/// Three bytes as four characters through [`PAIRS`].
#[cfg(all(feature = "sign", target_pointer_width = "64"))]
fn encode_triple([a, b, c]: [u8; 3]) -> [u8; 4] {
    let v = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    let [p, q] = PAIRS.get(v >> 12).copied().unwrap_or_default();
    let [r, s] = PAIRS.get(v & 0xfff).copied().unwrap_or_default();
    [p, q, r, s]
}

/// Length of the unpadded base64 encoding of `n` bytes, or `None` on overflow.
#[cfg(feature = "sign")]
pub(crate) const fn encoded_len(n: usize) -> Option<usize> {
    let full = n / 3;
    let tail = match n % 3 {
        0 => 0,
        1 => 2,
        _ => 3,
    };
    match full.checked_mul(4) {
        Some(v) => v.checked_add(tail),
        None => None,
    }
}

/// Exact decoded length of `n` base64 characters; `None` when `n` is 1 mod 4 (no encoding has
/// that length).
const fn decoded_len(n: usize) -> Option<usize> {
    if n % 4 == 1 {
        return None;
    }
    Some(decoded_len_max(n))
}

/// Upper bound of the decoded length of `n` base64 characters.
pub(crate) const fn decoded_len_max(n: usize) -> usize {
    // Cannot overflow: (n / 4) * 3 < n, and the remainder term is at most 2.
    (n / 4)
        .wrapping_mul(3)
        .wrapping_add((n % 4).wrapping_mul(3) / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_agree_with_the_encoder() {
        let data: [u8; 70] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xA5);
        for n in 0..data.len() {
            let mut out = [0u8; 100];
            let written = encode(&data[..n], &mut out).unwrap();
            assert_eq!(Some(written), encoded_len(n));
            assert_eq!(decoded_len(written), Some(n));
            // No encoding is 1 mod 4 characters long.
            assert_eq!(decoded_len(4 * n + 1), None);
            let mut back = [0u8; 70];
            assert_eq!(decode(&out[..written], &mut back), Some(n));
            assert_eq!(&back[..n], &data[..n]);
            let mut narrow = [0u8; 70];
            assert_eq!(decode_narrow(&out[..written], &mut narrow), Some(n));
            assert_eq!(&narrow[..n], &data[..n]);
            let mut enc = [0u8; 100];
            assert_eq!(encode_narrow(&data[..n], &mut enc), Some(written));
            assert_eq!(&enc[..written], &out[..written]);
            assert!(is_canonical(&out[..written]));
            assert!(is_canonical_narrow(&out[..written]));
            assert_eq!(
                encode(&data[..n], &mut out[..written.saturating_sub(1)]).is_none(),
                n > 0
            );
        }
    }

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"YQ", &mut out), Some(1));
        assert_eq!(decode(b"YQ==", &mut out), None);
        assert_eq!(decode(b"Y Q", &mut out), None);
        assert_eq!(decode(b"YR", &mut out), None, "non-zero trailing bits");
        assert_eq!(decode(b"YWI", &mut out), Some(2));
        assert_eq!(decode(b"YWJ", &mut out), None, "non-zero trailing bits");
        assert_eq!(decode(b"Y+", &mut out), None, "standard alphabet");
        assert_eq!(decode(b"Y", &mut out), None);
        assert_eq!(decode(b"", &mut out), Some(0));
        // A bad character in each position of an eight-character block, and in the tail.
        for at in 0..11 {
            let mut s = *b"YWJjZGVmZ2hp";
            s[at] = b'=';
            assert_eq!(decode(&s[..11], &mut out), None, "{at}");
        }
        assert_eq!(decode(b"YWJjZGVmZ2g", &mut [0u8; 7]), None, "short output");
        // The encoding check refuses what the decoders refuse, on both profiles.
        for bad in [
            &b"YQ=="[..],
            b"Y Q",
            b"YR",
            b"YWJ",
            b"Y+",
            b"Y",
            b"YWJjZGVmZ2h\xff",
        ] {
            assert!(!is_canonical(bad) && !is_canonical_narrow(bad), "{bad:?}");
        }
        assert!(is_canonical(b"YWI") && is_canonical_narrow(b"YWI"));
    }

    /// Every byte value in every position of a 12-character segment (the host's eight-byte
    /// block and its four-character loop) and of a 3-character tail: each decoder and each
    /// encoding check says what the `base64` crate says. The bytes next to the alphabet's
    /// ranges (`/`, `:`, `@`, `[`, a backtick, `{`) are the ones a range check's `<` as `<=`
    /// would let in.
    #[test]
    fn every_byte_in_every_position_agrees_with_the_base64_crate() {
        use base64::Engine as _;
        let reference = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for base in [&b"YWJjZGVmZ2hp"[..], b"YWI"] {
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut seg = [0u8; 12];
                    let seg = &mut seg[..base.len()];
                    seg.copy_from_slice(base);
                    seg[at] = b;
                    let want = reference.decode(&*seg).ok();
                    let mut out = [0u8; 9];
                    let got = decode(seg, &mut out).map(|n| out[..n].to_vec());
                    let mut narrow = [0u8; 9];
                    let got_narrow = decode_narrow(seg, &mut narrow).map(|n| narrow[..n].to_vec());
                    assert_eq!(got, want, "decode {seg:?}");
                    assert_eq!(got_narrow, want, "decode_narrow {seg:?}");
                    assert_eq!(is_canonical(seg), want.is_some(), "is_canonical {seg:?}");
                    assert_eq!(is_canonical_narrow(seg), want.is_some(), "narrow {seg:?}");
                }
            }
        }
    }
}
