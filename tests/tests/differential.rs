//! Differential tests for the places auth-core does a crate's job itself: the header's JSON
//! syntax check (against `serde_json`), the payload's base64url check and codec (against the
//! `base64` crate), and HMAC-SHA256 over `sha2`'s compression function (against the `hmac`
//! crate, #26). Each must give exactly the crate's answers. The `json_syntax`,
//! `b64_differential` and `hmac_differential` fuzz targets run them under libFuzzer.

use auth_core::fuzzing::{
    MAX_CHECK_DEPTH, b64_decode, b64_decode_narrow, b64_encode, b64_encode_narrow,
    b64_is_canonical, b64_is_canonical_narrow, hmac_sha256, json_syntax_ok, phc_agrees,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

fn serde_json_accepts(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

fn json_ish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{", "}", "[", "]", "\"", "\\", ":", ",", " ", "\n", "0", "1", "9", "-", "+", ".", "e",
        "E", "true", "false", "null", "tru", "a", "u", "00e9", "\u{1}", "\"a\"", "\"k\":", "\\u",
        "\\n", "\\x", "/", "é",
    ]);
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

fn value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~\u{7f}-\u{10ffff}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\\\\\"]{0,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn json_check_agrees_with_serde_json_on_json_ish_text(s in json_ish()) {
        prop_assert_eq!(json_syntax_ok(s.as_bytes(), MAX_CHECK_DEPTH), serde_json_accepts(&s), "{}", s);
    }

    #[test]
    fn json_check_agrees_with_serde_json_on_valid_json_and_its_edits(
        v in value(),
        at in any::<prop::sample::Index>(),
        b in any::<u8>(),
        pretty in any::<bool>(),
    ) {
        let text = if pretty {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        }
        .unwrap();
        prop_assert!(json_syntax_ok(text.as_bytes(), MAX_CHECK_DEPTH), "{}", text);
        let mut edited = text.into_bytes();
        let i = at.index(edited.len());
        edited[i] = b;
        if let Ok(s) = std::str::from_utf8(&edited) {
            prop_assert_eq!(json_syntax_ok(s.as_bytes(), MAX_CHECK_DEPTH), serde_json_accepts(s), "{}", s);
        }
    }

    #[test]
    fn payload_check_agrees_with_the_base64_crate(s in "[A-Za-z0-9_\\-+/= #?.\u{0}\u{80}]{0,13}") {
        let theirs = URL_SAFE_NO_PAD.decode(&s).is_ok();
        prop_assert_eq!(b64_is_canonical(s.as_bytes()), theirs, "{:?}", s);
        prop_assert_eq!(b64_is_canonical_narrow(s.as_bytes()), theirs, "device check: {:?}", s);
    }

    #[test]
    fn decoder_agrees_with_the_base64_crate(s in "[A-Za-z0-9_\\-+/= .\u{0}\u{80}]{0,40}", extra in 0usize..3) {
        let mut out = vec![0u8; s.len() + 3];
        let ours = b64_decode(s.as_bytes(), &mut out);
        let theirs = URL_SAFE_NO_PAD.decode(&s).ok();
        let mut narrow = vec![0u8; s.len() + 3];
        prop_assert_eq!(b64_decode_narrow(s.as_bytes(), &mut narrow), ours, "device decoder: {:?}", s);
        prop_assert_eq!(&narrow[..ours.unwrap_or(0)], &out[..ours.unwrap_or(0)]);
        prop_assert_eq!(ours, theirs.as_ref().map(Vec::len), "{:?}", s);
        if let Some(t) = theirs {
            prop_assert_eq!(&out[..t.len()], &t[..]);
            // Exactly the decoded length is enough; one byte less is refused.
            let mut exact = vec![0u8; t.len() + extra];
            prop_assert_eq!(b64_decode(s.as_bytes(), &mut exact), Some(t.len()));
            if !t.is_empty() {
                prop_assert_eq!(b64_decode(s.as_bytes(), &mut exact[..t.len() - 1]), None);
            }
        }
    }

    #[test]
    fn encoder_agrees_with_the_base64_crate(data in prop::collection::vec(any::<u8>(), 0..100)) {
        let mut out = vec![0u8; data.len() * 2 + 4];
        let n = b64_encode(&data, &mut out).unwrap();
        prop_assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), URL_SAFE_NO_PAD.encode(&data));
        let m = b64_encode_narrow(&data, &mut out).unwrap();
        prop_assert_eq!(std::str::from_utf8(&out[..m]).unwrap(), URL_SAFE_NO_PAD.encode(&data));
    }

    #[test]
    fn hmac_agrees_with_the_hmac_crate(
        key in prop::collection::vec(any::<u8>(), 0..150),
        msg in prop::collection::vec(any::<u8>(), 0..400),
        split in 0usize..400,
    ) {
        use hmac::{KeyInit, Mac};
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        m.update(&msg);
        let want: [u8; 32] = m.finalize().into_bytes().into();
        prop_assert_eq!(hmac_sha256(&key, &msg, split), want);
    }

    #[test]
    fn every_encoding_passes_the_payload_check(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let encoded = URL_SAFE_NO_PAD.encode(&data);
        prop_assert!(b64_is_canonical(encoded.as_bytes()));
        prop_assert!(b64_is_canonical_narrow(encoded.as_bytes()));
    }
}

/// Every single-character deletion, and every substitution and insertion from an alphabet
/// of the characters PHC strings are made of, of each seed: the field-by-field parse and
/// `phc::PasswordHash::new` give the same answer on all of them.
#[test]
fn phc_parse_agrees_with_password_hash_on_every_one_edit() {
    let seeds = [
        "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g",
        "$pbkdf2-sha256$i=29000$N2ZlM2Q$cGFzc3dvcmRoYXNocGFzc3dvcmRoYXNo",
        "$pbkdf2-sha256$v=19$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g",
        "$pbkdf2-sha256$l=32,i=1000$MDEyMzQ1Njc4OWFiY2RlZg",
        "$pbkdf2-sha256$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g",
        "$pbkdf2-sha256$i=1000,i=1000$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g$",
    ];
    let alphabet = "$=,.+/-_0129ailvAZaz ";
    let mut checked = 0;
    for seed in seeds {
        let mut variants = vec![seed.to_string()];
        for i in 0..seed.len() {
            let (head, tail) = seed.split_at(i);
            variants.push(format!("{head}{}", &tail[1..]));
            for c in alphabet.chars() {
                variants.push(format!("{head}{c}{}", &tail[1..]));
                variants.push(format!("{head}{c}{tail}"));
            }
        }
        for v in variants.iter().filter(|v| v.starts_with("$pbkdf2-sha256$")) {
            assert!(phc_agrees(v), "{v}");
            checked += 1;
        }
    }
    assert!(checked > 5_000, "{checked}");
    // The seeds themselves reach both outcomes.
    assert!(auth_core::password::StoredHash::parse(seeds[0]).is_ok());
    assert!(auth_core::password::StoredHash::parse(seeds[2]).is_err());
}
