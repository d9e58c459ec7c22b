//! HMAC-SHA256, the one MAC both token signatures and PBKDF2 are built on. At the bottom of the
//! module graph: `jwt` and `password` import it, it imports neither.

use hmac::Hmac;
use sha2::Sha256;

/// HMAC-SHA256 (RFC 2104 over FIPS 180-4).
pub(crate) type HmacSha256 = Hmac<Sha256>;
