//! auth-core against jsonwebtoken, jwt-simple and jwt-compact, side by side on the same claims,
//! plus the raw-HMAC floor, the SHA-256 compression rate, and PBKDF2 four ways.
#![allow(missing_docs)]

use std::hint::black_box;

use auth_bench::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn jwt(c: &mut Criterion) {
    for (name, large) in [("small", false), ("large", true)] {
        let owned = owned(large);
        let ring = ours::ring();
        let claims = ours::claims(&owned);
        let mut out = vec![0u8; 4096];
        let n = ours::sign(&ring, &claims, &mut out);
        let token = std::str::from_utf8(&out[..n]).unwrap().to_owned();
        let signing_input = token[..token.rfind('.').unwrap()].to_owned();

        let jk = jsonwebtoken_impl::keys();
        let sk = jwt_simple_impl::key();
        let so = jwt_simple_impl::options();
        let ck = jwt_compact_impl::key();
        let ct = jwt_compact_impl::time_options();
        // Every peer accepts every other's token: same algorithm, key and claims.
        let tokens = [
            token.clone(),
            jsonwebtoken_impl::sign(&jk, &owned),
            jwt_simple_impl::sign(&sk, &owned),
            jwt_compact_impl::sign(&ck, &owned),
        ];
        let mut serde_out = vec![0u8; 4096];
        let m = ours::sign_serde(&ring, &claims, &mut serde_out);
        assert_eq!(
            &serde_out[..m],
            token.as_bytes(),
            "both signers make the same token"
        );
        for t in &tokens {
            let mut buf = vec![0u8; 4096];
            assert_eq!(ours::verify(&ring, t, &mut buf), EXP);
            assert_eq!(ours::verify_serde(&ring, t, &mut buf), EXP);
            assert_eq!(jsonwebtoken_impl::verify(&jk, t), EXP);
            assert_eq!(jwt_simple_impl::verify(&sk, t, &so), EXP);
            assert_eq!(jwt_compact_impl::verify(&ck, t, &ct), EXP);
        }

        let mut g = c.benchmark_group(format!("jwt_{name}_{}B", token.len()));
        let floor_key = floor::key();
        g.bench_function("floor_hmac", |b| {
            b.iter(|| black_box(floor::mac(&floor_key, black_box(signing_input.as_bytes()))))
        });
        g.bench_function("sign/auth-core", |b| {
            b.iter(|| black_box(ours::sign(&ring, black_box(&claims), &mut out)))
        });
        g.bench_function("sign/auth-core-serde", |b| {
            b.iter(|| black_box(ours::sign_serde(&ring, black_box(&claims), &mut out)))
        });
        g.bench_function("sign/jsonwebtoken", |b| {
            b.iter(|| black_box(jsonwebtoken_impl::sign(&jk, black_box(&owned))))
        });
        g.bench_function("sign/jwt-simple", |b| {
            b.iter(|| black_box(jwt_simple_impl::sign(&sk, black_box(&owned))))
        });
        g.bench_function("sign/jwt-compact", |b| {
            b.iter(|| black_box(jwt_compact_impl::sign(&ck, black_box(&owned))))
        });
        let mut buf = vec![0u8; 4096];
        g.bench_function("verify/auth-core", |b| {
            b.iter(|| black_box(ours::verify(&ring, black_box(&token), &mut buf)))
        });
        g.bench_function("verify/auth-core-serde", |b| {
            b.iter(|| black_box(ours::verify_serde(&ring, black_box(&token), &mut buf)))
        });
        g.bench_function("verify/jsonwebtoken", |b| {
            b.iter(|| black_box(jsonwebtoken_impl::verify(&jk, black_box(&token))))
        });
        g.bench_function("verify/jwt-simple", |b| {
            b.iter(|| black_box(jwt_simple_impl::verify(&sk, black_box(&token), &so)))
        });
        g.bench_function("verify/jwt-compact", |b| {
            b.iter(|| black_box(jwt_compact_impl::verify(&ck, black_box(&token), &ct)))
        });
        g.finish();
    }
}

/// EdDSA (#27): the same claims signed with RFC 8032 TEST 1's key in every crate; each
/// verifier holds the public key only (jsonwebtoken's built from our JWK).
fn eddsa(c: &mut Criterion) {
    use auth_bench::eddsa::{floor, public};
    for (name, large) in [("small", false), ("large", true)] {
        let owned = owned(large);
        let claims = ours::claims(&owned);
        let signer = eddsa::ours::signer();
        let ring = eddsa::ours::ring();
        let mut out = vec![0u8; 4096];
        let n = eddsa::ours::sign(&signer, &claims, &mut out);
        let token = std::str::from_utf8(&out[..n]).unwrap().to_owned();
        let jk = eddsa::jsonwebtoken_impl::keys();
        let (sp, sv) = eddsa::jwt_simple_impl::keys();
        let so = jwt_simple_impl::options();
        let (ck, cv) = eddsa::jwt_compact_impl::keys();
        let ct = jwt_compact_impl::time_options();
        let tokens = eddsa::tokens(&owned);
        assert_eq!(tokens[0], token);
        tokens.iter().for_each(|t| eddsa::all_accept(t));
        let (input, sig) = floor::split(&token);
        let cpk = ed25519_compact::PublicKey::new(public());
        let dpk = ed25519_dalek::VerifyingKey::from_bytes(&public()).unwrap();
        assert!(floor::compact(&cpk, input, &sig) && floor::dalek(&dpk, input, &sig));

        let mut g = c.benchmark_group(format!("eddsa_{name}_{}B", token.len()));
        g.bench_function("floor_ed25519_compact", |b| {
            b.iter(|| floor::compact(&cpk, black_box(input), black_box(&sig)))
        });
        g.bench_function("floor_ed25519_dalek_strict", |b| {
            b.iter(|| floor::dalek(&dpk, black_box(input), black_box(&sig)))
        });
        g.bench_function("sign/auth-core", |b| {
            b.iter(|| eddsa::ours::sign(&signer, black_box(&claims), &mut out))
        });
        g.bench_function("sign/jsonwebtoken", |b| {
            b.iter(|| eddsa::jsonwebtoken_impl::sign(&jk, black_box(&owned)))
        });
        g.bench_function("sign/jwt-simple", |b| {
            b.iter(|| eddsa::jwt_simple_impl::sign(&sp, black_box(&owned)))
        });
        g.bench_function("sign/jwt-compact", |b| {
            b.iter(|| eddsa::jwt_compact_impl::sign(&ck, black_box(&owned)))
        });
        let mut buf = vec![0u8; 4096];
        g.bench_function("verify/auth-core", |b| {
            b.iter(|| ours::verify(&ring, black_box(&token), &mut buf))
        });
        g.bench_function("verify/jsonwebtoken", |b| {
            b.iter(|| eddsa::jsonwebtoken_impl::verify(&jk, black_box(&token)))
        });
        g.bench_function("verify/jwt-simple", |b| {
            b.iter(|| eddsa::jwt_simple_impl::verify(&sv, black_box(&token), &so))
        });
        g.bench_function("verify/jwt-compact", |b| {
            b.iter(|| eddsa::jwt_compact_impl::verify(&cv, black_box(&token), &ct))
        });
        g.finish();
    }
}

fn sha256(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256_compress");
    let blocks = [[0x5au8; 64]; 16];
    g.throughput(Throughput::Bytes(64 * 16));
    g.bench_function("16_blocks", |b| {
        let mut state = [0x6a09e667u32; 8];
        b.iter(|| {
            sha2::block_api::compress256(&mut state, black_box(&blocks));
            black_box(state[0])
        })
    });
    g.finish();
}

fn kdf(c: &mut Criterion) {
    let ours = kdf::ours();
    assert_eq!(ours, kdf::rustcrypto());
    assert_eq!(ours, kdf::ring());
    let mut g = c.benchmark_group("pbkdf2_600k");
    g.sample_size(10);
    g.bench_function("floor_2_compressions", |b| {
        b.iter(|| black_box(kdf::floor()))
    });
    g.bench_function("auth-core", |b| b.iter(|| black_box(kdf::ours())));
    g.bench_function("rustcrypto_pbkdf2", |b| {
        b.iter(|| black_box(kdf::rustcrypto()))
    });
    g.bench_function("ring", |b| b.iter(|| black_box(kdf::ring())));
    g.finish();
}

criterion_group!(benches, jwt, eddsa, sha256, kdf);
criterion_main!(benches);
