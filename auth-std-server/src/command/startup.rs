//! Getting ready to serve: the data directory (created 0700, refused when others may write it),
//! the signing keys (`AUTH_SECRET`, a key file, or one generated on first start), the store
//! (opened and migrated; an old users file imported once), and the first-run `admin` account,
//! whose password goes to a 0600 file, never to stdout.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::fs::PermissionError;
use crate::keys::{self, KeySource, Keys, KeysError};
use crate::password::NewHashError;
use crate::store::{PoolLimits, Store, StoreError, StoreUrl};
use crate::users::UsersError;

/// The file name of the first-run `admin` password, in the data directory.
pub const FIRST_RUN_PASSWORD_FILE: &str = "admin.password";

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
    /// An old users file could not be imported.
    Users(UsersError),
    /// The store could not be opened, migrated or read.
    Store(StoreError),
    /// The first-run `admin` password could not be made.
    NewHash(NewHashError),
    /// The system random generator failed.
    Rng(getrandom::Error),
    /// The first-run password file could not be written.
    WriteSecret {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The imported users file could not be renamed `users.imported`.
    Rename {
        /// The imported file.
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
    /// The TLS certificate or key is missing or unusable.
    Tls(crate::http::tls::TlsError),
    /// Connection limits that contradict each other.
    Limits(String),
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
            StartupError::Store(e) => e.fmt(f),
            StartupError::NewHash(e) => e.fmt(f),
            StartupError::Rng(e) => write!(f, "random generator failed: {e}"),
            StartupError::WriteSecret { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            StartupError::Rename { path, source } => write!(
                f,
                "imported {} but cannot rename it: {source}",
                path.display()
            ),
            StartupError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartupError::Tls(e) => e.fmt(f),
            StartupError::Limits(why) => f.write_str(why),
            StartupError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartupError::CreateDir { source, .. }
            | StartupError::WriteSecret { source, .. }
            | StartupError::Rename { source, .. }
            | StartupError::Listen { source, .. } => Some(source),
            StartupError::Permission(e) => Some(e),
            StartupError::Keys(e) => Some(e),
            StartupError::Users(e) => Some(e),
            StartupError::Store(e) => Some(e),
            StartupError::NewHash(e) => Some(e),
            StartupError::Rng(e) => Some(e),
            StartupError::Tls(e) => Some(e),
            StartupError::Io(e) => Some(e),
            StartupError::Limits(_) => None,
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

/// Prepares the data directory, loads or makes the keys, opens the store (creating and
/// migrating it when new), imports an old `users` file from the data directory once, and
/// creates the `admin` account when the store holds none.
///
/// # Errors
/// [`StartupError`], whose message names the path or store and the problem.
pub async fn prepare(
    url: &StoreUrl,
    limits: PoolLimits,
    key_files: KeyFiles<'_>,
    rounds: u32,
    now: u64,
) -> Result<(Keys, KeySource, Store), StartupError> {
    let data_dir = url.data_dir();
    make_data_dir(&data_dir)?;
    let (keys, source) = load_keys(key_files, &data_dir, now)?;
    if let StoreUrl::Sqlite(path) = url
        && path.exists()
    {
        store_file_check(path)?;
    }
    let store = Store::open(url, limits)
        .await
        .map_err(StartupError::Store)?;

    let old = data_dir.join("users");
    if old.exists() {
        import_old_users(&store, &old, now).await?;
    }

    if store.count().await.map_err(StartupError::Store)? == 0 {
        first_run(&store, &data_dir, rounds, now).await?;
    }
    Ok((keys, source, store))
}

/// Creates the data directory (0700) if it is missing, then refuses to run on files another
/// local user could replace or read (#10 item 6).
fn make_data_dir(data_dir: &Path) -> Result<(), StartupError> {
    if !data_dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(data_dir)
            .map_err(|source| StartupError::CreateDir {
                path: data_dir.to_owned(),
                source,
            })?;
    }
    crate::fs::check_data_dir(data_dir)?;
    Ok(())
}

/// Where the signing keys may come from, besides `AUTH_SECRET`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyFiles<'a> {
    /// `--secret-file` (`AUTH_SECRET_FILE`): one secret, as `AUTH_SECRET` would hold it.
    pub secret: Option<&'a Path>,
    /// `--key-file`: a key ring.
    pub ring: Option<&'a Path>,
    /// `--signing-alg`: the algorithm a generated key has, and the one the signing key must
    /// have when set.
    pub signing_alg: Option<auth_core::Algorithm>,
}

/// The signing keys: `AUTH_SECRET` or the secret file (not both), else the key file named,
/// else `jwt.key` in the data directory, made on first start.
fn load_keys(
    files: KeyFiles<'_>,
    data_dir: &Path,
    now: u64,
) -> Result<(Keys, KeySource), StartupError> {
    let (keys, source) = find_keys(files, data_dir, now)?;
    keys::check_signing_alg(&keys, files.signing_alg, &source)?;
    Ok((keys, source))
}

/// The keys read again from where they came from at start, checked as at start (the file's
/// permissions, every line, `--signing-alg`): what SIGHUP does. A key file made at start is
/// read as a key file now; nothing is generated. `None` for `AUTH_SECRET`, which cannot
/// change while the process runs.
///
/// # Errors
/// [`StartupError`]: the file is missing, exposed or invalid. Nothing is half-read.
pub fn reload_keys(
    source: &KeySource,
    signing_alg: Option<auth_core::Algorithm>,
) -> Result<Option<Keys>, StartupError> {
    let keys = match source {
        KeySource::Env => return Ok(None),
        KeySource::SecretFile(path) => {
            keys::from_secret(&crate::fs::read_secret(path, "secret file")?)?
        }
        KeySource::File(path) | KeySource::Generated(path) => {
            crate::fs::check_secret_file(path, "key file")?;
            keys::load_key_file(path)?
        }
    };
    keys::check_signing_alg(&keys, signing_alg, source)?;
    Ok(Some(keys))
}

fn find_keys(
    files: KeyFiles<'_>,
    data_dir: &Path,
    now: u64,
) -> Result<(Keys, KeySource), StartupError> {
    let key_file = files.ring;
    match (std::env::var("AUTH_SECRET"), files.secret) {
        (Ok(_), Some(_)) => return Err(KeysError::TwoSecrets.into()),
        (Ok(secret), None) => return Ok((keys::from_secret(&secret)?, KeySource::Env)),
        (Err(_), Some(path)) => {
            let secret = crate::fs::read_secret(path, "secret file")?;
            let keys = keys::from_secret(&secret)?;
            return Ok((keys, KeySource::SecretFile(path.to_owned())));
        }
        (Err(_), None) => {}
    }
    let path = key_file.map_or_else(|| data_dir.join("jwt.key"), Path::to_owned);
    if key_file.is_some() || path.exists() {
        crate::fs::check_secret_file(&path, "key file")?;
        let keys = keys::load_key_file(&path)?;
        return Ok((keys, KeySource::File(path.clone())));
    }
    let alg = files.signing_alg.unwrap_or(auth_core::Algorithm::Hs256);
    let keys = keys::generate_key_file(&path, now, alg)?;
    Ok((keys, KeySource::Generated(path)))
}

/// Imports the 0.1 users file once, then renames it `users.imported`. A crash between the two
/// imports it again at the next start, which adds nothing twice.
async fn import_old_users(store: &Store, old: &Path, now: u64) -> Result<(), StartupError> {
    let users = crate::users::read_file(old)?;
    let list: Vec<_> = users.into_iter().collect();
    let added = store
        .import(&list, now)
        .await
        .map_err(StartupError::Store)?;
    let mut renamed = old.as_os_str().to_owned();
    renamed.push(".imported");
    let renamed = PathBuf::from(renamed);
    std::fs::rename(old, &renamed).map_err(|source| StartupError::Rename {
        path: old.to_owned(),
        source,
    })?;
    tracing::info!(imported = added, of = list.len(), from = %old.display(), renamed = %renamed.display(), "old users file imported");
    super::console::say(&format!(
        "Imported {added} of {} accounts from {} into the store (names already there were kept); \
         the file is now {}.",
        list.len(),
        old.display(),
        renamed.display()
    ));
    Ok(())
}

/// The first run: an `admin` account with a random password, which goes to a private file,
/// never to stdout (stdout is the log stream that journald, docker and kubernetes keep; #10
/// item 12). When several instances start on an empty store at once, one creates it.
async fn first_run(
    store: &Store,
    data_dir: &Path,
    rounds: u32,
    now: u64,
) -> Result<(), StartupError> {
    let password = random_password()?;
    let admin =
        crate::password::new_account_hash(&password, rounds).map_err(StartupError::NewHash)?;
    let secret = data_dir.join(FIRST_RUN_PASSWORD_FILE);
    // Written under a name of this process's own first, and moved into place only by the
    // instance whose insert won: instances sharing a data directory never collide.
    let pending = data_dir.join(format!(
        "{}.{}",
        FIRST_RUN_PASSWORD_FILE,
        std::process::id()
    ));
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StartupError::WriteSecret { path, source }
    };
    crate::fs::create_private(&pending, format!("{password}\n").as_bytes())
        .map_err(write_err(&pending))?;
    let won = store.add_first("admin", &admin, now).await;
    if !matches!(won, Ok(true)) {
        // Another instance created the first account meanwhile, or the store failed.
        let _ = std::fs::remove_file(&pending);
        won.map_err(StartupError::Store)?;
        return Ok(());
    }
    std::fs::rename(&pending, &secret).map_err(write_err(&secret))?;
    tracing::info!(store = %store.url(), password_file = %secret.display(), "first run: created user 'admin'");
    super::console::say(&format!(
        "First run: created user 'admin' in {}; its password is in {} (mode 0600).",
        store.url(),
        secret.display()
    ));
    super::console::say(
        "  Change it with `auth-std-server user passwd admin`; that removes the file.",
    );
    Ok(())
}

fn random_password() -> Result<String, StartupError> {
    let mut b = [0u8; 15];
    getrandom::fill(&mut b).map_err(StartupError::Rng)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A store file that group or others may write lets them add accounts: refused. One that
/// others may read exposes hashes to offline guessing: warned about.
fn store_file_check(path: &Path) -> Result<(), StartupError> {
    match crate::fs::check_secret_file(path, "store file") {
        Err(crate::fs::PermissionError::ExposedFile { mode, .. })
            if mode & crate::fs::GROUP_OR_WORLD_WRITABLE == 0 =>
        {
            tracing::warn!(
                "store file {} is readable by group or others (mode {mode:o})",
                path.display()
            );
        }
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// What SIGHUP reads: the file as it is now, checked as at start; nothing for
    /// `AUTH_SECRET`; never a generated key.
    #[test]
    fn reload_reads_the_source_again() {
        let dir = tempfile::tempdir().unwrap();
        assert!(reload_keys(&KeySource::Env, None).unwrap().is_none());

        let secret = dir.path().join("secret");
        private(&secret, &"a".repeat(32));
        let source = KeySource::SecretFile(secret.clone());
        let before = reload_keys(&source, None).unwrap().unwrap();
        private(&secret, &"b".repeat(32));
        let after = reload_keys(&source, None).unwrap().unwrap();
        let token = |k: &Keys| {
            let mut out = [0u8; 256];
            let claims = auth_core::Claims {
                sub: Some(auth_core::JsonStr::new("x")),
                ..auth_core::Claims::default()
            };
            k.sign(&claims, &mut out).unwrap().to_owned()
        };
        assert_ne!(token(&before), token(&after), "the new secret signs");
        private(&secret, "short");
        assert!(reload_keys(&source, None).is_err());

        let file = dir.path().join("jwt.key");
        let generated = KeySource::Generated(file.clone());
        assert!(
            reload_keys(&generated, None).is_err(),
            "a missing file is not made"
        );
        assert!(!file.exists());
        private(&file, &format!("k1 {}\n", "c".repeat(43)));
        assert!(reload_keys(&generated, None).unwrap().is_some());
        let e = reload_keys(&generated, Some(auth_core::Algorithm::EdDsa)).unwrap_err();
        assert!(e.to_string().contains("--signing-alg is EdDSA"), "{e}");
    }
}
