//! Command line: `serve` (the default) and `user add|disable|enable|remove|list`.

use std::io::{IsTerminal as _, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::SubjectClaim;
use auth_core::password::{
    MAX_PHC_LEN, Policy, RECOMMENDED_ROUNDS, SALT_LEN, StoredHash, hash_password,
};
use base64::Engine as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::keys::{self, KeySource};
use crate::throttle::{Throttle, ThrottleLimits};
use crate::users::{self, User, UserStore, UsersError, validate_username};
use crate::{HashPool, Settings, State};

/// The OAuth2 password-flow server (HS256 tokens, PBKDF2 passwords).
///
/// With no subcommand it serves. On first start it creates ./auth-data/ with a signing key and
/// an `admin` user whose password is printed once.
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
    Serve(ServeArgs),
    /// Manage accounts in the users file; a running server sees changes on its next request.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Clone, Args)]
struct UsersArg {
    /// Users file.
    #[arg(long, env = "AUTH_USERS", default_value = "auth-data/users")]
    users: PathBuf,
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
    users: UsersArg,
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
          value_parser = clap::value_parser!(u32).range(1000..=10_000_000))]
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
    /// Open connections at most; further ones are closed at once.
    #[arg(long, env = "AUTH_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Open connections one client (IPv4 address, IPv6 /64) may hold; further ones are closed.
    #[arg(long, env = "AUTH_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    max_connections_per_client: usize,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "AUTH_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Failed logins per username before lock-outs start (1 s, doubling, up to 60 s).
    #[arg(long, env = "AUTH_USER_FAILURES", default_value_t = ThrottleLimits::USERNAME.threshold)]
    user_failures: u32,
    /// Failed logins per client IP before lock-outs start (1 s, doubling, up to 15 min).
    #[arg(long, env = "AUTH_IP_FAILURES", default_value_t = ThrottleLimits::IP.threshold)]
    ip_failures: u32,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
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
              value_parser = clap::value_parser!(u32).range(1000..=10_000_000))]
        pbkdf2_rounds: u32,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Disable an account: its tokens get 403 from the next request on.
    Disable {
        /// Username.
        name: String,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Enable a disabled account.
    Enable {
        /// Username.
        name: String,
        #[command(flatten)]
        users: UsersArg,
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
              value_parser = clap::value_parser!(u32).range(1000..=10_000_000))]
        pbkdf2_rounds: u32,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Remove an account.
    Remove {
        /// Username.
        name: String,
        #[command(flatten)]
        users: UsersArg,
    },
    /// List accounts (never hashes).
    List {
        #[command(flatten)]
        users: UsersArg,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::User(cmd)) => user_command(cmd),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn random_password() -> Result<String, String> {
    let mut b = [0u8; 15];
    getrandom::fill(&mut b).map_err(|e| format!("random generator failed: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn new_hash(password: &str, rounds: u32) -> Result<String, String> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| format!("random generator failed: {e}"))?;
    let mut out = [0u8; MAX_PHC_LEN];
    hash_password(
        password.as_bytes(),
        &salt,
        &Policy::new().with_rounds(rounds),
        &mut out,
    )
    .map(str::to_owned)
    .map_err(|e| e.to_string())
}

/// A new password from stdin or the terminal prompt; never empty.
fn new_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        let s = s
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&s);
        s.to_owned()
    } else {
        read_password()?
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

/// Where the first run leaves the `admin` password: beside the users file, mode 0600.
fn first_run_password_path(users: &Path) -> PathBuf {
    users
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(FIRST_RUN_PASSWORD_FILE)
}

/// The file name of the first-run `admin` password.
pub const FIRST_RUN_PASSWORD_FILE: &str = "admin.password";

/// The first-run password file is for the first `admin` password only: once that password is
/// changed, or the account removed, it is deleted.
fn forget_first_run_password(users: &Path, name: &str) {
    if name != "admin" {
        return;
    }
    let path = first_run_password_path(users);
    match std::fs::remove_file(&path) {
        Ok(()) => println!(
            "removed {} (it held the first-run password)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("warning: cannot remove {}: {e}", path.display()),
    }
}

fn read_password() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to prompt on; pass --password-stdin or --hash".into());
    }
    let a = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let b = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if a != b {
        return Err("passwords do not match".into());
    }
    Ok(a)
}

fn user_command(cmd: UserCommand) -> Result<(), String> {
    let e = |e: UsersError| e.0;
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            hash,
            disabled,
            pbkdf2_rounds,
            users,
        } => {
            validate_username(&name).map_err(e)?;
            let hash = match hash {
                Some(h) => {
                    let parsed = StoredHash::parse(&h).map_err(|err| format!("--hash: {err}"))?;
                    let policy = Policy::new().with_rounds(pbkdf2_rounds);
                    if parsed.work() > policy.work() {
                        eprintln!(
                            "note: this hash costs more to verify than the policy ({} rounds); until \
                             its first successful login rewrites it at the policy, a login for {name} \
                             takes longer than others, which tells a timing observer it exists",
                            policy.rounds()
                        );
                    }
                    h
                }
                None => new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?,
            };
            users::modify_file(&users.users, |all| {
                if all.contains_key(&name) {
                    return Err(UsersError(format!("user {name:?} already exists")));
                }
                all.insert(
                    name.clone(),
                    User {
                        hash,
                        active: !disabled,
                    },
                );
                Ok(())
            })
            .map_err(e)?;
            println!("added {name}");
        }
        UserCommand::Disable { name, users } => set_active(&users.users, &name, false)?,
        UserCommand::Enable { name, users } => set_active(&users.users, &name, true)?,
        UserCommand::Passwd {
            name,
            password_stdin,
            pbkdf2_rounds,
            users,
        } => {
            let hash = new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?;
            users::modify_file(&users.users, |all| {
                let u = all
                    .get_mut(&name)
                    .ok_or_else(|| UsersError(format!("no user {name:?}")))?;
                u.hash = hash;
                Ok(())
            })
            .map_err(e)?;
            println!("password changed for {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::Remove { name, users } => {
            users::modify_file(&users.users, |all| {
                all.remove(&name)
                    .map(|_| ())
                    .ok_or_else(|| UsersError(format!("no user {name:?}")))
            })
            .map_err(e)?;
            println!("removed {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::List { users } => {
            let store = UserStore::open(&users.users).map_err(e)?;
            for (name, u) in store.snapshot().iter() {
                let (format, rounds) = StoredHash::parse(&u.hash)
                    .map(|h| (format!("{:?}", h.format()).to_lowercase(), h.rounds()))
                    .unwrap_or_default();
                let status = if u.active { "active" } else { "disabled" };
                println!("{name}\t{status}\t{format}\t{rounds}");
            }
        }
    }
    Ok(())
}

fn set_active(path: &Path, name: &str, active: bool) -> Result<(), String> {
    users::modify_file(path, |all| {
        let u = all
            .get_mut(name)
            .ok_or_else(|| UsersError(format!("no user {name:?}")))?;
        u.active = active;
        Ok(())
    })
    .map_err(|e| e.0)?;
    println!("{} {name}", if active { "enabled" } else { "disabled" });
    Ok(())
}

/// Loads or creates keys and users, then serves until SIGINT/SIGTERM.
fn serve(args: ServeArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Colour codes only for a person at a terminal, never into files or log collectors.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let users_path = args.users.users.clone();
    let data_dir = users_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let now = crate::now();
    if !data_dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    }
    // Refuse to run on files another local user could replace or read (#10 item 6).
    crate::fs::check_data_dir(&data_dir)?;

    let (keys, source) = match std::env::var("AUTH_SECRET") {
        Ok(secret) => (keys::from_secret(&secret)?, KeySource::Env),
        Err(_) => match &args.key_file {
            Some(path) => {
                crate::fs::check_secret_file(path, "key file")?;
                (
                    keys::load_key_file(path)?,
                    KeySource::File(path.display().to_string()),
                )
            }
            None => {
                let path = data_dir.join("jwt.key");
                if path.exists() {
                    crate::fs::check_secret_file(&path, "key file")?;
                    (
                        keys::load_key_file(&path)?,
                        KeySource::File(path.display().to_string()),
                    )
                } else {
                    (
                        keys::generate_key_file(&path, now)?,
                        KeySource::Generated(path.display().to_string()),
                    )
                }
            }
        },
    };

    if !users_path.exists() {
        // The password goes to a private file, never to stdout: stdout is the log stream that
        // journald, docker and kubernetes keep (#10 item 12).
        let password = random_password()?;
        let hash = new_hash(&password, args.pbkdf2_rounds)?;
        let secret = first_run_password_path(&users_path);
        crate::fs::create_private(&secret, format!("{password}\n").as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", secret.display()))?;
        users::modify_file(&users_path, |all| {
            all.insert("admin".into(), User { hash, active: true });
            Ok(())
        })
        .map_err(|e| e.0)?;
        println!(
            "First run: created {} with user 'admin'; its password is in {} (mode 0600).",
            users_path.display(),
            secret.display()
        );
        println!("  Change it with `auth-std-server user passwd admin`; that removes the file.");
    } else {
        users_writable_check(&users_path)?;
    }
    let store = UserStore::open(&users_path).map_err(|e| e.0)?;

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
    };
    let workers = args
        .login_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let user_count = store.snapshot().len();
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
    let state = Arc::new(State::new(
        keys,
        settings,
        store,
        HashPool::new(workers, args.login_queue),
        throttle,
    ));
    let limits = crate::server::Limits {
        max_connections: args.max_connections,
        max_connections_per_client: args.max_connections_per_client,
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..crate::server::Limits::default()
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(workers.saturating_add(4))
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, users = user_count, keys = %source, login_workers = workers, "listening");
        println!("Listening on http://{addr}");
        crate::server::serve(listener, crate::app(state), limits, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// A users file that group or others may write lets them add accounts: refused. One that
/// others may read exposes hashes to offline guessing: warned about.
fn users_writable_check(path: &Path) -> Result<(), String> {
    if let Err(e) = crate::fs::check_secret_file(path, "users file") {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
            if mode & 0o022 != 0 {
                return Err(e);
            }
        }
        tracing::warn!("{e}");
    }
    Ok(())
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
