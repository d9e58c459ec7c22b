//! The command line's schema: `serve` (the default) and
//! `user add|passwd|disable|enable|remove|list|import|export`,
//! `session list|revoke`. Account commands run in the
//! `admin` module, the start-up steps in [`crate::startup`].

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::SubjectClaim;
use auth_core::password::{Policy, RECOMMENDED_ROUNDS};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::startup::StartupError;
use crate::store::{DEFAULT_STORE, PoolLimits, StoreError, StoreUrl};
use crate::throttle::{Throttle, ThrottleLimits};
use crate::{HashPool, Settings, State};

/// The OAuth2 password-flow server (HS256 tokens, PBKDF2 passwords).
///
/// With no subcommand it serves. On first start it creates ./auth-data/ with the store
/// (auth.db), a signing key and an `admin` user whose password goes to
/// auth-data/admin.password.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve(Box<ServeArgs>),
    /// Manage accounts in the store; every running server sees a change within a second.
    #[command(subcommand)]
    User(UserCommand),
    /// List or revoke an account's sessions (refresh tokens and their access tokens).
    #[command(subcommand)]
    Session(SessionCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// An account's live sessions: id, started, last used, address, client. Never a token.
    List {
        /// The account.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke one session of an account, or all of them ("log out everywhere"). Its refresh
    /// token stops at once; its access tokens within a second on every instance.
    Revoke {
        /// The account.
        name: String,
        /// The session id, as `session list` shows it (it may start with `-`).
        #[arg(
            required_unless_present = "all",
            conflicts_with = "all",
            allow_hyphen_values = true
        )]
        id: Option<String>,
        /// Every session of the account.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Where accounts live: `sqlite:PATH` or a `postgres://` URL (DATABASE_URL is read when
    /// this is not set) [default: sqlite:auth-data/auth.db].
    #[arg(long, env = "AUTH_STORE")]
    store: Option<String>,
    /// Removed in 0.2: the accounts live in the store. Refused with a message naming
    /// `--store` and `user import`.
    #[arg(long, env = "AUTH_USERS", hide = true)]
    users: Option<PathBuf>,
    /// Most database connections this process opens.
    #[arg(long, env = "AUTH_DB_MAX_CONNECTIONS", default_value_t = 8)]
    db_max_connections: u32,
    /// Seconds a query waits for a database connection before the request gets 503.
    #[arg(long, env = "AUTH_DB_ACQUIRE_TIMEOUT", default_value_t = 3)]
    db_acquire_timeout: u64,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProxyHeadersArg {
    Xforwarded,
    Forwarded,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SubjectArg {
    Sub,
    Uid,
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Key file ('<kid> <base64url secret>' per line; the last signs). Ignored when AUTH_SECRET
    /// is set; generated at the default path on first start.
    #[arg(long, env = "AUTH_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Token lifetime in seconds.
    #[arg(long, env = "AUTH_TOKEN_TTL", default_value_t = auth_core::flow::DEFAULT_TTL)]
    token_ttl: u64,
    /// Claim that carries the username: `sub`, or `uid` like the FastAPI original.
    #[arg(long, env = "AUTH_SUBJECT_CLAIM", value_enum, default_value = "sub")]
    subject_claim: SubjectArg,
    /// PBKDF2 rounds for new and upgraded hashes (1,000..=10,000,000).
    #[arg(long, env = "AUTH_PBKDF2_ROUNDS", default_value_t = RECOMMENDED_ROUNDS,
          value_parser = clap::value_parser!(u32).range(crate::password::ROUNDS))]
    pbkdf2_rounds: u32,
    /// `iss` to write into tokens and require of them.
    #[arg(long, env = "AUTH_ISSUER")]
    issuer: Option<String>,
    /// `aud` to write into tokens and require of them.
    #[arg(long, env = "AUTH_AUDIENCE")]
    audience: Option<String>,
    /// Concurrent password hashes (default: the number of CPUs).
    #[arg(long, env = "AUTH_LOGIN_WORKERS")]
    login_workers: Option<usize>,
    /// Logins that may wait for a hashing worker before new ones get 503.
    #[arg(long, env = "AUTH_LOGIN_QUEUE", default_value_t = 32)]
    login_queue: usize,
    /// Whole-request timeout in seconds (408).
    #[arg(long, env = "AUTH_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Seconds a client may take to send its request headers (slowloris guard).
    #[arg(long, env = "AUTH_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Open connections at most; further ones are closed at once. Clamped, with a warning,
    /// below the process's file-descriptor limit (whose soft value is raised to the hard one
    /// at start).
    #[arg(long, env = "AUTH_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Open connections one client (IPv4 address, IPv6 /64) may hold; further ones are
    /// closed. Must be below --max-connections [default: an eighth of --max-connections].
    #[arg(long, env = "AUTH_MAX_CONNECTIONS_PER_CLIENT",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections_per_client: Option<usize>,
    /// A reverse proxy or load balancer whose forwarding headers (Forwarded, X-Forwarded-For)
    /// name the client: an address or CIDR range, repeatable (AUTH_TRUSTED_PROXIES takes a
    /// comma-separated list). Off by default: headers are then ignored.
    #[arg(long = "trusted-proxy", env = "AUTH_TRUSTED_PROXIES", value_delimiter = ',',
          value_name = "CIDR", value_parser = clap::value_parser!(crate::proxy::TrustedProxies))]
    trusted_proxy: Vec<crate::proxy::TrustedProxies>,
    /// Trusted proxies open every connection with a PROXY protocol v1 or v2 header (haproxy
    /// send-proxy-v2, cloud L4 balancers). Needs --trusted-proxy; untrusted peers that send
    /// one are closed.
    #[arg(long, env = "AUTH_PROXY_PROTOCOL", requires = "trusted_proxy")]
    proxy_protocol: bool,
    /// The header the trusted proxies maintain, the only one read: `xforwarded`
    /// (X-Forwarded-For) or `forwarded` (RFC 7239). A proxy passes the other through as the
    /// client wrote it.
    #[arg(
        long,
        env = "AUTH_PROXY_HEADERS",
        value_enum,
        default_value = "xforwarded"
    )]
    proxy_headers: ProxyHeadersArg,
    /// Successful logins one account may make per minute, on this instance (429 beyond).
    #[arg(long, env = "AUTH_USER_LOGIN_RATE", default_value_t = crate::throttle::RateLimit::USER_LOGINS.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    user_login_rate: u32,
    /// Refreshes one account may make per minute, on this instance (429 beyond).
    #[arg(long, env = "AUTH_USER_REFRESH_RATE", default_value_t = crate::throttle::RateLimit::USER_REFRESHES.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    user_refresh_rate: u32,
    /// Revocation requests one client address may make per minute (429 beyond).
    #[arg(long, env = "AUTH_CLIENT_REVOKE_RATE", default_value_t = crate::throttle::RateLimit::CLIENT_REVOKES.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    client_revoke_rate: u32,
    /// Do not serve /docs and /openapi.json.
    #[arg(long, env = "AUTH_NO_DOCS")]
    no_docs: bool,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "AUTH_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Failed logins per username before lock-outs start (1 s, doubling, up to 60 s).
    #[arg(long, env = "AUTH_USER_FAILURES", default_value_t = ThrottleLimits::USERNAME.threshold)]
    user_failures: u32,
    /// Seconds protected requests are still answered from the cached account state after
    /// the store stops answering; 503 after that.
    #[arg(long, env = "AUTH_STORE_STALENESS", default_value_t = 30)]
    store_staleness: u64,
    /// Failed logins per client IP before lock-outs start (1 s, doubling, up to 15 min).
    #[arg(long, env = "AUTH_IP_FAILURES", default_value_t = ThrottleLimits::IP.threshold)]
    ip_failures: u32,
    /// Log format: human text, or one JSON object per line for log shippers.
    #[arg(long, env = "AUTH_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// One log line per request (method, route, status, ms). Off by default.
    #[arg(long, env = "AUTH_ACCESS_LOG")]
    access_log: bool,
    /// Serve Prometheus metrics (GET /metrics) on this separate address. Off by default, so
    /// metrics are never public by accident.
    #[arg(long, env = "AUTH_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "AUTH_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "AUTH_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds from login after which a session's refresh token stops working (30 days).
    #[arg(long, env = "AUTH_SESSION_LIFETIME", default_value_t = auth_core::session::DEFAULT_LIFETIME)]
    session_lifetime: u64,
    /// Seconds without a refresh after which a session ends (7 days).
    #[arg(long, env = "AUTH_SESSION_IDLE", default_value_t = auth_core::session::DEFAULT_IDLE)]
    session_idle: u64,
    /// Most live sessions per account; a new login revokes the oldest beyond it.
    #[arg(long, env = "AUTH_MAX_SESSIONS_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions_per_user: u32,
    /// Seconds after a rotation during which the old refresh token is refused without
    /// revoking the session (0: any reuse revokes; see SECURITY.md).
    #[arg(long, env = "AUTH_REFRESH_REUSE_GRACE", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    refresh_reuse_grace: u64,
    /// Seconds after a rotation during which a refresh with the session's current token gets
    /// a new access token and the same refresh token, writing nothing (0: always rotate).
    #[arg(long, env = "AUTH_REFRESH_MIN_INTERVAL",
          default_value_t = crate::sessions::SessionSettings::DEFAULT_MIN_ROTATION_INTERVAL,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    refresh_min_interval: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add an account. Prompts twice for the password on a terminal.
    Add {
        /// Username: 1-64 of A-Z a-z 0-9 . _ - @.
        name: String,
        /// Read the password from standard input (one trailing newline is stripped).
        #[arg(long, conflicts_with = "hash")]
        password_stdin: bool,
        /// Import an existing PHC, passlib or Django PBKDF2-SHA256 hash instead.
        #[arg(long)]
        hash: Option<String>,
        /// Create the account disabled.
        #[arg(long)]
        disabled: bool,
        /// PBKDF2 rounds for the new hash.
        #[arg(long, env = "AUTH_PBKDF2_ROUNDS", default_value_t = RECOMMENDED_ROUNDS,
              value_parser = clap::value_parser!(u32).range(crate::password::ROUNDS))]
        pbkdf2_rounds: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an account: its tokens get 403 from the next request on.
    Disable {
        /// Username.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled account.
    Enable {
        /// Username.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password for an account. Prompts twice on a terminal.
    Passwd {
        /// Username.
        name: String,
        /// Read the password from standard input (one trailing newline is stripped).
        #[arg(long)]
        password_stdin: bool,
        /// PBKDF2 rounds for the new hash.
        #[arg(long, env = "AUTH_PBKDF2_ROUNDS", default_value_t = RECOMMENDED_ROUNDS,
              value_parser = clap::value_parser!(u32).range(crate::password::ROUNDS))]
        pbkdf2_rounds: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an account.
    Remove {
        /// Username.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List accounts (never hashes), a page at a time.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add the accounts of a users file (`<name>\t<active|disabled>\t<hash>` lines; PHC,
    /// passlib and Django hashes). Names that exist are skipped.
    Import {
        /// The users file.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write every account to standard output in the users-file format (hashes included:
    /// keep the output private).
    Export {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::User(cmd)) => crate::admin::run(cmd).map_err(|e| e.to_string()),
        Some(Command::Session(cmd)) => crate::admin::run_session(cmd).map_err(|e| e.to_string()),
        Some(Command::Serve(args)) => serve(*args).map_err(|e| e.to_string()),
        None => serve(cli.serve).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            // 2, as for a bad option: nothing was done.
            ExitCode::from(2)
        }
    }
}

/// Loads or creates keys and users, then serves until SIGINT/SIGTERM.
fn serve(args: ServeArgs) -> Result<(), StartupError> {
    // Through a non-blocking writer: a slow or blocked stdout drops log lines instead of
    // stalling requests; the guard flushes what is buffered when serving ends.
    let (writer, _flush) = tracing_appender::non_blocking(std::io::stdout());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match args.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        // Colour codes only for a person at a terminal, never into files or log collectors.
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
    }
    let url = args.store.url().map_err(StartupError::Store)?;
    let limits = connection_limits(&args)?;
    let settings = Settings {
        subject_claim: match args.subject_claim {
            SubjectArg::Sub => SubjectClaim::Sub,
            SubjectArg::Uid => SubjectClaim::Uid,
        },
        ttl: args.token_ttl,
        issuer: args.issuer,
        audience: args.audience,
        policy: Policy::new().with_rounds(args.pbkdf2_rounds),
        request_timeout: Duration::from_secs(args.request_timeout),
        staleness: Duration::from_secs(args.store_staleness),
        access_log: args.access_log,
        sessions: crate::sessions::SessionSettings {
            limits: auth_core::session::SessionLimits {
                lifetime: args.session_lifetime,
                idle: args.session_idle,
                reuse_grace: args.refresh_reuse_grace,
            },
            max_per_user: args.max_sessions_per_user,
            min_rotation_interval: args.refresh_min_interval,
            ..crate::sessions::SessionSettings::default()
        },
        docs: !args.no_docs,
        hsts: args.tls_cert.is_some(),
        rates: crate::throttle::Rates {
            user_logins: crate::throttle::RateLimit::per_minute(args.user_login_rate),
            user_refreshes: crate::throttle::RateLimit::per_minute(args.user_refresh_rate),
            client_revokes: crate::throttle::RateLimit::per_minute(args.client_revoke_rate),
        },
        ..Settings::default()
    };
    let workers = args
        .login_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let throttle = Throttle::new(
        ThrottleLimits {
            threshold: args.user_failures,
            ..ThrottleLimits::USERNAME
        },
        ThrottleLimits {
            threshold: args.ip_failures,
            ..ThrottleLimits::IP
        },
    );
    let front = crate::server::Front {
        trusted: crate::proxy::TrustedProxies::merged(args.trusted_proxy.clone()),
        proxy_protocol: args.proxy_protocol,
        header: match args.proxy_headers {
            ProxyHeadersArg::Xforwarded => crate::proxy::ForwardedHeader::XForwardedFor,
            ProxyHeadersArg::Forwarded => crate::proxy::ForwardedHeader::Forwarded,
        },
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(workers.saturating_add(4))
        .build()
        .map_err(StartupError::Io)?;
    // Checked before anything is created or opened: a bad certificate is one line, exit 2.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::tls::acceptor(cert, key).map_err(StartupError::Tls)?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    rt.block_on(async move {
        let (keys, source, store) = crate::startup::prepare(
            &url,
            args.store.limits(),
            args.key_file.as_deref(),
            args.pbkdf2_rounds,
            crate::now(),
        )
        .await?;
        let user_count = store.count().await.map_err(StartupError::Store)?;
        let state = Arc::new(State::new(
            keys,
            settings,
            store,
            HashPool::new(workers, args.login_queue),
            throttle,
        ));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: args.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(StartupError::Io)?;
        if let Some(admin) = args.admin_listen {
            let admin_listener = tokio::net::TcpListener::bind(admin).await.map_err(|source| {
                StartupError::Listen {
                    addr: admin,
                    source,
                }
            })?;
            let admin_addr = admin_listener.local_addr().map_err(StartupError::Io)?;
            if !admin_addr.ip().is_loopback() {
                tracing::warn!(
                    %admin_addr,
                    "--admin-listen is not a loopback address: metrics are reachable from the \
                     network; put it behind a firewall or bind 127.0.0.1"
                );
                eprintln!(
                    "warning: --admin-listen {admin_addr} is not a loopback address: metrics are \
                     reachable from the network"
                );
            }
            let app = crate::metrics::admin_app(Arc::clone(&state));
            // The same accept loop as the public listener, with small caps (round 3 item 9).
            tokio::spawn(async move {
                let served = crate::server::serve(
                    admin_listener,
                    app,
                    crate::server::Limits::ADMIN,
                    None,
                    crate::server::Front::default(),
                    std::future::pending(),
                )
                .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "admin listener failed");
                }
            });
            println!("Metrics on http://{admin_addr}/metrics");
        }
        tracing::info!(%addr, store = %url, users = user_count, keys = %source, login_workers = workers, tls = tls.is_some(), "listening");
        println!("Listening on {scheme}://{addr}");
        crate::server::serve(listener, crate::app(state), limits, tls, front, shutdown_signal())
            .await
            .map_err(StartupError::Io)
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// The connection limits of `serve`, checked: the per-client cap must be below the global one,
/// and the global one below the file-descriptor limit, whose soft value is raised to the hard
/// one first (round 3 item 8: the default of 4,096 connections exceeded the usual 1,024).
fn connection_limits(args: &ServeArgs) -> Result<crate::server::Limits, StartupError> {
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
        + crate::server::Limits::ADMIN.max_connections;
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
        None => crate::server::Limits::default_per_client(max),
    };
    Ok(crate::server::Limits {
        max_connections: max,
        max_connections_per_client: per_client,
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..crate::server::Limits::default()
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
