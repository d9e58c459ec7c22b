//! The password grant. [`login`] admits the attempt, runs `attempt` (every step a `?`), then
//! settles: the throttle reservation, the shared counters, the metric and the log line, once,
//! by outcome.
//!
//! What each outcome does to the throttle (see [`crate::throttle`]):
//! - a refused password (wrong, unknown user, disabled) and an account that changed while its
//!   password was checked stay counted, here and in the shared counters, before the answer;
//! - a success clears the username's counter; so does the per-account rate's 429, whose
//!   password was right;
//! - an outage, a full hash pool and an internal failure refund the reservation: nothing was
//!   decided;
//! - a dropped request (the client hung up) drops its [`Attempt`], which stays counted.

use std::net::IpAddr;
use std::time::Duration;

use auth_core::flow::{self, FlowConfig, Grant, LoginError, Verified as PasswordOk};
use auth_core::session::{RefreshToken, SessionId};

use super::{Client, Internal, Issued, grant_scopes, issue, log_throttled, new_session_secrets};
use crate::clock::Now;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{AccountRow, NewSession, StoreError, Verified};
use crate::throttle::{Attempt, SharedKeys, client_group, log_prefix};
use crate::users::User;

/// A password-grant request, owned: the password crosses into the hash pool.
#[derive(Clone)]
pub struct LoginRequest {
    /// The username as sent (at most [`auth_core::form::MAX_USERNAME_LEN`] bytes).
    pub username: String,
    /// The password as sent.
    pub password: String,
    /// The scope as sent, stored with the session and signed into its tokens.
    pub scope: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a login issued no tokens. Each is one metric label ([`LoginFailure::label`]) and one
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Locked out by failed logins, on this instance's counters or the shared ones: 429.
    Throttled(Duration),
    /// The account's rate of successful logins (round 3 item 4): 429.
    AccountRate(Duration),
    /// auth-core refused: a wrong password, an unknown user, or a disabled account.
    Refused {
        /// The refusal.
        error: LoginError,
        /// Whether the account exists (for the metric only; the answer is the same).
        known: bool,
    },
    /// The account changed (`user passwd`, `disable`, `remove`) while its password was
    /// checked (round 3 item 2): answered as a wrong password.
    Changed,
    /// The store cannot answer: 503.
    Unavailable,
    /// Every hash worker and queue place is taken: 503.
    Busy,
    /// The OS random generator or the token encoder failed: 500.
    Internal,
}

/// Every label `auth_logins_total` can carry: the outcomes of [`login`], and `bad_form`,
/// which the handler counts for a body that is not a login.
pub const LOGIN_LABELS: [&str; 8] = [
    "success",
    "wrong_password",
    "unknown_user",
    "disabled",
    "throttled",
    "unavailable",
    "internal",
    "bad_form",
];

impl LoginFailure {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            LoginFailure::Throttled(_) | LoginFailure::AccountRate(_) => "throttled",
            LoginFailure::Refused {
                error: LoginError::AccessRestricted,
                ..
            } => "disabled",
            LoginFailure::Refused { known: true, .. } => "wrong_password",
            LoginFailure::Refused { known: false, .. } => "unknown_user",
            // Answered as a wrong password, and counted as one.
            LoginFailure::Changed => "wrong_password",
            LoginFailure::Unavailable | LoginFailure::Busy => "unavailable",
            LoginFailure::Internal => "internal",
        }
    }
}

impl From<StoreError> for LoginFailure {
    fn from(_: StoreError) -> Self {
        LoginFailure::Unavailable
    }
}

impl From<Internal> for LoginFailure {
    fn from(_: Internal) -> Self {
        LoginFailure::Internal
    }
}

/// A login that passed: its tokens, and whether the username has a shared failure counter to
/// clear.
struct Passed {
    issued: Issued,
    counted: bool,
}

/// The password grant: see the module docs.
///
/// # Errors
/// [`LoginFailure`], already counted and logged.
pub async fn login(
    state: &AppState,
    req: LoginRequest,
    client: &Client,
    now: Now,
) -> Result<Issued, LoginFailure> {
    // Counted as a failure from here on, unless settled below.
    let admitted = state.throttle.admit(&req.username, client.ip, now.instant);
    let shared = SharedKeys::new(&req.username, client.ip);
    let username = req.username.clone();
    let result = match admitted {
        Ok(_) => attempt(state, req, client, &shared, &now).await,
        Err(wait) => Err(LoginFailure::Throttled(wait)),
    };
    settle(
        state,
        admitted.ok(),
        &shared,
        &username,
        client,
        &now,
        &result,
    )
    .await;
    result.map(|passed| passed.issued)
}

/// Every step of a login, each a `?`: the shared counters, the account, the password (in the
/// hash pool), the account's rate, the session, the tokens.
async fn attempt(
    state: &AppState,
    req: LoginRequest,
    client: &Client,
    shared: &SharedKeys,
    now: &Now,
) -> Result<Passed, LoginFailure> {
    let (wait, counted) = state.throttle.check_shared(&state.store, shared).await?;
    if let Some(wait) = wait {
        return Err(LoginFailure::Throttled(wait));
    }
    let row = read_account(state, &req.username).await?;
    let (checked, password, row) = check_password(state, req.password, row).await?;
    // Given back unless the login completes: a 503 issued nothing.
    let rate = state
        .buckets
        .logins
        .reserve(&req.username, now.instant)
        .map_err(LoginFailure::AccountRate)?;
    // `check_login` verifies only a known account.
    let row = row.ok_or(LoginFailure::Unavailable)?;
    // The requested scopes the account may have among the server's (#24); never more.
    let (scope, shown) = grant_scopes(state, &req.scope, &row.scopes);
    // The session, then its first tokens: nothing is answered that the store does not hold.
    let (sid, refresh_token) =
        open_session(state, (&req.username, &scope), client, &row, now).await?;
    rate.keep();
    if checked.needs_rehash {
        let old = row.user.hash().to_owned();
        tokio::spawn(rehash(
            AppState::clone(state),
            req.username.clone(),
            password,
            old,
        ));
    }
    let grant = Grant {
        subject: &req.username,
        sid: Some(sid.as_str()),
        scope: Some(&scope),
    };
    let issued = issue(state, &grant, &refresh_token, now.secs(), shown)?;
    Ok(Passed { issued, counted })
}

/// A new session for the verified account, stored (conditional on the account being as
/// verified); sessions past the per-account cap are revoked here and in the revoked set.
async fn open_session(
    state: &AppState,
    (account, scope): (&str, &str),
    client: &Client,
    row: &AccountRow,
    now: &Now,
) -> Result<(SessionId, RefreshToken), LoginFailure> {
    let (sid, refresh_token) = new_session_secrets()?;
    let new = NewSession {
        id: sid.as_str(),
        account,
        hash: &refresh_token.hash(),
        scope,
        now: now.secs(),
        now_ms: now.millis(),
        address: &client.address(),
        user_agent: &client.user_agent,
        verified: Verified {
            password_changed_at: row.password_changed_at,
            credential_epoch: row.credential_epoch,
        },
    };
    let max = state.settings.sessions.max_per_user;
    match state.store.create_session(&new, max).await {
        Ok(evicted) => {
            for id in &evicted {
                state.revoked.insert(id, new.account, new.now, new.now);
                state.metrics.sessions_revoked.inc();
            }
            Ok((sid, refresh_token))
        }
        Err(StoreError::NoSuchUser(_)) => Err(LoginFailure::Changed),
        Err(e) => {
            tracing::warn!(error = %e, "session not stored; login answered 503");
            Err(LoginFailure::Unavailable)
        }
    }
}

/// The account row, if there is one. An unusable stored hash costs and answers what an unknown
/// user does; the operator is told.
async fn read_account(state: &AppState, name: &str) -> Result<Option<AccountRow>, LoginFailure> {
    match state.store.account(name).await {
        Ok(row) => Ok(row),
        Err(StoreError::BadRow { name, source }) => {
            tracing::error!(user = ?name, error = %source, "stored hash unusable");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// auth-core's password check, in the hash pool: the full work whether or not the account
/// exists. Gives the password and the row back for the rehash and the session.
async fn check_password(
    state: &AppState,
    password: String,
    row: Option<AccountRow>,
) -> Result<(PasswordOk, String, Option<AccountRow>), LoginFailure> {
    let known = row.is_some();
    let task_state = AppState::clone(state);
    let (result, password, row) = state
        .hashing
        .run(move || {
            // Parsed when the account was read, not here (#11 item 6).
            let account = row.as_ref().map(|r| r.user.account());
            let config = FlowConfig {
                policy: task_state.settings.policy,
                ..task_state.auth.flow_config()
            };
            let result = flow::check_login(password.as_bytes(), account.as_ref(), &config);
            (result, password, row)
        })
        .await
        .map_err(|_| LoginFailure::Busy)?;
    let checked = result.map_err(|error| LoginFailure::Refused { error, known })?;
    Ok((checked, password, row))
}

/// What an outcome does to the login's throttle reservation (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The password was right: the username's counter is cleared.
    Succeed,
    /// Nothing was decided: the reservation is given back.
    Refund,
    /// A failed login: it stays counted, here and in the shared counters.
    Counted,
}

impl LoginFailure {
    /// What this outcome does to the throttle.
    pub fn settlement(&self) -> Settlement {
        match self {
            LoginFailure::Refused { .. } | LoginFailure::Changed => Settlement::Counted,
            LoginFailure::AccountRate(_) => Settlement::Succeed,
            LoginFailure::Throttled(_)
            | LoginFailure::Unavailable
            | LoginFailure::Busy
            | LoginFailure::Internal => Settlement::Refund,
        }
    }
}

/// The one place a login's outcome is settled: the throttle reservation, the shared counters
/// (before the answer, so the next login on any instance sees them), the metric and the log.
async fn settle(
    state: &AppState,
    attempt: Option<Attempt<'_>>,
    shared: &SharedKeys,
    username: &str,
    client: &Client,
    now: &Now,
    result: &Result<Passed, LoginFailure>,
) {
    let settlement = result
        .as_ref()
        .map_or_else(LoginFailure::settlement, |_| Settlement::Succeed);
    match (attempt, settlement) {
        (Some(a), Settlement::Succeed) => a.succeed(),
        (Some(a), Settlement::Refund) => a.refund(),
        // Left unsettled: admission already counted it as a failure.
        (_, _) => {}
    }
    if settlement == Settlement::Counted {
        let _ = state.throttle.fail_shared(&state.store, shared).await;
    }
    match result {
        Ok(passed) => {
            state.metrics.sessions_started.inc();
            // Written only when there is a counter to clear, so a successful login writes
            // nothing more. A store error is logged once by the store's health.
            if passed.counted {
                let _ = state.throttle.succeed_shared(&state.store, shared).await;
            }
        }
        Err(LoginFailure::Busy) => {
            state.metrics.pool_rejections.inc();
        }
        Err(_) => {}
    }
    log(state, username, client.ip, now, result);
    let label = result
        .as_ref()
        .map_or_else(LoginFailure::label, |_| "success");
    Metrics::count(&state.metrics.logins, label);
}

/// A login's log line. Lock-outs are logged once per client address a minute (per username
/// without one), so a flood of fresh usernames from one address is one line (round 3 item 7).
fn log(
    state: &AppState,
    username: &str,
    ip: Option<IpAddr>,
    now: &Now,
    result: &Result<Passed, LoginFailure>,
) {
    match result {
        Ok(_) => tracing::info!(user = ?username, client = ?ip, "login succeeded"),
        Err(e @ (LoginFailure::Refused { .. } | LoginFailure::Changed)) => {
            tracing::info!(user = ?username, client = ?ip, outcome = ?e, "login refused");
        }
        Err(LoginFailure::Throttled(_)) => {
            let name = log_prefix(username, 64);
            let line = || tracing::info!(user = ?name, client = ?ip, "login throttled (logged once a minute per address)");
            match ip {
                Some(ip) => log_throttled(state, client_group(ip), now, line),
                None => log_throttled(state, username, now, line),
            }
        }
        Err(LoginFailure::AccountRate(_)) => {
            log_throttled(state, ("login", username), now, || {
                tracing::info!(user = ?username, "too many logins for this account (logged once a minute per account)");
            });
        }
        Err(_) => {}
    }
}

/// Upgrades a stored hash after a successful login, off the request path. The new hash is made
/// in the hashing pool; the write is one conditional `UPDATE`, made only if the stored hash is
/// still the one verified, so a concurrent password change wins.
async fn rehash(state: AppState, username: String, password: String, old_hash: String) {
    let policy = state.settings.policy;
    let hashed = state
        .hashing
        .run(move || crate::password::hash_new(password.as_bytes(), &policy))
        .await;
    let new_hash = match hashed {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return tracing::error!(error = %e, "stored hash upgrade failed"),
        Err(_) => {
            return tracing::warn!(
                "hashing pool busy; stored hash upgrade deferred to a later login"
            );
        }
    };
    let new = match User::new(&new_hash, true) {
        Ok(u) => u,
        Err(e) => return tracing::error!(error = %e, "new hash does not parse back"),
    };
    match state
        .store
        .rehash(&username, &old_hash, &new, crate::clock::now())
        .await
    {
        Ok(true) => tracing::info!("stored hash upgraded to the current policy"),
        Ok(false) => tracing::info!("stored hash changed meanwhile; upgrade skipped"),
        Err(e) => {
            tracing::warn!(error = %e, "stored hash upgrade skipped; retried on the next login")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request's `Debug` (in a log line or a panic message) names the username and scope,
    /// never the password.
    #[test]
    fn a_login_requests_debug_shows_no_password() {
        let req = LoginRequest {
            username: "alice".into(),
            password: "hunter2-secret".into(),
            scope: "read".into(),
        };
        assert_eq!(
            format!("{req:?}"),
            r#"LoginRequest { username: "alice", scope: "read", .. }"#
        );
    }

    /// Every outcome, including those a test cannot provoke (the OS random generator failing),
    /// has a declared label and a settlement, and the label is the one the metrics document.
    #[test]
    fn every_outcome_has_one_declared_label_and_one_settlement() {
        let wait = Duration::from_secs(1);
        let table = [
            (
                LoginFailure::Throttled(wait),
                "throttled",
                Settlement::Refund,
            ),
            (
                LoginFailure::AccountRate(wait),
                "throttled",
                Settlement::Succeed,
            ),
            (
                LoginFailure::Refused {
                    error: LoginError::InvalidCredentials,
                    known: true,
                },
                "wrong_password",
                Settlement::Counted,
            ),
            (
                LoginFailure::Refused {
                    error: LoginError::InvalidCredentials,
                    known: false,
                },
                "unknown_user",
                Settlement::Counted,
            ),
            (
                LoginFailure::Refused {
                    error: LoginError::AccessRestricted,
                    known: true,
                },
                "disabled",
                Settlement::Counted,
            ),
            (LoginFailure::Changed, "wrong_password", Settlement::Counted),
            (LoginFailure::Unavailable, "unavailable", Settlement::Refund),
            (LoginFailure::Busy, "unavailable", Settlement::Refund),
            (LoginFailure::Internal, "internal", Settlement::Refund),
        ];
        for (failure, label, settlement) in table {
            assert_eq!(failure.label(), label, "{failure:?}");
            assert!(LOGIN_LABELS.contains(&label));
            assert_eq!(failure.settlement(), settlement, "{failure:?}");
        }
        assert!(LOGIN_LABELS.contains(&"success"));
    }
}
