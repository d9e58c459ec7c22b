//! Runs one command of [`crate::cli`]: `serve` ([`serve`]), `user …` and `session …`
//! ([`admin`]). Every error is one line on stderr and exit status 2, as for a bad option:
//! nothing was done.

pub mod admin;
pub mod console;
pub mod serve;
pub mod startup;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

use crate::cli::{Cli, Command, StoreArgs};
use crate::store::{DEFAULT_STORE, PoolLimits, StoreError, StoreUrl};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
        let text = match &self.store {
            Some(s) => s.clone(),
            None => std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_STORE.to_owned()),
        };
        text.parse()
    }

    /// The pool's bounds.
    pub(crate) fn limits(&self) -> PoolLimits {
        PoolLimits {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout),
        }
    }
}
