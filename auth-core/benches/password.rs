//! PBKDF2-HMAC-SHA256 verify at 600,000 rounds against the floor (exactly two SHA-256
//! compressions per iteration) and the RustCrypto `pbkdf2` crate; bcrypt verify at costs 10
//! and 12 against the `bcrypt` crate's own.
#![allow(missing_docs)]

use std::hint::black_box;

use auth_core::password::{
    Policy, RECOMMENDED_ROUNDS, hash_password, pbkdf2_hmac_sha256, verify_password,
};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::block_api::compress256;

const SALT: &[u8; 16] = b"0123456789abcdef";

/// Two compressions per iteration with a data dependency between iterations, nothing else.
fn floor(rounds: u32) -> [u32; 8] {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    block[62] = 0x03;
    let mut s = [0x6a09e667u32; 8];
    for _ in 0..rounds {
        let mut a = s;
        compress256(&mut a, core::slice::from_ref(&block));
        block[..4].copy_from_slice(&a[0].to_be_bytes());
        s = a;
        compress256(&mut s, core::slice::from_ref(&block));
        block[..4].copy_from_slice(&s[0].to_be_bytes());
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pbkdf2_600k");
    g.sample_size(10);
    let mut phc = [0u8; 128];
    let stored = hash_password(b"correct horse", SALT, &Policy::new(), &mut phc)
        .unwrap()
        .to_owned();
    let mut ours = [0u8; 32];
    let mut theirs = [0u8; 32];
    pbkdf2_hmac_sha256(b"correct horse", SALT, RECOMMENDED_ROUNDS, &mut ours);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"correct horse", SALT, RECOMMENDED_ROUNDS, &mut theirs);
    assert_eq!(ours, theirs);

    g.bench_function("floor_2_compressions", |b| {
        b.iter(|| black_box(floor(black_box(RECOMMENDED_ROUNDS))))
    });
    g.bench_function("auth_core_verify", |b| {
        b.iter(|| verify_password(black_box(b"correct horse"), &stored, &Policy::new()).unwrap())
    });
    g.bench_function("rustcrypto_pbkdf2", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                black_box(b"correct horse"),
                SALT,
                RECOMMENDED_ROUNDS,
                &mut out,
            );
            black_box(out)
        })
    });
    g.finish();

    // bcrypt (#24), verified as a login verifies it: its work against PBKDF2's sets
    // `password::bcrypt::ROUND_WORK` (cost 12's time over 4,096 rounds, in PBKDF2 iterations).
    let mut g = c.benchmark_group("bcrypt_verify");
    g.sample_size(10);
    for cost in [10u32, 12] {
        let stored = bcrypt::hash_with_salt(b"correct horse", cost, *SALT)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let fast = Policy::new().with_rounds(1000);
        g.bench_function(format!("auth_core_cost_{cost}"), |b| {
            b.iter(|| verify_password(black_box(b"correct horse"), &stored, &fast).unwrap())
        });
        g.bench_function(format!("bcrypt_crate_cost_{cost}"), |b| {
            b.iter(|| bcrypt::verify(black_box(b"correct horse"), &stored).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
