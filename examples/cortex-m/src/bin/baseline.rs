//! The empty baseline: the same harness and steps as `firmware`, with empty step bodies and
//! no auth-core. `firmware` minus `baseline` is what auth-core costs in flash.
#![no_std]
#![no_main]

#[path = "../harness.rs"]
mod harness;

fn nothing() -> bool {
    core::hint::black_box(true)
}

#[cortex_m_rt::entry]
fn main() -> ! {
    harness::run(&[
        ("rfc7515_a1_verify", nothing),
        ("sign_then_verify", nothing),
        ("tampered_token_rejected", nothing),
        ("phc_verify_1000_rounds", nothing),
        ("login_then_authorize", nothing),
    ])
}
