//! The seed's HTTP contract in one place: the wording and body shapes of the FastAPI tutorial
//! this project reproduces (`detail` strings, the two example routes' bodies). Everything else
//! in the crate is general; a firmware that speaks its own protocol needs nothing from here.
//!
//! The tutorial's other choice, the `uid` claim for the subject, is
//! [`crate::flow::SubjectClaim::Uid`]: a setting of the flow, next to the standard `sub`.

use embedded_io::Write;

use crate::error::EncodeError;
use crate::json::{put, write_json_str};

/// The `detail` of a failed login.
pub const DETAIL_AUTHENTICATION_FAILED: &str = "Authentication failed";
/// The `detail` of a request without credentials.
pub const DETAIL_NOT_AUTHENTICATED: &str = "Not authenticated";
/// The `detail` of a bad token.
pub const DETAIL_INVALID_TOKEN: &str = "Invalid or malformed signature";
/// The `detail` of a disabled or unknown account.
pub const DETAIL_ACCESS_RESTRICTED: &str = "Access restricted";

/// `{"status":"success","received_token_prefix":"<first 8 chars>..."}`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_secure_resource<W: Write>(token: &str, w: &mut W) -> Result<(), EncodeError> {
    let end = token.char_indices().nth(8).map_or(token.len(), |(i, _)| i);
    put(w, b"{\"status\":\"success\",\"received_token_prefix\":\"")?;
    // Tokens are b64token characters: nothing to escape; still go through the escaper.
    let prefix = token.get(..end).unwrap_or_default();
    let mut quoted = [0u8; 8 * 6 + 2];
    let mut sink: &mut [u8] = &mut quoted;
    write_json_str(prefix, &mut sink)?;
    let left = sink.len();
    let used = quoted.len().saturating_sub(left);
    put(w, quoted.get(1..used.saturating_sub(1)).unwrap_or_default())?;
    put(w, b"...\"}")
}

/// `{"owner":"<subject>","view":"allowed"}`.
///
/// # Errors
/// [`EncodeError::Write`].
pub fn write_dashboard<W: Write>(owner: &str, w: &mut W) -> Result<(), EncodeError> {
    put(w, b"{\"owner\":")?;
    write_json_str(owner, w)?;
    put(w, b",\"view\":\"allowed\"}")
}
