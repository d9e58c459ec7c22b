//! One operation of the JWT bench, run N times, for profilers and instruction counts
//! (`perf record`, `valgrind --tool=callgrind`): `ops <op> <small|large> <n>`, op one of floor,
//! verify, verify_serde, sign, sign_serde, and for EdDSA (#27) ed_verify, ed_verify_compact
//! (jwt-compact's, on the same token), ed_floor_compact, ed_sign. Prints the last result so
//! nothing is optimized away.
use std::hint::black_box;

use auth_bench::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (op, size, n) = (&args[1], &args[2], args[3].parse::<usize>().unwrap());
    let owned = owned(size == "large");
    let ring = ours::ring();
    let claims = ours::claims(&owned);
    let mut out = vec![0u8; 4096];
    let len = ours::sign(&ring, &claims, &mut out);
    let token = std::str::from_utf8(&out[..len]).unwrap().to_owned();
    let signing_input = token[..token.rfind('.').unwrap()].to_owned();
    let key = floor::key();
    let mut buf = vec![0u8; 4096];
    let ed_signer = eddsa::ours::signer();
    let ed_ring = eddsa::ours::ring();
    let ed_len = eddsa::ours::sign(&ed_signer, &claims, &mut out);
    let ed_token = std::str::from_utf8(&out[..ed_len]).unwrap().to_owned();
    let (_, ed_cv) = eddsa::jwt_compact_impl::keys();
    let ct = jwt_compact_impl::time_options();
    let (ed_input, ed_sig) = eddsa::floor::split(&ed_token);
    let ed_input = ed_input.to_owned();
    let cpk = ed25519_compact::PublicKey::new(eddsa::public());
    let mut acc = 0u64;
    for _ in 0..n {
        acc = acc.wrapping_add(match op.as_str() {
            "floor" => floor::mac(&key, black_box(signing_input.as_bytes()))[0] as u64,
            "verify" => ours::verify(&ring, black_box(&token), &mut buf),
            "verify_serde" => ours::verify_serde(&ring, black_box(&token), &mut buf),
            "sign" => ours::sign(&ring, black_box(&claims), &mut out) as u64,
            "sign_serde" => ours::sign_serde(&ring, black_box(&claims), &mut out) as u64,
            "ed_verify" => ours::verify(&ed_ring, black_box(&ed_token), &mut buf),
            "ed_verify_compact" => {
                eddsa::jwt_compact_impl::verify(&ed_cv, black_box(&ed_token), &ct)
            }
            "ed_floor_compact" => eddsa::floor::compact(&cpk, black_box(&ed_input), &ed_sig) as u64,
            "ed_sign" => eddsa::ours::sign(&ed_signer, black_box(&claims), &mut out) as u64,
            _ => panic!("unknown op {op}"),
        });
    }
    println!("{acc}");
}
