//! Runs one command of [`crate::cli`]: `serve` ([`serve`]), `user …` and `session …`
//! ([`admin`]), `config …` and `keys …` ([`keys`]). Every error is one line on stderr and exit status 2, as for a bad option:
//! nothing was done.

pub mod admin;
pub mod config;
pub mod console;
pub mod keys;
#[cfg(unix)]
mod reload;
pub mod serve;
pub mod startup;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command, ConfigCommand, StoreArgs};
use crate::store::{DEFAULT_STORE, PoolLimits, StoreError, StoreUrl};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let merged = match config::merge(std::env::args_os().collect()) {
        Ok(m) => m,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(&merged.argv);
    let result = match cli.command {
        Some(Command::Config(cmd)) => run_config(cmd, &merged),
        Some(Command::Keys(cmd)) => keys::run(cmd),
        Some(Command::User(cmd)) => admin::run(cmd).map_err(|e| e.to_string()),
        Some(Command::Session(cmd)) => admin::run_session(cmd).map_err(|e| e.to_string()),
        Some(Command::Serve(args)) => serve::serve(*args).map_err(|e| e.to_string()),
        None => serve::serve(cli.serve).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// A secret file's content, its error as a store error (which names the file, never the content).
fn read_secret(path: &Path, what: &'static str) -> Result<String, StoreError> {
    crate::fs::read_secret(path, what).map_err(|e| StoreError::Setting(e.to_string()))
}

/// `url` with `password` set (percent-encoded); refused when `url` already has one, since which
/// of the two is meant would be a guess.
fn with_password(url: &str, password: &str) -> Result<String, StoreError> {
    let bad = |why: &str| StoreError::Setting(format!("--db-password-file: {why}"));
    let mut parsed = url::Url::parse(url).map_err(|_| bad("the store URL does not parse"))?;
    let in_query = parsed.query_pairs().any(|(k, _)| k == "password");
    if parsed.password().is_some() || in_query {
        return Err(bad("the store URL has a password already; keep one"));
    }
    parsed
        .set_password(Some(password))
        .map_err(|()| bad("the store URL has no host to set a password for"))?;
    Ok(parsed.into())
}

/// `config example` prints the reference file; `config check` the effective configuration,
/// once the store URL parses.
fn run_config(cmd: ConfigCommand, merged: &config::Merged) -> Result<(), String> {
    match cmd {
        ConfigCommand::Example => console::say(config::example().trim_end()),
        ConfigCommand::Check(args) => {
            args.store.url().map_err(|e| e.to_string())?;
            let matches = Cli::command().get_matches_from(&merged.argv);
            let check = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("check"))
                .ok_or("config check: no matches")?;
            console::say(config::effective(check, merged).trim_end());
        }
    }
    Ok(())
}

impl StoreArgs {
    /// The store the options name.
    pub(crate) fn url(&self) -> Result<StoreUrl, StoreError> {
        if let Some(path) = &self.users {
            return Err(StoreError::Url(format!(
                "--users ({}) was removed in 0.2: accounts live in the store (--store, default \
                 {DEFAULT_STORE}); an old users file is imported with `auth-std-server user \
                 import FILE`, and auth-data/users is imported once at first start",
                path.display()
            )));
        }
        let text = self.url_text()?;
        let url: StoreUrl = text.parse()?;
        match (&self.db_password_file, url) {
            (None, url) => Ok(url),
            (Some(path), StoreUrl::Postgres(text)) => {
                let password = read_secret(path, "--db-password-file")?;
                with_password(&text, &password).map(StoreUrl::Postgres)
            }
            (Some(_), StoreUrl::Sqlite(_)) => Err(StoreError::Setting(
                "--db-password-file needs a postgres:// store".into(),
            )),
        }
    }

    /// The store URL's text, from the first of: `--store` (`AUTH_STORE`), `--store-file`
    /// (`AUTH_STORE_FILE`), `DATABASE_URL`, `DATABASE_URL_FILE`, the default.
    fn url_text(&self) -> Result<String, StoreError> {
        if self.store.is_some() && self.store_file.is_some() {
            return Err(StoreError::Setting(
                "--store (AUTH_STORE) and --store-file (AUTH_STORE_FILE) are both set; keep one"
                    .into(),
            ));
        }
        if let Some(s) = &self.store {
            return Ok(s.clone());
        }
        if let Some(path) = &self.store_file {
            return read_secret(path, "--store-file");
        }
        if let Ok(s) = std::env::var("DATABASE_URL") {
            return Ok(s);
        }
        if let Some(path) = std::env::var_os("DATABASE_URL_FILE") {
            return read_secret(Path::new(&path), "DATABASE_URL_FILE");
        }
        Ok(DEFAULT_STORE.to_owned())
    }

    /// The pool's bounds.
    pub(crate) fn limits(&self) -> PoolLimits {
        PoolLimits {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout),
        }
    }
}
