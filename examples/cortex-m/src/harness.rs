//! Shared by `firmware` and `baseline`, so the flash difference between them is auth-core's.
//!
//! Each step prints `STEP PASS|FAIL <name> stack=<bytes> ticks=<SysTick ticks>`. Stack use is
//! found by painting the free stack with a pattern and scanning it afterwards. QEMU does not
//! model cycles: run it with `-icount shift=0` (one instruction per virtual nanosecond) and
//! convert ticks to instructions with the `CALIBRATE` line, a delay loop of known length.

use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_semihosting::{debug, hprintln};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("PANIC");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

const PATTERN: u32 = 0xDEAD_BEEF;

unsafe extern "C" {
    /// End of .bss: the free RAM the stack grows down into (from cortex-m-rt).
    static __sheap: u32;
}

/// Runs `f` on freshly painted stack; returns (result, deepest use below this frame's SP,
/// SysTick ticks of `f` alone).
#[inline(never)]
fn measure(syst: &mut SYST, f: fn() -> bool) -> (bool, u32, u32) {
    let bottom = core::ptr::addr_of!(__sheap) as u32;
    let sp = cortex_m::register::msp::read();
    let top = sp - 256;
    let mut a = bottom;
    while a < top {
        // SAFETY: [bottom, top) is free RAM between .bss and the live stack.
        unsafe { core::ptr::write_volatile(a as *mut u32, PATTERN) };
        a += 4;
    }
    let mut r = false;
    let t = ticks(syst, || r = f());
    let mut low = bottom;
    // SAFETY: the same region, read back.
    while low < top && unsafe { core::ptr::read_volatile(low as *const u32) } == PATTERN {
        low += 4;
    }
    (r, sp - low, t)
}

fn ticks(syst: &mut SYST, f: impl FnOnce()) -> u32 {
    syst.clear_current();
    let start = SYST::get_current();
    f();
    start.wrapping_sub(SYST::get_current()) & 0x00FF_FFFF
}

/// A named step: `true` for PASS.
pub type Step<'a> = (&'a str, fn() -> bool);

/// Runs every step, prints the results and exits through semihosting (non-zero on failure).
pub fn run(steps: &[Step<'_>]) -> ! {
    let mut p = cortex_m::Peripherals::take().unwrap();
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(0x00FF_FFFF);
    p.SYST.enable_counter();
    // `delay(n)` runs n/2 iterations of a two-instruction loop: n instructions.
    let cal = ticks(&mut p.SYST, || cortex_m::asm::delay(1_000_000));
    hprintln!("CALIBRATE instructions=1000000 ticks={}", cal);
    let mut failed = 0;
    for (name, f) in steps {
        let (ok, stack, t) = measure(&mut p.SYST, *f);
        if !ok {
            failed += 1;
        }
        hprintln!(
            "STEP {} {} stack={} ticks={}",
            if ok { "PASS" } else { "FAIL" },
            name,
            stack,
            t
        );
    }
    if failed == 0 {
        hprintln!("ALL PASS");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("FAILED {}", failed);
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {
        cortex_m::asm::wfi();
    }
}
