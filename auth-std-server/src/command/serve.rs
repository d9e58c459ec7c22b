//! `serve`: the options made into settings, the store and keys opened, the listeners bound,
//! then the accept loop until SIGINT/SIGTERM; SIGHUP reads the keys and the TLS certificate
//! again (`reload.rs`).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::SubjectClaim;
use auth_core::password::Policy;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::console;
use super::startup::{self, StartupError};
use crate::cli::{LogFormat, ProxyHeadersArg, ServeArgs, SubjectArg};
use crate::hash_pool::HashPool;
use crate::http::proxy::{ForwardedHeader, TrustedProxies};
use crate::http::server::{self, Front, Limits};
use crate::http::tls::{Certificate, TlsError};
use crate::settings::{SessionSettings, Settings};
use crate::state::{AppState, State};
use crate::throttle::{RateLimit, Rates, Throttle, ThrottleLimits};

/// Loads or creates keys and users, then serves until SIGINT/SIGTERM.
///
/// # Errors
/// [`StartupError`]: a bad option, store, key file, certificate or address.
pub(crate) fn serve(args: ServeArgs) -> Result<(), StartupError> {
    // The guard flushes what the log writer buffered when serving ends.
    let _flush = init_logging(args.log_format);
    let url = args.store.url().map_err(StartupError::Store)?;
    let limits = connection_limits(&args)?;
    let workers = args
        .login_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(workers.saturating_add(4))
        .build()
        .map_err(StartupError::Io)?;
    // Checked before anything is created or opened: a bad certificate is one line, exit 2.
    let (certificate, tls) = tls(&args).map_err(StartupError::Tls)?;
    rt.block_on(async move {
        let (keys, source, store) = startup::prepare(
            &url,
            args.store.limits(),
            key_files(&args),
            args.pbkdf2_rounds,
            crate::clock::now(),
        )
        .await?;
        let user_count = store.count().await.map_err(StartupError::Store)?;
        let hashing = HashPool::new(workers, args.login_queue);
        let state = Arc::new(State::new(keys, settings(&args), store, hashing, throttle(&args)));
        #[cfg(unix)]
        super::reload::on_hangup(super::reload::Reload {
            state: Arc::clone(&state),
            source: source.clone(),
            signing_alg: key_files(&args).signing_alg,
            certificate,
        })?;
        let listener = bind(args.listen).await?;
        let addr = listener.local_addr().map_err(StartupError::Io)?;
        if let Some(admin) = args.admin_listen {
            serve_admin(bind(admin).await?, Arc::clone(&state))?;
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, url = %format!("{scheme}://{addr}"), store = %url, users = user_count, keys = %source, login_workers = workers, tls = tls.is_some(), "listening");
        console::say(&format!("Listening on {scheme}://{addr}"));
        let app = crate::http::app(state);
        server::serve(listener, app, limits, tls, front(&args), shutdown_signal())
            .await
            .map_err(StartupError::Io)
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// The listener's certificate (kept for SIGHUP to reload) and its acceptor, with `--tls-cert`.
fn tls(args: &ServeArgs) -> Result<(Option<Arc<Certificate>>, Option<TlsAcceptor>), TlsError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok((None, None));
    };
    let certificate = Certificate::load(cert, key)?;
    let acceptor = Arc::clone(&certificate).acceptor()?;
    Ok((Some(certificate), Some(acceptor)))
}

/// Logs to stdout through a non-blocking writer: a slow or blocked stdout drops log lines
/// instead of stalling requests. The guard flushes on drop.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, flush) = tracing_appender::non_blocking(std::io::stdout());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    console::set_json(format == LogFormat::Json);
    match format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        // Colour codes only for a person at a terminal, never into files or log collectors.
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
    }
    flush
}

/// The settings the options make.
fn settings(args: &ServeArgs) -> Settings {
    Settings {
        subject_claim: match args.subject_claim {
            SubjectArg::Sub => SubjectClaim::Sub,
            SubjectArg::Uid => SubjectClaim::Uid,
        },
        ttl: args.token_ttl,
        leeway: args.clock_leeway,
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        public_url: args.public_url.clone(),
        policy: Policy::new().with_rounds(args.pbkdf2_rounds),
        request_timeout: Duration::from_secs(args.request_timeout),
        staleness: Duration::from_secs(args.store_staleness),
        access_log: args.access_log,
        sessions: SessionSettings {
            limits: auth_core::session::SessionLimits {
                lifetime: args.session_lifetime,
                idle: args.session_idle,
                reuse_grace: args.refresh_reuse_grace,
            },
            max_per_user: args.max_sessions_per_user,
            min_rotation_interval: args.refresh_min_interval,
            ..SessionSettings::default()
        },
        docs: !args.no_docs,
        hsts: args.tls_cert.is_some(),
        rates: Rates {
            user_logins: RateLimit::per_minute(args.user_login_rate),
            user_refreshes: RateLimit::per_minute(args.user_refresh_rate),
            client_revokes: RateLimit::per_minute(args.client_revoke_rate),
        },
        scopes: args.defined.scopes.clone(),
        ..Settings::default()
    }
}

/// The failed-login limits the options set.
fn throttle(args: &ServeArgs) -> Throttle {
    Throttle::new(
        ThrottleLimits {
            threshold: args.user_failures,
            ..ThrottleLimits::USERNAME
        },
        ThrottleLimits {
            threshold: args.ip_failures,
            ..ThrottleLimits::IP
        },
    )
}

/// Who is in front: trusted proxies, PROXY protocol, the forwarding header.
fn front(args: &ServeArgs) -> Front {
    Front {
        trusted: TrustedProxies::merged(args.trusted_proxy.clone()),
        proxy_protocol: args.proxy_protocol,
        header: match args.proxy_headers {
            ProxyHeadersArg::Xforwarded => ForwardedHeader::XForwardedFor,
            ProxyHeadersArg::Forwarded => ForwardedHeader::Forwarded,
        },
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Listen { addr, source })
}

/// Serves `GET /metrics` on `listener` with the public accept loop and small caps (round 3
/// item 9); warns when it is not a loopback address.
fn serve_admin(listener: TcpListener, state: AppState) -> Result<(), StartupError> {
    let addr = listener.local_addr().map_err(StartupError::Io)?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            admin_addr = %addr,
            "--admin-listen is not a loopback address: metrics are reachable from the \
             network; put it behind a firewall or bind 127.0.0.1"
        );
        eprintln!(
            "warning: --admin-listen {addr} is not a loopback address: metrics are reachable \
             from the network"
        );
    }
    let app = crate::http::admin::admin_app(state);
    tokio::spawn(async move {
        let served = server::serve(
            listener,
            app,
            Limits::ADMIN,
            None,
            Front::default(),
            std::future::pending(),
        )
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    tracing::info!(admin_addr = %addr, url = %format!("http://{addr}/metrics"), "metrics listening");
    console::say(&format!("Metrics on http://{addr}/metrics"));
    Ok(())
}

/// The connection limits of `serve`, checked: the per-client cap must be below the global one,
/// and the global one below the file-descriptor limit, whose soft value is raised to the hard
/// one first (round 3 item 8: the default of 4,096 connections exceeded the usual 1,024).
fn connection_limits(args: &ServeArgs) -> Result<Limits, StartupError> {
    let asked = args.max_connections;
    if let Some(n) = args.max_connections_per_client
        && n >= asked
        && asked > 1
    {
        return Err(StartupError::Limits(format!(
            "--max-connections-per-client {n} must be below --max-connections {asked}: one \
             client could otherwise take every slot"
        )));
    }
    let mut max = asked;
    // Descriptors kept for the store's pool, the admin listener, logs and files.
    let reserve = 64
        + usize::try_from(args.store.db_max_connections).unwrap_or(usize::MAX)
        + Limits::ADMIN.max_connections;
    if let Ok(soft) = rlimit::increase_nofile_limit(u64::MAX) {
        let room = usize::try_from(soft)
            .unwrap_or(usize::MAX)
            .saturating_sub(reserve)
            .max(2);
        if max > room {
            eprintln!(
                "warning: --max-connections {max} is above what the file-descriptor limit \
                 ({soft}) leaves room for; using {room}"
            );
            max = room;
        }
    }
    let per_client = match args.max_connections_per_client {
        Some(n) => n.min(max.saturating_sub(1).max(1)),
        None => Limits::default_per_client(max),
    };
    Ok(Limits {
        max_connections: max,
        max_connections_per_client: per_client,
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..Limits::default()
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// Where the signing keys may come from, besides `AUTH_SECRET`.
fn key_files(args: &ServeArgs) -> startup::KeyFiles<'_> {
    startup::KeyFiles {
        secret: args.secret_file.as_deref(),
        ring: args.key_file.as_deref(),
        signing_alg: args.signing_alg.map(crate::cli::SigningAlg::algorithm),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::Cli;
    use crate::settings::Settings;

    fn leeway(arg: &str) -> Result<u64, clap::Error> {
        let cli = Cli::try_parse_from(["auth-std-server", "--clock-leeway", arg])?;
        Ok(super::settings(&cli.serve).leeway)
    }

    /// `--clock-leeway` reaches the token rules, up to `Settings::MAX_LEEWAY` (the margin the
    /// revoked-id set keeps past the token lifetime) and no further; the default is none.
    #[test]
    fn the_clock_leeway_is_bounded_by_the_revocation_margin() {
        let none = Cli::try_parse_from(["auth-std-server"]).unwrap();
        assert_eq!(super::settings(&none.serve).leeway, 0);
        assert_eq!(leeway("5").unwrap(), 5);
        let max = Settings::MAX_LEEWAY.to_string();
        assert_eq!(leeway(&max).unwrap(), Settings::MAX_LEEWAY);
        let over = (Settings::MAX_LEEWAY + 1).to_string();
        assert!(leeway(&over).is_err());
    }
}
