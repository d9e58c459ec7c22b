//! Heap allocations per operation for each implementation, counted by a global allocator.
//! Prints one `ALLOCS <op> <impl> <n>` line per measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_bench::*;

struct Counting;
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        COUNT.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        COUNT.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn per_op(name: &str, imp: &str, mut f: impl FnMut()) {
    f(); // warm up lazy statics
    const N: usize = 100;
    let before = COUNT.load(Ordering::Relaxed);
    for _ in 0..N {
        f();
    }
    let n = COUNT.load(Ordering::Relaxed) - before;
    println!("ALLOCS {name} {imp} {}", n as f64 / N as f64);
}

fn main() {
    let dk: String = kdf::ours().iter().map(|b| format!("{b:02x}")).collect();
    println!("DK auth-core {dk}");
    for (size, large) in [("small", false), ("large", true)] {
        let owned = owned(large);
        let ring = ours::ring();
        let claims = ours::claims(&owned);
        let mut out = [0u8; 4096];
        let n = ours::sign(&ring, &claims, &mut out);
        let token = std::str::from_utf8(&out[..n]).unwrap().to_owned();
        let jk = jsonwebtoken_impl::keys();
        let sk = jwt_simple_impl::key();
        let so = jwt_simple_impl::options();
        let ck = jwt_compact_impl::key();
        let ct = jwt_compact_impl::time_options();
        let mut o2 = [0u8; 4096];
        let mut buf = [0u8; 4096];
        per_op(&format!("sign_{size}"), "auth-core", || {
            ours::sign(&ring, &claims, &mut o2);
        });
        per_op(&format!("sign_{size}"), "auth-core-serde", || {
            ours::sign_serde(&ring, &claims, &mut o2);
        });
        per_op(&format!("sign_{size}"), "jsonwebtoken", || {
            drop(jsonwebtoken_impl::sign(&jk, &owned))
        });
        per_op(&format!("sign_{size}"), "jwt-simple", || {
            drop(jwt_simple_impl::sign(&sk, &owned))
        });
        per_op(&format!("sign_{size}"), "jwt-compact", || {
            drop(jwt_compact_impl::sign(&ck, &owned))
        });
        per_op(&format!("verify_{size}"), "auth-core", || {
            ours::verify(&ring, &token, &mut buf);
        });
        per_op(&format!("verify_{size}"), "auth-core-serde", || {
            ours::verify_serde(&ring, &token, &mut buf);
        });
        per_op(&format!("verify_{size}"), "jsonwebtoken", || {
            jsonwebtoken_impl::verify(&jk, &token);
        });
        per_op(&format!("verify_{size}"), "jwt-simple", || {
            jwt_simple_impl::verify(&sk, &token, &so);
        });
        per_op(&format!("verify_{size}"), "jwt-compact", || {
            jwt_compact_impl::verify(&ck, &token, &ct);
        });
    }
    for (size, large) in [("small", false), ("large", true)] {
        eddsa_allocs(size, &owned(large));
    }
    per_op("pbkdf2", "auth-core", || {
        std::hint::black_box(kdf::ours());
    });
    per_op("pbkdf2", "rustcrypto_pbkdf2", || {
        std::hint::black_box(kdf::rustcrypto());
    });
    per_op("pbkdf2", "ring", || {
        std::hint::black_box(kdf::ring());
    });
}

/// EdDSA (#27): the same four, on one token.
fn eddsa_allocs(size: &str, owned: &Owned) {
    let claims = ours::claims(owned);
    let signer = eddsa::ours::signer();
    let ring = eddsa::ours::ring();
    let mut out = [0u8; 4096];
    let n = eddsa::ours::sign(&signer, &claims, &mut out);
    let token = std::str::from_utf8(&out[..n]).unwrap().to_owned();
    let jk = eddsa::jsonwebtoken_impl::keys();
    let (sp, sv) = eddsa::jwt_simple_impl::keys();
    let so = jwt_simple_impl::options();
    let (ck, cv) = eddsa::jwt_compact_impl::keys();
    let ct = jwt_compact_impl::time_options();
    let mut o2 = [0u8; 4096];
    let mut buf = [0u8; 4096];
    let (sign, verify) = (format!("ed_sign_{size}"), format!("ed_verify_{size}"));
    per_op(&sign, "auth-core", || {
        eddsa::ours::sign(&signer, &claims, &mut o2);
    });
    per_op(&sign, "jsonwebtoken", || {
        drop(eddsa::jsonwebtoken_impl::sign(&jk, owned))
    });
    per_op(&sign, "jwt-simple", || {
        drop(eddsa::jwt_simple_impl::sign(&sp, owned))
    });
    per_op(&sign, "jwt-compact", || {
        drop(eddsa::jwt_compact_impl::sign(&ck, owned))
    });
    per_op(&verify, "auth-core", || {
        ours::verify(&ring, &token, &mut buf);
    });
    per_op(&verify, "jsonwebtoken", || {
        eddsa::jsonwebtoken_impl::verify(&jk, &token);
    });
    per_op(&verify, "jwt-simple", || {
        eddsa::jwt_simple_impl::verify(&sv, &token, &so);
    });
    per_op(&verify, "jwt-compact", || {
        eddsa::jwt_compact_impl::verify(&cv, &token, &ct);
    });
}
