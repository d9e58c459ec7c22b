//! HS256 sign / verify+validate of a ~200-byte token, against the raw-HMAC floor
//! (HMAC-SHA256 with a precomputed key over the same signing input).
#![allow(missing_docs)]

use std::hint::black_box;

use auth_core::{Claims, Hs256Key, KeyRing, UntrustedToken, Validation};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_764_331_200;

fn claims() -> Claims<'static> {
    Claims::new()
        .with_subject("alice@example.com")
        .with_issuer("https://auth.example.com")
        .with_audience("dashboard")
        .with_lifetime(NOW, 2700)
}

fn bench(c: &mut Criterion) {
    let ring = KeyRing::<1>::new(Hs256Key::new(SECRET).unwrap()).unwrap();
    let mut out = [0u8; 512];
    let token = ring.sign(&claims(), &mut out).unwrap().to_owned();
    let signing_input = &token[..token.rfind('.').unwrap()];
    let validation = Validation::new()
        .with_issuer("https://auth.example.com")
        .with_audience("dashboard");

    let mut g = c.benchmark_group(format!("hs256_{}B", token.len()));
    g.bench_function("floor_hmac", |b| {
        let mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(signing_input.as_bytes()));
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("sign", |b| {
        let claims = claims();
        let mut out = [0u8; 512];
        b.iter(|| black_box(ring.sign(black_box(&claims), &mut out).unwrap().len()))
    });
    g.bench_function("verify_validate", |b| {
        let mut buf = [0u8; 512];
        b.iter(|| {
            let t = UntrustedToken::parse(black_box(&token)).unwrap();
            let v = ring.verify(&t).unwrap();
            let c: Claims<'_> = v.claims(&mut buf).unwrap();
            validation.validate(&c, NOW + 60).unwrap();
            black_box(c.exp)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
