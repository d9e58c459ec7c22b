//! Getting ready to serve: the data directory (created 0700, refused when others may write it),
//! the signing keys (`AUTH_SECRET`, a key file, or one generated on first start), and the
//! first-run `admin` account, whose password goes to a 0600 file, never to stdout.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::admin::AdminError;
use crate::fs::PermissionError;
use crate::keys::{self, KeySource, Keys, KeysError};
use crate::users::{self, UsersError};

/// Why the server cannot start. `Display` is the one line it exits with.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartupError {
    /// The data directory could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file or directory others may write or read.
    Permission(PermissionError),
    /// The keys could not be had.
    Keys(KeysError),
    /// The users file could not be read or written.
    Users(UsersError),
    /// The first-run `admin` password could not be made.
    Admin(AdminError),
    /// The system random generator failed.
    Rng(getrandom::Error),
    /// The first-run password file could not be written.
    WriteSecret {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The listening address could not be bound.
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The runtime could not be built, or serving failed.
    Io(std::io::Error),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::CreateDir { path, source } => {
                write!(f, "cannot create {}: {source}", path.display())
            }
            StartupError::Permission(e) => e.fmt(f),
            StartupError::Keys(e) => e.fmt(f),
            StartupError::Users(e) => e.fmt(f),
            StartupError::Admin(e) => e.fmt(f),
            StartupError::Rng(e) => write!(f, "random generator failed: {e}"),
            StartupError::WriteSecret { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            StartupError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartupError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartupError::CreateDir { source, .. }
            | StartupError::WriteSecret { source, .. }
            | StartupError::Listen { source, .. } => Some(source),
            StartupError::Permission(e) => Some(e),
            StartupError::Keys(e) => Some(e),
            StartupError::Users(e) => Some(e),
            StartupError::Admin(e) => Some(e),
            StartupError::Rng(e) => Some(e),
            StartupError::Io(e) => Some(e),
        }
    }
}

impl From<PermissionError> for StartupError {
    fn from(e: PermissionError) -> Self {
        StartupError::Permission(e)
    }
}

impl From<KeysError> for StartupError {
    fn from(e: KeysError) -> Self {
        StartupError::Keys(e)
    }
}

impl From<UsersError> for StartupError {
    fn from(e: UsersError) -> Self {
        StartupError::Users(e)
    }
}

/// Prepares the data directory beside `users_path`, loads or makes the keys, and creates the
/// users file with `admin` when there is none.
///
/// # Errors
/// [`StartupError`], whose message names the path and the problem.
pub fn prepare(
    users_path: &Path,
    key_file: Option<&Path>,
    rounds: u32,
    now: u64,
) -> Result<(Keys, KeySource), StartupError> {
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
            .map_err(|source| StartupError::CreateDir {
                path: data_dir.clone(),
                source,
            })?;
    }
    // Refuse to run on files another local user could replace or read (#10 item 6).
    crate::fs::check_data_dir(&data_dir)?;

    let (keys, source) = match std::env::var("AUTH_SECRET") {
        Ok(secret) => (keys::from_secret(&secret)?, KeySource::Env),
        Err(_) => match key_file {
            Some(path) => {
                crate::fs::check_secret_file(path, "key file")?;
                (
                    keys::load_key_file(path)?,
                    KeySource::File(path.display().to_string()),
                )
            }
            None => {
                let path = data_dir.join("jwt.key");
                if path.exists() {
                    crate::fs::check_secret_file(&path, "key file")?;
                    (
                        keys::load_key_file(&path)?,
                        KeySource::File(path.display().to_string()),
                    )
                } else {
                    (
                        keys::generate_key_file(&path, now)?,
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
        let admin = crate::admin::new_hash(&password, rounds).map_err(StartupError::Admin)?;
        let secret = crate::admin::first_run_password_path(users_path);
        crate::fs::create_private(&secret, format!("{password}\n").as_bytes()).map_err(
            |source| StartupError::WriteSecret {
                path: secret.clone(),
                source,
            },
        )?;
        users::modify_file(users_path, |all| {
            all.insert("admin".into(), admin);
            Ok(())
        })?;
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

fn random_password() -> Result<String, StartupError> {
    let mut b = [0u8; 15];
    getrandom::fill(&mut b).map_err(StartupError::Rng)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A users file that group or others may write lets them add accounts: refused. One that
/// others may read exposes hashes to offline guessing: warned about.
fn users_writable_check(path: &Path) -> Result<(), StartupError> {
    match crate::fs::check_secret_file(path, "users file") {
        Err(crate::fs::PermissionError::ExposedFile { mode, .. })
            if mode & crate::fs::GROUP_OR_WORLD_WRITABLE == 0 =>
        {
            tracing::warn!(
                "users file {} is readable by others (mode {mode:o})",
                path.display()
            );
        }
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    Ok(())
}
