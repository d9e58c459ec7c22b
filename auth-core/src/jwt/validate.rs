//! Claim validation. The caller passes `now`: the core has no clock.

use super::{NumericDate, RegisteredClaims};
use crate::error::{Claim, ValidationError};

/// What a token's registered claims must satisfy.
///
/// The defaults are the safe ones: `exp` required, zero leeway, no issuer, audience or age
/// constraint. All times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validation<'a> {
    leeway: u64,
    require_exp: bool,
    issuer: Option<&'a str>,
    audience: Option<&'a str>,
    max_age: Option<u64>,
}

impl Default for Validation<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Validation<'a> {
    /// `exp` required, leeway 0.
    pub const fn new() -> Self {
        Validation {
            leeway: 0,
            require_exp: true,
            issuer: None,
            audience: None,
            max_age: None,
        }
    }

    /// Tolerance, in seconds, applied to `exp`, `nbf`, `iat` and the maximum age.
    pub const fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Requires `iss` to equal `issuer`; a token without `iss` then fails.
    pub const fn with_issuer(mut self, issuer: &'a str) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Requires `aud` to contain `audience`; a token without `aud` then fails.
    pub const fn with_audience(mut self, audience: &'a str) -> Self {
        self.audience = Some(audience);
        self
    }

    /// Requires `iat` and refuses tokens issued more than `seconds` ago.
    pub const fn with_max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Accepts tokens without `exp`. Such tokens never expire: prefer a max age.
    pub const fn allow_missing_exp(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// Checks `claims` at time `now`, in this order: `exp`, `nbf`, `iat`, max age, `iss`, `aud`,
    /// and returns them: validated claims are what the chain ends with
    /// (`UntrustedToken::parse → KeyRing::verify → VerifiedToken::claims → validate → C`).
    /// Pass the claims by value, or by reference (`&C` is `RegisteredClaims` too) to get the
    /// reference back.
    ///
    /// # Errors
    /// The first [`ValidationError`] met.
    pub fn validate<C: RegisteredClaims>(
        &self,
        claims: C,
        now: NumericDate,
    ) -> Result<C, ValidationError> {
        self.check(&claims, now)?;
        Ok(claims)
    }

    /// [`Validation::validate`] without handing the claims back.
    pub(crate) fn check<C: RegisteredClaims + ?Sized>(
        &self,
        claims: &C,
        now: NumericDate,
    ) -> Result<(), ValidationError> {
        let late = now.saturating_sub(self.leeway);
        let early = now.saturating_add(self.leeway);
        match claims.exp() {
            Some(exp) if late >= exp => return Err(ValidationError::Expired),
            None if self.require_exp => return Err(ValidationError::Missing(Claim::Exp)),
            _ => {}
        }
        if let Some(nbf) = claims.nbf()
            && early < nbf
        {
            return Err(ValidationError::NotYetValid);
        }
        if let Some(iat) = claims.iat()
            && iat > early
        {
            return Err(ValidationError::IssuedInFuture);
        }
        if let Some(max_age) = self.max_age {
            let iat = claims.iat().ok_or(ValidationError::Missing(Claim::Iat))?;
            if late > iat.saturating_add(max_age) {
                return Err(ValidationError::TooOld);
            }
        }
        if let Some(expected) = self.issuer {
            match claims.iss() {
                None => return Err(ValidationError::Missing(Claim::Iss)),
                Some(iss) if iss != *expected => return Err(ValidationError::Issuer),
                Some(_) => {}
            }
        }
        if let Some(expected) = self.audience {
            match claims.aud() {
                None => return Err(ValidationError::Missing(Claim::Aud)),
                Some(aud) if !aud.contains(expected) => return Err(ValidationError::Audience),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Claims;

    #[test]
    fn exp_boundary_is_exclusive() {
        let c = Claims::new().with_lifetime(100, 50); // iat 100, exp 150
        let v = Validation::new();
        assert_eq!(v.validate(&c, 149).map(|_| ()), Ok(()));
        assert_eq!(
            v.validate(&c, 150).map(|_| ()),
            Err(ValidationError::Expired)
        );
        let v = v.with_leeway(5);
        assert_eq!(v.validate(&c, 154).map(|_| ()), Ok(()));
        assert_eq!(
            v.validate(&c, 155).map(|_| ()),
            Err(ValidationError::Expired)
        );
    }

    #[test]
    fn nbf_and_iat_boundaries() {
        let c = Claims::new().with_lifetime(100, 1000).with_not_before(100);
        let v = Validation::new();
        assert_eq!(v.validate(&c, 100).map(|_| ()), Ok(()));
        assert_eq!(
            v.validate(&c, 99).map(|_| ()),
            Err(ValidationError::NotYetValid)
        );
        let v5 = v.with_leeway(5);
        assert_eq!(v5.validate(&c, 95).map(|_| ()), Ok(()));
        assert_eq!(
            v5.validate(&c, 94).map(|_| ()),
            Err(ValidationError::NotYetValid)
        );

        let c = Claims::new().with_lifetime(100, 1000);
        assert_eq!(v.validate(&c, 100).map(|_| ()), Ok(()));
        assert_eq!(
            v.validate(&c, 99).map(|_| ()),
            Err(ValidationError::IssuedInFuture)
        );
        assert_eq!(v5.validate(&c, 95).map(|_| ()), Ok(()));
        assert_eq!(
            v5.validate(&c, 94).map(|_| ()),
            Err(ValidationError::IssuedInFuture)
        );
    }

    #[test]
    fn exp_required_unless_opted_out() {
        let c = Claims::new().with_subject("a");
        assert_eq!(
            Validation::new().validate(&c, 1).map(|_| ()),
            Err(ValidationError::Missing(Claim::Exp))
        );
        assert_eq!(
            Validation::new()
                .allow_missing_exp()
                .validate(&c, 1)
                .map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn max_age() {
        let c = Claims::new().with_lifetime(100, 10_000);
        let v = Validation::new().with_max_age(60);
        assert_eq!(v.validate(&c, 160).map(|_| ()), Ok(()));
        assert_eq!(
            v.validate(&c, 161).map(|_| ()),
            Err(ValidationError::TooOld)
        );
        let no_iat = Claims {
            exp: Some(1000),
            ..Claims::new()
        };
        assert_eq!(
            v.validate(&no_iat, 1).map(|_| ()),
            Err(ValidationError::Missing(Claim::Iat))
        );
    }

    #[test]
    fn issuer_and_audience() {
        let c = Claims::new()
            .with_lifetime(0, 100)
            .with_issuer("me")
            .with_audience("api");
        assert_eq!(
            Validation::new()
                .with_issuer("me")
                .with_audience("api")
                .validate(&c, 1)
                .map(|_| ()),
            Ok(())
        );
        assert_eq!(
            Validation::new()
                .with_issuer("you")
                .validate(&c, 1)
                .map(|_| ()),
            Err(ValidationError::Issuer)
        );
        assert_eq!(
            Validation::new()
                .with_audience("web")
                .validate(&c, 1)
                .map(|_| ()),
            Err(ValidationError::Audience)
        );
        let bare = Claims::new().with_lifetime(0, 100);
        assert_eq!(
            Validation::new()
                .with_issuer("me")
                .validate(&bare, 1)
                .map(|_| ()),
            Err(ValidationError::Missing(Claim::Iss))
        );
        assert_eq!(
            Validation::new()
                .with_audience("api")
                .validate(&bare, 1)
                .map(|_| ()),
            Err(ValidationError::Missing(Claim::Aud))
        );
    }
}
