//! #25 item 1: the config file. `config check` shows each level of the precedence (command
//! line, then environment, then file, then default) winning over the next; a served instance and a `user`
//! command take their settings from the file; an unknown key, a wrongly typed value or a value
//! its flag refuses is one line naming the file, the line and the key, with exit code 2.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_auth-std-server");

/// The binary in `dir` with `args` and `env` (an empty value removes the variable), its
/// environment otherwise free of the server's variables: exit code, stdout, stderr.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") || k.starts_with("DATABASE_URL") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    // A command that should have refused to start and serves instead is killed after 20 s.
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        if !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line `config check` prints for `key`.
fn checked(dir: &Path, args: &[&str], env: &[(&str, &str)], key: &str) -> String {
    let mut all = vec!["config", "check"];
    all.extend(args);
    let (code, out, err) = run(dir, &all, env);
    assert_eq!(code, Some(0), "{err}");
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} not in {out}"))
        .to_owned()
}

#[test]
fn each_level_wins_over_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "token_ttl = 60\nno_docs = true\ntrusted_proxy = [\"10.0.0.1\", \"10.0.0.2\"]\n\
         store = \"postgres://auth:hunter2-pw@db.internal/auth\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let cfg = ["--config", f];
    let env = [("AUTH_TOKEN_TTL", "120")];
    let cli = ["--config", f, "--token-ttl", "180"];
    assert_eq!(
        checked(dir.path(), &cli, &env, "token_ttl"),
        "token_ttl = 180  # command line"
    );
    assert_eq!(
        checked(dir.path(), &cfg, &env, "token_ttl"),
        "token_ttl = 120  # env AUTH_TOKEN_TTL"
    );
    assert_eq!(
        checked(dir.path(), &cfg, &[], "token_ttl"),
        "token_ttl = 60  # config file"
    );
    assert_eq!(
        checked(dir.path(), &[], &[], "token_ttl"),
        "token_ttl = 2700  # default"
    );
    // AUTH_CONFIG names the file as --config does; lists and switches come from it too.
    let by_env = [("AUTH_CONFIG", f)];
    assert_eq!(
        checked(dir.path(), &[], &by_env, "trusted_proxy"),
        "trusted_proxy = [\"10.0.0.1\", \"10.0.0.2\"]  # config file"
    );
    assert_eq!(
        checked(dir.path(), &[], &by_env, "no_docs"),
        "no_docs = true  # config file"
    );
    // The store's password is never shown.
    let (_, out, _) = run(dir.path(), &["config", "check"], &by_env);
    assert!(
        out.contains("postgres://auth:***@db.internal/auth"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}

/// A served instance and a `user` command take the file's settings: the file's store and
/// token lifetime are the ones used.
#[test]
fn the_server_and_the_user_commands_read_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("elsewhere/auth.db").display());
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        format!("store = \"{store}\"\ntoken_ttl = 77\npbkdf2_rounds = 1000\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args(["user", "add", "cleo", "--password-stdin", "--config", f])
        .env_remove("AUTH_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"cl3o\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("elsewhere/auth.db").exists());

    let s = common::run_server(dir.path(), &["--config", f], "warn");
    let raw = common::login_raw(s.addr, "cleo", "cl3o");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("\"expires_in\":77"), "{raw}");
}

#[test]
fn a_wrong_key_or_value_is_one_line_naming_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    let f = file.to_str().unwrap();
    for (text, want) in [
        ("token_tll = 60\n", "line 1: unknown key 'token_tll'"),
        (
            "listen = \"127.0.0.1:1\"\n\ntoken_ttl = \"60\"\n",
            "line 3: 'token_ttl' takes an integer",
        ),
        (
            "no_docs = \"yes\"\n",
            "line 1: 'no_docs' takes true or false",
        ),
        (
            "trusted_proxy = \"10.0.0.1\"\n",
            "line 1: 'trusted_proxy' takes an array of strings",
        ),
        (
            "# c\nlisten = \"nowhere\"\n",
            "line 2: 'listen': invalid value 'nowhere'",
        ),
        (
            "token_ttl = -5\n",
            "line 1: 'token_ttl': invalid value '-5'",
        ),
        (
            "log_format = \"xml\"\n",
            "line 1: 'log_format': invalid value 'xml'",
        ),
        ("[serve]\ntoken_ttl = 1\n", "line 1: unknown key 'serve'"),
        ("config = \"other.toml\"\n", "line 1: unknown key 'config'"),
        ("token_ttl = 1\ntoken_ttl = 2\n", "line 2:"),
        ("listen = \n", "line 1:"),
    ] {
        std::fs::write(&file, text).unwrap();
        for args in [vec!["--config", f], vec!["config", "check", "--config", f]] {
            let (code, _, err) = run(dir.path(), &args, &[]);
            assert_eq!(code, Some(2), "{text:?}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{text:?}: {err}");
            assert!(
                err.contains(&format!("config file {f} {want}")),
                "{text:?}: {err}"
            );
        }
    }
    let (code, _, err) = run(dir.path(), &["--config", "missing.toml"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cannot read config file missing.toml"),
        "{err}"
    );
}

/// `config example` lists every `serve` option of `--help` with its env name, and with every
/// key uncommented and its placeholders filled, `config check` accepts it.
#[test]
fn the_example_lists_every_option_and_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (code, example, _) = run(dir.path(), &["config", "example"], &[]);
    assert_eq!(code, Some(0));
    let (_, help, _) = run(dir.path(), &["serve", "--help"], &[]);
    let longs: Vec<&str> = help
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
        .filter(|w| !["help", "version", "config"].contains(w) && !w.is_empty())
        .collect();
    assert!(longs.len() > 30, "{longs:?}");
    for long in longs {
        let key = long.replace('-', "_");
        assert!(
            example.contains(&format!("\n# {key} = ")),
            "{key} is not in the example"
        );
    }
    for env in [
        "AUTH_TOKEN_TTL",
        "AUTH_TRUSTED_PROXIES",
        "AUTH_SECRET_FILE",
        "AUTH_STORE",
    ] {
        assert!(example.contains(env), "{env}");
    }
}

/// `config example | head`: a reader that goes away is not a crash (`println!` panicked).
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let mut child = Command::new(BIN)
        .args(["config", "example"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
