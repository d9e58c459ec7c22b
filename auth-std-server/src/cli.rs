//! The command line's schema, and nothing else: `serve` (the default),
//! `user add|passwd|disable|enable|remove|list|import|export`, `session list|revoke` and
//! `config example|check` and `keys jwks|list|add|promote|retire`.
//! [`crate::command`] runs them.

use std::net::SocketAddr;
use std::path::PathBuf;

use auth_core::password::RECOMMENDED_ROUNDS;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The OAuth2 password-flow server (HS256 tokens, PBKDF2 passwords).
///
/// With no subcommand it serves. On first start it creates ./auth-data/ with the store
/// (auth.db), a signing key and an `admin` user whose password goes to
/// auth-data/admin.password.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve HTTP (the default).
    Serve(Box<ServeArgs>),
    /// Manage accounts in the store; every running server sees a change within a second.
    #[command(subcommand)]
    User(UserCommand),
    /// List or revoke an account's sessions (refresh tokens and their access tokens).
    #[command(subcommand)]
    Session(SessionCommand),
    /// The config file: a reference with every key, or a check of one.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The key file: list, add, promote and retire keys; print the public key set.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Print the key set `/.well-known/jwks.json` serves, read from the key file: the Ed25519
    /// public keys, never a secret (with HS256 keys only, the set is empty). Save it for an
    /// app's `BearerAuth::from_jwks` or a device's provisioning.
    Jwks(KeyFileArgs),
    /// List the key file's keys: kid, algorithm, and whether it signs, verifies, or is staged
    /// (`next`). Never a key.
    List(KeyFileArgs),
    /// Append a new random key (32 bytes from the system generator) to the key file. Stage it
    /// with `--next` on every instance first, then `keys promote` it: see docs/operations.md.
    /// Prints the kid, never the key.
    Add {
        /// The algorithm [default: the signing key's; HS256 in a new file].
        #[arg(long, value_enum)]
        alg: Option<SigningAlg>,
        /// The kid [default: k<unix time>].
        #[arg(long)]
        kid: Option<String>,
        /// Verify with it (and publish an Ed25519 key) but do not sign with it yet.
        #[arg(long)]
        next: bool,
        #[command(flatten)]
        file: KeyFileArgs,
    },
    /// Make a key the one that signs: its line loses `next` and moves to the end.
    Promote {
        /// The key's kid.
        kid: String,
        #[command(flatten)]
        file: KeyFileArgs,
    },
    /// Remove a key that no longer signs, once its tokens have expired (`--token-ttl`).
    Retire {
        /// The key's kid.
        kid: String,
        #[command(flatten)]
        file: KeyFileArgs,
    },
}

/// Which key file a `keys` command reads.
#[derive(Debug, Args)]
pub(crate) struct KeyFileArgs {
    /// The key file [default: jwt.key in the store's data directory].
    #[arg(long, env = "AUTH_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print a reference config file: every key, commented, with its meaning, its default and
    /// its environment variable.
    Example,
    /// Check the config file (and the environment and options given here) and print the
    /// effective configuration, each value with where it came from; secrets are not shown.
    Check(Box<ServeArgs>),
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
    /// A TOML config file: each key is a `serve` option's long name in snake_case
    /// (`token_ttl = 2700`); the command line, then the environment, win over it.
    #[arg(long, env = "AUTH_CONFIG", value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Where accounts live: `sqlite:PATH` or a `postgres://` URL (DATABASE_URL is read when
    /// this is not set) [default: sqlite:auth-data/auth.db].
    #[arg(long, env = "AUTH_STORE")]
    pub(crate) store: Option<String>,
    /// A file holding the store URL, for one with a password in it (mode 0600 or 0400;
    /// DATABASE_URL_FILE is read when neither this nor a URL is set).
    #[arg(long, env = "AUTH_STORE_FILE", value_name = "PATH")]
    pub(crate) store_file: Option<PathBuf>,
    /// A file holding the PostgreSQL password, set on the store URL (which must then have
    /// none); the URL itself may then be a plain flag or variable.
    #[arg(long, env = "AUTH_DB_PASSWORD_FILE", value_name = "PATH")]
    pub(crate) db_password_file: Option<PathBuf>,
    /// Removed in 0.2: the accounts live in the store. Refused with a message naming
    /// `--store` and `user import`.
    #[arg(long, env = "AUTH_USERS", hide = true)]
    pub(crate) users: Option<PathBuf>,
    /// Most database connections this process opens.
    #[arg(long, env = "AUTH_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub(crate) db_max_connections: u32,
    /// Seconds a query waits for a database connection before the request gets 503.
    #[arg(long, env = "AUTH_DB_ACQUIRE_TIMEOUT", default_value_t = 3)]
    pub(crate) db_acquire_timeout: u64,
}

/// The scopes the server defines (#24), as `serve` and the account commands read them.
#[derive(Debug, Clone, Args)]
pub(crate) struct ScopeArgs {
    /// A scope this server grants, with what it allows: `--scope items="Read items"`
    /// (repeatable; `AUTH_SCOPES` takes a comma list). Swagger's Authorize dialog lists them;
    /// an account is granted only these, and only those `user scopes` gave it.
    #[arg(
        long = "scope",
        env = "AUTH_SCOPES",
        value_delimiter = ',',
        value_name = "NAME=DESCRIPTION"
    )]
    pub(crate) scopes: Vec<crate::settings::ScopeDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ProxyHeadersArg {
    Xforwarded,
    Forwarded,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SubjectArg {
    Sub,
    Uid,
}

/// A token signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SigningAlg {
    /// HMAC-SHA-256: every verifier holds the secret.
    #[value(name = "HS256")]
    Hs256,
    /// Ed25519: verifiers hold the public key only.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// auth-core's algorithm.
    pub(crate) fn algorithm(self) -> auth_core::Algorithm {
        match self {
            SigningAlg::Hs256 => auth_core::Algorithm::Hs256,
            SigningAlg::EdDsa => auth_core::Algorithm::EdDsa,
        }
    }
}

/// An `http` or `https` URL without a query or fragment; a trailing `/` is dropped.
fn parse_public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    let host = rest.split('/').next().unwrap_or("");
    let bad = |c: char| c.is_ascii_control() || c.is_whitespace() || "?#\\\"<>".contains(c);
    if host.is_empty() || s.chars().any(bad) {
        return Err("must be a URL with a host and no query, fragment, spaces or quotes".into());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:8000")]
    pub(crate) listen: SocketAddr,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) defined: ScopeArgs,
    /// A file holding the signing secret, as AUTH_SECRET would (mode 0600 or 0400; one trailing
    /// newline is dropped). Not with AUTH_SECRET; the key file is then ignored.
    #[arg(long, env = "AUTH_SECRET_FILE", value_name = "PATH")]
    pub(crate) secret_file: Option<PathBuf>,
    /// Key file ('<kid> <alg> <base64url key>' per line, alg HS256 or EdDSA; the last line
    /// without 'next' signs). Ignored when AUTH_SECRET or a secret file is set; generated at the
    /// default path on first start.
    #[arg(long, env = "AUTH_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Algorithm of the key generated on first start: HS256 (a shared secret) or EdDSA (an
    /// Ed25519 key whose public half `/.well-known/jwks.json` publishes). When set, the server
    /// refuses to start if the key that signs is of the other algorithm [default: HS256, and
    /// whatever the key file holds].
    #[arg(long, env = "AUTH_SIGNING_ALG", value_enum)]
    pub(crate) signing_alg: Option<SigningAlg>,
    /// The URL clients reach this server at (`https://auth.example.com`): the base of the
    /// endpoints `/.well-known/oauth-authorization-server` names. Without it they are built from
    /// each request's Host header and the answer is not cached.
    #[arg(long, env = "AUTH_PUBLIC_URL", value_parser = parse_public_url)]
    pub(crate) public_url: Option<String>,
    /// Token lifetime in seconds.
    #[arg(long, env = "AUTH_TOKEN_TTL", default_value_t = auth_core::flow::DEFAULT_TTL)]
    pub(crate) token_ttl: u64,
    /// Claim that carries the username: `sub`, or `uid` like the FastAPI original.
    #[arg(long, env = "AUTH_SUBJECT_CLAIM", value_enum, default_value = "sub")]
    pub(crate) subject_claim: SubjectArg,
    /// PBKDF2 rounds for new and upgraded hashes (1,000..=10,000,000).
    #[arg(long, env = "AUTH_PBKDF2_ROUNDS", default_value_t = RECOMMENDED_ROUNDS,
          value_parser = clap::value_parser!(u32).range(crate::password::ROUNDS))]
    pub(crate) pbkdf2_rounds: u32,
    /// Seconds of clock difference tolerated in `exp`, `nbf` and `iat` (0..=60): for instances
    /// or resource servers whose clocks are not quite in step with the one that issued.
    #[arg(long, env = "AUTH_CLOCK_LEEWAY", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub(crate) clock_leeway: u64,
    /// `iss` to write into tokens and require of them.
    #[arg(long, env = "AUTH_ISSUER")]
    pub(crate) issuer: Option<String>,
    /// `aud` to write into tokens and require of them.
    #[arg(long, env = "AUTH_AUDIENCE")]
    pub(crate) audience: Option<String>,
    /// Concurrent password hashes (default: the number of CPUs).
    #[arg(long, env = "AUTH_LOGIN_WORKERS")]
    pub(crate) login_workers: Option<usize>,
    /// Logins that may wait for a hashing worker before new ones get 503.
    #[arg(long, env = "AUTH_LOGIN_QUEUE", default_value_t = 32)]
    pub(crate) login_queue: usize,
    /// Whole-request timeout in seconds (408).
    #[arg(long, env = "AUTH_REQUEST_TIMEOUT", default_value_t = 30)]
    pub(crate) request_timeout: u64,
    /// Seconds a client may take to send its request headers (slowloris guard).
    #[arg(long, env = "AUTH_HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub(crate) header_read_timeout: u64,
    /// Open connections at most; further ones are closed at once. Clamped, with a warning,
    /// below the process's file-descriptor limit (whose soft value is raised to the hard one
    /// at start).
    #[arg(long, env = "AUTH_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) max_connections: usize,
    /// Open connections one client (IPv4 address, IPv6 /64) may hold; further ones are
    /// closed. Must be below --max-connections [default: an eighth of --max-connections].
    #[arg(long, env = "AUTH_MAX_CONNECTIONS_PER_CLIENT",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) max_connections_per_client: Option<usize>,
    /// A reverse proxy or load balancer whose forwarding headers (Forwarded, X-Forwarded-For)
    /// name the client: an address or CIDR range, repeatable (AUTH_TRUSTED_PROXIES takes a
    /// comma-separated list). Off by default: headers are then ignored.
    #[arg(long = "trusted-proxy", env = "AUTH_TRUSTED_PROXIES", value_delimiter = ',',
          value_name = "CIDR", value_parser = clap::value_parser!(crate::http::proxy::TrustedProxies))]
    pub(crate) trusted_proxy: Vec<crate::http::proxy::TrustedProxies>,
    /// Trusted proxies open every connection with a PROXY protocol v1 or v2 header (haproxy
    /// send-proxy-v2, cloud L4 balancers). Needs --trusted-proxy; untrusted peers that send
    /// one are closed.
    #[arg(long, env = "AUTH_PROXY_PROTOCOL", requires = "trusted_proxy")]
    pub(crate) proxy_protocol: bool,
    /// The header the trusted proxies maintain, the only one read: `xforwarded`
    /// (X-Forwarded-For) or `forwarded` (RFC 7239). A proxy passes the other through as the
    /// client wrote it.
    #[arg(
        long,
        env = "AUTH_PROXY_HEADERS",
        value_enum,
        default_value = "xforwarded"
    )]
    pub(crate) proxy_headers: ProxyHeadersArg,
    /// Successful logins one account may make per minute, on this instance (429 beyond).
    #[arg(long, env = "AUTH_USER_LOGIN_RATE", default_value_t = crate::throttle::RateLimit::USER_LOGINS.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) user_login_rate: u32,
    /// Refreshes one account may make per minute, on this instance (429 beyond).
    #[arg(long, env = "AUTH_USER_REFRESH_RATE", default_value_t = crate::throttle::RateLimit::USER_REFRESHES.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) user_refresh_rate: u32,
    /// Revocation requests one client address may make per minute (429 beyond).
    #[arg(long, env = "AUTH_CLIENT_REVOKE_RATE", default_value_t = crate::throttle::RateLimit::CLIENT_REVOKES.per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) client_revoke_rate: u32,
    /// Do not serve /docs and /openapi.json.
    #[arg(long, env = "AUTH_NO_DOCS")]
    pub(crate) no_docs: bool,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "AUTH_SHUTDOWN_GRACE", default_value_t = 10)]
    pub(crate) shutdown_grace: u64,
    /// Failed logins per username before lock-outs start (1 s, doubling, up to 60 s).
    #[arg(long, env = "AUTH_USER_FAILURES", default_value_t = crate::throttle::ThrottleLimits::USERNAME.threshold)]
    pub(crate) user_failures: u32,
    /// Seconds protected requests are still answered from the cached account state after
    /// the store stops answering; 503 after that.
    #[arg(long, env = "AUTH_STORE_STALENESS", default_value_t = 30)]
    pub(crate) store_staleness: u64,
    /// Failed logins per client IP before lock-outs start (1 s, doubling, up to 15 min).
    #[arg(long, env = "AUTH_IP_FAILURES", default_value_t = crate::throttle::ThrottleLimits::IP.threshold)]
    pub(crate) ip_failures: u32,
    /// Log format: human text, or one JSON object per line for log shippers.
    #[arg(long, env = "AUTH_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// One log line per request (method, route, status, ms). Off by default.
    #[arg(long, env = "AUTH_ACCESS_LOG")]
    pub(crate) access_log: bool,
    /// Serve Prometheus metrics (GET /metrics) on this separate address. Off by default, so
    /// metrics are never public by accident.
    #[arg(long, env = "AUTH_ADMIN_LISTEN")]
    pub(crate) admin_listen: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "AUTH_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "AUTH_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Seconds from login after which a session's refresh token stops working (30 days).
    #[arg(long, env = "AUTH_SESSION_LIFETIME", default_value_t = auth_core::session::DEFAULT_LIFETIME)]
    pub(crate) session_lifetime: u64,
    /// Seconds without a refresh after which a session ends (7 days).
    #[arg(long, env = "AUTH_SESSION_IDLE", default_value_t = auth_core::session::DEFAULT_IDLE)]
    pub(crate) session_idle: u64,
    /// Most live sessions per account; a new login revokes the oldest beyond it.
    #[arg(long, env = "AUTH_MAX_SESSIONS_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_sessions_per_user: u32,
    /// Seconds after a rotation during which the old refresh token is refused without
    /// revoking the session (0: any reuse revokes; see SECURITY.md).
    #[arg(long, env = "AUTH_REFRESH_REUSE_GRACE", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub(crate) refresh_reuse_grace: u64,
    /// Seconds after a rotation during which a refresh with the session's current token gets
    /// a new access token and the same refresh token, writing nothing (0: always rotate).
    #[arg(long, env = "AUTH_REFRESH_MIN_INTERVAL",
          default_value_t = crate::settings::SessionSettings::DEFAULT_MIN_ROTATION_INTERVAL,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub(crate) refresh_min_interval: u64,
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
        /// Import an existing hash instead: PHC, passlib or Django PBKDF2-SHA256, or bcrypt
        /// (`$2a$`, `$2b$`, `$2y$`, as passlib and FastAPI write them).
        #[arg(long)]
        hash: Option<String>,
        /// Create the account disabled.
        #[arg(long)]
        disabled: bool,
        /// The scopes the account may be granted (comma-separated), each one `--scope` defines.
        #[arg(long = "scopes", value_delimiter = ',', value_name = "NAME")]
        account_scopes: Vec<String>,
        /// PBKDF2 rounds for the new hash.
        #[arg(long, env = "AUTH_PBKDF2_ROUNDS", default_value_t = RECOMMENDED_ROUNDS,
              value_parser = clap::value_parser!(u32).range(crate::password::ROUNDS))]
        pbkdf2_rounds: u32,
        #[command(flatten)]
        defined: ScopeArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change the scopes an account may be granted. Every instance sees it within a second;
    /// tokens already issued keep theirs until they expire, and a session's next refresh drops
    /// what the account lost.
    Scopes {
        /// Username.
        name: String,
        /// Replace them (comma-separated; empty: none).
        #[arg(long, value_delimiter = ',', value_name = "NAME", conflicts_with_all = ["add", "remove"])]
        set: Option<Vec<String>>,
        /// Add these.
        #[arg(long, value_delimiter = ',', value_name = "NAME")]
        add: Vec<String>,
        /// Remove these.
        #[arg(long, value_delimiter = ',', value_name = "NAME")]
        remove: Vec<String>,
        #[command(flatten)]
        defined: ScopeArgs,
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
        /// The users file (an optional fourth field holds each account's scopes).
        file: PathBuf,
        #[command(flatten)]
        defined: ScopeArgs,
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

#[cfg(test)]
mod tests {
    /// clap's own checks of the schema (unique names, valid conflicts), which otherwise run
    /// only when a debug binary parses its arguments.
    #[test]
    fn the_schema_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
