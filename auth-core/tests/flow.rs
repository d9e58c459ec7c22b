//! The password flow end to end inside the core: form → login → token → authorize → account,
//! with every outcome's status, headers and body.

use auth_core::contract::{write_dashboard, write_secure_resource};
use auth_core::flow::{
    Account, AuthError, FlowConfig, LoginError, SubjectClaim, authorize, check_account, login,
};
use auth_core::form::{Field, FieldError, FieldErrorKind, encode_component, parse_login_form};
use auth_core::password::{Policy, StoredHash, hash_password};
use auth_core::response::{Reply, write_detail, write_form_errors, write_json_str, write_token};
use auth_core::{Hs256Key, KeyRing, StoredHashError};

const NOW: u64 = 1_764_331_200;

fn ring() -> KeyRing<2> {
    KeyRing::new(Hs256Key::with_kid(b"0123456789abcdef0123456789abcdef", "k1").unwrap()).unwrap()
}

fn config() -> FlowConfig<'static> {
    FlowConfig {
        policy: Policy::new().with_rounds(1000),
        ..FlowConfig::new()
    }
}

fn stored(password: &str) -> StoredHash {
    let mut out = [0u8; 128];
    let text = hash_password(
        password.as_bytes(),
        b"0123456789abcdef",
        &Policy::new().with_rounds(1000),
        &mut out,
    )
    .unwrap();
    StoredHash::parse(text).unwrap()
}

fn body<F: FnOnce(&mut heapless::Vec<u8, 1024>)>(f: F) -> String {
    let mut v = heapless::Vec::<u8, 1024>::new();
    f(&mut v);
    String::from_utf8(v.to_vec()).unwrap()
}

#[test]
fn form_decodes_percent_plus_and_utf8() {
    let mut buf = [0u8; 256];
    let form = parse_login_form(
        b"grant_type=password&username=alice&password=p%40ss+w%26rd%3D%C3%BC%2B1&scope=read+write&client_id=cli",
        &mut buf,
    )
    .unwrap();
    assert_eq!(form.username, "alice");
    assert_eq!(form.password, "p@ss w&rd=ü+1");
    assert_eq!(form.scopes().collect::<Vec<_>>(), ["read", "write"]);
    assert_eq!(form.client_id, Some("cli"));
    assert_eq!(form.client_secret, None);
    assert!(
        !format!("{form:?}").contains("p@ss"),
        "Debug hides the password"
    );
    // Encoded keys, unknown fields, empty pairs and an empty grant_type are fine.
    let mut buf = [0u8; 256];
    let form = parse_login_form(
        b"&user%6Eame=bob&&x=%ZZ&password=pw&grant_type=&extra",
        &mut buf,
    )
    .unwrap();
    assert_eq!((form.username, form.password), ("bob", "pw"));
    // Percent escapes in either case of hex digit.
    let mut buf = [0u8; 256];
    let form = parse_login_form(b"username=a%2fb%2Fc&password=%c3%bc%C3%BC", &mut buf).unwrap();
    assert_eq!((form.username, form.password), ("a/b/c", "üü"));
}

#[test]
fn form_errors_name_their_fields() {
    type Case<'a> = (&'a [u8], &'a [(Field, FieldErrorKind)]);
    let cases: [Case<'_>; 10] = [
        (
            b"",
            &[
                (Field::Username, FieldErrorKind::Missing),
                (Field::Password, FieldErrorKind::Missing),
            ],
        ),
        (
            b"username=&password=x",
            &[(Field::Username, FieldErrorKind::Missing)],
        ),
        (b"username=a", &[(Field::Password, FieldErrorKind::Missing)]),
        (
            br#"{"username":"a","password":"b"}"#,
            &[
                (Field::Username, FieldErrorKind::Missing),
                (Field::Password, FieldErrorKind::Missing),
            ],
        ),
        (
            b"username=a&password=b&username=c",
            &[(Field::Username, FieldErrorKind::Repeated)],
        ),
        (
            b"username=a&password=b&scope=x&scope=y",
            &[(Field::Scope, FieldErrorKind::Repeated)],
        ),
        (
            b"username=a&password=%G1",
            &[(Field::Password, FieldErrorKind::InvalidEncoding)],
        ),
        (
            b"username=%FF&password=b",
            &[(Field::Username, FieldErrorKind::InvalidEncoding)],
        ),
        (
            b"username=a&password=%2",
            &[(Field::Password, FieldErrorKind::InvalidEncoding)],
        ),
        (
            b"grant_type=client_credentials&password=b",
            &[
                (Field::GrantType, FieldErrorKind::PatternMismatch),
                (Field::Username, FieldErrorKind::Missing),
            ],
        ),
    ];
    for (input, expected) in cases {
        let mut buf = [0u8; 256];
        let err = parse_login_form(input, &mut buf).unwrap_err();
        let got: Vec<(Field, FieldErrorKind)> = err
            .errors()
            .iter()
            .map(|FieldError { field, kind }| (*field, *kind))
            .collect();
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(input));
    }
    let mut buf = [0u8; 4];
    assert_eq!(
        parse_login_form(b"username=abcdefgh&password=x", &mut buf)
            .unwrap_err()
            .errors(),
        &[FieldError {
            field: Field::Username,
            kind: FieldErrorKind::TooLarge
        }]
    );
}

#[test]
fn form_422_bodies_match_fastapi() {
    let mut buf = [0u8; 64];
    let err = parse_login_form(b"grant_type=\"x\\&password=p", &mut buf).unwrap_err();
    assert_eq!(
        body(|w| write_form_errors(&err, w).unwrap()),
        r#"{"detail":[{"type":"string_pattern_mismatch","loc":["body","grant_type"],"msg":"String should match pattern '^password$'","input":"\"x\\","ctx":{"pattern":"^password$"}},{"type":"missing","loc":["body","username"],"msg":"Field required","input":null}]}"#
    );
    let mut buf = [0u8; 64];
    let err = parse_login_form(b"username=a&password=%XX", &mut buf).unwrap_err();
    assert_eq!(
        body(|w| write_form_errors(&err, w).unwrap()),
        r#"{"detail":[{"type":"invalid_encoding","loc":["body","password"],"msg":"Invalid percent-encoding or UTF-8","input":null}]}"#
    );
}

#[test]
fn an_over_long_password_is_a_field_error() {
    use auth_core::password::MAX_PASSWORD_LEN;
    let mut form = b"username=a&password=".to_vec();
    form.resize(form.len() + MAX_PASSWORD_LEN, b'x');
    let mut buf = vec![0u8; form.len()];
    assert!(
        parse_login_form(&form, &mut buf).is_ok(),
        "the limit itself is fine"
    );
    form.push(b'x');
    let mut buf = vec![0u8; form.len()];
    let err = parse_login_form(&form, &mut buf).unwrap_err();
    assert_eq!(
        err.errors(),
        &[FieldError {
            field: Field::Password,
            kind: FieldErrorKind::TooLong
        }]
    );
    assert_eq!(
        body(|w| write_form_errors(&err, w).unwrap()),
        r#"{"detail":[{"type":"string_too_long","loc":["body","password"],"msg":"String should have at most 4096 bytes","input":null,"ctx":{"max_length":4096}}]}"#
    );
}

#[test]
fn encode_then_parse_round_trips() {
    for s in ["", "a b", "p@ss w&rd=ü+1", "%%%", "\u{0}\u{7f}😀", "=&=&"] {
        let mut enc = [0u8; 256];
        let e = encode_component(s.as_bytes(), &mut enc).unwrap().to_owned();
        let body = format!("username=u&password=x{e}");
        let mut buf = [0u8; 256];
        let form = parse_login_form(body.as_bytes(), &mut buf).unwrap();
        assert_eq!(form.password, format!("x{s}"));
    }
}

fn form_for<'b>(user: &str, pass: &str, buf: &'b mut [u8]) -> auth_core::form::LoginForm<'b> {
    let mut a = [0u8; 128];
    let mut b = [0u8; 128];
    let body = format!(
        "username={}&password={}",
        encode_component(user.as_bytes(), &mut a).unwrap(),
        encode_component(pass.as_bytes(), &mut b).unwrap()
    );
    let owned: &'static [u8] = Box::leak(body.into_bytes().into_boxed_slice());
    parse_login_form(owned, buf).unwrap()
}

/// Logs `user` in (password "pw", active account) and returns the token.
fn issue(user: &str) -> String {
    let hash = stored("pw");
    let account = Account {
        stored_hash: &hash,
        active: true,
    };
    let mut fbuf = [0u8; 256];
    let form = form_for(user, "pw", &mut fbuf);
    let mut out = [0u8; 512];
    login(
        form.username,
        form.password.as_bytes(),
        Some(&account),
        &ring(),
        &config(),
        NOW,
        &mut out,
    )
    .unwrap()
    .token
    .to_owned()
}

#[test]
fn login_then_authorize() {
    let hash = stored("s3cret");
    let account = Account {
        stored_hash: &hash,
        active: true,
    };
    // An account in a log line names neither its hash nor its salt.
    assert_eq!(
        format!("{account:?}"),
        r#"Account { stored_hash: "<redacted>", active: true }"#
    );
    let mut fbuf = [0u8; 128];
    let form = form_for("alice", "s3cret", &mut fbuf);
    let mut out = [0u8; 512];
    let issued = login(
        form.username,
        form.password.as_bytes(),
        Some(&account),
        &ring(),
        &config(),
        NOW,
        &mut out,
    )
    .unwrap();
    assert_eq!(issued.expires_in, 2700);
    assert!(!issued.needs_rehash);
    let token = issued.token.to_owned();
    assert_eq!(
        body(|w| write_token(&token, issued.expires_in, w).unwrap()),
        format!(r#"{{"access_token":"{token}","token_type":"bearer","expires_in":2700}}"#)
    );
    assert_eq!((Reply::TOKEN.status, Reply::TOKEN.no_store), (200, true));

    let header = format!("Bearer {token}");
    let mut buf = [0u8; 1024];
    let ok = authorize(
        Some(header.as_bytes()),
        &ring(),
        &config(),
        NOW + 60,
        &mut buf,
    )
    .unwrap();
    assert_eq!(ok.subject, "alice");
    assert_eq!(
        ok.token, token,
        "the token as sent, for the caller's response"
    );
    assert_eq!(check_account(Some(&account)), Ok(()));
    assert_eq!(
        body(|w| write_dashboard("alice", w).unwrap()),
        r#"{"owner":"alice","view":"allowed"}"#
    );
    assert_eq!(
        body(|w| write_secure_resource(&token, w).unwrap()),
        format!(
            r#"{{"status":"success","received_token_prefix":"{}..."}}"#,
            &token[..8]
        )
    );

    // Expired at exactly iat + ttl.
    let mut buf = [0u8; 1024];
    assert_eq!(
        authorize(
            Some(header.as_bytes()),
            &ring(),
            &config(),
            NOW + 2700,
            &mut buf
        )
        .unwrap_err(),
        AuthError::InvalidToken
    );
    // Disabled or removed account afterwards: 403.
    assert_eq!(
        check_account(Some(&Account {
            active: false,
            ..account
        })),
        Err(AuthError::AccessRestricted)
    );
    assert_eq!(check_account(None), Err(AuthError::AccessRestricted));
}

#[test]
fn uid_subject_claim_and_issuer_audience() {
    let hash = stored("pw");
    let account = Account {
        stored_hash: &hash,
        active: true,
    };
    let cfg = FlowConfig {
        subject_claim: SubjectClaim::Uid,
        issuer: Some("me"),
        audience: Some("api"),
        ..config()
    };
    let mut fbuf = [0u8; 128];
    let form = form_for("bob", "pw", &mut fbuf);
    let mut out = [0u8; 512];
    let token = login(
        form.username,
        form.password.as_bytes(),
        Some(&account),
        &ring(),
        &cfg,
        NOW,
        &mut out,
    )
    .unwrap()
    .token
    .to_owned();
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let json = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"uid":"bob","iss":"me","aud":"api","iat":{NOW},"exp":{}}}"#,
            NOW + 2700
        )
    );
    let header = format!("bearer {token}");
    let mut buf = [0u8; 1024];
    assert_eq!(
        authorize(Some(header.as_bytes()), &ring(), &cfg, NOW, &mut buf)
            .unwrap()
            .subject,
        "bob"
    );
    // A `sub`-configured checker finds no subject in a `uid` token: invalid token.
    let mut buf = [0u8; 1024];
    let sub_cfg = FlowConfig {
        subject_claim: SubjectClaim::Sub,
        ..cfg
    };
    assert_eq!(
        authorize(Some(header.as_bytes()), &ring(), &sub_cfg, NOW, &mut buf).unwrap_err(),
        AuthError::InvalidToken
    );
    // Wrong audience.
    let mut buf = [0u8; 1024];
    let other = FlowConfig {
        audience: Some("web"),
        ..cfg
    };
    assert_eq!(
        authorize(Some(header.as_bytes()), &ring(), &other, NOW, &mut buf).unwrap_err(),
        AuthError::InvalidToken
    );
}

#[test]
fn login_failures_and_their_replies() {
    let hash = stored("right");
    let mut fbuf = [0u8; 128];
    let wrong = form_for("alice", "wrong", &mut fbuf);
    let mut out = [0u8; 512];
    let active = Account {
        stored_hash: &hash,
        active: true,
    };
    let disabled = Account {
        stored_hash: &hash,
        active: false,
    };
    assert_eq!(
        login(
            wrong.username,
            wrong.password.as_bytes(),
            Some(&active),
            &ring(),
            &config(),
            NOW,
            &mut out
        ),
        Err(LoginError::InvalidCredentials)
    );
    assert_eq!(
        login(
            wrong.username,
            wrong.password.as_bytes(),
            None,
            &ring(),
            &config(),
            NOW,
            &mut out
        ),
        Err(LoginError::InvalidCredentials)
    );
    // A disabled account with the wrong password says nothing about being disabled.
    assert_eq!(
        login(
            wrong.username,
            wrong.password.as_bytes(),
            Some(&disabled),
            &ring(),
            &config(),
            NOW,
            &mut out
        ),
        Err(LoginError::InvalidCredentials)
    );
    let mut fbuf = [0u8; 128];
    let right = form_for("alice", "right", &mut fbuf);
    assert_eq!(
        login(
            right.username,
            right.password.as_bytes(),
            Some(&disabled),
            &ring(),
            &config(),
            NOW,
            &mut out
        ),
        Err(LoginError::AccessRestricted)
    );
    // A stored hash below the safety caps never becomes an `Account`: it fails to parse, and
    // the caller passes `None`, which costs and answers what an unknown user does.
    assert_eq!(
        StoredHash::parse(
            "$pbkdf2-sha256$i=1,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58"
        )
        .map(|_| ()),
        Err(StoredHashError::RoundsTooLow)
    );
    // A short buffer is an encode error, not a token.
    let mut tiny = [0u8; 10];
    assert!(matches!(
        login(
            right.username,
            right.password.as_bytes(),
            Some(&active),
            &ring(),
            &config(),
            NOW,
            &mut tiny
        ),
        Err(LoginError::Encode(_))
    ));

    let r = LoginError::InvalidCredentials.reply();
    assert_eq!((r.status, r.www_authenticate), (401, Some("Bearer")));
    assert_eq!(
        body(|w| r.write_detail(w).unwrap()),
        r#"{"detail":"Authentication failed"}"#
    );
    let r = LoginError::AccessRestricted.reply();
    assert_eq!((r.status, r.www_authenticate), (403, None));
    assert_eq!(
        body(|w| r.write_detail(w).unwrap()),
        r#"{"detail":"Access restricted"}"#
    );
}

#[test]
fn rehash_is_reported_for_old_hashes() {
    let passlib =
        "$pbkdf2-sha256$29000$ABEiM0RVZneImaq7zN3u/w$t.ewNkTwQ38Rdza3x3Vlsk6UGpwPiXMhh77TbhLEvBA";
    let passlib = StoredHash::parse(passlib).unwrap();
    let account = Account {
        stored_hash: &passlib,
        active: true,
    };
    let mut fbuf = [0u8; 128];
    let form = form_for("alice", "wonderland-42", &mut fbuf);
    let mut out = [0u8; 512];
    assert!(
        login(
            form.username,
            form.password.as_bytes(),
            Some(&account),
            &ring(),
            &config(),
            NOW,
            &mut out
        )
        .unwrap()
        .needs_rehash
    );
}

#[test]
fn authorize_outcomes() {
    let token = issue("alice");
    let mut tampered = token.clone().into_bytes();
    let mid = token.find('.').unwrap() + 5;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases: Vec<(Option<String>, AuthError)> = vec![
        (None, AuthError::NotAuthenticated),
        (Some("Basic dXNlcjpwYXNz".into()), AuthError::NotAuthenticated),
        (Some("Token abc".into()), AuthError::NotAuthenticated),
        (Some("Bearer".into()), AuthError::InvalidToken),
        (Some("Bearer ".into()), AuthError::InvalidToken),
        (Some("Bearer not-a-jwt".into()), AuthError::InvalidToken),
        (Some(format!("Bearer {tampered}")), AuthError::InvalidToken),
        (Some("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDMzMzkwMH0.".into()), AuthError::InvalidToken),
    ];
    for (header, expected) in cases {
        let mut buf = [0u8; 1024];
        let got = authorize(
            header.as_deref().map(str::as_bytes),
            &ring(),
            &config(),
            NOW,
            &mut buf,
        );
        assert_eq!(got.unwrap_err(), expected, "{header:?}");
    }
    // Empty subject.
    let mut out2 = [0u8; 512];
    let claims = auth_core::flow::FlowClaims {
        sub: Some(auth_core::JsonStr::new("")),
        exp: Some(NOW + 10),
        ..Default::default()
    };
    let t = ring().sign(&claims, &mut out2).unwrap();
    let mut buf = [0u8; 1024];
    assert_eq!(
        authorize(
            Some(format!("Bearer {t}").as_bytes()),
            &ring(),
            &config(),
            NOW,
            &mut buf
        )
        .unwrap_err(),
        AuthError::InvalidToken
    );

    let r = AuthError::NotAuthenticated.reply();
    assert_eq!((r.status, r.www_authenticate), (401, Some("Bearer")));
    assert_eq!(
        body(|w| r.write_detail(w).unwrap()),
        r#"{"detail":"Not authenticated"}"#
    );
    let r = AuthError::InvalidToken.reply();
    assert_eq!(
        (r.status, r.www_authenticate),
        (401, Some(r#"Bearer error="invalid_token""#))
    );
    assert_eq!(
        body(|w| r.write_detail(w).unwrap()),
        r#"{"detail":"Invalid or malformed signature"}"#
    );
    let r = AuthError::AccessRestricted.reply();
    assert_eq!((r.status, r.www_authenticate), (403, None));
}

#[test]
fn json_escaping_of_odd_usernames() {
    for (name, escaped) in [
        ("plain", r#""plain""#),
        ("quo\"te", r#""quo\"te""#),
        ("back\\slash", r#""back\\slash""#),
        ("new\nline\ttab\r", r#""new\nline\ttab\r""#),
        ("\u{1}\u{1f}", r#""\u0001\u001f""#),
        ("ünï 😀", "\"ünï 😀\""),
        ("</script>", r#""</script>""#),
    ] {
        assert_eq!(body(|w| write_json_str(name, w).unwrap()), escaped);
        let parsed: String = serde_json::from_str(escaped).unwrap();
        assert_eq!(parsed, name);
    }
    assert_eq!(
        body(|w| write_detail("a\"b", w).unwrap()),
        r#"{"detail":"a\"b"}"#
    );
    // Odd usernames survive a login → authorize round trip.
    let name = "we\"ird\\ ünï\n😀";
    let token = issue(name);
    let mut buf = [0u8; 1024];
    let header = format!("Bearer {token}");
    let ok = authorize(Some(header.as_bytes()), &ring(), &config(), NOW, &mut buf).unwrap();
    assert_eq!(ok.subject, name);
}

/// Multipart fields go through the same rules as an urlencoded body (#11 item 6): the same
/// form or the same errors, field by field.
#[test]
fn fields_and_urlencoded_bodies_agree() {
    use auth_core::form::login_form_from_fields;
    let long = "x".repeat(4097);
    let cases: Vec<Vec<(&str, &[u8])>> = vec![
        vec![
            ("username", b"alice"),
            ("password", b"p@ss w&rd=\xc3\xbc+1"),
            ("scope", b"a b"),
        ],
        vec![
            ("username", b"alice"),
            ("username", b"bob"),
            ("password", b"x"),
        ],
        vec![("username", b"alice")],
        vec![("grant_type", b"client_credentials"), ("password", b"x")],
        vec![
            ("grant_type", b"password"),
            ("username", b"a"),
            ("password", b"x"),
            ("other", b"1"),
        ],
        vec![("username", b"a"), ("password", long.as_bytes())],
        vec![("username", b"a"), ("password", b"")],
        vec![],
    ];
    for fields in cases {
        let mut body = Vec::new();
        for (name, value) in &fields {
            if !body.is_empty() {
                body.push(b'&');
            }
            let mut enc = vec![0u8; 3 * (name.len() + value.len()) + 1];
            body.extend_from_slice(
                encode_component(name.as_bytes(), &mut enc)
                    .unwrap()
                    .as_bytes(),
            );
            body.push(b'=');
            body.extend_from_slice(encode_component(value, &mut enc).unwrap().as_bytes());
        }
        let mut buf = vec![0u8; body.len()];
        let from_body = parse_login_form(&body, &mut buf);
        let from_fields = login_form_from_fields(fields.iter().copied());
        assert_eq!(from_body, from_fields, "{fields:?}");
    }
    // Invalid UTF-8 in a part is the same error as a bad percent-escape.
    let err =
        login_form_from_fields([("username", &b"a"[..]), ("password", &b"\xff"[..])]).unwrap_err();
    assert_eq!(
        err.errors(),
        &[FieldError {
            field: Field::Password,
            kind: FieldErrorKind::InvalidEncoding
        }]
    );
}

/// Unknown members whose names are as long as a registered one (three letters, or five like
/// `scope`) are skipped, not read as a member: a `uid` token with `xyz`, `foo` and `score`
/// beside `uid` authorizes as its `uid`, under both subject claims' rules.
#[test]
fn unknown_names_of_a_members_length_are_skipped() {
    #[derive(serde::Serialize)]
    struct Odd<'a> {
        xyz: &'a str,
        uid: &'a str,
        foo: u32,
        score: &'a str,
        sux: bool,
        exp: u64,
    }
    let claims = Odd {
        xyz: "mallory",
        uid: "bob",
        foo: 1,
        score: "admin",
        sux: true,
        exp: NOW + 60,
    };
    let mut out = [0u8; 512];
    let token = ring().sign(&claims, &mut out).unwrap().to_owned();
    let header = format!("Bearer {token}");
    let uid = FlowConfig {
        subject_claim: SubjectClaim::Uid,
        ..config()
    };
    let mut buf = [0u8; 1024];
    let ok = authorize(Some(header.as_bytes()), &ring(), &uid, NOW, &mut buf).unwrap();
    assert_eq!(ok.subject, "bob");
    assert!(ok.scope.is_none());
    let mut buf = [0u8; 1024];
    assert_eq!(
        authorize(Some(header.as_bytes()), &ring(), &config(), NOW, &mut buf).unwrap_err(),
        AuthError::InvalidToken,
        "no `sub`"
    );
}

/// Found by a mutation run over response.rs, contract.rs and claims.rs: the username's own
/// length message, the 500 for a token that could not be written, and the secure-resource
/// prefix at its worst case (eight characters that each escape to six bytes).
#[test]
fn replies_at_their_edges() {
    let mut form = b"password=x&username=".to_vec();
    form.resize(form.len() + 65, b'u');
    let mut buf = vec![0u8; form.len()];
    let err = parse_login_form(&form, &mut buf).unwrap_err();
    assert_eq!(
        err.errors(),
        &[FieldError {
            field: Field::Username,
            kind: FieldErrorKind::TooLong
        }]
    );
    let text = body(|w| write_form_errors(&err, w).unwrap());
    assert!(
        text.contains(r#""loc":["body","username"],"msg":"String should have at most 64 bytes""#),
        "{text}"
    );

    let r = LoginError::Encode(auth_core::EncodeError::BufferTooSmall).reply();
    assert_eq!((r.status, r.www_authenticate), (500, None));

    let token = "\u{1}".repeat(9);
    assert_eq!(
        body(|w| write_secure_resource(&token, w).unwrap()),
        format!(
            r#"{{"status":"success","received_token_prefix":"{}..."}}"#,
            r"\u0001".repeat(8)
        )
    );
    let wide = "é".repeat(9);
    assert_eq!(
        body(|w| write_secure_resource(&wide, w).unwrap()),
        format!(
            r#"{{"status":"success","received_token_prefix":"{}..."}}"#,
            "é".repeat(8)
        )
    );
}
