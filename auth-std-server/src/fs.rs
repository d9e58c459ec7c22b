//! The files the server owns (the key file, the first-run password, a new SQLite store): written
//! atomically and privately, and checked at start for permissions that would let another local
//! user read or replace them.
//!
//! Temp files are created with `O_EXCL` under a random name ([`tempfile`]) in the target's
//! directory, never a predictable one: in a shared directory another user could otherwise
//! pre-create (or symlink) the name and end up owning the result. Their mode is set to 0600
//! explicitly, whatever the umask.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// Mode bits for "group or others may write".
pub(crate) const GROUP_OR_WORLD_WRITABLE: u32 = 0o022;
/// Mode bits for "group or others may read".
const GROUP_OR_WORLD_READABLE: u32 = 0o044;

/// The largest secret file [`read_secret`] reads: a signing secret or a database URL is well
/// under it, and a path mistaken for one (a log, `/dev/zero`) is refused instead of read whole.
pub const MAX_SECRET_FILE: u64 = 4096;

/// Replaces `path` with `contents` atomically and durably: an exclusive, randomly named temp
/// file (mode 0600) in the same directory, fsync, rename over `path`, fsync of the directory.
/// A crash at any point leaves the old file or the new one, never a partial one.
///
/// # Errors
/// Any I/O error; the old file is then untouched and the temp file removed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    set_private(tmp.as_file())?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Writes a new private (0600) file that must not exist yet.
///
/// # Errors
/// Any I/O error, `AlreadyExists` included.
pub fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    set_private(&f)?;
    f.write_all(contents)?;
    f.sync_all()?;
    File::open(parent(path))?.sync_all()
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(unix)]
fn set_private(f: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_: &File) -> io::Result<()> {
    Ok(())
}

/// A file or directory another local user could read or replace. `Display` is the one-line
/// message the server exits with: the path, its mode and the fix.
#[derive(Debug)]
#[non_exhaustive]
pub enum PermissionError {
    /// Its metadata could not be read.
    Unreadable {
        /// The path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The data directory is writable by group or others.
    SharedDataDir {
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret file (`*_FILE`) is empty, not UTF-8, or longer than [`MAX_SECRET_FILE`].
    SecretContent {
        /// What the file is ("AUTH_SECRET_FILE").
        what: &'static str,
        /// The path.
        path: String,
        /// What is wrong, never the content.
        problem: &'static str,
    },
    /// A secret file is readable or writable by group or others.
    ExposedFile {
        /// What the file is ("key file", "users file").
        what: &'static str,
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

impl std::fmt::Display for PermissionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PermissionError::Unreadable { path, source } => {
                write!(f, "cannot read {path}: {source}")
            }
            PermissionError::SharedDataDir { path, mode } => write!(
                f,
                "data directory {path} is writable by group or others (mode {mode:o}); \
                 run `chmod go-w {path}` or use another --data directory"
            ),
            PermissionError::ExposedFile { what, path, mode } => write!(
                f,
                "{what} {path} is readable or writable by group or others (mode {mode:o}); \
                 run `chmod 600 {path}`"
            ),
            PermissionError::SecretContent {
                what,
                path,
                problem,
            } => write!(f, "{what} {path} {problem}"),
        }
    }
}

impl std::error::Error for PermissionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PermissionError::Unreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> Result<u32, PermissionError> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .map_err(|source| PermissionError::Unreadable {
            path: path.display().to_string(),
            source,
        })
}

/// Refuses a data directory that group or others may write: anyone who can write there can
/// replace the key or the accounts.
///
/// # Errors
/// [`PermissionError`], naming the path, its mode and the fix.
pub fn check_data_dir(dir: &Path) -> Result<(), PermissionError> {
    #[cfg(unix)]
    {
        let m = mode(dir)?;
        if m & GROUP_OR_WORLD_WRITABLE != 0 {
            return Err(PermissionError::SharedDataDir {
                path: dir.display().to_string(),
                mode: m,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Refuses a secret file (the key file, the users file, a `*_FILE` secret) that group or others
/// may read or write (#25 item 2: a group that can read the key can mint tokens). Container
/// secrets need their mode set (Kubernetes `defaultMode: 0400`, Docker `mode: 0400`).
///
/// # Errors
/// [`PermissionError`], naming the path, its mode and the fix.
pub fn check_secret_file(path: &Path, what: &'static str) -> Result<(), PermissionError> {
    #[cfg(unix)]
    {
        let m = mode(path)?;
        if m & (GROUP_OR_WORLD_WRITABLE | GROUP_OR_WORLD_READABLE) != 0 {
            return Err(PermissionError::ExposedFile {
                what,
                path: path.display().to_string(),
                mode: m,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// A secret from a file, the `*_FILE` convention of container images (`AUTH_SECRET_FILE`,
/// `DATABASE_URL_FILE`): its permissions checked as [`check_secret_file`], its content UTF-8
/// and at most [`MAX_SECRET_FILE`] bytes, less one trailing newline (what `echo` and editors
/// leave). The content never appears in an error.
///
/// # Errors
/// [`PermissionError`], naming the path and what is wrong.
pub fn read_secret(path: &Path, what: &'static str) -> Result<String, PermissionError> {
    use std::io::Read as _;
    check_secret_file(path, what)?;
    let unreadable = |source| PermissionError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    let bad = |problem| PermissionError::SecretContent {
        what,
        path: path.display().to_string(),
        problem,
    };
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(bad("is longer than 4096 bytes"));
    }
    let mut text = String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    Ok(text)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_secret_file_is_read_less_its_newline_and_checked_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        for (content, want) in [
            (&b"s3cret\n"[..], Ok("s3cret")),
            (b"s3cret\r\n", Ok("s3cret")),
            (b"s3cret", Ok("s3cret")),
            (b"two\nlines\n", Ok("two\nlines")),
            (b"\n", Err("is empty")),
            (b"", Err("is empty")),
            (b"\xff\xfe", Err("is not UTF-8")),
        ] {
            create_private(&f, content).unwrap();
            match (read_secret(&f, "AUTH_SECRET_FILE"), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{e}"),
                (got, w) => panic!("{content:?}: {got:?}, want {w:?}"),
            }
            fs::remove_file(&f).unwrap();
        }
        create_private(&f, &[b'a'; 4097]).unwrap();
        let e = read_secret(&f, "AUTH_SECRET_FILE").unwrap_err().to_string();
        assert!(e.contains("longer than 4096"), "{e}");
        fs::remove_file(&f).unwrap();
        create_private(&f, b"hunter2-hunter2\n").unwrap();
        set_mode(&f, 0o640);
        let e = read_secret(&f, "AUTH_SECRET_FILE").unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("hunter2"), "{e}");
    }

    fn set_mode(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn atomic_writes_are_private_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        // A file that exists, world-readable: the replacement is 0600 all the same.
        fs::write(&path, "old").unwrap();
        set_mode(&path, 0o666);
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["jwt.key"]);
    }

    /// #10 item 6: the temp name used to be `.{name}.tmp.{pid}`, opened with create + truncate;
    /// a file another user planted under that name kept its owner and mode. Whatever is
    /// planted under the old names now, it is neither written nor followed.
    #[test]
    fn planted_temp_names_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("jwt.key");
        let elsewhere = dir.path().join("attacker-owned");
        fs::write(&elsewhere, "planted").unwrap();
        let old_name = dir
            .path()
            .join(format!(".jwt.key.tmp.{}", std::process::id()));
        std::os::unix::fs::symlink(&elsewhere, &old_name).unwrap();
        write_atomic(&target, b"secret").unwrap();
        assert_eq!(
            fs::read(&elsewhere).unwrap(),
            b"planted",
            "the symlink was not followed"
        );
        assert_eq!(fs::read(&target).unwrap(), b"secret");
        assert!(fs::symlink_metadata(&target).unwrap().file_type().is_file());
    }

    #[test]
    fn permission_checks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        fs::create_dir(&d).unwrap();
        for (m, ok) in [
            (0o700, true),
            (0o755, true),
            (0o750, true),
            (0o775, false),
            (0o777, false),
            (0o1777, false),
        ] {
            set_mode(&d, m);
            assert_eq!(check_data_dir(&d).is_ok(), ok, "{m:o}");
        }
        let f = d.join("jwt.key");
        fs::write(&f, "k").unwrap();
        for (m, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o604, false),
            (0o644, false),
            (0o660, false),
            (0o666, false),
            (0o602, false),
        ] {
            set_mode(&f, m);
            let r = check_secret_file(&f, "key file");
            assert_eq!(r.is_ok(), ok, "{m:o}");
            if let Err(e) = r {
                let e = e.to_string();
                assert!(
                    e.contains(&f.display().to_string()) && e.contains("chmod 600"),
                    "{e}"
                );
            }
        }
        create_private(&d.join("admin.password"), b"pw\n").unwrap();
        assert_eq!(read_secret(&d.join("admin.password"), "x").unwrap(), "pw");
        assert!(
            create_private(&d.join("admin.password"), b"pw\n").is_err(),
            "never overwritten"
        );
    }
}
