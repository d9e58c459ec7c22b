//! The few accessors the fuzz harnesses (`fuzz/harness/`) and the differential tests need to
//! reach checks that are not public. Hidden, behind the `fuzzing` feature; nothing else.
/// `json_check::check_syntax` (private), for the differential test and fuzz target against
/// `serde_json`.
pub fn json_syntax_ok(json: &[u8], max_depth: u32) -> bool {
    crate::json_check::check_syntax(json, max_depth).is_ok()
}

/// Deepest depth [`json_syntax_ok`] checks.
pub const MAX_CHECK_DEPTH: u32 = crate::json_check::MAX_CHECK_DEPTH;

/// The pre-MAC payload encoding check, for the differential test against the `base64` crate.
pub fn b64_is_canonical(seg: &[u8]) -> bool {
    crate::b64::is_canonical(seg)
}

/// A parsed stored hash's salt length, for the `password_hash` harness's cap check.
pub fn stored_salt_len(h: &crate::password::StoredHash) -> usize {
    h.salt().len()
}
