//! Shared by the integration tests that hold the fused decode to the step-by-step path.

use auth_core::{DecodeError, KeyRing, UntrustedToken, Validation};

/// The fused decode (`KeyRing::decode_registered`, what the server and the firmware call) gives
/// exactly the step-by-step path's verdict and error (parse, MAC, scanner, validation, one by
/// one) with a claims buffer of `len` bytes on both paths. The fused decode checks the
/// payload's encoding only after the MAC, and meets a buffer too short for the payload while it
/// computes the MAC: both must be reported where the step-by-step path reports them. Returns
/// the verdict.
pub fn fused_agrees_with<const N: usize>(
    ring: &KeyRing<N>,
    token: &str,
    len: usize,
) -> Result<(), DecodeError> {
    let validation = Validation::new().allow_missing_exp();
    let step = (|| -> Result<(), DecodeError> {
        let v = ring.verify(&UntrustedToken::parse(token)?)?;
        let mut buf = vec![0u8; len];
        validation.validate(&v.registered(&mut buf)?, 0)?;
        Ok(())
    })();
    let mut buf = vec![0u8; len];
    let fused = ring
        .decode_registered(token, &mut buf, &validation, 0)
        .map(|_| ());
    assert_eq!(fused, step, "{token} with a {len}-byte buffer");
    fused
}
