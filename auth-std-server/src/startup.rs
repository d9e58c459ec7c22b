//! Getting ready to serve: the data directory (created 0700, refused when others may write it),
//! the signing keys (`AUTH_SECRET`, a key file, or one generated on first start), and the
//! first-run `admin` account, whose password goes to a 0600 file, never to stdout.

use std::path::Path;

use base64::Engine as _;

use crate::keys::{self, KeySource, Keys};
use crate::users::{self, User};

/// Prepares the data directory beside `users_path`, loads or makes the keys, and creates the
/// users file with `admin` when there is none.
///
/// # Errors
/// A one-line message naming the path and the problem.
pub fn prepare(
    users_path: &Path,
    key_file: Option<&Path>,
    rounds: u32,
    now: u64,
) -> Result<(Keys, KeySource), String> {
    let data_dir = users_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    if !data_dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    }
    // Refuse to run on files another local user could replace or read (#10 item 6).
    crate::fs::check_data_dir(&data_dir).map_err(|e| e.to_string())?;

    let (keys, source) = match std::env::var("AUTH_SECRET") {
        Ok(secret) => (
            keys::from_secret(&secret).map_err(|e| e.to_string())?,
            KeySource::Env,
        ),
        Err(_) => match key_file {
            Some(path) => {
                crate::fs::check_secret_file(path, "key file").map_err(|e| e.to_string())?;
                (
                    keys::load_key_file(path).map_err(|e| e.to_string())?,
                    KeySource::File(path.display().to_string()),
                )
            }
            None => {
                let path = data_dir.join("jwt.key");
                if path.exists() {
                    crate::fs::check_secret_file(&path, "key file").map_err(|e| e.to_string())?;
                    (
                        keys::load_key_file(&path).map_err(|e| e.to_string())?,
                        KeySource::File(path.display().to_string()),
                    )
                } else {
                    (
                        keys::generate_key_file(&path, now).map_err(|e| e.to_string())?,
                        KeySource::Generated(path.display().to_string()),
                    )
                }
            }
        },
    };

    if !users_path.exists() {
        // The password goes to a private file, never to stdout: stdout is the log stream that
        // journald, docker and kubernetes keep (#10 item 12).
        let password = random_password()?;
        let hash = crate::admin::new_hash(&password, rounds)?;
        let secret = crate::admin::first_run_password_path(users_path);
        crate::fs::create_private(&secret, format!("{password}\n").as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", secret.display()))?;
        users::modify_file(users_path, |all| {
            all.insert("admin".into(), User { hash, active: true });
            Ok(())
        })
        .map_err(|e| e.0)?;
        println!(
            "First run: created {} with user 'admin'; its password is in {} (mode 0600).",
            users_path.display(),
            secret.display()
        );
        println!("  Change it with `auth-std-server user passwd admin`; that removes the file.");
    } else {
        users_writable_check(users_path)?;
    }
    Ok((keys, source))
}

fn random_password() -> Result<String, String> {
    let mut b = [0u8; 15];
    getrandom::fill(&mut b).map_err(|e| format!("random generator failed: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A users file that group or others may write lets them add accounts: refused. One that
/// others may read exposes hashes to offline guessing: warned about.
fn users_writable_check(path: &Path) -> Result<(), String> {
    match crate::fs::check_secret_file(path, "users file") {
        Err(crate::fs::PermissionError::ExposedFile { mode, .. })
            if mode & crate::fs::GROUP_OR_WORLD_WRITABLE == 0 =>
        {
            tracing::warn!(
                "users file {} is readable by others (mode {mode:o})",
                path.display()
            );
        }
        Err(e) => return Err(e.to_string()),
        Ok(()) => {}
    }
    Ok(())
}
