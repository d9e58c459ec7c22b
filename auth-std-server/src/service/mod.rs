//! The services under the HTTP layer: [`login()`], [`refresh()`] and [`revoke()`]. Each is one
//! function that returns a typed outcome; inside, every step uses `?`, and one outer place per
//! service settles the throttle and counts the metric, once per outcome. They know nothing of
//! HTTP: the handlers turn their failures into [`crate::http::ApiError`]s.

pub mod login;
pub mod refresh;
pub mod revoke;

use std::net::IpAddr;

use auth_core::flow::Grant;
use auth_core::session::{REFRESH_TOKEN_LEN, RefreshToken, SessionId};

use crate::clock::Now;
use crate::state::State;

pub use login::{LoginFailure, LoginRequest, login};
pub use refresh::{RefreshFailure, refresh};
pub use revoke::{RevokeFailure, revoke};

/// Who is asking: the client's address (after trusted proxies) and its `User-Agent`, for the
/// throttle and `session list`.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The address, if the connection has one.
    pub ip: Option<IpAddr>,
    /// Printable ASCII only, at most 200 bytes: it is shown to operators.
    pub user_agent: String,
}

impl Client {
    /// The address as the store keeps it (`""` without one).
    pub fn address(&self) -> String {
        self.ip
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_default()
    }
}

/// What a login or a refresh answers: an access token and the session's refresh token.
#[derive(Debug)]
pub struct Issued {
    /// The signed access token.
    pub access: String,
    /// The refresh token's text.
    pub refresh: String,
    /// The access token's lifetime, seconds.
    pub expires_in: u64,
    /// The granted scope, when it differs from the one requested (RFC 6749 §5.1).
    pub scope: Option<String>,
}

/// The grant for `requested`: the names `allowed` also has, never more (RFC 6749 §3.3), and
/// the grant again when it differs from the request, for the response to say so.
///
/// A server that defines no scopes (`--scope`: the seed's contract) grants none and leaves
/// `scope` out of its responses, as the FastAPI app did.
fn grant_scopes(state: &State, requested: &str, account: &str) -> (String, Option<String>) {
    if state.settings.scopes.is_empty() {
        return (String::new(), None);
    }
    let allowed = state.settings.allowed_scopes(account);
    let allowed = allowed.as_str();
    let mut out = vec![0u8; requested.len()];
    let granted = auth_core::scope::grant(requested, allowed, &mut out)
        .unwrap_or_default()
        .to_owned();
    let differs = !auth_core::scope::same(&granted, requested);
    let shown = differs.then(|| granted.clone());
    (granted, shown)
}

/// The OS random generator or the token encoder failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Internal;

/// A new session id and refresh token from the OS's generator.
fn new_session_secrets() -> Result<(SessionId, RefreshToken), Internal> {
    let mut rng = getrandom::SysRng;
    match (
        SessionId::generate(&mut rng),
        RefreshToken::generate(&mut rng),
    ) {
        (Ok(sid), Ok(token)) => Ok((sid, token)),
        _ => {
            tracing::error!("the OS random generator failed");
            Err(Internal)
        }
    }
}

/// Signs an access token for `grant` and pairs it with `refresh_token`.
fn issue(
    state: &State,
    grant: &Grant<'_>,
    refresh_token: &RefreshToken,
    now: u64,
    shown_scope: Option<String>,
) -> Result<Issued, Internal> {
    let access = state.auth.issue_grant(grant, now).map_err(|err| {
        tracing::error!(error = %err, "token encoding failed");
        Internal
    })?;
    let mut text = [0u8; REFRESH_TOKEN_LEN];
    let refresh = refresh_token.encode(&mut text).map_err(|_| Internal)?;
    Ok(Issued {
        access,
        refresh: refresh.to_owned(),
        expires_in: state.settings.ttl,
        scope: shown_scope,
    })
}

/// Logs a rate's 429 once a minute per `key`, never per request (round 3 item 7).
fn log_throttled(state: &State, key: impl std::hash::Hash, now: &Now, message: impl FnOnce()) {
    if state.lockout_log.first(key, now.instant) {
        message();
    }
}
