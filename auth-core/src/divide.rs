//! `u64` by a small divisor without the `u64` division routine on 32-bit targets.
//!
//! A Cortex-M3 divides 32-bit numbers in hardware, but `u64 / 10` links compiler_builtins'
//! `__aeabi_uldivmod` (866 bytes of flash in the full firmware, for writing integers only).
//! Dividing by a divisor below 2^16 needs only 32-bit steps over 16-bit limbs: each partial
//! remainder is below the divisor, so `remainder << 16 | limb` fits a `u32`. The host keeps the
//! native division; a test compares the two.

/// `(n / d, n % d)`, the native way.
#[cfg(any(target_pointer_width = "64", test))]
fn native(n: u64, d: u16) -> (u64, u16) {
    let d = u64::from(d.max(1));
    // `n % d < d <= u16::MAX`: the cast cannot truncate. `d` is not zero: the checks fold away.
    let (q, r) = (n.checked_div(d), n.checked_rem(d));
    (q.unwrap_or(0), r.unwrap_or(0) as u16)
}

/// `(n / d, n % d)` in 32-bit steps over four 16-bit limbs.
#[cfg(any(not(target_pointer_width = "64"), test))]
fn by_limbs(n: u64, d: u16) -> (u64, u16) {
    let d = u32::from(d.max(1));
    let mut q = 0u64;
    let mut r = 0u32;
    for shift in [48u32, 32, 16, 0] {
        // `r < d <= 0xffff`, so `r << 16 | limb < 2^32`.
        let cur = (r << 16) | ((n >> shift) as u32 & 0xffff);
        // `d` is not zero: the checks fold away.
        q = (q << 16) | u64::from(cur.checked_div(d).unwrap_or(0));
        r = cur.checked_rem(d).unwrap_or(0);
    }
    // `r < d <= u16::MAX`.
    (q, r as u16)
}

/// `(n / d, n % d)`; a zero `d` is taken as 1 (no caller passes one).
pub(crate) fn div_rem(n: u64, d: u16) -> (u64, u16) {
    #[cfg(target_pointer_width = "64")]
    return native(n, d);
    #[cfg(not(target_pointer_width = "64"))]
    return by_limbs(n, d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_agree() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            65_535,
            65_536,
            u32::MAX as u64,
            1 << 32,
            u64::MAX,
        ] {
            for d in [1, 2, 10, 100, 9_999, 10_000, u16::MAX] {
                assert_eq!(by_limbs(n, d), native(n, d), "{n} / {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn limbs_agree_with_native_division(n in any::<u64>(), d in 1u16..) {
            prop_assert_eq!(by_limbs(n, d), native(n, d));
        }
    }
}
