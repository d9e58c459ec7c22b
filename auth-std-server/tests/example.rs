//! `examples/protect-your-api.rs`, exercised with `oneshot`: no token 401, a valid token 200,
//! a disabled account 403, a token from another key 401 `invalid_token`.

#[path = "../examples/protect-your-api.rs"]
#[allow(dead_code)] // reason: the example's `main` serves forever; the test uses its router.
mod example;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &[u8] = b"use-a-random-32-byte-secret-here!";

/// The key ring the tests sign and verify with.
fn ring() -> auth_std_server::Keys {
    auth_core::KeyRing::new(auth_core::Hs256Key::new(SECRET).unwrap()).unwrap()
}

async fn get(
    app: axum::Router,
    token: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get("/hello");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn protects_the_apps_own_route() {
    let users = example::Users::default();
    users.write().unwrap().insert("alice".into(), true);
    let auth = example::bearer_auth(SECRET, users.clone());
    let app = example::app(auth.clone());
    let now = auth_std_server::now();

    let (status, headers, body) = get(app.clone(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(body, r#"{"detail":"Not authenticated"}"#);

    let token = auth.issue("alice", now).unwrap();
    let (status, _, body) = get(app.clone(), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "hello, alice\n");

    users.write().unwrap().insert("alice".into(), false);
    let (status, _, body) = get(app.clone(), Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, r#"{"detail":"Access restricted"}"#);

    let unknown = auth.issue("mallory", now).unwrap();
    assert_eq!(
        get(app.clone(), Some(&unknown)).await.0,
        StatusCode::FORBIDDEN
    );

    let other = example::bearer_auth(b"another-32-byte-secret-entirely!!", users);
    let forged = other.issue("alice", now).unwrap();
    let (status, headers, _) = get(app, Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
}

/// #24: the example's scoped route: a token without `items` gets 403 `insufficient_scope`
/// naming it, one with it 200, and the route's OpenAPI security requirement names the scope.
#[tokio::test]
async fn a_scoped_route_needs_its_scope() {
    let users = example::Users::default();
    users.write().unwrap().insert("alice".into(), true);
    let auth = example::bearer_auth(SECRET, users);
    let now = auth_std_server::now();
    let call = |token: String| {
        let app = example::app(auth.clone());
        async move {
            let req = Request::get("/items")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            let (parts, body) = res.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            (
                parts.status,
                parts.headers,
                String::from_utf8(body.to_vec()).unwrap(),
            )
        }
    };
    let (status, headers, body) = call(auth.issue("alice", now).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope", scope="items""#
    );
    assert_eq!(body, r#"{"detail":"Not enough permissions"}"#);
    let grant = auth_core::flow::Grant {
        subject: "alice",
        sid: None,
        scope: Some("read items"),
    };
    let (status, _, body) = call(auth.issue_grant(&grant, now).unwrap()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "items of alice\n")
    );
    let doc = serde_json::to_value(example::openapi()).unwrap();
    assert_eq!(
        doc["paths"]["/items"]["get"]["security"][0]["OAuth2PasswordBearer"],
        serde_json::json!(["items"])
    );
}

/// The app's own claims type, decoded next to the subject.
#[tokio::test]
async fn reads_the_apps_own_claims() {
    use auth_std_server::auth::{AccountStatus, Authenticated, BearerAuth, Owned};
    #[derive(serde::Deserialize)]
    struct Mine {
        exp: u64,
    }
    let auth = BearerAuth::new(ring(), |_: &str| AccountStatus::Active).with_ttl(60);
    let now = auth_std_server::now();
    let token = auth.issue("bob", now).unwrap();
    let header = axum::http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let got: Authenticated<Owned<Mine>> = auth.authenticate(Some(&header), now).await.unwrap();
    assert_eq!(got.subject(), "bob");
    assert_eq!(got.token(), token, "the token as sent");
    assert_eq!(got.claims().0.exp, now + 60);
    assert!(
        auth.authenticate::<()>(Some(&header), now + 61)
            .await
            .is_err(),
        "expired"
    );
}

/// `with_issuer` and `with_audience` write `iss` and `aud` into the tokens and require them:
/// a token for another audience or issuer is an invalid token, as is one with none.
#[tokio::test]
async fn issuer_and_audience_are_written_and_required() {
    use auth_core::flow::AuthError;
    use auth_std_server::auth::{AccountStatus, BearerAuth, Rejection};
    let active = |_: &str| AccountStatus::Active;
    let api_a = BearerAuth::new(ring(), active)
        .with_issuer("https://idp")
        .with_audience("api://a");
    let api_b = BearerAuth::new(ring(), active)
        .with_issuer("https://idp")
        .with_audience("api://b");
    let other_issuer = BearerAuth::new(ring(), active)
        .with_issuer("https://elsewhere")
        .with_audience("api://a");
    let bare = BearerAuth::new(ring(), active);
    let now = auth_std_server::now();
    let bearer = |t: String| axum::http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap();

    let for_a = bearer(api_a.issue("alice", now).unwrap());
    assert!(api_a.authenticate::<()>(Some(&for_a), now).await.is_ok());
    for (name, t) in [
        (
            "for api://a at api://b",
            api_b.authenticate::<()>(Some(&for_a), now).await,
        ),
        (
            "for https://idp at https://elsewhere",
            other_issuer.authenticate::<()>(Some(&for_a), now).await,
        ),
        (
            "without iss or aud",
            api_a
                .authenticate::<()>(Some(&bearer(bare.issue("alice", now).unwrap())), now)
                .await,
        ),
    ] {
        assert!(
            matches!(t, Err(Rejection::Auth(AuthError::InvalidToken))),
            "{name}: {:?}",
            t.map(|a| a.subject().to_owned())
        );
    }
}

/// `with_leeway` tolerates clocks out of step, both ways: a token issued by a clock ahead
/// (`iat` in the verifier's future), and one just past `exp`; without it both are refused.
#[tokio::test]
async fn a_leeway_tolerates_clocks_out_of_step() {
    use auth_std_server::auth::{AccountStatus, BearerAuth};
    let active = |_: &str| AccountStatus::Active;
    let strict = BearerAuth::new(ring(), active).with_ttl(60);
    let lenient = BearerAuth::new(ring(), active).with_ttl(60).with_leeway(5);
    let now = auth_std_server::now();
    // Issued by an instance whose clock is 3 s ahead of the verifier's.
    let ahead = strict.issue("alice", now + 3).unwrap();
    let header = axum::http::HeaderValue::from_str(&format!("Bearer {ahead}")).unwrap();
    assert!(strict.authenticate::<()>(Some(&header), now).await.is_err());
    assert!(lenient.authenticate::<()>(Some(&header), now).await.is_ok());
    // Checked 3 s after its `exp` (now + 63), then 6 s after.
    assert!(
        strict
            .authenticate::<()>(Some(&header), now + 66)
            .await
            .is_err()
    );
    assert!(
        lenient
            .authenticate::<()>(Some(&header), now + 66)
            .await
            .is_ok()
    );
    assert!(
        lenient
            .authenticate::<()>(Some(&header), now + 69)
            .await
            .is_err()
    );
    assert!(format!("{lenient:?}").contains("leeway: 5"));
}

/// An `Accounts` of the app's own that knows nothing from memory: the default `load` answers
/// `Unknown`, and the token is refused like one for a removed account.
#[tokio::test]
async fn an_accounts_impl_that_knows_nothing_refuses() {
    use auth_std_server::auth::{AccountStatus, Accounts, BearerAuth};
    struct Nobody;
    impl Accounts for Nobody {
        fn cached(&self, _: &str) -> Option<AccountStatus> {
            None
        }
    }
    let auth = BearerAuth::new(ring(), Nobody);
    let now = auth_std_server::now();
    let t = auth.issue("alice", now).unwrap();
    let header = axum::http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap();
    let refused = auth.authenticate::<()>(Some(&header), now).await;
    assert!(refused.is_err());
    let res = axum::response::IntoResponse::into_response(refused.err().unwrap());
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// `BearerAuth`'s `Debug` names its settings, never the key.
#[tokio::test]
async fn bearer_auth_debug_shows_no_key() {
    use auth_std_server::auth::{AccountStatus, BearerAuth};
    let auth = BearerAuth::new(ring(), |_: &str| AccountStatus::Active).with_audience("api://a");
    let shown = format!("{auth:?} {auth:#?}");
    assert!(shown.contains("api://a"), "{shown}");
    let hex: String = SECRET.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", SECRET.iter().collect::<Vec<_>>());
    for secret in [std::str::from_utf8(SECRET).unwrap(), &hex, &decimal[1..20]] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
