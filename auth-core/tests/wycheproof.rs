//! Wycheproof's JSON Web Signature suite, every HS256 case (41), run through
//! `UntrustedToken::parse` and `KeyRing::verify`: the verdict is whether a `VerifiedToken`
//! comes out.
//!
//! `vectors/wycheproof_jws_hs256.json` is copied from C2SP/wycheproof
//! (`testvectors/json_web_signature_test.json`, commit 061657f1, Apache-2.0); its `source`,
//! `license` and `notes` fields say so and stay with it.

use auth_core::{Hs256Key, KeyRing, UntrustedToken};

mod common;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::fused_agrees_with;

const SUITE: &str = include_str!("vectors/wycheproof_jws_hs256.json");

/// Marked valid by Wycheproof, refused here on purpose: a `?` is inserted into the header
/// (372) or the payload (373) while the MAC covers the original bytes. A lenient decoder that
/// skips the `?` recomputes the MAC over other bytes than the token holds; we compare the MAC
/// over the literal segments and require strict base64url, so both fail.
const STRICTER_ON_PURPOSE: [u64; 2] = [372, 373];

/// Marked invalid by Wycheproof but byte-identical to the valid tcId 357 (a data quirk in the
/// suite): they verify, as 357 does.
const SAME_BYTES_AS_357: [u64; 2] = [367, 370];

#[test]
fn every_hs256_case() {
    let suite: serde_json::Value = serde_json::from_str(SUITE).unwrap();
    assert_eq!(suite["license"], "Apache-2.0 (Wycheproof)");
    let tests = suite["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 41);
    let jws_of = |id: u64| {
        tests.iter().find(|t| t["tcId"] == id).unwrap()["jws"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (mut accepted, mut refused) = (0, 0);
    for t in tests {
        let id = t["tcId"].as_u64().unwrap();
        let jws = t["jws"].as_str().unwrap();
        let secret = URL_SAFE_NO_PAD.decode(t["k"].as_str().unwrap()).unwrap();
        let key = Hs256Key::with_kid(&secret, t["kid"].as_str().unwrap()).unwrap();
        let ring = KeyRing::<1>::new(key).unwrap();
        let verified = UntrustedToken::parse(jws)
            .map_err(|e| e.to_string())
            .and_then(|u| ring.verify(&u).map_err(|e| e.to_string()));
        let labelled_valid = t["result"] == "valid";
        let expect_valid = if STRICTER_ON_PURPOSE.contains(&id) {
            assert!(labelled_valid, "{id}");
            false
        } else if SAME_BYTES_AS_357.contains(&id) {
            assert!(!labelled_valid, "{id}");
            assert_eq!(jws, jws_of(357), "{id} is no longer a copy of 357");
            true
        } else {
            labelled_valid
        };
        assert_eq!(
            verified.is_ok(),
            expect_valid,
            "tcId {id} ({}): {verified:?}",
            t["comment"]
        );
        // The fused decode reaches every verdict with the same error, the cases whose MAC
        // covers a payload with spaces, `#` or non-zero unused bits included (0 bytes: a buffer
        // too short for any payload).
        for len in [0, jws.len()] {
            let _ = fused_agrees_with(&ring, jws, len);
        }
        if let Ok(v) = verified {
            // A verified token always names a well-formed payload segment.
            assert!(URL_SAFE_NO_PAD.decode(v.payload_b64()).is_ok(), "{id}");
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // 8 valid cases plus the two copies of 357.
    assert_eq!((accepted, refused), (10, 31));
}
