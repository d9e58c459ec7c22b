//! OAuth2 scopes (RFC 6749 §3.3): space-separated names, granted as the requested ones the
//! account may have, never more. No heap: lists are `&str`, and a grant is written into a
//! caller buffer.

/// Most bytes a `scope` parameter may have. A longer one is refused (422 at the password
/// grant, `invalid_scope` at the refresh grant): never stored, never signed.
pub const MAX_SCOPE_LEN: usize = 1024;
/// Most names a `scope` parameter may hold.
pub const MAX_SCOPES: usize = 32;

/// The names of a space-separated list, empty entries skipped.
pub fn names(list: &str) -> impl Iterator<Item = &str> {
    crate::split::split(list, b' ').filter(|s| !s.is_empty())
}

/// Whether `list` names `name`.
pub fn contains(list: &str, name: &str) -> bool {
    names(list).any(|n| n == name)
}

/// Whether `list` is within the limits: at most [`MAX_SCOPE_LEN`] bytes and [`MAX_SCOPES`]
/// names.
pub fn within_limits(list: &str) -> bool {
    list.len() <= MAX_SCOPE_LEN && names(list).nth(MAX_SCOPES).is_none()
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, `scope-token = 1*NQCHAR`,
/// `NQCHAR = %x21 / %x23-5B / %x5D-7E`. Empty (no scope) is allowed, and so are extra spaces.
pub fn is_syntax(list: &str) -> bool {
    list.bytes()
        .all(|b| matches!(b, b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// Whether `list` is a scope list a request may carry: [`is_syntax`] and [`within_limits`].
pub fn is_valid(list: &str) -> bool {
    within_limits(list) && is_syntax(list)
}

/// The grant for `requested`: each requested name that `allowed` also names, once, in the
/// requested order, space-separated into `out` (at least `requested.len()` bytes always
/// suffice). `None` if `out` is too small.
pub fn grant<'o>(requested: &str, allowed: &str, out: &'o mut [u8]) -> Option<&'o str> {
    let mut len = 0usize;
    for (i, name) in names(requested).enumerate() {
        let earlier = names(requested).take(i).any(|n| n == name);
        if earlier || !contains(allowed, name) {
            continue;
        }
        let sep = usize::from(len > 0);
        let end = len.checked_add(sep)?.checked_add(name.len())?;
        let dst = out.get_mut(len..end)?;
        if let Some((first, rest)) = dst.split_first_mut().filter(|_| sep == 1) {
            *first = b' ';
            rest.copy_from_slice(name.as_bytes());
        } else {
            dst.copy_from_slice(name.as_bytes());
        }
        len = end;
    }
    core::str::from_utf8(out.get(..len)?).ok()
}

/// Whether two lists name the same set.
pub fn same(a: &str, b: &str) -> bool {
    names(a).all(|n| contains(b, n)) && names(b).all(|n| contains(a, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_the_requested_names_the_account_may_have_once_in_order() {
        let mut out = [0u8; 64];
        assert_eq!(
            grant("write read  admin read", "read write", &mut out),
            Some("write read")
        );
        assert_eq!(grant("admin", "read", &mut out), Some(""));
        assert_eq!(grant("", "read", &mut out), Some(""));
        assert_eq!(grant("read", "read", &mut [0u8; 3]), None);
        assert!(same("a b", "b  a") && !same("a b", "a"));
        assert!(within_limits(&"a ".repeat(32)) && !within_limits(&"a ".repeat(33)));
        assert!(!within_limits(&"a".repeat(MAX_SCOPE_LEN + 1)));
        // `is_valid` (what the server checks an account's scopes with) needs both.
        assert!(is_valid("read write:all  x") && is_valid(""));
        assert!(!is_valid("read \"write\"") && !is_valid("a\\b") && !is_valid("é"));
        assert!(!is_valid(&"a ".repeat(33)));
    }
}
