//! Revocation (RFC 7009): ends the session of a refresh token or an access token. Every
//! well-formed request gets the same answer, known token or not, so it tells nobody anything.

use std::time::Duration;

use auth_core::flow::FlowClaims;
use auth_core::session::RefreshToken;

use super::Client;
use crate::clock::Now;
use crate::revoked::Verdict;
use crate::state::AppState;
use crate::store::StoreError;
use crate::throttle::client_group;

/// How long after its `exp` an access token may still log its session out (round 3 item 11:
/// any expired token did, so one leaked into a log hours ago could still end its user's
/// session).
pub const REVOKE_EXPIRED_GRACE: u64 = 5 * 60;

/// Why a revocation was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeFailure {
    /// The address is locked out by unknown tokens: 429.
    Throttled(Duration),
    /// The address's revocation rate (round 3 item 11): 429.
    Rate(Duration),
    /// The store cannot answer: 503.
    Unavailable,
}

impl From<StoreError> for RevokeFailure {
    fn from(_: StoreError) -> Self {
        RevokeFailure::Unavailable
    }
}

/// A session to end: its id, its account, and whether it is already revoked.
struct Target {
    id: String,
    account: String,
    revoked: bool,
}

/// Revokes the session `token` names, if any.
///
/// # Errors
/// [`RevokeFailure`].
pub async fn revoke(
    state: &AppState,
    token: &str,
    client: &Client,
    now: Now,
) -> Result<(), RevokeFailure> {
    if let Some(wait) = state.throttle.check_grant(client.ip, now.instant) {
        return Err(RevokeFailure::Throttled(wait));
    }
    // A token bucket per address (round 3 item 11): known tokens were never throttled.
    if let Some(ip) = client.ip {
        state
            .buckets
            .revokes
            .take(client_group(ip), now.instant)
            .map_err(RevokeFailure::Rate)?;
    }
    // The hint only orders the lookups (RFC 7009 §2.1); a refresh token has one exact shape.
    let target = match RefreshToken::parse(token.as_bytes()) {
        Ok(t) => state.store.find_session(&t.hash()).await?.map(|f| Target {
            id: f.id,
            account: f.account,
            revoked: f.revoked,
        }),
        Err(_) => access_token_session(state, token, now.secs()),
    };
    match target {
        // Already revoked: nothing to write and nothing to log.
        Some(Target { revoked: true, .. }) => {}
        Some(t) => {
            let live = state.store.revoke_session(&t.id, None, now.secs()).await?;
            state
                .revoked
                .insert(&t.id, &t.account, now.secs(), now.secs());
            if live {
                state.metrics.sessions_revoked.inc();
                tracing::info!(session = %t.id, client = ?client.ip, "session revoked");
            }
        }
        None => state.throttle.fail_grant(client.ip, now.instant),
    }
    Ok(())
}

/// The session of an access token whose MAC checks out, unexpired or expired less than
/// [`REVOKE_EXPIRED_GRACE`] ago: revoking the session of a just-expired access token is still a
/// logout.
fn access_token_session(state: &AppState, token: &str, now: u64) -> Option<Target> {
    let untrusted = auth_core::UntrustedToken::parse(token).ok()?;
    let verified = state.auth.keys().verify(&untrusted).ok()?;
    let mut buf = vec![0u8; verified.payload_len().saturating_mul(2)];
    let claims: FlowClaims<'_> = verified.flow_claims(&mut buf).ok()?;
    let exp = claims.exp?;
    if exp.saturating_add(REVOKE_EXPIRED_GRACE) < now {
        return None;
    }
    let account: String = claims.sub.or(claims.uid)?.chars().collect();
    let id: String = claims.sid?.chars().collect();
    let revoked = state.revoked.verdict(&id, &account, claims.iat) == Verdict::Revoked;
    Some(Target {
        id,
        account,
        revoked,
    })
}
