//! Strict base64url for token segments.
//!
//! Token segments are public data, so they use the fast `base64` crate (no padding, no
//! whitespace, canonical trailing bits required). Secret-bearing values (password hash
//! outputs) go through `base64ct` in [`crate::password`] instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict unpadded base64url into `out`, returning the decoded length.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(input, out).ok()
}

/// Encodes `input` as unpadded base64url into `out`, returning the encoded length.
#[cfg(feature = "sign")]
pub(crate) fn encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.encode_slice(input, out).ok()
}

/// Whether `seg` is strict unpadded base64url, exactly as [`decode`] accepts it: only the
/// URL-safe alphabet, a length that is not 1 mod 4, and zero unused bits in the last
/// character. Nothing is decoded. Tested against the `base64` crate in `tests/tests/differential.rs`.
pub(crate) fn is_canonical(seg: &[u8]) -> bool {
    // Branch-free range compares counted in a u8 per 64-byte chunk: LLVM vectorizes it.
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
    let Some(&last) = seg.last() else {
        return true;
    };
    let value = match last {
        b'A'..=b'Z' => last.wrapping_sub(b'A'),
        b'a'..=b'z' => last.wrapping_sub(b'a').wrapping_add(26),
        b'0'..=b'9' => last.wrapping_sub(b'0').wrapping_add(52),
        b'-' => 62,
        _ => 63,
    };
    bad == 0
        && match seg.len() % 4 {
            1 => false,
            2 => value & 0x0f == 0,
            3 => value & 0x03 == 0,
            _ => true,
        }
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
        let data = [0xA5u8; 70];
        for n in 0..data.len() {
            let mut out = [0u8; 100];
            let written = encode(&data[..n], &mut out).unwrap();
            assert_eq!(Some(written), encoded_len(n));
            assert!(decoded_len_max(written) >= n);
            let mut back = [0u8; 70];
            assert_eq!(decode(&out[..written], &mut back), Some(n));
        }
    }

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"YQ", &mut out), Some(1));
        assert_eq!(decode(b"YQ==", &mut out), None);
        assert_eq!(decode(b"Y Q", &mut out), None);
        assert_eq!(decode(b"YR", &mut out), None, "non-zero trailing bits");
        assert_eq!(decode(b"Y+", &mut out), None, "standard alphabet");
    }
}
