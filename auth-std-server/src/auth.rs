//! Protect any axum route with this server's bearer-token checks.
//!
//! [`BearerAuth`] holds the keys, the token rules and a way to look accounts up ([`Accounts`]),
//! built once at start. The [`Authenticated`] extractor runs, for every request, exactly what
//! the server's own protected routes run: the `Authorization` header's bearer syntax (RFC
//! 6750), the token's structure and header, the constant-time MAC, the claims and their
//! validation (all `auth-core`), then the account's status. Its rejections are the contract's:
//! 401 with `WWW-Authenticate: Bearer` (no credentials) or `Bearer error="invalid_token"` (a
//! bad token), 403 `Access restricted` (a disabled or unknown account), each with a JSON
//! `detail`; and 503 with `Retry-After` when the account store cannot answer.
//!
//! An app puts an `Arc<BearerAuth>` in its state (anything that implements
//! `FromRef<S> for Arc<BearerAuth>`, or the `Arc` itself) and takes `Authenticated` as a handler
//! argument; `auth-std-server/examples/protect-your-api.rs` is a whole app in about 30 lines.
//! Its tokens come from this server's `POST /auth/session` when both share the key file, or
//! from [`BearerAuth::issue`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use auth_core::flow::{self, AuthError, FlowConfig, Grant, LoginError, SubjectClaim};
use auth_core::{ClaimsError, EncodeError, UntrustedToken, VerifiedToken};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::jwks::{JwksError, RemoteJwks};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::revoked::{RevokedSessions, Verdict};

/// What the revoked-session set said of a token, kept across the account check.
enum Revocation {
    Live,
    Revoked,
    /// Only the store can tell: the session id.
    AskStore(String),
}

/// An account's state, as the app's account store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// The account may use its tokens.
    Active,
    /// The account exists but is disabled: its tokens get 403.
    Disabled,
    /// No such account (removed, or never existed): its tokens get 403.
    Unknown,
    /// The account store cannot say now: 503 with `Retry-After`.
    Unavailable,
}

/// Where [`Authenticated`] looks accounts up. It is asked on every protected request: answer
/// from memory in [`Accounts::cached`], and read the store in [`Accounts::load`] only when
/// memory does not know.
pub trait Accounts: Send + Sync + 'static {
    /// The status of the account a token's subject names, if known without I/O.
    fn cached(&self, subject: &str) -> Option<AccountStatus>;

    /// The status when [`Accounts::cached`] did not know it. The default says `Unknown`.
    fn load<'a>(
        &'a self,
        subject: &'a str,
    ) -> Pin<Box<dyn Future<Output = AccountStatus> + Send + 'a>> {
        let status = self.cached(subject).unwrap_or(AccountStatus::Unknown);
        Box::pin(std::future::ready(status))
    }

    /// [`Accounts::cached`], with the account's creation time (Unix seconds; 0 when not
    /// known): tokens issued before it belong to an earlier account of the same name and are
    /// refused (round 3 item 6). The default knows no creation time.
    fn cached_since(&self, subject: &str) -> Option<(AccountStatus, u64)> {
        self.cached(subject).map(|s| (s, 0))
    }

    /// [`Accounts::load`], with the creation time as in [`Accounts::cached_since`].
    fn load_since<'a>(
        &'a self,
        subject: &'a str,
    ) -> Pin<Box<dyn Future<Output = (AccountStatus, u64)> + Send + 'a>> {
        Box::pin(async move { (self.load(subject).await, 0) })
    }
}

/// Any `Fn(&str) -> AccountStatus` answers from memory.
impl<F> Accounts for F
where
    F: Fn(&str) -> AccountStatus + Send + Sync + 'static,
{
    fn cached(&self, subject: &str) -> Option<AccountStatus> {
        Some(self(subject))
    }
}

/// Where the keys that verify come from.
enum KeySet {
    /// A ring of its own: a key file, a secret, or a key set read once; replaced whole by
    /// [`BearerAuth::replace_keys`].
    Local(RwLock<Arc<Keys>>),
    /// An issuer's key set, followed ([`RemoteJwks`]).
    Remote(Arc<RemoteJwks>),
}

/// The keys, the token rules and the accounts: built once, shared by every request.
pub struct BearerAuth {
    keys: KeySet,
    subject_claim: SubjectClaim,
    ttl: u64,
    leeway: u64,
    issuer: Option<String>,
    audience: Option<String>,
    accounts: Arc<dyn Accounts>,
    revoked: Option<Arc<RevokedSessions>>,
    metrics: Option<Arc<Metrics>>,
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("keys", &self.keys())
            .field("subject_claim", &self.subject_claim)
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl BearerAuth {
    /// Tokens verified with `keys` (the last key added signs), the subject in `sub`, a 45-minute
    /// lifetime, no `iss` or `aud`, accounts from `accounts`.
    pub fn new(keys: Keys, accounts: impl Accounts) -> Self {
        Self::with_accounts(keys, Arc::new(accounts))
    }

    /// As [`BearerAuth::new`], with accounts already behind an `Arc`.
    pub fn with_accounts(keys: Keys, accounts: Arc<dyn Accounts>) -> Self {
        Self::over(KeySet::Local(RwLock::new(Arc::new(keys))), accounts)
    }

    /// Verifies with the public keys of a key set document (what this server serves at
    /// `/.well-known/jwks.json`), read once: an app that checks tokens and cannot mint them.
    ///
    /// # Errors
    /// [`JwksError`], naming the key: nothing is loaded from a set with one bad key.
    pub fn from_jwks(json: &[u8], accounts: impl Accounts) -> Result<Self, JwksError> {
        Ok(Self::new(crate::jwks::parse_jwks(json)?, accounts))
    }

    /// Verifies with an issuer's key set, followed at its URL (see [`RemoteJwks`]).
    pub fn remote(jwks: Arc<RemoteJwks>, accounts: impl Accounts) -> Self {
        Self::over(KeySet::Remote(jwks), Arc::new(accounts))
    }

    fn over(keys: KeySet, accounts: Arc<dyn Accounts>) -> Self {
        BearerAuth {
            keys,
            subject_claim: SubjectClaim::Sub,
            ttl: flow::DEFAULT_TTL,
            leeway: 0,
            issuer: None,
            audience: None,
            accounts,
            revoked: None,
            metrics: None,
        }
    }

    /// Counts every check's outcome in `metrics` (`auth_token_checks_total`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Refuses tokens whose session (`sid`) is in `revoked`, with 401 `invalid_token`. The
    /// check is in memory: no query per request.
    #[must_use]
    pub fn with_revocations(mut self, revoked: Arc<RevokedSessions>) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// The claim that carries the subject: `sub`, or `uid` like the FastAPI original.
    #[must_use]
    pub fn with_subject_claim(mut self, claim: SubjectClaim) -> Self {
        self.subject_claim = claim;
        self
    }

    /// Lifetime of the tokens [`BearerAuth::issue`] writes, in seconds.
    #[must_use]
    pub fn with_ttl(mut self, seconds: u64) -> Self {
        self.ttl = seconds;
        self
    }

    /// Seconds of clock difference tolerated when checking `exp`, `nbf` and `iat` (default
    /// 0). A verifier whose clock is behind the issuer's refuses a fresh token (`iat` in its
    /// future) until its clock catches up; one ahead accepts a token this much past `exp`.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// `iss` written into tokens and required of them.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// `aud` written into tokens and required of them.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The key ring in use now (a followed key set's latest).
    pub fn keys(&self) -> Arc<Keys> {
        match &self.keys {
            KeySet::Local(keys) => Arc::clone(&keys.read().unwrap_or_else(|p| p.into_inner())),
            KeySet::Remote(remote) => remote.keys(),
        }
    }

    /// Replaces a ring of its own with `keys`, whole: what the server does when SIGHUP has it
    /// read its key file again. A request that already holds the old ring finishes with it;
    /// every later one verifies and signs with `keys`. Returns `false`, and changes nothing,
    /// for a followed key set, which refreshes itself.
    #[must_use]
    pub fn replace_keys(&self, keys: Keys) -> bool {
        match &self.keys {
            KeySet::Local(ring) => {
                *ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                true
            }
            KeySet::Remote(_) => false,
        }
    }

    /// The ring to check a request against now (a followed set's, which may start a
    /// background refresh).
    fn current_keys(&self) -> Arc<Keys> {
        match &self.keys {
            KeySet::Local(_) => self.keys(),
            KeySet::Remote(remote) => remote.current(),
        }
    }

    /// A newer ring to check a refused token against again: a followed set, refreshed because
    /// the token names a key it lacked. `None` for a fixed ring, or when a refresh cannot help.
    async fn newer_keys(&self, keys: &Keys, authorization: Option<&[u8]>) -> Option<Arc<Keys>> {
        let KeySet::Remote(remote) = &self.keys else {
            return None;
        };
        let token = auth_core::bearer::parse_bearer(authorization).ok()?;
        remote.after_refusal(keys, token).await
    }

    /// The core's view of these rules (with the default password policy; logins set theirs).
    pub fn flow_config(&self) -> FlowConfig<'_> {
        FlowConfig {
            subject_claim: self.subject_claim,
            ttl: self.ttl,
            leeway: self.leeway,
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
            ..FlowConfig::new()
        }
    }

    /// Signs a token for `subject` as a login would: the subject claim, `iss`/`aud` when set,
    /// `iat = now`, `exp = now + ttl`.
    ///
    /// # Errors
    /// [`EncodeError`] if the token cannot be written (an oversized subject).
    pub fn issue(&self, subject: &str, now: u64) -> Result<String, EncodeError> {
        self.issue_grant(&Grant::subject(subject), now)
    }

    /// Signs a token for `grant` (a subject, and a session and scope if any), as
    /// [`BearerAuth::issue`] does.
    ///
    /// # Errors
    /// [`EncodeError`] if the token cannot be written (an oversized subject).
    pub fn issue_grant(&self, grant: &Grant<'_>, now: u64) -> Result<String, EncodeError> {
        let len = grant.subject.len() + grant.scope.map_or(0, str::len);
        let mut out = vec![0u8; len.saturating_mul(6).saturating_add(1024)];
        match flow::issue(grant, &*self.keys(), &self.flow_config(), now, &mut out) {
            Ok(issued) => Ok(issued.token.to_owned()),
            Err(LoginError::Encode(e)) => Err(e),
            // `issue` fails only to encode.
            Err(_) => Err(EncodeError::BufferTooSmall),
        }
    }

    /// Checks an `Authorization` header value at `now`, then the subject's account.
    ///
    /// # Errors
    /// The [`Rejection`] the contract answers with.
    pub async fn authenticate<C: FromVerified>(
        &self,
        authorization: Option<&HeaderValue>,
        now: u64,
    ) -> Result<Authenticated<C>, Rejection> {
        let result = self.check(authorization, now).await;
        if let Some(m) = &self.metrics {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(Rejection::Auth(AuthError::NotAuthenticated)) => "not_authenticated",
                Err(Rejection::Revoked) => "revoked",
                Err(Rejection::Auth(AuthError::InvalidToken)) => "invalid_token",
                Err(Rejection::Auth(_)) => "access_restricted",
                Err(Rejection::Unavailable) => "unavailable",
                Err(Rejection::InsufficientScope(_)) => "insufficient_scope",
            };
            Metrics::count(&m.token_checks, outcome);
        }
        result
    }

    async fn check<C: FromVerified>(
        &self,
        authorization: Option<&HeaderValue>,
        now: u64,
    ) -> Result<Authenticated<C>, Rejection> {
        let header = authorization.map(HeaderValue::as_bytes);
        let mut buf = vec![0u8; header.map_or(0, <[u8]>::len).saturating_mul(2)];
        let config = self.flow_config();
        let mut keys = self.current_keys();
        // A second buffer for the one retry, so the first answer's borrow can stand.
        let mut retry_buf = Vec::new();
        let ok = match flow::authorize(header, &*keys, &config, now, &mut buf) {
            Err(AuthError::InvalidToken) => {
                self.retry(header, &mut keys, &config, now, &mut retry_buf, buf.len())
                    .await
            }
            other => other,
        }
        .map_err(Rejection::Auth)?;
        // Decoded once; a subject with escapes is copied out decoded.
        let subject: String = ok.subject.chars().collect();
        let scope: String = ok.scope.map(|s| s.chars().collect()).unwrap_or_default();
        let issued_at = ok.issued_at;
        let revocation = self.revocation(ok.sid, &subject, issued_at);
        let claims = Self::claims::<C>(&keys, ok.token)?;
        // The token is the header's suffix (RFC 6750 b64token): keep the header value, a
        // reference-counted handle on the request's bytes, and where the token starts.
        let token_start = header.map_or(0, <[u8]>::len).saturating_sub(ok.token.len());
        drop(buf);
        let (status, created) = match self.accounts.cached_since(&subject) {
            Some(entry) => entry,
            None => self.accounts.load_since(&subject).await,
        };
        Self::account_verdict(status, created, issued_at)?;
        if self.is_revoked(revocation).await {
            return Err(Rejection::Revoked);
        }
        Ok(Authenticated {
            subject,
            scope,
            authorization: authorization
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("")),
            token_start,
            claims,
        })
    }

    /// The revoked-session verdict, asking the store when memory could not say.
    async fn is_revoked(&self, revocation: Revocation) -> bool {
        match (&self.revoked, revocation) {
            (_, Revocation::Live) => false,
            (_, Revocation::Revoked) => true,
            (Some(set), Revocation::AskStore(sid)) => set.ask_store(&sid).await,
            (None, Revocation::AskStore(_)) => true,
        }
    }

    /// A refused token, checked once more when a followed set had to refresh for its `kid`
    /// (`keys` becomes the newer ring); else the same refusal.
    async fn retry<'h, 'b>(
        &self,
        header: Option<&'h [u8]>,
        keys: &mut Arc<Keys>,
        config: &FlowConfig<'_>,
        now: u64,
        buf: &'b mut Vec<u8>,
        len: usize,
    ) -> Result<flow::Authorized<'h, 'b>, AuthError> {
        let newer = self
            .newer_keys(keys, header)
            .await
            .ok_or(AuthError::InvalidToken)?;
        *keys = newer;
        buf.resize(len, 0);
        flow::authorize(header, &**keys, config, now, buf)
    }

    /// What the revoked set says of the token's session, decided here, in memory, while the
    /// token's buffer holds the id; only a token the set cannot vouch for (issued before its
    /// overflow floor) takes its id along, for a store lookup after the account check.
    fn revocation(
        &self,
        sid: Option<auth_core::JsonStr<'_>>,
        subject: &str,
        issued_at: Option<u64>,
    ) -> Revocation {
        let (Some(set), Some(sid)) = (&self.revoked, sid) else {
            return Revocation::Live;
        };
        let mut sid_buf = [0u8; 64];
        match sid.decode_into(&mut sid_buf) {
            Some(sid) => match set.verdict(sid, subject, issued_at) {
                Verdict::Live => Revocation::Live,
                Verdict::Revoked => Revocation::Revoked,
                Verdict::AskStore => Revocation::AskStore(sid.to_owned()),
            },
            // Not an id this server writes: it cannot name a live session.
            None => Revocation::Revoked,
        }
    }

    /// The extra claims `C` asks for, read again from the verified token.
    fn claims<C: FromVerified>(keys: &Keys, token: &str) -> Result<C, Rejection> {
        let invalid = |_| Rejection::Auth(AuthError::InvalidToken);
        if !C::NEEDS_CLAIMS {
            return C::from_verified(None).map_err(invalid);
        }
        let untrusted = UntrustedToken::parse(token).map_err(|_| invalid(ClaimsError::Shape))?;
        let verified = keys
            .verify(&untrusted)
            .map_err(|_| invalid(ClaimsError::Shape))?;
        C::from_verified(Some(&verified)).map_err(invalid)
    }

    /// The subject's account must be active, and created before the token was issued (else
    /// the token is an earlier account's: removed, then the name added again).
    fn account_verdict(
        status: AccountStatus,
        created: u64,
        issued_at: Option<u64>,
    ) -> Result<(), Rejection> {
        match status {
            AccountStatus::Active => {}
            // Disabled and unknown get the one answer, as `flow::check_account` gives them.
            AccountStatus::Disabled | AccountStatus::Unknown => {
                return Err(Rejection::Auth(AuthError::AccessRestricted));
            }
            AccountStatus::Unavailable => return Err(Rejection::Unavailable),
        }
        // After the status: a disabled account's tokens keep the contract's 403.
        if created > 0 && issued_at.is_some_and(|iat| iat < created) {
            return Err(Rejection::Revoked);
        }
        Ok(())
    }
}

/// Claims an [`Authenticated`] carries besides the subject. `()` (the default) reads nothing
/// more; [`Owned`] decodes the app's own claims type.
pub trait FromVerified: Sized + Send + 'static {
    /// Whether the payload must be read again; `false` only for types that carry nothing, which
    /// then get `None` and cost nothing.
    const NEEDS_CLAIMS: bool = true;

    /// Decodes the claims from a token whose MAC checked out and whose registered claims passed
    /// validation (`None` when [`FromVerified::NEEDS_CLAIMS`] is `false`).
    ///
    /// # Errors
    /// [`ClaimsError`].
    fn from_verified(token: Option<&VerifiedToken<'_>>) -> Result<Self, ClaimsError>;
}

impl FromVerified for () {
    const NEEDS_CLAIMS: bool = false;

    fn from_verified(_: Option<&VerifiedToken<'_>>) -> Result<Self, ClaimsError> {
        Ok(())
    }
}

/// The app's own claims type, decoded into owned values (e.g. `heapless::String` or numbers;
/// borrowed `JsonStr` fields cannot outlive the request's buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned<C>(pub C);

impl<C: DeserializeOwned + Send + 'static> FromVerified for Owned<C> {
    fn from_verified(token: Option<&VerifiedToken<'_>>) -> Result<Self, ClaimsError> {
        let token = token.ok_or(ClaimsError::Shape)?;
        let mut buf = vec![0u8; token.payload_len().saturating_mul(2)];
        token.claims::<C>(&mut buf).map(Owned)
    }
}

/// A request whose bearer token and account checked out. See the module docs.
#[derive(Debug, Clone)]
pub struct Authenticated<C = ()> {
    subject: String,
    scope: String,
    authorization: HeaderValue,
    token_start: usize,
    claims: C,
}

impl<C> Authenticated<C> {
    /// The account the token was issued to, decoded.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The token as sent (borrowed from the request's `Authorization` header, not copied).
    pub fn token(&self) -> &str {
        self.authorization
            .as_bytes()
            .get(self.token_start..)
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or_default()
    }

    /// The extra claims (`()` unless asked for with [`Owned`]).
    pub fn claims(&self) -> &C {
        &self.claims
    }

    /// The scopes the token was granted (its `scope` claim, space-separated; empty: none).
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Whether the token was granted every scope in `required`: FastAPI's
    /// `Security(get_current_user, scopes=[…])`. In a handler, `user.require_scopes(&["items"])?`
    /// answers a token without them with 403 and `WWW-Authenticate: Bearer
    /// error="insufficient_scope", scope="items"` (RFC 6750 §3.1).
    ///
    /// # Errors
    /// [`Rejection::InsufficientScope`] naming `required`.
    pub fn require_scopes(&self, required: &'static [&'static str]) -> Result<(), Rejection> {
        if required
            .iter()
            .all(|r| auth_core::scope::contains(&self.scope, r))
        {
            Ok(())
        } else {
            Err(Rejection::InsufficientScope(required))
        }
    }
}

impl<S, C> FromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    Arc<BearerAuth>: FromRef<S>,
    C: FromVerified,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        let auth = Arc::<BearerAuth>::from_ref(state);
        auth.authenticate(
            parts.headers.get(header::AUTHORIZATION),
            crate::clock::now(),
        )
        .await
    }
}

/// Why a request was refused: answered as the contract says (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The token or the account: 401 or 403.
    Auth(AuthError),
    /// The account store cannot answer now: 503 with `Retry-After`.
    Unavailable,
    /// The token's session was revoked: answered as a bad token (401 `invalid_token`).
    Revoked,
    /// The token lacks a scope the route requires ([`Authenticated::require_scopes`]): 403 with
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` naming them all.
    InsufficientScope(&'static [&'static str]),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Auth(e) => ApiError::Refused(e.reply()),
            Rejection::Revoked => ApiError::Refused(AuthError::InvalidToken.reply()),
            Rejection::Unavailable => ApiError::Unavailable,
            Rejection::InsufficientScope(required) => ApiError::InsufficientScope(required),
        }
        .into_response()
    }
}
