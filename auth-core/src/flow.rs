//! The password-flow decisions every front-end shares: what a login or a protected request
//! gets, decided once, with no I/O. The caller looks the account up (a file, a database, a
//! flash page) and passes it in.

use serde::{Deserialize, Serialize};

use crate::EncodeError;
use crate::bearer::parse_bearer;
pub use crate::error::{AuthError, LoginError};
use crate::error::{ClaimsError, PasswordError};
use crate::json::JsonStr;
use crate::jwt::ClaimsWriter;
use crate::jwt::scan::{Target, date_slot, member};
use crate::jwt::write::{self, WriteClaims};
use crate::jwt::{Audience, KeyRing, NumericDate, Validation, VerifiedToken};
use crate::password::{Policy, StoredHash, verify_dummy, verify_parsed};

/// Default token lifetime: 45 minutes, as in the FastAPI original.
pub const DEFAULT_TTL: u64 = 45 * 60;

/// Which claim carries the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubjectClaim {
    /// `sub` (RFC 7519).
    #[default]
    Sub,
    /// `uid`, the FastAPI original's claim.
    Uid,
}

/// How tokens are issued and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig<'a> {
    /// The subject claim.
    pub subject_claim: SubjectClaim,
    /// Token lifetime in seconds.
    pub ttl: u64,
    /// `iss` written into tokens and required of them.
    pub issuer: Option<&'a str>,
    /// `aud` written into tokens and required of them.
    pub audience: Option<&'a str>,
    /// Password hashing policy.
    pub policy: Policy,
    /// Clock tolerance in seconds for token checks.
    pub leeway: u64,
}

impl Default for FlowConfig<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> FlowConfig<'a> {
    /// `sub`, 45 minutes, no issuer or audience, the default policy, no leeway.
    pub const fn new() -> Self {
        FlowConfig {
            subject_claim: SubjectClaim::Sub,
            ttl: DEFAULT_TTL,
            issuer: None,
            audience: None,
            policy: Policy::new(),
            leeway: 0,
        }
    }

    fn validation(&self) -> Validation<'a> {
        let mut v = Validation::new().with_leeway(self.leeway);
        if let Some(iss) = self.issuer {
            v = v.with_issuer(iss);
        }
        if let Some(aud) = self.audience {
            v = v.with_audience(aud);
        }
        v
    }
}

/// A looked-up account.
///
/// Its hash is parsed once, when the account is loaded ([`StoredHash::parse`]), not on every
/// login. An account whose stored string does not parse cannot log in: pass `None` for it, so
/// it costs what an unknown user costs, and log the parse error.
#[derive(Clone, Copy)]
pub struct Account<'a> {
    /// The stored PHC, passlib or Django hash, parsed.
    pub stored_hash: &'a StoredHash,
    /// `false` for a disabled account.
    pub active: bool,
}

impl core::fmt::Debug for Account<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("stored_hash", &"<redacted>")
            .field("active", &self.active)
            .finish()
    }
}

/// The claims the flow writes and reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowClaims<'a> {
    /// Subject, when [`SubjectClaim::Sub`].
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<JsonStr<'a>>,
    /// Subject, when [`SubjectClaim::Uid`].
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<JsonStr<'a>>,
    /// Issuer.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<JsonStr<'a>>,
    /// Audience.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience<'a>>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// The session the token belongs to ([`crate::session::SessionId`]), if it has one.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<JsonStr<'a>>,
    /// Space-separated scopes (RFC 8693 §4.2), when any were granted.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<JsonStr<'a>>,
}

crate::jwt::registered_claims_from_fields!(FlowClaims);

impl WriteClaims for FlowClaims<'_> {
    fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError> {
        write::opt_str(w, br#""sub":"#, self.sub)?;
        write::opt_str(w, br#""uid":"#, self.uid)?;
        write::opt_str(w, br#""iss":"#, self.iss)?;
        if let Some(aud) = &self.aud {
            w.audience("aud", aud)?;
        }
        write::opt_date(w, br#""iat":"#, self.iat)?;
        write::opt_date(w, br#""exp":"#, self.exp)?;
        write::opt_date(w, br#""nbf":"#, self.nbf)?;
        write::opt_str(w, br#""sid":"#, self.sid)?;
        write::opt_str(w, br#""scope":"#, self.scope)
    }
}

/// The members of [`FlowClaims`], for the scanner.
const FLOW_MEMBERS: u16 = {
    use member::*;
    SUB | UID | ISS | AUD | IAT | EXP | NBF | SID | SCOPE
};

impl<'a> Target<'a> for FlowClaims<'a> {
    const MEMBERS: u16 = FLOW_MEMBERS;
    fn string(&mut self, bit: u16) -> Option<&mut Option<JsonStr<'a>>> {
        match bit {
            member::SUB => Some(&mut self.sub),
            member::UID => Some(&mut self.uid),
            member::ISS => Some(&mut self.iss),
            member::SID => Some(&mut self.sid),
            member::SCOPE => Some(&mut self.scope),
            _ => None,
        }
    }
    fn date(&mut self, bit: u16) -> Option<&mut Option<NumericDate>> {
        date_slot(bit, &mut self.exp, &mut self.nbf, &mut self.iat)
    }
    fn audience(&mut self) -> Option<&mut Option<Audience<'a>>> {
        Some(&mut self.aud)
    }
}

impl VerifiedToken<'_> {
    /// Reads the flow's claims with the purpose-written scanner, as
    /// [`VerifiedToken::registered`] reads [`crate::Claims`]: the verdicts of
    /// `claims::<FlowClaims>()`, without serde.
    ///
    /// # Errors
    /// [`ClaimsError`].
    pub fn flow_claims<'b>(&self, buf: &'b mut [u8]) -> Result<FlowClaims<'b>, ClaimsError> {
        let mut claims = FlowClaims::default();
        self.scan(buf, &mut claims, |_, _| Ok(()))?;
        Ok(claims)
    }
}

/// A successful login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued<'b> {
    /// The access token.
    pub token: &'b str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Store a fresh hash of this password: the stored one is below policy.
    pub needs_rehash: bool,
}

/// A login whose password checked out and whose account is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Store a fresh hash of this password: the stored one is below policy.
    pub needs_rehash: bool,
}

/// What an access token is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    /// The account.
    pub subject: &'a str,
    /// The session ([`crate::session::SessionId`]), written as `sid`.
    pub sid: Option<&'a str>,
    /// Space-separated scopes, written as `scope` when non-empty.
    pub scope: Option<&'a str>,
}

impl<'a> Grant<'a> {
    /// A token for `subject` with no session and no scope.
    pub const fn subject(subject: &'a str) -> Self {
        Grant {
            subject,
            sid: None,
            scope: None,
        }
    }
}

/// Decides a login of `username` with `password` (as a form parser or any other front-end
/// delivered them), and signs its token: [`check_login`], then [`issue`].
///
/// # Errors
/// [`LoginError`].
pub fn login<'b, const N: usize>(
    username: &str,
    password: &[u8],
    account: Option<&Account<'_>>,
    keys: &KeyRing<N>,
    config: &FlowConfig<'_>,
    now: u64,
    out: &'b mut [u8],
) -> Result<Issued<'b>, LoginError> {
    let verified = check_login(password, account, config)?;
    let issued = issue(&Grant::subject(username), keys, config, now, out)?;
    Ok(Issued {
        needs_rehash: verified.needs_rehash,
        ..issued
    })
}

/// Decides a login with `password`. `account` is what the caller found for the username, if
/// anything. Sign the token with [`issue`] (after starting a session, if there are sessions).
///
/// Every login costs at least the policy's PBKDF2 work: an unknown user the same as a hash at
/// the policy ([`verify_dummy`]), a cheaper stored hash padded up to it ([`verify_parsed`]). So
/// timing does not reveal which accounts exist. The password is checked before the account's
/// status, so only someone who knows the password learns that an account is disabled.
///
/// # Errors
/// [`LoginError::InvalidCredentials`] or [`LoginError::AccessRestricted`].
pub fn check_login(
    password: &[u8],
    account: Option<&Account<'_>>,
    config: &FlowConfig<'_>,
) -> Result<Verified, LoginError> {
    let Some(account) = account else {
        verify_dummy(password, &config.policy);
        return Err(LoginError::InvalidCredentials);
    };
    let verified = match verify_parsed(password, account.stored_hash, &config.policy) {
        Ok(v) => v,
        // `StoredHash` is checked when parsed, so its lengths cannot fail here; were they to,
        // the answer is still a refusal.
        Err(
            PasswordError::Mismatch | PasswordError::PasswordTooLong | PasswordError::StoredHash(_),
        ) => {
            return Err(LoginError::InvalidCredentials);
        }
    };
    if !account.active {
        return Err(LoginError::AccessRestricted);
    }
    Ok(Verified {
        needs_rehash: verified.needs_rehash,
    })
}

/// Signs an access token for `grant`: the subject claim, `sid` and `scope` when given,
/// `iss`/`aud` when configured, `iat = now`, `exp = now + ttl`.
///
/// # Errors
/// [`LoginError::Encode`] when `out` is too small.
pub fn issue<'b, const N: usize>(
    grant: &Grant<'_>,
    keys: &KeyRing<N>,
    config: &FlowConfig<'_>,
    now: u64,
    out: &'b mut [u8],
) -> Result<Issued<'b>, LoginError> {
    let claims = IssuedClaims {
        subject: grant.subject,
        uid: config.subject_claim == SubjectClaim::Uid,
        issuer: config.issuer,
        audience: config.audience,
        iat: now,
        exp: now.saturating_add(config.ttl),
        sid: grant.sid,
        scope: grant.scope.filter(|s| !s.is_empty()),
    };
    let token = keys.sign_claims(&claims, out).map_err(LoginError::Encode)?;
    Ok(Issued {
        token,
        expires_in: config.ttl,
        needs_rehash: false,
    })
}

/// What [`issue`] signs: the [`FlowClaims`] it stands for, written member for member in
/// `FlowClaims`' order, but borrowed and without an [`Audience`]'s inline storage (a
/// `FlowClaims` is about 380 bytes on a device's stack, this about 60).
struct IssuedClaims<'a> {
    subject: &'a str,
    /// The subject goes in `uid` instead of `sub`.
    uid: bool,
    issuer: Option<&'a str>,
    audience: Option<&'a str>,
    iat: NumericDate,
    exp: NumericDate,
    sid: Option<&'a str>,
    scope: Option<&'a str>,
}

impl WriteClaims for IssuedClaims<'_> {
    fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError> {
        let subject = Some(JsonStr::new(self.subject));
        write::opt_str(w, br#""sub":"#, subject.filter(|_| !self.uid))?;
        write::opt_str(w, br#""uid":"#, subject.filter(|_| self.uid))?;
        write::opt_str(w, br#""iss":"#, self.issuer.map(JsonStr::new))?;
        // One audience, as `Audience::one` writes it: a plain string.
        write::opt_str(w, br#""aud":"#, self.audience.map(JsonStr::new))?;
        write::opt_date(w, br#""iat":"#, Some(self.iat))?;
        write::opt_date(w, br#""exp":"#, Some(self.exp))?;
        write::opt_str(w, br#""sid":"#, self.sid.map(JsonStr::new))?;
        write::opt_str(w, br#""scope":"#, self.scope.map(JsonStr::new))
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorized<'h, 'b> {
    /// The subject, non-empty; compare it decoded, or copy it out with
    /// [`JsonStr::decode_into`].
    pub subject: JsonStr<'b>,
    /// The token, as sent in the `Authorization` header.
    pub token: &'h str,
    /// The session the token belongs to, if any: check it against the revoked ones.
    pub sid: Option<JsonStr<'b>>,
    /// `iat`, if the token has one.
    pub issued_at: Option<NumericDate>,
    /// The token's `scope`, if it has one (space-separated; compare decoded).
    pub scope: Option<JsonStr<'b>>,
}

/// Checks an `Authorization` header value: bearer syntax, token, MAC, claims, subject.
/// Then look the subject's account up and pass it to [`check_account`].
///
/// `buf` holds the decoded claims; twice the token length is always enough.
///
/// # Errors
/// [`AuthError::NotAuthenticated`] or [`AuthError::InvalidToken`].
pub fn authorize<'h, 'b, const N: usize>(
    authorization: Option<&'h [u8]>,
    keys: &KeyRing<N>,
    config: &FlowConfig<'_>,
    now: u64,
    buf: &'b mut [u8],
) -> Result<Authorized<'h, 'b>, AuthError> {
    let token = parse_bearer(authorization)?;
    // The one decode path (parse, MAC, claims, validation), into claims on this frame (not
    // returned by value: one `FlowClaims` on a device's stack); every failure is one answer.
    let mut claims = FlowClaims::default();
    keys.decode_into(
        token,
        buf,
        &config.validation(),
        now,
        &mut claims,
        |_, _| Ok(()),
    )
    .map_err(|_| AuthError::InvalidToken)?;
    let subject = match config.subject_claim {
        SubjectClaim::Sub => claims.sub,
        SubjectClaim::Uid => claims.uid,
    };
    match subject {
        Some(s) if s.decoded_len() > 0 => Ok(Authorized {
            subject: s,
            token,
            sid: claims.sid,
            issued_at: claims.iat,
            scope: claims.scope,
        }),
        _ => Err(AuthError::InvalidToken),
    }
}

/// The second step of authorization: the subject's account must exist and be active.
///
/// # Errors
/// [`AuthError::AccessRestricted`].
pub fn check_account(account: Option<&Account<'_>>) -> Result<(), AuthError> {
    match account {
        Some(a) if a.active => Ok(()),
        _ => Err(AuthError::AccessRestricted),
    }
}
