//! #25 item 3: TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert` on the store URL
//! (sqlx's rustls support). A throwaway cluster with `ssl = on` serves a certificate from a CA
//! made here; its `pg_hba.conf` admits the account `app` over TLS only, with a password, so a
//! store that works proves the connection is encrypted and the password file was read.
//!
//! Needs PostgreSQL (`initdb`, `pg_ctl`); without it each test prints SKIP (a failure under
//! `CI=true`).

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

const BIN: &str = env!("CARGO_BIN_EXE_auth-std-server");
const PASSWORD: &str = "app-db-pa55word";

/// A CA: its certificate's PEM, and the issuer that signs with it.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// The certificate files the tests hand to the server: the cluster's CA and another one.
struct Pki {
    ca: PathBuf,
    wrong_ca: PathBuf,
}

/// A cluster serving TLS with a certificate for `127.0.0.1` only (so `localhost` is a name
/// mismatch), where `app` may log in over TLS with [`PASSWORD`] and never without TLS.
fn tls_cluster(dir: &Path) -> Option<(common::Cluster, Pki)> {
    let (ca_pem, issuer) = new_ca("auth-std-server test CA");
    let (wrong_pem, _) = new_ca("some other CA");
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        wrong_ca: dir.join("wrong-ca.pem"),
    };
    std::fs::write(&pki.ca, &ca_pem).unwrap();
    std::fs::write(&pki.wrong_ca, wrong_pem).unwrap();
    let cluster = common::private_cluster_with(|data| {
        std::fs::write(data.join("server.crt"), server.pem()).unwrap();
        let key = data.join("server.key");
        std::fs::write(&key, server_key.serialize_pem()).unwrap();
        set_mode(&key, 0o600);
        let hba = data.join("pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).unwrap();
        let ours = "hostssl all app 127.0.0.1/32 scram-sha-256\n\
                    hostssl all app ::1/128 scram-sha-256\n\
                    host all app all reject\n";
        std::fs::write(&hba, format!("{ours}{rest}")).unwrap();
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_owned()
    })?;
    cluster.sql(&format!("CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'"));
    cluster.sql("CREATE DATABASE appdb OWNER app");
    Some((cluster, pki))
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The binary in `dir` with `args`, `stdin` fed to it; success, stdout and stderr.
fn run(dir: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("AUTH_STORE")
        .env_remove("DATABASE_URL")
        .env_remove("AUTH_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts `args` exit 2 with one line on stderr that says `want`, and no password.
fn refused(dir: &Path, args: &[&str], want: &str) {
    let (code, _, err) = run(dir, args, "");
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(want), "want {want:?}: {err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

fn login(addr: SocketAddr, user: &str, pw: &str) -> u16 {
    common::login_raw(addr, user, pw)[9..12].parse().unwrap()
}

/// `verify-full` with the right CA works, for the CLI and the server, over TLS (the cluster
/// admits `app` on nothing else); `verify-full` refuses a name the certificate does not hold
/// (and so, today, does `verify-ca`: see below); a wrong CA, a missing CA file and a wrong password are each one
/// line and exit 2, with the password in none of them.
#[test]
fn verify_full_with_the_right_ca_works_and_every_mistake_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let Some((pg, pki)) = tls_cluster(dir.path()) else {
        return;
    };
    let pw_file = dir.path().join("db.password");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    set_mode(&pw_file, 0o600);
    let pw = pw_file.to_str().unwrap();
    let url = |host: &str, mode: &str, ca: &Path| {
        format!(
            "postgres://app@{host}:{}/appdb?sslmode={mode}&sslrootcert={}",
            pg.port,
            ca.display()
        )
    };
    let good = url("127.0.0.1", "verify-full", &pki.ca);
    let add = [
        "user",
        "add",
        "tess",
        "--password-stdin",
        "--pbkdf2-rounds",
        "1000",
    ];
    let with = |base: &[&'static str], store: &str| -> Vec<String> {
        let mut v: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        v.extend(["--store".into(), store.to_owned()]);
        v.extend(["--db-password-file".into(), pw.to_owned()]);
        v
    };
    let args = with(&add, &good);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run(dir.path(), &args, "t3ss\n");
    assert_eq!(code, Some(0), "{err}");

    let serve = with(&["--secret-file", ""], &good);
    let secret = dir.path().join("jwt.secret");
    std::fs::write(&secret, "a-secret-for-the-tls-store-test-0123456").unwrap();
    set_mode(&secret, 0o600);
    let mut serve: Vec<String> = serve;
    serve[1] = secret.display().to_string();
    let serve: Vec<&str> = serve.iter().map(String::as_str).collect();
    let s = common::run_server(dir.path(), &serve, "warn");
    assert_eq!(login(s.addr, "tess", "t3ss"), 200);
    let encrypted = pg.sql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE usename = 'app' AND ssl",
    );
    assert_ne!(encrypted, "0", "the server's connections use TLS");
    drop(s);

    let list = |store: &str| with(&["user", "list"], store);
    let ok = |store: &str| {
        let args = list(store);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(dir.path(), &args, "");
        assert_eq!(code, Some(0), "{store}: {err}");
        assert!(out.contains("tess"), "{out}");
    };
    let no = |store: &str, want: &str| {
        let args = list(store);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(dir.path(), &args, want);
    };
    // verify-full checks the name too: localhost is not in the certificate.
    no(
        &url("localhost", "verify-full", &pki.ca),
        "not valid for name",
    );
    // libpq's verify-ca skips the name; with sqlx 0.8.6 on rustls >= 0.23.24 it does not
    // (sqlx issue #3793, fixed upstream by PR #3861 after 0.8.6): it fails closed, as
    // verify-full. Docs say so; when an upgrade fixes it, this line says so too.
    no(
        &url("localhost", "verify-ca", &pki.ca),
        "not valid for name",
    );
    ok(&url("127.0.0.1", "verify-ca", &pki.ca));
    no(
        &url("127.0.0.1", "verify-full", &pki.wrong_ca),
        "cannot open store",
    );
    no(
        &url("127.0.0.1", "verify-ca", &pki.wrong_ca),
        "cannot open store",
    );
    let missing = dir.path().join("no-such-ca.pem");
    no(
        &url("127.0.0.1", "verify-full", &missing),
        "cannot open store",
    );
    // `require` encrypts without checking who answers: this CA is not consulted.
    ok(&url("127.0.0.1", "require", &pki.wrong_ca));
    // Without TLS the cluster turns `app` away.
    no(&url("127.0.0.1", "disable", &pki.ca), "cannot open store");
    // The server itself: a wrong CA is one line and exit 2 before it listens.
    let bad = url("127.0.0.1", "verify-full", &pki.wrong_ca);
    let serve = [
        "--listen",
        "127.0.0.1:0",
        "--store",
        &bad,
        "--db-password-file",
        pw,
    ];
    refused(dir.path(), &serve, "cannot open store");
    // A wrong password from the file: refused, and not shown.
    std::fs::write(&pw_file, "not-the-password\n").unwrap();
    no(&good, "cannot open store");
    let (_, _, err) = run(dir.path(), &serve, "");
    assert!(!err.contains("not-the-password"), "{err}");
    // A password in the URL and a password file: which is meant would be a guess.
    let both = good.replace("app@", "app:x@");
    no(&both, "has a password already");
}

/// `require` against a server without TLS is refused (libpq's rule; `prefer`, the default,
/// falls back to plain TCP).
#[test]
fn require_against_a_server_without_tls_is_refused() {
    let Some(pg) = common::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let (code, _, err) = run(dir.path(), &["user", "list", "--store", &url], "");
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(
        dir.path(),
        &["user", "list", "--store", &format!("{url}?sslmode=prefer")],
        "",
    );
    assert_eq!(code, Some(0), "prefer falls back: {err}");
    refused(
        dir.path(),
        &["user", "list", "--store", &format!("{url}?sslmode=require")],
        "cannot open store",
    );
}
