#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| auth_fuzz_harness::hmac_differential(data));
