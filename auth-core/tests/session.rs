//! Sessions in auth-core (#13): refresh tokens, the refresh decision, the token and revoke
//! forms, and the RFC 6749 §5.2 bodies.

use auth_core::form::{
    Field, FieldErrorKind, TokenRequest, parse_revoke_form, parse_token_form,
    token_request_from_fields,
};
use auth_core::response::{write_oauth_error, write_token_with_refresh};
use auth_core::session::{
    DEFAULT_IDLE, DEFAULT_LIFETIME, OAuthError, REFRESH_TOKEN_LEN, RefreshError, RefreshToken,
    RefreshTokenError, Session, SessionAccount, SessionId, SessionLimits, TokenHash, refresh,
};

struct Counter(u8);

impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unimplemented!()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unimplemented!()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Counter {}

#[test]
fn refresh_tokens_round_trip_and_only_canonical_text_parses() {
    let t = RefreshToken::generate(&mut Counter(0)).unwrap();
    let mut out = [0u8; REFRESH_TOKEN_LEN];
    let text = t.encode(&mut out).unwrap().to_owned();
    assert_eq!(text.len(), 43);
    let back = RefreshToken::parse(text.as_bytes()).unwrap();
    assert!(back.hash().ct_eq(&t.hash()));
    assert_eq!(format!("{t:?}"), "RefreshToken(<redacted>)");
    assert_eq!(format!("{:?}", t.hash()), "TokenHash(<redacted>)");
    // SHA-256 of the 32 bytes 1..=32.
    let bytes: Vec<u8> = (1..=32).collect();
    let expected: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    assert_eq!(t.hash().as_bytes(), &expected);
    // A stored column is a hash only at exactly 32 bytes.
    let stored = TokenHash::from_slice(&expected).unwrap();
    assert!(stored.ct_eq(&t.hash()) && stored.ct_eq(&TokenHash::from_bytes(expected)));
    assert!(TokenHash::from_slice(&expected[..31]).is_none());
    assert!(TokenHash::from_slice(&[0; 33]).is_none());
    // The documented defaults: 30 days absolute, 7 days idle.
    assert_eq!((DEFAULT_LIFETIME, DEFAULT_IDLE), (2_592_000, 604_800));

    let mut short = [0u8; 42];
    assert_eq!(t.encode(&mut short), Err(RefreshTokenError::BufferTooSmall));
    let mut noncanonical = text.clone().into_bytes();
    // The last character carries 2 unused bits: `B` (1) sets one, so no encoder writes it.
    *noncanonical.last_mut().unwrap() = b'B';
    for bad in [
        &b""[..],
        &text.as_bytes()[..42],
        format!("{text}A").as_bytes(),
        &noncanonical,
        "+".repeat(43).as_bytes(),
        "=".repeat(43).as_bytes(),
        "é".repeat(22).as_bytes(),
    ] {
        assert_eq!(
            RefreshToken::parse(bad).unwrap_err(),
            RefreshTokenError::Malformed,
            "{bad:?}"
        );
    }
}

#[test]
fn session_ids_are_22_base64url_characters() {
    let id = SessionId::generate(&mut Counter(7)).unwrap();
    assert_eq!(id.as_str().len(), 22);
    assert!(
        id.as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_ne!(id, SessionId::generate(&mut Counter(8)).unwrap());
}

const NOW: u64 = 1_800_000_000;

fn session(current: &RefreshToken) -> Session<'static> {
    Session {
        current: current.hash(),
        created: NOW - 100,
        last_used: NOW - 10,
        revoked: false,
        scope: "read write",
        presented_rotated_at: None,
        credential_epoch: 3,
    }
}

const ACTIVE: SessionAccount = SessionAccount {
    active: true,
    password_changed: NOW - 1000,
    credential_epoch: 3,
};

#[test]
fn the_refresh_decision() {
    let cur = RefreshToken::from_bytes([1; 32]);
    let old = RefreshToken::from_bytes([2; 32]);
    let limits = SessionLimits::new();
    let ok = |r: Result<_, RefreshError>| r.map(|x: auth_core::session::Rotate<'_>| x.scope);

    assert_eq!(
        ok(refresh(
            &cur,
            None,
            Some(&session(&cur)),
            Some(&ACTIVE),
            &limits,
            NOW
        )),
        Ok("read write")
    );
    assert_eq!(
        ok(refresh(
            &cur,
            Some("read"),
            Some(&session(&cur)),
            Some(&ACTIVE),
            &limits,
            NOW
        )),
        Ok("read")
    );
    let cases: Vec<(
        Session<'static>,
        Option<SessionAccount>,
        Option<&str>,
        RefreshError,
    )> = vec![
        (
            Session {
                revoked: true,
                ..session(&cur)
            },
            Some(ACTIVE),
            None,
            RefreshError::Revoked,
        ),
        (
            Session {
                created: NOW - limits.lifetime,
                ..session(&cur)
            },
            Some(ACTIVE),
            None,
            RefreshError::Expired,
        ),
        (
            Session {
                last_used: NOW - limits.idle,
                ..session(&cur)
            },
            Some(ACTIVE),
            None,
            RefreshError::Idle,
        ),
        (session(&cur), None, None, RefreshError::AccountInactive),
        (
            session(&cur),
            Some(SessionAccount {
                active: false,
                ..ACTIVE
            }),
            None,
            RefreshError::AccountInactive,
        ),
        (
            session(&cur),
            Some(SessionAccount {
                password_changed: NOW - 50,
                ..ACTIVE
            }),
            None,
            RefreshError::PasswordChanged,
        ),
        // A password set in the session's own second, after the login: the times cannot tell,
        // the epoch can.
        (
            session(&cur),
            Some(SessionAccount {
                password_changed: NOW - 100,
                credential_epoch: 4,
                ..ACTIVE
            }),
            None,
            RefreshError::PasswordChanged,
        ),
        // Disabled and enabled again since the login: an older password, a newer epoch.
        (
            session(&cur),
            Some(SessionAccount {
                credential_epoch: 4,
                ..ACTIVE
            }),
            None,
            RefreshError::PasswordChanged,
        ),
        (
            session(&cur),
            Some(ACTIVE),
            Some("read admin"),
            RefreshError::ScopeWider,
        ),
    ];
    for (s, account, scope, want) in cases {
        assert_eq!(
            refresh(&cur, scope, Some(&s), account.as_ref(), &limits, NOW).unwrap_err(),
            want
        );
    }
    assert_eq!(
        refresh(&cur, None, None, Some(&ACTIVE), &limits, NOW).unwrap_err(),
        RefreshError::Unknown
    );
    // The password set in the session's own second, before the login (the epoch the session
    // started under): the session lives. Without epochs (both 0) the times decide as before.
    for epoch in [3, 0] {
        let account = SessionAccount {
            password_changed: NOW - 100,
            credential_epoch: epoch,
            ..ACTIVE
        };
        let s = Session {
            credential_epoch: epoch,
            ..session(&cur)
        };
        assert_eq!(
            ok(refresh(&cur, None, Some(&s), Some(&account), &limits, NOW)),
            Ok("read write")
        );
    }

    // A rotated-out token: reuse, even on an expired session; within a grace, only refused.
    let rotated = Session {
        presented_rotated_at: Some(NOW - 1),
        ..session(&cur)
    };
    assert_eq!(
        refresh(&old, None, Some(&rotated), Some(&ACTIVE), &limits, NOW).unwrap_err(),
        RefreshError::Reuse
    );
    let expired = Session {
        created: 0,
        ..rotated
    };
    assert_eq!(
        refresh(&old, None, Some(&expired), Some(&ACTIVE), &limits, NOW).unwrap_err(),
        RefreshError::Reuse
    );
    let grace = SessionLimits {
        reuse_grace: 2,
        ..limits
    };
    assert_eq!(
        refresh(&old, None, Some(&rotated), Some(&ACTIVE), &grace, NOW).unwrap_err(),
        RefreshError::RecentlyRotated
    );
    assert_eq!(
        refresh(&old, None, Some(&rotated), Some(&ACTIVE), &grace, NOW + 2).unwrap_err(),
        RefreshError::Reuse
    );
    // The grace is the seconds after the rotation, exclusive: 2 s later is reuse, and with no
    // grace (the default) so is the same second.
    assert_eq!(
        refresh(&old, None, Some(&rotated), Some(&ACTIVE), &grace, NOW + 1).unwrap_err(),
        RefreshError::Reuse
    );
    assert_eq!(
        refresh(&old, None, Some(&rotated), Some(&ACTIVE), &limits, NOW - 1).unwrap_err(),
        RefreshError::Reuse
    );
    // A session that names neither token: nothing to act on.
    assert_eq!(
        refresh(
            &old,
            None,
            Some(&session(&cur)),
            Some(&ACTIVE),
            &limits,
            NOW
        )
        .unwrap_err(),
        RefreshError::Unknown
    );

    for e in [
        RefreshError::Reuse,
        RefreshError::AccountInactive,
        RefreshError::PasswordChanged,
    ] {
        assert!(e.revokes_session(), "{e}");
        assert_eq!(e.oauth(), OAuthError::INVALID_GRANT);
    }
    for e in [
        RefreshError::Unknown,
        RefreshError::Revoked,
        RefreshError::Expired,
        RefreshError::Idle,
        RefreshError::RecentlyRotated,
    ] {
        assert!(!e.revokes_session(), "{e}");
        assert_eq!(e.oauth(), OAuthError::INVALID_GRANT);
    }
    assert_eq!(RefreshError::ScopeWider.oauth(), OAuthError::INVALID_SCOPE);
    let h = TokenHash::from_slice(&[0; 31]);
    assert!(h.is_none());
}

#[test]
fn token_and_revoke_forms() {
    let mut buf = [0u8; 256];
    match parse_token_form(
        b"grant_type=refresh_token&refresh_token=abc%2B&scope=a+b",
        &mut buf,
    ) {
        Ok(TokenRequest::Refresh(f)) => {
            assert_eq!(f.refresh_token, "abc+");
            assert_eq!(f.scope, Some("a b"));
            assert!(!format!("{f:?}").contains("abc"));
        }
        other => panic!("{other:?}"),
    }
    let mut buf = [0u8; 256];
    assert!(matches!(
        parse_token_form(b"username=a&password=b", &mut buf),
        Ok(TokenRequest::Password(_))
    ));
    let mut buf = [0u8; 256];
    let e = parse_token_form(b"grant_type=refresh_token", &mut buf).unwrap_err();
    assert_eq!(e.errors()[0].field, Field::RefreshToken);
    assert_eq!(e.errors()[0].kind, FieldErrorKind::Missing);
    let mut buf = [0u8; 256];
    let e = parse_token_form(
        b"grant_type=refresh_token&refresh_token=a&refresh_token=b",
        &mut buf,
    )
    .unwrap_err();
    assert_eq!(e.errors()[0].kind, FieldErrorKind::Repeated);
    // The password form's own parser still ignores refresh_token, as an unknown field.
    let mut buf = [0u8; 256];
    assert!(
        auth_core::form::parse_login_form(
            b"username=a&password=b&refresh_token=1&refresh_token=2",
            &mut buf
        )
        .is_ok()
    );
    // Multipart gets the same rules.
    assert!(matches!(
        token_request_from_fields([
            ("grant_type", &b"refresh_token"[..]),
            ("refresh_token", &b"xyz"[..])
        ]),
        Ok(TokenRequest::Refresh(_))
    ));

    let mut buf = [0u8; 256];
    let f = parse_revoke_form(b"token=t%41&token_type_hint=access_token", &mut buf).unwrap();
    assert_eq!((f.token, f.token_type_hint), ("tA", Some("access_token")));
    assert!(!format!("{f:?}").contains("tA"));
    let mut buf = [0u8; 256];
    let e = parse_revoke_form(b"token_type_hint=x", &mut buf).unwrap_err();
    assert_eq!(e.errors()[0].kind, FieldErrorKind::Missing);
    let mut buf = [0u8; 256];
    let e = parse_revoke_form(b"token=a&token=b", &mut buf).unwrap_err();
    assert_eq!(e.errors()[0].kind, FieldErrorKind::Repeated);
}

#[test]
fn token_and_error_bodies() {
    let mut out = heapless::Vec::<u8, 256>::new();
    write_token_with_refresh("a.b.c", 2700, "r\"t", &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"access_token":"a.b.c","token_type":"bearer","expires_in":2700,"refresh_token":"r\"t"}"#
    );
    let mut out = heapless::Vec::<u8, 256>::new();
    write_oauth_error(&OAuthError::INVALID_GRANT, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["error_description"].is_string());
}

/// The form edges a mutation run found untested: which errors are a refresh grant's (the
/// server answers those with an RFC 6749 §5.2 body, the others with a 422), a buffer exactly
/// as long as the raw values, and what the client-side encoder writes for each class of byte.
#[test]
fn form_edges() {
    let mut buf = [0u8; 256];
    let e = parse_token_form(b"grant_type=refresh_token", &mut buf).unwrap_err();
    assert!(e.is_refresh_grant());
    let mut buf = [0u8; 256];
    let e = parse_token_form(
        b"grant_type=refresh_token&refresh_token=a&scope=%00",
        &mut buf,
    )
    .unwrap_err();
    assert!(e.is_refresh_grant(), "{e:?}");
    let mut buf = [0u8; 256];
    let e = parse_token_form(b"username=alice", &mut buf).unwrap_err();
    assert!(!e.is_refresh_grant());

    // The values' raw lengths are 5 and 8 (`s%20cret` decodes to 6). Room is checked by the
    // raw length: a buffer of 13 takes them, one of 12 does not.
    let body = b"username=alice&password=s%20cret";
    let mut exact = [0u8; 5 + 8];
    assert!(matches!(
        parse_token_form(body, &mut exact),
        Ok(TokenRequest::Password(f)) if f.username == "alice" && f.password == "s cret"
    ));
    let mut short = [0u8; 5 + 7];
    let e = parse_token_form(body, &mut short).unwrap_err();
    assert_eq!(e.errors()[0].kind, FieldErrorKind::TooLarge);

    let mut out = [0u8; 64];
    assert_eq!(
        auth_core::form::encode_component(b"aZ09-._* ~/\xc3\xbc", &mut out),
        Some("aZ09-._*+%7E%2F%C3%BC")
    );
    let mut tiny = [0u8; 2];
    assert_eq!(auth_core::form::encode_component(b"/", &mut tiny), None);
}
