//! `keys jwks|list|add|promote|retire`: the key file, offline. Edits go through
//! [`crate::keys::edit_key_file`] (locked, atomic, mode 0600, checked as the server loads it);
//! nothing here prints a secret or a seed.

use std::path::PathBuf;

use super::console;
use crate::cli::{KeyFileArgs, KeysCommand};
use crate::keys::{self, NewKey};

/// Runs one `keys` command.
pub(crate) fn run(cmd: KeysCommand) -> Result<(), String> {
    if !matches!(cmd, KeysCommand::Jwks(_) | KeysCommand::List(_)) {
        for var in ["AUTH_SECRET", "AUTH_SECRET_FILE"] {
            if std::env::var_os(var).is_some() {
                eprintln!(
                    "note: {var} is set: a server started with it signs and verifies with \
                     that secret alone and ignores the key file"
                );
            }
        }
    }
    match cmd {
        KeysCommand::Jwks(file) => jwks(&path(file)?),
        KeysCommand::List(file) => list(&path(file)?),
        KeysCommand::Add {
            alg,
            kid,
            next,
            file,
        } => {
            let new = NewKey {
                alg: alg.map(|a| a.algorithm()),
                kid,
                next,
            };
            add(&path(file)?, &new)
        }
        KeysCommand::Promote { kid, file } => promote(&path(file)?, &kid),
        KeysCommand::Retire { kid, file } => retire(&path(file)?, &kid),
    }
}

/// `--key-file`, or `jwt.key` in the store's data directory. An existing file that group or
/// others may read or write is refused, as the server refuses it at start: an edit would
/// otherwise replace it with a private file and hide that it was exposed.
fn path(file: KeyFileArgs) -> Result<PathBuf, String> {
    let path = match file.key_file {
        Some(path) => path,
        None => file
            .store
            .url()
            .map_err(|e| e.to_string())?
            .data_dir()
            .join("jwt.key"),
    };
    if path.exists() {
        crate::fs::check_secret_file(&path, "key file").map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// The public key set, as `/.well-known/jwks.json` serves it.
fn jwks(path: &std::path::Path) -> Result<(), String> {
    let keys = keys::load_key_file(path).map_err(|e| e.to_string())?;
    let set = crate::http::discovery::jwks(&keys);
    if set.keys.is_empty() {
        eprintln!(
            "note: {} holds no EdDSA key; the set is empty",
            path.display()
        );
    }
    let json = serde_json::to_string_pretty(&set).map_err(|e| e.to_string())?;
    console::say(&json);
    Ok(())
}

/// What every edit ends with: running servers read the key file again on SIGHUP.
const RELOAD: &str = "Send each running instance SIGHUP (`systemctl reload auth-std-server`, \
                      `kill -HUP <pid>`) to load the change.";

fn list(path: &std::path::Path) -> Result<(), String> {
    for e in keys::list_key_file(path).map_err(|e| e.to_string())? {
        console::say(&format!(
            "{}\t{}\t{}",
            e.kid,
            e.alg.as_str(),
            e.role.as_str()
        ));
    }
    Ok(())
}

fn add(path: &std::path::Path, new: &NewKey) -> Result<(), String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("random generator failed: {e}"))?;
    let now = crate::clock::now();
    let kid = keys::edit_key_file(path, |text| keys::add_key(text, new, now, &secret))
        .map_err(|e| e.to_string())?;
    // The new line is last: without `next` it is the one that signs.
    let what = if new.next {
        "staged (next): it verifies, and an Ed25519 key is published in the key set, but it \
         does not sign until `keys promote`"
    } else {
        "it signs new tokens"
    };
    console::say(&format!(
        "added key {kid} to {}: {what}. {RELOAD}",
        path.display()
    ));
    Ok(())
}

fn promote(path: &std::path::Path, kid: &str) -> Result<(), String> {
    edit(path, |text| keys::promote_key(text, kid))?;
    console::say(&format!("{kid} signs now in {}. {RELOAD}", path.display()));
    Ok(())
}

fn retire(path: &std::path::Path, kid: &str) -> Result<(), String> {
    edit(path, |text| keys::retire_key(text, kid))?;
    console::say(&format!(
        "retired {kid} from {}: tokens it signed stop verifying once each instance reloads. \
         {RELOAD}",
        path.display()
    ));
    Ok(())
}

/// Replaces the key file with what `change` makes of its text.
fn edit(
    path: &std::path::Path,
    change: impl FnOnce(&str) -> Result<String, keys::KeysError>,
) -> Result<(), String> {
    keys::edit_key_file(path, |text| Ok((change(text)?, ()))).map_err(|e| e.to_string())
}
