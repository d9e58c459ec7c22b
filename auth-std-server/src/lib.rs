//! The OAuth2 password-flow HTTP server: a thin tokio/axum layer over `auth-core`.
//!
//! Every auth decision comes from [`auth_core::flow`] and [`auth_core::session`]; this crate
//! moves bytes, keeps the accounts and sessions in the store (SQLite or PostgreSQL) and the
//! keys, and bounds the work an attacker can cause. `docs/` in the workspace holds the HTTP
//! contract and the operations guide.
//!
//! # Module map
//!
//! A request enters at the top and runs down; no module reaches back up (`scripts/
//! shape_check.py` checks the import graph in CI, and that every file named here exists).
//!
//! | concern | files | what it owns |
//! |---|---|---|
//! | binary | `src/main.rs`, `src/command/mod.rs` | parse the command line, run one command |
//! | command line | `src/cli.rs` | the clap schema, nothing else |
//! | commands | `src/command/serve.rs`, `src/command/admin.rs`, `src/command/startup.rs` | `serve`'s wiring; `user`/`session`; first run, keys and the store at start |
//! | config file | `src/command/config.rs` | `--config` merged under the command line and env; `config example`/`check` |
//! | HTTP | `src/http/mod.rs` | the router and its layers, from one declaration with the OpenAPI document |
//! | | `src/http/token.rs`, `src/http/revoke.rs`, `src/http/protected.rs`, `src/http/health.rs`, `src/http/discovery.rs`, `src/http/admin.rs` | one file per route group: handlers of a few lines |
//! | | `src/http/body.rs` | form bodies (urlencoded and multipart) and who is asking |
//! | | `src/http/error.rs` | [`http::ApiError`]: every 4xx/5xx status, body and header, written in one place |
//! | | `src/http/layers.rs`, `src/http/openapi.rs` | timing, security headers, JSON error bodies, tracing; the document |
//! | | `src/http/server.rs`, `src/http/proxy.rs`, `src/http/tls.rs` | the accept loop and its bounds, trusted proxies, TLS |
//! | services | `src/service/login.rs`, `src/service/refresh.rs`, `src/service/revoke.rs`, `src/service/mod.rs` | one function each that returns a typed outcome; one place settles the throttle and counts the metric |
//! | protection | `src/auth.rs` | the [`auth::Authenticated`] extractor apps use |
//! | | `src/jwks/mod.rs`, `src/jwks/remote.rs` | verify-only keys from a key set document or file; an issuer's set followed at its URL |
//! | shared state | `src/state.rs`, `src/settings.rs`, `src/clock.rs` | [`AppState`]; [`Settings`]; the one clock reading a request passes down |
//! | in memory | `src/account_cache.rs`, `src/revoked.rs`, `src/throttle.rs`, `src/hash_pool.rs`, `src/metrics.rs` | account statuses, revoked session ids, failure counters and rates, bounded PBKDF2 work, counters |
//! | store | `src/store/mod.rs` | [`Store`] over SQLite or PostgreSQL: one SQL text for both |
//! | | `src/store/accounts.rs`, `src/store/failures.rs`, `src/store/sessions.rs`, `src/store/listener.rs` | accounts and their change feed; shared failure counters; sessions and revocations; PostgreSQL's `LISTEN` |
//! | files | `src/keys.rs`, `src/users.rs`, `src/password.rs`, `src/fs.rs` | the key file, the users-file format and account hashes, new hashes, private atomic writes |
//! | schema | `migrations/sqlite/`, `migrations/postgres/` | embedded, run at open |
#![forbid(unsafe_code)]

pub mod account_cache;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod command;
pub mod fs;
pub mod hash_pool;
pub mod http;
pub mod jwks;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod revoked;
pub mod service;
pub mod settings;
pub mod state;
pub mod store;
pub mod throttle;
pub mod users;

pub use auth::{Authenticated, BearerAuth};
pub use clock::now;
pub use hash_pool::HashPool;
pub use http::{MAX_BODY, app, openapi_document};
pub use keys::Keys;
pub use settings::Settings;
pub use state::{AppState, State};
pub use store::{Store, StoreUrl};
