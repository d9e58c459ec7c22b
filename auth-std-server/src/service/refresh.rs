//! The refresh grant (RFC 6749 §6). auth-core decides ([`session::refresh`]); this reads and
//! writes the session. [`refresh`] counts the metric once per outcome.

use std::time::Duration;

use auth_core::flow::Grant;
use auth_core::form::RefreshForm;
use auth_core::session::{self, RefreshError, RefreshToken, Rotate, Session, TokenHash};

use super::{Client, Internal, Issued, grant_scopes, issue, log_throttled, new_session_secrets};
use crate::clock::Now;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{FoundSession, StoreError};
use crate::throttle::Reserved;

/// Why a refresh issued no tokens. Each is one metric label ([`RefreshFailure::label`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The address is locked out by refused tokens: 429.
    Throttled(Duration),
    /// The account's refresh rate (round 3 item 5): 429.
    AccountRate(Duration),
    /// auth-core refused the token (or its shape was wrong: [`RefreshError::Unknown`]).
    Refused(RefreshError),
    /// The store cannot answer: 503.
    Unavailable,
    /// The OS random generator or the token encoder failed: 500.
    Internal,
}

/// Every label `auth_refreshes_total` can carry: the outcomes of [`refresh`], and
/// `invalid_request`, which the handler counts for a form without a usable token.
pub const REFRESH_LABELS: [&str; 8] = [
    "rotated",
    "invalid_grant",
    "reuse",
    "invalid_scope",
    "throttled",
    "unavailable",
    "internal",
    "invalid_request",
];

impl RefreshFailure {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            RefreshFailure::Throttled(_) | RefreshFailure::AccountRate(_) => "throttled",
            RefreshFailure::Refused(RefreshError::Reuse) => "reuse",
            RefreshFailure::Refused(RefreshError::ScopeWider) => "invalid_scope",
            RefreshFailure::Refused(_) => "invalid_grant",
            RefreshFailure::Unavailable => "unavailable",
            RefreshFailure::Internal => "internal",
        }
    }
}

impl From<StoreError> for RefreshFailure {
    fn from(_: StoreError) -> Self {
        RefreshFailure::Unavailable
    }
}

impl From<Internal> for RefreshFailure {
    fn from(_: Internal) -> Self {
        RefreshFailure::Internal
    }
}

/// The refresh grant, counted by outcome.
///
/// # Errors
/// [`RefreshFailure`], already counted.
pub async fn refresh(
    state: &AppState,
    form: &RefreshForm<'_>,
    client: &Client,
    now: Now,
) -> Result<Issued, RefreshFailure> {
    let result = attempt(state, form, client, &now).await;
    let label = match &result {
        Ok(_) => "rotated",
        Err(e) => e.label(),
    };
    Metrics::count(&state.metrics.refreshes, label);
    result
}

/// Every step of a refresh, each a `?`.
async fn attempt(
    state: &AppState,
    form: &RefreshForm<'_>,
    client: &Client,
    now: &Now,
) -> Result<Issued, RefreshFailure> {
    if let Some(wait) = state.throttle.check_grant(client.ip, now.instant) {
        return Err(RefreshFailure::Throttled(wait));
    }
    // Malformed: refused before any lookup, so it costs no query and writes nothing.
    let Ok(presented) = RefreshToken::parse(form.refresh_token.as_bytes()) else {
        state.throttle.fail_grant(client.ip, now.instant);
        return Err(RefreshFailure::Refused(RefreshError::Unknown));
    };
    let hash = presented.hash();
    // Twice at most: a refresh that loses the race to rotate is decided again, now that the
    // winner's write shows its token as rotated out.
    for _ in 0..2 {
        let found = state.store.find_session(&hash).await?;
        let (found, scope) = decide(state, &presented, form.scope, found, client, now).await?;
        // Refreshes are rate-limited per account (round 3 item 5).
        // Given back unless a token is answered: a refresh the store could not write, or one
        // that lost the race and is decided again, spends nothing.
        let rate = reserve(state, &found.account, now)?;
        let (scope, shown, kept) = scopes_now(state, &scope, &found);
        let grant = Grant {
            subject: &found.account,
            sid: Some(&found.id),
            scope: Some(&scope),
        };
        // Inside the minimum interval since the last rotation, the current token is answered
        // with itself and a new access token, and nothing is written: one session's refresh
        // loop cannot write a row per request (round 3 item 5).
        let min = state.settings.sessions.min_rotation_interval;
        if min > 0 && found.rotated_at.is_none() && now.secs() < found.last_used.saturating_add(min)
        {
            rate.keep();
            return Ok(issue(state, &grant, &presented, now.secs(), shown)?);
        }
        let (_, next) = new_session_secrets()?;
        if rotated(state, &found, (&hash, &next), (client, &kept), now).await? {
            rate.keep();
            return Ok(issue(state, &grant, &next, now.secs(), shown)?);
        }
    }
    Err(RefreshFailure::Refused(RefreshError::Unknown))
}

/// One of the account's refreshes a minute (round 3 item 5), logged once a minute when refused.
fn reserve<'a>(
    state: &'a AppState,
    account: &str,
    now: &Now,
) -> Result<Reserved<'a>, RefreshFailure> {
    state
        .buckets
        .refreshes
        .reserve(account, now.instant)
        .map_err(|wait| {
            log_throttled(state, ("refresh", account), now, || {
                tracing::info!(user = ?account, "too many refreshes for this account (logged once a minute per account)");
            });
            RefreshFailure::AccountRate(wait)
        })
}

/// The refresh's scope (`asked`, or the session's), narrowed to what the account may have now:
/// a scope it lost is dropped (#24); the same again when it differs from `asked`; and what the
/// session keeps for later refreshes: its own scope (RFC 6749 §6: an omitted scope is the one
/// first granted), less what the account lost.
fn scopes_now(
    state: &AppState,
    asked: &str,
    found: &FoundSession,
) -> (String, Option<String>, String) {
    let (scope, shown) = grant_scopes(state, asked, &found.account_scopes);
    let (kept, _) = grant_scopes(state, &found.scope, &found.account_scopes);
    (scope, shown, kept)
}

/// auth-core's decision on the presented token, its session and the account's credential
/// epoch now. A refusal revokes the session when auth-core says so.
/// The granted scope comes back owned: it borrows from the session or the form.
async fn decide(
    state: &AppState,
    presented: &RefreshToken,
    scope: Option<&str>,
    found: Option<FoundSession>,
    client: &Client,
    now: &Now,
) -> Result<(FoundSession, String), RefreshFailure> {
    let session = found.as_ref().map(|f| Session {
        current: f.current,
        created: f.created,
        last_used: f.last_used,
        revoked: f.revoked,
        scope: &f.scope,
        presented_rotated_at: f.rotated_at,
        credential_epoch: f.credential_epoch,
    });
    let account = found.as_ref().and_then(|f| f.account_state);
    let limits = state.settings.sessions.limits;
    // A password change or a disable, by the CLI or any other writer, bumps the account's
    // epoch: the decision refuses and revokes whatever the times say (round 3 item 2, defence
    // in depth beside the conditional session insert).
    let decision = session::refresh(
        presented,
        scope,
        session.as_ref(),
        account.as_ref(),
        &limits,
        now.secs(),
    )
    .map(|r: Rotate<'_>| r.scope.to_owned());
    match (found, decision) {
        (Some(f), Ok(r)) => Ok((f, r)),
        (found, Err(e)) => Err(refused(state, found.as_ref(), e, client, now).await),
        // `refresh` refuses without a session.
        (None, Ok(_)) => Err(RefreshFailure::Refused(RefreshError::Unknown)),
    }
}

/// Writes the rotation, and the session's scope as granted now: `Ok(false)` when another
/// refresh rotated first.
async fn rotated(
    state: &AppState,
    found: &FoundSession,
    (hash, next): (&TokenHash, &RefreshToken),
    (client, scope): (&Client, &str),
    now: &Now,
) -> Result<bool, RefreshFailure> {
    let address = client.address();
    Ok(state
        .store
        .rotate(&found.id, hash, &next.hash(), now.secs(), &address, scope)
        .await?)
}

/// A refused refresh: revokes the session when auth-core says so; an unknown or reused token
/// counts against the address.
async fn refused(
    state: &AppState,
    found: Option<&FoundSession>,
    e: RefreshError,
    client: &Client,
    now: &Now,
) -> RefreshFailure {
    if let Some(f) = found.filter(|_| e.revokes_session()) {
        if state
            .store
            .revoke_session(&f.id, None, now.secs())
            .await
            .is_err()
        {
            // The refresh is refused either way; the next presentation tries again.
            return RefreshFailure::Unavailable;
        }
        state
            .revoked
            .insert(&f.id, &f.account, now.secs(), now.secs());
        state.metrics.sessions_revoked.inc();
        if e == RefreshError::Reuse {
            tracing::warn!(user = ?f.account, session = %f.id, "refresh token reused; session revoked");
        } else {
            tracing::info!(user = ?f.account, session = %f.id, reason = %e, "session revoked");
        }
    }
    if matches!(e, RefreshError::Unknown | RefreshError::Reuse) {
        state.throttle.fail_grant(client.ip, now.instant);
    }
    RefreshFailure::Refused(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_one_declared_label() {
        let wait = Duration::from_secs(1);
        let table = [
            (RefreshFailure::Throttled(wait), "throttled"),
            (RefreshFailure::AccountRate(wait), "throttled"),
            (RefreshFailure::Refused(RefreshError::Reuse), "reuse"),
            (
                RefreshFailure::Refused(RefreshError::ScopeWider),
                "invalid_scope",
            ),
            (
                RefreshFailure::Refused(RefreshError::Unknown),
                "invalid_grant",
            ),
            (
                RefreshFailure::Refused(RefreshError::Expired),
                "invalid_grant",
            ),
            (RefreshFailure::Unavailable, "unavailable"),
            (RefreshFailure::Internal, "internal"),
        ];
        for (failure, label) in table {
            assert_eq!(failure.label(), label, "{failure:?}");
            assert!(REFRESH_LABELS.contains(&label));
        }
        assert!(REFRESH_LABELS.contains(&"rotated"));
    }
}
