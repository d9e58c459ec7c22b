#![no_main]
//! auth-core checks header JSON itself before serde runs; it must accept exactly what
//! serde_json accepts (valid UTF-8 input, within the depth both support).
use auth_core::fuzzing::{MAX_CHECK_DEPTH, json_syntax_ok};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let reference = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        assert_eq!(json_syntax_ok(data, MAX_CHECK_DEPTH), reference, "{text:?}");
    }
});
