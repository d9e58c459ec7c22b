//! SIGHUP: the keys and the TLS certificate read again, so a rotation step (`keys add --next`,
//! `keys promote`, `keys retire`, a secret file a secret store rewrote) or a renewed
//! certificate takes effect without a restart.
//!
//! Each is checked as at start (the key file's permissions and every line, `--signing-alg`;
//! the certificate against its key) and replaces the old one whole. When one does not load,
//! the error is logged and what is in use stays: a bad edit never leaves an instance without
//! keys, with half a ring, or without a certificate.

use std::sync::Arc;

use auth_core::Algorithm;
use tokio::signal::unix::{SignalKind, signal};

use super::startup::{self, StartupError};
use crate::http::tls::{Certificate, TlsError};
use crate::keys::{KeySource, Keys};
use crate::metrics::Metrics;
use crate::state::AppState;

/// What SIGHUP reloads.
pub(crate) struct Reload {
    pub(crate) state: AppState,
    /// Where the keys came from at start.
    pub(crate) source: KeySource,
    /// `--signing-alg`, checked again.
    pub(crate) signing_alg: Option<Algorithm>,
    /// The listener's certificate, with `--tls-cert`.
    pub(crate) certificate: Option<Arc<Certificate>>,
}

/// Starts the task that reloads on each SIGHUP.
///
/// # Errors
/// [`StartupError::Io`] when the signal handler cannot be installed.
pub(crate) fn on_hangup(mut reload: Reload) -> Result<(), StartupError> {
    let mut hangups = signal(SignalKind::hangup()).map_err(StartupError::Io)?;
    // Made at start, a key file now.
    if let KeySource::Generated(path) = &reload.source {
        reload.source = KeySource::File(path.clone());
    }
    let reload = Arc::new(reload);
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let task = Arc::clone(&reload);
            // Small files, but files: off the request threads.
            let read = tokio::task::spawn_blocking(move || {
                let keys = startup::reload_keys(&task.source, task.signing_alg);
                let tls = task.certificate.as_ref().map(|c| c.reload());
                (keys, tls)
            })
            .await;
            match read {
                Ok((keys, tls)) => {
                    apply_keys(&reload, keys);
                    if let Some(tls) = tls {
                        report_certificate(&reload, tls);
                    }
                }
                Err(e) => tracing::error!(error = %e, "reload failed; what is in use stays"),
            }
        }
    });
    Ok(())
}

/// Puts the reloaded ring in use, or says why not.
fn apply_keys(reload: &Reload, read: Result<Option<Keys>, StartupError>) {
    let (state, source) = (&reload.state, &reload.source);
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
                 runs; keys not reloaded"
            );
        }
        Err(e) => {
            Metrics::count(&state.metrics.key_reloads, "refused");
            tracing::error!(keys = %source, error = %e, "keys not reloaded; the keys in use stay");
        }
    }
}

/// Logs and counts the certificate's reload.
fn report_certificate(reload: &Reload, result: Result<(), TlsError>) {
    let counter = &reload.state.metrics.certificate_reloads;
    match result {
        Ok(()) => {
            Metrics::count(counter, "ok");
            tracing::info!("TLS certificate reloaded");
        }
        Err(e) => {
            Metrics::count(counter, "refused");
            tracing::error!(error = %e, "TLS certificate not reloaded; the one in use stays");
        }
    }
}
