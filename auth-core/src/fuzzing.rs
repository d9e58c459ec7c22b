//! The few accessors the fuzz harnesses (`fuzz/harness/`) and the differential tests need to
//! reach checks that are not public. Hidden, behind the `fuzzing` feature; nothing else.
/// `json_check::check_syntax` (private), for the differential test and fuzz target against
/// `serde_json`.
pub fn json_syntax_ok(json: &[u8], max_depth: u32) -> bool {
    crate::json_check::check_syntax(json, max_depth).is_ok()
}

/// Deepest depth [`json_syntax_ok`] checks.
pub const MAX_CHECK_DEPTH: u32 = crate::json_check::MAX_CHECK_DEPTH;

/// The pre-MAC payload encoding check, for the differential test against the `base64` crate.
pub fn b64_is_canonical(seg: &[u8]) -> bool {
    crate::b64::is_canonical(seg)
}

/// The device's payload encoding check (`b64::is_canonical_narrow`, what 32-bit targets run),
/// likewise.
pub fn b64_is_canonical_narrow(seg: &[u8]) -> bool {
    crate::b64::is_canonical_narrow(seg)
}

/// The token-segment base64url decoder (`b64::decode`), for the differential fuzz target and
/// test against the `base64` crate.
pub fn b64_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    crate::b64::decode(input, out)
}

/// The device's base64url decoder (`b64::decode_narrow`, what 32-bit targets run), likewise.
pub fn b64_decode_narrow(input: &[u8], out: &mut [u8]) -> Option<usize> {
    crate::b64::decode_narrow(input, out)
}

/// The device's base64url encoder (`b64::encode_narrow`), likewise.
pub fn b64_encode_narrow(input: &[u8], out: &mut [u8]) -> Option<usize> {
    crate::b64::encode_narrow(input, out)
}

/// The token-segment base64url encoder (`b64::encode`), likewise.
pub fn b64_encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    crate::b64::encode(input, out)
}

/// Whether the PHC parser agrees with the `phc` crate's `PasswordHash::new` on `s` (which must
/// start with `$pbkdf2-sha256$`): the same error, or the same parameters, salt and output.
pub fn phc_agrees(s: &str) -> bool {
    crate::password::StoredHash::phc_agrees(s)
}

/// A parsed stored hash's salt length, for the `password_hash` harness's cap check.
pub fn stored_salt_len(h: &crate::password::StoredHash) -> usize {
    h.salt().len()
}

/// The claims scanner over decoded payload JSON, reading [`crate::Claims`]' members, with a
/// callback for the others: for the `claims_differential` fuzz target.
pub fn scan_claims<'a>(
    json: &'a [u8],
    other: impl FnMut(crate::JsonStr<'a>, crate::jwt::Value<'a>) -> Result<(), crate::ClaimsError>,
) -> Result<crate::Claims<'a>, crate::ClaimsError> {
    let mut claims = crate::Claims::new();
    crate::jwt::scan::scan(json, &mut claims, other)?;
    Ok(claims)
}

/// The serde path over decoded payload JSON (what `VerifiedToken::claims` runs after base64url),
/// the scanner's reference.
pub fn serde_claims<'a, C: serde::Deserialize<'a>>(
    json: &'a [u8],
    scratch: &'a mut [u8],
) -> Result<C, crate::ClaimsError> {
    crate::jwt::serde_claims(json, scratch)
}

/// The header parser as it was before #26 (serde-json-core over `RawHeader`), kept as the
/// reference the scanner-based checked path is compared with in the `claims_differential`
/// target: the same verdict and `kid` for every decoded header.
pub fn header_reference(
    json: &[u8],
) -> Result<(crate::Algorithm, Option<crate::jwt::Kid>), crate::ParseError> {
    use crate::ParseError;
    use crate::json_check::{self, JsonCheckError};
    core::str::from_utf8(json).map_err(|_| ParseError::HeaderJson)?;
    json_check::check_syntax(json, crate::jwt::MAX_HEADER_DEPTH).map_err(|e| match e {
        JsonCheckError::TooDeep => ParseError::HeaderNesting,
        JsonCheckError::Syntax => ParseError::HeaderJson,
    })?;
    let (h, _) = serde_json_core::from_slice::<reference::RawHeader<'_>>(json)
        .map_err(|_| ParseError::HeaderJson)?;
    crate::jwt::judge_header(Some(h.alg), h.typ, h.kid, h.crit)
}

/// The scanner-based checked header path, and the fixed-header fast path in front of it.
pub fn header_ours(
    json: &[u8],
) -> Result<(crate::Algorithm, Option<crate::jwt::Kid>), crate::ParseError> {
    crate::jwt::parse_decoded_header(json)
}

mod reference {
    use serde::Deserialize;
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

    use crate::json::JsonStr;

    /// A member name as written, escapes included: map keys are read with `deserialize_str`, the
    /// one way `serde-json-core` supports for them.
    struct RawName<'a>(&'a str);

    impl<'de> Deserialize<'de> for RawName<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = RawName<'de>;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("a member name")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(RawName(v))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// The members the verifier reads. Names are compared *decoded* (`"\u0061lg"` is `alg`), and a
    /// member read twice is refused, so no spelling of a name can hide from these checks. Other
    /// members are ignored, however often they appear: ignoring them is the same whichever copy
    /// would win.
    pub(super) struct RawHeader<'a> {
        pub(super) alg: JsonStr<'a>,
        pub(super) typ: Option<JsonStr<'a>>,
        pub(super) kid: Option<JsonStr<'a>>,
        pub(super) crit: bool,
    }

    impl<'de> Deserialize<'de> for RawHeader<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = RawHeader<'de>;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("a jose header")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    fn once<'de, A: MapAccess<'de>>(
                        map: &mut A,
                        slot: &mut Option<JsonStr<'de>>,
                    ) -> Result<(), A::Error> {
                        if slot.is_some() {
                            return Err(de::Error::custom("duplicate member"));
                        }
                        *slot = Some(map.next_value()?);
                        Ok(())
                    }
                    let (mut alg, mut typ, mut kid, mut crit) = (None, None, None, false);
                    while let Some(RawName(raw)) = map.next_key()? {
                        let name = JsonStr::from_raw_json(raw)
                            .ok_or_else(|| de::Error::custom("invalid member name"))?;
                        if name == "alg" {
                            once(&mut map, &mut alg)?;
                        } else if name == "typ" {
                            once(&mut map, &mut typ)?;
                        } else if name == "kid" {
                            once(&mut map, &mut kid)?;
                        } else {
                            if name == "crit" {
                                if crit {
                                    return Err(de::Error::custom("duplicate member"));
                                }
                                crit = true;
                            }
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    let alg = alg.ok_or_else(|| de::Error::missing_field("alg"))?;
                    Ok(RawHeader {
                        alg,
                        typ,
                        kid,
                        crit,
                    })
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// The RFC 8032 signature `key` makes of `message`: the `eddsa_verify` target's oracle.
#[cfg(feature = "eddsa")]
pub fn ed25519_signature(key: &crate::Ed25519Key, message: &[u8]) -> [u8; 64] {
    key.signature(message)
}

/// Both Ed25519 backends' answers on one signature, `(compact, dalek)`: the differential test's
/// and the `eddsa_verify` target's cross-check. `None` when `public` is not a key either takes.
#[cfg(feature = "eddsa-fast")]
pub fn ed25519_backends(
    public: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> Option<(bool, bool)> {
    let key = crate::Ed25519PublicKey::new(public).ok()?;
    Some((
        key.verify_compact(message, signature).is_ok(),
        key.verify_dalek(message, signature).is_ok(),
    ))
}

/// Both backends' RFC 8032 signatures from one seed, `(compact, dalek)`: the differential
/// test's check that `eddsa-fast` signs the same bytes.
#[cfg(all(feature = "eddsa-fast", feature = "sign"))]
pub fn ed25519_signatures(seed: &[u8; 32], message: &[u8]) -> ([u8; 64], [u8; 64]) {
    use ed25519_dalek::Signer as _;
    let compact = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
    let dalek = ed25519_dalek::SigningKey::from_bytes(seed);
    (
        *compact.sk.sign(message, None),
        dalek.sign(message).to_bytes(),
    )
}

/// HMAC-SHA256 as auth-core computes it (`mac::Pads`, over `sha2`'s compression function), for
/// the differential test and fuzz target against the `hmac` crate. Streams `msg` in two pieces,
/// split at `split`.
pub fn hmac_sha256(key: &[u8], msg: &[u8], split: usize) -> [u8; 32] {
    let pads = crate::mac::Pads::new(key);
    let (a, b) = msg.split_at(split.min(msg.len()));
    let mut m = pads.begin();
    m.update(a);
    m.update(b);
    let streamed = m.finalize();
    let one_shot = pads.mac(msg);
    if streamed == one_shot && pads.verify(msg, &one_shot) {
        one_shot
    } else {
        [0; 32]
    }
}

/// Whether the host's JSON object walk and the device's (built here for this check) agree on
/// `json`: the same verdict and the same members (`jwt::scan::walks_agree`).
pub fn walks_agree(json: &[u8]) -> bool {
    crate::jwt::scan::walks_agree(json)
}
