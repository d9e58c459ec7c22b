//! SIGHUP: the keys read again, so a rotation step (`keys add --next`, `keys promote`,
//! `keys retire`, or a secret file a secret store rewrote) takes effect without a restart.
//!
//! The new ring is checked as at start (the file's permissions, every line, `--signing-alg`)
//! and replaces the old one whole. When it does not load, the error is logged and the keys in
//! use stay: a bad edit never leaves an instance without keys or with half a ring.

use auth_core::Algorithm;
use tokio::signal::unix::{SignalKind, signal};

use super::startup::{self, StartupError};
use crate::keys::{KeySource, Keys};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Starts the task that reloads the keys on each SIGHUP.
///
/// # Errors
/// [`StartupError::Io`] when the signal handler cannot be installed.
pub(crate) fn on_hangup(
    state: AppState,
    source: KeySource,
    signing_alg: Option<Algorithm>,
) -> Result<(), StartupError> {
    let mut hangups = signal(SignalKind::hangup()).map_err(StartupError::Io)?;
    // Made at start, a key file now.
    let source = match source {
        KeySource::Generated(path) => KeySource::File(path),
        other => other,
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let (from, alg) = (source.clone(), signing_alg);
            // A small file, but a file: off the request threads.
            let read = tokio::task::spawn_blocking(move || startup::reload_keys(&from, alg)).await;
            match read {
                Ok(result) => apply(&state, &source, result),
                Err(e) => tracing::error!(error = %e, "key reload failed; the keys in use stay"),
            }
        }
    });
    Ok(())
}

/// Puts the reloaded ring in use, or says why not.
fn apply(state: &AppState, source: &KeySource, read: Result<Option<Keys>, StartupError>) {
    match read {
        Ok(Some(keys)) => {
            let signing = keys.signing_key().kid().unwrap_or("").to_owned();
            let count = keys.keys().count();
            if state.auth.replace_keys(keys) {
                Metrics::count(&state.metrics.key_reloads, "ok");
                tracing::info!(keys = %source, count, signing_kid = %signing, "keys reloaded");
            }
        }
        Ok(None) => {
            Metrics::count(&state.metrics.key_reloads, "unchanged");
            tracing::warn!(
                keys = %source,
                "SIGHUP: the keys come from AUTH_SECRET, which cannot change while the server \
                 runs; nothing reloaded"
            );
        }
        Err(e) => {
            Metrics::count(&state.metrics.key_reloads, "refused");
            tracing::error!(keys = %source, error = %e, "keys not reloaded; the keys in use stay");
        }
    }
}
