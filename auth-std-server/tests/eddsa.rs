//! EdDSA tokens on the server (#27): a ring holding an Ed25519 key signs EdDSA tokens that the
//! protected routes accept; `/.well-known/jwks.json` publishes exactly the Ed25519 public keys
//! (never an HS256 secret: with HS256 only the set is empty), staged `next` keys included; the
//! RFC 8414 metadata names the endpoints; `--signing-alg EdDSA` generates an Ed25519 key file
//! on first start and refuses a mismatched one. In process, on SQLite (or PostgreSQL with
//! `AUTH_TEST_STORE=postgres`), plus the binary for the start-up cases.

mod common;

use std::sync::Arc;

use auth_core::{Ed25519Key, Ed25519PublicKey, Hs256Key, KeyRing, UntrustedToken};
use auth_std_server::settings::ScopeDef;
use auth_std_server::{AppState, Settings, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Reply, phc};

const SEED: [u8; 32] = [5; 32];

async fn state(dir: &std::path::Path, keys: auth_std_server::Keys, settings: Settings) -> AppState {
    let store = common::store_with(dir, &format!("alice\tactive\t{}\n", phc("wonderland"))).await;
    Arc::new(auth_std_server::State::new(
        keys,
        Settings {
            policy: auth_core::password::Policy::new().with_rounds(1000),
            ..settings
        },
        store,
        auth_std_server::HashPool::new(2, 8),
        auth_std_server::throttle::Throttle::default(),
    ))
}

async fn get(s: &AppState, path: &str, auth: Option<&str>, host: Option<&str>) -> Reply {
    let mut b = Request::get(path);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    if let Some(h) = host {
        b = b.header(header::HOST, h);
    }
    common::call(
        app(Arc::clone(s)),
        b.body(Body::empty()).unwrap(),
        [10, 0, 0, 7],
    )
    .await
}

async fn login(s: &AppState) -> String {
    let req = Request::post("/auth/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=alice&password=wonderland"))
        .unwrap();
    let r = common::call(app(Arc::clone(s)), req, [10, 0, 0, 7]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

fn mixed_ring(signing_ed: bool) -> auth_std_server::Keys {
    let mut ring = KeyRing::new(Hs256Key::with_kid(common::SECRET, "hs").unwrap()).unwrap();
    ring.add(Ed25519Key::from_seed_with_kid(&SEED, "ed").unwrap())
        .unwrap();
    if signing_ed {
        ring.set_signing("ed").unwrap();
    }
    ring
}

#[tokio::test]
async fn eddsa_tokens_are_issued_and_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), mixed_ring(true), Settings::default()).await;
    let token = login(&s).await;
    let t = UntrustedToken::parse(&token).unwrap();
    assert_eq!(t.algorithm(), auth_core::Algorithm::EdDsa);
    assert_eq!(t.kid(), Some("ed"));
    // The key set's public key alone verifies it.
    let jwks = get(&s, "/.well-known/jwks.json", None, None).await.json();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let public = Ed25519PublicKey::from_slice(&x, Some("ed")).unwrap();
    assert!(public.verify(&t).is_ok());
    let r = get(
        &s,
        "/secure-resource",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An HS256 token MAC'd with the published public key, naming its kid: refused.
    let forger = Hs256Key::with_kid(&x, "ed").unwrap();
    let mut out = [0u8; 512];
    let claims = auth_core::Claims::new()
        .with_subject("alice")
        .with_lifetime(auth_std_server::now(), 600);
    let forged = forger.sign_claims(&claims, &mut out).unwrap();
    let r = get(
        &s,
        "/secure-resource",
        Some(&format!("Bearer {forged}")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn the_key_set_never_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    // HS256 only: the set is empty.
    let hs_only = KeyRing::new(Hs256Key::with_kid(common::SECRET, "hs").unwrap()).unwrap();
    let s = state(dir.path(), hs_only, Settings::default()).await;
    let r = get(&s, "/.well-known/jwks.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({"keys": []}));
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );

    // Mixed, with the Ed25519 key not signing yet (staged): it is published all the same,
    // and the HS256 key is not.
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), mixed_ring(false), Settings::default()).await;
    let r = get(&s, "/.well-known/jwks.json", None, None).await;
    let keys = r.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    let public = Ed25519Key::from_seed(&SEED).unwrap().public_key().clone();
    assert_eq!(
        k,
        &serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public.as_bytes()),
            "kid": "ed", "alg": "EdDSA", "use": "sig"})
    );
    for secret in [
        URL_SAFE_NO_PAD.encode(common::SECRET),
        URL_SAFE_NO_PAD.encode(SEED),
    ] {
        assert!(!r.body.contains(&secret));
    }
    assert!(!r.body.contains("\"d\""));
    // Tokens are still HS256 while the Ed25519 key is staged.
    let token = login(&s).await;
    assert_eq!(
        UntrustedToken::parse(&token).unwrap().algorithm(),
        auth_core::Algorithm::Hs256
    );
}

#[tokio::test]
async fn server_metadata_names_the_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        public_url: Some("https://auth.example.com".into()),
        scopes: vec![ScopeDef {
            name: "items:read".into(),
            description: "Read items".into(),
        }],
        ..Settings::default()
    };
    let s = state(dir.path(), mixed_ring(true), settings).await;
    let r = get(&s, "/.well-known/oauth-authorization-server", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    let m = r.json();
    assert_eq!(m["issuer"], "https://auth.example.com");
    assert_eq!(m["token_endpoint"], "https://auth.example.com/auth/session");
    assert_eq!(
        m["revocation_endpoint"],
        "https://auth.example.com/auth/revoke"
    );
    assert_eq!(
        m["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["password", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"])
    );
    assert_eq!(m["scopes_supported"], serde_json::json!(["items:read"]));
    assert_eq!(m["response_types_supported"], serde_json::json!([]));

    // No --public-url: from the Host header, never cached; a Host that is not a host is 400.
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        issuer: Some("https://issuer.example".into()),
        ..Settings::default()
    };
    let s = state(dir.path(), mixed_ring(true), settings).await;
    let r = get(
        &s,
        "/.well-known/oauth-authorization-server",
        None,
        Some("127.0.0.1:8000"),
    )
    .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let m = r.json();
    assert_eq!(m["issuer"], "https://issuer.example");
    assert_eq!(m["token_endpoint"], "http://127.0.0.1:8000/auth/session");
    let r = get(
        &s,
        "/.well-known/oauth-authorization-server",
        None,
        Some("evil.example/path?x"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"].as_str().unwrap().contains("Host"));
}

fn key_file_mode(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn signing_alg_eddsa_generates_an_ed25519_key_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::run_server(dir.path(), &["--signing-alg", "EdDSA"], "warn");
    let file = std::fs::read_to_string(dir.path().join("auth-data/jwt.key")).unwrap();
    let line = file.lines().find(|l| !l.starts_with('#')).unwrap();
    let words: Vec<_> = line.split_whitespace().collect();
    assert_eq!(words[1], "EdDSA", "{file}");
    let token = common::access_token(&common::login_raw(
        server.addr,
        "admin",
        &common::admin_password(dir.path()),
    ));
    assert!(
        token.starts_with(&URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"EdDSA","kid":"{}","typ":"JWT"}}"#,
            words[0]
        ))),
        "{token}"
    );
    drop(server);
    // A restart keeps the key: the same kid signs and the old token still verifies.
    let server = common::run_server(dir.path(), &["--signing-alg", "EdDSA"], "warn");
    let again = common::access_token(&common::login_raw(
        server.addr,
        "admin",
        &common::admin_password(dir.path()),
    ));
    assert_eq!(again.split('.').next(), token.split('.').next());
    drop(server);
    // The same data directory with --signing-alg HS256: refused in one line, nothing changed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-std-server"))
        .current_dir(dir.path())
        .args(["--listen", "127.0.0.1:0", "--signing-alg", "HS256"])
        .env_remove("AUTH_SECRET")
        .envs(common::dir_env(dir.path()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--signing-alg is HS256 but the signing key") && err.contains("is EdDSA"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("auth-data/jwt.key")).unwrap(),
        file
    );
}

#[test]
fn a_bad_key_file_line_is_named_and_nothing_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let hs = URL_SAFE_NO_PAD.encode([1u8; 32]);
    for (text, want) in [
        (
            format!("a {hs}\nb RS256 {hs}\n"),
            "line 2: unknown algorithm",
        ),
        (
            format!("a EdDSA {hs}!\n"),
            "line 1: key is not unpadded base64url",
        ),
        (
            format!("a EdDSA {}\n", URL_SAFE_NO_PAD.encode([1u8; 64])),
            "not 64 bytes",
        ),
    ] {
        std::fs::write(&path, &text).unwrap();
        key_file_mode(&path);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-std-server"))
            .current_dir(dir.path())
            .args(["--listen", "127.0.0.1:0", "--key-file"])
            .arg(&path)
            .env_remove("AUTH_SECRET")
            .envs(common::dir_env(dir.path()))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{text}: {err}");
        assert!(!err.contains(&hs), "the key leaked into the error: {err}");
    }
}

/// `keys jwks` prints the key file's public set, as the server serves it: the Ed25519 keys
/// (staged `next` ones included), never a secret; an app verifies the server's tokens with it.
#[test]
fn keys_jwks_prints_the_public_set_offline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt.key");
    let hs = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let seed = URL_SAFE_NO_PAD.encode(SEED);
    std::fs::write(
        &path,
        format!(
            "hs HS256 {hs}\ned EdDSA {seed}\nnew EdDSA {} next\n",
            URL_SAFE_NO_PAD.encode([6u8; 32])
        ),
    )
    .unwrap();
    key_file_mode(&path);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auth-std-server"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("AUTH_KEY_FILE")
            .output()
            .unwrap()
    };
    let out = run(&["keys", "jwks", "--key-file", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(&hs) && !text.contains(&seed), "{text}");
    let set: serde_json::Value = serde_json::from_str(&text).unwrap();
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["ed", "new"]);
    let ed = Ed25519Key::from_seed_with_kid(&SEED, "ed").unwrap();
    assert_eq!(
        set["keys"][0]["x"],
        URL_SAFE_NO_PAD.encode(ed.public_key().as_bytes())
    );
    // What it prints is what a verify-only app reads.
    let auth = auth_std_server::BearerAuth::from_jwks(text.as_bytes(), |_: &str| {
        auth_std_server::auth::AccountStatus::Active
    })
    .unwrap();
    let signer = auth_std_server::BearerAuth::new(KeyRing::new(ed).unwrap(), |_: &str| {
        auth_std_server::auth::AccountStatus::Active
    });
    let token = signer.issue("alice", auth_std_server::now()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let header = axum::http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let ok = rt.block_on(auth.authenticate::<()>(Some(&header), auth_std_server::now()));
    assert_eq!(ok.unwrap().subject(), "alice");

    // The default path is jwt.key in the store's data directory; a bad file names its line.
    std::fs::create_dir_all(dir.path().join("auth-data")).unwrap();
    std::fs::write(
        dir.path().join("auth-data/jwt.key"),
        format!("hs {hs}\nx RS256 {hs}\n"),
    )
    .unwrap();
    key_file_mode(&dir.path().join("auth-data/jwt.key"));
    let out = run(&["keys", "jwks"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auth-data/jwt.key") && err.contains("line 2: unknown algorithm"),
        "{err}"
    );
    // HS256 only: an empty set, and a note on stderr.
    std::fs::write(dir.path().join("auth-data/jwt.key"), format!("hs {hs}\n")).unwrap();
    let out = run(&["keys", "jwks"]);
    assert!(out.status.success());
    let set: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 0);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&hs));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no EdDSA key"));
}

/// The rotation in docs/operations.md with the `keys` commands instead of an editor: add an
/// Ed25519 key staged `next` (published, not signing), promote it, retire the old HS256 key.
/// Each step leaves a file the server loads; no command prints a key; the signing key cannot
/// be retired; errors exit 2 with the file named.
#[test]
fn keys_commands_run_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/jwt.key");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-std-server"))
            .current_dir(dir.path())
            .args(["keys"])
            .args(args)
            .arg("--key-file")
            .arg(&path)
            .env_remove("AUTH_KEY_FILE")
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            said,
        )
    };
    let mut said = String::new();
    let mut ok = |args: &[&str]| {
        let (code, stdout, all) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {all}");
        said.push_str(&all);
        stdout
    };
    ok(&["add", "--kid", "h1"]);
    let key_of = |kid: &str| {
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{kid} ")))
            .unwrap();
        line.split_whitespace().nth(2).unwrap().to_owned()
    };
    let h1 = key_of("h1");
    let signer = |p: &std::path::Path| {
        let ring = auth_std_server::keys::load_key_file(p).unwrap();
        let k = ring.signing_key();
        (k.kid().unwrap().to_owned(), k.algorithm())
    };
    assert_eq!(signer(&path), ("h1".into(), auth_core::Algorithm::Hs256));
    ok(&["add", "--alg", "EdDSA", "--kid", "e1", "--next"]);
    assert_eq!(signer(&path).0, "h1", "a staged key does not sign");
    let set: serde_json::Value = serde_json::from_str(&ok(&["jwks"])).unwrap();
    assert_eq!(set["keys"][0]["kid"], "e1", "a staged key is published");
    assert_eq!(ok(&["list"]), "h1\tHS256\tsigns\ne1\tEdDSA\tnext\n");
    ok(&["promote", "e1"]);
    assert_eq!(signer(&path), ("e1".into(), auth_core::Algorithm::EdDsa));
    let (code, _, err) = run(&["retire", "e1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("jwt.key") && err.contains("the key that signs"),
        "{err}"
    );
    ok(&["retire", "h1"]);
    assert_eq!(ok(&["list"]), "e1\tEdDSA\tsigns\n");
    let (code, _, err) = run(&["promote", "h1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no key with kid 'h1'"), "{err}");
    // A key file others may read is refused, as the server refuses it, and left as it is.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&path).unwrap();
    let (code, _, err) = run(&["add"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("key file") && err.contains("644"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key file stays private");
    // No key, present or retired, was ever printed.
    let e1 = key_of("e1");
    assert!(!said.contains(&h1) && !said.contains(&e1), "{said}");
}

/// A GET on a running server: the status and the body.
fn get_raw(addr: std::net::SocketAddr, path: &str, bearer: Option<&str>) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// SIGHUP reads the key file again: each step of a rotation takes effect without a restart,
/// and a file that does not load (a bad line, or readable by others) is logged by name while
/// the keys in use stay. Every outcome is counted in `auth_key_reloads_total`.
#[test]
fn sighup_reloads_the_key_file_and_keeps_the_old_ring_when_it_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::run_server(dir.path(), &["--admin-listen", "127.0.0.1:0"], "info");
    let path = dir.path().join("auth-data/jwt.key");
    let mut said = Vec::new();
    let hangup = |said: &mut Vec<String>, want: &str| {
        let line = common::hangup(&server, said, &["keys reloaded", "keys not reloaded"]);
        assert!(line.contains(want), "{line}");
        line
    };
    let keys = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-std-server"))
            .arg("keys")
            .args(args)
            .arg("--key-file")
            .arg(&path)
            .env_remove("AUTH_SECRET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    let password = common::admin_password(dir.path());
    let login = || common::access_token(&common::login_raw(server.addr, "admin", &password));
    let header = |token: &str| {
        let h = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&h).unwrap()
    };
    let secure = |token: &str| get_raw(server.addr, "/secure-resource", Some(token)).0;
    let first = login();
    let h1 = header(&first)["kid"].as_str().unwrap().to_owned();
    // Requests with the first token run throughout the add and promote reloads: none fails.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (started, running) = std::sync::mpsc::channel();
    let during = {
        let (stop, addr, token) = (std::sync::Arc::clone(&stop), server.addr, first.clone());
        std::thread::spawn(move || {
            let mut statuses = vec![get_raw(addr, "/secure-resource", Some(&token)).0];
            let _ = started.send(());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(get_raw(addr, "/secure-resource", Some(&token)).0);
            }
            statuses
        })
    };
    running.recv().unwrap();

    // Stage an Ed25519 key: published at once, not yet signing.
    keys(&["add", "--alg", "EdDSA", "--kid", "e1", "--next"]);
    let line = hangup(&mut said, "keys reloaded");
    assert!(
        line.contains("key file auth-data/jwt.key")
            && !line.contains("new key file")
            && line.contains("count=2")
            && line.contains(&format!("signing_kid={h1}")),
        "{line}"
    );
    let (_, set) = get_raw(server.addr, "/.well-known/jwks.json", None);
    assert!(set.contains(r#""kid":"e1""#), "{set}");
    assert_eq!(header(&login())["kid"], h1.as_str());

    // Promote it: new tokens are EdDSA, the old HS256 token still verifies.
    keys(&["promote", "e1"]);
    hangup(&mut said, "signing_kid=e1");
    let second = login();
    assert_eq!(header(&second)["alg"], "EdDSA");
    assert_eq!((secure(&first), secure(&second)), (200, 200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = during.join().unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");

    // A bad line: named in the log, nothing changes.
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}x9 HS256 tooshort\n")).unwrap();
    let line = hangup(&mut said, "keys not reloaded");
    assert!(line.contains("jwt.key") && line.contains("line"), "{line}");
    assert_eq!((secure(&first), secure(&second)), (200, 200));
    assert_eq!(header(&login())["kid"], "e1");

    // A key file others may read: refused as at start.
    std::fs::write(&path, &good).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = hangup(&mut said, "keys not reloaded");
    assert!(line.contains("644"), "{line}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Retire the HS256 key: its token is refused from the next request on.
    keys(&["retire", &h1]);
    hangup(&mut said, "count=1");
    assert_eq!((secure(&first), secure(&second)), (401, 200));
    let (_, set) = get_raw(server.addr, "/.well-known/jwks.json", None);
    assert!(set.contains(r#""kid":"e1""#), "{set}");

    let (_, metrics) = get_raw(server.admin.unwrap(), "/metrics", None);
    for (outcome, n) in [("ok", 3), ("refused", 2)] {
        let want = format!("auth_key_reloads_total{{outcome=\"{outcome}\"}} {n}");
        assert!(metrics.contains(&want), "{want}: {metrics}");
    }
    // No key was ever logged.
    let all = said.join("\n");
    for word in good
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().last())
    {
        assert!(!all.contains(word), "a key in the log");
    }
}
